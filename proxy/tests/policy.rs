//! Header policy and limits: what the upstream receives, what the client gets back.

mod common;

use aether_mock::MockConfig;
use common::*;

#[tokio::test]
async fn upstream_sees_provider_credentials_and_forwarded_client_headers_only() {
    let upstream = mock(MockConfig::default()).await;
    let toml = config_head()
        + &provider(
            "anthropic",
            "claude",
            upstream.addr(),
            0,
            &[("m", "m")],
            // The client sends the 1M-context beta: this provider must offer it.
            "headers = { \"x-vendor\" = \"v1\" }\ncapabilities = [\"context_1m\"]",
        )
        + &provider("gemini", "gemini", upstream.addr(), 0, &[("g", "g")], "");
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    let resp = call(
        &client,
        "claude",
        "m",
        false,
        &[
            ("anthropic-beta", "context-1m-2025-08-07"),
            ("user-agent", "claude-cli/2.0 (external, cli)"),
            ("x-app", "cli"),
            ("authorization", &format!("Bearer {DEMO_KEY}")),
            ("connection", "keep-alive, x-drop-me"),
            ("x-forwarded-for", "10.0.0.1"),
            ("accept-encoding", "gzip"),
        ],
    )
    .await;
    assert_eq!(resp.status, 200);
    let id = resp.header("x-request-id").unwrap().to_owned();
    let seen = &upstream.requests()[0];
    assert_eq!(seen.header("x-api-key"), Some("upstream-secret-anthropic"));
    assert_eq!(
        seen.header("authorization"),
        None,
        "client bearer token never forwarded"
    );
    assert_eq!(seen.header("anthropic-beta"), Some("context-1m-2025-08-07"));
    assert_eq!(
        seen.header("anthropic-version"),
        Some("2023-06-01"),
        "default version injected"
    );
    assert_eq!(seen.header("user-agent"), Some("claude-cli/2.0 (external, cli)"));
    assert_eq!(seen.header("x-app"), Some("cli"));
    assert_eq!(seen.header("x-vendor"), Some("v1"));
    assert_eq!(seen.header("x-forwarded-for"), None);
    assert_eq!(seen.header("accept-encoding"), Some("identity"));
    assert_ne!(seen.header("x-request-id"), Some(id.as_str()));
    for (name, value) in &seen.headers {
        assert!(!value.contains(DEMO_KEY), "client key leaked upstream in {name}");
    }

    // Gemini: the client's ?key= is stripped and the provider key goes in x-goog-api-key.
    let body = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]});
    let resp = client
        .post(
            &format!("/v1beta/models/g:streamGenerateContent?alt=sse&key={DEMO_KEY}"),
            &[],
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let seen = upstream.requests().pop().unwrap();
    assert_eq!(seen.query.as_deref(), Some("alt=sse"));
    assert_eq!(seen.header("x-goog-api-key"), Some("upstream-secret-gemini"));
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_in_the_clients_shape() {
    let upstream = mock(MockConfig::default()).await;
    let toml = "[server]\nmax_body_bytes = 1024\n\n".to_string()
        + &config_head()
        + &provider("p", "openai-responses", upstream.addr(), 0, &[("m", "m")], "");
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    let big = serde_json::json!({"model": "m", "input": "y".repeat(2048)});
    let auth = format!("Bearer {DEMO_KEY}");
    let resp = client
        .post(
            "/v1/responses",
            &[("authorization", &auth)],
            serde_json::to_vec(&big).unwrap(),
        )
        .await;
    assert_eq!(resp.status, 413);
    assert_eq!(resp.json()["error"]["code"], "request_too_large");
    let small = serde_json::json!({"model": "m", "input": "y"});
    let resp = client
        .post(
            "/v1/responses",
            &[("authorization", &auth)],
            serde_json::to_vec(&small).unwrap(),
        )
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(upstream.request_count(), 1);
}
