//! The Wasm plugin host end to end: the contract through the real host, sandboxing,
//! hot reload under traffic, refused plugins, and capability routing.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aether::format::WireFormat;
use aether::plugin_host::bindings::types::{self, *};
use aether::plugin_host::builtin::test_artifacts;
use aether::plugin_registry::{PluginSettings, Plugins, Watch};
use aether_mock::MockConfig;
use common::*;

fn artifact(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Plugins with `dir` as the plugin directory, watched only by explicit rescans.
fn plugins_in(dir: &TempDir) -> Arc<Plugins> {
    Plugins::load(PluginSettings {
        dir: Some(dir.0.clone()),
        watch: Watch::Off,
        ..PluginSettings::default()
    })
    .unwrap()
}

fn head(path: &str) -> RequestHead {
    RequestHead {
        method: "POST".into(),
        path: path.into(),
        query: None,
        headers: vec![],
    }
}

/// Replaces every occurrence of `from` with `to` (same length) in a component.
fn patch(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut found = 0;
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            found += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(found > 0, "pattern {:?} not found", String::from_utf8_lossy(from));
    out
}

#[test]
fn built_in_plugins_answer_every_export_through_the_host() {
    let plugins = Plugins::load(PluginSettings::default()).unwrap();
    let cases = [
        (
            WireFormat::Claude,
            "/v1/messages",
            r#"{"model":"m","stream":true,"tools":[{"name":"t"}]}"#,
        ),
        (
            WireFormat::OpenaiChat,
            "/v1/chat/completions",
            r#"{"model":"m","stream":true,"tools":[{}]}"#,
        ),
        (
            WireFormat::OpenaiResponses,
            "/v1/responses",
            r#"{"model":"m","stream":true,"tools":[{}]}"#,
        ),
        (
            WireFormat::Gemini,
            "/v1beta/models/m:streamGenerateContent",
            r#"{"tools":[{}]}"#,
        ),
    ];
    for (format, path, body) in cases {
        let p = plugins.get(format);
        assert_eq!(p.format, format);
        assert_eq!(p.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(p.hash.len(), 64);
        let i = p.inspect(&head(path), body.as_bytes()).unwrap().unwrap();
        assert_eq!(i.model.as_deref(), Some("m"), "{format}");
        assert!(i.stream);
        assert_eq!(i.capabilities, vec![Capability::Tools]);
        assert!(!p.self_test_cases().unwrap().is_empty());
        let info = ErrorInfo {
            class: ErrorClass::RateLimited,
            status: 429,
            message: "slow".into(),
        };
        let body: serde_json::Value = serde_json::from_slice(&p.error_body(&info).unwrap()).unwrap();
        assert!(body.to_string().contains("slow"), "{format}: {body}");
        assert!(p.stream_error_event(&info).unwrap().ends_with(b"\n\n"));
        // Every conversion export is implemented (the conformance corpus checks what they
        // give): malformed input is refused as invalid, never as unsupported.
        assert!(
            matches!(
                p.decode_response(b"not json").unwrap(),
                Err(types::PluginError::InvalidRequest(_))
            ),
            "{format}"
        );
        let upstream_error = p.decode_error(429, b"{}").unwrap();
        assert_eq!(
            (upstream_error.class, upstream_error.status),
            (ErrorClass::RateLimited, 429),
            "{format}"
        );
        let decoder = p.open_stream_decoder().unwrap();
        assert!(decoder.decode_finish().unwrap().is_ok(), "{format}");
    }
    // Native fallback and Wasm give the same error body.
    let info = ErrorInfo {
        class: ErrorClass::Unavailable,
        status: 503,
        message: "x".into(),
    };
    for format in aether::format::ALL_FORMATS {
        let wasm = plugins.get(format).error_body(&info).unwrap();
        let native = format.error_body(aether::format::ErrorClass::Unavailable, 503, "x");
        let (wasm, native): (serde_json::Value, serde_json::Value) = (
            serde_json::from_slice(&wasm).unwrap(),
            serde_json::from_slice(&native).unwrap(),
        );
        assert_eq!(wasm, native, "{format}");
    }
}

fn sample_request() -> ChatRequest {
    let cache = Some(CacheTtl::OneHour);
    ChatRequest {
        model: "m".into(),
        system: vec![ContentBlock::Text(TextBlock {
            text: "be brief".into(),
            cache,
        })],
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    ContentBlock::Text(TextBlock {
                        text: "look ✓".into(),
                        cache: None,
                    }),
                    ContentBlock::Image(MediaBlock {
                        source: MediaSource::Base64(InlineData {
                            media_type: "image/png".into(),
                            data: "AA==".into(),
                        }),
                        cache: None,
                    }),
                    ContentBlock::Document(MediaBlock {
                        source: MediaSource::Url("https://x/doc.pdf".into()),
                        cache: Some(CacheTtl::FiveMinutes),
                    }),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentBlock::Thinking(ThinkingBlock {
                        text: "hmm".into(),
                        signature: Some("sig".into()),
                    }),
                    ContentBlock::RedactedThinking("opaque".into()),
                    ContentBlock::ToolCall(ToolCall {
                        id: "call_1".into(),
                        name: "shell".into(),
                        arguments_json: r#"{"cmd":"ls"}"#.into(),
                        signature: Some("ts".into()),
                    }),
                ],
            },
            Message {
                role: Role::Tool,
                content: vec![ContentBlock::ToolResult(ToolResult {
                    call_id: "call_1".into(),
                    name: Some("shell".into()),
                    content: vec![
                        ToolResultPart::Text("a.txt".into()),
                        ToolResultPart::Image(MediaSource::FileId("file_1".into())),
                    ],
                    is_error: true,
                })],
            },
        ],
        tools: vec![Tool {
            name: "shell".into(),
            description: Some("runs".into()),
            parameters_json: r#"{"type":"object"}"#.into(),
            strict: Some(true),
        }],
        tool_choice: Some(ToolChoice::Named("shell".into())),
        sampling: Sampling {
            max_tokens: Some(64),
            temperature: Some(0.5),
            top_p: None,
            top_k: Some(40),
            stop: vec!["END".into()],
            seed: Some(-7),
        },
        response_format: Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "out".into(),
            schema_json: "{}".into(),
            strict: true,
        })),
        reasoning: Some(Reasoning {
            effort: Some("high".into()),
            budget_tokens: Some(1024),
            include_thoughts: true,
        }),
        stream: true,
        parallel_tool_calls: Some(false),
        extra_json: Some(r#"{"metadata":{"user_id":"u"}}"#.into()),
    }
}

