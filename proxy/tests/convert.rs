//! Cross-format conversion end to end: every client format against an upstream of every
//! other format (the mock, speaking the providers' real shapes), streaming and not, text and
//! tool calls; upstream errors in the client's shape with the upstream's status; a stream
//! that breaks after it started; one usage record per request with the upstream's tokens.

// The answer readers below are test helpers, not tests: a malformed answer should panic there.
#![allow(clippy::unwrap_used)]

mod common;

use aether::telemetry::record::Status;
use aether_mock::MockConfig;
use common::*;
use serde_json::{Value, json};

const FORMATS: [&str; 4] = ["claude", "openai-chat", "openai-responses", "gemini"];

/// The client-facing model served by the provider of `format`.
fn model_of(format: &str) -> String {
    format!("m-{format}")
}

/// One provider per format, each serving `m-<format>` as `up-<format>`; `extra` config
/// after them.
async fn setup_with(extra: &str) -> (aether_mock::MockServer, TestGateway) {
    let upstream = mock(MockConfig::default()).await;
    let mut toml = config_head();
    for format in FORMATS {
        let model = model_of(format);
        toml.push_str(&provider(
            format,
            format,
            upstream.addr(),
            0,
            &[(&model, &format!("up-{format}"))],
            "",
        ));
    }
    toml.push_str(extra);
    // The error-shape tests provoke 429s from the one key of each format.
    (upstream, start_gateway(&common::no_cooldown(&toml)).await)
}

async fn setup() -> (aether_mock::MockServer, TestGateway) {
    setup_with("").await
}

/// Every (client, upstream) pair of different formats.
fn pairs() -> impl Iterator<Item = (&'static str, &'static str)> {
    FORMATS
        .into_iter()
        .flat_map(|c| FORMATS.into_iter().map(move |u| (c, u)))
        .filter(|(c, u)| c != u)
}

/// A request of `format` with one tool, `get_weather`.
fn tool_request(format: &str, model: &str, stream: bool) -> (String, Value) {
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let (path, mut body) = request_for(format, model, stream);
    match format {
        "claude" => body["tools"] = json!([{"name": "get_weather", "description": "Weather", "input_schema": schema}]),
        "openai-chat" => {
            body["tools"] = json!([{"type": "function", "function": {"name": "get_weather", "parameters": schema}}])
        }
        "openai-responses" => {
            body["tools"] = json!([{"type": "function", "name": "get_weather", "parameters": schema}])
        }
        _ => body["tools"] = json!([{"functionDeclarations": [{"name": "get_weather", "parameters": schema}]}]),
    }
    (path, body)
}

async fn send(client: &Client, format: &str, path: &str, body: &Value, extra: &[(&str, &str)]) -> Resp {
    let (name, value) = auth(format);
    let mut headers = vec![(name, value.as_str()), ("content-type", "application/json")];
    headers.extend_from_slice(extra);
    client.post(path, &headers, serde_json::to_vec(body).unwrap()).await
}

/// What a client parsed out of an answer: its text, its tool calls (name, arguments) and
/// its stop reason, in the client format's own words.
#[derive(Debug, Default)]
struct Answer {
    text: String,
    calls: Vec<(String, Value)>,
    stop: String,
}

fn parse_args(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("tool arguments {text:?} are not JSON: {e}"))
}

/// A whole body, as each client format's SDK reads it.
fn read_body(format: &str, body: &Value) -> Answer {
    let mut a = Answer::default();
    match format {
        "claude" => {
            for block in body["content"].as_array().unwrap() {
                match block["type"].as_str().unwrap() {
                    "text" => a.text += block["text"].as_str().unwrap(),
                    "tool_use" => a
                        .calls
                        .push((block["name"].as_str().unwrap().into(), block["input"].clone())),
                    _ => {}
                }
            }
            a.stop = body["stop_reason"].as_str().unwrap().into();
        }
        "openai-chat" => {
            let choice = &body["choices"][0];
            a.text = choice["message"]["content"].as_str().unwrap_or_default().into();
            for call in choice["message"]["tool_calls"].as_array().into_iter().flatten() {
                let f = &call["function"];
                a.calls.push((
                    f["name"].as_str().unwrap().into(),
                    parse_args(f["arguments"].as_str().unwrap()),
                ));
            }
            a.stop = choice["finish_reason"].as_str().unwrap().into();
        }
        "openai-responses" => {
            for item in body["output"].as_array().unwrap() {
                match item["type"].as_str().unwrap() {
                    "message" => {
                        for part in item["content"].as_array().unwrap() {
                            a.text += part["text"].as_str().unwrap_or_default();
                        }
                    }
                    "function_call" => a.calls.push((
                        item["name"].as_str().unwrap().into(),
                        parse_args(item["arguments"].as_str().unwrap()),
                    )),
                    _ => {}
                }
            }
            a.stop = body["status"].as_str().unwrap().into();
        }
        _ => {
            let candidate = &body["candidates"][0];
            for part in candidate["content"]["parts"].as_array().into_iter().flatten() {
                if let Some(t) = part["text"].as_str()
                    && part["thought"] != true
                {
                    a.text += t;
                }
                if let Some(call) = part.get("functionCall") {
                    a.calls
                        .push((call["name"].as_str().unwrap().into(), call["args"].clone()));
                }
            }
            if let Some(stop) = candidate["finishReason"].as_str() {
                a.stop = stop.into();
            }
        }
    }
    a
}

