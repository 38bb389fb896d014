//! The Wasm plugin host: format plugins are WebAssembly components (`wasm32-wasip2`) that
//! implement the `aether:plugin/format` contract in `plugin-sdk/wit`.
//!
//! - [`engine`]: the one wasmtime engine (pooling allocator, epoch deadlines) and the WASI
//!   linker.
//! - [`wasi`]: the little WASI a plugin gets (no filesystem, network or stdio).
//! - [`artifact`]: compile once per content hash; precompiled artifacts cached on disk.
//! - [`plugin`]: one loaded version: warm instances for calls, shard instances holding
//!   per-stream resources, traps contained to their call.
//! - [`builtin`]: the four plugins embedded in the binary.
//!
//! Which version of each format serves, the plugin directory and the checks a plugin
//! passes before it serves are one layer up, in [`crate::plugin_registry`]: they run
//! conversions (the self-test), and conversion is built on this module.

pub mod artifact;
pub mod bindings;
pub mod builtin;
pub mod engine;
pub mod error;
pub mod plugin;
pub mod wasi;

pub use error::{CallError, PluginLoadError};
pub use plugin::{CONTRACT_VERSION, CallLimits, Plugin, Source, StreamResource};
