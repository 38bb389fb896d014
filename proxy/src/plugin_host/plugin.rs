//! One loaded version of a plugin: its compiled component behind an `InstancePre`, a small
//! pool of warm instances for per-request calls, and a few shard instances that hold
//! per-stream resources.
//!
//! **Calls.** A call takes an idle instance (or instantiates one from the `InstancePre`:
//! about 20 µs with the pooling allocator), re-arms the epoch deadline (deadlines are
//! absolute per store), calls, and returns the instance to the pool. A call that traps, runs
//! past its deadline or hits the memory cap discards its instance: the failure stays with
//! that one call, and the next call gets a fresh instance. An instance whose memory grew
//! past [`RECYCLE_BYTES`] (a huge request) is discarded too, so idle instances stay small.
//!
//! **Streams.** A stream's state lives in a WIT resource inside one of a few shard instances
//! (chosen round-robin), not in an instance of its own: 10,000 open streams cost 10,000
//! small guest objects, not 10,000 linear memories. A shard instance is locked only for the
//! length of one call (microseconds; never across an `.await`). If a shard instance fails,
//! its slot gets a fresh one and the streams whose state it held report
//! [`CallError::StreamLost`]; other shards' streams carry on. A shard instance whose memory
//! grows past half the cap (a guest that leaks, or a few huge streams) is retired before it
//! can hit the cap and lose every stream in it: new streams go to a fresh instance in its
//! slot, and the old one lives on for the streams it holds, freed when the last one ends.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use memchr::memmem::Finder;
use wasmtime::component::{InstancePre, ResourceAny};
use wasmtime::{Store, Trap};

use super::bindings::types::{self, ErrorInfo, Inspection, RequestHead, SseEvent, UsageReport};
use super::bindings::{FormatPlugin, FormatPluginPre, Guest};
use super::engine::{EPOCH_TICK, HostState, Runtime};
use super::error::CallError;
use crate::format::WireFormat;

/// The contract version this host speaks: the SDK's, which plugins are built against.
pub const CONTRACT_VERSION: &str = aether_plugin_sdk::CONTRACT_VERSION;

/// An instance whose linear memory grew past this is not kept for reuse.
pub const RECYCLE_BYTES: usize = 16 << 20;

/// Longest model name accepted from `inspect`.
const MAX_MODEL_BYTES: usize = 512;

/// Largest error body or event accepted from a plugin.
const MAX_ERROR_BYTES: usize = 64 << 10;

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Embedded in the binary.
    Builtin,
    /// A file in the plugin directory.
    File(std::path::PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Builtin => f.write_str("built-in"),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Per-call limits, from the `[plugins]` settings.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// CPU deadline per call, in milliseconds.
    pub timeout_ms: u64,
    /// Memory cap per instance, in bytes.
    pub memory_bytes: usize,
    /// Idle instances kept per plugin version.
    pub max_idle: usize,
    /// Shard instances for stream state per plugin version.
    pub stream_shards: usize,
}

impl CallLimits {
    /// A shard instance whose memory passes this is retired (half the cap).
    fn retire_bytes(&self) -> usize {
        self.memory_bytes / 2
    }

    fn deadline_ticks(&self) -> u64 {
        let tick = EPOCH_TICK.as_millis().max(1) as u64;
        self.timeout_ms.div_ceil(tick) + 1
    }
}

/// Calls, failures and the last failure of a plugin version.
#[derive(Debug, Default)]
pub struct PluginStats {
    /// Calls made.
    pub calls: AtomicU64,
    /// Calls that trapped, timed out, hit the cap or returned unusable output.
    pub failures: AtomicU64,
    /// Failures in a row (reset by a success): a plugin that keeps trapping shows here.
    pub consecutive_failures: AtomicU64,
    /// The last failure, for the admin API.
    pub last_failure: Mutex<Option<String>>,
}

struct Warm {
    store: Store<HostState>,
    bindings: FormatPlugin,
}

/// One shard instance, shared by its slot (while it is the slot's current one) and by the
/// streams whose resources it holds.
struct ShardInstance {
    state: Mutex<ShardState>,
    /// The plugin's count of live shard instances, decremented when this one goes.
    alive: Arc<AtomicUsize>,
}

impl Drop for ShardInstance {
    fn drop(&mut self) {
        self.alive.fetch_sub(1, Ordering::Relaxed);
    }
}

