//! An upstream's Responses stream as IR events, one event at a time.
//!
//! - `response.created` → `start` (id, model, any usage so far).
//! - `response.output_text.delta` (and `response.refusal.delta`) → a text block, opened at
//!   the first non-empty delta (never an empty block).
//! - `response.reasoning_summary_text.delta` (and `response.reasoning_text.delta`) → a
//!   thinking block; later summary parts are joined with a blank line. The reasoning item's
//!   `encrypted_content` (in `response.output_item.done`) → a `signature` delta.
//! - A `function_call` item → a tool-call block (the `call_id` is the IR id), its
//!   `response.function_call_arguments.delta`s → `tool-arguments` deltas.
//! - `response.completed` / `response.incomplete` → `finish` (tool-use whenever a function
//!   call was streamed); `response.failed` and `error` → an `error` event. A stream that
//!   ends without one of them ends with an "upstream stream ended early" error.

use std::borrow::Cow;

use aether_plugin_sdk::StreamDecode;
use aether_plugin_sdk::types::{
    BlockDelta, BlockKind, BlockStart, DeltaKind, ErrorClass, ErrorInfo, PluginError, SseEvent, StreamEvent,
    StreamFinish, StreamStart, ToolCallStart, Usage,
};
use aether_plugin_sdk::usage;
use serde::Deserialize;

use crate::error;
use crate::stop::{Incomplete, Seen, Status};
use crate::wire::{Item, ItemKind, PartKind, ResponseObject, StrOr};

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    delta: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<Cow<'a, str>>,
    #[serde(default)]
    summary_index: Option<u32>,
    #[serde(borrow, default)]
    item: Option<Item<'a>>,
    #[serde(borrow, default)]
    response: Option<ResponseObject<'a>>,
    #[serde(borrow, default)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

/// The kind of the block that is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    ToolCall,
}

/// Where the stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing yet (no `start`).
    Waiting,
    /// `start` was emitted.
    Started,
    /// `finish` or `error` was emitted: nothing more.
    Ended,
}

/// Whether the current item's content has been seen as deltas (so its `.done` repeats it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Streamed {
    No,
    Yes,
}

/// One upstream stream's state.
pub struct Decoder {
    phase: Phase,
    open: Option<(u32, Open)>,
    next_index: u32,
    seen: Seen,
    /// Whether the current item's text, summary or arguments came as deltas.
    streamed: Streamed,
    /// A new summary part started after text: its first delta begins with a blank line.
    separator: bool,
    start_usage: Usage,
}

impl Decoder {
    /// A decoder for a new stream.
    pub fn new() -> Decoder {
        Decoder {
            phase: Phase::Waiting,
            open: None,
            next_index: 0,
            seen: Seen::Plain,
            streamed: Streamed::No,
            separator: false,
            start_usage: usage::zero(),
        }
    }

