//! An upstream's Chat Completions stream as IR events, one chunk at a time.
//!
//! - `start` on the first chunk, with its id, model and whatever usage it carries.
//! - Blocks are sequential: a `reasoning_content` delta opens a thinking block, a `content`
//!   (or `refusal`) delta a text block, a `tool_calls` delta with a new `index` a tool-call
//!   block; the open block closes when the kind or the tool index changes. Empty strings
//!   (the first chunk's `content: ""`) open nothing.
//! - The `finish_reason` chunk closes the open block and is remembered; the usage chunk that
//!   follows it is remembered; `finish` goes out at `[DONE]` (or at the end of the stream
//!   if a `finish_reason` was seen), as tool use if any tool call streamed.
//! - `{"error": {...}}` data is an IR `error`; a stream that ends with neither `[DONE]` nor a
//!   `finish_reason` ends with an `error` (internal, 502).

use std::borrow::Cow;
use std::ops::Range;

use aether_plugin_sdk::splice::{self, JsonStr};
use aether_plugin_sdk::types::{
    BlockDelta, BlockKind, BlockStart, DecodeSplice, DeltaKind, ErrorClass, ErrorInfo, PluginError, SpliceKey,
    SpliceKind, SseEvent, StopReason, StreamEvent, StreamFinish, StreamStart, ToolCallStart, Usage,
};
use aether_plugin_sdk::{StreamDecode, usage};
use serde::Deserialize;

use crate::error::WireError;
use crate::stop::{self, Evidence};
use crate::usage::ChatUsage;

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<ChatUsage>,
    #[serde(borrow, default)]
    error: Option<WireError<'a>>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default)]
    index: u32,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    reasoning_content: Option<JsonStr<'a>>,
    /// OpenRouter and others name it `reasoning`.
    #[serde(borrow, default)]
    reasoning: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    refusal: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    tool_calls: Vec<ToolCallDelta<'a>>,
}

#[derive(Deserialize)]
struct ToolCallDelta<'a> {
    #[serde(default)]
    index: Option<u32>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<JsonStr<'a>>,
}

/// The kind of the block that is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    /// A tool call, by its index in the upstream's `tool_calls`.
    Tool(u32),
}

/// Where the stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing seen yet.
    Waiting,
    /// `start` sent.
    Streaming,
    /// `finish` or `error` sent: later events are ignored.
    Ended,
}

/// One upstream stream's decoding state.
pub struct Decoder {
    phase: Phase,
    open: Option<(u32, Open)>,
    next_index: u32,
    evidence: Evidence,
    finish_reason: Option<StopReason>,
    usage: Usage,
    /// The tool calls opened so far: upstream `tool_calls` index → IR block index.
    tools: Vec<(u32, u32)>,
    /// Where the last chunk's delta string lies in its data, when it decoded to a lone delta.
    splice_at: Option<(Range<usize>, SpliceKey)>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            phase: Phase::Waiting,
            open: None,
            next_index: 0,
            evidence: Evidence::Plain,
            finish_reason: None,
            usage: usage::zero(),
            tools: Vec::new(),
            splice_at: None,
        }
    }
}

