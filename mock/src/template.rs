//! Stream events rendered once and filled per event.
//!
//! A long stream's deltas differ only in their piece of text (and, in Responses, their
//! sequence number). Building each as a `serde_json::Value` tree and serialising it made the
//! mock spend about three quarters of its CPU on maps and allocations, about twice what its
//! Claude streams cost, and a benchmark on a shared machine then charged that to the gateway.
//! So a delta event is rendered once, through the same `Value` and framing as every other
//! event, with a [`hole`] where each varying value goes; [`Template::fill`] writes the literal
//! parts around the values. The bytes are the ones the `Value` would have given: a string is
//! escaped by the same serialiser, and a number has one spelling.

use bytes::Bytes;

/// The placeholder to put in a `Value` where hole `index` goes (a string no answer holds).
pub(crate) fn hole(index: u8) -> String {
    format!("\u{1}hole{index}")
}

/// A value for a hole.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fill<'a> {
    /// A JSON string, escaped as `serde_json` escapes it.
    Str(&'a str),
    /// A JSON number.
    Num(usize),
}

/// An event with holes: the literal bytes between them, and which value goes in each.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    /// One more literal part than holes, in order.
    literals: Vec<Vec<u8>>,
    /// The index (into the values given to [`Template::fill`]) of each hole, in order.
    holes: Vec<usize>,
    /// The length of the literal parts together.
    literal_len: usize,
}

impl Template {
    /// Cuts `rendered` (an event built with [`hole`]s `0..count`) at its holes. A hole that
    /// does not appear is never filled.
    pub(crate) fn new(rendered: &[u8], count: u8) -> Template {
        let markers: Vec<Vec<u8>> = (0..count)
            .map(|i| {
                let mut quoted = Vec::new();
                // Serialising a string cannot fail.
                serde_json::to_writer(&mut quoted, &hole(i)).unwrap_or_default();
                quoted
            })
            .collect();
        let (mut literals, mut holes) = (Vec::new(), Vec::new());
        let mut rest = rendered;
        while let Some((at, index)) = markers
            .iter()
            .enumerate()
            .filter_map(|(i, m)| memchr::memmem::find(rest, m).map(|at| (at, i)))
            .min()
        {
            literals.push(rest[..at].to_vec());
            holes.push(index);
            rest = &rest[at + markers[index].len()..];
        }
        literals.push(rest.to_vec());
        let literal_len = literals.iter().map(Vec::len).sum();
        Template {
            literals,
            holes,
            literal_len,
        }
    }

    /// The event with `values[i]` in hole `i`.
    pub(crate) fn fill(&self, values: &[Fill<'_>]) -> Bytes {
        let mut out = Vec::with_capacity(self.literal_len + 64);
        for (literal, &index) in self.literals.iter().zip(&self.holes) {
            out.extend_from_slice(literal);
            match values.get(index) {
                Some(Fill::Str(s)) => serde_json::to_writer(&mut out, s).unwrap_or_default(),
                Some(Fill::Num(n)) => out.extend_from_slice(n.to_string().as_bytes()),
                None => out.extend_from_slice(b"null"),
            }
        }
        if let Some(last) = self.literals.last() {
            out.extend_from_slice(last);
        }
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::sse;

    #[test]
    fn a_filled_template_is_the_event_the_value_gives() {
        let make = |text: &str, seq: Value| sse::event("delta", &json!({"delta": text, "n": seq, "z": [text]}));
        let template = Template::new(&make(&hole(0), Value::from(hole(1))), 2);
        for (text, seq) in [
            ("plain", 0),
            ("quote \" and \\ and \n and \u{1}", 7),
            ("", 12_345),
            ("é ✓", 3),
        ] {
            assert_eq!(
                template.fill(&[Fill::Str(text), Fill::Num(seq)]),
                make(text, Value::from(seq)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_template_without_holes_is_its_event() {
        let event = sse::data(&json!({"a": 1}));
        assert_eq!(Template::new(&event, 1).fill(&[]), event);
    }
}