    fn start(&mut self, response: Option<&ResponseObject<'_>>, out: &mut Vec<StreamEvent>) {
        if self.phase != Phase::Waiting {
            return;
        }
        self.phase = Phase::Started;
        if let Some(u) = response.and_then(|r| r.usage.as_ref()) {
            self.start_usage = u.to_ir();
        }
        out.push(StreamEvent::Start(StreamStart {
            id: response.and_then(|r| r.id.as_deref()).unwrap_or_default().to_owned(),
            model: response.and_then(|r| r.model.as_deref()).unwrap_or_default().to_owned(),
            usage: self.start_usage,
        }));
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push(StreamEvent::BlockStop(index));
        }
    }

    fn open(&mut self, kind: BlockKind, open: Open, out: &mut Vec<StreamEvent>) -> u32 {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, open));
        out.push(StreamEvent::BlockStart(BlockStart { index, kind }));
        index
    }

    /// The open block of this kind, opening one if needed.
    fn ensure(&mut self, open: Open, out: &mut Vec<StreamEvent>) -> u32 {
        match self.open {
            Some((index, kind)) if kind == open => index,
            _ => {
                let kind = match open {
                    Open::Text => BlockKind::Text,
                    _ => BlockKind::Thinking,
                };
                self.open(kind, open, out)
            }
        }
    }

    fn delta(index: u32, delta: DeltaKind, out: &mut Vec<StreamEvent>) {
        out.push(StreamEvent::BlockDelta(BlockDelta { index, delta }));
    }

    fn text(&mut self, text: &str, out: &mut Vec<StreamEvent>) {
        if text.is_empty() {
            return;
        }
        let index = self.ensure(Open::Text, out);
        self.streamed = Streamed::Yes;
        Self::delta(index, DeltaKind::Text(text.to_owned()), out);
    }

    fn thinking(&mut self, text: &str, out: &mut Vec<StreamEvent>) {
        if text.is_empty() {
            return;
        }
        let index = self.ensure(Open::Thinking, out);
        let text = if std::mem::take(&mut self.separator) {
            format!("\n\n{text}")
        } else {
            text.to_owned()
        };
        self.streamed = Streamed::Yes;
        Self::delta(index, DeltaKind::Thinking(text), out);
    }

    fn arguments(&mut self, arguments: &str, out: &mut Vec<StreamEvent>) {
        if let Some((index, Open::ToolCall)) = self.open
            && !arguments.is_empty()
        {
            self.streamed = Streamed::Yes;
            Self::delta(index, DeltaKind::ToolArguments(arguments.to_owned()), out);
        }
    }

    fn tool_call(&mut self, item: &Item<'_>, out: &mut Vec<StreamEvent>) {
        self.seen = Seen::ToolCall;
        self.streamed = Streamed::No;
        let id = item.call_id.as_deref().or(item.id.as_deref()).unwrap_or_default();
        let kind = BlockKind::ToolCall(ToolCallStart {
            id: id.to_owned(),
            name: item.name.as_deref().unwrap_or_default().to_owned(),
            signature: None,
        });
        self.open(kind, Open::ToolCall, out);
        self.arguments(item.arguments.as_deref().unwrap_or_default(), out);
    }

    fn item_added(&mut self, item: &Item<'_>, out: &mut Vec<StreamEvent>) {
        self.close(out);
        self.streamed = Streamed::No;
        self.separator = false;
        if item.item_kind() == ItemKind::FunctionCall {
            self.tool_call(item, out);
        }
    }

    fn item_done(&mut self, item: &Item<'_>, out: &mut Vec<StreamEvent>) {
        match item.item_kind() {
            ItemKind::Reasoning => {
                if self.streamed == Streamed::No {
                    self.thinking(&item.reasoning_text(), out);
                }
                if let Some(sig) = item.encrypted_content.as_deref() {
                    let index = self.ensure(Open::Thinking, out);
                    Self::delta(index, DeltaKind::Signature(sig.to_owned()), out);
                }
            }
            ItemKind::FunctionCall => {
                if !matches!(self.open, Some((_, Open::ToolCall))) {
                    self.tool_call(item, out);
                } else if self.streamed == Streamed::No {
                    self.arguments(item.arguments.as_deref().unwrap_or_default(), out);
                }
            }
            ItemKind::Message => {
                if self.streamed == Streamed::No
                    && let Some(StrOr::List(parts)) = &item.content
                {
                    for part in parts {
                        match part.part_kind() {
                            PartKind::Text => self.text(part.text.as_deref().unwrap_or_default(), out),
                            PartKind::Refusal => {
                                self.refused();
                                self.text(part.refusal.as_deref().unwrap_or_default(), out);
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
        self.close(out);
        self.streamed = Streamed::No;
    }

    fn refused(&mut self) {
        if self.seen == Seen::Plain {
            self.seen = Seen::Refusal;
        }
    }

    fn end(&mut self, kind: &str, response: Option<&ResponseObject<'_>>, out: &mut Vec<StreamEvent>) {
        self.start(response, out);
        self.close(out);
        self.phase = Phase::Ended;
        let status = match response.map(ResponseObject::status) {
            Some(s) if s != Status::InProgress => s,
            _ if kind == "response.incomplete" => Status::Incomplete(Incomplete::MaxOutputTokens),
            _ => Status::Completed,
        };
        let mut usage = self.start_usage;
        if let Some(u) = response.and_then(|r| r.usage.as_ref()) {
            usage::raise(&mut usage, &u.to_ir());
        }
        out.push(StreamEvent::Finish(StreamFinish {
            stop_reason: status.stop_reason(self.seen),
            usage,
        }));
    }

    fn fail(&mut self, info: ErrorInfo, out: &mut Vec<StreamEvent>) {
        self.close(out);
        self.phase = Phase::Ended;
        out.push(StreamEvent::Error(info));
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl StreamDecode for Decoder {
    fn push(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, PluginError> {
        let mut out = Vec::new();
        if self.phase == Phase::Ended || event.data.trim() == "[DONE]" {
            return Ok(out);
        }
        let e: Event<'_> = serde_json::from_str(&event.data).map_err(|err| {
            PluginError::InvalidRequest(format!("upstream stream event is not a Responses event: {err}"))
        })?;
        let kind = e.kind.as_deref().or(event.name.as_deref()).unwrap_or_default();
        match kind {
            "response.created" | "response.in_progress" | "response.queued" => {
                self.start(e.response.as_ref(), &mut out)
            }
            "response.completed" | "response.incomplete" => self.end(kind, e.response.as_ref(), &mut out),
            "response.failed" => {
                self.start(e.response.as_ref(), &mut out);
                let err = e.response.as_ref().and_then(|r| r.error.as_ref());
                let info = error::in_stream(
                    err.and_then(|x| x.code.as_deref()),
                    err.and_then(|x| x.message.as_deref()),
                );
                self.fail(info, &mut out);
            }
            "error" => self.fail(error::in_stream(e.code.as_deref(), e.message.as_deref()), &mut out),
            _ => {
                self.start(None, &mut out);
                let delta = e.delta.as_deref().unwrap_or_default();
                match kind {
                    "response.output_item.added" => {
                        if let Some(item) = &e.item {
                            self.item_added(item, &mut out);
                        }
                    }
                    "response.output_item.done" => {
                        if let Some(item) = &e.item {
                            self.item_done(item, &mut out);
                        }
                    }
                    "response.output_text.delta" => self.text(delta, &mut out),
                    "response.refusal.delta" => {
                        self.refused();
                        self.text(delta, &mut out);
                    }
                    "response.reasoning_summary_part.added" => {
                        self.separator = e.summary_index.unwrap_or(0) > 0 && self.streamed == Streamed::Yes;
                    }
                    "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                        self.thinking(delta, &mut out);
                    }
                    "response.function_call_arguments.delta" => self.arguments(delta, &mut out),
                    "response.function_call_arguments.done" if self.streamed == Streamed::No => {
                        self.arguments(e.arguments.as_deref().unwrap_or_default(), &mut out);
                    }
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, PluginError> {
        let mut out = Vec::new();
        if self.phase != Phase::Ended {
            self.fail(
                ErrorInfo {
                    class: ErrorClass::Internal,
                    status: 502,
                    message: "upstream stream ended early".into(),
                },
                &mut out,
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::StopReason;
    use serde_json::{Value, json};

    fn run(events: &[Value]) -> Vec<StreamEvent> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for e in events {
            let name = e["type"].as_str().map(str::to_owned);
            out.extend(
                d.push(&SseEvent {
                    name,
                    data: e.to_string(),
                })
                .unwrap(),
            );
        }
        out.extend(d.finish().unwrap());
        out
    }

    fn created() -> Value {
        json!({"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1", "model": "gpt-5", "status": "in_progress", "output": [], "usage": null}})
    }

    fn completed(output: Value, usage: Value) -> Value {
        json!({"type": "response.completed", "response": {"id": "resp_1", "status": "completed", "output": output, "usage": usage}})
    }

    #[test]
    fn text_without_empty_blocks() {
        let out = run(&[
            created(),
            json!({"type": "response.in_progress"}),
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "msg_1", "content": [], "role": "assistant"}}),
            json!({"type": "response.content_part.added", "item_id": "msg_1", "part": {"type": "output_text", "text": ""}}),
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "delta": ""}),
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "delta": "Hi"}),
            json!({"type": "response.output_text.done", "item_id": "msg_1", "text": "Hi"}),
            json!({"type": "response.output_item.done", "item": {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "Hi"}]}}),
            completed(
                json!([]),
                json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 2}),
            ),
        ]);
        assert_eq!(out.len(), 5, "{out:?}");
        assert!(matches!(&out[0], StreamEvent::Start(s) if s.id == "resp_1" && s.model == "gpt-5"));
        assert!(matches!(
            &out[1],
            StreamEvent::BlockStart(BlockStart {
                index: 0,
                kind: BlockKind::Text
            })
        ));
        assert!(matches!(&out[2], StreamEvent::BlockDelta(BlockDelta { delta: DeltaKind::Text(t), .. }) if t == "Hi"));
        assert_eq!(out[3], StreamEvent::BlockStop(0));
        let StreamEvent::Finish(f) = &out[4] else { panic!() };
        assert_eq!(f.stop_reason, Some(StopReason::EndTurn));
        assert_eq!((f.usage.input, f.usage.cache_read, f.usage.output), (6, 4, 2));
    }

    #[test]
    fn reasoning_with_two_summaries_and_signature_then_tool_call() {
        let out = run(&[
            created(),
            json!({"type": "response.output_item.added", "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
            json!({"type": "response.reasoning_summary_part.added", "summary_index": 0}),
            json!({"type": "response.reasoning_summary_text.delta", "summary_index": 0, "delta": "a"}),
            json!({"type": "response.reasoning_summary_part.added", "summary_index": 1}),
            json!({"type": "response.reasoning_summary_text.delta", "summary_index": 1, "delta": "b"}),
            json!({"type": "response.output_item.done", "item": {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "ENC"}}),
            json!({"type": "response.output_item.added", "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": ""}}),
            json!({"type": "response.function_call_arguments.delta", "delta": "{\"a\""}),
            json!({"type": "response.function_call_arguments.delta", "delta": ":1}"}),
            json!({"type": "response.function_call_arguments.done", "arguments": "{\"a\":1}"}),
            json!({"type": "response.output_item.done", "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{\"a\":1}"}}),
            completed(json!([]), json!({"input_tokens": 1, "output_tokens": 1})),
        ]);
        let deltas: Vec<&DeltaKind> = out
            .iter()
            .filter_map(|e| match e {
                StreamEvent::BlockDelta(d) => Some(&d.delta),
                _ => None,
            })
            .collect();
        assert_eq!(
            deltas,
            vec![
                &DeltaKind::Thinking("a".into()),
                &DeltaKind::Thinking("\n\nb".into()),
                &DeltaKind::Signature("ENC".into()),
                &DeltaKind::ToolArguments("{\"a\"".into()),
                &DeltaKind::ToolArguments(":1}".into()),
            ]
        );
        assert!(out.iter().any(|e| matches!(e, StreamEvent::BlockStart(BlockStart { index: 1, kind: BlockKind::ToolCall(c) }) if c.id == "call_1")));
        let StreamEvent::Finish(f) = out.last().unwrap() else {
            panic!()
        };
        assert_eq!(f.stop_reason, Some(StopReason::ToolUse));
    }

    #[test]
    fn items_that_arrive_only_when_done() {
        let out = run(&[
            created(),
            json!({"type": "response.output_item.done", "item": {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}}),
            json!({"type": "response.output_item.added", "item": {"type": "message"}}),
            json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "refusal", "refusal": "no"}]}}),
            json!({"type": "response.incomplete", "response": {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}}),
        ]);
        assert_eq!(out.len(), 8, "{out:?}");
        let StreamEvent::Finish(f) = out.last().unwrap() else {
            panic!()
        };
        assert_eq!(f.stop_reason, Some(StopReason::ToolUse));
    }

    #[test]
    fn errors_and_early_ends() {
        let out = run(&[
            created(),
            json!({"type": "error", "code": "rate_limit_exceeded", "message": "slow"}),
        ]);
        assert!(matches!(&out[1], StreamEvent::Error(e) if e.class == ErrorClass::RateLimited && e.status == 429));
        let out = run(&[
            created(),
            json!({"type": "response.failed", "response": {"status": "failed", "error": {"code": "server_error", "message": "x"}}}),
        ]);
        assert!(matches!(&out[1], StreamEvent::Error(e) if e.class == ErrorClass::Internal && e.message == "x"));
        let out = run(&[created(), json!({"type": "response.output_text.delta", "delta": "a"})]);
        assert_eq!(out[2..].len(), 3);
        assert_eq!(out[3], StreamEvent::BlockStop(0));
        assert!(matches!(&out[4], StreamEvent::Error(e) if e.message.contains("ended early")));
        let mut d = Decoder::new();
        assert!(
            d.push(&SseEvent {
                name: None,
                data: "{".into()
            })
            .is_err()
        );
    }
}
