//! Checks on a parsed config file. Every problem is reported with its path
//! (`providers[2].keys[0]: env var OPENAI_API_KEY is not set`), not just the first.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;

use super::file::{AdminExposure, ConfigFile, ProviderSection};
use super::secret::SecretRef;
use super::upstream_url::UpstreamUrl;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The config cannot be used.
    Error,
    /// The config works, with the named part disabled (e.g. a key whose env var is unset).
    Warning,
}

/// One problem found in a config, with the path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Dotted path, e.g. `providers[1].keys[0].api_key`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// What `aether check` makes of warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningPolicy {
    /// Warnings are reported and the config passes: it loads, with the named parts
    /// disabled (the default, as `nginx -t`; a pipeline without the secrets can gate on it).
    Tolerate,
    /// Warnings fail the check too (`aether check --strict`).
    Fail,
}

/// The outcome of checking a config, which decides `aether check`'s exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No problem at all.
    Clean,
    /// Warnings only, tolerated: the config is usable.
    Usable {
        /// How many warnings.
        warnings: usize,
    },
    /// Errors, or warnings under [`WarningPolicy::Fail`].
    Fails {
        /// How many errors.
        errors: usize,
        /// How many warnings.
        warnings: usize,
    },
}

impl Verdict {
    /// The verdict on `diagnostics` under `policy`.
    pub fn of(diagnostics: &[Diagnostic], policy: WarningPolicy) -> Verdict {
        let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
        let warnings = diagnostics.len() - errors;
        match (errors, warnings, policy) {
            (0, 0, _) => Verdict::Clean,
            (0, warnings, WarningPolicy::Tolerate) => Verdict::Usable { warnings },
            (errors, warnings, _) => Verdict::Fails { errors, warnings },
        }
    }

    /// Whether the check passes (exit status 0).
    pub fn passes(self) -> bool {
        !matches!(self, Verdict::Fails { .. })
    }
}

#[derive(Default)]
struct Report(Vec<Diagnostic>);

impl Report {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(path, message, Severity::Error);
    }
    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(path, message, Severity::Warning);
    }
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>, severity: Severity) {
        self.0.push(Diagnostic {
            path: path.into(),
            message: message.into(),
            severity,
        });
    }
}

