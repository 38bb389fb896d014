//! IR stream events → a Gemini client's SSE stream (`data: <chunk>\n\n`, no event names),
//! event by event.
//!
//! - every chunk is a `GenerateContentResponse` with one candidate (`role: model`, index 0),
//!   the usage known so far as `usageMetadata`, `modelVersion` (the client's model) and
//!   `responseId`;
//! - each text delta is a chunk with a `{text}` part, each thinking delta a
//!   `{text, thought: true}` part; a thinking block's signature is a
//!   `{text: "", thought: true, thoughtSignature}` part, or, for a block that is only a
//!   signature, goes on the next part (as the decoder found it);
//! - a tool call's arguments are kept until its block stops, then one chunk carries the whole
//!   `functionCall` with its `thoughtSignature`;
//! - `finish` is the last chunk: `finishReason` and the complete `usageMetadata`;
//! - `error` is `data: {"error": {code, message, status}}`; nothing follows it.
//!
//! Redacted-thinking blocks have no Gemini form and are dropped.

use std::borrow::Cow;

use aether_plugin_sdk::types::{
    BlockKind, DeltaKind, EncodeSplice, PluginError, SpliceKey, SpliceKind, StreamEvent, Usage,
};
use aether_plugin_sdk::{StreamEncode, splice, sse, usage as sdk_usage};

use crate::error;
use crate::finish_reason;
use crate::parts::encode::arguments;
use crate::usage;
use crate::wire::{Candidate, Content, FunctionCall, GenerateContentResponse, Part};

/// The block being streamed.
#[derive(Debug)]
enum Open {
    Text,
    /// A thinking block, and whether it has sent text yet.
    Thinking(Said),
    /// A tool call, its arguments gathered until it stops.
    ToolCall {
        id: String,
        name: String,
        signature: Option<String>,
        arguments: String,
    },
    /// A block Gemini cannot show (redacted thinking).
    Dropped,
}

/// Whether a thinking block has sent any text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Said {
    Nothing,
    Text,
}

/// Whether the stream has ended (`finish` or `error` sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Streaming,
    Done,
}

/// The encoder of one client stream.
pub struct Encoder {
    model: String,
    id: String,
    usage: Usage,
    open: Option<(u32, Open)>,
    /// A signature waiting for the next part.
    pending_signature: Option<String>,
    phase: Phase,
}

impl Encoder {
    /// An encoder reporting `model`.
    pub fn new(model: &str) -> Self {
        Encoder {
            model: model.to_owned(),
            id: String::new(),
            usage: sdk_usage::zero(),
            open: None,
            pending_signature: None,
            phase: Phase::Streaming,
        }
    }

    fn chunk(&self, parts: Vec<Part<'_>>, finish: Option<&'static str>, out: &mut Vec<u8>) -> Result<(), PluginError> {
        let chunk = GenerateContentResponse {
            candidates: vec![Candidate {
                content: Some(Content {
                    role: Some(Cow::Borrowed("model")),
                    parts,
                }),
                finish_reason: finish.map(Cow::Borrowed),
                index: Some(0),
            }],
            prompt_feedback: None,
            usage_metadata: Some(usage::metadata(&self.usage)),
            model_version: Some(Cow::Borrowed(&self.model)),
            response_id: Some(Cow::Borrowed(&self.id)),
            error: None,
        };
        sse::json_event(out, None, &chunk)
            .map_err(|e| PluginError::Internal(format!("a Gemini stream chunk did not serialise: {e}")))
    }

