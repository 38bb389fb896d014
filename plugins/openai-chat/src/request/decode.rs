//! A client's Chat Completions request in the IR.
//!
//! - Leading `system` / `developer` messages become the IR system prompt; later ones stay in
//!   place as IR `system` messages.
//! - An assistant's `reasoning_content` (DeepSeek-style) becomes a thinking block without a
//!   signature; its `refusal` becomes text; its `tool_calls` become tool-call blocks (ids
//!   verbatim).
//! - Consecutive `tool` messages merge into one IR `tool` message; each result takes the
//!   name of the call it answers, when an earlier assistant message made it.
//! - A part's `cache_control` (Anthropic's, which OpenAI-compatible routers such as OpenRouter
//!   accept on text and image parts) becomes the block's cache marker.
//! - `max_completion_tokens` wins over the older `max_tokens`; `n` above 1 cannot be
//!   converted and is an invalid request; `input_audio` parts and non-function tools are
//!   dropped (README); fields the IR does not model go to `extra-json`.

use std::borrow::Cow;
use std::collections::HashMap;

use aether_plugin_sdk::json;
use aether_plugin_sdk::types::{
    CacheTtl, ChatRequest, ContentBlock, InlineData, JsonSchemaFormat, MediaBlock, MediaSource, Message, PluginError,
    Reasoning, ResponseFormat, Role, Sampling, TextBlock, ThinkingBlock, Tool, ToolCall, ToolChoice, ToolResult,
    ToolResultPart,
};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::media;
use crate::wire::{self, StringOr};

/// The parameters schema of a function declared without one.
const EMPTY_SCHEMA: &str = r#"{"type":"object","properties":{}}"#;

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    messages: Option<Vec<WireMessage<'a>>>,
    #[serde(borrow, default)]
    tools: Option<Vec<ToolDef<'a>>>,
    #[serde(borrow, default)]
    functions: Option<Vec<FunctionDef<'a>>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    function_call: Option<Value>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(borrow, default)]
    reasoning_effort: Option<Cow<'a, str>>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(borrow, default)]
    stop: Option<StringOr<'a, Cow<'a, str>>>,
    #[serde(default)]
    seed: Option<i64>,
    #[serde(borrow, default)]
    response_format: Option<WireResponseFormat<'a>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    n: Option<u32>,
    /// Everything the IR does not model (`user`, `metadata`, `stream_options`, penalties...).
    #[serde(flatten)]
    extra: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(borrow, default)]
    content: Option<StringOr<'a, Part<'a>>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<wire::ToolCall<'a>>>,
    #[serde(borrow, default)]
    tool_call_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    refusal: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    image_url: Option<ImageUrl<'a>>,
    #[serde(borrow, default)]
    file: Option<FilePart<'a>>,
    #[serde(borrow, default)]
    refusal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    cache_control: Option<CacheControl<'a>>,
}

/// Anthropic's `cache_control` on a part: `{"type": "ephemeral", "ttl": "5m" | "1h"}`.
#[derive(Deserialize)]
struct CacheControl<'a> {
    #[serde(borrow, default)]
    ttl: Option<Cow<'a, str>>,
}

impl Part<'_> {
    fn cache(&self) -> Option<CacheTtl> {
        self.cache_control.as_ref().map(|c| match c.ttl.as_deref() {
            Some("1h") => CacheTtl::OneHour,
            _ => CacheTtl::FiveMinutes,
        })
    }
}

/// `image_url` is `{url, detail}`; a bare string is accepted too.
#[derive(Deserialize)]
#[serde(untagged)]
enum ImageUrl<'a> {
    Object {
        #[serde(borrow)]
        url: Cow<'a, str>,
    },
    Plain(#[serde(borrow)] Cow<'a, str>),
}

impl ImageUrl<'_> {
    fn url(&self) -> &str {
        match self {
            ImageUrl::Object { url } | ImageUrl::Plain(url) => url,
        }
    }
}

