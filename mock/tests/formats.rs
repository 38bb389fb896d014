//! The four wire formats, non-streaming and streaming, in every scenario, checked against the
//! providers' real shapes and event sequences.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use aether_mock::MockConfig;
use serde_json::{Value, json};
use support::{names, post, start};

fn claude_body(stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"name": "lookup", "input_schema": {"type": "object"}}]
    })
}

#[tokio::test]
async fn claude_message() {
    let server = start(MockConfig::default()).await;
    let resp = post(&server, "/v1/messages", &[], &claude_body(false)).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert!(resp.header("request-id").is_some());
    let v = resp.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["content"][0]["type"], "text");
    assert!(!v["content"][0]["text"].as_str().unwrap().is_empty());
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["output_tokens"], 10);
    assert!(v["usage"]["input_tokens"].as_u64().unwrap() >= 1);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 0);
    assert!(v["usage"]["cache_creation"]["ephemeral_5m_input_tokens"].is_u64());
}

#[tokio::test]
async fn claude_stream_text() {
    let server = start(MockConfig::default()).await;
    let resp = post(&server, "/v1/messages", &[], &claude_body(true)).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert!(resp.chunked && resp.complete);
    let events = resp.events();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(["content_block_delta"; 5]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names(&events), expected);
    for e in &events {
        assert_eq!(e.json()["type"], e.name.clone().unwrap());
    }
    let start = events[0].json();
    let message = &start["message"];
    assert_eq!(message["model"], "claude-sonnet-4-5");
    assert_eq!(message["content"], json!([]));
    assert_eq!(message["stop_reason"], Value::Null);
    assert_eq!(message["usage"]["output_tokens"], 1);
    for key in ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"] {
        assert!(message["usage"][key].is_u64(), "{key}");
    }
    assert_eq!(message["usage"]["cache_creation"]["ephemeral_1h_input_tokens"], 0);
    let text: String = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .map(|e| {
            let v = e.json();
            assert_eq!(v["delta"]["type"], "text_delta");
            v["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    let whole = post(&server, "/v1/messages", &[], &claude_body(false)).await.json();
    assert_eq!(text, whole["content"][0]["text"]);
    let delta = events[events.len() - 2].json();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 10);
}

#[tokio::test]
async fn claude_stream_thinking_and_tools() {
    let server = start(MockConfig::default()).await;
    let resp = post(
        &server,
        "/v1/messages",
        &[("x-mock-scenario", "thinking")],
        &claude_body(true),
    )
    .await;
    let events = resp.events();
    let deltas: Vec<String> = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .map(|e| e.json()["delta"]["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(deltas[0], "thinking_delta");
    assert!(deltas.contains(&"signature_delta".to_owned()));
    assert_eq!(deltas.last().unwrap(), "text_delta");
    assert_eq!(events[1].json()["content_block"]["type"], "thinking");

    let resp = post(
        &server,
        "/v1/messages",
        &[("x-mock-scenario", "tool_call")],
        &claude_body(true),
    )
    .await;
    let events = resp.events();
    let block = events[1].json();
    assert_eq!(block["content_block"]["type"], "tool_use");
    assert_eq!(block["content_block"]["name"], "lookup");
    let args: String = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .map(|e| e.json()["delta"]["partial_json"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&args).unwrap(), json!({"city": "Paris"}));
    let delta = events[events.len() - 2].json();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");

    let whole = post(
        &server,
        "/v1/messages",
        &[("x-mock-scenario", "thinking")],
        &claude_body(false),
    )
    .await
    .json();
    assert_eq!(whole["content"][0]["type"], "thinking");
    assert!(whole["content"][0]["signature"].as_str().unwrap().len() > 10);
    assert_eq!(whole["content"][1]["type"], "text");
}

#[tokio::test]
async fn claude_cache_and_count_tokens() {
    let server = start(MockConfig::default()).await;
    let mut body = claude_body(false);
    body["system"] =
        json!([{"type": "text", "text": "You are terse. ".repeat(40), "cache_control": {"type": "ephemeral"}}]);
    let v = post(&server, "/v1/messages", &[], &body).await.json();
    assert!(v["usage"]["cache_read_input_tokens"].as_u64().unwrap() > 0);
    assert!(v["usage"]["cache_creation_input_tokens"].as_u64().unwrap() > 0);

    let v = post(&server, "/v1/messages/count_tokens", &[], &body).await.json();
    assert!(v["input_tokens"].as_u64().unwrap() > 100);
}

fn chat_body(stream: bool, include_usage: bool) -> Value {
    let mut body = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": stream
    });
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

#[tokio::test]
async fn chat_completion() {
    let server = start(MockConfig::default()).await;
    let resp = post(&server, "/v1/chat/completions", &[], &chat_body(false, false)).await;
    assert_eq!(resp.status, 200);
    assert!(resp.header("x-request-id").is_some());
    let v = resp.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert!(v["choices"][0]["message"]["content"].is_string());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let usage = &v["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );

    let v = post(
        &server,
        "/v1/chat/completions",
        &[("x-mock-scenario", "tool_call")],
        &chat_body(false, false),
    )
    .await
    .json();
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn chat_stream() {
    let server = start(MockConfig::default()).await;
    let resp = post(&server, "/v1/chat/completions", &[], &chat_body(true, true)).await;
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let events = resp.events();
    assert!(events.iter().all(|e| e.name.is_none()));
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| e.json()).collect();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "gpt-4o-mini");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert!(usage_chunk["usage"]["prompt_tokens"].as_u64().unwrap() >= 1);
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["usage"], Value::Null);
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!text.is_empty());

    // Without include_usage: no usage chunk, no usage key.
    let events = post(&server, "/v1/chat/completions", &[], &chat_body(true, false))
        .await
        .events();
    let last = events[events.len() - 2].json();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(last.get("usage").is_none());

    // Tool call arguments arrive in several deltas.
    let events = post(
        &server,
        "/v1/chat/completions",
        &[("x-mock-scenario", "tool_call")],
        &chat_body(true, false),
    )
    .await
    .events();
    let args: String = events[..events.len() - 1]
        .iter()
        .filter_map(|e| {
            e.json()["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(args, r#"{"city":"Paris"}"#);

    // Thinking arrives as reasoning_content before content.
    let events = post(
        &server,
        "/v1/chat/completions",
        &[("x-mock-scenario", "thinking")],
        &chat_body(true, false),
    )
    .await
    .events();
    assert!(events[1].json()["choices"][0]["delta"]["reasoning_content"].is_string());
}

#[tokio::test]
async fn openai_deltas_carry_obfuscation_unless_turned_off() {
    let server = start(MockConfig::default()).await;
    // Chat: every chunk with a choice is padded, the usage chunk is not; the padding varies.
    let events = post(&server, "/v1/chat/completions", &[], &chat_body(true, true))
        .await
        .events();
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| e.json()).collect();
    let pads: Vec<&str> = chunks[..chunks.len() - 1]
        .iter()
        .map(|c| c["obfuscation"].as_str().expect("a padded chunk"))
        .collect();
    assert!(pads.iter().all(|p| !p.is_empty()));
    assert!(pads.windows(2).any(|w| w[0] != w[1]), "{pads:?}");
    assert!(chunks.last().unwrap().get("obfuscation").is_none());
    let mut off = chat_body(true, true);
    off["stream_options"]["include_obfuscation"] = json!(false);
    let events = post(&server, "/v1/chat/completions", &[], &off).await.events();
    assert!(
        events[..events.len() - 1]
            .iter()
            .all(|e| e.json().get("obfuscation").is_none())
    );

    // Responses: the delta events are padded, the others not.
    let events = post(&server, "/v1/responses", &[], &responses_body(true))
        .await
        .events();
    for e in &events {
        let delta = e.name.as_deref().is_some_and(|n| n.ends_with(".delta"));
        assert_eq!(e.json()["obfuscation"].is_string(), delta, "{:?}", e.name);
    }
    let mut off = responses_body(true);
    off["stream_options"] = json!({"include_obfuscation": false});
    let events = post(&server, "/v1/responses", &[], &off).await.events();
    assert!(events.iter().all(|e| e.json().get("obfuscation").is_none()));
}

fn responses_body(stream: bool) -> Value {
    json!({"model": "gpt-5", "input": "Hi", "stream": stream, "tools": [{"type": "function", "name": "search", "parameters": {}}]})
}

#[tokio::test]
async fn responses_non_stream() {
    let server = start(MockConfig::default()).await;
    let v = post(&server, "/v1/responses", &[], &responses_body(false)).await.json();
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["model"], "gpt-5");
    assert_eq!(v["output"][0]["type"], "message");
    assert_eq!(v["output"][0]["content"][0]["type"], "output_text");
    let usage = &v["usage"];
    assert!(usage["input_tokens_details"]["cached_tokens"].is_u64());
    assert!(usage["input_tokens_details"]["cache_write_tokens"].is_u64());
    assert!(usage["output_tokens_details"]["reasoning_tokens"].is_u64());
    assert!(usage["total_tokens"].is_u64());

    let v = post(
        &server,
        "/v1/responses",
        &[("x-mock-scenario", "tool_call")],
        &responses_body(false),
    )
    .await
    .json();
    assert_eq!(v["output"][0]["type"], "function_call");
    assert_eq!(v["output"][0]["name"], "search");
}

#[tokio::test]
async fn responses_stream() {
    let server = start(MockConfig::default()).await;
    let events = post(&server, "/v1/responses", &[], &responses_body(true))
        .await
        .events();
    let mut expected = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    expected.extend(["response.output_text.delta"; 5]);
    expected.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(names(&events), expected);
    for (i, e) in events.iter().enumerate() {
        let v = e.json();
        assert_eq!(v["type"], e.name.clone().unwrap());
        assert_eq!(v["sequence_number"], i);
    }
    let done = events.last().unwrap().json();
    let usage = &done["response"]["usage"];
    for key in ["input_tokens", "output_tokens", "total_tokens"] {
        assert!(usage[key].is_u64(), "{key}");
    }
    assert!(usage["input_tokens_details"]["cached_tokens"].is_u64());
    assert!(usage["input_tokens_details"]["cache_write_tokens"].is_u64());
    assert!(usage["output_tokens_details"]["reasoning_tokens"].is_u64());

    let events = post(
        &server,
        "/v1/responses",
        &[("x-mock-scenario", "thinking")],
        &responses_body(true),
    )
    .await
    .events();
    let names = names(&events);
    assert!(names.contains(&"response.reasoning_summary_text.delta".to_owned()));
    let done = events.last().unwrap().json();
    assert_eq!(done["response"]["output"][0]["type"], "reasoning");
    assert!(
        done["response"]["usage"]["output_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

fn gemini_body() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]})
}

