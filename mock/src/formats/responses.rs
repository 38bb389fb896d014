//! OpenAI Responses: the `response` object and its SSE sequence (`response.created`,
//! `response.in_progress`, output items and parts with their deltas, `response.completed`),
//! each event carrying its `sequence_number`, and each delta event OpenAI's random
//! `obfuscation` padding unless `stream_options.include_obfuscation` is false; errors use the
//! OpenAI shape.

use bytes::Bytes;
use serde_json::{Value, json};

use super::content::{self, THINKING_PIECES, TOOL_ARGUMENTS};
use super::openai_chat::error_kind;
use super::{Exchange, Obfuscation, Usage};
use crate::config::Scenario;
use crate::sse;
use crate::template::{Fill, Template, hole};

/// `event: error` with `{"type":"error","code":..,"message":..,"param":null,"sequence_number":0}`.
pub(crate) fn error_event(status: u16, message: &str) -> Bytes {
    let (kind, code) = error_kind(status);
    sse::event(
        "error",
        &json!({
            "type": "error",
            "code": code.unwrap_or(kind),
            "message": message,
            "param": null,
            "sequence_number": 0
        }),
    )
}

/// The `usage` object.
fn usage_value(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt,
        "input_tokens_details": {"cached_tokens": usage.cache_read, "cache_write_tokens": usage.cache_write},
        "output_tokens": usage.completion(),
        "output_tokens_details": {"reasoning_tokens": usage.reasoning},
        "total_tokens": usage.prompt + usage.completion()
    })
}

/// The identifiers of one answer's items.
struct Ids {
    response: String,
    reasoning: String,
    message: String,
    call_item: String,
    call: String,
    created_at: u64,
}

impl Ids {
    fn new() -> Ids {
        Ids {
            response: content::new_id("resp_"),
            reasoning: content::new_id("rs_"),
            message: content::new_id("msg_"),
            call_item: content::new_id("fc_"),
            call: content::new_id("call_"),
            created_at: content::unix_now(),
        }
    }
}

/// The `response` object with the given status, output and usage.
fn response_value(x: &Exchange, ids: &Ids, status: &str, output: Vec<Value>, usage: Value) -> Value {
    json!({
        "id": ids.response,
        "object": "response",
        "created_at": ids.created_at,
        "status": status,
        "background": false,
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "max_output_tokens": null,
        "model": x.model,
        "output": output,
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "reasoning": {"effort": null, "summary": null},
        "service_tier": "default",
        "store": true,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": null,
        "metadata": {}
    })
}

/// The completed `reasoning` item.
fn reasoning_item(ids: &Ids) -> Value {
    json!({
        "id": ids.reasoning,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": content::thinking_text()}]
    })
}

/// The `output_text` part with the given text.
fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text})
}

/// The `message` item with the given status and content.
fn message_item(ids: &Ids, status: &str, content: Vec<Value>) -> Value {
    json!({
        "id": ids.message,
        "type": "message",
        "status": status,
        "content": content,
        "role": "assistant"
    })
}

/// The `function_call` item with the given status and arguments.
fn call_item(x: &Exchange, ids: &Ids, status: &str, arguments: &str) -> Value {
    json!({
        "id": ids.call_item,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": ids.call,
        "name": x.tool
    })
}

/// The items of the completed answer.
fn final_output(x: &Exchange, ids: &Ids) -> Vec<Value> {
    let mut output = Vec::with_capacity(2);
    if x.scenario == Scenario::Thinking {
        output.push(reasoning_item(ids));
    }
    match x.scenario {
        Scenario::Text | Scenario::Thinking => {
            let text = content::text_pieces(x.chunks).concat();
            output.push(message_item(ids, "completed", vec![text_part(&text)]));
        }
        Scenario::ToolCall => output.push(call_item(x, ids, "completed", TOOL_ARGUMENTS)),
    }
    output
}

/// The non-streaming `response` body.
pub(crate) fn complete(x: &Exchange) -> Bytes {
    let ids = Ids::new();
    let output = final_output(x, &ids);
    sse::json(&response_value(x, &ids, "completed", output, usage_value(&x.usage)))
}

/// Builds the event sequence, numbering events as they are pushed.
struct Events {
    events: Vec<Bytes>,
    obfuscation: Obfuscation,
}

impl Events {
    fn push(&mut self, name: &str, mut data: Value) {
        data["type"] = Value::from(name);
        data["sequence_number"] = Value::from(self.events.len());
        self.events.push(sse::event(name, &data));
    }

