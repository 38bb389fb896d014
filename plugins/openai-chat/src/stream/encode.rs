//! IR events as a Chat Completions stream, chunk by chunk as OpenAI streams them: `data:`
//! lines without event names; a first chunk with `{role: assistant, content: ""}`; text
//! deltas as `content`; thinking deltas as `reasoning_content` (DeepSeek's field, which
//! other clients ignore); a tool call's start as `tool_calls[{index, id, type, function:
//! {name, arguments: ""}}]` and its argument fragments as `tool_calls[{index, function:
//! {arguments}}]`, tool indices counting tool calls only; at `finish`, a chunk with an empty
//! delta and the `finish_reason`, then the usage chunk (`choices: []`); `[DONE]` from
//! `finish()`. An IR `error` is `data: {"error": {...}}`, and nothing follows it.

use aether_plugin_sdk::types::{DeltaKind, EncodeSplice, PluginError, SpliceKey, SpliceKind, StreamEvent, Usage};
use aether_plugin_sdk::{StreamEncode, splice, sse};
use serde::Serialize;

use crate::response::{chat_id, now};
use crate::stop;
use crate::usage::{self, WireUsage};

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: Option<&'a str>,
    choices: Vec<Choice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<WireUsage>,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    /// `Some(None)` writes the first chunk's `"refusal": null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

/// Where the client stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing written yet.
    Waiting,
    /// The first chunk is out.
    Streaming,
    /// The finish and usage chunks are out: `[DONE]` follows at `finish()`.
    Finished,
    /// An error went out: nothing follows.
    Failed,
}

/// One client stream's encoding state.
pub struct Encoder {
    model: String,
    id: String,
    created: u64,
    phase: Phase,
    /// IR block index → tool-call index, for the tool calls opened so far.
    tools: Vec<(u32, u32)>,
}

impl Encoder {
    /// An encoder that reports `model` (the client's name for it).
    pub fn new(model: &str) -> Self {
        Encoder {
            model: model.to_owned(),
            id: chat_id(""),
            created: now(),
            phase: Phase::Waiting,
            tools: Vec::new(),
        }
    }

    fn write(
        &self,
        out: &mut Vec<u8>,
        delta: Option<Delta<'_>>,
        finish: Option<&'static str>,
        usage: Option<&Usage>,
    ) -> Result<(), PluginError> {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            system_fingerprint: None,
            choices: delta
                .map(|delta| Choice {
                    index: 0,
                    delta,
                    logprobs: None,
                    finish_reason: finish,
                })
                .into_iter()
                .collect(),
            usage: usage.map(usage::wire),
        };
        sse::json_event(out, None, &chunk).map_err(|e| PluginError::Internal(format!("encoding a chunk: {e}")))
    }

    /// The first chunk, once.
    fn begin(&mut self, out: &mut Vec<u8>) -> Result<(), PluginError> {
        if self.phase != Phase::Waiting {
            return Ok(());
        }
        self.phase = Phase::Streaming;
        let delta = Delta {
            role: Some("assistant"),
            content: Some(""),
            refusal: Some(None),
            ..Delta::default()
        };
        self.write(out, Some(delta), None, None)
    }

    fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) -> Result<(), PluginError> {
        match event {
            StreamEvent::Start(start) => {
                if self.phase == Phase::Waiting {
                    self.id = chat_id(&start.id);
                }
                self.begin(out)?;
            }
            StreamEvent::BlockStart(start) => {
                self.begin(out)?;
                if let aether_plugin_sdk::types::BlockKind::ToolCall(call) = &start.kind {
                    let tool_index = u32::try_from(self.tools.len()).unwrap_or(u32::MAX);
                    self.tools.push((start.index, tool_index));
                    let delta = Delta {
                        tool_calls: Some([ToolCallDelta {
                            index: tool_index,
                            id: Some(&call.id),
                            kind: Some("function"),
                            function: FunctionDelta {
                                name: Some(&call.name),
                                arguments: "",
                            },
                        }]),
                        ..Delta::default()
                    };
                    self.write(out, Some(delta), None, None)?;
                }
                // Text and thinking blocks show with their first delta; redacted thinking
                // has no Chat Completions form (README).
            }
            StreamEvent::BlockDelta(block) => {
                self.begin(out)?;
                let piece = match &block.delta {
                    DeltaKind::Text(text) => Some((SpliceKind::Text, text)),
                    DeltaKind::Thinking(text) => Some((SpliceKind::Thinking, text)),
                    DeltaKind::ToolArguments(arguments) => Some((SpliceKind::ToolArguments, arguments)),
                    // Signatures have no Chat Completions form (README).
                    DeltaKind::Signature(_) => None,
                };
                if let Some(delta) = piece.and_then(|(kind, text)| self.piece(kind, block.index, text)) {
                    self.write(out, Some(delta), None, None)?;
                }
            }
            StreamEvent::BlockStop(_) => {}
            StreamEvent::Finish(finish) => {
                self.begin(out)?;
                self.write(
                    out,
                    Some(Delta::default()),
                    Some(stop::encode(finish.stop_reason)),
                    None,
                )?;
                self.write(out, None, None, Some(&finish.usage))?;
                self.phase = Phase::Finished;
            }
            StreamEvent::Error(info) => {
                sse::frame_into(out, None, &crate::error::body(info));
                self.phase = Phase::Failed;
            }
        }
        Ok(())
    }

    /// The chunk delta for a piece of block `index`'s text; none for an empty piece (which
    /// says nothing) or arguments of a tool call never opened.
    fn piece<'a>(&self, kind: SpliceKind, index: u32, text: &'a str) -> Option<Delta<'a>> {
        if text.is_empty() {
            return None;
        }
        Some(match kind {
            SpliceKind::Text => Delta {
                content: Some(text),
                ..Delta::default()
            },
            SpliceKind::Thinking => Delta {
                reasoning_content: Some(text),
                ..Delta::default()
            },
            SpliceKind::ToolArguments => {
                let &(_, tool_index) = self.tools.iter().find(|(ir, _)| *ir == index)?;
                Delta {
                    tool_calls: Some([ToolCallDelta {
                        index: tool_index,
                        id: None,
                        kind: None,
                        function: FunctionDelta {
                            name: None,
                            arguments: text,
                        },
                    }]),
                    ..Delta::default()
                }
            }
        })
    }
}

