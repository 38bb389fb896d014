//! A client's Responses request in the IR.
//!
//! - `instructions`, then leading `system`/`developer` input messages → `system`; later ones
//!   stay in place as `system` messages.
//! - `input` (a string, or items): consecutive assistant-side items (`message` with role
//!   `assistant`, `reasoning`, `function_call`) become one assistant message; consecutive
//!   `function_call_output` items one `tool` message (IR.md).
//! - `reasoning` items → thinking (summary texts joined with a blank line, and
//!   `encrypted_content` as the signature).
//! - `previous_response_id`, `conversation` and `item_reference` need server-side state the
//!   gateway does not keep: the request is refused with a message saying so.
//! - Items of other kinds (built-in tool calls, custom tools) and non-function tools are
//!   dropped (README).

use std::borrow::Cow;
use std::collections::HashMap;

use aether_plugin_sdk::json;
use aether_plugin_sdk::types::{
    ChatRequest, ContentBlock, JsonSchemaFormat, MediaBlock, Message, PluginError, Reasoning, RequestHead,
    ResponseFormat, Role, Sampling, TextBlock, ThinkingBlock, Tool, ToolCall, ToolChoice, ToolResult, ToolResultPart,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::media;
use crate::reasoning::{Effort, parse_effort};
use crate::wire::{Item, ItemKind, Part, PartKind, StrOr};

/// The parameters an empty tool schema stands for.
pub const EMPTY_SCHEMA: &str = r#"{"type":"object","properties":{}}"#;

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    instructions: Option<StrOr<'a, Item<'a>>>,
    #[serde(borrow, default)]
    input: Option<StrOr<'a, Item<'a>>>,
    #[serde(borrow, default)]
    tools: Option<Vec<ToolDef<'a>>>,
    #[serde(borrow, default)]
    tool_choice: Option<ChoiceWire<'a>>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(borrow, default)]
    reasoning: Option<ReasoningWire<'a>>,
    #[serde(default)]
    max_output_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(borrow, default)]
    text: Option<TextWire<'a>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(borrow, default)]
    previous_response_id: Option<Cow<'a, str>>,
    #[serde(default)]
    conversation: Option<Value>,
    #[serde(default)]
    store: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    user: Option<Value>,
    #[serde(default)]
    include: Option<Value>,
    #[serde(default)]
    service_tier: Option<Value>,
    #[serde(default)]
    truncation: Option<Value>,
    #[serde(default)]
    prompt_cache_key: Option<Value>,
    #[serde(default)]
    safety_identifier: Option<Value>,
    #[serde(default)]
    top_logprobs: Option<Value>,
    #[serde(default)]
    max_tool_calls: Option<Value>,
    #[serde(default)]
    background: Option<Value>,
}

#[derive(Deserialize)]
struct ToolDef<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    description: Option<Cow<'a, str>>,
    /// Kept as the client wrote it: copied to the IR without building a tree, and with the
    /// properties in the client's order (which structured output generates in).
    #[serde(borrow, default)]
    parameters: Option<&'a RawValue>,
    #[serde(default)]
    strict: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ChoiceWire<'a> {
    Mode(#[serde(borrow)] Cow<'a, str>),
    Object {
        #[serde(borrow, rename = "type")]
        kind: Cow<'a, str>,
        #[serde(borrow, default)]
        name: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        mode: Option<Cow<'a, str>>,
    },
}

#[derive(Deserialize)]
struct ReasoningWire<'a> {
    #[serde(borrow, default)]
    effort: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    summary: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    generate_summary: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TextWire<'a> {
    #[serde(borrow, default)]
    format: Option<FormatWire<'a>>,
}

#[derive(Deserialize)]
struct FormatWire<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    schema: Option<Value>,
    #[serde(default)]
    strict: Option<bool>,
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidRequest(message)
}

