//! IR stream events → a Claude client's stream, framed exactly as Anthropic frames it
//! (`event: <type>\ndata: <json>\n\n`), event by event.
//!
//! - `start` → `message_start` with the id, the client's model, empty content and the usage
//!   known so far (input and cache tokens: "cache tokens in a stream's first event").
//! - Blocks → `content_block_start` / `content_block_delta` / `content_block_stop` with
//!   Claude's own indices (0, 1, … in the order blocks open). Text and thinking blocks open
//!   at their first non-empty delta, so no empty block is ever sent. A tool call that carries
//!   a Gemini thought signature is preceded by an empty thinking block holding it, so a
//!   Claude client sends it back with its history.
//! - `finish` → `message_delta` (the stop reason, `tool_use` after any streamed tool call, and
//!   the final usage with every input bucket, so counts known only at the end still arrive)
//!   then `message_stop`.
//! - `error` → Anthropic's `error` event; nothing follows it.

use aether_plugin_sdk::types::{
    BlockKind, DeltaKind, EncodeSplice, ErrorInfo, PluginError, SpliceKey, SpliceKind, StreamEvent, StreamFinish,
    StreamStart, ToolCallStart, Usage,
};
use aether_plugin_sdk::{StreamEncode, splice, sse, usage as sdk_usage};
use serde::Serialize;

use crate::error;
use crate::stop_reason::{self, ToolCalls};
use crate::usage::{DeltaWire, Wire};

#[derive(Serialize)]
struct MessageStart<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: StartMessage<'a>,
}

#[derive(Serialize)]
struct StartMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: [(); 0],
    stop_reason: Option<&'static str>,
    stop_sequence: Option<&'static str>,
    usage: Wire,
}

#[derive(Serialize)]
struct BlockStartEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: u32,
    content_block: StartBlock<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock<'a> {
    Text {
        text: &'static str,
    },
    Thinking {
        thinking: &'static str,
        signature: &'static str,
    },
    RedactedThinking {
        data: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: EmptyObject,
    },
}

#[derive(Serialize)]
struct EmptyObject {}

#[derive(Serialize)]
struct BlockDeltaEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: u32,
    delta: OutDelta<'a>,
}

/// A `content_block_delta`'s `delta` (the type names are Claude's: `text_delta`, …).
#[derive(Serialize)]
#[serde(tag = "type")]
enum OutDelta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

#[derive(Serialize)]
struct BlockStopEvent {
    #[serde(rename = "type")]
    kind: &'static str,
    index: u32,
}

#[derive(Serialize)]
struct MessageDeltaEvent {
    #[serde(rename = "type")]
    kind: &'static str,
    delta: MessageDeltaBody,
    usage: DeltaWire,
}

#[derive(Serialize)]
struct MessageDeltaBody {
    stop_reason: &'static str,
    stop_sequence: Option<&'static str>,
}

#[derive(Serialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    kind: &'static str,
}

/// Where the client stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `message_start` not sent yet.
    NotStarted,
    /// Started, not ended.
    Streaming,
    /// `message_stop` or `error` sent: nothing more is written.
    Done,
}

/// The kind of the open block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    RedactedThinking,
    ToolUse,
}

/// Whether the open block has been sent yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// Not yet (text and thinking wait for content).
    Pending,
    /// As this Claude index.
    At(u32),
}

#[derive(Debug)]
struct Open {
    ir_index: u32,
    kind: Kind,
    sent: Sent,
}

/// One client stream's state.
pub struct Encoder {
    model: String,
    phase: Phase,
    next_index: u32,
    open: Option<Open>,
    start_usage: Usage,
    tools: ToolCalls,
}

impl Encoder {
    /// An encoder reporting `model` (the client's name for it).
    pub fn new(model: &str) -> Encoder {
        Encoder {
            model: model.to_owned(),
            phase: Phase::NotStarted,
            next_index: 0,
            open: None,
            start_usage: sdk_usage::zero(),
            tools: ToolCalls::Absent,
        }
    }

    fn event<T: Serialize>(out: &mut Vec<u8>, name: &str, value: &T) -> Result<(), PluginError> {
        sse::json_event(out, Some(name), value)
            .map_err(|e| PluginError::Internal(format!("encoding a stream event: {e}")))
    }

    fn start(&mut self, out: &mut Vec<u8>, id: &str, usage: &Usage) -> Result<(), PluginError> {
        if self.phase != Phase::NotStarted {
            return Ok(());
        }
        self.phase = Phase::Streaming;
        self.start_usage = *usage;
        let ev = MessageStart {
            kind: "message_start",
            message: StartMessage {
                id: if id.is_empty() { "msg_aether" } else { id },
                kind: "message",
                role: "assistant",
                model: &self.model,
                content: [],
                stop_reason: None,
                stop_sequence: None,
                usage: Wire::from_ir(usage),
            },
        };
        Self::event(out, "message_start", &ev)
    }