#[derive(Deserialize)]
struct FilePart<'a> {
    #[serde(borrow, default)]
    file_data: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    file_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    filename: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ToolDef<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    function: Option<FunctionDef<'a>>,
}

#[derive(Deserialize)]
struct FunctionDef<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    description: Option<Cow<'a, str>>,
    /// Kept as the client wrote it (see `tool`).
    #[serde(borrow, default)]
    parameters: Option<&'a RawValue>,
    #[serde(default)]
    strict: Option<bool>,
}

#[derive(Deserialize)]
struct WireResponseFormat<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(default)]
    json_schema: Option<WireJsonSchema>,
}

#[derive(Deserialize)]
struct WireJsonSchema {
    #[serde(default)]
    name: Option<String>,
    /// Kept as the client wrote it: structured output generates in property order.
    #[serde(default)]
    schema: Option<Box<RawValue>>,
    #[serde(default)]
    strict: Option<bool>,
}

fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::InvalidRequest(message.into())
}

/// A Chat Completions request body in the IR.
pub fn decode(body: &[u8]) -> Result<ChatRequest, PluginError> {
    let request: Request<'_> = json::parse_request(body)?;
    let model = request
        .model
        .ok_or_else(|| invalid("request body has no \"model\" field"))?;
    let messages = request
        .messages
        .ok_or_else(|| invalid("request body has no \"messages\" list"))?;
    if let Some(n) = request.n.filter(|n| *n > 1) {
        return Err(invalid(format!(
            "\"n\" is {n}: only one choice (n = 1) can be converted to another format"
        )));
    }
    let mut conversation = Conversation::default();
    for (i, message) in messages.iter().enumerate() {
        conversation.push(i, message)?;
    }
    let mut tools = Vec::new();
    for def in request.tools.iter().flatten() {
        match (def.kind.as_deref(), &def.function) {
            (Some("function") | None, Some(function)) => tools.push(tool(function)),
            (Some("function") | None, None) => return Err(invalid("a function tool in \"tools\" has no \"function\"")),
            // Custom and built-in tools have no IR form (README).
            _ => {}
        }
    }
    tools.extend(request.functions.iter().flatten().map(tool));
    let choice = match (&request.tool_choice, &request.function_call) {
        (Some(choice), _) => Some(tool_choice(choice, "tool_choice")?),
        (None, Some(choice)) => Some(tool_choice(choice, "function_call")?),
        (None, None) => None,
    };
    Ok(ChatRequest {
        model: model.into_owned(),
        system: conversation.system,
        messages: conversation.messages,
        tools,
        tool_choice: choice,
        sampling: Sampling {
            max_tokens: request.max_completion_tokens.or(request.max_tokens),
            temperature: request.temperature,
            top_p: request.top_p,
            top_k: None,
            stop: match request.stop {
                Some(StringOr::Str(s)) => vec![s.into_owned()],
                Some(StringOr::List(list)) => list.into_iter().map(Cow::into_owned).collect(),
                None => Vec::new(),
            },
            seed: request.seed,
        },
        response_format: request.response_format.map(response_format).transpose()?,
        reasoning: request
            .reasoning_effort
            .as_deref()
            .map(reasoning)
            .transpose()?
            .flatten(),
        stream: request.stream.unwrap_or(false),
        parallel_tool_calls: request.parallel_tool_calls,
        extra_json: (!request.extra.is_empty()).then(|| Value::Object(request.extra).to_string()),
    })
}

/// The conversation as it is decoded: the system prompt so far, the messages, and the
/// names of the tool calls made (for the results that answer them).
#[derive(Default)]
struct Conversation {
    system: Vec<ContentBlock>,
    messages: Vec<Message>,
    call_names: HashMap<String, String>,
}

