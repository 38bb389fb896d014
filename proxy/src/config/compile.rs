//! The one config pass: validates and compiles together. Each value is checked where it
//! is turned into its runtime form (a URL parsed once, a key hash decoded once, prices
//! built once), every problem is collected with its path into one [`Diagnostics`], and
//! the [`RuntimeConfig`] exists only when none is an error. What the request path reads
//! is prepared here once per load (hashes decoded, URLs parsed, auth headers built, routes
//! sorted by priority) so that a request only does lookups.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use super::diagnostic::{Diagnostic, Diagnostics};
use super::file::{CircuitBreakerSection, ClientKeySection, ConfigFile, HttpVersionSetting, ProviderSection};
use super::limits::{ClientLimits, KeyLimits};
use super::secret::{Secret, SecretRef};
use super::sections;
use super::upstream_url::UpstreamUrl;
use crate::capability::Capabilities;
use crate::circuit::{CircuitBreaker, CircuitRegistry, CircuitSettings};
use crate::format::WireFormat;
use crate::rendezvous;
use crate::telemetry::bodies::Redactor;
use crate::telemetry::{Labels, Pricing, PricingError};

/// The config the request path reads. Immutable; a reload builds a new one.
#[derive(Debug)]
pub struct RuntimeConfig {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Longest SSE event accepted from an upstream.
    pub max_event_bytes: usize,
    /// Circuit breaker thresholds.
    pub circuit: CircuitSettings,
    /// Providers in file order (for the admin view).
    pub providers: Vec<Arc<Provider>>,
    clients: HashMap<[u8; 32], Arc<ClientKey>>,
    routes: HashMap<String, Vec<Route>>,
    wildcard: Vec<Route>,
    aliases: HashMap<String, String>,
    /// Prices and provider-key multipliers, built in the same pass (telemetry takes them at
    /// start and on every reload).
    pub pricing: Arc<Pricing>,
    /// The label values metrics allow: configured models, aliases and providers.
    pub labels: Labels,
    /// Every key value this config holds, redacted from stored bodies by value.
    pub secrets: Arc<Redactor>,
    /// How long a client stays on the key that last served it for a model; `None`: off.
    pub affinity: Option<Duration>,
}

/// A compiled config and the warnings its pass raised (parts disabled, not errors).
#[derive(Debug)]
pub struct Compiled {
    /// The runtime form.
    pub runtime: RuntimeConfig,
    /// Problems that disabled part of the config without making it unusable.
    pub warnings: Vec<Diagnostic>,
}

/// A client key, known by its SHA-256.
#[derive(Debug)]
pub struct ClientKey {
    /// Name for logs and records.
    pub name: String,
    /// Which client-facing models it may use.
    pub models: ModelAllowList,
    /// Its rates, concurrency and budgets; `None`: it has none.
    pub limits: Option<Arc<ClientLimits>>,
}

/// A model allow-list.
#[derive(Debug)]
pub enum ModelAllowList {
    /// Every model.
    All,
    /// Only these names (after alias resolution).
    Only(HashSet<String>),
}

impl ModelAllowList {
    fn from_list(list: Option<&Vec<String>>) -> Self {
        match list {
            Some(l) if !l.iter().any(|m| m == "*") => ModelAllowList::Only(l.iter().cloned().collect()),
            _ => ModelAllowList::All,
        }
    }

    /// Whether `model` is allowed.
    pub fn allows(&self, model: &str) -> bool {
        match self {
            ModelAllowList::All => true,
            ModelAllowList::Only(set) => set.contains(model),
        }
    }
}

/// Timeouts towards one provider.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Connect (TCP + TLS).
    pub connect: Duration,
    /// Streams: until the response head and the first event.
    pub first_byte: Duration,
    /// Non-streamed responses: until the response head.
    pub response: Duration,
    /// Between reads.
    pub idle: Duration,
    /// The whole exchange.
    pub total: Duration,
}

/// Where a provider's upstream path comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSource {
    /// The format's standard path under the base URL. A converted request takes the path
    /// its upstream plugin chose, under the same base URL.
    FormatDefault,
    /// The provider's `path` setting, used for every request, converted or not.
    Configured,
}

