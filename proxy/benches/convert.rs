//! Conversion costs per stream event and per body: an OpenAI Chat text delta converted for
//! a Gemini client and a Claude one, and whole bodies, each through the Wasm host (the
//! request path's own `StreamConverter` and response conversion) and natively (the same
//! plugin crates linked into the benchmark).
//!
//! `cargo bench -p aether --bench convert`

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use aether::conversion::response;
use aether::conversion::stream::{Splicing, StreamConverter};
use aether::format::WireFormat;
use aether::plugin_registry::{PluginSettings, Plugins};
use aether_plugin_claude::Claude;
use aether_plugin_gemini::Gemini;
use aether_plugin_openai_chat::OpenaiChat;
use aether_plugin_sdk::FormatPlugin;
use aether_plugin_sdk::types as sdk;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CHUNK: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Hello there, "},"logprobs":null,"finish_reason":null}],"usage":null}"#;
const FIRST: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#;
const BODY: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! This is a short answer of a few words.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":12,"total_tokens":32,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#;

fn block(events: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..events {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(CHUNK.as_bytes());
        out.extend_from_slice(b"\n\n");
    }
    out
}

/// An OpenAI Chat stream of `deltas` text deltas, as reads of 8 events.
fn whole_stream(deltas: usize) -> Vec<Vec<u8>> {
    const FINISH: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#;
    const USAGE: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":400,"total_tokens":420,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#;
    let events: Vec<&str> = std::iter::once(FIRST)
        .chain(std::iter::repeat_n(CHUNK, deltas))
        .chain([FINISH, USAGE, "[DONE]"])
        .collect();
    events
        .chunks(8)
        .map(|read| {
            read.iter()
                .flat_map(|data| format!("data: {data}\n\n").into_bytes())
                .collect()
        })
        .collect()
}

