//! Memory per open stream in the plugin host: opens 10,000 streams' plugin state the way a
//! converted stream would hold it (a usage tap, a stream decoder and a stream encoder, each
//! a resource in a shard instance, each fed its first event) and reports the process's
//! resident memory before and after.
//!
//! `cargo bench -p aether --bench plugin_streams [-- STREAMS]`

#![allow(missing_docs, clippy::unwrap_used)]

use aether::format::WireFormat;
use aether::plugin_host::bindings::types::SseEvent;
use aether::plugin_registry::{PluginSettings, Plugins};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

fn main() {
    let streams: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let plugins = Plugins::load(PluginSettings::default()).unwrap();
    let claude = plugins.get(WireFormat::Claude);
    let start = SseEvent {
        name: Some("message_start".into()),
        data: r#"{"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":1200,"cache_read_input_tokens":5000,"output_tokens":1}}}"#.into(),
    };
    // Warm: every shard instance exists before the baseline.
    let warm: Vec<_> = (0..8).map(|_| claude.open_usage_tap().unwrap()).collect();
    drop(warm);
    let before = rss_kib();
    let started = std::time::Instant::now();
    let mut open = Vec::with_capacity(streams);
    for _ in 0..streams {
        let tap = claude.open_usage_tap().unwrap();
        tap.tap_push(std::slice::from_ref(&start)).unwrap();
        let decoder = claude.open_stream_decoder().unwrap();
        let _ = decoder.decode_push(&start).unwrap();
        let encoder = claude.open_stream_encoder("claude-sonnet-4-5").unwrap();
        let _ = encoder.encode_push(&[], None, None).unwrap();
        open.push((tap, decoder, encoder));
    }
    let elapsed = started.elapsed();
    let after = rss_kib();
    let per_stream = (after.saturating_sub(before) * 1024) as f64 / streams as f64;
    println!(
        "streams={streams} rss_before={before} KiB rss_after={after} KiB delta={} KiB per_stream={per_stream:.0} B open_time={:.1} µs/stream",
        after.saturating_sub(before),
        elapsed.as_secs_f64() * 1e6 / streams as f64
    );
    drop(open);
    println!("rss_after_close={} KiB", rss_kib());
}
