//! Aether's built-in format plugin for the OpenAI Responses API (`POST /v1/responses`), the
//! one Codex speaks.
//!
//! - [`inspect`]: model, stream flag, capabilities (tools, image inputs, reasoning,
//!   structured output).
//! - [`usage`]: tokens from a body and from `response.completed` / `.incomplete` / `.failed`.
//! - [`error`]: OpenAI's error body (the Chat plugin's) read back into the IR, and the
//!   Responses stream `error` event.
//! - Conversion to and from the IR (see `plugin-sdk/IR.md` and this crate's README for what
//!   is mapped, approximated and dropped): [`request`] (client requests in, upstream requests
//!   out), [`response`] (whole bodies both ways), [`stream`] (SSE both ways, one event at a
//!   time).
//!
//! The rest are the shapes and tables those share: [`wire`] (parsing), [`items`] (output
//! items), [`media`], [`reasoning`] (effort ↔ budget), [`stop`] (status ↔ stop reason),
//! [`ids`].

pub mod error;
pub mod ids;
pub mod inspect;
pub mod items;
pub mod media;
pub mod reasoning;
pub mod request;
pub mod response;
pub mod stop;
pub mod stream;
pub mod usage;
pub mod wire;

use aether_plugin_openai_chat::error as openai_error;
use aether_plugin_sdk::types::{
    ChatRequest, ChatResponse, EncodedRequest, ErrorInfo, Inspection, PluginError, RequestHead, SseEvent, TestCase,
    UsageReport,
};
use aether_plugin_sdk::{FormatPlugin, StreamDecode, StreamEncode};

/// The OpenAI Responses format.
pub struct OpenaiResponses;

impl FormatPlugin for OpenaiResponses {
    const FORMAT: &'static str = "openai-responses";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const USAGE_MARKERS: &'static [&'static str] = usage::MARKERS;

    fn inspect(head: &RequestHead, body: &[u8]) -> Result<Inspection, PluginError> {
        inspect::inspect(head, body)
    }

    fn error_body(error: &ErrorInfo) -> Vec<u8> {
        openai_error::body(error)
    }

    /// `event: error` with `{"type":"error","code","message","param"}`, as the Responses
    /// stream defines it.
    fn stream_error_event(error: &ErrorInfo) -> Vec<u8> {
        error::stream_error_event(error)
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
        response::decode::decode(body)
    }

    fn encode_response(response: &ChatResponse) -> Result<Vec<u8>, PluginError> {
        response::encode::encode(response)
    }

    fn stream_decoder() -> Box<dyn StreamDecode> {
        Box::new(stream::decode::Decoder::new())
    }

    fn stream_encoder(model: &str) -> Box<dyn StreamEncode> {
        Box::new(stream::encode::Encoder::new(model))
    }

    fn usage_from_body(body: &[u8]) -> UsageReport {
        usage::from_body(body)
    }

    fn tap_event(event: &SseEvent, report: &mut UsageReport) {
        usage::tap(event, report);
    }

    fn self_test() -> Vec<TestCase> {
        let mut cases = aether_plugin_sdk::harness::cases_from_fixtures(include_str!("../fixtures/self-test.json"));
        // The corpus's round trips through this plugin (a subset of the conformance corpus).
        cases.extend(aether_plugin_sdk::harness::cases_from_fixtures(include_str!(
            "../../../conformance/cases/openai-responses--openai-responses.json"
        )));
        cases
    }
}

#[cfg(feature = "export")]
aether_plugin_sdk::export_plugin!(OpenaiResponses);

#[cfg(test)]
mod tests {
    #[test]
    fn self_test_passes_natively() {
        aether_plugin_sdk::harness::assert_self_test::<super::OpenaiResponses>();
    }
}
