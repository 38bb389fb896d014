//! The limits sections of `aether.toml` as written, their checks, and their compiled form.
//!
//! Client keys carry `[client_keys.limits]` (requests and tokens per minute, concurrent
//! requests, USD budgets per day, month and in total, and per-model rates); provider keys
//! carry `[providers.keys.limits]` (requests and tokens per minute, concurrency, adaptive
//! concurrency, the cooldown after a 429 that names no reset); `[redis]` makes the state
//! shared. Every problem is reported with its path, like the rest of the config.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Deserialize;

use super::diagnostic::Diagnostics;
use crate::telemetry::money::NanoUsd;

/// `[client_keys.limits]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ClientLimitsSection {
    /// Requests per minute (a bucket of this many that refills at this rate).
    pub requests_per_minute: Option<u64>,
    /// Tokens per minute: input estimate plus max output taken before the call, settled
    /// to the real usage after it.
    pub tokens_per_minute: Option<u64>,
    /// Requests in flight at once (a stream holds its slot until it ends).
    pub concurrent: Option<u64>,
    /// Spend budgets in USD.
    #[serde(default)]
    pub budget_usd: BudgetSection,
    /// Per client-facing model: rates on top of the key's own.
    #[serde(default)]
    pub models: BTreeMap<String, RatesSection>,
}

/// Per-model rates within a client key's limits.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RatesSection {
    /// Requests per minute.
    pub requests_per_minute: Option<u64>,
    /// Tokens per minute.
    pub tokens_per_minute: Option<u64>,
    /// Requests in flight at once.
    pub concurrent: Option<u64>,
}

/// `budget_usd`: list-price spend per UTC day, UTC month and in total.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BudgetSection {
    /// Per UTC calendar day.
    pub daily: Option<f64>,
    /// Per UTC calendar month.
    pub monthly: Option<f64>,
    /// Over the key's whole life.
    pub total: Option<f64>,
}

/// `[providers.keys.limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyLimitsSection {
    /// Requests per minute through this key.
    pub requests_per_minute: Option<u64>,
    /// Tokens per minute through this key.
    pub tokens_per_minute: Option<u64>,
    /// Requests in flight through this key at once.
    pub concurrent: Option<u64>,
    /// With `concurrent`: adapt the concurrency between this and `concurrent` (halved on a
    /// 429, grown by one per round of successes).
    pub adaptive_min: Option<u64>,
    /// How long a key that answered 429 without naming a reset is skipped, in seconds
    /// (0: only a 429 that names its reset rests the key).
    pub cooldown_secs: u64,
}

impl Default for KeyLimitsSection {
    fn default() -> Self {
        KeyLimitsSection {
            requests_per_minute: None,
            tokens_per_minute: None,
            concurrent: None,
            adaptive_min: None,
            cooldown_secs: 10,
        }
    }
}

/// `[redis]`: shared limits state. Read at start (changing it needs a restart).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSection {
    /// `redis://[user:password@]host:port[/db]`, or `env:NAME` holding one. Unset: every
    /// limit is kept in this process.
    pub url: Option<String>,
    /// Longest wait for one Redis call, in milliseconds.
    pub timeout_ms: u64,
    /// Prefix of every key, inside a hash tag (`{aether}:…`) so all of Aether's keys sit in
    /// one slot: one script can take a client's and a provider key's limits together, on a
    /// single Redis or a Cluster alike.
    pub prefix: String,
    /// How long a concurrency slot or budget reservation outlives an instance that stopped
    /// renewing it (a crashed instance frees its slots within this), in seconds.
    pub lease_secs: u64,
    /// How many instances share this Redis: while Redis is unreachable and a limit kind
    /// fails open, each instance enforces its share (the limit divided by this).
    pub instances: u32,
    /// What each limit kind does while Redis is unreachable.
    pub on_failure: FailurePolicies,
}

impl Default for RedisSection {
    fn default() -> Self {
        RedisSection {
            url: None,
            timeout_ms: 50,
            prefix: "aether".into(),
            lease_secs: 30,
            instances: 1,
            on_failure: FailurePolicies::default(),
        }
    }
}

/// `[redis.on_failure]`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailurePolicies {
    /// Requests and tokens per minute (client and provider keys).
    pub rates: FailureMode,
    /// Concurrent requests.
    pub concurrency: FailureMode,
    /// Spend budgets.
    pub budgets: FailureMode,
}

