//! The plugins in service: one active version per format, swapped atomically.
//!
//! At start the four built-in plugins load (they must: a build whose own plugins fail
//! their self-test is broken), then the plugin directory is scanned. A scan looks only at
//! `*.wasm` files whose size or modification time changed; each changed file is compiled
//! (off the request path: scans run on a blocking thread), linked, checked and self-tested,
//! and only then swapped in. A file that fails leaves whatever served its format before.
//! Removing a file brings back the built-in plugin. Requests and streams hold the `Arc` of
//! the version they started with, so they finish on it whatever is swapped in meanwhile.
//!
//! - [`check`]: contract version, identity and self-test, before a plugin serves.
//! - [`watch`]: the directory poller.

pub mod check;
pub mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::plugin_host::artifact::{self, Origin};
use crate::plugin_host::builtin::BUILTIN;

use crate::format::{ALL_FORMATS, WireFormat};
use crate::plugin_host::engine::{self, Runtime};
use crate::plugin_host::error::PluginLoadError;
use crate::plugin_host::plugin::{CallLimits, LinkedPlugin, Plugin, Source};

/// The `[plugins]` settings, compiled.
#[derive(Debug, Clone)]
pub struct PluginSettings {
    /// The plugin directory, if any.
    pub dir: Option<PathBuf>,
    /// Where compiled artifacts are cached, if anywhere.
    pub cache_dir: Option<PathBuf>,
    /// Per-call limits.
    pub limits: CallLimits,
    /// How the directory is watched.
    pub watch: Watch,
}

/// How the plugin directory is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// Polled at this interval.
    Poll(Duration),
    /// Not watched; `POST /admin/reload` rescans it.
    Off,
}

impl PluginSettings {
    /// The settings of a config file's `[plugins]` section (validated already).
    pub fn from_section(section: &crate::config::file::PluginsSection) -> Self {
        PluginSettings {
            dir: section.dir.as_ref().map(PathBuf::from),
            cache_dir: section
                .cache_dir
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
            limits: CallLimits {
                timeout_ms: section.call_timeout_ms,
                memory_bytes: section.memory_limit_mb << 20,
                max_idle: section.max_idle_instances,
                stream_shards: section.stream_shards,
            },
            watch: match section.watch_interval_ms {
                0 => Watch::Off,
                ms => Watch::Poll(Duration::from_millis(ms)),
            },
        }
    }
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            dir: None,
            cache_dir: None,
            limits: CallLimits {
                timeout_ms: 100,
                memory_bytes: 128 << 20,
                max_idle: 4,
                stream_shards: 4,
            },
            watch: Watch::Poll(Duration::from_secs(1)),
        }
    }
}

/// What the last scan made of one file.
#[derive(Debug, Clone)]
struct FileState {
    fingerprint: (u64, SystemTime),
    hash: String,
    /// The last version of this file that passed every check.
    good: Option<Arc<Plugin>>,
    /// Why the latest content of the file was refused, if it was.
    error: Option<PluginLoadError>,
}

/// The plugin of every format that one request uses from start to finish.
#[derive(Debug, Clone)]
pub struct PluginSnapshot([Arc<Plugin>; 4]);

impl PluginSnapshot {
    /// The plugin for `format`.
    pub fn get(&self, format: WireFormat) -> &Arc<Plugin> {
        &self.0[slot(format)]
    }
}

/// The active plugins.
pub struct Plugins {
    settings: PluginSettings,
    runtime: &'static Runtime,
    active: [ArcSwap<Plugin>; 4],
    builtin: [Arc<Plugin>; 4],
    files: Mutex<BTreeMap<PathBuf, FileState>>,
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugins")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn slot(format: WireFormat) -> usize {
    match format {
        WireFormat::Claude => 0,
        WireFormat::OpenaiChat => 1,
        WireFormat::OpenaiResponses => 2,
        WireFormat::Gemini => 3,
    }
}

impl Plugins {
    /// Loads the built-in plugins and scans the plugin directory.
    pub fn load(settings: PluginSettings) -> Result<Arc<Self>, PluginLoadError> {
        let runtime = engine::runtime()?;
        let mut builtin = Vec::with_capacity(4);
        for (format, bytes) in BUILTIN {
            let plugin = load_bytes(runtime, &settings, bytes, Source::Builtin)?;
            if plugin.format != format {
                return Err(PluginLoadError::Identity(format!(
                    "the built-in {format} plugin says it is {}",
                    plugin.format
                )));
            }
            builtin.push(plugin);
        }
        let builtin: [Arc<Plugin>; 4] = builtin
            .try_into()
            .map_err(|_| PluginLoadError::Identity("four built-in plugins".into()))?;
        let plugins = Arc::new(Plugins {
            active: builtin.clone().map(ArcSwap::new),
            builtin,
            runtime,
            settings,
            files: Mutex::new(BTreeMap::new()),
        });
        plugins.rescan();
        Ok(plugins)
    }

