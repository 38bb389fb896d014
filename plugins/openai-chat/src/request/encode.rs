//! An IR request as a Chat Completions request for an upstream (`POST /v1/chat/completions`).
//!
//! - The system prompt is one leading `system` message; mid-conversation IR system messages
//!   become `system` messages in place.
//! - Alternation is repaired, not rejected: consecutive assistant turns merge (an assistant
//!   message with `tool_calls` must be followed by its tool messages); a tool result that
//!   answers no earlier tool call becomes user text.
//! - One `tool` message per result, text parts joined; an error result is marked with an
//!   `Error:` prefix (OpenAI has no error flag); images in a result follow in a user
//!   message, since a tool message cannot hold them.
//! - Thinking, cache markers, `top_k` and tool-call signatures are dropped (README).
//! - A named tool choice that names no tool in the list becomes `required`; with no tools
//!   neither a choice nor `parallel_tool_calls` is sent.
//! - A stream always asks for `stream_options.include_usage`, and turns OpenAI's stream
//!   obfuscation off (`include_obfuscation: false`). The random `obfuscation` padding on each
//!   chunk only hides chunk sizes on the link to OpenAI; the client of another format never
//!   receives it (its format has no such field), and a field that differs in every chunk
//!   would send every text delta through the plugins instead of the host's splice.

use aether_plugin_sdk::types::{
    ChatRequest, ContentBlock, EncodedRequest, MediaSource, Message, PluginError, Reasoning, ResponseFormat, Role,
    ToolChoice, ToolResult, ToolResultPart,
};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::media;

/// The upstream path.
pub const PATH: &str = "/v1/chat/completions";

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<OutMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<OutTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<OutChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<OutFormat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
    include_obfuscation: bool,
}

#[derive(Serialize)]
struct OutMessage<'a> {
    role: &'static str,
    content: Content<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<OutToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

/// A message's `content`: `null` (an assistant turn that only calls tools), a string, or
/// parts.
#[derive(Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Null,
    Text(String),
    Parts(Vec<OutPart<'a>>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutPart<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: OutUrl },
    File { file: OutFile<'a> },
}

#[derive(Serialize)]
struct OutUrl {
    url: String,
}

#[derive(Serialize)]
struct OutFile<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    file_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_id: Option<&'a str>,
}

#[derive(Serialize)]
struct OutToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: OutFunctionCall<'a>,
}

#[derive(Serialize)]
struct OutFunctionCall<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct OutTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: OutFunction<'a>,
}

#[derive(Serialize)]
struct OutFunction<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    /// The IR's schema text, checked to be JSON and written as it is (no tree is built, and
    /// the properties keep their order).
    parameters: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutChoice<'a> {
    Mode(&'static str),
    Named {
        #[serde(rename = "type")]
        kind: &'static str,
        function: OutName<'a>,
    },
}

#[derive(Serialize)]
struct OutName<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutFormat<'a> {
    Text,
    JsonObject,
    JsonSchema { json_schema: OutSchema<'a> },
}

#[derive(Serialize)]
struct OutSchema<'a> {
    name: &'a str,
    /// The IR's text, checked to be JSON and written as it is, properties in their order.
    schema: &'a RawValue,
    strict: bool,
}

fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::InvalidRequest(message.into())
}

