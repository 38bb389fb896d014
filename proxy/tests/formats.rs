//! Each wire format end to end through the gateway against the mock upstream: streaming
//! and not, auth failures, routes, errors in the client's own shape, model listings and
//! count_tokens.

mod common;

use aether_mock::MockConfig;
use common::*;

const FORMATS: [(&str, &str); 4] = [
    ("claude", "mock-claude"),
    ("openai-chat", "mock-gpt"),
    ("openai-responses", "mock-responses"),
    ("gemini", "mock-gemini"),
];

async fn setup() -> (aether_mock::MockServer, TestGateway) {
    let upstream = mock(MockConfig::default()).await;
    let mut toml = config_head();
    for (format, model) in FORMATS {
        // Client-facing names differ from upstream ones, so the model rewrite is exercised.
        toml.push_str(&provider(
            format,
            format,
            upstream.addr(),
            0,
            &[(model, &format!("up-{model}"))],
            "",
        ));
    }
    (upstream, start_gateway(&toml).await)
}

#[tokio::test]
async fn every_format_non_streaming_names_the_requested_model() {
    let (upstream, gw) = setup().await;
    let client = Client::new(gw.addr);
    for (format, model) in FORMATS {
        let resp = call(&client, format, model, false, &[]).await;
        assert_eq!(resp.status, 200, "{format}: {}", resp.text());
        assert!(resp.header("x-request-id").is_some_and(|id| id.starts_with("req_")));
        let body = resp.json();
        let named = if format == "gemini" {
            &body["modelVersion"]
        } else {
            &body["model"]
        };
        assert_eq!(named, model, "{format}: {body}");
        assert!(
            !resp.text().contains(&format!("up-{model}")),
            "{format}: upstream name leaked: {body}"
        );
    }
    // Upstream saw its own model names.
    let reqs = upstream.requests();
    assert_eq!(reqs.len(), 4);
    assert_eq!(reqs[0].json().unwrap()["model"], "up-mock-claude");
    assert_eq!(reqs[3].path, "/v1beta/models/up-mock-gemini:generateContent");
}

#[tokio::test]
async fn every_format_streams_event_by_event() {
    let (upstream, gw) = setup().await;
    let client = Client::new(gw.addr);
    for (format, model) in FORMATS {
        let resp = call(&client, format, model, true, &[("x-mock-chunks", "7")]).await;
        assert_eq!(resp.status, 200, "{format}: {}", resp.text());
        assert!(resp.header("content-type").unwrap().starts_with("text/event-stream"));
        let text = resp.text();
        assert!(
            !text.contains(&format!("up-{model}")),
            "{format}: upstream model leaked"
        );
        match format {
            "claude" => {
                let names = sse_names(&resp.body);
                assert_eq!(names.first().map(String::as_str), Some("message_start"));
                assert_eq!(names.last().map(String::as_str), Some("message_stop"));
                assert_eq!(names.iter().filter(|n| *n == "content_block_delta").count(), 7);
            }
            "openai-chat" => {
                let data = sse_data(&resp.body);
                assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
                let first: serde_json::Value = serde_json::from_str(&data[0]).unwrap();
                assert_eq!(first["model"], model);
            }
            "openai-responses" => {
                let names = sse_names(&resp.body);
                assert_eq!(names.first().map(String::as_str), Some("response.created"));
                assert_eq!(names.last().map(String::as_str), Some("response.completed"));
            }
            _ => {
                let data = sse_data(&resp.body);
                assert!(data.len() >= 7, "{data:?}");
                let last: serde_json::Value = serde_json::from_str(data.last().unwrap()).unwrap();
                assert!(last["usageMetadata"]["totalTokenCount"].as_u64().unwrap() > 0);
            }
        }
    }
    let gemini = upstream
        .requests()
        .into_iter()
        .find(|r| r.path.contains("streamGenerateContent"))
        .unwrap();
    assert_eq!(gemini.query.as_deref(), Some("alt=sse"));
}

