//! A Gemini upstream's SSE chunks → IR stream events, incrementally.
//!
//! - the first chunk opens the stream (`start` with its id, model and the usage so far, so
//!   cache reads reach the client's first event);
//! - text and thought parts open a text or thinking block, closed when the part kind changes
//!   (an empty text opens nothing); a thought's `thoughtSignature` is a signature delta;
//! - a `thoughtSignature` on an answer part is a thinking block of its own with only that
//!   signature, just before the part (IR.md);
//! - a `functionCall` is a whole tool-call block: start, one arguments delta, stop;
//! - the chunk with `finishReason` (or a blocked prompt) closes the stream with `finish`
//!   (`tool-use` if any call was streamed) and the cumulative usage;
//! - an `{"error": …}` chunk becomes an `error` event; a stream that ends before a finish
//!   reason gets an `error` (502, "upstream stream ended early") from `finish()`.
//!
//! Inline data and other part kinds have no stream block in the IR and are dropped.

use std::ops::Range;

use aether_plugin_sdk::splice::{self, JsonStr};
use aether_plugin_sdk::types::{
    BlockDelta, BlockKind, BlockStart, DecodeSplice, DeltaKind, ErrorClass, ErrorInfo, PluginError, SpliceKey,
    SpliceKind, SseEvent, StreamEvent, StreamFinish, StreamStart, ToolCallStart, Usage,
};
use aether_plugin_sdk::{StreamDecode, usage as sdk_usage};

use crate::error;
use crate::finish_reason;
use crate::ids::{CallIds, Scope};
use crate::usage;
use crate::wire::{GenerateContentResponse, Part, PartKind, TextKind};

/// Where the stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No chunk yet.
    Waiting,
    /// `start` sent.
    Streaming,
    /// `finish` or `error` sent: nothing more.
    Done,
}

/// The kind of the open text-like block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
}

/// Whether the stream has called a tool (which makes the stop reason `tool-use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Calls {
    None,
    Some,
}

/// The decoder of one stream.
pub struct Decoder {
    phase: Phase,
    open: Option<(u32, Open)>,
    next_index: u32,
    ids: CallIds,
    calls: Calls,
    usage: Usage,
    /// Where the last chunk's text lies in its data, when it decoded to a lone delta.
    splice_at: Option<(Range<usize>, SpliceKey)>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            phase: Phase::Waiting,
            open: None,
            next_index: 0,
            ids: CallIds::new(Scope::Request),
            calls: Calls::None,
            usage: sdk_usage::zero(),
            splice_at: None,
        }
    }
}

