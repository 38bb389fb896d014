//! Periodic maintenance beside the writer: retention and the stale-record sweep.
//!
//! - **Retention** (`retention_days` > 0): records that started before the cutoff are
//!   deleted `retention_batch` rows per statement, each statement its own short
//!   transaction, with a pause between statements, until none are left; never one long
//!   transaction that would hold locks against the writer.
//! - **Stale sweep**: records of any instance still pending or streaming after
//!   `stale_after_secs` are marked failed (their instance died without restarting).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::sync::watch;

use super::clock;
use super::metrics::Metrics;
use super::settings::TelemetrySection;
use super::store::{Store, StoreError};

/// Pause between two delete statements.
pub const PAUSE: Duration = Duration::from_millis(100);
/// Delay before the first run after start.
const FIRST_RUN: Duration = Duration::from_secs(60);

/// Deletes every record that started before `cutoff`, `batch` rows at a time with `pause`
/// between statements; returns how many were deleted. Stops early when `stop` turns true.
pub async fn purge(
    store: &dyn Store,
    cutoff: clock::UnixMillis,
    batch: u32,
    pause: Duration,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let n = store.delete_older_than(cutoff, batch).await?;
        total += n;
        if n < u64::from(batch) || stop.is_some_and(|s| *s.borrow()) {
            return Ok(total);
        }
        tokio::time::sleep(pause).await;
    }
}

/// Runs retention and the stale sweep every `retention_interval_secs` until `stop`.
pub async fn run(
    store: Arc<dyn Store>,
    settings: TelemetrySection,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let interval = Duration::from_secs(settings.retention_interval_secs.max(1));
    let mut wait = FIRST_RUN.min(interval);
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        wait = interval;
        let now = clock::now_ms();
        let stale_before = now - i64::try_from(settings.stale_after_secs * 1000).unwrap_or(0);
        match store.recover(&settings.instance, i64::MIN, stale_before).await {
            Ok(n) if n > 0 => {
                metrics.hook.recovered.fetch_add(n, Relaxed);
                tracing::warn!(records = n, "telemetry: stale pending records marked failed");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("telemetry: stale sweep failed: {e}"),
        }
        if settings.retention_days == 0 {
            continue;
        }
        let cutoff = now - i64::from(settings.retention_days) * 86_400_000;
        match purge(&*store, cutoff, settings.retention_batch, PAUSE, Some(&stop)).await {
            Ok(n) => {
                metrics.hook.retention_deleted.fetch_add(n, Relaxed);
                if n > 0 {
                    tracing::info!(deleted = n, days = settings.retention_days, "telemetry: retention");
                }
            }
            Err(e) => tracing::warn!("telemetry: retention failed: {e}"),
        }
    }
}
