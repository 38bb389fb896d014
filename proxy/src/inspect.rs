//! Inspect: the routing facts of a request, as the client format's plugin reported them,
//! and the same-format body rewrites (the model name; OpenAI stream usage).
//!
//! The plugin's `inspect` reads the body once and says where the `model` value sits, so the
//! rewrite is a splice, not a re-serialisation of a multi-megabyte body.

use std::ops::Range;

use aether_plugin_sdk::json::top_level_value_span;
use bytes::{Bytes, BytesMut};

use crate::capability::Capabilities;
use crate::error::GatewayError;
use crate::plugin_host::bindings::types::{Inspection, PluginError};

/// Whether the body names the routed model as it is, so an unchanged model needs no rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyModel {
    /// The body's `model` is the routed model.
    Same,
    /// The body's `model` differs (a plugin routed on another name).
    Differs,
    /// The model is not in the body (Gemini: the path).
    Absent,
}

/// What routing needs to know about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// The model the client asked for (as the plugin read it).
    pub model: String,
    /// Whether the client wants a stream.
    pub stream: bool,
    /// Where the `model` value (quotes included) sits in the body, for the rewrite.
    pub model_span: Option<Range<usize>>,
    /// How the body's model relates to [`RequestFacts::model`].
    pub body_model: BodyModel,
    /// What the request needs from an upstream.
    pub capabilities: Capabilities,
    /// The plugin's estimate of the input tokens.
    pub estimated_input_tokens: u32,
    /// The most output tokens the request allows, when it names a limit.
    pub max_output_tokens: Option<u32>,
}

/// The facts from a plugin's inspection of `body`, or the client error it found.
pub fn facts(inspection: Result<Inspection, PluginError>, body: &[u8]) -> Result<RequestFacts, GatewayError> {
    let inspection = inspection.map_err(|e| match e {
        PluginError::InvalidRequest(message) | PluginError::Unsupported(message) => {
            GatewayError::InvalidRequest(message)
        }
        PluginError::Internal(message) => {
            GatewayError::InvalidRequest(format!("the request could not be read: {message}"))
        }
    })?;
    let model = inspection.model.ok_or(GatewayError::MissingModel)?;
    let model_span = inspection.model_span.map(|s| s.start as usize..s.end as usize);
    let body_model = match &model_span {
        None => BodyModel::Absent,
        Some(span) => {
            let written = body
                .get(span.clone())
                .and_then(|raw| serde_json::from_slice::<String>(raw).ok());
            if written.as_deref() == Some(model.as_str()) {
                BodyModel::Same
            } else {
                BodyModel::Differs
            }
        }
    };
    Ok(RequestFacts {
        model,
        stream: inspection.stream,
        model_span,
        body_model,
        capabilities: inspection.capabilities.into_iter().map(Into::into).collect(),
        estimated_input_tokens: inspection.estimated_input_tokens,
        max_output_tokens: inspection.max_output_tokens,
    })
}

/// The body with its top-level `model` replaced by `upstream_model`.
pub fn rewrite_model(body: &Bytes, facts: &RequestFacts, upstream_model: &str) -> Bytes {
    let Some(span) = facts.model_span.clone() else {
        return body.clone();
    };
    let encoded = serde_json::Value::from(upstream_model).to_string();
    let mut out = BytesMut::with_capacity(body.len() + encoded.len());
    out.extend_from_slice(&body[..span.start]);
    out.extend_from_slice(encoded.as_bytes());
    out.extend_from_slice(&body[span.end..]);
    out.freeze()
}

/// Whether an OpenAI Chat request already asks for usage in its stream
/// (`stream_options.include_usage: true`).
pub fn asks_for_stream_usage(body: &[u8]) -> bool {
    top_level_value_span(body, "stream_options").is_some_and(|span| {
        serde_json::from_slice::<serde_json::Value>(&body[span])
            .is_ok_and(|o| o.get("include_usage").and_then(serde_json::Value::as_bool) == Some(true))
    })
}