/// A provider, ready to be connected to.
#[derive(Debug)]
pub struct Provider {
    /// Name.
    pub name: String,
    /// Wire format.
    pub format: WireFormat,
    /// Base URL, parsed.
    pub url: UpstreamUrl,
    /// Upstream path template.
    pub path_template: String,
    /// Whether the path was configured or is the format's default.
    pub path_source: PathSource,
    /// HTTP version policy.
    pub http: HttpVersionSetting,
    /// Whether clients' `OpenAI-Organization` / `OpenAI-Project` headers are forwarded.
    pub client_billing_headers: crate::config::file::ClientBillingHeaders,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Extra headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Priority (lower first).
    pub priority: i32,
    /// Keys that are usable (keys whose secret is missing are left out).
    pub keys: Vec<Arc<ProviderKey>>,
    /// Keys left out because their secret is missing.
    pub disabled_keys: Vec<String>,
    /// Client-facing model names this provider serves (`*` for any).
    pub models: Vec<String>,
}

/// One key of a provider.
#[derive(Debug)]
pub struct ProviderKey {
    /// Name.
    pub name: String,
    /// The upstream auth header, built once (marked sensitive).
    pub auth: (HeaderName, HeaderValue),
    /// Weight within a tier.
    pub weight: u32,
    /// Hash of provider and key name, the stable half of the client → key affinity hash.
    pub affinity_seed: u64,
    /// Health.
    pub breaker: Arc<CircuitBreaker>,
    /// What requests through this key may need: the provider's and the key's own.
    pub capabilities: Capabilities,
    /// Its rates, concurrency and cooldown.
    pub limits: KeyLimits,
    /// `provider/key`: how the limits state names this key.
    pub scope: Arc<str>,
    secret: Secret,
}

/// A way to serve a client-facing model: this provider, this key, this upstream model.
#[derive(Debug, Clone)]
pub struct Route {
    /// Provider.
    pub provider: Arc<Provider>,
    /// Key.
    pub key: Arc<ProviderKey>,
    /// Upstream model name; `None` means the requested name passes through.
    pub upstream_model: Option<Arc<str>>,
    /// Who chose the model name sent upstream.
    pub model_source: ModelSource,
}

/// Who chose the model name a route sends upstream, which decides whose fault an
/// upstream's "no such model" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    /// The config names it (a listed model, or a wildcard mapped to one model).
    Configured,
    /// The client's name passes through a `"*" = "*"` wildcard: an unknown model is the
    /// client's doing, not the key's.
    Client,
}

/// Something a config lacks that every request needs: with it, the gateway runs but can
/// serve nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// No client key is usable (none configured, or their env vars unset): every request
    /// is refused.
    NoClientKey,
    /// No provider has a usable key: every request fails.
    NoProviderKey,
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Gap::NoClientKey => "no usable client key",
            Gap::NoProviderKey => "no provider with a usable key",
        })
    }
}

