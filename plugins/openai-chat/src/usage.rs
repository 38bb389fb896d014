//! Tokens in OpenAI Chat responses: the body's `usage`, or the stream's usage chunk (the one
//! with a `usage` object, sent before `[DONE]` when `stream_options.include_usage` is set).
//!
//! input = `prompt_tokens − cached_tokens`; cache read = `prompt_tokens_details.cached_tokens`;
//! output = `completion_tokens` (reasoning included); reasoning =
//! `completion_tokens_details.reasoning_tokens`.
//!
//! Encoding rebuilds OpenAI's totals from the IR buckets (IR.md): `prompt_tokens` is input +
//! cache read + cache writes (OpenAI has no cache-write count, so writes are billed as
//! input by whoever reads it back), `cached_tokens` the cache read.

use aether_plugin_sdk::types::{SseEvent, Usage, UsageReport};
use aether_plugin_sdk::usage;
use serde::{Deserialize, Serialize};

/// Only the usage chunk and `[DONE]` matter. Not `"usage"`: with `include_usage` every
/// chunk carries `"usage":null`, and each would cost a plugin call; `"prompt_tokens"` only
/// occurs inside a usage object.
pub const MARKERS: &[&str] = &["\"prompt_tokens\"", "[DONE]"];

#[derive(Deserialize)]
struct Body {
    usage: Option<ChatUsage>,
}

/// A `usage` object as OpenAI Chat writes it (bodies and the stream's usage chunk).
#[derive(Deserialize)]
pub struct ChatUsage {
    /// Every input token, cached ones included.
    pub prompt_tokens: Option<u64>,
    /// Every output token, reasoning included.
    pub completion_tokens: Option<u64>,
    /// The cached part of the input.
    pub prompt_tokens_details: Option<CachedDetails>,
    /// The reasoning part of the output.
    pub completion_tokens_details: Option<ReasoningDetails>,
}

impl ChatUsage {
    /// The IR buckets.
    pub fn to_ir(&self) -> Usage {
        openai_usage(
            self.prompt_tokens,
            self.completion_tokens,
            self.prompt_tokens_details.as_ref(),
            self.completion_tokens_details.as_ref(),
        )
    }
}

/// A `usage` object to write, with the details objects OpenAI always includes.
#[derive(Debug, Serialize)]
pub struct WireUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: WirePromptDetails,
    completion_tokens_details: WireCompletionDetails,
}

#[derive(Debug, Serialize)]
struct WirePromptDetails {
    cached_tokens: u64,
    audio_tokens: u64,
}

#[derive(Debug, Serialize)]
struct WireCompletionDetails {
    reasoning_tokens: u64,
    audio_tokens: u64,
    accepted_prediction_tokens: u64,
    rejected_prediction_tokens: u64,
}

/// The IR buckets as OpenAI's totals.
pub fn wire(u: &Usage) -> WireUsage {
    let prompt = u
        .input
        .saturating_add(u.cache_read)
        .saturating_add(u.cache_creation5m)
        .saturating_add(u.cache_creation1h);
    WireUsage {
        prompt_tokens: prompt,
        completion_tokens: u.output,
        total_tokens: prompt.saturating_add(u.output),
        prompt_tokens_details: WirePromptDetails {
            cached_tokens: u.cache_read,
            audio_tokens: 0,
        },
        completion_tokens_details: WireCompletionDetails {
            reasoning_tokens: u.reasoning,
            audio_tokens: 0,
            accepted_prediction_tokens: 0,
            rejected_prediction_tokens: 0,
        },
    }
}

/// `*_tokens_details.cached_tokens` (shared with the Responses plugin).
#[derive(Deserialize)]
pub struct CachedDetails {
    /// Tokens read from the prompt cache.
    pub cached_tokens: Option<u64>,
}

/// `*_tokens_details.reasoning_tokens` (shared with the Responses plugin).
#[derive(Deserialize)]
pub struct ReasoningDetails {
    /// Reasoning tokens, a part of the output.
    pub reasoning_tokens: Option<u64>,
}

/// OpenAI's buckets (both formats): prompt and completion totals with their cached and
/// reasoning parts.
pub fn openai_usage(
    prompt: Option<u64>,
    completion: Option<u64>,
    cached: Option<&CachedDetails>,
    reasoning: Option<&ReasoningDetails>,
) -> Usage {
    let cached = cached.and_then(|d| d.cached_tokens).unwrap_or(0);
    let mut u = usage::zero();
    u.input = prompt.unwrap_or(0).saturating_sub(cached);
    u.output = completion.unwrap_or(0);
    u.cache_read = cached;
    u.reasoning = reasoning.and_then(|d| d.reasoning_tokens).unwrap_or(0);
    u
}

fn fold(u: &ChatUsage, report: &mut UsageReport) {
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
    if event.data.trim() == "[DONE]" {
        report.completed = true;
    } else if let Ok(b) = serde_json::from_str::<Body>(&event.data)
        && let Some(u) = b.usage
    {
        fold(&u, report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_totals_fold_cache_buckets_into_the_prompt() {
        let mut u = usage::zero();
        u.input = 10;
        u.cache_read = 100;
        u.cache_creation5m = 20;
        u.cache_creation1h = 5;
        u.output = 50;
        u.reasoning = 30;
        let w = serde_json::to_value(wire(&u)).unwrap();
        assert_eq!(w["prompt_tokens"], 135);
        assert_eq!(w["completion_tokens"], 50);
        assert_eq!(w["total_tokens"], 185);
        assert_eq!(w["prompt_tokens_details"]["cached_tokens"], 100);
        assert_eq!(w["completion_tokens_details"]["reasoning_tokens"], 30);
    }

    #[test]
    fn to_ir_splits_cached_tokens_out_of_the_input() {
        let c: ChatUsage = serde_json::from_str(
            r#"{"prompt_tokens":135,"completion_tokens":50,"prompt_tokens_details":{"cached_tokens":100},"completion_tokens_details":{"reasoning_tokens":30}}"#,
        )
        .unwrap();
        let u = c.to_ir();
        assert_eq!((u.input, u.cache_read, u.output, u.reasoning), (35, 100, 50, 30));
    }
}