/// A stream, assembled event by event as each client format's SDK does, after checking the
/// events come in the format's order.
fn read_stream(format: &str, body: &[u8]) -> Answer {
    let data = sse_data(body);
    let mut a = Answer::default();
    match format {
        "claude" => {
            let names = sse_names(body);
            assert_eq!(names.first().map(String::as_str), Some("message_start"), "{names:?}");
            assert_eq!(names.last().map(String::as_str), Some("message_stop"), "{names:?}");
            let mut args = String::new();
            for d in &data {
                let e: Value = serde_json::from_str(d).unwrap();
                match e["type"].as_str().unwrap() {
                    "content_block_start" if e["content_block"]["type"] == "tool_use" => {
                        a.calls
                            .push((e["content_block"]["name"].as_str().unwrap().into(), Value::Null));
                        args.clear();
                    }
                    "content_block_start" if e["content_block"]["type"] == "text" => {
                        assert_eq!(e["content_block"]["text"], "", "{e}");
                    }
                    "content_block_delta" => match e["delta"]["type"].as_str().unwrap() {
                        "text_delta" => a.text += e["delta"]["text"].as_str().unwrap(),
                        "input_json_delta" => args += e["delta"]["partial_json"].as_str().unwrap(),
                        _ => {}
                    },
                    "content_block_stop" => {
                        if let Some(last) = a.calls.last_mut()
                            && last.1.is_null()
                        {
                            last.1 = parse_args(&args);
                        }
                    }
                    "message_delta" => {
                        a.stop = e["delta"]["stop_reason"].as_str().unwrap().into();
                        assert!(e["usage"]["output_tokens"].as_u64().unwrap() > 0, "{e}");
                    }
                    _ => {}
                }
            }
        }
        "openai-chat" => {
            assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
            let mut args: Vec<(String, String)> = Vec::new();
            for d in &data[..data.len() - 1] {
                let e: Value = serde_json::from_str(d).unwrap();
                assert_eq!(e["object"], "chat.completion.chunk");
                let Some(choice) = e["choices"].get(0) else { continue };
                a.text += choice["delta"]["content"].as_str().unwrap_or_default();
                for call in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
                    let i = call["index"].as_u64().unwrap() as usize;
                    if i == args.len() {
                        args.push((call["function"]["name"].as_str().unwrap().into(), String::new()));
                    }
                    args[i].1 += call["function"]["arguments"].as_str().unwrap_or_default();
                }
                if let Some(stop) = choice["finish_reason"].as_str() {
                    a.stop = stop.into();
                }
            }
            a.calls = args.into_iter().map(|(n, s)| (n, parse_args(&s))).collect();
        }
        "openai-responses" => {
            let names = sse_names(body);
            assert_eq!(names.first().map(String::as_str), Some("response.created"), "{names:?}");
            assert_eq!(
                names.last().map(String::as_str),
                Some("response.completed"),
                "{names:?}"
            );
            for (i, d) in data.iter().enumerate() {
                let e: Value = serde_json::from_str(d).unwrap();
                assert_eq!(e["sequence_number"], i, "{e}");
                match e["type"].as_str().unwrap() {
                    "response.output_text.delta" => a.text += e["delta"].as_str().unwrap(),
                    "response.completed" => {
                        let done = read_body(format, &e["response"]);
                        a.calls = done.calls;
                        a.stop = done.stop;
                        assert!(e["response"]["usage"]["output_tokens"].as_u64().unwrap() > 0, "{e}");
                    }
                    _ => {}
                }
            }
        }
        _ => {
            for d in &data {
                let chunk: Value = serde_json::from_str(d).unwrap();
                let part = read_body(format, &chunk);
                a.text += &part.text;
                a.calls.extend(part.calls);
                if !part.stop.is_empty() {
                    a.stop = part.stop;
                    assert!(
                        chunk["usageMetadata"]["totalTokenCount"].as_u64().unwrap() > 0,
                        "{chunk}"
                    );
                }
            }
        }
    }
    a
}

