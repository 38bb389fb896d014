//! The config file as written: a serde model of `aether.toml`.
//!
//! Every field is documented in `conf/aether.toml`. Unknown fields are rejected so a typo
//! is an error, not a silently ignored setting. This is only the shape of the file; the
//! pass that checks it and builds the form the request path uses is [`super::compile`].

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::format::WireFormat;

/// The whole file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The client-facing listener.
    #[serde(default)]
    pub server: ServerSection,
    /// The admin listener; absent means no admin listener.
    pub admin: Option<AdminSection>,
    /// Circuit breaker thresholds, shared by every provider key.
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerSection,
    /// Keys that clients present to Aether.
    #[serde(default)]
    pub client_keys: Vec<ClientKeySection>,
    /// Upstream providers.
    #[serde(default)]
    pub providers: Vec<ProviderSection>,
    /// Client-facing alias → client-facing model name.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// Usage records: sink, writer, retention, bodies.
    #[serde(default)]
    pub telemetry: crate::telemetry::settings::TelemetrySection,
    /// Price catalogue and per-model prices.
    #[serde(default)]
    pub pricing: crate::telemetry::pricing::PricingSection,
    /// Format plugins: the plugin directory, limits per call, the artifact cache.
    #[serde(default)]
    pub plugins: PluginsSection,
}

/// `[plugins]`: read at start (changing it needs a restart; the directory's contents are
/// hot-reloaded).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsSection {
    /// Directory of `.wasm` plugins overriding the built-in ones; unset: built-ins only.
    pub dir: Option<String>,
    /// Directory for precompiled plugins, so a restart does not compile again (6 s and
    /// 8 MB of idle RSS saved with the built-in plugins, BENCHMARKS.md). Default
    /// `data/plugin-cache`, like the usage database relative to the working directory;
    /// `""` compiles at every start. A directory that cannot be written costs only the
    /// compile, with a warning.
    pub cache_dir: Option<String>,
    /// CPU deadline per plugin call, in milliseconds.
    pub call_timeout_ms: u64,
    /// Memory cap per plugin instance, in MiB.
    pub memory_limit_mb: usize,
    /// How often the plugin directory is polled for changes, in milliseconds; 0: never
    /// (`POST /admin/reload` rescans it).
    pub watch_interval_ms: u64,
    /// Instances holding per-stream plugin state, per plugin.
    pub stream_shards: usize,
    /// Warm instances kept per plugin for per-request calls.
    pub max_idle_instances: usize,
}

impl Default for PluginsSection {
    fn default() -> Self {
        PluginsSection {
            dir: None,
            cache_dir: Some("data/plugin-cache".into()),
            call_timeout_ms: 100,
            memory_limit_mb: 128,
            watch_interval_ms: 1000,
            stream_shards: 4,
            max_idle_instances: 4,
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Plain-text listen address.
    pub listen: String,
    /// Optional TLS listener for edge deployments.
    pub tls: Option<TlsSection>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Worker threads for the listener (0 = one per core).
    pub threads: usize,
    /// Seconds to keep serving in-flight requests after SIGTERM.
    pub grace_period_secs: u64,
    /// Unix socket used to hand listening sockets to a new binary on graceful upgrade.
    pub upgrade_sock: String,
    /// PID file (used by graceful upgrade).
    pub pid_file: String,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: "127.0.0.1:8080".into(),
            tls: None,
            max_body_bytes: 32 * 1024 * 1024,
            threads: 0,
            grace_period_secs: 30,
            upgrade_sock: "/tmp/aether_upgrade.sock".into(),
            pid_file: "/tmp/aether.pid".into(),
        }
    }
}

/// `[server.tls]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// TLS listen address.
    pub listen: String,
    /// PEM certificate chain file.
    pub cert: String,
    /// PEM private key file.
    pub key: String,
}

/// Who may reach the admin listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AdminExposure {
    /// Only loopback addresses may be configured (the default).
    #[default]
    LoopbackOnly,
    /// Any address; the operator takes responsibility for protecting it.
    Public,
}

