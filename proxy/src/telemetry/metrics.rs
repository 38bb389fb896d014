//! Prometheus metrics, updated by the hook as records finish, served as text exposition on
//! the admin port (`GET /metrics`).
//!
//! Label sets are bounded: `model` is a configured client-facing model or alias (else
//! `other`), `provider` a configured provider (else `none`), `status` one of `2xx`, `3xx`,
//! `4xx`, `5xx`, `cancelled`, `none`. Everything else is a counter, a gauge or a fixed-bucket
//! histogram of atomics; a series is created once per label pair, under a short lock.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;

use super::money::NanoUsd;
use super::record::{Status, UsageRecord};

/// Histogram bucket upper bounds, in milliseconds.
const BUCKETS_MS: [u64; 14] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000,
];

const STATUS_CLASSES: [&str; 6] = ["2xx", "3xx", "4xx", "5xx", "cancelled", "none"];
const BUCKET_NAMES: [&str; 6] = [
    "input",
    "output",
    "cache_creation_5m",
    "cache_creation_1h",
    "cache_read",
    "reasoning",
];

/// The label values allowed: configured names only.
#[derive(Debug, Default, Clone)]
pub struct Labels {
    models: HashSet<String>,
    providers: HashSet<String>,
}

impl Labels {
    /// The allowed values: configured client-facing models (and aliases) and providers.
    pub fn new(models: impl IntoIterator<Item = String>, providers: impl IntoIterator<Item = String>) -> Labels {
        Labels {
            models: models.into_iter().collect(),
            providers: providers.into_iter().collect(),
        }
    }

    fn model<'a>(&self, m: Option<&'a str>) -> &'a str {
        match m {
            Some(m) if self.models.contains(m) => m,
            _ => "other",
        }
    }

    fn provider<'a>(&self, p: Option<&'a str>) -> &'a str {
        match p {
            Some(p) if self.providers.contains(p) => p,
            _ => "none",
        }
    }
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS_MS.len()],
    count: AtomicU64,
    sum_ms: AtomicU64,
}

impl Histogram {
    fn observe(&self, ms: u64) {
        if let Some(i) = BUCKETS_MS.iter().position(|b| ms <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_ms.fetch_add(ms, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS_MS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels},le=\"{}\"}} {cumulative}",
                *bound as f64 / 1000.0
            );
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum{{{labels}}} {}",
            self.sum_ms.load(Relaxed) as f64 / 1000.0
        );
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// Reads one counter of a series.
type SeriesValue = fn(&Series) -> u64;

/// Counters of one (model, provider) pair.
#[derive(Debug, Default)]
struct Series {
    requests: [AtomicU64; STATUS_CLASSES.len()],
    failed: AtomicU64,
    failovers: AtomicU64,
    tokens: [AtomicU64; BUCKET_NAMES.len()],
    cost_nano: AtomicI64,
    actual_cost_nano: AtomicI64,
    unpriced: AtomicU64,
    cut_short: AtomicU64,
    latency: Histogram,
    ttfb: Histogram,
}

/// Counters of the hook itself.
#[derive(Debug, Default)]
pub struct HookCounters {
    /// Events dropped because the queue was full or the hook shut down.
    pub dropped: AtomicU64,
    /// Records written to the spill file because the database was unreachable.
    pub spilled: AtomicU64,
    /// Records (rows) written to the sink.
    pub written: AtomicU64,
    /// Batches that failed to write (and were retried).
    pub write_errors: AtomicU64,
    /// Records marked failed by crash recovery and the stale sweep.
    pub recovered: AtomicU64,
    /// Rows deleted by retention.
    pub retention_deleted: AtomicU64,
    /// Events in the queue (updated by the writer).
    pub queue_depth: AtomicU64,
    /// Records held by the writer while the database is unreachable.
    pub backlog: AtomicU64,
    /// Requests accepted and not yet finished.
    pub in_flight: AtomicI64,
}

/// The metrics registry.
#[derive(Debug, Default)]
pub struct Metrics {
    labels: ArcSwap<Labels>,
    series: RwLock<BTreeMap<(String, String), Arc<Series>>>,
    /// The hook's own counters.
    pub hook: HookCounters,
}

impl Metrics {
    /// A registry allowing `labels`.
    pub fn new(labels: Labels) -> Metrics {
        Metrics {
            labels: ArcSwap::from_pointee(labels),
            ..Metrics::default()
        }
    }

    /// Replaces the allowed labels (after a config reload).
    pub fn set_labels(&self, labels: Labels) {
        self.labels.store(Arc::new(labels));
    }