/// A client's Responses request in the IR.
pub fn decode(_head: &RequestHead, body: &[u8]) -> Result<ChatRequest, PluginError> {
    let b: Body<'_> = json::parse_request(body)?;
    if let Some(id) = b.previous_response_id.as_deref().filter(|id| !id.is_empty()) {
        return Err(invalid(format!(
            "\"previous_response_id\" ({id}) cannot be converted for this upstream: the gateway keeps no \
             conversation state; send the whole conversation in \"input\" instead"
        )));
    }
    if b.conversation.as_ref().is_some_and(|c| !c.is_null()) {
        return Err(invalid(
            "\"conversation\" cannot be converted for this upstream: the gateway keeps no conversation state; \
             send the whole conversation in \"input\" instead"
                .into(),
        ));
    }
    let model = b
        .model
        .as_deref()
        .ok_or_else(|| invalid("request body has no \"model\" field".into()))?
        .to_owned();

    let mut system = Vec::new();
    match &b.instructions {
        Some(StrOr::Str(s)) if !s.is_empty() => system.push(text_block(s)),
        Some(StrOr::List(items)) => {
            for (i, item) in items.iter().enumerate() {
                system.extend(content_blocks(item.content.as_ref(), &format!("instructions[{i}]"))?);
            }
        }
        _ => {}
    }

    let mut conversation = Conversation::default();
    match &b.input {
        Some(StrOr::Str(s)) => conversation.push(Role::User, vec![text_block(s)]),
        Some(StrOr::List(items)) => {
            for (i, item) in items.iter().enumerate() {
                conversation.item(item, i, &mut system)?;
            }
        }
        None => {}
    }

    let tools = tools(b.tools.as_deref().unwrap_or_default())?;
    Ok(ChatRequest {
        model,
        system,
        messages: conversation.messages,
        tools,
        tool_choice: b.tool_choice.as_ref().map(tool_choice).transpose()?.flatten(),
        sampling: Sampling {
            max_tokens: b.max_output_tokens,
            temperature: b.temperature,
            top_p: b.top_p,
            top_k: None,
            stop: Vec::new(),
            seed: None,
        },
        response_format: b
            .text
            .as_ref()
            .and_then(|t| t.format.as_ref())
            .map(response_format)
            .transpose()?,
        reasoning: b.reasoning.as_ref().map(reasoning).transpose()?.flatten(),
        stream: b.stream.unwrap_or(false),
        parallel_tool_calls: b.parallel_tool_calls,
        extra_json: extra(&b),
    })
}

fn text_block(text: &str) -> ContentBlock {
    ContentBlock::Text(TextBlock {
        text: text.to_owned(),
        cache: None,
    })
}

/// The conversation being built: messages, and the names of the calls seen so far (for
/// `tool-result.name`).
#[derive(Default)]
struct Conversation {
    messages: Vec<Message>,
    names: HashMap<String, String>,
    started: bool,
}

impl Conversation {
    /// Appends blocks of a role; assistant and tool blocks join a previous message of the
    /// same role (Responses splits one turn into several items).
    fn push(&mut self, role: Role, blocks: Vec<ContentBlock>) {
        if blocks.is_empty() {
            return;
        }
        self.started = true;
        if let Some(last) = self.messages.last_mut()
            && last.role == role
            && matches!(role, Role::Assistant | Role::Tool)
        {
            last.content.extend(blocks);
            return;
        }
        self.messages.push(Message { role, content: blocks });
    }