/// An IR request as an upstream request.
pub fn encode(request: &ChatRequest) -> Result<EncodedRequest, PluginError> {
    let mut messages = Messages::default();
    let system = joined_text(&request.system, "\n\n");
    if !system.is_empty() {
        messages.push_text("system", system);
    }
    for message in &request.messages {
        messages.push(message);
    }
    let mut tools = Vec::with_capacity(request.tools.len());
    for (i, tool) in request.tools.iter().enumerate() {
        tools.push(OutTool {
            kind: "function",
            function: OutFunction {
                name: &tool.name,
                description: tool.description.as_deref(),
                parameters: serde_json::from_str::<&RawValue>(&tool.parameters_json)
                    .map_err(|e| invalid(format!("tools[{i}] ({}): parameters are not JSON: {e}", tool.name)))?,
                strict: tool.strict,
            },
        });
    }
    let has_tools = !tools.is_empty();
    let body = Body {
        model: &request.model,
        messages: messages.out,
        tool_choice: request
            .tool_choice
            .as_ref()
            .filter(|_| has_tools)
            .map(|c| tool_choice(c, request)),
        parallel_tool_calls: request.parallel_tool_calls.filter(|_| has_tools),
        tools,
        max_completion_tokens: request.sampling.max_tokens,
        temperature: request.sampling.temperature,
        top_p: request.sampling.top_p,
        stop: &request.sampling.stop,
        seed: request.sampling.seed,
        reasoning_effort: request.reasoning.as_ref().and_then(effort),
        response_format: request.response_format.as_ref().map(response_format).transpose()?,
        stream: request.stream.then_some(true),
        stream_options: request.stream.then_some(StreamOptions {
            include_usage: true,
            include_obfuscation: false,
        }),
    };
    let body = serde_json::to_vec(&body).map_err(|e| PluginError::Internal(format!("encoding the request: {e}")))?;
    Ok(EncodedRequest {
        path: PATH.to_owned(),
        headers: Vec::new(),
        body,
    })
}

/// The messages as they are written, with what alternation repair needs to know: the ids of
/// the latest assistant turn's tool calls that no tool message has answered yet.
#[derive(Default)]
struct Messages<'a> {
    out: Vec<OutMessage<'a>>,
    unanswered: Vec<&'a str>,
}

impl<'a> Messages<'a> {
    fn push_text(&mut self, role: &'static str, text: String) {
        self.out.push(OutMessage {
            role,
            content: Content::Text(text),
            tool_calls: Vec::new(),
            tool_call_id: None,
        });
    }

    fn push(&mut self, message: &'a Message) {
        match message.role {
            Role::System => {
                let text = joined_text(&message.content, "\n\n");
                if !text.is_empty() {
                    self.push_text("system", text);
                }
            }
            Role::User => self.user(&message.content),
            Role::Assistant => self.assistant(&message.content),
            Role::Tool => self.tool(&message.content),
        }
    }

    fn user(&mut self, blocks: &'a [ContentBlock]) {
        // Tool results never travel in a user message in the IR; if one does, it is
        // answered first, as its own tool message.
        self.tool(blocks);
        let mut parts = Vec::with_capacity(blocks.len());
        for block in blocks {
            match block {
                ContentBlock::Text(t) if !t.text.is_empty() => parts.push(OutPart::Text { text: &t.text }),
                ContentBlock::Image(m) => parts.push(image_part(&m.source)),
                ContentBlock::Document(m) => {
                    if let Some(part) = document_part(&m.source) {
                        parts.push(part);
                    }
                }
                // Thinking and tool calls are the assistant's; tool results were handled.
                _ => {}
            }
        }
        let content = match parts.as_slice() {
            [] => return,
            [OutPart::Text { text }] => Content::Text((*text).to_owned()),
            _ => Content::Parts(parts),
        };
        self.out.push(OutMessage {
            role: "user",
            content,
            tool_calls: Vec::new(),
            tool_call_id: None,
        });
    }

    fn assistant(&mut self, blocks: &'a [ContentBlock]) {
        let text = joined_text(blocks, "\n\n");
        let calls: Vec<OutToolCall<'a>> = blocks
            .iter()
            .filter_map(|b| match b {
                ContentBlock::ToolCall(c) => Some(OutToolCall {
                    id: &c.id,
                    kind: "function",
                    function: OutFunctionCall {
                        name: &c.name,
                        arguments: &c.arguments_json,
                    },
                }),
                _ => None,
            })
            .collect();
        if text.is_empty() && calls.is_empty() {
            // Only thinking (or nothing): OpenAI takes neither.
            return;
        }
        let merge = self.out.last().is_some_and(|m| m.role == "assistant");
        if merge && let Some(last) = self.out.last_mut() {
            if !text.is_empty() {
                last.content = match std::mem::replace(&mut last.content, Content::Null) {
                    Content::Text(before) if !before.is_empty() => Content::Text(format!("{before}\n\n{text}")),
                    _ => Content::Text(text),
                };
            }
            self.unanswered.extend(calls.iter().map(|c| c.id));
            last.tool_calls.extend(calls);
            return;
        }
        self.unanswered = calls.iter().map(|c| c.id).collect();
        self.out.push(OutMessage {
            role: "assistant",
            content: if text.is_empty() {
                Content::Null
            } else {
                Content::Text(text)
            },
            tool_calls: calls,
            tool_call_id: None,
        });
    }

