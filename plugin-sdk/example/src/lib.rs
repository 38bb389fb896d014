//! An example format plugin: the Claude format, wrapped so clients may put a team namespace
//! in front of the model name (`acme/claude-sonnet-4-5`). `inspect` routes on the name
//! without the namespace; everything else is the built-in Claude plugin's.
//!
//! Drop the built `.wasm` into the gateway's plugin directory and it replaces the built-in
//! Claude plugin (see the SDK README). The gateway's tests load it exactly that way.

use aether_plugin_claude::Claude;
use aether_plugin_sdk::types::{
    ChatRequest, ChatResponse, EncodedRequest, ErrorInfo, Inspection, PluginError, RequestHead, SseEvent, TestCase,
    UsageReport,
};
use aether_plugin_sdk::{FormatPlugin, StreamDecode, StreamEncode};

/// The Claude format with namespaced model names.
pub struct ModelNamespace;

impl FormatPlugin for ModelNamespace {
    const FORMAT: &'static str = "claude";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const USAGE_MARKERS: &'static [&'static str] = Claude::USAGE_MARKERS;

    fn inspect(head: &RequestHead, body: &[u8]) -> Result<Inspection, PluginError> {
        let mut inspection = Claude::inspect(head, body)?;
        if let Some(model) = &mut inspection.model
            && let Some((_namespace, name)) = model.split_once('/')
            && !name.is_empty()
        {
            *model = name.to_owned();
        }
        Ok(inspection)
    }

    fn error_body(error: &ErrorInfo) -> Vec<u8> {
        Claude::error_body(error)
    }

    fn usage_from_body(body: &[u8]) -> UsageReport {
        Claude::usage_from_body(body)
    }

    fn tap_event(event: &SseEvent, report: &mut UsageReport) {
        Claude::tap_event(event, report);
    }

    /// The Claude corpus plus this plugin's own cases.
    fn decode_error(status: u16, body: &[u8]) -> ErrorInfo {
        Claude::decode_error(status, body)
    }

    fn decode_request(head: &RequestHead, body: &[u8]) -> Result<ChatRequest, PluginError> {
        let mut request = Claude::decode_request(head, body)?;
        if let Some((_namespace, name)) = request.model.split_once('/')
            && !name.is_empty()
        {
            request.model = name.to_owned();
        }
        Ok(request)
    }

    fn encode_request(request: &ChatRequest) -> Result<EncodedRequest, PluginError> {
        Claude::encode_request(request)
    }

    fn decode_response(body: &[u8]) -> Result<ChatResponse, PluginError> {
        Claude::decode_response(body)
    }

    fn encode_response(response: &ChatResponse) -> Result<Vec<u8>, PluginError> {
        Claude::encode_response(response)
    }

    fn stream_decoder() -> Box<dyn StreamDecode> {
        Claude::stream_decoder()
    }

    fn stream_encoder(model: &str) -> Box<dyn StreamEncode> {
        Claude::stream_encoder(model)
    }

    fn self_test() -> Vec<TestCase> {
        let mut cases = Claude::self_test();
        cases.extend(aether_plugin_sdk::harness::cases_from_fixtures(include_str!(
            "../fixtures/self-test.json"
        )));
        cases
    }
}

#[cfg(feature = "export")]
aether_plugin_sdk::export_plugin!(ModelNamespace);

#[cfg(test)]
mod tests {
    #[test]
    fn self_test_passes_natively() {
        aether_plugin_sdk::harness::assert_self_test::<super::ModelNamespace>();
    }
}