#[tokio::test]
async fn gemini_generate() {
    let server = start(MockConfig::default()).await;
    let v = post(
        &server,
        "/v1beta/models/gemini-2.5-flash:generateContent",
        &[],
        &gemini_body(),
    )
    .await
    .json();
    assert_eq!(v["modelVersion"], "gemini-2.5-flash");
    assert!(v["responseId"].is_string());
    let cand = &v["candidates"][0];
    assert_eq!(cand["content"]["role"], "model");
    assert!(cand["content"]["parts"][0]["text"].is_string());
    assert_eq!(cand["finishReason"], "STOP");
    let usage = &v["usageMetadata"];
    assert_eq!(
        usage["totalTokenCount"].as_u64().unwrap(),
        usage["promptTokenCount"].as_u64().unwrap() + usage["candidatesTokenCount"].as_u64().unwrap()
    );

    let v = post(
        &server,
        "/v1/models/gemini-2.5-pro:generateContent",
        &[("x-mock-scenario", "thinking")],
        &gemini_body(),
    )
    .await
    .json();
    let parts = &v["candidates"][0]["content"]["parts"];
    assert_eq!(parts[0]["thought"], true);
    assert!(parts[0]["thoughtSignature"].is_string());
    assert!(v["usageMetadata"]["thoughtsTokenCount"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn gemini_stream_sse_and_array() {
    let server = start(MockConfig::default()).await;
    let resp = post(
        &server,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &[],
        &gemini_body(),
    )
    .await;
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let events = resp.events();
    assert_eq!(events.len(), 5);
    for (i, e) in events.iter().enumerate() {
        let v = e.json();
        assert_eq!(v["modelVersion"], "gemini-2.5-flash");
        let finish = &v["candidates"][0]["finishReason"];
        assert_eq!(finish.is_null(), i + 1 < events.len());
    }
    let last = events.last().unwrap().json();
    assert!(last["usageMetadata"]["candidatesTokenCount"].as_u64().unwrap() > 0);

    let resp = post(
        &server,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        &[("x-mock-scenario", "tool_call")],
        &json!({"contents": [], "tools": [{"functionDeclarations": [{"name": "f"}]}]}),
    )
    .await;
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let array = resp.json();
    let call = &array[0]["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "f");
    assert_eq!(call["args"], json!({"city": "Paris"}));
}

#[tokio::test]
async fn model_lists_and_not_found() {
    let server = start(MockConfig::default()).await;
    let mut conn = support::Conn::connect(server.addr()).await;
    let v = conn.request("GET", "/v1/models", &[], b"").await.json();
    assert_eq!(v["object"], "list");
    assert!(v["data"].as_array().unwrap().len() > 1);
    let v = conn
        .request("GET", "/v1/models", &[("anthropic-version", "2023-06-01")], b"")
        .await
        .json();
    assert_eq!(v["data"][0]["type"], "model");
    let resp = conn.request("GET", "/nope", &[], b"").await;
    assert_eq!(resp.status, 404);
    assert!(resp.json()["error"]["message"].is_string());
}

#[tokio::test]
async fn malformed_json_is_400_in_each_shape() {
    let server = start(MockConfig::default()).await;
    let mut conn = support::Conn::connect(server.addr()).await;
    let r = conn.request("POST", "/v1/messages", &[], b"{oops").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["type"], "error");
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    let r = conn.request("POST", "/v1/chat/completions", &[], b"{oops").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    assert_eq!(r.json()["error"]["param"], Value::Null);
    let r = conn
        .request("POST", "/v1beta/models/g:generateContent", &[], b"{oops")
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(r.json()["error"]["code"], 400);
}
