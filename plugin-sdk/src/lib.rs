//! # aether-plugin-sdk
//!
//! Write an Aether format plugin in plain Rust. A format plugin teaches the gateway one LLM
//! wire format: it reads the routing facts out of a request ([`FormatPlugin::inspect`]),
//! finds token usage in responses and streams, renders errors in its format's shape, and
//! (for cross-format conversion) translates requests, responses and stream events to and
//! from the intermediate representation (IR) in [`types`].
//!
//! You implement [`FormatPlugin`] (only `inspect` and `error_body` are required; everything
//! else has a sensible default) and call [`export_plugin!`] once. Built for
//! `wasm32-wasip2`, the crate becomes a component the gateway loads; built natively, the same
//! code runs in ordinary unit tests and in the [`harness`], which checks the self-test corpus
//! the plugin ships exactly as the gateway does at load time.
//!
//! ```ignore
//! use aether_plugin_sdk::{FormatPlugin, export_plugin, types::*};
//!
//! pub struct Echo;
//!
//! impl FormatPlugin for Echo {
//!     const FORMAT: &'static str = "claude";
//!     const VERSION: &'static str = "0.1.0";
//!     fn inspect(head: &RequestHead, body: &[u8]) -> Result<Inspection, PluginError> { /* ... */ }
//!     fn error_body(error: &ErrorInfo) -> Vec<u8> { /* ... */ }
//! }
//!
//! export_plugin!(Echo);
//! ```
//!
//! See the README for a walk from an empty crate to a plugin the gateway has loaded.

pub mod adapter;
#[doc(hidden)]
pub mod bindings;
pub mod errors;
pub mod harness;
pub mod json;
pub mod path;
pub mod splice;
pub mod sse;
pub mod usage;

/// The IR and every other type that crosses the plugin boundary (generated from the WIT).
pub mod types {
    pub use crate::bindings::aether::plugin::types::*;
}

use types::{
    ChatRequest, ChatResponse, DecodeSplice, EncodeSplice, EncodedRequest, ErrorInfo, Inspection, PluginError,
    RequestHead, SpliceKey, SplicedRun, SseEvent, StreamEvent, TestCase, UsageReport,
};

/// The contract version this SDK implements (the WIT package version).
pub const CONTRACT_VERSION: &str = "0.5.0";

/// One wire format, as a plugin. Associated functions, no `self`: a plugin keeps per-stream
/// state in its [`StreamDecode`] / [`StreamEncode`] objects and in the [`UsageReport`] its
/// [`FormatPlugin::tap_event`] updates, never in globals (the host may reuse an instance for
/// many requests).
pub trait FormatPlugin: 'static {
    /// The wire format: `claude`, `openai-chat`, `openai-responses` or `gemini`.
    const FORMAT: &'static str;
    /// The plugin's version (semver), shown by `aether plugins`.
    const VERSION: &'static str;
    /// Substrings of which one occurs in every SSE event that can carry usage or end a
    /// stream. The host skips [`FormatPlugin::tap_event`] for other events, which keeps
    /// streams cheap. Empty: every event is tapped. In a converted stream, events the host
    /// splices are skipped as well (IR.md, "Splices").
    const USAGE_MARKERS: &'static [&'static str] = &[];

    /// The routing facts of a client request: model, stream flag, capabilities, an input
    /// token estimate. Called once per request on the hot path.
    fn inspect(head: &RequestHead, body: &[u8]) -> Result<Inspection, PluginError>;

    /// This format's error body.
    fn error_body(error: &ErrorInfo) -> Vec<u8>;

    /// The usage in a whole response body. Default: none seen.
    fn usage_from_body(body: &[u8]) -> UsageReport {
        let _ = body;
        usage::empty_report()
    }

    /// Updates a stream's usage report with one event (only events that hold a
    /// [`FormatPlugin::USAGE_MARKERS`] substring arrive). Default: ignores the event.
    fn tap_event(event: &SseEvent, report: &mut UsageReport) {
        let _ = (event, report);
    }

    /// This format's SSE error event, framed. Default: an `error` event whose data is
    /// [`FormatPlugin::error_body`].
    fn stream_error_event(error: &ErrorInfo) -> Vec<u8> {
        sse::frame(Some("error"), &Self::error_body(error))
    }

    /// An upstream error response of this format as error info. Default: the class from
    /// the status and the message from common JSON shapes ([`errors::generic`]).
    fn decode_error(status: u16, body: &[u8]) -> ErrorInfo {
        errors::generic(status, body)
    }

    /// A client request of this format in the IR. Default: unsupported.
    fn decode_request(head: &RequestHead, body: &[u8]) -> Result<ChatRequest, PluginError> {
        let _ = (head, body);
        Err(unsupported::<Self>("decode-request"))
    }

    /// An IR request encoded for an upstream of this format. Default: unsupported.
    fn encode_request(request: &ChatRequest) -> Result<EncodedRequest, PluginError> {
        let _ = request;
        Err(unsupported::<Self>("encode-request"))
    }

    /// An upstream's whole response of this format in the IR. Default: unsupported.
    fn decode_response(body: &[u8]) -> Result<ChatResponse, PluginError> {
        let _ = body;
        Err(unsupported::<Self>("decode-response"))
    }

    /// An IR response as a body of this format. Default: unsupported.
    fn encode_response(response: &ChatResponse) -> Result<Vec<u8>, PluginError> {
        let _ = response;
        Err(unsupported::<Self>("encode-response"))
    }

    /// A decoder for one upstream stream of this format. Default: one that reports
    /// every call as unsupported.
    fn stream_decoder() -> Box<dyn StreamDecode> {
        Box::new(Unsupported(unsupported::<Self>("stream decoding")))
    }

    /// An encoder for one client stream of this format. Default: unsupported.
    fn stream_encoder(model: &str) -> Box<dyn StreamEncode> {
        let _ = model;
        Box::new(Unsupported(unsupported::<Self>("stream encoding")))
    }

    /// The self-test corpus the host runs at load; a plugin whose cases fail is refused.
    /// Default: none.
    fn self_test() -> Vec<TestCase> {
        Vec::new()
    }
}