impl Conversation {
    fn push(&mut self, i: usize, message: &WireMessage<'_>) -> Result<(), PluginError> {
        match message.role.as_ref() {
            "system" | "developer" => {
                let blocks = self.blocks(i, message)?;
                if self.messages.is_empty() {
                    self.system.extend(blocks);
                } else if !blocks.is_empty() {
                    self.messages.push(Message {
                        role: Role::System,
                        content: blocks,
                    });
                }
            }
            "user" => {
                let blocks = self.blocks(i, message)?;
                if !blocks.is_empty() {
                    self.messages.push(Message {
                        role: Role::User,
                        content: blocks,
                    });
                }
            }
            "assistant" => {
                let mut blocks = Vec::new();
                if let Some(reasoning) = message.reasoning_content.as_deref().filter(|r| !r.is_empty()) {
                    blocks.push(ContentBlock::Thinking(ThinkingBlock {
                        text: reasoning.to_owned(),
                        signature: None,
                    }));
                }
                blocks.extend(self.blocks(i, message)?);
                if let Some(refusal) = message.refusal.as_deref().filter(|r| !r.is_empty()) {
                    blocks.push(text(refusal));
                }
                for (j, call) in message.tool_calls.iter().flatten().enumerate() {
                    if let Some(block) = self.tool_call(i, j, call)? {
                        blocks.push(block);
                    }
                }
                if !blocks.is_empty() {
                    self.messages.push(Message {
                        role: Role::Assistant,
                        content: blocks,
                    });
                }
            }
            "tool" => {
                let call_id = message
                    .tool_call_id
                    .as_deref()
                    .ok_or_else(|| invalid(format!("messages[{i}].tool_call_id is required in a tool message")))?;
                let result = ContentBlock::ToolResult(ToolResult {
                    call_id: call_id.to_owned(),
                    name: self.call_names.get(call_id).cloned(),
                    content: tool_result_parts(i, message)?,
                    is_error: false,
                });
                match self.messages.last_mut() {
                    Some(last) if last.role == Role::Tool => last.content.push(result),
                    _ => self.messages.push(Message {
                        role: Role::Tool,
                        content: vec![result],
                    }),
                }
            }
            "function" => {
                return Err(invalid(format!(
                    "messages[{i}].role \"function\" (the deprecated functions API) cannot be converted; use tools and tool messages"
                )));
            }
            other => return Err(invalid(format!("messages[{i}].role \"{other}\" is not supported"))),
        }
        Ok(())
    }

    /// A message's `content` as IR blocks (no empty text).
    fn blocks(&self, i: usize, message: &WireMessage<'_>) -> Result<Vec<ContentBlock>, PluginError> {
        match &message.content {
            None => Ok(Vec::new()),
            Some(StringOr::Str(s)) if s.is_empty() => Ok(Vec::new()),
            Some(StringOr::Str(s)) => Ok(vec![text(s)]),
            Some(StringOr::List(parts)) => {
                let mut blocks = Vec::with_capacity(parts.len());
                for (j, part) in parts.iter().enumerate() {
                    if let Some(block) = part_block(i, j, part)? {
                        blocks.push(block);
                    }
                }
                Ok(blocks)
            }
        }
    }

    fn tool_call(
        &mut self,
        i: usize,
        j: usize,
        call: &wire::ToolCall<'_>,
    ) -> Result<Option<ContentBlock>, PluginError> {
        if call.kind.as_deref().is_some_and(|k| k != "function") {
            // Custom tool calls have no IR form (README).
            return Ok(None);
        }
        let function = call
            .function
            .as_ref()
            .ok_or_else(|| invalid(format!("messages[{i}].tool_calls[{j}].function is required")))?;
        self.call_names.insert(call.id.to_string(), function.name.to_string());
        Ok(Some(ContentBlock::ToolCall(ToolCall {
            id: call.id.to_string(),
            name: function.name.to_string(),
            arguments_json: wire::arguments_json(function.arguments.as_deref()),
            signature: None,
        })))
    }
}

