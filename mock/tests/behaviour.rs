//! Server behaviour: header overrides and faults, run-time configuration, request recording,
//! `100-continue`, keep-alive, large bodies, latency and shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use aether_mock::{Fault, MockConfig, Scenario};
use serde_json::json;
use support::{Conn, post, start};

fn claude(stream: bool) -> serde_json::Value {
    json!({"model": "claude-haiku-4-5", "max_tokens": 8, "stream": stream, "messages": [{"role": "user", "content": "Hi"}]})
}

#[tokio::test]
async fn status_override_in_each_shape() {
    let server = start(MockConfig::default()).await;
    let r = post(&server, "/v1/messages", &[("x-mock-status", "429")], &claude(false)).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json(),
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": r.json()["error"]["message"]}})
    );
    let r = post(&server, "/v1/messages", &[("x-mock-status", "529")], &claude(true)).await;
    assert_eq!(r.status, 529);
    assert_eq!(r.json()["error"]["type"], "overloaded_error");

    let r = post(
        &server,
        "/v1/chat/completions",
        &[("x-mock-status", "429")],
        &json!({"model": "m", "messages": []}),
    )
    .await;
    assert_eq!(r.status, 429);
    let err = &r.json()["error"];
    assert!(err["message"].is_string());
    assert_eq!(err["code"], "rate_limit_exceeded");
    assert_eq!(err["param"], serde_json::Value::Null);

    let r = post(
        &server,
        "/v1beta/models/g:generateContent",
        &[("x-mock-status", "503")],
        &json!({"contents": []}),
    )
    .await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"]["status"], "UNAVAILABLE");
}

#[tokio::test]
async fn stream_error_is_the_first_event() {
    let server = start(MockConfig::default()).await;
    let r = post(
        &server,
        "/v1/messages",
        &[("x-mock-fault", "stream-error")],
        &claude(true),
    )
    .await;
    assert_eq!(r.status, 200);
    let events = r.events();
    assert_eq!(events[0].name.as_deref(), Some("error"));
    assert_eq!(events[0].json()["type"], "error");
    assert_eq!(events[0].json()["error"]["type"], "overloaded_error");

    let r = post(
        &server,
        "/v1/messages",
        &[("x-mock-fault", "stream-error")],
        &claude(false),
    )
    .await;
    assert_eq!(r.status, 529);

    let r = post(
        &server,
        "/v1/responses",
        &[("x-mock-fault", "stream-error")],
        &json!({"model": "m", "input": "x", "stream": true}),
    )
    .await;
    let ev = &r.events()[0];
    assert_eq!(ev.name.as_deref(), Some("error"));
    assert_eq!(ev.json()["sequence_number"], 0);
    assert!(ev.json()["code"].is_string());

    let r = post(
        &server,
        "/v1/chat/completions",
        &[("x-mock-fault", "stream-error")],
        &json!({"model": "m", "messages": [], "stream": true}),
    )
    .await;
    assert!(r.events()[0].json()["error"]["message"].is_string());

    let r = post(
        &server,
        "/v1beta/models/g:streamGenerateContent?alt=sse",
        &[("x-mock-fault", "stream-error")],
        &json!({"contents": []}),
    )
    .await;
    assert_eq!(r.events()[0].json()["error"]["code"], 503);
}

#[tokio::test]
async fn reset_mid_stream_cuts_the_body() {
    let server = start(MockConfig::default()).await;
    let r = post(&server, "/v1/messages", &[("x-mock-fault", "reset:3")], &claude(true)).await;
    assert_eq!(r.status, 200);
    assert!(r.chunked);
    assert!(!r.complete, "chunked body must not be terminated");
    let events = r.events();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].name.as_deref(), Some("message_start"));

    // Paced events, reset after the first.
    let r = post(
        &server,
        "/v1/chat/completions",
        &[("x-mock-fault", "reset:1"), ("x-mock-interval-ms", "1")],
        &json!({"model": "m", "messages": [], "stream": true}),
    )
    .await;
    assert!(!r.complete);
    assert_eq!(r.events().len(), 1);

    // Non-streaming: half a body.
    let r = post(&server, "/v1/messages", &[("x-mock-fault", "reset")], &claude(false)).await;
    assert_eq!(r.status, 200);
    assert!(!r.complete);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());
}

