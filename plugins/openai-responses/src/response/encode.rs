//! An IR response as the body a Responses client expects: `{id: "resp_…", object:
//! "response", created_at, status, incomplete_details, model, output, usage, …}` with the
//! echo fields OpenAI always writes.
//!
//! - Consecutive text blocks → one `message` item (a refusal's text as `refusal` parts).
//! - Thinking → a `reasoning` item whose `summary` is a list (never null), with
//!   `encrypted_content` whenever the block has a signature (Codex sends it back with
//!   `store: false`); redacted thinking → a reasoning item with only `encrypted_content`.
//! - Tool calls → `function_call` items with the IR id as `call_id`. A call's Gemini
//!   `thought_signature` goes in a reasoning item just before it (only `encrypted_content`),
//!   which comes back as a thinking block with that signature just before the call: where
//!   the Gemini encoder puts it back on the call (IR.md).
//! - Stop reason → status (`stop::Status`); usage → totals (`usage::wire`).

use std::time::{SystemTime, UNIX_EPOCH};

use aether_plugin_sdk::types::{ChatResponse, ContentBlock, PluginError, StopReason, Usage};
use serde::Serialize;
use serde_json::Value;

use crate::ids::{self, ItemPrefix};
use crate::items::{self, Item, ItemStatus, NONE, TextStyle};
use crate::stop::Status;
use crate::usage::{self, WireUsage};

/// Seconds since the epoch, for `created_at`.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `error` of a failed response.
#[derive(Debug, Serialize)]
pub struct ResponseError<'a> {
    /// The error code (`server_error`, `rate_limit_exceeded`, …).
    pub code: &'a str,
    /// What happened.
    pub message: &'a str,
}

/// What a failed response without a more precise error says.
const UPSTREAM_FAILED: ResponseError<'static> = ResponseError {
    code: "server_error",
    message: "the upstream failed",
};

/// `reasoning` as echoed: nothing was asked.
#[derive(Debug, Serialize)]
struct ReasoningEcho {
    effort: (),
    summary: (),
}

/// `text` as echoed: plain text.
#[derive(Debug, Serialize)]
struct TextEcho {
    format: FormatEcho,
}

#[derive(Debug, Serialize)]
struct FormatEcho {
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A response object with the echo fields OpenAI writes, in its order; `O` is the list of
/// output items (typed items for a whole body, items already written for a stream).
#[derive(Debug, Serialize)]
pub struct Envelope<'a, O: ?Sized + Serialize> {
    id: &'a str,
    object: &'static str,
    created_at: u64,
    status: &'static str,
    background: bool,
    error: Option<ResponseError<'a>>,
    incomplete_details: Value,
    instructions: (),
    max_output_tokens: (),
    model: &'a str,
    output: &'a O,
    parallel_tool_calls: bool,
    previous_response_id: (),
    reasoning: ReasoningEcho,
    store: bool,
    temperature: f64,
    text: TextEcho,
    tool_choice: &'static str,
    tools: [(); 0],
    top_p: f64,
    truncation: &'static str,
    usage: Option<WireUsage>,
    user: (),
    metadata: Metadata,
}

/// `metadata`: `{}`.
#[derive(Debug, Serialize)]
struct Metadata {}

/// A response object (`error` defaults to a generic upstream failure when the status is
/// `failed`).
pub fn envelope<'a, O: ?Sized + Serialize>(
    id: &'a str,
    created_at: u64,
    model: &'a str,
    status: Status,
    output: &'a O,
    usage: Option<&Usage>,
    error: Option<ResponseError<'a>>,
) -> Envelope<'a, O> {
    let error = match status {
        Status::Failed => Some(error.unwrap_or(UPSTREAM_FAILED)),
        _ => None,
    };
    Envelope {
        id,
        object: "response",
        created_at,
        status: status.as_str(),
        background: false,
        error,
        incomplete_details: status.incomplete_details(),
        instructions: (),
        max_output_tokens: (),
        model,
        output,
        parallel_tool_calls: true,
        previous_response_id: (),
        reasoning: ReasoningEcho {
            effort: (),
            summary: (),
        },
        store: false,
        temperature: 1.0,
        text: TextEcho {
            format: FormatEcho { kind: "text" },
        },
        tool_choice: "auto",
        tools: NONE,
        top_p: 1.0,
        truncation: "disabled",
        usage: usage.map(usage::wire),
        user: (),
        metadata: Metadata {},
    }
}

/// An IR response as a Responses body.
pub fn encode(r: &ChatResponse) -> Result<Vec<u8>, PluginError> {
    let style = match r.stop_reason {
        Some(StopReason::Refusal) => TextStyle::Refusal,
        _ => TextStyle::Output,
    };
    let id = ids::response_id(&r.id);
    let output = output_items(&r.content, &id, style);
    let body = envelope(
        &id,
        now(),
        &r.model,
        Status::for_stop(r.stop_reason),
        &output[..],
        Some(&r.usage),
        None,
    );
    serde_json::to_vec(&body).map_err(|e| PluginError::Internal(format!("the response did not serialise: {e}")))
}

