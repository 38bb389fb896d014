//! The SQL shared by the SQLite and PostgreSQL stores: the column list, a record's row
//! values, the multi-row upsert, crash recovery, batched retention, the summary and the
//! trace query, and migrations with a small versioned table of our own.
//!
//! The two databases accept the same statements here (`ON CONFLICT … DO UPDATE … WHERE`,
//! `excluded.`, `CAST(SUM(…) AS BIGINT)`, `DELETE … WHERE request_id IN (SELECT … LIMIT n)`);
//! placeholders come from `sqlx::QueryBuilder`. The implementation is written once as a
//! macro over the concrete database type, since sqlx's generic bounds do not compose well.

use super::super::clock::UnixMillis;
use super::super::money::{Multiplier, NanoUsd, PricePerMTok};
use super::super::record::{
    AttemptTrace, Bodies, Cost, RecordError, ResponseEnd, Status, UnitPrices, Usage, UsageRecord,
};
use super::StoreError;
use crate::format::{ALL_FORMATS, WireFormat};

/// Rows per INSERT statement, a power of two (11,520 bind parameters: under both databases'
/// limits, 32,766 and 65,535).
pub const ROWS_PER_STATEMENT: usize = 256;

/// How many statement shapes a batch is written with: `ROWS_PER_STATEMENT` rows and each
/// smaller power of two.
const SHAPES: usize = ROWS_PER_STATEMENT.trailing_zeros() as usize + 1;

/// The row counts of the statements that write a batch of `n` records: full statements,
/// then the rest in descending powers of two (a batch of 1,337 is written as 5 × 256, 32, 16,
/// 8 and 1). Every statement thus has one of a few shapes, each prepared once per
/// connection and then taken from the driver's statement cache. A last statement sized to
/// the remainder would be a new statement of up to 255 rows for nearly every batch, since
/// batches are whatever arrived within a flush interval: SQLite parsing and compiling
/// thousands of placeholders each time cost more than the rows it inserted.
pub fn statement_rows(n: usize) -> impl Iterator<Item = usize> {
    let rest = n % ROWS_PER_STATEMENT;
    std::iter::repeat_n(ROWS_PER_STATEMENT, n / ROWS_PER_STATEMENT).chain(
        (0..SHAPES)
            .rev()
            .map(|bit| 1 << bit)
            .filter(move |rows| rest & rows != 0),
    )
}

/// The table's columns, in the order of [`row_values`].
pub const COLUMNS: [&str; 45] = [
    "request_id",
    "instance",
    "started_at_ms",
    "finished_at_ms",
    "updated_at_ms",
    "client_key",
    "client_format",
    "upstream_format",
    "requested_model",
    "upstream_model",
    "provider",
    "provider_key",
    "stream",
    "status",
    "http_status",
    "error_class",
    "error_message",
    "ttfb_ms",
    "total_ms",
    "response_end",
    "input_tokens",
    "output_tokens",
    "cache_creation_5m_tokens",
    "cache_creation_1h_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
    "cost_input_nusd",
    "cost_output_nusd",
    "cost_cache_write_5m_nusd",
    "cost_cache_write_1h_nusd",
    "cost_cache_read_nusd",
    "cost_request_nusd",
    "cost_total_nusd",
    "actual_cost_total_nusd",
    "cost_multiplier_ppm",
    "price_input",
    "price_output",
    "price_cache_write_5m",
    "price_cache_write_1h",
    "price_cache_read",
    "price_request_nusd",
    "attempt_count",
    "attempts",
    "request_body",
    "response_body",
];

