//! An Anthropic upstream's stream → IR stream events, one SSE event at a time.
//!
//! - `message_start` → `start` with the id, the model and the input and cache tokens.
//! - `content_block_start/delta/stop` → `block-start/delta/stop`. A text or thinking block
//!   opens in the IR only at its first non-empty delta (no empty blocks); a tool call's
//!   `input_json_delta`s pass through as argument fragments, and a call that streamed none
//!   gets `{}`. Server tool blocks (`server_tool_use`, `web_search_tool_result`, …) and
//!   `citations_delta` are dropped. IR indices count only the blocks that open.
//! - `message_delta` holds the stop reason and cumulative usage (folded with the usage
//!   module's bucket logic); `message_stop` → `finish` (with `tool-use` after any tool call).
//! - `ping` is ignored; `error` → `error`, after which nothing is read.
//! - A stream that ends before `message_stop` ends with an `error` (502, "upstream stream
//!   ended early") after its open block is closed.

use std::borrow::Cow;
use std::ops::Range;

use aether_plugin_sdk::splice::{self, JsonStr};
use aether_plugin_sdk::types::{
    BlockDelta, BlockKind, BlockStart, DecodeSplice, DeltaKind, ErrorClass, ErrorInfo, PluginError, SpliceKey,
    SseEvent, StopReason, StreamEvent, StreamFinish, StreamStart, ToolCallStart, UsageReport,
};
use aether_plugin_sdk::{StreamDecode, sse};
use serde::Deserialize;

use crate::error;
use crate::stop_reason::{self, ToolCalls};
use crate::usage::{self, ClaudeUsage};

/// The event types the decoder reads.
const EVENTS: &[&str] = &[
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
];

#[derive(Deserialize)]
struct MessageStart {
    message: StartMessage,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<ClaudeUsage>,
}

#[derive(Deserialize)]
struct ContentBlockStart {
    index: u32,
    content_block: StartBlock,
}

#[derive(Deserialize)]
struct StartBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<serde_json::Value>,
}

/// Borrowed from the event's data, so a delta's text can be found there for a splice.
#[derive(Deserialize)]
struct ContentBlockDelta<'a> {
    index: u32,
    #[serde(borrow)]
    delta: Delta<'a>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    text: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    thinking: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    signature: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    partial_json: Option<JsonStr<'a>>,
}

impl<'a> Delta<'a> {
    /// The delta's string, by its type.
    fn content(&self) -> Option<(DeltaKind, &'a str)> {
        let (wrap, field): (fn(String) -> DeltaKind, _) = match self.kind.as_ref() {
            "text_delta" => (DeltaKind::Text, &self.text),
            "thinking_delta" => (DeltaKind::Thinking, &self.thinking),
            "signature_delta" => (DeltaKind::Signature, &self.signature),
            "input_json_delta" => (DeltaKind::ToolArguments, &self.partial_json),
            _ => return None,
        };
        field.as_ref().map(|f| (wrap(f.to_string()), f.raw()))
    }
}

#[derive(Deserialize)]
struct ContentBlockStop {
    index: u32,
}

#[derive(Deserialize)]
struct MessageDelta {
    #[serde(default)]
    delta: Option<MessageDeltaBody>,
    #[serde(default)]
    usage: Option<ClaudeUsage>,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// Where the stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No `message_start` yet.
    Waiting,
    /// Started; `finish` not yet sent.
    Streaming,
    /// `finish` or `error` sent: nothing more is read.
    Done,
}

/// What the open upstream block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    RedactedThinking,
    ToolCall,
    /// A block the IR cannot hold: its events are dropped.
    Dropped,
}

/// Whether the open block has opened in the IR yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opened {
    /// Waiting for content (text and thinking open at their first non-empty delta).
    Pending,
    /// Opened at this IR index.
    At(u32),
}

/// Whether a tool call has streamed any argument text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arguments {
    None,
    Some,
}

#[derive(Debug)]
struct Open {
    upstream: u32,
    kind: Kind,
    opened: Opened,
    arguments: Arguments,
}

/// One upstream stream's state.
pub struct Decoder {
    phase: Phase,
    report: UsageReport,
    stop: Option<StopReason>,
    tools: ToolCalls,
    open: Option<Open>,
    next_index: u32,
    /// Where the last event's delta string lies in its data, when it decoded to a lone delta.
    splice_at: Option<(Range<usize>, SpliceKey)>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

fn parse<'a, T: Deserialize<'a>>(event: &'a SseEvent, name: &str) -> Result<T, PluginError> {
    serde_json::from_str(&event.data)
        .map_err(|e| PluginError::InvalidRequest(format!("the upstream's {name} event is malformed: {e}")))
}

impl Decoder {
    /// A decoder for a new stream.
    pub fn new() -> Decoder {
        Decoder {
            phase: Phase::Waiting,
            report: aether_plugin_sdk::usage::empty_report(),
            stop: None,
            tools: ToolCalls::Absent,
            open: None,
            next_index: 0,
            splice_at: None,
        }
    }

