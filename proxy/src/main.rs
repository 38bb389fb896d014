//! The `aether` command: `serve` (and `serve --demo`), `check`, `migrate`, `usage`,
//! `plugins`, `mock`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aether::circuit::CircuitRegistry;
use aether::config::{self, Severity, Verdict, WarningPolicy, reload::ConfigStore};
use clap::{Parser, Subcommand};

/// jemalloc: the request path allocates many small, short-lived buffers (headers, bodies,
/// events) across threads. Measured with 1,000 open streams, mimalloc held about 2.5x the
/// RSS of jemalloc for a few percent more throughput; jemalloc keeps memory flat.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "aether", version, about = "LLM API gateway on Pingora")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (on conf/aether.toml, or with --demo on a built-in mock upstream).
    Serve {
        /// Config file [default: conf/aether.toml]. Not with --demo.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Take over the listening sockets of a running instance (graceful upgrade).
        #[arg(long, conflicts_with = "demo")]
        upgrade: bool,
        /// Serve the built-in demo: a mock upstream in this process, no provider keys needed.
        #[arg(long)]
        demo: bool,
        /// With --demo: the gateway's listen address [default: 127.0.0.1:8080].
        #[arg(long, requires = "demo")]
        listen: Option<SocketAddr>,
        /// With --demo: the admin listener's address [default: 127.0.0.1:9090].
        #[arg(long, requires = "demo")]
        admin_listen: Option<SocketAddr>,
    },
    /// Validate a config file, listing every problem with its path. Exits 0 when the config
    /// is usable (warnings, such as an unset provider key variable, are printed), non-zero
    /// on errors; --strict fails on warnings too.
    Check {
        /// Config file.
        #[arg(long, short, default_value = "conf/aether.toml")]
        config: PathBuf,
        /// Fail on warnings too.
        #[arg(long)]
        strict: bool,
    },
    /// Apply the usage-record database migrations, then exit (`serve` also runs them).
    Migrate {
        /// Config file.
        #[arg(long, short, default_value = "conf/aether.toml")]
        config: PathBuf,
    },
    /// Print usage (requests, errors, tokens per bucket, cost) from the configured database.
    Usage {
        /// Config file.
        #[arg(long, short, default_value = "conf/aether.toml")]
        config: PathBuf,
        /// Start: today, yesterday, 7d / 24h / 30m back, or RFC 3339 (default today, UTC).
        #[arg(long)]
        since: Option<String>,
        /// End (exclusive), same forms (default now).
        #[arg(long)]
        until: Option<String>,
        /// Group by client, model or provider.
        #[arg(long, default_value = "model")]
        by: String,
        /// Print JSON (as `GET /admin/usage`) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Load the plugins as `serve` would (built-ins, then the plugin directory) and list
    /// them: format, version, hash, source, and why any file was refused. Exits non-zero
    /// when a file in the plugin directory was refused.
    Plugins {
        /// Config file.
        #[arg(long, short, default_value = "conf/aether.toml")]
        config: PathBuf,
        /// Print JSON (as `GET /admin/plugins`) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run the mock LLM upstream (all four formats) for demos, tests and benchmarks.
    Mock {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: SocketAddr,
        /// Delay before response headers, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Delay before the first stream event, in milliseconds.
        #[arg(long, default_value_t = 0)]
        ttfb_ms: u64,
        /// Text events per stream.
        #[arg(long, default_value_t = 5)]
        chunks: usize,
        /// Delay between stream events, in milliseconds.
        #[arg(long, default_value_t = 0)]
        interval_ms: u64,
    },
}

fn main() -> ExitCode {
    // Logs go to stderr; stdout is for what a command prints (`usage`, `plugins --json`).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match Cli::parse().command {
        Command::Serve {
            config,
            upgrade,
            demo,
            listen,
            admin_listen,
        } => match (demo, config) {
            (true, Some(path)) => {
                eprintln!(
                    "aether serve: --demo serves a built-in config and cannot read {}; drop --demo to \
                     serve that file (for the demo's mock from a file, run `aether mock` and `aether serve \
                     --config conf/examples/local-mock.toml`)",
                    path.display()
                );
                ExitCode::from(2)
            }
            (true, None) => serve_demo(aether::demo::Listeners {
                gateway: listen,
                admin: admin_listen,
            }),
            (false, config) => serve(config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG)), upgrade),
        },
        Command::Check { config, strict } => check(
            &config,
            if strict {
                WarningPolicy::Fail
            } else {
                WarningPolicy::Tolerate
            },
        ),
        Command::Migrate { config } => aether::cli::migrate(&config),
        Command::Usage {
            config,
            since,
            until,
            by,
            json,
        } => aether::cli::usage(
            &config,
            since.as_deref(),
            until.as_deref(),
            Some(&by),
            if json {
                aether::cli::Output::Json
            } else {
                aether::cli::Output::Table
            },
        ),
        Command::Plugins { config, json } => plugins(&config, json),
        Command::Mock {
            listen,
            latency_ms,
            ttfb_ms,
            chunks,
            interval_ms,
        } => mock(listen, latency_ms, ttfb_ms, chunks, interval_ms),
    }
}

