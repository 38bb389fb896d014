//! Aether's built-in format plugin for the Anthropic Messages API (`POST /v1/messages`).
//!
//! - [`inspect`]: model, stream flag and the capabilities a request needs (tools, images,
//!   thinking, structured output, the 1M context beta, 1-hour cache writes).
//! - [`usage`]: tokens from a body and from `message_start` / `message_delta` events, with
//!   cache writes split into 5-minute and 1-hour buckets.
//! - [`error`]: Anthropic's error body and stream `error` event, and upstream errors read
//!   back into the IR.
//! - Conversion through the IR (conventions in the SDK's `IR.md`): [`request`] (a client's
//!   request decoded, an upstream's encoded), [`response`] (whole responses both ways),
//!   [`stream`] (an upstream's events decoded, a client's encoded, one event at a time), on
//!   top of [`content`] (content blocks both ways) and [`stop_reason`].
//!
//! The README lists what is mapped, approximated and dropped in each direction.

pub mod base64;
pub mod content;
pub mod error;
pub mod inspect;
pub mod request;
pub mod response;
pub mod stop_reason;
pub mod stream;
pub mod usage;

use aether_plugin_sdk::types::{
    ChatRequest, ChatResponse, EncodedRequest, ErrorInfo, Inspection, PluginError, RequestHead, SseEvent, TestCase,
    UsageReport,
};
use aether_plugin_sdk::{FormatPlugin, StreamDecode, StreamEncode};

/// The Claude (Anthropic Messages) format.
pub struct Claude;

impl FormatPlugin for Claude {
    const FORMAT: &'static str = "claude";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const USAGE_MARKERS: &'static [&'static str] = usage::MARKERS;

    fn inspect(head: &RequestHead, body: &[u8]) -> Result<Inspection, PluginError> {
        inspect::inspect(head, body)
    }

    fn error_body(error: &ErrorInfo) -> Vec<u8> {
        error::body(error)
    }

    fn usage_from_body(body: &[u8]) -> UsageReport {
        usage::from_body(body)
    }

    fn tap_event(event: &SseEvent, report: &mut UsageReport) {
        usage::tap(event, report);
    }

    fn decode_error(status: u16, body: &[u8]) -> ErrorInfo {
        error::decode(status, body)
    }

    fn decode_request(head: &RequestHead, body: &[u8]) -> Result<ChatRequest, PluginError> {
        request::decode::decode(head, body)
    }

    fn encode_request(request: &ChatRequest) -> Result<EncodedRequest, PluginError> {
        request::encode::encode(request)
    }

    fn decode_response(body: &[u8]) -> Result<ChatResponse, PluginError> {
        response::decode(body)
    }

    fn encode_response(response: &ChatResponse) -> Result<Vec<u8>, PluginError> {
        response::encode(response)
    }

    fn stream_decoder() -> Box<dyn StreamDecode> {
        Box::new(stream::decode::Decoder::new())
    }

    fn stream_encoder(model: &str) -> Box<dyn StreamEncode> {
        Box::new(stream::encode::Encoder::new(model))
    }

    fn self_test() -> Vec<TestCase> {
        let mut cases = aether_plugin_sdk::harness::cases_from_fixtures(include_str!("../fixtures/self-test.json"));
        // The corpus's round trips through this plugin (a subset of the conformance corpus).
        cases.extend(aether_plugin_sdk::harness::cases_from_fixtures(include_str!(
            "../../../conformance/cases/claude--claude.json"
        )));
        cases
    }
}

#[cfg(feature = "export")]
aether_plugin_sdk::export_plugin!(Claude);

#[cfg(test)]
mod tests {
    #[test]
    fn self_test_passes_natively() {
        aether_plugin_sdk::harness::assert_self_test::<super::Claude>();
    }
}
