//! The runtime form of a validated config: everything the request path needs, prepared
//! once per load (hashes decoded, URLs parsed, auth headers built, routes sorted by
//! priority) so that a request only does lookups.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use super::file::{ConfigFile, HttpVersionSetting, ProviderSection};
use super::secret::{Secret, SecretRef};
use super::upstream_url::UpstreamUrl;
use crate::capability::Capabilities;
use crate::circuit::{CircuitBreaker, CircuitRegistry, CircuitSettings};
use crate::format::WireFormat;

/// The config the request path reads. Immutable; a reload builds a new one.
#[derive(Debug)]
pub struct RuntimeConfig {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Circuit breaker thresholds.
    pub circuit: CircuitSettings,
    /// Providers in file order (for the admin view).
    pub providers: Vec<Arc<Provider>>,
    clients: HashMap<[u8; 32], Arc<ClientKey>>,
    routes: HashMap<String, Vec<Route>>,
    wildcard: Vec<Route>,
    aliases: HashMap<String, String>,
}

/// A client key, known by its SHA-256.
#[derive(Debug)]
pub struct ClientKey {
    /// Name for logs and records.
    pub name: String,
    /// Which client-facing models it may use.
    pub models: ModelAllowList,
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
    /// Until the response head and, for streams, the first event.
    pub first_byte: Duration,
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
    _secret: Secret,
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

/// What a loaded config could not use.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// A value validation should have caught.
    #[error("{path}: {message}")]
    Invalid {
        /// Path of the field.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl RuntimeConfig {
    /// Builds the runtime config from a validated file. Breakers come from `registry` so
    /// their state carries over from the previous config.
    pub fn compile(file: &ConfigFile, registry: &CircuitRegistry) -> Result<Self, CompileError> {
        let cb = &file.circuit_breaker;
        let circuit = CircuitSettings {
            window: Duration::from_secs(cb.window_secs),
            min_requests: cb.min_requests,
            error_rate: cb.error_rate,
            open_for: Duration::from_secs(cb.open_secs),
            max_open_for: Duration::from_secs(cb.max_open_secs),
            half_open_successes: cb.half_open_successes,
        };

        let mut clients = HashMap::new();
        for (i, c) in file.client_keys.iter().enumerate() {
            let hash = match (&c.key_sha256, &c.key) {
                (Some(hex), _) => decode_hex32(hex)
                    .ok_or_else(|| invalid(format!("client_keys[{i}].key_sha256"), "not 64 hex characters"))?,
                (None, Some(raw)) => match SecretRef::parse(raw).resolve() {
                    Some(secret) => Sha256::digest(secret.expose().as_bytes()).into(),
                    None => continue, // env var unset: key disabled (validation warned)
                },
                (None, None) => return Err(invalid(format!("client_keys[{i}]"), "no key")),
            };
            let key = ClientKey {
                name: c.name.clone(),
                models: ModelAllowList::from_list(c.models.as_ref()),
            };
            clients.insert(hash, Arc::new(key));
        }

        let mut providers = Vec::new();
        let mut routes: HashMap<String, Vec<Route>> = HashMap::new();
        let mut wildcard = Vec::new();
        for (i, p) in file.providers.iter().enumerate() {
            let provider = Arc::new(compile_provider(i, p, registry)?);
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
                    };
                    if client_model == "*" {
                        wildcard.push(route);
                    } else {
                        routes.entry(client_model.clone()).or_default().push(route);
                    }
                }
            }
            providers.push(provider);
        }
        // Stable sort: priority first, file order within a priority.
        for list in routes.values_mut() {
            list.sort_by_key(|r| r.provider.priority);
        }
        wildcard.sort_by_key(|r| r.provider.priority);

        Ok(RuntimeConfig {
            max_body_bytes: file.server.max_body_bytes,
            circuit,
            providers,
            clients,
            routes,
            wildcard,
            aliases: file.aliases.clone().into_iter().collect(),
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

fn compile_provider(i: usize, p: &ProviderSection, registry: &CircuitRegistry) -> Result<Provider, CompileError> {
    let path = format!("providers[{i}]");
    let url = UpstreamUrl::parse(&p.base_url).map_err(|e| invalid(format!("{path}.base_url"), e.to_string()))?;
    let mut headers = Vec::new();
    for (name, value) in &p.headers {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(format!("{path}.headers"), e.to_string()))?;
        let value = HeaderValue::from_str(value).map_err(|e| invalid(format!("{path}.headers"), e.to_string()))?;
        headers.push((name, value));
    }
    let key_header = p.format.upstream_key_header();
    let provider_caps = p
        .capabilities
        .as_ref()
        .map_or(Capabilities::STANDARD, |caps| caps.iter().copied().collect());
    let mut keys = Vec::new();
    let mut disabled_keys = Vec::new();
    for (k, key) in p.keys.iter().enumerate() {
        let Some(secret) = SecretRef::parse(&key.api_key).resolve() else {
            // Validation already warned about it, once.
            disabled_keys.push(key.name.clone());
            continue;
        };
        let mut value = HeaderValue::from_str(&key_header.value(secret.expose()))
            .map_err(|_| invalid(format!("{path}.keys[{k}].api_key"), "not a valid header value"))?;
        value.set_sensitive(true);
        keys.push(Arc::new(ProviderKey {
            name: key.name.clone(),
            auth: (HeaderName::from_static(key_header.name()), value),
            weight: key.weight,
            affinity_seed: fnv1a(format!("{}\0{}", p.name, key.name).as_bytes()),
            breaker: registry.get(&p.name, &key.name),
            capabilities: provider_caps.union(key.capabilities.iter().copied().collect()),
            _secret: secret,
        }));
    }
    let t = &p.timeouts;
    Ok(Provider {
        name: p.name.clone(),
        format: p.format,
        path_template: p.path.clone().unwrap_or_else(|| url.join(p.format.default_path())),
        path_source: match p.path {
            Some(_) => PathSource::Configured,
            None => PathSource::FormatDefault,
        },
        url,
        http: p.http,
        timeouts: Timeouts {
            connect: Duration::from_millis(t.connect_ms),
            first_byte: Duration::from_millis(t.first_byte_ms),
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

fn invalid(path: String, message: impl Into<String>) -> CompileError {
    CompileError::Invalid {
        path,
        message: message.into(),
    }
}

fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// FNV-1a, a small stable hash (stable across processes and versions, unlike `DefaultHasher`).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
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
    fn routes_are_priority_sorted_and_mapped() {
        let file: ConfigFile = toml::from_str(FILE).unwrap();
        let rt = RuntimeConfig::compile(&file, &CircuitRegistry::default()).unwrap();
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
    fn hex_decodes() {
        assert!(decode_hex32(&"ab".repeat(32)).is_some());
        assert!(decode_hex32("zz").is_none());
    }
}
