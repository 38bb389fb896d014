//! Gemini's content model on the wire: `Content {role, parts}` and the kinds of `Part`, shared
//! by requests, responses and stream chunks, read (borrowing where cheap) and written.
//!
//! A part is one JSON object with one data field set (`text`, `inlineData`, `fileData`,
//! `functionCall`, `functionResponse`, …) plus the `thought` flag and `thoughtSignature`;
//! [`Part::kind`] tells which.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::usage::UsageMetadata;

/// A whole `generateContent` answer, and one chunk of a `streamGenerateContent` stream.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentResponse<'a> {
    /// The answers (Aether converts the first; it only ever asks for one).
    #[serde(borrow, default)]
    pub candidates: Vec<Candidate<'a>>,
    /// Why the prompt was blocked, if it was.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub prompt_feedback: Option<PromptFeedback<'a>>,
    /// Token counts (cumulative in a stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_metadata: Option<UsageMetadata>,
    /// The model that answered.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<Cow<'a, str>>,
    /// The response id.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<Cow<'a, str>>,
    /// An error sent in place of a chunk (`{"error": {code, message, status}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// One candidate answer.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate<'a> {
    /// What the model said.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content<'a>>,
    /// Why it stopped (on the last chunk of a stream).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<Cow<'a, str>>,
    /// The candidate's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

/// `promptFeedback`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback<'a> {
    /// Why the prompt was blocked (`SAFETY`, `OTHER`, …).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub block_reason: Option<Cow<'a, str>>,
}

/// One turn: `{role, parts}`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
pub struct Content<'a> {
    /// `user` or `model` (absent: `user`).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Cow<'a, str>>,
    /// The parts, in order.
    #[serde(borrow, default)]
    pub parts: Vec<Part<'a>>,
}

/// One part of a turn (only the fields Aether converts; the rest is ignored on read).
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Part<'a> {
    /// Text, or thought text when `thought` is true.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Cow<'a, str>>,
    /// Whether the text is the model's thinking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
    /// The opaque signature Gemini expects back on this part in the next turn.
    #[serde(
        alias = "thought_signature",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub thought_signature: Option<Cow<'a, str>>,
    /// Inline base64 data.
    #[serde(alias = "inline_data", borrow, default, skip_serializing_if = "Option::is_none")]
    pub inline_data: Option<Blob<'a>>,
    /// A file by URI.
    #[serde(alias = "file_data", borrow, default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<FileData<'a>>,
    /// A call of a function by the model.
    #[serde(alias = "function_call", borrow, default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionCall<'a>>,
    /// A function's answer, sent by the client.
    #[serde(
        alias = "function_response",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub function_response: Option<FunctionResponse<'a>>,
}

/// `inlineData`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob<'a> {
    /// The MIME type.
    #[serde(alias = "mime_type", borrow, default)]
    pub mime_type: Cow<'a, str>,
    /// The data, base64.
    #[serde(borrow, default)]
    pub data: Cow<'a, str>,
}

/// `fileData`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData<'a> {
    /// The MIME type, if given.
    #[serde(alias = "mime_type", borrow, default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<Cow<'a, str>>,
    /// The file's URI.
    #[serde(alias = "file_uri", borrow, default)]
    pub file_uri: Cow<'a, str>,
}

/// `functionCall`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
pub struct FunctionCall<'a> {
    /// The call id (optional in Gemini).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Cow<'a, str>>,
    /// The function's name.
    #[serde(borrow, default)]
    pub name: Cow<'a, str>,
    /// The arguments, an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
}

/// `functionResponse`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
pub struct FunctionResponse<'a> {
    /// The id of the call it answers (optional in Gemini).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Cow<'a, str>>,
    /// The function's name.
    #[serde(borrow, default)]
    pub name: Cow<'a, str>,
    /// What the function returned, an object.
    #[serde(default)]
    pub response: Value,
}

/// Whether a text part is thinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// The answer.
    Answer,
    /// The model's thinking (`thought: true`).
    Thought,
}

/// What a part holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PartKind<'p, 'a> {
    /// Text of a kind.
    Text(&'p str, TextKind),
    /// Inline data.
    InlineData(&'p Blob<'a>),
    /// A file by URI.
    FileData(&'p FileData<'a>),
    /// A function call.
    FunctionCall(&'p FunctionCall<'a>),
    /// A function response.
    FunctionResponse(&'p FunctionResponse<'a>),
    /// Something Aether does not convert (code execution, video metadata, an empty part).
    Other,
}

impl<'a> Part<'a> {
    /// What the part holds.
    pub fn kind(&self) -> PartKind<'_, 'a> {
        if let Some(call) = &self.function_call {
            PartKind::FunctionCall(call)
        } else if let Some(response) = &self.function_response {
            PartKind::FunctionResponse(response)
        } else if let Some(blob) = &self.inline_data {
            PartKind::InlineData(blob)
        } else if let Some(file) = &self.file_data {
            PartKind::FileData(file)
        } else if let Some(text) = &self.text {
            let kind = if self.thought == Some(true) {
                TextKind::Thought
            } else {
                TextKind::Answer
            };
            PartKind::Text(text, kind)
        } else {
            PartKind::Other
        }
    }

    /// A text part.
    pub fn text(text: impl Into<Cow<'a, str>>) -> Self {
        Part {
            text: Some(text.into()),
            ..Part::default()
        }
    }

    /// A thought part.
    pub fn thought(text: impl Into<Cow<'a, str>>) -> Self {
        Part {
            text: Some(text.into()),
            thought: Some(true),
            ..Part::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let parts: Vec<Part<'_>> = serde_json::from_str(
            r#"[{"text":"a"},{"text":"t","thought":true},{"inlineData":{"mimeType":"image/png","data":"AA"}},
                {"fileData":{"fileUri":"gs://x"}},{"functionCall":{"name":"f","args":{}},"thoughtSignature":"s"},
                {"functionResponse":{"name":"f","response":{}}},{"executableCode":{"code":"1"}}]"#,
        )
        .unwrap();
        assert_eq!(parts[0].kind(), PartKind::Text("a", TextKind::Answer));
        assert_eq!(parts[1].kind(), PartKind::Text("t", TextKind::Thought));
        assert!(matches!(parts[2].kind(), PartKind::InlineData(b) if b.mime_type == "image/png"));
        assert!(matches!(parts[3].kind(), PartKind::FileData(f) if f.file_uri == "gs://x"));
        assert!(matches!(parts[4].kind(), PartKind::FunctionCall(c) if c.name == "f"));
        assert_eq!(parts[4].thought_signature.as_deref(), Some("s"));
        assert!(matches!(parts[5].kind(), PartKind::FunctionResponse(r) if r.name == "f"));
        assert_eq!(parts[6].kind(), PartKind::Other);
    }

    #[test]
    fn writes_camel_case_and_skips_absent_fields() {
        let part = Part {
            thought_signature: Some("sig".into()),
            ..Part::thought("hm")
        };
        assert_eq!(
            serde_json::to_value(&part).unwrap(),
            serde_json::json!({"text": "hm", "thought": true, "thoughtSignature": "sig"})
        );
    }
}
