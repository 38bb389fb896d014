//! Token extraction from responses, per wire format, for whole bodies and for streams.
//!
//! A [`UsageTap`] is fed what the relay forwards — a whole JSON body, or blocks of complete
//! SSE events — and keeps the latest usage it has seen, mapped to the non-overlapping
//! buckets of [`Usage`]. A stream cut before its final event leaves the tokens seen so far
//! and [`UsageTap::completed`] false.
//!
//! | format | where usage is | mapping |
//! |---|---|---|
//! | Claude | `message_start.message.usage`, then `message_delta.usage` (cumulative); body `usage` | `cache_creation.ephemeral_5m/1h_input_tokens` split the writes, else all of `cache_creation_input_tokens` is 5m; `input_tokens` is already uncached; `output_tokens` includes thinking |
//! | OpenAI Chat | the chunk with a `usage` object (`stream_options.include_usage`); body `usage` | input = `prompt_tokens − cached_tokens`; cache_read = `prompt_tokens_details.cached_tokens`; output = `completion_tokens` (reasoning included); reasoning = `completion_tokens_details.reasoning_tokens` |
//! | OpenAI Responses | `response.completed` / `.incomplete` / `.failed` → `response.usage`; body `usage` | input = `input_tokens − cached_tokens`; output = `output_tokens` (reasoning included) |
//! | Gemini | `usageMetadata` of each chunk (cumulative); body the same | input = `promptTokenCount − cachedContentTokenCount + toolUsePromptTokenCount`; output = `candidatesTokenCount + thoughtsTokenCount`; reasoning = thoughts |
//!
//! Cheap per event: only events that can carry usage are parsed (by event name, or a
//! substring check for a `"usage"` object / `usageMetadata`), and then into small structs
//! that skip everything else.

use serde::Deserialize;

use super::record::Usage;
use crate::format::WireFormat;
use crate::sse;

/// Watches one response for usage.
#[derive(Debug, Clone)]
pub struct UsageTap {
    format: WireFormat,
    usage: Usage,
    completed: bool,
    seen_usage: bool,
}

impl UsageTap {
    /// A tap for a response in `format` (the upstream's format: what is being read).
    pub fn new(format: WireFormat) -> Self {
        UsageTap {
            format,
            usage: Usage::default(),
            completed: false,
            seen_usage: false,
        }
    }

    /// Reads a whole (non-streamed) JSON response body. A body that is not JSON, or has no
    /// usage, leaves the usage unchanged.
    pub fn body(&mut self, body: &[u8]) {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if self.format == WireFormat::Gemini && first == Some(&b'[') {
            // streamGenerateContent without `alt=sse` answers a JSON array of chunks.
            if let Ok(chunks) = serde_json::from_slice::<Vec<GeminiChunk>>(body) {
                for chunk in chunks {
                    self.gemini(chunk);
                }
            }
            return;
        }
        match self.format {
            WireFormat::Claude => {
                if let Ok(b) = serde_json::from_slice::<ClaudeBody>(body)
                    && let Some(u) = b.usage
                {
                    self.claude(&u);
                    self.completed = true;
                }
            }
            WireFormat::OpenaiChat => {
                if let Ok(b) = serde_json::from_slice::<OpenaiChatBody>(body)
                    && let Some(u) = b.usage
                {
                    self.openai_chat(&u);
                    self.completed = true;
                }
            }
            WireFormat::OpenaiResponses => {
                if let Ok(b) = serde_json::from_slice::<ResponsesBody>(body)
                    && let Some(u) = b.usage
                {
                    self.responses(&u);
                    self.completed = true;
                }
            }
            WireFormat::Gemini => {
                if let Ok(chunk) = serde_json::from_slice::<GeminiChunk>(body) {
                    let has_usage = chunk.usage_metadata.is_some();
                    self.gemini(chunk);
                    self.completed |= has_usage;
                }
            }
        }
    }

    /// Reads a block of one or more complete SSE events (as [`crate::sse::SseFramer`] yields).
    pub fn events(&mut self, block: &[u8]) {
        for event in sse::events(block) {
            self.event(event.name, &event.data);
        }
    }

