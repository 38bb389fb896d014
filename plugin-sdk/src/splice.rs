//! Splices: how a stream decoder and encoder let the host convert the common event of a long
//! stream (one more piece of text for the open block) without calling them.
//!
//! A decoder that has just turned an event into a lone delta describes the event as the bytes
//! around the delta's JSON string ([`DecodeSplice`]); an encoder describes how it would write
//! a delta of that kind and block ([`EncodeSplice`]). The host then copies the string's
//! escaped body from the upstream's event into the client's bytes (both are JSON strings), and
//! neither plugin runs. A splice holds until the plugin's next call, so it must only be
//! offered from a state that such an event (or delta) would leave exactly as it is: a block
//! already open, the stream already started.
//!
//! The decoder side: remember where the delta's text lies in the event's data while decoding
//! (with [`span`], which finds a borrowed `&str` inside the data, so an unescaped string costs
//! nothing to locate and an escaped one is simply not offered), and build the splice with
//! [`decode_splice`] in [`crate::StreamDecode::splice`]. The SDK's adapter offers it only when
//! the event decoded to exactly one delta of the splice's key, and only when the splice
//! reproduces that event and its text ([`reproduces`]).
//!
//! The encoder side: in [`crate::StreamEncode::splice`], write the delta with [`PROBE`] as its
//! text through the encoder's own code and cut the bytes around it with [`encode_splice`].
//! An encoder that numbers its events (the Responses format's `sequence_number`) writes the
//! probe delta numbered [`COUNTER_PROBE`] and cuts it with [`encode_splice_counted`]: the host
//! writes each spliced event's number in that place, and hands the encoder's next `push` a
//! [`crate::types::SplicedRun`] ([`crate::StreamEncode::spliced`]) saying how many deltas it
//! wrote and their text.

use std::ops::Range;

use crate::types::{
    BlockDelta, DecodeSplice, DeltaKind, EncodeSplice, SpliceCounter, SpliceKey, SpliceKind, SseEvent, StreamEvent,
};

/// The text an encoder writes in place of a delta's text to find where the text goes. It
/// needs no JSON escaping, so it appears verbatim in the encoded bytes.
pub const PROBE: &str = "aether-splice-probe-3f9c2a";

/// The number a counting encoder writes in place of its event counter to find where the
/// counter goes (sixteen digits no real stream reaches).
pub const COUNTER_PROBE: u64 = 7_351_908_264_193_517;

/// The splice key of an IR event: a delta of text, thinking or tool arguments. Signatures and
/// every other event have none.
pub fn key_of(event: &StreamEvent) -> Option<SpliceKey> {
    let StreamEvent::BlockDelta(BlockDelta { index, delta }) = event else {
        return None;
    };
    let kind = match delta {
        DeltaKind::Text(_) => SpliceKind::Text,
        DeltaKind::Thinking(_) => SpliceKind::Thinking,
        DeltaKind::ToolArguments(_) => SpliceKind::ToolArguments,
        DeltaKind::Signature(_) => return None,
    };
    Some(SpliceKey { kind, index: *index })
}

/// The text a delta carries, for the kinds a splice can stand for.
fn delta_text(event: &StreamEvent) -> Option<&str> {
    match event {
        StreamEvent::BlockDelta(BlockDelta {
            delta: DeltaKind::Text(t) | DeltaKind::Thinking(t) | DeltaKind::ToolArguments(t),
            ..
        }) => Some(t),
        _ => None,
    }
}

/// Where `part` lies inside `base`, when it is a slice of it (a string serde borrowed from
/// the data rather than unescaped into a new one).
pub fn span(base: &str, part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= base.len()).then_some(start..end)
}

/// A JSON string read from an event's data that also knows where it lay there: its escaped
/// body, borrowed from the data, for [`span`], and its text (through `Deref`). Use it for a
/// decoder's delta fields instead of `Cow<str>`, which forgets the place of a string that had
/// escapes (tool arguments nearly always have).
#[derive(Debug, Clone)]
pub struct JsonStr<'a> {
    raw: &'a str,
    text: std::borrow::Cow<'a, str>,
}

impl<'a> JsonStr<'a> {
    /// The string's body as it was written, escapes included (without its quotes).
    pub fn raw(&self) -> &'a str {
        self.raw
    }
}