    fn ensure_started(&mut self, out: &mut Vec<StreamEvent>) {
        if self.phase == Phase::Waiting {
            self.phase = Phase::Streaming;
            out.push(StreamEvent::Start(StreamStart {
                id: String::new(),
                model: String::new(),
                usage: self.report.usage,
            }));
        }
    }

    /// Opens the current block in the IR if it is still pending; its IR index.
    fn open_in_ir(&mut self, out: &mut Vec<StreamEvent>, kind: BlockKind) -> Option<u32> {
        let open = self.open.as_mut()?;
        match open.opened {
            Opened::At(i) => Some(i),
            Opened::Pending => {
                let index = self.next_index;
                self.next_index += 1;
                open.opened = Opened::At(index);
                out.push(StreamEvent::BlockStart(BlockStart { index, kind }));
                Some(index)
            }
        }
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        let Some(open) = self.open.take() else {
            return;
        };
        if let Opened::At(index) = open.opened {
            if open.kind == Kind::ToolCall && open.arguments == Arguments::None {
                out.push(StreamEvent::BlockDelta(BlockDelta {
                    index,
                    delta: DeltaKind::ToolArguments("{}".into()),
                }));
            }
            out.push(StreamEvent::BlockStop(index));
        }
    }

    fn block_start(&mut self, ev: ContentBlockStart, out: &mut Vec<StreamEvent>) -> Result<(), PluginError> {
        self.close(out);
        let b = ev.content_block;
        let kind = match b.kind.as_str() {
            "text" => Kind::Text,
            "thinking" => Kind::Thinking,
            "redacted_thinking" => Kind::RedactedThinking,
            "tool_use" => Kind::ToolCall,
            _ => Kind::Dropped,
        };
        self.open = Some(Open {
            upstream: ev.index,
            kind,
            opened: Opened::Pending,
            arguments: Arguments::None,
        });
        match kind {
            Kind::Text => {
                if let Some(text) = b.text.filter(|t| !t.is_empty()) {
                    self.delta(DeltaKind::Text(text), out);
                }
            }
            Kind::Thinking => {
                if let Some(text) = b.thinking.filter(|t| !t.is_empty()) {
                    self.delta(DeltaKind::Thinking(text), out);
                }
                if let Some(sig) = b.signature.filter(|s| !s.is_empty()) {
                    self.delta(DeltaKind::Signature(sig), out);
                }
            }
            Kind::RedactedThinking => {
                let data = b.data.ok_or_else(|| {
                    PluginError::InvalidRequest("content_block_start: redacted_thinking block has no \"data\"".into())
                })?;
                self.open_in_ir(out, BlockKind::RedactedThinking(data));
            }
            Kind::ToolCall => {
                let missing = |field: &str| {
                    PluginError::InvalidRequest(format!("content_block_start: tool_use block has no \"{field}\""))
                };
                let start = ToolCallStart {
                    id: b.id.ok_or_else(|| missing("id"))?,
                    name: b.name.ok_or_else(|| missing("name"))?,
                    signature: None,
                };
                self.tools = ToolCalls::Present;
                self.open_in_ir(out, BlockKind::ToolCall(start));
                if let Some(input) = b.input.filter(|i| i.as_object().is_some_and(|o| !o.is_empty())) {
                    self.delta(DeltaKind::ToolArguments(input.to_string()), out);
                }
            }
            Kind::Dropped => {}
        }
        Ok(())
    }

    /// A delta for the open block, opening it in the IR first if it is pending.
    fn delta(&mut self, delta: DeltaKind, out: &mut Vec<StreamEvent>) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let kind = match (open.kind, &delta) {
            (Kind::Text, DeltaKind::Text(t)) if !t.is_empty() => BlockKind::Text,
            (Kind::Thinking, DeltaKind::Thinking(t) | DeltaKind::Signature(t)) if !t.is_empty() => BlockKind::Thinking,
            (Kind::ToolCall, DeltaKind::ToolArguments(t)) if !t.is_empty() => {
                // A tool call opened in the IR at its start.
                open.arguments = Arguments::Some;
                if let Opened::At(index) = open.opened {
                    out.push(StreamEvent::BlockDelta(BlockDelta { index, delta }));
                }
                return;
            }
            _ => return,
        };
        if let Some(index) = self.open_in_ir(out, kind) {
            out.push(StreamEvent::BlockDelta(BlockDelta { index, delta }));
        }
    }