#[test]
fn the_ir_round_trips_through_a_real_plugin() {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("echo.wasm"), artifact(test_artifacts::HOSTILE)).unwrap();
    let plugins = plugins_in(&dir);
    let p = plugins.get(WireFormat::Claude);
    assert_eq!(p.version, "0.0.0-hostile");

    let request = sample_request();
    let encoded = p.encode_request(&request).unwrap().unwrap();
    assert_eq!(encoded.path, "/echo");
    let decoded = p.decode_request(&head("/echo"), &encoded.body).unwrap().unwrap();
    assert_eq!(decoded, request);

    let response = ChatResponse {
        id: "msg_1".into(),
        model: "m".into(),
        content: request.messages[1].content.clone(),
        stop_reason: Some(StopReason::ToolUse),
        usage: Usage {
            input: 1,
            output: 2,
            cache_creation5m: 3,
            cache_creation1h: 4,
            cache_read: 5,
            reasoning: 6,
        },
    };
    let body = p.encode_response(&response).unwrap().unwrap();
    assert_eq!(p.decode_response(&body).unwrap().unwrap(), response);

    let events = vec![
        StreamEvent::Start(StreamStart {
            id: "s".into(),
            model: "m".into(),
            usage: response.usage,
        }),
        StreamEvent::BlockStart(BlockStart {
            index: 0,
            kind: BlockKind::ToolCall(ToolCallStart {
                id: "c".into(),
                name: "f".into(),
                signature: None,
            }),
        }),
        StreamEvent::BlockDelta(BlockDelta {
            index: 0,
            delta: DeltaKind::ToolArguments("{\"a\":".into()),
        }),
        StreamEvent::BlockStop(0),
        StreamEvent::Finish(StreamFinish {
            stop_reason: Some(StopReason::ToolUse),
            usage: response.usage,
        }),
        StreamEvent::Error(ErrorInfo {
            class: ErrorClass::Timeout,
            status: 504,
            message: "late".into(),
        }),
    ];
    let encoder = p.open_stream_encoder("m").unwrap();
    let bytes = encoder.encode_push(&events, None, None).unwrap().unwrap().bytes;
    let decoder = p.open_stream_decoder().unwrap();
    let back = decoder
        .decode_push(&SseEvent {
            name: None,
            data: String::from_utf8(bytes).unwrap(),
        })
        .unwrap()
        .unwrap()
        .events;
    assert_eq!(back, events);
    assert!(matches!(
        decoder.decode_push(&SseEvent {
            name: None,
            data: "not json".into()
        }),
        Ok(Err(types::PluginError::InvalidRequest(_)))
    ));
}

