//! The background writer: drains the hook's queue, collapses events per request
//! ([`super::batch`]), and writes batches (up to `batch_max` requests, or whatever arrived
//! within `flush_interval_ms`) in one transaction each.
//!
//! When the store fails, the batch goes back into the backlog and the writer retries with
//! exponential backoff (100 ms doubling to 5 s) while it keeps draining the queue, so the
//! request path never notices. Once the store has been down for `spill_after_secs`, or the
//! backlog reaches `backlog_max`, the backlog is appended to the spill file (JSON lines) and
//! counted; the spill file is imported at the next start that finds the database reachable.
//! On shutdown the queue is drained, written (a few quick tries) and, failing that, spilled.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::batch::Backlog;
use super::clock;
use super::metrics::Metrics;
use super::retention;
use super::settings::TelemetrySection;
use super::store::{Store, StoreError, WriteBatch, jsonl};
use super::{FlushOutcome, TelemetryError, TelemetryEvent};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const SHUTDOWN_TRIES: u32 = 3;
/// How often the queue is drained while a batch is being written.
const DRAIN_DURING_WRITE: Duration = Duration::from_millis(20);

/// A message to the writer.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A record event.
    Event(TelemetryEvent),
    /// Write everything queued so far now, then answer.
    Flush(oneshot::Sender<FlushOutcome>),
    /// Write everything (or spill it) and stop.
    Shutdown(oneshot::Sender<()>),
}

enum Next {
    Msg(Msg),
    Closed,
    Timer,
}

/// Whether the schema is known to be in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    Migrated,
    NotYet,
}

/// Whether to wait for the retry time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Urgency {
    Scheduled,
    Now,
}

#[derive(Debug, Clone, Copy)]
struct Down {
    since: Instant,
    backoff: Duration,
    next_retry: Instant,
}

/// The writer task's state. Created by [`super::Telemetry::new`]; run it with
/// [`Writer::run`] on a runtime that lives as long as the gateway.
#[derive(Debug)]
pub struct Writer {
    rx: mpsc::Receiver<Msg>,
    store: Option<Arc<dyn Store>>,
    settings: TelemetrySection,
    metrics: Arc<Metrics>,
    store_slot: Arc<std::sync::OnceLock<Arc<dyn Store>>>,
    backlog: Backlog,
    oldest: Option<Instant>,
    schema: Schema,
    down: Option<Down>,
    stashed: Option<Msg>,
    started_ms: clock::UnixMillis,
}

impl Writer {
    pub(crate) fn new(
        rx: mpsc::Receiver<Msg>,
        settings: TelemetrySection,
        metrics: Arc<Metrics>,
        store_slot: Arc<std::sync::OnceLock<Arc<dyn Store>>>,
    ) -> Writer {
        Writer {
            rx,
            store: None,
            settings,
            metrics,
            store_slot,
            backlog: Backlog::default(),
            oldest: None,
            schema: Schema::NotYet,
            down: None,
            stashed: None,
            started_ms: clock::now_ms(),
        }
    }

