//! An IR request as a body for a Responses upstream (`POST /v1/responses`).
//!
//! - `system` text → `instructions`; other system blocks → a leading `developer` message.
//! - Messages → input items in order: user and mid-conversation system messages → `message`
//!   items (`developer` for system); an assistant turn → `reasoning` items (only thinking
//!   with a signature, sent as `encrypted_content`), `message` items with `output_text`
//!   parts, and `function_call` items; tool results → `function_call_output` items.
//! - `store: false` always (the gateway keeps no state), and `include:
//!   ["reasoning.encrypted_content"]` whenever reasoning is asked for or sent back.
//! - Dropped: stop sequences, seed and top-k (Responses has none), redacted thinking
//!   (another provider's opaque data), thinking without a signature, cache hints.

use aether_plugin_sdk::types::{
    ChatRequest, ContentBlock, EncodedRequest, Message, PluginError, Reasoning, ResponseFormat, Role, Tool, ToolChoice,
    ToolResult, ToolResultPart,
};
use serde_json::{Map, Value, json};

use crate::media;
use crate::reasoning::effort_for_budget;

/// The upstream path.
pub const PATH: &str = "/v1/responses";

/// What `include` asks for so reasoning can be sent back with `store: false`.
pub const ENCRYPTED_REASONING: &str = "reasoning.encrypted_content";

/// An IR request as a Responses request.
pub fn encode(req: &ChatRequest) -> Result<EncodedRequest, PluginError> {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));

    let mut input = Vec::new();
    let instructions: Vec<&str> = req
        .system
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text(t) => Some(t.text.as_str()),
            _ => None,
        })
        .collect();
    if !instructions.is_empty() {
        body.insert("instructions".into(), json!(instructions.join("\n\n")));
    }
    let system_media: Vec<Value> = req.system.iter().filter_map(media_part).collect();
    if !system_media.is_empty() {
        input.push(json!({"type": "message", "role": "developer", "content": system_media}));
    }

    let mut sends_reasoning = false;
    for message in &req.messages {
        sends_reasoning |= message_items(message, &mut input);
    }
    body.insert("input".into(), Value::Array(input));

    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .enumerate()
            .map(|(i, t)| tool(i, t))
            .collect::<Result<Vec<_>, _>>()?;
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = &req.tool_choice {
            body.insert("tool_choice".into(), tool_choice(choice, &req.tools));
        }
        if let Some(parallel) = req.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }

    if let Some(r) = &req.reasoning {
        body.insert("reasoning".into(), reasoning(r));
    }
    if req.reasoning.is_some() || sends_reasoning {
        body.insert("include".into(), json!([ENCRYPTED_REASONING]));
    }
    if let Some(max) = req.sampling.max_tokens {
        body.insert("max_output_tokens".into(), json!(max));
    }
    if let Some(t) = req.sampling.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.sampling.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(format) = &req.response_format {
        body.insert("text".into(), json!({"format": response_format(format)?}));
    }
    body.insert("stream".into(), json!(req.stream));
    body.insert("store".into(), json!(false));

    Ok(EncodedRequest {
        path: PATH.into(),
        headers: Vec::new(),
        body: Value::Object(body).to_string().into_bytes(),
    })
}

/// An image or document block as an input part (`None` for other blocks).
fn media_part(block: &ContentBlock) -> Option<Value> {
    match block {
        ContentBlock::Image(m) => Some(media::image_part(&m.source)),
        ContentBlock::Document(m) => Some(media::file_part(&m.source)),
        _ => None,
    }
}

/// Where consecutive text and media of a message collect before they become one item.
struct Pending<'a> {
    role: &'a str,
    parts: Vec<Value>,
}

impl Pending<'_> {
    fn flush(&mut self, input: &mut Vec<Value>) {
        if !self.parts.is_empty() {
            let content = std::mem::take(&mut self.parts);
            input.push(json!({"type": "message", "role": self.role, "content": content}));
        }
    }
}