#[test]
fn refused_plugins_leave_the_previous_one_serving() {
    let dir = TempDir::new();
    let file = dir.0.join("claude.wasm");
    let example = artifact(test_artifacts::EXAMPLE_MODEL_NAMESPACE);
    std::fs::write(&file, &example).unwrap();
    let plugins = plugins_in(&dir);
    let active = plugins.get(WireFormat::Claude);
    assert_eq!(
        (active.version.as_str(), active.source.to_string()),
        ("1.0.0", file.display().to_string())
    );

    let wrong_contract = patch(&example, b"aether:plugin/format@0.5.0", b"aether:plugin/format@0.9.0");
    let failing_self_test = patch(
        &example,
        br#"{"model": "claude-sonnet-4-5", "model_span""#,
        br#"{"model": "claude-sonnet-4-X", "model_span""#,
    );
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let garbage = b"definitely not wasm".to_vec();
    let truncated = example[..example.len() / 2].to_vec();
    let refusals: [(&str, Vec<u8>, &str); 5] = [
        ("wrong contract", wrong_contract, "aether:plugin/format@0.5.0"),
        ("failing self-test", failing_self_test, "self-test failed"),
        ("core module", core_module, "not a WebAssembly component"),
        ("garbage", garbage, "not a WebAssembly component"),
        ("truncated", truncated, "not a WebAssembly component"),
    ];
    for (what, bytes, reason) in refusals {
        std::fs::write(&file, &bytes).unwrap();
        // Rewritten in the same instant as the previous content: make the change visible.
        let later = std::time::SystemTime::now() + Duration::from_secs(1 + bytes.len() as u64 % 1000);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(plugins.rescan().is_empty(), "{what}: nothing swapped in");
        let still = plugins.get(WireFormat::Claude);
        assert!(Arc::ptr_eq(&still, &active), "{what}: the previous plugin still serves");
        let status = plugins.status();
        let error = status.files[0].error.clone().unwrap_or_default();
        assert!(error.contains(reason), "{what}: {error}");
        assert_eq!(status.files[0].loaded.as_deref(), Some("claude@1.0.0"));
    }
    // Removing the file brings back the built-in plugin.
    std::fs::remove_file(&file).unwrap();
    plugins.rescan();
    assert_eq!(plugins.get(WireFormat::Claude).source.to_string(), "built-in");
}

