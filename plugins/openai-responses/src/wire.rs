//! Wire shapes of the Responses API that requests, responses and streams share: an item
//! (`message`, `reasoning`, `function_call`, `function_call_output`, ...), a content part,
//! and the "a string or a list" fields (`input`, `content`, `output`), parsed borrowing
//! from the body where the JSON needs no unescaping.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::stop::Status;
use crate::usage::ResponsesUsage;

/// A field that is a string or a list (`input`, `instructions`, `content`, `output`).
#[derive(Debug, Clone, PartialEq)]
pub enum StrOr<'a, T> {
    /// The string form.
    Str(Cow<'a, str>),
    /// The list form.
    List(Vec<T>),
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for StrOr<'a, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a, T>(PhantomData<(&'a (), T)>);
        impl<'de: 'a, 'a, T: Deserialize<'de>> Visitor<'de> for V<'a, T> {
            type Value = StrOr<'a, T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(StrOr::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(StrOr::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(StrOr::Str(Cow::Owned(s)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(StrOr::List(items))
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// One item of `input` (requests) or `output` (responses, stream `item`s). The item kinds
/// share one flat shape; which fields matter depends on `type`.
#[derive(Debug, Default, Deserialize)]
pub struct Item<'a> {
    /// `message` (the default when absent), `reasoning`, `function_call`,
    /// `function_call_output`, or a kind this plugin does not convert.
    #[serde(borrow, rename = "type", default)]
    pub kind: Option<Cow<'a, str>>,
    /// The item id (`msg_…`, `rs_…`, `fc_…`).
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    /// A message's role: `user`, `assistant`, `system` or `developer`.
    #[serde(borrow, default)]
    pub role: Option<Cow<'a, str>>,
    /// A message's content (a string or parts); a reasoning item's `reasoning_text` parts.
    #[serde(borrow, default)]
    pub content: Option<StrOr<'a, Part<'a>>>,
    /// A reasoning item's summary parts (`summary_text`).
    #[serde(borrow, default)]
    pub summary: Option<Vec<Part<'a>>>,
    /// A reasoning item's opaque reasoning, to send back in later turns.
    #[serde(borrow, default)]
    pub encrypted_content: Option<Cow<'a, str>>,
    /// A function call's id, which its `function_call_output` names.
    #[serde(borrow, default)]
    pub call_id: Option<Cow<'a, str>>,
    /// A function call's function.
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    /// A function call's arguments, a JSON object in text.
    #[serde(borrow, default)]
    pub arguments: Option<Cow<'a, str>>,
    /// A function call output's result (a string or parts).
    #[serde(borrow, default)]
    pub output: Option<StrOr<'a, Part<'a>>>,
}

/// The kinds of item this plugin converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A message (`type` absent or `message`).
    Message,
    /// Reasoning (summary and encrypted content).
    Reasoning,
    /// A function call by the model.
    FunctionCall,
    /// The client's answer to a function call.
    FunctionCallOutput,
    /// A reference to a stored item (needs server-side state).
    ItemReference,
    /// Anything else (built-in tool calls, custom tools, ...): not converted.
    Other,
}

impl Item<'_> {
    /// What kind of item this is.
    pub fn item_kind(&self) -> ItemKind {
        match self.kind.as_deref() {
            None | Some("message") => ItemKind::Message,
            Some("reasoning") => ItemKind::Reasoning,
            Some("function_call") => ItemKind::FunctionCall,
            Some("function_call_output") => ItemKind::FunctionCallOutput,
            Some("item_reference") => ItemKind::ItemReference,
            Some(_) => ItemKind::Other,
        }
    }

    /// A reasoning item's summary texts joined with a blank line (IR.md), or its
    /// `reasoning_text` content when it has no summary.
    pub fn reasoning_text(&self) -> String {
        let summary: Vec<&str> = self
            .summary
            .iter()
            .flatten()
            .filter_map(|p| p.text.as_deref())
            .collect();
        if !summary.is_empty() {
            return summary.join("\n\n");
        }
        match &self.content {
            Some(StrOr::List(parts)) => parts
                .iter()
                .filter_map(|p| p.text.as_deref())
                .collect::<Vec<_>>()
                .join("\n\n"),
            Some(StrOr::Str(s)) => s.clone().into_owned(),
            None => String::new(),
        }
    }
}

/// A content part: `input_text`, `output_text`, `refusal`, `input_image`, `input_file`,
/// `summary_text`, `reasoning_text`.
#[derive(Debug, Default, Deserialize)]
pub struct Part<'a> {
    /// The part's type.
    #[serde(borrow, rename = "type", default)]
    pub kind: Option<Cow<'a, str>>,
    /// The text of a text part.
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
    /// The text of a `refusal` part.
    #[serde(borrow, default)]
    pub refusal: Option<Cow<'a, str>>,
    /// An image's URL (https or a data URI); a string, or `{url}` as some clients send it.
    #[serde(borrow, default)]
    pub image_url: Option<ImageUrl<'a>>,
    /// An uploaded file's id.
    #[serde(borrow, default)]
    pub file_id: Option<Cow<'a, str>>,
    /// A file's data: a data URI, or bare base64.
    #[serde(borrow, default)]
    pub file_data: Option<Cow<'a, str>>,
    /// A file's name.
    #[serde(borrow, default)]
    pub filename: Option<Cow<'a, str>>,
    /// A file's URL.
    #[serde(borrow, default)]
    pub file_url: Option<Cow<'a, str>>,
}

