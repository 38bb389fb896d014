//! The admin listener (its own port, loopback by default): health, readiness, and a JSON
//! view of providers, keys (names and weights, never secrets) and circuit states.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::json;

use crate::config::compile::RuntimeConfig;
use crate::config::reload::ConfigStore;

/// The admin application.
#[derive(Debug)]
pub struct Admin {
    store: Arc<ConfigStore>,
}

impl Admin {
    /// Admin over the gateway's config store.
    pub fn new(store: Arc<ConfigStore>) -> Self {
        Admin { store }
    }
}

/// Whether any provider has a usable key.
pub fn is_ready(config: &RuntimeConfig) -> bool {
    config.providers.iter().any(|p| !p.keys.is_empty())
}

/// The providers view.
pub fn providers_view(config: &RuntimeConfig) -> serde_json::Value {
    let now = Instant::now();
    let providers: Vec<_> = config
        .providers
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "format": p.format,
                "base_url": format!("{}://{}{}", if p.url.tls { "https" } else { "http" }, p.url.authority, p.url.prefix),
                "priority": p.priority,
                "models": p.models,
                "keys": p.keys.iter().map(|k| json!({
                    "name": k.name,
                    "weight": k.weight,
                    "circuit": k.breaker.view(&config.circuit, now),
                })).collect::<Vec<_>>(),
                "disabled_keys": p.disabled_keys,
            })
        })
        .collect();
    json!({ "providers": providers })
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let config = self.store.current();
        let (status, body) = match (session.req_header().method.as_str(), session.req_header().uri.path()) {
            ("GET", "/healthz") => (200, json!({ "status": "ok" })),
            ("GET", "/readyz") if is_ready(&config) => (200, json!({ "status": "ready" })),
            ("GET", "/readyz") => (503, json!({ "status": "no provider has a usable key" })),
            ("GET", "/admin/providers") => (200, providers_view(&config)),
            ("POST", "/admin/reload") => match self.store.reload() {
                crate::config::reload::ReloadOutcome::Applied => (200, json!({ "reloaded": true })),
                crate::config::reload::ReloadOutcome::Rejected(reason) => {
                    (400, json!({ "reloaded": false, "error": reason }))
                }
            },
            _ => (404, json!({ "error": "not found" })),
        };
        let body = body.to_string().into_bytes();
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(body)
            .unwrap_or_default()
    }
}