    fn block_start(&mut self, out: &mut Vec<u8>, block: StartBlock<'_>) -> Result<u32, PluginError> {
        let index = self.next_index;
        self.next_index += 1;
        Self::event(
            out,
            "content_block_start",
            &BlockStartEvent {
                kind: "content_block_start",
                index,
                content_block: block,
            },
        )?;
        Ok(index)
    }

    fn block_delta(out: &mut Vec<u8>, index: u32, delta: OutDelta<'_>) -> Result<(), PluginError> {
        Self::event(
            out,
            "content_block_delta",
            &BlockDeltaEvent {
                kind: "content_block_delta",
                index,
                delta,
            },
        )
    }

    fn block_stop(out: &mut Vec<u8>, index: u32) -> Result<(), PluginError> {
        Self::event(
            out,
            "content_block_stop",
            &BlockStopEvent {
                kind: "content_block_stop",
                index,
            },
        )
    }

    fn close(&mut self, out: &mut Vec<u8>) -> Result<(), PluginError> {
        if let Some(Open {
            sent: Sent::At(index), ..
        }) = self.open.take()
        {
            Self::block_stop(out, index)?;
        }
        Ok(())
    }

    fn open(&mut self, out: &mut Vec<u8>, ir_index: u32, kind: &BlockKind) -> Result<(), PluginError> {
        self.close(out)?;
        let (kind, sent) = match kind {
            BlockKind::Text => (Kind::Text, Sent::Pending),
            BlockKind::Thinking => (Kind::Thinking, Sent::Pending),
            BlockKind::RedactedThinking(data) => (
                Kind::RedactedThinking,
                Sent::At(self.block_start(out, StartBlock::RedactedThinking { data })?),
            ),
            BlockKind::ToolCall(ToolCallStart { id, name, signature }) => {
                if let Some(sig) = signature.as_deref().filter(|s| !s.is_empty()) {
                    let index = self.block_start(
                        out,
                        StartBlock::Thinking {
                            thinking: "",
                            signature: "",
                        },
                    )?;
                    Self::block_delta(out, index, OutDelta::Signature { signature: sig })?;
                    Self::block_stop(out, index)?;
                }
                self.tools = ToolCalls::Present;
                let index = self.block_start(
                    out,
                    StartBlock::ToolUse {
                        id,
                        name,
                        input: EmptyObject {},
                    },
                )?;
                (Kind::ToolUse, Sent::At(index))
            }
        };
        self.open = Some(Open { ir_index, kind, sent });
        Ok(())
    }

    fn delta(&mut self, out: &mut Vec<u8>, ir_index: u32, delta: &DeltaKind) -> Result<(), PluginError> {
        let Some(open) = self.open.as_ref().filter(|o| o.ir_index == ir_index) else {
            return Ok(());
        };
        let (kind, sent) = (open.kind, open.sent);
        let out_delta = match delta {
            DeltaKind::Signature(signature) if kind == Kind::Thinking && !signature.is_empty() => {
                Some(OutDelta::Signature { signature })
            }
            DeltaKind::Signature(_) => None,
            DeltaKind::Text(text) => out_delta(kind, SpliceKind::Text, text),
            DeltaKind::Thinking(text) => out_delta(kind, SpliceKind::Thinking, text),
            DeltaKind::ToolArguments(text) => out_delta(kind, SpliceKind::ToolArguments, text),
        };
        let Some(out_delta) = out_delta else {
            return Ok(());
        };
        let index = match sent {
            Sent::At(index) => index,
            Sent::Pending => {
                let block = match kind {
                    Kind::Thinking => StartBlock::Thinking {
                        thinking: "",
                        signature: "",
                    },
                    _ => StartBlock::Text { text: "" },
                };
                let index = self.block_start(out, block)?;
                if let Some(open) = self.open.as_mut() {
                    open.sent = Sent::At(index);
                }
                index
            }
        };
        Self::block_delta(out, index, out_delta)
    }

    fn finish_stream(&mut self, out: &mut Vec<u8>, finish: &StreamFinish) -> Result<(), PluginError> {
        self.start(out, "", &finish.usage)?;
        self.close(out)?;
        self.phase = Phase::Done;
        let mut usage = self.start_usage;
        sdk_usage::raise(&mut usage, &finish.usage);
        Self::event(
            out,
            "message_delta",
            &MessageDeltaEvent {
                kind: "message_delta",
                delta: MessageDeltaBody {
                    stop_reason: stop_reason::encode(stop_reason::settle(finish.stop_reason, self.tools)),
                    stop_sequence: None,
                },
                usage: DeltaWire::from_ir(&usage),
            },
        )?;
        Self::event(out, "message_stop", &TypeOnly { kind: "message_stop" })
    }