#[test]
fn a_stream_started_on_v1_finishes_on_v1() {
    let dir = TempDir::new();
    let plugins = plugins_in(&dir);
    let v1 = plugins.get(WireFormat::Claude);
    let tap = v1.open_usage_tap().unwrap();
    let start = SseEvent {
        name: Some("message_start".into()),
        data: r#"{"type":"message_start","message":{"usage":{"input_tokens":12,"output_tokens":1}}}"#.into(),
    };
    tap.tap_push(&[start]).unwrap();

    std::fs::write(dir.0.join("v2.wasm"), artifact(test_artifacts::EXAMPLE_MODEL_NAMESPACE)).unwrap();
    let swapped = plugins.rescan();
    assert_eq!(swapped.len(), 1);
    assert_eq!(plugins.get(WireFormat::Claude).version, "1.0.0");

    let rest = [
        SseEvent {
            name: Some("message_delta".into()),
            data: r#"{"type":"message_delta","usage":{"output_tokens":40}}"#.into(),
        },
        SseEvent {
            name: Some("message_stop".into()),
            data: r#"{"type":"message_stop"}"#.into(),
        },
    ];
    let report = tap.tap_push_and_report(&rest).unwrap();
    assert_eq!(tap.plugin().version, env!("CARGO_PKG_VERSION"), "still on v1");
    assert!(report.completed);
    assert_eq!((report.usage.input, report.usage.output), (12, 40));
}

#[tokio::test]
async fn hostile_plugins_fail_only_their_own_request() {
    let upstream = mock(MockConfig::default()).await;
    let dir = TempDir::new();
    std::fs::write(dir.0.join("hostile.wasm"), artifact(test_artifacts::HOSTILE)).unwrap();
    let toml = config_head()
        + &provider(
            "anthropic",
            "claude",
            upstream.addr(),
            0,
            &[("mock-claude", "mock-claude")],
            "",
        )
        + &format!(
            // The deadline is wall-clock (epoch ticks): the memory bomb needs about 70 ms to
            // reach its cap in a debug build on a quiet machine, and must reach it before the
            // deadline while the other tests of this binary load both cores.
            "[plugins]\ndir = \"{}\"\ncall_timeout_ms = 1000\nmemory_limit_mb = 64\nwatch_interval_ms = 0\n",
            dir.0.display()
        );
    let gw = start_gateway(&toml).await;
    assert_eq!(gw.plugins.get(WireFormat::Claude).version, "0.0.0-hostile");
    let client = Client::new(gw.addr);
    for (model, kind) in [
        ("hostile-loop", "CPU deadline"),
        ("hostile-bomb", "memory limit"),
        ("hostile-trap", "trapped"),
        ("hostile-huge", "unusable result"),
    ] {
        let started = Instant::now();
        let resp = call(&client, "claude", model, false, &[]).await;
        assert_eq!(resp.status, 502, "{model}: {}", resp.text());
        let body = resp.json();
        assert_eq!(body["type"], "error", "Claude's error shape");
        assert_eq!(body["error"]["type"], "api_error");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(kind) && message.contains("claude@0.0.0-hostile"),
            "{model}: {message}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{model} took {:?}",
            started.elapsed()
        );
        let id = resp.header("x-request-id").unwrap().to_owned();
        let record = gw.record(&id).await;
        assert_eq!(record.http_status, Some(502));

        let next = call(&client, "claude", "mock-claude", false, &[]).await;
        assert_eq!(next.status, 200, "after {model}: {}", next.text());
        let stream = call(&client, "claude", "mock-claude", true, &[]).await;
        assert_eq!(stream.status, 200);
    }
    let status = gw.plugins.status();
    let claude = &status.active[0];
    assert_eq!(claude.failures, 4);
    assert!(claude.last_failure.as_deref().unwrap().contains("unusable result"));
}

