//! Reading usage back: the summary by client key, model or provider over a time range, as
//! JSON (admin `GET /admin/usage`, `aether usage --json`) or a table (`aether usage`), and
//! one request's trace (`GET /admin/requests/{id}`).
//!
//! Costs are exact decimal strings in USD (from integer nano-USD), never floats.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};
use thiserror::Error;

use super::clock::{self, TimeError, UnixMillis};
use super::money::NanoUsd;
use super::record::{Usage, UsageRecord};

/// What to group the summary by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Client key name.
    Client,
    /// Requested model (the default).
    #[default]
    Model,
    /// Provider.
    Provider,
}

impl GroupBy {
    /// Parses `client`, `model` or `provider`.
    pub fn parse(s: &str) -> Option<GroupBy> {
        Some(match s {
            "client" | "key" => GroupBy::Client,
            "model" => GroupBy::Model,
            "provider" => GroupBy::Provider,
            _ => return None,
        })
    }

    /// The column grouped on (a fixed name, never user text).
    pub fn column(self) -> &'static str {
        match self {
            GroupBy::Client => "client_key",
            GroupBy::Model => "requested_model",
            GroupBy::Provider => "provider",
        }
    }
}

/// A bad query parameter.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum QueryError {
    /// A time did not parse.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// `by` is not one of the groupings.
    #[error("invalid by {0:?}: expected client, model or provider")]
    By(String),
    /// The range is empty.
    #[error("since must be before until")]
    Range,
}

/// A summary query: `[since, until)` by `by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryQuery {
    /// Start (inclusive), Unix ms.
    pub since_ms: UnixMillis,
    /// End (exclusive), Unix ms.
    pub until_ms: UnixMillis,
    /// Grouping.
    pub by: GroupBy,
}

impl SummaryQuery {
    /// From the text of `--since` / `--until` / `--by` (or the admin query string). Defaults:
    /// since `today` (UTC), until now (plus a second, so just-written records count), by
    /// model.
    pub fn parse(
        since: Option<&str>,
        until: Option<&str>,
        by: Option<&str>,
        now: UnixMillis,
    ) -> Result<Self, QueryError> {
        let since_ms = clock::parse_time(since.unwrap_or("today"), now)?;
        let until_ms = match until {
            Some(u) => clock::parse_time(u, now)?,
            None => now + 1000,
        };
        let by = match by {
            Some(b) => GroupBy::parse(b).ok_or_else(|| QueryError::By(b.to_owned()))?,
            None => GroupBy::default(),
        };
        if since_ms >= until_ms {
            return Err(QueryError::Range);
        }
        Ok(SummaryQuery { since_ms, until_ms, by })
    }

    /// From an admin query string (`since=7d&until=…&by=client`), decoded as a form
    /// (`+` is a space, `%3A` a colon); the first of a repeated parameter counts.
    pub fn from_query_string(query: Option<&str>, now: UnixMillis) -> Result<Self, QueryError> {
        let get = |name: &str| {
            query.and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            })
        };
        let (since, until, by) = (get("since"), get("until"), get("by"));
        SummaryQuery::parse(since.as_deref(), until.as_deref(), by.as_deref(), now)
    }
}

/// One group of the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SummaryRow {
    /// The group (`-` when the column is empty, e.g. a request rejected before routing).
    pub key: String,
    /// Requests.
    pub requests: u64,
    /// Failed requests.
    pub failed: u64,
    /// Cancelled requests.
    pub cancelled: u64,
    /// Failed requests or answered with an HTTP error.
    pub errors: u64,
    /// Requests with tokens but no price.
    pub unpriced: u64,
    /// Tokens.
    pub usage: Usage,
    /// Cost at list price.
    pub cost: NanoUsd,
    /// Cost after multipliers.
    pub actual_cost: NanoUsd,
}

impl SummaryRow {
    fn add(&mut self, o: &SummaryRow) {
        self.requests += o.requests;
        self.failed += o.failed;
        self.cancelled += o.cancelled;
        self.errors += o.errors;
        self.unpriced += o.unpriced;
        let (u, v) = (&mut self.usage, &o.usage);
        u.input += v.input;
        u.output += v.output;
        u.cache_creation_5m += v.cache_creation_5m;
        u.cache_creation_1h += v.cache_creation_1h;
        u.cache_read += v.cache_read;
        u.reasoning += v.reasoning;
        self.cost = self.cost.plus(o.cost);
        self.actual_cost = self.actual_cost.plus(o.actual_cost);
    }

    fn to_json(&self) -> Value {
        json!({
            "key": self.key,
            "requests": self.requests,
            "errors": self.errors,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "unpriced": self.unpriced,
            "tokens": self.usage,
            "cost_usd": self.cost.to_usd_string(),
            "actual_cost_usd": self.actual_cost.to_usd_string(),
        })
    }
}

/// The summary as JSON: the query, one entry per group and the totals.
pub fn summary_json(q: &SummaryQuery, rows: &[SummaryRow]) -> Value {
    json!({
        "since": clock::format_rfc3339(q.since_ms),
        "until": clock::format_rfc3339(q.until_ms),
        "by": q.by,
        "groups": rows.iter().map(SummaryRow::to_json).collect::<Vec<_>>(),
        "total": total(rows).to_json(),
    })
}

