//! A Claude-format plugin that misbehaves on purpose, so the gateway's tests can show that
//! a buggy plugin fails only its own request. It behaves like the built-in Claude plugin,
//! except that `inspect` on these models does what the name says:
//!
//! | model | behaviour |
//! |---|---|
//! | `hostile-loop` | spins forever (the host's CPU deadline must stop it) |
//! | `hostile-bomb` | allocates until the memory cap stops it |
//! | `hostile-trap` | panics (a trap) |
//! | `hostile-huge` | answers a 16 MiB model name (the host must refuse oversized output) |
//!
//! Its usage tap panics on an event whose data contains `hostile-trap`, and leaks 1 MiB of
//! its instance's memory on one containing `hostile-grow` (a guest that leaks, for the
//! host's shard retirement).
//!
//! For the contract round-trip tests it also echoes the IR: `encode-request` answers the
//! IR request as JSON and `decode-request` reads that JSON back (likewise responses and
//! stream events), so every IR type crosses the boundary both ways through the real host.

use aether_plugin_claude::Claude;
use aether_plugin_sdk::types::{
    ChatRequest, ChatResponse, EncodedRequest, ErrorInfo, Inspection, PluginError, RequestHead, SseEvent, StreamEvent,
    TestCase, TestCheck, UsageReport,
};
use aether_plugin_sdk::{FormatPlugin, StreamDecode, StreamEncode};

/// The misbehaving plugin.
pub struct Hostile;

impl FormatPlugin for Hostile {
    const FORMAT: &'static str = "claude";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const USAGE_MARKERS: &'static [&'static str] = &[];

    #[allow(clippy::panic)]
    fn inspect(head: &RequestHead, body: &[u8]) -> Result<Inspection, PluginError> {
        let inspection = Claude::inspect(head, body)?;
        match inspection.model.as_deref() {
            Some("hostile-loop") => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            Some("hostile-bomb") => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            Some("hostile-trap") => panic!("hostile plugin: trap requested"),
            Some("hostile-huge") => Ok(Inspection {
                model: Some("x".repeat(16 << 20)),
                ..inspection
            }),
            _ => Ok(inspection),
        }
    }

    fn error_body(error: &ErrorInfo) -> Vec<u8> {
        Claude::error_body(error)
    }

    fn usage_from_body(body: &[u8]) -> UsageReport {
        Claude::usage_from_body(body)
    }

    #[allow(clippy::panic)]
    fn tap_event(event: &SseEvent, report: &mut UsageReport) {
        if event.data.contains("hostile-trap") {
            panic!("hostile plugin: trap requested in a stream");
        }
        if event.data.contains("hostile-grow") {
            std::hint::black_box(Box::leak(vec![1u8; 1 << 20].into_boxed_slice()));
        }
        Claude::tap_event(event, report);
    }

    fn self_test() -> Vec<TestCase> {
        // Its conversions echo the IR, so only Claude's cases that are not conversions apply.
        Claude::self_test()
            .into_iter()
            .filter(|c| {
                !matches!(
                    c.check,
                    TestCheck::ConvertRequest(_) | TestCheck::ConvertResponse(_) | TestCheck::ConvertStream(_)
                )
            })
            .collect()
    }

    fn encode_request(request: &ChatRequest) -> Result<EncodedRequest, PluginError> {
        Ok(EncodedRequest {
            path: "/echo".into(),
            headers: Vec::new(),
            body: to_json(request)?,
        })
    }

    fn decode_request(_head: &RequestHead, body: &[u8]) -> Result<ChatRequest, PluginError> {
        from_json(body)
    }

    fn encode_response(response: &ChatResponse) -> Result<Vec<u8>, PluginError> {
        to_json(response)
    }

    fn decode_response(body: &[u8]) -> Result<ChatResponse, PluginError> {
        from_json(body)
    }

    fn stream_decoder() -> Box<dyn StreamDecode> {
        Box::new(Echo)
    }

    fn stream_encoder(_model: &str) -> Box<dyn StreamEncode> {
        Box::new(Echo)
    }
}

/// Stream events as JSON, both ways.
struct Echo;

impl StreamEncode for Echo {
    fn push(&mut self, events: &[StreamEvent]) -> Result<Vec<u8>, PluginError> {
        to_json(&events)
    }
}

impl StreamDecode for Echo {
    fn push(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, PluginError> {
        from_json(event.data.as_bytes())
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, PluginError> {
    serde_json::to_vec(value).map_err(|e| PluginError::Internal(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, PluginError> {
    serde_json::from_slice(bytes).map_err(|e| PluginError::InvalidRequest(e.to_string()))
}

#[cfg(feature = "export")]
aether_plugin_sdk::export_plugin!(Hostile);
