//! An IR request as a body for a Responses upstream (`POST /v1/responses`).
//!
//! - `system` text → `instructions`; other system blocks → a leading `developer` message.
//! - Messages → input items in order: user and mid-conversation system messages → `message`
//!   items (`developer` for system); an assistant turn → `reasoning` items (only thinking
//!   with a signature, sent as `encrypted_content`), `message` items with `output_text`
//!   parts, and `function_call` items; tool results → `function_call_output` items.
//! - Tool and structured-output schemas are written as the client wrote them (the IR's
//!   text, checked to be JSON), so their properties keep the client's order.
//! - `store: false` always (the gateway keeps no state), and `include:
//!   ["reasoning.encrypted_content"]` whenever reasoning is asked for or sent back.
//! - A stream turns OpenAI's stream obfuscation off (`stream_options.include_obfuscation:
//!   false`): the random `obfuscation` padding on each delta event only hides event sizes on
//!   the link to OpenAI, and the client of another format never receives it.
//! - Dropped: stop sequences, seed and top-k (Responses has none), redacted thinking
//!   (another provider's opaque data), thinking without a signature, cache hints.
//!
//! The body is typed structs that borrow from the IR, serialised once: no JSON tree is
//! built (only images and documents go through `serde_json::Value`, from [`crate::media`]).

use aether_plugin_sdk::types::{
    ChatRequest, ContentBlock, EncodedRequest, Message, PluginError, Reasoning, ResponseFormat, Role, Tool, ToolChoice,
    ToolResult, ToolResultPart,
};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::media;
use crate::reasoning::effort_for_budget;

/// The upstream path.
pub const PATH: &str = "/v1/responses";

/// What `include` asks for so reasoning can be sent back with `store: false`.
pub const ENCRYPTED_REASONING: &str = "reasoning.encrypted_content";

/// The request body.
#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<String>,
    input: Vec<Item<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<FunctionTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<OutToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<OutReasoning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    include: Option<[&'static str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<OutText<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    store: bool,
}

#[derive(Serialize)]
struct StreamOptions {
    include_obfuscation: bool,
}

/// One input item.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Item<'a> {
    Message {
        role: &'static str,
        content: Vec<Part<'a>>,
    },
    Reasoning {
        summary: Vec<SummaryText<'a>>,
        encrypted_content: &'a str,
    },
    FunctionCall {
        call_id: &'a str,
        name: &'a str,
        arguments: &'a str,
    },
    FunctionCallOutput {
        call_id: &'a str,
        output: Output<'a>,
    },
}

/// A content part of a message (or of a tool's output).
#[derive(Serialize)]
#[serde(untagged)]
enum Part<'a> {
    Text(TextPart<'a>),
    /// An image or a document, as [`crate::media`] writes it.
    Media(Value),
}

#[derive(Serialize)]
struct TextPart<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

impl<'a> Part<'a> {
    fn input_text(text: &'a str) -> Self {
        Part::Text(TextPart {
            kind: "input_text",
            text,
        })
    }

    fn output_text(text: &'a str) -> Self {
        Part::Text(TextPart {
            kind: "output_text",
            text,
        })
    }
}

#[derive(Serialize)]
struct SummaryText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

/// A tool's output: a string when it is all text, else parts.
#[derive(Serialize)]
#[serde(untagged)]
enum Output<'a> {
    Text(String),
    Parts(Vec<Part<'a>>),
}

#[derive(Serialize)]
struct FunctionTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    /// The IR's schema text, checked to be JSON and written as it is.
    parameters: &'a RawValue,
    strict: bool,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutToolChoice<'a> {
    Mode(&'static str),
    Function {
        #[serde(rename = "type")]
        kind: &'static str,
        name: &'a str,
    },
}

#[derive(Serialize)]
struct OutReasoning {
    #[serde(skip_serializing_if = "Option::is_none")]
    effort: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'static str>,
}

/// `text`: the output format.
#[derive(Serialize)]
struct OutText<'a> {
    format: OutFormat<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutFormat<'a> {
    Text,
    JsonObject,
    JsonSchema {
        name: &'a str,
        /// The IR's schema text, checked to be JSON and written as it is.
        schema: &'a RawValue,
        strict: bool,
    },
}

