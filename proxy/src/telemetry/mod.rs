//! Telemetry: one exact usage record per request, with tokens and cost, written off the hot
//! path to SQLite (default), PostgreSQL or a JSON-lines file.
//!
//! The request path holds a [`Telemetry`] handle and calls [`Telemetry::submit`] at three
//! points — [`TelemetryEvent::Accepted`], [`TelemetryEvent::FirstByte`],
//! [`TelemetryEvent::Finished`] — with a [`UsageRecord`] it fills as it goes; a
//! [`UsageTap`] beside the relay extracts tokens from the response. `submit` never blocks
//! and never awaits: it prices a finished record from the catalogue ([`pricing`]) when the
//! request path has not, counts it in the [`metrics`], and `try_send`s it to a bounded
//! queue; a full queue drops the record and counts it (logged at most once a second).
//!
//! The [`writer`] task batches, collapses and writes (see there for retries, the backlog and
//! the spill file); [`retention`] deletes old records in small batches; [`migrate`] keeps
//! the schema; [`query`] reads usage back for `aether usage` and the admin API.

pub mod background;
pub mod batch;
pub mod bodies;
pub mod clock;
pub mod metrics;
pub mod migrate;
pub mod money;
pub mod pricing;
pub mod query;
pub mod record;
pub mod retention;
pub mod settings;
pub mod store;
pub mod usage;
pub mod writer;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

pub use metrics::{Labels, Metrics};
pub use pricing::{Pricing, PricingError};
pub use query::{GroupBy, SummaryQuery, SummaryRow};
pub use record::{AttemptTrace, Bodies, Cost, RecordError, ResponseEnd, Status, Usage, UsageRecord};
pub use settings::{SinkKind, StoreBodies, TelemetrySection};
pub use store::{Store, StoreError};
pub use usage::UsageTap;
pub use writer::Writer;

use writer::Msg;

/// What telemetry is built from: its own `[telemetry]` section, the pricing (the `[pricing]`
/// section with the provider keys' multipliers) and the label values its metrics allow.
/// The config module compiles these from the file (`config::telemetry_inputs`); telemetry
/// never reads the whole file.
#[derive(Debug)]
pub struct TelemetryInputs {
    /// `[telemetry]`.
    pub settings: TelemetrySection,
    /// Prices and multipliers.
    pub pricing: Arc<Pricing>,
    /// The configured models and providers, the only label values metrics use.
    pub labels: Labels,
}

/// Why telemetry could not start or answer.
#[derive(Debug, Error)]
pub enum TelemetryError {
    /// The price catalogue or a multiplier is invalid.
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// The store failed.
    #[error("telemetry store: {0}")]
    Store(#[from] StoreError),
    /// The `[telemetry]` section is invalid.
    #[error("telemetry.{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The writer is not running (shut down, or failed to start).
    #[error("the telemetry writer is not running")]
    Stopped,
    /// The store is not open yet, or the sink is off.
    #[error("no queryable telemetry store (sink off, or not started)")]
    NoStore,
}

/// A point in a request's life, handed to the hook.
#[derive(Debug, Clone)]
pub enum TelemetryEvent {
    /// The request was accepted (record status [`Status::Pending`]). Send it as soon as the
    /// request id exists (after reading the head): a crash then leaves a pending row that
    /// the next start marks failed.
    Accepted(Box<UsageRecord>),
    /// The first byte of the answer reached the client.
    FirstByte {
        /// The request.
        request_id: String,
        /// Milliseconds from the start of the request.
        ttfb_ms: u64,
    },
    /// The request ended: [`Status::Completed`], [`Status::Failed`] or
    /// [`Status::Cancelled`]. Carries everything (usage, attempts, timings, `ttfb_ms`
    /// again); the hook prices it if `cost` is `None`. Send exactly one per request, after
    /// its `Accepted` (the pair drives the in-flight count graceful shutdown waits on).
    Finished(Box<UsageRecord>),
}

/// What [`Telemetry::flush`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushOutcome {
    /// Everything submitted before the flush is in the store or the spill file.
    Durable,
    /// The store is unreachable; this many requests are held in memory for a retry.
    Held(usize),
}

