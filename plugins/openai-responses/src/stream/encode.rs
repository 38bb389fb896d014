//! IR stream events as the SSE a Responses client expects, exactly as OpenAI streams it:
//! every event is `event: <type>` with data carrying the same `type` and a
//! `sequence_number` counting from 0.
//!
//! `start` → `response.created`, `response.in_progress`. A text block →
//! `response.output_item.added` (message), `response.content_part.added`,
//! `response.output_text.delta`…, `response.output_text.done`,
//! `response.content_part.done`, `response.output_item.done` (opened at its first non-empty
//! delta, so an empty block writes nothing). A thinking block → a reasoning item with
//! `response.reasoning_summary_part.added`, `response.reasoning_summary_text.delta`…,
//! `.done`, `response.reasoning_summary_part.done`, and `encrypted_content` (the signature)
//! in its `response.output_item.done`. A tool call → a function_call item with
//! `response.function_call_arguments.delta`… and `.done`; a Gemini `thought_signature` on the
//! call goes first in a reasoning item of its own (`encrypted_content`), as in
//! `response::encode`. `finish` → `response.completed`
//! (or `response.incomplete` / `response.failed`) with every item emitted and the usage.
//! `error` → `response.created` if not sent yet, then `error` and `response.failed`.
//!
//! Splices: every event carries the next sequence number and the closing events repeat the
//! whole text, so the encoder offers counted splices (`aether_plugin_sdk::splice`): the
//! host numbers each delta it splices, and hands the next `push` the run it wrote, which
//! the encoder takes as if it had written it (the text joins the item's, the sequence moves
//! on by the count).

use aether_plugin_sdk::types::{
    BlockKind, DeltaKind, EncodeSplice, ErrorInfo, PluginError, SpliceKey, SpliceKind, SplicedRun, StreamEvent,
    StreamFinish, StreamStart, Usage,
};
use aether_plugin_sdk::{StreamEncode, splice, sse, usage};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::stream_code;
use crate::ids::{self, ItemPrefix};
use crate::items::{self, ItemStatus, TextStyle};
use crate::response::encode::{Envelope, ResponseError, envelope, now};
use crate::stop::Status;

/// Which delta event.
#[derive(Debug, Clone, Copy)]
enum DeltaOf {
    /// `response.output_text.delta`.
    Text,
    /// `response.reasoning_summary_text.delta`.
    Summary,
    /// `response.function_call_arguments.delta`.
    Arguments,
}

/// Where the stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `response.created` not sent yet.
    Waiting,
    /// Sent; items may follow.
    Started,
    /// The terminal event was sent: nothing more.
    Ended,
}

/// The output item being streamed.
#[derive(Debug)]
enum Current {
    /// None.
    Idle,
    /// A text block opened but nothing written yet (it may stay empty).
    PendingText,
    /// A message item.
    Text { id: String, index: usize, text: String },
    /// A reasoning item; `summary` is whether its summary part was opened.
    Reasoning {
        id: String,
        index: usize,
        text: String,
        signature: Option<String>,
        summary: bool,
    },
    /// A function_call item.
    Call {
        id: String,
        index: usize,
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// `data` of an event: its type and sequence number first, then its own fields.
#[derive(Serialize)]
struct Event<'a, B: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    sequence_number: u64,
    #[serde(flatten)]
    body: B,
}

/// `response.output_item.added` and `.done`.
#[derive(Serialize)]
struct ItemEvent<'a, I: ?Sized + Serialize> {
    output_index: usize,
    item: &'a I,
}

/// `response.content_part.added` and `.done`.
#[derive(Serialize)]
struct PartEvent<'a, T: ?Sized + Serialize> {
    item_id: &'a str,
    output_index: usize,
    content_index: u32,
    part: items::Part<'a, T>,
}

/// `response.output_text.done`.
#[derive(Serialize)]
struct TextDone<'a> {
    item_id: &'a str,
    output_index: usize,
    content_index: u32,
    text: &'a RawValue,
    logprobs: [(); 0],
}

