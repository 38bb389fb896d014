//! The host's side of splices (the stream fast path of the plugin contract): whether an
//! upstream event fits the decoder's splice ([`Matcher`]), and the JSON string body it
//! carries.
//!
//! A decoder's splice promises that an event of its name whose data is `head` + S + `tail`,
//! S the body of a JSON string, is one delta of S unescaped; an encoder's, that it writes
//! that delta as its `head` + S + its `tail`. Both sides are JSON, so S goes from one to the
//! other as it is, escapes and all, once it is checked to be a string body: no unescaped
//! quote or control character, only JSON's escapes, surrogates in pairs. An event that does
//! not fit goes through the plugins as any other.

use crate::plugin_host::bindings::types::{BlockDelta, DecodeSplice, DeltaKind, SpliceKey, SpliceKind, StreamEvent};

/// A decoder's splice as the host matches events against it.
///
/// Most streams frame each event on one `data:` line (after an `event:` line, for named
/// events), so a fitting event is usually, byte for byte, that framing of the splice's head,
/// then the string body, then its tail: [`Matcher::raw_body`] checks that on the raw event,
/// without parsing its fields or validating all of it as UTF-8. Any other framing (CRLF
/// line ends, `data:` without a space, several lines) is matched after parsing, by
/// [`Matcher::body`].
#[derive(Debug)]
pub struct Matcher {
    splice: DecodeSplice,
    /// `event: NAME\ndata: HEAD` (or `data: HEAD`); `None` when the head or tail holds a
    /// line break or carriage return, so that a raw match is always one `data:` line.
    framed_head: Option<Box<[u8]>>,
}

impl Matcher {
    /// Prepares `splice` for matching.
    pub fn new(splice: DecodeSplice) -> Self {
        let breaks = |s: &str| s.bytes().any(|b| b == b'\n' || b == b'\r');
        let framed_head = (!breaks(&splice.head)
            && !breaks(&splice.tail)
            && !splice.name.as_deref().is_some_and(breaks))
        .then(|| {
            let mut framed = Vec::with_capacity(splice.head.len() + 32);
            if let Some(name) = &splice.name {
                framed.extend_from_slice(b"event: ");
                framed.extend_from_slice(name.as_bytes());
                framed.push(b'\n');
            }
            framed.extend_from_slice(b"data: ");
            framed.extend_from_slice(splice.head.as_bytes());
            framed.into_boxed_slice()
        });
        Matcher { splice, framed_head }
    }

    /// The splice's key.
    pub fn key(&self) -> SpliceKey {
        self.splice.key
    }

    /// The string body of a raw event (as [`crate::sse::raw_events`] yields) framed on one
    /// line as the module docs say, if it fits; `None` does not mean the event does not fit
    /// once parsed.
    pub fn raw_body<'r>(&self, raw: &'r [u8]) -> Option<&'r str> {
        let head = self.framed_head.as_deref()?;
        let tail = self.splice.tail.as_bytes();
        if raw.len() <= head.len() + tail.len() {
            return None;
        }
        let body = raw.strip_prefix(head)?.strip_suffix(tail)?;
        // A string body holds no line break, so the event is exactly that one line.
        if !is_string_body(body) {
            return None;
        }
        std::str::from_utf8(body).ok()
    }

    /// The string body `data` carries in the splice's place, if the event (`name`, `data`
    /// parsed) fits it.
    pub fn body<'d>(&self, name: Option<&str>, data: &'d str) -> Option<&'d str> {
        let splice = &self.splice;
        if splice.name.as_deref() != name || data.len() <= splice.head.len() + splice.tail.len() {
            return None;
        }
        let body = data
            .strip_prefix(splice.head.as_str())?
            .strip_suffix(splice.tail.as_str())?;
        is_string_body(body.as_bytes()).then_some(body)
    }
}

/// The IR delta a decoder's splice promises an event with string body `body` decodes to
/// (`body` as [`Matcher::body`] returned it); `None` if it does not unescape.
pub fn delta(key: SpliceKey, body: &str) -> Option<StreamEvent> {
    let text = unescape(body)?.into_owned();
    let delta = match key.kind {
        SpliceKind::Text => DeltaKind::Text(text),
        SpliceKind::Thinking => DeltaKind::Thinking(text),
        SpliceKind::ToolArguments => DeltaKind::ToolArguments(text),
    };
    Some(StreamEvent::BlockDelta(BlockDelta {
        index: key.index,
        delta,
    }))
}

/// The text of a string body (as [`Matcher::body`] returned it); `None` if it does not
/// unescape.
pub fn unescape(body: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !body.contains('\\') {
        return Some(std::borrow::Cow::Borrowed(body));
    }
    let mut quoted = String::with_capacity(body.len() + 2);
    quoted.push('"');
    quoted.push_str(body);
    quoted.push('"');
    serde_json::from_str::<String>(&quoted)
        .ok()
        .map(std::borrow::Cow::Owned)
}

