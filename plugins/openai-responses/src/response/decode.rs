//! An upstream's Responses body in the IR: `reasoning` items → thinking (summary texts
//! joined, `encrypted_content` as the signature), `message` items → text (`refusal` parts
//! too, as text, with stop reason `refusal`), `function_call` items → tool calls (the
//! `call_id` is the IR id). Other items (built-in tool calls) are dropped.

use aether_plugin_sdk::types::{ChatResponse, ContentBlock, PluginError, TextBlock, ThinkingBlock, ToolCall};
use aether_plugin_sdk::usage;

use crate::request::decode::arguments_json;
use crate::stop::Seen;
use crate::wire::{Item, ItemKind, PartKind, ResponseObject, StrOr};

/// An upstream's whole response in the IR.
pub fn decode(body: &[u8]) -> Result<ChatResponse, PluginError> {
    let r: ResponseObject<'_> = serde_json::from_slice(body)
        .map_err(|e| PluginError::InvalidRequest(format!("upstream body is not a Responses response object: {e}")))?;
    let (content, seen) = output_blocks(r.output.as_deref().unwrap_or_default())?;
    Ok(ChatResponse {
        id: r.id.as_deref().unwrap_or_default().to_owned(),
        model: r.model.as_deref().unwrap_or_default().to_owned(),
        stop_reason: r.status().stop_reason(seen),
        usage: r.usage.as_ref().map_or_else(usage::zero, |u| u.to_ir()),
        content,
    })
}

/// The IR blocks of output items, and what they held that decides the stop reason.
pub fn output_blocks(items: &[Item<'_>]) -> Result<(Vec<ContentBlock>, Seen), PluginError> {
    let mut blocks = Vec::new();
    let mut seen = Seen::Plain;
    for (i, item) in items.iter().enumerate() {
        match item.item_kind() {
            ItemKind::Reasoning => {
                if let Some(block) = thinking(item) {
                    blocks.push(block);
                }
            }
            ItemKind::Message => {
                let Some(StrOr::List(parts)) = &item.content else {
                    if let Some(StrOr::Str(s)) = &item.content {
                        blocks.push(text(s));
                    }
                    continue;
                };
                for part in parts {
                    match part.part_kind() {
                        PartKind::Text => blocks.extend(part.text.as_deref().filter(|t| !t.is_empty()).map(text)),
                        PartKind::Refusal => {
                            if seen == Seen::Plain {
                                seen = Seen::Refusal;
                            }
                            blocks.extend(part.refusal.as_deref().filter(|t| !t.is_empty()).map(text));
                        }
                        PartKind::Image | PartKind::File | PartKind::Other => {}
                    }
                }
            }
            ItemKind::FunctionCall => {
                seen = Seen::ToolCall;
                blocks.push(ContentBlock::ToolCall(tool_call(item, i)?));
            }
            ItemKind::FunctionCallOutput | ItemKind::ItemReference | ItemKind::Other => {}
        }
    }
    Ok((blocks, seen))
}

fn text(t: &str) -> ContentBlock {
    ContentBlock::Text(TextBlock {
        text: t.to_owned(),
        cache: None,
    })
}

/// A reasoning item as thinking; `None` when it holds neither text nor a signature.
pub fn thinking(item: &Item<'_>) -> Option<ContentBlock> {
    let text = item.reasoning_text();
    let signature = item.encrypted_content.as_deref().map(str::to_owned);
    (!text.is_empty() || signature.is_some()).then_some(ContentBlock::Thinking(ThinkingBlock { text, signature }))
}

/// A function_call item as a tool call.
pub fn tool_call(item: &Item<'_>, i: usize) -> Result<ToolCall, PluginError> {
    let id =
        item.call_id.as_deref().or(item.id.as_deref()).ok_or_else(|| {
            PluginError::InvalidRequest(format!("output[{i}] is a function_call without a \"call_id\""))
        })?;
    let name = item
        .name
        .as_deref()
        .ok_or_else(|| PluginError::InvalidRequest(format!("output[{i}] is a function_call without a \"name\"")))?;
    Ok(ToolCall {
        id: id.to_owned(),
        name: name.to_owned(),
        arguments_json: arguments_json(item.arguments.as_deref()),
        signature: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::StopReason;
    use serde_json::json;

    fn dec(v: serde_json::Value) -> ChatResponse {
        decode(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn reasoning_text_and_calls() {
        let r = dec(
            json!({"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-5",
            "output": [
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "hm"}], "encrypted_content": "E"},
                {"type": "reasoning", "id": "rs_2", "summary": []},
                {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "ok", "annotations": []}]},
                {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{\"a\":1}"},
                {"type": "web_search_call", "id": "ws_1"}
            ],
            "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40}, "output_tokens": 30,
                      "output_tokens_details": {"reasoning_tokens": 20}, "total_tokens": 130}}),
        );
        assert_eq!((r.id.as_str(), r.model.as_str()), ("resp_1", "gpt-5"));
        assert_eq!(r.content.len(), 3);
        assert_eq!(
            r.content[0],
            ContentBlock::Thinking(ThinkingBlock {
                text: "hm".into(),
                signature: Some("E".into())
            })
        );
        assert!(
            matches!(&r.content[2], ContentBlock::ToolCall(c) if c.id == "call_1" && c.arguments_json == "{\"a\":1}")
        );
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(
            (r.usage.input, r.usage.cache_read, r.usage.output, r.usage.reasoning),
            (60, 40, 30, 20)
        );
    }

    #[test]
    fn stop_reasons() {
        let r =
            dec(json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []}));
        assert_eq!(r.stop_reason, Some(StopReason::MaxTokens));
        let r = dec(
            json!({"status": "completed", "output": [{"type": "message", "role": "assistant",
            "content": [{"type": "refusal", "refusal": "I can't"}]}]}),
        );
        assert_eq!(r.stop_reason, Some(StopReason::Refusal));
        assert_eq!(r.content, vec![text("I can't")]);
        let r =
            dec(json!({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}, "output": null}));
        assert_eq!(r.stop_reason, Some(StopReason::ContentFilter));
        let r = dec(
            json!({"status": "completed", "output": [{"type": "message", "content": [{"type": "output_text", "text": "x"}]}]}),
        );
        assert_eq!(r.stop_reason, Some(StopReason::EndTurn));
    }

    #[test]
    fn malformed_bodies() {
        assert!(matches!(decode(b"nope"), Err(PluginError::InvalidRequest(_))));
        let bad = json!({"status": "completed", "output": [{"type": "function_call", "call_id": "c"}]});
        assert!(
            matches!(decode(bad.to_string().as_bytes()), Err(PluginError::InvalidRequest(m)) if m.contains("output[0]"))
        );
    }
}
