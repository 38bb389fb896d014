//! One exact usage record per request, end to end: the real gateway, the mock upstream and
//! a SQLite store, read back by request id.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::time::Duration;

use aether::telemetry::record::{ResponseEnd, Status};
use aether_mock::{Fault, MockConfig};
use common::*;

fn id(resp: &Resp) -> String {
    resp.header("x-request-id").unwrap().to_owned()
}

#[tokio::test]
async fn every_format_records_tokens_and_cost_streamed_or_not() {
    let upstream = mock(MockConfig::default()).await;
    let formats = [
        ("claude", "claude-sonnet-4-5"),
        ("openai-chat", "gpt-4.1"),
        ("openai-responses", "gpt-5"),
        ("gemini", "gemini-2.5-flash"),
    ];
    let mut toml = config_head();
    for (format, model) in formats {
        toml.push_str(&provider(format, format, upstream.addr(), 0, &[(model, model)], ""));
    }
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    for (format, model) in formats {
        for stream in [false, true] {
            let resp = call(&client, format, model, stream, &[]).await;
            assert_eq!(resp.status, 200, "{format}");
            let r = gw.record(&id(&resp)).await;
            let what = format!("{format} stream={stream}: {r:?}");
            assert_eq!(r.status, Status::Completed, "{what}");
            assert_eq!(r.response_end, ResponseEnd::Complete, "{what}");
            assert_eq!(r.client_key.as_deref(), Some("demo"));
            assert_eq!(r.requested_model.as_deref(), Some(model));
            assert_eq!(r.provider.as_deref(), Some(format));
            assert_eq!(r.stream, stream);
            assert_eq!(r.http_status, Some(200));
            assert!(r.usage.input > 0 && r.usage.output > 0, "{what}");
            let cost = r.cost.as_ref().unwrap_or_else(|| panic!("no cost: {what}"));
            assert!(cost.total.0 > 0, "{what}");
            assert_eq!(r.attempts.len(), 1);
            assert!(r.ttfb_ms.is_some() && r.total_ms.is_some());
        }
    }
}

#[tokio::test]
async fn an_openai_stream_is_billed_even_when_the_client_did_not_ask_for_usage() {
    let upstream = mock(MockConfig::default()).await;
    let gw = start_gateway(
        &(config_head() + &provider("p", "openai-chat", upstream.addr(), 0, &[("gpt-4.1", "gpt-4.1")], "")),
    )
    .await;
    let resp = call(&Client::new(gw.addr), "openai-chat", "gpt-4.1", true, &[]).await;
    let sent = upstream.requests()[0].json().unwrap();
    assert_eq!(
        sent["stream_options"]["include_usage"], true,
        "Aether asked the upstream for usage"
    );
    assert!(
        !resp.text().contains("\"prompt_tokens\""),
        "the client, who did not ask, gets no usage chunk"
    );
    assert!(resp.text().trim_end().ends_with("data: [DONE]"));
    let r = gw.record(&id(&resp)).await;
    assert!(r.usage.input > 0 && r.usage.output > 0, "{r:?}");
}

#[tokio::test]
async fn failover_records_every_candidate_tried() {
    let dead = dead_addr().await;
    let limited = mock(MockConfig {
        fault: Fault::Status(429),
        ..MockConfig::default()
    })
    .await;
    let healthy = mock(MockConfig::default()).await;
    let toml = config_head()
        + &provider("dead", "claude", dead, 0, &[("m", "m")], "")
        + &provider("limited", "claude", limited.addr(), 1, &[("m", "m")], "")
        + &provider("healthy", "claude", healthy.addr(), 2, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let resp = call(&Client::new(gw.addr), "claude", "m", true, &[]).await;
    let r = gw.record(&id(&resp)).await;
    assert_eq!(r.status, Status::Completed);
    let tried: Vec<_> = r
        .attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.outcome.as_str(), a.status))
        .collect();
    assert_eq!(
        tried,
        vec![
            ("dead", "connect", None),
            ("limited", "status", Some(429)),
            ("healthy", "relayed", Some(200))
        ]
    );
    assert_eq!(r.provider.as_deref(), Some("healthy"));
}

