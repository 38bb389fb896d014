//! The telemetry hook against real stores: SQLite (a temp file) and PostgreSQL (the CI
//! server on 127.0.0.1:5432, trust auth, database `test`; each test uses its own schema and
//! drops it; skipped with a printed reason when no server is reachable).

#![allow(clippy::unwrap_used)] // helpers below are test code

use std::path::Path;
use std::time::{Duration, SystemTime};

use aether::config::ConfigFile;
use aether::format::WireFormat;
use aether::telemetry::money::NanoUsd;
use aether::telemetry::record::AttemptTrace;
use aether::telemetry::{
    FlushOutcome, Status, SummaryQuery, Telemetry, TelemetryEvent, Usage, UsageRecord, clock, retention, store,
};
use sqlx::Connection;

// ── fixtures ────────────────────────────────────────────────────────────────────────────

fn config(sink: &str, url: &str, spill: &Path, extra: &str) -> ConfigFile {
    let text = format!(
        r#"
        [telemetry]
        sink = "{sink}"
        url = "{url}"
        jsonl_path = "{jsonl}"
        spill_path = "{spill}"
        flush_interval_ms = 20
        retention_days = 0
        {extra}

        [[providers]]
        name = "anthropic"
        format = "claude"
        base_url = "http://127.0.0.1:1"
        models = {{ "claude-sonnet-4-5" = "claude-sonnet-4-5" }}
        [[providers.keys]]
        name = "primary"
        api_key = "env:AETHER_TEST_UNSET_KEY"
        cost_multiplier = 0.5
        "#,
        jsonl = spill.with_extension("sink.jsonl").display(),
        spill = spill.display(),
    );
    toml::from_str(&text).unwrap()
}

fn accepted(id: &str) -> UsageRecord {
    let mut r = UsageRecord::pending(id, WireFormat::Claude, SystemTime::now());
    r.client_key = Some("team-a".into());
    r.requested_model = Some("claude-sonnet-4-5".into());
    r.stream = true;
    r
}

/// Finished, with hand-checkable tokens: 1,000 input, 2,000 output, 10,000 5m writes,
/// 20,000 1h writes, 100,000 reads → $0.2205 at Sonnet 4.5 list prices, $0.11025 actual.
fn finished(id: &str) -> UsageRecord {
    let mut r = accepted(id);
    r.upstream_format = Some(WireFormat::Claude);
    r.upstream_model = Some("claude-sonnet-4-5-20250929".into());
    r.provider = Some("anthropic".into());
    r.provider_key = Some("primary".into());
    r.http_status = Some(200);
    r.ttfb_ms = Some(42);
    r.usage = Usage {
        input: 1_000,
        output: 2_000,
        cache_creation_5m: 10_000,
        cache_creation_1h: 20_000,
        cache_read: 100_000,
        reasoning: 500,
    };
    r.attempts = vec![
        AttemptTrace {
            provider: "anthropic".into(),
            key: "backup".into(),
            upstream_model: "claude-sonnet-4-5-20250929".into(),
            outcome: "status".into(),
            status: Some(529),
            latency_ms: 5,
        },
        AttemptTrace {
            provider: "anthropic".into(),
            key: "primary".into(),
            upstream_model: "claude-sonnet-4-5-20250929".into(),
            outcome: "relayed".into(),
            status: Some(200),
            latency_ms: 40,
        },
    ];
    r.response_end = aether::telemetry::ResponseEnd::Complete;
    r.finish(Status::Completed);
    r
}

fn all_time() -> SummaryQuery {
    SummaryQuery::parse(
        Some("3650d"),
        Some("1d"),
        Some("client"),
        clock::now_ms() + 2 * 86_400_000,
    )
    .unwrap()
}

async fn count(t: &Telemetry) -> u64 {
    t.summary(&all_time()).await.unwrap().iter().map(|r| r.requests).sum()
}

