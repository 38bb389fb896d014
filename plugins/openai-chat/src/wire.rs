//! Wire shapes shared by requests, responses and streams: the "a string or a list" fields
//! (message `content`, `stop`) and an assistant's `tool_calls`, parsed borrowing from the
//! body where the JSON needs no unescaping.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// A field that is a string or a list (`content`, `stop`).
#[derive(Debug, Clone, PartialEq)]
pub enum StringOr<'a, T> {
    /// The string form.
    Str(Cow<'a, str>),
    /// The list form.
    List(Vec<T>),
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for StringOr<'a, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a, T>(PhantomData<(&'a (), T)>);
        impl<'de: 'a, 'a, T: Deserialize<'de>> Visitor<'de> for V<'a, T> {
            type Value = StringOr<'a, T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(StringOr::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(StringOr::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(StringOr::Str(Cow::Owned(s)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(StringOr::List(items))
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// One entry of an assistant message's `tool_calls` (whole, in requests and responses).
#[derive(Debug, Deserialize)]
pub struct ToolCall<'a> {
    /// The call id.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// `function` (other kinds, such as `custom`, are not converted).
    #[serde(borrow, rename = "type", default)]
    pub kind: Option<Cow<'a, str>>,
    /// The function called.
    #[serde(borrow, default)]
    pub function: Option<FunctionCall<'a>>,
}

/// A function call's name and arguments (a JSON text).
#[derive(Debug, Deserialize)]
pub struct FunctionCall<'a> {
    /// The function's name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// The arguments, a JSON object in text (may be empty).
    #[serde(borrow, default)]
    pub arguments: Option<Cow<'a, str>>,
}

/// Arguments as the IR carries them: the text as sent, or `{}` when there is none.
pub fn arguments_json(arguments: Option<&str>) -> String {
    match arguments {
        Some(a) if !a.trim().is_empty() => a.to_owned(),
        _ => "{}".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        v: StringOr<'a, Cow<'a, str>>,
    }

    #[test]
    fn string_or_list() {
        let p: Probe<'_> = serde_json::from_str(r#"{"v":"a"}"#).unwrap();
        assert!(matches!(p.v, StringOr::Str(Cow::Borrowed("a"))));
        let p: Probe<'_> = serde_json::from_str(r#"{"v":"a\nb"}"#).unwrap();
        assert_eq!(p.v, StringOr::Str(Cow::Owned("a\nb".into())));
        let p: Probe<'_> = serde_json::from_str(r#"{"v":["x","y"]}"#).unwrap();
        assert_eq!(p.v, StringOr::List(vec![Cow::Borrowed("x"), Cow::Borrowed("y")]));
        assert!(serde_json::from_str::<Probe<'_>>(r#"{"v":1}"#).is_err());
    }

    #[test]
    fn tool_calls_and_empty_arguments() {
        let c: ToolCall<'_> =
            serde_json::from_str(r#"{"id":"call_1","type":"function","function":{"name":"f","arguments":""}}"#)
                .unwrap();
        assert_eq!(c.id, "call_1");
        let f = c.function.unwrap();
        assert_eq!(arguments_json(f.arguments.as_deref()), "{}");
        assert_eq!(arguments_json(Some("{\"a\":1}")), "{\"a\":1}");
    }
}
