//! The four provider wire formats: routing a request path to a format, the facts about a
//! request every format answers from ([`Exchange`], [`Usage`]), and the shape of an answer
//! ([`Reply`]). Each submodule renders one provider's JSON bodies, SSE streams and errors.

pub(crate) mod claude;
pub(crate) mod content;
pub(crate) mod gemini;
pub(crate) mod openai_chat;
pub(crate) mod responses;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde::Deserialize;

use crate::config::Scenario;

/// A provider wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Anthropic Messages.
    Claude,
    /// OpenAI Chat Completions.
    Chat,
    /// OpenAI Responses.
    Responses,
    /// Google Gemini `generateContent`.
    Gemini,
}

/// How a Gemini streaming response is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GeminiFraming {
    /// `?alt=sse`: `data:` events.
    Sse,
    /// No `alt=sse`: one JSON array streamed element by element.
    JsonArray,
}

/// What a request asks for, decided by its method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// A generation request whose body says whether to stream (Claude, Chat, Responses).
    Generate(Format),
    /// A Gemini generation request; the model and streaming come from the path.
    GeminiGenerate {
        /// The model named in the path.
        model: String,
        /// `Some` for `streamGenerateContent`.
        stream: Option<GeminiFraming>,
    },
    /// A token count (Anthropic `count_tokens`, Gemini `countTokens`).
    CountTokens(Format),
    /// A model list.
    ListModels(Format),
    /// Nothing here; the format decides the shape of the 404.
    NotFound(Format),
}

impl Route {
    /// The format this route answers in.
    pub(crate) fn format(&self) -> Format {
        match self {
            Route::Generate(format)
            | Route::CountTokens(format)
            | Route::ListModels(format)
            | Route::NotFound(format) => *format,
            Route::GeminiGenerate { .. } => Format::Gemini,
        }
    }
}

/// Decide the route of a request.
pub(crate) fn route(method: &Method, path: &str, query: Option<&str>, headers: &HeaderMap) -> Route {
    let post = method == Method::POST;
    match path {
        "/v1/messages" if post => return Route::Generate(Format::Claude),
        "/v1/messages/count_tokens" if post => return Route::CountTokens(Format::Claude),
        "/v1/chat/completions" if post => return Route::Generate(Format::Chat),
        "/v1/responses" if post => return Route::Generate(Format::Responses),
        "/v1/models" if method == Method::GET => {
            let format = if headers.contains_key("anthropic-version") {
                Format::Claude
            } else {
                Format::Chat
            };
            return Route::ListModels(format);
        }
        "/v1beta/models" if method == Method::GET => return Route::ListModels(Format::Gemini),
        _ => {}
    }
    let gemini_path = path.starts_with("/v1beta/") || path.starts_with("/v1/");
    if post
        && gemini_path
        && let Some((_, tail)) = path.rsplit_once("/models/")
        && let Some((model, action)) = tail.rsplit_once(':')
    {
        let model = model.to_owned();
        match action {
            "generateContent" => {
                return Route::GeminiGenerate { model, stream: None };
            }
            "streamGenerateContent" => {
                let sse = query.is_some_and(|q| q.split('&').any(|pair| pair == "alt=sse"));
                let framing = if sse {
                    GeminiFraming::Sse
                } else {
                    GeminiFraming::JsonArray
                };
                return Route::GeminiGenerate {
                    model,
                    stream: Some(framing),
                };
            }
            "countTokens" => return Route::CountTokens(Format::Gemini),
            _ => {}
        }
    }
    let format = if path.starts_with("/v1beta/") || path.contains(":generateContent") {
        Format::Gemini
    } else if headers.contains_key("anthropic-version") || path.starts_with("/v1/messages") {
        Format::Claude
    } else {
        Format::Chat
    };
    Route::NotFound(format)
}

/// The few request-body fields the mock looks at; everything else is skipped while parsing.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Probe {
    /// `model` (all formats but Gemini).
    #[serde(default)]
    pub model: Option<String>,
    /// `stream` (all formats but Gemini).
    #[serde(default)]
    pub stream: Option<bool>,
    /// `stream_options` (Chat).
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// `tools`, in any of the formats' shapes.
    #[serde(default)]
    pub tools: Option<Vec<ToolProbe>>,
}

/// Chat Completions and Responses `stream_options`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct StreamOptions {
    /// Whether to append a usage chunk (Chat).
    #[serde(default)]
    pub include_usage: Option<bool>,
    /// Whether delta events carry `obfuscation` padding (Chat and Responses; on by default).
    #[serde(default)]
    pub include_obfuscation: Option<bool>,
}

/// Whether OpenAI delta events carry the random `obfuscation` field, as OpenAI's do unless a
/// request sets `stream_options.include_obfuscation: false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Obfuscation {
    /// Each delta event carries a random `obfuscation` string.
    Padded,
    /// The request turned it off.
    Off,
}

