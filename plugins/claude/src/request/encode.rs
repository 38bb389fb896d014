//! An IR request as a Messages request for an Anthropic upstream (`POST /v1/messages`).
//!
//! - `max_tokens` is always sent: the client's, else 8192; with thinking it is kept above
//!   the budget (raised by the budget when it is not).
//! - Turns are repaired, not rejected: `tool` messages become user turns, a mid-conversation
//!   system message becomes user text in `<system-reminder>` tags, consecutive same-role
//!   turns merge, `tool_result` blocks go first in their user turn, blocks a role cannot
//!   hold and empty turns are left out.
//! - Thinking: `enabled` with a budget (the IR's, else the effort's, else medium), at least
//!   1024; `temperature`, `top_p` and `top_k` are left out with it (Claude requires the
//!   defaults). Claude refuses a forced tool choice with thinking: the choice wins and
//!   thinking is left off.
//! - A named tool choice that names no listed tool becomes `any`; no tools, no choice.
//! - A JSON schema response format becomes `output_format` with the structured-outputs beta.

use std::borrow::Cow;
use std::sync::LazyLock;

use aether_plugin_sdk::json;
use aether_plugin_sdk::types::{
    ChatRequest, ContentBlock, EncodedRequest, Header, Message, PluginError, Reasoning, ResponseFormat, Role, Tool,
    ToolChoice,
};
use memchr::memmem::Finder;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::content::{Audience, OutBlock, Side, encode_block, out_cache};

/// The upstream path.
pub const PATH: &str = "/v1/messages";
/// `max_tokens` when the client gave none (Claude requires the field).
pub const DEFAULT_MAX_TOKENS: u32 = 8192;
/// Claude's smallest thinking budget.
pub const MIN_BUDGET: u32 = 1024;
/// The beta that enables `output_format`.
pub const STRUCTURED_OUTPUTS_BETA: &str = "structured-outputs-2025-11-13";

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<OutBlock<'a>>,
    messages: Vec<Turn<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<OutTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<OutToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<OutThinking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_format: Option<OutOutputFormat<'a>>,
}

#[derive(Serialize)]
struct Turn<'a> {
    role: &'static str,
    content: Vec<OutBlock<'a>>,
}

#[derive(Serialize)]
struct OutTool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: Schema<'a>,
}

/// A tool's schema as Claude gets it.
#[derive(Serialize)]
#[serde(untagged)]
enum Schema<'a> {
    /// The IR's text, which already suits Claude: written as it is, properties in order.
    AsWritten(&'a RawValue),
    /// Rewritten (see [`encode_tools`]).
    Rewritten(Value),
}

#[derive(Serialize)]
struct OutToolChoice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Serialize)]
struct OutThinking {
    #[serde(rename = "type")]
    kind: &'static str,
    budget_tokens: u32,
}

#[derive(Serialize)]
struct OutOutputFormat<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    /// The IR's text, checked to be JSON and written as it is, properties in their order.
    schema: &'a RawValue,
}

/// Whether and how much Claude thinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThinkingPlan {
    /// No `thinking` field.
    Off,
    /// `{"type": "enabled", "budget_tokens": budget}`.
    Enabled {
        /// The budget, at least [`MIN_BUDGET`].
        budget: u32,
    },
}

/// The budget for an effort (IR.md's table; unknown efforts are medium).
pub fn budget_for_effort(effort: &str) -> u32 {
    match effort {
        "minimal" => 1024,
        "low" => 2048,
        "high" => 24576,
        _ => 8192,
    }
}

/// The thinking a request's reasoning asks for. A budget of 0 (Gemini's "off") and the
/// effort `none` turn thinking off.
pub fn plan(reasoning: Option<&Reasoning>) -> ThinkingPlan {
    let Some(r) = reasoning else {
        return ThinkingPlan::Off;
    };
    let budget = match (r.budget_tokens, r.effort.as_deref()) {
        (Some(0), _) | (None, Some("none")) => return ThinkingPlan::Off,
        (Some(b), _) => b,
        (None, Some(effort)) => budget_for_effort(effort),
        (None, None) => budget_for_effort("medium"),
    };
    ThinkingPlan::Enabled {
        budget: budget.max(MIN_BUDGET),
    }
}

