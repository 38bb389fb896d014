//! Prometheus metrics, updated by the hook as records finish, served on the admin port
//! (`GET /metrics`) in the Prometheus text format (0.0.4). The registry, the metric types, the
//! label escaping and the text encoding are the `prometheus-client` crate's.
//!
//! Label sets are bounded: `model` is a configured client-facing model or alias (else
//! `other`), `provider` a configured provider (else `none`), `status` one of `2xx`, `3xx`,
//! `4xx`, `5xx`, `cancelled`, `none`, `bucket` one of the six billing buckets. Every label
//! value is a name from the config file or a constant, so nothing a client sends (and no key)
//! can become a label.
//!
//! A (model, provider) pair gets its series in every family once, under a short lock, and
//! keeps their handles (the crate's metrics share their state when cloned): an observation is
//! one lookup by `&str`, with no allocation, then atomic adds and the histograms' short locks.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, LazyLock, OnceLock, RwLock};

use arc_swap::ArcSwap;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet, prometheus_text,
};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use super::money::NanoUsd;
use super::record::{Status, UsageRecord};

/// The `Content-Type` of [`Metrics::render`]'s text (and of anything appended to it with
/// [`encode`]).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Histogram bucket upper bounds, in milliseconds (exposed in seconds).
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

static OTHER_MODEL: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("other"));
static NO_PROVIDER: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("none"));

/// Appends the Prometheus text exposition of `registry` to `out` (for metrics kept outside
/// [`Metrics`], such as the plugins').
pub fn encode(out: &mut String, registry: &Registry) -> fmt::Result {
    prometheus_text::encode(out, registry)
}

/// The label values allowed: configured names only.
#[derive(Debug, Default, Clone)]
pub struct Labels {
    models: HashSet<Arc<str>>,
    providers: HashSet<Arc<str>>,
}

impl Labels {
    /// The allowed values: configured client-facing models (and aliases) and providers.
    pub fn new(models: impl IntoIterator<Item = String>, providers: impl IntoIterator<Item = String>) -> Labels {
        Labels {
            models: models.into_iter().map(Arc::from).collect(),
            providers: providers.into_iter().map(Arc::from).collect(),
        }
    }

    fn model(&self, m: Option<&str>) -> &Arc<str> {
        m.and_then(|m| self.models.get(m)).unwrap_or(&OTHER_MODEL)
    }

    fn provider(&self, p: Option<&str>) -> &Arc<str> {
        p.and_then(|p| self.providers.get(p)).unwrap_or(&NO_PROVIDER)
    }
}

/// The labels of the per-pair series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Pair {
    model: Arc<str>,
    provider: Arc<str>,
}

/// [`Pair`] and the response's status class.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PairStatus {
    #[prometheus(flatten)]
    pair: Pair,
    status: &'static str,
}

/// [`Pair`] and a billing bucket.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PairBucket {
    #[prometheus(flatten)]
    pair: Pair,
    bucket: &'static str,
}

/// A cost counter: nano-USD summed exactly in an integer (money is never summed in floats,
/// see [`super::money`]), exposed in USD. The crate's `Counter<f64>` would add floats.
#[derive(Debug, Clone, Default)]
struct UsdCounter(Arc<AtomicI64>);

impl UsdCounter {
    fn add(&self, cost: NanoUsd) {
        self.0.fetch_add(cost.0, Relaxed);
    }
}

