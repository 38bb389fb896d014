//! What the admin API shows of the limits: each counter a config defines, read from
//! whichever store holds it.

/// A counter to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counter {
    /// A rate bucket and its limit (an absent bucket is full).
    Rate {
        /// Its name.
        key: String,
        /// Its limit.
        limit: i64,
    },
    /// A lease set.
    Lease {
        /// Its name.
        key: String,
    },
    /// A budget period.
    Budget {
        /// Its name.
        key: String,
    },
    /// A provider key's cooldown.
    Cooldown {
        /// Its name.
        key: String,
    },
    /// A provider key's adaptive concurrency.
    Adaptive {
        /// Its name.
        key: String,
    },
}

impl Counter {
    /// Its name in the store.
    pub fn key(&self) -> &str {
        match self {
            Counter::Rate { key, .. }
            | Counter::Lease { key }
            | Counter::Budget { key }
            | Counter::Cooldown { key }
            | Counter::Adaptive { key } => key,
        }
    }
}

/// A counter's state.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SlotView {
    /// A rate bucket: what it holds now.
    Rate {
        /// Available now (may be below zero after a request larger than the limit).
        available: i64,
    },
    /// Leases held.
    Leases {
        /// How many.
        held: i64,
    },
    /// A budget period.
    Budget {
        /// Settled spend, USD.
        spent_usd: String,
        /// Outstanding reservations, USD.
        reserved_usd: String,
    },
    /// A cooldown.
    Cooldown {
        /// Milliseconds left (0: not cooling down).
        remaining_ms: i64,
    },
    /// An adaptive concurrency.
    Adaptive {
        /// The current concurrency (`None`: at its ceiling, never throttled).
        concurrency: Option<f64>,
    },
}

/// One row of the admin view: whose counter, which limit, its state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// The counter's name in the store.
    pub counter: String,
    /// The configured limit (absent for cooldowns and adaptive levels).
    pub limit: Option<i64>,
    /// Its state.
    #[serde(flatten)]
    pub state: SlotView,
}

/// The state of a budget in USD text.
pub fn budget(spent: i64, reserved: i64) -> SlotView {
    use crate::telemetry::money::NanoUsd;
    SlotView::Budget {
        spent_usd: NanoUsd(spent).to_usd_string(),
        reserved_usd: NanoUsd(reserved).to_usd_string(),
    }
}

/// A bucket's level refilled to `now`.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
pub fn refilled(level: f64, at: i64, limit: i64, now: i64) -> f64 {
    let elapsed = (now - at).max(0) as f64;
    (level + elapsed * limit as f64 / 60_000.0).min(limit as f64)
}

/// A counter's state from the pipeline's reply for it.
#[allow(clippy::cast_possible_truncation)]
pub fn from_redis(counter: &Counter, value: &redis::Value, now: i64) -> SlotView {
    use redis::Value;
    let num = |v: &Value| -> Option<f64> {
        match v {
            Value::Int(i) =>
            {
                #[allow(clippy::cast_precision_loss)]
                Some(*i as f64)
            }
            Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            Value::SimpleString(s) => s.parse().ok(),
            Value::Double(d) => Some(*d),
            _ => None,
        }
    };
    let pair = |v: &Value| -> (Option<f64>, Option<f64>) {
        match v {
            Value::Array(items) if items.len() == 2 => (num(&items[0]), num(&items[1])),
            _ => (None, None),
        }
    };
    match counter {
        Counter::Rate { limit, .. } => {
            let available = match pair(value) {
                (Some(level), Some(at)) => refilled(level, at as i64, *limit, now),
                #[allow(clippy::cast_precision_loss)]
                _ => *limit as f64,
            };
            SlotView::Rate {
                available: available.floor() as i64,
            }
        }
        Counter::Lease { .. } => SlotView::Leases {
            held: num(value).unwrap_or(0.0) as i64,
        },
        Counter::Budget { .. } => {
            let (s, r) = pair(value);
            budget(s.unwrap_or(0.0) as i64, r.unwrap_or(0.0) as i64)
        }
        Counter::Cooldown { .. } => SlotView::Cooldown {
            remaining_ms: num(value).unwrap_or(0.0).max(0.0) as i64,
        },
        Counter::Adaptive { .. } => SlotView::Adaptive {
            concurrency: num(value),
        },
    }
}
