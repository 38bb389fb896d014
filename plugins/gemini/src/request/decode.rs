//! A Gemini client's request → the IR.
//!
//! - the model and the stream flag from the path (`/v1beta/models/{model}:{action}`);
//! - `systemInstruction.parts` text → system; `contents` → messages (`model` → assistant,
//!   `user` → user; a user turn's `functionResponse` parts → a `tool` message before the rest);
//! - `tools[].functionDeclarations` → tools (`parametersJsonSchema` as is, `parameters`
//!   converted from Gemini's OpenAPI subset); other tool kinds are dropped;
//! - `toolConfig.functionCallingConfig` → tool choice;
//! - `generationConfig` → sampling, response format (`responseMimeType` + schema) and
//!   reasoning (`thinkingConfig`);
//! - `safetySettings`, `cachedContent`, `labels` → `extra-json` (informational only).

use aether_plugin_sdk::json;
use aether_plugin_sdk::types::{
    ChatRequest, ContentBlock, JsonSchemaFormat, Message, PluginError, Reasoning, RequestHead, ResponseFormat, Role,
    Sampling, TextBlock, Tool, ToolChoice,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Action;
use crate::ids::{CallIds, Scope};
use crate::inspect::path_target;
use crate::parts;
use crate::reasoning;
use crate::schema;
use crate::wire::Content;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    #[serde(borrow, default)]
    contents: Vec<Content<'a>>,
    #[serde(alias = "system_instruction", borrow, default)]
    system_instruction: Option<Content<'a>>,
    #[serde(default)]
    tools: Vec<ToolGroup>,
    #[serde(alias = "tool_config", default)]
    tool_config: Option<ToolConfig>,
    #[serde(alias = "generation_config", default)]
    generation_config: Option<GenerationConfig>,
    #[serde(alias = "safety_settings", default)]
    safety_settings: Option<Value>,
    #[serde(alias = "cached_content", default)]
    cached_content: Option<Value>,
    #[serde(default)]
    labels: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolGroup {
    #[serde(alias = "function_declarations", default)]
    function_declarations: Vec<FunctionDeclaration>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionDeclaration {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(alias = "parameters_json_schema", default)]
    parameters_json_schema: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig {
    #[serde(alias = "function_calling_config", default)]
    function_calling_config: Option<FunctionCallingConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig {
    #[serde(default)]
    mode: Option<String>,
    #[serde(alias = "allowed_function_names", default)]
    allowed_function_names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(alias = "top_p", default)]
    top_p: Option<f64>,
    #[serde(alias = "top_k", default)]
    top_k: Option<f64>,
    #[serde(alias = "max_output_tokens", default)]
    max_output_tokens: Option<u32>,
    #[serde(alias = "stop_sequences", default)]
    stop_sequences: Vec<String>,
    #[serde(default)]
    seed: Option<i64>,
    #[serde(alias = "candidate_count", default)]
    candidate_count: Option<u32>,
    #[serde(alias = "response_mime_type", default)]
    response_mime_type: Option<String>,
    #[serde(alias = "response_schema", default)]
    response_schema: Option<Value>,
    #[serde(alias = "response_json_schema", default)]
    response_json_schema: Option<Value>,
    #[serde(alias = "thinking_config", default)]
    thinking_config: Option<ThinkingConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig {
    #[serde(alias = "thinking_budget", default)]
    thinking_budget: Option<i64>,
    #[serde(alias = "include_thoughts", default)]
    include_thoughts: Option<bool>,
    #[serde(alias = "thinking_level", default)]
    thinking_level: Option<String>,
}

/// Decodes a Gemini request.
pub fn decode(head: &RequestHead, body: &[u8]) -> Result<ChatRequest, PluginError> {
    let (model, action) = path_target(&head.path).ok_or_else(|| {
        PluginError::InvalidRequest(format!(
            "path {} names no model: expected /v1beta/models/{{model}}:generateContent",
            head.path
        ))
    })?;
    let action = Action::parse(action).ok_or_else(|| {
        PluginError::InvalidRequest(format!(
            "path {}: only generateContent and streamGenerateContent can be converted",
            head.path
        ))
    })?;
    let request: Request<'_> = json::parse_request(body)?;
    let config = request.generation_config.as_ref();
    if let Some(n) = config.and_then(|c| c.candidate_count).filter(|n| *n > 1) {
        return Err(PluginError::InvalidRequest(format!(
            "generationConfig.candidateCount is {n}: only one candidate can be converted to another provider"
        )));
    }
    let tools = tools(&request.tools)?;
    let tool_choice = request
        .tool_config
        .as_ref()
        .and_then(|c| c.function_calling_config.as_ref())
        .and_then(tool_choice);
    Ok(ChatRequest {
        model: model.to_owned(),
        system: system(request.system_instruction.as_ref()),
        messages: messages(&request.contents)?,
        tools,
        tool_choice,
        sampling: sampling(config),
        response_format: config.and_then(response_format),
        reasoning: config.and_then(|c| c.thinking_config.as_ref()).map(thinking),
        stream: action == Action::Stream,
        parallel_tool_calls: None,
        extra_json: extra(&request),
    })
}

fn system(instruction: Option<&Content<'_>>) -> Vec<ContentBlock> {
    let Some(instruction) = instruction else {
        return Vec::new();
    };
    instruction
        .parts
        .iter()
        .filter_map(|p| p.text.as_deref())
        .filter(|t| !t.is_empty())
        .map(|t| {
            ContentBlock::Text(TextBlock {
                text: t.to_owned(),
                cache: None,
            })
        })
        .collect()
}

fn messages(contents: &[Content<'_>]) -> Result<Vec<Message>, PluginError> {
    let mut ids = CallIds::new(Scope::Request);
    let mut out = Vec::with_capacity(contents.len());
    for (i, content) in contents.iter().enumerate() {
        let role = match content.role.as_deref() {
            None | Some("user") | Some("function") => Role::User,
            Some("model") => Role::Assistant,
            Some(other) => {
                return Err(PluginError::InvalidRequest(format!(
                    "contents[{i}].role is {other:?}: expected \"user\" or \"model\""
                )));
            }
        };
        let blocks = parts::decode::blocks(&content.parts, &mut ids);
        if blocks.is_empty() {
            continue;
        }
        match role {
            Role::User => split_tool_results(blocks, &mut out),
            _ => out.push(Message { role, content: blocks }),
        }
    }
    Ok(out)
}

/// A user turn's tool results travel in their own `tool` message (IR.md): within the turn,
/// consecutive results form one `tool` message and other blocks a `user` message, in order.
fn split_tool_results(blocks: Vec<ContentBlock>, out: &mut Vec<Message>) {
    let mut turn: Vec<Message> = Vec::new();
    for block in blocks {
        let role = match block {
            ContentBlock::ToolResult(_) => Role::Tool,
            _ => Role::User,
        };
        match turn.last_mut() {
            Some(last) if last.role == role => last.content.push(block),
            _ => turn.push(Message {
                role,
                content: vec![block],
            }),
        }
    }
    out.extend(turn);
}

fn tools(groups: &[ToolGroup]) -> Result<Vec<Tool>, PluginError> {
    let mut out = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for (i, decl) in group.function_declarations.iter().enumerate() {
            if decl.name.is_empty() {
                return Err(PluginError::InvalidRequest(format!(
                    "tools[{g}].functionDeclarations[{i}].name is empty"
                )));
            }
            let parameters = match (&decl.parameters_json_schema, &decl.parameters) {
                (Some(schema), _) => schema.clone(),
                (None, Some(openapi)) => schema::from_openapi(openapi),
                (None, None) => serde_json::json!({"type": "object", "properties": {}}),
            };
            out.push(Tool {
                name: decl.name.clone(),
                description: decl.description.clone(),
                parameters_json: parameters.to_string(),
                strict: None,
            });
        }
    }
    Ok(out)
}

fn tool_choice(config: &FunctionCallingConfig) -> Option<ToolChoice> {
    let mode = config.mode.as_deref()?;
    Some(match mode {
        "NONE" => ToolChoice::None,
        "ANY" => match config.allowed_function_names.as_slice() {
            [one] => ToolChoice::Named(one.clone()),
            _ => ToolChoice::Required,
        },
        // AUTO, VALIDATED and anything newer: the model decides.
        _ => ToolChoice::Auto,
    })
}

fn sampling(config: Option<&GenerationConfig>) -> Sampling {
    let Some(c) = config else {
        return Sampling {
            max_tokens: None,
            temperature: None,
            top_p: None,
            top_k: None,
            stop: Vec::new(),
            seed: None,
        };
    };
    Sampling {
        max_tokens: c.max_output_tokens,
        temperature: c.temperature,
        top_p: c.top_p,
        top_k: c
            .top_k
            .filter(|k| *k >= 0.0 && *k <= f64::from(u32::MAX))
            .map(|k| k as u32),
        stop: c.stop_sequences.clone(),
        seed: c.seed,
    }
}

fn response_format(c: &GenerationConfig) -> Option<ResponseFormat> {
    let schema = match (&c.response_json_schema, &c.response_schema) {
        (Some(schema), _) => Some(schema.clone()),
        (None, Some(openapi)) => Some(schema::from_openapi(openapi)),
        (None, None) => None,
    };
    match (c.response_mime_type.as_deref(), schema) {
        (_, Some(schema)) => Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "response".into(),
            schema_json: schema.to_string(),
            strict: false,
        })),
        (Some("application/json"), None) => Some(ResponseFormat::JsonObject),
        (Some("text/plain"), None) => Some(ResponseFormat::Text),
        _ => None,
    }
}