/// The request for an Anthropic upstream.
pub fn encode(req: &ChatRequest) -> Result<EncodedRequest, PluginError> {
    let tools = encode_tools(&req.tools)?;
    let tool_choice = encode_tool_choice(req);
    let forced = tool_choice.as_ref().is_some_and(|c| matches!(c.kind, "any" | "tool"));
    let thinking = match plan(req.reasoning.as_ref()) {
        ThinkingPlan::Enabled { .. } if forced => ThinkingPlan::Off,
        plan => plan,
    };
    let asked = req.sampling.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    let (max_tokens, thinking_field, sampling_allowed) = match thinking {
        ThinkingPlan::Off => (asked, None, true),
        ThinkingPlan::Enabled { budget } => (
            if asked > budget {
                asked
            } else {
                budget.saturating_add(asked)
            },
            Some(OutThinking {
                kind: "enabled",
                budget_tokens: budget,
            }),
            false,
        ),
    };
    let (output_format, headers) = match &req.response_format {
        Some(ResponseFormat::JsonSchema(f)) => (
            Some(OutOutputFormat {
                kind: "json_schema",
                schema: serde_json::from_str(&f.schema_json).map_err(|e| {
                    PluginError::InvalidRequest(format!("response format \"{}\": the schema is not JSON: {e}", f.name))
                })?,
            }),
            vec![Header {
                name: "anthropic-beta".into(),
                value: STRUCTURED_OUTPUTS_BETA.into(),
            }],
        ),
        _ => (None, Vec::new()),
    };
    let body = Body {
        model: &req.model,
        max_tokens,
        system: encode_system(&req.system),
        messages: encode_messages(&req.messages)?,
        tools,
        tool_choice,
        thinking: thinking_field,
        temperature: req.sampling.temperature.filter(|_| sampling_allowed),
        top_p: req.sampling.top_p.filter(|_| sampling_allowed),
        top_k: req.sampling.top_k.filter(|_| sampling_allowed),
        stop_sequences: &req.sampling.stop,
        stream: req.stream.then_some(true),
        output_format,
    };
    let body = serde_json::to_vec(&body).map_err(|e| PluginError::Internal(format!("encoding the request: {e}")))?;
    Ok(EncodedRequest {
        path: PATH.into(),
        headers,
        body,
    })
}

/// The system prompt's text blocks (Claude's `system` holds text only).
fn encode_system(system: &[ContentBlock]) -> Vec<OutBlock<'_>> {
    system
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text(t) if !t.text.is_empty() => Some(OutBlock::Text {
                text: Cow::Borrowed(&t.text),
                cache_control: out_cache(t.cache),
            }),
            _ => None,
        })
        .collect()
}

/// The text of a mid-conversation system message, as Claude and Gemini carry it.
pub fn system_reminder(text: &str) -> String {
    format!("<system-reminder>\n{text}\n</system-reminder>")
}

fn encode_messages(messages: &[Message]) -> Result<Vec<Turn<'_>>, PluginError> {
    let mut turns: Vec<Turn<'_>> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let (role, side) = match m.role {
            Role::Assistant => ("assistant", Side::Assistant),
            Role::User | Role::Tool | Role::System => ("user", Side::User),
        };
        let mut blocks = Vec::with_capacity(m.content.len());
        for (j, block) in m.content.iter().enumerate() {
            match (m.role, block) {
                (Role::System, ContentBlock::Text(t)) if !t.text.is_empty() => blocks.push(OutBlock::Text {
                    text: Cow::Owned(system_reminder(&t.text)),
                    cache_control: out_cache(t.cache),
                }),
                _ => encode_block(block, Audience::Upstream, &mut blocks, &|| {
                    format!("messages[{i}].content[{j}]")
                })?,
            }
        }
        blocks.retain(|b| matches!(b.side(), Side::Both) || b.side() == side);
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => turns.push(Turn { role, content: blocks }),
        }
    }
    for turn in &mut turns {
        if turn.role == "user" && turn.content.iter().any(OutBlock::is_tool_result) {
            // A stable partition: results first, in order, then the rest, in order.
            let (mut results, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut turn.content)
                .into_iter()
                .partition(OutBlock::is_tool_result);
            results.extend(rest);
            turn.content = results;
        }
    }
    Ok(turns)
}