/// Per-stream state that turns upstream SSE events of a format into IR events.
pub trait StreamDecode {
    /// One upstream event in, zero or more IR events out.
    fn push(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, PluginError>;
    /// Asked right after a [`StreamDecode::push`] of `event` that decoded to one lone delta:
    /// a splice for events like it (see [`splice`]), if the decoder would decode every such
    /// event to one delta of the same block and stay as it is. Default: none, and every
    /// event goes through `push`.
    fn splice(&self, event: &SseEvent) -> Option<DecodeSplice> {
        let _ = event;
        None
    }
    /// The upstream stream ended.
    fn finish(&mut self) -> Result<Vec<StreamEvent>, PluginError> {
        Ok(Vec::new())
    }
}

/// Per-stream state that turns IR events into a client stream of a format.
pub trait StreamEncode {
    /// IR events in, framed SSE bytes out.
    fn push(&mut self, events: &[StreamEvent]) -> Result<Vec<u8>, PluginError>;
    /// Asked right after a [`StreamEncode::push`]: how a delta of `key` would be written
    /// from here (see [`splice`]), if writing one leaves the encoder as it is, or changes
    /// only what [`StreamEncode::spliced`] catches up on (a counted splice). Default: none.
    fn splice(&self, key: SpliceKey) -> Option<EncodeSplice> {
        let _ = key;
        None
    }
    /// Before a [`StreamEncode::push`]: the deltas the host wrote through this encoder's
    /// counted splice since its last call, to take as if it had written them. Only an
    /// encoder that offers counted splices is told. Default: nothing to do.
    fn spliced(&mut self, run: &SplicedRun) {
        let _ = run;
    }
    /// The stream ended: the closing events, if the format has any.
    fn finish(&mut self) -> Result<Vec<u8>, PluginError> {
        Ok(Vec::new())
    }
}

/// The stand-in decoder/encoder of a plugin that does not implement streaming conversion.
struct Unsupported(PluginError);

impl StreamDecode for Unsupported {
    fn push(&mut self, _: &SseEvent) -> Result<Vec<StreamEvent>, PluginError> {
        Err(self.0.clone())
    }
}

impl StreamEncode for Unsupported {
    fn push(&mut self, _: &[StreamEvent]) -> Result<Vec<u8>, PluginError> {
        Err(self.0.clone())
    }
}

fn unsupported<P: FormatPlugin + ?Sized>(what: &str) -> PluginError {
    PluginError::Unsupported(format!("the {} plugin does not implement {what}", P::FORMAT))
}

/// Exports a [`FormatPlugin`] implementation as the component's `aether:plugin/format`.
///
/// Call it once, at the crate root. It does nothing when the crate is built natively (for
/// tests and the harness), so the same crate serves both.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            type __AetherPluginExport = $crate::adapter::Export<$plugin>;
    $crate::bindings::__export_format_plugin!(__AetherPluginExport with_types_in $crate::bindings);
        };
    };
}
