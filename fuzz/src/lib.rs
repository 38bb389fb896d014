//! What the fuzz targets share: the host's SSE framer (its own source file, compiled here
//! without the rest of the gateway) and the four built-in plugins behind one dispatch.
//!
//! Every target takes its first input byte to choose a format, so one corpus entry is
//! `[format] ++ payload` and the seeds from the conformance corpus carry their format.

#![allow(missing_docs)]

/// The gateway's SSE framer and parser, `proxy/src/sse.rs`, as it is.
#[path = "../../proxy/src/sse.rs"]
pub mod sse;

use aether_plugin_claude::Claude;
use aether_plugin_gemini::Gemini;
use aether_plugin_openai_chat::OpenaiChat;
use aether_plugin_openai_responses::OpenaiResponses;
use aether_plugin_sdk::types::{ChatRequest, ChatResponse, RequestHead, SseEvent, StreamEvent};
use aether_plugin_sdk::{FormatPlugin, StreamDecode};

/// The formats, in the order of their selector byte.
pub const FORMATS: [&str; 4] = ["claude", "openai-chat", "openai-responses", "gemini"];

/// The format a selector byte picks.
pub fn format_of(selector: u8) -> usize {
    usize::from(selector) % FORMATS.len()
}

/// A client request head of `format` (Gemini names the model in the path).
pub fn head(format: usize, stream: bool) -> RequestHead {
    let path = match (format, stream) {
        (0, _) => "/v1/messages",
        (1, _) => "/v1/chat/completions",
        (2, _) => "/v1/responses",
        (_, false) => "/v1beta/models/gemini-2.5-pro:generateContent",
        (_, true) => "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
    };
    RequestHead {
        method: "POST".into(),
        path: path.into(),
        query: None,
        headers: Vec::new(),
    }
}

/// Runs `f` with the plugin of `format` as a type.
macro_rules! with_plugin {
    ($format:expr, $f:ident $(, $arg:expr)*) => {
        match $format {
            0 => $f::<Claude>($($arg),*),
            1 => $f::<OpenaiChat>($($arg),*),
            2 => $f::<OpenaiResponses>($($arg),*),
            _ => $f::<Gemini>($($arg),*),
        }
    };
}

/// A client's request in `format`: inspected, decoded to the IR, and (when it decodes)
/// encoded for every format.
pub fn request(format: usize, body: &[u8]) {
    fn run<P: FormatPlugin>(body: &[u8]) -> Option<ChatRequest> {
        let _ = P::inspect(&head(0, false), body);
        let _ = P::usage_from_body(body);
        P::decode_request(&head(0, false), body).ok()
    }
    fn run_head<P: FormatPlugin>(head: &RequestHead, body: &[u8]) -> Option<ChatRequest> {
        let _ = P::inspect(head, body);
        P::decode_request(head, body).ok()
    }
    let decoded = match format {
        3 => run_head::<Gemini>(&head(3, body.first().is_some_and(|b| b & 1 == 1)), body),
        f => with_plugin!(f, run, body),
    };
    if let Some(ir) = decoded {
        fn encode<P: FormatPlugin>(ir: &ChatRequest) {
            let _ = P::encode_request(ir);
        }
        for f in 0..FORMATS.len() {
            with_plugin!(f, encode, &ir);
        }
    }
}

/// An upstream's non-streamed answer in `format`: decoded, usage read, error decoded, and
/// (when it decodes) encoded for every format.
pub fn response(format: usize, body: &[u8]) {
    fn run<P: FormatPlugin>(body: &[u8]) -> Option<ChatResponse> {
        let _ = P::usage_from_body(body);
        let _ = P::decode_error(400, body);
        P::decode_response(body).ok()
    }
    if let Some(ir) = with_plugin!(format, run, body) {
        fn encode<P: FormatPlugin>(ir: &ChatResponse) {
            let _ = P::encode_response(ir);
        }
        for f in 0..FORMATS.len() {
            with_plugin!(f, encode, &ir);
        }
    }
}

/// An upstream stream in `format`, framed by the host's framer in pieces split where
/// `cuts` says, tapped for usage and decoded; what decodes is encoded for every format.
pub fn stream(format: usize, cuts: &[u8], body: &[u8]) {
    fn decoder<P: FormatPlugin>() -> Box<dyn StreamDecode> {
        P::stream_decoder()
    }
    fn tap<P: FormatPlugin>(event: &SseEvent, report: &mut aether_plugin_sdk::types::UsageReport) {
        P::tap_event(event, report);
    }
    let mut decode = with_plugin!(format, decoder);
    let mut report = aether_plugin_sdk::usage::empty_report();
    let mut framer = sse::SseFramer::new(1 << 16);
    let mut ir: Vec<StreamEvent> = Vec::new();
    // The pieces: one per cut, then whatever is left.
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut rest = body;
    for &cut in cuts {
        let (piece, tail) = rest.split_at(usize::from(cut).min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces.push(rest);
    for piece in pieces {
        let Ok(block) = framer.push(bytes::Bytes::copy_from_slice(piece)) else { return };
        for raw in sse::raw_events(&block) {
            let Some(event) = sse::event(raw) else { continue };
            let event = SseEvent {
                name: event.name.map(str::to_owned),
                data: event.data.into_owned(),
            };
            with_plugin!(format, tap, &event, &mut report);
            if let Ok(events) = decode.push(&event) {
                ir.extend(events);
            }
        }
    }
    if let Ok(events) = decode.finish() {
        ir.extend(events);
    }
    fn encode<P: FormatPlugin>(events: &[StreamEvent]) {
        let mut encoder = P::stream_encoder("m");
        let _ = encoder.push(events);
        let _ = encoder.finish();
    }
    for f in 0..FORMATS.len() {
        with_plugin!(f, encode, &ir);
    }
}
