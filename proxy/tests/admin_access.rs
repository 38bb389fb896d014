//! Who may use the admin API: a bearer token (`admin.token = "env:NAME"`) when one is set,
//! and on a loopback listener a `Host` that names the loopback, so a web page whose domain
//! was rebound to 127.0.0.1 cannot read it from a browser.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use aether::admin::{Admin, AdminAccess};
use aether::config::diagnostic::Severity;
use aether::config::file::AdminExposure;
use aether_mock::MockConfig;
use common::*;
use pingora::apps::http_app::HttpServer;

async fn admin_on(gw: &TestGateway, access: AdminAccess) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let admin = HttpServer::new_app(Admin::new(gw.store.clone()).with_access(access));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    std::mem::forget(stop);
    tokio::spawn(aether::listener::serve(listener, Arc::new(admin), stopped));
    addr
}

async fn gateway() -> TestGateway {
    let upstream = mock(MockConfig::default()).await;
    start_gateway(&(config_head() + &provider("p", "claude", upstream.addr(), 0, &[("m", "m")], ""))).await
}

#[tokio::test]
async fn a_token_is_required_when_one_is_set() {
    let gw = gateway().await;
    let addr = admin_on(
        &gw,
        AdminAccess::new(Some("s3cret-admin-token".into()), AdminExposure::LoopbackOnly),
    )
    .await;
    let admin = Client::new(addr);
    for path in ["/admin/providers", "/metrics", "/admin/requests/req_x"] {
        let none = admin.request("GET", path, &[], "").await;
        assert_eq!(none.status, 401, "{path}: {}", none.text());
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        let wrong = admin
            .request("GET", path, &[("authorization", "Bearer s3cret-admin-tokeN")], "")
            .await;
        assert_eq!(wrong.status, 401, "{path}");
        assert!(!wrong.text().contains("s3cret"), "the token is never echoed");
    }
    let ok = admin
        .request(
            "GET",
            "/admin/providers",
            &[("authorization", "Bearer s3cret-admin-token")],
            "",
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let reload = admin.request("POST", "/admin/reload", &[], "").await;
    assert_eq!(reload.status, 401);
    // Liveness stays open to probes that carry no secret.
    assert_eq!(admin.request("GET", "/healthz", &[], "").await.status, 200);
}

#[tokio::test]
async fn a_loopback_admin_refuses_a_foreign_host() {
    let gw = gateway().await;
    let addr = admin_on(&gw, AdminAccess::new(None, AdminExposure::LoopbackOnly)).await;
    let admin = Client::new(addr);
    // The test client sends `Host: localhost`.
    assert_eq!(admin.request("GET", "/admin/providers", &[], "").await.status, 200);
    for host in ["127.0.0.1", "127.0.0.1:9090", "[::1]:9090", "localhost:9090"] {
        let resp = admin.request("GET", "/admin/providers", &[("host", host)], "").await;
        assert_eq!(resp.status, 200, "{host}");
    }
    for host in [
        "evil.example",
        "evil.example:9090",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
    ] {
        let resp = admin.request("GET", "/admin/providers", &[("host", host)], "").await;
        assert_eq!(resp.status, 403, "{host}: {}", resp.text());
    }
    // A public admin (behind its token) answers any Host.
    let addr = admin_on(&gw, AdminAccess::new(Some("t".into()), AdminExposure::Public)).await;
    let resp = Client::new(addr)
        .request(
            "GET",
            "/admin/providers",
            &[("host", "admin.example"), ("authorization", "Bearer t")],
            "",
        )
        .await;
    assert_eq!(resp.status, 200);
}

#[test]
fn a_public_admin_without_a_token_is_a_config_error() {
    let toml = "[admin]\nlisten = \"0.0.0.0:9090\"\nexposure = \"public\"\n";
    let file: aether::config::ConfigFile = toml::from_str(toml).unwrap();
    let problems = aether::config::compile::check(&file);
    let errors: Vec<_> = problems
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    assert!(errors.iter().any(|e| e.contains("admin.token")), "{errors:?}");
    let toml =
        "[admin]\nlisten = \"0.0.0.0:9090\"\nexposure = \"public\"\ntoken = \"env:AETHER_ADMIN_TOKEN_TEST_UNSET\"\n";
    let file: aether::config::ConfigFile = toml::from_str(toml).unwrap();
    let problems = aether::config::compile::check(&file);
    assert!(
        problems
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .any(|d| d.to_string().contains("admin.token")),
        "an unset token variable on a public admin is an error: {problems:?}"
    );
}

#[test]
fn request_ids_are_unguessable_and_ordered() {
    let a = aether::request_id::next();
    let b = aether::request_id::next();
    assert_eq!(a.len(), "req_".len() + 12 + 32);
    assert!(a[4..16] <= b[4..16], "time-ordered by their first 12 digits: {a} {b}");
    // 128 random bits each: two ids made back to back share no long run of their tails.
    assert_ne!(a[16..], b[16..]);
    let differing = a[16..].chars().zip(b[16..].chars()).filter(|(x, y)| x != y).count();
    assert!(differing > 16, "{a} {b}");
}
