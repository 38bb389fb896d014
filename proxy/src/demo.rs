//! `aether serve --demo`: the first run, useful with no provider account and no config edits.
//!
//! The demo starts the project's mock upstream ([`aether_mock::MockServer`], all four wire
//! formats) in the same process, on an ephemeral loopback port and on a Tokio runtime of its
//! own (a thread beside Pingora's, whose `run_forever` never returns), then serves the demo
//! config through [`crate::server::run`], exactly as `aether serve` serves a file. Once the
//! gateway accepts connections it prints a banner to stdout: the client key, one `curl` per
//! format ([`CURLS`], the same lines as the README's "Try it" section, which a test checks)
//! and how to switch to real providers.
//!
//! **The config** is `conf/examples/local-mock.toml`, embedded at build time
//! ([`CONFIG_TOML`]), not a second file or a config built in code: that file is also the
//! README's two-process variant (`aether mock` plus `serve --config …`) and the benchmarks'
//! config, so the demo cannot drift from what those show. [`config`] parses it and changes
//! only what a single self-contained process needs: every provider's base URL becomes the
//! in-process mock's address; the listen addresses take the `--listen` / `--admin-listen`
//! overrides (for tests and busy ports); and everything the gateway writes goes to the
//! demo's state directory ([`state_dir`]) instead of the working directory.
//!
//! **What the demo writes**: usage records to a SQLite file (`usage.db`, with its spill
//! file), the compiled-plugin cache, the PID file and the upgrade socket, all under
//! `$TMPDIR/aether-demo/` (`/tmp/aether-demo/` when `TMPDIR` is unset). The directory is
//! shared by every demo run, so the plugin cache makes the second start fast and the
//! records of earlier runs stay readable at `GET /admin/usage`; nothing lands in the
//! repository. An in-memory SQLite database was the alternative: SQLite shares one only
//! within a shared cache, whose table locks (`SQLITE_LOCKED`) the usage writer's retry logic
//! does not expect, and it vanishes when the pool closes its idle connections.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::circuit::CircuitRegistry;
use crate::config::compile::Gap;
use crate::config::reload::ConfigStore;
use crate::config::{self, ConfigError, ConfigFile, RuntimeConfig};

/// The demo config: `conf/examples/local-mock.toml`, as built into the binary.
pub const CONFIG_TOML: &str = include_str!("../../conf/examples/local-mock.toml");

/// The demo client key (the embedded config holds its SHA-256).
pub const CLIENT_KEY: &str = "sk-aether-demo";

/// One request per wire format, as the README's "Try it" section shows them, for a gateway
/// on `localhost:8080` (the embedded config's address; [`curls`] rewrites it).
pub const CURLS: &str = r#"# Anthropic Messages
curl -s localhost:8080/v1/messages -H 'x-api-key: sk-aether-demo' -H 'content-type: application/json' \
  -d '{"model":"mock-claude","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]}'
# OpenAI Chat Completions (streaming)
curl -sN localhost:8080/v1/chat/completions -H 'authorization: Bearer sk-aether-demo' \
  -d '{"model":"mock-gpt","stream":true,"messages":[{"role":"user","content":"Hi"}]}'
# OpenAI Responses
curl -s localhost:8080/v1/responses -H 'authorization: Bearer sk-aether-demo' \
  -d '{"model":"mock-responses","input":"Hi"}'
# Gemini (streaming)
curl -sN 'localhost:8080/v1beta/models/mock-gemini:streamGenerateContent?alt=sse' \
  -H 'x-goog-api-key: sk-aether-demo' -d '{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}'"#;

/// The host and port [`CURLS`] is written for.
const CURLS_HOST: &str = "localhost:8080";