    fn tool(&mut self, blocks: &'a [ContentBlock]) {
        let mut images: Vec<OutPart<'a>> = Vec::new();
        let mut orphans = Vec::new();
        for block in blocks {
            let ContentBlock::ToolResult(result) = block else {
                continue;
            };
            let text = result_text(result);
            if let Some(at) = self.unanswered.iter().position(|id| *id == result.call_id) {
                self.unanswered.remove(at);
                self.out.push(OutMessage {
                    role: "tool",
                    content: Content::Text(text),
                    tool_calls: Vec::new(),
                    tool_call_id: Some(&result.call_id),
                });
            } else {
                orphans.push(format!("Result of tool call {}:\n{text}", result.call_id));
            }
            let mut result_images = result.content.iter().filter_map(|p| match p {
                ToolResultPart::Image(source) => Some(image_part(source)),
                ToolResultPart::Text(_) => None,
            });
            if let Some(first) = result_images.next() {
                images.push(OutPart::Text {
                    text: "Image output of the tool call above:",
                });
                images.push(first);
                images.extend(result_images);
            }
        }
        if !orphans.is_empty() {
            self.push_text("user", orphans.join("\n\n"));
        }
        if !images.is_empty() {
            self.out.push(OutMessage {
                role: "user",
                content: Content::Parts(images),
                tool_calls: Vec::new(),
                tool_call_id: None,
            });
        }
    }
}

/// The text blocks of a list, joined.
fn joined_text(blocks: &[ContentBlock], separator: &str) -> String {
    let mut out = String::new();
    for block in blocks {
        if let ContentBlock::Text(t) = block
            && !t.text.is_empty()
        {
            if !out.is_empty() {
                out.push_str(separator);
            }
            out.push_str(&t.text);
        }
    }
    out
}

/// A tool result's text parts, joined; an error is prefixed `Error:`.
fn result_text(result: &ToolResult) -> String {
    let text = result
        .content
        .iter()
        .filter_map(|p| match p {
            ToolResultPart::Text(t) => Some(t.as_str()),
            ToolResultPart::Image(_) => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    if result.is_error && !text.starts_with("Error") {
        format!("Error: {text}")
    } else {
        text
    }
}

fn image_part(source: &MediaSource) -> OutPart<'_> {
    match source {
        MediaSource::FileId(id) => OutPart::File {
            file: OutFile {
                file_data: None,
                filename: None,
                file_id: Some(id),
            },
        },
        MediaSource::Url(_) | MediaSource::Base64(_) => OutPart::ImageUrl {
            image_url: OutUrl {
                url: media::url_of(source).unwrap_or_default(),
            },
        },
    }
}

/// A document as a `file` part; a document URL has no Chat Completions form (README).
fn document_part(source: &MediaSource) -> Option<OutPart<'_>> {
    match source {
        MediaSource::Base64(inline) => Some(OutPart::File {
            file: OutFile {
                file_data: Some(media::data_uri(inline)),
                filename: Some(media::file_name(&inline.media_type)),
                file_id: None,
            },
        }),
        MediaSource::FileId(id) => Some(OutPart::File {
            file: OutFile {
                file_data: None,
                filename: None,
                file_id: Some(id),
            },
        }),
        MediaSource::Url(_) => None,
    }
}

/// The tool choice; a named tool that is not in the list becomes `required`.
fn tool_choice<'a>(choice: &'a ToolChoice, request: &ChatRequest) -> OutChoice<'a> {
    match choice {
        ToolChoice::Auto => OutChoice::Mode("auto"),
        ToolChoice::None => OutChoice::Mode("none"),
        ToolChoice::Required => OutChoice::Mode("required"),
        ToolChoice::Named(name) if request.tools.iter().any(|t| t.name == *name) => OutChoice::Named {
            kind: "function",
            function: OutName { name },
        },
        ToolChoice::Named(_) => OutChoice::Mode("required"),
    }
}

