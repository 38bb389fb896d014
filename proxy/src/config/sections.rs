//! The checks of the sections that the request path does not compile into
//! [`super::RuntimeConfig`] (they are read at start by the server, telemetry and the plugin
//! registry): `[server]`, `[admin]`, `[telemetry]` and `[plugins]`. Part of the one config
//! pass in [`super::compile`], reporting into the same [`Diagnostics`].

use std::net::SocketAddr;

use super::diagnostic::Diagnostics;
use super::file::{AdminExposure, AdminSection, EdgeSection, PluginsSection, ServerSection};
use super::secret::SecretRef;
use crate::telemetry::TelemetrySection;

/// `[server]`: the listeners and the body limit.
pub fn check_server(d: &mut Diagnostics, server: &ServerSection) {
    check_addr(d, "server.listen", &server.listen);
    if let Some(tls) = &server.tls {
        check_addr(d, "server.tls.listen", &tls.listen);
        for (field, path) in [("cert", &tls.cert), ("key", &tls.key)] {
            if !std::path::Path::new(path).is_file() {
                d.error(format!("server.tls.{field}"), format!("file {path} does not exist"));
            }
        }
    }
    if server.max_body_bytes == 0 {
        d.error("server.max_body_bytes", "must be greater than 0");
    }
    if server.max_event_bytes < 4096 {
        d.error("server.max_event_bytes", "must be at least 4096");
    }
    check_edge(d, &server.edge);
}

/// `[server.edge]`: every limit set (a zero would cut every connection at once).
fn check_edge(d: &mut Diagnostics, e: &EdgeSection) {
    for (field, value) in [
        ("header_ms", e.header_ms),
        ("keepalive_idle_ms", e.keepalive_idle_ms),
        ("body_ms", e.body_ms),
        ("body_min_bytes_per_sec", e.body_min_bytes_per_sec),
        ("write_ms", e.write_ms),
        ("h2_idle_ms", e.h2_idle_ms),
        ("tls_handshake_ms", e.tls_handshake_ms),
    ] {
        if value == 0 {
            d.error(format!("server.edge.{field}"), "must be greater than 0");
        }
    }
    if e.max_connections == 0 {
        d.error("server.edge.max_connections", "must be greater than 0");
    }
    if e.max_inflight_body_bytes == 0 {
        d.error("server.edge.max_inflight_body_bytes", "must be greater than 0");
    }
}

/// `[admin]`: a loopback address unless exposure is public; a public admin has a token,
/// and a token is an `env:` reference whose variable is set.
pub fn check_admin(d: &mut Diagnostics, admin: Option<&AdminSection>) {
    let Some(admin) = admin else { return };
    if let Some(addr) = check_addr(d, "admin.listen", &admin.listen)
        && !addr.ip().is_loopback()
        && admin.exposure == AdminExposure::LoopbackOnly
    {
        d.error(
            "admin.listen",
            format!("{addr} is not a loopback address; set admin.exposure = \"public\" to allow it"),
        );
    }
    match admin.token.as_deref().map(SecretRef::parse) {
        None if admin.exposure == AdminExposure::Public => d.error(
            "admin.token",
            "a public admin listener needs a bearer token: admin.token = \"env:NAME\"",
        ),
        None => {}
        Some(SecretRef::Literal(_)) => d.error(
            "admin.token",
            "must be an env:NAME reference (a literal token would sit in the file)",
        ),
        Some(token @ SecretRef::Env(var)) if token.resolve().is_none() => {
            d.error("admin.token", format!("env var {var} is not set"));
        }
        Some(SecretRef::Env(_)) => {}
    }
}

/// `[telemetry]`: its own checks, each with its field.
pub fn check_telemetry(d: &mut Diagnostics, telemetry: &TelemetrySection) {
    for (field, message) in telemetry.problems() {
        d.error(format!("telemetry.{field}"), message);
    }
}

/// `[plugins]`: limits within what the host supports; a missing directory is a warning.
pub fn check_plugins(d: &mut Diagnostics, p: &PluginsSection) {
    let max_mb = crate::plugin_host::engine::MAX_MEMORY_BYTES >> 20;
    if !(8..=max_mb).contains(&p.memory_limit_mb) {
        d.error("plugins.memory_limit_mb", format!("must be between 8 and {max_mb}"));
    }
    if !(1..=60_000).contains(&p.call_timeout_ms) {
        d.error("plugins.call_timeout_ms", "must be between 1 and 60000");
    }
    if !(1..=64).contains(&p.stream_shards) {
        d.error("plugins.stream_shards", "must be between 1 and 64");
    }
    if p.max_idle_instances > 256 {
        d.error("plugins.max_idle_instances", "must be at most 256");
    }
    if let Some(dir) = &p.dir
        && !std::path::Path::new(dir).is_dir()
    {
        d.warn(
            "plugins.dir",
            format!("{dir} is not a directory (yet): only the built-in plugins load until it is"),
        );
    }
}

fn check_addr(d: &mut Diagnostics, path: &str, addr: &str) -> Option<SocketAddr> {
    match addr.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            d.error(path, format!("{addr:?} is not an IP:port address"));
            None
        }
    }
}