/// Counters of the hook, for tests and the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct TelemetryStats {
    /// Records dropped (queue full, or submitted after shutdown).
    pub dropped: u64,
    /// Records spilled to the JSON-lines file.
    pub spilled: u64,
    /// Records written to the store.
    pub written: u64,
    /// Failed batch writes (retried).
    pub write_errors: u64,
    /// Records marked failed by crash recovery and the stale sweep.
    pub recovered: u64,
    /// Rows deleted by retention.
    pub retention_deleted: u64,
    /// Events in the queue now.
    pub queue_depth: u64,
    /// Requests held by the writer while the store is down.
    pub backlog: u64,
}

#[derive(Debug)]
struct Inner {
    tx: mpsc::Sender<Msg>,
    capacity: usize,
    settings: TelemetrySection,
    pricing: ArcSwap<Pricing>,
    metrics: Arc<Metrics>,
    store: Arc<OnceLock<Arc<dyn Store>>>,
    closed: AtomicBool,
    last_drop_log_ms: AtomicI64,
    /// The second (Unix) of the last unauthenticated-request warning.
    unauthenticated_logged: AtomicI64,
}

/// The telemetry hook: cheap to clone, shared by every request.
#[derive(Debug, Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

impl Telemetry {
    /// Builds the hook from its inputs, and the [`Writer`] that must be run (on a runtime
    /// that lives as long as the gateway, e.g. by [`background::TelemetryService`]) for records
    /// to be written. Needs no runtime; opens nothing yet.
    pub fn new(inputs: TelemetryInputs) -> Result<(Telemetry, Writer), TelemetryError> {
        let TelemetryInputs {
            settings,
            pricing,
            labels,
        } = inputs;
        if let Some((field, message)) = settings.problems().into_iter().next() {
            return Err(TelemetryError::Invalid { field, message });
        }
        let metrics = Arc::new(Metrics::new(labels));
        let (tx, rx) = mpsc::channel(settings.queue_capacity);
        let store = Arc::new(OnceLock::new());
        let writer = Writer::new(rx, settings.clone(), metrics.clone(), store.clone());
        let telemetry = Telemetry {
            inner: Arc::new(Inner {
                tx,
                capacity: settings.queue_capacity,
                settings,
                pricing: ArcSwap::new(pricing),
                metrics,
                store,
                closed: AtomicBool::new(false),
                last_drop_log_ms: AtomicI64::new(0),
                unauthenticated_logged: AtomicI64::new(0),
            }),
        };
        Ok((telemetry, writer))
    }

    /// Builds the hook, spawns its writer on the current runtime, and waits until the store
    /// is open, migrated and recovered. An unreachable database is not an error (records
    /// are held, retried and spilled); a bad URL or a failing migration is.
    pub async fn start(inputs: TelemetryInputs) -> Result<Telemetry, TelemetryError> {
        let (telemetry, writer) = Telemetry::new(inputs)?;
        let (ready_tx, ready_rx) = oneshot::channel();
        tokio::spawn(writer.run(Some(ready_tx)));
        match ready_rx.await {
            Ok(Ok(())) => Ok(telemetry),
            Ok(Err(e)) => {
                telemetry.inner.closed.store(true, Relaxed);
                Err(e)
            }
            Err(_) => Err(TelemetryError::Stopped),
        }
    }

    /// Hands an event to the writer. Never blocks, never awaits; a full queue (or a hook
    /// that has shut down) drops the event and counts it.
    pub fn submit(&self, event: TelemetryEvent) {
        let hook = &self.inner.metrics.hook;
        let event = match event {
            TelemetryEvent::Accepted(r) => {
                hook.in_flight.fetch_add(1, Relaxed);
                TelemetryEvent::Accepted(r)
            }
            TelemetryEvent::Finished(mut r) => {
                hook.in_flight.fetch_sub(1, Relaxed);
                if r.cost.is_none() {
                    r.cost = self.inner.pricing.load().price(&r);
                }
                if r.finished_at_ms.is_none() {
                    r.finished_at_ms = Some(clock::now_ms());
                }
                self.inner.metrics.observe(&r);
                TelemetryEvent::Finished(r)
            }
            first_byte => first_byte,
        };
        if self.inner.closed.load(Relaxed) {
            self.dropped("the telemetry hook has shut down");
            return;
        }
        match self.inner.tx.try_send(Msg::Event(event)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.dropped("the telemetry queue is full"),
            Err(mpsc::error::TrySendError::Closed(_)) => self.dropped("the telemetry writer is not running"),
        }
    }

