//! Bodies for records (only with `[telemetry] store_bodies = "truncated"`): cut to a byte
//! limit on a character boundary, with secrets redacted.
//!
//! Redaction is textual so it also works on truncated JSON and on SSE text: the string value
//! of any key that names a credential (`api_key`, `authorization`, `password`, `secret`,
//! `token`, …), anything shaped like a provider key (`sk-…`, `AIza…`, `Bearer …`) and the
//! exact value of every key the config holds (provider keys and `env:` client keys, whatever
//! their shape: a [`Redactor`] built with the config) become `[REDACTED]`. Redaction runs
//! before the cut (over the kept part plus the longest secret), so a secret that straddles
//! the limit is not left half visible.

use aho_corasick::AhoCorasick;

/// The exact secret values of one config generation, found in one pass.
#[derive(Debug, Default)]
pub struct Redactor {
    finder: Option<AhoCorasick>,
    longest: usize,
}

/// Secrets shorter than this are not matched by value (a short one would blank ordinary
/// text; real keys are far longer).
const MIN_SECRET_LEN: usize = 8;

impl Redactor {
    /// A redactor for these values.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let values: Vec<&str> = secrets.into_iter().filter(|s| s.len() >= MIN_SECRET_LEN).collect();
        let longest = values.iter().map(|s| s.len()).max().unwrap_or(0);
        Redactor {
            finder: AhoCorasick::new(&values).ok().filter(|_| !values.is_empty()),
            longest,
        }
    }

    fn apply(&self, text: &str) -> String {
        match &self.finder {
            Some(finder) => finder.replace_all(text, &vec![REDACTED; finder.patterns_len()]),
            None => text.to_owned(),
        }
    }
}

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

/// `body` redacted and cut to `limit` bytes (marking the cut).
pub fn capture(body: &[u8], limit: usize, secrets: &Redactor) -> String {
    let text = String::from_utf8_lossy(body);
    // Redact a window a secret's length past the limit, then cut at the limit.
    let mut window = text.len().min(limit.saturating_add(secrets.longest.max(64)));
    while !text.is_char_boundary(window) {
        window -= 1;
    }
    let mut out = redact(&text[..window], secrets);
    let mut end = out.len().min(limit);
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    if end < out.len() || window < text.len() {
        let dropped = text.len().saturating_sub(window) + out.len() - end;
        out.truncate(end);
        out.push_str(&format!("…[truncated {dropped} bytes]"));
    }
    out
}

/// Redacts the configured secrets, credential-named JSON string values and key-shaped tokens.
pub fn redact(text: &str, secrets: &Redactor) -> String {
    let mut out = redact_values(&secrets.apply(text));
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
        let out = redact(body, &Redactor::default());
        assert!(!out.contains("abc\\\"def"), "{out}");
        assert!(!out.contains("abcdefghijkl"), "{out}");
        assert!(out.contains(r#""max_tokens":5"#));
        assert!(out.contains(r#""api_key":"[REDACTED]""#));
        assert!(out.contains("my key is [REDACTED] ok"));
    }

    #[test]
    fn redacts_configured_values_of_any_shape_even_across_the_cut() {
        let secrets = Redactor::new(["upstream-secret-xyz", "tiny"]);
        let body = br#"{"note":"the key upstream-secret-xyz and tiny"}"#;
        let out = capture(body, 1000, &secrets);
        assert_eq!(out, r#"{"note":"the key [REDACTED] and tiny"}"#);
        // The limit falls inside the secret: nothing of it is kept.
        let out = capture(body, 20, &secrets);
        assert!(!out.contains("upstream-s"), "{out}");
        assert!(out.contains("truncated"), "{out}");
    }

    #[test]
    fn truncates_on_char_boundary() {
        let none = Redactor::default();
        let out = capture("héllo wörld".as_bytes(), 2, &none);
        assert!(out.starts_with('h'));
        assert!(out.contains("truncated"));
        assert_eq!(capture(b"short", 100, &none), "short");
    }
}
