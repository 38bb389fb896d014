//! Sinks for usage records, behind one trait: SQLite ([`sqlite`], the default), PostgreSQL
//! ([`postgres`]) and a JSON-lines file ([`jsonl`]).
//!
//! The database stores upsert records by `request_id` (one transaction per batch) and never
//! let a later non-final state overwrite a final one, so replays, retries and spill imports
//! are idempotent. The SQL is shared between the two databases ([`sql`]); connecting,
//! migration locking and the batch write differ: PostgreSQL writes multi-row upserts
//! through sqlx, SQLite binds each record in place through its C API ([`sqlite_write`]).

pub mod jsonl;
pub mod postgres;
pub mod sql;
pub mod sqlite;
pub mod sqlite_write;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;

use super::clock::UnixMillis;
use super::query::{SummaryQuery, SummaryRow};
use super::record::UsageRecord;
use super::settings::{SinkKind, TelemetrySection};

/// A store operation that failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database could not be reached (connection refused, timed out, pool closed): worth
    /// retrying.
    #[error("database unreachable: {0}")]
    Unreachable(#[source] sqlx::Error),
    /// The database answered with an error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// SQLite answered a batch write with an error.
    #[error("database error: {0}")]
    Sqlite(#[source] sqlite_write::SqliteError),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A stored row could not be read back.
    #[error("corrupt row {request_id}: {message}")]
    Corrupt {
        /// The row.
        request_id: String,
        /// What is wrong.
        message: String,
    },
    /// The sink cannot answer this (the JSON-lines sink has no queries).
    #[error("the {0} sink cannot be queried; use the sqlite or postgres sink")]
    Unsupported(&'static str),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unreachable(e),
            other => StoreError::Database(other),
        }
    }
}

impl StoreError {
    /// Whether retrying later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unreachable(_) | StoreError::Io { .. } => true,
            StoreError::Sqlite(e) => e.is_transient(),
            // SQLite "database is locked" / PostgreSQL serialization and connection errors.
            StoreError::Database(sqlx::Error::Database(db)) => {
                let code = db.code().unwrap_or_default();
                code.starts_with("08")
                    || code.starts_with("40")
                    || code.starts_with("57P")
                    || code == "5"
                    || code == "6"
            }
            _ => false,
        }
    }
}

/// A first byte seen for a request whose record was written in an earlier batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstByteUpdate {
    /// The request.
    pub request_id: String,
    /// Time to first byte.
    pub ttfb_ms: u64,
}

/// What a write carries: whole records to upsert and first-byte marks.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    /// Records (at most one per request).
    pub records: Vec<UsageRecord>,
    /// First-byte marks for requests not in `records`.
    pub first_bytes: Vec<FirstByteUpdate>,
}

impl WriteBatch {
    /// Records plus marks.
    pub fn len(&self) -> usize {
        self.records.len() + self.first_bytes.len()
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A sink for usage records.
#[async_trait]
pub trait Store: Send + Sync + Debug {
    /// `sqlite`, `postgres` or `jsonl`.
    fn kind(&self) -> &'static str;

    /// Applies pending migrations; returns the versions applied now.
    async fn migrate(&self) -> Result<Vec<u32>, StoreError>;

    /// Writes one batch in one transaction.
    async fn write(&self, batch: &WriteBatch) -> Result<(), StoreError>;

    /// Marks failed the records left pending or streaming: those of `instance` that started
    /// before `instance_before`, and those of any instance that started before
    /// `any_before`. Returns how many.
    async fn recover(
        &self,
        instance: &str,
        instance_before: UnixMillis,
        any_before: UnixMillis,
    ) -> Result<u64, StoreError>;

    /// Deletes at most `limit` records that started before `cutoff`; returns how many.
    async fn delete_older_than(&self, cutoff: UnixMillis, limit: u32) -> Result<u64, StoreError>;

    /// Usage summary.
    async fn summary(&self, query: &SummaryQuery) -> Result<Vec<SummaryRow>, StoreError>;

    /// One request's record, attempts included.
    async fn record(&self, request_id: &str) -> Result<Option<UsageRecord>, StoreError>;

    /// Closes connections.
    async fn close(&self);
}

/// Opens the sink configured in `[telemetry]` (`None` for `sink = "off"`). Must run inside a
/// Tokio runtime; connects lazily, so an unreachable database is not an error here.
pub fn open(settings: &TelemetrySection) -> Result<Option<Arc<dyn Store>>, StoreError> {
    Ok(match settings.sink {
        SinkKind::Sqlite => Some(Arc::new(sqlite::open(settings)?)),
        SinkKind::Postgres => Some(Arc::new(postgres::open(settings)?)),
        SinkKind::Jsonl => Some(Arc::new(jsonl::JsonlStore::new(&settings.jsonl_path))),
        SinkKind::Off => None,
    })
}