/// One bound value, borrowed from the record it belongs to: binding a row copies each
/// text once (into the driver's arguments), never into an intermediate value first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val<'a> {
    /// Integer.
    Int(i64),
    /// Nullable integer.
    OptInt(Option<i64>),
    /// Text.
    Text(&'a str),
    /// Nullable text.
    OptText(Option<&'a str>),
    /// Boolean.
    Bool(bool),
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A record's `attempts` column: its candidates as a JSON array.
pub fn attempts_json(r: &UsageRecord) -> String {
    serde_json::to_string(&r.attempts).unwrap_or_else(|_| "[]".into())
}

/// A record's values, in [`COLUMNS`] order; `attempts` is [`attempts_json`] of the record.
pub fn row_values<'a>(r: &'a UsageRecord, instance: &'a str, now: UnixMillis, attempts: &'a str) -> [Val<'a>; 45] {
    use Val::*;
    let c = r.cost.as_ref();
    let cost = |f: fn(&Cost) -> NanoUsd| OptInt(c.map(|c| f(c).0));
    let price = |f: fn(&UnitPrices) -> PricePerMTok| OptInt(c.map(|c| int(f(&c.prices).0)));
    let bodies = r.bodies.as_ref();
    [
        Text(&r.request_id),
        Text(instance),
        Int(r.started_at_ms),
        OptInt(r.finished_at_ms),
        Int(now),
        OptText(r.client_key.as_deref()),
        Text(r.client_format.as_str()),
        OptText(r.upstream_format.map(|f| f.as_str())),
        OptText(r.requested_model.as_deref()),
        OptText(r.upstream_model.as_deref()),
        OptText(r.provider.as_deref()),
        OptText(r.provider_key.as_deref()),
        Bool(r.stream),
        Text(r.status.as_str()),
        OptInt(r.http_status.map(i64::from)),
        OptText(r.error.as_ref().map(|e| e.class.as_str())),
        OptText(r.error.as_ref().map(|e| e.message.as_str())),
        OptInt(r.ttfb_ms.map(int)),
        OptInt(r.total_ms.map(int)),
        Text(r.response_end.as_str()),
        Int(int(r.usage.input)),
        Int(int(r.usage.output)),
        Int(int(r.usage.cache_creation_5m)),
        Int(int(r.usage.cache_creation_1h)),
        Int(int(r.usage.cache_read)),
        Int(int(r.usage.reasoning)),
        cost(|c| c.input),
        cost(|c| c.output),
        cost(|c| c.cache_write_5m),
        cost(|c| c.cache_write_1h),
        cost(|c| c.cache_read),
        cost(|c| c.request),
        cost(|c| c.total),
        cost(|c| c.actual_total),
        OptInt(c.map(|c| i64::from(c.multiplier.0))),
        price(|p| p.input),
        price(|p| p.output),
        price(|p| p.cache_write_5m),
        price(|p| p.cache_write_1h),
        price(|p| p.cache_read),
        OptInt(c.map(|c| c.prices.per_request.0)),
        Int(int(r.attempts.len() as u64)),
        Text(attempts),
        OptText(bodies.and_then(|b| b.request.as_deref())),
        OptText(bodies.and_then(|b| b.response.as_deref())),
    ]
}

/// How a database spells bind parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    /// `?` (SQLite).
    Question,
    /// `$1`, `$2`, … (PostgreSQL).
    Dollar,
}

/// The multi-row upsert for `rows` records. The statements of [`statement_rows`]' shapes
/// are built once per process and shared; any other row count builds its own.
pub fn upsert_statement(rows: usize, style: Placeholders) -> std::borrow::Cow<'static, str> {
    type Built = [std::sync::OnceLock<String>; SHAPES];
    static BUILT: [Built; 2] = [
        [const { std::sync::OnceLock::new() }; SHAPES],
        [const { std::sync::OnceLock::new() }; SHAPES],
    ];
    if !rows.is_power_of_two() || rows > ROWS_PER_STATEMENT {
        return build_upsert(rows, style).into();
    }
    let built = match style {
        Placeholders::Question => &BUILT[0],
        Placeholders::Dollar => &BUILT[1],
    };
    built[rows.trailing_zeros() as usize]
        .get_or_init(|| build_upsert(rows, style))
        .as_str()
        .into()
}