impl std::ops::Deref for JsonStr<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for JsonStr<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let quoted = <&'de serde_json::value::RawValue>::deserialize(deserializer)?.get();
        let raw = quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .ok_or_else(|| D::Error::custom("expected a string"))?;
        let text = match serde_json::from_str::<&str>(quoted) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => std::borrow::Cow::Owned(serde_json::from_str::<String>(quoted).map_err(D::Error::custom)?),
        };
        Ok(JsonStr { raw, text })
    }
}

/// A decoder's splice for `event`, whose data holds the delta's JSON string body at `body`.
/// `None` unless the body is non-empty and quoted on both sides.
pub fn decode_splice(event: &SseEvent, key: SpliceKey, body: Range<usize>) -> Option<DecodeSplice> {
    let data = event.data.as_str();
    let (start, end) = (body.start, body.end);
    let quoted = start > 0
        && start < end
        && data.as_bytes().get(start - 1) == Some(&b'"')
        && data.as_bytes().get(end) == Some(&b'"');
    quoted.then(|| DecodeSplice {
        key,
        name: event.name.clone(),
        head: data[..start].to_owned(),
        tail: data[end..].to_owned(),
    })
}

/// Whether `splice` describes `event` and the lone IR event it decoded to: same name, the
/// data is head + body + tail, the key is the delta's, and the body unescapes to its text.
pub fn reproduces(splice: &DecodeSplice, event: &SseEvent, decoded: &StreamEvent) -> bool {
    let data = event.data.as_str();
    let framed = splice.name == event.name
        && splice.head.ends_with('"')
        && splice.tail.starts_with('"')
        && data.len() > splice.head.len() + splice.tail.len()
        && data.starts_with(&splice.head)
        && data.ends_with(&splice.tail);
    if !framed || key_of(decoded) != Some(splice.key) {
        return false;
    }
    // The quotes around the body, which head and tail end and begin with, make it a JSON string.
    let quoted = &data[splice.head.len() - 1..data.len() - splice.tail.len() + 1];
    serde_json::from_str::<String>(quoted).is_ok_and(|text| Some(text.as_str()) == delta_text(decoded))
}

/// An encoder's splice from the bytes it wrote for a delta of `key` whose text was [`PROBE`]:
/// the bytes before and after it. `None` unless the probe occurs exactly once, quoted.
pub fn encode_splice(key: SpliceKey, bytes: &[u8]) -> Option<EncodeSplice> {
    let probe = PROBE.as_bytes();
    let mut found = memchr::memmem::find_iter(bytes, probe);
    let start = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let end = start + probe.len();
    let quoted = start > 0 && bytes[start - 1] == b'"' && bytes.get(end) == Some(&b'"');
    quoted.then(|| EncodeSplice {
        key,
        head: bytes[..start].to_vec(),
        tail: bytes[end..].to_vec(),
        counter: None,
    })
}

