//! Hot reload: the live config behind an atomic pointer, replaced on file change or SIGHUP.
//!
//! A reload is parse → validate-and-compile (one pass) → swap. An invalid file leaves the running
//! config in place and logs every problem. Requests hold an `Arc` to the generation they
//! started with, so in-flight requests and open streams finish on it.
//!
//! Reloads are serialised: the file watcher, SIGHUP and `POST /admin/reload` each read the
//! file, compile and swap under one lock, so a reload that read an older version of the
//! file can never swap after one that read a newer version.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use super::RuntimeConfig;
use crate::circuit::CircuitRegistry;

/// The live config and what is needed to rebuild it.
#[derive(Debug)]
pub struct ConfigStore {
    current: ArcSwap<RuntimeConfig>,
    registry: Arc<CircuitRegistry>,
    path: Option<PathBuf>,
    on_reload: OnceLock<ReloadHook>,
    /// Held from reading the file to the swap.
    reloading: Mutex<()>,
}

/// Called with each newly applied config, for parts of Aether that keep their own copy of
/// part of it (telemetry's prices and metric labels).
pub struct ReloadHook(pub Box<dyn Fn(&RuntimeConfig) + Send + Sync>);

impl std::fmt::Debug for ReloadHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadHook")
    }
}

/// What a reload attempt did.
#[derive(Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new config is live.
    Applied,
    /// The file was rejected; the previous config stays.
    Rejected(String),
}

impl ConfigStore {
    /// A store serving `initial`, reloading from `path` when asked.
    pub fn new(initial: RuntimeConfig, registry: Arc<CircuitRegistry>, path: Option<PathBuf>) -> Self {
        ConfigStore {
            current: ArcSwap::from_pointee(initial),
            registry,
            path,
            on_reload: OnceLock::new(),
            reloading: Mutex::new(()),
        }
    }

    /// Sets the hook run after each applied reload (once; later calls are ignored).
    pub fn set_reload_hook(&self, hook: ReloadHook) {
        let _ = self.on_reload.set(hook);
    }

    /// The current generation. Cheap: one atomic load and a reference count.
    pub fn current(&self) -> Arc<RuntimeConfig> {
        self.current.load_full()
    }

    /// The breaker registry shared by every generation.
    pub fn registry(&self) -> &Arc<CircuitRegistry> {
        &self.registry
    }

    /// Reloads from the file. Never leaves the store without a config.
    pub fn reload(&self) -> ReloadOutcome {
        let Some(path) = &self.path else {
            return ReloadOutcome::Rejected("no config file to reload from".into());
        };
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(PoisonError::into_inner);
        match super::load(path, &self.registry) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    tracing::warn!("config: {w}");
                }
                let runtime = Arc::new(loaded.runtime);
                self.current.store(runtime.clone());
                if let Some(hook) = self.on_reload.get() {
                    (hook.0)(&runtime);
                }
                tracing::info!(path = %path.display(), "config reloaded");
                ReloadOutcome::Applied
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::error!(path = %path.display(), "config reload rejected, keeping the running config: {reason}");
                ReloadOutcome::Rejected(reason)
            }
        }
    }

    /// Watches the file (polling its modification time and size every `interval`) and
    /// listens for SIGHUP, reloading on either. Runs until the task is dropped.
    pub async fn watch(self: Arc<Self>, interval: Duration) {
        let Some(path) = self.path.clone() else { return };
        let stamp = |p: &PathBuf| -> Option<(SystemTime, u64)> {
            let m = std::fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.len()))
        };
        let mut last = stamp(&path);
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("cannot listen for SIGHUP: {e}");
                None
            }
        };
        let mut tick = tokio::time::interval(interval);
        loop {
            let by_signal = tokio::select! {
                _ = tick.tick() => false,
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
            };
            let now = stamp(&path);
            if by_signal || now != last {
                last = now;
                self.reload();
            }
        }
    }
}