    fn event(&mut self, name: Option<&str>, data: &str) {
        match self.format {
            WireFormat::Claude => {
                let kind = name.unwrap_or_else(|| claude_type_hint(data));
                match kind {
                    "message_start" => {
                        if let Ok(e) = serde_json::from_str::<ClaudeMessageStart>(data)
                            && let Some(u) = e.message.and_then(|m| m.usage)
                        {
                            self.claude(&u);
                        }
                    }
                    "message_delta" => {
                        if let Ok(e) = serde_json::from_str::<ClaudeBody>(data)
                            && let Some(u) = e.usage
                        {
                            self.claude(&u);
                        }
                    }
                    "message_stop" => self.completed = true,
                    _ => {}
                }
            }
            WireFormat::OpenaiChat => {
                if data.trim() == "[DONE]" {
                    self.completed = true;
                } else if has_usage_object(data)
                    && let Ok(b) = serde_json::from_str::<OpenaiChatBody>(data)
                    && let Some(u) = b.usage
                {
                    self.openai_chat(&u);
                }
            }
            WireFormat::OpenaiResponses => {
                let kind = name.unwrap_or_else(|| responses_type_hint(data));
                if matches!(kind, "response.completed" | "response.incomplete" | "response.failed")
                    && let Ok(e) = serde_json::from_str::<ResponsesEvent>(data)
                    && let Some(u) = e.response.and_then(|r| r.usage)
                {
                    self.responses(&u);
                }
                if matches!(kind, "response.completed" | "response.incomplete") {
                    self.completed = true;
                }
            }
            WireFormat::Gemini => {
                if data.contains("usageMetadata")
                    && let Ok(chunk) = serde_json::from_str::<GeminiChunk>(data)
                {
                    self.gemini(chunk);
                }
            }
        }
    }

    /// The usage seen so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Whether the response's end was seen: `message_stop` (Claude), `[DONE]` (OpenAI Chat),
    /// `response.completed` / `response.incomplete` (Responses), a candidate with a
    /// `finishReason` together with `usageMetadata` (Gemini), or a whole body with usage.
    pub fn completed(&self) -> bool {
        self.completed
    }

    /// Whether any usage was reported at all (an OpenAI stream without
    /// `stream_options.include_usage` reports none).
    pub fn saw_usage(&self) -> bool {
        self.seen_usage
    }

    fn claude(&mut self, u: &ClaudeUsage) {
        self.seen_usage = true;
        // Counts in message_delta are cumulative: never let a later, partial report lower one.
        let t = &mut self.usage;
        if let Some(n) = u.input_tokens {
            t.input = t.input.max(n);
        }
        if let Some(n) = u.output_tokens {
            t.output = t.output.max(n);
        }
        if let Some(n) = u.cache_read_input_tokens {
            t.cache_read = t.cache_read.max(n);
        }
        let split = u
            .cache_creation
            .as_ref()
            .map(|c| {
                (
                    c.ephemeral_5m_input_tokens.unwrap_or(0),
                    c.ephemeral_1h_input_tokens.unwrap_or(0),
                )
            })
            .filter(|(m5, h1)| m5 + h1 > 0);
        match (split, u.cache_creation_input_tokens) {
            (Some((m5, h1)), _) => {
                t.cache_creation_5m = t.cache_creation_5m.max(m5);
                t.cache_creation_1h = t.cache_creation_1h.max(h1);
            }
            (None, Some(total)) if total > t.cache_creation_5m + t.cache_creation_1h => {
                t.cache_creation_5m = total - t.cache_creation_1h;
            }
            (None, _) => {}
        }
    }

    fn openai_chat(&mut self, u: &OpenaiChatUsage) {
        self.seen_usage = true;
        let cached = u
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0);
        let reasoning = u
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0);
        self.usage = Usage {
            input: u.prompt_tokens.unwrap_or(0).saturating_sub(cached),
            output: u.completion_tokens.unwrap_or(0),
            cache_creation_5m: 0,
            cache_creation_1h: 0,
            cache_read: cached,
            reasoning,
        };
    }

    fn responses(&mut self, u: &ResponsesUsage) {
        self.seen_usage = true;
        let cached = u
            .input_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0);
        let reasoning = u
            .output_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0);
        self.usage = Usage {
            input: u.input_tokens.unwrap_or(0).saturating_sub(cached),
            output: u.output_tokens.unwrap_or(0),
            cache_creation_5m: 0,
            cache_creation_1h: 0,
            cache_read: cached,
            reasoning,
        };
    }

    fn gemini(&mut self, chunk: GeminiChunk) {
        let finished = chunk
            .candidates
            .as_ref()
            .is_some_and(|cs| cs.iter().any(|c| c.finish_reason.is_some()));
        let Some(m) = chunk.usage_metadata else { return };
        self.seen_usage = true;
        let cached = m.cached_content_token_count.unwrap_or(0);
        let thoughts = m.thoughts_token_count.unwrap_or(0);
        self.usage = Usage {
            input: m.prompt_token_count.unwrap_or(0).saturating_sub(cached)
                + m.tool_use_prompt_token_count.unwrap_or(0),
            output: m.candidates_token_count.unwrap_or(0) + thoughts,
            cache_creation_5m: 0,
            cache_creation_1h: 0,
            cache_read: cached,
            reasoning: thoughts,
        };
        self.completed |= finished;
    }
}