    /// Runs the writer until shutdown. Opens the store, migrates it and marks records left
    /// pending by a crash failed, then writes. `ready` (if any) gets the start-up outcome; a
    /// fatal start-up error (bad URL, a migration the database rejects) then ends the writer,
    /// while without `ready` it is logged and records are spilled instead.
    pub async fn run(mut self, ready: Option<oneshot::Sender<Result<(), TelemetryError>>>) {
        let prepared = self.prepare().await;
        let fatal = prepared.is_err() && ready.is_some();
        if let Err(e) = &prepared {
            tracing::error!("telemetry: {e}");
        }
        if let Some(ready) = ready {
            let _ = ready.send(prepared);
        }
        if fatal {
            return;
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let maintenance = self.store.clone().map(|store| {
            tokio::spawn(retention::run(
                store,
                self.settings.clone(),
                self.metrics.clone(),
                stop_rx,
            ))
        });
        self.serve().await;
        let _ = stop_tx.send(true);
        if let Some(task) = maintenance {
            let _ = task.await;
        }
        if let Some(store) = &self.store {
            store.close().await;
        }
    }

    async fn prepare(&mut self) -> Result<(), TelemetryError> {
        let store = super::store::open(&self.settings).map_err(TelemetryError::Store)?;
        let Some(store) = store else { return Ok(()) };
        let _ = self.store_slot.set(store.clone());
        self.store = Some(store);
        match self.migrate_and_recover().await {
            Ok(()) => Ok(()),
            Err(e) if e.is_transient() => {
                tracing::warn!("telemetry: database not reachable at start, records are held and retried: {e}");
                self.mark_down();
                Ok(())
            }
            Err(e) => {
                self.mark_down();
                Err(TelemetryError::Store(e))
            }
        }
    }

    async fn migrate_and_recover(&mut self) -> Result<(), StoreError> {
        let Some(store) = self.store.clone() else { return Ok(()) };
        let applied = store.migrate().await?;
        if !applied.is_empty() {
            tracing::info!(sink = store.kind(), versions = ?applied, "telemetry: migrations applied");
        }
        let stale_before = clock::now_ms() - i64::try_from(self.settings.stale_after_secs * 1000).unwrap_or(0);
        let recovered = store
            .recover(&self.settings.instance, self.started_ms, stale_before)
            .await?;
        if recovered > 0 {
            tracing::warn!(
                recovered,
                "telemetry: records left pending by a previous run marked failed"
            );
            self.metrics.hook.recovered.fetch_add(recovered, Relaxed);
        }
        self.schema = Schema::Migrated;
        self.import_spill(&store).await;
        Ok(())
    }

    /// Replays a spill file left by an earlier outage, then renames it.
    async fn import_spill(&mut self, store: &Arc<dyn Store>) {
        if store.kind() == "jsonl" {
            return;
        }
        let path = std::path::PathBuf::from(&self.settings.spill_path);
        if !path.is_file() {
            return;
        }
        let read = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || jsonl::read(&path)).await
        };
        let (records, bad) = match read {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::error!(path = %path.display(), "telemetry: cannot read the spill file: {e}");
                return;
            }
            Err(_) => return,
        };
        let count = records.len();
        for chunk in records.chunks(self.settings.batch_max.max(1)) {
            let mut backlog = Backlog::default();
            for r in chunk {
                backlog.record(Box::new(r.clone()));
            }
            let batch = backlog.take(usize::MAX);
            if let Err(e) = store.write(&batch).await {
                tracing::error!(path = %path.display(), "telemetry: spill import failed, kept for the next start: {e}");
                return;
            }
        }
        let done = path.with_extension(format!("imported-{}.jsonl", clock::now_ms()));
        if let Err(e) = std::fs::rename(&path, &done) {
            tracing::error!(path = %path.display(), "telemetry: imported the spill file but cannot rename it: {e}");
        }
        tracing::info!(count, bad, from = %path.display(), "telemetry: spilled records imported");
    }

    async fn serve(&mut self) {
        loop {
            let next = match (self.stashed.take(), self.next_wake()) {
                (Some(m), _) => Next::Msg(m),
                // Records are waiting: sleep until they are due without listening to the
                // queue, so that senders do not wake this task (a cross-thread wake-up per
                // request, measured at a tenth of the gateway's CPU on streams), then take
                // everything queued at once. While the store is down, keep draining every
                // flush interval so the queue never fills: the backlog and spill hold it.
                (None, Some(wake)) => {
                    sleep_until(Some(wake.min(Instant::now() + self.settings.flush_interval()))).await;
                    Next::Timer
                }
                (None, None) => self.rx.recv().await.map_or(Next::Closed, Next::Msg),
            };
            match next {
                Next::Msg(Msg::Event(e)) => {
                    self.add(e);
                    self.drain_events();
                }
                Next::Msg(Msg::Flush(reply)) => {
                    self.drain_events();
                    let outcome = self.write(Urgency::Now).await;
                    let _ = reply.send(outcome);
                    continue;
                }
                Next::Msg(Msg::Shutdown(reply)) => {
                    self.finish().await;
                    let _ = reply.send(());
                    return;
                }
                Next::Closed => {
                    self.finish().await;
                    return;
                }
                Next::Timer => self.drain_events(),
            }
            if self.due() {
                self.write(Urgency::Scheduled).await;
            } else if self.down.is_some() && self.backlog.len() >= self.settings.backlog_max {
                self.spill().await;
            }
            self.metrics.hook.backlog.store(self.backlog.len() as u64, Relaxed);
        }
    }

    fn add(&mut self, event: TelemetryEvent) {
        if self.backlog.is_empty() {
            self.oldest = Some(Instant::now());
        }
        match event {
            TelemetryEvent::Accepted(r) | TelemetryEvent::Finished(r) => self.backlog.record(r),
            TelemetryEvent::FirstByte { request_id, ttfb_ms } => self.backlog.first_byte(request_id, ttfb_ms),
        }
    }

    /// Takes everything already queued (at most one queue's worth), without waiting; the
    /// write then goes out in batches of `batch_max`.
    fn drain_events(&mut self) {
        for _ in 0..self.settings.queue_capacity {
            match self.rx.try_recv() {
                Ok(Msg::Event(e)) => self.add(e),
                Ok(other) => {
                    self.stashed = Some(other);
                    return;
                }
                Err(_) => return,
            }
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        if self.backlog.is_empty() {
            return None;
        }
        match self.down {
            Some(d) => Some(d.next_retry),
            None => self.oldest.map(|t| t + self.settings.flush_interval()),
        }
    }

    fn due(&self) -> bool {
        if self.backlog.is_empty() {
            return false;
        }
        let now = Instant::now();
        match self.down {
            Some(d) => now >= d.next_retry,
            None => {
                self.backlog.len() >= self.settings.batch_max
                    || self.oldest.is_some_and(|t| now >= t + self.settings.flush_interval())
            }
        }
    }

    async fn write(&mut self, urgency: Urgency) -> FlushOutcome {
        let Some(store) = self.store.clone() else {
            // sink = "off": the metrics counted the records; nothing to keep.
            self.backlog.take(usize::MAX);
            self.oldest = None;
            return FlushOutcome::Durable;
        };
        if urgency == Urgency::Scheduled && self.down.is_some_and(|d| Instant::now() < d.next_retry) {
            return FlushOutcome::Held(self.backlog.len());
        }
        if self.schema == Schema::NotYet
            && let Err(e) = self.migrate_and_recover().await
        {
            self.metrics.hook.write_errors.fetch_add(1, Relaxed);
            self.note_failure(&e);
            self.maybe_spill().await;
            return self.outcome();
        }
        while !self.backlog.is_empty() {
            let batch = self.backlog.take(self.settings.batch_max);
            let (result, drained) = self.write_while_draining(store.as_ref(), &batch).await;
            let failed = match result {
                Ok(()) => {
                    self.metrics.hook.written.fetch_add(batch.records.len() as u64, Relaxed);
                    if self.down.take().is_some() {
                        tracing::info!("telemetry: database reachable again, writing the backlog");
                    }
                    false
                }
                Err(e) => {
                    self.metrics.hook.write_errors.fetch_add(1, Relaxed);
                    self.backlog.put_back(batch);
                    self.note_failure(&e);
                    true
                }
            };
            // After the batch (and its put-back), so collapsing keeps each request's order.
            for event in drained {
                self.add(event);
            }
            if failed {
                break;
            }
        }
        self.oldest = (!self.backlog.is_empty()).then(Instant::now);
        self.maybe_spill().await;
        self.outcome()
    }

    /// Writes `batch` while still taking events off the queue (every `DRAIN_DURING_WRITE`,
    /// with `try_recv`, so senders do not wake the writer per event), so a slow or
    /// unreachable database never lets the queue fill: what arrives meanwhile is returned,
    /// to be added to the backlog once the batch's fate is known. A flush or shutdown
    /// request that arrives meanwhile is stashed for the main loop.
    async fn write_while_draining(
        &mut self,
        store: &dyn Store,
        batch: &WriteBatch,
    ) -> (Result<(), StoreError>, Vec<TelemetryEvent>) {
        let mut drained = Vec::new();
        let write = store.write(batch);
        tokio::pin!(write);
        let mut tick = tokio::time::interval(DRAIN_DURING_WRITE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.reset();
        loop {
            tokio::select! {
                biased;
                result = &mut write => return (result, drained),
                _ = tick.tick() => {
                    while self.stashed.is_none() {
                        match self.rx.try_recv() {
                            Ok(Msg::Event(event)) => drained.push(event),
                            Ok(other) => self.stashed = Some(other),
                            Err(_) => break,
                        }
                    }
                }
            }
        }
    }

    fn outcome(&self) -> FlushOutcome {
        self.metrics.hook.backlog.store(self.backlog.len() as u64, Relaxed);
        if self.backlog.is_empty() {
            FlushOutcome::Durable
        } else {
            FlushOutcome::Held(self.backlog.len())
        }
    }

    fn note_failure(&mut self, e: &StoreError) {
        if self.down.is_none() {
            tracing::error!("telemetry: writing usage records failed, holding them and retrying: {e}");
        } else {
            tracing::debug!("telemetry: retry failed: {e}");
        }
        self.mark_down();
    }

    fn mark_down(&mut self) {
        let now = Instant::now();
        self.down = Some(match self.down {
            Some(d) => {
                let backoff = (d.backoff * 2).min(MAX_BACKOFF);
                Down {
                    since: d.since,
                    backoff,
                    next_retry: now + backoff,
                }
            }
            None => Down {
                since: now,
                backoff: FIRST_BACKOFF,
                next_retry: now + FIRST_BACKOFF,
            },
        });
    }

    async fn maybe_spill(&mut self) {
        let Some(d) = self.down else { return };
        let spill_after = Duration::from_secs(self.settings.spill_after_secs);
        if self.backlog.len() >= self.settings.backlog_max || d.since.elapsed() >= spill_after {
            self.spill().await;
        }
    }

    async fn spill(&mut self) {
        let (records, _marks) = self.backlog.drain_records();
        self.oldest = None;
        let n = records.len() as u64;
        if n == 0 {
            return;
        }
        let path = std::path::PathBuf::from(&self.settings.spill_path);
        match jsonl::append(&path, records).await {
            Ok(()) => {
                self.metrics.hook.spilled.fetch_add(n, Relaxed);
                tracing::warn!(records = n, path = %path.display(), "telemetry: database unreachable, records spilled to file");
            }
            Err(e) => {
                self.metrics.hook.dropped.fetch_add(n, Relaxed);
                tracing::error!(records = n, "telemetry: cannot spill records, they are lost: {e}");
            }
        }
    }

    /// Shutdown: take everything queued, write it with a few quick tries, spill the rest.
    async fn finish(&mut self) {
        self.rx.close();
        while let Some(msg) = self.stashed.take().or_else(|| self.rx.try_recv().ok()) {
            match msg {
                Msg::Event(e) => self.add(e),
                Msg::Flush(reply) => {
                    let _ = reply.send(FlushOutcome::Held(self.backlog.len()));
                }
                Msg::Shutdown(reply) => {
                    let _ = reply.send(());
                }
            }
        }
        for attempt in 0..SHUTDOWN_TRIES {
            if self.store.is_none() || self.backlog.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(FIRST_BACKOFF * 2u32.pow(attempt)).await;
            }
            self.write(Urgency::Now).await;
        }
        if !self.backlog.is_empty() {
            self.spill().await;
        }
        self.metrics.hook.backlog.store(0, Relaxed);
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
