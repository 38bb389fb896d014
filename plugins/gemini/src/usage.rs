//! Tokens in Gemini responses: `usageMetadata`, cumulative in every chunk; a candidate with
//! a `finishReason` ends the response.
//!
//! input = `promptTokenCount − cachedContentTokenCount + toolUsePromptTokenCount`;
//! output = `candidatesTokenCount + thoughtsTokenCount`; reasoning = thoughts.
//!
//! The same rules serve the usage taps and the conversion decoders ([`buckets`]); the
//! encoders rebuild `usageMetadata` from the IR's buckets with [`metadata`].

use aether_plugin_sdk::types::{SseEvent, Usage, UsageReport};
use aether_plugin_sdk::usage;
use serde::{Deserialize, Serialize};

/// Only chunks with usage metadata matter.
pub const MARKERS: &[&str] = &["usageMetadata"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Chunk {
    candidates: Option<Vec<Candidate>>,
    usage_metadata: Option<UsageMetadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    finish_reason: Option<serde::de::IgnoredAny>,
}

/// Gemini's `usageMetadata`, as read from a response and as written by the encoders.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// Every input token, cached ones included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_token_count: Option<u64>,
    /// Answer tokens, thoughts excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates_token_count: Option<u64>,
    /// The part of the prompt read from a context cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_content_token_count: Option<u64>,
    /// Thinking tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thoughts_token_count: Option<u64>,
    /// Prompt tokens added by tool use (e.g. search results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_prompt_token_count: Option<u64>,
    /// Everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_token_count: Option<u64>,
}

/// Gemini's counts in the IR's billing buckets.
pub fn buckets(m: &UsageMetadata) -> Usage {
    let cached = m.cached_content_token_count.unwrap_or(0);
    let thoughts = m.thoughts_token_count.unwrap_or(0);
    let mut u = usage::zero();
    u.input = m.prompt_token_count.unwrap_or(0).saturating_sub(cached) + m.tool_use_prompt_token_count.unwrap_or(0);
    u.output = m.candidates_token_count.unwrap_or(0) + thoughts;
    u.cache_read = cached;
    u.reasoning = thoughts;
    u
}

/// The IR's buckets as Gemini's counts: the prompt holds every input bucket (Gemini has no
/// cache-write count, so writes are ordinary prompt tokens), `candidatesTokenCount` is
/// `output − reasoning`; the cached and thoughts counts appear only when non-zero, as Gemini
/// writes them.
pub fn metadata(u: &Usage) -> UsageMetadata {
    let prompt = u.input + u.cache_read + u.cache_creation5m + u.cache_creation1h;
    let nonzero = |n: u64| (n > 0).then_some(n);
    UsageMetadata {
        prompt_token_count: Some(prompt),
        candidates_token_count: Some(u.output.saturating_sub(u.reasoning)),
        cached_content_token_count: nonzero(u.cache_read),
        thoughts_token_count: nonzero(u.reasoning),
        tool_use_prompt_token_count: None,
        total_token_count: Some(prompt + u.output.max(u.reasoning)),
    }
}

fn fold(chunk: Chunk, report: &mut UsageReport) {
    let finished = chunk
        .candidates
        .as_ref()
        .is_some_and(|cs| cs.iter().any(|c| c.finish_reason.is_some()));
    let Some(m) = chunk.usage_metadata else { return };
    report.saw_usage = true;
    report.usage = buckets(&m);
    report.completed |= finished;
}

/// The usage of a whole body: one chunk, or the JSON array `streamGenerateContent` answers
/// without `alt=sse`.
pub fn from_body(body: &[u8]) -> UsageReport {
    let mut report = usage::empty_report();
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        if let Ok(chunks) = serde_json::from_slice::<Vec<Chunk>>(body) {
            for chunk in chunks {
                fold(chunk, &mut report);
            }
        }
    } else if let Ok(chunk) = serde_json::from_slice::<Chunk>(body) {
        let has_usage = chunk.usage_metadata.is_some();
        fold(chunk, &mut report);
        report.completed |= has_usage;
    }
    report
}

/// Folds one stream event into the report.
pub fn tap(event: &SseEvent, report: &mut UsageReport) {
    if let Ok(chunk) = serde_json::from_str::<Chunk>(&event.data) {
        fold(chunk, report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_split_cache_and_thoughts() {
        let m = UsageMetadata {
            prompt_token_count: Some(1200),
            cached_content_token_count: Some(1000),
            candidates_token_count: Some(30),
            thoughts_token_count: Some(100),
            tool_use_prompt_token_count: Some(5),
            total_token_count: Some(1335),
        };
        let u = buckets(&m);
        assert_eq!((u.input, u.cache_read, u.output, u.reasoning), (205, 1000, 130, 100));
    }

    #[test]
    fn metadata_rebuilds_totals_from_buckets() {
        let mut u = usage::zero();
        u.input = 10;
        u.cache_read = 100;
        u.cache_creation5m = 20;
        u.cache_creation1h = 30;
        u.output = 50;
        u.reasoning = 20;
        let m = metadata(&u);
        assert_eq!(m.prompt_token_count, Some(160));
        assert_eq!(m.cached_content_token_count, Some(100));
        assert_eq!(m.candidates_token_count, Some(30));
        assert_eq!(m.thoughts_token_count, Some(20));
        assert_eq!(m.total_token_count, Some(210));
        let zero = metadata(&usage::zero());
        assert_eq!(zero.cached_content_token_count, None);
        assert_eq!(zero.thoughts_token_count, None);
    }
}
