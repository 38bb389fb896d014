//! IR content blocks → Gemini parts.
//!
//! - text → `{text}` (an empty text only when it must carry a signature);
//! - thinking with text → `{text, thought: true, thoughtSignature?}`;
//! - thinking with only a signature → that signature goes on the next part (or, at the end
//!   of the turn, on an empty text part), the inverse of the decoder;
//! - redacted thinking → dropped (Gemini cannot take another provider's opaque reasoning);
//! - image / document → `inlineData` / `fileData` ([`crate::media`]);
//! - tool call → `{functionCall: {id, name, args}, thoughtSignature?}`;
//! - tool result → `{functionResponse: {id, name, response}}` ([`crate::tool_result`]), the
//!   name from the result or the call with its id; its images follow as `inlineData` parts.

use std::borrow::Cow;
use std::collections::HashMap;

use aether_plugin_sdk::types::{ContentBlock, PluginError, ToolCall, ToolResult, ToolResultPart};
use serde_json::Value;

use crate::media::{self, MediaKind};
use crate::tool_result;
use crate::wire::{FunctionCall, FunctionResponse, Part};

/// Tool names by call id, for results that do not name their tool.
pub type CallNames<'a> = HashMap<&'a str, &'a str>;

/// The Gemini parts of a turn's blocks.
pub fn parts<'a>(blocks: &'a [ContentBlock], names: &CallNames<'a>) -> Result<Vec<Part<'a>>, PluginError> {
    let mut out: Vec<Part<'a>> = Vec::with_capacity(blocks.len());
    let mut pending: Option<&'a str> = None;
    for block in blocks {
        let part = match block {
            ContentBlock::Text(t) if t.text.is_empty() && pending.is_none() => continue,
            ContentBlock::Text(t) => Part::text(t.text.as_str()),
            ContentBlock::Thinking(t) if t.text.is_empty() => {
                if let Some(signature) = t.signature.as_deref() {
                    pending = Some(signature);
                }
                continue;
            }
            ContentBlock::Thinking(t) => Part {
                thought_signature: t.signature.as_deref().map(Cow::Borrowed),
                ..Part::thought(t.text.as_str())
            },
            ContentBlock::RedactedThinking(_) => continue,
            ContentBlock::Image(m) => media::to_part(&m.source, MediaKind::Image)?,
            ContentBlock::Document(m) => media::to_part(&m.source, MediaKind::Document)?,
            ContentBlock::ToolCall(call) => function_call(call)?,
            ContentBlock::ToolResult(result) => {
                let mut part = function_response(result, names)?;
                if part.thought_signature.is_none() {
                    part.thought_signature = pending.take().map(Cow::Borrowed);
                }
                out.push(part);
                for item in &result.content {
                    if let ToolResultPart::Image(source) = item {
                        out.push(media::to_part(source, MediaKind::Image)?);
                    }
                }
                continue;
            }
        };
        out.push(with_pending(part, &mut pending));
    }
    if let Some(signature) = pending {
        out.push(Part {
            thought_signature: Some(Cow::Borrowed(signature)),
            ..Part::text("")
        });
    }
    Ok(out)
}

fn with_pending<'a>(mut part: Part<'a>, pending: &mut Option<&'a str>) -> Part<'a> {
    if let Some(signature) = pending.take() {
        part.thought_signature.get_or_insert(Cow::Borrowed(signature));
    }
    part
}

/// A tool call's arguments as the `args` object (`{}` for empty arguments).
pub fn arguments(call_id: &str, arguments_json: &str) -> Result<Value, PluginError> {
    if arguments_json.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(arguments_json)
        .map_err(|e| PluginError::InvalidRequest(format!("tool call {call_id}: arguments are not valid JSON: {e}")))
}

/// A tool call as a `functionCall` part.
pub fn function_call(call: &ToolCall) -> Result<Part<'_>, PluginError> {
    Ok(Part {
        function_call: Some(FunctionCall {
            id: Some(Cow::Borrowed(&call.id)),
            name: Cow::Borrowed(&call.name),
            args: Some(arguments(&call.id, &call.arguments_json)?),
        }),
        thought_signature: call.signature.as_deref().map(Cow::Borrowed),
        ..Part::default()
    })
}