    /// A delta event; where its string lies in `data`, for a splice.
    fn block_delta(
        &mut self,
        data: &str,
        ev: &ContentBlockDelta<'_>,
        out: &mut Vec<StreamEvent>,
    ) -> Option<Range<usize>> {
        if self.open.as_ref().is_none_or(|o| o.upstream != ev.index) {
            return None;
        }
        let (delta, source) = ev.delta.content()?;
        self.delta(delta, out);
        splice::span(data, source)
    }

    fn finish_stream(&mut self, out: &mut Vec<StreamEvent>) {
        self.close(out);
        self.phase = Phase::Done;
        out.push(StreamEvent::Finish(StreamFinish {
            stop_reason: stop_reason::settle(self.stop, self.tools),
            usage: self.report.usage,
        }));
    }
}

impl StreamDecode for Decoder {
    fn push(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, PluginError> {
        let mut out = Vec::new();
        self.splice_at = None;
        if self.phase == Phase::Done {
            return Ok(out);
        }
        match sse::event_type(event, EVENTS) {
            Some("message_start") => {
                let ev: MessageStart = parse(event, "message_start")?;
                if let Some(u) = &ev.message.usage {
                    usage::fold(u, &mut self.report);
                }
                if self.phase == Phase::Waiting {
                    self.phase = Phase::Streaming;
                    out.push(StreamEvent::Start(StreamStart {
                        id: ev.message.id.unwrap_or_default(),
                        model: ev.message.model.unwrap_or_default(),
                        usage: self.report.usage,
                    }));
                }
            }
            Some("content_block_start") => {
                self.ensure_started(&mut out);
                self.block_start(parse(event, "content_block_start")?, &mut out)?;
            }
            Some("content_block_delta") => {
                self.ensure_started(&mut out);
                let ev: ContentBlockDelta<'_> = parse(event, "content_block_delta")?;
                let source = self.block_delta(&event.data, &ev, &mut out);
                self.splice_at = source.zip(out.first().and_then(splice::key_of));
            }
            Some("content_block_stop") => {
                let ev: ContentBlockStop = parse(event, "content_block_stop")?;
                if self.open.as_ref().is_some_and(|o| o.upstream == ev.index) {
                    self.close(&mut out);
                }
            }
            Some("message_delta") => {
                self.ensure_started(&mut out);
                let ev: MessageDelta = parse(event, "message_delta")?;
                if let Some(reason) = ev.delta.and_then(|d| d.stop_reason) {
                    self.stop = stop_reason::decode(Some(&reason));
                }
                if let Some(u) = &ev.usage {
                    usage::fold(u, &mut self.report);
                }
            }
            Some("message_stop") => {
                self.ensure_started(&mut out);
                self.finish_stream(&mut out);
            }
            Some("error") => {
                self.close(&mut out);
                self.phase = Phase::Done;
                out.push(StreamEvent::Error(error::from_event(&event.data)));
            }
            _ => {}
        }
        Ok(out)
    }

    /// A text, thinking or arguments delta of a block already open in the IR decodes the same
    /// whatever its string, and changes nothing else.
    fn splice(&self, event: &SseEvent) -> Option<DecodeSplice> {
        let (body, key) = self.splice_at.clone()?;
        splice::decode_splice(event, key, body)
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, PluginError> {
        let mut out = Vec::new();
        if self.phase != Phase::Done {
            self.close(&mut out);
            self.phase = Phase::Done;
            out.push(StreamEvent::Error(ErrorInfo {
                class: ErrorClass::Internal,
                status: 502,
                message: "upstream stream ended early".into(),
            }));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, data: &str) -> SseEvent {
        SseEvent {
            name: Some(name.into()),
            data: data.into(),
        }
    }

    fn run(events: &[SseEvent]) -> Vec<StreamEvent> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for e in events {
            out.extend(d.push(e).unwrap());
        }
        out.extend(d.finish().unwrap());
        out
    }

    const START: &str = r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":20,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":5},"output_tokens":1}}}"#;

    #[test]
    fn a_full_stream() {
        let out = run(&[
            ev("message_start", START),
            ev("ping", r#"{"type":"ping"}"#),
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}"#,
            ),
            ev("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
            ),
            ev("content_block_stop", r#"{"type":"content_block_stop","index":1}"#),
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"1}"}}"#,
            ),
            ev("content_block_stop", r#"{"type":"content_block_stop","index":2}"#),
            ev(
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":42}}"#,
            ),
            ev("message_stop", r#"{"type":"message_stop"}"#),
        ]);
        let expected = vec![
            StreamEvent::Start(StreamStart {
                id: "msg_1".into(),
                model: "claude-x".into(),
                usage: {
                    let mut u = aether_plugin_sdk::usage::zero();
                    u.input = 10;
                    u.cache_creation1h = 5;
                    u.cache_read = 20;
                    u.output = 1;
                    u
                },
            }),
            StreamEvent::BlockStart(BlockStart {
                index: 0,
                kind: BlockKind::Thinking,
            }),
            StreamEvent::BlockDelta(BlockDelta {
                index: 0,
                delta: DeltaKind::Thinking("hm".into()),
            }),
            StreamEvent::BlockDelta(BlockDelta {
                index: 0,
                delta: DeltaKind::Signature("sig".into()),
            }),
            StreamEvent::BlockStop(0),
            StreamEvent::BlockStart(BlockStart {
                index: 1,
                kind: BlockKind::ToolCall(ToolCallStart {
                    id: "toolu_1".into(),
                    name: "f".into(),
                    signature: None,
                }),
            }),
            StreamEvent::BlockDelta(BlockDelta {
                index: 1,
                delta: DeltaKind::ToolArguments("{\"a\":".into()),
            }),
            StreamEvent::BlockDelta(BlockDelta {
                index: 1,
                delta: DeltaKind::ToolArguments("1}".into()),
            }),
            StreamEvent::BlockStop(1),
            StreamEvent::Finish(StreamFinish {
                stop_reason: Some(StopReason::ToolUse),
                usage: {
                    let mut u = aether_plugin_sdk::usage::zero();
                    u.input = 10;
                    u.cache_creation1h = 5;
                    u.cache_read = 20;
                    u.output = 42;
                    u
                },
            }),
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn a_tool_call_without_arguments_gets_an_empty_object() {
        let out = run(&[
            ev("message_start", START),
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"now","input":{}}}"#,
            ),
            ev("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
            ev(
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#,
            ),
            ev("message_stop", r#"{"type":"message_stop"}"#),
        ]);
        assert_eq!(
            out[2],
            StreamEvent::BlockDelta(BlockDelta {
                index: 0,
                delta: DeltaKind::ToolArguments("{}".into())
            })
        );
        assert!(matches!(&out[4], StreamEvent::Finish(f) if f.stop_reason == Some(StopReason::ToolUse)));
    }

    #[test]
    fn server_tool_blocks_are_dropped_and_indices_stay_dense() {
        let out = run(&[
            ev("message_start", START),
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"s","name":"web_search","input":{}}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#,
            ),
            ev("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"enc"}}"#,
            ),
            ev("content_block_stop", r#"{"type":"content_block_stop","index":1}"#),
            ev("message_stop", r#"{"type":"message_stop"}"#),
        ]);
        assert_eq!(out.len(), 4);
        assert_eq!(
            out[1],
            StreamEvent::BlockStart(BlockStart {
                index: 0,
                kind: BlockKind::RedactedThinking("enc".into())
            })
        );
        assert_eq!(out[2], StreamEvent::BlockStop(0));
    }

    #[test]
    fn errors_and_early_ends() {
        let out = run(&[
            ev("message_start", START),
            ev(
                "error",
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ),
            ev("message_stop", r#"{"type":"message_stop"}"#),
        ]);
        assert_eq!(out.len(), 2);
        assert!(
            matches!(&out[1], StreamEvent::Error(e) if e.class == ErrorClass::Unavailable && e.message == "Overloaded")
        );

        let out = run(&[
            ev("message_start", START),
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            ),
        ]);
        assert_eq!(out.len(), 5);
        assert_eq!(out[3], StreamEvent::BlockStop(0));
        assert!(matches!(&out[4], StreamEvent::Error(e) if e.status == 502 && e.message.contains("ended early")));
    }

    #[test]
    fn unnamed_events_and_malformed_data() {
        let mut d = Decoder::new();
        let out = d
            .push(&SseEvent {
                name: None,
                data: START.into(),
            })
            .unwrap();
        assert!(matches!(&out[..], [StreamEvent::Start(s)] if s.id == "msg_1"));
        assert!(matches!(
            d.push(&ev("content_block_delta", "{oops")),
            Err(PluginError::InvalidRequest(m)) if m.contains("content_block_delta")
        ));
    }
}