/// The config `serve` reads without `--config`.
const DEFAULT_CONFIG: &str = "conf/aether.toml";

/// jemalloc's background threads return freed pages to the system after their decay time.
/// Without them a quiet process keeps what compiling the plugins at start freed (about
/// 25 MB): decay otherwise only runs when the same arena allocates again.
fn return_freed_memory() {
    #[cfg(feature = "jemalloc")]
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!("jemalloc background threads not enabled: {e}");
    }
}

fn serve_demo(listeners: aether::demo::Listeners) -> ExitCode {
    return_freed_memory();
    match aether::demo::run(listeners) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aether serve --demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(path: PathBuf, upgrade: bool) -> ExitCode {
    return_freed_memory();
    let registry = Arc::new(CircuitRegistry::default());
    let loaded = match config::load(&path, &registry) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("aether: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    for w in &loaded.warnings {
        tracing::warn!("{}: {w}", path.display());
    }
    if let Some(hint) = aether::demo::idle_hint(&loaded.runtime) {
        tracing::warn!("{}: {hint}", path.display());
    }
    let store = Arc::new(ConfigStore::new(loaded.runtime, registry, Some(path)));
    match aether::server::run(&loaded.file, store, upgrade) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aether: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &std::path::Path, policy: WarningPolicy) -> ExitCode {
    let file = match config::read(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let diagnostics = config::compile::check(&file);
    for d in &diagnostics {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        eprintln!("{level}: {d}");
    }
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    match Verdict::of(&diagnostics, policy) {
        Verdict::Clean => {
            println!("{}: ok", path.display());
            ExitCode::SUCCESS
        }
        Verdict::Usable { warnings } => {
            println!("{}: ok ({})", path.display(), plural(warnings, "warning"));
            ExitCode::SUCCESS
        }
        Verdict::Fails { errors, warnings } => {
            let strict = match (errors, policy) {
                (0, WarningPolicy::Fail) => " (--strict: warnings fail)",
                _ => "",
            };
            eprintln!(
                "{}: failed: {}, {}{strict}",
                path.display(),
                plural(errors, "error"),
                plural(warnings, "warning")
            );
            ExitCode::FAILURE
        }
    }
}

fn plugins(path: &std::path::Path, json: bool) -> ExitCode {
    let file = match config::read(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let settings = aether::plugin_registry::PluginSettings::from_section(&file.plugins);
    let plugins = match aether::plugin_registry::Plugins::load(settings) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("aether plugins: {e}");
            return ExitCode::FAILURE;
        }
    };
    let status = plugins.status();
    if json {
        println!("{}", serde_json::json!(status));
    } else {
        println!("{:<17} {:<16} {:<14} source", "format", "version", "hash");
        for p in &status.active {
            println!("{:<17} {:<16} {:<14} {}", p.format, p.version, &p.hash[..12], p.source);
        }
        for f in &status.files {
            match &f.error {
                Some(e) => println!("refused: {} ({}): {e}", f.path, &f.hash[..f.hash.len().min(12)]),
                None => println!(
                    "file:    {} ({}): {}",
                    f.path,
                    &f.hash[..12.min(f.hash.len())],
                    f.loaded.as_deref().unwrap_or("-")
                ),
            }
        }
    }
    if status.files.iter().any(|f| f.error.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn mock(listen: SocketAddr, latency_ms: u64, ttfb_ms: u64, chunks: usize, interval_ms: u64) -> ExitCode {
    let config = aether_mock::MockConfig {
        latency: Duration::from_millis(latency_ms),
        ttfb: Duration::from_millis(ttfb_ms),
        chunks,
        interval: Duration::from_millis(interval_ms),
        ..aether_mock::MockConfig::default()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aether mock: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(aether_mock::run(listen, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aether mock: cannot serve on {listen}: {e}");
            ExitCode::FAILURE
        }
    }
}
