//! The routing facts of a Gemini request. The model and the action are in the path
//! (`/v1beta/models/{model}:{action}`, also under `/v1/`); `streamGenerateContent` streams.
//!
//! Capabilities: `tools` (a non-empty `tools` list), `vision` (an `inlineData` or `fileData`
//! part with an `image/…` MIME type), `thinking` (a `thinkingConfig` asking for thoughts or a
//! non-zero budget), `structured-output` (`responseMimeType: application/json`, or a
//! response schema).

use std::borrow::Cow;

use aether_plugin_sdk::json;
use aether_plugin_sdk::types::{Capability, Inspection, PluginError, RequestHead};
use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe<'a> {
    #[serde(default)]
    tools: Option<Vec<IgnoredAny>>,
    #[serde(borrow, default)]
    contents: Vec<Content<'a>>,
    #[serde(alias = "generation_config", borrow, default)]
    generation_config: Option<GenerationConfig<'a>>,
}

#[derive(Deserialize)]
struct Content<'a> {
    #[serde(borrow, default)]
    parts: Vec<Part<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(alias = "inline_data", borrow, default)]
    inline_data: Option<Media<'a>>,
    #[serde(alias = "file_data", borrow, default)]
    file_data: Option<Media<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Media<'a> {
    #[serde(alias = "mime_type", borrow, default)]
    mime_type: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig<'a> {
    #[serde(alias = "response_mime_type", borrow, default)]
    response_mime_type: Option<Cow<'a, str>>,
    #[serde(alias = "response_schema", default)]
    response_schema: Option<IgnoredAny>,
    #[serde(alias = "response_json_schema", default)]
    response_json_schema: Option<IgnoredAny>,
    #[serde(alias = "thinking_config", default)]
    thinking_config: Option<ThinkingConfig>,
    #[serde(alias = "max_output_tokens", default)]
    max_output_tokens: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig {
    #[serde(alias = "include_thoughts", default)]
    include_thoughts: Option<bool>,
    #[serde(alias = "thinking_budget", default)]
    thinking_budget: Option<i64>,
    #[serde(alias = "thinking_level", default)]
    thinking_level: Option<IgnoredAny>,
}

/// The model and action named by a Gemini path, e.g. `("gemini-2.5-pro", "generateContent")`.
pub fn path_target(path: &str) -> Option<(&str, &str)> {
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, action) = rest.rsplit_once(':')?;
    (!model.is_empty() && !model.contains('/')).then_some((model, action))
}

/// Model, stream flag, capabilities and an input estimate.
pub fn inspect(head: &RequestHead, body: &[u8]) -> Result<Inspection, PluginError> {
    let (model, action) = path_target(&head.path).ok_or_else(|| {
        PluginError::InvalidRequest(format!(
            "path {} names no model: expected /v1beta/models/{{model}}:{{action}}",
            head.path
        ))
    })?;
    let probe: Probe<'_> = json::parse_request(body)?;
    let mut caps = Vec::new();
    if probe.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        caps.push(Capability::Tools);
    }
    let is_image = |m: &Option<Media<'_>>| {
        m.as_ref()
            .and_then(|m| m.mime_type.as_deref())
            .is_some_and(|t| t.starts_with("image/"))
    };
    let mut parts = probe.contents.iter().flat_map(|c| &c.parts);
    if parts.any(|p| is_image(&p.inline_data) || is_image(&p.file_data)) {
        caps.push(Capability::Vision);
    }
    let config = probe.generation_config.as_ref();
    let thinking = config.and_then(|c| c.thinking_config.as_ref()).is_some_and(|t| {
        t.include_thoughts == Some(true) || t.thinking_budget.is_some_and(|b| b != 0) || t.thinking_level.is_some()
    });
    if thinking {
        caps.push(Capability::Thinking);
    }
    let structured = config.is_some_and(|c| {
        c.response_mime_type.as_deref() == Some("application/json")
            || c.response_schema.is_some()
            || c.response_json_schema.is_some()
    });
    if structured {
        caps.push(Capability::StructuredOutput);
    }
    Ok(Inspection {
        model: Some(model.to_owned()),
        model_span: None,
        stream: action == "streamGenerateContent",
        capabilities: caps,
        estimated_input_tokens: u32::try_from(body.len() / 4).unwrap_or(u32::MAX),
        max_output_tokens: config
            .and_then(|c| c.max_output_tokens)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proto_field_names_as_google_genai_sends_them() {
        let head = RequestHead {
            method: "POST".into(),
            path: "/v1beta/models/g:streamGenerateContent".into(),
            query: None,
            headers: vec![],
        };
        let body = br#"{"contents":[{"parts":[{"inlineData":{"data":"AA","mime_type":"image/png"}}]}],
            "generation_config":{"thinkingConfig":{"include_thoughts":true},"response_mime_type":"application/json"}}"#;
        let inspection = inspect(&head, body).unwrap();
        assert!(inspection.stream);
        assert_eq!(
            inspection.capabilities,
            vec![Capability::Vision, Capability::Thinking, Capability::StructuredOutput]
        );
    }
}
