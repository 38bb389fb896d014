//! The Redis store: the same counters as [`super::local`], shared by every instance that
//! names the same Redis, each admission one script call (one round trip, the server's
//! clock).
//!
//! Every key is `{prefix}:<counter>`: the braces are a hash tag, so all of Aether's keys
//! are in one slot and one script can take a client's and a provider key's limits
//! together, on one Redis or a Cluster alike. Calls are bounded by `timeout_ms`; after a
//! lost connection, or three timeouts in a row, the store reports itself down for a second
//! (calls fail at once, so a Redis outage costs requests no waiting), then tries again. The
//! connection manager reconnects on its own.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, ScriptInvocation};

use super::admission::{AdmitAnswer, AdmitRequest, KeySkip, Pressure, Settled, SkipReason};
use super::take::{Take, TakeKind};
use super::view::{Counter, SlotView};

/// How long the store is taken as down after a failed call.
const DOWN_FOR_MS: i64 = 1000;
/// Timeouts in a row that take the store as down (a lost connection does at once): one
/// slow answer under load fails only its own call.
const TIMEOUTS_FOR_DOWN: u32 = 3;

/// Why a Redis call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// No answer within `timeout_ms`.
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// A recent call failed; this one was not tried.
    #[error("Redis is unreachable (a call failed less than a second ago)")]
    Down,
    /// Redis answered with an error, or the connection failed.
    #[error("Redis call failed: {0}")]
    Redis(#[source] redis::RedisError),
    /// A script answered something it never answers.
    #[error("unexpected answer from the limits script: {0}")]
    Protocol(String),
}

/// The Redis store.
pub struct SharedStore {
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// Made on first use, inside a runtime (the manager spawns its connection's tasks on
    /// the runtime it is made on; the gateway is built before any runtime runs).
    manager: OnceLock<ConnectionManager>,
    prefix: String,
    timeout: Duration,
    lease_ms: i64,
    admit: Script,
    settle: Script,
    pressure: Script,
    renew: Script,
    down_until_ms: AtomicI64,
    up: AtomicBool,
    timeouts_in_a_row: AtomicU32,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// KEYS and ARGV of one script call, built together so indexes stay right.
#[derive(Default)]
struct Call {
    keys: Vec<String>,
    args: Vec<String>,
}

impl Call {
    fn key(&mut self, prefix: &str, name: &str) -> usize {
        self.keys.push(format!("{prefix}{name}"));
        self.keys.len()
    }

    fn arg(&mut self, value: impl ToString) {
        self.args.push(value.to_string());
    }

    fn take(&mut self, prefix: &str, t: &Take) {
        self.arg(t.kind.code());
        let index = self.key(prefix, &t.key);
        if t.kind == TakeKind::Budget {
            self.key(prefix, &format!("{}:r", t.key));
            self.key(prefix, &format!("{}:a", t.key));
        }
        self.arg(index);
        self.arg(t.limit);
        match (&t.kind, &t.adaptive) {
            (TakeKind::Lease, Some((key, floor))) => {
                self.arg(floor);
                let adaptive = self.key(prefix, key);
                self.arg(adaptive);
            }
            (TakeKind::Budget, _) => {
                self.arg(t.amount);
                self.arg(t.resets_at_ms);
            }
            _ => {
                self.arg(t.amount);
                self.arg(0);
            }
        }
    }

    fn invocation<'a>(&self, script: &'a Script) -> ScriptInvocation<'a> {
        let mut inv = script.prepare_invoke();
        for k in &self.keys {
            inv.key(k);
        }
        for a in &self.args {
            inv.arg(a);
        }
        inv
    }
}