fn function_response<'a>(result: &'a ToolResult, names: &CallNames<'a>) -> Result<Part<'a>, PluginError> {
    let name = result
        .name
        .as_deref()
        .or_else(|| names.get(result.call_id.as_str()).copied())
        .ok_or_else(|| {
            PluginError::InvalidRequest(format!(
                "tool result for call {} names no tool and answers no earlier tool call (Gemini needs the function name)",
                result.call_id
            ))
        })?;
    Ok(Part {
        function_response: Some(FunctionResponse {
            id: Some(Cow::Borrowed(&result.call_id)),
            name: Cow::Borrowed(name),
            response: tool_result::response_object(result),
        }),
        ..Part::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{InlineData, MediaSource, TextBlock, ThinkingBlock};
    use serde_json::json;

    fn encode(blocks: &[ContentBlock], names: &CallNames<'_>) -> Value {
        serde_json::to_value(parts(blocks, names).unwrap()).unwrap()
    }

    fn text(t: &str) -> ContentBlock {
        ContentBlock::Text(TextBlock {
            text: t.into(),
            cache: None,
        })
    }

    fn thinking(t: &str, s: Option<&str>) -> ContentBlock {
        ContentBlock::Thinking(ThinkingBlock {
            text: t.into(),
            signature: s.map(Into::into),
        })
    }

    #[test]
    fn signatures_go_back_on_their_parts() {
        let blocks = vec![
            thinking("plan", Some("s1")),
            thinking("", Some("s2")),
            text("hi"),
            ContentBlock::RedactedThinking("opaque".into()),
            text(""),
            thinking("", Some("s3")),
        ];
        assert_eq!(
            encode(&blocks, &CallNames::new()),
            json!([
                {"text": "plan", "thought": true, "thoughtSignature": "s1"},
                {"text": "hi", "thoughtSignature": "s2"},
                {"text": "", "thoughtSignature": "s3"}
            ])
        );
    }

    #[test]
    fn calls_and_results() {
        let call = ToolCall {
            id: "toolu_1".into(),
            name: "get".into(),
            arguments_json: r#"{"q":"x"}"#.into(),
            signature: Some("sig".into()),
        };
        let result = ToolResult {
            call_id: "toolu_1".into(),
            name: None,
            content: vec![
                ToolResultPart::Text("ok".into()),
                ToolResultPart::Image(MediaSource::Base64(InlineData {
                    media_type: "image/png".into(),
                    data: "AA".into(),
                })),
            ],
            is_error: false,
        };
        let mut names = CallNames::new();
        names.insert("toolu_1", "get");
        let blocks = vec![ContentBlock::ToolCall(call), ContentBlock::ToolResult(result)];
        assert_eq!(
            encode(&blocks, &names),
            json!([
                {"functionCall": {"id": "toolu_1", "name": "get", "args": {"q": "x"}}, "thoughtSignature": "sig"},
                {"functionResponse": {"id": "toolu_1", "name": "get", "response": {"result": "ok"}}},
                {"inlineData": {"mimeType": "image/png", "data": "AA"}}
            ])
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let bad_args = vec![ContentBlock::ToolCall(ToolCall {
            id: "c1".into(),
            name: "f".into(),
            arguments_json: "{oops".into(),
            signature: None,
        })];
        assert!(matches!(parts(&bad_args, &CallNames::new()), Err(PluginError::InvalidRequest(m)) if m.contains("c1")));
        let orphan = vec![ContentBlock::ToolResult(ToolResult {
            call_id: "c9".into(),
            name: None,
            content: vec![],
            is_error: false,
        })];
        assert!(matches!(parts(&orphan, &CallNames::new()), Err(PluginError::InvalidRequest(m)) if m.contains("c9")));
        let empty_args = ToolCall {
            id: "c2".into(),
            name: "f".into(),
            arguments_json: String::new(),
            signature: None,
        };
        assert_eq!(
            function_call(&empty_args).unwrap().function_call.unwrap().args,
            Some(json!({}))
        );
    }
}
