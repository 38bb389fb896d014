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
    /// Shared limits state; unset, limits are kept per process.
    #[serde(default)]
    pub redis: super::limits::RedisSection,
    /// How requests are spread over keys.
    #[serde(default)]
    pub routing: RoutingSection,
}

/// `[routing]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingSection {
    /// How long a client stays on the key that last served it for a model (a provider's
    /// prompt cache is per key), in seconds; 0: each request follows the routing order.
    pub affinity_secs: u64,
}

impl Default for RoutingSection {
    fn default() -> Self {
        RoutingSection { affinity_secs: 300 }
    }
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
    /// Longest SSE event accepted from an upstream, in bytes (a longer one ends the stream
    /// with an error event instead of growing a buffer without bound).
    pub max_event_bytes: usize,
    /// Worker threads for the listener (0 = one per core).
    pub threads: usize,
    /// Seconds to keep serving in-flight requests after SIGTERM.
    pub grace_period_secs: u64,
    /// Unix socket used to hand listening sockets to a new binary on graceful upgrade.
    /// Default: `upgrade.sock` in the private runtime directory
    /// ([`crate::private_dir::runtime_dir`]).
    pub upgrade_sock: String,
    /// PID file (used by graceful upgrade). Default: `aether.pid` beside the socket.
    pub pid_file: String,
    /// What a client connection is allowed: deadlines, write timeout, connection cap.
    pub edge: EdgeSection,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: "127.0.0.1:8080".into(),
            tls: None,
            max_body_bytes: 32 * 1024 * 1024,
            max_event_bytes: crate::sse::DEFAULT_MAX_EVENT_BYTES,
            threads: 0,
            grace_period_secs: 30,
            upgrade_sock: crate::private_dir::runtime_dir()
                .join("upgrade.sock")
                .display()
                .to_string(),
            pid_file: crate::private_dir::runtime_dir()
                .join("aether.pid")
                .display()
                .to_string(),
            edge: EdgeSection::default(),
        }
    }
}

/// `[server.edge]`: the limits on client connections (read at start). Defaults follow
/// nginx's where it has one, shortened where an LLM client has no reason to be slow (a
/// request head is a few KB).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeSection {
    /// The request head, from accept (or the first byte of a kept-alive connection's next
    /// request) to its blank line.
    pub header_ms: u64,
    /// A kept-alive HTTP/1.1 connection's wait for its next request, head included.
    pub keepalive_idle_ms: u64,
    /// The request body's base allowance, in milliseconds...
    pub body_ms: u64,
    /// ...plus one second per this many bytes received.
    pub body_min_bytes_per_sec: u64,
    /// The longest one write to the client may block (a client that stopped reading).
    pub write_ms: u64,
    /// An HTTP/2 connection with no open stream.
    pub h2_idle_ms: u64,
    /// The TLS handshake.
    pub tls_handshake_ms: u64,
    /// Client connections open at once, over every listener.
    pub max_connections: usize,
    /// Request-body bytes held at once, over every request (a body that would pass it: 503).
    pub max_inflight_body_bytes: usize,
}

impl Default for EdgeSection {
    fn default() -> Self {
        EdgeSection {
            header_ms: 10_000,
            keepalive_idle_ms: 75_000,
            body_ms: 30_000,
            body_min_bytes_per_sec: 4096,
            write_ms: 60_000,
            h2_idle_ms: 180_000,
            tls_handshake_ms: 10_000,
            max_connections: 16_384,
            max_inflight_body_bytes: 1 << 30,
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
    /// `env:NAME`: a bearer token every admin request but `/healthz` must carry. Required
    /// with `exposure = "public"`.
    pub token: Option<String>,
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
    /// Rates, concurrency and budgets; absent means none.
    pub limits: Option<super::limits::ClientLimitsSection>,
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
    /// Whether a client's `OpenAI-Organization` / `OpenAI-Project` reach this provider.
    #[serde(default)]
    pub client_billing_headers: ClientBillingHeaders,
}

/// Whether client headers that choose what the operator's key bills are forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ClientBillingHeaders {
    /// Dropped: the key bills its own default organization and project (the default).
    #[default]
    Drop,
    /// Forwarded: clients may pick among the organizations and projects the key can use.
    Forward,
}

/// `[providers.timeouts]`, all in milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutsSection {
    /// TCP (and TLS) connect.
    pub connect_ms: u64,
    /// Streams: from sending the request to the response head and the first event.
    pub first_byte_ms: u64,
    /// Non-streamed responses: from sending the request to the response head, which only
    /// comes once the whole answer is generated.
    pub response_ms: u64,
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
            response_ms: 600_000,
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
    /// Rates, concurrency and the cooldown after a 429.
    #[serde(default)]
    pub limits: super::limits::KeyLimitsSection,
}

fn default_weight() -> u32 {
    1
}