/// Tools for Claude. A schema that is an object with a `type` and no upper-case type names
/// is written as the client sent it; any other is parsed and rewritten: type names lowered,
/// a missing top-level `type` added.
fn encode_tools(tools: &[Tool]) -> Result<Vec<OutTool<'_>>, PluginError> {
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if let Some(raw) = suits_claude(&t.parameters_json) {
                return Ok(OutTool {
                    name: &t.name,
                    description: t.description.as_deref(),
                    input_schema: Schema::AsWritten(raw),
                });
            }
            let mut schema = if t.parameters_json.trim().is_empty() {
                Value::Object(serde_json::Map::new())
            } else {
                serde_json::from_str(&t.parameters_json).map_err(|e| {
                    PluginError::InvalidRequest(format!(
                        "tools[{i}] (\"{}\"): the parameters are not JSON: {e}",
                        t.name
                    ))
                })?
            };
            normalise_types(&mut schema);
            // Claude requires an object schema; a bare `{}` (no parameters) says so.
            if let Value::Object(map) = &mut schema
                && !map.contains_key("type")
            {
                map.insert("type".into(), Value::String("object".into()));
            }
            Ok(OutTool {
                name: &t.name,
                description: t.description.as_deref(),
                input_schema: Schema::Rewritten(schema),
            })
        })
        .collect()
}

/// The schema as it is, when it needs none of [`encode_tools`]' rewriting: an object with a
/// top-level `type`, and no `"type": "…"` whose name has an upper-case letter. Checked by
/// scanning the text, without building a tree; a false alarm only costs the rewrite. One
/// validating pass of serde_json (a Claude Code tool list is tens of kilobytes of schemas);
/// the top-level `type` is then found by the SDK's structural scan, which is exact on text
/// serde_json has accepted.
fn suits_claude(schema: &str) -> Option<&RawValue> {
    let raw: &RawValue = serde_json::from_str(schema).ok()?;
    let typed = json::top_level_value_span(schema.as_bytes(), "type")
        .is_some_and(|span| schema.as_bytes().get(span) != Some(b"null".as_slice()));
    let upper_case_type = has_upper_case_type(schema.as_bytes());
    (typed && !upper_case_type).then_some(raw)
}

