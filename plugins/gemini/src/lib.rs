//! Aether's built-in format plugin for Google Gemini (`…/models/{model}:generateContent`,
//! `:streamGenerateContent`, `:countTokens`).
//!
//! - [`inspect`]: the model and stream flag come from the path; capabilities from the body
//!   (tools, image parts, thinking config, JSON response schema).
//! - [`usage`]: `usageMetadata` of a body, of each chunk of a JSON array or of each stream
//!   event (cumulative), thoughts counted as output.
//! - [`error`]: Google's error body.
//!
//! Decoding to and encoding from the IR is the conversion issue's work; until then those
//! exports answer `unsupported` (the SDK's default).

pub mod error;
pub mod inspect;
pub mod usage;

use aether_plugin_sdk::FormatPlugin;
use aether_plugin_sdk::types::{ErrorInfo, Inspection, PluginError, RequestHead, SseEvent, TestCase, UsageReport};

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
