//! A client's Messages request (`POST /v1/messages`, `?beta=true` accepted) in the IR.
//!
//! - `system` (a string or text blocks with `cache_control`) becomes the IR system; a
//!   `role: "system"` message inside `messages` (Claude Code, behind a beta header) stays
//!   in place as an IR system message.
//! - A user turn's `tool_result` blocks become a `tool` message before the rest of the turn
//!   (IR.md); each result gets the name of the `tool_use` it answers, for Gemini.
//! - `thinking` `enabled` gives a budget, `adaptive` neither budget nor effort (an
//!   `output_config.effort` gives the effort); both ask to include thoughts.
//! - Server tools (a `type` other than `custom`) have no IR form and are dropped.
//! - Top-level fields the IR does not model (`metadata`, `service_tier`, `container`, …) go
//!   to `extra-json`.

use std::collections::HashMap;

use aether_plugin_sdk::json;
use aether_plugin_sdk::types::{
    ChatRequest, ContentBlock, JsonSchemaFormat, Message, PluginError, Reasoning, RequestHead, ResponseFormat, Role,
    Sampling, Tool, ToolChoice,
};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::content::{WireContent, decode_content};

/// The name given to a Claude structured-output schema, which has none (OpenAI needs one).
pub const SCHEMA_NAME: &str = "output";

#[derive(Deserialize)]
struct WireRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    messages: Option<Vec<WireMessage>>,
    #[serde(default)]
    system: Option<WireContent>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    top_k: Option<u32>,
    #[serde(default)]
    stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    tools: Option<Vec<WireTool>>,
    #[serde(default)]
    tool_choice: Option<WireToolChoice>,
    #[serde(default)]
    thinking: Option<WireThinking>,
    #[serde(default)]
    output_format: Option<WireOutputFormat>,
    #[serde(default)]
    output_config: Option<WireOutputConfig>,
    /// Every top-level field the IR does not model, for `extra-json`. Serde reads the fields
    /// above in place and buffers only these, so the body is parsed once.
    #[serde(flatten)]
    extra: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    content: Option<WireContent>,
}

#[derive(Deserialize)]
struct WireTool {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Kept as the client wrote it: copied to the IR without building a tree, and with the
    /// properties in the client's order (which structured output generates in).
    #[serde(default)]
    input_schema: Option<Box<RawValue>>,
    /// Strict tool use (structured outputs).
    #[serde(default)]
    strict: Option<bool>,
}