/// The stop reason a client of `format` sees after a tool call.
fn tool_stop(format: &str) -> &'static str {
    match format {
        "claude" => "tool_use",
        "openai-chat" => "tool_calls",
        "openai-responses" => "completed",
        _ => "STOP",
    }
}

#[tokio::test]
async fn every_pair_converts_text_and_tool_calls_streamed_and_not() {
    let (upstream, gw) = setup().await;
    let client = Client::new(gw.addr);
    for (client_format, upstream_format) in pairs() {
        let model = model_of(upstream_format);
        let pair = format!("{client_format} client, {upstream_format} upstream");
        for stream in [false, true] {
            let (path, body) = request_for(client_format, &model, stream);
            let resp = send(&client, client_format, &path, &body, &[]).await;
            assert_eq!(resp.status, 200, "{pair}: {}", resp.text());
            let answer = if stream {
                read_stream(client_format, &resp.body)
            } else {
                read_body(client_format, &resp.json())
            };
            assert!(
                !answer.text.is_empty(),
                "{pair}, stream {stream}: no text: {}",
                resp.text()
            );
            assert!(answer.calls.is_empty(), "{pair}");
            assert!(
                !resp.text().contains(&format!("up-{upstream_format}")),
                "{pair}: the upstream's model name leaked: {}",
                resp.text()
            );

            let record = gw.record(resp.header("x-request-id").unwrap()).await;
            assert_eq!(record.status, Status::Completed, "{pair}: {record:?}");
            assert_eq!(
                record.upstream_format.map(|f| f.to_string()).as_deref(),
                Some(upstream_format)
            );
            assert!(
                record.usage.input > 0 && record.usage.output > 0,
                "{pair}: {:?}",
                record.usage
            );

            let (path, body) = tool_request(client_format, &model, stream);
            let resp = send(
                &client,
                client_format,
                &path,
                &body,
                &[("x-mock-scenario", "tool_call")],
            )
            .await;
            assert_eq!(resp.status, 200, "{pair}: {}", resp.text());
            let answer = if stream {
                read_stream(client_format, &resp.body)
            } else {
                read_body(client_format, &resp.json())
            };
            assert_eq!(
                answer.calls,
                vec![("get_weather".to_owned(), json!({"city": "Paris"}))],
                "{pair}, stream {stream}: {}",
                resp.text()
            );
            assert_eq!(answer.stop, tool_stop(client_format), "{pair}, stream {stream}");
        }
    }
    // The upstream saw requests in its own format, under its own model names and paths.
    for r in upstream.requests() {
        let body = r.json().unwrap();
        if r.path.starts_with("/v1beta/models/") {
            assert!(r.path.starts_with("/v1beta/models/up-gemini:"), "{}", r.path);
            assert!(body["contents"].is_array(), "{body}");
        } else {
            assert!(body["model"].as_str().unwrap().starts_with("up-"), "{body}");
        }
        if r.path == "/v1/chat/completions" && body["stream"] == true {
            assert_eq!(body["stream_options"]["include_usage"], true, "{body}");
        }
    }
}

#[tokio::test]
async fn upstream_errors_reach_each_client_in_its_shape_with_the_upstream_status() {
    // Many errors in a row from each provider: keep the circuits closed.
    let (_upstream, gw) = setup_with("[circuit_breaker]\nmin_requests = 1000\n").await;
    let client = Client::new(gw.addr);
    for (client_format, upstream_format) in pairs() {
        let model = model_of(upstream_format);
        let pair = format!("{client_format} client, {upstream_format} upstream");
        // A rate limit: failed over, then answered as the client's own 429.
        let resp = call(&client, client_format, &model, false, &[("x-mock-status", "429")]).await;
        assert_eq!(resp.status, 429, "{pair}: {}", resp.text());
        let body = resp.json();
        match client_format {
            "claude" => assert_eq!(body["error"]["type"], "rate_limit_error", "{pair}: {body}"),
            "gemini" => assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED", "{pair}: {body}"),
            _ => assert!(body["error"]["message"].is_string(), "{pair}: {body}"),
        }
        // The client's fault, relayed without failover: converted, same status.
        let resp = call(&client, client_format, &model, false, &[("x-mock-status", "400")]).await;
        assert_eq!(resp.status, 400, "{pair}: {}", resp.text());
        let body = resp.json();
        match client_format {
            "claude" => assert_eq!(body["error"]["type"], "invalid_request_error", "{pair}: {body}"),
            "gemini" => assert_eq!(body["error"]["status"], "INVALID_ARGUMENT", "{pair}: {body}"),
            _ => assert_eq!(body["error"]["type"], "invalid_request_error", "{pair}: {body}"),
        }
        // A stream that fails before it starts is an HTTP error too.
        let resp = call(&client, client_format, &model, true, &[("x-mock-status", "429")]).await;
        assert_eq!(resp.status, 429, "{pair}: {}", resp.text());
    }
}