/// An IR request as a Responses request.
pub fn encode(req: &ChatRequest) -> Result<EncodedRequest, PluginError> {
    let instructions: Vec<&str> = req
        .system
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text(t) => Some(t.text.as_str()),
            _ => None,
        })
        .collect();
    let mut input = Vec::new();
    let system_media: Vec<Part<'_>> = req.system.iter().filter_map(media_part).collect();
    if !system_media.is_empty() {
        input.push(Item::Message {
            role: "developer",
            content: system_media,
        });
    }
    let mut sends_reasoning = false;
    for message in &req.messages {
        sends_reasoning |= message_items(message, &mut input);
    }
    let tools = req
        .tools
        .iter()
        .enumerate()
        .map(|(i, t)| tool(i, t))
        .collect::<Result<Vec<_>, _>>()?;
    let has_tools = !tools.is_empty();
    let body = Body {
        model: &req.model,
        instructions: (!instructions.is_empty()).then(|| instructions.join("\n\n")),
        input,
        tools,
        tool_choice: req
            .tool_choice
            .as_ref()
            .filter(|_| has_tools)
            .map(|c| tool_choice(c, &req.tools)),
        parallel_tool_calls: req.parallel_tool_calls.filter(|_| has_tools),
        reasoning: req.reasoning.as_ref().map(reasoning),
        include: (req.reasoning.is_some() || sends_reasoning).then_some([ENCRYPTED_REASONING]),
        max_output_tokens: req.sampling.max_tokens,
        temperature: req.sampling.temperature,
        top_p: req.sampling.top_p,
        text: req
            .response_format
            .as_ref()
            .map(|f| response_format(f).map(|format| OutText { format }))
            .transpose()?,
        stream: req.stream,
        stream_options: req.stream.then_some(StreamOptions {
            include_obfuscation: false,
        }),
        store: false,
    };
    let body = serde_json::to_vec(&body)
        .map_err(|e| PluginError::Internal(format!("the Responses request did not serialise: {e}")))?;
    Ok(EncodedRequest {
        path: PATH.into(),
        headers: Vec::new(),
        body,
    })
}

/// An image or document block as an input part (`None` for other blocks).
fn media_part(block: &ContentBlock) -> Option<Part<'_>> {
    match block {
        ContentBlock::Image(m) => Some(Part::Media(media::image_part(&m.source))),
        ContentBlock::Document(m) => Some(Part::Media(media::file_part(&m.source))),
        _ => None,
    }
}

/// Where consecutive text and media of a message collect before they become one item.
struct Pending<'a> {
    role: &'static str,
    parts: Vec<Part<'a>>,
}

impl<'a> Pending<'a> {
    fn flush(&mut self, input: &mut Vec<Item<'a>>) {
        if !self.parts.is_empty() {
            input.push(Item::Message {
                role: self.role,
                content: std::mem::take(&mut self.parts),
            });
        }
    }
}

/// A message's input items; whether it sends reasoning back.
fn message_items<'a>(message: &'a Message, input: &mut Vec<Item<'a>>) -> bool {
    let role = match message.role {
        Role::User | Role::Tool => "user",
        Role::Assistant => "assistant",
        Role::System => "developer",
    };
    let assistant = message.role == Role::Assistant;
    let mut pending = Pending {
        role,
        parts: Vec::new(),
    };
    let mut sends_reasoning = false;
    for block in &message.content {
        match block {
            ContentBlock::Text(t) if assistant => pending.parts.push(Part::output_text(&t.text)),
            ContentBlock::Text(t) => pending.parts.push(Part::input_text(&t.text)),
            ContentBlock::Image(_) | ContentBlock::Document(_) if !assistant => {
                pending.parts.extend(media_part(block));
            }
            ContentBlock::Thinking(t) if assistant => {
                if let Some(signature) = &t.signature {
                    pending.flush(input);
                    input.push(reasoning_item(&t.text, signature));
                    sends_reasoning = true;
                }
            }
            ContentBlock::ToolCall(c) if assistant => {
                pending.flush(input);
                let arguments = if c.arguments_json.trim().is_empty() {
                    "{}"
                } else {
                    &c.arguments_json
                };
                input.push(Item::FunctionCall {
                    call_id: &c.id,
                    name: &c.name,
                    arguments,
                });
            }
            ContentBlock::ToolResult(r) => {
                pending.flush(input);
                input.push(function_call_output(r));
            }
            _ => {}
        }
    }
    pending.flush(input);
    sends_reasoning
}

