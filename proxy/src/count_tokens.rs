//! A local answer to `POST /v1/messages/count_tokens` (Claude) and `…:countTokens` (Gemini)
//! when the chosen upstream does not speak the client's format (the upstream's own
//! endpoint is used when it does).
//!
//! The estimate runs a real BPE tokenizer (`cl100k_base`) over every piece of text the
//! model would read: system prompt, message text, tool-use inputs, tool results, tool
//! definitions. Claude's tokenizer is not public, so this is an estimate (typically within
//! about 10 % for English and code); images count a flat 1,600 tokens (a ~1.2 MP image),
//! and each message adds 3 tokens of framing. The tokenizer loads on first use, so a
//! gateway that never needs it pays nothing.

use std::sync::OnceLock;

use serde_json::Value;

/// Tokens charged per image block (Anthropic: about width × height / 750).
const IMAGE_TOKENS: usize = 1_600;
/// Framing tokens per message.
const MESSAGE_OVERHEAD: usize = 3;

static BPE: OnceLock<Option<tiktoken_rs::CoreBPE>> = OnceLock::new();

/// Estimates the input tokens of a Claude Messages request body.
pub fn estimate(body: &Value) -> usize {
    let mut text = String::new();
    let mut fixed = 0usize;
    collect(body.get("system"), &mut text, &mut fixed);
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        for m in messages {
            fixed += MESSAGE_OVERHEAD;
            collect(m.get("content"), &mut text, &mut fixed);
        }
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        for tool in tools {
            text.push_str(&tool.to_string());
            text.push('\n');
        }
    }
    fixed + count(&text)
}

/// Estimates the tokens of a Gemini `countTokens` body: `contents` (or a whole
/// `generateContentRequest`), with its system instruction and tools.
pub fn estimate_gemini(body: &Value) -> usize {
    let request = body.get("generateContentRequest").unwrap_or(body);
    let mut text = String::new();
    let mut fixed = 0usize;
    let mut parts = |content: &Value, fixed: &mut usize| {
        for part in content.get("parts").and_then(Value::as_array).into_iter().flatten() {
            if let Some(t) = part.get("text").and_then(Value::as_str) {
                text.push_str(t);
                text.push('\n');
            } else if part.get("inlineData").is_some() || part.get("fileData").is_some() {
                *fixed += IMAGE_TOKENS;
            } else if let Some(call) = part.get("functionCall").or_else(|| part.get("functionResponse")) {
                text.push_str(&call.to_string());
            }
        }
    };
    if let Some(system) = request.get("systemInstruction") {
        parts(system, &mut fixed);
    }
    for content in request.get("contents").and_then(Value::as_array).into_iter().flatten() {
        fixed += MESSAGE_OVERHEAD;
        parts(content, &mut fixed);
    }
    if let Some(tools) = request.get("tools") {
        text.push_str(&tools.to_string());
    }
    fixed + count(&text)
}

fn collect(value: Option<&Value>, text: &mut String, fixed: &mut usize) {
    match value {
        Some(Value::String(s)) => {
            text.push_str(s);
            text.push('\n');
        }
        Some(Value::Array(blocks)) => {
            for block in blocks {
                match block.get("type").and_then(Value::as_str) {
                    Some("image") => *fixed += IMAGE_TOKENS,
                    Some("tool_use") => text.push_str(&block.get("input").map(Value::to_string).unwrap_or_default()),
                    Some("tool_result") => collect(block.get("content"), text, fixed),
                    _ => {
                        for field in ["text", "thinking"] {
                            if let Some(s) = block.get(field).and_then(Value::as_str) {
                                text.push_str(s);
                                text.push('\n');
                            }
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

fn count(text: &str) -> usize {
    match BPE.get_or_init(|| tiktoken_rs::cl100k_base().ok()) {
        Some(bpe) => bpe.encode_ordinary(text).len(),
        // The embedded vocabulary failed to load: fall back to the usual 4 bytes a token.
        None => text.len().div_ceil(4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_gemini_contents() {
        let body = serde_json::json!({
            "contents": [{"role": "user", "parts": [{"text": "Hello, world!"}, {"inlineData": {"mimeType": "image/png", "data": ""}}]}],
        });
        let n = estimate_gemini(&body);
        assert!((1_600 + 3 + 3..1_600 + 3 + 10).contains(&n), "{n}");
        let wrapped = serde_json::json!({ "generateContentRequest": body });
        assert_eq!(estimate_gemini(&wrapped), n);
    }

    #[test]
    fn counts_text_tools_and_images() {
        let body = serde_json::json!({
            "model": "m",
            "system": "You are terse.",
            "messages": [
                {"role": "user", "content": "Hello, world!"},
                {"role": "user", "content": [{"type": "image", "source": {}}, {"type": "text", "text": "What is this?"}]},
            ],
        });
        let n = estimate(&body);
        // 2 messages × 3 framing + 1 image + a handful of text tokens.
        assert!((1_600 + 6 + 8..1_600 + 6 + 20).contains(&n), "{n}");
        let with_tools = serde_json::json!({
            "messages": [], "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        });
        assert!(estimate(&with_tools) > 5);
    }
}
