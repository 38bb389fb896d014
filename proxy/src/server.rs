//! Assembles the Pingora server: the gateway listener (plain and optional TLS), the admin
//! listener and the config watcher, with graceful shutdown and graceful upgrade.
//!
//! SIGTERM: stop accepting, let in-flight requests and streams finish for up to
//! `server.grace_period_secs`, then exit. Graceful upgrade: start the new binary with
//! `aether serve --upgrade`; it takes the listening sockets from the old process over
//! `server.upgrade_sock` once the old one gets SIGQUIT, and the old one drains.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::http_app::HttpServer;
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{Server, ShutdownWatch};
use pingora::services::background::{BackgroundService, background_service};
use pingora::services::listening::Service;

use crate::admin::{Admin, AdminAccess};
use crate::config::ConfigFile;
use crate::config::reload::{ConfigStore, ReloadHook};
use crate::edge::{ConnectionCap, Edge, EdgeSettings};
use crate::limits::Limiter;
use crate::plugin_registry::{PluginSettings, Plugins};
use crate::service::Gateway;
use crate::telemetry::Telemetry;
use crate::telemetry::TelemetryInputs;
use crate::telemetry::background::{TelemetryService, WhenDrained};

/// How often the config file is checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The TLS listener could not be set up.
    #[error("TLS listener: {0}")]
    Tls(String),
    /// The built-in plugins could not be loaded (a broken build) or the runtime not started.
    #[error("plugins: {0}")]
    Plugins(#[from] crate::plugin_host::PluginLoadError),
    /// The telemetry hook could not be built.
    #[error("telemetry: {0}")]
    Telemetry(#[from] crate::telemetry::TelemetryError),
    /// The private runtime directory could not be made, or is not private.
    #[error("runtime directory: {0}")]
    RuntimeDir(#[from] crate::private_dir::NotPrivate),
    /// The shared limits store's URL could not be used.
    #[error("limits: {0}")]
    Limits(#[source] crate::limits::shared::SharedError),
}

struct ConfigWatcher(Arc<ConfigStore>);

#[async_trait]
impl BackgroundService for ConfigWatcher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        tokio::select! {
            () = self.0.clone().watch(WATCH_INTERVAL) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Renews the leases live requests hold in Redis and prunes the local counters.
struct LimitsUpkeep(Arc<Limiter>);

#[async_trait]
impl BackgroundService for LimitsUpkeep {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        tokio::select! {
            () = self.0.clone().keep_up() => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Polls the plugin directory and swaps in changed plugins.
struct PluginWatcher(Arc<Plugins>);

#[async_trait]
impl BackgroundService for PluginWatcher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        tokio::select! {
            () = crate::plugin_registry::watch::watch(self.0.clone()) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Client-side socket buffering. Pingora's default 64 KiB read buffer per connection is
/// mostly idle memory for LLM traffic (small heads, bodies read into their own buffer), and
/// with thousands of open streams it dominated RSS; reads go straight to the socket instead.
fn client_buffers() -> L4BufferSettings {
    L4BufferSettings::default().read(0)
}

/// Runs the gateway until shutdown. Does not return.
pub fn run(file: &ConfigFile, store: Arc<ConfigStore>, upgrade: bool) -> Result<(), ServeError> {
    let s = &file.server;
    // The default runtime directory (upgrade socket, pid file) is made private; a path the
    // config chose is the operator's to set up.
    let runtime_dir = crate::private_dir::runtime_dir();
    for path in [&s.upgrade_sock, &s.pid_file] {
        if std::path::Path::new(path).parent() == Some(runtime_dir.as_path()) {
            crate::private_dir::ensure(&runtime_dir)?;
        }
    }
    let conf = ServerConf {
        threads: if s.threads == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            s.threads
        },
        grace_period_seconds: Some(s.grace_period_secs),
        graceful_shutdown_timeout_seconds: Some(s.grace_period_secs),
        upgrade_sock: s.upgrade_sock.clone(),
        pid_file: s.pid_file.clone(),
        work_stealing: false,
        ..ServerConf::default()
    };
    let opt = Opt {
        upgrade,
        ..Opt::default()
    };
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();

    // Prices and labels come from the config pass that built the running config.
    let runtime = store.current();
    let (telemetry, writer) = Telemetry::new(TelemetryInputs {
        settings: file.telemetry.clone(),
        pricing: runtime.pricing.clone(),
        labels: runtime.labels.clone(),
    })?;
    let repricer = telemetry.clone();
    store.set_reload_hook(ReloadHook(Box::new(move |runtime| {
        repricer.reconfigure(runtime.pricing.clone(), runtime.labels.clone());
    })));
    let plugins = Plugins::load(PluginSettings::from_section(&file.plugins))?;
    server.add_service(background_service("plugin watcher", PluginWatcher(plugins.clone())));

    let edge = EdgeSettings::from_section(&s.edge);
    let limiter = Arc::new(Limiter::new(&file.redis).map_err(ServeError::Limits)?);
    server.add_service(background_service("limits upkeep", LimitsUpkeep(limiter.clone())));
    let app =
        Arc::new(Gateway::new(store.clone(), telemetry.clone(), plugins.clone(), edge).with_limiter(limiter.clone()));
    let grace = Duration::from_secs(s.grace_period_secs);
    let serving = app.clone();
    server.add_service(background_service(
        "telemetry writer",
        TelemetryService::new(
            telemetry.clone(),
            writer,
            grace,
            WhenDrained::Exit(Arc::new(move || serving.requests_in_flight())),
        ),
    ));
    // One connection cap over both listeners.
    let cap = ConnectionCap::new(edge.max_connections);
    let mut gateway = Service::new("aether gateway".into(), Edge::plain(app.clone(), cap.clone()));
    gateway.add_listener(ListenerConfig::tcp(&s.listen).l4_buffer(client_buffers()));
    server.add_service(gateway);
    if let Some(tls) = &s.tls {
        // The TLS listener is plain TCP to Pingora; the edge does the handshake, under
        // its own deadline.
        let settings = TlsSettings::intermediate(&tls.cert, &tls.key).map_err(|e| ServeError::Tls(e.to_string()))?;
        let mut secure = Service::new(
            "aether gateway (TLS)".into(),
            Edge::tls(app, cap.clone(), settings.build(), edge.tls_handshake),
        );
        secure.add_listener(ListenerConfig::tcp(&tls.listen).l4_buffer(client_buffers()));
        server.add_service(secure);
    }
    if let Some(admin) = &file.admin {
        let mut service = Service::new(
            "aether admin".into(),
            HttpServer::new_app(
                Admin::new(store.clone())
                    .with_access(AdminAccess::from_section(admin))
                    .with_telemetry(telemetry)
                    .with_plugins(plugins)
                    .with_limits(limiter)
                    .with_edge(cap.counters()),
            ),
        );
        service.add_tcp(&admin.listen);
        server.add_service(service);
    }
    server.add_service(background_service("config watcher", ConfigWatcher(store)));
    tracing::info!(listen = %s.listen, tls = ?s.tls.as_ref().map(|t| &t.listen), admin = ?file.admin.as_ref().map(|a| &a.listen), "aether serving");
    server.run_forever()
}
