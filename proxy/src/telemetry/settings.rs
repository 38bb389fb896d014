//! `[telemetry]` in `aether.toml`: where usage records go and how the writer behaves. Every
//! field is documented in `conf/aether.toml`.

use std::time::Duration;

use serde::Deserialize;

/// Where records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SinkKind {
    /// SQLite at `url` (the default).
    #[default]
    Sqlite,
    /// PostgreSQL at `url`.
    Postgres,
    /// One JSON object per finished request, appended to `jsonl_path`.
    Jsonl,
    /// No records (the metrics still count).
    Off,
}

/// Whether request and response bodies are kept in records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum StoreBodies {
    /// Never (the default).
    #[default]
    Off,
    /// The first `body_limit_bytes` of each, with secrets redacted.
    Truncated,
}

/// `[telemetry]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySection {
    /// The sink.
    pub sink: SinkKind,
    /// Database URL for `sqlite` / `postgres` (`sqlite://data/aether.db` by default; the file
    /// and its directory are created on first start).
    pub url: String,
    /// File for the `jsonl` sink.
    pub jsonl_path: String,
    /// Where records go when the database stays unreachable.
    pub spill_path: String,
    /// Events the queue between the request path and the writer holds; when full, records
    /// are dropped and counted, never waited for.
    pub queue_capacity: usize,
    /// Largest batch written in one transaction.
    pub batch_max: usize,
    /// Longest an event waits before its batch is written, in milliseconds.
    pub flush_interval_ms: u64,
    /// Records held in memory while the database is unreachable.
    pub backlog_max: usize,
    /// How long the database may stay unreachable before the backlog is spilled to
    /// `spill_path`, in seconds.
    pub spill_after_secs: u64,
    /// Delete records older than this many days (0 = keep forever).
    pub retention_days: u32,
    /// Rows deleted per statement by retention.
    pub retention_batch: u32,
    /// Seconds between retention runs.
    pub retention_interval_secs: u64,
    /// This instance's name: at start, its records left pending or streaming (by a crash)
    /// are marked failed. Give every instance sharing one database its own name.
    pub instance: String,
    /// Records of any instance still pending or streaming after this many seconds are marked
    /// failed by a periodic sweep (longer than any provider's `total_ms`).
    pub stale_after_secs: u64,
    /// Database connections.
    pub max_connections: u32,
    /// Keep request and response bodies.
    pub store_bodies: StoreBodies,
    /// Bytes kept of each body when `store_bodies = "truncated"`.
    pub body_limit_bytes: usize,
}

impl Default for TelemetrySection {
    fn default() -> Self {
        TelemetrySection {
            sink: SinkKind::Sqlite,
            url: "sqlite://data/aether.db".into(),
            jsonl_path: "data/usage.jsonl".into(),
            spill_path: "data/usage-spill.jsonl".into(),
            queue_capacity: 65_536,
            batch_max: 2000,
            flush_interval_ms: 200,
            backlog_max: 100_000,
            spill_after_secs: 30,
            retention_days: 365,
            retention_batch: 1000,
            retention_interval_secs: 3600,
            instance: "default".into(),
            stale_after_secs: 3600,
            max_connections: 4,
            store_bodies: StoreBodies::Off,
            body_limit_bytes: 16 * 1024,
        }
    }
}

impl TelemetrySection {
    /// The flush interval.
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms.max(1))
    }

    /// Problems with this section, as `(field, message)` (the config's validation reports
    /// them under `telemetry.`).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        match self.sink {
            SinkKind::Sqlite if !self.url.starts_with("sqlite:") => {
                out.push(("url", "the sqlite sink needs a sqlite:// URL".to_owned()));
            }
            SinkKind::Postgres if !(self.url.starts_with("postgres://") || self.url.starts_with("postgresql://")) => {
                out.push(("url", "the postgres sink needs a postgres:// URL".to_owned()));
            }
            SinkKind::Jsonl if self.jsonl_path.is_empty() => out.push(("jsonl_path", "must not be empty".into())),
            _ => {}
        }
        for (field, value) in [
            ("queue_capacity", self.queue_capacity),
            ("batch_max", self.batch_max),
            ("backlog_max", self.backlog_max),
            ("max_connections", self.max_connections as usize),
            ("retention_batch", self.retention_batch as usize),
        ] {
            if value == 0 {
                out.push((field, "must be greater than 0".into()));
            }
        }
        if self.spill_path.is_empty() {
            out.push(("spill_path", "must not be empty".into()));
        }
        if self.instance.is_empty() {
            out.push(("instance", "must not be empty".into()));
        }
        out
    }
}