impl RuntimeConfig {
    /// Validates and compiles `file` in one pass. Breakers come from `registry` so their
    /// state carries over from the previous config. Every problem is reported with its
    /// path; any error means no config.
    pub fn compile(file: &ConfigFile, registry: &CircuitRegistry) -> Result<Compiled, Vec<Diagnostic>> {
        let mut d = Diagnostics::default();
        sections::check_server(&mut d, &file.server);
        sections::check_admin(&mut d, file.admin.as_ref());
        let circuit = circuit_settings(&mut d, &file.circuit_breaker);
        let clients = client_keys(&mut d, &file.client_keys);

        let mut providers = Vec::new();
        let mut names = HashSet::new();
        let mut served = HashSet::new();
        for (i, p) in file.providers.iter().enumerate() {
            if !names.insert(p.name.as_str()) {
                d.error(
                    format!("providers[{i}].name"),
                    format!("duplicate provider name {:?}", p.name),
                );
            }
            served.extend(p.models.keys().map(String::as_str));
            if let Some(provider) = compile_provider(&mut d, i, p, registry) {
                providers.push((Arc::new(provider), p));
            }
        }
        for (alias, target) in &file.aliases {
            if !served.contains(target.as_str()) && !served.contains("*") {
                d.error(
                    format!("aliases.{alias}"),
                    format!("target model {target:?} is served by no provider"),
                );
            }
            if served.contains(alias.as_str()) {
                d.error(
                    format!("aliases.{alias}"),
                    "an alias cannot shadow a model a provider serves",
                );
            }
        }
        sections::check_telemetry(&mut d, &file.telemetry);
        sections::check_plugins(&mut d, &file.plugins);
        super::limits::check_redis(&mut d, &file.redis);
        // Prices, tiers and provider-key cost multipliers.
        let pricing = match super::telemetry::pricing(file) {
            Ok(p) => Some(p),
            Err(PricingError::Invalid { path, message }) => {
                d.error(path, message);
                None
            }
            Err(other) => {
                d.error("pricing", other.to_string());
                None
            }
        };
        let (Some(circuit), Some(pricing)) = (circuit, pricing) else {
            return Err(d.into_vec());
        };
        if d.has_errors() {
            return Err(d.into_vec());
        }

        let (routes, wildcard) = routes(&providers);
        let client_secrets: Vec<Secret> = file
            .client_keys
            .iter()
            .filter_map(|c| c.key.as_deref())
            .filter_map(|raw| SecretRef::parse(raw).resolve())
            .collect();
        // The Redis URL may carry a password: it and the whole URL are redacted too.
        let redis_url = file.redis.url.as_deref().and_then(|u| SecretRef::parse(u).resolve());
        let redis_password = redis_url
            .as_ref()
            .and_then(|u| url::Url::parse(u.expose()).ok())
            .and_then(|u| u.password().map(str::to_owned));
        let secrets = Redactor::new(
            providers
                .iter()
                .flat_map(|(p, _)| p.keys.iter().map(|k| k.secret.expose()))
                .chain(client_secrets.iter().map(Secret::expose))
                .chain(redis_url.iter().map(Secret::expose))
                .chain(redis_password.as_deref()),
        );
        Ok(Compiled {
            runtime: RuntimeConfig {
                max_body_bytes: file.server.max_body_bytes,
                max_event_bytes: file.server.max_event_bytes,
                circuit,
                providers: providers.into_iter().map(|(p, _)| p).collect(),
                clients,
                routes,
                wildcard,
                aliases: file.aliases.clone().into_iter().collect(),
                pricing: Arc::new(pricing),
                labels: super::telemetry::labels(file),
                secrets: Arc::new(secrets),
                affinity: (file.routing.affinity_secs > 0).then(|| Duration::from_secs(file.routing.affinity_secs)),
            },
            warnings: d.into_vec(),
        })
    }

    /// What this config lacks to serve any request (empty when it can serve).
    pub fn gaps(&self) -> Vec<Gap> {
        let mut gaps = Vec::new();
        if self.clients.is_empty() {
            gaps.push(Gap::NoClientKey);
        }
        if self.providers.iter().all(|p| p.keys.is_empty()) {
            gaps.push(Gap::NoProviderKey);
        }
        gaps
    }

    /// Every client key.
    pub fn client_keys(&self) -> impl Iterator<Item = &Arc<ClientKey>> {
        self.clients.values()
    }

    /// The client key whose SHA-256 is `hash`.
    pub fn client(&self, hash: &[u8; 32]) -> Option<&Arc<ClientKey>> {
        self.clients.get(hash)
    }

    /// Resolves an alias to the model name providers serve.
    pub fn canonical_model<'a>(&'a self, requested: &'a str) -> &'a str {
        self.aliases.get(requested).map_or(requested, String::as_str)
    }

    /// Every route that can serve `model` (already canonical), priority-sorted.
    pub fn routes(&self, model: &str) -> &[Route] {
        match self.routes.get(model) {
            Some(list) => list,
            None => &self.wildcard,
        }
    }

    /// Client-facing model names (served models and aliases), sorted, for model listings.
    pub fn model_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.routes.keys().chain(self.aliases.keys()).cloned().collect();
        names.sort();
        names.dedup();
        names
    }
}

/// The breaker thresholds, checked.
fn circuit_settings(d: &mut Diagnostics, cb: &CircuitBreakerSection) -> Option<CircuitSettings> {
    let mut ok = true;
    if !(cb.error_rate > 0.0 && cb.error_rate <= 1.0) {
        d.error("circuit_breaker.error_rate", "must be in (0, 1]");
        ok = false;
    }
    if cb.window_secs == 0 || cb.open_secs == 0 || cb.half_open_successes == 0 {
        d.error(
            "circuit_breaker",
            "window_secs, open_secs and half_open_successes must be > 0",
        );
        ok = false;
    }
    if cb.max_open_secs < cb.open_secs {
        d.error("circuit_breaker.max_open_secs", "must be at least open_secs");
        ok = false;
    }
    ok.then(|| CircuitSettings {
        window: Duration::from_secs(cb.window_secs),
        min_requests: cb.min_requests,
        error_rate: cb.error_rate,
        open_for: Duration::from_secs(cb.open_secs),
        max_open_for: Duration::from_secs(cb.max_open_secs),
        half_open_successes: cb.half_open_successes,
    })
}

