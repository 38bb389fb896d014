//! Inspect: the routing facts of a request body (model, stream flag), read once, and the
//! same-format body rewrite (only the model name changes).
//!
//! This is the seam where the format plugins' `inspect` plugs in. The body is validated
//! as JSON in one pass (errors say where: line and column) without building a tree, and the
//! top-level `model` value is located by a scanner so the rewrite is a splice, not a
//! re-serialisation of a multi-megabyte body.

use std::borrow::Cow;
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use serde::Deserialize;

use crate::error::GatewayError;
use crate::format::WireFormat;
use crate::ingress::{GeminiAction, GeminiTarget};

/// What routing needs to know about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// The model the client asked for.
    pub model: String,
    /// Whether the client wants a stream.
    pub stream: bool,
    /// Where the `model` value (quotes included) sits in the body, for the rewrite.
    pub model_span: Option<Range<usize>>,
}

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    stream: Option<bool>,
}

/// Reads the routing facts from a request body of `format`.
pub fn inspect(format: WireFormat, body: &[u8], gemini: Option<&GeminiTarget>) -> Result<RequestFacts, GatewayError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(GatewayError::InvalidRequest(
            "request body is empty; a JSON object is required".into(),
        ));
    }
    let probe: Probe<'_> = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => GatewayError::InvalidRequest(format!(
            "request body must be a JSON object with a string \"model\": {e}"
        )),
        _ => GatewayError::MalformedJson(e.to_string()),
    })?;
    if let Some(target) = gemini {
        return Ok(RequestFacts {
            model: target.model.clone(),
            stream: target.action == GeminiAction::StreamGenerate,
            model_span: None,
        });
    }
    debug_assert!(format.model_in_body());
    let model = probe.model.ok_or(GatewayError::MissingModel)?.into_owned();
    let model_span = top_level_value_span(body, "model");
    Ok(RequestFacts {
        model,
        stream: probe.stream.unwrap_or(false),
        model_span,
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

/// Finds the byte range of a top-level key's value in a valid JSON object.
fn top_level_value_span(json: &[u8], key: &str) -> Option<Range<usize>> {
    let mut i = skip_ws(json, 0);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(json, i);
        match json.get(i)? {
            b'}' => return None,
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = skip_string(json, i)?;
        let is_key = &json[i + 1..key_end - 1] == key.as_bytes();
        i = skip_ws(json, key_end);
        if json.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(json, i + 1);
        let end = skip_value(json, start)?;
        if is_key {
            return Some(start..end);
        }
        i = end;
    }
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while json.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// `i` is at an opening quote; returns the index after the closing quote.
fn skip_string(json: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match json.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

fn skip_value(json: &[u8], i: usize) -> Option<usize> {
    match json.get(i)? {
        b'"' => skip_string(json, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match json.get(j)? {
                    b'"' => {
                        j = skip_string(json, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while json
                .get(j)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                j += 1;
            }
            Some(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_model_after_nested_values() {
        let body = br#"{"messages":[{"content":"say \"model\": {x}"}],"max_tokens":5, "model" : "a\"b","stream":true}"#;
        let facts = inspect(WireFormat::Claude, body, None).unwrap();
        assert_eq!(facts.model, "a\"b");
        assert!(facts.stream);
        let out = rewrite_model(&Bytes::from_static(body), &facts, "upstream-x");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "upstream-x");
        assert_eq!(v["messages"][0]["content"], "say \"model\": {x}");
    }

    #[test]
    fn malformed_json_says_where() {
        let err = inspect(WireFormat::OpenaiChat, b"{\n  \"model\": \"m\",\n  oops\n}", None).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("line 3 column 3"), "{err}");
        assert!(matches!(
            inspect(WireFormat::OpenaiChat, b"{}", None),
            Err(GatewayError::MissingModel)
        ));
        assert!(matches!(
            inspect(WireFormat::OpenaiChat, b"[1]", None),
            Err(GatewayError::InvalidRequest(_))
        ));
        assert!(matches!(
            inspect(WireFormat::OpenaiChat, b"", None),
            Err(GatewayError::InvalidRequest(_))
        ));
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

    #[test]
    fn gemini_takes_model_from_path() {
        let target = GeminiTarget {
            model: "g".into(),
            action: GeminiAction::StreamGenerate,
        };
        let facts = inspect(WireFormat::Gemini, br#"{"contents":[]}"#, Some(&target)).unwrap();
        assert_eq!(
            (facts.model.as_str(), facts.stream, facts.model_span),
            ("g", true, None)
        );
    }
}
