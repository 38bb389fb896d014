//! What can go wrong calling or loading a plugin. A call failure fails only its own
//! request (502 in the client's error shape); a load failure leaves the previous version
//! of the plugin in place.

use thiserror::Error;

/// A plugin call that did not produce a result.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum CallError {
    /// The Wasm runtime itself could not start.
    #[error("the plugin runtime could not start: {0}")]
    Engine(String),
    /// The call ran past its CPU deadline.
    #[error("plugin {plugin} ran past its CPU deadline of {ms} ms")]
    Deadline {
        /// `format@version`.
        plugin: String,
        /// The deadline.
        ms: u64,
    },
    /// The call tried to grow memory past the cap.
    #[error("plugin {plugin} hit its memory limit of {mb} MiB")]
    MemoryCap {
        /// `format@version`.
        plugin: String,
        /// The cap.
        mb: usize,
    },
    /// The plugin trapped (a panic, an out-of-bounds access, ...).
    #[error("plugin {plugin} trapped: {reason}")]
    Trap {
        /// `format@version`.
        plugin: String,
        /// The trap and what the plugin wrote to stderr.
        reason: String,
    },
    /// The plugin answered something the host refuses to take (a huge model name, ...).
    #[error("plugin {plugin} returned an unusable result: {reason}")]
    BadOutput {
        /// `format@version`.
        plugin: String,
        /// What was wrong.
        reason: String,
    },
    /// No instance could be made (the instance pool is exhausted, ...).
    #[error("plugin {plugin} could not be instantiated: {reason}")]
    Instantiate {
        /// `format@version`.
        plugin: String,
        /// Why.
        reason: String,
    },
    /// A stream's plugin state was lost when the instance holding it failed earlier.
    #[error("plugin {plugin} lost this stream's state after an earlier failure")]
    StreamLost {
        /// `format@version`.
        plugin: String,
    },
}

impl CallError {
    /// A short stable name for metrics and records.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Engine(_) => "plugin_engine",
            CallError::Deadline { .. } => "plugin_deadline",
            CallError::MemoryCap { .. } => "plugin_memory_cap",
            CallError::Trap { .. } => "plugin_trap",
            CallError::BadOutput { .. } => "plugin_bad_output",
            CallError::Instantiate { .. } => "plugin_instantiate",
            CallError::StreamLost { .. } => "plugin_stream_lost",
        }
    }
}

/// Why a plugin was not loaded.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PluginLoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// Not a WebAssembly component (a core module, garbage, a truncated file).
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// It does not export the `aether:plugin/format` contract or needs imports the host does
    /// not give (the filesystem, the network, ...).
    #[error("does not fit the plugin contract: {0}")]
    Contract(String),
    /// Built against another contract version.
    #[error("built against contract {found}, this gateway speaks {expected}")]
    ContractVersion {
        /// What the plugin says.
        found: String,
        /// What the host speaks.
        expected: String,
    },
    /// Its identity is not usable.
    #[error("bad identity: {0}")]
    Identity(String),
    /// Its self-test failed.
    #[error("self-test failed: {0}")]
    SelfTest(String),
    /// Calling it during the checks failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// Another file in the plugin directory already provides this format.
    #[error("format {format} is already provided by {other}")]
    Duplicate {
        /// The format.
        format: String,
        /// The other file.
        other: String,
    },
}
