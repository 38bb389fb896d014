//! Runs the telemetry writer as a Pingora background service, so it lives on a runtime for
//! the whole life of the server and flushes on graceful shutdown.
//!
//! On the shutdown signal it waits (up to the grace period) for in-flight requests to send
//! their finished records, then flushes and stops the writer. When that leaves nothing in
//! flight, the server has nothing left to drain, and with [`WhenDrained::Exit`] the process
//! exits then: Pingora itself always sleeps out the whole grace period, so an idle gateway
//! would otherwise take 30 s to stop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use super::{Telemetry, Writer};

/// How often in-flight requests are checked during shutdown.
const DRAIN_POLL: Duration = Duration::from_millis(50);

/// Counts the requests the server is still serving (authenticated or not, records or not).
pub type Busy = Arc<dyn Fn() -> usize + Send + Sync>;

/// What the service does once shutdown has drained every request and flushed the writer.
#[derive(Clone)]
pub enum WhenDrained {
    /// Exit the process once `Busy` says nothing is being served (the server: nothing else
    /// is left to wait for).
    Exit(Busy),
    /// Return (an embedding that manages its own process).
    Return,
}

impl std::fmt::Debug for WhenDrained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WhenDrained::Exit(_) => "Exit",
            WhenDrained::Return => "Return",
        })
    }
}

/// The writer as a background service.
#[derive(Debug)]
pub struct TelemetryService {
    telemetry: Telemetry,
    writer: Mutex<Option<Writer>>,
    grace: Duration,
    when_drained: WhenDrained,
}

impl TelemetryService {
    /// A service running `writer`; `grace` bounds the wait for in-flight requests.
    pub fn new(telemetry: Telemetry, writer: Writer, grace: Duration, when_drained: WhenDrained) -> Self {
        TelemetryService {
            telemetry,
            writer: Mutex::new(Some(writer)),
            grace,
            when_drained,
        }
    }
}

#[async_trait]
impl BackgroundService for TelemetryService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let writer = match self.writer.lock() {
            Ok(mut w) => w.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        let Some(writer) = writer else { return };
        let task = tokio::spawn(writer.run(None));
        let _ = shutdown.changed().await;
        let busy = || {
            self.telemetry.in_flight() > 0
                || match &self.when_drained {
                    WhenDrained::Exit(requests) => requests() > 0,
                    WhenDrained::Return => false,
                }
        };
        let deadline = tokio::time::Instant::now() + self.grace;
        while busy() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(DRAIN_POLL).await;
        }
        self.telemetry.shutdown().await;
        let _ = task.await;
        if matches!(self.when_drained, WhenDrained::Exit(_)) && !busy() {
            tracing::info!("every request has finished and every record is written: exiting");
            std::process::exit(0);
        }
    }
}