    /// The active plugin for `format`.
    pub fn get(&self, format: WireFormat) -> Arc<Plugin> {
        self.active[slot(format)].load_full()
    }

    /// The active plugin of every format, taken together: a request takes one snapshot when
    /// it starts and uses it to the end, so a swap never gives one request two versions
    /// of a plugin (decoding with one and encoding with another).
    pub fn snapshot(&self) -> PluginSnapshot {
        PluginSnapshot(std::array::from_fn(|i| self.active[i].load_full()))
    }

    /// The settings they were loaded with.
    pub fn settings(&self) -> &PluginSettings {
        &self.settings
    }

    /// Scans the plugin directory and swaps in what changed; returns what was swapped in.
    /// Blocking (reads and compiles): call it off the async runtime's worker threads.
    pub fn rescan(&self) -> Vec<Arc<Plugin>> {
        let Some(dir) = &self.settings.dir else {
            return Vec::new();
        };
        let Ok(mut files) = self.files.lock() else {
            return Vec::new();
        };
        let present = wasm_files(dir);
        files.retain(|path, _| present.iter().any(|(p, _)| p == path));
        for (path, fingerprint) in &present {
            if files.get(path).is_some_and(|f| f.fingerprint == *fingerprint) {
                continue;
            }
            let previous = files.get(path).cloned();
            let state = self.load_file(path, *fingerprint, previous);
            files.insert(path.clone(), state);
        }
        self.resolve(&mut files)
    }

    fn load_file(&self, path: &Path, fingerprint: (u64, SystemTime), previous: Option<FileState>) -> FileState {
        let good = previous.as_ref().and_then(|p| p.good.clone());
        // The file could not be read (or may not be): the previous good version stays.
        let unreadable = |reason: String| FileState {
            fingerprint,
            hash: String::new(),
            good: good.clone(),
            error: Some(PluginLoadError::Read {
                path: path.display().to_string(),
                reason,
            }),
        };
        // Code the gateway runs: only from files its own user wrote and nobody else can.
        if let Err(e) = crate::private_dir::check_file(path) {
            tracing::error!(path = %path.display(), error = %e, "plugin file refused: not private to the gateway's user");
            return unreadable(e.to_string());
        }
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => return unreadable(e.to_string()),
        };
        let hash = artifact::content_hash(&bytes);
        if let Some(prev) = previous.filter(|p| p.hash == hash) {
            return FileState { fingerprint, ..prev };
        }
        match load_bytes(self.runtime, &self.settings, &bytes, Source::File(path.to_owned())) {
            Ok(plugin) => FileState {
                fingerprint,
                hash,
                good: Some(plugin),
                error: None,
            },
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "plugin refused; the previous one stays");
                FileState {
                    fingerprint,
                    hash,
                    good,
                    error: Some(error),
                }
            }
        }
    }

    /// Decides which file serves each format (the first by name; a second one for the same
    /// format is refused as a duplicate) and swaps the active slots that changed.
    fn resolve(&self, files: &mut BTreeMap<PathBuf, FileState>) -> Vec<Arc<Plugin>> {
        let mut chosen: [Option<(PathBuf, Arc<Plugin>)>; 4] = Default::default();
        for (path, state) in files.iter_mut() {
            let Some(good) = &state.good else { continue };
            match &chosen[slot(good.format)] {
                None => chosen[slot(good.format)] = Some((path.clone(), Arc::clone(good))),
                Some((other, _)) => {
                    state.error = Some(PluginLoadError::Duplicate {
                        format: good.format.to_string(),
                        other: other.display().to_string(),
                    });
                }
            }
        }
        let mut swapped = Vec::new();
        for format in ALL_FORMATS {
            let want = chosen[slot(format)]
                .as_ref()
                .map_or_else(|| Arc::clone(&self.builtin[slot(format)]), |(_, p)| Arc::clone(p));
            let current = self.get(format);
            if !Arc::ptr_eq(&current, &want) {
                tracing::info!(
                    format = %format,
                    version = %want.version,
                    hash = %want.hash,
                    source = %want.source,
                    replaced = %current.label,
                    "plugin swapped in"
                );
                self.active[slot(format)].store(Arc::clone(&want));
                swapped.push(want);
            }
        }
        swapped
    }

    /// Every active plugin and every file in the plugin directory, for `aether plugins` and
    /// the admin API.
    pub fn status(&self) -> PluginsStatus {
        let active = ALL_FORMATS
            .iter()
            .map(|f| {
                let p = self.get(*f);
                let stats = &p.stats;
                ActiveStatus {
                    format: *f,
                    version: p.version.clone(),
                    hash: p.hash.clone(),
                    source: p.source.to_string(),
                    calls: stats.calls.load(std::sync::atomic::Ordering::Relaxed),
                    failures: stats.failures.load(std::sync::atomic::Ordering::Relaxed),
                    consecutive_failures: stats.consecutive_failures.load(std::sync::atomic::Ordering::Relaxed),
                    last_failure: stats.last_failure.lock().ok().and_then(|l| l.clone()),
                }
            })
            .collect();
        let files = self
            .files
            .lock()
            .map(|files| {
                files
                    .iter()
                    .map(|(path, state)| FileStatus {
                        path: path.display().to_string(),
                        hash: state.hash.clone(),
                        loaded: state.good.as_ref().map(|p| p.label.clone()),
                        error: state.error.as_ref().map(ToString::to_string),
                    })
                    .collect()
            })
            .unwrap_or_default();
        PluginsStatus {
            dir: self.settings.dir.as_ref().map(|d| d.display().to_string()),
            active,
            files,
        }
    }
}

