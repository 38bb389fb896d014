//! The process's one wasmtime [`Engine`]: the component model, the pooling instance
//! allocator, and epoch interruption driven by a ticker thread, so every plugin call has a
//! CPU deadline. Also the one [`Linker`], which gives plugins the WASI of
//! [`super::wasi`]: no filesystem, no network, no stdio.
//!
//! One engine per process, not per gateway: compiled components are cached by content
//! hash across config reloads and, in the tests, across the many gateways one test binary
//! starts. Compiling happens on a short-lived engine of the same settings
//! ([`compiler`]), so that the compiler's memory does not stay with the process.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy, ResourceLimiter,
};

use super::CallError;

/// How often the epoch advances: the granularity of the per-call CPU deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// The largest linear memory any plugin instance may have; `plugins.memory_limit_mb` caps
/// each instance below this.
pub const MAX_MEMORY_BYTES: usize = 512 << 20;

/// The engine and linker, built once.
pub struct Runtime {
    /// The engine.
    pub engine: Engine,
    /// The host functions plugins may import.
    pub linker: Linker<HostState>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The process's runtime, built (and its epoch ticker started) on first use.
pub fn runtime() -> Result<&'static Runtime, CallError> {
    RUNTIME
        .get_or_init(|| build().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| CallError::Engine(e.clone()))
}

/// Set (to anything) in the environment of `aether serve` to have `perf` name the plugins'
/// functions: the engine writes `/tmp/perf-<pid>.map` as it loads code. For profiling only;
/// read when the engine is built.
pub const PERF_MAP_VAR: &str = "AETHER_PLUGIN_PERF_MAP";

/// What an engine is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Runs plugins: the pooling allocator.
    Run,
    /// Only compiles: allocates no instances.
    Compile,
}

/// The engine settings. Both roles compile the same code: an artifact one compiles, the
/// other loads.
fn config(role: Role) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true).epoch_interruption(true);
    if std::env::var_os(PERF_MAP_VAR).is_some() {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    if role == Role::Run {
        let mut pool = PoolingAllocationConfig::default();
        // Enough slots for every format's warm instances and stream shards, twice over for
        // the old and new version while a reload drains.
        pool.total_component_instances(512)
            .total_core_instances(2048)
            .total_memories(1024)
            .total_tables(2048)
            .max_memory_size(MAX_MEMORY_BYTES);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// A short-lived engine to compile with. Cranelift keeps its per-thread compilation
/// contexts, sized by the largest function it has compiled, for as long as the engine
/// lives: tens of megabytes after the built-in plugins. Compiling on an engine that is
/// dropped afterwards gives that memory back; the artifact is then loaded into the
/// process's engine ([`super::artifact`]).
pub fn compiler() -> wasmtime::Result<Engine> {
    Engine::new(&config(Role::Compile))
}

fn build() -> wasmtime::Result<Runtime> {
    let engine = Engine::new(&config(Role::Run))?;
    let mut linker = Linker::new(&engine);
    super::wasi::add_to_linker(&mut linker)?;
    let ticker = engine.weak();
    std::thread::Builder::new()
        .name("aether-plugin-epoch".into())
        .spawn(move || {
            while let Some(engine) = ticker.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(Runtime { engine, linker })
}

/// What a plugin's store holds: its memory cap and what it has used.
pub struct HostState {
    memory_limit: usize,
    /// Set when the plugin tried to grow its memory past the cap (tells a cap hit from
    /// other traps).
    pub hit_memory_cap: bool,
    memory_bytes: usize,
}

impl HostState {
    /// A fresh state with a memory cap of `memory_limit` bytes.
    pub fn new(memory_limit: usize) -> Self {
        HostState {
            memory_limit,
            hit_memory_cap: false,
            memory_bytes: 0,
        }
    }

    /// The largest linear memory the instance has grown to.
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }
}

impl ResourceLimiter for HostState {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.hit_memory_cap = true;
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} MiB reached",
                self.memory_limit >> 20
            )));
        }
        self.memory_bytes = self.memory_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}