impl SharedStore {
    /// A store on `url` (connected lazily: a Redis that is down at start is reached once it
    /// answers). Fails only on a URL it cannot use.
    pub fn new(url: &str, prefix: &str, timeout: Duration, lease: Duration) -> Result<SharedStore, SharedError> {
        let client = redis::Client::open(url).map_err(SharedError::Redis)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(Duration::from_millis(200))))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        Ok(SharedStore {
            client,
            config,
            manager: OnceLock::new(),
            prefix: format!("{{{prefix}}}:"),
            timeout,
            lease_ms: i64::try_from(lease.as_millis()).unwrap_or(i64::MAX),
            admit: Script::new(include_str!("lua/admit.lua")),
            settle: Script::new(include_str!("lua/settle.lua")),
            pressure: Script::new(include_str!("lua/pressure.lua")),
            renew: Script::new(include_str!("lua/renew.lua")),
            down_until_ms: AtomicI64::new(0),
            up: AtomicBool::new(true),
            timeouts_in_a_row: AtomicU32::new(0),
        })
    }

    /// Whether the last call got an answer.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The prefix every key carries (`{aether}:`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The connection manager, made on the first call (always inside a runtime).
    fn connection(&self) -> Result<ConnectionManager, SharedError> {
        if let Some(m) = self.manager.get() {
            return Ok(m.clone());
        }
        let made = ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
            .map_err(SharedError::Redis)?;
        // Two first calls at once: one manager wins, the other is dropped.
        Ok(self.manager.get_or_init(|| made).clone())
    }

    async fn run(&self, call: &Call, script: &Script, now_ms: i64) -> Result<Vec<i64>, SharedError> {
        if self.down_until_ms.load(Ordering::Relaxed) > now_ms {
            return Err(SharedError::Down);
        }
        let mut conn = self.connection()?;
        let inv = call.invocation(script);
        let result = match tokio::time::timeout(self.timeout, inv.invoke_async::<Vec<i64>>(&mut conn)).await {
            Err(_) => Err(SharedError::Timeout(self.timeout)),
            Ok(Err(e)) => Err(SharedError::Redis(e)),
            Ok(Ok(v)) => Ok(v),
        };
        // Whether Redis answered (an error reply is an answer: the call was wrong).
        let answered = match &result {
            Ok(_) => true,
            Err(SharedError::Redis(e)) => !(e.is_io_error() || e.is_timeout() || e.is_connection_dropped()),
            Err(_) => false,
        };
        self.up.store(answered, Ordering::Relaxed);
        let down = match &result {
            _ if answered => false,
            Err(SharedError::Timeout(_)) => {
                self.timeouts_in_a_row.fetch_add(1, Ordering::Relaxed) + 1 >= TIMEOUTS_FOR_DOWN
            }
            _ => true,
        };
        if answered || down {
            self.timeouts_in_a_row.store(0, Ordering::Relaxed);
        }
        if down {
            self.down_until_ms.store(now_ms + DOWN_FOR_MS, Ordering::Relaxed);
        }
        result
    }

    /// Checks and takes every limit of `req` in one script call.
    pub async fn admit(&self, req: &AdmitRequest<'_>, now_ms: i64) -> Result<AdmitAnswer, SharedError> {
        let mut call = Call::default();
        call.arg(req.id);
        call.arg(self.lease_ms);
        call.arg(req.client.len());
        for t in req.client {
            call.take(&self.prefix, t);
        }
        call.arg(req.candidates.len());
        for c in req.candidates {
            let cool = call.key(&self.prefix, &c.cool_key);
            call.arg(cool);
            call.arg(&c.scope);
            call.arg(c.takes.len());
            for t in &c.takes {
                call.take(&self.prefix, t);
            }
        }
        match req.affinity {
            Some(a) => {
                let key = call.key(&self.prefix, &a.key);
                call.arg(key);
                call.arg(a.ttl_ms);
                call.arg(a.tier);
            }
            None => {
                call.arg(0);
                call.arg(0);
                call.arg(0);
            }
        }
        let reply = self.run(&call, &self.admit, now_ms).await?;
        decode(&reply).ok_or_else(|| SharedError::Protocol(format!("{reply:?}")))
    }

    /// Settles what `id` took.
    pub async fn settle(&self, id: &str, items: &[Settled], now_ms: i64) -> Result<(), SharedError> {
        self.settle_many(&[(Arc::from(id), items.to_vec())], now_ms).await
    }

    /// Settles what several requests took, in one script call.
    pub async fn settle_many(&self, batch: &[(Arc<str>, Vec<Settled>)], now_ms: i64) -> Result<(), SharedError> {
        let mut call = Call::default();
        call.arg(batch.len());
        for (id, items) in batch {
            call.arg(id);
            call.arg(items.len());
            for s in items {
                let t = &s.take;
                call.arg(t.kind.code());
                let index = call.key(&self.prefix, &t.key);
                if t.kind == TakeKind::Budget {
                    call.key(&self.prefix, &format!("{}:r", t.key));
                    call.key(&self.prefix, &format!("{}:a", t.key));
                }
                call.arg(index);
                call.arg(t.limit);
                call.arg(t.amount);
                call.arg(s.used);
                call.arg(t.resets_at_ms);
            }
        }
        self.run(&call, &self.settle, now_ms).await.map(drop)
    }

    /// Cools a key for `cool_ms` (0: no cooldown) and moves its adaptive concurrency.
    pub async fn pressure(
        &self,
        cool_key: &str,
        cool_ms: i64,
        adaptive: Option<(&str, Pressure, i64, i64)>,
        now_ms: i64,
    ) -> Result<(), SharedError> {
        let mut call = Call::default();
        call.key(&self.prefix, cool_key);
        call.arg(cool_ms);
        match adaptive {
            Some((key, pressure, floor, ceiling)) => {
                call.key(&self.prefix, key);
                call.arg(match pressure {
                    Pressure::Throttled => "t",
                    Pressure::Succeeded => "s",
                });
                call.arg(floor);
                call.arg(ceiling);
            }
            None => {
                call.key(&self.prefix, &format!("{cool_key}:none"));
                call.arg("-");
                call.arg(0);
                call.arg(0);
            }
        }
        self.run(&call, &self.pressure, now_ms).await.map(drop)
    }

    /// Extends the leases and reservations `held` names (sorted set, holder) by a lease
    /// time from now.
    pub async fn renew(&self, held: &[(String, String)], now_ms: i64) -> Result<(), SharedError> {
        if held.is_empty() {
            return Ok(());
        }
        let mut call = Call::default();
        call.arg(self.lease_ms);
        for (set, id) in held {
            call.key(&self.prefix, set);
            call.arg(id);
        }
        self.run(&call, &self.renew, now_ms).await.map(drop)
    }

    /// The counters' state, in `counters`' order.
    pub async fn view(&self, counters: &[Counter], now_ms: i64) -> Result<Vec<SlotView>, SharedError> {
        if self.down_until_ms.load(Ordering::Relaxed) > now_ms {
            return Err(SharedError::Down);
        }
        let mut pipe = redis::pipe();
        for c in counters {
            let key = format!("{}{}", self.prefix, c.key());
            match c {
                Counter::Rate { .. } => pipe.cmd("HMGET").arg(&key).arg("l").arg("t"),
                Counter::Lease { .. } => pipe.cmd("ZCOUNT").arg(&key).arg(now_ms).arg("+inf"),
                Counter::Budget { .. } => pipe.cmd("HMGET").arg(&key).arg("s").arg("r"),
                Counter::Cooldown { .. } => pipe.cmd("PTTL").arg(&key),
                Counter::Adaptive { .. } => pipe.cmd("GET").arg(&key),
            };
        }
        let mut conn = self.connection()?;
        let values: Vec<redis::Value> = match tokio::time::timeout(self.timeout * 4, pipe.query_async(&mut conn)).await
        {
            Err(_) => return Err(SharedError::Timeout(self.timeout * 4)),
            Ok(r) => r.map_err(SharedError::Redis)?,
        };
        Ok(counters
            .iter()
            .zip(values)
            .map(|(c, v)| super::view::from_redis(c, &v, now_ms))
            .collect())
    }
}

