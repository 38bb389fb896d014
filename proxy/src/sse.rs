//! Server-sent events framing: splits a byte stream into whole events as bytes arrive.
//!
//! The relay forwards whole events (never half an event), which is what lets the
//! gateway look at the first event before committing to an upstream, rewrite the model
//! name in every event, and tap usage, without ever buffering more than one partial event.
//!
//! By hand rather than an SSE crate (`eventsource-stream` and the like): those parse each
//! event into owned strings, where the relay needs the bytes as they came, split in place.

use std::sync::LazyLock;

use bytes::{Bytes, BytesMut};
use memchr::memmem::Finder;

/// The event terminator, searched for with a prebuilt SIMD finder.
static BLANK_LINE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n\n"));

/// Accumulates bytes and hands back complete events; an unterminated event longer than its
/// limit is an error, not an ever-growing buffer.
#[derive(Debug)]
pub struct SseFramer {
    buf: BytesMut,
    /// Where the search for the next terminator resumes (avoids rescanning).
    scanned: usize,
    /// The longest partial event held.
    max_event: usize,
}

/// The default limit on one event: generous for inline images in Gemini and Responses
/// streams, bounded against an upstream that never terminates its event.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

impl Default for SseFramer {
    fn default() -> Self {
        SseFramer::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

/// An upstream event that did not end within the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an upstream event passed {limit} bytes without ending")]
pub struct EventTooLarge {
    /// The limit.
    pub limit: usize,
}

impl SseFramer {
    /// A framer holding at most `max_event` bytes of an unterminated event.
    pub fn new(max_event: usize) -> Self {
        SseFramer {
            buf: BytesMut::new(),
            scanned: 0,
            max_event,
        }
    }

    /// Adds bytes; returns every complete event now available, concatenated, each with its
    /// terminating blank line (empty when no event is complete yet).
    pub fn push(&mut self, chunk: Bytes) -> Result<Bytes, EventTooLarge> {
        let events = if self.buf.is_empty() {
            // The common case, nothing carried over: hand whole events back without a copy.
            let end = last_event_end(&chunk, 0).unwrap_or(0);
            self.buf.extend_from_slice(&chunk[end..]);
            self.scanned = self.buf.len();
            chunk.slice(..end)
        } else {
            self.buf.extend_from_slice(&chunk);
            match last_event_end(&self.buf, self.scanned.saturating_sub(3)) {
                Some(end) => {
                    self.scanned = 0;
                    self.buf.split_to(end).freeze()
                }
                None => {
                    self.scanned = self.buf.len();
                    Bytes::new()
                }
            }
        };
        if self.buf.len() > self.max_event {
            self.buf = BytesMut::new();
            return Err(EventTooLarge { limit: self.max_event });
        }
        Ok(events)
    }

    /// Bytes of an event that has not been terminated (a stream cut mid-event).
    pub fn remainder(&self) -> &[u8] {
        &self.buf
    }
}

/// The end (exclusive) of the last complete event in `buf`, searching from `from`: just
/// after the last blank line (`\n\n`, or `\n\r\n` of CRLF streams).
fn last_event_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut end = None;
    for i in memchr::memchr_iter(b'\n', &buf[from.min(buf.len())..]).map(|i| i + from) {
        match buf.get(i + 1) {
            Some(b'\n') => end = Some(i + 2),
            Some(b'\r') if buf.get(i + 2) == Some(&b'\n') => end = Some(i + 3),
            _ => {}
        }
    }
    end
}

/// One parsed event: its `event:` name and its `data:` lines joined.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event<'a> {
    /// The `event:` field, if any.
    pub name: Option<&'a str>,
    /// The data (several `data:` lines joined by `\n`).
    pub data: Cow<'a>,
}

type Cow<'a> = std::borrow::Cow<'a, str>;

/// Splits a block of complete events into events (comments and empty events skipped).
pub fn events(block: &[u8]) -> impl Iterator<Item = Event<'_>> {
    raw_events(block).filter_map(event)
}

/// One raw event (as [`raw_events`] yields) parsed; `None` for a comment, an empty event or
/// bytes that are not UTF-8.
pub fn event(raw: &[u8]) -> Option<Event<'_>> {
    std::str::from_utf8(raw).ok().and_then(parse_event)
}