    fn item(&mut self, item: &Item<'_>, i: usize, system: &mut Vec<ContentBlock>) -> Result<(), PluginError> {
        let at = format!("input[{i}]");
        match item.item_kind() {
            ItemKind::Message => {
                let role = match item.role.as_deref() {
                    Some("user") => Role::User,
                    Some("assistant") => Role::Assistant,
                    Some("system" | "developer") => Role::System,
                    Some(other) => return Err(invalid(format!("{at}.role \"{other}\" is not a known role"))),
                    None => return Err(invalid(format!("{at} is a message without a \"role\""))),
                };
                let blocks = content_blocks(item.content.as_ref(), &at)?;
                if role == Role::System && !self.started {
                    system.extend(blocks);
                } else {
                    self.push(role, blocks);
                }
            }
            ItemKind::Reasoning => {
                let text = item.reasoning_text();
                let signature = item.encrypted_content.as_deref().map(str::to_owned);
                if !text.is_empty() || signature.is_some() {
                    self.push(
                        Role::Assistant,
                        vec![ContentBlock::Thinking(ThinkingBlock { text, signature })],
                    );
                }
            }
            ItemKind::FunctionCall => {
                let id = item
                    .call_id
                    .as_deref()
                    .ok_or_else(|| invalid(format!("{at} is a function_call without a \"call_id\"")))?;
                let name = item
                    .name
                    .as_deref()
                    .ok_or_else(|| invalid(format!("{at} is a function_call without a \"name\"")))?;
                self.names.insert(id.to_owned(), name.to_owned());
                self.push(
                    Role::Assistant,
                    vec![ContentBlock::ToolCall(ToolCall {
                        id: id.to_owned(),
                        name: name.to_owned(),
                        arguments_json: arguments_json(item.arguments.as_deref()),
                        signature: None,
                    })],
                );
            }
            ItemKind::FunctionCallOutput => {
                let call_id = item
                    .call_id
                    .as_deref()
                    .ok_or_else(|| invalid(format!("{at} is a function_call_output without a \"call_id\"")))?;
                let content = tool_output(item.output.as_ref(), &at)?;
                self.push(
                    Role::Tool,
                    vec![ContentBlock::ToolResult(ToolResult {
                        call_id: call_id.to_owned(),
                        name: self.names.get(call_id).cloned(),
                        content,
                        is_error: false,
                    })],
                );
            }
            ItemKind::ItemReference => {
                return Err(invalid(format!(
                    "{at} is an item_reference, which cannot be converted for this upstream: the gateway keeps no \
                     stored items; send the item itself"
                )));
            }
            ItemKind::Other => {}
        }
        Ok(())
    }
}

/// Arguments as the IR carries them: the text as sent, or `{}` when there is none.
pub fn arguments_json(arguments: Option<&str>) -> String {
    match arguments {
        Some(a) if !a.trim().is_empty() => a.to_owned(),
        _ => "{}".to_owned(),
    }
}

/// A message's content as IR blocks.
fn content_blocks(content: Option<&StrOr<'_, Part<'_>>>, at: &str) -> Result<Vec<ContentBlock>, PluginError> {
    let parts = match content {
        None => return Ok(Vec::new()),
        Some(StrOr::Str(s)) if s.is_empty() => return Ok(Vec::new()),
        Some(StrOr::Str(s)) => return Ok(vec![text_block(s)]),
        Some(StrOr::List(parts)) => parts,
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        match part.part_kind() {
            PartKind::Text => {
                if let Some(text) = part.text.as_deref().filter(|t| !t.is_empty()) {
                    blocks.push(text_block(text));
                }
            }
            PartKind::Refusal => {
                if let Some(text) = part.refusal.as_deref().filter(|t| !t.is_empty()) {
                    blocks.push(text_block(text));
                }
            }
            PartKind::Image => {
                let source = media::image_source(part).ok_or_else(|| {
                    invalid(format!(
                        "{at}.content[{j}] is an input_image without \"image_url\" or \"file_id\""
                    ))
                })?;
                blocks.push(ContentBlock::Image(MediaBlock { source, cache: None }));
            }
            PartKind::File => {
                let source = media::file_source(part).ok_or_else(|| {
                    invalid(format!(
                        "{at}.content[{j}] is an input_file without \"file_data\", \"file_url\" or \"file_id\""
                    ))
                })?;
                blocks.push(ContentBlock::Document(MediaBlock { source, cache: None }));
            }
            PartKind::Other => {}
        }
    }
    Ok(blocks)
}