/// Adds `stream_options.include_usage: true` to an OpenAI Chat request, without which
/// OpenAI streams carry no token counts and the request could not be billed. The relay
/// keeps the usage chunk from a client that did not ask for it.
pub fn with_stream_usage(body: &Bytes) -> Bytes {
    match top_level_value_span(body, "stream_options") {
        // The common case: no stream_options at all. Splice one in after the opening brace.
        None => {
            let Some(open) = body.iter().position(|b| *b == b'{') else {
                return body.clone();
            };
            let mut out = BytesMut::with_capacity(body.len() + 40);
            out.extend_from_slice(&body[..=open]);
            out.extend_from_slice(br#""stream_options":{"include_usage":true}"#);
            let rest = &body[open + 1..];
            if rest.iter().any(|b| !b.is_ascii_whitespace() && *b != b'}') {
                out.extend_from_slice(b",");
            }
            out.extend_from_slice(rest);
            out.freeze()
        }
        Some(span) => {
            let mut options = match serde_json::from_slice::<serde_json::Value>(&body[span.clone()]) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            };
            options.insert("include_usage".into(), serde_json::Value::Bool(true));
            let encoded = serde_json::Value::Object(options).to_string();
            let mut out = BytesMut::with_capacity(body.len() + 24);
            out.extend_from_slice(&body[..span.start]);
            out.extend_from_slice(encoded.as_bytes());
            out.extend_from_slice(&body[span.end..]);
            out.freeze()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin_host::bindings::types::ByteSpan;

    #[test]
    fn rewrites_the_model_in_place() {
        let body = br#"{"messages":[{"content":"say \"model\": {x}"}],"max_tokens":5, "model" : "a\"b","stream":true}"#;
        let span = top_level_value_span(body, "model").unwrap();
        let inspection = Inspection {
            model: Some("a\"b".into()),
            model_span: Some(ByteSpan {
                start: span.start as u32,
                end: span.end as u32,
            }),
            stream: true,
            capabilities: vec![],
            estimated_input_tokens: 1,
            max_output_tokens: Some(5),
        };
        let facts = facts(Ok(inspection), body).unwrap();
        assert_eq!(facts.body_model, BodyModel::Same);
        let out = rewrite_model(&Bytes::from_static(body), &facts, "upstream-x");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "upstream-x");
        assert_eq!(v["messages"][0]["content"], "say \"model\": {x}");
    }

    #[test]
    fn plugin_verdicts_become_client_errors() {
        let err = facts(Err(PluginError::InvalidRequest("line 3 column 3".into())), b"").unwrap_err();
        assert_eq!(err.status(), 400);
        let no_model = Inspection {
            model: None,
            model_span: None,
            stream: false,
            capabilities: vec![],
            estimated_input_tokens: 0,
            max_output_tokens: None,
        };
        assert!(matches!(facts(Ok(no_model), b"{}"), Err(GatewayError::MissingModel)));
    }

    #[test]
    fn stream_usage_is_requested() {
        let body = Bytes::from_static(br#"{"model":"m","stream":true}"#);
        assert!(!asks_for_stream_usage(&body));
        let v: serde_json::Value = serde_json::from_slice(&with_stream_usage(&body)).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["model"], "m");
        let other = Bytes::from_static(br#"{"model":"m","stream_options":{"x":1}}"#);
        assert!(!asks_for_stream_usage(&other));
        let v: serde_json::Value = serde_json::from_slice(&with_stream_usage(&other)).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["stream_options"]["x"], 1);
        assert!(asks_for_stream_usage(
            br#"{"stream_options":{"include_usage":true},"model":"m"}"#
        ));
        let empty = Bytes::from_static(b"{}");
        assert_eq!(
            &with_stream_usage(&empty)[..],
            br#"{"stream_options":{"include_usage":true}}"#
        );
    }
}