impl Default for FailurePolicies {
    fn default() -> Self {
        FailurePolicies {
            rates: FailureMode::Open,
            concurrency: FailureMode::Open,
            budgets: FailureMode::Closed,
        }
    }
}

/// What a limit kind does while Redis is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureMode {
    /// Admit, counting in this process against this instance's share of the limit.
    Open,
    /// Refuse with 503 in the client's format.
    Closed,
}

/// Rates (and concurrency) for one scope, compiled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    /// Requests per minute.
    pub requests_per_minute: Option<u64>,
    /// Tokens per minute.
    pub tokens_per_minute: Option<u64>,
    /// Concurrent requests.
    pub concurrent: Option<u64>,
}

impl Rates {
    fn is_empty(&self) -> bool {
        *self == Rates::default()
    }
}

/// Budgets in nano-USD, compiled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budgets {
    /// Per UTC day.
    pub daily: Option<NanoUsd>,
    /// Per UTC month.
    pub monthly: Option<NanoUsd>,
    /// In total.
    pub total: Option<NanoUsd>,
}

impl Budgets {
    /// Whether any budget is set.
    pub fn any(&self) -> bool {
        *self != Budgets::default()
    }
}

/// A client key's limits, compiled.
#[derive(Debug, Clone, Default)]
pub struct ClientLimits {
    /// The key's own rates.
    pub rates: Rates,
    /// Per client-facing model (canonical name).
    pub models: HashMap<String, Rates>,
    /// Spend budgets.
    pub budgets: Budgets,
}

/// A provider key's limits, compiled.
#[derive(Debug, Clone)]
pub struct KeyLimits {
    /// Rates and concurrency.
    pub rates: Rates,
    /// The adaptive concurrency's floor (its ceiling is `rates.concurrent`).
    pub adaptive_min: Option<u64>,
    /// Cooldown after a 429 that names no reset.
    pub cooldown: Duration,
}

impl Default for KeyLimits {
    fn default() -> Self {
        KeyLimits {
            rates: Rates::default(),
            adaptive_min: None,
            cooldown: Duration::from_secs(KeyLimitsSection::default().cooldown_secs),
        }
    }
}

impl KeyLimits {
    /// Whether any count is kept for this key (cooldowns always are).
    pub fn counts(&self) -> bool {
        !self.rates.is_empty()
    }
}

fn rates(d: &mut Diagnostics, path: &str, rpm: Option<u64>, tpm: Option<u64>, concurrent: Option<u64>) -> Rates {
    for (field, value) in [
        ("requests_per_minute", rpm),
        ("tokens_per_minute", tpm),
        ("concurrent", concurrent),
    ] {
        if value == Some(0) {
            d.error(
                format!("{path}.{field}"),
                "must be greater than 0 (leave it out for no limit)",
            );
        }
    }
    Rates {
        requests_per_minute: rpm,
        tokens_per_minute: tpm,
        concurrent,
    }
}

fn usd(d: &mut Diagnostics, path: String, value: Option<f64>) -> Option<NanoUsd> {
    let value = value?;
    if !(value.is_finite() && value > 0.0 && value < 1e9) {
        d.error(path, "must be a positive amount of USD below 1e9");
        return None;
    }
    // Rounded to the nano-dollar, the unit costs are kept in.
    #[allow(clippy::cast_possible_truncation)]
    let nano = (value * 1e9).round() as i64;
    Some(NanoUsd(nano))
}

/// Checks and compiles a client key's limits (`None`: the key has none).
pub fn client_limits(d: &mut Diagnostics, path: &str, section: Option<&ClientLimitsSection>) -> Option<ClientLimits> {
    let s = section?;
    let path = format!("{path}.limits");
    let own = rates(d, &path, s.requests_per_minute, s.tokens_per_minute, s.concurrent);
    let models = s
        .models
        .iter()
        .map(|(model, r)| {
            let mpath = format!("{path}.models.{model}");
            (
                model.clone(),
                rates(d, &mpath, r.requests_per_minute, r.tokens_per_minute, r.concurrent),
            )
        })
        .collect();
    let budgets = Budgets {
        daily: usd(d, format!("{path}.budget_usd.daily"), s.budget_usd.daily),
        monthly: usd(d, format!("{path}.budget_usd.monthly"), s.budget_usd.monthly),
        total: usd(d, format!("{path}.budget_usd.total"), s.budget_usd.total),
    };
    Some(ClientLimits {
        rates: own,
        models,
        budgets,
    })
}

