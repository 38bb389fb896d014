//! OpenAI Chat Completions: the `chat.completion` body, the `chat.completion.chunk` stream
//! ending in `data: [DONE]` (with the usage chunk when `stream_options.include_usage`, and
//! OpenAI's random `obfuscation` padding on every chunk with a choice unless
//! `stream_options.include_obfuscation` is false), the model list, and the OpenAI error shape
//! shared with the Responses API.

use bytes::Bytes;
use serde_json::{Value, json};

use super::content::{self, THINKING_PIECES, TOOL_ARGUMENTS};
use super::{Exchange, Obfuscation, Usage};
use crate::config::Scenario;
use crate::sse;
use crate::template::{Fill, Template, hole};

/// The fingerprint every completion carries.
const FINGERPRINT: &str = "fp_aether_mock";

/// OpenAI's error `type` and `code` for a status.
pub(crate) fn error_kind(status: u16) -> (&'static str, Option<&'static str>) {
    match status {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => ("request_forbidden", None),
        429 => ("requests", Some("rate_limit_exceeded")),
        s if s >= 500 => ("server_error", None),
        _ => ("invalid_request_error", None),
    }
}

/// The `error` object.
pub(crate) fn error_object(status: u16, message: &str) -> Value {
    let (kind, code) = error_kind(status);
    json!({"message": message, "type": kind, "param": null, "code": code})
}

/// `{"error":{"message":..,"type":..,"param":null,"code":..}}`.
pub(crate) fn error_body(status: u16, message: &str) -> Bytes {
    sse::json(&json!({"error": error_object(status, message)}))
}

/// `data: {"error":{..}}`.
pub(crate) fn error_event(status: u16, message: &str) -> Bytes {
    sse::data(&json!({"error": error_object(status, message)}))
}

/// The `usage` object.
fn usage_value(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion(),
        "total_tokens": usage.prompt + usage.completion(),
        "prompt_tokens_details": {"cached_tokens": usage.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

/// `stop` or `tool_calls`.
fn finish_reason(x: &Exchange) -> &'static str {
    match x.scenario {
        Scenario::ToolCall => "tool_calls",
        Scenario::Text | Scenario::Thinking => "stop",
    }
}

/// The non-streaming `chat.completion` body.
pub(crate) fn complete(x: &Exchange) -> Bytes {
    let message = match x.scenario {
        Scenario::Text => json!({
            "role": "assistant",
            "content": content::text_pieces(x.chunks).concat(),
            "refusal": null,
            "annotations": []
        }),
        Scenario::Thinking => json!({
            "role": "assistant",
            "reasoning_content": content::thinking_text(),
            "content": content::text_pieces(x.chunks).concat(),
            "refusal": null,
            "annotations": []
        }),
        Scenario::ToolCall => json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": content::new_id("call_"),
                "type": "function",
                "function": {"name": x.tool, "arguments": TOOL_ARGUMENTS}
            }],
            "refusal": null,
            "annotations": []
        }),
    };
    sse::json(&json!({
        "id": content::new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": content::unix_now(),
        "model": x.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(x)
        }],
        "usage": usage_value(&x.usage),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT
    }))
}

/// The streaming `chat.completion.chunk` events, `[DONE]` included. Each chunk with a choice
/// carries OpenAI's random `obfuscation` padding unless the request turned it off.
pub(crate) fn stream(x: &Exchange) -> Vec<Bytes> {
    let id = content::new_id("chatcmpl-");
    let created = content::unix_now();
    // A chunk with a hole for a piece (0) and, on a chunk with a choice, one for the padding (1).
    let chunk = |choices: Value, usage: Option<Value>| {
        let padded = x.obfuscation == Obfuscation::Padded && choices.as_array().is_some_and(|c| !c.is_empty());
        let mut value = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": x.model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": choices
        });
        if x.include_usage {
            value["usage"] = usage.unwrap_or(Value::Null);
        }
        if padded {
            value["obfuscation"] = Value::from(hole(1));
        }
        Template::new(&sse::data(&value), 2)
    };
    let once = |template: Template| template.fill(&[Fill::Str(""), Fill::Str(&content::obfuscation())]);
    let choice = |delta: Value, finish: Option<&str>| json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);

    let mut events = Vec::with_capacity(x.chunks + 8);
    match x.scenario {
        Scenario::Text | Scenario::Thinking => {
            events.push(once(chunk(
                choice(json!({"role": "assistant", "content": "", "refusal": null}), None),
                None,
            )));
            if x.scenario == Scenario::Thinking {
                let thinking = chunk(choice(json!({"reasoning_content": hole(0)}), None), None);
                for piece in THINKING_PIECES {
                    events.push(thinking.fill(&[Fill::Str(piece), Fill::Str(&content::obfuscation())]));
                }
            }
            let text = chunk(choice(json!({"content": hole(0)}), None), None);
            for piece in content::text_pieces(x.chunks) {
                events.push(text.fill(&[Fill::Str(&piece), Fill::Str(&content::obfuscation())]));
            }
        }
        Scenario::ToolCall => {
            events.push(once(chunk(
                choice(
                    json!({
                        "role": "assistant",
                        "content": null,
                        "tool_calls": [{
                            "index": 0,
                            "id": content::new_id("call_"),
                            "type": "function",
                            "function": {"name": x.tool, "arguments": ""}
                        }],
                        "refusal": null
                    }),
                    None,
                ),
                None,
            )));
            let arguments = chunk(
                choice(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": hole(0)}}]}),
                    None,
                ),
                None,
            );
            for piece in content::argument_pieces(x.chunks) {
                events.push(arguments.fill(&[Fill::Str(piece), Fill::Str(&content::obfuscation())]));
            }
        }
    }
    events.push(once(chunk(choice(json!({}), Some(finish_reason(x))), None)));
    if x.include_usage {
        events.push(once(chunk(json!([]), Some(usage_value(&x.usage)))));
    }
    events.push(Bytes::from_static(sse::DONE));
    events
}

/// `GET /v1/models` in OpenAI's shape.
pub(crate) fn model_list(models: &[&str]) -> Bytes {
    let data: Vec<Value> = models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_735_689_600, "owned_by": "aether-mock"}))
        .collect();
    sse::json(&json!({"object": "list", "data": data}))
}
