//! Plugin call costs: instantiating from the `InstancePre`, `inspect` on a 2 KB and a
//! 100 KB Claude request, and a per-SSE-event usage tap call, each through the Wasm host
//! and natively (the same plugin crate linked into the benchmark).
//!
//! `cargo bench -p aether --bench plugins`

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use aether::format::WireFormat;
use aether::plugin_host::bindings::types as host;
use aether::plugin_registry::{PluginSettings, Plugins};
use aether::telemetry::usage::UsageTap;
use aether_plugin_claude::Claude;
use aether_plugin_sdk::FormatPlugin;
use aether_plugin_sdk::types as sdk;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A Claude Code–like request of about `size` bytes: a system prompt, tools, a history.
fn claude_request(size: usize) -> Vec<u8> {
    let mut messages = Vec::new();
    let turn = "Refactor the parser so that errors carry their byte offsets; keep the public API. ".repeat(4);
    let mut i = 0;
    while serde_json::to_vec(&messages).unwrap().len() < size.saturating_sub(900) {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        messages.push(serde_json::json!({"role": role, "content": [
            {"type": "text", "text": turn, "cache_control": {"type": "ephemeral"}}]}));
        i += 1;
    }
    serde_json::to_vec(&serde_json::json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 8192,
        "stream": true,
        "system": [{"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "tools": [{"name": "bash", "description": "Run a command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}],
        "messages": messages,
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let plugins = Plugins::load(PluginSettings::default()).unwrap();
    let claude = plugins.get(WireFormat::Claude);

    c.bench_function("instantiate from InstancePre (claude)", |b| {
        b.iter(|| claude.instantiate_fresh().unwrap());
    });

    let host_head = host::RequestHead {
        method: "POST".into(),
        path: "/v1/messages".into(),
        query: None,
        headers: vec![host::Header {
            name: "anthropic-beta".into(),
            value: "context-1m-2025-08-07".into(),
        }],
    };
    let sdk_head = sdk::RequestHead {
        method: "POST".into(),
        path: "/v1/messages".into(),
        query: None,
        headers: vec![sdk::Header {
            name: "anthropic-beta".into(),
            value: "context-1m-2025-08-07".into(),
        }],
    };
    for (name, size) in [("200 B", 200), ("2 KB", 2 << 10), ("100 KB", 100 << 10)] {
        let body = if size == 200 {
            br#"{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hi"}]}"#
                .to_vec()
        } else {
            claude_request(size)
        };
        let mut group = c.benchmark_group(format!("inspect {name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("wasm", |b| {
            b.iter(|| black_box(claude.inspect(&host_head, black_box(&body)).unwrap().unwrap()));
        });
        group.bench_function("native", |b| {
            b.iter(|| black_box(Claude::inspect(&sdk_head, black_box(&body)).unwrap()));
        });
        // Reference: what a naive native inspect (a whole `serde_json::Value` tree) costs.
        group.bench_function("native serde_json::Value parse (reference)", |b| {
            b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body)).unwrap()));
        });
        group.finish();
    }

    let delta = r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":345}}"#;
    let mut group = c.benchmark_group("usage event");
    let tap = claude.open_usage_tap().unwrap();
    let event = host::SseEvent {
        name: Some("message_delta".into()),
        data: delta.into(),
    };
    group.bench_function("wasm (usage-tap resource)", |b| {
        b.iter(|| tap.tap_push(std::slice::from_ref(black_box(&event))).unwrap());
    });
    let sdk_event = sdk::SseEvent {
        name: Some("message_delta".into()),
        data: delta.into(),
    };
    let mut report = aether_plugin_sdk::usage::empty_report();
    group.bench_function("native", |b| {
        b.iter(|| Claude::tap_event(black_box(&sdk_event), &mut report));
    });
    let text = b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello there, how are you doing today?\"}}\n\n";
    let mut relay_tap = UsageTap::new(claude.clone());
    group.bench_function("text delta, skipped by the host's marker filter", |b| {
        b.iter(|| relay_tap.events(black_box(text)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
