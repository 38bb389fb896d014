//! What one request asks of the limits: a list of [`Take`]s, each one amount from one
//! counter with its limit, built from the compiled config and the request's facts.
//!
//! Both stores ([`super::local`], [`super::shared`]) check and apply the same takes by the
//! same rules, so a limit means the same thing with or without Redis.

use std::fmt;
use std::sync::Arc;

use crate::config::limits::{ClientLimits, KeyLimits, Rates};
use crate::telemetry::money::NanoUsd;

/// Which limit a take counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitName {
    /// Requests per minute.
    Requests,
    /// Tokens per minute.
    Tokens,
    /// Requests in flight.
    Concurrent,
    /// Spend per UTC day.
    BudgetDaily,
    /// Spend per UTC month.
    BudgetMonthly,
    /// Spend in total.
    BudgetTotal,
}

/// The limit kinds that share a failure policy while Redis is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// Requests and tokens per minute.
    Rate,
    /// Concurrency.
    Concurrency,
    /// Budgets.
    Budget,
}

impl LimitName {
    /// The config field's name, as refusals and records name it.
    pub fn config_name(self) -> &'static str {
        match self {
            LimitName::Requests => "requests_per_minute",
            LimitName::Tokens => "tokens_per_minute",
            LimitName::Concurrent => "concurrent",
            LimitName::BudgetDaily => "budget_usd.daily",
            LimitName::BudgetMonthly => "budget_usd.monthly",
            LimitName::BudgetTotal => "budget_usd.total",
        }
    }

    /// The suffix of the `x-ratelimit-*-<suffix>` headers.
    pub fn header_suffix(self) -> &'static str {
        match self {
            LimitName::Requests => "requests",
            LimitName::Tokens => "tokens",
            LimitName::Concurrent => "concurrent",
            LimitName::BudgetDaily => "budget-daily",
            LimitName::BudgetMonthly => "budget-monthly",
            LimitName::BudgetTotal => "budget-total",
        }
    }

    /// Its failure-policy kind.
    pub fn kind(self) -> LimitKind {
        match self {
            LimitName::Requests | LimitName::Tokens => LimitKind::Rate,
            LimitName::Concurrent => LimitKind::Concurrency,
            LimitName::BudgetDaily | LimitName::BudgetMonthly | LimitName::BudgetTotal => LimitKind::Budget,
        }
    }

    /// Whether amounts are nano-USD.
    pub fn is_budget(self) -> bool {
        self.kind() == LimitKind::Budget
    }
}

/// How a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeKind {
    /// A bucket of `limit` that refills at `limit` per minute.
    Rate,
    /// A slot among `limit`, held until released (or its lease lapses).
    Lease,
    /// Spent plus reserved must stay within `limit` until the period ends.
    Budget,
}

impl TakeKind {
    /// The one-letter code the Lua scripts use.
    pub fn code(self) -> &'static str {
        match self {
            TakeKind::Rate => "r",
            TakeKind::Lease => "c",
            TakeKind::Budget => "b",
        }
    }
}

/// Whose limit it is, for messages and the admin view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A client key, by name.
    Client(Arc<str>),
    /// A client key's limit on one model.
    ClientModel(Arc<str>, Arc<str>),
    /// A provider key, as `provider/key`.
    ProviderKey(Arc<str>),
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Client(name) => write!(f, "client key {name:?}"),
            Owner::ClientModel(name, model) => write!(f, "client key {name:?} on model {model:?}"),
            Owner::ProviderKey(scope) => write!(f, "provider key {scope:?}"),
        }
    }
}

/// One amount from one counter.
#[derive(Debug, Clone)]
pub struct Take {
    /// How the counter counts.
    pub kind: TakeKind,
    /// The counter's name in the store (without the shared prefix).
    pub key: String,
    /// The limit.
    pub limit: i64,
    /// The amount taken (tokens, requests, 1 slot, nano-USD).
    pub amount: i64,
    /// Which limit.
    pub name: LimitName,
    /// Whose.
    pub owner: Owner,
    /// Budgets: when the period ends (Unix ms; 0: never).
    pub resets_at_ms: i64,
    /// Adaptive leases: the counter holding the current concurrency, and its floor.
    pub adaptive: Option<(String, i64)>,
}

impl Take {
    /// This take with its limit divided among `instances` (fail-open: each instance keeps
    /// its share), never below 1.
    pub fn share(&self, instances: u32) -> Take {
        let mut t = self.clone();
        t.limit = (self.limit / i64::from(instances.max(1))).max(1);
        t
    }
}

/// A provider key's takes and the counter of its cooldown.
#[derive(Debug, Clone)]
pub struct KeyTakes {
    /// `provider/key`.
    pub scope: Arc<str>,
    /// The cooldown's counter.
    pub cool_key: String,
    /// Rates and concurrency.
    pub takes: Vec<Take>,
}

/// What a request asks for, before it is split into takes.
#[derive(Debug, Clone, Copy)]
pub struct Demand {
    /// Input estimate plus max output.
    pub tokens: u64,
    /// The worst-case cost at list prices.
    pub cost: NanoUsd,
    /// Now, Unix ms (budget periods).
    pub now_ms: i64,
}