    fn error(&mut self, out: &mut Vec<u8>, info: &ErrorInfo) {
        self.phase = Phase::Done;
        sse::frame_into(out, Some("error"), &error::body(info));
    }
}

/// The delta a piece of a block's text is in Claude's stream: none for an empty piece, or a
/// piece of a kind the block does not hold.
fn out_delta(block: Kind, piece: SpliceKind, text: &str) -> Option<OutDelta<'_>> {
    if text.is_empty() {
        return None;
    }
    match (block, piece) {
        (Kind::Text, SpliceKind::Text) => Some(OutDelta::Text { text }),
        (Kind::Thinking, SpliceKind::Thinking) => Some(OutDelta::Thinking { thinking: text }),
        (Kind::ToolUse, SpliceKind::ToolArguments) => Some(OutDelta::InputJson { partial_json: text }),
        _ => None,
    }
}

impl StreamEncode for Encoder {
    fn push(&mut self, events: &[StreamEvent]) -> Result<Vec<u8>, PluginError> {
        let mut out = Vec::new();
        for event in events {
            if self.phase == Phase::Done {
                break;
            }
            match event {
                StreamEvent::Start(StreamStart { id, usage, .. }) => self.start(&mut out, id, usage)?,
                StreamEvent::BlockStart(b) => {
                    self.start(&mut out, "", &sdk_usage::zero())?;
                    self.open(&mut out, b.index, &b.kind)?;
                }
                StreamEvent::BlockDelta(d) => self.delta(&mut out, d.index, &d.delta)?,
                StreamEvent::BlockStop(index) => {
                    if self.open.as_ref().is_some_and(|o| o.ir_index == *index) {
                        self.close(&mut out)?;
                    }
                }
                StreamEvent::Finish(f) => self.finish_stream(&mut out, f)?,
                StreamEvent::Error(info) => self.error(&mut out, info),
            }
        }
        Ok(out)
    }