/// The admit script's reply as an answer (`None`: not a reply it gives).
fn decode(reply: &[i64]) -> Option<AdmitAnswer> {
    let skips = |rest: &[i64]| -> Option<Vec<KeySkip>> {
        rest.chunks(3)
            .map(|s| match *s {
                [c, reason, retry_ms] => Some(KeySkip {
                    candidate: usize::try_from(c - 1).ok()?,
                    reason: if reason == 1 {
                        SkipReason::CoolingDown
                    } else {
                        SkipReason::Full
                    },
                    retry_ms,
                }),
                _ => None,
            })
            .collect()
    };
    match reply {
        [1, chosen, rest @ ..] => Some(AdmitAnswer::Admitted {
            chosen: (*chosen > 0).then(|| usize::try_from(chosen - 1).ok()).flatten(),
            skipped: skips(rest)?,
        }),
        [0, take, retry_ms, remaining] => Some(AdmitAnswer::Refused {
            take: usize::try_from(take - 1).ok()?,
            retry_ms: *retry_ms,
            remaining: *remaining,
        }),
        [2, retry_ms, rest @ ..] => Some(AdmitAnswer::KeysBusy {
            retry_ms: *retry_ms,
            skipped: skips(rest)?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_decode() {
        assert_eq!(
            decode(&[1, 2, 1, 1, 500]),
            Some(AdmitAnswer::Admitted {
                chosen: Some(1),
                skipped: vec![KeySkip {
                    candidate: 0,
                    reason: SkipReason::CoolingDown,
                    retry_ms: 500
                }]
            })
        );
        assert_eq!(
            decode(&[1, 0]),
            Some(AdmitAnswer::Admitted {
                chosen: None,
                skipped: vec![]
            })
        );
        assert_eq!(
            decode(&[0, 3, 1500, 0]),
            Some(AdmitAnswer::Refused {
                take: 2,
                retry_ms: 1500,
                remaining: 0
            })
        );
        assert_eq!(
            decode(&[2, 10, 1, 2, 10]).map(|a| matches!(a, AdmitAnswer::KeysBusy { .. })),
            Some(true)
        );
        assert_eq!(decode(&[7]), None);
        assert_eq!(decode(&[1, 1, 1, 1]), None);
    }
}