#[tokio::test]
async fn hot_swaps_under_traffic_fail_no_request() {
    let upstream = mock(MockConfig::default()).await;
    let dir = TempDir::new();
    let toml = config_head()
        + &provider(
            "anthropic",
            "claude",
            upstream.addr(),
            0,
            &[("mock-claude", "mock-claude")],
            "",
        )
        + &format!("[plugins]\ndir = \"{}\"\nwatch_interval_ms = 20\n", dir.0.display());
    let gw = start_gateway(&toml).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let addr = gw.addr;
        load.push(tokio::spawn(async move {
            let client = Client::new(addr);
            while !stop.load(Ordering::Relaxed) {
                // Namespaced names route only through the example plugin; plain ones always do.
                let resp = call(&client, "claude", "mock-claude", worker % 2 == 0, &[]).await;
                if resp.status == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("failed: {} {}", resp.status, resp.text());
                }
            }
        }));
    }
    let file = dir.0.join("claude.wasm");
    let versions = [
        (artifact(test_artifacts::EXAMPLE_MODEL_NAMESPACE), "1.0.0"),
        (artifact(test_artifacts::CLAUDE), env!("CARGO_PKG_VERSION")),
        (artifact(test_artifacts::EXAMPLE_MODEL_NAMESPACE), "1.0.0"),
    ];
    for (bytes, version) in &versions {
        std::fs::write(&file, bytes).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let active = gw.plugins.get(WireFormat::Claude);
            if active.version == *version && active.source.to_string() == file.display().to_string() {
                break;
            }
            assert!(Instant::now() < deadline, "{version} never swapped in");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The example plugin routes namespaced model names.
    let resp = call(&Client::new(gw.addr), "claude", "team-a/mock-claude", false, &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        upstream.requests().last().unwrap().json().unwrap()["model"],
        "mock-claude"
    );
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(
        ok.load(Ordering::Relaxed) > 20,
        "traffic flowed: {}",
        ok.load(Ordering::Relaxed)
    );
}

#[tokio::test]
async fn capabilities_route_and_refuse() {
    let upstream = mock(MockConfig::default()).await;
    let other = mock(MockConfig::default()).await;
    let toml = config_head()
        + &format!(
            "[[providers]]\nname = \"text-only\"\nformat = \"claude\"\nbase_url = \"http://{}\"\ncapabilities = [\"tools\"]\nmodels = {{ m = \"m\" }}\nkeys = [{{ name = \"t\", api_key = \"s1\" }}]\n\n",
            other.addr()
        )
        + &format!(
            "[[providers]]\nname = \"full\"\nformat = \"claude\"\nbase_url = \"http://{}\"\npriority = 1\nmodels = {{ m = \"m\" }}\nkeys = [{{ name = \"plain\", api_key = \"s2\", weight = 100 }}, {{ name = \"big\", api_key = \"s3\", capabilities = [\"context_1m\"] }}]\n\n",
            upstream.addr()
        );
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    let (name, key) = auth("claude");
    let post = |body: serde_json::Value, extra: Vec<(&'static str, &'static str)>| {
        let client = &client;
        let key = key.clone();
        async move {
            let mut headers = vec![(name, key.as_str())];
            headers.extend(extra);
            client
                .post("/v1/messages", &headers, serde_json::to_vec(&body).unwrap())
                .await
        }
    };
    // Plain text: the priority-0 text-only provider.
    let resp = post(
        serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        vec![],
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        gw.record(resp.header("x-request-id").unwrap())
            .await
            .provider
            .as_deref(),
        Some("text-only")
    );
    // An image skips the provider without vision.
    let image = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]}]});
    let resp = post(image, vec![]).await;
    assert_eq!(resp.status, 200);
    let record = gw.record(resp.header("x-request-id").unwrap()).await;
    assert_eq!(
        (record.provider.as_deref(), record.provider_key.as_deref()),
        (Some("full"), Some("plain"))
    );
    // The 1M context beta picks the key that has it, though its weight is 100 times lower.
    let text = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "long"}]});
    let resp = post(text.clone(), vec![("anthropic-beta", "context-1m-2025-08-07")]).await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        gw.record(resp.header("x-request-id").unwrap())
            .await
            .provider_key
            .as_deref(),
        Some("big")
    );
    // Nobody has 1-hour caching: a 400 that names it.
    let resp = post(text.clone(), vec![("x-require-capability", "cache_1h")]).await;
    assert_eq!(resp.status, 400);
    let body = resp.json();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("missing: cache_1h"),
        "{body}"
    );
    let resp = post(text, vec![("x-require-capability", "telepathy")]).await;
    assert_eq!(resp.status, 400);
    assert!(resp.text().contains("telepathy"));
}