/// `response.reasoning_summary_part.added` and `.done`.
#[derive(Serialize)]
struct SummaryPartEvent<'a, T: ?Sized + Serialize> {
    item_id: &'a str,
    output_index: usize,
    summary_index: u32,
    part: items::SummaryPart<'a, T>,
}

/// `response.reasoning_summary_text.done`.
#[derive(Serialize)]
struct SummaryTextDone<'a> {
    item_id: &'a str,
    output_index: usize,
    summary_index: u32,
    text: &'a RawValue,
}

/// `response.function_call_arguments.done`.
#[derive(Serialize)]
struct ArgumentsDone<'a> {
    item_id: &'a str,
    output_index: usize,
    arguments: &'a RawValue,
}

/// `response.created`, `.in_progress` and the terminal events.
#[derive(Serialize)]
struct ResponseEvent<'a> {
    response: Envelope<'a, [Box<RawValue>]>,
}

/// `error`.
#[derive(Serialize)]
struct ErrorEvent<'a> {
    code: &'a str,
    message: &'a str,
    param: (),
}

/// Writes one event numbered `sequence` into `out`, and moves the sequence on.
fn write_event<B: Serialize>(out: &mut Vec<u8>, sequence: &mut u64, kind: &str, body: B) -> Result<(), PluginError> {
    let event = Event {
        kind,
        sequence_number: *sequence,
        body,
    };
    sse::json_event(out, Some(kind), &event)
        .map_err(|e| PluginError::Internal(format!("a Responses {kind} event did not serialise: {e}")))?;
    *sequence += 1;
    Ok(())
}

/// `value` written as JSON once, to be repeated as it is.
fn written(value: &(impl Serialize + ?Sized)) -> Result<Box<RawValue>, PluginError> {
    serde_json::value::to_raw_value(value)
        .map_err(|e| PluginError::Internal(format!("a Responses output item did not serialise: {e}")))
}

/// One client stream's state: the sequence number, the items already emitted (which
/// `response.completed` carries, written once when each item was done) and the item being
/// streamed.
pub struct Encoder {
    model: String,
    phase: Phase,
    sequence: u64,
    id: String,
    created_at: u64,
    output: Vec<Box<RawValue>>,
    current: Current,
    /// The IR index of the block open now, if any (what a splice's key must name).
    open_block: Option<u32>,
    usage: Usage,
    out: Vec<u8>,
}

impl Encoder {
    /// An encoder for a client that asked for `model`.
    pub fn new(model: &str) -> Encoder {
        Encoder {
            model: model.to_owned(),
            phase: Phase::Waiting,
            sequence: 0,
            id: ids::response_id(""),
            created_at: now(),
            output: Vec::new(),
            current: Current::Idle,
            open_block: None,
            usage: usage::zero(),
            out: Vec::new(),
        }
    }

    fn emit(&mut self, kind: &str, body: impl Serialize) -> Result<(), PluginError> {
        write_event(&mut self.out, &mut self.sequence, kind, body)
    }