    /// One `name` delta event per piece: `data` with [`hole`] 0 where the piece goes, and
    /// OpenAI's random `obfuscation` padding unless the request turned it off.
    fn push_each<'a>(&mut self, name: &str, mut data: Value, pieces: impl IntoIterator<Item = &'a str>) {
        data["type"] = Value::from(name);
        data["sequence_number"] = Value::from(hole(1));
        if self.obfuscation == Obfuscation::Padded {
            data["obfuscation"] = Value::from(hole(2));
        }
        let template = Template::new(&sse::event(name, &data), 3);
        for piece in pieces {
            let seq = self.events.len();
            let pad = content::obfuscation();
            self.events
                .push(template.fill(&[Fill::Str(piece), Fill::Num(seq), Fill::Str(&pad)]));
        }
    }
}

/// The streaming event sequence.
pub(crate) fn stream(x: &Exchange) -> Vec<Bytes> {
    let ids = Ids::new();
    let mut ev = Events {
        events: Vec::with_capacity(x.chunks + 16),
        obfuscation: x.obfuscation,
    };
    let pending = response_value(x, &ids, "in_progress", Vec::new(), Value::Null);
    ev.push("response.created", json!({"response": pending}));
    ev.push("response.in_progress", json!({"response": pending}));

    let mut output_index = 0;
    if x.scenario == Scenario::Thinking {
        let id = &ids.reasoning;
        ev.push(
            "response.output_item.added",
            json!({
                "output_index": output_index,
                "item": {"id": id, "type": "reasoning", "summary": []}
            }),
        );
        ev.push(
            "response.reasoning_summary_part.added",
            json!({
                "item_id": id,
                "output_index": output_index,
                "summary_index": 0,
                "part": {"type": "summary_text", "text": ""}
            }),
        );
        ev.push_each(
            "response.reasoning_summary_text.delta",
            json!({
                "item_id": id,
                "output_index": output_index,
                "summary_index": 0,
                "delta": hole(0)
            }),
            THINKING_PIECES,
        );
        let thinking = content::thinking_text();
        ev.push(
            "response.reasoning_summary_text.done",
            json!({
                "item_id": id,
                "output_index": output_index,
                "summary_index": 0,
                "text": thinking
            }),
        );
        ev.push(
            "response.reasoning_summary_part.done",
            json!({
                "item_id": id,
                "output_index": output_index,
                "summary_index": 0,
                "part": {"type": "summary_text", "text": thinking}
            }),
        );
        ev.push(
            "response.output_item.done",
            json!({"output_index": output_index, "item": reasoning_item(&ids)}),
        );
        output_index += 1;
    }

    match x.scenario {
        Scenario::Text | Scenario::Thinking => {
            let id = &ids.message;
            ev.push(
                "response.output_item.added",
                json!({
                    "output_index": output_index,
                    "item": message_item(&ids, "in_progress", Vec::new())
                }),
            );
            ev.push(
                "response.content_part.added",
                json!({
                    "item_id": id,
                    "output_index": output_index,
                    "content_index": 0,
                    "part": text_part("")
                }),
            );
            let pieces = content::text_pieces(x.chunks);
            ev.push_each(
                "response.output_text.delta",
                json!({
                    "item_id": id,
                    "output_index": output_index,
                    "content_index": 0,
                    "delta": hole(0),
                    "logprobs": []
                }),
                pieces.iter().map(String::as_str),
            );
            let text = pieces.concat();
            ev.push(
                "response.output_text.done",
                json!({
                    "item_id": id,
                    "output_index": output_index,
                    "content_index": 0,
                    "text": text,
                    "logprobs": []
                }),
            );
            ev.push(
                "response.content_part.done",
                json!({
                    "item_id": id,
                    "output_index": output_index,
                    "content_index": 0,
                    "part": text_part(&text)
                }),
            );
            ev.push(
                "response.output_item.done",
                json!({
                    "output_index": output_index,
                    "item": message_item(&ids, "completed", vec![text_part(&text)])
                }),
            );
        }
        Scenario::ToolCall => {
            let id = &ids.call_item;
            ev.push(
                "response.output_item.added",
                json!({
                    "output_index": output_index,
                    "item": call_item(x, &ids, "in_progress", "")
                }),
            );
            ev.push_each(
                "response.function_call_arguments.delta",
                json!({"item_id": id, "output_index": output_index, "delta": hole(0)}),
                content::argument_pieces(x.chunks),
            );
            ev.push(
                "response.function_call_arguments.done",
                json!({"item_id": id, "output_index": output_index, "arguments": TOOL_ARGUMENTS}),
            );
            ev.push(
                "response.output_item.done",
                json!({
                    "output_index": output_index,
                    "item": call_item(x, &ids, "completed", TOOL_ARGUMENTS)
                }),
            );
        }
    }

    let done = response_value(x, &ids, "completed", final_output(x, &ids), usage_value(&x.usage));
    ev.push("response.completed", json!({"response": done}));
    ev.events
}
