//! Tokens in Anthropic responses: the body's `usage`, or `message_start.message.usage` then
//! `message_delta.usage` (cumulative) in a stream; `message_stop` ends it.
//!
//! `cache_creation.ephemeral_5m/1h_input_tokens` split the cache writes; without the split
//! all of `cache_creation_input_tokens` is 5-minute. `input_tokens` is already uncached and
//! `output_tokens` includes thinking.

use aether_plugin_sdk::types::{SseEvent, UsageReport};
use aether_plugin_sdk::{sse, usage};
use serde::Deserialize;

/// Only these events can carry usage or end the stream.
pub const MARKERS: &[&str] = &["message_start", "message_delta", "message_stop"];

#[derive(Deserialize)]
struct Body {
    usage: Option<ClaudeUsage>,
}

#[derive(Deserialize)]
struct MessageStart {
    message: Option<Body>,
}

#[derive(Deserialize)]
struct ClaudeUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
}

#[derive(Deserialize)]
struct CacheCreation {
    ephemeral_5m_input_tokens: Option<u64>,
    ephemeral_1h_input_tokens: Option<u64>,
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
    match sse::event_type(event, MARKERS) {
        Some("message_start") => {
            if let Ok(e) = serde_json::from_str::<MessageStart>(&event.data)
                && let Some(u) = e.message.and_then(|m| m.usage)
            {
                fold(&u, report);
            }
        }
        Some("message_delta") => {
            if let Ok(e) = serde_json::from_str::<Body>(&event.data)
                && let Some(u) = e.usage
            {
                fold(&u, report);
            }
        }
        Some("message_stop") => report.completed = true,
        _ => {}
    }
}

/// Counts are cumulative: a later, partial report never lowers one.
fn fold(u: &ClaudeUsage, report: &mut UsageReport) {
    report.saw_usage = true;
    let t = &mut report.usage;
    let mut seen = usage::zero();
    seen.input = u.input_tokens.unwrap_or(0);
    seen.output = u.output_tokens.unwrap_or(0);
    seen.cache_read = u.cache_read_input_tokens.unwrap_or(0);
    let split = u
        .cache_creation
        .as_ref()
        .map(|c| {
            (
                c.ephemeral_5m_input_tokens.unwrap_or(0),
                c.ephemeral_1h_input_tokens.unwrap_or(0),
            )
        })
        .filter(|(m5, h1)| m5 + h1 > 0);
    match (split, u.cache_creation_input_tokens) {
        (Some((m5, h1)), _) => {
            seen.cache_creation5m = m5;
            seen.cache_creation1h = h1;
        }
        (None, Some(total)) if total > t.cache_creation5m + t.cache_creation1h => {
            seen.cache_creation5m = total - t.cache_creation1h;
        }
        (None, _) => {}
    }
    usage::raise(t, &seen);
}
