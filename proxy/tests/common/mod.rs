//! Test harness: the real gateway app in-process on an ephemeral port, the project's mock
//! upstream, and a small HTTP client built on Pingora's own connector.

#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use aether::circuit::CircuitRegistry;
use aether::config::{self, reload::ConfigStore};
use aether::edge::{ConnectionCap, Edge, EdgeSettings};
use aether::plugin_registry::{PluginSettings, Plugins};
use aether::service::Gateway;
use aether::telemetry::Telemetry;
use aether_mock::{MockConfig, MockServer};
use bytes::{Bytes, BytesMut};
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::protocols::http::client::HttpSession;
use pingora::upstreams::peer::HttpPeer;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub const DEMO_KEY: &str = "sk-aether-demo";
pub const DEMO_KEY_SHA256: &str = "06631918ee659f7a10315e68bc948e0044ca7ff537adc8cb860b8e4ca79143f7";

/// A running gateway.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub store: Arc<ConfigStore>,
    pub telemetry: Telemetry,
    pub plugins: Arc<Plugins>,
    pub limiter: Arc<aether::limits::Limiter>,
    _stop: watch::Sender<bool>,
    _dir: Option<TempDir>,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("aether-test-{}", aether::request_id::next()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The common head of a test config: the demo client key.
pub fn config_head() -> String {
    format!("[[client_keys]]\nname = \"demo\"\nkey_sha256 = \"{DEMO_KEY_SHA256}\"\n\n")
}

/// One provider section.
pub fn provider(
    name: &str,
    format: &str,
    addr: SocketAddr,
    priority: i32,
    models: &[(&str, &str)],
    extra: &str,
) -> String {
    let models: Vec<String> = models.iter().map(|(c, u)| format!("\"{c}\" = \"{u}\"")).collect();
    format!(
        "[[providers]]\nname = \"{name}\"\nformat = \"{format}\"\nbase_url = \"http://{addr}\"\npriority = {priority}\n{extra}\nmodels = {{ {} }}\nkeys = [{{ name = \"k\", api_key = \"upstream-secret-{name}\" }}]\n\n",
        models.join(", ")
    )
}

/// `toml` with every provider key written by [`provider`] told not to rest after a 429 that
/// names no reset: for tests that provoke 429s and then expect the same key to answer.
pub fn no_cooldown(toml: &str) -> String {
    toml.replace(
        "api_key = \"upstream-secret-",
        "limits = { cooldown_secs = 0 }, api_key = \"upstream-secret-",
    )
}

/// Usage records go to a SQLite file in the test's own directory, unless the config says
/// otherwise.
pub fn with_test_telemetry(toml: &str, dir: &TempDir) -> String {
    // A `[telemetry]` table of the config's own (not a commented-out example) wins.
    if toml.lines().any(|l| l.trim_start().starts_with("[telemetry]")) {
        return toml.to_owned();
    }
    format!("{toml}\n[telemetry]\nurl = \"sqlite://{}/usage.db\"\n", dir.0.display())
}

/// Starts the gateway on `toml` (kept in a temporary file, so reloads can rewrite it).
pub async fn start_gateway(toml: &str) -> TestGateway {
    let dir = TempDir::new();
    let path = dir.0.join("aether.toml");
    std::fs::write(&path, with_test_telemetry(toml, &dir)).unwrap();
    let file = config::read(&path).unwrap_or_else(|e| panic!("test config invalid: {e}"));
    start_gateway_on(file, Some(path), dir).await
}

/// Starts the gateway on a parsed config (no file to reload), keeping `dir` (which the
/// config's paths may point into) until the gateway is dropped.
pub async fn start_gateway_file(file: config::ConfigFile, dir: TempDir) -> TestGateway {
    start_gateway_on(file, None, dir).await
}

async fn start_gateway_on(file: config::ConfigFile, path: Option<PathBuf>, dir: TempDir) -> TestGateway {
    let registry = Arc::new(CircuitRegistry::default());
    let loaded = config::build(file, &registry).unwrap_or_else(|e| panic!("test config invalid: {e}"));
    let telemetry = Telemetry::start(aether::config::telemetry::telemetry_inputs(&loaded.file).unwrap())
        .await
        .unwrap();
    let store = Arc::new(ConfigStore::new(loaded.runtime, registry, path));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = watch::channel(false);
    let settings = PluginSettings::from_section(&loaded.file.plugins);
    let plugins = tokio::task::spawn_blocking(move || Plugins::load(settings))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("plugins did not load: {e}"));
    tokio::spawn(aether::plugin_registry::watch::watch(plugins.clone()));
    let edge = EdgeSettings::from_section(&loaded.file.server.edge);
    let limiter = Arc::new(aether::limits::Limiter::new(&loaded.file.redis).unwrap());
    // The upkeep (lease renewal) stops with the gateway, as a stopped instance's would.
    let mut upkeep_stopped = stopped.clone();
    let upkeep = limiter.clone().keep_up();
    tokio::spawn(async move {
        tokio::select! {
            () = upkeep => {}
            _ = upkeep_stopped.changed() => {}
        }
    });
    let gateway =
        Arc::new(Gateway::new(store.clone(), telemetry.clone(), plugins.clone(), edge).with_limiter(limiter.clone()));
    let app = Edge::plain(gateway, ConnectionCap::new(edge.max_connections));
    tokio::spawn(aether::listener::serve(listener, Arc::new(app), stopped));
    TestGateway {
        addr,
        store,
        telemetry,
        plugins,
        limiter,
        _stop: stop,
        _dir: Some(dir),
    }
}