/// A message's input items; whether it sends reasoning back.
fn message_items(message: &Message, input: &mut Vec<Value>) -> bool {
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
            ContentBlock::Text(t) if assistant => {
                pending.parts.push(json!({"type": "output_text", "text": t.text}));
            }
            ContentBlock::Text(t) => pending.parts.push(json!({"type": "input_text", "text": t.text})),
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
                input.push(json!({
                    "type": "function_call", "call_id": c.id, "name": c.name, "arguments": arguments,
                }));
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

/// A reasoning item to send back: its summary and its encrypted content.
fn reasoning_item(text: &str, signature: &str) -> Value {
    let summary = if text.is_empty() {
        json!([])
    } else {
        json!([{"type": "summary_text", "text": text}])
    };
    json!({"type": "reasoning", "summary": summary, "encrypted_content": signature})
}

/// A tool result as `function_call_output`: a string when it is all text, else parts. An
/// error (which Responses cannot flag) is said in the text.
fn function_call_output(r: &ToolResult) -> Value {
    let prefix = if r.is_error { "Error: " } else { "" };
    let has_image = r.content.iter().any(|p| matches!(p, ToolResultPart::Image(_)));
    let output = if has_image {
        let mut parts: Vec<Value> = Vec::with_capacity(r.content.len() + 1);
        if r.is_error {
            parts.push(json!({"type": "input_text", "text": prefix.trim_end()}));
        }
        parts.extend(r.content.iter().map(|p| match p {
            ToolResultPart::Text(t) => json!({"type": "input_text", "text": t}),
            ToolResultPart::Image(source) => media::image_part(source),
        }));
        Value::Array(parts)
    } else {
        let text: Vec<&str> = r
            .content
            .iter()
            .filter_map(|p| match p {
                ToolResultPart::Text(t) => Some(t.as_str()),
                ToolResultPart::Image(_) => None,
            })
            .collect();
        json!(format!("{prefix}{}", text.join("\n")))
    };
    json!({"type": "function_call_output", "call_id": r.call_id, "output": output})
}

/// A function tool. `strict` as the client asked; `false` when it did not say: Responses
/// defaults to strict, which would reject the schemas of other formats' clients.
fn tool(i: usize, t: &Tool) -> Result<Value, PluginError> {
    let parameters: Value = serde_json::from_str(&t.parameters_json).map_err(|e| {
        PluginError::InvalidRequest(format!(
            "tools[{i}] ({}): the parameters are not valid JSON: {e}",
            t.name
        ))
    })?;
    let strict = t.strict.unwrap_or(false);
    let mut tool = json!({"type": "function", "name": t.name, "parameters": parameters, "strict": strict});
    if let Some(d) = &t.description {
        tool["description"] = json!(d);
    }
    Ok(tool)
}

/// `tool_choice`; a named tool that is not in the list becomes `required` (IR.md).
fn tool_choice(choice: &ToolChoice, tools: &[Tool]) -> Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Named(name) if tools.iter().any(|t| &t.name == name) => {
            json!({"type": "function", "name": name})
        }
        ToolChoice::Named(_) => json!("required"),
    }
}

/// `reasoning`: the effort (from the budget when only a budget is given), and a summary
/// when the client wants to see thinking.
fn reasoning(r: &Reasoning) -> Value {
    let effort = match (&r.effort, r.budget_tokens) {
        (Some(e), _) if matches!(e.as_str(), "minimal" | "low" | "medium" | "high") => Some(e.clone()),
        (_, Some(budget)) => Some(effort_for_budget(budget).to_owned()),
        _ => None,
    };
    let mut out = Map::new();
    if let Some(e) = effort {
        out.insert("effort".into(), json!(e));
    }
    if r.include_thoughts {
        out.insert("summary".into(), json!("auto"));
    }
    Value::Object(out)
}

/// `text.format`.
fn response_format(f: &ResponseFormat) -> Result<Value, PluginError> {
    Ok(match f {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema(s) => {
            let schema: Value = serde_json::from_str(&s.schema_json).map_err(|e| {
                PluginError::InvalidRequest(format!(
                    "response format \"{}\": the schema is not valid JSON: {e}",
                    s.name
                ))
            })?;
            json!({"type": "json_schema", "name": s.name, "schema": schema, "strict": s.strict})
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{
        InlineData, JsonSchemaFormat, MediaBlock, MediaSource, Sampling, TextBlock, ThinkingBlock, ToolCall,
    };

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
            assert_eq!(tool_choice(&choice, &[]), json!(want));
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
}
