//! Limits: client-key rates, tokens, concurrency and budgets, provider-key rates,
//! concurrency and cooldowns, taken in one all-or-nothing step per request, in this
//! process or shared by every instance through Redis.
//!
//! The request path asks once, after routing and before the first upstream call
//! ([`Limiter::admit`]): the client key's takes (requests, the token estimate, a
//! concurrency slot, each budget's worst-case cost) and the first candidate key that is
//! not cooling down and has room for its own, in one step ([`admission`]). The answer is a
//! [`Ticket`], which the failover loop asks for later candidates' keys and which settles
//! to the real usage and cost when the usage record is final (or releases what it holds
//! when dropped). Without Redis every counter lives in [`local::LocalStore`]; with
//! `[redis] url` they live in [`shared::SharedStore`] and a Redis that does not answer
//! gives each limit kind its configured failure mode.

pub mod admission;
pub mod demand;
pub mod local;
pub mod period;
pub mod shared;
pub mod take;
pub mod ticket;
pub mod view;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::config::compile::{ClientKey, ProviderKey, RuntimeConfig};
use crate::config::limits::{FailureMode, FailurePolicies, RedisSection};
use crate::config::secret::SecretRef;
use crate::router::Candidate;
use crate::telemetry::money::NanoUsd;
use admission::{AdmitAnswer, AdmitRequest, Affinity, KeySkip, Pressure, Settled};
use shared::{SharedError, SharedStore};
use take::{Demand, KeyTakes, LimitKind, LimitName, Owner, Take, TakeKind};
pub use ticket::{KeyTurn, Ticket};
use view::{Counter, Row};

/// A request over one of its client key's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Which limit.
    pub name: LimitName,
    /// Whose.
    pub owner: Owner,
    /// The limit (requests, tokens, slots, nano-USD).
    pub limit: i64,
    /// What is left of it.
    pub remaining: i64,
    /// When it may pass; `None` when waiting does not help (a total budget spent).
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let money = |n: i64| NanoUsd(n).to_usd_string();
        match self.name {
            LimitName::BudgetDaily | LimitName::BudgetMonthly | LimitName::BudgetTotal => {
                let period = match self.name {
                    LimitName::BudgetDaily => "daily",
                    LimitName::BudgetMonthly => "monthly",
                    _ => "total",
                };
                write!(
                    f,
                    "{} has spent its {period} budget: ${} of ${} is left, less than this request may cost (limit {})",
                    self.owner,
                    money(self.remaining),
                    money(self.limit),
                    self.name.config_name()
                )?;
            }
            LimitName::Concurrent => write!(
                f,
                "{} has {} requests in flight, its limit (concurrent)",
                self.owner, self.limit
            )?,
            LimitName::Requests | LimitName::Tokens => write!(
                f,
                "{} is over its {} of {} (remaining {})",
                self.owner,
                self.name.config_name(),
                self.limit,
                self.remaining
            )?,
        }
        if let Some(d) = self.retry_after {
            write!(f, "; retry in {:.1}s", d.as_secs_f64())?;
        }
        Ok(())
    }
}

/// Why a request was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// A client-key limit is reached.
    #[error("{0}")]
    Refused(Refusal),
    /// Every key that could serve the request is cooling down or at its own limit.
    #[error("every provider key for this model is cooling down or at its limit; retry in {:.1}s", .retry_after.as_secs_f64())]
    KeysBusy {
        /// The soonest one may have room.
        retry_after: Duration,
    },
    /// Redis did not answer and a limit this request needs fails closed.
    #[error("the shared limits store is unreachable and this request's limits fail closed")]
    Unavailable(#[source] SharedError),
}

/// Where a ticket's takes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Nothing was taken.
    Nothing,
    /// In this process (no Redis, or Redis down and failing open).
    Local,
    /// In Redis.
    Shared,
}

/// Refusals and store health, for `/metrics`.
#[derive(Debug, Default)]
pub struct LimitStats {
    refusals: Mutex<HashMap<(&'static str, &'static str), u64>>,
    cooldowns: AtomicUsize,
    fallbacks: AtomicUsize,
    redis_errors: AtomicUsize,
}

impl LimitStats {
    fn refused(&self, scope: &'static str, limit: &'static str) {
        *self
            .refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((scope, limit))
            .or_default() += 1;
    }

