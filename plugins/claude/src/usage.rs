//! Tokens in Anthropic responses: the body's `usage`, or `message_start.message.usage` then
//! `message_delta.usage` (cumulative) in a stream; `message_stop` ends it.
//!
//! The same bucket logic serves the usage taps and the conversion decoders ([`to_ir`],
//! [`fold`]); [`Wire`] writes IR usage back in Anthropic's shape for the encoders.
//!
//! `cache_creation.ephemeral_5m/1h_input_tokens` split the cache writes; without the split
//! all of `cache_creation_input_tokens` is 5-minute. `input_tokens` is already uncached and
//! `output_tokens` includes thinking.

use aether_plugin_sdk::types::{SseEvent, Usage, UsageReport};
use aether_plugin_sdk::{sse, usage};
use serde::{Deserialize, Serialize};

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

/// Anthropic's `usage` object as it arrives.
#[derive(Deserialize, Debug, Default, Clone)]
pub struct ClaudeUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
}

#[derive(Deserialize, Debug, Default, Clone)]
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

/// One `usage` object in the IR's buckets.
pub fn to_ir(u: &ClaudeUsage) -> Usage {
    let mut report = usage::empty_report();
    fold(u, &mut report);
    report.usage
}

/// Counts are cumulative: a later, partial report never lowers one.
pub fn fold(u: &ClaudeUsage, report: &mut UsageReport) {
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

/// IR usage in Anthropic's shape: a body's `usage` and `message_start`'s, with the cache
/// writes split by lifetime.
#[derive(Serialize, Debug)]
pub struct Wire {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation: WireCacheCreation,
    output_tokens: u64,
}

#[derive(Serialize, Debug)]
struct WireCacheCreation {
    ephemeral_5m_input_tokens: u64,
    ephemeral_1h_input_tokens: u64,
}

impl Wire {
    /// The buckets as Anthropic reports them (`input_tokens` is already the uncached part).
    pub fn from_ir(u: &Usage) -> Wire {
        Wire {
            input_tokens: u.input,
            cache_creation_input_tokens: u.cache_creation5m + u.cache_creation1h,
            cache_read_input_tokens: u.cache_read,
            cache_creation: WireCacheCreation {
                ephemeral_5m_input_tokens: u.cache_creation5m,
                ephemeral_1h_input_tokens: u.cache_creation1h,
            },
            output_tokens: u.output,
        }
    }
}

/// The final usage of a stream's `message_delta`: every input bucket as well as the output,
/// so that input and cache counts reported only at the end (OpenAI, Gemini) still arrive.
#[derive(Serialize, Debug)]
pub struct DeltaWire {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    output_tokens: u64,
}

impl DeltaWire {
    /// The buckets of a final usage.
    pub fn from_ir(u: &Usage) -> DeltaWire {
        DeltaWire {
            input_tokens: u.input,
            cache_creation_input_tokens: u.cache_creation5m + u.cache_creation1h,
            cache_read_input_tokens: u.cache_read,
            output_tokens: u.output,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_ir_splits_cache_writes() {
        let u: ClaudeUsage = serde_json::from_str(
            r#"{"input_tokens":3,"output_tokens":9,"cache_read_input_tokens":40,"cache_creation_input_tokens":30,
                "cache_creation":{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":20}}"#,
        )
        .unwrap();
        let ir = to_ir(&u);
        assert_eq!(
            (
                ir.input,
                ir.output,
                ir.cache_read,
                ir.cache_creation5m,
                ir.cache_creation1h
            ),
            (3, 9, 40, 10, 20)
        );
        let u: ClaudeUsage = serde_json::from_str(r#"{"cache_creation_input_tokens":30}"#).unwrap();
        assert_eq!(to_ir(&u).cache_creation5m, 30);
    }

    #[test]
    fn wire_rebuilds_totals() {
        let mut u = usage::zero();
        u.input = 1;
        u.cache_creation5m = 2;
        u.cache_creation1h = 3;
        u.cache_read = 4;
        u.output = 5;
        let w = serde_json::to_value(Wire::from_ir(&u)).unwrap();
        assert_eq!(
            w,
            serde_json::json!({"input_tokens": 1, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 4,
                "cache_creation": {"ephemeral_5m_input_tokens": 2, "ephemeral_1h_input_tokens": 3}, "output_tokens": 5})
        );
        let d = serde_json::to_value(DeltaWire::from_ir(&u)).unwrap();
        assert_eq!(d["cache_creation_input_tokens"], 5);
        assert_eq!(d["input_tokens"], 1);
    }
}