    /// A piece of the open block, once its `content_block_start` is out, is one
    /// `content_block_delta` that changes nothing.
    fn splice(&self, key: SpliceKey) -> Option<EncodeSplice> {
        if self.phase != Phase::Streaming {
            return None;
        }
        let open = self.open.as_ref().filter(|o| o.ir_index == key.index)?;
        let Sent::At(index) = open.sent else {
            return None;
        };
        let delta = out_delta(open.kind, key.kind, splice::PROBE)?;
        let mut out = Vec::new();
        Self::block_delta(&mut out, index, delta).ok()?;
        splice::encode_splice(key, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{BlockDelta, BlockStart, ErrorClass, StopReason};
    use serde_json::{Value, json};

    fn encode(events: &[StreamEvent]) -> Vec<(String, Value)> {
        let mut e = Encoder::new("client-model");
        let mut bytes = e.push(events).unwrap();
        bytes.extend(e.finish().unwrap());
        sse::parse(&String::from_utf8(bytes).unwrap())
            .into_iter()
            .map(|ev| (ev.name.unwrap_or_default(), serde_json::from_str(&ev.data).unwrap()))
            .collect()
    }

    fn usage(input: u64, read: u64, output: u64) -> Usage {
        let mut u = sdk_usage::zero();
        u.input = input;
        u.cache_read = read;
        u.output = output;
        u
    }

    fn start() -> StreamEvent {
        StreamEvent::Start(StreamStart {
            id: "resp_1".into(),
            model: "upstream".into(),
            usage: usage(0, 0, 0),
        })
    }

    fn bs(index: u32, kind: BlockKind) -> StreamEvent {
        StreamEvent::BlockStart(BlockStart { index, kind })
    }

    fn bd(index: u32, delta: DeltaKind) -> StreamEvent {
        StreamEvent::BlockDelta(BlockDelta { index, delta })
    }

    fn fin(stop: StopReason, usage: Usage) -> StreamEvent {
        StreamEvent::Finish(StreamFinish {
            stop_reason: Some(stop),
            usage,
        })
    }

    #[test]
    fn text_stream_with_usage_at_the_end() {
        let out = encode(&[
            start(),
            bs(0, BlockKind::Text),
            bd(0, DeltaKind::Text(String::new())),
            bd(0, DeltaKind::Text("Hel".into())),
            bd(0, DeltaKind::Text("lo".into())),
            StreamEvent::BlockStop(0),
            fin(StopReason::EndTurn, usage(12, 30, 5)),
        ]);
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(out[0].1["message"]["model"], "client-model");
        assert_eq!(out[0].1["message"]["id"], "resp_1");
        assert_eq!(out[0].1["message"]["content"], json!([]));
        assert_eq!(
            out[1].1,
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        );
        assert_eq!(out[2].1["delta"], json!({"type": "text_delta", "text": "Hel"}));
        assert_eq!(
            out[5].1,
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 30, "output_tokens": 5}})
        );
        assert_eq!(out[6].1, json!({"type": "message_stop"}));
    }

    #[test]
    fn no_empty_blocks_and_own_indices() {
        let out = encode(&[
            start(),
            bs(0, BlockKind::Text),
            StreamEvent::BlockStop(0),
            bs(
                1,
                BlockKind::ToolCall(ToolCallStart {
                    id: "call_1".into(),
                    name: "f".into(),
                    signature: None,
                }),
            ),
            bd(1, DeltaKind::ToolArguments("{\"a\"".into())),
            bd(1, DeltaKind::ToolArguments(":1}".into())),
            StreamEvent::BlockStop(1),
            fin(StopReason::EndTurn, usage(1, 0, 2)),
        ]);
        assert_eq!(out.len(), 7);
        assert_eq!(
            out[1].1["content_block"],
            json!({"type": "tool_use", "id": "call_1", "name": "f", "input": {}})
        );
        assert_eq!(out[1].1["index"], 0);
        assert_eq!(
            out[2].1["delta"],
            json!({"type": "input_json_delta", "partial_json": "{\"a\""})
        );
        assert_eq!(out[5].1["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn thinking_with_signature_and_gemini_signatures() {
        let out = encode(&[
            start(),
            bs(0, BlockKind::Thinking),
            bd(0, DeltaKind::Thinking("hm".into())),
            bd(0, DeltaKind::Signature("sig".into())),
            StreamEvent::BlockStop(0),
            bs(
                1,
                BlockKind::ToolCall(ToolCallStart {
                    id: "c".into(),
                    name: "f".into(),
                    signature: Some("gsig".into()),
                }),
            ),
            bd(1, DeltaKind::ToolArguments("{}".into())),
            StreamEvent::BlockStop(1),
            fin(StopReason::ToolUse, usage(1, 0, 2)),
        ]);
        assert_eq!(
            out[1].1["content_block"],
            json!({"type": "thinking", "thinking": "", "signature": ""})
        );
        assert_eq!(out[2].1["delta"], json!({"type": "thinking_delta", "thinking": "hm"}));
        assert_eq!(
            out[3].1["delta"],
            json!({"type": "signature_delta", "signature": "sig"})
        );
        assert_eq!(out[5].1["index"], 1);
        assert_eq!(
            out[6].1["delta"],
            json!({"type": "signature_delta", "signature": "gsig"})
        );
        assert_eq!(out[7].1["index"], 1);
        assert_eq!(out[8].1["content_block"]["type"], "tool_use");
        assert_eq!(out[8].1["index"], 2);
    }

    #[test]
    fn start_usage_reaches_message_start_and_delta() {
        let mut u = usage(10, 20, 1);
        u.cache_creation5m = 3;
        u.cache_creation1h = 4;
        let out = encode(&[
            StreamEvent::Start(StreamStart {
                id: "m".into(),
                model: "x".into(),
                usage: u,
            }),
            fin(StopReason::MaxTokens, usage(0, 0, 50)),
        ]);
        assert_eq!(
            out[0].1["message"]["usage"],
            json!({"input_tokens": 10, "cache_creation_input_tokens": 7, "cache_read_input_tokens": 20,
                "cache_creation": {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 4}, "output_tokens": 1})
        );
        assert_eq!(
            out[1].1["usage"],
            json!({"input_tokens": 10, "cache_creation_input_tokens": 7, "cache_read_input_tokens": 20, "output_tokens": 50})
        );
        assert_eq!(out[1].1["delta"]["stop_reason"], "max_tokens");
    }

    #[test]
    fn an_error_ends_the_stream() {
        let out = encode(&[
            start(),
            StreamEvent::Error(ErrorInfo {
                class: ErrorClass::RateLimited,
                status: 429,
                message: "slow".into(),
            }),
            fin(StopReason::EndTurn, usage(0, 0, 0)),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].0, "error");
        assert_eq!(
            out[1].1,
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}})
        );
    }

    #[test]
    fn framing_is_exact() {
        let mut e = Encoder::new("m");
        let bytes = e
            .push(&[StreamEvent::Finish(StreamFinish {
                stop_reason: None,
                usage: usage(0, 0, 0),
            })])
            .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
            "{text}"
        );
    }
}
