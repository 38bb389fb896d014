//! Whole (non-streamed) Messages responses ↔ the IR.
//!
//! Decoding keeps text, thinking (with signatures), redacted thinking and tool calls in
//! order; server tool blocks and citations are dropped; the stop reason is `tool-use`
//! whenever a tool is called; usage goes through the usage module's buckets.
//!
//! Encoding writes the body Anthropic writes: `type: "message"`, `role: "assistant"`, no
//! empty text block, `stop_sequence: null` (the IR does not keep which one matched) and the
//! full usage, cache writes split by lifetime.

use aether_plugin_sdk::types::{ChatResponse, ContentBlock, PluginError};
use serde::{Deserialize, Serialize};

use crate::content::{Audience, Decoded, OutBlock, Side, WireBlock, decode_block, encode_block};
use crate::stop_reason::{self, ToolCalls};
use crate::usage::{self, ClaudeUsage};

#[derive(Deserialize)]
struct WireResponse {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    content: Option<Vec<WireBlock>>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<ClaudeUsage>,
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidRequest(message)
}

/// An upstream's response body in the IR.
pub fn decode(body: &[u8]) -> Result<ChatResponse, PluginError> {
    let wire: WireResponse = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("the upstream's response is not a Messages response: {e}")))?;
    if wire.kind.as_deref() == Some("error") {
        return Err(PluginError::Internal(format!(
            "the upstream answered with an error: {}",
            String::from_utf8_lossy(body)
        )));
    }
    let mut content = Vec::new();
    for (i, block) in wire.content.unwrap_or_default().into_iter().enumerate() {
        match decode_block(block, &|| format!("content[{i}]"))? {
            Decoded::Block(ContentBlock::Text(t)) if t.text.is_empty() => {}
            Decoded::Block(ContentBlock::ToolResult(_)) | Decoded::Dropped => {}
            Decoded::Block(b) => content.push(b),
        }
    }
    let tools = tool_calls(&content);
    Ok(ChatResponse {
        id: wire.id.unwrap_or_default(),
        model: wire.model.unwrap_or_default(),
        stop_reason: stop_reason::settle(stop_reason::decode(wire.stop_reason.as_deref()), tools),
        usage: wire
            .usage
            .as_ref()
            .map_or_else(aether_plugin_sdk::usage::zero, usage::to_ir),
        content,
    })
}

fn tool_calls(content: &[ContentBlock]) -> ToolCalls {
    if content.iter().any(|b| matches!(b, ContentBlock::ToolCall(_))) {
        ToolCalls::Present
    } else {
        ToolCalls::Absent
    }
}

#[derive(Serialize)]
struct Out<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<OutBlock<'a>>,
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
    usage: usage::Wire,
}

/// An IR response as a Messages response body.
pub fn encode(resp: &ChatResponse) -> Result<Vec<u8>, PluginError> {
    let mut content = Vec::with_capacity(resp.content.len());
    for (i, block) in resp.content.iter().enumerate() {
        encode_block(block, Audience::Client, &mut content, &|| format!("content[{i}]"))?;
    }
    content.retain(|b| b.side() != Side::User);
    let out = Out {
        id: if resp.id.is_empty() { "msg_aether" } else { &resp.id },
        kind: "message",
        role: "assistant",
        model: &resp.model,
        content,
        stop_reason: stop_reason::encode(stop_reason::settle(resp.stop_reason, tool_calls(&resp.content))),
        stop_sequence: None,
        usage: usage::Wire::from_ir(&resp.usage),
    };
    serde_json::to_vec(&out).map_err(|e| PluginError::Internal(format!("encoding the response: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{StopReason, TextBlock, ThinkingBlock, ToolCall};
    use serde_json::{Value, json};

    #[test]
    fn decodes_a_full_response() {
        let body = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [
                {"type": "thinking", "thinking": "let me see", "signature": "sig"},
                {"type": "redacted_thinking", "data": "enc"},
                {"type": "text", "text": ""},
                {"type": "text", "text": "Calling.", "citations": []},
                {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {}},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}
            ],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 30, "cache_read_input_tokens": 5,
                "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20}, "output_tokens": 7}
        });
        let r = decode(body.to_string().as_bytes()).unwrap();
        assert_eq!((r.id.as_str(), r.model.as_str()), ("msg_1", "claude-sonnet-4-5"));
        assert_eq!(r.content.len(), 4);
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(
            (
                r.usage.input,
                r.usage.cache_creation5m,
                r.usage.cache_creation1h,
                r.usage.cache_read,
                r.usage.output
            ),
            (10, 10, 20, 5, 7)
        );
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert!(matches!(decode(b"nope"), Err(PluginError::InvalidRequest(_))));
        assert!(matches!(
            decode(br#"{"content":[{"type":"tool_use","name":"f"}]}"#),
            Err(PluginError::InvalidRequest(m)) if m.contains("content[0]")
        ));
        assert!(matches!(
            decode(br#"{"type":"error","error":{"type":"api_error","message":"x"}}"#),
            Err(PluginError::Internal(_))
        ));
    }

    #[test]
    fn encodes_like_anthropic() {
        let mut u = aether_plugin_sdk::usage::zero();
        u.input = 3;
        u.output = 9;
        u.cache_creation1h = 4;
        let resp = ChatResponse {
            id: "chatcmpl-1".into(),
            model: "m".into(),
            content: vec![
                ContentBlock::Text(TextBlock {
                    text: String::new(),
                    cache: None,
                }),
                ContentBlock::Thinking(ThinkingBlock {
                    text: "why".into(),
                    signature: None,
                }),
                ContentBlock::Text(TextBlock {
                    text: "hi".into(),
                    cache: None,
                }),
                ContentBlock::ToolCall(ToolCall {
                    id: "call_1".into(),
                    name: "f".into(),
                    arguments_json: r#"{"q":"x"}"#.into(),
                    signature: None,
                }),
            ],
            stop_reason: Some(StopReason::EndTurn),
            usage: u,
        };
        let v: Value = serde_json::from_slice(&encode(&resp).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "m",
                "content": [{"type": "thinking", "thinking": "why", "signature": ""},
                    {"type": "text", "text": "hi"},
                    {"type": "tool_use", "id": "call_1", "name": "f", "input": {"q": "x"}}],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 3, "cache_creation_input_tokens": 4, "cache_read_input_tokens": 0,
                    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 4},
                    "output_tokens": 9}})
        );
    }

    #[test]
    fn every_stop_reason_encodes() {
        for (ir, wire) in [
            (StopReason::EndTurn, "end_turn"),
            (StopReason::MaxTokens, "max_tokens"),
            (StopReason::StopSequence, "stop_sequence"),
            (StopReason::Refusal, "refusal"),
            (StopReason::ContentFilter, "refusal"),
        ] {
            let resp = ChatResponse {
                id: String::new(),
                model: "m".into(),
                content: Vec::new(),
                stop_reason: Some(ir),
                usage: aether_plugin_sdk::usage::zero(),
            };
            let v: Value = serde_json::from_slice(&encode(&resp).unwrap()).unwrap();
            assert_eq!(v["stop_reason"], wire);
            assert_eq!(v["id"], "msg_aether");
        }
    }
}