/// How long the banner waits for the gateway to accept connections (loading the plugins
/// comes first: a few seconds on a first start, when they are compiled).
const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// Listen addresses that replace the embedded config's (`None`: keep the config's).
#[derive(Debug, Clone, Copy, Default)]
pub struct Listeners {
    /// The gateway (`--listen`; the config says `127.0.0.1:8080`).
    pub gateway: Option<SocketAddr>,
    /// The admin listener (`--admin-listen`; the config says `127.0.0.1:9090`).
    pub admin: Option<SocketAddr>,
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The embedded config does not parse, validate or compile (a broken build).
    #[error("the built-in demo config: {0}")]
    Config(#[from] ConfigError),
    /// A listen address in the embedded config is not an IP address and port.
    #[error("the built-in demo config: {field} {value:?} is not an address")]
    Address {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// A listen address cannot be bound: taken by another gateway or demo, most likely.
    #[error("cannot listen on {addr} for {what}: {source}; give the demo a free address with {flag} 127.0.0.1:PORT")]
    Unavailable {
        /// Which listener.
        what: &'static str,
        /// Its address.
        addr: SocketAddr,
        /// The option that moves it.
        flag: &'static str,
        /// The bind error.
        source: std::io::Error,
    },
    /// The state directory could not be created.
    #[error("cannot create the demo's directory {path}: {source}")]
    StateDir {
        /// The directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The mock upstream did not start.
    #[error("the demo's mock upstream did not start: {0}")]
    Mock(std::io::Error),
    /// The gateway did not start.
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
}

/// Where the demo keeps what it writes: `aether-demo` in the system's temporary directory.
pub fn state_dir() -> PathBuf {
    std::env::temp_dir().join("aether-demo")
}

/// The demo config for a mock upstream at `mock`: the embedded file with every provider's
/// base URL pointed at the mock, the listen addresses replaced by `listeners`' and every
/// file the gateway writes placed under `state_dir`.
pub fn config(mock: SocketAddr, listeners: Listeners, state_dir: &Path) -> Result<ConfigFile, DemoError> {
    let mut file: ConfigFile = crate::config::parse(CONFIG_TOML)?;
    for provider in &mut file.providers {
        provider.base_url = format!("http://{mock}");
    }
    if let Some(addr) = listeners.gateway {
        file.server.listen = addr.to_string();
    }
    if let (Some(addr), Some(admin)) = (listeners.admin, file.admin.as_mut()) {
        admin.listen = addr.to_string();
    }
    let dir = |name: &str| state_dir.join(name).display().to_string();
    file.server.pid_file = dir("aether.pid");
    file.server.upgrade_sock = dir("upgrade.sock");
    let t = &mut file.telemetry;
    t.url = format!("sqlite://{}", url_path(&dir("usage.db")));
    t.spill_path = dir("usage-spill.jsonl");
    t.jsonl_path = dir("usage.jsonl");
    t.instance = "demo".into();
    file.plugins.cache_dir = Some(dir("plugin-cache"));
    Ok(file)
}

/// A file path as the path of a `sqlite://` URL: sqlx percent-decodes it and splits the
/// query off at `?`.
fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// The host and port a `curl` on this machine reaches a listener on `addr` by.
fn curl_host(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// [`CURLS`] for a gateway listening on `gateway`.
pub fn curls(gateway: SocketAddr) -> String {
    CURLS.replace(CURLS_HOST, &curl_host(gateway))
}

/// What the banner reports.
#[derive(Debug, Clone)]
pub struct BannerFacts {
    /// The gateway's listen address.
    pub gateway: SocketAddr,
    /// The admin listener's address, if any.
    pub admin: Option<SocketAddr>,
    /// The mock upstream's address.
    pub mock: SocketAddr,
    /// Client-facing model names the demo serves.
    pub models: Vec<String>,
    /// Where the usage records go.
    pub usage_db: PathBuf,
}

/// The banner printed once the demo gateway accepts connections.
pub fn banner(facts: &BannerFacts) -> String {
    let rule = "=".repeat(78);
    let host = curl_host(facts.gateway);
    let admin = facts
        .admin
        .map_or_else(|| "none".to_owned(), |a| format!("http://{}", curl_host(a)));
    let usage = match facts.admin {
        Some(a) => format!("{} (curl {}/admin/usage)", facts.usage_db.display(), curl_host(a)),
        None => facts.usage_db.display().to_string(),
    };
    format!(
        "{rule}
AETHER DEMO: the built-in mock upstream, no provider account, no real model.

gateway     http://{host}   (admin {admin})
upstream    built-in mock on {mock}, serving {models}
client key  {key}
usage       {usage}

Try it, one request per wire format:

{curls}

SDKs: ANTHROPIC_BASE_URL=http://{host}, OPENAI_BASE_URL=http://{host}/v1,
      each with the client key above.

Real providers: stop this (Ctrl-C), edit conf/aether.toml (set the provider key
variables it names, ANTHROPIC_API_KEY and the others, and a client key), check it
with `aether check`, then run `aether serve`.
{rule}",
        mock = facts.mock,
        models = facts.models.join(", "),
        key = CLIENT_KEY,
        curls = curls(facts.gateway),
    )
}

/// The startup hint for a config that can serve no request (no usable client key, or no
/// provider with a usable key): what is missing, and that `aether serve --demo` works
/// without either. `None` when the config can serve.
pub fn idle_hint(runtime: &RuntimeConfig) -> Option<String> {
    let gaps = runtime.gaps();
    if gaps.is_empty() {
        return None;
    }
    let missing: Vec<String> = gaps.iter().map(Gap::to_string).collect();
    Some(format!(
        "this config can serve no request ({}); to try Aether without provider keys, run \
         `aether serve --demo` (a built-in mock upstream and a demo client key); for real \
         providers set the variables the config names and run `aether check`",
        missing.join("; ")
    ))
}

/// Runs the demo until shutdown: the mock upstream on a thread of its own, the banner once
/// the gateway is up, and the gateway as `aether serve` runs it. Does not return on success.
pub fn run(listeners: Listeners) -> Result<(), DemoError> {
    let dir = state_dir();
    std::fs::create_dir_all(&dir).map_err(|source| DemoError::StateDir {
        path: dir.display().to_string(),
        source,
    })?;
    // The addresses come from a parse of the embedded file before the mock starts, so a
    // broken build fails before anything listens.
    let unbound = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let probe = config(unbound, listeners, &dir)?;
    let mut facts = BannerFacts {
        gateway: address("server.listen", &probe.server.listen)?,
        admin: probe
            .admin
            .as_ref()
            .map(|a| address("admin.listen", &a.listen))
            .transpose()?,
        mock: unbound,
        models: probe.providers.iter().flat_map(|p| p.models.keys().cloned()).collect(),
        usage_db: dir.join("usage.db"),
    };
    // Pingora retries a taken address forever, and the banner would greet whatever holds
    // it: say so now instead. (The check releases the address at once; the race with
    // another process taking it in between is accepted.)
    let listeners_to_check = [
        ("the gateway", "--listen", Some(facts.gateway)),
        ("the admin listener", "--admin-listen", facts.admin),
    ];
    for (what, flag, addr) in listeners_to_check {
        if let Some(addr) = addr {
            std::net::TcpListener::bind(addr).map_err(|source| DemoError::Unavailable {
                what,
                addr,
                flag,
                source,
            })?;
        }
    }
    let mock = start_mock(move |mock| {
        facts.mock = mock;
        announce_when_ready(facts)
    })?;
    let file = config(mock, listeners, &dir)?;
    let registry = Arc::new(CircuitRegistry::default());
    let loaded = config::build(file, &registry)?;
    for w in &loaded.warnings {
        tracing::warn!("demo config: {w}");
    }
    tracing::info!(
        %mock,
        dir = %dir.display(),
        "aether demo: mock upstream started; starting the gateway (a first start compiles the \
         format plugins, a few seconds; the banner follows)"
    );
    let store = Arc::new(ConfigStore::new(loaded.runtime, registry, None));
    crate::server::run(&loaded.file, store, false)?;
    Ok(())
}

fn address(field: &'static str, value: &str) -> Result<SocketAddr, DemoError> {
    value.parse().map_err(|_| DemoError::Address {
        field,
        value: value.to_owned(),
    })
}

/// A future that prints the banner once the gateway accepts connections.
type Announcement = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Waits for the gateway at `facts.gateway` to accept a connection, then prints the banner.
fn announce_when_ready(facts: BannerFacts) -> Announcement {
    Box::pin(async move {
        let target = match facts.gateway.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), facts.gateway.port())
            }
            ip if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), facts.gateway.port())
            }
            _ => facts.gateway,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        while tokio::net::TcpStream::connect(target).await.is_err() {
            if Instant::now() > deadline {
                tracing::warn!(%target, "the demo gateway did not come up; no banner");
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!("{}", banner(&facts));
    })
}