    /// Refusals by (owner kind, limit).
    pub fn refusals(&self) -> Vec<((&'static str, &'static str), u64)> {
        let mut v: Vec<_> = self
            .refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        v.sort();
        v
    }

    /// Cooldowns started.
    pub fn cooldowns(&self) -> usize {
        self.cooldowns.load(Ordering::Relaxed)
    }

    /// Admissions decided in this process because Redis did not answer.
    pub fn fallbacks(&self) -> usize {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Redis calls that failed.
    pub fn redis_errors(&self) -> usize {
        self.redis_errors.load(Ordering::Relaxed)
    }
}

/// The (sorted set, holder) pairs one request holds in Redis: its leases and reservations.
type Held = Vec<(String, String)>;

/// One owner's counters in the admin view: its kind, its name, each counter and its limit.
struct Group {
    kind: &'static str,
    name: String,
    counters: Vec<(Counter, Option<i64>)>,
}

/// The limits of one gateway process.
#[derive(Debug)]
pub struct Limiter {
    local: local::LocalStore,
    shared: Option<SharedStore>,
    policies: FailurePolicies,
    instances: u32,
    lease: Duration,
    /// Leases and reservations held in Redis, by request id, to renew.
    live: Mutex<HashMap<Arc<str>, Held>>,
    /// Cooldowns set in this process and not yet over (the no-Redis fast path skips the
    /// store when there are none and no limits apply).
    local_cooldowns: AtomicUsize,
    /// Redis round-trip times in microseconds, summed, and their count.
    round_trips: Mutex<(u64, u64)>,
    stats: LimitStats,
    calendar: period::Calendar,
    /// Settlements waiting for the next call to Redis: while one call is out, the ones that
    /// end meanwhile gather here and go in the next, so under load a call settles many.
    pending: Mutex<Vec<(Arc<str>, Vec<Settled>)>>,
    /// Whether the task that sends them has been started (on the first settlement, inside
    /// a runtime).
    flusher: std::sync::atomic::AtomicBool,
    wake: tokio::sync::Notify,
}

/// The most requests one settlement call carries.
const SETTLE_BATCH: usize = 256;

/// What the request path hands [`Limiter::admit`].
#[derive(Debug)]
pub struct AdmitInput<'a> {
    /// The request id.
    pub id: &'a str,
    /// The client key.
    pub client: &'a ClientKey,
    /// The model (canonical).
    pub model: &'a str,
    /// The token estimate and worst-case cost.
    pub demand: Demand,
    /// The router's candidates, in order.
    pub candidates: &'a [Candidate],
    /// How long the client stays on the key that serves it (`[routing] affinity_secs`).
    pub affinity: Option<Duration>,
}

/// Unix ms now.
pub fn now_ms() -> i64 {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0))
}

impl Limiter {
    /// A limiter on `[redis]` (in this process alone when no URL is set). Fails only on
    /// a URL it cannot use (`aether check` reports those first).
    pub fn new(section: &RedisSection) -> Result<Limiter, SharedError> {
        let lease = Duration::from_secs(section.lease_secs.max(3));
        let shared = match section.url.as_deref().map(|u| SecretRef::parse(u).resolve()) {
            Some(Some(url)) => Some(SharedStore::new(
                url.expose(),
                &section.prefix,
                Duration::from_millis(section.timeout_ms.max(1)),
                lease,
            )?),
            _ => None,
        };
        Ok(Limiter::with_store(shared, section))
    }

    /// Limits in this process only.
    pub fn local() -> Limiter {
        Limiter::with_store(None, &RedisSection::default())
    }