enum ShardState {
    /// Not instantiated yet (on its first call).
    Fresh,
    /// Serving (boxed: the store is large, and every slot starts `Fresh`).
    Live(Box<Warm>),
    /// A call failed: the guest state of every stream in it is gone.
    Failed,
}

/// One loaded, checked plugin version.
pub struct Plugin {
    /// The format it serves.
    pub format: WireFormat,
    /// Its own version string.
    pub version: String,
    /// SHA-256 of the component, hex.
    pub hash: String,
    /// Where it came from.
    pub source: Source,
    /// `format@version`, for logs and errors.
    pub label: String,
    /// Calls and failures.
    pub stats: PluginStats,
    markers: Vec<Finder<'static>>,
    pre: FormatPluginPre<HostState>,
    limits: CallLimits,
    idle: Mutex<Vec<Warm>>,
    /// Each slot's current shard instance (new streams open there).
    shards: Box<[Mutex<Option<Arc<ShardInstance>>>]>,
    next_shard: AtomicUsize,
    shard_instances: Arc<AtomicUsize>,
    runtime: &'static Runtime,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("label", &self.label)
            .field("hash", &self.hash)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// What [`Plugin::prepare`] needs to know about a component.
pub struct LinkedPlugin {
    pre: FormatPluginPre<HostState>,
    runtime: &'static Runtime,
    limits: CallLimits,
}

impl LinkedPlugin {
    /// Links a compiled component; fails when it does not export the contract or imports
    /// something the host does not provide.
    pub fn new(
        runtime: &'static Runtime,
        component: &wasmtime::component::Component,
        limits: CallLimits,
    ) -> Result<Self, String> {
        // WASI functions the host does not answer link, and trap if called.
        let mut linker = runtime.linker.clone();
        linker
            .define_unknown_imports_as_traps(component)
            .map_err(|e| format!("{e:#}"))?;
        let pre: InstancePre<HostState> = linker.instantiate_pre(component).map_err(|e| format!("{e:#}"))?;
        let pre = FormatPluginPre::new(pre).map_err(|e| {
            format!(
                "{e:#} (a plugin must export aether:plugin/format@{}; was it built against another contract version?)",
                CONTRACT_VERSION
            )
        })?;
        Ok(LinkedPlugin { pre, runtime, limits })
    }

    /// Calls `identity` on a fresh instance.
    pub fn identity(&self) -> Result<types::PluginIdentity, CallError> {
        let mut warm = instantiate(&self.pre, self.runtime, &self.limits, "plugin")?;
        warm.store.set_epoch_deadline(self.limits.deadline_ticks());
        warm.bindings
            .aether_plugin_format()
            .call_identity(&mut warm.store)
            .map_err(|e| failure("plugin", &self.limits, e, warm.store.data()))
    }

    /// The plugin, ready to serve `format`.
    pub fn into_plugin(
        self,
        format: WireFormat,
        identity: &types::PluginIdentity,
        hash: String,
        source: Source,
    ) -> Plugin {
        let shards = (0..self.limits.stream_shards.max(1))
            .map(|_| Mutex::new(None))
            .collect();
        Plugin {
            format,
            version: identity.version.clone(),
            label: format!("{}@{}", identity.format, identity.version),
            hash,
            source,
            stats: PluginStats::default(),
            markers: identity
                .usage_markers
                .iter()
                .map(|m| Finder::new(m.as_bytes()).into_owned())
                .collect(),
            pre: self.pre,
            limits: self.limits,
            idle: Mutex::new(Vec::new()),
            shards,
            next_shard: AtomicUsize::new(0),
            shard_instances: Arc::default(),
            runtime: self.runtime,
        }
    }
}

fn instantiate(
    pre: &FormatPluginPre<HostState>,
    runtime: &'static Runtime,
    limits: &CallLimits,
    label: &str,
) -> Result<Warm, CallError> {
    let mut store = Store::new(&runtime.engine, HostState::new(limits.memory_bytes));
    store.limiter(|state| state);
    store.set_epoch_deadline(limits.deadline_ticks());
    let bindings = pre.instantiate(&mut store).map_err(|e| {
        if store.data().hit_memory_cap {
            CallError::MemoryCap {
                plugin: label.to_owned(),
                mb: limits.memory_bytes >> 20,
            }
        } else {
            CallError::Instantiate {
                plugin: label.to_owned(),
                reason: format!("{e:#}"),
            }
        }
    })?;
    Ok(Warm { store, bindings })
}

/// Turns a wasmtime error into the failure it was.
fn failure(label: &str, limits: &CallLimits, e: wasmtime::Error, state: &HostState) -> CallError {
    let plugin = label.to_owned();
    if state.hit_memory_cap {
        return CallError::MemoryCap {
            plugin,
            mb: limits.memory_bytes >> 20,
        };
    }
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return CallError::Deadline {
            plugin,
            ms: limits.timeout_ms,
        };
    }
    CallError::Trap {
        plugin,
        reason: super::wasi::trap_reason(&e),
    }
}