/// Checks and compiles a provider key's limits.
pub fn key_limits(d: &mut Diagnostics, path: &str, section: &KeyLimitsSection) -> KeyLimits {
    let path = format!("{path}.limits");
    let own = rates(
        d,
        &path,
        section.requests_per_minute,
        section.tokens_per_minute,
        section.concurrent,
    );
    if let Some(min) = section.adaptive_min {
        match section.concurrent {
            None => d.error(format!("{path}.adaptive_min"), "needs concurrent (the ceiling)"),
            Some(max) if min == 0 || min > max => {
                d.error(format!("{path}.adaptive_min"), "must be between 1 and concurrent");
            }
            Some(_) => {}
        }
    }
    KeyLimits {
        rates: own,
        adaptive_min: section.adaptive_min,
        cooldown: Duration::from_secs(section.cooldown_secs),
    }
}

/// Checks `[redis]`.
pub fn check_redis(d: &mut Diagnostics, redis: &RedisSection) {
    if let Some(url) = &redis.url {
        let reference = super::secret::SecretRef::parse(url);
        match reference.resolve() {
            None => {
                if let super::secret::SecretRef::Env(var) = reference {
                    d.error("redis.url", format!("env var {var} is not set"));
                }
            }
            Some(secret) => {
                let url = secret.expose();
                if url.starts_with("rediss://") {
                    d.error("redis.url", "TLS to Redis (rediss://) is not built in; reach Redis on a trusted network or through a local TLS tunnel");
                } else if !(url.starts_with("redis://")
                    || url.starts_with("unix://")
                    || url.starts_with("redis+unix://"))
                {
                    d.error("redis.url", "must start with redis:// or unix://");
                } else if redis::Client::open(url).is_err() {
                    d.error("redis.url", "not a Redis URL");
                }
            }
        }
    }
    if redis.timeout_ms == 0 {
        d.error("redis.timeout_ms", "must be greater than 0");
    }
    if redis.lease_secs < 3 {
        d.error(
            "redis.lease_secs",
            "must be at least 3 (leases are renewed every third of it)",
        );
    }
    if redis.instances == 0 {
        d.error("redis.instances", "must be at least 1");
    }
    let bad = |c: char| c == '{' || c == '}' || c.is_whitespace() || c.is_control();
    if redis.prefix.is_empty() || redis.prefix.chars().any(bad) {
        d.error(
            "redis.prefix",
            "must be non-empty, without braces, spaces or control characters",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_reported_with_their_paths() {
        let mut d = Diagnostics::default();
        let section: ClientLimitsSection = toml::from_str(
            "requests_per_minute = 0\nbudget_usd = { daily = -1.0, total = 5.5 }\n[models.m]\nconcurrent = 0\n",
        )
        .unwrap();
        let compiled = client_limits(&mut d, "client_keys[0]", Some(&section)).unwrap();
        let text: Vec<String> = d.into_vec().iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("client_keys[0].limits.requests_per_minute")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("client_keys[0].limits.budget_usd.daily")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("client_keys[0].limits.models.m.concurrent")),
            "{text:?}"
        );
        assert_eq!(compiled.budgets.total, Some(NanoUsd(5_500_000_000)));
    }

    #[test]
    fn adaptive_needs_a_ceiling() {
        let mut d = Diagnostics::default();
        let section = KeyLimitsSection {
            adaptive_min: Some(2),
            ..KeyLimitsSection::default()
        };
        key_limits(&mut d, "providers[0].keys[0]", &section);
        assert!(d.has_errors());
        let mut d = Diagnostics::default();
        let section = KeyLimitsSection {
            adaptive_min: Some(2),
            concurrent: Some(8),
            ..KeyLimitsSection::default()
        };
        let k = key_limits(&mut d, "providers[0].keys[0]", &section);
        assert!(!d.has_errors());
        assert!(k.counts());
    }

    #[test]
    fn redis_urls_are_checked() {
        for (url, ok) in [
            ("redis://127.0.0.1:6379", true),
            ("rediss://h:1", false),
            ("http://h", false),
        ] {
            let mut d = Diagnostics::default();
            check_redis(
                &mut d,
                &RedisSection {
                    url: Some(url.into()),
                    ..RedisSection::default()
                },
            );
            assert_eq!(!d.has_errors(), ok, "{url}");
        }
    }
}
