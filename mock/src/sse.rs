//! Server-sent-event framing: `event: NAME\ndata: JSON\n\n` and `data: JSON\n\n`, plus the JSON
//! serialisation helper every format uses.

use bytes::Bytes;
use serde_json::Value;

/// The terminator OpenAI Chat Completions sends after the last chunk.
pub(crate) const DONE: &[u8] = b"data: [DONE]\n\n";

/// Serialise a JSON value to bytes.
pub(crate) fn json(value: &Value) -> Bytes {
    // Serialising a `Value` into memory cannot fail: its map keys are always strings.
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

/// A named event: `event: NAME\ndata: JSON\n\n`.
pub(crate) fn event(name: &str, data: &Value) -> Bytes {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    push_json(&mut out, data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// An unnamed event: `data: JSON\n\n`.
pub(crate) fn data(data: &Value) -> Bytes {
    unnamed(128, |out| push_json(out, data))
}

/// An unnamed event around JSON already serialised.
pub(crate) fn data_json(json: &[u8]) -> Bytes {
    unnamed(json.len() + 8, |out| out.extend_from_slice(json))
}

/// `data: ` + what `write` appends + the blank line.
fn unnamed(capacity: usize, write: impl FnOnce(&mut Vec<u8>)) -> Bytes {
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(b"data: ");
    write(&mut out);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// Append the compact JSON of `value` to `out`.
fn push_json(out: &mut Vec<u8>, value: &Value) {
    if serde_json::to_writer(&mut *out, value).is_err() {
        // Unreachable for a `Value`; keep the frame well-formed regardless.
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn framing() {
        assert_eq!(
            &event("ping", &json!({"type": "ping"}))[..],
            b"event: ping\ndata: {\"type\":\"ping\"}\n\n"
        );
        assert_eq!(&data(&json!([1]))[..], b"data: [1]\n\n");
        assert_eq!(&data_json(b"[1]")[..], b"data: [1]\n\n");
        assert_eq!(&json(&json!({"a": "b"}))[..], b"{\"a\":\"b\"}");
    }
}