/// A Claude request with `tools` tools: the first a one-field schema, the rest with nested
/// properties, as `bench/convert.lua` builds them.
fn claude_request_with_tools(tools: usize) -> Vec<u8> {
    const WEATHER: &str = r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#;
    const RICH: &str = r#"{"type":"object","properties":{"path":{"type":"string","description":"The absolute path of the file to work on; it must exist unless the operation creates it"},"offset":{"type":"integer","description":"The line to start at, for files too large to read at once"},"limit":{"type":"integer","description":"How many lines to read"},"edits":{"type":"array","items":{"type":"object","properties":{"old_string":{"type":"string","description":"The text to replace, exactly as it appears"},"new_string":{"type":"string","description":"The text to replace it with"},"replace_all":{"type":"boolean","default":false}},"required":["old_string","new_string"],"additionalProperties":false}},"mode":{"type":"string","enum":["read","write","append","patch"]}},"required":["path"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}"#;
    let list: Vec<String> = (1..=tools)
        .map(|i| match i {
            1 => format!(r#"{{"name":"get_weather","description":"Weather in a city","input_schema":{WEATHER}}}"#),
            _ => format!(
                r#"{{"name":"tool_{i}","description":"Reads, writes or patches a file in the workspace. Use it instead of shell commands for file operations; paths must be absolute. Tool number {i}.","input_schema":{RICH}}}"#
            ),
        })
        .collect();
    format!(
        r#"{{"model":"m","max_tokens":1024,"stream":false,"system":"You are terse.","tools":[{}],"messages":[{{"role":"user","content":"What is the weather in Paris? Say hello in one short sentence."}}]}}"#,
        list.join(",")
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let plugins = Plugins::load(PluginSettings::default()).unwrap();
    let openai = plugins.get(WireFormat::OpenaiChat);
    let mut group = c.benchmark_group("stream event, openai-chat upstream");
    group.throughput(Throughput::Elements(1));
    for (name, format) in [("gemini", WireFormat::Gemini), ("claude", WireFormat::Claude)] {
        let client = plugins.get(format);
        for (path, splicing) in [("spliced", Splicing::On), ("through the plugins", Splicing::Off)] {
            let mut converter = StreamConverter::open_with(&openai, &client, "m", splicing).unwrap();
            converter.push_block(&block(1), |_| ()).unwrap();
            let one = block(1);
            group.bench_function(format!("wasm, to {name}, one event per block, {path}"), |b| {
                b.iter(|| black_box(converter.push_block(&one, |_| ()).unwrap()));
            });
            let ten = block(10);
            group.throughput(Throughput::Elements(10));
            group.bench_function(format!("wasm, to {name}, ten events per block, {path}"), |b| {
                b.iter(|| black_box(converter.push_block(&ten, |_| ()).unwrap()));
            });
            group.throughput(Throughput::Elements(1));
            let expected = match splicing {
                Splicing::On => 1,
                Splicing::Off => 0,
            };
            // Two more events (the benchmarks above may have been filtered out): the second
            // is spliced when splicing is on.
            converter.push_block(&block(2), |_| ()).unwrap();
            assert_eq!(converter.spliced().min(1), expected, "{name}, {path}");
        }
    }
    let event = sdk::SseEvent {
        name: None,
        data: CHUNK.into(),
    };
    let first = sdk::SseEvent {
        name: None,
        data: FIRST.into(),
    };
    for (name, mut encoder) in [
        ("gemini", Gemini::stream_encoder("m")),
        ("claude", Claude::stream_encoder("m")),
    ] {
        let mut decoder = OpenaiChat::stream_decoder();
        encoder.push(&decoder.push(&first).unwrap()).unwrap();
        group.bench_function(format!("native, to {name}"), |b| {
            b.iter(|| black_box(encoder.push(&decoder.push(&event).unwrap()).unwrap()));
        });
    }
    group.finish();

    // A whole stream as the relay converts it: opened, 200 text deltas after the role
    // chunk, the finish and usage chunks and `[DONE]`, in reads of 8 events, the usage
    // taken from the decoder after each read, finished and dropped.
    let stream = whole_stream(200);
    let mut group = c.benchmark_group("whole 200-event stream, openai-chat upstream");
    for (name, format) in [("gemini", WireFormat::Gemini), ("claude", WireFormat::Claude)] {
        let client = plugins.get(format);
        group.bench_function(format!("wasm, to {name}"), |b| {
            b.iter(|| {
                let mut tap = aether::telemetry::usage::UsageTap::new(openai.clone());
                let mut converter = StreamConverter::open(&openai, &client, "m").unwrap();
                let mut out = 0;
                for block in &stream {
                    out += converter.push_block(block, |raw| tap.offer(raw)).unwrap().len();
                    tap.converted(converter.usage());
                    tap.flush();
                }
                out += converter.finish().unwrap().len();
                tap.converted(converter.usage());
                black_box((out, tap.usage()))
            });
        });
    }
    group.bench_function("same format, the usage tap alone", |b| {
        b.iter(|| {
            let mut tap = aether::telemetry::usage::UsageTap::new(openai.clone());
            for block in &stream {
                tap.events(block);
            }
            black_box(tap.usage())
        });
    });
    group.finish();

    let mut group = c.benchmark_group("request, claude client");
    let claude_request = br#"{"model":"m","max_tokens":1024,"system":"You are terse.","tools":[{"name":"get_weather","description":"Weather in a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],"messages":[{"role":"user","content":"What is the weather in Paris? Say hello in one short sentence."}]}"#;
    let head = aether::plugin_host::bindings::types::RequestHead {
        method: "POST".into(),
        path: "/v1/messages".into(),
        query: None,
        headers: Vec::new(),
    };
    let claude = plugins.get(WireFormat::Claude);
    group.bench_function("wasm, decode + encode for openai-chat", |b| {
        b.iter(|| {
            let request = aether::conversion::request::ClientRequest::new(
                claude.clone(),
                head.clone(),
                bytes::Bytes::from_static(claude_request),
            );
            black_box(request.encode(&openai, "up").unwrap())
        });
    });
    let sdk_head = sdk::RequestHead {
        method: "POST".into(),
        path: "/v1/messages".into(),
        query: None,
        headers: Vec::new(),
    };
    group.bench_function("native, decode + encode for openai-chat", |b| {
        b.iter(|| {
            black_box(OpenaiChat::encode_request(&Claude::decode_request(&sdk_head, claude_request).unwrap()).unwrap())
        });
    });
    group.bench_function("wasm, inspect", |b| {
        b.iter(|| black_box(claude.inspect(&head, claude_request).unwrap()));
    });
    group.finish();

    // A Claude Code–like request: 20 tools with nested schemas (bench/convert.lua's TOOLS=20).
    let long = claude_request_with_tools(20);
    let mut group = c.benchmark_group("request, claude client, 20 tools");
    group.throughput(Throughput::Bytes(long.len() as u64));
    group.bench_function("wasm, inspect", |b| {
        b.iter(|| black_box(claude.inspect(&head, &long).unwrap()));
    });
    group.bench_function("wasm, decode", |b| {
        b.iter(|| black_box(claude.decode_request(&head, &long).unwrap()));
    });
    let ir = claude.decode_request(&head, &long).unwrap().unwrap();
    group.bench_function("wasm, encode for openai-chat", |b| {
        b.iter(|| black_box(openai.encode_request(&ir).unwrap()));
    });
    group.bench_function("native, decode", |b| {
        b.iter(|| black_box(Claude::decode_request(&sdk_head, &long).unwrap()));
    });
    let native_ir = Claude::decode_request(&sdk_head, &long).unwrap();
    group.bench_function("native, encode for openai-chat", |b| {
        b.iter(|| black_box(OpenaiChat::encode_request(&native_ir).unwrap()));
    });
    group.finish();

    let mut group = c.benchmark_group("whole body, openai-chat upstream");
    let gemini = plugins.get(WireFormat::Gemini);
    group.bench_function("wasm, to gemini", |b| {
        b.iter(|| black_box(response::success(&openai, &gemini, "m", BODY.as_bytes()).unwrap()));
    });
    let claude = plugins.get(WireFormat::Claude);
    group.bench_function("wasm, to claude", |b| {
        b.iter(|| black_box(response::success(&openai, &claude, "m", BODY.as_bytes()).unwrap()));
    });
    group.bench_function("wasm, usage from body", |b| {
        b.iter(|| black_box(openai.usage_from_body(BODY.as_bytes()).unwrap()));
    });
    group.bench_function("native, to gemini", |b| {
        b.iter(|| black_box(Gemini::encode_response(&OpenaiChat::decode_response(BODY.as_bytes()).unwrap()).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
