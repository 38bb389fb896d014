//! An upstream's `chat.completion` body in the IR: the first choice's `reasoning_content`
//! (thinking without a signature), `content` (text), `refusal` (text, stop reason refusal)
//! and `tool_calls`, in that order; the stop reason from `finish_reason` (tool use whenever
//! there is a tool call); usage through [`crate::usage`].

use std::borrow::Cow;

use aether_plugin_sdk::types::{ChatResponse, ContentBlock, PluginError, TextBlock, ThinkingBlock, ToolCall};
use aether_plugin_sdk::usage;
use serde::Deserialize;

use crate::stop::{self, Evidence};
use crate::usage::ChatUsage;
use crate::wire::{self, StringOr};

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    choices: Option<Vec<Choice<'a>>>,
    #[serde(default)]
    usage: Option<ChatUsage>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    message: Option<WireMessage<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(borrow, default)]
    content: Option<StringOr<'a, Part<'a>>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    refusal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<wire::ToolCall<'a>>>,
}

/// A content part of an answer (some compatible servers answer in parts).
#[derive(Deserialize)]
struct Part<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

/// An upstream response body in the IR.
pub fn decode(body: &[u8]) -> Result<ChatResponse, PluginError> {
    let body: Body<'_> = serde_json::from_slice(body)
        .map_err(|e| PluginError::InvalidRequest(format!("upstream response is not a chat completion: {e}")))?;
    let choice = body
        .choices
        .as_deref()
        .and_then(<[Choice<'_>]>::first)
        .ok_or_else(|| PluginError::InvalidRequest("upstream response has no \"choices\"".into()))?;
    let mut content = Vec::new();
    let mut evidence = Evidence::Plain;
    if let Some(message) = &choice.message {
        if let Some(reasoning) = message.reasoning_content.as_deref().filter(|r| !r.is_empty()) {
            content.push(ContentBlock::Thinking(ThinkingBlock {
                text: reasoning.to_owned(),
                signature: None,
            }));
        }
        let text = match &message.content {
            Some(StringOr::Str(s)) => s.to_string(),
            Some(StringOr::List(parts)) => parts.iter().filter_map(|p| p.text.as_deref()).collect(),
            None => String::new(),
        };
        if !text.is_empty() {
            content.push(text_block(text));
        }
        if let Some(refusal) = message.refusal.as_deref().filter(|r| !r.is_empty()) {
            content.push(text_block(refusal.to_owned()));
            evidence.raise(Evidence::Refusal);
        }
        for (j, call) in message.tool_calls.iter().flatten().enumerate() {
            if call.kind.as_deref().is_some_and(|k| k != "function") {
                continue;
            }
            let function = call.function.as_ref().ok_or_else(|| {
                PluginError::InvalidRequest(format!(
                    "upstream response: choices[0].message.tool_calls[{j}].function is missing"
                ))
            })?;
            content.push(ContentBlock::ToolCall(ToolCall {
                id: call.id.to_string(),
                name: function.name.to_string(),
                arguments_json: wire::arguments_json(function.arguments.as_deref()),
                signature: None,
            }));
            evidence.raise(Evidence::ToolCall);
        }
    }
    Ok(ChatResponse {
        id: body.id.as_deref().unwrap_or_default().to_owned(),
        model: body.model.as_deref().unwrap_or_default().to_owned(),
        content,
        stop_reason: stop::settle(choice.finish_reason.as_deref().map(stop::decode), evidence),
        usage: body.usage.as_ref().map_or_else(usage::zero, ChatUsage::to_ir),
    })
}

fn text_block(text: String) -> ContentBlock {
    ContentBlock::Text(TextBlock { text, cache: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::StopReason;
    use serde_json::{Value, json};

    fn decoded(body: Value) -> ChatResponse {
        decode(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn text_reasoning_and_usage() {
        let r = decoded(
            json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!", "reasoning_content": "greet",
                "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
                "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens_details": {"reasoning_tokens": 12}}}),
        );
        assert_eq!((r.id.as_str(), r.model.as_str()), ("chatcmpl-1", "gpt-4o"));
        assert!(matches!(&r.content[0], ContentBlock::Thinking(t) if t.text == "greet"));
        assert!(matches!(&r.content[1], ContentBlock::Text(t) if t.text == "Hi!"));
        assert_eq!(r.stop_reason, Some(StopReason::EndTurn));
        assert_eq!(
            (r.usage.input, r.usage.cache_read, r.usage.output, r.usage.reasoning),
            (20, 100, 30, 12)
        );
    }

    #[test]
    fn tool_calls_make_tool_use_even_after_stop() {
        let r = decoded(
            json!({"id": "x", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant",
            "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]}, "finish_reason": "stop"}]}),
        );
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert!(matches!(&r.content[0], ContentBlock::ToolCall(c) if c.id == "call_1" && c.name == "weather"));
        assert_eq!(r.usage, usage::zero());
    }

    #[test]
    fn refusal_length_and_content_filter() {
        let r = decoded(
            json!({"choices": [{"message": {"content": null, "refusal": "I can't."}, "finish_reason": "stop"}]}),
        );
        assert_eq!(r.stop_reason, Some(StopReason::Refusal));
        assert!(matches!(&r.content[0], ContentBlock::Text(t) if t.text == "I can't."));
        let r = decoded(json!({"choices": [{"message": {"content": "cut"}, "finish_reason": "length"}]}));
        assert_eq!(r.stop_reason, Some(StopReason::MaxTokens));
        let r = decoded(json!({"choices": [{"message": {"content": ""}, "finish_reason": "content_filter"}]}));
        assert_eq!(r.stop_reason, Some(StopReason::ContentFilter));
        assert!(r.content.is_empty());
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert!(matches!(decode(b"{\"choices\": []}"), Err(PluginError::InvalidRequest(m)) if m.contains("choices")));
        assert!(matches!(decode(b"nope"), Err(PluginError::InvalidRequest(_))));
    }
}