/// Compiles, links, identifies, checks and self-tests one component.
fn load_bytes(
    runtime: &'static Runtime,
    settings: &PluginSettings,
    bytes: &[u8],
    source: Source,
) -> Result<Arc<Plugin>, PluginLoadError> {
    let hash = artifact::content_hash(bytes);
    let started = std::time::Instant::now();
    let (component, origin) = artifact::compile(&runtime.engine, bytes, &hash, settings.cache_dir.as_deref())?;
    let prepared = LinkedPlugin::new(runtime, &component, settings.limits).map_err(PluginLoadError::Contract)?;
    let identity = prepared.identity()?;
    let format = check::identity(&identity)?;
    let plugin = Arc::new(prepared.into_plugin(format, &identity, hash, source));
    let cases = check::self_test(&plugin)?;
    tracing::debug!(
        plugin = %plugin.label,
        source = %plugin.source,
        cases,
        compiled = matches!(origin, Origin::Compiled),
        ms = started.elapsed().as_millis() as u64,
        "plugin loaded"
    );
    Ok(plugin)
}

/// `*.wasm` files in `dir` with their (size, modification time).
fn wasm_files(dir: &Path) -> Vec<(PathBuf, (u64, SystemTime))> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .filter_map(|p| {
            let meta = std::fs::metadata(&p).ok().filter(std::fs::Metadata::is_file)?;
            Some((p, (meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH))))
        })
        .collect();
    files.sort();
    files
}

/// The plugins, as `aether plugins` and `GET /admin/plugins` show them.
#[derive(Debug, Clone, Serialize)]
pub struct PluginsStatus {
    /// The plugin directory.
    pub dir: Option<String>,
    /// The plugin serving each format.
    pub active: Vec<ActiveStatus>,
    /// Every `.wasm` file in the directory and what became of it.
    pub files: Vec<FileStatus>,
}

/// One active plugin.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveStatus {
    /// The format.
    pub format: WireFormat,
    /// The plugin's version.
    pub version: String,
    /// SHA-256 of its component.
    pub hash: String,
    /// `built-in` or its file.
    pub source: String,
    /// Calls made.
    pub calls: u64,
    /// Calls failed (trap, deadline, memory cap, bad output).
    pub failures: u64,
    /// Failures since the last success.
    pub consecutive_failures: u64,
    /// The last failure.
    pub last_failure: Option<String>,
}

/// One file of the plugin directory.
#[derive(Debug, Clone, Serialize)]
pub struct FileStatus {
    /// The file.
    pub path: String,
    /// SHA-256 of its latest content.
    pub hash: String,
    /// The version from this file that passed its checks (`format@version`), if any.
    pub loaded: Option<String>,
    /// Why its latest content was refused, if it was.
    pub error: Option<String>,
}