/// For Claude data without an `event:` line: the `type` from the first bytes.
fn claude_type_hint(data: &str) -> &'static str {
    let head = &data[..data.len().min(64)];
    if head.contains("\"message_start\"") {
        "message_start"
    } else if head.contains("\"message_delta\"") {
        "message_delta"
    } else if head.contains("\"message_stop\"") {
        "message_stop"
    } else {
        ""
    }
}

/// For Responses data without an `event:` line: the terminal event types.
fn responses_type_hint(data: &str) -> &'static str {
    let head = &data[..data.len().min(80)];
    if head.contains("\"response.completed\"") {
        "response.completed"
    } else if head.contains("\"response.incomplete\"") {
        "response.incomplete"
    } else if head.contains("\"response.failed\"") {
        "response.failed"
    } else {
        ""
    }
}

/// Whether `data` has `"field"` followed by `:` and an object (not `null`), without
/// parsing it.
/// Whether `data` has a `"usage"` key whose value is an object (not `null`): the cheap test
/// that decides whether an event is worth parsing.
fn has_usage_object(data: &str) -> bool {
    static USAGE_KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"usage\""));
    USAGE_KEY.find_iter(data.as_bytes()).any(|i| {
        let tail = data[i + b"\"usage\"".len()..].trim_start();
        tail.strip_prefix(':').is_some_and(|v| v.trim_start().starts_with('{'))
    })
}

#[derive(Deserialize)]
struct ClaudeBody {
    usage: Option<ClaudeUsage>,
}

#[derive(Deserialize)]
struct ClaudeMessageStart {
    message: Option<ClaudeBody>,
}

#[derive(Deserialize)]
struct ClaudeUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation: Option<ClaudeCacheCreation>,
}

#[derive(Deserialize)]
struct ClaudeCacheCreation {
    ephemeral_5m_input_tokens: Option<u64>,
    ephemeral_1h_input_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct OpenaiChatBody {
    usage: Option<OpenaiChatUsage>,
}

#[derive(Deserialize)]
struct OpenaiChatUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<CachedDetails>,
    completion_tokens_details: Option<ReasoningDetails>,
}