#[tokio::test]
async fn hang_never_answers_and_shutdown_closes() {
    let server = start(MockConfig::default()).await;
    let mut conn = Conn::connect(server.addr()).await;
    let body = serde_json::to_vec(&claude(false)).unwrap();
    conn.send_head("POST", "/v1/messages", &[("x-mock-fault", "hang")], body.len())
        .await;
    conn.send_raw(&body).await;
    let waited = tokio::time::timeout(Duration::from_millis(150), conn.read_head()).await;
    assert!(waited.is_err(), "a hanging request got an answer");
    assert_eq!(server.request_count(), 1);
    server.shutdown().await;
    assert!(conn.closed().await);
}

#[tokio::test]
async fn set_config_flips_behaviour() {
    let server = start(MockConfig {
        fault: Fault::Status(503),
        ..MockConfig::default()
    })
    .await;
    let r = post(&server, "/v1/messages", &[], &claude(false)).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"]["type"], "api_error");
    server.set_config(MockConfig::default());
    let r = post(&server, "/v1/messages", &[], &claude(false)).await;
    assert_eq!(r.status, 200);
    // A header still wins over the instance configuration.
    server.set_config(MockConfig {
        scenario: Scenario::ToolCall,
        chunks: 2,
        ..MockConfig::default()
    });
    let r = post(&server, "/v1/messages", &[("x-mock-scenario", "text")], &claude(false)).await;
    assert_eq!(r.json()["content"][0]["type"], "text");
    assert_eq!(r.json()["usage"]["output_tokens"], 4);
}

#[tokio::test]
async fn records_requests() {
    let server = start(MockConfig::default()).await;
    let body = claude(false);
    post(
        &server,
        "/v1/messages?beta=true",
        &[("x-api-key", "sk-test"), ("Anthropic-Version", "2023-06-01")],
        &body,
    )
    .await;
    let log = server.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(server.request_count(), 1);
    let req = &log[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/v1/messages");
    assert_eq!(req.query.as_deref(), Some("beta=true"));
    assert_eq!(req.header("x-api-key"), Some("sk-test"));
    assert!(
        req.headers
            .iter()
            .any(|(k, v)| k == "anthropic-version" && v == "2023-06-01")
    );
    assert_eq!(req.json(), Some(body));
}

#[tokio::test]
async fn expect_continue_then_body() {
    let server = start(MockConfig::default()).await;
    let mut conn = Conn::connect(server.addr()).await;
    let body = serde_json::to_vec(&claude(false)).unwrap();
    conn.send_head("POST", "/v1/messages", &[("expect", "100-continue")], body.len())
        .await;
    let (status, _) = conn.read_head().await;
    assert_eq!(status, 100);
    conn.send_raw(&body).await;
    let r = conn.read_response().await;
    assert_eq!(r.status, 200);
    assert_eq!(server.requests()[0].body.as_ref(), body.as_slice());
}

#[tokio::test]
async fn keep_alive_serves_two_requests_on_one_connection() {
    let server = start(MockConfig::default()).await;
    let mut conn = Conn::connect(server.addr()).await;
    let body = serde_json::to_vec(&claude(true)).unwrap();
    let first = conn.request("POST", "/v1/messages", &[], &body).await;
    assert!(first.complete);
    assert_eq!(first.header("connection"), Some("keep-alive"));
    let second = conn
        .request("POST", "/v1/chat/completions", &[], br#"{"model":"m","messages":[]}"#)
        .await;
    assert_eq!(second.status, 200);
    assert_eq!(second.json()["object"], "chat.completion");
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn large_body_arrives_intact() {
    let server = start(MockConfig::default()).await;
    let filler: String = (0..5 * 1024 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let body = serde_json::to_vec(&json!({"model": "m", "messages": [{"role": "user", "content": filler}]})).unwrap();
    let hash = |bytes: &[u8]| {
        let mut h = DefaultHasher::new();
        bytes.hash(&mut h);
        h.finish()
    };
    let mut conn = Conn::connect(server.addr()).await;
    let r = conn.request("POST", "/v1/chat/completions", &[], &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["usage"]["prompt_tokens"], (body.len() / 4) as u64);
    let recorded = &server.requests()[0].body;
    assert_eq!(recorded.len(), body.len());
    assert_eq!(hash(recorded), hash(&body));
}

#[tokio::test]
async fn latency_and_pacing() {
    let server = start(MockConfig::default()).await;
    let started = Instant::now();
    let r = post(
        &server,
        "/v1/messages",
        &[
            ("x-mock-latency-ms", "40"),
            ("x-mock-ttfb-ms", "20"),
            ("x-mock-interval-ms", "5"),
            ("x-mock-chunks", "3"),
        ],
        &claude(true),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(60));
    let deltas = r
        .events()
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .count();
    assert_eq!(deltas, 3);
}