impl TypedMetric for UsdCounter {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for UsdCounter {
    fn encode(&self, mut encoder: MetricEncoder) -> fmt::Result {
        let usd = self.0.load(Relaxed) as f64 / 1e9;
        encoder.encode_counter::<NoLabelSet, f64, f64>(&usd, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

fn new_histogram() -> Histogram {
    Histogram::new(BUCKETS_MS.iter().map(|ms| seconds(*ms)))
}

/// Milliseconds in seconds: the same division for the bounds and the observations, so a
/// value on a bound falls in that bound's bucket, as it did in milliseconds.
fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

type HistogramFamily = Family<Pair, Histogram, fn() -> Histogram>;

/// Why a request never authenticated (a fixed set: the error kinds before authentication).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Refusal {
    reason: &'static str,
}

/// The per-pair families, registered in this order.
#[derive(Debug, Clone)]
struct Families {
    requests: Family<PairStatus, Counter>,
    failed: Family<Pair, Counter>,
    failovers: Family<Pair, Counter>,
    unpriced: Family<Pair, Counter>,
    cut_short: Family<Pair, Counter>,
    tokens: Family<PairBucket, Counter>,
    cost: Family<Pair, UsdCounter>,
    actual_cost: Family<Pair, UsdCounter>,
    latency: HistogramFamily,
    ttfb: HistogramFamily,
    unauthenticated: Family<Refusal, Counter>,
}

impl Families {
    fn new() -> Families {
        Families {
            requests: Family::default(),
            failed: Family::default(),
            failovers: Family::default(),
            unpriced: Family::default(),
            cut_short: Family::default(),
            tokens: Family::default(),
            cost: Family::default(),
            actual_cost: Family::default(),
            latency: Family::new_with_constructor(new_histogram),
            ttfb: Family::new_with_constructor(new_histogram),
            unauthenticated: Family::default(),
        }
    }

    /// Registers every family. Counter names leave out `_total` (the encoder adds it), and
    /// help texts their final period (the registry adds it).
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "aether_requests",
            "Requests finished, by model, provider and HTTP status class",
            self.requests.clone(),
        );
        registry.register(
            "aether_request_errors",
            "Requests that failed (no upstream could answer, or it broke)",
            self.failed.clone(),
        );
        registry.register(
            "aether_failovers",
            "Upstream attempts that failed and moved on to the next candidate",
            self.failovers.clone(),
        );
        registry.register(
            "aether_unpriced_requests",
            "Requests with tokens but no price for their model",
            self.unpriced.clone(),
        );
        registry.register(
            "aether_cut_short",
            "Responses whose stream ended before its final event",
            self.cut_short.clone(),
        );
        registry.register(
            "aether_tokens",
            "Tokens by billing bucket (reasoning is part of output)",
            self.tokens.clone(),
        );
        registry.register("aether_cost_usd", "Cost at list price, USD", self.cost.clone());
        registry.register(
            "aether_actual_cost_usd",
            "Cost after provider-key multipliers, USD",
            self.actual_cost.clone(),
        );
        registry.register(
            "aether_request_duration_seconds",
            "Total request time",
            self.latency.clone(),
        );
        registry.register(
            "aether_ttfb_seconds",
            "Time to the first byte sent to the client",
            self.ttfb.clone(),
        );
        registry.register(
            "aether_unauthenticated_requests",
            "Requests that never authenticated (no usage record is written for them), by reason",
            self.unauthenticated.clone(),
        );
    }
}

/// The handles of one (model, provider) pair's series.
#[derive(Debug)]
struct Series {
    pair: Pair,
    /// Made on a status class's first request: classes never seen are not exposed.
    requests: [OnceLock<Counter>; STATUS_CLASSES.len()],
    failed: Counter,
    failovers: Counter,
    unpriced: Counter,
    cut_short: Counter,
    tokens: [Counter; BUCKET_NAMES.len()],
    cost: UsdCounter,
    actual_cost: UsdCounter,
    latency: Histogram,
    ttfb: Histogram,
}

impl Series {
    /// Creates the pair's series in every family (all but the status classes, at zero).
    fn new(families: &Families, pair: Pair) -> Series {
        Series {
            requests: std::array::from_fn(|_| OnceLock::new()),
            failed: families.failed.get_or_create_owned(&pair),
            failovers: families.failovers.get_or_create_owned(&pair),
            unpriced: families.unpriced.get_or_create_owned(&pair),
            cut_short: families.cut_short.get_or_create_owned(&pair),
            tokens: std::array::from_fn(|i| {
                families.tokens.get_or_create_owned(&PairBucket {
                    pair: pair.clone(),
                    bucket: BUCKET_NAMES[i],
                })
            }),
            cost: families.cost.get_or_create_owned(&pair),
            actual_cost: families.actual_cost.get_or_create_owned(&pair),
            latency: families.latency.get_or_create_owned(&pair),
            ttfb: families.ttfb.get_or_create_owned(&pair),
            pair,
        }
    }

