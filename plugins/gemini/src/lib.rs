//! Aether's built-in format plugin for Google Gemini (`…/models/{model}:generateContent`,
//! `:streamGenerateContent`, `:countTokens`).
//!
//! - [`inspect`]: the model and stream flag come from the path; capabilities from the body
//!   (tools, image parts, thinking config, JSON response schema).
//! - [`usage`]: `usageMetadata` of a body, of each chunk of a JSON array or of each stream
//!   event (cumulative), thoughts counted as output.
//! - [`error`]: Google's error body, and upstream error bodies read back into error info.
//! - Conversion to and from the IR (`plugin-sdk/IR.md`): [`request`] (client requests in,
//!   upstream requests out), [`response`] (whole answers), [`stream`] (SSE chunks, one event
//!   at a time), built on the wire types in [`wire`] and the part mapping in [`parts`].
//!
//! What is mapped, approximated and dropped is listed in the crate's README.

pub mod error;
pub mod finish_reason;
pub mod ids;
pub mod inspect;
pub mod media;
pub mod parts;
pub mod reasoning;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;
pub mod tool_result;
pub mod usage;
pub mod wire;

use aether_plugin_sdk::types::{
    ChatRequest, ChatResponse, EncodedRequest, ErrorInfo, Inspection, PluginError, RequestHead, SseEvent, TestCase,
    UsageReport,
};
use aether_plugin_sdk::{FormatPlugin, StreamDecode, StreamEncode};

/// The Gemini format.
pub struct Gemini;

impl FormatPlugin for Gemini {
    const FORMAT: &'static str = "gemini";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const USAGE_MARKERS: &'static [&'static str] = usage::MARKERS;

    fn inspect(head: &RequestHead, body: &[u8]) -> Result<Inspection, PluginError> {
        inspect::inspect(head, body)
    }

    fn error_body(error: &ErrorInfo) -> Vec<u8> {
        error::body(error)
    }

    /// Gemini streams have no error event type: the error body is sent as a data line.
    fn stream_error_event(error: &ErrorInfo) -> Vec<u8> {
        aether_plugin_sdk::sse::frame(None, &error::body(error))
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
        Box::new(stream::decode::Decoder::default())
    }

    fn stream_encoder(model: &str) -> Box<dyn StreamEncode> {
        Box::new(stream::encode::Encoder::new(model))
    }

    fn self_test() -> Vec<TestCase> {
        let mut cases = aether_plugin_sdk::harness::cases_from_fixtures(include_str!("../fixtures/self-test.json"));
        // The corpus's round trips through this plugin (a subset of the conformance corpus).
        cases.extend(aether_plugin_sdk::harness::cases_from_fixtures(include_str!(
            "../../../conformance/cases/gemini--gemini.json"
        )));
        cases
    }
}

#[cfg(feature = "export")]
aether_plugin_sdk::export_plugin!(Gemini);

#[cfg(test)]
mod tests {
    #[test]
    fn self_test_passes_natively() {
        aether_plugin_sdk::harness::assert_self_test::<super::Gemini>();
    }
}