fn build_upsert(rows: usize, style: Placeholders) -> String {
    use std::fmt::Write as _;
    let sets: Vec<String> = COLUMNS[1..].iter().map(|c| format!("{c} = excluded.{c}")).collect();
    let mut sql = format!("INSERT INTO usage_records ({}) VALUES ", COLUMNS.join(", "));
    let mut n = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..COLUMNS.len() {
            if col > 0 {
                sql.push_str(", ");
            }
            n += 1;
            match style {
                Placeholders::Question => sql.push('?'),
                Placeholders::Dollar => {
                    let _ = write!(sql, "${n}");
                }
            }
        }
        sql.push(')');
    }
    // Update every column, unless the stored row is already final. A row that crash
    // recovery marked failed stays writable: during a graceful upgrade the new process's
    // recovery may mark requests the old process is still finishing, and their real record
    // must win.
    let _ = write!(
        sql,
        " ON CONFLICT (request_id) DO UPDATE SET {} WHERE usage_records.status IN ('pending', 'streaming') \
         OR usage_records.error_class = '{RECOVERED_CLASS}'",
        sets.join(", ")
    );
    sql
}

/// Marks a pending record streaming (placeholders in the order ttfb, now, request id).
pub const FIRST_BYTE_SQL: [&str; 4] = [
    "UPDATE usage_records SET status = 'streaming', ttfb_ms = ",
    ", updated_at_ms = ",
    " WHERE request_id = ",
    " AND status = 'pending'",
];

/// Crash recovery: the error class set on recovered records.
pub const RECOVERED_CLASS: &str = "interrupted";
/// Crash recovery: the message.
pub const RECOVERED_MESSAGE: &str = "the gateway stopped before the request finished";

/// Parses a stored wire format.
pub fn parse_format(s: &str) -> Option<WireFormat> {
    ALL_FORMATS.into_iter().find(|f| f.as_str() == s)
}