impl Decoder {
    fn start(&mut self, id: &str, model: &str, out: &mut Vec<StreamEvent>) {
        if self.phase == Phase::Waiting {
            self.phase = Phase::Streaming;
            out.push(StreamEvent::Start(StreamStart {
                id: id.to_owned(),
                model: model.to_owned(),
                usage: self.usage,
            }));
        }
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push(StreamEvent::BlockStop(index));
        }
    }

    /// The index of an open block of this kind, opening it (and closing another) if needed.
    fn ensure(&mut self, kind: Open, start: impl FnOnce() -> BlockKind, out: &mut Vec<StreamEvent>) -> u32 {
        if let Some((index, open)) = self.open
            && open == kind
        {
            return index;
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, kind));
        out.push(StreamEvent::BlockStart(BlockStart { index, kind: start() }));
        index
    }

    fn delta(index: u32, delta: DeltaKind, out: &mut Vec<StreamEvent>) {
        out.push(StreamEvent::BlockDelta(BlockDelta { index, delta }));
    }

    fn choice(&mut self, choice: &Choice<'_>, out: &mut Vec<StreamEvent>) {
        if let Some(delta) = &choice.delta {
            let reasoning = delta.reasoning_content.as_deref().or(delta.reasoning.as_deref());
            if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
                let index = self.ensure(Open::Thinking, || BlockKind::Thinking, out);
                Self::delta(index, DeltaKind::Thinking(text.to_owned()), out);
            }
            if let Some(text) = delta.content.as_deref().filter(|t| !t.is_empty()) {
                let index = self.ensure(Open::Text, || BlockKind::Text, out);
                Self::delta(index, DeltaKind::Text(text.to_owned()), out);
            }
            if let Some(text) = delta.refusal.as_deref().filter(|t| !t.is_empty()) {
                self.evidence.raise(Evidence::Refusal);
                let index = self.ensure(Open::Text, || BlockKind::Text, out);
                Self::delta(index, DeltaKind::Text(text.to_owned()), out);
            }
            for (position, call) in delta.tool_calls.iter().enumerate() {
                self.tool_call(position, call, out);
            }
        }
        if let Some(reason) = choice.finish_reason.as_deref() {
            self.close(out);
            self.finish_reason = Some(stop::decode(reason));
        }
    }

    fn tool_call(&mut self, position: usize, call: &ToolCallDelta<'_>, out: &mut Vec<StreamEvent>) {
        let tool_index = call
            .index
            .unwrap_or_else(|| u32::try_from(position).unwrap_or(u32::MAX));
        let function = call.function.as_ref();
        let arguments = function.and_then(|f| f.arguments.as_deref()).filter(|a| !a.is_empty());
        let index = match self.open {
            Some((index, Open::Tool(open))) if open == tool_index => index,
            _ => match self.tools.iter().find(|(t, _)| *t == tool_index) {
                // A call the upstream returns to after another began (OpenAI never does):
                // its arguments go to its own, already closed, block rather than be lost.
                Some(&(_, index)) => index,
                None => {
                    self.evidence.raise(Evidence::ToolCall);
                    let id = call
                        .id
                        .as_deref()
                        .map_or_else(|| format!("call_{}", self.tools.len()), str::to_owned);
                    let name = function.and_then(|f| f.name.as_deref()).unwrap_or_default().to_owned();
                    let start = || {
                        BlockKind::ToolCall(ToolCallStart {
                            id,
                            name,
                            signature: None,
                        })
                    };
                    let index = self.ensure(Open::Tool(tool_index), start, out);
                    self.tools.push((tool_index, index));
                    index
                }
            },
        };
        if let Some(arguments) = arguments {
            Self::delta(index, DeltaKind::ToolArguments(arguments.to_owned()), out);
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        self.close(out);
        self.phase = Phase::Ended;
        out.push(StreamEvent::Finish(StreamFinish {
            stop_reason: stop::settle(self.finish_reason, self.evidence),
            usage: self.usage,
        }));
    }

    fn fail(&mut self, info: ErrorInfo, out: &mut Vec<StreamEvent>) {
        self.close(out);
        self.phase = Phase::Ended;
        out.push(StreamEvent::Error(info));
    }
}

/// The string a chunk's lone delta of `key` came from: the first choice's content (or
/// refusal), reasoning, or the one tool call's arguments fragment.
fn delta_source<'d>(chunk: &Chunk<'d>, key: SpliceKey) -> Option<&'d str> {
    let choice = chunk.choices.iter().find(|c| c.index == 0)?;
    let delta = choice.delta.as_ref()?;
    let non_empty = |s: &Option<JsonStr<'d>>| s.as_ref().filter(|t| !t.is_empty()).map(JsonStr::raw);
    match key.kind {
        SpliceKind::Text => non_empty(&delta.content).or_else(|| non_empty(&delta.refusal)),
        SpliceKind::Thinking => non_empty(&delta.reasoning_content).or_else(|| non_empty(&delta.reasoning)),
        SpliceKind::ToolArguments => delta
            .tool_calls
            .iter()
            .find_map(|call| call.function.as_ref().and_then(|f| non_empty(&f.arguments))),
    }
}