impl Decoder {
    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push(StreamEvent::BlockStop(index));
        }
    }

    fn start_block(&mut self, kind: BlockKind, out: &mut Vec<StreamEvent>) -> u32 {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        out.push(StreamEvent::BlockStart(BlockStart { index, kind }));
        index
    }

    /// The open block of a kind, opened (after closing another) if need be.
    fn ensure(&mut self, kind: Open, out: &mut Vec<StreamEvent>) -> u32 {
        match self.open {
            Some((index, open)) if open == kind => index,
            _ => {
                let block = match kind {
                    Open::Text => BlockKind::Text,
                    Open::Thinking => BlockKind::Thinking,
                };
                let index = self.start_block(block, out);
                self.open = Some((index, kind));
                index
            }
        }
    }

    fn signature_block(&mut self, signature: &str, out: &mut Vec<StreamEvent>) {
        let index = self.start_block(BlockKind::Thinking, out);
        out.push(delta(index, DeltaKind::Signature(signature.to_owned())));
        out.push(StreamEvent::BlockStop(index));
    }

    fn part(&mut self, part: &Part<'_>, out: &mut Vec<StreamEvent>) {
        let signature = part.thought_signature.as_deref();
        match part.kind() {
            PartKind::Text(text, TextKind::Thought) => {
                let index = self.ensure(Open::Thinking, out);
                if !text.is_empty() {
                    out.push(delta(index, DeltaKind::Thinking(text.to_owned())));
                }
                if let Some(signature) = signature {
                    out.push(delta(index, DeltaKind::Signature(signature.to_owned())));
                }
            }
            PartKind::Text(text, TextKind::Answer) => {
                if let Some(signature) = signature {
                    self.signature_block(signature, out);
                }
                if !text.is_empty() {
                    let index = self.ensure(Open::Text, out);
                    out.push(delta(index, DeltaKind::Text(text.to_owned())));
                }
            }
            PartKind::FunctionCall(call) => {
                self.calls = Calls::Some;
                let id = self.ids.call(call.id.as_deref(), &call.name);
                let kind = BlockKind::ToolCall(ToolCallStart {
                    id,
                    name: call.name.clone().into_owned(),
                    signature: signature.map(str::to_owned),
                });
                let index = self.start_block(kind, out);
                let arguments = call
                    .args
                    .as_ref()
                    .map_or_else(|| "{}".to_owned(), serde_json::Value::to_string);
                out.push(delta(index, DeltaKind::ToolArguments(arguments)));
                out.push(StreamEvent::BlockStop(index));
            }
            PartKind::InlineData(_) | PartKind::FileData(_) | PartKind::FunctionResponse(_) | PartKind::Other => {
                if let Some(signature) = signature {
                    self.signature_block(signature, out);
                }
            }
        }
    }

    fn chunk(&mut self, chunk: GenerateContentResponse<'_>, out: &mut Vec<StreamEvent>) {
        // Every chunk's usage is the running total: the latest replaces what came before.
        if let Some(m) = &chunk.usage_metadata {
            self.usage = usage::buckets(m);
        }
        if self.phase == Phase::Waiting {
            let id = chunk.response_id.as_deref().unwrap_or("gemini-response").to_owned();
            self.ids = CallIds::new(Scope::Response(id.clone()));
            out.push(StreamEvent::Start(StreamStart {
                id,
                model: chunk.model_version.as_deref().unwrap_or_default().to_owned(),
                usage: self.usage,
            }));
            self.phase = Phase::Streaming;
        }
        if let Some(error) = &chunk.error {
            self.close(out);
            out.push(StreamEvent::Error(error::decode_value(error)));
            self.phase = Phase::Done;
            return;
        }
        let candidate = chunk.candidates.first();
        if let Some(content) = candidate.and_then(|c| c.content.as_ref()) {
            for part in &content.parts {
                self.part(part, out);
            }
        }
        let finish = candidate.and_then(|c| c.finish_reason.as_deref());
        let blocked = chunk.prompt_feedback.as_ref().and_then(|f| f.block_reason.as_ref());
        let stop_reason = match (finish, self.calls) {
            (Some(_), Calls::Some) => Some(aether_plugin_sdk::types::StopReason::ToolUse),
            (Some(reason), Calls::None) => Some(finish_reason::decode(reason)),
            (None, _) if blocked.is_some() && candidate.is_none() => {
                Some(aether_plugin_sdk::types::StopReason::ContentFilter)
            }
            (None, _) => None,
        };
        if let Some(stop_reason) = stop_reason {
            self.close(out);
            out.push(StreamEvent::Finish(StreamFinish {
                stop_reason: Some(stop_reason),
                usage: self.usage,
            }));
            self.phase = Phase::Done;
        }
    }
}

fn delta(index: u32, delta: DeltaKind) -> StreamEvent {
    StreamEvent::BlockDelta(BlockDelta { index, delta })
}

/// Just the text parts of a chunk, read again (only for a chunk that decoded to a lone
/// delta) to find where the text lies in the data: the wire types' `Option<Cow<str>>` does
/// not borrow, so it forgets.
#[derive(serde::Deserialize)]
struct TextsOnly<'a> {
    #[serde(borrow, default)]
    candidates: Vec<CandidateTexts<'a>>,
}

#[derive(serde::Deserialize)]
struct CandidateTexts<'a> {
    #[serde(borrow, default)]
    content: Option<ContentTexts<'a>>,
}

#[derive(serde::Deserialize)]
struct ContentTexts<'a> {
    #[serde(borrow, default)]
    parts: Vec<PartText<'a>>,
}

#[derive(serde::Deserialize)]
struct PartText<'a> {
    #[serde(borrow, default)]
    text: Option<JsonStr<'a>>,
    #[serde(default)]
    thought: Option<bool>,
}