fn text(s: &str) -> ContentBlock {
    ContentBlock::Text(TextBlock {
        text: s.to_owned(),
        cache: None,
    })
}

/// One content part as an IR block; `None` for what is dropped (empty text, audio).
fn part_block(i: usize, j: usize, part: &Part<'_>) -> Result<Option<ContentBlock>, PluginError> {
    let missing = |field: &str| invalid(format!("messages[{i}].content[{j}].{field} is required"));
    Ok(match part.kind.as_ref() {
        "text" => {
            let t = part.text.as_deref().ok_or_else(|| missing("text"))?;
            (!t.is_empty()).then(|| {
                ContentBlock::Text(TextBlock {
                    text: t.to_owned(),
                    cache: part.cache(),
                })
            })
        }
        "refusal" => part.refusal.as_deref().filter(|r| !r.is_empty()).map(text),
        "image_url" => {
            let url = part.image_url.as_ref().ok_or_else(|| missing("image_url"))?;
            Some(ContentBlock::Image(MediaBlock {
                source: media::source_from_url(url.url()),
                cache: part.cache(),
            }))
        }
        "file" => {
            let file = part.file.as_ref().ok_or_else(|| missing("file"))?;
            let source = match (&file.file_data, &file.file_id) {
                (Some(data), _) => match media::parse_data_uri(data) {
                    Some(inline) => MediaSource::Base64(inline),
                    None => MediaSource::Base64(InlineData {
                        media_type: media::media_type_of_name(file.filename.as_deref()).to_owned(),
                        data: data.to_string(),
                    }),
                },
                (None, Some(id)) => MediaSource::FileId(id.to_string()),
                (None, None) => return Err(missing("file.file_data or file.file_id")),
            };
            Some(ContentBlock::Document(MediaBlock {
                source,
                cache: part.cache(),
            }))
        }
        // Audio input has no IR form (README).
        "input_audio" => None,
        other => {
            return Err(invalid(format!(
                "messages[{i}].content[{j}].type \"{other}\" is not supported"
            )));
        }
    })
}

/// A tool message's content as result parts (text, and images where a client sends them).
fn tool_result_parts(i: usize, message: &WireMessage<'_>) -> Result<Vec<ToolResultPart>, PluginError> {
    match &message.content {
        None => Ok(Vec::new()),
        Some(StringOr::Str(s)) => Ok(vec![ToolResultPart::Text(s.to_string())]),
        Some(StringOr::List(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                match part_block(i, j, part)? {
                    Some(ContentBlock::Text(t)) => out.push(ToolResultPart::Text(t.text)),
                    Some(ContentBlock::Image(m)) => out.push(ToolResultPart::Image(m.source)),
                    Some(_) => {
                        return Err(invalid(format!(
                            "messages[{i}].content[{j}]: a tool message holds only text and images"
                        )));
                    }
                    None => {}
                }
            }
            Ok(out)
        }
    }
}

fn tool(function: &FunctionDef<'_>) -> Tool {
    Tool {
        name: function.name.to_string(),
        description: function.description.as_deref().map(str::to_owned),
        // Copied as written: no tree is built, and the properties keep the client's order.
        parameters_json: function
            .parameters
            .map_or_else(|| EMPTY_SCHEMA.to_owned(), |p| p.get().to_owned()),
        strict: function.strict,
    }
}

/// `tool_choice` (or the legacy `function_call`) in the IR.
fn tool_choice(value: &Value, field: &str) -> Result<ToolChoice, PluginError> {
    let unsupported = || invalid(format!("\"{field}\" {value} is not supported"));
    match value {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(unsupported()),
        },
        Value::Object(object) => {
            let name = object
                .get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| object.get("name"))
                .and_then(Value::as_str);
            match (object.get("type").and_then(Value::as_str), name) {
                (Some("function") | None, Some(name)) => Ok(ToolChoice::Named(name.to_owned())),
                // `allowed_tools` limits the tools; the IR keeps its mode and every tool.
                (Some("allowed_tools"), _) => {
                    let mode = object
                        .get("allowed_tools")
                        .and_then(|a| a.get("mode"))
                        .and_then(Value::as_str);
                    Ok(if mode == Some("required") {
                        ToolChoice::Required
                    } else {
                        ToolChoice::Auto
                    })
                }
                _ => Err(unsupported()),
            }
        }
        _ => Err(unsupported()),
    }
}