/// A reasoning item to send back: its summary (never null: an empty list when there is no
/// text) and its encrypted content.
fn reasoning_item<'a>(text: &'a str, signature: &'a str) -> Item<'a> {
    let summary = if text.is_empty() {
        Vec::new()
    } else {
        vec![SummaryText {
            kind: "summary_text",
            text,
        }]
    };
    Item::Reasoning {
        summary,
        encrypted_content: signature,
    }
}

/// A tool result as `function_call_output`: a string when it is all text, else parts. An
/// error (which Responses cannot flag) is said in the text.
fn function_call_output(r: &ToolResult) -> Item<'_> {
    let prefix = if r.is_error { "Error: " } else { "" };
    let has_image = r.content.iter().any(|p| matches!(p, ToolResultPart::Image(_)));
    let output = if has_image {
        let mut parts = Vec::with_capacity(r.content.len() + 1);
        if r.is_error {
            parts.push(Part::input_text(prefix.trim_end()));
        }
        parts.extend(r.content.iter().map(|p| match p {
            ToolResultPart::Text(t) => Part::input_text(t),
            ToolResultPart::Image(source) => Part::Media(media::image_part(source)),
        }));
        Output::Parts(parts)
    } else {
        let text: Vec<&str> = r
            .content
            .iter()
            .filter_map(|p| match p {
                ToolResultPart::Text(t) => Some(t.as_str()),
                ToolResultPart::Image(_) => None,
            })
            .collect();
        Output::Text(format!("{prefix}{}", text.join("\n")))
    };
    Item::FunctionCallOutput {
        call_id: &r.call_id,
        output,
    }
}

/// A function tool. `strict` as the client asked; `false` when it did not say: Responses
/// defaults to strict, which would reject the schemas of other formats' clients.
fn tool(i: usize, t: &Tool) -> Result<FunctionTool<'_>, PluginError> {
    let parameters = serde_json::from_str::<&RawValue>(&t.parameters_json).map_err(|e| {
        PluginError::InvalidRequest(format!(
            "tools[{i}] ({}): the parameters are not valid JSON: {e}",
            t.name
        ))
    })?;
    Ok(FunctionTool {
        kind: "function",
        name: &t.name,
        description: t.description.as_deref(),
        parameters,
        strict: t.strict.unwrap_or(false),
    })
}

/// `tool_choice`; a named tool that is not in the list becomes `required` (IR.md).
fn tool_choice<'a>(choice: &'a ToolChoice, tools: &[Tool]) -> OutToolChoice<'a> {
    match choice {
        ToolChoice::Auto => OutToolChoice::Mode("auto"),
        ToolChoice::None => OutToolChoice::Mode("none"),
        ToolChoice::Required => OutToolChoice::Mode("required"),
        ToolChoice::Named(name) if tools.iter().any(|t| &t.name == name) => {
            OutToolChoice::Function { kind: "function", name }
        }
        ToolChoice::Named(_) => OutToolChoice::Mode("required"),
    }
}

/// `reasoning`: the effort (from the budget when only a budget is given), and a summary
/// when the client wants to see thinking.
fn reasoning(r: &Reasoning) -> OutReasoning {
    let effort = match (&r.effort, r.budget_tokens) {
        (Some(e), _) if matches!(e.as_str(), "minimal" | "low" | "medium" | "high") => Some(e.clone()),
        (_, Some(budget)) => Some(effort_for_budget(budget).to_owned()),
        _ => None,
    };
    OutReasoning {
        effort,
        summary: r.include_thoughts.then_some("auto"),
    }
}

