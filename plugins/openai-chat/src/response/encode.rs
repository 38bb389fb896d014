//! An IR response as a `chat.completion` body, as OpenAI writes it: one choice whose
//! message has the text (joined) as `content` (`null` when there is only tool calls),
//! `refusal: null`, and `tool_calls`; `finish_reason` from the stop reason; usage totals
//! rebuilt from the IR buckets. Thinking is dropped (README).

use aether_plugin_sdk::types::{ChatResponse, ContentBlock, PluginError};
use serde::Serialize;

use crate::response::{chat_id, now};
use crate::stop;
use crate::usage::{self, WireUsage};

#[derive(Serialize)]
struct Body<'a> {
    id: String,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: WireUsage,
    system_fingerprint: Option<&'a str>,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: OutMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct OutMessage<'a> {
    role: &'static str,
    content: Option<String>,
    refusal: Option<&'a str>,
    annotations: [(); 0],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<OutToolCall<'a>>,
}

#[derive(Serialize)]
struct OutToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: OutFunction<'a>,
}

#[derive(Serialize)]
struct OutFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

/// An IR response as a client body.
pub fn encode(response: &ChatResponse) -> Result<Vec<u8>, PluginError> {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in &response.content {
        match block {
            ContentBlock::Text(t) => text.push_str(&t.text),
            ContentBlock::ToolCall(c) => tool_calls.push(OutToolCall {
                id: &c.id,
                kind: "function",
                function: OutFunction {
                    name: &c.name,
                    arguments: &c.arguments_json,
                },
            }),
            // Thinking has no place in a Chat Completions answer (README); media and tool
            // results do not occur in answers.
            _ => {}
        }
    }
    let body = Body {
        id: chat_id(&response.id),
        object: "chat.completion",
        created: now(),
        model: &response.model,
        choices: [Choice {
            index: 0,
            message: OutMessage {
                role: "assistant",
                content: (!text.is_empty() || tool_calls.is_empty()).then_some(text),
                refusal: None,
                annotations: [],
                tool_calls,
            },
            logprobs: None,
            finish_reason: stop::encode(response.stop_reason),
        }],
        usage: usage::wire(&response.usage),
        system_fingerprint: None,
    };
    serde_json::to_vec(&body).map_err(|e| PluginError::Internal(format!("encoding the response: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{StopReason, TextBlock, ThinkingBlock, ToolCall, Usage};
    use serde_json::{Value, json};

    fn response(content: Vec<ContentBlock>, stop_reason: Option<StopReason>) -> ChatResponse {
        ChatResponse {
            id: "msg_1".into(),
            model: "claude-sonnet-4-5".into(),
            content,
            stop_reason,
            usage: Usage {
                input: 10,
                output: 20,
                cache_creation5m: 3,
                cache_creation1h: 4,
                cache_read: 50,
                reasoning: 5,
            },
        }
    }

    fn encoded(r: &ChatResponse) -> Value {
        serde_json::from_slice(&encode(r).unwrap()).unwrap()
    }

    #[test]
    fn text_thinking_and_usage() {
        let b = encoded(&response(
            vec![
                ContentBlock::Thinking(ThinkingBlock {
                    text: "hmm".into(),
                    signature: Some("s".into()),
                }),
                ContentBlock::Text(TextBlock {
                    text: "Hello".into(),
                    cache: None,
                }),
            ],
            Some(StopReason::EndTurn),
        ));
        assert_eq!(b["id"], "chatcmpl-msg_1");
        assert_eq!(b["object"], "chat.completion");
        assert!(b["created"].as_u64().unwrap() > 0);
        assert_eq!(
            b["choices"],
            json!([{"index": 0, "message": {"role": "assistant", "content": "Hello", "refusal": null, "annotations": []},
                "logprobs": null, "finish_reason": "stop"}])
        );
        assert_eq!(
            b["usage"],
            json!({"prompt_tokens": 67, "completion_tokens": 20, "total_tokens": 87,
                "prompt_tokens_details": {"cached_tokens": 50, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 5, "audio_tokens": 0,
                    "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}})
        );
    }

    #[test]
    fn tool_calls_only_have_null_content() {
        let b = encoded(&response(
            vec![ContentBlock::ToolCall(ToolCall {
                id: "toolu_1".into(),
                name: "weather".into(),
                arguments_json: "{\"city\":\"Paris\"}".into(),
                signature: None,
            })],
            Some(StopReason::ToolUse),
        ));
        let choice = &b["choices"][0];
        assert_eq!(choice["message"]["content"], Value::Null);
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([{"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}])
        );
        assert_eq!(choice["finish_reason"], "tool_calls");
    }

    #[test]
    fn every_stop_reason() {
        for (reason, expected) in [
            (StopReason::MaxTokens, "length"),
            (StopReason::StopSequence, "stop"),
            (StopReason::Refusal, "content_filter"),
            (StopReason::ContentFilter, "content_filter"),
        ] {
            assert_eq!(
                encoded(&response(vec![], Some(reason)))["choices"][0]["finish_reason"],
                expected
            );
        }
        assert_eq!(encoded(&response(vec![], None))["choices"][0]["message"]["content"], "");
    }
}
