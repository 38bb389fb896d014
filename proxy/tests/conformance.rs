//! The conformance corpus through the gateway's Wasm host: every case of every pair, run
//! with the built-in plugins' components by the same conversion code the request path uses,
//! must match its expectation and agree with the native run of the same case (the plugin
//! code compiled natively), output for output.

use aether::conversion::case;
use aether::format::WireFormat;
use aether::plugin_registry::{PluginSettings, Plugins, Watch};
use aether_plugin_sdk::types::TestCase;
use serde_json::Value;

/// The SDK's and the host's bindings are two generations of the same WIT types; a case
/// crosses from one to the other through its serde form.
fn host_check(case: &TestCase) -> aether::plugin_host::bindings::types::TestCheck {
    let value = serde_json::to_value(&case.check).expect("a test check serialises");
    serde_json::from_value(value).expect("both bindings have the same serde form")
}

/// Wall-clock fields (`created`, `created_at`) differ between two runs by design.
fn without_clock(mut value: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in ["created", "created_at"] {
                    if map.get(key).is_some_and(Value::is_number) {
                        map.insert(key.into(), Value::Null);
                    }
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

/// A converted stream's bytes with the digits of every `"created"` and `"created_at"`
/// number set to zero: the only bytes two conversions of the same events may differ in,
/// since the encoders read the clock.
fn clock_zeroed(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for key in [&b"\"created\":"[..], &b"\"created_at\":"[..]] {
        let mut from = 0;
        while let Some(at) = memchr::memmem::find(&out[from..], key) {
            let mut i = from + at + key.len();
            while out.get(i) == Some(&b' ') {
                i += 1;
            }
            while out.get(i).is_some_and(u8::is_ascii_digit) {
                out[i] = b'0';
                i += 1;
            }
            from = i;
        }
    }
    out
}

#[test]
fn clock_zeroing_touches_only_clock_numbers() {
    let zeroed = clock_zeroed(br#"{"created":1712,"created_at": 99,"n":5,"created":"x"}"#);
    assert_eq!(zeroed, br#"{"created":0000,"created_at": 00,"n":5,"created":"x"}"#);
}

/// The built-in plugins, not watched for changes.
fn builtin_plugins() -> std::sync::Arc<Plugins> {
    Plugins::load(PluginSettings {
        watch: Watch::Off,
        ..PluginSettings::default()
    })
    .expect("the built-in plugins load")
}

#[test]
fn the_corpus_passes_through_the_wasm_host_and_agrees_with_the_native_run() {
    let plugins = builtin_plugins();
    let files = aether_conformance::load().unwrap();
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &files {
        let from = plugins.get(WireFormat::parse(&file.from).unwrap());
        let to = plugins.get(WireFormat::parse(&file.to).unwrap());
        for case in &file.cases {
            total += 1;
            let check = host_check(case);
            let wasm = match &check {
                aether::plugin_host::bindings::types::TestCheck::DecodeError(e) => {
                    serde_json::to_value(from.decode_error(e.status, &e.body).unwrap()).unwrap()
                }
                _ => case::convert(&from, &to, &check).unwrap(),
            };
            let native = aether_conformance::run_native(&file.from, &file.to, case).unwrap();
            let label = format!("{}--{} / {}", file.from, file.to, case.name);
            if let Err(reason) = aether_conformance::check(case, &wasm) {
                failures.push(format!("{label}: through the host: {reason}"));
            }
            if without_clock(wasm.clone()) != without_clock(native.clone()) {
                failures.push(format!(
                    "{label}: host and native differ:\n  wasm   {wasm}\n  native {native}"
                ));
            }
        }
    }
    assert!(total > 100, "the corpus has only {total} cases");
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A stream case's upstream events as the bytes of one read.
fn as_block(events: &[aether::plugin_host::bindings::types::SseEvent]) -> Vec<u8> {
    let mut block = Vec::new();
    for event in events {
        if let Some(name) = &event.name {
            block.extend_from_slice(format!("event: {name}\n").as_bytes());
        }
        for line in event.data.split('\n') {
            block.extend_from_slice(format!("data: {line}\n").as_bytes());
        }
        block.push(b'\n');
    }
    block
}

#[test]
fn spliced_streams_are_the_streams_the_plugins_write() {
    use aether::conversion::stream::{Splicing, StreamConverter};
    use aether::plugin_host::bindings::types::TestCheck;
    use aether::telemetry::usage::UsageTap;

    let tapped = |tap: &UsageTap| (tap.usage(), tap.saw_usage(), tap.completed(), tap.failure().is_some());

    let plugins = builtin_plugins();
    let mut failures = Vec::new();
    let mut spliced_by_pair = std::collections::BTreeMap::new();
    for file in aether_conformance::load().unwrap() {
        if file.from == file.to {
            continue;
        }
        let from = plugins.get(WireFormat::parse(&file.from).unwrap());
        let to = plugins.get(WireFormat::parse(&file.to).unwrap());
        for case in &file.cases {
            let TestCheck::ConvertStream(case_stream) = host_check(case) else {
                continue;
            };
            // The corpus's streams are short; each event three times over makes the runs of
            // like deltas that splices are for (and both paths must still agree on it).
            let mut tripled = case_stream.clone();
            tripled.events = case_stream
                .events
                .iter()
                .flat_map(|e| [e.clone(), e.clone(), e.clone()])
                .collect();
            for (variant, stream) in [("as written", case_stream), ("each event thrice", tripled)] {
                let block = as_block(&stream.events);
                let run = |splicing| {
                    let mut converter = StreamConverter::open_with(&from, &to, &stream.model, splicing).unwrap();
                    // Each event on its own and all in one read: the two ways the relay sees them.
                    // The usage is the decoder's, as on the request path.
                    let mut tap = UsageTap::new(from.clone());
                    let whole = converter.push_block(&block, |raw| tap.offer(raw)).map(|mut out| {
                        out.extend(converter.finish().unwrap_or_default());
                        out
                    });
                    tap.converted(converter.usage());
                    tap.flush();
                    let spliced = converter.spliced();
                    let mut converter = StreamConverter::open_with(&from, &to, &stream.model, splicing).unwrap();
                    let mut single = Vec::new();
                    for event in &stream.events {
                        single.extend(converter.push_event(event).unwrap_or_default());
                    }
                    single.extend(converter.finish().unwrap_or_default());
                    (whole.ok(), single, spliced + converter.spliced(), tapped(&tap))
                };
                let (plain_whole, plain_single, none, _) = run(Splicing::Off);
                let (whole, single, spliced, usage) = run(Splicing::On);
                assert_eq!(none, 0, "nothing is spliced with splicing off");
                *spliced_by_pair
                    .entry(format!("{}--{}", file.from, file.to))
                    .or_insert(0) += spliced;
                let label = format!("{}--{} / {} / {variant}", file.from, file.to, case.name);
                // Byte for byte, as the client would read them: a splice that wrote other
                // bytes than the encoder (key order, escaping, spacing) fails here, not
                // only one that wrote other JSON. Only the encoders' clock readings differ.
                let bytes = |out: &[u8]| String::from_utf8_lossy(&clock_zeroed(out)).into_owned();
                if whole.as_deref().map(bytes) != plain_whole.as_deref().map(bytes) {
                    failures.push(format!(
                        "{label}: one read, spliced and not differ:\n{:?}\n{:?}",
                        whole.as_deref().map(bytes),
                        plain_whole.as_deref().map(bytes)
                    ));
                }
                if bytes(&single) != bytes(&plain_single) {
                    failures.push(format!(
                        "{label}: event by event, spliced and not differ:\n{}\n{}",
                        bytes(&single),
                        bytes(&plain_single)
                    ));
                }
                let mut every_event = UsageTap::new(from.clone());
                every_event.events(&block);
                if usage != tapped(&every_event) {
                    failures.push(format!(
                        "{label}: the decoder reported other usage than the upstream plugin's tap: {usage:?}, not {:?}",
                        tapped(&every_event)
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The corpus exercises the fast path wherever both plugins offer splices (the Responses
    // plugin's encoder offers counted ones; as a decoder it offers none, since its events
    // carry sequence numbers).
    for pair in [
        "claude--openai-chat",
        "claude--gemini",
        "claude--openai-responses",
        "openai-chat--claude",
        "openai-chat--gemini",
        "openai-chat--openai-responses",
        "gemini--claude",
        "gemini--openai-chat",
        "gemini--openai-responses",
    ] {
        assert!(
            spliced_by_pair.get(pair).is_some_and(|n| *n > 0),
            "no event of {pair} was spliced: {spliced_by_pair:?}"
        );
    }
}

/// A Claude upstream event, framed.
fn claude_event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

const CLAUDE_START: &str = r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"usage":{"input_tokens":3,"output_tokens":1}}}"#;

/// The Gemini encoder declines splices of tool arguments (it keeps a call's arguments until
/// the call stops): a block of like deltas is decoded by the host, as the decoder's splice
/// promises, and waits for the block's one encoder call, instead of two plugin calls per
/// event.
#[test]
fn an_encoder_that_declines_splices_gets_a_block_in_one_call_and_the_decoder_none() {
    use aether::conversion::stream::StreamConverter;
    use std::sync::atomic::Ordering;

    let plugins = builtin_plugins();
    let claude = plugins.get(WireFormat::Claude);
    let gemini = plugins.get(WireFormat::Gemini);
    let delta = |json: &str| {
        claude_event(
            "content_block_delta",
            &format!(
                r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"input_json_delta","partial_json":"{json}"}}}}"#
            ),
        )
    };
    let mut converter = StreamConverter::open(&claude, &gemini, "m").unwrap();
    let first = claude_event("message_start", CLAUDE_START)
        + &claude_event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"count","input":{}}}"#,
        )
        + &delta(r#"{\"n\":["#);
    converter.push_block(first.as_bytes(), |_| ()).unwrap();

    // The first block of deltas may ask once more (the decoder's splice is new); after
    // that, a block is one encoder call and no decoder call.
    let block: String = (0..20).map(|_| delta("1,")).collect();
    let calls = |plugin: &std::sync::Arc<aether::plugin_host::Plugin>| plugin.stats.calls.load(Ordering::Relaxed);
    for round in 0..3 {
        let (encoder_before, decoder_before) = (calls(&gemini), calls(&claude));
        converter.push_block(block.as_bytes(), |_| ()).unwrap();
        if round > 0 {
            assert_eq!(calls(&gemini) - encoder_before, 1, "one encoder call for block {round}");
            assert_eq!(calls(&claude) - decoder_before, 0, "no decoder call for block {round}");
        }
    }
    assert!(converter.spliced() >= 40, "{}", converter.spliced());
    let end = delta("2]}")
        + &claude_event("content_block_stop", r#"{"type":"content_block_stop","index":0}"#)
        + &claude_event(
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}"#,
        )
        + &claude_event("message_stop", r#"{"type":"message_stop"}"#);
    let mut out = converter.push_block(end.as_bytes(), |_| ()).unwrap();
    out.extend(converter.finish().unwrap());
    let text = String::from_utf8(out).unwrap();
    let expected = format!("[{}2]", "1,".repeat(60));
    let call = aether_plugin_sdk::sse::parse(&text)
        .iter()
        .find_map(|e| {
            let chunk: Value = serde_json::from_str(&e.data).ok()?;
            chunk["candidates"][0]["content"]["parts"][0]
                .get("functionCall")
                .cloned()
        })
        .unwrap_or_else(|| panic!("no functionCall: {text}"));
    assert_eq!(call["args"]["n"].to_string().replace(' ', ""), expected, "{call}");
}

/// The Responses encoder numbers its events (`sequence_number`) and repeats the text at the
/// end, so it offers counted splices: after the first, a block of like deltas costs neither
/// plugin a call, the host numbers each event, and the closing events still carry the whole
/// text, numbered on from the spliced events.
#[test]
fn a_counted_splice_numbers_each_event_and_the_encoder_catches_up() {
    use aether::conversion::stream::StreamConverter;
    use std::sync::atomic::Ordering;

    let plugins = builtin_plugins();
    let claude = plugins.get(WireFormat::Claude);
    let responses = plugins.get(WireFormat::OpenaiResponses);
    let delta = |text: &str| {
        claude_event(
            "content_block_delta",
            &format!(r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{text}"}}}}"#),
        )
    };
    let mut converter = StreamConverter::open(&claude, &responses, "m").unwrap();
    let first = claude_event("message_start", CLAUDE_START)
        + &claude_event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        )
        + &delta("a");
    let mut out = converter.push_block(first.as_bytes(), |_| ()).unwrap();

    let calls = |plugin: &std::sync::Arc<aether::plugin_host::Plugin>| plugin.stats.calls.load(Ordering::Relaxed);
    let mut expected = String::from("a");
    for round in 0..3 {
        let block: String = (0..20).map(|i| delta(&format!(r#"w{round}.{i} \"q\"\n"#))).collect();
        expected.extend((0..20).map(|i| format!("w{round}.{i} \"q\"\n")));
        let (encoder_before, decoder_before) = (calls(&responses), calls(&claude));
        out.extend(converter.push_block(block.as_bytes(), |_| ()).unwrap());
        if round > 0 {
            assert_eq!(
                calls(&responses) - encoder_before,
                0,
                "no encoder call for block {round}"
            );
            assert_eq!(calls(&claude) - decoder_before, 0, "no decoder call for block {round}");
        }
    }
    assert!(converter.spliced() >= 40, "{}", converter.spliced());
    let end = claude_event("content_block_stop", r#"{"type":"content_block_stop","index":0}"#)
        + &claude_event(
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}"#,
        )
        + &claude_event("message_stop", r#"{"type":"message_stop"}"#);
    out.extend(converter.push_block(end.as_bytes(), |_| ()).unwrap());
    out.extend(converter.finish().unwrap());

    let events = aether_plugin_sdk::sse::parse(std::str::from_utf8(&out).unwrap());
    let data: Vec<Value> = events.iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect();
    for (n, (event, data)) in events.iter().zip(&data).enumerate() {
        assert_eq!(data["sequence_number"], n, "{data}");
        assert_eq!(Some(data["type"].as_str().unwrap()), event.name.as_deref());
    }
    let deltas: String = data
        .iter()
        .filter(|d| d["type"] == "response.output_text.delta")
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, expected);
    let done = data.iter().find(|d| d["type"] == "response.output_text.done").unwrap();
    assert_eq!(done["text"], expected.as_str());
    let completed = data.last().unwrap();
    assert_eq!(completed["type"], "response.completed");
    assert_eq!(
        completed["response"]["output"][0]["content"][0]["text"],
        expected.as_str()
    );
}

/// A decoder emits `finish` exactly once (IR.md): once it has, the upstream's end calls only
/// the encoder; a stream cut before it still asks the decoder, which reports the cut.
#[test]
fn a_decoder_that_has_finished_is_not_asked_to_finish_again() {
    use aether::conversion::stream::StreamConverter;
    use std::sync::atomic::Ordering;

    let plugins = builtin_plugins();
    let openai = plugins.get(WireFormat::OpenaiChat);
    let claude = plugins.get(WireFormat::Claude);
    let calls = |plugin: &std::sync::Arc<aether::plugin_host::Plugin>| plugin.stats.calls.load(Ordering::Relaxed);
    let chunk = |rest: &str| {
        format!(r#"data: {{"id":"c1","object":"chat.completion.chunk","created":1,"model":"g",{rest}}}"#) + "\n\n"
    };
    let start = chunk(r#""choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]"#)
        + &chunk(r#""choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]"#);
    let end = chunk(r#""choices":[{"index":0,"delta":{},"finish_reason":"stop"}]"#)
        + &chunk(r#""choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}"#)
        + "data: [DONE]\n\n";

    let mut whole = StreamConverter::open(&openai, &claude, "m").unwrap();
    whole.push_block(start.as_bytes(), |_| ()).unwrap();
    let out = String::from_utf8(whole.push_block(end.as_bytes(), |_| ()).unwrap()).unwrap();
    assert!(out.contains("event: message_stop"), "{out}");
    let (decoder_before, encoder_before) = (calls(&openai), calls(&claude));
    whole.finish().unwrap();
    assert_eq!(calls(&openai) - decoder_before, 0, "the finished decoder is not called");
    assert_eq!(calls(&claude) - encoder_before, 1, "the encoder's finish");

    let mut cut = StreamConverter::open(&openai, &claude, "m").unwrap();
    cut.push_block(start.as_bytes(), |_| ()).unwrap();
    let decoder_before = calls(&openai);
    let out = String::from_utf8(cut.finish().unwrap()).unwrap();
    assert_eq!(
        calls(&openai) - decoder_before,
        1,
        "the decoder's finish reports the cut"
    );
    assert!(out.contains("event: error"), "{out}");
}

/// A converted stream is billed from its decoder's IR; should a plugin fail mid-stream, the
/// usage tap reads the rest of the read, and each bucket is the larger of the two counts
/// (both are cumulative), so neither source's tokens are lost.
#[test]
fn a_converted_streams_usage_keeps_the_decoders_count_under_what_the_tap_reads_after_a_failure() {
    use aether::plugin_host::bindings::types::{Usage, UsageReport};
    use aether::telemetry::usage::UsageTap;

    let plugins = builtin_plugins();
    let mut tap = UsageTap::new(plugins.get(WireFormat::Claude));
    let mut decoded = Usage {
        input: 10,
        output: 1,
        cache_creation5m: 0,
        cache_creation1h: 0,
        cache_read: 5,
        reasoning: 0,
    };
    tap.converted(&UsageReport {
        usage: decoded,
        saw_usage: true,
        completed: false,
    });
    assert_eq!(
        (tap.usage().input, tap.usage().cache_read, tap.completed()),
        (10, 5, false)
    );
    // What the decoder did not get to: the closing events, read by the tap.
    tap.events(
        b"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let u = tap.usage();
    assert_eq!((u.input, u.cache_read, u.output), (10, 5, 7), "{u:?}");
    assert!(tap.completed() && tap.saw_usage());
    // A later report of the decoder's replaces its earlier one; the tap's count stands.
    decoded.output = 9;
    tap.converted(&UsageReport {
        usage: decoded,
        saw_usage: true,
        completed: false,
    });
    assert_eq!((tap.usage().output, tap.completed()), (9, true));
}
