//! Aether's built-in format plugin for the OpenAI Responses API (`POST /v1/responses`), the
//! one Codex speaks.
//!
//! - [`inspect`]: model, stream flag, capabilities (tools, image inputs, reasoning,
//!   structured output).
//! - [`usage`]: tokens from a body and from `response.completed` / `.incomplete` / `.failed`.
//! - Errors: OpenAI's error body (the Chat plugin's), and the Responses stream `error` event.
//!
//! Decoding to and encoding from the IR is the conversion issue's work; until then those
//! exports answer `unsupported` (the SDK's default).

pub mod inspect;
pub mod usage;

use aether_plugin_openai_chat::error as openai_error;
use aether_plugin_sdk::FormatPlugin;
use aether_plugin_sdk::types::{ErrorInfo, Inspection, PluginError, RequestHead, SseEvent, TestCase, UsageReport};

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
        let (kind, code) = openai_error::error_type(error.class);
        let data = serde_json::json!({
            "type": "error", "code": code.unwrap_or(kind), "message": error.message, "param": null,
        });
        aether_plugin_sdk::sse::frame(Some("error"), data.to_string().as_bytes())
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