impl StreamDecode for Decoder {
    fn push(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, PluginError> {
        let mut out = Vec::new();
        self.splice_at = None;
        if self.phase == Phase::Ended {
            return Ok(out);
        }
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(out);
        }
        if data == "[DONE]" {
            self.start("", "", &mut out);
            self.finish(&mut out);
            return Ok(out);
        }
        let chunk: Chunk<'_> = serde_json::from_str(data).map_err(|e| {
            PluginError::InvalidRequest(format!("upstream stream chunk is not a chat completion chunk: {e}"))
        })?;
        if let Some(error) = &chunk.error {
            self.fail(crate::error::info(error, None), &mut out);
            return Ok(out);
        }
        if let Some(u) = &chunk.usage {
            usage::raise(&mut self.usage, &u.to_ir());
        }
        self.start(
            chunk.id.as_deref().unwrap_or_default(),
            chunk.model.as_deref().unwrap_or_default(),
            &mut out,
        );
        // Only the first choice converts (a request with n > 1 is refused).
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            self.choice(choice, &mut out);
        }
        if let [only] = out.as_slice()
            && let Some(key) = splice::key_of(only)
        {
            self.splice_at = delta_source(&chunk, key)
                .and_then(|source| splice::span(&event.data, source))
                .map(|body| (body, key));
        }
        Ok(out)
    }

    /// A chunk that is one more string for the open block decodes the same whatever the
    /// string: the stream has started, the block is open, and its usage (if any) is raised to
    /// what it already was.
    fn splice(&self, event: &SseEvent) -> Option<DecodeSplice> {
        let (body, key) = self.splice_at.clone()?;
        splice::decode_splice(event, key, body)
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, PluginError> {
        let mut out = Vec::new();
        match self.phase {
            Phase::Ended => {}
            _ if self.finish_reason.is_some() => Decoder::finish(self, &mut out),
            _ => self.fail(
                ErrorInfo {
                    class: ErrorClass::Internal,
                    status: 502,
                    message: "upstream stream ended early".into(),
                },
                &mut out,
            ),
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn run(chunks: &[Value], done: bool) -> Vec<StreamEvent> {
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
        if done {
            out.extend(
                d.push(&SseEvent {
                    name: None,
                    data: "[DONE]".into(),
                })
                .unwrap(),
            );
        }
        out.extend(StreamDecode::finish(&mut d).unwrap());
        out
    }

    fn chunk(delta: Value, finish: Value) -> Value {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    }

    fn usage_chunk() -> Value {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 50,
            "completion_tokens": 10, "total_tokens": 60, "prompt_tokens_details": {"cached_tokens": 40},
            "completion_tokens_details": {"reasoning_tokens": 4}}})
    }

    #[test]
    fn text_without_an_empty_block_then_finish_at_done() {
        let events = run(
            &[
                chunk(
                    json!({"role": "assistant", "content": "", "refusal": null}),
                    Value::Null,
                ),
                chunk(json!({"content": "Hel"}), Value::Null),
                chunk(json!({"content": "lo"}), Value::Null),
                chunk(json!({}), json!("stop")),
                usage_chunk(),
            ],
            true,
        );
        let mut u = usage::zero();
        u.input = 10;
        u.cache_read = 40;
        u.output = 10;
        u.reasoning = 4;
        assert_eq!(
            events,
            vec![
                StreamEvent::Start(StreamStart {
                    id: "chatcmpl-1".into(),
                    model: "gpt-4o".into(),
                    usage: usage::zero()
                }),
                StreamEvent::BlockStart(BlockStart {
                    index: 0,
                    kind: BlockKind::Text
                }),
                StreamEvent::BlockDelta(BlockDelta {
                    index: 0,
                    delta: DeltaKind::Text("Hel".into())
                }),
                StreamEvent::BlockDelta(BlockDelta {
                    index: 0,
                    delta: DeltaKind::Text("lo".into())
                }),
                StreamEvent::BlockStop(0),
                StreamEvent::Finish(StreamFinish {
                    stop_reason: Some(StopReason::EndTurn),
                    usage: u
                }),
            ]
        );
    }

    #[test]
    fn reasoning_then_text_then_tool_calls_split_across_deltas() {
        let events = run(
            &[
                chunk(json!({"role": "assistant", "reasoning_content": "think"}), Value::Null),
                chunk(json!({"content": "Let me check."}), Value::Null),
                chunk(
                    json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "weather", "arguments": ""}}]}),
                    Value::Null,
                ),
                chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]}),
                    Value::Null,
                ),
                chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "ty\":\"Paris\"}"}}]}),
                    Value::Null,
                ),
                chunk(
                    json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "time", "arguments": "{}"}}]}),
                    Value::Null,
                ),
                // Some upstreams say "stop" after tool calls.
                chunk(json!({}), json!("stop")),
            ],
            true,
        );
        let kinds: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
        assert_eq!(events.len(), 15, "{kinds:#?}");
        assert!(matches!(
            &events[1],
            StreamEvent::BlockStart(BlockStart {
                index: 0,
                kind: BlockKind::Thinking
            })
        ));
        assert!(matches!(&events[3], StreamEvent::BlockStop(0)));
        assert!(matches!(
            &events[4],
            StreamEvent::BlockStart(BlockStart {
                index: 1,
                kind: BlockKind::Text
            })
        ));
        assert!(matches!(&events[6], StreamEvent::BlockStop(1)));
        assert!(
            matches!(&events[7], StreamEvent::BlockStart(BlockStart { index: 2, kind: BlockKind::ToolCall(t) }) if t.id == "call_a" && t.name == "weather")
        );
        assert!(
            matches!(&events[8], StreamEvent::BlockDelta(BlockDelta { index: 2, delta: DeltaKind::ToolArguments(a) }) if a == "{\"ci")
        );
        assert!(matches!(&events[10], StreamEvent::BlockStop(2)));
        assert!(
            matches!(&events[11], StreamEvent::BlockStart(BlockStart { index: 3, kind: BlockKind::ToolCall(t) }) if t.id == "call_b")
        );
        assert!(
            matches!(&events[12], StreamEvent::BlockDelta(BlockDelta { index: 3, delta: DeltaKind::ToolArguments(a) }) if a == "{}")
        );
        assert!(matches!(&events[13], StreamEvent::BlockStop(3)));
        assert!(matches!(
            &events[14],
            StreamEvent::Finish(StreamFinish {
                stop_reason: Some(StopReason::ToolUse),
                ..
            })
        ));
    }

    #[test]
    fn usage_in_the_first_chunk_reaches_start() {
        let mut first = chunk(json!({"role": "assistant", "content": ""}), Value::Null);
        first["usage"] =
            json!({"prompt_tokens": 100, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 80}});
        let events = run(&[first, chunk(json!({}), json!("length"))], true);
        assert!(
            matches!(&events[0], StreamEvent::Start(s) if s.usage.cache_read == 80 && s.usage.input == 20),
            "{events:?}"
        );
        assert!(
            matches!(&events[1], StreamEvent::Finish(f) if f.stop_reason == Some(StopReason::MaxTokens) && f.usage.cache_read == 80)
        );
    }

    #[test]
    fn refusal_and_content_filter() {
        let events = run(&[chunk(json!({"refusal": "No."}), json!("stop"))], true);
        assert!(matches!(events.last(), Some(StreamEvent::Finish(f)) if f.stop_reason == Some(StopReason::Refusal)));
        let events = run(&[chunk(json!({"content": "x"}), json!("content_filter"))], true);
        assert!(
            matches!(events.last(), Some(StreamEvent::Finish(f)) if f.stop_reason == Some(StopReason::ContentFilter))
        );
    }

    #[test]
    fn end_without_done() {
        let events = run(&[chunk(json!({"content": "x"}), json!("stop"))], false);
        assert!(matches!(events.last(), Some(StreamEvent::Finish(_))));
        let events = run(&[chunk(json!({"content": "x"}), Value::Null)], false);
        assert_eq!(events.len(), 5);
        assert!(matches!(&events[3], StreamEvent::BlockStop(0)));
        assert!(
            matches!(&events[4], StreamEvent::Error(e) if e.status == 502 && e.class == ErrorClass::Internal && e.message.contains("ended early"))
        );
    }

    #[test]
    fn error_data_mid_stream() {
        let events = run(
            &[
                chunk(json!({"content": "x"}), Value::Null),
                json!({"error": {"message": "Rate limit reached", "type": "tokens", "code": "rate_limit_exceeded"}}),
                chunk(json!({"content": "ignored"}), Value::Null),
            ],
            true,
        );
        assert_eq!(events.len(), 5, "{events:?}");
        assert!(
            matches!(&events[4], StreamEvent::Error(e) if e.class == ErrorClass::RateLimited && e.status == 429 && e.message == "Rate limit reached")
        );
    }

    #[test]
    fn a_tool_call_returned_to_keeps_its_block() {
        let events = run(
            &[
                chunk(
                    json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}}]}),
                    Value::Null,
                ),
                chunk(
                    json!({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}),
                    Value::Null,
                ),
                chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}),
                    json!("tool_calls"),
                ),
            ],
            true,
        );
        assert!(
            matches!(&events[6], StreamEvent::BlockDelta(BlockDelta { index: 0, delta: DeltaKind::ToolArguments(a) }) if a == "}"),
            "{events:?}"
        );
        let starts = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::BlockStart(_)))
            .count();
        assert_eq!(starts, 2);
    }

    #[test]
    fn malformed_chunks_are_errors() {
        let mut d = Decoder::default();
        let r = d.push(&SseEvent {
            name: None,
            data: "{oops".into(),
        });
        assert!(matches!(r, Err(PluginError::InvalidRequest(_))));
    }
}