    fn with_store(shared: Option<SharedStore>, section: &RedisSection) -> Limiter {
        Limiter {
            local: local::LocalStore::default(),
            shared,
            policies: section.on_failure,
            instances: section.instances.max(1),
            lease: Duration::from_secs(section.lease_secs.max(3)),
            live: Mutex::new(HashMap::new()),
            local_cooldowns: AtomicUsize::new(0),
            round_trips: Mutex::new((0, 0)),
            stats: LimitStats::default(),
            calendar: period::Calendar::default(),
            pending: Mutex::new(Vec::new()),
            flusher: std::sync::atomic::AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Whether the limits are shared through Redis.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// `Some(true)` while Redis answers, `Some(false)` while it does not, `None` without
    /// Redis.
    pub fn redis_up(&self) -> Option<bool> {
        self.shared.as_ref().map(SharedStore::is_up)
    }

    /// Refusal and health counters.
    pub fn stats(&self) -> &LimitStats {
        &self.stats
    }

    /// Mean Redis round trip and the number of calls.
    pub fn round_trips(&self) -> (Duration, u64) {
        let (sum, n) = *self.round_trips.lock().unwrap_or_else(PoisonError::into_inner);
        (Duration::from_micros(sum.checked_div(n).unwrap_or(0)), n)
    }

    fn timed(&self, started: std::time::Instant) {
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut rt = self.round_trips.lock().unwrap_or_else(PoisonError::into_inner);
        rt.0 = rt.0.saturating_add(us);
        rt.1 += 1;
    }

    /// Whether any limit may count a request of `client` over `candidates` (so its tokens
    /// and cost are worth estimating): the client's own, a candidate key's, or the shared
    /// store's (whose admission applies to every request).
    pub fn may_count(&self, client: &ClientKey, candidates: &[Candidate]) -> bool {
        self.shared.is_some() || client.limits.is_some() || candidates.iter().any(|c| c.route.key.limits.counts())
    }

    /// Takes every limit of one request, and the first candidate key with room.
    pub async fn admit(self: &Arc<Self>, input: AdmitInput<'_>) -> Result<Ticket, LimitError> {
        let client_limits = input.client.limits.as_deref();
        let counted_keys = input.candidates.iter().any(|c| c.route.key.limits.counts());
        // Affinity means something only where the first priority tier offers a choice.
        let tier = input.candidates.first().map_or(0, |first| {
            input
                .candidates
                .iter()
                .take_while(|c| c.route.provider.priority == first.route.provider.priority)
                .count()
        });
        let affinity = input.affinity.filter(|_| tier > 1).map(|ttl| Affinity {
            key: format!("aff:{}:{}", input.client.name, input.model),
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            tier,
        });
        if self.shared.is_none()
            && client_limits.is_none()
            && !counted_keys
            && affinity.is_none()
            && self.local_cooldowns.load(Ordering::Relaxed) == 0
        {
            return Ok(Ticket::nothing(self.clone(), input.id));
        }
        let name: Arc<str> = Arc::from(input.client.name.as_str());
        let client = client_limits.map_or_else(Vec::new, |l| {
            let periods = self.calendar.at(input.demand.now_ms);
            take::client_takes(&name, l, input.model, &input.demand, &periods)
        });
        let keys: Vec<KeyTakes> = input
            .candidates
            .iter()
            .map(|c| key_takes(&c.route.key, input.demand.tokens))
            .collect();
        let req = AdmitRequest {
            id: input.id,
            client: &client,
            candidates: &keys,
            affinity: affinity.as_ref(),
        };
        let (answer, backend) = self.decide(&req).await?;
        match answer {
            AdmitAnswer::Admitted { chosen, skipped } => {
                let key = chosen.map(|i| (i, keys[i].clone()));
                let held = ticket::Held {
                    backend,
                    client,
                    key,
                    skipped,
                    affinity,
                };
                Ok(Ticket::new(self.clone(), input.id, held, input.demand))
            }
            AdmitAnswer::Refused {
                take,
                retry_ms,
                remaining,
            } => {
                let t = &client[take];
                self.stats.refused("client_key", t.name.config_name());
                Err(LimitError::Refused(Refusal {
                    name: t.name,
                    owner: t.owner.clone(),
                    limit: t.limit,
                    remaining,
                    retry_after: (retry_ms > 0).then(|| millis(retry_ms)),
                }))
            }
            AdmitAnswer::KeysBusy { retry_ms, .. } => {
                self.stats.refused("provider_keys", "busy");
                Err(LimitError::KeysBusy {
                    retry_after: millis(retry_ms.max(1)),
                })
            }
        }
    }

    /// Asks the store for `req`: Redis when configured and answering, else this process
    /// (with each limit divided among the instances), or a refusal when a limit the request
    /// needs fails closed.
    async fn decide(&self, req: &AdmitRequest<'_>) -> Result<(AdmitAnswer, Backend), LimitError> {
        let now = now_ms();
        let Some(shared) = &self.shared else {
            return Ok((self.local.admit(req, now), Backend::Local));
        };
        let started = std::time::Instant::now();
        let error = match shared.admit(req, now).await {
            Ok(answer) => {
                self.timed(started);
                return Ok((answer, Backend::Shared));
            }
            Err(e) => e,
        };
        if !matches!(error, SharedError::Down) {
            self.stats.redis_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("limits: {error}; deciding in this process by the on_failure policies");
        }
        let kinds = req
            .client
            .iter()
            .chain(req.candidates.iter().flat_map(|c| &c.takes))
            .map(|t| t.name.kind());
        let closed = kinds.into_iter().any(|k| {
            let mode = match k {
                LimitKind::Rate => self.policies.rates,
                LimitKind::Concurrency => self.policies.concurrency,
                LimitKind::Budget => self.policies.budgets,
            };
            mode == FailureMode::Closed
        });
        if closed {
            self.stats.refused("redis", "unavailable");
            return Err(LimitError::Unavailable(error));
        }
        self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
        let share = |t: &Take| t.share(self.instances);
        let client: Vec<Take> = req.client.iter().map(share).collect();
        let candidates: Vec<KeyTakes> = req
            .candidates
            .iter()
            .map(|c| KeyTakes {
                takes: c.takes.iter().map(share).collect(),
                ..c.clone()
            })
            .collect();
        let local = AdmitRequest {
            id: req.id,
            client: &client,
            candidates: &candidates,
            affinity: req.affinity,
        };
        Ok((self.local.admit(&local, now), Backend::Local))
    }

    /// Takes `candidate`'s key for a request that already holds its client takes (the
    /// failover loop's next candidate).
    async fn take_key(
        &self,
        id: &str,
        key: &KeyTakes,
        backend: Backend,
        affinity: Option<&Affinity>,
    ) -> (Option<KeySkip>, Backend) {
        let candidates = std::slice::from_ref(key);
        let req = AdmitRequest {
            id,
            client: &[],
            candidates,
            affinity,
        };
        let (answer, backend) = match backend {
            Backend::Shared | Backend::Nothing if self.shared.is_some() => match self.decide(&req).await {
                Ok(a) => a,
                // Failing closed for a key limit: treat the key as full.
                Err(_) => {
                    return (
                        Some(KeySkip {
                            candidate: 0,
                            reason: admission::SkipReason::Full,
                            retry_ms: 1000,
                        }),
                        backend,
                    );
                }
            },
            _ => (self.local.admit(&req, now_ms()), Backend::Local),
        };
        match answer {
            AdmitAnswer::Admitted { .. } => (None, backend),
            AdmitAnswer::KeysBusy { skipped, .. } => (skipped.first().copied(), backend),
            AdmitAnswer::Refused { .. } => (None, backend),
        }
    }

    /// Settles (or releases) what a ticket holds, off the request path.
    fn settle(self: &Arc<Self>, id: Arc<str>, backend: Backend, items: Vec<Settled>) {
        if items.is_empty() {
            return;
        }
        match backend {
            Backend::Nothing => {}
            Backend::Local => self.local.settle(&id, &items, now_ms()),
            Backend::Shared => {
                self.live.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
                self.pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((id, items));
                self.start_flusher();
                self.wake.notify_one();
            }
        }
    }

    /// Starts the task that sends settlements to Redis, once.
    fn start_flusher(self: &Arc<Self>) {
        if self.flusher.swap(true, Ordering::AcqRel) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(self.clone().flush_settlements());
            }
            Err(_) => {
                self.flusher.store(false, Ordering::Release);
                tracing::warn!("limits: no runtime to settle on; settlements wait for the next request");
            }
        }
    }