/// A `function_call_output.output` as tool-result parts.
fn tool_output(output: Option<&StrOr<'_, Part<'_>>>, at: &str) -> Result<Vec<ToolResultPart>, PluginError> {
    let parts = match output {
        None => return Ok(Vec::new()),
        Some(StrOr::Str(s)) => return Ok(vec![ToolResultPart::Text(s.clone().into_owned())]),
        Some(StrOr::List(parts)) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        match part.part_kind() {
            PartKind::Text => out.push(ToolResultPart::Text(
                part.text.as_deref().unwrap_or_default().to_owned(),
            )),
            PartKind::Image => out.push(ToolResultPart::Image(media::image_source(part).ok_or_else(|| {
                invalid(format!(
                    "{at}.output[{j}] is an input_image without \"image_url\" or \"file_id\""
                ))
            })?)),
            PartKind::Refusal | PartKind::File | PartKind::Other => {}
        }
    }
    Ok(out)
}

/// The function tools (other tool types are dropped).
fn tools(defs: &[ToolDef<'_>]) -> Result<Vec<Tool>, PluginError> {
    let mut tools = Vec::with_capacity(defs.len());
    for (i, def) in defs.iter().enumerate() {
        if !matches!(def.kind.as_deref(), None | Some("function")) {
            continue;
        }
        let name = def
            .name
            .as_deref()
            .ok_or_else(|| invalid(format!("tools[{i}] is a function tool without a \"name\"")))?;
        tools.push(Tool {
            name: name.to_owned(),
            description: def.description.as_deref().map(str::to_owned),
            parameters_json: def
                .parameters
                .map_or_else(|| EMPTY_SCHEMA.to_owned(), |p| p.get().to_owned()),
            strict: def.strict,
        });
    }
    Ok(tools)
}

/// `tool_choice`; `None` for a hosted tool's choice, which the IR cannot name.
fn tool_choice(choice: &ChoiceWire<'_>) -> Result<Option<ToolChoice>, PluginError> {
    Ok(match choice {
        ChoiceWire::Mode(mode) => Some(match mode.as_ref() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => {
                return Err(invalid(format!(
                    "tool_choice \"{other}\" is not one of \"auto\", \"none\", \"required\""
                )));
            }
        }),
        ChoiceWire::Object { kind, name, mode } => match kind.as_ref() {
            "function" => Some(ToolChoice::Named(
                name.as_deref()
                    .ok_or_else(|| invalid("tool_choice of type function has no \"name\"".into()))?
                    .to_owned(),
            )),
            "allowed_tools" => Some(match mode.as_deref() {
                Some("required") => ToolChoice::Required,
                _ => ToolChoice::Auto,
            }),
            _ => None,
        },
    })
}

fn reasoning(r: &ReasoningWire<'_>) -> Result<Option<Reasoning>, PluginError> {
    let effort = match r.effort.as_deref() {
        None => None,
        Some(e) => Some(parse_effort(e).ok_or_else(|| {
            invalid(format!(
                "reasoning.effort \"{e}\" is not one of \"none\", \"minimal\", \"low\", \"medium\", \"high\""
            ))
        })?),
    };
    let summary = r.summary.as_deref().or(r.generate_summary.as_deref());
    Ok(match effort {
        Some(Effort::Off) => None,
        effort => Some(Reasoning {
            effort: effort.map(|e| match e {
                Effort::Level(level) => level.to_owned(),
                Effort::Off => String::new(),
            }),
            budget_tokens: None,
            include_thoughts: summary.is_some_and(|s| s != "none"),
        }),
    })
}

fn response_format(f: &FormatWire<'_>) -> Result<ResponseFormat, PluginError> {
    Ok(match f.kind.as_ref() {
        "text" => ResponseFormat::Text,
        "json_object" => ResponseFormat::JsonObject,
        "json_schema" => ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: f.name.as_deref().unwrap_or("response").to_owned(),
            schema_json: f
                .schema
                .as_ref()
                .ok_or_else(|| invalid("text.format of type json_schema has no \"schema\"".into()))?
                .to_string(),
            strict: f.strict.unwrap_or(false),
        }),
        other => {
            return Err(invalid(format!(
                "text.format.type \"{other}\" is not one of \"text\", \"json_object\", \"json_schema\""
            )));
        }
    })
}

