//! Tokens in Gemini responses: `usageMetadata`, cumulative in every chunk; a candidate with
//! a `finishReason` ends the response.
//!
//! input = `promptTokenCount − cachedContentTokenCount + toolUsePromptTokenCount`;
//! output = `candidatesTokenCount + thoughtsTokenCount`; reasoning = thoughts.

use aether_plugin_sdk::types::{SseEvent, UsageReport};
use aether_plugin_sdk::usage;
use serde::Deserialize;

/// Only chunks with usage metadata matter.
pub const MARKERS: &[&str] = &["usageMetadata"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Chunk {
    candidates: Option<Vec<Candidate>>,
    usage_metadata: Option<GeminiUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    finish_reason: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiUsage {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
    tool_use_prompt_token_count: Option<u64>,
}

fn fold(chunk: Chunk, report: &mut UsageReport) {
    let finished = chunk
        .candidates
        .as_ref()
        .is_some_and(|cs| cs.iter().any(|c| c.finish_reason.is_some()));
    let Some(m) = chunk.usage_metadata else { return };
    report.saw_usage = true;
    let cached = m.cached_content_token_count.unwrap_or(0);
    let thoughts = m.thoughts_token_count.unwrap_or(0);
    let u = &mut report.usage;
    *u = usage::zero();
    u.input = m.prompt_token_count.unwrap_or(0).saturating_sub(cached) + m.tool_use_prompt_token_count.unwrap_or(0);
    u.output = m.candidates_token_count.unwrap_or(0) + thoughts;
    u.cache_read = cached;
    u.reasoning = thoughts;
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