/// The client keys by hash. A key whose env var is unset is left out with a warning.
fn client_keys(d: &mut Diagnostics, sections: &[ClientKeySection]) -> HashMap<[u8; 32], Arc<ClientKey>> {
    let mut clients = HashMap::new();
    let mut names = HashSet::new();
    for (i, c) in sections.iter().enumerate() {
        let path = format!("client_keys[{i}]");
        if !names.insert(c.name.as_str()) {
            d.error(
                format!("{path}.name"),
                format!("duplicate client key name {:?}", c.name),
            );
        }
        let hash = match (&c.key_sha256, &c.key) {
            (Some(_), Some(_)) | (None, None) => {
                d.error(path, "set exactly one of key_sha256 or key");
                continue;
            }
            (Some(hex), None) => match decode_hex32(hex) {
                Some(hash) => hash,
                None => {
                    d.error(format!("{path}.key_sha256"), "must be 64 hex characters");
                    continue;
                }
            },
            (None, Some(raw)) => match SecretRef::parse(raw) {
                SecretRef::Literal(_) => {
                    d.error(
                        format!("{path}.key"),
                        "literal client keys are not allowed; use key_sha256 or env:NAME",
                    );
                    continue;
                }
                env @ SecretRef::Env(var) => match env.resolve() {
                    Some(secret) => Sha256::digest(secret.expose().as_bytes()).into(),
                    None => {
                        d.warn(format!("{path}.key"), format!("env var {var} is not set"));
                        continue;
                    }
                },
            },
        };
        let key = ClientKey {
            name: c.name.clone(),
            models: ModelAllowList::from_list(c.models.as_ref()),
            limits: super::limits::client_limits(d, &path, c.limits.as_ref()).map(Arc::new),
        };
        clients.insert(hash, Arc::new(key));
    }
    clients
}

