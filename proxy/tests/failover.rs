//! Failover: every trigger moves on to the next candidate, the client's own 4xx does not,
//! all-failed is a 503 in the client's shape, large bodies survive every hop, circuits
//! open and close, and a client that goes away cancels the upstream.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::time::Duration;

use aether_mock::{Fault, MockConfig};
use common::*;
use sha2::{Digest, Sha256};

fn failing(fault: Fault) -> MockConfig {
    MockConfig {
        fault,
        ..MockConfig::default()
    }
}

#[tokio::test]
async fn five_mib_body_fails_over_dead_then_429_then_200_intact() {
    let dead = dead_addr().await;
    let limited = mock(failing(Fault::Status(429))).await;
    let healthy = mock(MockConfig::default()).await;
    let toml = config_head()
        + &provider("dead", "claude", dead, 0, &[("m", "m")], "")
        + &provider("limited", "claude", limited.addr(), 1, &[("m", "m")], "")
        + &provider("healthy", "claude", healthy.addr(), 2, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;

    let filler = "x".repeat(5 * 1024 * 1024);
    let body = serde_json::to_vec(&serde_json::json!({
        "model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": filler}],
    }))
    .unwrap();
    let resp = Client::new(gw.addr)
        .post("/v1/messages", &[("x-api-key", DEMO_KEY)], body.clone())
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(limited.request_count(), 1);
    let got = &healthy.requests()[0].body;
    assert_eq!(got.len(), body.len());
    assert_eq!(Sha256::digest(got), Sha256::digest(&body), "the body arrived intact");
    assert_eq!(Sha256::digest(&limited.requests()[0].body), Sha256::digest(&body));
}