/// Whether any `"type": "…"` in a schema names its type with an upper-case letter (a
/// `"type"` key found by a SIMD search, its string value read by hand).
fn has_upper_case_type(schema: &[u8]) -> bool {
    static TYPE_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(br#""type""#));
    TYPE_KEY.find_iter(schema).any(|at| {
        let value = schema[at + br#""type""#.len()..]
            .trim_ascii_start()
            .strip_prefix(b":")
            .map(<[u8]>::trim_ascii_start)
            .and_then(|v| v.strip_prefix(b"\""));
        value.is_some_and(|name| name.iter().take_while(|&&b| b != b'"').any(u8::is_ascii_uppercase))
    })
}

/// Lower-cases OpenAPI-style type names (`"OBJECT"`, `"STRING"`, as Gemini writes them)
/// anywhere in a schema: Claude accepts JSON Schema's lower-case names only.
fn normalise_types(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(t) if key == "type" && t.bytes().any(|b| b.is_ascii_uppercase()) => {
                        *t = t.to_ascii_lowercase();
                    }
                    _ => normalise_types(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_types),
        _ => {}
    }
}

fn encode_tool_choice(req: &ChatRequest) -> Option<OutToolChoice<'_>> {
    if req.tools.is_empty() {
        return None;
    }
    let disable_parallel = (req.parallel_tool_calls == Some(false)).then_some(true);
    let (kind, name) = match &req.tool_choice {
        None if disable_parallel.is_some() => ("auto", None),
        None => return None,
        Some(ToolChoice::Auto) => ("auto", None),
        Some(ToolChoice::None) => {
            return Some(OutToolChoice {
                kind: "none",
                name: None,
                disable_parallel_tool_use: None,
            });
        }
        Some(ToolChoice::Required) => ("any", None),
        Some(ToolChoice::Named(name)) if req.tools.iter().any(|t| &t.name == name) => ("tool", Some(name.as_str())),
        Some(ToolChoice::Named(_)) => ("any", None),
    };
    Some(OutToolChoice {
        kind,
        name,
        disable_parallel_tool_use: disable_parallel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_plugin_sdk::types::{
        CacheTtl, JsonSchemaFormat, Sampling, TextBlock, ThinkingBlock, ToolCall, ToolResult, ToolResultPart,
    };
    use serde_json::json;

    fn text(t: &str) -> ContentBlock {
        ContentBlock::Text(TextBlock {
            text: t.into(),
            cache: None,
        })
    }

    fn msg(role: Role, content: Vec<ContentBlock>) -> Message {
        Message { role, content }
    }

    fn request() -> ChatRequest {
        ChatRequest {
            model: "claude-sonnet-4-5".into(),
            system: Vec::new(),
            messages: vec![msg(Role::User, vec![text("hi")])],
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

    fn tool(name: &str) -> Tool {
        Tool {
            name: name.into(),
            description: None,
            parameters_json: "{}".into(),
            strict: None,
        }
    }

    fn body(req: &ChatRequest) -> Value {
        let e = encode(req).unwrap();
        assert_eq!(e.path, PATH);
        serde_json::from_slice(&e.body).unwrap()
    }

    #[test]
    fn only_a_typed_lower_case_object_schema_is_copied_as_written() {
        let as_written = [
            r#"{"type":"object","properties":{"path":{"type":"string"}}}"#,
            r#"{"properties":{"type":{"type":"string"}},"type":"object"}"#,
            r#" { "type" : "object" } "#,
        ];
        for schema in as_written {
            assert_eq!(suits_claude(schema).map(RawValue::get), Some(schema.trim()), "{schema}");
        }
        let rewritten = [
            // No top-level type: a nested `type` key does not count.
            r#"{"properties":{"type":{"type":"string"}}}"#,
            r#"{"type":null}"#,
            r#"{"type":"OBJECT"}"#,
            r#"{"type":"object","properties":{"a":{"type":"STRING"}}}"#,
            "true",
            "{",
            "",
        ];
        for schema in rewritten {
            assert!(suits_claude(schema).is_none(), "{schema}");
        }
    }

    #[test]
    fn minimal_request_gets_default_max_tokens() {
        let b = body(&request());
        assert_eq!(
            b,
            json!({"model": "claude-sonnet-4-5", "max_tokens": 8192,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
        );
    }

    #[test]
    fn sampling_system_and_stream() {
        let mut r = request();
        r.system = vec![ContentBlock::Text(TextBlock {
            text: "sys".into(),
            cache: Some(CacheTtl::FiveMinutes),
        })];
        r.sampling.max_tokens = Some(100);
        r.sampling.temperature = Some(0.2);
        r.sampling.top_p = Some(0.9);
        r.sampling.top_k = Some(5);
        r.sampling.seed = Some(7);
        r.sampling.stop = vec!["X".into()];
        r.stream = true;
        let b = body(&r);
        assert_eq!(
            b["system"],
            json!([{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}])
        );
        assert_eq!(b["max_tokens"], 100);
        assert_eq!(b["temperature"], 0.2);
        assert_eq!(b["top_k"], 5);
        assert_eq!(b["stop_sequences"], json!(["X"]));
        assert_eq!(b["stream"], true);
        assert!(b.get("seed").is_none());
    }

    #[test]
    fn thinking_budgets() {
        let reasoning = |effort: Option<&str>, budget: Option<u32>| Reasoning {
            effort: effort.map(Into::into),
            budget_tokens: budget,
            include_thoughts: true,
        };
        assert_eq!(plan(None), ThinkingPlan::Off);
        assert_eq!(
            plan(Some(&reasoning(Some("low"), None))),
            ThinkingPlan::Enabled { budget: 2048 }
        );
        assert_eq!(
            plan(Some(&reasoning(Some("minimal"), None))),
            ThinkingPlan::Enabled { budget: 1024 }
        );
        assert_eq!(
            plan(Some(&reasoning(Some("medium"), None))),
            ThinkingPlan::Enabled { budget: 8192 }
        );
        assert_eq!(
            plan(Some(&reasoning(Some("high"), None))),
            ThinkingPlan::Enabled { budget: 24576 }
        );
        assert_eq!(
            plan(Some(&reasoning(None, None))),
            ThinkingPlan::Enabled { budget: 8192 }
        );
        assert_eq!(
            plan(Some(&reasoning(None, Some(500)))),
            ThinkingPlan::Enabled { budget: 1024 }
        );
        assert_eq!(
            plan(Some(&reasoning(Some("high"), Some(3000)))),
            ThinkingPlan::Enabled { budget: 3000 }
        );
        assert_eq!(plan(Some(&reasoning(None, Some(0)))), ThinkingPlan::Off);
        assert_eq!(plan(Some(&reasoning(Some("none"), None))), ThinkingPlan::Off);

        let mut r = request();
        r.reasoning = Some(reasoning(Some("high"), None));
        r.sampling.temperature = Some(0.3);
        r.sampling.top_k = Some(3);
        r.sampling.max_tokens = Some(4000);
        let b = body(&r);
        assert_eq!(b["thinking"], json!({"type": "enabled", "budget_tokens": 24576}));
        assert_eq!(b["max_tokens"], 28576);
        assert!(b.get("temperature").is_none() && b.get("top_k").is_none());
        r.sampling.max_tokens = Some(30000);
        assert_eq!(body(&r)["max_tokens"], 30000);
    }

    #[test]
    fn tool_choices() {
        let mut r = request();
        r.tool_choice = Some(ToolChoice::Required);
        assert!(body(&r).get("tool_choice").is_none(), "no tools, no choice");
        r.tools = vec![tool("a"), tool("b")];
        assert_eq!(body(&r)["tool_choice"], json!({"type": "any"}));
        assert_eq!(
            body(&r)["tools"],
            json!([{"name": "a", "input_schema": {"type": "object"}},
            {"name": "b", "input_schema": {"type": "object"}}])
        );
        r.tool_choice = Some(ToolChoice::Named("b".into()));
        assert_eq!(body(&r)["tool_choice"], json!({"type": "tool", "name": "b"}));
        r.tool_choice = Some(ToolChoice::Named("zzz".into()));
        assert_eq!(body(&r)["tool_choice"], json!({"type": "any"}));
        r.tool_choice = Some(ToolChoice::None);
        r.parallel_tool_calls = Some(false);
        assert_eq!(body(&r)["tool_choice"], json!({"type": "none"}));
        r.tool_choice = Some(ToolChoice::Auto);
        assert_eq!(
            body(&r)["tool_choice"],
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
        r.tool_choice = None;
        assert_eq!(
            body(&r)["tool_choice"],
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
        r.parallel_tool_calls = Some(true);
        assert!(body(&r).get("tool_choice").is_none());
    }

    #[test]
    fn uppercase_schema_types_are_lowered() {
        let mut r = request();
        r.tools = vec![Tool {
            name: "w".into(),
            description: Some("d".into()),
            parameters_json: r#"{"type":"OBJECT","properties":{"city":{"type":"STRING"},"tags":{"type":"ARRAY","items":{"type":"STRING"}}}}"#.into(),
            strict: None,
        }];
        assert_eq!(
            body(&r)["tools"][0],
            json!({"name": "w", "description": "d", "input_schema": {"type": "object", "properties": {
                "city": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}}})
        );
    }

    #[test]
    fn schemas_that_suit_claude_are_written_as_they_are() {
        let schema = |text: &str| {
            let mut r = request();
            r.tools = vec![tool("w")];
            r.tools[0].parameters_json = text.into();
            let body = String::from_utf8(encode(&r).unwrap().body).unwrap();
            let at = body.find(r#""input_schema":"#).unwrap() + r#""input_schema":"#.len();
            let value: &RawValue = serde_json::Deserializer::from_str(&body[at..])
                .into_iter::<&RawValue>()
                .next()
                .unwrap()
                .unwrap();
            value.get().to_owned()
        };
        // As written: the client's order (zeta before alpha), a type name in a description.
        let fits = r#"{"type": "object", "properties": {"zeta": {"type": "string", "description": "a \"TYPE\""}, "alpha": {}}}"#;
        assert_eq!(schema(fits), fits);
        // Rewritten: an upper-case type name, or no top-level type.
        assert_eq!(
            schema(r#"{"type": "object", "properties": {"a": {"type" : "STRING"}}}"#),
            r#"{"properties":{"a":{"type":"string"}},"type":"object"}"#
        );
        assert_eq!(schema(r#"{"properties": {}}"#), r#"{"properties":{},"type":"object"}"#);
        assert_eq!(schema("{}"), r#"{"type":"object"}"#);
    }

    #[test]
    fn a_forced_tool_turns_thinking_off() {
        let mut r = request();
        r.tools = vec![tool("a")];
        r.tool_choice = Some(ToolChoice::Required);
        r.reasoning = Some(Reasoning {
            effort: Some("low".into()),
            budget_tokens: None,
            include_thoughts: false,
        });
        assert!(body(&r).get("thinking").is_none());
        r.tool_choice = Some(ToolChoice::Auto);
        assert_eq!(body(&r)["thinking"]["budget_tokens"], 2048);
    }

    #[test]
    fn turns_are_repaired() {
        let mut r = request();
        let call = |id: &str| {
            ContentBlock::ToolCall(ToolCall {
                id: id.into(),
                name: "f".into(),
                arguments_json: r#"{"x":1}"#.into(),
                signature: None,
            })
        };
        let result = |id: &str| {
            ContentBlock::ToolResult(ToolResult {
                call_id: id.into(),
                name: Some("f".into()),
                content: vec![ToolResultPart::Text("ok".into())],
                is_error: false,
            })
        };
        r.messages = vec![
            msg(Role::User, vec![text("a")]),
            msg(Role::User, vec![text("b")]),
            msg(
                Role::Assistant,
                vec![
                    ContentBlock::Thinking(ThinkingBlock {
                        text: "hm".into(),
                        signature: Some("sig".into()),
                    }),
                    call("c1"),
                ],
            ),
            msg(Role::Assistant, vec![call("c2")]),
            msg(Role::User, vec![text("also")]),
            msg(Role::Tool, vec![result("c1"), result("c2")]),
            msg(Role::System, vec![text("be careful")]),
            msg(Role::Assistant, vec![text("")]),
        ];
        let b = body(&r);
        assert_eq!(
            b["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "sig"},
                    {"type": "tool_use", "id": "c1", "name": "f", "input": {"x": 1}},
                    {"type": "tool_use", "id": "c2", "name": "f", "input": {"x": 1}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "c1", "content": "ok"},
                    {"type": "tool_result", "tool_use_id": "c2", "content": "ok"},
                    {"type": "text", "text": "also"},
                    {"type": "text", "text": "<system-reminder>\nbe careful\n</system-reminder>"}]}
            ])
        );
    }

    #[test]
    fn structured_output_sends_the_beta() {
        let mut r = request();
        r.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "x".into(),
            schema_json: r#"{"type":"object","properties":{"a":{"type":"string"}}}"#.into(),
            strict: true,
        }));
        let e = encode(&r).unwrap();
        assert_eq!(e.headers.len(), 1);
        assert_eq!(e.headers[0].value, STRUCTURED_OUTPUTS_BETA);
        let b: Value = serde_json::from_slice(&e.body).unwrap();
        assert_eq!(b["output_format"]["type"], "json_schema");
        assert_eq!(b["output_format"]["schema"]["properties"]["a"]["type"], "string");
        r.response_format = Some(ResponseFormat::JsonObject);
        assert!(encode(&r).unwrap().headers.is_empty());
    }

    #[test]
    fn bad_json_is_an_invalid_request() {
        let mut r = request();
        r.tools = vec![Tool {
            name: "t".into(),
            description: None,
            parameters_json: "{".into(),
            strict: None,
        }];
        assert!(matches!(encode(&r), Err(PluginError::InvalidRequest(m)) if m.contains("tools[0]")));
        let mut r = request();
        r.messages = vec![msg(
            Role::Assistant,
            vec![ContentBlock::ToolCall(ToolCall {
                id: "c".into(),
                name: "f".into(),
                arguments_json: "[".into(),
                signature: None,
            })],
        )];
        assert!(matches!(encode(&r), Err(PluginError::InvalidRequest(m)) if m.contains("messages[0].content[0]")));
    }
}