impl StreamEncode for Encoder {
    fn push(&mut self, events: &[StreamEvent]) -> Result<Vec<u8>, PluginError> {
        let mut out = Vec::new();
        for event in events {
            if matches!(self.phase, Phase::Finished | Phase::Failed) {
                break;
            }
            self.event(event, &mut out)?;
        }
        Ok(out)
    }

    /// Once the first chunk is out, a piece of text is one chunk that changes nothing.
    fn splice(&self, key: SpliceKey) -> Option<EncodeSplice> {
        if self.phase != Phase::Streaming {
            return None;
        }
        let delta = self.piece(key.kind, key.index, splice::PROBE)?;
        let mut out = Vec::new();
        self.write(&mut out, Some(delta), None, None).ok()?;
        splice::encode_splice(key, &out)
    }

    fn finish(&mut self) -> Result<Vec<u8>, PluginError> {
        Ok(match self.phase {
            Phase::Finished => sse::frame(None, b"[DONE]"),
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{
        BlockDelta, BlockKind, BlockStart, ErrorClass, ErrorInfo, StopReason, StreamFinish, StreamStart, ToolCallStart,
    };
    use serde_json::{Value, json};

    fn encoded(events: &[StreamEvent]) -> Vec<Value> {
        let mut e = Encoder::new("client-model");
        let mut bytes = e.push(events).unwrap();
        bytes.extend(e.finish().unwrap());
        aether_plugin_sdk::harness::stream_json(&bytes)
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert!(e["event"].is_null());
                e["data"].clone()
            })
            .collect()
    }

    fn start() -> StreamEvent {
        let mut u = aether_plugin_sdk::usage::zero();
        u.input = 5;
        StreamEvent::Start(StreamStart {
            id: "msg_1".into(),
            model: "upstream-model".into(),
            usage: u,
        })
    }

    fn delta(index: u32, delta: DeltaKind) -> StreamEvent {
        StreamEvent::BlockDelta(BlockDelta { index, delta })
    }

    fn finish(reason: StopReason) -> StreamEvent {
        let mut u = aether_plugin_sdk::usage::zero();
        u.input = 5;
        u.cache_read = 100;
        u.cache_creation5m = 10;
        u.output = 7;
        StreamEvent::Finish(StreamFinish {
            stop_reason: Some(reason),
            usage: u,
        })
    }

    #[test]
    fn text_thinking_finish_usage_and_done() {
        let out = encoded(&[
            start(),
            StreamEvent::BlockStart(BlockStart {
                index: 0,
                kind: BlockKind::Thinking,
            }),
            delta(0, DeltaKind::Thinking("hmm".into())),
            delta(0, DeltaKind::Signature("sig".into())),
            StreamEvent::BlockStop(0),
            StreamEvent::BlockStart(BlockStart {
                index: 1,
                kind: BlockKind::Text,
            }),
            delta(1, DeltaKind::Text("Hi".into())),
            delta(1, DeltaKind::Text(String::new())),
            StreamEvent::BlockStop(1),
            finish(StopReason::EndTurn),
        ]);
        assert_eq!(out.len(), 6, "{out:#?}");
        assert_eq!(out[0]["id"], "chatcmpl-msg_1");
        assert_eq!(out[0]["object"], "chat.completion.chunk");
        assert_eq!(out[0]["model"], "client-model");
        assert_eq!(
            out[0]["choices"],
            json!([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": null}, "logprobs": null, "finish_reason": null}])
        );
        assert_eq!(out[1]["choices"][0]["delta"], json!({"reasoning_content": "hmm"}));
        assert_eq!(out[2]["choices"][0]["delta"], json!({"content": "Hi"}));
        assert_eq!(
            out[3]["choices"][0],
            json!({"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"})
        );
        assert_eq!(out[4]["choices"], json!([]));
        assert_eq!(out[4]["usage"]["prompt_tokens"], 115);
        assert_eq!(out[4]["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
        assert_eq!(out[4]["usage"]["completion_tokens"], 7);
        assert_eq!(out[5], json!("[DONE]"));
        assert!(
            out[..5]
                .iter()
                .all(|c| c["id"] == "chatcmpl-msg_1" && c["created"] == out[0]["created"])
        );
    }

    #[test]
    fn tool_calls_count_from_zero_and_split_arguments() {
        let tool = |index: u32, id: &str| {
            StreamEvent::BlockStart(BlockStart {
                index,
                kind: BlockKind::ToolCall(ToolCallStart {
                    id: id.into(),
                    name: "weather".into(),
                    signature: None,
                }),
            })
        };
        let out = encoded(&[
            start(),
            StreamEvent::BlockStart(BlockStart {
                index: 0,
                kind: BlockKind::Text,
            }),
            delta(0, DeltaKind::Text("ok".into())),
            StreamEvent::BlockStop(0),
            tool(1, "toolu_a"),
            delta(1, DeltaKind::ToolArguments("{\"city\":".into())),
            delta(1, DeltaKind::ToolArguments("\"Paris\"}".into())),
            StreamEvent::BlockStop(1),
            tool(2, "toolu_b"),
            delta(2, DeltaKind::ToolArguments("{}".into())),
            StreamEvent::BlockStop(2),
            finish(StopReason::ToolUse),
        ]);
        assert_eq!(out.len(), 10, "{out:#?}");
        assert_eq!(
            out[2]["choices"][0]["delta"],
            json!({"tool_calls": [{"index": 0, "id": "toolu_a", "type": "function", "function": {"name": "weather", "arguments": ""}}]})
        );
        assert_eq!(
            out[3]["choices"][0]["delta"],
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]})
        );
        assert_eq!(out[5]["choices"][0]["delta"]["tool_calls"][0]["index"], 1);
        assert_eq!(out[6]["choices"][0]["delta"]["tool_calls"][0]["index"], 1);
        assert_eq!(out[7]["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn errors_end_the_stream_without_done() {
        let out = encoded(&[
            start(),
            StreamEvent::Error(ErrorInfo {
                class: ErrorClass::RateLimited,
                status: 429,
                message: "slow".into(),
            }),
            finish(StopReason::EndTurn),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1]["error"]["type"], "rate_limit_exceeded");
        assert_eq!(out[1]["error"]["message"], "slow");
    }

    #[test]
    fn a_finish_without_a_start_still_opens_the_stream() {
        let out = encoded(&[finish(StopReason::MaxTokens)]);
        assert_eq!(out.len(), 4);
        assert_eq!(out[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(out[1]["choices"][0]["finish_reason"], "length");
    }
}