#[derive(Deserialize)]
struct WireToolChoice {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Deserialize)]
struct WireThinking {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    budget_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct WireOutputFormat {
    #[serde(rename = "type")]
    kind: String,
    /// Kept as the client wrote it: structured output generates in property order.
    #[serde(default)]
    schema: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct WireOutputConfig {
    #[serde(default)]
    effort: Option<String>,
    #[serde(default)]
    format: Option<WireOutputFormat>,
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidRequest(message)
}

/// The request in the IR. The head is not needed: the path (with or without `?beta=true`)
/// and the beta headers change nothing in the body's meaning.
pub fn decode(head: &RequestHead, body: &[u8]) -> Result<ChatRequest, PluginError> {
    let _ = head;
    let wire: WireRequest = json::parse_request(body)?;
    let model = wire
        .model
        .ok_or_else(|| invalid("request body has no \"model\" field".into()))?;
    let messages = decode_messages(
        wire.messages
            .ok_or_else(|| invalid("request body has no \"messages\" field".into()))?,
    )?;
    let system = match wire.system {
        Some(WireContent::Text(text)) if text.is_empty() => Vec::new(),
        Some(content) => {
            let blocks = decode_content(content, &|| "system".into())?;
            if let Some(i) = blocks.iter().position(|b| !matches!(b, ContentBlock::Text(_))) {
                return Err(invalid(format!(
                    "system[{i}]: only text blocks are allowed in \"system\""
                )));
            }
            blocks
        }
        None => Vec::new(),
    };
    let tools = decode_tools(wire.tools.unwrap_or_default())?;
    let (tool_choice, parallel_tool_calls) = match wire.tool_choice {
        Some(choice) => decode_tool_choice(choice)?,
        None => (None, None),
    };
    let effort = wire
        .output_config
        .as_ref()
        .and_then(|c| c.effort.as_deref())
        .and_then(effort_of);
    let reasoning = decode_thinking(wire.thinking, effort)?;
    let format = match wire.output_format {
        Some(f) => Some(f),
        None => wire.output_config.and_then(|c| c.format),
    };
    let response_format = format.map(decode_output_format).transpose()?;
    Ok(ChatRequest {
        model,
        system,
        messages,
        tools,
        tool_choice,
        sampling: Sampling {
            max_tokens: wire.max_tokens,
            temperature: wire.temperature,
            top_p: wire.top_p,
            top_k: wire.top_k,
            stop: wire.stop_sequences.unwrap_or_default(),
            seed: None,
        },
        response_format,
        reasoning,
        stream: wire.stream.unwrap_or(false),
        parallel_tool_calls,
        extra_json: (!wire.extra.is_empty()).then(|| Value::Object(wire.extra).to_string()),
    })
}

fn decode_messages(wire: Vec<WireMessage>) -> Result<Vec<Message>, PluginError> {
    let mut messages = Vec::with_capacity(wire.len());
    // Tool names by call id, for the results (Gemini keys results by name).
    let mut names: HashMap<String, String> = HashMap::new();
    for (i, m) in wire.into_iter().enumerate() {
        let role = m
            .role
            .ok_or_else(|| invalid(format!("messages[{i}] has no \"role\"")))?;
        let content = m
            .content
            .ok_or_else(|| invalid(format!("messages[{i}] has no \"content\"")))?;
        let blocks = decode_content(content, &|| format!("messages[{i}].content"))?;
        match role.as_str() {
            "user" => {
                let (mut results, rest): (Vec<ContentBlock>, Vec<ContentBlock>) = blocks
                    .into_iter()
                    .partition(|b| matches!(b, ContentBlock::ToolResult(_)));
                for r in &mut results {
                    if let ContentBlock::ToolResult(r) = r
                        && r.name.is_none()
                    {
                        r.name = names.get(&r.call_id).cloned();
                    }
                }
                if !results.is_empty() {
                    messages.push(Message {
                        role: Role::Tool,
                        content: results,
                    });
                }
                if !rest.is_empty() {
                    messages.push(Message {
                        role: Role::User,
                        content: rest,
                    });
                }
            }
            "assistant" => {
                for b in &blocks {
                    match b {
                        ContentBlock::ToolCall(c) => {
                            names.insert(c.id.clone(), c.name.clone());
                        }
                        ContentBlock::ToolResult(_) => {
                            return Err(invalid(format!(
                                "messages[{i}].content: an assistant message cannot hold a tool_result block"
                            )));
                        }
                        _ => {}
                    }
                }
                if !blocks.is_empty() {
                    messages.push(Message {
                        role: Role::Assistant,
                        content: blocks,
                    });
                }
            }
            "system" => {
                if !blocks.is_empty() {
                    messages.push(Message {
                        role: Role::System,
                        content: blocks,
                    });
                }
            }
            other => {
                return Err(invalid(format!(
                    "messages[{i}].role: \"{other}\" is not one of user, assistant, system"
                )));
            }
        }
    }
    Ok(messages)
}

fn decode_tools(wire: Vec<WireTool>) -> Result<Vec<Tool>, PluginError> {
    let mut tools = Vec::with_capacity(wire.len());
    for (i, t) in wire.into_iter().enumerate() {
        // Server tools (web search, bash, text editor, …) run at Anthropic: dropped.
        if t.kind.as_deref().is_some_and(|k| k != "custom") {
            continue;
        }
        let name = t.name.ok_or_else(|| invalid(format!("tools[{i}] has no \"name\"")))?;
        let schema = t
            .input_schema
            .ok_or_else(|| invalid(format!("tools[{i}] (\"{name}\") has no \"input_schema\"")))?;
        tools.push(Tool {
            name,
            description: t.description,
            parameters_json: String::from(Box::<str>::from(schema)),
            strict: t.strict,
        });
    }
    Ok(tools)
}

fn decode_tool_choice(choice: WireToolChoice) -> Result<(Option<ToolChoice>, Option<bool>), PluginError> {
    let ir = match choice.kind.as_str() {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Required,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Named(
            choice
                .name
                .ok_or_else(|| invalid("tool_choice: type \"tool\" needs a \"name\"".into()))?,
        ),
        other => {
            return Err(invalid(format!(
                "tool_choice.type: \"{other}\" is not one of auto, any, tool, none"
            )));
        }
    };
    Ok((Some(ir), choice.disable_parallel_tool_use.map(|disable| !disable)))
}

/// An `output_config.effort` as an IR effort (`max` is the IR's `high`).
fn effort_of(effort: &str) -> Option<String> {
    match effort {
        "minimal" | "low" | "medium" | "high" => Some(effort.to_owned()),
        "max" => Some("high".to_owned()),
        _ => None,
    }
}

fn decode_thinking(thinking: Option<WireThinking>, effort: Option<String>) -> Result<Option<Reasoning>, PluginError> {
    let Some(thinking) = thinking else {
        return Ok(effort.map(|effort| Reasoning {
            effort: Some(effort),
            budget_tokens: None,
            include_thoughts: false,
        }));
    };
    Ok(match thinking.kind.as_str() {
        "enabled" => Some(Reasoning {
            effort,
            budget_tokens: Some(
                thinking
                    .budget_tokens
                    .ok_or_else(|| invalid("thinking: type \"enabled\" needs \"budget_tokens\"".into()))?,
            ),
            include_thoughts: true,
        }),
        "adaptive" => Some(Reasoning {
            effort,
            budget_tokens: None,
            include_thoughts: true,
        }),
        "disabled" => None,
        other => {
            return Err(invalid(format!(
                "thinking.type: \"{other}\" is not one of enabled, adaptive, disabled"
            )));
        }
    })
}

fn decode_output_format(format: WireOutputFormat) -> Result<ResponseFormat, PluginError> {
    match format.kind.as_str() {
        "json_schema" => Ok(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: SCHEMA_NAME.into(),
            schema_json: format
                .schema
                .ok_or_else(|| invalid("output_format: type \"json_schema\" needs a \"schema\"".into()))?
                .get()
                .to_owned(),
            strict: true,
        })),
        other => Err(invalid(format!("output_format.type: \"{other}\" is not json_schema"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{CacheTtl, ToolResultPart};
    use serde_json::json;

    fn head() -> RequestHead {
        RequestHead {
            method: "POST".into(),
            path: "/v1/messages".into(),
            query: Some("beta=true".into()),
            headers: Vec::new(),
        }
    }

    fn dec(v: Value) -> Result<ChatRequest, PluginError> {
        decode(&head(), v.to_string().as_bytes())
    }

    #[test]
    fn tool_schemas_are_kept_as_written() {
        let schema = r#"{"type": "object", "properties": {"zeta": {"type": "string"}, "alpha": {}}}"#;
        let body =
            format!(r#"{{"model":"m","max_tokens":8,"messages":[],"tools":[{{"name":"t","input_schema":{schema}}}]}}"#);
        let r = decode(&head(), body.as_bytes()).unwrap();
        assert_eq!(
            r.tools[0].parameters_json, schema,
            "the client's text and property order"
        );
    }

    #[test]
    fn a_full_request() {
        let r = dec(json!({
            "model": "claude-sonnet-4-5", "max_tokens": 1024, "temperature": 0.5, "top_p": 0.9, "top_k": 40,
            "stop_sequences": ["END"], "stream": true, "metadata": {"user_id": "u1"},
            "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            "tools": [
                {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {}}},
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
            ],
            "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true},
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                    {"type": "text", "text": "thanks"}]},
                {"role": "system", "content": "the user is in a hurry"}
            ]
        }))
        .unwrap();
        assert_eq!(r.model, "claude-sonnet-4-5");
        assert!(r.stream);
        assert!(matches!(&r.system[..], [ContentBlock::Text(t)] if t.cache == Some(CacheTtl::OneHour)));
        assert_eq!(r.tools.len(), 1);
        assert_eq!(r.tool_choice, Some(ToolChoice::Named("get_weather".into())));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert_eq!(r.sampling.max_tokens, Some(1024));
        assert_eq!(r.sampling.top_k, Some(40));
        assert_eq!(r.sampling.stop, vec!["END".to_string()]);
        let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            vec![Role::User, Role::Assistant, Role::Tool, Role::User, Role::System]
        );
        assert!(matches!(&r.messages[2].content[..], [ContentBlock::ToolResult(t)]
            if t.name.as_deref() == Some("get_weather") && t.content == vec![ToolResultPart::Text("sunny".into())]));
        let extra: Value = serde_json::from_str(r.extra_json.as_deref().unwrap()).unwrap();
        assert_eq!(extra, json!({"metadata": {"user_id": "u1"}}));
    }

    #[test]
    fn thinking_and_effort() {
        let r = dec(json!({"model": "m", "max_tokens": 9000, "messages": [],
            "thinking": {"type": "enabled", "budget_tokens": 4000}}))
        .unwrap();
        assert_eq!(
            r.reasoning,
            Some(Reasoning {
                effort: None,
                budget_tokens: Some(4000),
                include_thoughts: true
            })
        );
        let r = dec(json!({"model": "m", "messages": [], "thinking": {"type": "adaptive"},
            "output_config": {"effort": "max"}}))
        .unwrap();
        assert_eq!(
            r.reasoning,
            Some(Reasoning {
                effort: Some("high".into()),
                budget_tokens: None,
                include_thoughts: true
            })
        );
        let r = dec(json!({"model": "m", "messages": [], "thinking": {"type": "disabled"}})).unwrap();
        assert_eq!(r.reasoning, None);
        assert!(dec(json!({"model": "m", "messages": [], "thinking": {"type": "enabled"}})).is_err());
        assert!(dec(json!({"model": "m", "messages": [], "thinking": {"type": "sometimes"}})).is_err());
    }

    #[test]
    fn tool_choices() {
        for (choice, ir) in [
            (json!({"type": "auto"}), ToolChoice::Auto),
            (json!({"type": "any"}), ToolChoice::Required),
            (json!({"type": "none"}), ToolChoice::None),
        ] {
            let r = dec(json!({"model": "m", "messages": [], "tool_choice": choice})).unwrap();
            assert_eq!(r.tool_choice, Some(ir));
            assert_eq!(r.parallel_tool_calls, None);
        }
        let r = dec(json!({"model": "m", "messages": [],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": false}}))
        .unwrap();
        assert_eq!(r.parallel_tool_calls, Some(true));
        assert!(dec(json!({"model": "m", "messages": [], "tool_choice": {"type": "tool"}})).is_err());
    }

    #[test]
    fn structured_output() {
        let r = dec(json!({"model": "m", "messages": [],
            "output_format": {"type": "json_schema", "schema": {"type": "object"}}}))
        .unwrap();
        assert_eq!(
            r.response_format,
            Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: SCHEMA_NAME.into(),
                schema_json: r#"{"type":"object"}"#.into(),
                strict: true
            }))
        );
        let r = dec(json!({"model": "m", "messages": [],
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}))
        .unwrap();
        assert!(r.response_format.is_some());
    }

    #[test]
    fn malformed_requests_name_the_field() {
        let msg = |v: Value| match dec(v) {
            Err(PluginError::InvalidRequest(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(msg(json!({"messages": []})).contains("\"model\""));
        assert!(msg(json!({"model": "m"})).contains("\"messages\""));
        assert!(msg(json!({"model": "m", "messages": [{"role": "bot", "content": "x"}]})).contains("messages[0].role"));
        assert!(msg(json!({"model": "m", "messages": [{"role": "user"}]})).contains("messages[0]"));
        assert!(msg(json!({"model": "m", "messages": [], "tools": [{"name": "t"}]})).contains("input_schema"));
        assert!(
            msg(json!({"model": "m", "messages": [], "system": [{"type": "image",
            "source": {"type": "url", "url": "u"}}]}))
            .contains("system[0]")
        );
        assert!(
            msg(json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}))
                .contains("messages[0].content[0]")
        );
        assert!(matches!(decode(&head(), b"{"), Err(PluginError::InvalidRequest(_))));
    }

    #[test]
    fn a_user_turn_of_only_tool_results_is_one_tool_message() {
        let r = dec(json!({"model": "m", "messages": [
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "a", "name": "f", "input": {}},
                {"type": "tool_use", "id": "b", "name": "g", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "a", "content": [{"type": "text", "text": "1"}]},
                {"type": "tool_result", "tool_use_id": "b", "content": "2", "is_error": true}]}
        ]}))
        .unwrap();
        assert_eq!(r.messages.len(), 2);
        assert_eq!(r.messages[1].role, Role::Tool);
        assert!(matches!(&r.messages[1].content[1], ContentBlock::ToolResult(t)
            if t.is_error && t.name.as_deref() == Some("g")));
    }
}
