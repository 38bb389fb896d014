//! The routing facts of an OpenAI Chat Completions request.
//!
//! Capabilities: `tools` (a non-empty `tools` or legacy `functions` list), `vision` (an
//! `image_url` content part), `thinking` (`reasoning_effort` other than `none`),
//! `structured-output` (`response_format` of type `json_schema` or `json_object`).

use std::borrow::Cow;

use aether_plugin_sdk::json::{self, TextOrParts};
use aether_plugin_sdk::types::{Capability, Inspection, PluginError, RequestHead};
use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    tools: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    functions: Option<Vec<IgnoredAny>>,
    #[serde(borrow, default)]
    reasoning_effort: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    response_format: Option<Typed<'a>>,
    #[serde(borrow, default)]
    messages: Vec<Message<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    content: TextOrParts<Typed<'a>>,
}

#[derive(Deserialize)]
struct Typed<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
}

/// Model, stream flag, capabilities and an input estimate.
pub fn inspect(_head: &RequestHead, body: &[u8]) -> Result<Inspection, PluginError> {
    let probe: Probe<'_> = json::parse_request(body)?;
    let model = probe
        .model
        .ok_or_else(|| PluginError::InvalidRequest("request body has no \"model\" field".into()))?;
    let mut caps = Vec::new();
    let non_empty = |l: &Option<Vec<IgnoredAny>>| l.as_ref().is_some_and(|l| !l.is_empty());
    if non_empty(&probe.tools) || non_empty(&probe.functions) {
        caps.push(Capability::Tools);
    }
    let parts = probe.messages.iter().flat_map(|m| m.content.parts());
    if parts.clone().any(|p| p.kind.as_deref() == Some("image_url")) {
        caps.push(Capability::Vision);
    }
    if probe.reasoning_effort.as_deref().is_some_and(|e| e != "none") {
        caps.push(Capability::Thinking);
    }
    let structured = probe
        .response_format
        .as_ref()
        .and_then(|f| f.kind.as_deref())
        .is_some_and(|k| matches!(k, "json_schema" | "json_object"));
    if structured {
        caps.push(Capability::StructuredOutput);
    }
    Ok(Inspection {
        model_span: json::top_level_value_span(body, "model").and_then(json::byte_span),
        model: Some(model.into_owned()),
        stream: probe.stream.unwrap_or(false),
        capabilities: caps,
        estimated_input_tokens: u32::try_from(body.len() / 4).unwrap_or(u32::MAX),
        // `max_completion_tokens` replaced `max_tokens`; either may be sent.
        max_output_tokens: probe
            .max_completion_tokens
            .or(probe.max_tokens)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
    })
}
