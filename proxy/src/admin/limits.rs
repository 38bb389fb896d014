//! The limits on the admin listener: `GET /admin/limits` (every client key's and provider
//! key's counters, leases, cooldowns, budgets spent and reserved, and where they are kept)
//! and the limits' metrics on `GET /metrics`.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::limits::Limiter;

/// Refusals by limit, cooldowns, the Redis mode and its round trips, read at each scrape.
#[derive(Debug)]
pub struct LimitMetrics(pub Arc<Limiter>);

impl Collector for LimitMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let stats = self.0.stats();
        let mut family = encoder.encode_descriptor(
            "aether_limit_refusals",
            "Requests refused by a limit before reaching an upstream, by whose limit and which.",
            None,
            MetricType::Counter,
        )?;
        for ((scope, limit), n) in stats.refusals() {
            let labels = [("scope", scope), ("limit", limit)];
            ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
        }
        let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        for (name, help, value) in [
            (
                "aether_provider_key_cooldowns",
                "Provider-key cooldowns started (a 429, or rate-limit headers at zero).",
                as_u64(stats.cooldowns()),
            ),
            (
                "aether_limits_fallback_admissions",
                "Admissions decided in this process because Redis did not answer (fail-open).",
                as_u64(stats.fallbacks()),
            ),
            (
                "aether_limits_redis_errors",
                "Redis calls of the limits that failed or timed out.",
                as_u64(stats.redis_errors()),
            ),
        ] {
            let family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(value).encode(family)?;
        }
        if let Some(up) = self.0.redis_up() {
            let family = encoder.encode_descriptor(
                "aether_limits_redis_up",
                "1 while the shared limits store answers, 0 while limits are decided in this process.",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(i64::from(up)).encode(family)?;
            let (mean, calls) = self.0.round_trips();
            let family = encoder.encode_descriptor(
                "aether_limits_redis_admissions",
                "Admissions answered by Redis.",
                None,
                MetricType::Counter,
            )?;
            ConstCounter::new(calls).encode(family)?;
            let family = encoder.encode_descriptor(
                "aether_limits_redis_round_trip_mean_seconds",
                "Mean time of an admission's Redis round trip.",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(mean.as_secs_f64()).encode(family)?;
        }
        Ok(())
    }
}
