//! Database migrations, embedded in the binary.
//!
//! `migrations/sqlite/` and `migrations/postgres/` hold the same versions under the same
//! names (`NNNN_name.sql`; a test checks both directories against each other and against
//! these lists). Each pending migration runs in its own transaction together with its row
//! in `aether_migrations (version, name, applied_at_ms)`; PostgreSQL first takes a
//! transaction-scoped advisory lock so instances starting together do not race. They run at
//! start ([`super::Telemetry::start`]) and alone with `aether migrate`.

use thiserror::Error;

use super::settings::TelemetrySection;
use super::store::{self, StoreError};

/// One migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Version (the file's number).
    pub version: u32,
    /// Name (the file's name without number and extension).
    pub name: &'static str,
    /// The SQL (one or more statements).
    pub sql: &'static str,
}

/// SQLite migrations.
pub const SQLITE: &[Migration] = &[Migration {
    version: 1,
    name: "usage_records",
    sql: include_str!("../../../migrations/sqlite/0001_usage_records.sql"),
}];

/// PostgreSQL migrations.
pub const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    name: "usage_records",
    sql: include_str!("../../../migrations/postgres/0001_usage_records.sql"),
}];

/// The lock PostgreSQL takes in each migration transaction.
pub const POSTGRES_LOCK: &str = "SELECT pg_advisory_xact_lock(4242424201)";

/// Why migrating failed.
#[derive(Debug, Error)]
pub enum MigrateError {
    /// The sink could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configured sink has no migrations.
    #[error("telemetry sink {0:?} has no database to migrate")]
    NoDatabase(&'static str),
}

/// Runs the migrations of the configured database; returns the sink kind and the versions
/// applied now.
pub async fn run(settings: &TelemetrySection) -> Result<(&'static str, Vec<u32>), MigrateError> {
    let Some(store) = store::open(settings)? else {
        return Err(MigrateError::NoDatabase("off"));
    };
    if store.kind() == "jsonl" {
        return Err(MigrateError::NoDatabase("jsonl"));
    }
    let applied = store.migrate().await;
    store.close().await;
    Ok((store.kind(), applied?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &str) -> Vec<String> {
        let path = format!("{}/../migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        names.sort();
        names
    }

    fn listed(list: &[Migration]) -> Vec<String> {
        list.iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect()
    }

    #[test]
    fn sqlite_and_postgres_have_the_same_migrations() {
        assert_eq!(files("sqlite"), files("postgres"));
        assert_eq!(files("sqlite"), listed(SQLITE));
        assert_eq!(files("postgres"), listed(POSTGRES));
        for list in [SQLITE, POSTGRES] {
            assert!(list.windows(2).all(|w| w[0].version < w[1].version));
        }
    }
}