/// One provider, checked and compiled; `None` when it has an error (reported).
fn compile_provider(
    d: &mut Diagnostics,
    i: usize,
    p: &ProviderSection,
    registry: &CircuitRegistry,
) -> Option<Provider> {
    let path = format!("providers[{i}]");
    let mut ok = true;
    let mut error = |d: &mut Diagnostics, field: String, message: String| {
        d.error(field, message);
        ok = false;
    };
    let url = match UpstreamUrl::parse(&p.base_url) {
        Ok(url) => Some(url),
        Err(e) => {
            error(d, format!("{path}.base_url"), e.to_string());
            None
        }
    };
    if let Some(template) = &p.path
        && let Err(e) = aether_plugin_sdk::path::check(&template.replace("{model}", "m").replace("{action}", "a"))
    {
        error(d, format!("{path}.path"), format!("not a path Aether can send: {e}"));
    }
    let t = &p.timeouts;
    for (name, v) in [
        ("connect_ms", t.connect_ms),
        ("first_byte_ms", t.first_byte_ms),
        ("response_ms", t.response_ms),
        ("idle_ms", t.idle_ms),
        ("total_ms", t.total_ms),
    ] {
        if v == 0 {
            error(d, format!("{path}.timeouts.{name}"), "must be greater than 0".into());
        }
    }
    let mut headers = Vec::new();
    for (name, value) in &p.headers {
        let hpath = format!("{path}.headers.{name}");
        let lower = name.to_ascii_lowercase();
        let header_name = match HeaderName::from_bytes(name.as_bytes()) {
            Ok(n) if crate::headers::is_credential(&lower) || crate::headers::is_hop_by_hop(&lower) => {
                error(d, hpath.clone(), "cannot set credentials or hop-by-hop headers".into());
                Some(n)
            }
            Ok(n) => Some(n),
            Err(_) => {
                error(d, hpath.clone(), "not a valid header name".into());
                None
            }
        };
        let header_value = HeaderValue::from_str(value).ok();
        if header_value.is_none() {
            error(d, hpath, "not a valid header value".into());
        }
        if let (Some(n), Some(v)) = (header_name, header_value) {
            headers.push((n, v));
        }
    }
    if p.models.is_empty() {
        error(
            d,
            format!("{path}.models"),
            "a provider must serve at least one model".into(),
        );
    }
    if p.keys.is_empty() {
        error(d, format!("{path}.keys"), "a provider needs at least one key".into());
    }
    let key_header = p.format.upstream_key_header();
    let provider_caps = p
        .capabilities
        .as_ref()
        .map_or(Capabilities::STANDARD, |caps| caps.iter().copied().collect());
    let mut keys = Vec::new();
    let mut disabled_keys = Vec::new();
    let mut key_names = HashSet::new();
    for (k, key) in p.keys.iter().enumerate() {
        let kpath = format!("{path}.keys[{k}]");
        if !key_names.insert(key.name.as_str()) {
            error(d, format!("{kpath}.name"), format!("duplicate key name {:?}", key.name));
        }
        if key.weight == 0 {
            error(d, format!("{kpath}.weight"), "must be greater than 0".into());
        }
        for model in key.models.iter().flatten() {
            if !p.models.contains_key(model) && !p.models.contains_key("*") {
                error(
                    d,
                    format!("{kpath}.models"),
                    format!("{model:?} is not in {path}.models"),
                );
            }
        }
        let reference = SecretRef::parse(&key.api_key);
        let Some(secret) = reference.resolve() else {
            if let SecretRef::Env(var) = reference {
                d.warn(kpath, format!("env var {var} is not set"));
            }
            disabled_keys.push(key.name.clone());
            continue;
        };
        let Ok(mut value) = HeaderValue::from_str(&key_header.value(secret.expose())) else {
            error(d, format!("{kpath}.api_key"), "not a valid header value".into());
            continue;
        };
        value.set_sensitive(true);
        keys.push(Arc::new(ProviderKey {
            name: key.name.clone(),
            auth: (HeaderName::from_static(key_header.name()), value),
            weight: key.weight,
            affinity_seed: rendezvous::seed(format!("{}\0{}", p.name, key.name).as_bytes()),
            breaker: registry.get(&p.name, &key.name),
            capabilities: provider_caps.union(key.capabilities.iter().copied().collect()),
            limits: super::limits::key_limits(d, &kpath, &key.limits),
            scope: Arc::from(format!("{}/{}", p.name, key.name)),
            secret,
        }));
    }
    let url = url.filter(|_| ok)?;
    Some(Provider {
        name: p.name.clone(),
        format: p.format,
        path_template: p.path.clone().unwrap_or_else(|| url.join(p.format.default_path())),
        path_source: match p.path {
            Some(_) => PathSource::Configured,
            None => PathSource::FormatDefault,
        },
        url,
        http: p.http,
        client_billing_headers: p.client_billing_headers,
        timeouts: Timeouts {
            connect: Duration::from_millis(t.connect_ms),
            first_byte: Duration::from_millis(t.first_byte_ms),
            response: Duration::from_millis(t.response_ms),
            idle: Duration::from_millis(t.idle_ms),
            total: Duration::from_millis(t.total_ms),
        },
        headers,
        priority: p.priority,
        keys,
        disabled_keys,
        models: p.models.keys().cloned().collect(),
    })
}

/// The routes of every client-facing model (priority-sorted, file order within a
/// priority), and those of the `*` wildcard.
fn routes(providers: &[(Arc<Provider>, &ProviderSection)]) -> (HashMap<String, Vec<Route>>, Vec<Route>) {
    let mut routes: HashMap<String, Vec<Route>> = HashMap::new();
    let mut wildcard = Vec::new();
    for (provider, p) in providers {
        for key in &provider.keys {
            let key_models = p
                .keys
                .iter()
                .find(|k| k.name == key.name)
                .and_then(|k| k.models.as_ref());
            for (client_model, upstream_model) in &p.models {
                if key_models.is_some_and(|l| !l.contains(client_model)) {
                    continue;
                }
                let route = Route {
                    provider: provider.clone(),
                    key: key.clone(),
                    upstream_model: (client_model != upstream_model && upstream_model != "*")
                        .then(|| Arc::from(upstream_model.as_str())),
                    model_source: if client_model == "*" && upstream_model == "*" {
                        ModelSource::Client
                    } else {
                        ModelSource::Configured
                    },
                };
                if client_model == "*" {
                    wildcard.push(route);
                } else {
                    routes.entry(client_model.clone()).or_default().push(route);
                }
            }
        }
    }
    // Stable sort: priority first, file order within a priority.
    for list in routes.values_mut() {
        list.sort_by_key(|r| r.provider.priority);
    }
    wildcard.sort_by_key(|r| r.provider.priority);
    (routes, wildcard)
}