/// The one non-empty text part of a chunk's first candidate, if it has exactly one: where its
/// body lies in `data`, and whether it is thinking.
fn lone_text(data: &str) -> Option<(Range<usize>, SpliceKind)> {
    let chunk: TextsOnly<'_> = serde_json::from_str(data).ok()?;
    let parts = chunk.candidates.into_iter().next()?.content?.parts;
    let mut texts = parts
        .iter()
        .filter_map(|part| Some((part.text.as_ref().filter(|t| !t.is_empty())?, part.thought)));
    let (text, thought) = texts.next()?;
    if texts.next().is_some() {
        return None;
    }
    let kind = match thought {
        Some(true) => SpliceKind::Thinking,
        _ => SpliceKind::Text,
    };
    Some((splice::span(data, text.raw())?, kind))
}

impl StreamDecode for Decoder {
    fn push(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, PluginError> {
        self.splice_at = None;
        let data = event.data.trim();
        if self.phase == Phase::Done || data.is_empty() || data == "[DONE]" {
            return Ok(Vec::new());
        }
        let chunk: GenerateContentResponse<'_> = serde_json::from_str(data).map_err(|e| {
            PluginError::InvalidRequest(format!("Gemini stream chunk is not a GenerateContentResponse: {e}"))
        })?;
        let mut out = Vec::new();
        self.chunk(chunk, &mut out);
        if let [only] = out.as_slice()
            && let Some(key) = splice::key_of(only)
            && let Some((body, kind)) = lone_text(&event.data)
            && kind == key.kind
        {
            self.splice_at = Some((body, key));
        }
        Ok(out)
    }

    /// A chunk that is one more text (or thought) part of the open block decodes the same
    /// whatever the text: the stream has started, the block is open, and the chunk's usage,
    /// the same in every such chunk, replaces itself.
    fn splice(&self, event: &SseEvent) -> Option<DecodeSplice> {
        let (body, key) = self.splice_at.clone()?;
        splice::decode_splice(event, key, body)
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, PluginError> {
        if self.phase == Phase::Done {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        self.close(&mut out);
        out.push(StreamEvent::Error(ErrorInfo {
            class: ErrorClass::Internal,
            status: 502,
            message: "upstream stream ended early".into(),
        }));
        self.phase = Phase::Done;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::StopReason;
    use serde_json::{Value, json};

    fn run(chunks: &[Value]) -> Vec<StreamEvent> {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(
                d.push(&SseEvent {
                    name: None,
                    data: c.to_string(),
                })
                .unwrap(),
            );
        }
        out.extend(d.finish().unwrap());
        out
    }

    fn chunk(parts: Value, finish: Option<&str>, usage: Value) -> Value {
        let mut c = json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
            "usageMetadata": usage, "modelVersion": "gemini-2.5-flash", "responseId": "r1"});
        if let Some(f) = finish {
            c["candidates"][0]["finishReason"] = json!(f);
        }
        c
    }

    #[test]
    fn thinking_then_text_then_finish() {
        let events = run(&[
            chunk(
                json!([{"text": "plan", "thought": true}]),
                None,
                json!({"promptTokenCount": 100, "cachedContentTokenCount": 80}),
            ),
            chunk(json!([{"text": "Hel"}]), None, json!({"promptTokenCount": 100})),
            chunk(
                json!([{"text": "lo", "thoughtSignature": "sig"}]),
                Some("STOP"),
                json!({"promptTokenCount": 100, "cachedContentTokenCount": 80, "candidatesTokenCount": 5, "thoughtsTokenCount": 7}),
            ),
        ]);
        let StreamEvent::Start(start) = &events[0] else {
            panic!()
        };
        assert_eq!((start.id.as_str(), start.model.as_str()), ("r1", "gemini-2.5-flash"));
        assert_eq!((start.usage.input, start.usage.cache_read), (20, 80));
        assert_eq!(
            &events[1..],
            &[
                StreamEvent::BlockStart(BlockStart {
                    index: 0,
                    kind: BlockKind::Thinking
                }),
                delta(0, DeltaKind::Thinking("plan".into())),
                StreamEvent::BlockStop(0),
                StreamEvent::BlockStart(BlockStart {
                    index: 1,
                    kind: BlockKind::Text
                }),
                delta(1, DeltaKind::Text("Hel".into())),
                StreamEvent::BlockStop(1),
                StreamEvent::BlockStart(BlockStart {
                    index: 2,
                    kind: BlockKind::Thinking
                }),
                delta(2, DeltaKind::Signature("sig".into())),
                StreamEvent::BlockStop(2),
                StreamEvent::BlockStart(BlockStart {
                    index: 3,
                    kind: BlockKind::Text
                }),
                delta(3, DeltaKind::Text("lo".into())),
                StreamEvent::BlockStop(3),
                StreamEvent::Finish(StreamFinish {
                    stop_reason: Some(StopReason::EndTurn),
                    usage: Usage {
                        input: 20,
                        output: 12,
                        cache_creation5m: 0,
                        cache_creation1h: 0,
                        cache_read: 80,
                        reasoning: 7
                    }
                }),
            ]
        );
    }

    #[test]
    fn tool_calls_are_whole_blocks_and_stop_with_tool_use() {
        let events = run(&[
            chunk(json!([{"text": ""}]), None, json!({"promptTokenCount": 3})),
            chunk(
                json!([{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "s"},
                       {"functionCall": {"name": "g", "args": {}}}]),
                Some("STOP"),
                json!({"promptTokenCount": 3, "candidatesTokenCount": 9}),
            ),
        ]);
        assert_eq!(events.len(), 8, "{events:?}");
        assert_eq!(
            events[1],
            StreamEvent::BlockStart(BlockStart {
                index: 0,
                kind: BlockKind::ToolCall(ToolCallStart {
                    id: "call_r1_0".into(),
                    name: "f".into(),
                    signature: Some("s".into())
                })
            })
        );
        assert_eq!(events[2], delta(0, DeltaKind::ToolArguments(r#"{"a":1}"#.into())));
        assert!(
            matches!(&events[4], StreamEvent::BlockStart(BlockStart { index: 1, kind: BlockKind::ToolCall(c) }) if c.id == "call_r1_1")
        );
        assert!(
            matches!(&events[7], StreamEvent::Finish(f) if f.stop_reason == Some(StopReason::ToolUse) && f.usage.output == 9)
        );
    }

    #[test]
    fn ended_early_and_errors() {
        let events = run(&[chunk(json!([{"text": "a"}]), None, json!({}))]);
        assert!(
            matches!(events.last(), Some(StreamEvent::Error(e)) if e.status == 502 && e.message.contains("ended early"))
        );
        assert!(matches!(events[events.len() - 2], StreamEvent::BlockStop(0)));
        let events = run(&[json!({"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED"}})]);
        assert!(matches!(events.last(), Some(StreamEvent::Error(e)) if e.class == ErrorClass::RateLimited));
        let events =
            run(&[json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}})]);
        assert!(
            matches!(events.last(), Some(StreamEvent::Finish(f)) if f.stop_reason == Some(StopReason::ContentFilter))
        );
        let mut d = Decoder::default();
        assert!(
            d.push(&SseEvent {
                name: None,
                data: "{oops".into()
            })
            .is_err()
        );
    }

    #[test]
    fn a_lone_text_chunk_offers_a_splice() {
        let chunk = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},"index":0}],"modelVersion":"g","responseId":"r","usageMetadata":{"promptTokenCount":7,"totalTokenCount":7}}"#;
        let event = SseEvent {
            name: None,
            data: chunk.into(),
        };
        let mut d = Decoder::default();
        assert_eq!(d.push(&event).unwrap().len(), 3);
        assert!(
            d.splice(&event).is_none(),
            "the first chunk starts the stream and the block"
        );
        let again = d.push(&event).unwrap();
        assert_eq!(again.len(), 1);
        let splice = d.splice(&event).expect("a lone text delta offers a splice");
        assert!(splice::reproduces(&splice, &event, &again[0]));
        assert!(splice.head.ends_with(r#"{"text":""#));
    }
}
