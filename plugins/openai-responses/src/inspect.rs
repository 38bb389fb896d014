//! The routing facts of an OpenAI Responses request.
//!
//! Capabilities: `tools` (a non-empty `tools` list), `vision` (an `input_image` part in
//! `input`), `thinking` (a `reasoning` object whose effort is not `none`),
//! `structured-output` (`text.format` of type `json_schema` or `json_object`).

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
    max_output_tokens: Option<u64>,
    #[serde(default)]
    tools: Option<Vec<IgnoredAny>>,
    #[serde(borrow, default)]
    reasoning: Option<Reasoning<'a>>,
    #[serde(borrow, default)]
    text: Option<TextConfig<'a>>,
    #[serde(borrow, default)]
    input: TextOrParts<Item<'a>>,
}

#[derive(Deserialize)]
struct Reasoning<'a> {
    #[serde(borrow, default)]
    effort: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TextConfig<'a> {
    #[serde(borrow, default)]
    format: Option<Typed<'a>>,
}

/// An input item: a message (with content) or anything else.
#[derive(Deserialize)]
struct Item<'a> {
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
    if probe.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        caps.push(Capability::Tools);
    }
    let mut parts = probe.input.parts().iter().flat_map(|i| i.content.parts());
    if parts.any(|p| p.kind.as_deref() == Some("input_image")) {
        caps.push(Capability::Vision);
    }
    if probe
        .reasoning
        .as_ref()
        .is_some_and(|r| r.effort.as_deref() != Some("none"))
    {
        caps.push(Capability::Thinking);
    }
    let structured = probe
        .text
        .as_ref()
        .and_then(|t| t.format.as_ref())
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
        max_output_tokens: probe.max_output_tokens.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
    })
}
