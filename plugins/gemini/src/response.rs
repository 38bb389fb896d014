//! Whole (non-streamed) `generateContent` answers ↔ the IR's chat response.
//!
//! Decoding reads the first candidate: its parts as blocks ([`crate::parts::decode`], call ids
//! `call_<responseId>_<n>` where Gemini gives none), `finishReason` as the stop reason
//! (`tool-use` whenever there is a `functionCall`; a blocked prompt is `content-filter`),
//! `usageMetadata` in the IR's buckets ([`crate::usage::buckets`]).
//!
//! Encoding writes the same shape: one candidate with the blocks as parts
//! ([`crate::parts::encode`]), `finishReason`, `usageMetadata` rebuilt from the buckets,
//! `modelVersion` and `responseId`.

use std::borrow::Cow;

use aether_plugin_sdk::types::{ChatResponse, ContentBlock, PluginError, StopReason};

use crate::finish_reason;
use crate::ids::{CallIds, Scope};
use crate::parts;
use crate::usage;
use crate::wire::{Candidate, Content, GenerateContentResponse};

/// The id a response without `responseId` gets.
const NO_ID: &str = "gemini-response";

/// Decodes an upstream's whole answer.
pub fn decode(body: &[u8]) -> Result<ChatResponse, PluginError> {
    let response: GenerateContentResponse<'_> = serde_json::from_slice(body).map_err(|e| {
        PluginError::InvalidRequest(format!("Gemini response body is not a GenerateContentResponse: {e}"))
    })?;
    let id = response.response_id.as_deref().unwrap_or(NO_ID).to_owned();
    let candidate = response.candidates.first();
    let mut ids = CallIds::new(Scope::Response(id.clone()));
    let content = candidate
        .and_then(|c| c.content.as_ref())
        .map(|c| parts::decode::blocks(&c.parts, &mut ids))
        .unwrap_or_default();
    let blocked = response.prompt_feedback.as_ref().and_then(|f| f.block_reason.as_ref());
    let stop_reason = stop_reason(
        &content,
        candidate.and_then(|c| c.finish_reason.as_deref()),
        blocked.is_some(),
    );
    Ok(ChatResponse {
        id,
        model: response.model_version.as_deref().unwrap_or_default().to_owned(),
        content,
        stop_reason,
        usage: response
            .usage_metadata
            .as_ref()
            .map_or_else(aether_plugin_sdk::usage::zero, usage::buckets),
    })
}

/// The IR stop reason: tool-use when the answer calls a tool, else the finish reason, else
/// content-filter for a blocked prompt.
pub fn stop_reason(content: &[ContentBlock], finish: Option<&str>, prompt_blocked: bool) -> Option<StopReason> {
    if content.iter().any(|b| matches!(b, ContentBlock::ToolCall(_))) {
        return Some(StopReason::ToolUse);
    }
    match finish {
        Some(reason) => Some(finish_reason::decode(reason)),
        None if prompt_blocked => Some(StopReason::ContentFilter),
        None => None,
    }
}

/// Encodes an IR answer as Gemini writes it.
pub fn encode(response: &ChatResponse) -> Result<Vec<u8>, PluginError> {
    let parts = parts::encode::parts(&response.content, &Default::default())?;
    let body = GenerateContentResponse {
        candidates: vec![Candidate {
            content: Some(Content {
                role: Some(Cow::Borrowed("model")),
                parts,
            }),
            finish_reason: response.stop_reason.map(|r| Cow::Borrowed(finish_reason::encode(r))),
            index: Some(0),
        }],
        prompt_feedback: None,
        usage_metadata: Some(usage::metadata(&response.usage)),
        model_version: Some(Cow::Borrowed(&response.model)),
        response_id: Some(Cow::Borrowed(&response.id)),
        error: None,
    };
    serde_json::to_vec(&body).map_err(|e| PluginError::Internal(format!("the Gemini response did not serialise: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{TextBlock, ThinkingBlock, ToolCall, Usage};
    use serde_json::{Value, json};

    fn decode_json(v: Value) -> ChatResponse {
        decode(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn decodes_text_thoughts_calls_and_usage() {
        let r = decode_json(json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "think", "thought": true},
                {"text": "Let me check."},
                {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "sig"}
            ]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 100, "cachedContentTokenCount": 60, "candidatesTokenCount": 20,
                "thoughtsTokenCount": 12, "totalTokenCount": 132},
            "modelVersion": "gemini-2.5-pro", "responseId": "r1"
        }));
        assert_eq!((r.id.as_str(), r.model.as_str()), ("r1", "gemini-2.5-pro"));
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(r.content.len(), 3);
        let ContentBlock::ToolCall(call) = &r.content[2] else {
            panic!()
        };
        assert_eq!(call.id, "call_r1_0");
        assert_eq!(call.signature.as_deref(), Some("sig"));
        assert_eq!(
            r.usage,
            Usage {
                input: 40,
                output: 32,
                cache_creation5m: 0,
                cache_creation1h: 0,
                cache_read: 60,
                reasoning: 12
            }
        );
    }

    #[test]
    fn stop_reasons() {
        let reason = |v: Value| decode_json(v).stop_reason;
        assert_eq!(
            reason(json!({"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "MAX_TOKENS"}]})),
            Some(StopReason::MaxTokens)
        );
        assert_eq!(
            reason(json!({"candidates": [{"finishReason": "SAFETY"}]})),
            Some(StopReason::ContentFilter)
        );
        assert_eq!(
            reason(json!({"promptFeedback": {"blockReason": "SAFETY"}})),
            Some(StopReason::ContentFilter)
        );
        assert_eq!(
            reason(json!({"candidates": [{"content": {"parts": [{"text": "a"}]}}]})),
            None
        );
        assert!(decode(b"[").is_err());
    }

    #[test]
    fn encodes_as_gemini_writes() {
        let r = ChatResponse {
            id: "msg_1".into(),
            model: "gemini-x".into(),
            content: vec![
                ContentBlock::Thinking(ThinkingBlock {
                    text: "hmm".into(),
                    signature: Some("s1".into()),
                }),
                ContentBlock::Text(TextBlock {
                    text: "Hi".into(),
                    cache: None,
                }),
                ContentBlock::ToolCall(ToolCall {
                    id: "toolu_1".into(),
                    name: "f".into(),
                    arguments_json: r#"{"a":1}"#.into(),
                    signature: None,
                }),
            ],
            stop_reason: Some(StopReason::ToolUse),
            usage: Usage {
                input: 5,
                output: 10,
                cache_creation5m: 1,
                cache_creation1h: 2,
                cache_read: 3,
                reasoning: 4,
            },
        };
        let body: Value = serde_json::from_slice(&encode(&r).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "candidates": [{"content": {"role": "model", "parts": [
                    {"text": "hmm", "thought": true, "thoughtSignature": "s1"},
                    {"text": "Hi"},
                    {"functionCall": {"id": "toolu_1", "name": "f", "args": {"a": 1}}}
                ]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 6, "cachedContentTokenCount": 3,
                    "thoughtsTokenCount": 4, "totalTokenCount": 21},
                "modelVersion": "gemini-x", "responseId": "msg_1"
            })
        );
    }
}
