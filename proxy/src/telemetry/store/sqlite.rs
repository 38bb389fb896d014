//! The SQLite store (the default): one file, WAL journal, 16 KiB pages, created with its
//! directory on first start.
//!
//! sqlx opens the connections and runs the migrations and queries; a batch of records is
//! written through SQLite's C API on one of those connections ([`super::sqlite_write`]):
//! one `BEGIN IMMEDIATE` transaction, one prepared single-row upsert run for each record
//! with its values bound in place, then the first-byte updates. The write is synchronous:
//! it holds the writer's own thread (a Pingora background service's runtime, never the
//! data plane's) for the few milliseconds a batch takes, as sqlx's worker thread would.

use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::sql::{self, Placeholders, Val, sql_store};
use super::sqlite_write::{Afterwards, Connection};
use super::{StoreError, WriteBatch};
use crate::telemetry::clock;
use crate::telemetry::migrate;
use crate::telemetry::settings::TelemetrySection;

/// Usage records in SQLite.
#[derive(Debug)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
    instance: String,
}

/// The file a `sqlite:` URL names (`None` for in-memory databases).
pub fn file_of(url: &str) -> Option<&str> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Opens (lazily) the database at `settings.url`, creating its directory.
pub fn open(settings: &TelemetrySection) -> Result<SqliteStore, StoreError> {
    if let Some(file) = file_of(&settings.url)
        && let Some(dir) = std::path::Path::new(file).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let options = SqliteConnectOptions::from_str(&settings.url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        // Fewer, larger WAL frames per batch: 10-15 % less of SQLite's CPU per record
        // (benches/telemetry_store.rs). Applies to a database created from now on; SQLite
        // cannot change the page size of an existing one in WAL mode.
        .page_size(16384)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options);
    Ok(SqliteStore {
        pool,
        instance: settings.instance.clone(),
    })
}

/// The upsert of one record. Multi-row statements run fewer instructions per record (SQLite
/// opens the table's and its indexes' cursors once per run), but took 10-15 % more CPU
/// time per record in `benches/telemetry_store.rs`: 16 rows' values are bound before the
/// first is inserted, and the statement's program is 16 times larger.
static UPSERT: LazyLock<String> = LazyLock::new(|| sql::upsert_statement(1, Placeholders::Question).into_owned());

/// The first-byte update (ttfb, now, request id).
static FIRST_BYTE: LazyLock<String> = LazyLock::new(|| {
    let [a, b, c, d] = sql::FIRST_BYTE_SQL;
    format!("{a}?{b}?{c}?{d}")
});

impl SqliteStore {
    /// Writes a batch that is not empty in one transaction; see the module docs.
    async fn write_batch(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let now = clock::now_ms();
        let attempts: Vec<String> = batch.records.iter().map(sql::attempts_json).collect();
        let mut conn = self.pool.acquire().await?;
        let written = {
            let mut locked = conn.lock_handle().await?;
            Connection::new(&mut locked).transaction(|db| {
                let mut upsert = db.prepare(&UPSERT)?;
                for (record, attempts) in batch.records.iter().zip(&attempts) {
                    upsert.run(&sql::row_values(record, &self.instance, now, attempts))?;
                }
                drop(upsert);
                if !batch.first_bytes.is_empty() {
                    let mut first_byte = db.prepare(&FIRST_BYTE)?;
                    for fb in &batch.first_bytes {
                        let ttfb = i64::try_from(fb.ttfb_ms).unwrap_or(i64::MAX);
                        first_byte.run(&[Val::Int(ttfb), Val::Int(now), Val::Text(&fb.request_id)])?;
                    }
                }
                Ok(())
            })
        };
        written.map_err(|(error, afterwards)| {
            if afterwards == Afterwards::Discard {
                conn.close_on_drop();
            }
            StoreError::Sqlite(error)
        })
    }
}

sql_store!(SqliteStore, sqlx::Sqlite, "sqlite", migrate::SQLITE, None);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_files() {
        assert_eq!(file_of("sqlite://data/aether.db"), Some("data/aether.db"));
        assert_eq!(file_of("sqlite:///tmp/a.db?mode=rwc"), Some("/tmp/a.db"));
        assert_eq!(file_of("sqlite::memory:"), None);
    }
}
