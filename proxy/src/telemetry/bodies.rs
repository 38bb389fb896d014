//! Bodies for records (only with `[telemetry] store_bodies = "truncated"`): cut to a byte
//! limit on a character boundary, with secrets redacted.
//!
//! Redaction is textual so it also works on truncated JSON and on SSE text: the string value
//! of any key that names a credential (`api_key`, `authorization`, `password`, `secret`,
//! `token`, …) and anything shaped like a provider key (`sk-…`, `AIza…`, `Bearer …`) becomes
//! `[REDACTED]`.

/// The placeholder for a removed secret.
pub const REDACTED: &str = "[REDACTED]";

const SECRET_KEYS: &[&str] = &[
    "api_key",
    "apikey",
    "api-key",
    "x-api-key",
    "x-goog-api-key",
    "key",
    "authorization",
    "password",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
];

const SECRET_PREFIXES: &[&str] = &["sk-", "AIza", "Bearer "];

/// `body` cut to `limit` bytes (marking the cut) and redacted.
pub fn capture(body: &[u8], limit: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = redact(&text[..end]);
    if end < text.len() {
        out.push_str(&format!("…[truncated {} bytes]", text.len() - end));
    }
    out
}

/// Redacts credential-named JSON string values and key-shaped tokens.
pub fn redact(text: &str) -> String {
    let mut out = redact_values(text);
    for prefix in SECRET_PREFIXES {
        out = redact_prefixed(&out, prefix);
    }
    out
}

fn redact_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let Some(close) = after.find('"') else { break };
        let name = &after[..close];
        let tail = &after[close + 1..];
        let trimmed = tail.trim_start();
        if SECRET_KEYS.iter().any(|k| name.eq_ignore_ascii_case(k))
            && let Some(v) = trimmed.strip_prefix(':')
            && v.trim_start().starts_with('"')
        {
            let value_start = v.len() - v.trim_start().len() + 1;
            let value = &v[value_start..];
            let value_end = string_end(value).unwrap_or(value.len());
            out.push_str(&rest[..start]);
            out.push('"');
            out.push_str(name);
            out.push_str("\":\"");
            out.push_str(REDACTED);
            out.push('"');
            rest = value.get(value_end + 1..).unwrap_or("");
            continue;
        }
        out.push_str(&rest[..start + 1]);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Index of the closing quote of a JSON string body (escapes honoured).
fn string_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

fn redact_prefixed(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let body = &rest[i + prefix.len()..];
        let len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(body.len());
        out.push_str(&rest[..i]);
        if len >= 8 {
            out.push_str(REDACTED);
        } else {
            out.push_str(&rest[i..i + prefix.len() + len]);
        }
        rest = &body[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_named_values_and_key_shapes() {
        let body = r#"{"model":"m","api_key": "abc\"def","max_tokens":5,"messages":[{"content":"my key is sk-ant-api03-abcdefghijkl ok"}],"h":"Bearer abcdefghijklmnop"}"#;
        let out = redact(body);
        assert!(!out.contains("abc\\\"def"), "{out}");
        assert!(!out.contains("abcdefghijkl"), "{out}");
        assert!(out.contains(r#""max_tokens":5"#));
        assert!(out.contains(r#""api_key":"[REDACTED]""#));
        assert!(out.contains("my key is [REDACTED] ok"));
    }

    #[test]
    fn truncates_on_char_boundary() {
        let out = capture("héllo wörld".as_bytes(), 2);
        assert!(out.starts_with('h'));
        assert!(out.contains("truncated"));
        assert_eq!(capture(b"short", 100), "short");
    }
}