fn total(rows: &[SummaryRow]) -> SummaryRow {
    let mut t = SummaryRow {
        key: "total".into(),
        ..SummaryRow::default()
    };
    for r in rows {
        t.add(r);
    }
    t
}

/// The summary as a text table.
pub fn summary_table(q: &SummaryQuery, rows: &[SummaryRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "usage from {} to {}, by {}",
        clock::format_rfc3339(q.since_ms),
        clock::format_rfc3339(q.until_ms),
        q.by.column()
    );
    let header = [
        "",
        "requests",
        "errors",
        "input",
        "output",
        "cache_w_5m",
        "cache_w_1h",
        "cache_read",
        "reasoning",
        "cost_usd",
        "actual_usd",
    ];
    let total = total(rows);
    let mut lines: Vec<[String; 11]> = Vec::new();
    for r in rows.iter().chain(std::iter::once(&total)) {
        let u = &r.usage;
        lines.push([
            r.key.clone(),
            r.requests.to_string(),
            r.errors.to_string(),
            u.input.to_string(),
            u.output.to_string(),
            u.cache_creation_5m.to_string(),
            u.cache_creation_1h.to_string(),
            u.cache_read.to_string(),
            u.reasoning.to_string(),
            trim_usd(r.cost),
            trim_usd(r.actual_cost),
        ]);
    }
    let mut widths = header.map(str::len);
    for l in &lines {
        for (w, cell) in widths.iter_mut().zip(l) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let row = |out: &mut String, cells: &[String]| {
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 0 {
                let _ = write!(out, "{cell:<w$}");
            } else {
                let _ = write!(out, "  {cell:>w$}");
            }
        }
        out.push('\n');
    };
    row(&mut out, &header.map(str::to_owned));
    let count = lines.len();
    for (i, l) in lines.iter().enumerate() {
        if i + 1 == count {
            let width: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            let _ = writeln!(out, "{}", "-".repeat(width));
        }
        row(&mut out, l);
    }
    out
}

/// USD to six decimals for tables (the JSON keeps all nine).
fn trim_usd(n: NanoUsd) -> String {
    let s = n.to_usd_string();
    s[..s.len() - 3].to_owned()
}

/// One request's record as JSON for the admin API (timestamps also as RFC 3339, costs as
/// USD strings).
pub fn record_json(r: &UsageRecord) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("started_at".into(), json!(clock::format_rfc3339(r.started_at_ms)));
        if let Some(f) = r.finished_at_ms {
            obj.insert("finished_at".into(), json!(clock::format_rfc3339(f)));
        }
        if let Some(c) = &r.cost {
            obj.insert(
                "cost_usd".into(),
                json!({
                    "input": c.input.to_usd_string(),
                    "output": c.output.to_usd_string(),
                    "cache_write_5m": c.cache_write_5m.to_usd_string(),
                    "cache_write_1h": c.cache_write_1h.to_usd_string(),
                    "cache_read": c.cache_read.to_usd_string(),
                    "request": c.request.to_usd_string(),
                    "total": c.total.to_usd_string(),
                    "actual_total": c.actual_total.to_usd_string(),
                    "prices_per_mtok": {
                        "input": c.prices.input.to_usd_string(),
                        "output": c.prices.output.to_usd_string(),
                        "cache_write_5m": c.prices.cache_write_5m.to_usd_string(),
                        "cache_write_1h": c.prices.cache_write_1h.to_usd_string(),
                        "cache_read": c.prices.cache_read.to_usd_string(),
                    },
                }),
            );
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_queries() {
        let now = clock::parse_time("2025-11-24T12:00:00Z", 0).unwrap();
        let q = SummaryQuery::from_query_string(Some("since=7d&by=client"), now).unwrap();
        assert_eq!(q.by, GroupBy::Client);
        assert_eq!(q.since_ms, now - 7 * 86_400_000);
        let q = SummaryQuery::from_query_string(Some("since=2025-11-24T10%3A00%3A00Z"), now).unwrap();
        assert_eq!(q.since_ms, now - 2 * 3_600_000);
        assert!(SummaryQuery::from_query_string(Some("by=colour"), now).is_err());
        let q = SummaryQuery::from_query_string(Some("since=2025-11-24+11:00:00Z&by=model&by=client"), now).unwrap();
        assert_eq!((q.since_ms, q.by), (now - 3_600_000, GroupBy::Model));
        // A stray `%` is kept as it is, so the time is reported as invalid rather than altered.
        assert!(SummaryQuery::from_query_string(Some("since=7%d"), now).is_err());
        assert!(SummaryQuery::parse(Some("1h"), Some("2h"), None, now).is_err());
    }

    #[test]
    fn table_and_json_total() {
        let q = SummaryQuery::parse(Some("1d"), None, None, 86_400_000 * 2).unwrap();
        let rows = vec![
            SummaryRow {
                key: "a".into(),
                requests: 2,
                cost: NanoUsd(1_500_000_000),
                ..SummaryRow::default()
            },
            SummaryRow {
                key: "b".into(),
                requests: 1,
                cost: NanoUsd(1),
                ..SummaryRow::default()
            },
        ];
        let v = summary_json(&q, &rows);
        assert_eq!(v["total"]["requests"], 3);
        assert_eq!(v["total"]["cost_usd"], "1.500000001");
        let t = summary_table(&q, &rows);
        assert!(t.contains("total"), "{t}");
        assert!(t.contains("1.500000"), "{t}");
    }
}
