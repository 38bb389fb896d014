//! Tool results: Gemini's `functionResponse.response` object ↔ the IR's tool-result content.
//!
//! Encoding: an error becomes `{"error": <text>}`; a text that is a JSON object is sent as
//! that object; any other text as `{"result": <text>}`. Decoding reverses it: an `error` key
//! marks the result as an error, a lone `result` key is unwrapped, any other object is kept
//! as its JSON text.

use aether_plugin_sdk::types::{ToolResult, ToolResultPart};
use serde_json::{Map, Value};

/// Whether a decoded tool result reports a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The tool answered.
    Success,
    /// The tool failed (`error` key).
    Error,
}

/// The text of a tool result's text parts, joined by newlines.
pub fn text_of(result: &ToolResult) -> String {
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|p| match p {
            ToolResultPart::Text(t) => Some(t.as_str()),
            ToolResultPart::Image(_) => None,
        })
        .collect();
    texts.join("\n")
}

/// The `response` object for a tool result.
pub fn response_object(result: &ToolResult) -> Value {
    let text = text_of(result);
    let mut object = Map::new();
    if result.is_error {
        object.insert("error".into(), Value::String(text));
        return Value::Object(object);
    }
    if text.trim_start().starts_with('{')
        && let Ok(Value::Object(parsed)) = serde_json::from_str::<Value>(&text)
    {
        return Value::Object(parsed);
    }
    object.insert("result".into(), Value::String(text));
    Value::Object(object)
}

/// A `response` object as the tool result's text and outcome.
pub fn from_response(response: &Value) -> (String, Outcome) {
    let Value::Object(object) = response else {
        return (value_text(response), Outcome::Success);
    };
    let single = object.len() == 1;
    match (object.get("error"), object.get("result")) {
        (Some(error), _) if single => (value_text(error), Outcome::Error),
        (Some(_), _) => (response.to_string(), Outcome::Error),
        (None, Some(result)) if single => (value_text(result), Outcome::Success),
        _ => (response.to_string(), Outcome::Success),
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(text: &str, is_error: bool) -> ToolResult {
        ToolResult {
            call_id: "c".into(),
            name: None,
            content: vec![ToolResultPart::Text(text.into())],
            is_error,
        }
    }

    #[test]
    fn encodes() {
        assert_eq!(response_object(&result("sunny", false)), json!({"result": "sunny"}));
        assert_eq!(response_object(&result(r#"{"t": 20}"#, false)), json!({"t": 20}));
        assert_eq!(response_object(&result("[1]", false)), json!({"result": "[1]"}));
        assert_eq!(response_object(&result("boom", true)), json!({"error": "boom"}));
    }

    #[test]
    fn decodes() {
        assert_eq!(
            from_response(&json!({"result": "sunny"})),
            ("sunny".into(), Outcome::Success)
        );
        assert_eq!(
            from_response(&json!({"error": "boom"})),
            ("boom".into(), Outcome::Error)
        );
        assert_eq!(from_response(&json!({"error": {"code": 1}, "x": 2})).1, Outcome::Error);
        assert_eq!(
            from_response(&json!({"output": "x"})),
            (r#"{"output":"x"}"#.into(), Outcome::Success)
        );
        assert_eq!(
            from_response(&json!({"result": {"a": 1}})),
            (r#"{"a":1}"#.into(), Outcome::Success)
        );
    }
}