/// `reasoning_effort`: the effort as given, else the budget on IR.md's scale; nothing for a
/// request that leaves it to the model (Claude's adaptive thinking).
fn effort(reasoning: &Reasoning) -> Option<&str> {
    if let Some(effort) = reasoning.effort.as_deref() {
        return Some(effort);
    }
    reasoning.budget_tokens.map(|budget| match budget {
        0..=1024 => "minimal",
        1025..=4096 => "low",
        4097..=16384 => "medium",
        _ => "high",
    })
}

fn response_format(format: &ResponseFormat) -> Result<OutFormat<'_>, PluginError> {
    Ok(match format {
        ResponseFormat::Text => OutFormat::Text,
        ResponseFormat::JsonObject => OutFormat::JsonObject,
        ResponseFormat::JsonSchema(schema) => OutFormat::JsonSchema {
            json_schema: OutSchema {
                name: &schema.name,
                schema: serde_json::from_str(&schema.schema_json)
                    .map_err(|e| invalid(format!("response format schema ({}) is not JSON: {e}", schema.name)))?,
                strict: schema.strict,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{
        InlineData, JsonSchemaFormat, MediaBlock, Sampling, TextBlock, ThinkingBlock, Tool, ToolCall,
    };
    use serde_json::{Value, json};

    fn text(t: &str) -> ContentBlock {
        ContentBlock::Text(TextBlock {
            text: t.into(),
            cache: None,
        })
    }

    fn call(id: &str) -> ContentBlock {
        ContentBlock::ToolCall(ToolCall {
            id: id.into(),
            name: "weather".into(),
            arguments_json: r#"{"city":"Paris"}"#.into(),
            signature: Some("sig".into()),
        })
    }

    fn result(id: &str, content: Vec<ToolResultPart>, is_error: bool) -> ContentBlock {
        ContentBlock::ToolResult(ToolResult {
            call_id: id.into(),
            name: None,
            content,
            is_error,
        })
    }

    fn msg(role: Role, content: Vec<ContentBlock>) -> Message {
        Message { role, content }
    }

    fn request(messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: "gpt-4o".into(),
            system: Vec::new(),
            messages,
            tools: Vec::new(),
            tool_choice: None,
            sampling: Sampling {
                max_tokens: None,
                temperature: None,
                top_p: None,
                top_k: None,
                stop: Vec::new(),
                seed: None,
            },
            response_format: None,
            reasoning: None,
            stream: false,
            parallel_tool_calls: None,
            extra_json: None,
        }
    }

    fn body(r: &ChatRequest) -> Value {
        let e = encode(r).unwrap();
        assert_eq!(e.path, PATH);
        serde_json::from_slice(&e.body).unwrap()
    }

    fn tool(name: &str) -> Tool {
        Tool {
            name: name.into(),
            description: Some("d".into()),
            parameters_json: r#"{"type":"object"}"#.into(),
            strict: None,
        }
    }

    #[test]
    fn system_prompt_and_mid_conversation_system_messages() {
        let mut r = request(vec![
            msg(Role::User, vec![text("hi")]),
            msg(Role::System, vec![text("reminder")]),
            msg(Role::User, vec![text("a"), text("b")]),
        ]);
        r.system = vec![text("one"), text("two")];
        assert_eq!(
            body(&r)["messages"],
            json!([
                {"role": "system", "content": "one\n\ntwo"},
                {"role": "user", "content": "hi"},
                {"role": "system", "content": "reminder"},
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
            ])
        );
    }

    #[test]
    fn media_parts() {
        let r = request(vec![msg(
            Role::User,
            vec![
                ContentBlock::Image(MediaBlock {
                    source: MediaSource::Url("https://x.test/a.png".into()),
                    cache: None,
                }),
                ContentBlock::Image(MediaBlock {
                    source: MediaSource::Base64(InlineData {
                        media_type: "image/png".into(),
                        data: "AAA=".into(),
                    }),
                    cache: None,
                }),
                ContentBlock::Document(MediaBlock {
                    source: MediaSource::Base64(InlineData {
                        media_type: "application/pdf".into(),
                        data: "JVBE".into(),
                    }),
                    cache: None,
                }),
                ContentBlock::Document(MediaBlock {
                    source: MediaSource::Url("https://x.test/a.pdf".into()),
                    cache: None,
                }),
                ContentBlock::Document(MediaBlock {
                    source: MediaSource::FileId("file-1".into()),
                    cache: None,
                }),
            ],
        )]);
        assert_eq!(
            body(&r)["messages"][0]["content"],
            json!([
                {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA="}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "document.pdf"}},
                {"type": "file", "file": {"file_id": "file-1"}}
            ])
        );
    }

    #[test]
    fn tool_calls_results_errors_images_and_thinking() {
        let r = request(vec![
            msg(Role::User, vec![text("weather?")]),
            msg(
                Role::Assistant,
                vec![
                    ContentBlock::Thinking(ThinkingBlock {
                        text: "hmm".into(),
                        signature: Some("s".into()),
                    }),
                    text("checking"),
                    call("call_1"),
                    call("call_2"),
                ],
            ),
            msg(
                Role::Tool,
                vec![
                    result("call_1", vec![ToolResultPart::Text("18C".into())], false),
                    result(
                        "call_2",
                        vec![
                            ToolResultPart::Text("no such city".into()),
                            ToolResultPart::Image(MediaSource::Url("https://x.test/map.png".into())),
                        ],
                        true,
                    ),
                ],
            ),
        ]);
        assert_eq!(
            body(&r)["messages"],
            json!([
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": "checking", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "content": "18C", "tool_call_id": "call_1"},
                {"role": "tool", "content": "Error: no such city", "tool_call_id": "call_2"},
                {"role": "user", "content": [
                    {"type": "text", "text": "Image output of the tool call above:"},
                    {"type": "image_url", "image_url": {"url": "https://x.test/map.png"}}]}
            ])
        );
    }

    #[test]
    fn alternation_repair() {
        let r = request(vec![
            msg(Role::User, vec![text("q")]),
            msg(
                Role::Assistant,
                vec![ContentBlock::Thinking(ThinkingBlock {
                    text: "only thinking".into(),
                    signature: None,
                })],
            ),
            msg(Role::Assistant, vec![call("call_1")]),
            msg(Role::Assistant, vec![text("and more"), call("call_2")]),
            msg(
                Role::Tool,
                vec![
                    result("call_2", vec![ToolResultPart::Text("b".into())], false),
                    result("call_1", vec![ToolResultPart::Text("a".into())], false),
                    result("call_lost", vec![ToolResultPart::Text("c".into())], false),
                ],
            ),
        ]);
        let m = body(&r)["messages"].clone();
        assert_eq!(m.as_array().unwrap().len(), 5, "{m}");
        assert_eq!(m[1]["content"], "and more");
        assert_eq!(m[1]["tool_calls"].as_array().unwrap().len(), 2);
        assert_eq!(m[2]["tool_call_id"], "call_2");
        assert_eq!(m[3]["tool_call_id"], "call_1");
        assert_eq!(
            m[4],
            json!({"role": "user", "content": "Result of tool call call_lost:\nc"})
        );
    }

    #[test]
    fn assistant_with_only_tool_calls_has_null_content() {
        let r = request(vec![msg(Role::Assistant, vec![call("call_1")])]);
        assert_eq!(body(&r)["messages"][0]["content"], Value::Null);
    }

    #[test]
    fn tools_choices_and_parallel_calls() {
        let mut r = request(vec![]);
        r.tools = vec![tool("f"), tool("g")];
        r.parallel_tool_calls = Some(false);
        let cases = [
            (ToolChoice::Auto, json!("auto")),
            (ToolChoice::None, json!("none")),
            (ToolChoice::Required, json!("required")),
            (
                ToolChoice::Named("g".into()),
                json!({"type": "function", "function": {"name": "g"}}),
            ),
            (ToolChoice::Named("absent".into()), json!("required")),
        ];
        for (choice, expected) in cases {
            r.tool_choice = Some(choice);
            let b = body(&r);
            assert_eq!(b["tool_choice"], expected);
            assert_eq!(b["parallel_tool_calls"], false);
            assert_eq!(
                b["tools"][0],
                json!({"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}})
            );
        }
        r.tools.clear();
        let b = body(&r);
        assert!(b.get("tool_choice").is_none() && b.get("parallel_tool_calls").is_none() && b.get("tools").is_none());
    }

    #[test]
    fn sampling_reasoning_format_and_stream() {
        let mut r = request(vec![msg(Role::User, vec![text("x")])]);
        r.sampling.max_tokens = Some(300);
        r.sampling.temperature = Some(0.2);
        r.sampling.top_p = Some(0.8);
        r.sampling.top_k = Some(40);
        r.sampling.stop = vec!["END".into()];
        r.sampling.seed = Some(42);
        r.reasoning = Some(Reasoning {
            effort: None,
            budget_tokens: Some(10_000),
            include_thoughts: true,
        });
        r.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "out".into(),
            schema_json: r#"{"type":"object"}"#.into(),
            strict: true,
        }));
        r.stream = true;
        let b = body(&r);
        assert_eq!(b["max_completion_tokens"], 300);
        assert_eq!(b["temperature"], 0.2);
        assert_eq!(b["top_p"], 0.8);
        assert!(b.get("top_k").is_none());
        assert_eq!(b["stop"], json!(["END"]));
        assert_eq!(b["seed"], 42);
        assert_eq!(b["reasoning_effort"], "medium");
        assert_eq!(
            b["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": true}})
        );
        assert_eq!(b["stream"], true);
        assert_eq!(
            b["stream_options"],
            json!({"include_usage": true, "include_obfuscation": false})
        );
        for (budget, effort) in [(1024, "minimal"), (4096, "low"), (16384, "medium"), (16385, "high")] {
            r.reasoning = Some(Reasoning {
                effort: None,
                budget_tokens: Some(budget),
                include_thoughts: false,
            });
            assert_eq!(body(&r)["reasoning_effort"], effort);
        }
        r.reasoning = Some(Reasoning {
            effort: Some("high".into()),
            budget_tokens: None,
            include_thoughts: false,
        });
        assert_eq!(body(&r)["reasoning_effort"], "high");
        r.reasoning = Some(Reasoning {
            effort: None,
            budget_tokens: None,
            include_thoughts: true,
        });
        r.stream = false;
        r.sampling = Sampling {
            max_tokens: None,
            temperature: None,
            top_p: None,
            top_k: None,
            stop: Vec::new(),
            seed: None,
        };
        let b = body(&r);
        for absent in [
            "reasoning_effort",
            "stream",
            "stream_options",
            "max_completion_tokens",
            "stop",
            "seed",
        ] {
            assert!(b.get(absent).is_none(), "{absent}: {b}");
        }
    }

    #[test]
    fn tool_schemas_are_written_as_they_are_in_their_order() {
        let schema = r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"number"}}}"#;
        let r = ChatRequest {
            tools: vec![Tool {
                parameters_json: schema.into(),
                ..tool("f")
            }],
            ..request(vec![])
        };
        let text = String::from_utf8(encode(&r).unwrap().body).unwrap();
        assert!(text.contains(&format!(r#""parameters":{schema}"#)), "{text}");
    }

    #[test]
    fn a_structured_output_schema_is_written_as_it_is() {
        let schema = r#"{"type":"object","properties":{"zeta":{},"alpha":{}}}"#;
        let r = ChatRequest {
            response_format: Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: "out".into(),
                schema_json: schema.into(),
                strict: true,
            })),
            ..request(vec![])
        };
        let text = String::from_utf8(encode(&r).unwrap().body).unwrap();
        assert!(text.contains(&format!(r#""schema":{schema}"#)), "{text}");
    }

    #[test]
    fn bad_schemas_are_invalid_requests() {
        let mut r = request(vec![]);
        r.tools = vec![Tool {
            name: "f".into(),
            description: None,
            parameters_json: "{".into(),
            strict: None,
        }];
        assert!(matches!(encode(&r), Err(PluginError::InvalidRequest(m)) if m.contains("tools[0]")));
    }
}