/// The plain fields of a stored row, decoded by the backend.
#[derive(Debug, Default)]
pub struct RawRow {
    /// Column values by name, as read.
    pub request_id: String,
    /// See [`COLUMNS`].
    pub started_at_ms: i64,
    /// See [`COLUMNS`].
    pub finished_at_ms: Option<i64>,
    /// See [`COLUMNS`].
    pub client_key: Option<String>,
    /// See [`COLUMNS`].
    pub client_format: String,
    /// See [`COLUMNS`].
    pub upstream_format: Option<String>,
    /// See [`COLUMNS`].
    pub requested_model: Option<String>,
    /// See [`COLUMNS`].
    pub upstream_model: Option<String>,
    /// See [`COLUMNS`].
    pub provider: Option<String>,
    /// See [`COLUMNS`].
    pub provider_key: Option<String>,
    /// See [`COLUMNS`].
    pub stream: bool,
    /// See [`COLUMNS`].
    pub status: String,
    /// See [`COLUMNS`].
    pub http_status: Option<i64>,
    /// See [`COLUMNS`].
    pub error_class: Option<String>,
    /// See [`COLUMNS`].
    pub error_message: Option<String>,
    /// See [`COLUMNS`].
    pub ttfb_ms: Option<i64>,
    /// See [`COLUMNS`].
    pub total_ms: Option<i64>,
    /// See [`COLUMNS`].
    pub response_end: String,
    /// Token columns in bucket order.
    pub tokens: [i64; 6],
    /// Cost columns: input, output, 5m, 1h, read, request, total, actual, multiplier.
    pub costs: [Option<i64>; 9],
    /// Price columns: input, output, 5m, 1h, read, request.
    pub prices: [Option<i64>; 6],
    /// See [`COLUMNS`].
    pub attempts: String,
    /// See [`COLUMNS`].
    pub request_body: Option<String>,
    /// See [`COLUMNS`].
    pub response_body: Option<String>,
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl RawRow {
    /// The record.
    pub fn into_record(self) -> Result<UsageRecord, StoreError> {
        let corrupt = |message: String| StoreError::Corrupt {
            request_id: self.request_id.clone(),
            message,
        };
        let client_format =
            parse_format(&self.client_format).ok_or_else(|| corrupt(format!("format {:?}", self.client_format)))?;
        let status = Status::parse(&self.status).ok_or_else(|| corrupt(format!("status {:?}", self.status)))?;
        let attempts: Vec<AttemptTrace> =
            serde_json::from_str(&self.attempts).map_err(|e| corrupt(format!("attempts: {e}")))?;
        let [input, output, c5, c1, read, reasoning] = self.tokens.map(unsigned);
        let cost = match self.costs {
            [
                Some(i),
                Some(o),
                Some(w5),
                Some(w1),
                Some(r),
                Some(rq),
                Some(t),
                Some(a),
                Some(m),
            ] => {
                let p = self.prices.map(|p| p.unwrap_or(0));
                Some(Cost {
                    input: NanoUsd(i),
                    output: NanoUsd(o),
                    cache_write_5m: NanoUsd(w5),
                    cache_write_1h: NanoUsd(w1),
                    cache_read: NanoUsd(r),
                    request: NanoUsd(rq),
                    total: NanoUsd(t),
                    actual_total: NanoUsd(a),
                    multiplier: Multiplier(u32::try_from(m).unwrap_or(1_000_000)),
                    prices: UnitPrices {
                        input: PricePerMTok(unsigned(p[0])),
                        output: PricePerMTok(unsigned(p[1])),
                        cache_write_5m: PricePerMTok(unsigned(p[2])),
                        cache_write_1h: PricePerMTok(unsigned(p[3])),
                        cache_read: PricePerMTok(unsigned(p[4])),
                        per_request: NanoUsd(p[5]),
                    },
                })
            }
            _ => None,
        };
        Ok(UsageRecord {
            request_id: self.request_id,
            started_at_ms: self.started_at_ms,
            finished_at_ms: self.finished_at_ms,
            client_key: self.client_key,
            client_format,
            upstream_format: self.upstream_format.as_deref().and_then(parse_format),
            requested_model: self.requested_model,
            upstream_model: self.upstream_model,
            provider: self.provider,
            provider_key: self.provider_key,
            stream: self.stream,
            status,
            http_status: self.http_status.and_then(|s| u16::try_from(s).ok()),
            error: match (self.error_class, self.error_message) {
                (Some(class), message) => Some(RecordError {
                    class,
                    message: message.unwrap_or_default(),
                }),
                (None, _) => None,
            },
            ttfb_ms: self.ttfb_ms.map(unsigned),
            total_ms: self.total_ms.map(unsigned),
            usage: Usage {
                input,
                output,
                cache_creation_5m: c5,
                cache_creation_1h: c1,
                cache_read: read,
                reasoning,
            },
            cost,
            response_end: ResponseEnd::parse(&self.response_end),
            attempts,
            bodies: match (self.request_body, self.response_body) {
                (None, None) => None,
                (request, response) => Some(Bodies { request, response }),
            },
        })
    }
}

/// The summary's SELECT list after the group key (aggregates cast so both databases return
/// 64-bit integers).
pub const SUMMARY_AGGREGATES: &str = "COUNT(*) AS requests, \
    CAST(COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed, \
    CAST(COALESCE(SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END), 0) AS BIGINT) AS cancelled, \
    CAST(COALESCE(SUM(CASE WHEN status = 'failed' OR http_status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors, \
    CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
    CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
    CAST(COALESCE(SUM(cache_creation_5m_tokens), 0) AS BIGINT) AS cache_creation_5m_tokens, \
    CAST(COALESCE(SUM(cache_creation_1h_tokens), 0) AS BIGINT) AS cache_creation_1h_tokens, \
    CAST(COALESCE(SUM(cache_read_tokens), 0) AS BIGINT) AS cache_read_tokens, \
    CAST(COALESCE(SUM(reasoning_tokens), 0) AS BIGINT) AS reasoning_tokens, \
    CAST(COALESCE(SUM(cost_total_nusd), 0) AS BIGINT) AS cost_nusd, \
    CAST(COALESCE(SUM(actual_cost_total_nusd), 0) AS BIGINT) AS actual_cost_nusd, \
    CAST(COALESCE(SUM(CASE WHEN cost_total_nusd IS NULL AND input_tokens + output_tokens > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS unpriced";

/// The statements of a migration file: `--` comment lines removed, split on `;`
/// (migrations hold plain DDL, no bodies with semicolons inside).
pub fn statements(sql: &str) -> Vec<String> {
    let code: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Implements [`super::Store`] for a struct with `pool: sqlx::Pool<$db>` and
/// `instance: String`, and an inherent `write_batch` (the batch write, which differs: see
/// `postgres.rs` and `sqlite.rs`); `$lock` is a
/// statement run first in each migration transaction (an advisory lock for PostgreSQL,
/// `None` for SQLite).
macro_rules! sql_store {
    ($store:ty, $db:ty, $kind:literal, $migrations:expr, $lock:expr) => {
        #[async_trait::async_trait]
        impl $crate::telemetry::store::Store for $store {
            fn kind(&self) -> &'static str {
                $kind
            }

            async fn migrate(&self) -> Result<Vec<u32>, $crate::telemetry::store::StoreError> {
                use sqlx::Row as _;
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS aether_migrations (version BIGINT PRIMARY KEY NOT NULL, \
                     name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)",
                )
                .execute(&self.pool)
                .await?;
                let mut applied = Vec::new();
                for m in $migrations {
                    let mut tx = self.pool.begin().await?;
                    let lock: Option<&str> = $lock;
                    if let Some(lock) = lock {
                        sqlx::query(lock).execute(&mut *tx).await?;
                    }
                    let mut q =
                        sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM aether_migrations WHERE version = ");
                    q.push_bind(i64::from(m.version));
                    let done: i64 = q.build().fetch_one(&mut *tx).await?.try_get(0)?;
                    if done == 0 {
                        for statement in $crate::telemetry::store::sql::statements(m.sql) {
                            sqlx::query(&statement).execute(&mut *tx).await?;
                        }
                        let mut q = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO aether_migrations (version, name, applied_at_ms) VALUES (",
                        );
                        q.push_bind(i64::from(m.version))
                            .push(", ")
                            .push_bind(m.name)
                            .push(", ")
                            .push_bind($crate::telemetry::clock::now_ms())
                            .push(") ON CONFLICT (version) DO NOTHING");
                        q.build().execute(&mut *tx).await?;
                        applied.push(m.version);
                    }
                    tx.commit().await?;
                }
                Ok(applied)
            }

            async fn write(
                &self,
                batch: &$crate::telemetry::store::WriteBatch,
            ) -> Result<(), $crate::telemetry::store::StoreError> {
                if batch.is_empty() {
                    return Ok(());
                }
                self.write_batch(batch).await
            }

            async fn recover(
                &self,
                instance: &str,
                instance_before: $crate::telemetry::clock::UnixMillis,
                any_before: $crate::telemetry::clock::UnixMillis,
            ) -> Result<u64, $crate::telemetry::store::StoreError> {
                use $crate::telemetry::store::sql;
                let now = $crate::telemetry::clock::now_ms();
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "UPDATE usage_records SET status = 'failed', response_end = CASE WHEN status = 'streaming' \
                     THEN 'cut_short' ELSE response_end END, error_class = ",
                );
                q.push_bind(sql::RECOVERED_CLASS)
                    .push(", error_message = ")
                    .push_bind(sql::RECOVERED_MESSAGE)
                    .push(", finished_at_ms = ")
                    .push_bind(now)
                    .push(", updated_at_ms = ")
                    .push_bind(now)
                    .push(" WHERE status IN ('pending', 'streaming') AND ((instance = ")
                    .push_bind(instance)
                    .push(" AND started_at_ms < ")
                    .push_bind(instance_before)
                    .push(") OR started_at_ms < ")
                    .push_bind(any_before)
                    .push(")");
                Ok(q.build().execute(&self.pool).await?.rows_affected())
            }

            async fn delete_older_than(
                &self,
                cutoff: $crate::telemetry::clock::UnixMillis,
                limit: u32,
            ) -> Result<u64, $crate::telemetry::store::StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "DELETE FROM usage_records WHERE request_id IN (SELECT request_id FROM usage_records \
                     WHERE started_at_ms < ",
                );
                q.push_bind(cutoff)
                    .push(" LIMIT ")
                    .push_bind(i64::from(limit))
                    .push(")");
                Ok(q.build().execute(&self.pool).await?.rows_affected())
            }

            async fn summary(
                &self,
                query: &$crate::telemetry::query::SummaryQuery,
            ) -> Result<Vec<$crate::telemetry::query::SummaryRow>, $crate::telemetry::store::StoreError> {
                use sqlx::Row as _;
                use $crate::telemetry::money::NanoUsd;
                use $crate::telemetry::record::Usage;
                let column = query.by.column();
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT COALESCE({column}, '-') AS grp, {} FROM usage_records WHERE started_at_ms >= ",
                    $crate::telemetry::store::sql::SUMMARY_AGGREGATES
                ));
                q.push_bind(query.since_ms)
                    .push(" AND started_at_ms < ")
                    .push_bind(query.until_ms)
                    .push(" GROUP BY grp ORDER BY cost_nusd DESC, requests DESC");
                let rows = q.build().fetch_all(&self.pool).await?;
                let u = |n: i64| u64::try_from(n).unwrap_or(0);
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    out.push($crate::telemetry::query::SummaryRow {
                        key: row.try_get("grp")?,
                        requests: u(row.try_get("requests")?),
                        failed: u(row.try_get("failed")?),
                        cancelled: u(row.try_get("cancelled")?),
                        errors: u(row.try_get("errors")?),
                        unpriced: u(row.try_get("unpriced")?),
                        usage: Usage {
                            input: u(row.try_get("input_tokens")?),
                            output: u(row.try_get("output_tokens")?),
                            cache_creation_5m: u(row.try_get("cache_creation_5m_tokens")?),
                            cache_creation_1h: u(row.try_get("cache_creation_1h_tokens")?),
                            cache_read: u(row.try_get("cache_read_tokens")?),
                            reasoning: u(row.try_get("reasoning_tokens")?),
                        },
                        cost: NanoUsd(row.try_get("cost_nusd")?),
                        actual_cost: NanoUsd(row.try_get("actual_cost_nusd")?),
                    });
                }
                Ok(out)
            }

            async fn record(
                &self,
                request_id: &str,
            ) -> Result<Option<$crate::telemetry::record::UsageRecord>, $crate::telemetry::store::StoreError> {
                use sqlx::Row as _;
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM usage_records WHERE request_id = ",
                    $crate::telemetry::store::sql::COLUMNS.join(", ")
                ));
                q.push_bind(request_id);
                let Some(row) = q.build().fetch_optional(&self.pool).await? else {
                    return Ok(None);
                };
                let g = |name: &str| -> Result<Option<i64>, sqlx::Error> { row.try_get(name) };
                let n = |name: &str| -> Result<i64, sqlx::Error> { row.try_get(name) };
                let raw = $crate::telemetry::store::sql::RawRow {
                    request_id: row.try_get("request_id")?,
                    started_at_ms: n("started_at_ms")?,
                    finished_at_ms: g("finished_at_ms")?,
                    client_key: row.try_get("client_key")?,
                    client_format: row.try_get("client_format")?,
                    upstream_format: row.try_get("upstream_format")?,
                    requested_model: row.try_get("requested_model")?,
                    upstream_model: row.try_get("upstream_model")?,
                    provider: row.try_get("provider")?,
                    provider_key: row.try_get("provider_key")?,
                    stream: row.try_get("stream")?,
                    status: row.try_get("status")?,
                    http_status: g("http_status")?,
                    error_class: row.try_get("error_class")?,
                    error_message: row.try_get("error_message")?,
                    ttfb_ms: g("ttfb_ms")?,
                    total_ms: g("total_ms")?,
                    response_end: row.try_get("response_end")?,
                    tokens: [
                        n("input_tokens")?,
                        n("output_tokens")?,
                        n("cache_creation_5m_tokens")?,
                        n("cache_creation_1h_tokens")?,
                        n("cache_read_tokens")?,
                        n("reasoning_tokens")?,
                    ],
                    costs: [
                        g("cost_input_nusd")?,
                        g("cost_output_nusd")?,
                        g("cost_cache_write_5m_nusd")?,
                        g("cost_cache_write_1h_nusd")?,
                        g("cost_cache_read_nusd")?,
                        g("cost_request_nusd")?,
                        g("cost_total_nusd")?,
                        g("actual_cost_total_nusd")?,
                        g("cost_multiplier_ppm")?,
                    ],
                    prices: [
                        g("price_input")?,
                        g("price_output")?,
                        g("price_cache_write_5m")?,
                        g("price_cache_write_1h")?,
                        g("price_cache_read")?,
                        g("price_request_nusd")?,
                    ],
                    attempts: row.try_get("attempts")?,
                    request_body: row.try_get("request_body")?,
                    response_body: row.try_get("response_body")?,
                };
                raw.into_record().map(Some)
            }

            async fn close(&self) {
                self.pool.close().await;
            }
        }
    };
}