/// The kinds of content part this plugin converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// `input_text`, `output_text`, `summary_text`, `reasoning_text` (or untyped text).
    Text,
    /// `refusal`.
    Refusal,
    /// `input_image`.
    Image,
    /// `input_file`.
    File,
    /// Anything else (audio, ...): not converted.
    Other,
}

impl Part<'_> {
    /// What kind of part this is.
    pub fn part_kind(&self) -> PartKind {
        match self.kind.as_deref() {
            Some("input_text" | "output_text" | "text" | "summary_text" | "reasoning_text") => PartKind::Text,
            None if self.text.is_some() => PartKind::Text,
            Some("refusal") => PartKind::Refusal,
            Some("input_image") => PartKind::Image,
            Some("input_file") => PartKind::File,
            _ => PartKind::Other,
        }
    }
}

/// `image_url` as a string or as `{"url": ...}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ImageUrl<'a> {
    /// The Responses form: a string.
    Url(#[serde(borrow)] Cow<'a, str>),
    /// The Chat form: an object.
    Object {
        /// The URL.
        #[serde(borrow)]
        url: Cow<'a, str>,
    },
}

impl ImageUrl<'_> {
    /// The URL.
    pub fn url(&self) -> &str {
        match self {
            ImageUrl::Url(u) | ImageUrl::Object { url: u } => u,
        }
    }
}

/// A response object: a whole (non-streamed) body, or the `response` of a stream's
/// `response.created` / `.completed` / `.incomplete` / `.failed` event.
#[derive(Default, Deserialize)]
pub struct ResponseObject<'a> {
    /// `resp_…`.
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    /// The model that answered.
    #[serde(borrow, default)]
    pub model: Option<Cow<'a, str>>,
    /// `completed`, `incomplete`, `failed`, `in_progress`, ...
    #[serde(borrow, default)]
    pub status: Option<Cow<'a, str>>,
    /// Why an incomplete response stopped.
    #[serde(borrow, default)]
    pub incomplete_details: Option<IncompleteDetails<'a>>,
    /// The output items.
    #[serde(borrow, default)]
    pub output: Option<Vec<Item<'a>>>,
    /// Tokens used.
    #[serde(default)]
    pub usage: Option<ResponsesUsage>,
    /// What failed, for a failed response.
    #[serde(borrow, default)]
    pub error: Option<ResponseError<'a>>,
}

impl ResponseObject<'_> {
    /// The response's status.
    pub fn status(&self) -> Status {
        Status::parse(
            self.status.as_deref(),
            self.incomplete_details.as_ref().and_then(|d| d.reason.as_deref()),
        )
    }
}

/// `incomplete_details`.
#[derive(Debug, Default, Deserialize)]
pub struct IncompleteDetails<'a> {
    /// `max_output_tokens` or `content_filter`.
    #[serde(borrow, default)]
    pub reason: Option<Cow<'a, str>>,
}

/// A failed response's `error`, and the stream's `error` event.
#[derive(Debug, Default, Deserialize)]
pub struct ResponseError<'a> {
    /// OpenAI's error code.
    #[serde(borrow, default)]
    pub code: Option<Cow<'a, str>>,
    /// What went wrong.
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_default_to_messages_and_parts_have_kinds() {
        let i: Item<'_> = serde_json::from_str(r#"{"role":"user","content":"hi"}"#).unwrap();
        assert_eq!(i.item_kind(), ItemKind::Message);
        assert!(matches!(i.content, Some(StrOr::Str(Cow::Borrowed("hi")))));
        let i: Item<'_> = serde_json::from_str(r#"{"type":"web_search_call"}"#).unwrap();
        assert_eq!(i.item_kind(), ItemKind::Other);
        let p: Part<'_> = serde_json::from_str(r#"{"type":"input_image","image_url":{"url":"u"}}"#).unwrap();
        assert_eq!(p.part_kind(), PartKind::Image);
        assert_eq!(p.image_url.unwrap().url(), "u");
    }

    #[test]
    fn reasoning_text_joins_summaries() {
        let i: Item<'_> = serde_json::from_str(
            r#"{"type":"reasoning","summary":[{"type":"summary_text","text":"a"},{"type":"summary_text","text":"b"}]}"#,
        )
        .unwrap();
        assert_eq!(i.reasoning_text(), "a\n\nb");
        let i: Item<'_> = serde_json::from_str(
            r#"{"type":"reasoning","summary":[],"content":[{"type":"reasoning_text","text":"r"}]}"#,
        )
        .unwrap();
        assert_eq!(i.reasoning_text(), "r");
    }

    #[test]
    fn output_as_string_or_parts() {
        let i: Item<'_> = serde_json::from_str(
            r#"{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"x"}]}"#,
        )
        .unwrap();
        assert!(matches!(i.output, Some(StrOr::List(ref p)) if p.len() == 1));
    }
}