    fn requests(&self, families: &Families, class: usize) -> &Counter {
        self.requests[class].get_or_init(|| {
            families.requests.get_or_create_owned(&PairStatus {
                pair: self.pair.clone(),
                status: STATUS_CLASSES[class],
            })
        })
    }
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

/// Exposes the [`HookCounters`] at each scrape. They stay plain atomics because the writer,
/// retention and [`super::Telemetry::stats`] use them too, and `in_flight` is shown clamped
/// at zero.
#[derive(Debug)]
struct HookCollector(Arc<HookCounters>);

impl Collector for HookCollector {
    /// Help texts here are written as they are shown (no registry adds a period).
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let h = &self.0;
        for (name, help, value) in [
            (
                "aether_telemetry_queue_depth",
                "Events waiting for the writer.",
                h.queue_depth.load(Relaxed) as i64,
            ),
            (
                "aether_telemetry_backlog",
                "Records held while the database is unreachable.",
                h.backlog.load(Relaxed) as i64,
            ),
            (
                "aether_requests_in_flight",
                "Requests accepted and not finished.",
                h.in_flight.load(Relaxed).max(0),
            ),
        ] {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        for (name, help, value) in [
            (
                "aether_telemetry_dropped",
                "Records dropped (queue full or hook stopped).",
                &h.dropped,
            ),
            (
                "aether_telemetry_spilled",
                "Records spilled to the JSON-lines file.",
                &h.spilled,
            ),
            ("aether_telemetry_written", "Records written to the sink.", &h.written),
            (
                "aether_telemetry_write_errors",
                "Batch writes that failed and were retried.",
                &h.write_errors,
            ),
            (
                "aether_telemetry_recovered",
                "Records left pending by a crash, marked failed.",
                &h.recovered,
            ),
            (
                "aether_telemetry_retention_deleted",
                "Records deleted by retention.",
                &h.retention_deleted,
            ),
        ] {
            let counter = ConstCounter::new(value.load(Relaxed));
            counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)?;
        }
        Ok(())
    }
}

/// Series of each (model, provider) pair, looked up by `&str` without allocating.
type SeriesMap = HashMap<Arc<str>, HashMap<Arc<str>, Arc<Series>>>;

/// The metrics registry.
#[derive(Debug)]
pub struct Metrics {
    labels: ArcSwap<Labels>,
    families: Families,
    series: RwLock<SeriesMap>,
    registry: Registry,
    /// The hook's own counters.
    pub hook: Arc<HookCounters>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new(Labels::default())
    }
}

impl Metrics {
    /// A registry allowing `labels`.
    pub fn new(labels: Labels) -> Metrics {
        let families = Families::new();
        let hook = Arc::new(HookCounters::default());
        let mut registry = Registry::default();
        families.register(&mut registry);
        registry.register_collector(Box::new(HookCollector(hook.clone())));
        Metrics {
            labels: ArcSwap::from_pointee(labels),
            families,
            series: RwLock::new(SeriesMap::new()),
            registry,
            hook,
        }
    }

    /// Counts a request that never authenticated; `reason` is its error kind.
    pub fn unauthenticated(&self, reason: &'static str) {
        self.families.unauthenticated.get_or_create(&Refusal { reason }).inc();
    }

    /// Replaces the allowed labels (after a config reload).
    pub fn set_labels(&self, labels: Labels) {
        self.labels.store(Arc::new(labels));
    }

    fn series(&self, model: &Arc<str>, provider: &Arc<str>) -> Arc<Series> {
        if let Ok(map) = self.series.read()
            && let Some(s) = map.get(&**model).and_then(|m| m.get(&**provider))
        {
            return s.clone();
        }
        let mut map = match self.series.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(model.clone())
            .or_default()
            .entry(provider.clone())
            .or_insert_with(|| {
                let pair = Pair {
                    model: model.clone(),
                    provider: provider.clone(),
                };
                Arc::new(Series::new(&self.families, pair))
            })
            .clone()
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
        s.requests(&self.families, class).inc();
        if r.status == Status::Failed {
            s.failed.inc();
        }
        let failovers = r.attempts.iter().filter(|a| a.outcome != "relayed").count();
        s.failovers.inc_by(failovers as u64);
        let u = &r.usage;
        for (counter, n) in s.tokens.iter().zip([
            u.input,
            u.output,
            u.cache_creation_5m,
            u.cache_creation_1h,
            u.cache_read,
            u.reasoning,
        ]) {
            counter.inc_by(n);
        }
        match &r.cost {
            Some(c) => {
                s.cost.add(c.total);
                s.actual_cost.add(c.actual_total);
            }
            None if !u.is_empty() => {
                s.unpriced.inc();
            }
            None => {}
        }
        if r.response_end == super::record::ResponseEnd::CutShort {
            s.cut_short.inc();
        }
        if let Some(ms) = r.total_ms {
            s.latency.observe(seconds(ms));
        }
        if let Some(ms) = r.ttfb_ms {
            s.ttfb.observe(seconds(ms));
        }
    }