#[tokio::test]
async fn a_converted_stream_that_breaks_ends_with_the_clients_error_event() {
    let (_upstream, gw) = setup().await;
    let client = Client::new(gw.addr);
    for (client_format, upstream_format) in pairs() {
        let model = model_of(upstream_format);
        let pair = format!("{client_format} client, {upstream_format} upstream");
        let (path, body) = request_for(client_format, &model, true);
        let (name, value) = auth(client_format);
        let headers = [(name, value.as_str()), ("x-mock-fault", "reset:3")];
        let mut session = client
            .open("POST", &path, &headers, serde_json::to_vec(&body).unwrap().into())
            .await;
        let head = session.response_header().unwrap();
        assert_eq!(head.status.as_u16(), 200, "{pair}");
        let id = head.headers.get("x-request-id").unwrap().to_str().unwrap().to_owned();
        let mut received = Vec::new();
        let cut = loop {
            match session.read_response_body().await {
                Ok(Some(b)) => received.extend_from_slice(&b),
                Ok(None) => break false,
                Err(_) => break true,
            }
        };
        assert!(cut, "{pair}: the stream must not end cleanly");
        let text = String::from_utf8_lossy(&received).into_owned();
        match client_format {
            "claude" => assert!(text.contains("event: error"), "{pair}: {text}"),
            "openai-responses" => {
                let names = sse_names(&received);
                assert_eq!(
                    names.first().map(String::as_str),
                    Some("response.created"),
                    "{pair}: {names:?}"
                );
                assert!(names.iter().any(|n| n == "response.failed"), "{pair}: {names:?}");
            }
            _ => assert!(text.contains("\"error\""), "{pair}: {text}"),
        }
        assert!(
            !text.contains("[DONE]"),
            "{pair}: a broken stream must not look complete"
        );
        let record = gw.record(&id).await;
        assert_eq!(record.status, Status::Failed, "{pair}: {record:?}");
        // The tokens seen before the break are billed: Claude's `message_start` and every
        // Gemini chunk carry the input, as the upstream plugin's decoder reported it.
        // (OpenAI formats report usage only at the end.)
        if matches!(upstream_format, "claude" | "gemini") {
            assert!(record.usage.input > 0, "{pair}: {:?}", record.usage);
        }
    }
}

#[tokio::test]
async fn a_request_the_client_plugin_cannot_read_is_a_400_in_the_clients_shape() {
    let (_upstream, gw) = setup().await;
    let client = Client::new(gw.addr);
    // Responses' previous_response_id needs state the gateway does not keep.
    let body = json!({"model": model_of("claude"), "input": "Hi", "previous_response_id": "resp_1"});
    let resp = send(&client, "openai-responses", "/v1/responses", &body, &[]).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.json()["error"]["type"], "invalid_request_error", "{}", resp.text());
    // Same-format traffic is relayed untouched: the field goes through.
    let body = json!({"model": model_of("openai-responses"), "input": "Hi", "previous_response_id": "resp_1"});
    let resp = send(&client, "openai-responses", "/v1/responses", &body, &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
}

#[tokio::test]
async fn failover_between_converted_candidates_sends_each_its_own_model_name() {
    let failing = mock(MockConfig {
        fault: aether_mock::Fault::Status(503),
        ..MockConfig::default()
    })
    .await;
    let healthy = mock(MockConfig::default()).await;
    let toml = config_head()
        + &provider("first", "openai-chat", failing.addr(), 0, &[("m", "gpt-up")], "")
        + &provider("second", "gemini", healthy.addr(), 1, &[("m", "gemini-up")], "");
    let gw = start_gateway(&toml).await;
    let (path, body) = tool_request("claude", "m", false);
    let resp = send(&Client::new(gw.addr), "claude", &path, &body, &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["model"], "m", "the client sees its own model name");
    let first: Value = serde_json::from_slice(&failing.requests()[0].body).unwrap();
    assert_eq!(first["model"], "gpt-up");
    let second = &healthy.requests()[0];
    assert!(second.path.contains("/models/gemini-up:"), "{}", second.path);
    let second: Value = serde_json::from_slice(&second.body).unwrap();
    assert_eq!(
        second["tools"][0]["functionDeclarations"][0]["name"], "get_weather",
        "the one decoded request, encoded again for the second candidate"
    );
}
