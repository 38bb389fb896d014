//! Google Gemini: `GenerateContentResponse` bodies, the `streamGenerateContent` chunks (as SSE
//! `data:` events with `?alt=sse`, or as one streamed JSON array without it), `countTokens`,
//! the model list and the Google error shape.

use bytes::Bytes;
use serde_json::{Value, json};

use super::content::{self, SIGNATURE, THINKING_PIECES, TOOL_ARGUMENTS};
use super::{Exchange, GeminiFraming, Usage};
use crate::config::Scenario;
use crate::sse;
use crate::template::{Fill, Template, hole};

/// Google's canonical status name for an HTTP status.
pub(crate) fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 | 529 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        s if (400..500).contains(&s) => "FAILED_PRECONDITION",
        _ => "UNKNOWN",
    }
}

/// `{"error":{"code":..,"message":..,"status":..}}`.
fn error_value(status: u16, message: &str) -> Value {
    json!({"error": {"code": status, "message": message, "status": status_name(status)}})
}

/// The JSON error body.
pub(crate) fn error_body(status: u16, message: &str) -> Bytes {
    sse::json(&error_value(status, message))
}

/// The error as the first (only) element of a stream in the given framing.
pub(crate) fn error_event(status: u16, message: &str, framing: GeminiFraming) -> Bytes {
    let value = error_value(status, message);
    match framing {
        GeminiFraming::Sse => sse::data(&value),
        GeminiFraming::JsonArray => {
            let mut out = b"[".to_vec();
            out.extend_from_slice(&sse::json(&value));
            out.push(b']');
            Bytes::from(out)
        }
    }
}

/// The `usageMetadata` object; `final_chunk` adds the output counts.
fn usage_value(usage: &Usage, final_chunk: bool) -> Value {
    let mut value = json!({
        "promptTokenCount": usage.prompt,
        "totalTokenCount": usage.prompt,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.prompt}]
    });
    if usage.cache_read > 0 {
        value["cachedContentTokenCount"] = Value::from(usage.cache_read);
    }
    if final_chunk {
        value["candidatesTokenCount"] = Value::from(usage.output);
        value["totalTokenCount"] = Value::from(usage.prompt + usage.output + usage.reasoning);
        if usage.reasoning > 0 {
            value["thoughtsTokenCount"] = Value::from(usage.reasoning);
        }
    }
    value
}

/// One `GenerateContentResponse`.
fn response(x: &Exchange, id: &str, parts: Vec<Value>, finish: bool) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if finish {
        candidate["finishReason"] = Value::from("STOP");
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": usage_value(&x.usage, finish),
        "modelVersion": x.model,
        "responseId": id
    })
}

/// The thought part carrying the signature.
fn thought_part(text: &str, signed: bool) -> Value {
    let mut part = json!({"text": text, "thought": true});
    if signed {
        part["thoughtSignature"] = Value::from(SIGNATURE);
    }
    part
}

/// The function-call part.
fn call_part(x: &Exchange) -> Value {
    let args: Value = serde_json::from_str(TOOL_ARGUMENTS).unwrap_or(Value::Null);
    json!({"functionCall": {"name": x.tool, "args": args}})
}

/// The non-streaming body.
pub(crate) fn complete(x: &Exchange) -> Bytes {
    let mut parts = Vec::with_capacity(2);
    if x.scenario == Scenario::Thinking {
        parts.push(thought_part(&content::thinking_text(), true));
    }
    match x.scenario {
        Scenario::Text | Scenario::Thinking => {
            parts.push(json!({"text": content::text_pieces(x.chunks).concat()}));
        }
        Scenario::ToolCall => parts.push(call_part(x)),
    }
    sse::json(&response(x, &content::new_id(""), parts, true))
}

/// The streamed chunks in the given framing. Gemini sends a function call whole, in one chunk.
pub(crate) fn stream(x: &Exchange, framing: GeminiFraming) -> Vec<Bytes> {
    let id = content::new_id("");
    let mut chunks: Vec<Bytes> = Vec::with_capacity(x.chunks + 4);
    if x.scenario == Scenario::Thinking {
        let last = THINKING_PIECES.len() - 1;
        for (i, piece) in THINKING_PIECES.iter().enumerate() {
            chunks.push(sse::json(&response(
                x,
                &id,
                vec![thought_part(piece, i == last)],
                false,
            )));
        }
    }
    match x.scenario {
        Scenario::Text | Scenario::Thinking => {
            let pieces = content::text_pieces(x.chunks);
            let text = Template::new(&sse::json(&response(x, &id, vec![json!({"text": hole(0)})], false)), 1);
            if let Some((last, rest)) = pieces.split_last() {
                chunks.extend(rest.iter().map(|piece| text.fill(&[Fill::Str(piece)])));
                chunks.push(sse::json(&response(x, &id, vec![json!({"text": last})], true)));
            }
        }
        Scenario::ToolCall => chunks.push(sse::json(&response(x, &id, vec![call_part(x)], true))),
    }
    let count = chunks.len();
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| match framing {
            GeminiFraming::Sse => sse::data_json(chunk),
            GeminiFraming::JsonArray => {
                let mut out = Vec::with_capacity(chunk.len() + 4);
                out.extend_from_slice(if i == 0 { b"[" } else { b",\r\n" });
                out.extend_from_slice(chunk);
                if i + 1 == count {
                    out.push(b']');
                }
                Bytes::from(out)
            }
        })
        .collect()
}

/// `countTokens`: `{"totalTokens": N}`.
pub(crate) fn count_tokens(usage: &Usage) -> Bytes {
    sse::json(&json!({
        "totalTokens": usage.prompt,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.prompt}]
    }))
}

/// `GET /v1beta/models` in Google's shape.
pub(crate) fn model_list(models: &[&str]) -> Bytes {
    let list: Vec<Value> = models
        .iter()
        .map(|id| {
            json!({
                "name": format!("models/{id}"),
                "displayName": id,
                "supportedGenerationMethods": ["generateContent", "countTokens"]
            })
        })
        .collect();
    sse::json(&json!({"models": list}))
}