/// Whether `bytes` is what may stand between a JSON string's quotes. A scan rather than
/// `serde_json`, which would build the string: this runs on every streamed delta.
fn is_string_body(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | 0..0x20 => return false,
            b'\\' => match bytes.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => match unicode_escape(bytes, i) {
                    Some(len) => i += len,
                    None => return false,
                },
                _ => return false,
            },
            _ => i += 1,
        }
    }
    true
}

/// The length of the `\uXXXX` escape at `at` (twelve bytes for a surrogate pair), or `None`
/// when it is malformed or a lone surrogate.
fn unicode_escape(bytes: &[u8], at: usize) -> Option<usize> {
    let unit = |at: usize| -> Option<u16> {
        let hex = bytes.get(at + 2..at + 6)?;
        if bytes.get(at..at + 2)? != b"\\u" {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    match unit(at)? {
        0xD800..=0xDBFF => matches!(unit(at + 6)?, 0xDC00..=0xDFFF).then_some(12),
        0xDC00..=0xDFFF => None,
        _ => Some(6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splice() -> Matcher {
        Matcher::new(DecodeSplice {
            key: SpliceKey {
                kind: SpliceKind::Text,
                index: 0,
            },
            name: None,
            head: r#"{"d":""#.into(),
            tail: r#"","n":1}"#.into(),
        })
    }

    #[test]
    fn an_event_of_the_same_shape_fits() {
        let s = splice();
        assert_eq!(s.body(None, r#"{"d":"hi there","n":1}"#), Some("hi there"));
        assert_eq!(
            s.body(None, r#"{"d":"a\"b\\n\u00e9\ud83d\ude00","n":1}"#),
            Some(r#"a\"b\\n\u00e9\ud83d\ude00"#)
        );
    }

    #[test]
    fn a_body_decodes_to_its_delta() {
        let key = SpliceKey {
            kind: SpliceKind::ToolArguments,
            index: 2,
        };
        let delta = |body| match delta(key, body) {
            Some(StreamEvent::BlockDelta(BlockDelta {
                index: 2,
                delta: DeltaKind::ToolArguments(text),
            })) => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(delta("plain"), "plain");
        assert_eq!(delta(r#"{\"a\":\"\u00e9\ud83d\ude00\n\"}"#), "{\"a\":\"é😀\n\"}");
    }

    #[test]
    fn anything_else_does_not() {
        let s = splice();
        // Another name, another shape, an empty body.
        assert_eq!(s.body(Some("delta"), r#"{"d":"hi","n":1}"#), None);
        assert_eq!(s.body(None, r#"{"d":"hi","n":2}"#), None);
        assert_eq!(s.body(None, r#"{"d":"","n":1}"#), None);
        // A body that would end the string early, or is not a JSON string's body.
        assert_eq!(s.body(None, r#"{"d":"a","x":"b","n":1}"#), None);
        assert_eq!(s.body(None, "{\"d\":\"a\nb\",\"n\":1}"), None);
        assert_eq!(s.body(None, r#"{"d":"a\qb","n":1}"#), None);
        assert_eq!(s.body(None, r#"{"d":"a\u12","n":1}"#), None);
        assert_eq!(s.body(None, r#"{"d":"\ud83d","n":1}"#), None);
        assert_eq!(s.body(None, r#"{"d":"\ude00x","n":1}"#), None);
        assert_eq!(s.body(None, r#"{"d":"a\","n":1}"#), None);
    }

    #[test]
    fn a_raw_event_framed_on_one_line_fits_without_parsing() {
        let s = splice();
        assert_eq!(s.raw_body(br#"data: {"d":"hi there","n":1}"#), Some("hi there"));
        assert_eq!(s.raw_body(br#"data: {"d":"\u00e9\"","n":1}"#), Some(r#"\u00e9\""#));
        let named = Matcher::new(DecodeSplice {
            name: Some("delta".into()),
            ..splice().splice
        });
        assert_eq!(
            named.raw_body(b"event: delta\ndata: {\"d\":\"hi\",\"n\":1}"),
            Some("hi")
        );
        assert_eq!(named.raw_body(br#"data: {"d":"hi","n":1}"#), None);
        // Other framings are left to the parsed path, which still matches them.
        for other in [
            &br#"data:{"d":"hi","n":1}"#[..],
            b"data: {\"d\":\"h\ndata: i\",\"n\":1}",
            b"id: 7\ndata: {\"d\":\"hi\",\"n\":1}",
        ] {
            assert_eq!(s.raw_body(other), None, "{}", String::from_utf8_lossy(other));
        }
        assert_eq!(s.body(None, r#"{"d":"hi","n":1}"#), Some("hi"));
        // Not a string body, not UTF-8, nothing in the middle.
        assert_eq!(s.raw_body(br#"data: {"d":"a","x":"b","n":1}"#), None);
        assert_eq!(s.raw_body(b"data: {\"d\":\"\xff\",\"n\":1}"), None);
        assert_eq!(s.raw_body(br#"data: {"d":"","n":1}"#), None);
        // A head with a line break never matches raw: its event spans several lines.
        let multiline = Matcher::new(DecodeSplice {
            head: "{\n\"d\":\"".into(),
            ..splice().splice
        });
        assert_eq!(multiline.raw_body(b"data: {\n\"d\":\"hi\",\"n\":1}"), None);
    }
}
