//! The SQLite store (the default): one file, WAL journal, 16 KiB pages, created with its
//! directory on first start.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::StoreError;
use super::sql::sql_store;
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

sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    "sqlite",
    super::sql::Placeholders::Question,
    migrate::SQLITE,
    None
);

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
