//! JSON helpers for plugins: parse a client body with an error that says where it is wrong,
//! find a top-level value's byte span without building a tree (so the host can splice the
//! model name instead of re-serialising a multi-megabyte body), and accept the
//! "string or list of parts" fields every LLM format has.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

use crate::types::{ByteSpan, PluginError};

/// Parses a client's request body. An empty body, a syntax error (with line and column) and
/// a body of the wrong shape each get a client-facing message.
pub fn parse_request<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, PluginError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(PluginError::InvalidRequest(
            "request body is empty; a JSON object is required".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            PluginError::InvalidRequest(format!("request body is not a valid request: {e}"))
        }
        _ => PluginError::InvalidRequest(format!("request body is not valid JSON: {e}")),
    })
}

/// The byte range of a top-level key's value (quotes included for strings) in a JSON
/// object. `None` when the key is absent or the text is not an object.
pub fn top_level_value_span(json: &[u8], key: &str) -> Option<Range<usize>> {
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

/// A range as the WIT `byte-span` (bodies are far below 4 GiB: the host caps them).
pub fn byte_span(range: Range<usize>) -> Option<ByteSpan> {
    Some(ByteSpan {
        start: u32::try_from(range.start).ok()?,
        end: u32::try_from(range.end).ok()?,
    })
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while json.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// `i` is at an opening quote; returns the index after the closing quote. Most of an LLM
/// request's bytes are inside strings, so this jumps from quote or backslash to the next
/// with `memchr` (SIMD, also in Wasm) instead of stepping byte by byte.
fn skip_string(json: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', json.get(i..)?)?;
        match json.get(i)? {
            b'\\' => i += 2,
            _ => return Some(i + 1),
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

/// A field that is either a plain string or a list of parts (message `content`, `system`,
/// Responses `input`). Deserialised without buffering, so a large body is read once.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum TextOrParts<T> {
    /// The string form.
    #[default]
    Text,
    /// The list form.
    Parts(Vec<T>),
}

impl<T> TextOrParts<T> {
    /// The parts (none for the string form).
    pub fn parts(&self) -> &[T] {
        match self {
            TextOrParts::Text => &[],
            TextOrParts::Parts(parts) => parts,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for TextOrParts<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = TextOrParts<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of parts")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(TextOrParts::Text)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(TextOrParts::Text)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(part) = seq.next_element()? {
                    parts.push(part);
                }
                Ok(TextOrParts::Parts(parts))
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_key_after_nested_values() {
        let body = br#"{"messages":[{"content":"say \"model\": {x}"}],"max_tokens":5, "model" : "a\"b","stream":true}"#;
        let span = top_level_value_span(body, "model").unwrap();
        assert_eq!(&body[span], br#""a\"b""#);
        assert!(top_level_value_span(body, "absent").is_none());
        assert!(top_level_value_span(b"[1]", "model").is_none());
    }

    #[test]
    fn parse_errors_say_where() {
        let err = parse_request::<serde_json::Value>(b"{\n  \"model\": \"m\",\n  oops\n}").unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidRequest(m) if m.contains("line 3 column 3")),
            "{err:?}"
        );
        assert!(parse_request::<serde_json::Value>(b" ").is_err());
    }

    #[test]
    fn text_or_parts() {
        #[derive(serde::Deserialize)]
        struct M {
            content: TextOrParts<serde_json::Value>,
        }
        let m: M = serde_json::from_str(r#"{"content":"hi"}"#).unwrap();
        assert!(m.content.parts().is_empty());
        let m: M = serde_json::from_str(r#"{"content":[{"type":"text"},{"type":"image"}]}"#).unwrap();
        assert_eq!(m.content.parts().len(), 2);
    }
}