/// Checks `file` and returns every problem found (empty when the file is clean).
pub fn validate(file: &ConfigFile) -> Vec<Diagnostic> {
    let mut r = Report::default();
    check_addr(&mut r, "server.listen", &file.server.listen);
    if let Some(tls) = &file.server.tls {
        check_addr(&mut r, "server.tls.listen", &tls.listen);
        for (field, path) in [("cert", &tls.cert), ("key", &tls.key)] {
            if !std::path::Path::new(path).is_file() {
                r.error(format!("server.tls.{field}"), format!("file {path} does not exist"));
            }
        }
    }
    if file.server.max_body_bytes == 0 {
        r.error("server.max_body_bytes", "must be greater than 0");
    }
    if let Some(admin) = &file.admin
        && let Some(addr) = check_addr(&mut r, "admin.listen", &admin.listen)
        && !addr.ip().is_loopback()
        && admin.exposure == AdminExposure::LoopbackOnly
    {
        r.error(
            "admin.listen",
            format!("{addr} is not a loopback address; set admin.exposure = \"public\" to allow it"),
        );
    }
    let cb = &file.circuit_breaker;
    if !(cb.error_rate > 0.0 && cb.error_rate <= 1.0) {
        r.error("circuit_breaker.error_rate", "must be in (0, 1]");
    }
    if cb.window_secs == 0 || cb.open_secs == 0 || cb.half_open_successes == 0 {
        r.error(
            "circuit_breaker",
            "window_secs, open_secs and half_open_successes must be > 0",
        );
    }
    if cb.max_open_secs < cb.open_secs {
        r.error("circuit_breaker.max_open_secs", "must be at least open_secs");
    }

    let mut names = HashSet::new();
    for (i, client) in file.client_keys.iter().enumerate() {
        let path = format!("client_keys[{i}]");
        if !names.insert(client.name.as_str()) {
            r.error(
                format!("{path}.name"),
                format!("duplicate client key name {:?}", client.name),
            );
        }
        match (&client.key_sha256, &client.key) {
            (Some(_), Some(_)) | (None, None) => {
                r.error(path.clone(), "set exactly one of key_sha256 or key");
            }
            (Some(hex), None) => {
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    r.error(format!("{path}.key_sha256"), "must be 64 hex characters");
                }
            }
            (None, Some(key)) => match SecretRef::parse(key) {
                SecretRef::Env(var) => {
                    if std::env::var(var).map_or(true, |v| v.is_empty()) {
                        r.warn(format!("{path}.key"), format!("env var {var} is not set"));
                    }
                }
                SecretRef::Literal(_) => r.error(
                    format!("{path}.key"),
                    "literal client keys are not allowed; use key_sha256 or env:NAME",
                ),
            },
        }
    }

    let mut provider_names = HashSet::new();
    let mut served = HashSet::new();
    for (i, provider) in file.providers.iter().enumerate() {
        let path = format!("providers[{i}]");
        if !provider_names.insert(provider.name.as_str()) {
            r.error(
                format!("{path}.name"),
                format!("duplicate provider name {:?}", provider.name),
            );
        }
        check_provider(&mut r, &path, provider);
        served.extend(provider.models.keys().map(String::as_str));
    }
    for (alias, target) in &file.aliases {
        if !served.contains(target.as_str()) && !served.contains("*") {
            r.error(
                format!("aliases.{alias}"),
                format!("target model {target:?} is served by no provider"),
            );
        }
        if served.contains(alias.as_str()) {
            r.error(
                format!("aliases.{alias}"),
                "an alias cannot shadow a model a provider serves",
            );
        }
    }
    for (field, message) in file.telemetry.problems() {
        r.error(format!("telemetry.{field}"), message);
    }
    check_plugins(&mut r, &file.plugins);
    // Prices, tiers and provider-key cost multipliers.
    if let Err(e) = crate::telemetry::Pricing::from_config(file) {
        match e {
            crate::telemetry::PricingError::Invalid { path, message } => r.error(path, message),
            other => r.error("pricing", other.to_string()),
        }
    }
    r.0
}

fn check_plugins(r: &mut Report, p: &super::file::PluginsSection) {
    let max_mb = crate::plugin_host::engine::MAX_MEMORY_BYTES >> 20;
    if !(8..=max_mb).contains(&p.memory_limit_mb) {
        r.error("plugins.memory_limit_mb", format!("must be between 8 and {max_mb}"));
    }
    if !(1..=60_000).contains(&p.call_timeout_ms) {
        r.error("plugins.call_timeout_ms", "must be between 1 and 60000");
    }
    if !(1..=64).contains(&p.stream_shards) {
        r.error("plugins.stream_shards", "must be between 1 and 64");
    }
    if p.max_idle_instances > 256 {
        r.error("plugins.max_idle_instances", "must be at most 256");
    }
    if let Some(dir) = &p.dir
        && !std::path::Path::new(dir).is_dir()
    {
        r.warn(
            "plugins.dir",
            format!("{dir} is not a directory (yet): only the built-in plugins load until it is"),
        );
    }
}

