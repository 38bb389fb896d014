//! The canary sweep: one token planted in every secret and everywhere a secret can be (a
//! literal provider key in the config, a client key from the environment, wrong keys in
//! headers and `?key=`, the configured keys pasted into request bodies and into fields
//! whose errors quote them, a config line that fails to parse), every error path driven,
//! and the token looked for in every place Aether writes: log lines, usage records (bodies
//! stored), error bodies and headers, admin answers and metrics. It must appear in none.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use aether::admin::{Admin, AdminAccess};
use aether::config::file::AdminExposure;
use aether_mock::MockConfig;
use common::*;
use pingora::apps::http_app::HttpServer;

const CANARY: &str = "CANARY-7f3a9c1e5b2d4a6f";

/// Every log line the process writes, kept for the sweep.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_canary_appears_nowhere() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    // The client key is the canary itself, from the environment.
    let client_key = format!("sk-client-{CANARY}");
    // SAFETY: this binary's one test sets it once, on the current-thread runtime's only
    // thread, before anything reads the environment.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("AETHER_CANARY_CLIENT_KEY", &client_key)
    };
    let upstream = mock(MockConfig::default()).await;
    let dead = dead_addr().await;
    let dir = TempDir::new();
    let toml = format!(
        "[[client_keys]]\nname = \"canary\"\nkey = \"env:AETHER_CANARY_CLIENT_KEY\"\n\n\
         [[providers]]\nname = \"dead\"\nformat = \"claude\"\nbase_url = \"http://{dead}\"\npriority = 0\nmodels = {{ m = \"m\" }}\nkeys = [{{ name = \"k\", api_key = \"pk-{CANARY}\" }}]\n\n\
         [[providers]]\nname = \"live\"\nformat = \"openai-chat\"\nbase_url = \"http://{}\"\npriority = 1\nmodels = {{ m = \"m\" }}\nkeys = [{{ name = \"k\", api_key = \"pk-{CANARY}\" }}]\n\n\
         [telemetry]\nurl = \"sqlite://{}/usage.db\"\nstore_bodies = \"truncated\"\n",
        upstream.addr(),
        dir.0.display()
    );
    let gw = start_gateway(&toml).await;
    let client = Client::new(gw.addr);
    let good_auth = format!("Bearer {client_key}");
    // A client pasting the configured keys into a prompt.
    let with_canary_body = format!(
        r#"{{"model":"m","max_tokens":8,"messages":[{{"role":"user","content":"my keys are pk-{CANARY} and {client_key}"}}]}}"#
    );

    let mut answers = Vec::new();
    // A request that works (failing over from the dead provider, with a converted answer).
    answers.push(
        client
            .post(
                "/v1/messages",
                &[("x-api-key", client_key.as_str())],
                with_canary_body.clone(),
            )
            .await,
    );
    // Wrong keys that carry the canary, in every place a key can be.
    answers.push(
        client
            .post("/v1/messages", &[("x-api-key", &format!("sk-{CANARY}-wrong"))], "{}")
            .await,
    );
    answers.push(
        client
            .post(&format!("/v1beta/models/m:generateContent?key=sk-{CANARY}"), &[], "{}")
            .await,
    );
    // Broken bodies carrying the canary, from an authenticated client.
    for body in [
        format!("{{\"model\": \"m\", \"messages\": \"pk-{CANARY}"),
        format!(
            "{{\"model\": \"m\", \"max_tokens\": \"pk-{CANARY}\", \"messages\": [{{\"role\":\"user\",\"content\":\"x\"}}]}}"
        ),
        format!(
            "{{\"model\": \"m\", \"stream\": \"{client_key}\", \"messages\": [{{\"role\":\"user\",\"content\":\"x\"}}]}}"
        ),
    ] {
        answers.push(
            client
                .post("/v1/chat/completions", &[("authorization", good_auth.as_str())], body)
                .await,
        );
    }
    // Every upstream failure: the mock's error body is relayed or summarised.
    for status in ["400", "401", "429", "500"] {
        answers.push(
            client
                .post(
                    "/v1/chat/completions",
                    &[("authorization", good_auth.as_str()), ("x-mock-status", status)],
                    with_canary_body.replace("max_tokens\":8,", ""),
                )
                .await,
        );
    }
    let ids: Vec<String> = answers
        .iter()
        .filter_map(|r| r.header("x-request-id").map(str::to_owned))
        .collect();
    assert_eq!(answers[0].status, 200, "{}", answers[0].text());

    // A config reload that fails on a line holding the canary.
    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_addr = admin_listener.local_addr().unwrap();
    let admin = HttpServer::new_app(
        Admin::new(gw.store.clone())
            .with_access(AdminAccess::new(None, AdminExposure::LoopbackOnly))
            .with_telemetry(gw.telemetry.clone()),
    );
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(aether::listener::serve(admin_listener, Arc::new(admin), stopped));
    std::fs::write(
        gw.config_path(),
        toml.replace("priority = 1", &format!("priority = \"{CANARY}\"")),
    )
    .unwrap();
    let admin = Client::new(admin_addr);
    let mut admin_answers = vec![admin.request("POST", "/admin/reload", &[], "").await];
    assert_eq!(admin_answers[0].status, 400, "{}", admin_answers[0].text());
    std::fs::write(gw.config_path(), format!("[server]\nlisten = {CANARY}\n")).unwrap();
    admin_answers.push(admin.request("POST", "/admin/reload", &[], "").await);
    gw.telemetry.flush().await.unwrap();
    for path in ["/admin/providers", "/metrics", "/admin/usage?since=1h&by=model"] {
        admin_answers.push(admin.request("GET", path, &[], "").await);
    }
    for id in &ids {
        admin_answers.push(admin.request("GET", &format!("/admin/requests/{id}"), &[], "").await);
    }

    // The sweep.
    for (i, r) in answers.iter().enumerate() {
        assert!(!r.text().contains(CANARY), "answer {i} ({}): {}", r.status, r.text());
        for (name, value) in &r.headers {
            assert!(
                !value.to_str().unwrap_or("").contains(CANARY),
                "answer {i} header {name}"
            );
        }
    }
    for r in &admin_answers {
        assert!(!r.text().contains(CANARY), "admin: {}", r.text());
    }
    let mut stored = 0;
    for id in &ids {
        if let Some(record) = gw.telemetry.record(id).await.unwrap() {
            stored += 1;
            assert!(!format!("{record:?}").contains(CANARY), "record {id}: {record:?}");
        }
    }
    assert!(stored >= 6, "the authenticated requests were recorded ({stored})");
    assert!(!gw.telemetry.metrics_text().contains(CANARY));
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.lines().count() > 10, "the log was captured");
    let leaked: Vec<&str> = logs.lines().filter(|l| l.contains(CANARY)).collect();
    assert!(leaked.is_empty(), "log lines with the canary: {leaked:#?}");
}