/// Every problem the one pass finds in `file`, errors and warnings (for `aether check`).
/// Breakers come from a throwaway registry.
pub fn check(file: &ConfigFile) -> Vec<Diagnostic> {
    match RuntimeConfig::compile(file, &CircuitRegistry::default()) {
        Ok(compiled) => compiled.warnings,
        Err(all) => all,
    }
}

fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
        [[client_keys]]
        name = "demo"
        key_sha256 = "2f8bbf3b5d4e4b0b6a1bd7ab52d5ff5b3c2a4d43de0c1c7e6d2b7cdbb3a6a3a1"
        models = ["small"]
        [[providers]]
        name = "a"
        format = "openai-chat"
        base_url = "http://127.0.0.1:1/v1"
        priority = 1
        models = { "big" = "gpt-big", "small" = "small" }
        [[providers.keys]]
        name = "k1"
        api_key = "sk-one"
        [[providers]]
        name = "b"
        format = "openai-chat"
        base_url = "http://127.0.0.1:2"
        priority = 0
        models = { "big" = "big-b" }
        [[providers.keys]]
        name = "k1"
        api_key = "sk-two"
        [[providers.keys]]
        name = "gone"
        api_key = "env:AETHER_TEST_UNSET_FOR_COMPILE"
        [aliases]
        large = "big"
    "#;

    #[test]
    fn a_redis_password_is_redacted_like_a_key() {
        let text = format!("{FILE}\n[redis]\nurl = \"redis://aether:s3cret-redis-pass@127.0.0.1:6379/0\"\n");
        let file: ConfigFile = toml::from_str(&text).unwrap();
        let rt = RuntimeConfig::compile(&file, &CircuitRegistry::default())
            .unwrap()
            .runtime;
        let said = crate::telemetry::bodies::redact("auth failed for s3cret-redis-pass", &rt.secrets);
        assert!(!said.contains("s3cret-redis-pass"), "{said}");
    }

    #[test]
    fn routes_are_priority_sorted_and_mapped() {
        let file: ConfigFile = toml::from_str(FILE).unwrap();
        let rt = RuntimeConfig::compile(&file, &CircuitRegistry::default())
            .unwrap()
            .runtime;
        let routes = rt.routes(rt.canonical_model("large"));
        let names: Vec<_> = routes
            .iter()
            .map(|r| (r.provider.name.as_str(), r.upstream_model.as_deref()))
            .collect();
        assert_eq!(names, vec![("b", Some("big-b")), ("a", Some("gpt-big"))]);
        assert_eq!(rt.routes("small")[0].upstream_model, None);
        assert!(rt.routes("unknown").is_empty());
        assert_eq!(rt.providers[1].disabled_keys, vec!["gone".to_string()]);
        assert_eq!(rt.providers[0].path_template, "/v1/chat/completions");
        assert!(rt.providers[0].keys[0].auth.1.is_sensitive());
        assert_eq!(rt.model_names(), vec!["big", "large", "small"]);
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let file: ConfigFile = toml::from_str(
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
        )
        .unwrap();
        let d = check(&file);
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
        assert_eq!(warn.severity, crate::config::Severity::Warning);
        assert!(RuntimeConfig::compile(&file, &CircuitRegistry::default()).is_err());
    }

    #[test]
    fn unknown_alias_target_is_an_error() {
        let file: ConfigFile = toml::from_str(
            r#"
            [aliases]
            fast = "nowhere"
            "#,
        )
        .unwrap();
        assert!(check(&file).iter().any(|d| d.path == "aliases.fast"));
    }

    #[test]
    fn warnings_alone_still_compile() {
        let file: ConfigFile = toml::from_str(FILE).unwrap();
        let compiled = RuntimeConfig::compile(&file, &CircuitRegistry::default()).unwrap();
        assert_eq!(compiled.warnings.len(), 1, "{:?}", compiled.warnings);
        assert_eq!(compiled.warnings[0].path, "providers[1].keys[1]");
    }

    #[test]
    fn hex_decodes() {
        assert!(decode_hex32(&"ab".repeat(32)).is_some());
        assert!(decode_hex32("zz").is_none());
        assert_eq!(decode_hex32(&"aB".repeat(32)), Some([0xab; 32]));
        assert!(decode_hex32(&"ab".repeat(31)).is_none());
        assert!(decode_hex32(&"ab".repeat(33)).is_none());
        // `u8::from_str_radix` took a sign ("+a" was 10); validation rejects it, and so now
        // does the decoder.
        assert!(decode_hex32(&format!("+a{}", "ab".repeat(31))).is_none());
    }
}
