//! Anthropic Messages: the `message` body, the SSE event sequence (`message_start`,
//! `content_block_*`, `ping`, `message_delta`, `message_stop`), `count_tokens`, and errors.

use bytes::Bytes;
use serde_json::{Value, json};

use super::content::{self, SIGNATURE, THINKING_PIECES, TOOL_ARGUMENTS};
use super::{Exchange, Usage};
use crate::config::Scenario;
use crate::sse;
use crate::template::{Fill, Template, hole};

/// Anthropic's error `type` for a status.
pub(crate) fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// The error object inside the body and the stream event.
fn error_value(status: u16, message: &str) -> Value {
    json!({"type": "error", "error": {"type": error_type(status), "message": message}})
}

/// `{"type":"error","error":{"type":..,"message":..}}`.
pub(crate) fn error_body(status: u16, message: &str) -> Bytes {
    sse::json(&error_value(status, message))
}

/// `event: error` with the error object.
pub(crate) fn error_event(status: u16, message: &str) -> Bytes {
    sse::event("error", &error_value(status, message))
}

/// The `usage` object; `output_tokens` as given.
fn usage_value(usage: &Usage, output_tokens: u64) -> Value {
    json!({
        "input_tokens": usage.uncached_input(),
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write,
            "ephemeral_1h_input_tokens": 0
        },
        "output_tokens": output_tokens,
        "service_tier": "standard"
    })
}

/// `end_turn` or `tool_use`.
fn stop_reason(x: &Exchange) -> &'static str {
    match x.scenario {
        Scenario::ToolCall => "tool_use",
        Scenario::Text | Scenario::Thinking => "end_turn",
    }
}

/// The non-streaming `message` body.
pub(crate) fn complete(x: &Exchange) -> Bytes {
    let mut blocks = Vec::with_capacity(2);
    match x.scenario {
        Scenario::Text => {
            blocks.push(json!({"type": "text", "text": content::text_pieces(x.chunks).concat()}));
        }
        Scenario::Thinking => {
            blocks.push(json!({
                "type": "thinking",
                "thinking": content::thinking_text(),
                "signature": SIGNATURE
            }));
            blocks.push(json!({"type": "text", "text": content::text_pieces(x.chunks).concat()}));
        }
        Scenario::ToolCall => {
            let input: Value = serde_json::from_str(TOOL_ARGUMENTS).unwrap_or(Value::Null);
            blocks.push(json!({
                "type": "tool_use",
                "id": content::new_id("toolu_"),
                "name": x.tool,
                "input": input
            }));
        }
    }
    sse::json(&json!({
        "id": content::new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": x.model,
        "content": blocks,
        "stop_reason": stop_reason(x),
        "stop_sequence": null,
        "usage": usage_value(&x.usage, x.usage.completion())
    }))
}

/// A `content_block_delta` event.
fn delta(index: usize, delta: Value) -> Bytes {
    sse::event(
        "content_block_delta",
        &json!({"type": "content_block_delta", "index": index, "delta": delta}),
    )
}

/// The streaming event sequence.
pub(crate) fn stream(x: &Exchange) -> Vec<Bytes> {
    let mut events = Vec::with_capacity(x.chunks + 12);
    events.push(sse::event(
        "message_start",
        &json!({
            "type": "message_start",
            "message": {
                "id": content::new_id("msg_"),
                "type": "message",
                "role": "assistant",
                "model": x.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": usage_value(&x.usage, 1)
            }
        }),
    ));
    let mut index = 0;
    let start = |index: usize, block: Value| {
        sse::event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        )
    };
    let stop = |index: usize| {
        sse::event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        )
    };
    let ping = || sse::event("ping", &json!({"type": "ping"}));

    if x.scenario == Scenario::Thinking {
        events.push(start(
            index,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
        ));
        events.push(ping());
        let thinking = Template::new(&delta(index, json!({"type": "thinking_delta", "thinking": hole(0)})), 1);
        for piece in THINKING_PIECES {
            events.push(thinking.fill(&[Fill::Str(piece)]));
        }
        events.push(delta(index, json!({"type": "signature_delta", "signature": SIGNATURE})));
        events.push(stop(index));
        index += 1;
    }
    match x.scenario {
        Scenario::Text | Scenario::Thinking => {
            events.push(start(index, json!({"type": "text", "text": ""})));
            if index == 0 {
                events.push(ping());
            }
            let text = Template::new(&delta(index, json!({"type": "text_delta", "text": hole(0)})), 1);
            for piece in content::text_pieces(x.chunks) {
                events.push(text.fill(&[Fill::Str(&piece)]));
            }
        }
        Scenario::ToolCall => {
            events.push(start(
                index,
                json!({
                    "type": "tool_use",
                    "id": content::new_id("toolu_"),
                    "name": x.tool,
                    "input": {}
                }),
            ));
            events.push(ping());
            events.push(delta(index, json!({"type": "input_json_delta", "partial_json": ""})));
            let arguments = Template::new(
                &delta(index, json!({"type": "input_json_delta", "partial_json": hole(0)})),
                1,
            );
            for piece in content::argument_pieces(x.chunks) {
                events.push(arguments.fill(&[Fill::Str(piece)]));
            }
        }
    }
    events.push(stop(index));
    events.push(sse::event(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(x), "stop_sequence": null},
            "usage": {"output_tokens": x.usage.completion()}
        }),
    ));
    events.push(sse::event("message_stop", &json!({"type": "message_stop"})));
    events
}

/// `count_tokens`: `{"input_tokens": N}`.
pub(crate) fn count_tokens(usage: &Usage) -> Bytes {
    sse::json(&json!({"input_tokens": usage.prompt}))
}

/// `GET /v1/models` in Anthropic's shape.
pub(crate) fn model_list(models: &[&str]) -> Bytes {
    let data: Vec<Value> = models
        .iter()
        .map(|id| {
            json!({
                "type": "model",
                "id": id,
                "display_name": id,
                "created_at": "2025-01-01T00:00:00Z"
            })
        })
        .collect();
    sse::json(&json!({
        "data": data,
        "has_more": false,
        "first_id": models.first(),
        "last_id": models.last()
    }))
}