    fn series(&self, model: &str, provider: &str) -> Arc<Series> {
        let key = (model.to_owned(), provider.to_owned());
        if let Ok(map) = self.series.read()
            && let Some(s) = map.get(&key)
        {
            return s.clone();
        }
        match self.series.write() {
            Ok(mut map) => map.entry(key).or_default().clone(),
            Err(poisoned) => poisoned.into_inner().entry(key).or_default().clone(),
        }
    }

    /// Counts a finished record.
    pub fn observe(&self, r: &UsageRecord) {
        let labels = self.labels.load();
        let s = self.series(
            labels.model(r.requested_model.as_deref()),
            labels.provider(r.provider.as_deref()),
        );
        let class = match (r.status, r.http_status) {
            (Status::Cancelled, _) => 4,
            (_, Some(200..=299)) => 0,
            (_, Some(300..=399)) => 1,
            (_, Some(400..=499)) => 2,
            (_, Some(500..=599)) => 3,
            _ => 5,
        };
        s.requests[class].fetch_add(1, Relaxed);
        if r.status == Status::Failed {
            s.failed.fetch_add(1, Relaxed);
        }
        let failovers = r.attempts.iter().filter(|a| a.outcome != "relayed").count();
        s.failovers.fetch_add(failovers as u64, Relaxed);
        let u = &r.usage;
        for (slot, n) in s.tokens.iter().zip([
            u.input,
            u.output,
            u.cache_creation_5m,
            u.cache_creation_1h,
            u.cache_read,
            u.reasoning,
        ]) {
            slot.fetch_add(n, Relaxed);
        }
        match &r.cost {
            Some(c) => {
                s.cost_nano.fetch_add(c.total.0, Relaxed);
                s.actual_cost_nano.fetch_add(c.actual_total.0, Relaxed);
            }
            None if !u.is_empty() => {
                s.unpriced.fetch_add(1, Relaxed);
            }
            None => {}
        }
        if r.response_end == super::record::ResponseEnd::CutShort {
            s.cut_short.fetch_add(1, Relaxed);
        }
        if let Some(ms) = r.total_ms {
            s.latency.observe(ms);
        }
        if let Some(ms) = r.ttfb_ms {
            s.ttfb.observe(ms);
        }
    }

    /// Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let series: Vec<((String, String), Arc<Series>)> = match self.series.read() {
            Ok(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(_) => Vec::new(),
        };
        let mut out = String::with_capacity(4096 + series.len() * 4096);
        let label = |(m, p): &(String, String)| format!("model=\"{}\",provider=\"{}\"", escape(m), escape(p));

