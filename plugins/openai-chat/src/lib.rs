//! Aether's built-in format plugin for OpenAI Chat Completions (`POST /v1/chat/completions`).
//!
//! - [`inspect`]: model, stream flag, capabilities (tools, images, reasoning effort,
//!   structured output).
//! - [`usage`]: tokens from a body and from the stream's usage chunk
//!   (`stream_options.include_usage`, which the gateway adds when the client did not).
//! - [`error`]: OpenAI's error body (shared with the Responses plugin), and an upstream's
//!   error body read back into error info.
//! - Conversion to and from the IR (see `plugin-sdk/IR.md` and this crate's README for what
//!   is mapped, approximated and dropped): [`request`] (client requests decoded, upstream
//!   requests encoded), [`response`] (whole answers both ways) and [`stream`] (chunk streams
//!   both ways, one event at a time), on the shared [`wire`] shapes, [`media`] data URIs and
//!   [`stop`] reasons.

pub mod error;
pub mod inspect;
pub mod media;
pub mod request;
pub mod response;
pub mod stop;
pub mod stream;
pub mod usage;
pub mod wire;

use aether_plugin_sdk::types::{
    ChatRequest, ChatResponse, EncodedRequest, ErrorInfo, Inspection, PluginError, RequestHead, SseEvent, TestCase,
    UsageReport,
};
use aether_plugin_sdk::{FormatPlugin, StreamDecode, StreamEncode};

/// The OpenAI Chat Completions format.
pub struct OpenaiChat;

impl FormatPlugin for OpenaiChat {
    const FORMAT: &'static str = "openai-chat";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const USAGE_MARKERS: &'static [&'static str] = usage::MARKERS;

    fn inspect(head: &RequestHead, body: &[u8]) -> Result<Inspection, PluginError> {
        inspect::inspect(head, body)
    }

    fn error_body(error: &ErrorInfo) -> Vec<u8> {
        error::body(error)
    }

    /// OpenAI streams have no error event type: the error body is sent as a data line.
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

    fn decode_request(_head: &RequestHead, body: &[u8]) -> Result<ChatRequest, PluginError> {
        request::decode::decode(body)
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
        Box::new(stream::decode::Decoder::default())
    }

    fn stream_encoder(model: &str) -> Box<dyn StreamEncode> {
        Box::new(stream::encode::Encoder::new(model))
    }

    fn self_test() -> Vec<TestCase> {
        let mut cases = aether_plugin_sdk::harness::cases_from_fixtures(include_str!("../fixtures/self-test.json"));
        // The corpus's round trips through this plugin (a subset of the conformance corpus).
        cases.extend(aether_plugin_sdk::harness::cases_from_fixtures(include_str!(
            "../../../conformance/cases/openai-chat--openai-chat.json"
        )));
        cases
    }
}

#[cfg(feature = "export")]
aether_plugin_sdk::export_plugin!(OpenaiChat);

#[cfg(test)]
mod tests {
    #[test]
    fn self_test_passes_natively() {
        aether_plugin_sdk::harness::assert_self_test::<super::OpenaiChat>();
    }
}