/// One entry of `tools`, in the Anthropic, Chat, Responses or Gemini shape.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ToolProbe {
    /// Anthropic and Responses: the tool's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Chat: `function.name`.
    #[serde(default)]
    pub function: Option<NamedProbe>,
    /// Gemini: `functionDeclarations[].name`.
    #[serde(default, alias = "function_declarations", rename = "functionDeclarations")]
    pub function_declarations: Option<Vec<NamedProbe>>,
}

/// Anything with a `name`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NamedProbe {
    /// The name.
    #[serde(default)]
    pub name: Option<String>,
}

impl Probe {
    /// Parse a request body; the error is a message for a `400`.
    pub(crate) fn parse(body: &[u8]) -> Result<Probe, String> {
        serde_json::from_slice(body).map_err(|e| format!("The request body is not valid JSON: {e}"))
    }

    /// The name of the first tool the request declares.
    pub(crate) fn first_tool(&self) -> Option<&str> {
        self.tools.iter().flatten().find_map(|tool| {
            tool.name
                .as_deref()
                .or_else(|| tool.function.as_ref().and_then(|f| f.name.as_deref()))
                .or_else(|| {
                    tool.function_declarations
                        .iter()
                        .flatten()
                        .find_map(|f| f.name.as_deref())
                })
        })
    }
}

/// Token usage of an answer; deterministic, derived from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Usage {
    /// All prompt tokens, cached ones included (`body bytes / 4`, at least one).
    pub prompt: u64,
    /// Prompt tokens read from the cache.
    pub cache_read: u64,
    /// Prompt tokens written to the cache (Anthropic only).
    pub cache_write: u64,
    /// Tokens of the visible answer (text or tool call).
    pub output: u64,
    /// Tokens of thinking / reasoning.
    pub reasoning: u64,
}

impl Usage {
    /// The usage of an answer in `format` to a request with this body.
    pub(crate) fn compute(format: Format, body: &[u8], scenario: Scenario, chunks: usize) -> Usage {
        let prompt = (body.len() as u64 / 4).max(1);
        let cache_marker: &[u8] = match format {
            Format::Claude => b"\"cache_control\"",
            Format::Chat | Format::Responses => b"\"prompt_cache_key\"",
            Format::Gemini => b"\"cachedContent\"",
        };
        let cached = contains(body, cache_marker);
        let cache_read = if cached { (prompt / 2).max(1) } else { 0 };
        let cache_write = if cached && format == Format::Claude {
            (prompt / 4).max(1)
        } else {
            0
        };
        let reasoning = if scenario == Scenario::Thinking {
            content::THINKING_TOKENS
        } else {
            0
        };
        Usage {
            prompt,
            cache_read,
            cache_write,
            output: chunks.max(1) as u64 * 2,
            reasoning,
        }
    }

    /// Anthropic's `input_tokens`: the prompt tokens neither read from nor written to the cache.
    pub(crate) fn uncached_input(&self) -> u64 {
        self.prompt.saturating_sub(self.cache_read + self.cache_write).max(1)
    }

    /// Output tokens including reasoning.
    pub(crate) fn completion(&self) -> u64 {
        self.output + self.reasoning
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    // A SIMD substring search: comparing every window of a 20 KB body (a long tool list)
    // cost the mock more than parsing it.
    !needle.is_empty() && memchr::memmem::find(haystack, needle).is_some()
}

/// Everything a format needs to render an answer.
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    /// The model to echo.
    pub model: String,
    /// Chat: whether to append the usage chunk.
    pub include_usage: bool,
    /// Chat and Responses: whether delta events carry `obfuscation` padding.
    pub obfuscation: Obfuscation,
    /// The tool to call in [`Scenario::ToolCall`].
    pub tool: String,
    /// What to answer.
    pub scenario: Scenario,
    /// How many text pieces (and argument pieces) to send.
    pub chunks: usize,
    /// The usage to report.
    pub usage: Usage,
}

/// The body of an answer.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// A complete body of known length.
    Full(Bytes),
    /// A stream of framed events, sent in order with the configured pacing.
    Events(Vec<Bytes>),
}

/// An answer, before faults that cut it short.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `content-type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Body,
}

/// `content-type` of JSON bodies.
pub(crate) const JSON: &str = "application/json";
/// `content-type` of SSE streams.
pub(crate) const EVENT_STREAM: &str = "text/event-stream";

impl Reply {
    /// A JSON answer.
    pub(crate) fn json(status: u16, body: Bytes) -> Reply {
        Reply {
            status,
            content_type: JSON,
            body: Body::Full(body),
        }
    }

    /// A `200` SSE stream.
    pub(crate) fn events(events: Vec<Bytes>) -> Reply {
        Reply {
            status: 200,
            content_type: EVENT_STREAM,
            body: Body::Events(events),
        }
    }
}