/// [`encode_splice`] for an encoder that numbers its events: `bytes` is the delta written with
/// [`PROBE`] as its text and [`COUNTER_PROBE`] as its number, and `first` is the number the
/// next event would carry. `None` unless the probe number occurs exactly once before the text,
/// between characters that are not digits.
pub fn encode_splice_counted(key: SpliceKey, bytes: &[u8], first: u64) -> Option<EncodeSplice> {
    let mut splice = encode_splice(key, bytes)?;
    let digits = COUNTER_PROBE.to_string();
    let mut found = memchr::memmem::find_iter(&splice.head, digits.as_bytes());
    let at = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let end = at + digits.len();
    let digit = |i: usize| splice.head.get(i).is_some_and(u8::is_ascii_digit);
    if (at > 0 && digit(at - 1)) || digit(end) {
        return None;
    }
    splice.head.drain(at..end);
    splice.counter = Some(SpliceCounter {
        at: u32::try_from(at).ok()?,
        first,
    });
    Some(splice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_key() -> SpliceKey {
        SpliceKey {
            kind: SpliceKind::Text,
            index: 0,
        }
    }

    fn text_delta(text: &str) -> StreamEvent {
        StreamEvent::BlockDelta(BlockDelta {
            index: 0,
            delta: DeltaKind::Text(text.into()),
        })
    }

    fn event(data: &str) -> SseEvent {
        SseEvent {
            name: Some("delta".into()),
            data: data.into(),
        }
    }

    #[test]
    fn span_finds_only_slices_of_the_base() {
        let base = String::from(r#"{"t":"hello"}"#);
        assert_eq!(span(&base, &base[6..11]), Some(6..11));
        let other = String::from("hello");
        assert_eq!(span(&base, &other), None);
    }

    #[test]
    fn a_decode_splice_reproduces_its_event() {
        let e = event(r#"{"t":"hello","n":1}"#);
        let splice = decode_splice(&e, text_key(), 6..11).unwrap();
        assert_eq!(splice.head, r#"{"t":""#);
        assert_eq!(splice.tail, r#"","n":1}"#);
        assert!(reproduces(&splice, &e, &text_delta("hello")));
        // Another text, another key, another name: not this event.
        assert!(!reproduces(&splice, &e, &text_delta("hullo")));
        let thinking = StreamEvent::BlockDelta(BlockDelta {
            index: 0,
            delta: DeltaKind::Thinking("hello".into()),
        });
        assert!(!reproduces(&splice, &e, &thinking));
        let unnamed = SseEvent {
            name: None,
            data: e.data.clone(),
        };
        assert!(!reproduces(&splice, &unnamed, &text_delta("hello")));
    }

    #[test]
    fn a_json_str_knows_its_escaped_body() {
        #[derive(serde::Deserialize)]
        struct Holder<'a> {
            #[serde(borrow)]
            t: JsonStr<'a>,
            #[serde(borrow, default)]
            u: Option<JsonStr<'a>>,
        }
        let data = r#"{"t":"{\"city\": 1}","u":null}"#;
        let h: Holder<'_> = serde_json::from_str(data).unwrap();
        assert_eq!(&*h.t, r#"{"city": 1}"#);
        assert_eq!(h.t.raw(), r#"{\"city\": 1}"#);
        assert_eq!(span(data, h.t.raw()), Some(6..19));
        assert!(h.u.is_none());
        assert!(serde_json::from_str::<Holder<'_>>(r#"{"t":3}"#).is_err());
    }

    #[test]
    fn a_decode_splice_needs_a_quoted_non_empty_body() {
        let e = event(r#"{"t":"hello","n":1}"#);
        assert!(decode_splice(&e, text_key(), 6..6).is_none());
        assert!(decode_splice(&e, text_key(), 7..11).is_none());
        assert!(decode_splice(&e, text_key(), 0..3).is_none());
    }

    #[test]
    fn an_encode_splice_cuts_around_the_probe_once() {
        let bytes = format!("data: {{\"t\":\"{PROBE}\"}}\n\n");
        let splice = encode_splice(text_key(), bytes.as_bytes()).unwrap();
        assert_eq!(splice.head, b"data: {\"t\":\"");
        assert_eq!(splice.tail, b"\"}\n\n");
        let twice = format!("\"{PROBE}\" \"{PROBE}\"");
        assert!(encode_splice(text_key(), twice.as_bytes()).is_none());
        assert!(encode_splice(text_key(), PROBE.as_bytes()).is_none());
    }

    #[test]
    fn a_counted_splice_cuts_the_number_out_of_its_head() {
        let probe = |n: u64| format!(r#"data: {{"n":{n},"i":1,"d":"{PROBE}"}}"#);
        let splice = encode_splice_counted(text_key(), probe(COUNTER_PROBE).as_bytes(), 42).unwrap();
        assert_eq!(splice.head, br#"data: {"n":,"i":1,"d":""#);
        assert_eq!(splice.tail, br#""}"#);
        let counter = splice.counter.unwrap();
        assert_eq!((counter.at, counter.first), (11, 42));
        // The host's event number 42 in that place is what the encoder would have written.
        let mut written = splice.head.clone();
        written.splice(11..11, b"42".iter().copied());
        assert_eq!(written, probe(42).split(PROBE).next().unwrap().as_bytes());
        // No number, or an ambiguous one: no splice.
        assert!(encode_splice_counted(text_key(), probe(7).as_bytes(), 8).is_none());
        let twice = format!(r#"{{"n":{COUNTER_PROBE},"m":{COUNTER_PROBE},"d":"{PROBE}"}}"#);
        assert!(encode_splice_counted(text_key(), twice.as_bytes(), 8).is_none());
        let inside = format!(r#"{{"n":9{COUNTER_PROBE},"d":"{PROBE}"}}"#);
        assert!(encode_splice_counted(text_key(), inside.as_bytes(), 8).is_none());
    }
}