impl TestGateway {
    pub fn config_path(&self) -> PathBuf {
        self._dir.as_ref().unwrap().0.join("aether.toml")
    }

    /// The usage record of a request, once everything submitted so far is written.
    pub async fn record(&self, request_id: &str) -> aether::telemetry::record::UsageRecord {
        self.telemetry.flush().await.unwrap();
        self.telemetry
            .record(request_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no record for {request_id}"))
    }
}

/// A mock upstream on an ephemeral port.
pub async fn mock(config: MockConfig) -> MockServer {
    MockServer::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

/// An address nothing listens on (bound, then released).
pub async fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a
}

/// A whole response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An HTTP client on Pingora's connector.
pub struct Client {
    connector: Connector,
    peer: HttpPeer,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Client {
            connector: Connector::new(None),
            peer: HttpPeer::new(addr, false, String::new()),
        }
    }

    /// A client speaking HTTP/2 with prior knowledge (h2c).
    pub fn h2c(addr: SocketAddr) -> Self {
        let mut peer = HttpPeer::new(addr, false, String::new());
        peer.options.set_http_version(2, 2);
        Client {
            connector: Connector::new(None),
            peer,
        }
    }

    /// A TLS client that does not verify the certificate (tests use self-signed ones).
    pub fn tls_insecure(addr: SocketAddr) -> Self {
        let mut peer = HttpPeer::new(addr, true, "localhost".to_string());
        peer.options.verify_cert = false;
        peer.options.verify_hostname = false;
        Client {
            connector: Connector::new(None),
            peer,
        }
    }

    /// Sends a request and returns the open session after the response head.
    pub async fn open(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Bytes) -> HttpSession {
        let (mut session, _) = self.connector.get_http_session(&self.peer).await.unwrap();
        let mut req = RequestHeader::build(method, path.as_bytes(), None).unwrap();
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.insert_header("host", "localhost").unwrap();
        }
        for (k, v) in headers {
            req.append_header(k.to_string(), *v).unwrap();
        }
        if method != "GET" {
            req.insert_header("content-length", body.len().to_string()).unwrap();
        }
        session.write_request_header(Box::new(req)).await.unwrap();
        if !body.is_empty() {
            session.write_request_body(body, true).await.unwrap();
        }
        session.finish_request_body().await.unwrap();
        session.read_response_header().await.unwrap();
        session
    }

    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Resp {
        let mut session = self.open(method, path, headers, body.into()).await;
        let header = session.response_header().unwrap().clone();
        let mut body = BytesMut::new();
        while let Some(chunk) = session.read_response_body().await.unwrap() {
            body.extend_from_slice(&chunk);
        }
        let reusable = session.response_done();
        if reusable {
            self.connector.release_http_session(session, &self.peer, None).await;
        }
        Resp {
            status: header.status.as_u16(),
            headers: header.headers.clone(),
            body: body.freeze(),
        }
    }

    /// A response whose body may be cut (a broken stream): what arrived before the cut.
    pub async fn request_cut(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Resp {
        let mut session = self.open(method, path, headers, body.into()).await;
        let header = session.response_header().unwrap().clone();
        let mut body = BytesMut::new();
        while let Ok(Some(chunk)) = session.read_response_body().await {
            body.extend_from_slice(&chunk);
        }
        Resp {
            status: header.status.as_u16(),
            headers: header.headers.clone(),
            body: body.freeze(),
        }
    }

    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Resp {
        self.request("POST", path, headers, body).await
    }
}

