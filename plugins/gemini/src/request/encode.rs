//! The IR → a request for a Gemini upstream.
//!
//! - path `/v1beta/models/{model}:generateContent`, or `:streamGenerateContent?alt=sse`;
//! - system → `systemInstruction` (text); messages → `contents` with roles `user` / `model`,
//!   tool results as `user` `functionResponse` parts, a mid-conversation system message as
//!   user text in `<system-reminder>` tags, consecutive same-role turns merged;
//! - tools → one `functionDeclarations` group with `parametersJsonSchema` (full JSON Schema);
//! - tool choice → `functionCallingConfig` (`AUTO`, `NONE`, `ANY`, `ANY` + one allowed name);
//! - sampling, response format (`responseMimeType` + `responseJsonSchema`) and reasoning
//!   (`thinkingConfig` with a budget from the request's budget or effort) →
//!   `generationConfig`. Parallel-tool-calls and prompt-cache hints have no Gemini field.

use std::borrow::Cow;

use aether_plugin_sdk::types::{
    ChatRequest, ContentBlock, EncodedRequest, Message, PluginError, Reasoning, ResponseFormat, Role, Sampling, Tool,
    ToolChoice,
};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::parts::encode::{self as parts, CallNames};
use crate::reasoning;
use crate::wire::{Content, Part};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Content<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolGroup<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<GenerationConfig<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolGroup<'a> {
    function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionDeclaration<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    /// The IR's schema text, checked to be JSON and written as it is (`parametersJsonSchema`
    /// takes JSON Schema; no tree is built, and the properties keep their order).
    parameters_json_schema: &'a RawValue,
}

/// The schema of a tool declared without one.
const NO_PARAMETERS: &str = r#"{"type":"object","properties":{}}"#;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'a> {
    function_calling_config: FunctionCallingConfig<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig<'a> {
    mode: Mode,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_function_names: Option<[&'a str; 1]>,
}

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
enum Mode {
    Auto,
    Any,
    None,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The IR's text, checked to be JSON and written as it is, properties in their order.
    response_json_schema: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_config: Option<ThinkingConfig>,
}

#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_budget: Option<u32>,
    include_thoughts: bool,
}

/// Encodes an IR request for a Gemini upstream.
pub fn encode(request: &ChatRequest) -> Result<EncodedRequest, PluginError> {
    let action = if request.stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    };
    let body = Body {
        contents: contents(&request.messages)?,
        system_instruction: system_instruction(&request.system),
        tools: tools(&request.tools)?,
        tool_config: tool_config(request),
        generation_config: generation_config(request)?,
    };
    let body = serde_json::to_vec(&body)
        .map_err(|e| PluginError::Internal(format!("the Gemini request did not serialise: {e}")))?;
    Ok(EncodedRequest {
        // The model as one path segment: a name from a client cannot add segments or a query.
        path: format!(
            "/v1beta/models/{}:{action}",
            aether_plugin_sdk::path::segment(&request.model)
        ),
        headers: Vec::new(),
        body,
    })
}

fn system_instruction(system: &[ContentBlock]) -> Option<Content<'_>> {
    let parts: Vec<Part<'_>> = system
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text(t) if !t.text.is_empty() => Some(Part::text(t.text.as_str())),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then_some(Content { role: None, parts })
}

/// The Gemini role of an IR role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GeminiRole {
    User,
    Model,
}

impl GeminiRole {
    fn of(role: Role) -> Self {
        match role {
            Role::Assistant => GeminiRole::Model,
            Role::User | Role::System | Role::Tool => GeminiRole::User,
        }
    }

    fn name(self) -> &'static str {
        match self {
            GeminiRole::User => "user",
            GeminiRole::Model => "model",
        }
    }
}

fn contents(messages: &[Message]) -> Result<Vec<Content<'_>>, PluginError> {
    let names: CallNames<'_> = messages
        .iter()
        .flat_map(|m| &m.content)
        .filter_map(|b| match b {
            ContentBlock::ToolCall(c) => Some((c.id.as_str(), c.name.as_str())),
            _ => None,
        })
        .collect();
    let mut out: Vec<Content<'_>> = Vec::with_capacity(messages.len());
    let mut last_role: Option<GeminiRole> = None;
    for message in messages {
        let role = GeminiRole::of(message.role);
        let parts = match message.role {
            Role::System => system_reminder(&message.content),
            _ => parts::parts(&message.content, &names)?,
        };
        if parts.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last_role == Some(role) => last.parts.extend(parts),
            _ => out.push(Content {
                role: Some(Cow::Borrowed(role.name())),
                parts,
            }),
        }
        last_role = Some(role);
    }
    Ok(out)
}

/// A system message in the middle of a conversation, as user text (Gemini has no such role).
fn system_reminder(blocks: &[ContentBlock]) -> Vec<Part<'static>> {
    let texts: Vec<&str> = blocks
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text(t) => Some(t.text.as_str()),
            _ => None,
        })
        .collect();
    if texts.is_empty() {
        return Vec::new();
    }
    vec![Part::text(format!(
        "<system-reminder>\n{}\n</system-reminder>",
        texts.join("\n")
    ))]
}

