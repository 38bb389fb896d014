//! What a usage record costs the store: writes batches of realistic finished records the
//! way the writer does (one transaction per batch) and reports wall time and this
//! process's CPU time per record — the CPU that the usage writer takes from the data plane
//! on a saturated machine.
//!
//! `cargo bench -p aether --bench telemetry_store [-- RECORDS [URL] [--batch=N]]` (default
//! 200,000 records into a fresh SQLite file, batches of up to N = 2,000; give a `postgres://` URL to
//! measure PostgreSQL). The gateway's batches are whatever arrived within a flush interval,
//! so batch sizes here vary too, deterministically, between half of N and N.

#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Instant, SystemTime};

use aether::format::WireFormat;
use aether::telemetry::batch::Backlog;
use aether::telemetry::money::{Multiplier, NanoUsd, PricePerMTok};
use aether::telemetry::record::UnitPrices;
use aether::telemetry::store::{self, WriteBatch};
use aether::telemetry::{AttemptTrace, Cost, ResponseEnd, SinkKind, Status, TelemetrySection, Usage, UsageRecord};

/// The gateway's allocator, so the Rust side allocates as it does there.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const DEFAULT_BATCH: usize = 2000;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ, 100 on Linux
}

fn record(n: usize) -> UsageRecord {
    let mut r = UsageRecord::pending(aether::request_id::next(), WireFormat::OpenaiChat, SystemTime::now());
    r.client_key = Some("demo".into());
    r.upstream_format = Some(WireFormat::OpenaiChat);
    r.requested_model = Some("mock-gpt".into());
    r.upstream_model = Some("mock-gpt".into());
    r.provider = Some("mock-openai".into());
    r.provider_key = Some("demo".into());
    r.status = Status::Completed;
    r.http_status = Some(200);
    r.ttfb_ms = Some(2);
    r.total_ms = Some(3);
    r.finished_at_ms = Some(r.started_at_ms + 3);
    r.response_end = ResponseEnd::Complete;
    r.usage = Usage {
        input: 12 + n as u64 % 7,
        output: 5,
        ..Usage::default()
    };
    let p = |n| PricePerMTok(n);
    r.cost = Some(Cost {
        input: NanoUsd(30_000),
        output: NanoUsd(50_000),
        cache_write_5m: NanoUsd(0),
        cache_write_1h: NanoUsd(0),
        cache_read: NanoUsd(0),
        request: NanoUsd(0),
        total: NanoUsd(80_000),
        actual_total: NanoUsd(80_000),
        multiplier: Multiplier(1_000_000),
        prices: UnitPrices {
            input: p(2_500_000),
            output: p(10_000_000),
            cache_write_5m: p(3_125_000),
            cache_write_1h: p(5_000_000),
            cache_read: p(250_000),
            per_request: NanoUsd(0),
        },
    });
    r.attempts = vec![AttemptTrace {
        provider: "mock-openai".into(),
        key: "demo".into(),
        upstream_model: "mock-gpt".into(),
        outcome: "relayed".into(),
        status: Some(200),
        latency_ms: 2,
    }];
    r
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let records: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let batch_size: usize = std::env::args()
        .find_map(|a| a.strip_prefix("--batch=").and_then(|n| n.parse().ok()))
        .unwrap_or(DEFAULT_BATCH)
        .max(1);
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TelemetrySection::default();
    settings.url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}/usage.db", dir.path().display()));
    settings.sink = if settings.url.starts_with("postgres") {
        SinkKind::Postgres
    } else {
        SinkKind::Sqlite
    };
    let store = store::open(&settings).unwrap().unwrap();
    store.migrate().await.unwrap();
    let mut batches: Vec<WriteBatch> = Vec::new();
    let mut written = 0;
    while written < records {
        // Sizes spread over [N/2, N], never twice the same in a row.
        let size = (batch_size - batches.len() * 97 % (batch_size / 2).max(1)).min(records - written);
        // Through the writer's backlog, which hands them over as the writer does.
        let mut backlog = Backlog::default();
        for n in written..written + size {
            backlog.record(Box::new(record(n)));
        }
        batches.push(backlog.take(usize::MAX));
        written += size;
    }
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    for batch in &batches {
        store.write(batch).await.unwrap();
    }
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let per = |s: f64| s / records as f64 * 1e6;
    println!(
        "{} records into {}, batches of up to {}: {:.2} us wall, {:.2} us CPU per record ({:.0} records/s)",
        records,
        store.kind(),
        batch_size,
        per(wall),
        per(cpu),
        records as f64 / wall
    );
    store.close().await;
}
