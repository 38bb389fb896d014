//! The admin listener (its own port, loopback by default): health, readiness, and a JSON
//! view of providers, keys (names and weights, never secrets) and circuit states; with
//! telemetry, the usage summary (`GET /admin/usage?since=&until=&by=`), one request's trace
//! (`GET /admin/requests/{request_id}`), the limits' state (`GET /admin/limits`) and
//! Prometheus metrics (`GET /metrics`). Every
//! request passes [`access`]'s checks first (bearer token, loopback `Host`).

pub mod access;
pub mod limits;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Registry;
use serde_json::json;

pub use access::AdminAccess;

use crate::config::compile::RuntimeConfig;
use crate::config::file::AdminExposure;
use crate::config::reload::ConfigStore;
use crate::edge::EdgeCounters;
use crate::limits::Limiter;
use crate::plugin_registry::{ActiveStatus, Plugins};
use crate::telemetry::{SummaryQuery, Telemetry, clock, metrics};

/// The admin application.
#[derive(Debug)]
pub struct Admin {
    store: Arc<ConfigStore>,
    telemetry: Option<Telemetry>,
    plugins: Option<Arc<Plugins>>,
    limits: Option<Arc<Limiter>>,
    /// The plugins' and the edge's metrics, appended to the telemetry's on `GET /metrics`.
    extra_metrics: Registry,
    access: AdminAccess,
}

impl Admin {
    /// Admin over the gateway's config store.
    pub fn new(store: Arc<ConfigStore>) -> Self {
        Admin {
            store,
            telemetry: None,
            plugins: None,
            limits: None,
            extra_metrics: Registry::default(),
            access: AdminAccess::new(None, AdminExposure::LoopbackOnly),
        }
    }

    /// Who may use it (default: no token, loopback `Host` only).
    pub fn with_access(mut self, access: AdminAccess) -> Self {
        self.access = access;
        self
    }

    /// Serves the limits' state on `GET /admin/limits` and their metrics.
    pub fn with_limits(mut self, limiter: Arc<Limiter>) -> Self {
        self.extra_metrics
            .register_collector(Box::new(limits::LimitMetrics(limiter.clone())));
        self.limits = Some(limiter);
        self
    }

    /// Serves what the client edge turned away on `GET /metrics`.
    pub fn with_edge(mut self, counters: std::sync::Arc<EdgeCounters>) -> Self {
        self.extra_metrics.register_collector(Box::new(EdgeMetrics(counters)));
        self
    }

    /// Serves usage, request traces and metrics from `telemetry`.
    pub fn with_telemetry(mut self, telemetry: Telemetry) -> Self {
        self.telemetry = Some(telemetry);
        self
    }

    /// Serves the plugin listing (`GET /admin/plugins`); `POST /admin/reload` also rescans
    /// the plugin directory.
    pub fn with_plugins(mut self, plugins: Arc<Plugins>) -> Self {
        self.extra_metrics
            .register_collector(Box::new(PluginMetrics(plugins.clone())));
        self.plugins = Some(plugins);
        self
    }

    /// Rescans the plugin directory on a blocking thread (it may compile).
    async fn rescan_plugins(&self) -> Option<Vec<String>> {
        let plugins = self.plugins.clone()?;
        let swapped = tokio::task::spawn_blocking(move || plugins.rescan()).await.ok()?;
        Some(swapped.iter().map(|p| p.label.clone()).collect())
    }