    /// The Prometheus text exposition (format 0.0.4, served as [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        if encode(&mut out, &self.registry).is_err() {
            // Writing to a `String` cannot fail; only a label value's encoder could, and
            // every label here is a plain string.
            tracing::warn!("the metrics exposition could not be encoded");
        }
        out
    }
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

    /// The labels of a config with one provider, `anthropic`, serving `claude-sonnet-4-5`
    /// (and `*`, which never becomes a label) with the alias `sonnet`, plus `aliases`.
    fn labels(aliases: &[&str]) -> Labels {
        let models = ["claude-sonnet-4-5", "sonnet"]
            .iter()
            .chain(aliases)
            .map(|m| (*m).to_owned());
        Labels::new(models, ["anthropic".to_owned()])
    }

    fn finished(model: Option<&str>, provider: Option<&str>, http: Option<u16>) -> UsageRecord {
        let mut r = UsageRecord::pending("a", WireFormat::Claude, std::time::SystemTime::now());
        r.requested_model = model.map(str::to_owned);
        r.provider = provider.map(str::to_owned);
        r.status = Status::Completed;
        r.http_status = http;
        r
    }

    /// The sample lines of `name` (its series), in any order.
    fn samples<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
        text.lines()
            .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])))
            .collect()
    }

    #[test]
    fn counters_keep_their_names_with_one_total() {
        let m = Metrics::new(labels(&[]));
        m.observe(&finished(Some("sonnet"), Some("anthropic"), Some(200)));
        let text = m.render();
        for counter in [
            "aether_requests",
            "aether_request_errors",
            "aether_failovers",
            "aether_unpriced_requests",
            "aether_cut_short",
            "aether_tokens",
            "aether_cost_usd",
            "aether_actual_cost_usd",
            "aether_telemetry_dropped",
            "aether_telemetry_spilled",
            "aether_telemetry_written",
            "aether_telemetry_write_errors",
            "aether_telemetry_recovered",
            "aether_telemetry_retention_deleted",
        ] {
            assert!(
                text.contains(&format!("# TYPE {counter}_total counter\n")),
                "{counter}\n{text}"
            );
            assert!(
                !samples(&text, &format!("{counter}_total")).is_empty(),
                "{counter}\n{text}"
            );
        }
        for gauge in [
            "aether_telemetry_queue_depth",
            "aether_telemetry_backlog",
            "aether_requests_in_flight",
        ] {
            assert!(text.contains(&format!("# TYPE {gauge} gauge\n")), "{gauge}\n{text}");
            assert_eq!(samples(&text, gauge), [format!("{gauge} 0")], "{text}");
        }
        for histogram in ["aether_request_duration_seconds", "aether_ttfb_seconds"] {
            assert!(text.contains(&format!("# TYPE {histogram} histogram\n")), "{text}");
        }
        assert!(!text.contains("_total_total"), "{text}");
        assert!(
            text.contains(
                "# HELP aether_requests_total Requests finished, by model, provider and HTTP status class.\n"
            )
        );
        assert!(!text.contains(".."), "one period after each help text\n{text}");
        assert!(text.contains("aether_telemetry_dropped_total 0\n"), "{text}");
    }

    #[test]
    fn histograms_count_in_inclusive_second_buckets() {
        let m = Metrics::new(labels(&[]));
        let mut r = finished(Some("claude-sonnet-4-5"), Some("anthropic"), Some(200));
        r.ttfb_ms = Some(50);
        r.total_ms = Some(300_001);
        m.observe(&r);
        let text = m.render();
        let labels = r#"model="claude-sonnet-4-5",provider="anthropic""#;
        let ttfb = samples(&text, "aether_ttfb_seconds_bucket");
        assert_eq!(ttfb.len(), BUCKETS_MS.len() + 1, "{text}");
        for (le, n) in [("0.025", 0), ("0.05", 1), ("0.1", 1), ("1", 1), ("300", 1), ("+Inf", 1)] {
            let line = format!("aether_ttfb_seconds_bucket{{{labels},le=\"{le}\"}} {n}");
            assert!(ttfb.contains(&line.as_str()), "{line}\n{text}");
        }
        assert!(
            text.contains(&format!("aether_ttfb_seconds_sum{{{labels}}} 0.05\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("aether_ttfb_seconds_count{{{labels}}} 1\n")),
            "{text}"
        );
        // Past the last bound: only in +Inf.
        let total = samples(&text, "aether_request_duration_seconds_bucket");
        assert!(total.contains(&format!("aether_request_duration_seconds_bucket{{{labels},le=\"300\"}} 0").as_str()));
        assert!(total.contains(&format!("aether_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 1").as_str()));
    }

    #[test]
    fn labels_stay_within_the_config() {
        let m = Metrics::new(labels(&[]));
        m.observe(&finished(Some("sonnet"), Some("anthropic"), Some(404)));
        m.observe(&finished(Some("gpt-9-from-a-client"), Some("anthropic"), Some(200)));
        m.observe(&finished(None, Some("made-up-provider"), None));
        let mut cancelled = finished(Some("claude-sonnet-4-5"), None, Some(200));
        cancelled.status = Status::Cancelled;
        m.observe(&cancelled);
        let text = m.render();
        let mut requests = samples(&text, "aether_requests_total");
        requests.sort_unstable();
        assert_eq!(
            requests,
            [
                r#"aether_requests_total{model="claude-sonnet-4-5",provider="none",status="cancelled"} 1"#,
                r#"aether_requests_total{model="other",provider="anthropic",status="2xx"} 1"#,
                r#"aether_requests_total{model="other",provider="none",status="none"} 1"#,
                r#"aether_requests_total{model="sonnet",provider="anthropic",status="4xx"} 1"#,
            ],
            "only the classes seen, only configured names\n{text}"
        );
        assert!(!text.contains("gpt-9") && !text.contains("made-up"), "{text}");
        // Every pair has each bucket's token series, at zero until used.
        assert_eq!(
            samples(&text, "aether_tokens_total").len(),
            4 * BUCKET_NAMES.len(),
            "{text}"
        );
        assert!(text.contains(r#"aether_tokens_total{model="other",provider="none",bucket="cache_read"} 0"#));

        // A reload that configures the model gives it its own series from then on.
        m.set_labels(labels(&["gpt-9-from-a-client"]));
        m.observe(&finished(Some("gpt-9-from-a-client"), Some("anthropic"), Some(200)));
        assert!(
            m.render()
                .contains(r#"aether_requests_total{model="gpt-9-from-a-client",provider="anthropic",status="2xx"} 1"#)
        );
    }

    #[test]
    fn costs_in_usd_and_hook_counters_at_each_scrape() {
        let m = Metrics::new(labels(&[]));
        let mut r = finished(Some("sonnet"), Some("anthropic"), Some(200));
        r.cost = Some(crate::telemetry::Cost {
            total: NanoUsd(1_500_000_000),
            actual_total: NanoUsd(1_200_000_001),
            ..Default::default()
        });
        m.observe(&r);
        m.observe(&r);
        m.hook.dropped.fetch_add(3, Relaxed);
        m.hook.in_flight.fetch_sub(2, Relaxed);
        m.hook.backlog.store(7, Relaxed);
        let text = m.render();
        assert!(
            text.contains(r#"aether_cost_usd_total{model="sonnet",provider="anthropic"} 3.0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"aether_actual_cost_usd_total{model="sonnet",provider="anthropic"} 2.400000002"#),
            "{text}"
        );
        assert!(text.contains("aether_telemetry_dropped_total 3\n"), "{text}");
        assert!(text.contains("aether_telemetry_backlog 7\n"), "{text}");
        assert!(
            text.contains("aether_requests_in_flight 0\n"),
            "never below zero\n{text}"
        );
    }
}