fn tools(tools: &[Tool]) -> Result<Vec<ToolGroup<'_>>, PluginError> {
    if tools.is_empty() {
        return Ok(Vec::new());
    }
    let declarations = tools
        .iter()
        .map(|t| {
            let text = if t.parameters_json.trim().is_empty() {
                NO_PARAMETERS
            } else {
                &t.parameters_json
            };
            let schema = serde_json::from_str(text).map_err(|e| {
                PluginError::InvalidRequest(format!("tool {}: parameters are not a valid JSON schema: {e}", t.name))
            })?;
            Ok(FunctionDeclaration {
                name: &t.name,
                description: t.description.as_deref(),
                parameters_json_schema: schema,
            })
        })
        .collect::<Result<Vec<_>, PluginError>>()?;
    Ok(vec![ToolGroup {
        function_declarations: declarations,
    }])
}

fn tool_config(request: &ChatRequest) -> Option<ToolConfig<'_>> {
    if request.tools.is_empty() {
        return None;
    }
    let (mode, allowed) = match request.tool_choice.as_ref()? {
        ToolChoice::Auto => (Mode::Auto, None),
        ToolChoice::None => (Mode::None, None),
        ToolChoice::Required => (Mode::Any, None),
        ToolChoice::Named(name) if request.tools.iter().any(|t| &t.name == name) => (Mode::Any, Some([name.as_str()])),
        // Never name a tool the request does not define: require some tool instead.
        ToolChoice::Named(_) => (Mode::Any, None),
    };
    Some(ToolConfig {
        function_calling_config: FunctionCallingConfig {
            mode,
            allowed_function_names: allowed,
        },
    })
}

fn generation_config(request: &ChatRequest) -> Result<Option<GenerationConfig<'_>>, PluginError> {
    let Sampling {
        max_tokens,
        temperature,
        top_p,
        top_k,
        stop,
        seed,
    } = &request.sampling;
    let (response_mime_type, response_json_schema) = match &request.response_format {
        None | Some(ResponseFormat::Text) => (None, None),
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema(f)) => {
            let schema = serde_json::from_str(&f.schema_json).map_err(|e| {
                PluginError::InvalidRequest(format!("response format {}: schema is not valid JSON: {e}", f.name))
            })?;
            (Some("application/json"), Some(schema))
        }
    };
    let config = GenerationConfig {
        temperature: *temperature,
        top_p: *top_p,
        top_k: *top_k,
        max_output_tokens: *max_tokens,
        stop_sequences: stop,
        seed: *seed,
        response_mime_type,
        response_json_schema,
        thinking_config: request.reasoning.as_ref().map(thinking_config),
    };
    let empty = config.temperature.is_none()
        && config.top_p.is_none()
        && config.top_k.is_none()
        && config.max_output_tokens.is_none()
        && config.stop_sequences.is_empty()
        && config.seed.is_none()
        && config.response_mime_type.is_none()
        && config.thinking_config.is_none();
    Ok((!empty).then_some(config))
}