#[derive(Deserialize)]
struct CachedDetails {
    cached_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct ReasoningDetails {
    reasoning_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct ResponsesBody {
    usage: Option<ResponsesUsage>,
}

#[derive(Deserialize)]
struct ResponsesEvent {
    response: Option<ResponsesBody>,
}

#[derive(Deserialize)]
struct ResponsesUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    input_tokens_details: Option<CachedDetails>,
    output_tokens_details: Option<ReasoningDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiChunk {
    candidates: Option<Vec<GeminiCandidate>>,
    usage_metadata: Option<GeminiUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiCandidate {
    finish_reason: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiUsage {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
    tool_use_prompt_token_count: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64, c5: u64, c1: u64, read: u64, reasoning: u64) -> Usage {
        Usage::of(input, output, c5, c1, read, reasoning)
    }

    const CLAUDE_STREAM: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":3000,\"cache_read_input_tokens\":5000,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1000,\"ephemeral_1h_input_tokens\":2000},\"output_tokens\":1}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"usage\"}}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":345}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn claude_stream_with_split_cache_writes() {
        let mut tap = UsageTap::new(WireFormat::Claude);
        tap.events(CLAUDE_STREAM.as_bytes());
        assert_eq!(tap.usage(), usage(12, 345, 1000, 2000, 5000, 0));
        assert!(tap.completed());
    }

    #[test]
    fn claude_stream_cut_before_message_delta_keeps_tokens_so_far() {
        let cut = CLAUDE_STREAM.find("event: message_delta").unwrap();
        let mut tap = UsageTap::new(WireFormat::Claude);
        tap.events(&CLAUDE_STREAM.as_bytes()[..cut]);
        assert_eq!(tap.usage(), usage(12, 1, 1000, 2000, 5000, 0));
        assert!(!tap.completed());
    }

    #[test]
    fn claude_cache_tokens_reported_only_in_message_delta() {
        // Some upstreams report 0 cache tokens in message_start and the real ones at the end.
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":800,\"cache_creation_input_tokens\":50,\"output_tokens\":20}}\n\n",
        );
        let mut tap = UsageTap::new(WireFormat::Claude);
        tap.events(stream.as_bytes());
        // Without a cache_creation split, every write counts as 5m.
        assert_eq!(tap.usage(), usage(10, 20, 50, 0, 800, 0));
    }

    #[test]
    fn claude_body() {
        let body = br#"{"type":"message","usage":{"input_tokens":5,"output_tokens":7,"cache_creation_input_tokens":100,"cache_read_input_tokens":0}}"#;
        let mut tap = UsageTap::new(WireFormat::Claude);
        tap.body(body);
        assert_eq!(tap.usage(), usage(5, 7, 100, 0, 0, 0));
        assert!(tap.completed());
    }

    #[test]
    fn openai_chat_body_subtracts_cached_and_keeps_reasoning_inside_output() {
        let body = br#"{"choices":[],"usage":{"prompt_tokens":2000,"completion_tokens":500,"total_tokens":2500,"prompt_tokens_details":{"cached_tokens":1500},"completion_tokens_details":{"reasoning_tokens":300}}}"#;
        let mut tap = UsageTap::new(WireFormat::OpenaiChat);
        tap.body(body);
        assert_eq!(tap.usage(), usage(500, 500, 0, 0, 1500, 300));
    }

    #[test]
    fn openai_chat_stream_final_usage_chunk() {
        let stream = concat!(
            "data: {\"choices\":[{\"delta\":{\"content\":\"\\\"usage\\\":{\"}}],\"usage\":null}\n\n",
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
            "data: {\"choices\":[],\"usage\": {\"prompt_tokens\":40,\"completion_tokens\":9,\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\n",
            "data: [DONE]\n\n",
        );
        let mut tap = UsageTap::new(WireFormat::OpenaiChat);
        let cut = stream.find("data: {\"choices\":[],").unwrap();
        tap.events(&stream.as_bytes()[..cut]);
        assert!(tap.usage().is_empty() && !tap.completed() && !tap.saw_usage());
        tap.events(&stream.as_bytes()[cut..]);
        assert_eq!(tap.usage(), usage(40, 9, 0, 0, 0, 0));
        assert!(tap.completed());
    }

    #[test]
    fn responses_stream_and_body() {
        let stream = concat!(
            "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"usage\":null}}\n\n",
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n",
            "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":1000,\"input_tokens_details\":{\"cached_tokens\":600},\"output_tokens\":250,\"output_tokens_details\":{\"reasoning_tokens\":200},\"total_tokens\":1250}}}\n\n",
        );
        let mut tap = UsageTap::new(WireFormat::OpenaiResponses);
        tap.events(stream.as_bytes());
        assert_eq!(tap.usage(), usage(400, 250, 0, 0, 600, 200));
        assert!(tap.completed());

        let mut cut = UsageTap::new(WireFormat::OpenaiResponses);
        cut.events(&stream.as_bytes()[..stream.find("event: response.completed").unwrap()]);
        assert!(!cut.completed() && cut.usage().is_empty());

        let mut tap = UsageTap::new(WireFormat::OpenaiResponses);
        tap.body(br#"{"object":"response","usage":{"input_tokens":3,"output_tokens":4}}"#);
        assert_eq!(tap.usage(), usage(3, 4, 0, 0, 0, 0));
    }

    #[test]
    fn gemini_counts_thoughts_as_output_and_cached_apart() {
        let stream = concat!(
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],\"usageMetadata\":{\"promptTokenCount\":1200,\"cachedContentTokenCount\":1000,\"candidatesTokenCount\":2,\"thoughtsTokenCount\":100}}\n\n",
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":1200,\"cachedContentTokenCount\":1000,\"candidatesTokenCount\":30,\"thoughtsTokenCount\":100,\"totalTokenCount\":1330}}\n\n",
        );
        let mut tap = UsageTap::new(WireFormat::Gemini);
        let cut = stream.find("\n\n").unwrap() + 2;
        tap.events(&stream.as_bytes()[..cut]);
        assert_eq!(tap.usage(), usage(200, 102, 0, 0, 1000, 100));
        assert!(!tap.completed());
        tap.events(&stream.as_bytes()[cut..]);
        assert_eq!(tap.usage(), usage(200, 130, 0, 0, 1000, 100));
        assert!(tap.completed());

        let mut tap = UsageTap::new(WireFormat::Gemini);
        tap.body(br#"{"candidates":[{"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3}}"#);
        assert_eq!(tap.usage(), usage(7, 3, 0, 0, 0, 0));
        let mut tap = UsageTap::new(WireFormat::Gemini);
        tap.body(br#"[{"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":1}},{"candidates":[{"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3}}]"#);
        assert_eq!(tap.usage(), usage(7, 3, 0, 0, 0, 0));
        assert!(tap.completed());
    }

    #[test]
    fn object_field_probe() {
        assert!(has_usage_object(r#"{"usage" : {"a":1}}"#));
        assert!(!has_usage_object(r#"{"usage":null}"#));
        assert!(!has_usage_object(r#"{"usages":{}}"#));
        assert!(!has_usage_object(r#"{"x":"usage"}"#));
    }
}