        header(
            &mut out,
            "aether_requests_total",
            "counter",
            "Requests finished, by model, provider and HTTP status class.",
        );
        for (k, s) in &series {
            for (i, class) in STATUS_CLASSES.iter().enumerate() {
                let n = s.requests[i].load(Relaxed);
                if n > 0 {
                    let _ = writeln!(out, "aether_requests_total{{{},status=\"{class}\"}} {n}", label(k));
                }
            }
        }
        let simple: [(&str, &str, SeriesValue); 4] = [
            (
                "aether_request_errors_total",
                "Requests that failed (no upstream could answer, or it broke).",
                |s| s.failed.load(Relaxed),
            ),
            (
                "aether_failovers_total",
                "Upstream attempts that failed and moved on to the next candidate.",
                |s| s.failovers.load(Relaxed),
            ),
            (
                "aether_unpriced_requests_total",
                "Requests with tokens but no price for their model.",
                |s| s.unpriced.load(Relaxed),
            ),
            (
                "aether_cut_short_total",
                "Responses whose stream ended before its final event.",
                |s| s.cut_short.load(Relaxed),
            ),
        ];
        for (name, help, get) in simple {
            header(&mut out, name, "counter", help);
            for (k, s) in &series {
                let _ = writeln!(out, "{name}{{{}}} {}", label(k), get(s));
            }
        }
        header(
            &mut out,
            "aether_tokens_total",
            "counter",
            "Tokens by billing bucket (reasoning is part of output).",
        );
        for (k, s) in &series {
            for (i, bucket) in BUCKET_NAMES.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "aether_tokens_total{{{},bucket=\"{bucket}\"}} {}",
                    label(k),
                    s.tokens[i].load(Relaxed)
                );
            }
        }
        for (name, help, actual) in [
            ("aether_cost_usd_total", "Cost at list price, USD.", false),
            (
                "aether_actual_cost_usd_total",
                "Cost after provider-key multipliers, USD.",
                true,
            ),
        ] {
            header(&mut out, name, "counter", help);
            for (k, s) in &series {
                let nano = if actual { &s.actual_cost_nano } else { &s.cost_nano };
                let _ = writeln!(
                    out,
                    "{name}{{{}}} {}",
                    label(k),
                    NanoUsd(nano.load(Relaxed)).to_usd_string()
                );
            }
        }
        header(
            &mut out,
            "aether_request_duration_seconds",
            "histogram",
            "Total request time.",
        );
        for (k, s) in &series {
            s.latency.render(&mut out, "aether_request_duration_seconds", &label(k));
        }
        header(
            &mut out,
            "aether_ttfb_seconds",
            "histogram",
            "Time to the first byte sent to the client.",
        );
        for (k, s) in &series {
            s.ttfb.render(&mut out, "aether_ttfb_seconds", &label(k));
        }
        let h = &self.hook;
        for (name, kind, help, value) in [
            (
                "aether_telemetry_queue_depth",
                "gauge",
                "Events waiting for the writer.",
                h.queue_depth.load(Relaxed) as i64,
            ),
            (
                "aether_telemetry_backlog",
                "gauge",
                "Records held while the database is unreachable.",
                h.backlog.load(Relaxed) as i64,
            ),
            (
                "aether_requests_in_flight",
                "gauge",
                "Requests accepted and not finished.",
                h.in_flight.load(Relaxed).max(0),
            ),
            (
                "aether_telemetry_dropped_total",
                "counter",
                "Records dropped (queue full or hook stopped).",
                h.dropped.load(Relaxed) as i64,
            ),
            (
                "aether_telemetry_spilled_total",
                "counter",
                "Records spilled to the JSON-lines file.",
                h.spilled.load(Relaxed) as i64,
            ),
            (
                "aether_telemetry_written_total",
                "counter",
                "Records written to the sink.",
                h.written.load(Relaxed) as i64,
            ),
            (
                "aether_telemetry_write_errors_total",
                "counter",
                "Batch writes that failed and were retried.",
                h.write_errors.load(Relaxed) as i64,
            ),
            (
                "aether_telemetry_recovered_total",
                "counter",
                "Records left pending by a crash, marked failed.",
                h.recovered.load(Relaxed) as i64,
            ),
            (
                "aether_telemetry_retention_deleted_total",
                "counter",
                "Records deleted by retention.",
                h.retention_deleted.load(Relaxed) as i64,
            ),
        ] {
            header(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::WireFormat;
    use crate::telemetry::record::{AttemptTrace, Usage};

    #[test]
    fn renders_bounded_labels() {
        let m = Metrics::new(Labels::new(["claude-sonnet-4-5".to_owned()], ["anthropic".to_owned()]));
        let mut r = UsageRecord::pending("a", WireFormat::Claude, std::time::SystemTime::now());
        r.requested_model = Some("claude-sonnet-4-5".into());
        r.provider = Some("anthropic".into());
        r.status = Status::Completed;
        r.http_status = Some(200);
        r.total_ms = Some(120);
        r.ttfb_ms = Some(40);
        r.usage = Usage {
            input: 10,
            output: 5,
            ..Usage::default()
        };
        r.attempts = vec![
            AttemptTrace {
                provider: "anthropic".into(),
                key: "a".into(),
                upstream_model: "x".into(),
                outcome: "status".into(),
                status: Some(529),
                latency_ms: 3,
            },
            AttemptTrace {
                provider: "anthropic".into(),
                key: "b".into(),
                upstream_model: "x".into(),
                outcome: "relayed".into(),
                status: Some(200),
                latency_ms: 3,
            },
        ];
        m.observe(&r);
        r.requested_model = Some("attacker-chosen-name".into());
        m.observe(&r);
        let text = m.render();
        assert!(
            text.contains(r#"aether_requests_total{model="claude-sonnet-4-5",provider="anthropic",status="2xx"} 1"#)
        );
        assert!(text.contains(r#"aether_requests_total{model="other",provider="anthropic",status="2xx"} 1"#));
        assert!(!text.contains("attacker"));
        assert!(text.contains(r#"aether_failovers_total{model="other",provider="anthropic"} 1"#));
        assert!(
            text.contains(r#"aether_ttfb_seconds_bucket{model="claude-sonnet-4-5",provider="anthropic",le="0.05"} 1"#)
        );
        assert!(text.contains(r#"aether_unpriced_requests_total{model="claude-sonnet-4-5",provider="anthropic"} 1"#));
    }
}