/// The output items of IR content, in order.
fn output_items<'a>(content: &'a [ContentBlock], response_id: &str, style: TextStyle) -> Vec<Item<'a, str>> {
    let mut out = Vec::new();
    let mut parts = Vec::new();
    let flush = |out: &mut Vec<Item<'a, str>>, parts: &mut Vec<items::Part<'a, str>>| {
        if !parts.is_empty() {
            let id = ids::item_id(ItemPrefix::Message, response_id, out.len());
            out.push(Item::Message(items::message(
                id,
                ItemStatus::Completed,
                std::mem::take(parts),
            )));
        }
    };
    for block in content {
        match block {
            ContentBlock::Text(t) if !t.text.is_empty() => parts.push(items::text_part(style, t.text.as_str())),
            ContentBlock::Thinking(t) if !t.text.is_empty() || t.signature.is_some() => {
                flush(&mut out, &mut parts);
                let id = ids::item_id(ItemPrefix::Reasoning, response_id, out.len());
                let text = (!t.text.is_empty()).then_some(t.text.as_str());
                out.push(Item::Reasoning(items::reasoning(id, text, t.signature.as_deref())));
            }
            ContentBlock::RedactedThinking(data) => {
                flush(&mut out, &mut parts);
                let id = ids::item_id(ItemPrefix::Reasoning, response_id, out.len());
                out.push(Item::Reasoning(items::reasoning(id, None, Some(data))));
            }
            ContentBlock::ToolCall(c) => {
                flush(&mut out, &mut parts);
                if let Some(sig) = &c.signature {
                    let id = ids::item_id(ItemPrefix::Reasoning, response_id, out.len());
                    out.push(Item::Reasoning(items::reasoning(id, None, Some(sig))));
                }
                let id = ids::item_id(ItemPrefix::FunctionCall, response_id, out.len());
                out.push(Item::FunctionCall(items::function_call(
                    id,
                    &c.id,
                    &c.name,
                    c.arguments_json.as_str(),
                    ItemStatus::Completed,
                )));
            }
            _ => {}
        }
    }
    flush(&mut out, &mut parts);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{TextBlock, ThinkingBlock, ToolCall};
    use serde_json::json;

    fn text(t: &str) -> ContentBlock {
        ContentBlock::Text(TextBlock {
            text: t.into(),
            cache: None,
        })
    }

    fn enc(content: Vec<ContentBlock>, stop: Option<StopReason>) -> Value {
        let mut usage = aether_plugin_sdk::usage::zero();
        usage.input = 5;
        usage.cache_creation1h = 10;
        usage.cache_creation5m = 1;
        usage.cache_read = 3;
        usage.output = 7;
        usage.reasoning = 2;
        let r = ChatResponse {
            id: "msg_01A".into(),
            model: "claude-x".into(),
            content,
            stop_reason: stop,
            usage,
        };
        serde_json::from_slice(&encode(&r).unwrap()).unwrap()
    }

    #[test]
    fn items_in_order_with_ids() {
        let b = enc(
            vec![
                ContentBlock::Thinking(ThinkingBlock {
                    text: "plan".into(),
                    signature: Some("SIG".into()),
                }),
                text("a"),
                text("b"),
                ContentBlock::ToolCall(ToolCall {
                    id: "toolu_1".into(),
                    name: "f".into(),
                    arguments_json: "{}".into(),
                    signature: None,
                }),
                ContentBlock::RedactedThinking("R".into()),
            ],
            Some(StopReason::ToolUse),
        );
        assert_eq!(b["id"], "resp_01A");
        assert_eq!(b["object"], "response");
        assert_eq!(b["status"], "completed");
        assert_eq!(b["model"], "claude-x");
        let out = b["output"].as_array().unwrap();
        assert_eq!(out.len(), 4);
        assert_eq!(
            out[0],
            json!({"id": "rs_01A00", "type": "reasoning", "summary": [{"type": "summary_text", "text": "plan"}], "encrypted_content": "SIG"})
        );
        assert_eq!(out[1]["content"].as_array().unwrap().len(), 2);
        assert_eq!(out[2]["call_id"], "toolu_1");
        assert_eq!(out[2]["id"], "fc_01A02");
        assert_eq!(out[3]["summary"], json!([]));
        assert_eq!(b["usage"]["input_tokens"], 19);
        assert_eq!(b["usage"]["input_tokens_details"]["cached_tokens"], 3);
        assert_eq!(b["usage"]["output_tokens_details"]["reasoning_tokens"], 2);
        assert_eq!(b["usage"]["total_tokens"], 26);
    }

    #[test]
    fn a_call_signature_goes_in_a_reasoning_item_before_it() {
        let call = ToolCall {
            id: "call_0".into(),
            name: "f".into(),
            arguments_json: "{}".into(),
            signature: Some("TS".into()),
        };
        let b = enc(vec![ContentBlock::ToolCall(call)], Some(StopReason::ToolUse));
        assert_eq!(
            b["output"][0],
            json!({"id": "rs_01A00", "type": "reasoning", "summary": [], "encrypted_content": "TS"})
        );
        assert_eq!(b["output"][1]["call_id"], "call_0");
    }

    #[test]
    fn statuses() {
        let b = enc(vec![text("cut")], Some(StopReason::MaxTokens));
        assert_eq!(
            (b["status"].as_str(), b["incomplete_details"]["reason"].as_str()),
            (Some("incomplete"), Some("max_output_tokens"))
        );
        let b = enc(vec![text("no")], Some(StopReason::Refusal));
        assert_eq!(
            b["output"][0]["content"][0],
            json!({"type": "refusal", "refusal": "no"})
        );
        assert_eq!(b["status"], "completed");
        let b = enc(vec![], Some(StopReason::ContentFilter));
        assert_eq!(b["incomplete_details"]["reason"], "content_filter");
        assert_eq!(enc(vec![], Some(StopReason::Error))["status"], "failed");
        assert_eq!(enc(vec![text("")], None)["output"], json!([]));
    }
}