#[tokio::test]
async fn the_admin_api_lists_plugins_and_reload_rescans() {
    use aether::admin::Admin;
    use pingora::apps::http_app::HttpServer;

    let dir = TempDir::new();
    std::fs::write(dir.0.join("broken.wasm"), b"nope").unwrap();
    let toml = config_head() + &format!("[plugins]\ndir = \"{}\"\nwatch_interval_ms = 0\n", dir.0.display());
    let gw = start_gateway(&toml).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_addr = listener.local_addr().unwrap();
    let admin = HttpServer::new_app(Admin::new(gw.store.clone()).with_plugins(gw.plugins.clone()));
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(aether::listener::serve(listener, Arc::new(admin), stopped));
    let admin = Client::new(admin_addr);

    let status = admin.request("GET", "/admin/plugins", &[], "").await.json();
    assert_eq!(status["active"].as_array().unwrap().len(), 4);
    assert_eq!(status["active"][0]["format"], "claude");
    assert_eq!(status["active"][0]["source"], "built-in");
    assert!(
        status["files"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly component")
    );
    assert!(status["files"][0]["loaded"].is_null());

    std::fs::write(dir.0.join("ns.wasm"), artifact(test_artifacts::EXAMPLE_MODEL_NAMESPACE)).unwrap();
    let reload = admin.request("POST", "/admin/reload", &[], "").await.json();
    assert_eq!(
        reload["plugins_swapped"],
        serde_json::json!(["claude@1.0.0"]),
        "{reload}"
    );
    let status = admin.request("GET", "/admin/plugins", &[], "").await.json();
    assert_eq!(status["active"][0]["version"], "1.0.0");
    let metrics = admin.request("GET", "/metrics", &[], "").await.text();
    assert!(
        metrics.contains("aether_plugin_failures_total{format=\"claude\",version=\"1.0.0\"} 0"),
        "{metrics}"
    );
    assert!(!status.to_string().contains("sk-"), "no secrets");
}

#[tokio::test]
async fn a_gateway_stream_keeps_its_plugin_through_a_swap() {
    let upstream = mock(MockConfig {
        chunks: 30,
        interval: Duration::from_millis(20),
        ..MockConfig::default()
    })
    .await;
    let dir = TempDir::new();
    let toml = config_head()
        + &provider(
            "anthropic",
            "claude",
            upstream.addr(),
            0,
            &[("mock-claude", "mock-claude")],
            "",
        )
        + &format!("[plugins]\ndir = \"{}\"\nwatch_interval_ms = 0\n", dir.0.display());
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    let (mut session, id) = open_stream(&client, "claude", "mock-claude").await;
    let first = session.read_response_body().await.unwrap();
    assert!(first.is_some());
    // Mid-stream, a new Claude plugin takes over for new requests.
    std::fs::write(dir.0.join("v2.wasm"), artifact(test_artifacts::EXAMPLE_MODEL_NAMESPACE)).unwrap();
    let plugins = gw.plugins.clone();
    let swapped = tokio::task::spawn_blocking(move || plugins.rescan()).await.unwrap();
    assert_eq!(swapped[0].version, "1.0.0");
    let mut body = first.unwrap().to_vec();
    while let Some(chunk) = session.read_response_body().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    assert!(sse_names(&body).contains(&"message_stop".to_string()));
    let record = gw.record(&id).await;
    assert_eq!(record.status, aether::telemetry::record::Status::Completed);
    assert!(
        record.usage.input > 0 && record.usage.output > 0,
        "the v1 tap counted the whole stream: {:?}",
        record.usage
    );
    // New requests run on v2.
    let resp = call(&client, "claude", "acme/mock-claude", false, &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
}

/// The hostile plugin serving Claude, with `shards` stream shards and this memory cap (the
/// directory is kept alive with it).
fn hostile_plugins(shards: usize, memory_bytes: usize) -> (TempDir, Arc<Plugins>) {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("hostile.wasm"), artifact(test_artifacts::HOSTILE)).unwrap();
    let mut settings = PluginSettings {
        dir: Some(dir.0.clone()),
        watch: Watch::Off,
        ..PluginSettings::default()
    };
    settings.limits.stream_shards = shards;
    settings.limits.memory_bytes = memory_bytes;
    let plugins = Plugins::load(settings).unwrap();
    (dir, plugins)
}

#[test]
fn a_trap_in_a_stream_loses_only_the_streams_of_its_shard() {
    let (_dir, plugins) = hostile_plugins(2, 128 << 20);
    let p = plugins.get(WireFormat::Claude);
    // Round-robin over two shards: a and c share one, b has the other.
    let (a, b, c) = (
        p.open_usage_tap().unwrap(),
        p.open_usage_tap().unwrap(),
        p.open_usage_tap().unwrap(),
    );
    let ok = SseEvent {
        name: Some("message_start".into()),
        data: r#"{"type":"message_start","message":{"usage":{"input_tokens":5}}}"#.into(),
    };
    let bomb = SseEvent {
        name: Some("content_block_delta".into()),
        data: "hostile-trap".into(),
    };
    for tap in [&a, &b, &c] {
        tap.tap_push(std::slice::from_ref(&ok)).unwrap();
    }
    let err = a.tap_push(&[bomb]).unwrap_err();
    assert_eq!(err.kind(), "plugin_trap", "{err}");
    assert_eq!(
        c.tap_report().unwrap_err().kind(),
        "plugin_stream_lost",
        "c shared a's shard"
    );
    assert_eq!(
        b.tap_report().unwrap().usage.input,
        5,
        "the other shard's stream carries on"
    );
    // New streams land on both shards, the replaced one included.
    for _ in 0..2 {
        let fresh = p.open_usage_tap().unwrap();
        fresh.tap_push(std::slice::from_ref(&ok)).unwrap();
        assert_eq!(fresh.tap_report().unwrap().usage.input, 5);
    }
}

#[test]
fn a_shard_instance_past_half_its_cap_is_retired_and_its_streams_carry_on() {
    let (_dir, plugins) = hostile_plugins(1, 64 << 20);
    let p = plugins.get(WireFormat::Claude);
    let ok = SseEvent {
        name: Some("message_start".into()),
        data: r#"{"type":"message_start","message":{"usage":{"input_tokens":5}}}"#.into(),
    };
    let grow = SseEvent {
        name: Some("ping".into()),
        data: "hostile-grow".into(),
    };
    let a = p.open_usage_tap().unwrap();
    let b = p.open_usage_tap().unwrap();
    assert_eq!(p.stream_instances(), 1, "one slot: both streams on one instance");
    // a's guest leaks past half the 64 MiB cap: its instance is retired, not trapped.
    for _ in 0..40 {
        a.tap_push(std::slice::from_ref(&grow)).unwrap();
    }
    let c = p.open_usage_tap().unwrap();
    assert_eq!(p.stream_instances(), 2, "the new stream got a fresh instance");
    for tap in [&a, &b, &c] {
        tap.tap_push(std::slice::from_ref(&ok)).unwrap();
        assert_eq!(tap.tap_report().unwrap().usage.input, 5, "every stream carries on");
    }
    drop((a, b));
    assert_eq!(
        p.stream_instances(),
        1,
        "the retired instance went with its last stream"
    );
    c.tap_push(std::slice::from_ref(&ok)).unwrap();
}