    fn dropped(&self, why: &str) {
        let total = self.inner.metrics.hook.dropped.fetch_add(1, Relaxed) + 1;
        let now = clock::now_ms();
        let last = self.inner.last_drop_log_ms.load(Relaxed);
        if now - last >= 1000
            && self
                .inner
                .last_drop_log_ms
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
        {
            tracing::warn!(dropped_total = total, "usage record dropped: {why}");
        }
    }

    /// Writes everything submitted so far (test and admin use); reports whether it is durable.
    pub async fn flush(&self) -> Result<FlushOutcome, TelemetryError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Msg::Flush(tx))
            .await
            .map_err(|_| TelemetryError::Stopped)?;
        rx.await.map_err(|_| TelemetryError::Stopped)
    }

    /// Stops accepting events, writes everything queued (spilling what the store will not
    /// take), and waits for the writer to stop. Idempotent.
    pub async fn shutdown(&self) {
        if self.inner.closed.swap(true, Relaxed) {
            return;
        }
        let (tx, rx) = oneshot::channel();
        if self.inner.tx.send(Msg::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Requests accepted and not finished (what a graceful shutdown waits for).
    pub fn in_flight(&self) -> i64 {
        self.inner.metrics.hook.in_flight.load(Relaxed).max(0)
    }

    /// Applies a reloaded config's prices, multipliers and metric labels (the sink settings
    /// need a restart).
    pub fn reconfigure(&self, pricing: Arc<Pricing>, labels: Labels) {
        self.inner.pricing.store(pricing);
        self.inner.metrics.set_labels(labels);
    }

    /// The current pricing (for the request path to price a record itself).
    pub fn pricing(&self) -> Arc<Pricing> {
        self.inner.pricing.load_full()
    }

    /// Whether records keep (truncated, redacted) bodies.
    pub fn stores_bodies(&self) -> bool {
        self.inner.settings.store_bodies != StoreBodies::Off
    }

    /// A body for a record, per `[telemetry] store_bodies`: `None` when bodies are off, else
    /// truncated to `body_limit_bytes` with secrets redacted.
    pub fn capture_body(&self, body: &[u8], secrets: &bodies::Redactor) -> Option<String> {
        match self.inner.settings.store_bodies {
            StoreBodies::Off => None,
            StoreBodies::Truncated => Some(bodies::capture(body, self.inner.settings.body_limit_bytes, secrets)),
        }
    }

    /// The hook's counters.
    pub fn stats(&self) -> TelemetryStats {
        let h = &self.inner.metrics.hook;
        TelemetryStats {
            dropped: h.dropped.load(Relaxed),
            spilled: h.spilled.load(Relaxed),
            written: h.written.load(Relaxed),
            write_errors: h.write_errors.load(Relaxed),
            recovered: h.recovered.load(Relaxed),
            retention_deleted: h.retention_deleted.load(Relaxed),
            queue_depth: self.queue_depth(),
            backlog: h.backlog.load(Relaxed),
        }
    }

    fn queue_depth(&self) -> u64 {
        self.inner.capacity.saturating_sub(self.inner.tx.capacity()) as u64
    }

    /// Counts a request that never authenticated (unknown path, no key, a wrong key): no
    /// usage record, a counter by `reason`, and a warning at most once a second (a scan
    /// or a misconfigured client would otherwise fill the log).
    pub fn unauthenticated(&self, reason: &'static str) {
        self.inner.metrics.unauthenticated(reason);
        let now = clock::now_ms() / 1000;
        let last = self.inner.unauthenticated_logged.swap(now, Relaxed);
        if last != now {
            tracing::warn!(
                reason,
                "request refused before authentication (counted in aether_unauthenticated_requests_total; warned at most once a second)"
            );
        }
    }

    /// Prometheus text for `GET /metrics`.
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.hook.queue_depth.store(self.queue_depth(), Relaxed);
        self.inner.metrics.render()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    fn store(&self) -> Result<&Arc<dyn Store>, TelemetryError> {
        self.inner.store.get().ok_or(TelemetryError::NoStore)
    }

    /// Usage summary from the store.
    pub async fn summary(&self, query: &SummaryQuery) -> Result<Vec<SummaryRow>, TelemetryError> {
        Ok(self.store()?.summary(query).await?)
    }

    /// One request's record from the store.
    pub async fn record(&self, request_id: &str) -> Result<Option<UsageRecord>, TelemetryError> {
        Ok(self.store()?.record(request_id).await?)
    }
}
