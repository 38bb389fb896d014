//! Tokens in OpenAI Responses: the body's `usage`, or `response.usage` of the stream's
//! terminal event (`response.completed`, `.incomplete` or `.failed`); completed and
//! incomplete end the stream.
//!
//! input = `input_tokens − cached_tokens`; output = `output_tokens` (reasoning included).

use aether_plugin_openai_chat::usage::{CachedDetails, ReasoningDetails, openai_usage};
use aether_plugin_sdk::types::{SseEvent, UsageReport};
use aether_plugin_sdk::{sse, usage};
use serde::Deserialize;

/// The terminal events.
pub const MARKERS: &[&str] = &["response.completed", "response.incomplete", "response.failed"];

#[derive(Deserialize)]
struct Body {
    usage: Option<ResponsesUsage>,
}

#[derive(Deserialize)]
struct Event {
    response: Option<Body>,
}

#[derive(Deserialize)]
struct ResponsesUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    input_tokens_details: Option<CachedDetails>,
    output_tokens_details: Option<ReasoningDetails>,
}

fn fold(u: &ResponsesUsage, report: &mut UsageReport) {
    report.saw_usage = true;
    report.usage = openai_usage(
        u.input_tokens,
        u.output_tokens,
        u.input_tokens_details.as_ref(),
        u.output_tokens_details.as_ref(),
    );
}

/// The usage of a whole response body.
pub fn from_body(body: &[u8]) -> UsageReport {
    let mut report = usage::empty_report();
    if let Ok(b) = serde_json::from_slice::<Body>(body)
        && let Some(u) = b.usage
    {
        fold(&u, &mut report);
        report.completed = true;
    }
    report
}

/// Folds one stream event into the report.
pub fn tap(event: &SseEvent, report: &mut UsageReport) {
    let Some(kind) = sse::event_type(event, MARKERS) else {
        return;
    };
    if let Ok(e) = serde_json::from_str::<Event>(&event.data)
        && let Some(u) = e.response.and_then(|r| r.usage)
    {
        fold(&u, report);
    }
    if kind != "response.failed" {
        report.completed = true;
    }
}
