//! The edge against slow and hostile peers: request heads and bodies that dribble in, idle
//! keep-alive connections, a client that stops reading, too many connections; timeouts that
//! mean what they say (a long non-streamed answer is not a first-byte timeout); breakers that
//! a client cannot open for everyone; model names that cannot steer the upstream URL.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::time::{Duration, Instant};

use aether_mock::MockConfig;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `[server.edge]` with the given lines, then the demo key and one Claude provider on `upstream`.
fn edge_config(edge: &str, upstream: std::net::SocketAddr) -> String {
    format!("[server.edge]\n{edge}\n\n") + &config_head() + &provider("p", "claude", upstream, 0, &[("m", "m")], "")
}

/// Reads until the peer closes; returns what was read, or panics after `within`.
async fn read_until_closed(tcp: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Err(_) => panic!(
                "the gateway kept the connection open for {within:?}; read so far: {}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0) | Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

const CLAUDE_BODY: &str = r#"{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"Hi"}]}"#;

#[tokio::test]
async fn a_request_head_that_dribbles_in_is_cut_at_its_deadline() {
    let upstream = mock(MockConfig::default()).await;
    let gw = start_gateway(&edge_config("header_ms = 300", upstream.addr())).await;
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    let started = Instant::now();
    tcp.write_all(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    // One more header line every 100 ms: each read is quick, the head never ends.
    let dribble = async {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if tcp.write_all(format!("x-{i}: y\r\n").as_bytes()).await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), dribble).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the head was still being read after {:?}",
        started.elapsed()
    );
    assert_eq!(upstream.request_count(), 0);
}

#[tokio::test]
async fn a_body_below_the_minimum_rate_gets_408_in_the_clients_shape() {
    let upstream = mock(MockConfig::default()).await;
    let gw = start_gateway(&edge_config(
        "body_ms = 300\nbody_min_bytes_per_sec = 1000",
        upstream.addr(),
    ))
    .await;
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: {DEMO_KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        CLAUDE_BODY.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&CLAUDE_BODY.as_bytes()[..10]).await.unwrap();
    let got = String::from_utf8(read_until_closed(&mut tcp, Duration::from_secs(5)).await).unwrap();
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains(r#""type":"error""#), "Claude's error shape: {got}");
    assert_eq!(upstream.request_count(), 0);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let upstream = mock(MockConfig::default()).await;
    let gw = start_gateway(&edge_config("keepalive_idle_ms = 1000", upstream.addr())).await;
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    // HTTP/1.1 with no `Connection` header: keep-alive by default.
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: {DEMO_KEY}\r\ncontent-length: {}\r\n\r\n{CLAUDE_BODY}",
        CLAUDE_BODY.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let started = Instant::now();
    let got = String::from_utf8(read_until_closed(&mut tcp, Duration::from_secs(5)).await).unwrap();
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let open = started.elapsed();
    assert!(
        open >= Duration::from_millis(900) && open < Duration::from_secs(4),
        "closed after {open:?}"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_and_recorded_cancelled() {
    let upstream = mock(MockConfig::default()).await;
    let gw = start_gateway(&edge_config("write_ms = 300", upstream.addr())).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(gw.addr).await.unwrap();
    let body = r#"{"model":"m","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: {DEMO_KEY}\r\nx-mock-fault: flood\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    // Read the head (and the request id), then stop reading.
    let mut head = vec![0u8; 1024];
    let n = tcp.read(&mut head).await.unwrap();
    let head = String::from_utf8_lossy(&head[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap()
        .trim()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        gw.telemetry.flush().await.unwrap();
        let record = gw.telemetry.record(&id).await.unwrap();
        if record.as_ref().is_some_and(|r| r.status.as_str() == "cancelled") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stream to a client that stopped reading never ended: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(tcp);
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once() {
    let upstream = mock(MockConfig::default()).await;
    let gw = start_gateway(&edge_config("max_connections = 2", upstream.addr())).await;
    let first = TcpStream::connect(gw.addr).await.unwrap();
    let second = TcpStream::connect(gw.addr).await.unwrap();
    // Give the accept loop a moment to take both.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(gw.addr).await.unwrap();
    assert!(read_until_closed(&mut third, Duration::from_secs(2)).await.is_empty());
    drop((first, second));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let resp = call(&Client::new(gw.addr), "claude", "m", false, &[]).await;
    assert_eq!(resp.status, 200, "a slot frees when a connection closes");
}

#[tokio::test]
async fn a_long_non_streamed_answer_is_not_a_first_byte_timeout() {
    // The whole answer takes 600 ms to start; the stream limit is 200 ms.
    let upstream = mock(MockConfig::default()).await;
    let backup = mock(MockConfig::default()).await;
    let timeouts = "timeouts = { first_byte_ms = 200, response_ms = 5000 }";
    let toml = config_head()
        + &provider("slow", "claude", upstream.addr(), 0, &[("m", "m")], timeouts)
        + &provider("backup", "claude", backup.addr(), 1, &[("m", "m")], timeouts);
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    let resp = call(&client, "claude", "m", false, &[("x-mock-latency-ms", "600")]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        (upstream.request_count(), backup.request_count()),
        (1, 0),
        "tried once, not on every key"
    );
    // A stream's first event is still held to first_byte_ms (on both keys: the header that
    // slows the mock goes to each).
    let resp = call(&client, "claude", "m", true, &[("x-mock-ttfb-ms", "600")]).await;
    assert_eq!(resp.status, 503, "{}", resp.text());
    assert!(resp.text().contains("first_byte_ms"), "{}", resp.text());
    assert_eq!(
        (upstream.request_count(), backup.request_count()),
        (2, 1),
        "the slow stream failed over"
    );
}

#[tokio::test]
async fn a_client_cannot_open_a_breaker_for_everyone() {
    let upstream = mock(MockConfig::default()).await;
    let toml = "[circuit_breaker]\nmin_requests = 2\nerror_rate = 0.5\nopen_secs = 60\n\n".to_owned()
        + &config_head()
        + &provider("p", "openai-chat", upstream.addr(), 0, &[("*", "*")], "");
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    // A model the upstream does not know, under the wildcard: the client's doing.
    for _ in 0..6 {
        let resp = call(
            &client,
            "openai-chat",
            "no-such-model",
            false,
            &[("x-mock-status", "404")],
        )
        .await;
        assert_ne!(resp.status, 200);
    }
    // A model name that cannot be sent as it is (it is encoded, not a request error).
    let resp = call(&client, "openai-chat", "bad model\u{7f}", false, &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = call(&client, "openai-chat", "gpt-4.1", false, &[]).await;
    assert_eq!(resp.status, 200, "another client still gets through: {}", resp.text());
    let key = gw.store.current().providers[0].keys[0].breaker.clone();
    let view = key.view(&gw.store.current().circuit, Instant::now());
    assert_eq!((view.state, view.window_failures), ("closed", 0));
}

#[tokio::test]
async fn a_cancelled_probe_does_not_wedge_the_breaker() {
    let upstream = mock(MockConfig::default()).await;
    let toml = "[circuit_breaker]\nmin_requests = 1\nerror_rate = 0.5\nopen_secs = 1\n\n".to_owned()
        + &config_head()
        + &provider("p", "claude", upstream.addr(), 0, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    let resp = call(&client, "claude", "m", false, &[("x-mock-status", "500")]).await;
    assert_eq!(resp.status, 503);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The probe: the client gives up while the upstream is still thinking.
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: {DEMO_KEY}\r\nx-mock-latency-ms: 2000\r\ncontent-length: {}\r\n\r\n{CLAUDE_BODY}",
        CLAUDE_BODY.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(tcp);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The next request is admitted as a probe at once, not after another open period.
    let resp = call(&client, "claude", "m", false, &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
}

#[tokio::test]
async fn model_names_cannot_steer_the_upstream_url() {
    let upstream = mock(MockConfig::default()).await;
    let toml = config_head()
        + &provider("g", "gemini", upstream.addr(), 0, &[("*", "*")], "")
        + "[[providers]]\nname = \"azure\"\nformat = \"gemini\"\nbase_url = \"http://"
        + &upstream.addr().to_string()
        + "\"\npath = \"/v1beta/models/{model}:{action}?api-version=2024-10-21\"\npriority = 0\nmodels = { \"tenant-model\" = \"tenant-model\" }\nkeys = [{ name = \"k\", api_key = \"upstream-secret\" }]\n";
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    for (model, sent) in [
        ("../../admin", "/v1beta/models/..%2F..%2Fadmin:generateContent"),
        ("a?x=1#f", "/v1beta/models/a%3Fx%3D1%23f:generateContent"),
        ("..", "/v1beta/models/%2E%2E:generateContent"),
        ("a b\tc", "/v1beta/models/a%20b%09c:generateContent"),
    ] {
        // An OpenAI client names it in the body; the Gemini upstream takes it in the path.
        let resp = call(&client, "openai-chat", model, false, &[]).await;
        assert_eq!(resp.status, 200, "{model}: {}", resp.text());
        let got = upstream.requests().last().unwrap().path.clone();
        assert_eq!(got, sent, "{model}");
    }
    // Aether's own query parameter joins a template that has a query.
    let resp = call(&client, "gemini", "tenant-model", true, &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let got = upstream.requests().last().unwrap().clone();
    assert_eq!(got.path, "/v1beta/models/tenant-model:streamGenerateContent");
    assert_eq!(got.query.as_deref(), Some("api-version=2024-10-21&alt=sse"));
}

#[tokio::test]
async fn an_upstream_event_that_never_ends_is_cut_at_the_limit() {
    let upstream = mock(MockConfig::default()).await;
    let toml = "[server]\nmax_event_bytes = 65536\n\n".to_owned()
        + &config_head()
        + &provider("p", "openai-chat", upstream.addr(), 0, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    // After two whole events: the client has the start of its stream, then an error event.
    let resp = call_cut(&client, "openai-chat", "m", true, &[("x-mock-fault", "unterminated:2")]).await;
    assert_eq!(resp.status, 200);
    let text = resp.text();
    assert!(
        text.len() < 64 * 1024,
        "nothing of the endless event was buffered for the client"
    );
    assert!(text.contains("65536 bytes without ending"), "{text}");
    let record = gw.record(resp.header("x-request-id").unwrap()).await;
    assert_eq!(record.status.as_str(), "failed");
    // Before any whole event: the attempt fails over like any broken stream.
    let resp = call(&client, "openai-chat", "m", true, &[("x-mock-fault", "unterminated:0")]).await;
    assert_eq!(resp.status, 503, "{}", resp.text());
}

#[tokio::test]
async fn a_stream_that_drips_past_total_ms_ends_with_an_error_event() {
    let upstream = mock(MockConfig::default()).await;
    let toml = config_head()
        + &provider(
            "p",
            "claude",
            upstream.addr(),
            0,
            &[("m", "m")],
            "timeouts = { total_ms = 600, idle_ms = 5000 }",
        );
    let gw = start_gateway(&toml).await;
    let started = Instant::now();
    let resp = call_cut(
        &Client::new(gw.addr),
        "claude",
        "m",
        true,
        &[("x-mock-interval-ms", "100"), ("x-mock-chunks", "100")],
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(resp.status, 200);
    let names = sse_names(&resp.body);
    assert_eq!(names.last().map(String::as_str), Some("error"), "{names:?}");
}

#[tokio::test]
async fn informational_responses_are_skipped_and_a_storm_of_them_is_refused() {
    let upstream = mock(MockConfig::default()).await;
    let gw = start_gateway(&(config_head() + &provider("p", "claude", upstream.addr(), 0, &[("m", "m")], ""))).await;
    let client = Client::new(gw.addr);
    let resp = call(&client, "claude", "m", false, &[("x-mock-fault", "early-hints:3")]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let started = Instant::now();
    let resp = call(&client, "claude", "m", false, &[("x-mock-fault", "early-hints:500")]).await;
    assert_eq!(resp.status, 503, "{}", resp.text());
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// An upstream that reads each request's head and answers `reply` (raw bytes) at once,
/// then closes: for the faults the mock's HTTP stack will not produce.
async fn raw_upstream(reply: &'static [u8]) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tcp.write_all(reply).await;
                // Closed with the body unread: the kernel resets the connection.
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_upstream_that_closes_during_the_upload_or_breaks_its_chunking_fails_over() {
    let backup = mock(MockConfig::default()).await;
    // (case, what the upstream sends, the status the client gets)
    for (name, reply, status) in [
        // Nothing reached the client: the next candidate answers.
        ("closes during the upload", &b""[..], 200),
        (
            "malformed chunking",
            &b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\nzz-not-a-size\r\ndata: {}\r\n\r\n"[..],
            200,
        ),
        // A 200 head was relayed as the verdict: its broken body is an error in the
        // client's shape, never a hang.
        (
            "a chunk longer than it said",
            &b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{\"id\":1}\r\n0\r\n\r\n"[..],
            502,
        ),
    ] {
        let broken = raw_upstream(reply).await;
        let toml = config_head()
            + &provider("broken", "claude", broken, 0, &[("m", "m")], "")
            + &provider("backup", "claude", backup.addr(), 1, &[("m", "m")], "");
        let gw = start_gateway(&toml).await;
        // For the first, a body large enough that the upload is still going when the
        // upstream closes; for the others, one that is all sent before it answers.
        let filler = if name == "closes during the upload" {
            "x".repeat(4 << 20)
        } else {
            "x".into()
        };
        let body = serde_json::json!({
            "model": "m", "max_tokens": 8, "stream": name == "malformed chunking",
            "messages": [{"role": "user", "content": filler}],
        });
        let started = Instant::now();
        let resp = Client::new(gw.addr)
            .request_cut("POST", "/v1/messages", &[("x-api-key", DEMO_KEY)], serde_json::to_vec(&body).unwrap())
            .await;
        assert!(started.elapsed() < Duration::from_secs(10), "{name}: {:?}", started.elapsed());
        assert_eq!(resp.status, status, "{name}: {}", resp.text());
        if status != 200 {
            assert_eq!(resp.json()["type"], "error", "{name}: Claude's error shape");
        }
    }
}

#[tokio::test]
async fn bodies_past_the_gateway_wide_budget_get_503_in_the_clients_shape() {
    let upstream = mock(MockConfig::default()).await;
    let gw = start_gateway(&edge_config("max_inflight_body_bytes = 4096", upstream.addr())).await;
    let client = Client::new(gw.addr);
    // One body alone over the budget (a busy gateway's share of it is no different).
    let big = serde_json::json!({
        "model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "x".repeat(8192)}],
    });
    let resp = client
        .post(
            "/v1/messages",
            &[("x-api-key", DEMO_KEY)],
            serde_json::to_vec(&big).unwrap(),
        )
        .await;
    assert_eq!(resp.status, 503, "{}", resp.text());
    assert_eq!(resp.json()["error"]["type"], "overloaded_error", "{}", resp.text());
    assert_eq!(upstream.request_count(), 0);
    // The bytes it held were given back: small requests still pass.
    for _ in 0..3 {
        assert_eq!(call(&client, "claude", "m", false, &[]).await.status, 200);
    }
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed() {
    let upstream = mock(MockConfig::default()).await;
    let gw = start_gateway(&edge_config("h2_idle_ms = 500", upstream.addr())).await;
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    // h2c with prior knowledge: the preface and an empty SETTINGS frame, then nothing.
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let started = Instant::now();
    let got = read_until_closed(&mut tcp, Duration::from_secs(5)).await;
    assert!(!got.is_empty(), "the server spoke HTTP/2 first");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}