impl Plugin {
    /// Runs `f` on a warm instance, with the deadline armed; see the module docs.
    fn call<R>(&self, f: impl FnOnce(&Guest, &mut Store<HostState>) -> wasmtime::Result<R>) -> Result<R, CallError> {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let popped = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut warm = match popped {
            Some(warm) => warm,
            None => instantiate(&self.pre, self.runtime, &self.limits, &self.label).map_err(|e| self.failed(e))?,
        };
        warm.store.set_epoch_deadline(self.limits.deadline_ticks());
        match f(warm.bindings.aether_plugin_format(), &mut warm.store) {
            Ok(r) => {
                self.stats.consecutive_failures.store(0, Ordering::Relaxed);
                if warm.store.data().memory_bytes() <= RECYCLE_BYTES
                    && let Ok(mut idle) = self.idle.lock()
                    && idle.len() < self.limits.max_idle
                {
                    idle.push(warm);
                }
                Ok(r)
            }
            Err(e) => Err(self.failed(failure(&self.label, &self.limits, e, warm.store.data()))),
        }
    }

    /// Counts and logs a failure; the plugin name and reason go to the log, once per failure.
    fn failed(&self, e: CallError) -> CallError {
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        let streak = self.stats.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut last) = self.stats.last_failure.lock() {
            *last = Some(e.to_string());
        }
        tracing::warn!(plugin = %self.label, source = %self.source, kind = e.kind(), streak, error = %e, "plugin call failed");
        e
    }

    /// Counts, logs and returns a failure for an answer the host found unusable.
    pub fn bad_output(&self, reason: String) -> CallError {
        self.failed(CallError::BadOutput {
            plugin: self.label.clone(),
            reason,
        })
    }

    /// `inspect`: the routing facts, or the plugin's verdict that the request is invalid.
    pub fn inspect(
        &self,
        head: &RequestHead,
        body: &[u8],
    ) -> Result<Result<Inspection, types::PluginError>, CallError> {
        let out = self.call(|g, s| g.call_inspect(s, head, body))?;
        if let Ok(i) = &out {
            if i.model.as_ref().is_some_and(|m| m.len() > MAX_MODEL_BYTES) {
                return Err(self.bad_output(format!("a model name over {MAX_MODEL_BYTES} bytes")));
            }
            if i.model_span
                .is_some_and(|s| s.start > s.end || s.end as usize > body.len())
            {
                return Err(self.bad_output("a model span outside the body".into()));
            }
        }
        Ok(out)
    }

    /// `usage-from-body`.
    pub fn usage_from_body(&self, body: &[u8]) -> Result<UsageReport, CallError> {
        self.call(|g, s| g.call_usage_from_body(s, body))
    }

    /// `error-body`.
    pub fn error_body(&self, info: &ErrorInfo) -> Result<Vec<u8>, CallError> {
        let body = self.call(|g, s| g.call_error_body(s, info))?;
        self.bounded(body)
    }

    /// `stream-error-event`.
    pub fn stream_error_event(&self, info: &ErrorInfo) -> Result<Vec<u8>, CallError> {
        let event = self.call(|g, s| g.call_stream_error_event(s, info))?;
        self.bounded(event)
    }

    fn bounded(&self, bytes: Vec<u8>) -> Result<Vec<u8>, CallError> {
        if bytes.len() > MAX_ERROR_BYTES {
            return Err(self.bad_output(format!("an error body over {MAX_ERROR_BYTES} bytes")));
        }
        Ok(bytes)
    }

    /// `decode-error`: an upstream error response of this format as error info.
    pub fn decode_error(&self, status: u16, body: &[u8]) -> Result<ErrorInfo, CallError> {
        self.call(|g, s| g.call_decode_error(s, status, body))
    }

    /// `decode-request`.
    pub fn decode_request(
        &self,
        head: &RequestHead,
        body: &[u8],
    ) -> Result<Result<types::ChatRequest, types::PluginError>, CallError> {
        self.call(|g, s| g.call_decode_request(s, head, body))
    }

    /// `encode-request`.
    pub fn encode_request(
        &self,
        request: &types::ChatRequest,
    ) -> Result<Result<types::EncodedRequest, types::PluginError>, CallError> {
        self.call(|g, s| g.call_encode_request(s, request))
    }

    /// `decode-response`.
    pub fn decode_response(&self, body: &[u8]) -> Result<Result<types::ChatResponse, types::PluginError>, CallError> {
        self.call(|g, s| g.call_decode_response(s, body))
    }

    /// `encode-response`.
    pub fn encode_response(
        &self,
        response: &types::ChatResponse,
    ) -> Result<Result<Vec<u8>, types::PluginError>, CallError> {
        self.call(|g, s| g.call_encode_response(s, response))
    }

    /// `self-test`: the plugin's corpus.
    pub fn self_test_cases(&self) -> Result<Vec<types::TestCase>, CallError> {
        self.call(|g, s| g.call_self_test(s))
    }

    /// Makes a fresh instance from the `InstancePre` and drops it: what a call costs when
    /// no warm instance is idle (for the benchmarks).
    #[doc(hidden)]
    pub fn instantiate_fresh(&self) -> Result<(), CallError> {
        instantiate(&self.pre, self.runtime, &self.limits, &self.label).map(drop)
    }

    /// Whether a raw SSE event can carry usage, by the plugin's declared markers.
    pub fn is_usage_event(&self, raw_event: &[u8]) -> bool {
        self.markers.is_empty() || self.markers.iter().any(|m| m.find(raw_event).is_some())
    }

    /// Opens a per-stream resource on the current instance of the next slot (round-robin).
    fn open(
        self: &Arc<Self>,
        make: impl FnOnce(&Guest, &mut Store<HostState>) -> wasmtime::Result<ResourceAny>,
    ) -> Result<StreamResource, CallError> {
        let slot = self.next_shard.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        let instance = {
            let mut current = self.shards[slot].lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(current.get_or_insert_with(|| {
                self.shard_instances.fetch_add(1, Ordering::Relaxed);
                Arc::new(ShardInstance {
                    state: Mutex::new(ShardState::Fresh),
                    alive: Arc::clone(&self.shard_instances),
                })
            }))
        };
        let handle = self.on_shard(slot, &instance, make)?;
        Ok(StreamResource {
            plugin: Arc::clone(self),
            slot,
            instance,
            handle: Some(handle),
        })
    }

    /// Runs `f` on a shard instance (instantiated on its first call). Fails with
    /// [`CallError::StreamLost`] when the instance failed before. After the call, an
    /// instance that failed, or whose memory passed [`CallLimits::retire_bytes`], stops
    /// being its slot's current one.
    fn on_shard<R>(
        &self,
        slot: usize,
        instance: &Arc<ShardInstance>,
        f: impl FnOnce(&Guest, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let lost = || CallError::StreamLost {
            plugin: self.label.clone(),
        };
        let mut state = instance.state.lock().map_err(|_| lost())?;
        if matches!(*state, ShardState::Fresh) {
            let warm = instantiate(&self.pre, self.runtime, &self.limits, &self.label).map_err(|e| self.failed(e))?;
            *state = ShardState::Live(Box::new(warm));
        }
        let ShardState::Live(warm) = &mut *state else {
            return Err(lost());
        };
        warm.store.set_epoch_deadline(self.limits.deadline_ticks());
        match f(warm.bindings.aether_plugin_format(), &mut warm.store) {
            Ok(r) => {
                if warm.store.data().memory_bytes() > self.limits.retire_bytes() {
                    drop(state);
                    self.retire(slot, instance);
                }
                Ok(r)
            }
            Err(e) => {
                let e = failure(&self.label, &self.limits, e, warm.store.data());
                *state = ShardState::Failed;
                drop(state);
                self.retire(slot, instance);
                Err(self.failed(e))
            }
        }
    }

    /// Makes `instance` no longer its slot's current one (if it still is): the next stream
    /// opened there gets a fresh instance.
    fn retire(&self, slot: usize, instance: &Arc<ShardInstance>) {
        if let Some(current) = self.shards.get(slot) {
            let mut current = current.lock().unwrap_or_else(PoisonError::into_inner);
            if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, instance)) {
                *current = None;
            }
        }
    }

    /// Shard instances alive now: the slots' current ones and retired ones still holding
    /// streams.
    pub fn stream_instances(&self) -> usize {
        self.shard_instances.load(Ordering::Relaxed)
    }

    /// A usage tap for one stream of this format.
    pub fn open_usage_tap(self: &Arc<Self>) -> Result<StreamResource, CallError> {
        self.open(|g, s| g.usage_tap().call_constructor(s))
    }

    /// A stream decoder for one upstream stream of this format.
    pub fn open_stream_decoder(self: &Arc<Self>) -> Result<StreamResource, CallError> {
        self.open(|g, s| g.stream_decoder().call_constructor(s))
    }

    /// A stream encoder for one client stream of this format.
    pub fn open_stream_encoder(self: &Arc<Self>, model: &str) -> Result<StreamResource, CallError> {
        self.open(|g, s| g.stream_encoder().call_constructor(s, model))
    }
}

