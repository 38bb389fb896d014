//! The PostgreSQL store, for teams running several instances on one database.
//!
//! Plain TCP (no TLS support is compiled in): reach the server on a trusted network or a
//! Unix socket (`postgres:///db?host=/var/run/postgresql`). A schema other than `public`
//! can be chosen with `?options=-c%20search_path%3Dname`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Arguments as _;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};

use super::sql::{self, Placeholders, Val, sql_store};
use super::{StoreError, WriteBatch};
use crate::telemetry::clock;
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

impl PostgresStore {
    /// Writes a batch that is not empty in one transaction: the multi-row upserts of
    /// [`sql::statement_rows`]' shapes, then the first-byte updates.
    async fn write_batch(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let now = clock::now_ms();
        let attempts: Vec<String> = batch.records.iter().map(sql::attempts_json).collect();
        let mut tx = self.pool.begin().await?;
        let mut start = 0;
        for rows in sql::statement_rows(batch.records.len()) {
            let range = start..start + rows;
            start += rows;
            let (chunk, attempts) = (&batch.records[range.clone()], &attempts[range]);
            let statement = sql::upsert_statement(rows, Placeholders::Dollar);
            let mut args = PgArguments::default();
            // One allocation for the chunk's values: grown by doubling instead, the
            // vector is reallocated a dozen times per statement.
            args.reserve(chunk.len() * sql::COLUMNS.len(), 0);
            for (record, attempts) in chunk.iter().zip(attempts) {
                for v in sql::row_values(record, &self.instance, now, attempts) {
                    match v {
                        Val::Int(n) => args.add(n),
                        Val::OptInt(n) => args.add(n),
                        Val::Text(s) => args.add(s),
                        Val::OptText(s) => args.add(s),
                        Val::Bool(b) => args.add(b),
                    }
                    .map_err(|e| StoreError::from(sqlx::Error::Encode(e)))?;
                }
            }
            sqlx::query_with(&statement, args).execute(&mut *tx).await?;
        }
        for fb in &batch.first_bytes {
            let [a, b, c, d] = sql::FIRST_BYTE_SQL;
            let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(a);
            q.push_bind(i64::try_from(fb.ttfb_ms).unwrap_or(i64::MAX))
                .push(b)
                .push_bind(now)
                .push(c)
                .push_bind(fb.request_id.as_str())
                .push(d);
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
