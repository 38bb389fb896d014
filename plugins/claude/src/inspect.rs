//! The routing facts of an Anthropic Messages request.
//!
//! Capabilities: `tools` (a non-empty `tools` list), `vision` (an `image` block in a message
//! or a tool result), `thinking` (`thinking.type` `enabled` or `adaptive`), `structured-output`
//! (`output_format`), `context-1m` (an `anthropic-beta` header naming `context-1m-…`) and
//! `cache-1h` (any `cache_control` with `ttl: "1h"`, in tools, system or messages).
//!
//! The body is read once into small borrowed structs that skip everything else.

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
    tools: Option<Vec<Block<'a>>>,
    #[serde(borrow, default)]
    thinking: Option<Thinking<'a>>,
    #[serde(default)]
    output_format: Option<IgnoredAny>,
    #[serde(borrow, default)]
    system: TextOrParts<Block<'a>>,
    #[serde(borrow, default)]
    messages: Vec<Message<'a>>,
}

#[derive(Deserialize)]
struct Thinking<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    content: TextOrParts<Block<'a>>,
}

/// A content block, a system block or a tool definition: only what capabilities need.
#[derive(Deserialize)]
struct Block<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    cache_control: Option<CacheControl<'a>>,
    /// A tool result's own content.
    #[serde(borrow, default)]
    content: Option<TextOrParts<Block<'a>>>,
}

#[derive(Deserialize)]
struct CacheControl<'a> {
    #[serde(borrow, default)]
    ttl: Option<Cow<'a, str>>,
}

/// Model, stream flag, capabilities and an input estimate.
pub fn inspect(head: &RequestHead, body: &[u8]) -> Result<Inspection, PluginError> {
    let probe: Probe<'_> = json::parse_request(body)?;
    let model = probe
        .model
        .ok_or_else(|| PluginError::InvalidRequest("request body has no \"model\" field".into()))?;
    let mut caps = Vec::new();
    if probe.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        caps.push(Capability::Tools);
    }
    let blocks = || {
        let message_blocks = probe.messages.iter().flat_map(|m| m.content.parts());
        let nested = message_blocks
            .clone()
            .flat_map(|b| b.content.as_ref().map_or(&[][..], TextOrParts::parts));
        message_blocks
            .chain(nested)
            .chain(probe.system.parts())
            .chain(probe.tools.iter().flatten())
    };
    if blocks().any(|b| b.kind.as_deref() == Some("image")) {
        caps.push(Capability::Vision);
    }
    if probe
        .thinking
        .as_ref()
        .is_some_and(|t| matches!(&*t.kind, "enabled" | "adaptive"))
    {
        caps.push(Capability::Thinking);
    }
    if probe.output_format.is_some() {
        caps.push(Capability::StructuredOutput);
    }
    let beta_1m = head
        .headers
        .iter()
        .filter(|h| h.name == "anthropic-beta")
        .flat_map(|h| h.value.split(','))
        .any(|b| b.trim().starts_with("context-1m"));
    if beta_1m {
        caps.push(Capability::Context1m);
    }
    if blocks().any(|b| b.cache_control.as_ref().and_then(|c| c.ttl.as_deref()) == Some("1h")) {
        caps.push(Capability::Cache1h);
    }
    Ok(Inspection {
        model_span: json::top_level_value_span(body, "model").and_then(json::byte_span),
        model: Some(model.into_owned()),
        stream: probe.stream.unwrap_or(false),
        capabilities: caps,
        estimated_input_tokens: u32::try_from(body.len() / 4).unwrap_or(u32::MAX),
    })
}