async fn wait_durable(t: &Telemetry) {
    for _ in 0..100 {
        if t.flush().await.unwrap() == FlushOutcome::Durable {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never durable: {:?}", t.stats());
}

// ── PostgreSQL harness ──────────────────────────────────────────────────────────────────

struct Pg {
    admin_url: String,
    schema: String,
}

impl Pg {
    /// A fresh schema, or `None` (with the reason printed) when no server is reachable.
    async fn new(name: &str) -> Option<Pg> {
        let mut last = String::new();
        for user in ["postgres", "root"] {
            let admin_url = format!("postgres://{user}@127.0.0.1:5432/test");
            match sqlx::PgConnection::connect(&admin_url).await {
                Ok(mut conn) => {
                    let schema = format!("aether_t_{name}_{}", std::process::id());
                    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&mut conn)
                        .await
                        .unwrap();
                    sqlx::query(&format!("CREATE SCHEMA {schema}"))
                        .execute(&mut conn)
                        .await
                        .unwrap();
                    return Some(Pg { admin_url, schema });
                }
                Err(e) => last = e.to_string(),
            }
        }
        eprintln!("SKIPPED: no PostgreSQL server on 127.0.0.1:5432 (database test): {last}");
        None
    }

    fn url(&self) -> String {
        self.url_at("127.0.0.1:5432")
    }

    fn url_at(&self, addr: &str) -> String {
        let rest = self.admin_url.split_once('@').unwrap().0;
        format!("{rest}@{addr}/test?options[search_path]={}", self.schema)
    }

    async fn drop(self) {
        let mut conn = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

/// Runs `body` against SQLite and, when reachable, PostgreSQL.
macro_rules! both_stores {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/nested/usage.db", dir.path().display());
                $body("sqlite", &url, dir.path()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(pg) = Pg::new(stringify!($name)).await else {
                    return;
                };
                let dir = tempfile::tempdir().unwrap();
                $body("postgres", &pg.url(), dir.path()).await;
                pg.drop().await;
            }
        }
    };
}

// ── scenarios ───────────────────────────────────────────────────────────────────────────

async fn lifecycle(sink: &str, url: &str, dir: &Path) {
    let t = Telemetry::start(inputs(&config(sink, url, &dir.join("spill.jsonl"), "")))
        .await
        .unwrap();
    t.submit(TelemetryEvent::Accepted(Box::new(accepted("r1"))));
    wait_durable(&t).await;
    assert_eq!(t.record("r1").await.unwrap().unwrap().status, Status::Pending);

    t.submit(TelemetryEvent::FirstByte {
        request_id: "r1".into(),
        ttfb_ms: 42,
    });
    wait_durable(&t).await;
    let r = t.record("r1").await.unwrap().unwrap();
    assert_eq!((r.status, r.ttfb_ms), (Status::Streaming, Some(42)));

    t.submit(TelemetryEvent::Finished(Box::new(finished("r1"))));
    wait_durable(&t).await;
    let r = t.record("r1").await.unwrap().unwrap();
    assert_eq!(r.status, Status::Completed);
    assert_eq!(r.attempts.len(), 2, "every candidate is listed");
    assert_eq!(r.usage.cache_creation_1h, 20_000);
    let cost = r.cost.unwrap();
    assert_eq!(cost.total, NanoUsd(220_500_000), "hand-checked $0.2205");
    assert_eq!(cost.actual_total, NanoUsd(110_250_000), "× 0.5 multiplier");
    assert_eq!(r, {
        let mut expected = finished("r1");
        expected.started_at_ms = r.started_at_ms;
        expected.finished_at_ms = r.finished_at_ms;
        expected.total_ms = r.total_ms;
        expected.cost = Some(cost);
        expected
    });

    // A late non-final event never overwrites a final row.
    t.submit(TelemetryEvent::Accepted(Box::new(accepted("r1"))));
    wait_durable(&t).await;
    assert_eq!(t.record("r1").await.unwrap().unwrap().status, Status::Completed);
    assert!(t.record("nope").await.unwrap().is_none());
    t.shutdown().await;
}
both_stores!(pending_to_completed, lifecycle);

async fn batch_and_collapse(sink: &str, url: &str, dir: &Path) {
    let t = Telemetry::start(inputs(&config(sink, url, &dir.join("spill.jsonl"), "batch_max = 100")))
        .await
        .unwrap();
    for i in 0..750 {
        let id = format!("b{i}");
        t.submit(TelemetryEvent::Accepted(Box::new(accepted(&id))));
        t.submit(TelemetryEvent::FirstByte {
            request_id: id.clone(),
            ttfb_ms: 7,
        });
        if i % 3 != 0 {
            t.submit(TelemetryEvent::Finished(Box::new(finished(&id))));
        }
    }
    wait_durable(&t).await;
    assert_eq!(count(&t).await, 750);
    let stats = t.stats();
    assert_eq!(stats.dropped, 0);
    // Collapsed within each flush window: far fewer row writes than the 2,000 events.
    assert!(stats.written < 1_000, "{stats:?}");
    assert_eq!(stats.backlog, 0);
    assert_eq!(t.record("b0").await.unwrap().unwrap().status, Status::Streaming);
    assert_eq!(t.record("b1").await.unwrap().unwrap().status, Status::Completed);
    let rows = t.summary(&all_time()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, "team-a");
    assert_eq!(rows[0].usage.cache_read, 500 * 100_000);
    assert_eq!(rows[0].cost, NanoUsd(500 * 220_500_000));
    t.shutdown().await;
}
both_stores!(batch_upsert_collapse, batch_and_collapse);

async fn crash_recovery(sink: &str, url: &str, dir: &Path) {
    let spill = dir.join("spill.jsonl");
    let first = Telemetry::start(inputs(&config(sink, url, &spill, "instance = \"gw-1\"")))
        .await
        .unwrap();
    first.submit(TelemetryEvent::Accepted(Box::new(accepted("c1"))));
    first.submit(TelemetryEvent::Accepted(Box::new(accepted("c2"))));
    first.submit(TelemetryEvent::FirstByte {
        request_id: "c2".into(),
        ttfb_ms: 3,
    });
    first.submit(TelemetryEvent::Finished(Box::new(finished("c3"))));
    wait_durable(&first).await;
    // "Crash": the process stops with c1 pending and c2 streaming.
    first.shutdown().await;

    // Another instance starting does not touch gw-1's rows (they may be in flight)…
    let other = Telemetry::start(inputs(&config(sink, url, &spill, "instance = \"gw-2\"")))
        .await
        .unwrap();
    assert_eq!(other.record("c1").await.unwrap().unwrap().status, Status::Pending);
    other.shutdown().await;

    // …gw-1 restarting marks them failed.
    let again = Telemetry::start(inputs(&config(sink, url, &spill, "instance = \"gw-1\"")))
        .await
        .unwrap();
    assert_eq!(again.stats().recovered, 2);
    let c1 = again.record("c1").await.unwrap().unwrap();
    assert_eq!(c1.status, Status::Failed);
    assert_eq!(c1.error.unwrap().class, "interrupted");
    let c2 = again.record("c2").await.unwrap().unwrap();
    assert_eq!(
        (c2.status, c2.response_end),
        (Status::Failed, aether::telemetry::ResponseEnd::CutShort)
    );
    assert_eq!(again.record("c3").await.unwrap().unwrap().status, Status::Completed);
    again.shutdown().await;
}
both_stores!(crash_recovery_marks_stale_rows_failed, crash_recovery);

async fn retention_batches(sink: &str, url: &str, dir: &Path) {
    let t = Telemetry::start(inputs(&config(sink, url, &dir.join("spill.jsonl"), "")))
        .await
        .unwrap();
    let old = clock::now_ms() - 400 * 86_400_000;
    for i in 0..2_500 {
        let mut r = finished(&format!("old{i}"));
        r.started_at_ms = old + i;
        t.submit(TelemetryEvent::Finished(Box::new(r)));
    }
    for i in 0..10 {
        t.submit(TelemetryEvent::Finished(Box::new(finished(&format!("new{i}")))));
    }
    wait_durable(&t).await;
    assert_eq!(count(&t).await, 2_510);

    let settings = config(sink, url, &dir.join("spill.jsonl"), "").telemetry;
    let s = store::open(&settings).unwrap().unwrap();
    let cutoff = clock::now_ms() - 365 * 86_400_000;
    // One statement deletes at most its batch.
    assert_eq!(s.delete_older_than(cutoff, 1000).await.unwrap(), 1000);
    let rest = retention::purge(&*s, cutoff, 1000, Duration::from_millis(1), None)
        .await
        .unwrap();
    assert_eq!(rest, 1_500);
    assert_eq!(count(&t).await, 10);
    s.close().await;
    t.shutdown().await;
}
both_stores!(retention_deletes_in_batches, retention_batches);

async fn shutdown_under_load(sink: &str, url: &str, dir: &Path) {
    let t = Telemetry::start(inputs(&config(sink, url, &dir.join("spill.jsonl"), "")))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..500 {
                let id = format!("l{w}-{i}");
                t.submit(TelemetryEvent::Accepted(Box::new(accepted(&id))));
                if i % 50 == 0 {
                    tokio::task::yield_now().await;
                }
                t.submit(TelemetryEvent::Finished(Box::new(finished(&id))));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // Shut down right away: everything queued must still land.
    t.shutdown().await;
    assert_eq!(t.stats().dropped, 0);
    assert_eq!(t.stats().spilled, 0);

    let check = Telemetry::start(inputs(&config(sink, url, &dir.join("spill.jsonl"), "")))
        .await
        .unwrap();
    assert_eq!(count(&check).await, 4_000);
    let rows = check.summary(&all_time()).await.unwrap();
    assert_eq!(rows[0].failed, 0, "nothing left pending and recovered as failed");
    check.shutdown().await;
    // Submitting after shutdown is a counted drop, not a panic or a hang.
    t.submit(TelemetryEvent::Accepted(Box::new(accepted("late"))));
    assert_eq!(t.stats().dropped, 1);
}
both_stores!(shutdown_under_load_flushes_everything, shutdown_under_load);

// ── database down ───────────────────────────────────────────────────────────────────────

/// A TCP forwarder from a port to the PostgreSQL server, started on demand.
async fn forward(listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            if let Ok(mut server) = tokio::net::TcpStream::connect("127.0.0.1:5432").await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_then_back_loses_no_record() {
    let Some(pg) = Pg::new("down_back").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(); // nothing listens there yet: connection refused
    let cfg = config(
        "postgres",
        &pg.url_at(&format!("127.0.0.1:{port}")),
        &dir.path().join("spill.jsonl"),
        "",
    );
    let t = Telemetry::start(inputs(&cfg)).await.unwrap(); // starts degraded, not failed
    for i in 0..300 {
        t.submit(TelemetryEvent::Accepted(Box::new(accepted(&format!("d{i}")))));
        t.submit(TelemetryEvent::Finished(Box::new(finished(&format!("d{i}")))));
    }
    assert!(matches!(t.flush().await.unwrap(), FlushOutcome::Held(300)));
    assert!(t.stats().write_errors > 0);

    // The database comes back on the same address.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let proxy = tokio::spawn(forward(listener));
    for i in 300..400 {
        t.submit(TelemetryEvent::Finished(Box::new(finished(&format!("d{i}")))));
    }
    wait_durable(&t).await;
    assert_eq!(count(&t).await, 400);
    assert_eq!((t.stats().dropped, t.stats().spilled), (0, 0));
    t.shutdown().await;
    proxy.abort();
    pg.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spill_file_when_the_database_stays_down_then_imported() {
    let Some(pg) = Pg::new("spill").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("spill.jsonl");
    let down = format!("127.0.0.1:{}", free_port());
    let cfg = config("postgres", &pg.url_at(&down), &spill, "spill_after_secs = 0");
    let t = Telemetry::start(inputs(&cfg)).await.unwrap();
    for i in 0..50 {
        t.submit(TelemetryEvent::Finished(Box::new(finished(&format!("s{i}")))));
    }
    assert_eq!(t.flush().await.unwrap(), FlushOutcome::Durable);
    t.submit(TelemetryEvent::Accepted(Box::new(accepted("s-pending"))));
    t.shutdown().await; // the pending one is spilled at shutdown
    assert_eq!(t.stats().spilled, 51);
    assert_eq!(t.stats().dropped, 0);
    let (records, bad) = store::jsonl::read(&spill).unwrap();
    assert_eq!((records.len(), bad), (51, 0));
    assert!(records[0].cost.is_some(), "spilled records are priced");

    // The next start that reaches the database imports the file (and renames it).
    let back = Telemetry::start(inputs(&config("postgres", &pg.url(), &spill, "")))
        .await
        .unwrap();
    assert_eq!(count(&back).await, 51);
    assert!(!spill.exists());
    back.shutdown().await;
    pg.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_full_is_counted_never_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/q.db", dir.path().display());
    let cfg = config("sqlite", &url, &dir.path().join("spill.jsonl"), "queue_capacity = 4");
    // The writer is not running, so nothing drains the queue.
    let (t, _writer) = Telemetry::new(inputs(&cfg)).unwrap();
    let started = std::time::Instant::now();
    for i in 0..10 {
        t.submit(TelemetryEvent::Finished(Box::new(finished(&format!("q{i}")))));
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    let stats = t.stats();
    assert_eq!((stats.queue_depth, stats.dropped), (4, 6));
    assert!(t.metrics_text().contains("aether_telemetry_dropped_total 6"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_sink_writes_one_line_per_finished_request() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("spill.jsonl");
    let t = Telemetry::start(inputs(&config("jsonl", "", &spill, "")))
        .await
        .unwrap();
    t.submit(TelemetryEvent::Accepted(Box::new(accepted("j1"))));
    t.submit(TelemetryEvent::Finished(Box::new(finished("j1"))));
    t.submit(TelemetryEvent::Accepted(Box::new(accepted("j2"))));
    t.shutdown().await;
    let (records, _) = store::jsonl::read(&spill.with_extension("sink.jsonl")).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].request_id, "j1");
    assert_eq!(records[0].cost.unwrap().total, NanoUsd(220_500_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_default_location_is_created_with_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/deeper/aether.db");
    let url = format!("sqlite://{}", db.display());
    let t = Telemetry::start(inputs(&config("sqlite", &url, &dir.path().join("spill.jsonl"), "")))
        .await
        .unwrap();
    t.submit(TelemetryEvent::Finished(Box::new(finished("w1"))));
    wait_durable(&t).await;
    assert!(db.exists());
    assert!(db.with_extension("db-wal").exists(), "WAL journal");
    t.shutdown().await;
    let (kind, applied) = aether::telemetry::migrate::run(&config("sqlite", &url, &dir.path().join("s"), "").telemetry)
        .await
        .unwrap();
    assert_eq!((kind, applied), ("sqlite", vec![]), "already migrated");
}

/// Telemetry's inputs from a config file, as `serve` builds them.
fn inputs(file: &aether::config::ConfigFile) -> aether::telemetry::TelemetryInputs {
    aether::config::telemetry::telemetry_inputs(file).unwrap()
}