/// The raw events of a block, each without its terminating blank line.
pub fn raw_events(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = block;
    std::iter::from_fn(move || {
        while !rest.is_empty() {
            let (event, next) = match BLANK_LINE.find(rest) {
                Some(i) => (&rest[..i], &rest[i + 2..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = next;
            let event = event.strip_suffix(b"\r").unwrap_or(event);
            // "\r\n\r\n" terminators leave "\r" or "\r\n" at the edges.
            let event = event
                .strip_prefix(b"\r\n")
                .or_else(|| event.strip_prefix(b"\n"))
                .unwrap_or(event);
            if !event.is_empty() {
                return Some(event);
            }
        }
        None
    })
}

fn parse_event(raw: &str) -> Option<Event<'_>> {
    let mut event = Event::default();
    let mut has_data = false;
    // `str::lines` and `split_once`, with the memchr crate's SIMD search: a long `data:`
    // line is the common event, and every stream event is parsed.
    let mut rest = raw;
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        rest = next;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (field, value) = match memchr::memchr(b':', line.as_bytes()) {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, ""),
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event.name = Some(value),
            "data" if !has_data => {
                event.data = Cow::Borrowed(value);
                has_data = true;
            }
            "data" => {
                let joined = format!("{}\n{}", event.data, value);
                event.data = Cow::Owned(joined);
            }
            _ => {}
        }
    }
    (has_data || event.name.is_some()).then_some(event)
}

/// Whether an event is an error event: `event: error`, or data that is a JSON object with
/// a top-level `error` (OpenAI, Gemini), or a Responses `response.failed`.
pub fn is_error_event(event: &Event<'_>) -> bool {
    if matches!(event.name, Some("error" | "response.failed")) {
        return true;
    }
    let data = event.data.trim_start();
    if !data.starts_with('{') || !data.contains("\"error\"") {
        return false;
    }
    #[derive(serde::Deserialize)]
    struct Probe {
        error: Option<serde::de::IgnoredAny>,
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    serde_json::from_str::<Probe>(data)
        .is_ok_and(|p| p.error.is_some() && p.kind.as_deref().is_none_or(|k| k == "error"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_events_split_anywhere() {
        let stream = b"event: a\ndata: {\"x\":1}\n\ndata: two\r\n\r\n: comment\n\ndata: three\n\n";
        for cut in 1..stream.len() {
            let mut f = SseFramer::default();
            let mut out = Vec::new();
            out.extend_from_slice(&f.push(Bytes::copy_from_slice(&stream[..cut])).unwrap());
            out.extend_from_slice(&f.push(Bytes::copy_from_slice(&stream[cut..])).unwrap());
            assert_eq!(out, stream, "cut at {cut}");
            assert!(f.remainder().is_empty());
        }
        let mut f = SseFramer::default();
        assert!(f.push(Bytes::from_static(b"data: part")).unwrap().is_empty());
        assert_eq!(f.remainder(), b"data: part");
    }

    #[test]
    fn an_event_that_never_ends_is_cut_at_the_limit() {
        let mut f = SseFramer::new(16);
        assert_eq!(
            f.push(Bytes::from_static(b"data: 1\n\ndata: 12345")).unwrap(),
            &b"data: 1\n\n"[..]
        );
        assert_eq!(f.push(Bytes::from_static(b"6789")), Ok(Bytes::new()));
        assert_eq!(f.push(Bytes::from_static(b"0123")), Err(EventTooLarge { limit: 16 }));
        // Whole events of any total size pass: only the unterminated part is bounded.
        let mut f = SseFramer::new(16);
        let many = Bytes::from("data: 0123456789\n\n".repeat(100));
        assert_eq!(f.push(many.clone()).unwrap(), many);
    }

    #[test]
    fn parses_fields_line_by_line() {
        let e = event(b"event: delta\r\ndata:{\"a\":\"b:c\"}\r\n: a comment\r\nid: 7\r\ndata\r\ndata:  two").unwrap();
        assert_eq!(e.name, Some("delta"));
        // No space after the colon is kept as it is, one space is dropped, a bare field
        // is an empty value.
        assert_eq!(e.data, "{\"a\":\"b:c\"}\n\n two");
        assert_eq!(event(b": only a comment"), None);
        assert_eq!(event(b"event: ping").map(|e| e.data), Some(Cow::Borrowed("")));
        assert_eq!(event(b"data: \xff"), None, "not UTF-8");
    }

    #[test]
    fn parses_and_spots_errors() {
        let block = b"event: message_start\ndata: {\"type\":\"message_start\"}\n\ndata: a\ndata: b\n\n";
        let evs: Vec<_> = events(block).collect();
        assert_eq!(evs[0].name, Some("message_start"));
        assert_eq!(evs[1].data, "a\nb");
        assert!(!is_error_event(&evs[0]));
        let err: Vec<_> = events(b"event: error\ndata: {\"type\":\"error\",\"error\":{}}\n\n").collect();
        assert!(is_error_event(&err[0]));
        let err: Vec<_> = events(b"data: {\"error\":{\"code\":500}}\n\n").collect();
        assert!(is_error_event(&err[0]));
        let ok: Vec<_> = events(b"data: {\"choices\":[{\"delta\":{\"content\":\"\\\"error\\\"\"}}]}\n\n").collect();
        assert!(!is_error_event(&ok[0]));
    }
}