/// A per-stream resource living in a shard instance of the plugin version it was opened on;
/// the stream keeps that version alive until it ends, whatever is loaded meanwhile. Dropped
/// with the stream, which frees the guest's state.
pub struct StreamResource {
    plugin: Arc<Plugin>,
    slot: usize,
    instance: Arc<ShardInstance>,
    handle: Option<ResourceAny>,
}

impl std::fmt::Debug for StreamResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResource")
            .field("plugin", &self.plugin.label)
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl StreamResource {
    /// The plugin version this stream runs on.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&Guest, &mut Store<HostState>, ResourceAny) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let handle = self.handle.ok_or_else(|| CallError::StreamLost {
            plugin: self.plugin.label.clone(),
        })?;
        self.plugin.on_shard(self.slot, &self.instance, |g, s| f(g, s, handle))
    }

    /// Usage tap: feeds events.
    pub fn tap_push(&self, events: &[SseEvent]) -> Result<(), CallError> {
        self.with(|g, s, h| g.usage_tap().call_push(s, h, events))
    }

    /// Usage tap: feeds events and reads the report, under one lock of the shard.
    pub fn tap_push_and_report(&self, events: &[SseEvent]) -> Result<UsageReport, CallError> {
        self.with(|g, s, h| {
            g.usage_tap().call_push(&mut *s, h, events)?;
            g.usage_tap().call_report(s, h)
        })
    }

    /// Usage tap: the report so far.
    pub fn tap_report(&self) -> Result<UsageReport, CallError> {
        self.with(|g, s, h| g.usage_tap().call_report(s, h))
    }

    /// Stream decoder: one upstream event, and the decoder's splice for events like it.
    pub fn decode_push(&self, event: &SseEvent) -> Result<Result<types::Decoded, types::PluginError>, CallError> {
        self.with(|g, s, h| g.stream_decoder().call_push(s, h, event))
    }

    /// Stream decoder: the upstream ended.
    pub fn decode_finish(&self) -> Result<Result<Vec<types::StreamEvent>, types::PluginError>, CallError> {
        self.with(|g, s, h| g.stream_decoder().call_finish(s, h))
    }

    /// Stream encoder: what the host wrote through its counted splice (`spliced`), then IR
    /// events to client bytes, and the splice of `splice_for` if asked and offered.
    pub fn encode_push(
        &self,
        events: &[types::StreamEvent],
        splice_for: Option<types::SpliceKey>,
        spliced: Option<&types::SplicedRun>,
    ) -> Result<Result<types::Encoded, types::PluginError>, CallError> {
        self.with(|g, s, h| g.stream_encoder().call_push(s, h, events, splice_for, spliced))
    }

    /// Stream encoder: the closing bytes.
    pub fn encode_finish(&self) -> Result<Result<Vec<u8>, types::PluginError>, CallError> {
        self.with(|g, s, h| g.stream_encoder().call_finish(s, h))
    }
}

impl Drop for StreamResource {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            // Frees the guest-side state; an instance that failed has freed it already. A
            // retired instance goes with its last stream's `Arc`.
            let _ = self
                .plugin
                .on_shard(self.slot, &self.instance, |_, s| handle.resource_drop(s));
        }
    }
}