#[tokio::test]
async fn all_failed_requests_leave_one_failed_record_and_unauthenticated_ones_none() {
    let broken = mock(MockConfig {
        fault: Fault::Status(500),
        ..MockConfig::default()
    })
    .await;
    let gw = start_gateway(&(config_head() + &provider("broken", "gemini", broken.addr(), 0, &[("m", "m")], ""))).await;
    let client = Client::new(gw.addr);
    let resp = call(&client, "gemini", "m", false, &[]).await;
    assert_eq!(resp.status, 503);
    let r = gw.record(&id(&resp)).await;
    assert_eq!((r.status, r.http_status), (Status::Failed, Some(503)));
    assert_eq!(r.error.as_ref().unwrap().class, "all_failed");
    assert_eq!(r.attempts.len(), 1);
    assert!(r.cost.as_ref().is_none_or(|c| c.total.0 == 0));

    // Requests that never authenticate, and probes of `/`, are counted, not recorded.
    let refused = [
        client.post("/v1/messages", &[("x-api-key", "sk-nope")], "{}").await,
        client.post("/v1/messages", &[], "{}").await,
        client.post("/wp-login.php", &[], "").await,
    ];
    assert_eq!(refused.iter().map(|r| r.status).collect::<Vec<_>>(), [401, 401, 404]);
    for probe in ["GET", "HEAD"] {
        let resp = client.request(probe, "/", &[], "").await;
        assert_eq!(resp.status, 200, "{probe} /");
        assert!(resp.header("x-request-id").is_some());
    }
    gw.telemetry.flush().await.unwrap();
    for resp in &refused {
        assert!(
            gw.telemetry.record(&id(resp)).await.unwrap().is_none(),
            "{}",
            resp.text()
        );
    }
    let metrics = gw.telemetry.metrics_text();
    for (reason, n) in [("invalid_key", 1), ("missing_key", 1), ("not_found", 1)] {
        let line = format!(r#"aether_unauthenticated_requests_total{{reason="{reason}"}} {n}"#);
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
    assert!(!metrics.contains("sk-nope"), "the key is never counted");
}

#[tokio::test]
async fn a_stream_cut_by_the_upstream_records_the_tokens_seen_so_far() {
    let upstream = mock(MockConfig {
        fault: Fault::ResetMidStream { after_events: 3 },
        ..MockConfig::default()
    })
    .await;
    let gw = start_gateway(&(config_head() + &provider("p", "claude", upstream.addr(), 0, &[("m", "m")], ""))).await;
    let client = Client::new(gw.addr);
    let (mut session, id) = open_stream(&client, "claude", "m").await;
    while let Ok(Some(_)) = session.read_response_body().await {}
    let r = gw.record(&id).await;
    assert_eq!(r.status, Status::Failed, "{r:?}");
    assert_eq!(r.error.as_ref().unwrap().class, "upstream_broke");
    assert_eq!(r.response_end, ResponseEnd::CutShort);
    assert!(r.usage.input > 0, "message_start's input tokens were seen: {r:?}");
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_is_recorded_as_cancelled() {
    let upstream = mock(MockConfig {
        chunks: 100,
        interval: Duration::from_millis(20),
        ..MockConfig::default()
    })
    .await;
    let gw = start_gateway(&(config_head() + &provider("p", "claude", upstream.addr(), 0, &[("m", "m")], ""))).await;
    let client = Client::new(gw.addr);
    let (mut session, id) = open_stream(&client, "claude", "m").await;
    session.read_response_body().await.unwrap();
    session.shutdown().await;
    drop(session);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        gw.telemetry.flush().await.unwrap();
        if let Some(r) = gw.telemetry.record(&id).await.unwrap()
            && r.status.is_terminal()
        {
            assert_eq!(r.status, Status::Cancelled, "{r:?}");
            assert_eq!(r.response_end, ResponseEnd::CutShort);
            assert!(r.usage.input > 0);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no final record");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn requests_in_flight_are_visible_as_pending_or_streaming() {
    let upstream = mock(MockConfig {
        chunks: 50,
        interval: Duration::from_millis(20),
        ..MockConfig::default()
    })
    .await;
    let gw =
        start_gateway(&(config_head() + &provider("p", "openai-chat", upstream.addr(), 0, &[("m", "m")], ""))).await;
    let client = Client::new(gw.addr);
    let (mut session, id) = open_stream(&client, "openai-chat", "m").await;
    session.read_response_body().await.unwrap();
    let live = gw.record(&id).await;
    assert_eq!(live.status, Status::Streaming, "{live:?}");
    while let Ok(Some(_)) = session.read_response_body().await {}
    let done = gw.record(&id).await;
    assert_eq!(done.status, Status::Completed);
}

#[tokio::test]
async fn the_admin_api_serves_usage_traces_and_metrics() {
    use aether::admin::Admin;
    use pingora::apps::http_app::HttpServer;

    let upstream = mock(MockConfig::default()).await;
    let gw = start_gateway(
        &(config_head()
            + &provider(
                "anthropic",
                "claude",
                upstream.addr(),
                0,
                &[("claude-sonnet-4-5", "claude-sonnet-4-5")],
                "",
            )),
    )
    .await;
    let client = Client::new(gw.addr);
    let ok = call(&client, "claude", "claude-sonnet-4-5", false, &[]).await;
    let failed = call(
        &client,
        "claude",
        "claude-sonnet-4-5",
        false,
        &[("x-mock-status", "500")],
    )
    .await;
    assert_eq!((ok.status, failed.status), (200, 503));
    gw.telemetry.flush().await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_addr = listener.local_addr().unwrap();
    let admin = HttpServer::new_app(Admin::new(gw.store.clone()).with_telemetry(gw.telemetry.clone()));
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(aether::listener::serve(listener, std::sync::Arc::new(admin), stopped));
    let admin = Client::new(admin_addr);

    let usage = admin.request("GET", "/admin/usage?since=1h&by=model", &[], "").await;
    assert_eq!(usage.status, 200, "{}", usage.text());
    let usage = usage.json();
    assert_eq!(usage["total"]["requests"], 2, "{usage}");
    assert_eq!(usage["total"]["failed"], 1, "{usage}");
    let sonnet = usage["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "claude-sonnet-4-5")
        .unwrap();
    assert!(
        sonnet["cost_usd"].as_str().unwrap().parse::<f64>().unwrap() > 0.0,
        "{sonnet}"
    );

    let trace = admin
        .request("GET", &format!("/admin/requests/{}", id(&ok)), &[], "")
        .await;
    assert_eq!(trace.status, 200);
    let trace = trace.json();
    assert_eq!(trace["status"], "completed");
    assert_eq!(trace["attempts"][0]["provider"], "anthropic");
    assert!(
        !trace.to_string().contains("upstream-secret"),
        "no provider key in the trace"
    );
    assert_eq!(
        admin.request("GET", "/admin/requests/req_nope", &[], "").await.status,
        404
    );

    let metrics = admin.request("GET", "/metrics", &[], "").await.text();
    assert!(
        metrics.contains(r#"aether_requests_total{model="claude-sonnet-4-5",provider="anthropic",status="2xx"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("aether_telemetry_dropped_total 0"), "{metrics}");
    assert!(metrics.contains("aether_ttfb_seconds_bucket"), "{metrics}");

    let providers = admin.request("GET", "/admin/providers", &[], "").await;
    assert_eq!(
        providers.json()["providers"][0]["keys"][0]["circuit"]["state"],
        "closed"
    );
    assert!(
        !providers.text().contains("upstream-secret"),
        "no provider key in the admin API"
    );
}

#[tokio::test]
async fn bodies_are_kept_truncated_and_redacted_only_when_configured() {
    let upstream = mock(MockConfig::default()).await;
    let db = TempDir::new();
    let toml = format!(
        "[telemetry]\nurl = \"sqlite://{}/usage.db\"\nstore_bodies = \"truncated\"\nbody_limit_bytes = 120\n\n{}{}",
        db.0.display(),
        config_head(),
        provider("p", "openai-chat", upstream.addr(), 0, &[("m", "m")], "")
    );
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    let body = serde_json::json!({
        "model": "m",
        "messages": [{"role": "user", "content": format!("my key is sk-live-0123456789abcdef {}", "x".repeat(500))}],
    });
    let auth = format!("Bearer {DEMO_KEY}");
    let resp = client
        .post(
            "/v1/chat/completions",
            &[("authorization", &auth)],
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
    assert_eq!(resp.status, 200);
    let r = gw.record(&id(&resp)).await;
    let bodies = r.bodies.expect("bodies are kept");
    let request = bodies.request.unwrap();
    assert!(
        request.contains("[REDACTED]") && !request.contains("sk-live-0123456789abcdef"),
        "{request}"
    );
    assert!(request.contains("truncated"), "{request}");
    assert!(
        bodies.response.unwrap().contains("\"choices\""),
        "the response body is kept too"
    );

    // Off by default.
    let plain =
        start_gateway(&(config_head() + &provider("p", "openai-chat", upstream.addr(), 0, &[("m", "m")], ""))).await;
    let resp = call(&Client::new(plain.addr), "openai-chat", "m", false, &[]).await;
    assert!(plain.record(&id(&resp)).await.bodies.is_none());
}

#[tokio::test]
async fn requests_are_served_while_the_usage_database_is_down() {
    let upstream = mock(MockConfig::default()).await;
    let dead = dead_addr().await;
    let dir = TempDir::new();
    let toml = format!(
        "[telemetry]\nsink = \"postgres\"\nurl = \"postgres://postgres@{dead}/test\"\nspill_path = \"{}/spill.jsonl\"\n\n{}{}",
        dir.0.display(),
        config_head(),
        provider("p", "claude", upstream.addr(), 0, &[("m", "m")], "")
    );
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    for stream in [false, true, false, true] {
        let resp = call(&client, "claude", "m", stream, &[]).await;
        assert_eq!(
            resp.status, 200,
            "a database that is down never fails or blocks a request"
        );
    }
    // The records are held (or spilled), not dropped.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let stats = gw.telemetry.stats();
        assert_eq!(stats.dropped, 0, "{stats:?}");
        if stats.write_errors > 0 && stats.backlog + stats.spilled >= 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "records neither held nor spilled: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