    async fn telemetry_route(&self, path: &str, query: Option<&str>) -> Option<(u16, serde_json::Value)> {
        let path = path.strip_prefix("/admin/")?;
        let Some(telemetry) = &self.telemetry else {
            return (path == "usage" || path.starts_with("requests/"))
                .then(|| (404, json!({ "error": "telemetry is not enabled" })));
        };
        if path == "usage" {
            let q = match SummaryQuery::from_query_string(query, clock::now_ms()) {
                Ok(q) => q,
                Err(e) => return Some((400, json!({ "error": e.to_string() }))),
            };
            return Some(match telemetry.summary(&q).await {
                Ok(rows) => (200, crate::telemetry::query::summary_json(&q, &rows)),
                Err(e) => (503, json!({ "error": e.to_string() })),
            });
        }
        let id = path.strip_prefix("requests/")?;
        Some(match telemetry.record(id).await {
            Ok(Some(record)) => (200, crate::telemetry::query::record_json(&record)),
            Ok(None) => (
                404,
                json!({ "error": "no record for this request id (it may not be written yet)" }),
            ),
            Err(e) => (503, json!({ "error": e.to_string() })),
        })
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

/// Plugin calls and failures per active plugin, read from the plugin host at each scrape.
/// The labels are the format (one of four) and the active plugin's version.
#[derive(Debug)]
struct PluginMetrics(Arc<Plugins>);

impl Collector for PluginMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        type Read = fn(&ActiveStatus) -> u64;
        let status = self.0.status();
        for (name, help, read) in [
            (
                "aether_plugin_calls",
                "Calls into the active format plugins.",
                (|p| p.calls) as Read,
            ),
            (
                "aether_plugin_failures",
                "Plugin calls that trapped, timed out, hit the memory cap or returned unusable output.",
                |p| p.failures,
            ),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for p in &status.active {
                let labels = [("format", p.format.as_str()), ("version", p.version.as_str())];
                ConstCounter::new(read(p)).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// Client connections the edge closed, read at each scrape.
#[derive(Debug)]
struct EdgeMetrics(Arc<EdgeCounters>);

impl Collector for EdgeMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        use std::sync::atomic::Ordering::Relaxed;
        for (name, help, value) in [
            (
                "aether_edge_connections_refused",
                "Client connections closed at once because server.edge.max_connections were open.",
                self.0.over_capacity.load(Relaxed),
            ),
            (
                "aether_edge_tls_handshakes_failed",
                "TLS handshakes that failed or passed server.edge.tls_handshake_ms.",
                self.0.tls_failed.load(Relaxed),
            ),
        ] {
            let family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(value).encode(family)?;
        }
        Ok(())
    }
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let config = self.store.current();
        let header = session.req_header();
        let method = header.method.as_str().to_owned();
        let path = header.uri.path().to_owned();
        let query = header.uri.query().map(str::to_owned);
        let host = header
            .headers
            .get(http::header::HOST)
            .map(http::HeaderValue::as_bytes)
            .or_else(|| header.uri.authority().map(|a| a.as_str().as_bytes()));
        let authorization = header
            .headers
            .get(http::header::AUTHORIZATION)
            .map(http::HeaderValue::as_bytes);
        if let Err(denied) = self.access.check(&path, host, authorization) {
            let (status, message) = denied.answer();
            let body = json!({ "error": message }).to_string().into_bytes();
            let mut response = http::Response::builder()
                .status(status)
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(http::header::CONTENT_LENGTH, body.len());
            if denied == access::Denied::Token {
                response = response.header(http::header::WWW_AUTHENTICATE, "Bearer");
            }
            return response.body(body).unwrap_or_default();
        }
        if method == "GET" && path == "/metrics" {
            let mut text = self.telemetry.as_ref().map(Telemetry::metrics_text).unwrap_or_default();
            if metrics::encode(&mut text, &self.extra_metrics).is_err() {
                tracing::warn!("the plugin and edge metrics could not be encoded");
            }
            return http::Response::builder()
                .status(200)
                .header(http::header::CONTENT_TYPE, metrics::CONTENT_TYPE)
                .header(http::header::CONTENT_LENGTH, text.len())
                .body(text.into_bytes())
                .unwrap_or_default();
        }
        let routed = match method.as_str() {
            "GET" => self.telemetry_route(&path, query.as_deref()).await,
            _ => None,
        };
        let (status, body) = if let Some(answer) = routed {
            answer
        } else {
            match (method.as_str(), path.as_str()) {
                ("GET", "/healthz") => (200, json!({ "status": "ok" })),
                ("GET", "/readyz") if is_ready(&config) => (200, json!({ "status": "ready" })),
                ("GET", "/readyz") => (503, json!({ "status": "no provider has a usable key" })),
                ("GET", "/admin/providers") => (200, providers_view(&config)),
                ("GET", "/admin/limits") => match &self.limits {
                    Some(limiter) => (200, limiter.view(&config).await),
                    None => (404, json!({ "error": "no limits on this admin listener" })),
                },
                ("GET", "/admin/plugins") => match &self.plugins {
                    Some(plugins) => (200, json!(plugins.status())),
                    None => (404, json!({ "error": "no plugins on this admin listener" })),
                },
                ("POST", "/admin/reload") => {
                    let plugins = self.rescan_plugins().await;
                    match self.store.reload() {
                        crate::config::reload::ReloadOutcome::Applied => {
                            (200, json!({ "reloaded": true, "plugins_swapped": plugins }))
                        }
                        crate::config::reload::ReloadOutcome::Rejected(reason) => (
                            400,
                            json!({ "reloaded": false, "error": reason, "plugins_swapped": plugins }),
                        ),
                    }
                }
                _ => (404, json!({ "error": "not found" })),
            }
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