#[tokio::test]
async fn auth_failures_come_in_each_formats_shape() {
    let (_upstream, gw) = setup().await;
    let client = Client::new(gw.addr);
    for (format, model) in FORMATS {
        let (path, body) = request_for(format, model, false);
        let body = serde_json::to_vec(&body).unwrap();
        let missing = client.post(&path, &[], body.clone()).await;
        assert_eq!(missing.status, 401, "{format}");
        let (name, _) = auth(format);
        let wrong_value = if name == "authorization" {
            "Bearer sk-wrong"
        } else {
            "sk-wrong"
        };
        let wrong = client.post(&path, &[(name, wrong_value)], body).await;
        assert_eq!(wrong.status, 401, "{format}");
        let v = wrong.json();
        match format {
            "claude" => assert_eq!(v["error"]["type"], "authentication_error"),
            "gemini" => assert_eq!(v["error"]["status"], "UNAUTHENTICATED"),
            _ => assert_eq!(v["error"]["code"], "invalid_api_key"),
        }
        assert!(!wrong.text().contains("sk-wrong"), "the key must not be echoed");
    }
}

#[tokio::test]
async fn routes_methods_and_malformed_bodies() {
    let (upstream, gw) = setup().await;
    let client = Client::new(gw.addr);
    let (k, v) = auth("claude");
    let resp = client.request("GET", "/v1/messages", &[(k, &v)], "").await;
    assert_eq!(resp.status, 405);
    assert_eq!(resp.json()["error"]["type"], "invalid_request_error");
    let resp = client.post("/v1beta/models/x:unknownAction", &[], "{}").await;
    assert_eq!(
        (resp.status, resp.json()["error"]["status"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let resp = client.post("/v2/nothing", &[], "{}").await;
    assert_eq!(resp.status, 404);

    let resp = client
        .post(
            "/v1/messages",
            &[(k, &v)],
            "{\"model\": \"mock-claude\",\n \"messages\": [}",
        )
        .await;
    assert_eq!(resp.status, 400);
    let msg = resp.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("line 2 column"), "{msg}");

    let resp = client
        .post("/v1/messages", &[(k, &v)], r#"{"model":"no-such-model","messages":[]}"#)
        .await;
    assert_eq!(resp.status, 404);
    assert!(
        resp.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-model")
    );
    assert_eq!(upstream.request_count(), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn model_allow_list_is_enforced() {
    let upstream = mock(MockConfig::default()).await;
    let toml = format!(
        "[[client_keys]]\nname = \"narrow\"\nkey_sha256 = \"{DEMO_KEY_SHA256}\"\nmodels = [\"a\"]\n\n{}",
        provider("p", "openai-chat", upstream.addr(), 0, &[("a", "a"), ("b", "b")], "")
    );
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    assert_eq!(call(&client, "openai-chat", "a", false, &[]).await.status, 200);
    let denied = call(&client, "openai-chat", "b", false, &[]).await;
    assert_eq!(denied.status, 403);
    let (k, v) = auth("openai-chat");
    let listing = client.request("GET", "/v1/models", &[(k, &v)], "").await.json();
    let ids: Vec<_> = listing["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec!["a"]);
}

#[tokio::test]
async fn model_listings_follow_the_callers_format() {
    let (_upstream, gw) = setup().await;
    let client = Client::new(gw.addr);
    let openai = client
        .request(
            "GET",
            "/v1/models",
            &[("authorization", &format!("Bearer {DEMO_KEY}"))],
            "",
        )
        .await;
    assert_eq!(openai.json()["object"], "list");
    assert_eq!(openai.json()["data"].as_array().unwrap().len(), 4);
    let claude = client
        .request(
            "GET",
            "/v1/models",
            &[("x-api-key", DEMO_KEY), ("anthropic-version", "2023-06-01")],
            "",
        )
        .await;
    assert_eq!(claude.json()["data"][0]["type"], "model");
    let gemini = client
        .request("GET", &format!("/v1beta/models?key={DEMO_KEY}"), &[], "")
        .await;
    assert_eq!(gemini.json()["models"][0]["name"], "models/mock-claude");
    let unauth = client.request("GET", "/v1/models", &[], "").await;
    assert_eq!(unauth.status, 401);
}

#[tokio::test]
async fn count_tokens_is_forwarded_to_claude_and_estimated_otherwise() {
    let (upstream, gw) = setup().await;
    let client = Client::new(gw.addr);
    let (k, v) = auth("claude");
    let body = r#"{"model":"mock-claude","messages":[{"role":"user","content":"Hello there, how are you today?"}]}"#;
    let resp = client
        .post("/v1/messages/count_tokens?beta=true", &[(k, &v)], body)
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.json()["input_tokens"].as_u64().unwrap() > 0);
    let seen = upstream.requests();
    assert_eq!(seen.last().unwrap().path, "/v1/messages/count_tokens");
    assert_eq!(seen.last().unwrap().query.as_deref(), Some("beta=true"));

    // A model only a non-Claude provider serves: answered locally, nothing sent upstream.
    let before = upstream.request_count();
    let body = r#"{"model":"mock-gpt","messages":[{"role":"user","content":"Hello there, how are you today?"}]}"#;
    let resp = client.post("/v1/messages/count_tokens", &[(k, &v)], body).await;
    assert_eq!(resp.status, 200);
    let n = resp.json()["input_tokens"].as_u64().unwrap();
    assert!((8..=20).contains(&n), "{n}");
    assert_eq!(upstream.request_count(), before);
}

#[tokio::test]
async fn upstream_connections_are_pooled_over_http1_and_h2c() {
    for http in ["http1", "http2"] {
        let upstream = mock(MockConfig::default()).await;
        let extra = format!("http = \"{http}\"");
        let toml = config_head() + &provider("p", "openai-chat", upstream.addr(), 0, &[("m", "m")], &extra);
        let gw = start_gateway(&toml).await;
        let client = Client::new(gw.addr);
        for stream in [false, true, false, true, false] {
            assert_eq!(
                call(&client, "openai-chat", "m", stream, &[]).await.status,
                200,
                "{http}"
            );
        }
        assert_eq!(upstream.request_count(), 5);
        assert_eq!(upstream.connection_count(), 1, "{http}: one pooled upstream connection");
    }
}

#[tokio::test]
async fn clients_speaking_h2c_get_streams_and_bodies() {
    let (_upstream, gw) = setup().await;
    let client = Client::h2c(gw.addr);
    for (format, model) in FORMATS {
        for stream in [false, true] {
            let resp = call(&client, format, model, stream, &[]).await;
            assert_eq!(resp.status, 200, "{format} stream={stream}: {}", resp.text());
            assert!(!resp.body.is_empty());
        }
    }
    let (k, v) = auth("claude");
    let resp = client.post("/v1/messages", &[(k, &v)], "{not json").await;
    assert_eq!(resp.status, 400);
}

#[tokio::test]
async fn gemini_count_tokens_is_forwarded_to_gemini_and_estimated_otherwise() {
    let (upstream, gw) = setup().await;
    let client = Client::new(gw.addr);
    let body = r#"{"contents":[{"role":"user","parts":[{"text":"Hello there, how are you today?"}]}]}"#;
    let resp = client
        .post(
            "/v1beta/models/mock-gemini:countTokens",
            &[("x-goog-api-key", DEMO_KEY)],
            body,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.json()["totalTokens"].as_u64().unwrap() > 0);
    let seen = upstream.requests();
    assert_eq!(seen.last().unwrap().path, "/v1beta/models/up-mock-gemini:countTokens");

    // A model only a Claude provider serves: answered locally, in Gemini's shape.
    let before = upstream.request_count();
    let resp = client
        .post(
            "/v1beta/models/mock-claude:countTokens",
            &[("x-goog-api-key", DEMO_KEY)],
            body,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let n = resp.json()["totalTokens"].as_u64().unwrap();
    assert!((8..=20).contains(&n), "{n}");
    assert_eq!(upstream.request_count(), before);
}
