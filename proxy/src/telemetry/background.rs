//! Runs the telemetry writer as a Pingora background service, so it lives on a runtime for
//! the whole life of the server and flushes on graceful shutdown.
//!
//! On the shutdown signal it waits (up to the grace period) for in-flight requests to send
//! their finished records, then flushes and stops the writer.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use super::{Telemetry, Writer};

/// How often in-flight requests are checked during shutdown.
const DRAIN_POLL: Duration = Duration::from_millis(50);

/// The writer as a background service.
#[derive(Debug)]
pub struct TelemetryService {
    telemetry: Telemetry,
    writer: Mutex<Option<Writer>>,
    grace: Duration,
}

impl TelemetryService {
    /// A service running `writer`; `grace` bounds the wait for in-flight requests.
    pub fn new(telemetry: Telemetry, writer: Writer, grace: Duration) -> Self {
        TelemetryService {
            telemetry,
            writer: Mutex::new(Some(writer)),
            grace,
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
        let deadline = tokio::time::Instant::now() + self.grace;
        while self.telemetry.in_flight() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(DRAIN_POLL).await;
        }
        self.telemetry.shutdown().await;
        let _ = task.await;
    }
}
