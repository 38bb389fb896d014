//! The Wasm plugin host: format plugins are WebAssembly components (`wasm32-wasip2`) that
//! implement the `aether:plugin/format` contract in `plugin-sdk/wit`.
//!
//! - [`engine`]: the one wasmtime engine (pooling allocator, epoch deadlines) and the WASI
//!   linker.
//! - [`wasi`]: the little WASI a plugin gets (no filesystem, network or stdio).
//! - [`artifact`]: compile once per content hash; precompiled artifacts cached on disk.
//! - [`plugin`]: one loaded version: warm instances for calls, shard instances holding
//!   per-stream resources, traps contained to their call.
//! - [`check`]: contract version, identity and self-test, before a plugin serves.
//! - [`registry`]: the active version per format, the plugin directory, atomic swaps.
//! - [`watch`]: the directory poller.
//! - [`builtin`]: the four plugins embedded in the binary.

pub mod artifact;
pub mod bindings;
pub mod builtin;
pub mod check;
pub mod engine;
pub mod error;
pub mod plugin;
pub mod registry;
pub mod wasi;
pub mod watch;

pub use error::{LoadError, PluginError};
pub use plugin::{CallLimits, Plugin, Source, StreamResource};
pub use registry::{PluginSettings, Plugins, PluginsStatus, Watch};