    /// A part with the pending signature, if any, put on it.
    fn signed<'p>(&mut self, mut part: Part<'p>) -> Part<'p> {
        if let Some(signature) = self.pending_signature.take() {
            part.thought_signature.get_or_insert(Cow::Owned(signature));
        }
        part
    }

    fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) -> Result<(), PluginError> {
        match event {
            StreamEvent::Start(start) => {
                self.id.clone_from(&start.id);
                self.usage = start.usage;
            }
            StreamEvent::BlockStart(start) => {
                let open = match &start.kind {
                    BlockKind::Text => Open::Text,
                    BlockKind::Thinking => Open::Thinking(Said::Nothing),
                    BlockKind::RedactedThinking(_) => Open::Dropped,
                    BlockKind::ToolCall(call) => Open::ToolCall {
                        id: call.id.clone(),
                        name: call.name.clone(),
                        signature: call.signature.clone(),
                        arguments: String::new(),
                    },
                };
                self.open = Some((start.index, open));
            }
            StreamEvent::BlockDelta(delta) => self.delta(delta.index, &delta.delta, out)?,
            StreamEvent::BlockStop(index) => self.stop(*index, out)?,
            StreamEvent::Finish(finish) => {
                // A tool call still open (a decoder that never closed it) is sent, not lost.
                if let Some(index) = self.open.as_ref().map(|(index, _)| *index) {
                    self.stop(index, out)?;
                }
                self.usage = finish.usage;
                let last = Part::text("");
                let last = self.signed(last);
                let reason = finish_reason::encode(
                    finish
                        .stop_reason
                        .unwrap_or(aether_plugin_sdk::types::StopReason::EndTurn),
                );
                self.chunk(vec![last], Some(reason), out)?;
                self.phase = Phase::Done;
            }
            StreamEvent::Error(info) => {
                sse::frame_into(out, None, &error::body(info));
                self.phase = Phase::Done;
            }
        }
        Ok(())
    }

    fn delta(&mut self, index: u32, delta: &DeltaKind, out: &mut Vec<u8>) -> Result<(), PluginError> {
        let Some((open_index, open)) = self.open.as_mut() else {
            return Ok(());
        };
        if *open_index != index {
            return Ok(());
        }
        match (open, delta) {
            (Open::ToolCall { arguments, .. }, DeltaKind::ToolArguments(fragment)) => arguments.push_str(fragment),
            (Open::Text, DeltaKind::Text(text)) if !text.is_empty() => {
                let part = self.signed(Part::text(text.as_str()));
                self.chunk(vec![part], None, out)?;
            }
            (Open::Thinking(said), DeltaKind::Thinking(text)) if !text.is_empty() => {
                *said = Said::Text;
                self.chunk(vec![Part::thought(text.as_str())], None, out)?;
            }
            (Open::Thinking(Said::Text), DeltaKind::Signature(signature)) => {
                let part = Part {
                    thought_signature: Some(Cow::Borrowed(signature.as_str())),
                    ..Part::thought("")
                };
                self.chunk(vec![part], None, out)?;
            }
            (Open::Thinking(Said::Nothing), DeltaKind::Signature(signature)) => {
                self.pending_signature = Some(signature.clone());
            }
            _ => {}
        }
        Ok(())
    }

    fn stop(&mut self, index: u32, out: &mut Vec<u8>) -> Result<(), PluginError> {
        match self.open.take() {
            Some((
                open_index,
                Open::ToolCall {
                    id,
                    name,
                    signature,
                    arguments: json,
                },
            )) if open_index == index => {
                let args = arguments(&id, &json).map_err(|_| {
                    PluginError::Internal(format!("tool call {id}: streamed arguments are not valid JSON"))
                })?;
                let part = Part {
                    function_call: Some(FunctionCall {
                        id: Some(Cow::Borrowed(&id)),
                        name: Cow::Borrowed(&name),
                        args: Some(args),
                    }),
                    thought_signature: signature.as_deref().map(Cow::Borrowed),
                    ..Part::default()
                };
                let part = self.signed(part);
                self.chunk(vec![part], None, out)
            }
            Some(other) if other.0 != index => {
                self.open = Some(other);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl StreamEncode for Encoder {
    fn push(&mut self, events: &[StreamEvent]) -> Result<Vec<u8>, PluginError> {
        let mut out = Vec::new();
        for event in events {
            if self.phase == Phase::Done {
                break;
            }
            self.event(event, &mut out)?;
        }
        Ok(out)
    }

    /// A piece of an open text block with no signature waiting, or of a thinking block that
    /// has said something, is one chunk that changes nothing. Tool-call arguments are kept
    /// until the call stops, so they have no splice.
    fn splice(&self, key: SpliceKey) -> Option<EncodeSplice> {
        let (index, open) = self.open.as_ref()?;
        if self.phase != Phase::Streaming || *index != key.index {
            return None;
        }
        let part = match (open, key.kind) {
            (Open::Text, SpliceKind::Text) if self.pending_signature.is_none() => Part::text(splice::PROBE),
            (Open::Thinking(Said::Text), SpliceKind::Thinking) => Part::thought(splice::PROBE),
            _ => return None,
        };
        let mut out = Vec::new();
        self.chunk(vec![part], None, &mut out).ok()?;
        splice::encode_splice(key, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{
        BlockDelta, BlockStart, ErrorClass, ErrorInfo, StopReason, StreamFinish, StreamStart, ToolCallStart,
    };
    use serde_json::{Value, json};

    fn encode(events: &[StreamEvent]) -> Vec<Value> {
        let mut e = Encoder::new("client-model");
        let mut bytes = e.push(events).unwrap();
        bytes.extend(e.finish().unwrap());
        let text = String::from_utf8(bytes).unwrap();
        sse::parse(&text)
            .into_iter()
            .map(|ev| {
                assert!(ev.name.is_none());
                serde_json::from_str(&ev.data).unwrap()
            })
            .collect()
    }

    fn start(cache_read: u64) -> StreamEvent {
        let mut usage = sdk_usage::zero();
        usage.input = 10;
        usage.cache_read = cache_read;
        StreamEvent::Start(StreamStart {
            id: "msg_1".into(),
            model: "upstream".into(),
            usage,
        })
    }

    fn block(index: u32, kind: BlockKind) -> StreamEvent {
        StreamEvent::BlockStart(BlockStart { index, kind })
    }

    fn delta(index: u32, delta: DeltaKind) -> StreamEvent {
        StreamEvent::BlockDelta(BlockDelta { index, delta })
    }

    fn finish(reason: StopReason) -> StreamEvent {
        let mut usage = sdk_usage::zero();
        usage.input = 10;
        usage.cache_read = 90;
        usage.output = 20;
        usage.reasoning = 5;
        StreamEvent::Finish(StreamFinish {
            stop_reason: Some(reason),
            usage,
        })
    }

    #[test]
    fn text_thinking_and_finish() {
        let chunks = encode(&[
            start(90),
            block(0, BlockKind::Thinking),
            delta(0, DeltaKind::Thinking("hm".into())),
            delta(0, DeltaKind::Signature("sig".into())),
            StreamEvent::BlockStop(0),
            block(1, BlockKind::Text),
            delta(1, DeltaKind::Text("".into())),
            delta(1, DeltaKind::Text("Hi".into())),
            StreamEvent::BlockStop(1),
            finish(StopReason::EndTurn),
        ]);
        assert_eq!(chunks.len(), 4);
        assert_eq!(
            chunks[0],
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "hm", "thought": true}]}, "index": 0}],
                "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 0, "cachedContentTokenCount": 90, "totalTokenCount": 100},
                "modelVersion": "client-model", "responseId": "msg_1"})
        );
        assert_eq!(
            chunks[1]["candidates"][0]["content"]["parts"],
            json!([{"text": "", "thought": true, "thoughtSignature": "sig"}])
        );
        assert_eq!(chunks[2]["candidates"][0]["content"]["parts"], json!([{"text": "Hi"}]));
        assert_eq!(chunks[3]["candidates"][0]["finishReason"], json!("STOP"));
        assert_eq!(
            chunks[3]["usageMetadata"],
            json!({"promptTokenCount": 100, "candidatesTokenCount": 15, "cachedContentTokenCount": 90,
                "thoughtsTokenCount": 5, "totalTokenCount": 120})
        );
    }

    #[test]
    fn tool_calls_wait_for_their_stop() {
        let chunks = encode(&[
            start(0),
            block(
                0,
                BlockKind::ToolCall(ToolCallStart {
                    id: "toolu_1".into(),
                    name: "get".into(),
                    signature: Some("ts".into()),
                }),
            ),
            delta(0, DeltaKind::ToolArguments("{\"ci".into())),
            delta(0, DeltaKind::ToolArguments("ty\": \"Pa".into())),
            delta(0, DeltaKind::ToolArguments("ris\"}".into())),
            StreamEvent::BlockStop(0),
            finish(StopReason::ToolUse),
        ]);
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[0]["candidates"][0]["content"]["parts"],
            json!([{"functionCall": {"id": "toolu_1", "name": "get", "args": {"city": "Paris"}}, "thoughtSignature": "ts"}])
        );
        assert_eq!(chunks[1]["candidates"][0]["finishReason"], json!("STOP"));
    }

    #[test]
    fn an_unclosed_tool_call_is_sent_before_the_finish() {
        let chunks = encode(&[
            start(0),
            block(
                0,
                BlockKind::ToolCall(ToolCallStart {
                    id: "c".into(),
                    name: "f".into(),
                    signature: None,
                }),
            ),
            delta(0, DeltaKind::ToolArguments("{}".into())),
            finish(StopReason::ToolUse),
        ]);
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[0]["candidates"][0]["content"]["parts"][0]["functionCall"]["name"],
            json!("f")
        );
    }

    #[test]
    fn a_signature_only_block_goes_on_the_next_part() {
        let chunks = encode(&[
            start(0),
            block(0, BlockKind::Thinking),
            delta(0, DeltaKind::Signature("s".into())),
            StreamEvent::BlockStop(0),
            block(1, BlockKind::RedactedThinking("x".into())),
            StreamEvent::BlockStop(1),
            block(2, BlockKind::Text),
            delta(2, DeltaKind::Text("a".into())),
            StreamEvent::BlockStop(2),
            block(3, BlockKind::Thinking),
            delta(3, DeltaKind::Signature("s2".into())),
            StreamEvent::BlockStop(3),
            finish(StopReason::MaxTokens),
        ]);
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[0]["candidates"][0]["content"]["parts"],
            json!([{"text": "a", "thoughtSignature": "s"}])
        );
        assert_eq!(
            chunks[1]["candidates"][0]["content"]["parts"],
            json!([{"text": "", "thoughtSignature": "s2"}])
        );
        assert_eq!(chunks[1]["candidates"][0]["finishReason"], json!("MAX_TOKENS"));
    }

    #[test]
    fn errors_end_the_stream() {
        let chunks = encode(&[
            start(0),
            StreamEvent::Error(ErrorInfo {
                class: ErrorClass::RateLimited,
                status: 429,
                message: "slow".into(),
            }),
            finish(StopReason::EndTurn),
        ]);
        assert_eq!(
            chunks,
            vec![json!({"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED"}})]
        );
        let mut e = Encoder::new("m");
        let bad = [
            block(
                0,
                BlockKind::ToolCall(ToolCallStart {
                    id: "t".into(),
                    name: "f".into(),
                    signature: None,
                }),
            ),
            delta(0, DeltaKind::ToolArguments("{".into())),
            StreamEvent::BlockStop(0),
        ];
        assert!(e.push(&bad).is_err());
    }
}
