//! The output items the Responses encoders write, shaped exactly as OpenAI writes them:
//! `message` (with `output_text` or `refusal` parts), `reasoning` (a `summary` list that is
//! never null, and `encrypted_content` whenever there is a signature), `function_call`.
//! Shared by the whole-response encoder and the stream encoder (whose `response.completed`
//! carries the same items).

use serde_json::{Value, json};

/// How a message's text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextStyle {
    /// `output_text` parts.
    Output,
    /// `refusal` parts (the model refused).
    Refusal,
}

/// Whether an item is still being streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus {
    /// `in_progress` (in `response.output_item.added`).
    InProgress,
    /// `completed`.
    Completed,
}

impl ItemStatus {
    fn as_str(self) -> &'static str {
        match self {
            ItemStatus::InProgress => "in_progress",
            ItemStatus::Completed => "completed",
        }
    }
}

/// A content part of a message.
pub fn text_part(style: TextStyle, text: &str) -> Value {
    match style {
        TextStyle::Output => json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text}),
        TextStyle::Refusal => json!({"type": "refusal", "refusal": text}),
    }
}

/// An assistant `message` item.
pub fn message(id: &str, status: ItemStatus, content: Vec<Value>) -> Value {
    json!({"id": id, "type": "message", "status": status.as_str(), "content": content, "role": "assistant"})
}

/// A `summary_text` part.
pub fn summary_part(text: &str) -> Value {
    json!({"type": "summary_text", "text": text})
}

/// A `reasoning` item: the summary (empty when there is no text), and the signature as
/// `encrypted_content` when there is one.
pub fn reasoning(id: &str, text: &str, signature: Option<&str>) -> Value {
    let summary = if text.is_empty() {
        json!([])
    } else {
        json!([summary_part(text)])
    };
    let mut item = json!({"id": id, "type": "reasoning", "summary": summary});
    if let Some(sig) = signature {
        item["encrypted_content"] = json!(sig);
    }
    item
}

/// A `function_call` item.
pub fn function_call(id: &str, call_id: &str, name: &str, arguments: &str, status: ItemStatus) -> Value {
    json!({
        "id": id, "type": "function_call", "status": status.as_str(),
        "arguments": arguments, "call_id": call_id, "name": name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let m = message("msg_1", ItemStatus::Completed, vec![text_part(TextStyle::Output, "hi")]);
        assert_eq!(
            m["content"][0],
            json!({"type": "output_text", "annotations": [], "logprobs": [], "text": "hi"})
        );
        assert_eq!(m["status"], "completed");
        assert_eq!(
            text_part(TextStyle::Refusal, "no"),
            json!({"type": "refusal", "refusal": "no"})
        );
        assert_eq!(
            reasoning("rs_1", "", None),
            json!({"id": "rs_1", "type": "reasoning", "summary": []})
        );
        assert_eq!(reasoning("rs_1", "t", Some("S"))["encrypted_content"], "S");
        let f = function_call("fc_1", "call_1", "f", "{}", ItemStatus::InProgress);
        assert_eq!(
            (f["status"].as_str(), f["call_id"].as_str()),
            (Some("in_progress"), Some("call_1"))
        );
    }
}
