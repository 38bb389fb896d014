//! Aether's built-in format plugin for the Anthropic Messages API (`POST /v1/messages`).
//!
//! - [`inspect`]: model, stream flag and the capabilities a request needs (tools, images,
//!   thinking, structured output, the 1M context beta, 1-hour cache writes).
//! - [`usage`]: tokens from a body and from `message_start` / `message_delta` events, with
//!   cache writes split into 5-minute and 1-hour buckets.
//! - [`error`]: Anthropic's error body and stream `error` event.
//!
//! Decoding to and encoding from the IR is the conversion issue's work; until then those
//! exports answer `unsupported` (the SDK's default).

pub mod error;
pub mod inspect;
pub mod usage;

use aether_plugin_sdk::FormatPlugin;
use aether_plugin_sdk::types::{ErrorInfo, Inspection, PluginError, RequestHead, SseEvent, TestCase, UsageReport};

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