/// `[admin]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Listen address.
    pub listen: String,
    /// Whether a non-loopback address is allowed.
    #[serde(default)]
    pub exposure: AdminExposure,
}

/// `[circuit_breaker]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitBreakerSection {
    /// Length of the sliding window of outcomes, in seconds.
    pub window_secs: u64,
    /// Outcomes needed in the window before the error rate counts.
    pub min_requests: u32,
    /// Error rate (0..=1) at which the circuit opens.
    pub error_rate: f64,
    /// First open period, in seconds; doubles on each failed probe.
    pub open_secs: u64,
    /// Longest open period, in seconds.
    pub max_open_secs: u64,
    /// Successful probes in a row that close a half-open circuit.
    pub half_open_successes: u32,
}

impl Default for CircuitBreakerSection {
    fn default() -> Self {
        CircuitBreakerSection {
            window_secs: 60,
            min_requests: 5,
            error_rate: 0.5,
            open_secs: 30,
            max_open_secs: 300,
            half_open_successes: 2,
        }
    }
}

/// `[[client_keys]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientKeySection {
    /// Name recorded in logs and usage records (never the key).
    pub name: String,
    /// Hex SHA-256 of the key.
    pub key_sha256: Option<String>,
    /// `env:NAME`: the key is read from an environment variable at load.
    pub key: Option<String>,
    /// Client-facing models this key may use; absent or `["*"]` means all.
    pub models: Option<Vec<String>>,
}

/// HTTP version towards an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HttpVersionSetting {
    /// HTTP/2 when TLS ALPN offers it, else HTTP/1.1 (the default).
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only (prior knowledge / h2c on plain text).
    Http2,
}

/// `[[providers]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    /// Unique name.
    pub name: String,
    /// The wire format the upstream speaks.
    pub format: WireFormat,
    /// `http(s)://host[:port][/prefix]`.
    pub base_url: String,
    /// Lower is tried first.
    #[serde(default)]
    pub priority: i32,
    /// Upstream path template overriding the format's default; `{model}` and `{action}`
    /// are substituted.
    pub path: Option<String>,
    /// HTTP version towards this upstream.
    #[serde(default)]
    pub http: HttpVersionSetting,
    /// Timeouts.
    #[serde(default)]
    pub timeouts: TimeoutsSection,
    /// Extra headers sent upstream (they cannot override auth).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Client-facing model → upstream model. `"*" = "*"` passes any model through.
    #[serde(default)]
    pub models: BTreeMap<String, String>,
    /// Keys; at least one.
    #[serde(default)]
    pub keys: Vec<ProviderKeySection>,
    /// What the provider's models can do; unset: tools, vision, thinking, structured_output.
    pub capabilities: Option<Vec<crate::capability::Capability>>,
}

/// `[providers.timeouts]`, all in milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutsSection {
    /// TCP (and TLS) connect.
    pub connect_ms: u64,
    /// From sending the request to the response head and, for streams, the first event.
    pub first_byte_ms: u64,
    /// Longest silence between two reads once the response has started.
    pub idle_ms: u64,
    /// Whole exchange with one upstream, stream included.
    pub total_ms: u64,
}

impl Default for TimeoutsSection {
    fn default() -> Self {
        TimeoutsSection {
            connect_ms: 5_000,
            first_byte_ms: 60_000,
            idle_ms: 120_000,
            total_ms: 900_000,
        }
    }
}

/// `[[providers.keys]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderKeySection {
    /// Name recorded in logs, records and the admin API.
    pub name: String,
    /// `env:NAME` (recommended) or the literal key.
    pub api_key: String,
    /// Relative share of traffic within a priority tier.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Client-facing models this key may serve; absent means all of the provider's.
    pub models: Option<Vec<String>>,
    /// Actual cost = list cost × this (a negotiated discount, a reseller's markup); absent = 1.
    pub cost_multiplier: Option<f64>,
    /// Capabilities this key adds to its provider's (e.g. `context_1m`, `cache_1h`).
    #[serde(default)]
    pub capabilities: Vec<crate::capability::Capability>,
}

fn default_weight() -> u32 {
    1
}
