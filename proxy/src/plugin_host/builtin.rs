//! The four built-in format plugins, compiled from this workspace's `plugins/` crates by
//! the proxy's build script and embedded in the binary, so `aether serve` works with no
//! plugin directory at all. A `.wasm` for the same format in the plugin directory overrides
//! the built-in one.

use crate::format::WireFormat;

/// The embedded components, one per format.
pub const BUILTIN: [(WireFormat, &[u8]); 4] = [
    (
        WireFormat::Claude,
        include_bytes!(concat!(env!("OUT_DIR"), "/claude.wasm")),
    ),
    (
        WireFormat::OpenaiChat,
        include_bytes!(concat!(env!("OUT_DIR"), "/openai-chat.wasm")),
    ),
    (
        WireFormat::OpenaiResponses,
        include_bytes!(concat!(env!("OUT_DIR"), "/openai-responses.wasm")),
    ),
    (
        WireFormat::Gemini,
        include_bytes!(concat!(env!("OUT_DIR"), "/gemini.wasm")),
    ),
];

/// Components built for the tests and examples, not embedded: their paths in the build's
/// output directory.
#[doc(hidden)]
pub mod test_artifacts {
    /// The SDK's example plugin (Claude format with namespaced model names).
    pub const EXAMPLE_MODEL_NAMESPACE: &str = concat!(env!("OUT_DIR"), "/example-model-namespace.wasm");
    /// The misbehaving plugin of the sandboxing tests.
    pub const HOSTILE: &str = concat!(env!("OUT_DIR"), "/test-hostile.wasm");
    /// The built-in Claude plugin as a file.
    pub const CLAUDE: &str = concat!(env!("OUT_DIR"), "/claude.wasm");
}