/// The auth header each format's SDK sends, with the demo key.
pub fn auth(format: &str) -> (&'static str, String) {
    match format {
        "claude" => ("x-api-key", DEMO_KEY.to_string()),
        "gemini" => ("x-goog-api-key", DEMO_KEY.to_string()),
        _ => ("authorization", format!("Bearer {DEMO_KEY}")),
    }
}

/// Path and body of a minimal request in `format` for `model`.
pub fn request_for(format: &str, model: &str, stream: bool) -> (String, serde_json::Value) {
    match format {
        "claude" => (
            "/v1/messages".into(),
            serde_json::json!({"model": model, "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": "Hi"}]}),
        ),
        "openai-chat" => (
            "/v1/chat/completions".into(),
            serde_json::json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Hi"}]}),
        ),
        "openai-responses" => (
            "/v1/responses".into(),
            serde_json::json!({"model": model, "stream": stream, "input": "Hi"}),
        ),
        "gemini" => (
            if stream {
                format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
            } else {
                format!("/v1beta/models/{model}:generateContent")
            },
            serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}),
        ),
        other => panic!("unknown format {other}"),
    }
}

/// Sends a minimal request of `format` with the demo key, plus extra headers.
pub async fn call(client: &Client, format: &str, model: &str, stream: bool, extra: &[(&str, &str)]) -> Resp {
    let (path, body) = request_for(format, model, stream);
    let (name, value) = auth(format);
    let mut headers = vec![(name, value.as_str()), ("content-type", "application/json")];
    headers.extend_from_slice(extra);
    client.post(&path, &headers, serde_json::to_vec(&body).unwrap()).await
}

/// [`call`] for an answer that may be cut mid-stream: what arrived before the cut.
pub async fn call_cut(client: &Client, format: &str, model: &str, stream: bool, extra: &[(&str, &str)]) -> Resp {
    let (path, body) = request_for(format, model, stream);
    let (name, value) = auth(format);
    let mut headers = vec![(name, value.as_str()), ("content-type", "application/json")];
    headers.extend_from_slice(extra);
    client
        .request_cut("POST", &path, &headers, serde_json::to_vec(&body).unwrap())
        .await
}

/// Opens a minimal streaming request of `format` with the demo key: the session after the
/// response head, and the request id the gateway gave it.
pub async fn open_stream(client: &Client, format: &str, model: &str) -> (HttpSession, String) {
    let (path, body) = request_for(format, model, true);
    let (name, value) = auth(format);
    let session = client
        .open(
            "POST",
            &path,
            &[(name, &value)],
            Bytes::from(serde_json::to_vec(&body).unwrap()),
        )
        .await;
    let id = session
        .response_header()
        .unwrap()
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    (session, id)
}

/// The data payloads of an SSE body.
pub fn sse_data(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|ev| {
            ev.lines()
                .find_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
                .map(str::to_owned)
        })
        .collect()
}

/// The event names of an SSE body.
pub fn sse_names(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|ev| ev.lines().find_map(|l| l.strip_prefix("event: ")).map(str::to_owned))
        .collect()
}

/// A child process (an `aether` binary under test), killed and reaped when dropped.
pub struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}