/// The top-level fields the IR does not model, as a JSON object (informational).
fn extra(b: &Body<'_>) -> Option<String> {
    let fields = [
        ("store", &b.store),
        ("metadata", &b.metadata),
        ("user", &b.user),
        ("include", &b.include),
        ("service_tier", &b.service_tier),
        ("truncation", &b.truncation),
        ("prompt_cache_key", &b.prompt_cache_key),
        ("safety_identifier", &b.safety_identifier),
        ("top_logprobs", &b.top_logprobs),
        ("max_tool_calls", &b.max_tool_calls),
        ("background", &b.background),
    ];
    let map: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.to_owned(), v)))
        .collect();
    (!map.is_empty()).then(|| Value::Object(map).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::MediaSource;
    use serde_json::json;

    fn head() -> RequestHead {
        RequestHead {
            method: "POST".into(),
            path: "/v1/responses".into(),
            query: None,
            headers: Vec::new(),
        }
    }

    fn dec(body: Value) -> Result<ChatRequest, PluginError> {
        decode(&head(), body.to_string().as_bytes())
    }

    #[test]
    fn string_input_and_instructions() {
        let r = dec(json!({"model": "gpt-5", "instructions": "be brief", "input": "hi", "stream": true})).unwrap();
        assert_eq!(r.model, "gpt-5");
        assert!(r.stream);
        assert_eq!(r.system, vec![text_block("be brief")]);
        assert_eq!(
            r.messages,
            vec![Message {
                role: Role::User,
                content: vec![text_block("hi")]
            }]
        );
    }

    #[test]
    fn leading_developer_messages_are_system_and_later_ones_stay() {
        let r = dec(json!({"model": "m", "input": [
            {"role": "developer", "content": "rules"},
            {"role": "user", "content": [{"type": "input_text", "text": "q"}]},
            {"type": "message", "role": "system", "content": "reminder"},
        ]}))
        .unwrap();
        assert_eq!(r.system, vec![text_block("rules")]);
        assert_eq!(r.messages.len(), 2);
        assert_eq!(r.messages[1].role, Role::System);
    }

    #[test]
    fn assistant_items_merge_and_tool_outputs_merge() {
        let r = dec(json!({"model": "m", "input": [
            {"role": "user", "content": "go"},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "plan"}], "encrypted_content": "ENC"},
            {"type": "function_call", "id": "fc_1", "call_id": "call_a", "name": "ls", "arguments": "{\"p\":1}"},
            {"type": "function_call", "call_id": "call_b", "name": "cat", "arguments": ""},
            {"type": "function_call_output", "call_id": "call_a", "output": "x"},
            {"type": "function_call_output", "call_id": "call_b", "output": [{"type": "input_text", "text": "y"}, {"type": "input_image", "image_url": "https://i/p.png"}]},
            {"type": "web_search_call", "id": "ws_1"},
        ]}))
        .unwrap();
        assert_eq!(r.messages.len(), 3);
        let a = &r.messages[1];
        assert_eq!(a.role, Role::Assistant);
        assert_eq!(
            a.content[0],
            ContentBlock::Thinking(ThinkingBlock {
                text: "plan".into(),
                signature: Some("ENC".into())
            })
        );
        assert!(matches!(&a.content[2], ContentBlock::ToolCall(c) if c.arguments_json == "{}" && c.id == "call_b"));
        let t = &r.messages[2];
        assert_eq!(t.role, Role::Tool);
        assert_eq!(t.content.len(), 2);
        let ContentBlock::ToolResult(res) = &t.content[1] else {
            panic!()
        };
        assert_eq!(res.name.as_deref(), Some("cat"));
        assert_eq!(
            res.content[1],
            ToolResultPart::Image(MediaSource::Url("https://i/p.png".into()))
        );
    }

    #[test]
    fn images_and_files() {
        let r = dec(json!({"model": "m", "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": "data:image/jpeg;base64,/9j/"},
            {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVB"},
            {"type": "input_audio"},
        ]}]}))
        .unwrap();
        assert_eq!(r.messages[0].content.len(), 2);
        assert!(matches!(&r.messages[0].content[0], ContentBlock::Image(_)));
        assert!(matches!(&r.messages[0].content[1], ContentBlock::Document(_)));
    }

    #[test]
    fn tool_schemas_are_kept_as_written() {
        let schema = r#"{"type": "object", "properties": {"zeta": {"type": "string"}, "alpha": {}}}"#;
        let body =
            format!(r#"{{"model":"m","input":"hi","tools":[{{"type":"function","name":"f","parameters":{schema}}}]}}"#);
        let r = decode(&head(), body.as_bytes()).unwrap();
        assert_eq!(
            r.tools[0].parameters_json, schema,
            "the client's text and property order"
        );
    }

    #[test]
    fn tools_choice_reasoning_format_sampling() {
        let r = dec(json!({"model": "m", "input": "x",
            "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}, "strict": true},
                      {"type": "web_search"}],
            "tool_choice": {"type": "function", "name": "f"}, "parallel_tool_calls": false,
            "reasoning": {"effort": "high", "summary": "auto"}, "max_output_tokens": 100, "temperature": 0.5, "top_p": 0.9,
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}},
            "store": false, "include": ["reasoning.encrypted_content"]}))
        .unwrap();
        assert_eq!(r.tools.len(), 1);
        assert_eq!(r.tools[0].parameters_json, r#"{"type":"object"}"#);
        assert_eq!(r.tool_choice, Some(ToolChoice::Named("f".into())));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert_eq!(
            r.reasoning,
            Some(Reasoning {
                effort: Some("high".into()),
                budget_tokens: None,
                include_thoughts: true
            })
        );
        assert_eq!(
            (r.sampling.max_tokens, r.sampling.temperature, r.sampling.top_p),
            (Some(100), Some(0.5), Some(0.9))
        );
        assert!(matches!(r.response_format, Some(ResponseFormat::JsonSchema(ref s)) if s.strict && s.name == "out"));
        let extra: Value = serde_json::from_str(r.extra_json.as_deref().unwrap()).unwrap();
        assert_eq!(extra["store"], false);
        for (choice, want) in [
            ("auto", ToolChoice::Auto),
            ("none", ToolChoice::None),
            ("required", ToolChoice::Required),
        ] {
            let r = dec(json!({"model": "m", "input": "x", "tool_choice": choice})).unwrap();
            assert_eq!(r.tool_choice, Some(want));
        }
        let r = dec(json!({"model": "m", "input": "x", "reasoning": {"effort": "none"}})).unwrap();
        assert_eq!(r.reasoning, None);
        let r = dec(json!({"model": "m", "input": "x", "text": {"format": {"type": "json_object"}}})).unwrap();
        assert_eq!(r.response_format, Some(ResponseFormat::JsonObject));
    }

    #[test]
    fn malformed_and_stateful_requests_are_refused() {
        let err = |body: Value| match dec(body) {
            Err(PluginError::InvalidRequest(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(
            err(json!({"model": "m", "previous_response_id": "resp_1", "input": "x"})).contains("previous_response_id")
        );
        assert!(err(json!({"input": "x"})).contains("\"model\""));
        assert!(err(json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]})).contains("input[0]"));
        assert!(
            err(json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]})).contains("item_reference")
        );
        assert!(err(json!({"model": "m", "input": [{"role": "robot", "content": "x"}]})).contains("input[0].role"));
        assert!(err(json!({"model": "m", "input": "x", "tool_choice": "sometimes"})).contains("tool_choice"));
        assert!(err(json!({"model": "m", "input": "x", "reasoning": {"effort": "max"}})).contains("reasoning.effort"));
        assert!(err(json!({"model": "m", "input": 5})).contains("not a valid request"));
    }
}