impl Demand {
    /// No tokens and no cost (no limit that counts them applies).
    pub fn nothing(now_ms: i64) -> Demand {
        Demand {
            tokens: 0,
            cost: NanoUsd::ZERO,
            now_ms,
        }
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn rate_takes(out: &mut Vec<Take>, scope: &str, owner: &Owner, rates: &Rates, tokens: u64) {
    if let Some(rpm) = rates.requests_per_minute {
        out.push(Take {
            kind: TakeKind::Rate,
            key: format!("r:{scope}:rpm"),
            limit: clamp(rpm),
            amount: 1,
            name: LimitName::Requests,
            owner: owner.clone(),
            resets_at_ms: 0,
            adaptive: None,
        });
    }
    if let Some(tpm) = rates.tokens_per_minute {
        out.push(Take {
            kind: TakeKind::Rate,
            key: format!("r:{scope}:tpm"),
            limit: clamp(tpm),
            amount: clamp(tokens),
            name: LimitName::Tokens,
            owner: owner.clone(),
            resets_at_ms: 0,
            adaptive: None,
        });
    }
    if let Some(n) = rates.concurrent {
        out.push(Take {
            kind: TakeKind::Lease,
            key: format!("c:{scope}"),
            limit: clamp(n),
            amount: 1,
            name: LimitName::Concurrent,
            owner: owner.clone(),
            resets_at_ms: 0,
            adaptive: None,
        });
    }
}

/// A client key's takes for one request on `model` (canonical), in the budget periods of
/// `periods`.
pub fn client_takes(
    name: &Arc<str>,
    limits: &ClientLimits,
    model: &str,
    demand: &Demand,
    periods: &super::period::Periods,
) -> Vec<Take> {
    let mut out = Vec::new();
    let owner = Owner::Client(name.clone());
    rate_takes(&mut out, &format!("c:{name}"), &owner, &limits.rates, demand.tokens);
    if let Some(rates) = limits.models.get(model) {
        let owner = Owner::ClientModel(name.clone(), Arc::from(model));
        rate_takes(&mut out, &format!("c:{name}:m:{model}"), &owner, rates, demand.tokens);
    }
    for (limit, name_, period, resets) in [
        (
            limits.budgets.daily,
            LimitName::BudgetDaily,
            periods.day.as_str(),
            periods.day_ends_ms,
        ),
        (
            limits.budgets.monthly,
            LimitName::BudgetMonthly,
            periods.month.as_str(),
            periods.month_ends_ms,
        ),
        (limits.budgets.total, LimitName::BudgetTotal, periods.total, 0),
    ] {
        if let Some(limit) = limit {
            out.push(Take {
                kind: TakeKind::Budget,
                key: format!("b:c:{name}:{period}"),
                limit: limit.0,
                amount: demand.cost.0.max(0),
                name: name_,
                owner: owner.clone(),
                resets_at_ms: resets,
                adaptive: None,
            });
        }
    }
    out
}

/// A provider key's takes for one request.
pub fn key_takes(scope: &Arc<str>, limits: &KeyLimits, tokens: u64) -> KeyTakes {
    let mut takes = Vec::new();
    let owner = Owner::ProviderKey(scope.clone());
    rate_takes(&mut takes, &format!("k:{scope}"), &owner, &limits.rates, tokens);
    if let Some(min) = limits.adaptive_min {
        for t in &mut takes {
            if t.kind == TakeKind::Lease {
                t.adaptive = Some((format!("adapt:{scope}"), clamp(min)));
            }
        }
    }
    KeyTakes {
        scope: scope.clone(),
        cool_key: format!("cool:{scope}"),
        takes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::limits::Budgets;

    #[test]
    fn client_takes_cover_every_configured_limit() {
        let limits = ClientLimits {
            rates: Rates {
                requests_per_minute: Some(20),
                tokens_per_minute: Some(1000),
                concurrent: Some(2),
            },
            models: [(
                "m".to_owned(),
                Rates {
                    requests_per_minute: Some(5),
                    ..Rates::default()
                },
            )]
            .into_iter()
            .collect(),
            budgets: Budgets {
                daily: Some(NanoUsd(10)),
                monthly: None,
                total: Some(NanoUsd(100)),
            },
        };
        let demand = Demand {
            tokens: 300,
            cost: NanoUsd(7),
            now_ms: 1_765_152_000_000, // 2025-12-08T00:00:00Z
        };
        let periods = crate::limits::period::Periods::at(demand.now_ms);
        let takes = client_takes(&Arc::from("demo"), &limits, "m", &demand, &periods);
        let names: Vec<_> = takes.iter().map(|t| (t.name, t.key.as_str(), t.amount)).collect();
        assert_eq!(
            names,
            vec![
                (LimitName::Requests, "r:c:demo:rpm", 1),
                (LimitName::Tokens, "r:c:demo:tpm", 300),
                (LimitName::Concurrent, "c:c:demo", 1),
                (LimitName::Requests, "r:c:demo:m:m:rpm", 1),
                (LimitName::BudgetDaily, "b:c:demo:d2025-12-08", 7),
                (LimitName::BudgetTotal, "b:c:demo:total", 7),
            ]
        );
        assert_eq!(takes[4].resets_at_ms, 1_765_152_000_000 + 86_400_000);
        // Another model gets only the key's own limits.
        assert_eq!(
            client_takes(&Arc::from("demo"), &limits, "other", &demand, &periods).len(),
            5
        );
    }

    #[test]
    fn shares_never_reach_zero() {
        let t = key_takes(
            &Arc::from("p/k"),
            &KeyLimits {
                rates: Rates {
                    concurrent: Some(3),
                    ..Rates::default()
                },
                adaptive_min: Some(1),
                ..KeyLimits::default()
            },
            10,
        );
        assert_eq!(t.takes[0].share(2).limit, 1);
        assert_eq!(t.takes[0].share(10).limit, 1);
        assert_eq!(t.takes[0].adaptive, Some(("adapt:p/k".to_owned(), 1)));
    }
}