fn check_provider(r: &mut Report, path: &str, p: &ProviderSection) {
    if let Err(e) = UpstreamUrl::parse(&p.base_url) {
        r.error(format!("{path}.base_url"), e.to_string());
    }
    if let Some(template) = &p.path
        && !template.starts_with('/')
    {
        r.error(format!("{path}.path"), "must start with /");
    }
    let t = &p.timeouts;
    for (name, v) in [
        ("connect_ms", t.connect_ms),
        ("first_byte_ms", t.first_byte_ms),
        ("idle_ms", t.idle_ms),
        ("total_ms", t.total_ms),
    ] {
        if v == 0 {
            r.error(format!("{path}.timeouts.{name}"), "must be greater than 0");
        }
    }
    for (name, value) in &p.headers {
        let lower = name.to_ascii_lowercase();
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            r.error(format!("{path}.headers.{name}"), "not a valid header name");
        } else if crate::headers::is_credential(&lower) || crate::headers::is_hop_by_hop(&lower) {
            r.error(
                format!("{path}.headers.{name}"),
                "cannot set credentials or hop-by-hop headers",
            );
        }
        if http::HeaderValue::from_str(value).is_err() {
            r.error(format!("{path}.headers.{name}"), "not a valid header value");
        }
    }
    if p.models.is_empty() {
        r.error(format!("{path}.models"), "a provider must serve at least one model");
    }
    if p.keys.is_empty() {
        r.error(format!("{path}.keys"), "a provider needs at least one key");
    }
    let mut key_names = HashSet::new();
    for (k, key) in p.keys.iter().enumerate() {
        let kpath = format!("{path}.keys[{k}]");
        if !key_names.insert(key.name.as_str()) {
            r.error(format!("{kpath}.name"), format!("duplicate key name {:?}", key.name));
        }
        if key.weight == 0 {
            r.error(format!("{kpath}.weight"), "must be greater than 0");
        }
        if let SecretRef::Env(var) = SecretRef::parse(&key.api_key)
            && std::env::var(var).map_or(true, |v| v.is_empty())
        {
            r.warn(kpath.clone(), format!("env var {var} is not set"));
        }
        for model in key.models.iter().flatten() {
            if !p.models.contains_key(model) && !p.models.contains_key("*") {
                r.error(format!("{kpath}.models"), format!("{model:?} is not in {path}.models"));
            }
        }
    }
}

fn check_addr(r: &mut Report, path: &str, addr: &str) -> Option<SocketAddr> {
    match addr.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            r.error(path, format!("{addr:?} is not an IP:port address"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ConfigFile {
        toml::from_str(s).unwrap()
    }

    fn diagnostic(severity: Severity) -> Diagnostic {
        Diagnostic {
            path: "p".into(),
            message: "m".into(),
            severity,
        }
    }

    #[test]
    fn warnings_pass_a_check_unless_strict_and_errors_never_do() {
        use Severity::{Error, Warning};
        use WarningPolicy::{Fail, Tolerate};
        let warnings = [diagnostic(Warning), diagnostic(Warning)];
        let mixed = [diagnostic(Warning), diagnostic(Error)];
        assert_eq!(Verdict::of(&[], Tolerate), Verdict::Clean);
        assert_eq!(Verdict::of(&[], Fail), Verdict::Clean);
        assert_eq!(Verdict::of(&warnings, Tolerate), Verdict::Usable { warnings: 2 });
        assert_eq!(Verdict::of(&warnings, Fail), Verdict::Fails { errors: 0, warnings: 2 });
        assert_eq!(Verdict::of(&mixed, Tolerate), Verdict::Fails { errors: 1, warnings: 1 });
        assert!(Verdict::Clean.passes() && Verdict::Usable { warnings: 2 }.passes());
        assert!(!Verdict::of(&mixed, Tolerate).passes() && !Verdict::of(&warnings, Fail).passes());
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let file = parse(
            r#"
            [admin]
            listen = "0.0.0.0:9090"
            [[client_keys]]
            name = "a"
            key_sha256 = "xyz"
            [[providers]]
            name = "p"
            format = "claude"
            base_url = "ftp://nope"
            models = { "m" = "m" }
            [[providers.keys]]
            name = "k"
            api_key = "env:AETHER_TEST_SURELY_UNSET_VAR"
            weight = 0
            "#,
        );
        let d = validate(&file);
        let text: Vec<String> = d.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.starts_with("admin.listen: 0.0.0.0:9090 is not a loopback")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.starts_with("client_keys[0].key_sha256")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.starts_with("providers[0].base_url")), "{text:?}");
        assert!(
            text.iter().any(|t| t.starts_with("providers[0].keys[0].weight")),
            "{text:?}"
        );
        assert!(
            text.contains(&"providers[0].keys[0]: env var AETHER_TEST_SURELY_UNSET_VAR is not set".to_string()),
            "{text:?}"
        );
        let warn = d
            .iter()
            .find(|d| d.message.contains("AETHER_TEST_SURELY_UNSET_VAR"))
            .unwrap();
        assert_eq!(warn.severity, Severity::Warning);
    }

    #[test]
    fn unknown_alias_target_is_an_error() {
        let file = parse(
            r#"
            [aliases]
            fast = "nowhere"
            "#,
        );
        assert!(validate(&file).iter().any(|d| d.path == "aliases.fast"));
    }
}
