//! Tokens in OpenAI Responses: the body's `usage`, or `response.usage` of the stream's
//! terminal event (`response.completed`, `.incomplete` or `.failed`); completed and
//! incomplete end the stream.
//!
//! input = `input_tokens − cached_tokens`; output = `output_tokens` (reasoning included).
//!
//! Encoding rebuilds the totals from the IR buckets (IR.md): `input_tokens` is input + cache
//! read + cache writes, `cached_tokens` the cache read and `cache_write_tokens` the cache
//! writes (the `openai` SDK's `InputTokensDetails` requires both counts).

use aether_plugin_openai_chat::usage::{CachedDetails, ReasoningDetails, openai_usage};
use aether_plugin_sdk::types::{SseEvent, Usage, UsageReport};
use aether_plugin_sdk::{sse, usage};
use serde::{Deserialize, Serialize};

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

/// A `usage` object as the Responses API writes it (bodies and terminal stream events).
#[derive(Deserialize)]
pub struct ResponsesUsage {
    /// Every input token, cached ones included.
    pub input_tokens: Option<u64>,
    /// Every output token, reasoning included.
    pub output_tokens: Option<u64>,
    /// The cached part of the input.
    pub input_tokens_details: Option<CachedDetails>,
    /// The reasoning part of the output.
    pub output_tokens_details: Option<ReasoningDetails>,
}

impl ResponsesUsage {
    /// The IR buckets (the same as the usage tap's).
    pub fn to_ir(&self) -> Usage {
        openai_usage(
            self.input_tokens,
            self.output_tokens,
            self.input_tokens_details.as_ref(),
            self.output_tokens_details.as_ref(),
        )
    }
}

/// A Responses `usage` object as written.
#[derive(Debug, Serialize)]
pub struct WireUsage {
    input_tokens: u64,
    input_tokens_details: WireInputDetails,
    output_tokens: u64,
    output_tokens_details: WireOutputDetails,
    total_tokens: u64,
}

#[derive(Debug, Serialize)]
struct WireInputDetails {
    cached_tokens: u64,
    cache_write_tokens: u64,
}

#[derive(Debug, Serialize)]
struct WireOutputDetails {
    reasoning_tokens: u64,
}

/// The IR buckets as a Responses `usage` object.
pub fn wire(u: &Usage) -> WireUsage {
    let cache_write = u.cache_creation5m.saturating_add(u.cache_creation1h);
    let input = u.input.saturating_add(u.cache_read).saturating_add(cache_write);
    WireUsage {
        input_tokens: input,
        input_tokens_details: WireInputDetails {
            cached_tokens: u.cache_read,
            cache_write_tokens: cache_write,
        },
        output_tokens: u.output,
        output_tokens_details: WireOutputDetails {
            reasoning_tokens: u.reasoning,
        },
        total_tokens: input.saturating_add(u.output),
    }
}

fn fold(u: &ResponsesUsage, report: &mut UsageReport) {
    report.saw_usage = true;
    report.usage = u.to_ir();
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_totals_and_back() {
        let mut u = usage::zero();
        u.input = 10;
        u.cache_read = 100;
        u.cache_creation5m = 20;
        u.cache_creation1h = 5;
        u.output = 50;
        u.reasoning = 30;
        let w = serde_json::to_value(wire(&u)).unwrap();
        assert_eq!(w["input_tokens"], 135);
        assert_eq!(w["input_tokens_details"]["cached_tokens"], 100);
        assert_eq!(w["input_tokens_details"]["cache_write_tokens"], 25);
        assert_eq!(w["output_tokens"], 50);
        assert_eq!(w["output_tokens_details"]["reasoning_tokens"], 30);
        assert_eq!(w["total_tokens"], 185);
        let back: ResponsesUsage = serde_json::from_value(w).unwrap();
        let ir = back.to_ir();
        assert_eq!((ir.input, ir.cache_read, ir.output, ir.reasoning), (35, 100, 50, 30));
    }

    #[test]
    fn wire_always_has_both_input_details() {
        // The `openai` SDK's `InputTokensDetails` requires `cached_tokens` and
        // `cache_write_tokens`, so both are written even when zero.
        let w = serde_json::to_value(wire(&usage::zero())).unwrap();
        assert_eq!(
            w["input_tokens_details"],
            json!({"cached_tokens": 0, "cache_write_tokens": 0})
        );
    }
}