/// A primary failing as `fault` describes and a healthy backup: (status, primary hits, backup hits).
async fn primary_then_backup(fault: Fault, format: &str) -> (u16, usize, usize) {
    let primary = mock(failing(fault)).await;
    let backup = mock(MockConfig::default()).await;
    let toml = config_head()
        + &provider("primary", format, primary.addr(), 0, &[("m", "m")], "")
        + &provider("backup", format, backup.addr(), 1, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let resp = call(&Client::new(gw.addr), format, "m", true, &[]).await;
    (resp.status, primary.request_count(), backup.request_count())
}

#[tokio::test]
async fn every_upstream_failure_fails_over() {
    for status in [429, 500, 502, 503, 529, 401, 403, 404] {
        let (got, primary, backup) = primary_then_backup(Fault::Status(status), "claude").await;
        assert_eq!((got, primary, backup), (200, 1, 1), "HTTP {status} must fail over");
    }
    for format in ["claude", "openai-chat", "openai-responses", "gemini"] {
        let (got, primary, backup) = primary_then_backup(Fault::StreamError, format).await;
        assert_eq!(
            (got, primary, backup),
            (200, 1, 1),
            "{format}: an error as the first stream event must fail over"
        );
    }
}

#[tokio::test]
async fn first_byte_timeout_fails_over() {
    let slow = mock(MockConfig {
        latency: Duration::from_secs(5),
        ..MockConfig::default()
    })
    .await;
    let slow_stream = mock(MockConfig {
        ttfb: Duration::from_secs(5),
        ..MockConfig::default()
    })
    .await;
    let backup = mock(MockConfig::default()).await;
    let timeouts = "timeouts = { first_byte_ms = 200 }";
    let toml = config_head()
        + &provider("slow", "openai-chat", slow.addr(), 0, &[("m", "m")], timeouts)
        + &provider(
            "slow-stream",
            "openai-chat",
            slow_stream.addr(),
            1,
            &[("m", "m")],
            timeouts,
        )
        + &provider("backup", "openai-chat", backup.addr(), 2, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let started = std::time::Instant::now();
    let resp = call(&Client::new(gw.addr), "openai-chat", "m", true, &[]).await;
    assert_eq!(resp.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        (
            slow.request_count(),
            slow_stream.request_count(),
            backup.request_count()
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn connect_and_tls_errors_fail_over() {
    let plain = mock(MockConfig::default()).await;
    let backup = mock(MockConfig::default()).await;
    let dead = dead_addr().await;
    // An https base URL pointed at a plain-text server: the TLS handshake fails.
    let tls = format!(
        "[[providers]]\nname = \"tls\"\nformat = \"gemini\"\nbase_url = \"https://{}\"\nmodels = {{ m = \"m\" }}\nkeys = [{{ name = \"k\", api_key = \"x\" }}]\n\n",
        plain.addr()
    );
    let toml = config_head()
        + &provider("dead", "gemini", dead, 0, &[("m", "m")], "")
        + &tls
        + &provider("backup", "gemini", backup.addr(), 5, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let resp = call(&Client::new(gw.addr), "gemini", "m", false, &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(backup.request_count(), 1);
    assert_eq!(plain.request_count(), 0, "no HTTP request reached the non-TLS server");
}

#[tokio::test]
async fn client_fault_400_is_returned_without_failover() {
    let primary = mock(failing(Fault::Status(400))).await;
    let backup = mock(MockConfig::default()).await;
    let toml = config_head()
        + &provider("primary", "openai-chat", primary.addr(), 0, &[("m", "m")], "")
        + &provider("backup", "openai-chat", backup.addr(), 1, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let resp = call(&Client::new(gw.addr), "openai-chat", "m", false, &[]).await;
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.json()["error"]["type"],
        "invalid_request_error",
        "the upstream's own error body"
    );
    assert_eq!(backup.request_count(), 0);
}

#[tokio::test]
async fn all_failed_is_a_503_saying_how_many_were_tried() {
    let a = mock(failing(Fault::Status(500))).await;
    let b = mock(failing(Fault::Status(429))).await;
    let dead = dead_addr().await;
    let toml = config_head()
        + &provider("a", "gemini", a.addr(), 0, &[("m", "m")], "")
        + &provider("b", "gemini", b.addr(), 1, &[("m", "m")], "")
        + &provider("c", "gemini", dead, 2, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let resp = call(&Client::new(gw.addr), "gemini", "m", true, &[]).await;
    assert_eq!(resp.status, 503);
    let v = resp.json();
    assert_eq!(v["error"]["status"], "UNAVAILABLE");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("all 3 upstream candidates failed"),
        "{v}"
    );
    assert!(!resp.text().contains("upstream-secret"), "no provider key in errors");
}

#[tokio::test]
async fn circuit_opens_half_opens_and_closes() {
    let flaky = mock(failing(Fault::Status(500))).await;
    let backup = mock(MockConfig::default()).await;
    let toml = "[circuit_breaker]\nwindow_secs = 60\nmin_requests = 2\nerror_rate = 0.5\nopen_secs = 1\nmax_open_secs = 1\nhalf_open_successes = 1\n\n".to_string()
        + &config_head()
        + &provider("flaky", "claude", flaky.addr(), 0, &[("m", "m")], "")
        + &provider("backup", "claude", backup.addr(), 1, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    for _ in 0..2 {
        assert_eq!(call(&client, "claude", "m", false, &[]).await.status, 200);
    }
    assert_eq!(flaky.request_count(), 2);
    let view = aether::admin::providers_view(&gw.store.current());
    assert_eq!(view["providers"][0]["keys"][0]["circuit"]["state"], "open");
    // Open: the flaky key is skipped entirely.
    assert_eq!(call(&client, "claude", "m", false, &[]).await.status, 200);
    assert_eq!(flaky.request_count(), 2);
    // After the open period a probe goes through; it succeeds and closes the circuit.
    flaky.set_config(MockConfig::default());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(call(&client, "claude", "m", false, &[]).await.status, 200);
    assert_eq!(flaky.request_count(), 3);
    let view = aether::admin::providers_view(&gw.store.current());
    assert_eq!(view["providers"][0]["keys"][0]["circuit"]["state"], "closed");
    assert_eq!(call(&client, "claude", "m", false, &[]).await.status, 200);
    assert_eq!(flaky.request_count(), 4);
}

#[tokio::test]
async fn upstream_reset_mid_stream_cuts_the_client_stream_with_an_error_event() {
    let upstream = mock(failing(Fault::ResetMidStream { after_events: 3 })).await;
    let backup = mock(MockConfig::default()).await;
    let toml = config_head()
        + &provider("resets", "claude", upstream.addr(), 0, &[("m", "m")], "")
        + &provider("backup", "claude", backup.addr(), 1, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    let (mut session, _) = open_stream(&client, "claude", "m").await;
    assert_eq!(session.response_header().unwrap().status.as_u16(), 200);
    let mut received = Vec::new();
    let mut cut = false;
    loop {
        match session.read_response_body().await {
            Ok(Some(b)) => received.extend_from_slice(&b),
            Ok(None) => break,
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    assert!(cut, "the stream must not end cleanly");
    let text = String::from_utf8_lossy(&received);
    assert!(text.contains("message_start"));
    assert!(text.contains("event: error"), "{text}");
    assert_eq!(backup.request_count(), 0, "no failover once bytes reached the client");
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_stream() {
    let upstream = mock(MockConfig {
        chunks: 200,
        interval: Duration::from_millis(20),
        ..MockConfig::default()
    })
    .await;
    let toml = config_head() + &provider("slow", "openai-chat", upstream.addr(), 0, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    let (mut session, _) = open_stream(&client, "openai-chat", "m").await;
    let first = session.read_response_body().await.unwrap().unwrap();
    assert!(!first.is_empty());
    session.shutdown().await;
    drop(session);
    // The mock notices its stream's writes failing once the gateway drops the upstream.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while upstream.cancelled_streams() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "upstream stream was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An upstream that closes each keep-alive connection right after answering once, the way
/// servers drop idle connections: every reused connection is dead when the gateway uses it.
async fn one_shot_keepalive_server() -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                // Read head and body (content-length) of one request.
                loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let body = r#"{"id":"x","object":"chat.completion","model":"m","choices":[]}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(resp.as_bytes()).await;
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // Keep-alive was promised; the connection is dropped anyway.
            });
        }
    });
    (addr, served)
}

#[tokio::test]
async fn a_pooled_connection_closed_by_the_upstream_is_retried_on_a_fresh_one() {
    let (addr, served) = one_shot_keepalive_server().await;
    let backup = mock(MockConfig::default()).await;
    let toml = config_head()
        + &provider("flaky-keepalive", "openai-chat", addr, 0, &[("m", "m")], "")
        + &provider("backup", "openai-chat", backup.addr(), 1, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    for i in 1..=5 {
        let resp = call(&client, "openai-chat", "m", false, &[]).await;
        assert_eq!(resp.status, 200, "request {i}");
        // Let the server's close reach the gateway's idle connection.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        served.load(std::sync::atomic::Ordering::SeqCst),
        5,
        "every request served by the first upstream"
    );
    assert_eq!(
        backup.request_count(),
        0,
        "a dead idle connection is not an upstream failure"
    );
}