fn response_format(format: WireResponseFormat<'_>) -> Result<ResponseFormat, PluginError> {
    match format.kind.as_ref() {
        "text" => Ok(ResponseFormat::Text),
        "json_object" => Ok(ResponseFormat::JsonObject),
        "json_schema" => {
            let schema = format
                .json_schema
                .ok_or_else(|| invalid("response_format.json_schema is required when its type is json_schema"))?;
            Ok(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: schema.name.unwrap_or_else(|| "response".to_owned()),
                schema_json: schema.schema.map_or_else(|| "{}".to_owned(), |s| s.get().to_owned()),
                strict: schema.strict.unwrap_or(false),
            }))
        }
        other => Err(invalid(format!("response_format.type \"{other}\" is not supported"))),
    }
}

/// `reasoning_effort` in the IR; `none` asks for no reasoning.
fn reasoning(effort: &str) -> Result<Option<Reasoning>, PluginError> {
    let effort = match effort {
        "none" => return Ok(None),
        "minimal" | "low" | "medium" | "high" => effort,
        // Above the IR's scale: its top.
        "xhigh" => "high",
        other => return Err(invalid(format!("reasoning_effort \"{other}\" is not supported"))),
    };
    Ok(Some(Reasoning {
        effort: Some(effort.to_owned()),
        budget_tokens: None,
        include_thoughts: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decoded(body: Value) -> ChatRequest {
        decode(body.to_string().as_bytes()).unwrap()
    }

    fn error(body: Value) -> String {
        match decode(body.to_string().as_bytes()) {
            Err(PluginError::InvalidRequest(m)) => m,
            other => panic!("expected an invalid request, got {other:?}"),
        }
    }

    fn texts(blocks: &[ContentBlock]) -> Vec<&str> {
        blocks
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Text(t) => Some(t.text.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn leading_system_and_developer_messages_are_the_system_prompt() {
        let r = decoded(json!({"model": "gpt-4o", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "use tools"}]},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "now in French"},
            {"role": "user", "content": "again"}
        ]}));
        assert_eq!(texts(&r.system), ["be brief", "use tools"]);
        assert_eq!(r.messages.len(), 3);
        assert_eq!(r.messages[1].role, Role::System);
        assert_eq!(texts(&r.messages[1].content), ["now in French"]);
    }

    #[test]
    fn images_files_and_audio() {
        let r = decoded(json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "https://x.test/cat.png", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
            {"type": "file", "file": {"file_id": "file-abc"}},
            {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}}
        ]}]}));
        let c = &r.messages[0].content;
        assert_eq!(c.len(), 5);
        assert!(
            matches!(&c[1], ContentBlock::Image(MediaBlock { source: MediaSource::Url(u), .. }) if u == "https://x.test/cat.png")
        );
        assert!(
            matches!(&c[2], ContentBlock::Image(MediaBlock { source: MediaSource::Base64(d), .. }) if d.media_type == "image/jpeg" && d.data == "/9j/4AAQ")
        );
        assert!(
            matches!(&c[3], ContentBlock::Document(MediaBlock { source: MediaSource::Base64(d), .. }) if d.media_type == "application/pdf")
        );
        assert!(
            matches!(&c[4], ContentBlock::Document(MediaBlock { source: MediaSource::FileId(f), .. }) if f == "file-abc")
        );
    }

    #[test]
    fn assistant_reasoning_text_and_tool_calls_then_merged_tool_results() {
        let r = decoded(json!({"model": "m", "messages": [
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "reasoning_content": "two cities",
             "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "weather", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "21C"}]}
        ]}));
        assert_eq!(r.messages.len(), 3);
        let a = &r.messages[1].content;
        assert!(matches!(&a[0], ContentBlock::Thinking(t) if t.text == "two cities" && t.signature.is_none()));
        assert!(
            matches!(&a[1], ContentBlock::ToolCall(c) if c.id == "call_a" && c.arguments_json == "{\"city\":\"Paris\"}")
        );
        assert!(matches!(&a[2], ContentBlock::ToolCall(c) if c.id == "call_b" && c.arguments_json == "{}"));
        let t = &r.messages[2];
        assert_eq!(t.role, Role::Tool);
        assert_eq!(t.content.len(), 2);
        assert!(
            matches!(&t.content[1], ContentBlock::ToolResult(res) if res.call_id == "call_b" && res.name.as_deref() == Some("weather") && res.content == vec![ToolResultPart::Text("21C".into())])
        );
    }

    #[test]
    fn cache_control_on_parts_becomes_cache_markers() {
        let r = decoded(json!({"model": "m", "messages": [{"role": "system", "content": [
            {"type": "text", "text": "long prompt", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "longer", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"type": "text", "text": "plain"}
        ]}]}));
        let caches: Vec<_> = r
            .system
            .iter()
            .map(|b| match b {
                ContentBlock::Text(t) => t.cache,
                _ => None,
            })
            .collect();
        assert_eq!(caches, [Some(CacheTtl::FiveMinutes), Some(CacheTtl::OneHour), None]);
    }

    #[test]
    fn refusals_become_text_and_empty_content_is_dropped() {
        let r = decoded(json!({"model": "m", "messages": [
            {"role": "user", "content": ""},
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": "", "refusal": "I can't help with that."}
        ]}));
        assert_eq!(r.messages.len(), 2);
        assert_eq!(texts(&r.messages[1].content), ["I can't help with that."]);
    }

    #[test]
    fn tool_schemas_are_kept_as_written() {
        let schema = r#"{"type": "object", "properties": {"zeta": {"type": "string"}, "alpha": {}}}"#;
        let body = format!(
            r#"{{"model":"m","messages":[],"tools":[{{"type":"function","function":{{"name":"f","parameters":{schema}}}}}]}}"#
        );
        let r = decode(body.as_bytes()).unwrap();
        assert_eq!(
            r.tools[0].parameters_json, schema,
            "the client's text and property order"
        );
    }

    #[test]
    fn a_structured_output_schema_is_kept_as_written() {
        let schema = r#"{"type": "object", "properties": {"zeta": {}, "alpha": {}}}"#;
        let body = format!(
            r#"{{"model":"m","messages":[],"response_format":{{"type":"json_schema","json_schema":{{"name":"n","schema":{schema}}}}}}}"#
        );
        let Some(ResponseFormat::JsonSchema(f)) = decode(body.as_bytes()).unwrap().response_format else {
            panic!("a json-schema response format")
        };
        assert_eq!(f.schema_json, schema, "the client's text and property order");
    }

    #[test]
    fn tools_and_every_tool_choice() {
        let base = json!({"model": "m", "messages": [], "tools": [
            {"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}, "strict": true}},
            {"type": "function", "function": {"name": "g"}},
            {"type": "custom", "custom": {"name": "raw"}}
        ], "parallel_tool_calls": false});
        let with = |choice: Value| {
            let mut b = base.clone();
            b["tool_choice"] = choice;
            decoded(b)
        };
        let r = with(json!("auto"));
        assert_eq!(r.tools.len(), 2);
        assert_eq!(r.tools[0].parameters_json, r#"{"type":"object"}"#);
        assert_eq!(r.tools[1].parameters_json, EMPTY_SCHEMA);
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert_eq!(r.tool_choice, Some(ToolChoice::Auto));
        assert_eq!(with(json!("none")).tool_choice, Some(ToolChoice::None));
        assert_eq!(with(json!("required")).tool_choice, Some(ToolChoice::Required));
        assert_eq!(
            with(json!({"type": "function", "function": {"name": "g"}})).tool_choice,
            Some(ToolChoice::Named("g".into()))
        );
        assert_eq!(
            with(json!({"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": []}})).tool_choice,
            Some(ToolChoice::Required)
        );
        let mut bad = base.clone();
        bad["tool_choice"] = json!("sometimes");
        assert!(error(bad).contains("tool_choice"));
    }

    #[test]
    fn legacy_functions() {
        let r = decoded(
            json!({"model": "m", "messages": [], "functions": [{"name": "f", "parameters": {}}],
            "function_call": {"name": "f"}}),
        );
        assert_eq!(r.tools[0].name, "f");
        assert_eq!(r.tool_choice, Some(ToolChoice::Named("f".into())));
        assert!(
            error(json!({"model": "m", "messages": [{"role": "function", "name": "f", "content": "x"}]}))
                .contains("function")
        );
    }

    #[test]
    fn sampling_reasoning_format_and_extras() {
        let r = decoded(
            json!({"model": "o3", "messages": [], "max_tokens": 100, "max_completion_tokens": 200,
            "temperature": 0.5, "top_p": 0.9, "stop": "END", "seed": 7, "reasoning_effort": "low",
            "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"}, "strict": true}},
            "stream": true, "stream_options": {"include_usage": true}, "user": "u1", "n": 1}),
        );
        assert_eq!(r.sampling.max_tokens, Some(200));
        assert_eq!(r.sampling.temperature, Some(0.5));
        assert_eq!(r.sampling.top_p, Some(0.9));
        assert_eq!(r.sampling.stop, ["END"]);
        assert_eq!(r.sampling.seed, Some(7));
        assert_eq!(r.reasoning.as_ref().and_then(|x| x.effort.as_deref()), Some("low"));
        assert_eq!(
            r.response_format,
            Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: "p".into(),
                schema_json: r#"{"type":"object"}"#.into(),
                strict: true
            }))
        );
        assert!(r.stream);
        let extra: Value = serde_json::from_str(r.extra_json.as_deref().unwrap()).unwrap();
        assert_eq!(extra, json!({"stream_options": {"include_usage": true}, "user": "u1"}));
        let r = decoded(
            json!({"model": "m", "messages": [], "max_tokens": 10, "stop": ["a", "b"],
            "reasoning_effort": "none", "response_format": {"type": "json_object"}}),
        );
        assert_eq!(r.sampling.max_tokens, Some(10));
        assert_eq!(r.sampling.stop, ["a", "b"]);
        assert!(r.reasoning.is_none());
        assert_eq!(r.response_format, Some(ResponseFormat::JsonObject));
        assert!(r.extra_json.is_none());
    }

    #[test]
    fn malformed_requests_are_invalid_with_the_field_named() {
        assert!(error(json!({"messages": []})).contains("model"));
        assert!(error(json!({"model": "m"})).contains("messages"));
        assert!(error(json!({"model": "m", "messages": [], "n": 2})).contains("\"n\""));
        assert!(error(json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]})).contains("tool_call_id"));
        assert!(error(json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]})).contains("robot"));
        assert!(
            error(json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "video"}]}]}))
                .contains("messages[0].content[0].type")
        );
        assert!(error(json!({"model": "m", "messages": [], "reasoning_effort": "max"})).contains("reasoning_effort"));
        assert!(
            error(json!({"model": "m", "messages": [], "response_format": {"type": "json_schema"}}))
                .contains("json_schema")
        );
        assert!(error(json!({"model": "m", "messages": "hi"})).contains("not a valid request"));
    }
}