pub(crate) use sql_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_columns() {
        let r = UsageRecord::pending("x", WireFormat::Claude, std::time::SystemTime::now());
        let values = row_values(&r, "i", 0, "[]");
        assert_eq!(values.len(), COLUMNS.len());
        assert_eq!(values[0], Val::Text("x"));
        assert_eq!(
            values[COLUMNS.iter().position(|c| *c == "attempts").unwrap()],
            Val::Text("[]")
        );
    }

    #[test]
    fn statements_bind_every_value_and_update_all_but_the_key() {
        let sql = upsert_statement(2, Placeholders::Dollar);
        assert!(sql.contains(&format!("${}", 2 * COLUMNS.len())));
        assert!(!sql.contains(&format!("${}", 2 * COLUMNS.len() + 1)));
        assert!(sql.contains("cost_total_nusd = excluded.cost_total_nusd"));
        assert!(!sql.contains("request_id = excluded"));
        let full = upsert_statement(ROWS_PER_STATEMENT, Placeholders::Question);
        assert_eq!(full.matches('?').count(), ROWS_PER_STATEMENT * COLUMNS.len());
        assert!(
            matches!(full, std::borrow::Cow::Borrowed(_)),
            "a full chunk's statement is shared"
        );
        assert_eq!(
            upsert_statement(1, Placeholders::Question).matches('?').count(),
            COLUMNS.len()
        );
        assert!(matches!(
            upsert_statement(3, Placeholders::Question),
            std::borrow::Cow::Owned(_)
        ));
    }

    #[test]
    fn batches_are_written_in_a_few_shapes() {
        assert_eq!(statement_rows(0).count(), 0);
        assert_eq!(
            statement_rows(1337).collect::<Vec<_>>(),
            [256, 256, 256, 256, 256, 32, 16, 8, 1]
        );
        assert_eq!(statement_rows(256).collect::<Vec<_>>(), [256]);
        for n in [1, 7, 255, 511, 2000, 4097] {
            let rows: Vec<usize> = statement_rows(n).collect();
            assert_eq!(rows.iter().sum::<usize>(), n, "{n}");
            assert!(rows.iter().all(|r| r.is_power_of_two() && *r <= ROWS_PER_STATEMENT));
            assert!(rows.windows(2).all(|w| w[0] >= w[1]), "{rows:?}");
        }
    }
}