/// `text.format`.
fn response_format(f: &ResponseFormat) -> Result<OutFormat<'_>, PluginError> {
    Ok(match f {
        ResponseFormat::Text => OutFormat::Text,
        ResponseFormat::JsonObject => OutFormat::JsonObject,
        ResponseFormat::JsonSchema(s) => OutFormat::JsonSchema {
            name: &s.name,
            schema: serde_json::from_str::<&RawValue>(&s.schema_json).map_err(|e| {
                PluginError::InvalidRequest(format!(
                    "response format \"{}\": the schema is not valid JSON: {e}",
                    s.name
                ))
            })?,
            strict: s.strict,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{
        InlineData, JsonSchemaFormat, MediaBlock, MediaSource, Sampling, TextBlock, ThinkingBlock, ToolCall,
    };
    use serde_json::json;

    fn text(t: &str) -> ContentBlock {
        ContentBlock::Text(TextBlock {
            text: t.into(),
            cache: None,
        })
    }

    fn request(messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: "gpt-5".into(),
            system: vec![text("sys")],
            messages,
            tools: Vec::new(),
            tool_choice: None,
            sampling: Sampling {
                max_tokens: None,
                temperature: None,
                top_p: None,
                top_k: Some(5),
                stop: vec!["X".into()],
                seed: Some(1),
            },
            response_format: None,
            reasoning: None,
            stream: false,
            parallel_tool_calls: None,
            extra_json: None,
        }
    }

    fn body(req: &ChatRequest) -> Value {
        let e = encode(req).unwrap();
        assert_eq!(e.path, "/v1/responses");
        serde_json::from_slice(&e.body).unwrap()
    }

    #[test]
    fn system_messages_and_dropped_sampling() {
        let b = body(&request(vec![
            Message {
                role: Role::User,
                content: vec![
                    text("hi"),
                    ContentBlock::Image(MediaBlock {
                        source: MediaSource::Base64(InlineData {
                            media_type: "image/png".into(),
                            data: "AA".into(),
                        }),
                        cache: None,
                    }),
                ],
            },
            Message {
                role: Role::System,
                content: vec![text("mid")],
            },
        ]));
        assert_eq!(b["instructions"], "sys");
        assert_eq!(b["store"], false);
        assert_eq!(b["input"][0]["role"], "user");
        assert_eq!(b["input"][0]["content"][1]["image_url"], "data:image/png;base64,AA");
        assert_eq!(b["input"][1]["role"], "developer");
        assert!(b.get("stop").is_none() && b.get("seed").is_none() && b.get("top_k").is_none());
        assert!(b.get("include").is_none() && b.get("max_output_tokens").is_none());
        assert!(b.get("stream_options").is_none(), "only a stream has stream options");
    }

    #[test]
    fn a_stream_turns_obfuscation_off() {
        let mut req = request(vec![Message {
            role: Role::User,
            content: vec![text("hi")],
        }]);
        req.stream = true;
        let b = body(&req);
        assert_eq!(b["stream"], true);
        assert_eq!(b["stream_options"], json!({"include_obfuscation": false}));
    }

    #[test]
    fn assistant_turns_and_tool_results() {
        let b = body(&request(vec![
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentBlock::Thinking(ThinkingBlock {
                        text: "t".into(),
                        signature: Some("SIG".into()),
                    }),
                    ContentBlock::Thinking(ThinkingBlock {
                        text: "unsigned".into(),
                        signature: None,
                    }),
                    ContentBlock::RedactedThinking("R".into()),
                    text("calling"),
                    ContentBlock::ToolCall(ToolCall {
                        id: "call_1".into(),
                        name: "f".into(),
                        arguments_json: String::new(),
                        signature: None,
                    }),
                ],
            },
            Message {
                role: Role::Tool,
                content: vec![
                    ContentBlock::ToolResult(ToolResult {
                        call_id: "call_1".into(),
                        name: None,
                        content: vec![ToolResultPart::Text("boom".into())],
                        is_error: true,
                    }),
                    ContentBlock::ToolResult(ToolResult {
                        call_id: "call_2".into(),
                        name: None,
                        content: vec![
                            ToolResultPart::Text("see".into()),
                            ToolResultPart::Image(MediaSource::Url("https://i".into())),
                        ],
                        is_error: false,
                    }),
                ],
            },
        ]));
        let input = b["input"].as_array().unwrap();
        assert_eq!(input.len(), 5);
        assert_eq!(
            input[0],
            json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}], "encrypted_content": "SIG"})
        );
        assert_eq!(
            input[1]["content"][0],
            json!({"type": "output_text", "text": "calling"})
        );
        assert_eq!(
            input[2],
            json!({"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"})
        );
        assert_eq!(input[3]["output"], "Error: boom");
        assert_eq!(input[4]["output"][1]["type"], "input_image");
        assert_eq!(b["include"], json!(["reasoning.encrypted_content"]));
    }

    #[test]
    fn tools_choices_reasoning_and_format() {
        let mut req = request(vec![Message {
            role: Role::User,
            content: vec![text("x")],
        }]);
        req.tools = vec![Tool {
            name: "f".into(),
            description: Some("d".into()),
            parameters_json: "{\"type\":\"object\"}".into(),
            strict: None,
        }];
        req.tool_choice = Some(ToolChoice::Named("f".into()));
        req.parallel_tool_calls = Some(true);
        req.reasoning = Some(Reasoning {
            effort: None,
            budget_tokens: Some(10000),
            include_thoughts: true,
        });
        req.sampling.max_tokens = Some(64);
        req.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "o".into(),
            schema_json: "{}".into(),
            strict: true,
        }));
        let b = body(&req);
        assert_eq!(
            b["tools"][0],
            json!({"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}, "strict": false})
        );
        assert_eq!(b["tool_choice"], json!({"type": "function", "name": "f"}));
        assert_eq!(b["parallel_tool_calls"], true);
        // Strict only when the client asked for it.
        let mut strict = req.clone();
        strict.tools[0].strict = Some(true);
        assert_eq!(body(&strict)["tools"][0]["strict"], true);
        assert_eq!(b["reasoning"], json!({"effort": "medium", "summary": "auto"}));
        assert_eq!(b["include"], json!(["reasoning.encrypted_content"]));
        assert_eq!(b["max_output_tokens"], 64);
        assert_eq!(
            b["text"]["format"],
            json!({"type": "json_schema", "name": "o", "schema": {}, "strict": true})
        );
        req.tool_choice = Some(ToolChoice::Named("missing".into()));
        assert_eq!(body(&req)["tool_choice"], "required");
        req.tools.clear();
        assert!(body(&req).get("tool_choice").is_none());
        for (choice, want) in [
            (ToolChoice::Auto, "auto"),
            (ToolChoice::None, "none"),
            (ToolChoice::Required, "required"),
        ] {
            assert_eq!(serde_json::to_value(tool_choice(&choice, &[])).unwrap(), json!(want));
        }
    }

    #[test]
    fn bad_schemas_are_invalid_requests() {
        let mut req = request(Vec::new());
        req.tools = vec![Tool {
            name: "f".into(),
            description: None,
            parameters_json: "{".into(),
            strict: None,
        }];
        assert!(matches!(encode(&req), Err(PluginError::InvalidRequest(m)) if m.contains("tools[0] (f)")));
    }

    #[test]
    fn schemas_are_written_as_they_are_in_their_order() {
        let schema = r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"number"}}}"#;
        let mut req = request(Vec::new());
        req.tools = vec![Tool {
            name: "f".into(),
            description: None,
            parameters_json: schema.into(),
            strict: None,
        }];
        req.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "out".into(),
            schema_json: schema.into(),
            strict: true,
        }));
        let text = String::from_utf8(encode(&req).unwrap().body).unwrap();
        assert!(text.contains(&format!(r#""parameters":{schema}"#)), "{text}");
        assert!(text.contains(&format!(r#""schema":{schema}"#)), "{text}");
    }
}