fn thinking(c: &ThinkingConfig) -> Reasoning {
    Reasoning {
        effort: c
            .thinking_level
            .as_deref()
            .and_then(reasoning::effort_for_level)
            .map(str::to_owned),
        // -1 is Gemini's "dynamic": no budget.
        budget_tokens: c.thinking_budget.and_then(|b| u32::try_from(b).ok()),
        include_thoughts: c.include_thoughts == Some(true),
    }
}

fn extra(request: &Request<'_>) -> Option<String> {
    let mut extra = Map::new();
    for (key, value) in [
        ("safetySettings", &request.safety_settings),
        ("cachedContent", &request.cached_content),
        ("labels", &request.labels),
    ] {
        if let Some(value) = value {
            extra.insert(key.into(), value.clone());
        }
    }
    (!extra.is_empty()).then(|| Value::Object(extra).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{ThinkingBlock, ToolResultPart};
    use serde_json::json;

    fn head(path: &str) -> RequestHead {
        RequestHead {
            method: "POST".into(),
            path: path.into(),
            query: None,
            headers: vec![],
        }
    }

    fn decode_json(path: &str, body: Value) -> Result<ChatRequest, PluginError> {
        decode(&head(path), body.to_string().as_bytes())
    }

    #[test]
    fn model_stream_system_and_sampling() {
        let r = decode_json(
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
            json!({
                "systemInstruction": {"parts": [{"text": "be brief"}]},
                "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                "generationConfig": {"temperature": 0.5, "topP": 0.9, "topK": 40, "maxOutputTokens": 100,
                    "stopSequences": ["END"], "seed": 7, "candidateCount": 1},
                "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
            }),
        )
        .unwrap();
        assert_eq!(r.model, "gemini-2.5-pro");
        assert!(r.stream);
        assert_eq!(r.system.len(), 1);
        assert_eq!(r.messages[0].role, Role::User);
        assert_eq!(r.sampling.max_tokens, Some(100));
        assert_eq!(r.sampling.top_k, Some(40));
        assert_eq!(r.sampling.stop, vec!["END".to_owned()]);
        assert_eq!(r.sampling.seed, Some(7));
        assert_eq!(r.sampling.temperature, Some(0.5));
        assert!(r.extra_json.unwrap().contains("safetySettings"));
        assert!(r.reasoning.is_none());
    }

    #[test]
    fn tool_results_split_from_user_text() {
        let r = decode_json(
            "/v1beta/models/g:generateContent",
            json!({"contents": [
                {"role": "user", "parts": [{"text": "weather?"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {}}, "thoughtSignature": "sig"}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "w", "response": {"result": "sun"}}}, {"text": "thanks"}]}
            ]}),
        )
        .unwrap();
        let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, vec![Role::User, Role::Assistant, Role::Tool, Role::User]);
        let ContentBlock::ToolResult(result) = &r.messages[2].content[0] else {
            panic!()
        };
        assert_eq!(result.call_id, "call_0");
        assert_eq!(result.content, vec![ToolResultPart::Text("sun".into())]);
        assert!(!r.stream);
    }

    #[test]
    fn tools_choice_format_and_thinking() {
        let r = decode_json(
            "/v1/models/g:generateContent",
            json!({
                "contents": [{"parts": [{"text": "x"}]}],
                "tools": [{"functionDeclarations": [
                    {"name": "a", "description": "A", "parametersJsonSchema": {"type": "object", "properties": {"q": {"type": "string"}}}},
                    {"name": "b", "parameters": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}}},
                    {"name": "c"}
                ]}, {"googleSearch": {}}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["b"]}},
                "generationConfig": {"responseMimeType": "application/json",
                    "responseSchema": {"type": "OBJECT", "properties": {"ok": {"type": "BOOLEAN"}}},
                    "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": true}}
            }),
        )
        .unwrap();
        assert_eq!(r.tools.len(), 3);
        assert_eq!(
            serde_json::from_str::<Value>(&r.tools[1].parameters_json).unwrap(),
            json!({"type": "object", "properties": {"n": {"type": "integer"}}})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&r.tools[2].parameters_json).unwrap(),
            json!({"type": "object", "properties": {}})
        );
        assert_eq!(r.tool_choice, Some(ToolChoice::Named("b".into())));
        let Some(ResponseFormat::JsonSchema(f)) = &r.response_format else {
            panic!()
        };
        assert_eq!(
            serde_json::from_str::<Value>(&f.schema_json).unwrap(),
            json!({"type": "object", "properties": {"ok": {"type": "boolean"}}})
        );
        let reasoning = r.reasoning.unwrap();
        assert_eq!(
            (reasoning.budget_tokens, reasoning.include_thoughts),
            (Some(2048), true)
        );
    }

    #[test]
    fn tool_choice_modes() {
        let choice = |mode: &str, names: &[&str]| {
            tool_choice(&FunctionCallingConfig {
                mode: Some(mode.into()),
                allowed_function_names: names.iter().map(|s| s.to_string()).collect(),
            })
        };
        assert_eq!(choice("AUTO", &[]), Some(ToolChoice::Auto));
        assert_eq!(choice("VALIDATED", &[]), Some(ToolChoice::Auto));
        assert_eq!(choice("NONE", &[]), Some(ToolChoice::None));
        assert_eq!(choice("ANY", &[]), Some(ToolChoice::Required));
        assert_eq!(choice("ANY", &["a", "b"]), Some(ToolChoice::Required));
    }

    #[test]
    fn thinking_levels_and_dynamic_budget() {
        let r = decode_json(
            "/v1beta/models/g:generateContent",
            json!({"contents": [], "generationConfig": {"thinkingConfig": {"thinkingLevel": "HIGH", "thinkingBudget": -1}}}),
        )
        .unwrap();
        let reasoning = r.reasoning.unwrap();
        assert_eq!(reasoning.effort.as_deref(), Some("high"));
        assert_eq!(reasoning.budget_tokens, None);
        assert!(!reasoning.include_thoughts);
    }

    #[test]
    fn thought_parts_in_history() {
        let r = decode_json(
            "/v1beta/models/g:generateContent",
            json!({"contents": [{"role": "model", "parts": [{"text": "t", "thought": true, "thoughtSignature": "s"}, {"text": "a"}]}]}),
        )
        .unwrap();
        assert_eq!(
            r.messages[0].content[0],
            ContentBlock::Thinking(ThinkingBlock {
                text: "t".into(),
                signature: Some("s".into())
            })
        );
    }

    #[test]
    fn malformed_input_is_invalid_request() {
        let err = |path: &str, body: Value| match decode_json(path, body) {
            Err(PluginError::InvalidRequest(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(
            err(
                "/v1beta/models/g:generateContent",
                json!({"contents": [{"role": "bot", "parts": []}]})
            )
            .contains("contents[0].role")
        );
        assert!(err("/v1beta/models/g:countTokens", json!({})).contains("countTokens"));
        assert!(err("/v1/chat", json!({})).contains("names no model"));
        assert!(
            err(
                "/v1beta/models/g:generateContent",
                json!({"generationConfig": {"candidateCount": 2}})
            )
            .contains("candidateCount")
        );
        assert!(err("/v1beta/models/g:generateContent", json!({"contents": "x"})).contains("not a valid request"));
        assert!(
            err(
                "/v1beta/models/g:generateContent",
                json!({"tools": [{"functionDeclarations": [{"name": ""}]}]})
            )
            .contains("functionDeclarations[0].name")
        );
    }

    /// `google-genai` writes top-level fields in camelCase but nested objects it builds from
    /// its pydantic types under their proto (snake_case) names, which Gemini accepts too.
    #[test]
    fn proto_field_names_as_google_genai_sends_them() {
        let r = decode_json(
            "/v1beta/models/g:generateContent",
            json!({
                "contents": [{"role": "user", "parts": [
                    {"text": "look"},
                    {"inlineData": {"data": "YWJj", "mime_type": "image/png"}},
                    {"fileData": {"file_uri": "gs://b/doc.pdf", "mime_type": "application/pdf"}}
                ]}, {"role": "model", "parts": [
                    {"function_call": {"id": "c1", "name": "a", "args": {"q": "x"}}, "thought_signature": "sig"}
                ]}, {"role": "user", "parts": [
                    {"functionResponse": {"id": "c1", "name": "a", "response": {"output": "y"}, "will_continue": false}}
                ]}],
                "system_instruction": {"parts": [{"text": "sys"}]},
                "tools": [{"functionDeclarations": [
                    {"name": "a", "parameters_json_schema": {"type": "object", "properties": {"q": {"type": "string"}}}},
                    {"name": "b", "parameters": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "property_ordering": ["n"]}}
                ]}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowed_function_names": ["a"]}},
                "generationConfig": {"max_output_tokens": 64, "stop_sequences": ["END"],
                    "thinkingConfig": {"include_thoughts": true, "thinking_budget": 1024}}
            }),
        )
        .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&r.tools[0].parameters_json).unwrap(),
            json!({"type": "object", "properties": {"q": {"type": "string"}}})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&r.tools[1].parameters_json).unwrap(),
            json!({"type": "object", "properties": {"n": {"type": "integer"}}})
        );
        assert_eq!(r.tool_choice, Some(ToolChoice::Named("a".into())));
        assert_eq!(
            (r.sampling.max_tokens, r.sampling.stop.clone()),
            (Some(64), vec!["END".to_owned()])
        );
        let reasoning = r.reasoning.unwrap();
        assert_eq!(
            (reasoning.budget_tokens, reasoning.include_thoughts),
            (Some(1024), true)
        );
        assert_eq!(r.system.len(), 1);
        let user = &r.messages[0].content;
        assert!(matches!(&user[1], ContentBlock::Image(m) if matches!(&m.source,
            aether_plugin_sdk::types::MediaSource::Base64(d) if d.media_type == "image/png")));
        assert!(matches!(&user[2], ContentBlock::Document(m) if matches!(&m.source,
            aether_plugin_sdk::types::MediaSource::Url(u) if u == "gs://b/doc.pdf")));
        let ContentBlock::ToolCall(call) = &r.messages[1].content[0] else {
            panic!("{:?}", r.messages[1])
        };
        assert_eq!((call.id.as_str(), call.signature.as_deref()), ("c1", Some("sig")));
        let ContentBlock::ToolResult(result) = &r.messages[2].content[0] else {
            panic!("{:?}", r.messages[2])
        };
        assert_eq!(result.call_id, "c1");
    }
}
