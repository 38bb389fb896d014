//! Puts the client's model name back into responses.
//!
//! When a route maps the requested model to another upstream name, every response body
//! and stream event would name the upstream model. Clients (and their usage tracking) want
//! the name they asked for, so `"model": "<upstream>"` and `"modelVersion": "<upstream>"`
//! are rewritten. An unescaped `"model":"x"` cannot occur inside a JSON string (its quotes
//! would be escaped), so the byte-level match never touches content.

/// A precomputed rewrite from the upstream model name to the requested one.
#[derive(Debug, Clone)]
pub struct ModelRewrite {
    from: Vec<u8>,
    to: Vec<u8>,
}

impl ModelRewrite {
    /// A rewrite, or `None` when the names are equal (the common pass-through case).
    pub fn new(upstream: &str, requested: &str) -> Option<Self> {
        (upstream != requested).then(|| ModelRewrite {
            from: serde_json::Value::from(upstream).to_string().into_bytes(),
            to: serde_json::Value::from(requested).to_string().into_bytes(),
        })
    }

    /// Rewrites `bytes`; `None` when nothing needed changing.
    pub fn apply(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut i = 0;
        while let Some(pos) = find(&bytes[i..], b"\"model") {
            let key_start = i + pos;
            let mut j = key_start + b"\"model".len();
            if bytes[j..].starts_with(b"Version") {
                j += b"Version".len();
            }
            i = j;
            if bytes.get(j) != Some(&b'"') {
                continue;
            }
            j += 1;
            while bytes.get(j).is_some_and(|b| *b == b' ') {
                j += 1;
            }
            if bytes.get(j) != Some(&b':') {
                continue;
            }
            j += 1;
            while bytes.get(j).is_some_and(|b| *b == b' ') {
                j += 1;
            }
            if bytes[j..].starts_with(&self.from) {
                let buf = out.get_or_insert_with(|| Vec::with_capacity(bytes.len() + 16));
                buf.extend_from_slice(&bytes[copied..j]);
                buf.extend_from_slice(&self.to);
                copied = j + self.from.len();
                i = copied;
            }
        }
        let mut buf = out?;
        buf.extend_from_slice(&bytes[copied..]);
        Some(buf)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_model_fields_only() {
        let r = ModelRewrite::new("up-1", "client").unwrap();
        let body = br#"{"model": "up-1","text":"the \"model\":\"up-1\" stays","message":{"model":"up-1"},"modelVersion":"up-1","model_x":"up-1"}"#;
        let out = String::from_utf8(r.apply(body).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"model": "client","text":"the \"model\":\"up-1\" stays","message":{"model":"client"},"modelVersion":"client","model_x":"up-1"}"#
        );
        assert!(r.apply(br#"{"model":"other"}"#).is_none());
        assert!(ModelRewrite::new("same", "same").is_none());
    }
}