/// Starts the mock upstream on a loopback ephemeral port, on a thread with its own Tokio
/// runtime that lives as long as the process, and returns its address. `then` makes, from
/// that address, a task to run beside the mock (the banner).
fn start_mock<F>(then: F) -> Result<SocketAddr, DemoError>
where
    F: FnOnce(SocketAddr) -> Announcement + Send + 'static,
{
    let (started, addr) = mpsc::channel::<std::io::Result<SocketAddr>>();
    let thread = std::thread::Builder::new()
        .name("aether-demo-mock".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    // The receiver is waiting for exactly this message.
                    let _sent = started.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
                let mock = match aether_mock::MockServer::start(loopback, aether_mock::MockConfig::default()).await {
                    Ok(m) => m,
                    Err(e) => {
                        let _sent = started.send(Err(e));
                        return;
                    }
                };
                tokio::spawn(then(mock.addr()));
                let _sent = started.send(Ok(mock.addr()));
                // Serve for as long as the process runs (Pingora ends it with `exit`).
                std::future::pending::<()>().await;
                drop(mock);
            });
        })
        .map_err(DemoError::Mock)?;
    match addr.recv() {
        Ok(result) => result.map_err(DemoError::Mock),
        // The thread ended without a word: it panicked.
        Err(_) => {
            let reason = match thread.join() {
                Ok(()) => "the mock thread ended".to_owned(),
                Err(_) => "the mock thread panicked".to_owned(),
            };
            Err(DemoError::Mock(std::io::Error::other(reason)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock_addr() -> SocketAddr {
        "127.0.0.1:41000".parse().unwrap()
    }

    #[test]
    fn every_provider_points_at_the_mock_and_nothing_at_the_working_directory() {
        let dir = Path::new("/tmp/demo-state");
        let file = config(mock_addr(), Listeners::default(), dir).unwrap();
        assert_eq!(file.providers.len(), 4);
        for p in &file.providers {
            assert_eq!(p.base_url, "http://127.0.0.1:41000", "{}", p.name);
        }
        assert_eq!(file.server.listen, "127.0.0.1:8080");
        assert_eq!(file.admin.as_ref().unwrap().listen, "127.0.0.1:9090");
        assert_eq!(file.telemetry.url, "sqlite:///tmp/demo-state/usage.db");
        for path in [
            &file.telemetry.spill_path,
            &file.telemetry.jsonl_path,
            &file.server.pid_file,
            &file.server.upgrade_sock,
            file.plugins.cache_dir.as_ref().unwrap(),
        ] {
            assert!(path.starts_with("/tmp/demo-state/"), "{path}");
        }
        let registry = CircuitRegistry::default();
        let loaded = config::build(file, &registry).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert!(loaded.runtime.gaps().is_empty());
        assert_eq!(idle_hint(&loaded.runtime), None);
    }

    #[test]
    fn listeners_override_the_config() {
        let listeners = Listeners {
            gateway: Some("127.0.0.1:18080".parse().unwrap()),
            admin: Some("127.0.0.1:19090".parse().unwrap()),
        };
        let file = config(mock_addr(), listeners, Path::new("/tmp/x")).unwrap();
        assert_eq!(file.server.listen, "127.0.0.1:18080");
        assert_eq!(file.admin.unwrap().listen, "127.0.0.1:19090");
    }

    #[test]
    fn sqlite_urls_survive_odd_directories() {
        assert_eq!(url_path("/tmp/a?b#c%d/usage.db"), "/tmp/a%3Fb%23c%25d/usage.db");
    }

    #[test]
    fn curls_follow_the_listen_address() {
        assert_eq!(curls("127.0.0.1:8080".parse().unwrap()), CURLS);
        assert_eq!(curls("0.0.0.0:8080".parse().unwrap()), CURLS);
        let moved = curls("127.0.0.1:18080".parse().unwrap());
        assert_eq!(moved.matches("localhost:18080/").count(), 4, "{moved}");
        assert!(!moved.contains(":8080/"));
        assert!(curls("10.0.0.5:80".parse().unwrap()).contains("curl -s 10.0.0.5:80/v1/messages"));
    }

    #[test]
    fn the_banner_names_the_demo_the_key_the_curls_and_the_way_out() {
        let facts = BannerFacts {
            gateway: "127.0.0.1:8080".parse().unwrap(),
            admin: Some("127.0.0.1:9090".parse().unwrap()),
            mock: mock_addr(),
            models: vec!["mock-claude".into(), "mock-gpt".into()],
            usage_db: PathBuf::from("/tmp/aether-demo/usage.db"),
        };
        let text = banner(&facts);
        assert!(text.contains("AETHER DEMO"));
        assert!(text.contains("client key  sk-aether-demo"));
        assert!(text.contains(CURLS));
        assert!(text.contains("conf/aether.toml") && text.contains("aether check"));
        assert!(text.contains("/tmp/aether-demo/usage.db (curl localhost:9090/admin/usage)"));
    }

    #[test]
    fn a_config_without_keys_points_at_the_demo() {
        let file: ConfigFile = toml::from_str(
            "[[providers]]\nname = \"p\"\nformat = \"claude\"\nbase_url = \"http://127.0.0.1:1\"\nmodels = { m = \"m\" }\nkeys = [{ name = \"k\", api_key = \"env:AETHER_DEMO_TEST_UNSET\" }]\n",
        )
        .unwrap();
        let runtime = RuntimeConfig::compile(&file, &CircuitRegistry::default())
            .unwrap()
            .runtime;
        assert_eq!(runtime.gaps(), vec![Gap::NoClientKey, Gap::NoProviderKey]);
        let hint = idle_hint(&runtime).unwrap();
        assert!(hint.contains("aether serve --demo"), "{hint}");
        assert!(hint.contains("no usable client key"), "{hint}");
    }
}
