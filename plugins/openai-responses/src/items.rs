//! The output items the Responses encoders write, shaped exactly as OpenAI writes them and
//! in its field order: `message` (with `output_text` or `refusal` parts), `reasoning` (a
//! `summary` list that is never null, and `encrypted_content` whenever there is a
//! signature), `function_call`. Shared by the whole-response encoder and the stream encoder
//! (whose `response.completed` carries the same items).
//!
//! Items are typed and borrow their text (their ids too, where the encoder keeps them), so that writing one is one pass of serde_json
//! over the text, with no JSON tree built and dropped on the way. The text type `T` is
//! `str`, or a `RawValue` when the stream encoder has escaped a long text once to repeat it
//! in several closing events.

use std::borrow::Cow;

use serde::Serialize;

/// `[]`: the annotations and log-probabilities OpenAI writes, always empty here.
pub const NONE: [(); 0] = [];

/// How a message's text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextStyle {
    /// `output_text` parts.
    Output,
    /// `refusal` parts (the model refused).
    Refusal,
}

/// Whether an item is still being streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// `in_progress` (in `response.output_item.added`).
    InProgress,
    /// `completed`.
    Completed,
}

/// A content part of a message.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part<'a, T: ?Sized + Serialize> {
    /// `{"type": "output_text", "annotations": [], "logprobs": [], "text": …}`.
    OutputText {
        /// Always `[]`.
        annotations: [(); 0],
        /// Always `[]`.
        logprobs: [(); 0],
        /// The text.
        text: &'a T,
    },
    /// `{"type": "refusal", "refusal": …}`.
    Refusal {
        /// The text of the refusal.
        refusal: &'a T,
    },
}

/// A content part of `style` holding `text`.
pub fn text_part<T: ?Sized + Serialize>(style: TextStyle, text: &T) -> Part<'_, T> {
    match style {
        TextStyle::Output => Part::OutputText {
            annotations: NONE,
            logprobs: NONE,
            text,
        },
        TextStyle::Refusal => Part::Refusal { refusal: text },
    }
}

/// A `summary_text` part of a reasoning item.
#[derive(Debug, Serialize)]
pub struct SummaryPart<'a, T: ?Sized + Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a T,
}

/// The `summary_text` part holding `text`.
pub fn summary_part<T: ?Sized + Serialize>(text: &T) -> SummaryPart<'_, T> {
    SummaryPart {
        kind: "summary_text",
        text,
    }
}

/// An assistant `message` item.
#[derive(Debug, Serialize)]
pub struct Message<'a, T: ?Sized + Serialize> {
    id: Cow<'a, str>,
    #[serde(rename = "type")]
    kind: &'static str,
    status: ItemStatus,
    content: Vec<Part<'a, T>>,
    role: &'static str,
}

/// An assistant `message` item with `content`.
pub fn message<'a, T: ?Sized + Serialize>(
    id: impl Into<Cow<'a, str>>,
    status: ItemStatus,
    content: Vec<Part<'a, T>>,
) -> Message<'a, T> {
    Message {
        id: id.into(),
        kind: "message",
        status,
        content,
        role: "assistant",
    }
}

/// A `reasoning` item.
#[derive(Debug, Serialize)]
pub struct Reasoning<'a, T: ?Sized + Serialize> {
    id: Cow<'a, str>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(serialize_with = "list")]
    summary: Option<SummaryPart<'a, T>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypted_content: Option<&'a str>,
}

/// A `reasoning` item: the summary (`[]` when there is no text), and the signature as
/// `encrypted_content` when there is one.
pub fn reasoning<'a, T: ?Sized + Serialize>(
    id: impl Into<Cow<'a, str>>,
    text: Option<&'a T>,
    signature: Option<&'a str>,
) -> Reasoning<'a, T> {
    Reasoning {
        id: id.into(),
        kind: "reasoning",
        summary: text.map(summary_part),
        encrypted_content: signature,
    }
}

/// An optional part as a list: `[]` or `[part]` (OpenAI never writes the summary as null).
fn list<E: Serialize, S: serde::Serializer>(one: &Option<E>, s: S) -> Result<S::Ok, S::Error> {
    one.as_slice().serialize(s)
}

/// A `function_call` item.
#[derive(Debug, Serialize)]
pub struct FunctionCall<'a, T: ?Sized + Serialize> {
    id: Cow<'a, str>,
    #[serde(rename = "type")]
    kind: &'static str,
    status: ItemStatus,
    arguments: &'a T,
    call_id: &'a str,
    name: &'a str,
}

/// A `function_call` item.
pub fn function_call<'a, T: ?Sized + Serialize>(
    id: impl Into<Cow<'a, str>>,
    call_id: &'a str,
    name: &'a str,
    arguments: &'a T,
    status: ItemStatus,
) -> FunctionCall<'a, T> {
    FunctionCall {
        id: id.into(),
        kind: "function_call",
        status,
        arguments,
        call_id,
        name,
    }
}

/// Any output item, for a list of them.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Item<'a, T: ?Sized + Serialize> {
    /// A message.
    Message(Message<'a, T>),
    /// A reasoning item.
    Reasoning(Reasoning<'a, T>),
    /// A function call.
    FunctionCall(FunctionCall<'a, T>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn value(item: impl Serialize) -> Value {
        serde_json::to_value(item).unwrap()
    }

    #[test]
    fn shapes() {
        let m = value(message(
            "msg_1",
            ItemStatus::Completed,
            vec![text_part(TextStyle::Output, "hi")],
        ));
        assert_eq!(
            m,
            json!({"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
                   "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "hi"}]})
        );
        assert_eq!(
            value(text_part(TextStyle::Refusal, "no")),
            json!({"type": "refusal", "refusal": "no"})
        );
        assert_eq!(
            value(reasoning::<str>("rs_1", None, None)),
            json!({"id": "rs_1", "type": "reasoning", "summary": []})
        );
        assert_eq!(
            value(reasoning("rs_1", Some("t"), Some("S"))),
            json!({"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}], "encrypted_content": "S"})
        );
        assert_eq!(
            value(function_call("fc_1", "call_1", "f", "{}", ItemStatus::InProgress)),
            json!({"id": "fc_1", "type": "function_call", "status": "in_progress", "arguments": "{}", "call_id": "call_1", "name": "f"})
        );
    }

    #[test]
    fn fields_come_in_openais_order_and_raw_text_is_written_as_it_is() {
        let raw = serde_json::value::to_raw_value("a \"b\"").unwrap();
        let text = serde_json::to_string(&message(
            "msg_1",
            ItemStatus::Completed,
            vec![text_part(TextStyle::Output, &*raw)],
        ))
        .unwrap();
        assert_eq!(
            text,
            r#"{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"a \"b\""}],"role":"assistant"}"#
        );
    }
}
