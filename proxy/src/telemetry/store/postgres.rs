//! The PostgreSQL store, for teams running several instances on one database.
//!
//! Plain TCP (no TLS support is compiled in): reach the server on a trusted network or a
//! Unix socket (`postgres:///db?host=/var/run/postgresql`). A schema other than `public`
//! can be chosen with `?options=-c%20search_path%3Dname`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::StoreError;
use super::sql::{sql_store, sqlx_write};
use crate::telemetry::migrate;
use crate::telemetry::settings::TelemetrySection;

/// Usage records in PostgreSQL.
#[derive(Debug)]
pub struct PostgresStore {
    pool: sqlx::PgPool,
    instance: String,
}

/// Opens (lazily) the database at `settings.url`.
pub fn open(settings: &TelemetrySection) -> Result<PostgresStore, StoreError> {
    let options = PgConnectOptions::from_str(&settings.url)?;
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        // The writer stops draining its queue while it waits here: a database that is down
        // must fail fast, so the queue cannot fill while a retry waits on it.
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy_with(options);
    Ok(PostgresStore {
        pool,
        instance: settings.instance.clone(),
    })
}

sql_store!(
    PostgresStore,
    sqlx::Postgres,
    "postgres",
    migrate::POSTGRES,
    Some(migrate::POSTGRES_LOCK)
);

sqlx_write!(PostgresStore, sqlx::Postgres, super::sql::Placeholders::Dollar);
