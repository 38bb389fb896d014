//! Tokens in OpenAI Chat responses: the body's `usage`, or the stream's usage chunk (the one
//! with a `usage` object, sent before `[DONE]` when `stream_options.include_usage` is set).
//!
//! input = `prompt_tokens − cached_tokens`; cache read = `prompt_tokens_details.cached_tokens`;
//! output = `completion_tokens` (reasoning included); reasoning =
//! `completion_tokens_details.reasoning_tokens`.

use aether_plugin_sdk::types::{SseEvent, Usage, UsageReport};
use aether_plugin_sdk::usage;
use serde::Deserialize;

/// Only the usage chunk and `[DONE]` matter. Not `"usage"`: with `include_usage` every
/// chunk carries `"usage":null`, and each would cost a plugin call; `"prompt_tokens"` only
/// occurs inside a usage object.
pub const MARKERS: &[&str] = &["\"prompt_tokens\"", "[DONE]"];

#[derive(Deserialize)]
struct Body {
    usage: Option<ChatUsage>,
}

#[derive(Deserialize)]
struct ChatUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<CachedDetails>,
    completion_tokens_details: Option<ReasoningDetails>,
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
    report.usage = openai_usage(
        u.prompt_tokens,
        u.completion_tokens,
        u.prompt_tokens_details.as_ref(),
        u.completion_tokens_details.as_ref(),
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
    if event.data.trim() == "[DONE]" {
        report.completed = true;
    } else if let Ok(b) = serde_json::from_str::<Body>(&event.data)
        && let Some(u) = b.usage
    {
        fold(&u, report);
    }
}