fn thinking_config(r: &Reasoning) -> ThinkingConfig {
    ThinkingConfig {
        thinking_budget: r
            .budget_tokens
            .or_else(|| r.effort.as_deref().and_then(reasoning::budget_for_effort)),
        include_thoughts: r.include_thoughts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{JsonSchemaFormat, TextBlock, ToolCall, ToolResult, ToolResultPart};
    use serde_json::{Value, json};

    fn text(t: &str) -> ContentBlock {
        ContentBlock::Text(TextBlock {
            text: t.into(),
            cache: None,
        })
    }

    fn message(role: Role, content: Vec<ContentBlock>) -> Message {
        Message { role, content }
    }

    fn request() -> ChatRequest {
        ChatRequest {
            model: "gemini-2.5-flash".into(),
            system: vec![],
            messages: vec![message(Role::User, vec![text("hi")])],
            tools: vec![],
            tool_choice: None,
            sampling: Sampling {
                max_tokens: None,
                temperature: None,
                top_p: None,
                top_k: None,
                stop: vec![],
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
        serde_json::from_slice(&encode(r).unwrap().body).unwrap()
    }

    #[test]
    fn tool_schemas_are_written_as_they_are_in_their_order() {
        let schema = r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"number"}}}"#;
        let mut r = ChatRequest {
            tools: vec![tool("f")],
            ..request()
        };
        r.tools[0].parameters_json = schema.into();
        let text = String::from_utf8(encode(&r).unwrap().body).unwrap();
        assert!(text.contains(&format!(r#""parametersJsonSchema":{schema}"#)), "{text}");
        r.tools[0].parameters_json = " ".into();
        assert_eq!(
            body(&r)["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"],
            serde_json::json!({"type": "object", "properties": {}})
        );
    }

    fn tool(name: &str) -> Tool {
        Tool {
            name: name.into(),
            description: Some("d".into()),
            parameters_json: r#"{"type":"object","properties":{"q":{"type":"string"}}}"#.into(),
            strict: None,
        }
    }

    #[test]
    fn paths() {
        let mut r = request();
        assert_eq!(
            encode(&r).unwrap().path,
            "/v1beta/models/gemini-2.5-flash:generateContent"
        );
        r.stream = true;
        assert_eq!(
            encode(&r).unwrap().path,
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
    }

    #[test]
    fn minimal_body() {
        assert_eq!(
            body(&request()),
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        );
    }

    #[test]
    fn roles_merge_and_system_reminders() {
        let mut r = request();
        r.system = vec![text("sys")];
        r.messages = vec![
            message(Role::User, vec![text("a")]),
            message(Role::User, vec![text("b")]),
            message(
                Role::Assistant,
                vec![ContentBlock::ToolCall(ToolCall {
                    id: "t1".into(),
                    name: "f".into(),
                    arguments_json: "{}".into(),
                    signature: None,
                })],
            ),
            message(
                Role::Tool,
                vec![ContentBlock::ToolResult(ToolResult {
                    call_id: "t1".into(),
                    name: None,
                    content: vec![ToolResultPart::Text("done".into())],
                    is_error: true,
                })],
            ),
            message(Role::System, vec![text("be nice")]),
            message(Role::User, vec![text("c")]),
        ];
        assert_eq!(
            body(&r),
            json!({
                "systemInstruction": {"parts": [{"text": "sys"}]},
                "contents": [
                    {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
                    {"role": "model", "parts": [{"functionCall": {"id": "t1", "name": "f", "args": {}}}]},
                    {"role": "user", "parts": [
                        {"functionResponse": {"id": "t1", "name": "f", "response": {"error": "done"}}},
                        {"text": "<system-reminder>\nbe nice\n</system-reminder>"},
                        {"text": "c"}
                    ]}
                ]
            })
        );
    }

    #[test]
    fn tools_and_choices() {
        let mut r = request();
        r.tools = vec![tool("a"), tool("b")];
        let config = |r: &ChatRequest| body(r)["toolConfig"].clone();
        r.tool_choice = Some(ToolChoice::Named("b".into()));
        assert_eq!(
            config(&r),
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["b"]}})
        );
        r.tool_choice = Some(ToolChoice::Named("zzz".into()));
        assert_eq!(config(&r), json!({"functionCallingConfig": {"mode": "ANY"}}));
        r.tool_choice = Some(ToolChoice::Required);
        assert_eq!(config(&r), json!({"functionCallingConfig": {"mode": "ANY"}}));
        r.tool_choice = Some(ToolChoice::None);
        assert_eq!(config(&r), json!({"functionCallingConfig": {"mode": "NONE"}}));
        r.tool_choice = Some(ToolChoice::Auto);
        assert_eq!(config(&r), json!({"functionCallingConfig": {"mode": "AUTO"}}));
        assert_eq!(
            body(&r)["tools"],
            json!([{"functionDeclarations": [
                {"name": "a", "description": "d", "parametersJsonSchema": {"type": "object", "properties": {"q": {"type": "string"}}}},
                {"name": "b", "description": "d", "parametersJsonSchema": {"type": "object", "properties": {"q": {"type": "string"}}}}
            ]}])
        );
        r.tools.clear();
        assert!(body(&r).get("toolConfig").is_none());
        r.tools = vec![Tool {
            parameters_json: "{".into(),
            ..tool("bad")
        }];
        assert!(matches!(encode(&r), Err(PluginError::InvalidRequest(m)) if m.contains("tool bad")));
    }

    #[test]
    fn generation_config() {
        let mut r = request();
        r.sampling = Sampling {
            max_tokens: Some(512),
            temperature: Some(0.2),
            top_p: Some(0.8),
            top_k: Some(20),
            stop: vec!["X".into()],
            seed: Some(3),
        };
        r.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "out".into(),
            schema_json: r#"{"type":"object"}"#.into(),
            strict: true,
        }));
        r.reasoning = Some(Reasoning {
            effort: Some("low".into()),
            budget_tokens: None,
            include_thoughts: true,
        });
        assert_eq!(
            body(&r)["generationConfig"],
            json!({"temperature": 0.2, "topP": 0.8, "topK": 20, "maxOutputTokens": 512, "stopSequences": ["X"],
                "seed": 3, "responseMimeType": "application/json", "responseJsonSchema": {"type": "object"},
                "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": true}})
        );
        r.reasoning = Some(Reasoning {
            effort: Some("high".into()),
            budget_tokens: Some(5000),
            include_thoughts: false,
        });
        r.response_format = Some(ResponseFormat::JsonObject);
        let config = body(&r)["generationConfig"].clone();
        assert_eq!(
            config["thinkingConfig"],
            json!({"thinkingBudget": 5000, "includeThoughts": false})
        );
        assert_eq!(config["responseMimeType"], json!("application/json"));
        assert!(config.get("responseJsonSchema").is_none());
        r.reasoning = Some(Reasoning {
            effort: None,
            budget_tokens: None,
            include_thoughts: true,
        });
        assert_eq!(
            body(&r)["generationConfig"]["thinkingConfig"],
            json!({"includeThoughts": true})
        );
    }
}