    /// Sends what has gathered, in calls of up to [`SETTLE_BATCH`] requests, whenever a
    /// settlement arrives. A failed call is logged: its leases and reservations lapse on
    /// their own (a reservation never counts for less than the real spend).
    async fn flush_settlements(self: Arc<Self>) {
        let Some(shared) = &self.shared else { return };
        loop {
            self.wake.notified().await;
            let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
            for chunk in batch.chunks(SETTLE_BATCH) {
                if let Err(e) = shared.settle_many(chunk, now_ms()).await {
                    self.stats.redis_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("limits: could not settle {} requests: {e}", chunk.len());
                }
            }
        }
    }

    /// Remembers the leases and reservations a shared ticket holds, to renew them.
    fn hold(&self, id: &Arc<str>, takes: &[Take]) {
        let held: Held = takes
            .iter()
            .filter_map(|t| match t.kind {
                TakeKind::Lease => Some((t.key.clone(), id.to_string())),
                TakeKind::Budget => Some((format!("{}:r", t.key), id.to_string())),
                TakeKind::Rate => None,
            })
            .collect();
        if held.is_empty() {
            return;
        }
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id.clone())
            .or_default()
            .extend(held);
    }

    /// What a provider key's answer says: a 429 (cool down for `wait`, or the key's
    /// default; halve its adaptive concurrency), a key at zero (`exhausted`), or a success
    /// (grow its adaptive concurrency).
    pub fn report(self: &Arc<Self>, key: &ProviderKey, outcome: KeyOutcome) {
        let (cool, pressure) = match outcome {
            KeyOutcome::Throttled(wait) => (
                Some(wait.unwrap_or(key.limits.cooldown)).filter(|d| !d.is_zero()),
                Some(Pressure::Throttled),
            ),
            KeyOutcome::Exhausted(wait) | KeyOutcome::CircuitOpened(wait) => (Some(wait), None),
            KeyOutcome::Answered => (None, Some(Pressure::Succeeded)),
        };
        let adaptive = key
            .limits
            .adaptive_min
            .zip(key.limits.rates.concurrent)
            .zip(pressure)
            .map(|((floor, ceiling), p)| {
                (
                    format!("adapt:{}", key.scope),
                    p,
                    i64::try_from(floor).unwrap_or(1),
                    i64::try_from(ceiling).unwrap_or(i64::MAX),
                )
            });
        if cool.is_none() && adaptive.is_none() {
            return;
        }
        let cool_key = format!("cool:{}", key.scope);
        let cool_ms = cool.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        if cool.is_some() {
            self.stats.cooldowns.fetch_add(1, Ordering::Relaxed);
            tracing::info!(key = %key.scope, "provider key cooling down for {cool_ms} ms");
        }
        // Always locally too: the no-Redis path, and the fallback while Redis is down.
        let now = now_ms();
        if cool_ms > 0 {
            self.local.cool(&cool_key, now + cool_ms);
            self.local_cooldowns.fetch_add(1, Ordering::Relaxed);
        }
        if let Some((k, p, floor, ceiling)) = &adaptive {
            self.local.adapt(k, *p, *floor, *ceiling);
        }
        if self.shared.is_none() {
            return;
        }
        let this = self.clone();
        let run = async move {
            let Some(shared) = &this.shared else { return };
            let adaptive = adaptive.as_ref().map(|(k, p, f, c)| (k.as_str(), *p, *f, *c));
            if let Err(e) = shared.pressure(&cool_key, cool_ms, adaptive, now_ms()).await {
                this.stats.redis_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("limits: could not share a key's cooldown: {e}");
            }
        };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(run);
        }
    }

    /// One round of upkeep: renews what live requests hold in Redis, forgets local
    /// counters that say nothing any more.
    pub async fn upkeep(&self) {
        let now = now_ms();
        // Budget periods that ended: a day or month other than this one.
        let periods = self.calendar.at(now);
        self.local.prune(now, 61_000, |key| {
            !(key.ends_with(&periods.day) || key.ends_with(&periods.month) || key.ends_with(periods.total))
        });
        let cooling = self.local.cooling(now);
        self.local_cooldowns.store(cooling, Ordering::Relaxed);
        let Some(shared) = &self.shared else { return };
        let held: Held = self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .flatten()
            .cloned()
            .collect();
        for chunk in held.chunks(512) {
            if let Err(e) = shared.renew(chunk, now).await {
                self.stats.redis_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("limits: could not renew {} leases: {e}", chunk.len());
                break;
            }
        }
    }

    /// Runs [`Limiter::upkeep`] every third of the lease time, forever.
    pub async fn keep_up(self: Arc<Self>) {
        let mut every = tokio::time::interval(self.lease / 3);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            self.upkeep().await;
        }
    }

    /// Every counter the config defines, with its state, grouped by owner, for
    /// `GET /admin/limits`.
    pub async fn view(&self, config: &RuntimeConfig) -> serde_json::Value {
        let now = now_ms();
        let mut groups: Vec<Group> = Vec::new();
        let demand = Demand::nothing(now);
        for client in config.client_keys() {
            let Some(limits) = &client.limits else { continue };
            let name: Arc<str> = Arc::from(client.name.as_str());
            let mut models: Vec<&String> = limits.models.keys().collect();
            models.sort();
            let periods = self.calendar.at(now);
            let mut takes = take::client_takes(&name, limits, "", &demand, &periods);
            for m in models {
                let per_model = take::client_takes(&name, limits, m, &demand, &periods);
                takes.extend(
                    per_model
                        .into_iter()
                        .filter(|t| matches!(t.owner, Owner::ClientModel(..))),
                );
            }
            let counters = takes.iter().map(|t| (counter(t), Some(t.limit))).collect();
            groups.push(Group {
                kind: "client_key",
                name: client.name.clone(),
                counters,
            });
        }
        for provider in &config.providers {
            for key in &provider.keys {
                let kt = key_takes(key, 0);
                let mut counters: Vec<(Counter, Option<i64>)> =
                    kt.takes.iter().map(|t| (counter(t), Some(t.limit))).collect();
                counters.push((
                    Counter::Cooldown {
                        key: kt.cool_key.clone(),
                    },
                    None,
                ));
                if key.limits.adaptive_min.is_some() {
                    counters.push((
                        Counter::Adaptive {
                            key: format!("adapt:{}", key.scope),
                        },
                        None,
                    ));
                }
                groups.push(Group {
                    kind: "provider_key",
                    name: key.scope.to_string(),
                    counters,
                });
            }
        }
        let all: Vec<Counter> = groups
            .iter()
            .flat_map(|g| g.counters.iter().map(|c| c.0.clone()))
            .collect();
        let (states, source) = match &self.shared {
            Some(shared) => match shared.view(&all, now).await {
                Ok(s) => (s, "redis"),
                Err(_) => (self.local.view(&all, now), "local (redis unreachable)"),
            },
            None => (self.local.view(&all, now), "local"),
        };
        let mut states = states.into_iter();
        let owners: Vec<serde_json::Value> = groups
            .into_iter()
            .map(|Group { kind, name, counters }| {
                let rows: Vec<Row> = counters
                    .into_iter()
                    .filter_map(|(c, limit)| {
                        states.next().map(|state| Row {
                            counter: c.key().to_owned(),
                            limit,
                            state,
                        })
                    })
                    .collect();
                serde_json::json!({ "kind": kind, "name": name, "counters": rows })
            })
            .collect();
        let (rt, calls) = self.round_trips();
        serde_json::json!({
            "store": source,
            "redis": match self.redis_up() {
                None => "not configured",
                Some(true) => "up",
                Some(false) => "unreachable",
            },
            "redis_mean_round_trip_us": u64::try_from(rt.as_micros()).unwrap_or(u64::MAX),
            "redis_calls": calls,
            "owners": owners,
        })
    }
}

/// What one provider answer said about its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    /// HTTP 429, with the wait its headers named.
    Throttled(Option<Duration>),
    /// An answer whose headers say a limit is at zero, for this long.
    Exhausted(Duration),
    /// An answer.
    Answered,
    /// This instance's circuit breaker opened for this long: the key rests on every
    /// instance for as long (the counting and the half-open probes stay per instance).
    CircuitOpened(Duration),
}

fn key_takes(key: &ProviderKey, tokens: u64) -> KeyTakes {
    take::key_takes(&key.scope, &key.limits, tokens)
}

fn counter(t: &Take) -> Counter {
    match t.kind {
        TakeKind::Rate => Counter::Rate {
            key: t.key.clone(),
            limit: t.limit,
        },
        TakeKind::Lease => Counter::Lease { key: t.key.clone() },
        TakeKind::Budget => Counter::Budget { key: t.key.clone() },
    }
}