/// The error message of a status, worded like the providers' own.
pub(crate) fn status_message(status: u16) -> &'static str {
    match status {
        400 => "Invalid request (mock)",
        401 => "Invalid authentication credentials (mock)",
        402 => "Your credit balance is too low (mock)",
        403 => "Your API key does not have permission to use the specified resource (mock)",
        404 => "The requested resource could not be found (mock)",
        408 => "Request timed out (mock)",
        413 => "Request exceeds the maximum allowed number of bytes (mock)",
        429 => "Rate limit exceeded, please retry later (mock)",
        500 => "Internal server error (mock)",
        502 => "Bad gateway (mock)",
        503 => "The service is temporarily unavailable (mock)",
        504 => "The request timed out (mock)",
        529 => "Overloaded (mock)",
        _ => "Error (mock)",
    }
}

/// A JSON error body in `format` for `status`.
pub(crate) fn error_body(format: Format, status: u16, message: &str) -> Bytes {
    match format {
        Format::Claude => claude::error_body(status, message),
        Format::Chat | Format::Responses => openai_chat::error_body(status, message),
        Format::Gemini => gemini::error_body(status, message),
    }
}

/// The status the provider uses when it is overloaded.
pub(crate) fn overloaded_status(format: Format) -> u16 {
    match format {
        Format::Claude => 529,
        _ => 503,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: Method, path: &str, query: Option<&str>) -> Route {
        route(&method, path, query, &HeaderMap::new())
    }

    #[test]
    fn routes() {
        assert_eq!(r(Method::POST, "/v1/messages", None), Route::Generate(Format::Claude));
        assert_eq!(
            r(Method::POST, "/v1/messages/count_tokens", None),
            Route::CountTokens(Format::Claude)
        );
        assert_eq!(
            r(Method::POST, "/v1/chat/completions", None),
            Route::Generate(Format::Chat)
        );
        assert_eq!(
            r(Method::POST, "/v1/responses", None),
            Route::Generate(Format::Responses)
        );
        assert_eq!(
            r(Method::POST, "/v1beta/models/gemini-2.5-flash:generateContent", None),
            Route::GeminiGenerate {
                model: "gemini-2.5-flash".into(),
                stream: None
            }
        );
        assert_eq!(
            r(
                Method::POST,
                "/v1/models/gemini-2.5-pro:streamGenerateContent",
                Some("key=x&alt=sse")
            ),
            Route::GeminiGenerate {
                model: "gemini-2.5-pro".into(),
                stream: Some(GeminiFraming::Sse)
            }
        );
        assert_eq!(
            r(Method::POST, "/v1beta/models/g:streamGenerateContent", None),
            Route::GeminiGenerate {
                model: "g".into(),
                stream: Some(GeminiFraming::JsonArray)
            }
        );
        assert_eq!(r(Method::GET, "/v1/models", None), Route::ListModels(Format::Chat));
        assert_eq!(r(Method::GET, "/nope", None), Route::NotFound(Format::Chat));
        assert_eq!(r(Method::GET, "/v1/messages", None), Route::NotFound(Format::Claude));
    }

    #[test]
    fn probe_finds_tools_in_every_shape() {
        let claude = Probe::parse(br#"{"tools":[{"name":"a","input_schema":{}}]}"#);
        let chat = Probe::parse(br#"{"tools":[{"type":"function","function":{"name":"b"}}]}"#);
        let gemini = Probe::parse(br#"{"tools":[{"functionDeclarations":[{"name":"c"}]}]}"#);
        let none = Probe::parse(br#"{"tools":[{"type":"web_search"}]}"#);
        assert_eq!(claude.ok().as_ref().and_then(Probe::first_tool), Some("a"));
        assert_eq!(chat.ok().as_ref().and_then(Probe::first_tool), Some("b"));
        assert_eq!(gemini.ok().as_ref().and_then(Probe::first_tool), Some("c"));
        assert_eq!(none.ok().as_ref().and_then(Probe::first_tool), None);
        assert!(Probe::parse(b"{not json").is_err());
        assert!(Probe::parse(b"[1]").is_err());
    }

    #[test]
    fn usage_is_deterministic() {
        let body = br#"{"system":[{"type":"text","text":"x","cache_control":{"type":"ephemeral"}}],"pad":"................................................................................................"}"#;
        let usage = Usage::compute(Format::Claude, body, Scenario::Text, 5);
        assert_eq!(usage.prompt, body.len() as u64 / 4);
        assert!(usage.cache_read > 0 && usage.cache_write > 0);
        assert_eq!(usage.output, 10);
        let plain = Usage::compute(Format::Claude, b"{}", Scenario::Thinking, 5);
        assert_eq!((plain.prompt, plain.cache_read, plain.cache_write), (1, 0, 0));
        assert_eq!(plain.reasoning, content::THINKING_TOKENS);
    }
}