    /// A delta event of the item `item_id` at `output_index`: most of a stream's events, so
    /// written field by field in OpenAI's order, with serde_json writing only the values
    /// (the keys and the event type need no escaping).
    fn emit_delta(
        out: &mut Vec<u8>,
        sequence: &mut u64,
        of: DeltaOf,
        item_id: &str,
        output_index: usize,
        delta: &str,
    ) -> Result<(), PluginError> {
        let (kind, part, logprobs): (&str, &[u8], &[u8]) = match of {
            DeltaOf::Text => (
                "response.output_text.delta",
                br#","content_index":0"#,
                br#","logprobs":[]"#,
            ),
            DeltaOf::Summary => ("response.reasoning_summary_text.delta", br#","summary_index":0"#, b""),
            DeltaOf::Arguments => ("response.function_call_arguments.delta", b"", b""),
        };
        let start = out.len();
        let written = (|| {
            sse::event_head(out, Some(kind));
            out.extend_from_slice(b"{\"type\":\"");
            out.extend_from_slice(kind.as_bytes());
            out.extend_from_slice(br#"","sequence_number":"#);
            serde_json::to_writer(&mut *out, sequence)?;
            out.extend_from_slice(br#","item_id":"#);
            serde_json::to_writer(&mut *out, item_id)?;
            out.extend_from_slice(br#","output_index":"#);
            serde_json::to_writer(&mut *out, &output_index)?;
            out.extend_from_slice(part);
            out.extend_from_slice(br#","delta":"#);
            serde_json::to_writer(&mut *out, delta)?;
            out.extend_from_slice(logprobs);
            out.extend_from_slice(b"}\n\n");
            Ok::<(), serde_json::Error>(())
        })();
        if let Err(e) = written {
            out.truncate(start);
            return Err(PluginError::Internal(format!(
                "a Responses delta event did not serialise: {e}"
            )));
        }
        *sequence += 1;
        Ok(())
    }

    /// A response event (`kind`) carrying the items emitted so far.
    fn emit_response(
        &mut self,
        kind: &str,
        status: Status,
        usage: Option<&Usage>,
        error: Option<ResponseError<'_>>,
    ) -> Result<(), PluginError> {
        let response = envelope(
            &self.id,
            self.created_at,
            &self.model,
            status,
            &self.output[..],
            usage,
            error,
        );
        write_event(&mut self.out, &mut self.sequence, kind, ResponseEvent { response })
    }

    fn start(&mut self, start: Option<&StreamStart>) -> Result<(), PluginError> {
        if self.phase != Phase::Waiting {
            return Ok(());
        }
        self.phase = Phase::Started;
        if let Some(s) = start {
            self.id = ids::response_id(&s.id);
            self.usage = s.usage;
        }
        self.emit_response("response.created", Status::InProgress, None, None)?;
        self.emit_response("response.in_progress", Status::InProgress, None, None)
    }

    fn item_id(&self, prefix: ItemPrefix) -> (String, usize) {
        let index = self.output.len();
        (ids::item_id(prefix, &self.id, index), index)
    }

    fn added(&mut self, output_index: usize, item: &impl Serialize) -> Result<(), PluginError> {
        self.emit("response.output_item.added", ItemEvent { output_index, item })
    }

    /// A reasoning item opened for a thinking block (`signature` for redacted thinking).
    fn open_reasoning(&mut self, signature: Option<String>) -> Result<Current, PluginError> {
        let (id, index) = self.item_id(ItemPrefix::Reasoning);
        self.added(index, &items::reasoning::<str>(&id, None, None))?;
        Ok(Current::Reasoning {
            id,
            index,
            text: String::new(),
            signature,
            summary: false,
        })
    }

    fn block_start(&mut self, kind: &BlockKind) -> Result<(), PluginError> {
        self.close()?;
        self.current = match kind {
            BlockKind::Text => Current::PendingText,
            BlockKind::Thinking => self.open_reasoning(None)?,
            BlockKind::RedactedThinking(data) => self.open_reasoning(Some(data.clone()))?,
            BlockKind::ToolCall(c) => {
                if let Some(sig) = &c.signature {
                    let (id, index) = self.item_id(ItemPrefix::Reasoning);
                    self.added(index, &items::reasoning::<str>(&id, None, None))?;
                    self.done_item(index, &items::reasoning::<str>(&id, None, Some(sig)))?;
                }
                let (id, index) = self.item_id(ItemPrefix::FunctionCall);
                self.added(
                    index,
                    &items::function_call(&id, &c.id, &c.name, "", ItemStatus::InProgress),
                )?;
                Current::Call {
                    id,
                    index,
                    call_id: c.id.clone(),
                    name: c.name.clone(),
                    arguments: String::new(),
                }
            }
        };
        Ok(())
    }

    fn text_delta(&mut self, delta: &str) -> Result<(), PluginError> {
        if delta.is_empty() {
            return Ok(());
        }
        if matches!(self.current, Current::PendingText | Current::Idle) {
            let (id, index) = self.item_id(ItemPrefix::Message);
            self.added(index, &items::message::<str>(&id, ItemStatus::InProgress, Vec::new()))?;
            self.emit(
                "response.content_part.added",
                PartEvent {
                    item_id: &id,
                    output_index: index,
                    content_index: 0,
                    part: items::text_part(TextStyle::Output, ""),
                },
            )?;
            self.current = Current::Text {
                id,
                index,
                text: String::new(),
            };
        }
        if let Current::Text { id, index, text } = &mut self.current {
            text.push_str(delta);
            Self::emit_delta(&mut self.out, &mut self.sequence, DeltaOf::Text, id, *index, delta)?;
        }
        Ok(())
    }

    fn thinking_delta(&mut self, delta: &str) -> Result<(), PluginError> {
        if delta.is_empty() {
            return Ok(());
        }
        let Current::Reasoning {
            id,
            index,
            text,
            summary,
            ..
        } = &mut self.current
        else {
            return Ok(());
        };
        text.push_str(delta);
        let index = *index;
        if !*summary {
            *summary = true;
            write_event(
                &mut self.out,
                &mut self.sequence,
                "response.reasoning_summary_part.added",
                SummaryPartEvent {
                    item_id: id,
                    output_index: index,
                    summary_index: 0,
                    part: items::summary_part(""),
                },
            )?;
        }
        Self::emit_delta(&mut self.out, &mut self.sequence, DeltaOf::Summary, id, index, delta)
    }

    fn delta(&mut self, delta: &DeltaKind) -> Result<(), PluginError> {
        match delta {
            DeltaKind::Text(t) => self.text_delta(t)?,
            DeltaKind::Thinking(t) => self.thinking_delta(t)?,
            DeltaKind::Signature(s) => {
                if let Current::Reasoning { signature, .. } = &mut self.current {
                    *signature = Some(s.clone());
                }
            }
            DeltaKind::ToolArguments(a) => {
                if let Current::Call {
                    id, index, arguments, ..
                } = &mut self.current
                    && !a.is_empty()
                {
                    arguments.push_str(a);
                    Self::emit_delta(&mut self.out, &mut self.sequence, DeltaOf::Arguments, id, *index, a)?;
                }
            }
        }
        Ok(())
    }

    /// Closes the item being streamed with its `.done` events. Its text is escaped once,
    /// and each closing event (and the item kept for `response.completed`) repeats it as
    /// written.
    fn close(&mut self) -> Result<(), PluginError> {
        match std::mem::replace(&mut self.current, Current::Idle) {
            Current::Idle | Current::PendingText => {}
            Current::Text { id, index, text } => {
                let text = written(text.as_str())?;
                self.emit(
                    "response.output_text.done",
                    TextDone {
                        item_id: &id,
                        output_index: index,
                        content_index: 0,
                        text: &text,
                        logprobs: items::NONE,
                    },
                )?;
                self.emit(
                    "response.content_part.done",
                    PartEvent {
                        item_id: &id,
                        output_index: index,
                        content_index: 0,
                        part: items::text_part(TextStyle::Output, &*text),
                    },
                )?;
                let part = items::text_part(TextStyle::Output, &*text);
                self.done_item(index, &items::message(&id, ItemStatus::Completed, vec![part]))?;
            }
            Current::Reasoning {
                id,
                index,
                text,
                signature,
                summary,
            } => {
                let text = (!text.is_empty()).then(|| written(text.as_str())).transpose()?;
                if let Some(text) = text.as_deref().filter(|_| summary) {
                    self.emit(
                        "response.reasoning_summary_text.done",
                        SummaryTextDone {
                            item_id: &id,
                            output_index: index,
                            summary_index: 0,
                            text,
                        },
                    )?;
                    self.emit(
                        "response.reasoning_summary_part.done",
                        SummaryPartEvent {
                            item_id: &id,
                            output_index: index,
                            summary_index: 0,
                            part: items::summary_part(text),
                        },
                    )?;
                }
                self.done_item(index, &items::reasoning(&id, text.as_deref(), signature.as_deref()))?;
            }
            Current::Call {
                id,
                index,
                call_id,
                name,
                arguments,
            } => {
                let arguments = written(arguments.as_str())?;
                self.emit(
                    "response.function_call_arguments.done",
                    ArgumentsDone {
                        item_id: &id,
                        output_index: index,
                        arguments: &arguments,
                    },
                )?;
                let item = items::function_call(&id, &call_id, &name, &*arguments, ItemStatus::Completed);
                self.done_item(index, &item)?;
            }
        }
        Ok(())
    }

    /// `response.output_item.done`; the item, written once, is kept for the terminal event.
    fn done_item(&mut self, output_index: usize, item: &impl Serialize) -> Result<(), PluginError> {
        let item = written(item)?;
        self.emit(
            "response.output_item.done",
            ItemEvent {
                output_index,
                item: &*item,
            },
        )?;
        self.output.push(item);
        Ok(())
    }

    fn finish_stream(&mut self, finish: &StreamFinish) -> Result<(), PluginError> {
        self.close()?;
        usage::raise(&mut self.usage, &finish.usage);
        let status = Status::for_stop(finish.stop_reason);
        let usage = self.usage;
        self.emit_response(status.terminal_event(), status, Some(&usage), None)?;
        self.phase = Phase::Ended;
        Ok(())
    }

    fn fail(&mut self, info: &ErrorInfo) -> Result<(), PluginError> {
        self.start(None)?;
        let code = stream_code(info.class);
        self.emit(
            "error",
            ErrorEvent {
                code,
                message: &info.message,
                param: (),
            },
        )?;
        let usage = self.usage;
        let error = ResponseError {
            code,
            message: &info.message,
        };
        self.emit_response("response.failed", Status::Failed, Some(&usage), Some(error))?;
        self.phase = Phase::Ended;
        Ok(())
    }
}

impl StreamEncode for Encoder {
    fn push(&mut self, events: &[StreamEvent]) -> Result<Vec<u8>, PluginError> {
        for event in events {
            if self.phase == Phase::Ended {
                break;
            }
            match event {
                StreamEvent::Start(s) => self.start(Some(s))?,
                StreamEvent::BlockStart(b) => {
                    self.start(None)?;
                    self.block_start(&b.kind)?;
                    self.open_block = Some(b.index);
                }
                StreamEvent::BlockDelta(d) => {
                    self.start(None)?;
                    self.delta(&d.delta)?;
                }
                StreamEvent::BlockStop(_) => {
                    self.close()?;
                    self.open_block = None;
                }
                StreamEvent::Finish(f) => {
                    self.start(None)?;
                    self.finish_stream(f)?;
                }
                StreamEvent::Error(info) => self.fail(info)?,
            }
        }
        Ok(std::mem::take(&mut self.out))
    }

    /// A counted splice of the delta event of the item open now, when `key` names its block
    /// and kind (a reasoning item only once its summary part is open).
    fn splice(&self, key: SpliceKey) -> Option<EncodeSplice> {
        if self.phase != Phase::Started || self.open_block != Some(key.index) {
            return None;
        }
        let (of, id, index) = match (&self.current, key.kind) {
            (Current::Text { id, index, .. }, SpliceKind::Text) => (DeltaOf::Text, id, *index),
            (
                Current::Reasoning {
                    id,
                    index,
                    summary: true,
                    ..
                },
                SpliceKind::Thinking,
            ) => (DeltaOf::Summary, id, *index),
            (Current::Call { id, index, .. }, SpliceKind::ToolArguments) => (DeltaOf::Arguments, id, *index),
            _ => return None,
        };
        let (mut probe, mut number) = (Vec::new(), splice::COUNTER_PROBE);
        Self::emit_delta(&mut probe, &mut number, of, id, index, splice::PROBE).ok()?;
        splice::encode_splice_counted(key, &probe, self.sequence)
    }

    /// The deltas the host spliced: their text joins the open item's, as if written here.
    fn spliced(&mut self, run: &SplicedRun) {
        match (&mut self.current, run.key.kind) {
            (Current::Text { text, .. }, SpliceKind::Text)
            | (Current::Reasoning { text, .. }, SpliceKind::Thinking)
            | (Current::Call { arguments: text, .. }, SpliceKind::ToolArguments) => text.push_str(&run.text),
            _ => {}
        }
        self.sequence += u64::from(run.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn delta_events_are_written_as_openai_writes_them() {
        let cases = [
            (
                DeltaOf::Text,
                json!({"type": "response.output_text.delta", "sequence_number": 7, "item_id": "msg_1", "output_index": 2, "content_index": 0, "delta": "a \"b\"\n\u{e9}", "logprobs": []}),
            ),
            (
                DeltaOf::Summary,
                json!({"type": "response.reasoning_summary_text.delta", "sequence_number": 7, "item_id": "msg_1", "output_index": 2, "summary_index": 0, "delta": "a \"b\"\n\u{e9}"}),
            ),
            (
                DeltaOf::Arguments,
                json!({"type": "response.function_call_arguments.delta", "sequence_number": 7, "item_id": "msg_1", "output_index": 2, "delta": "a \"b\"\n\u{e9}"}),
            ),
        ];
        for (of, expected) in cases {
            let mut out = b"before".to_vec();
            let mut sequence = 7;
            Encoder::emit_delta(&mut out, &mut sequence, of, "msg_1", 2, "a \"b\"\n\u{e9}").unwrap();
            assert_eq!(sequence, 8);
            let text = std::str::from_utf8(&out[b"before".len()..]).unwrap();
            let events = sse::parse(text);
            assert_eq!(events.len(), 1, "{text}");
            assert_eq!(events[0].name.as_deref(), expected["type"].as_str());
            assert_eq!(serde_json::from_str::<Value>(&events[0].data).unwrap(), expected);
            assert!(text.ends_with("}\n\n") && text.matches('\n').count() == 3, "{text:?}");
        }
    }

    use aether_plugin_sdk::types::{BlockDelta, BlockStart, ErrorClass, StopReason, ToolCallStart};

    fn start() -> StreamEvent {
        let mut u = usage::zero();
        u.input = 10;
        u.cache_read = 5;
        u.cache_creation5m = 3;
        StreamEvent::Start(StreamStart {
            id: "msg_01X".into(),
            model: "claude".into(),
            usage: u,
        })
    }

    fn bs(index: u32, kind: BlockKind) -> StreamEvent {
        StreamEvent::BlockStart(BlockStart { index, kind })
    }

    fn bd(index: u32, delta: DeltaKind) -> StreamEvent {
        StreamEvent::BlockDelta(BlockDelta { index, delta })
    }

    fn finish(stop: StopReason, output: u64) -> StreamEvent {
        let mut u = usage::zero();
        u.output = output;
        StreamEvent::Finish(StreamFinish {
            stop_reason: Some(stop),
            usage: u,
        })
    }

    fn run(events: Vec<StreamEvent>) -> Vec<Value> {
        let mut e = Encoder::new("client-model");
        let mut bytes = Vec::new();
        for ev in events {
            bytes.extend(e.push(&[ev]).unwrap());
        }
        bytes.extend(e.finish().unwrap());
        let parsed = aether_plugin_sdk::harness::stream_json(&bytes);
        let list = parsed.as_array().unwrap().clone();
        for (n, ev) in list.iter().enumerate() {
            assert_eq!(ev["event"], ev["data"]["type"]);
            assert_eq!(ev["data"]["sequence_number"], n);
        }
        list
    }

    fn names(list: &[Value]) -> Vec<&str> {
        list.iter().map(|e| e["event"].as_str().unwrap()).collect()
    }

    #[test]
    fn text_stream() {
        let list = run(vec![
            start(),
            bs(0, BlockKind::Text),
            bd(0, DeltaKind::Text("Hel".into())),
            bd(0, DeltaKind::Text("lo".into())),
            StreamEvent::BlockStop(0),
            finish(StopReason::EndTurn, 7),
        ]);
        assert_eq!(
            names(&list),
            vec![
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let created = &list[0]["data"]["response"];
        assert_eq!(
            (created["id"].as_str(), created["status"].as_str()),
            (Some("resp_01X"), Some("in_progress"))
        );
        assert_eq!(created["model"], "client-model");
        assert_eq!(created["output"], json!([]));
        assert_eq!(
            list[5]["data"],
            json!({"type": "response.output_text.delta", "sequence_number": 5, "item_id": list[2]["data"]["item"]["id"],
                   "output_index": 0, "content_index": 0, "delta": "lo", "logprobs": []})
        );
        assert_eq!(list[6]["data"]["text"], "Hello");
        let done = &list[9]["data"]["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
        assert_eq!(done["usage"]["input_tokens"], 18);
        assert_eq!(done["usage"]["input_tokens_details"]["cached_tokens"], 5);
        assert_eq!(done["usage"]["output_tokens"], 7);
    }

    #[test]
    fn empty_text_block_writes_nothing() {
        let list = run(vec![
            start(),
            bs(0, BlockKind::Text),
            StreamEvent::BlockStop(0),
            finish(StopReason::EndTurn, 0),
        ]);
        assert_eq!(
            names(&list),
            vec!["response.created", "response.in_progress", "response.completed"]
        );
    }

    #[test]
    fn thinking_then_tool_call() {
        let list = run(vec![
            start(),
            bs(0, BlockKind::Thinking),
            bd(0, DeltaKind::Thinking("hmm".into())),
            bd(0, DeltaKind::Signature("SIG".into())),
            StreamEvent::BlockStop(0),
            bs(
                1,
                BlockKind::ToolCall(ToolCallStart {
                    id: "toolu_1".into(),
                    name: "f".into(),
                    signature: None,
                }),
            ),
            bd(1, DeltaKind::ToolArguments("{\"a\"".into())),
            bd(1, DeltaKind::ToolArguments(":1}".into())),
            StreamEvent::BlockStop(1),
            finish(StopReason::ToolUse, 3),
        ]);
        assert_eq!(
            names(&list)[2..],
            [
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        assert_eq!(list[2]["data"]["item"]["summary"], json!([]));
        assert_eq!(
            list[4]["data"],
            json!({"type": "response.reasoning_summary_text.delta", "sequence_number": 4,
                   "item_id": list[2]["data"]["item"]["id"], "output_index": 0, "summary_index": 0, "delta": "hmm"})
        );
        assert_eq!(
            list[9]["data"],
            json!({"type": "response.function_call_arguments.delta", "sequence_number": 9,
                   "item_id": list[8]["data"]["item"]["id"], "output_index": 1, "delta": "{\"a\""})
        );
        assert_eq!(list[7]["data"]["item"]["encrypted_content"], "SIG");
        assert_eq!(list[8]["data"]["item"]["call_id"], "toolu_1");
        assert_eq!(list[8]["data"]["output_index"], 1);
        assert_eq!(list[11]["data"]["arguments"], "{\"a\":1}");
        let out = &list[13]["data"]["response"]["output"];
        assert_eq!(out.as_array().unwrap().len(), 2);
        assert_eq!(out[1]["status"], "completed");
    }

    #[test]
    fn a_call_signature_streams_as_a_reasoning_item_first() {
        let call = ToolCallStart {
            id: "call_0".into(),
            name: "f".into(),
            signature: Some("TS".into()),
        };
        let list = run(vec![
            start(),
            bs(0, BlockKind::ToolCall(call)),
            StreamEvent::BlockStop(0),
            finish(StopReason::ToolUse, 1),
        ]);
        assert_eq!(list[3]["data"]["item"]["encrypted_content"], "TS");
        assert_eq!(list[4]["data"]["item"]["type"], "function_call");
        assert_eq!(list[4]["data"]["output_index"], 1);
    }

    #[test]
    fn max_tokens_is_incomplete() {
        let list = run(vec![start(), finish(StopReason::MaxTokens, 1)]);
        let last = &list[2];
        assert_eq!(last["event"], "response.incomplete");
        assert_eq!(
            last["data"]["response"]["incomplete_details"]["reason"],
            "max_output_tokens"
        );
    }

    #[test]
    fn an_error_before_start_still_begins_with_created() {
        let info = ErrorInfo {
            class: ErrorClass::RateLimited,
            status: 429,
            message: "slow".into(),
        };
        let list = run(vec![StreamEvent::Error(info), start()]);
        assert_eq!(
            names(&list),
            vec!["response.created", "response.in_progress", "error", "response.failed"]
        );
        assert_eq!(list[2]["data"]["code"], "rate_limit_exceeded");
        assert_eq!(list[3]["data"]["response"]["status"], "failed");
        assert_eq!(list[3]["data"]["response"]["error"]["message"], "slow");
    }
}
