//! Upstream URL paths built safely: a value that came from a client (a model name under a
//! wildcard route) goes into a path as exactly one segment, and a path a plugin hands the
//! host is checked before it goes upstream.
//!
//! [`segment`] percent-encodes everything but RFC 3986's unreserved characters
//! (`A–Z a–z 0–9 - . _ ~`), so `/`, `?`, `#`, `:`, `%`, whitespace and control characters
//! never reach the upstream as themselves, and a segment that is only dots (`.`, `..`) is
//! encoded too, so no server normalises it away. [`check`] is the host's test of a whole
//! path and query: what [`segment`] and ordinary path templates produce passes, anything a
//! server could read as a different path does not. The host runs [`check`] on every path a
//! plugin returns and renders configured templates with [`segment`]; a plugin that puts a
//! model name into its path should use [`segment`] as well.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but the unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `value` as one path segment.
pub fn segment(value: &str) -> Cow<'_, str> {
    if value.is_empty() || value.bytes().all(|b| b == b'.') {
        // Empty, `.` and `..` would change the path's shape: every byte encoded.
        return Cow::Owned(value.bytes().map(|b| format!("%{b:02X}")).collect());
    }
    utf8_percent_encode(value, SEGMENT).into()
}

/// Why a path is not safe to send upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// It does not start with `/`.
    NotAbsolute,
    /// A `.` or `..` segment (also percent-encoded).
    DotSegment,
    /// A byte outside the path and query grammar (whitespace, a control character, `#`, `\`,
    /// non-ASCII), at this offset.
    Byte(usize),
    /// A `%` not followed by two hex digits, at this offset.
    Escape(usize),
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathError::NotAbsolute => f.write_str("the path does not start with /"),
            PathError::DotSegment => f.write_str("the path has a . or .. segment"),
            PathError::Byte(at) => write!(f, "the path has a byte not allowed in a URL at offset {at}"),
            PathError::Escape(at) => write!(f, "the path has a malformed %-escape at offset {at}"),
        }
    }
}

impl std::error::Error for PathError {}

/// Checks a path with an optional query (`/v1beta/models/x:generateContent?alt=sse`).
pub fn check(path_and_query: &str) -> Result<(), PathError> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    check_bytes(path, |b| b == b'/' || is_pchar(b))?;
    if let Some(query) = query {
        let offset = path.len() + 1;
        check_bytes(query, |b| b == b'/' || b == b'?' || is_pchar(b)).map_err(|e| match e {
            PathError::Byte(at) => PathError::Byte(at + offset),
            PathError::Escape(at) => PathError::Escape(at + offset),
            other => other,
        })?;
    }
    let dot = |s: &str| {
        let decoded = s.replace("%2E", ".").replace("%2e", ".");
        decoded == "." || decoded == ".."
    };
    if path.split('/').any(dot) {
        return Err(PathError::DotSegment);
    }
    Ok(())
}

/// RFC 3986 `pchar` less `%` (checked as escapes): unreserved, sub-delims, `:` and `@`.
fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

fn check_bytes(s: &str, allowed: impl Fn(u8) -> bool) -> Result<(), PathError> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !hex {
                return Err(PathError::Escape(i));
            }
            i += 3;
            continue;
        }
        if !allowed(b) {
            return Err(PathError::Byte(i));
        }
        i += 1;
    }
    Ok(())
}

/// `path` with `pair` (`alt=sse`) added to its query: after `?` when it has none, after `&`
/// when it has one (a template such as Azure's `…?api-version=2024-10-21`).
pub fn with_query(mut path: String, pair: &str) -> String {
    path.push(if path.contains('?') { '&' } else { '?' });
    path.push_str(pair);
    path
}

/// `path` with `suffix` (`/count_tokens`) added to its path, before any query.
pub fn with_suffix(path: String, suffix: &str) -> String {
    match path.split_once('?') {
        Some((p, q)) => format!("{p}{suffix}?{q}"),
        None => path + suffix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_cannot_leave_its_place() {
        for (raw, encoded) in [
            ("gpt-4.1", "gpt-4.1"),
            ("claude-sonnet-4-5", "claude-sonnet-4-5"),
            ("../admin", "..%2Fadmin"),
            ("..", "%2E%2E"),
            (".", "%2E"),
            ("", ""),
            ("a/b", "a%2Fb"),
            ("a?x=1", "a%3Fx%3D1"),
            ("a#f", "a%23f"),
            ("a b\tc\r\n", "a%20b%09c%0D%0A"),
            ("m:generateContent", "m%3AgenerateContent"),
            ("50%", "50%25"),
            (
                "anthropic.claude-3-5-sonnet-20240620-v1:0",
                "anthropic.claude-3-5-sonnet-20240620-v1%3A0",
            ),
            ("modèle", "mod%C3%A8le"),
        ] {
            assert_eq!(segment(raw), encoded, "{raw:?}");
            assert_eq!(
                check(&format!("/v1/models/{}:generate", segment(raw))),
                Ok(()),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn check_refuses_what_a_server_could_read_as_another_path() {
        assert_eq!(check("/v1/messages"), Ok(()));
        assert_eq!(
            check("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"),
            Ok(())
        );
        assert_eq!(
            check("/openai/deployments/gpt%2D4o/chat/completions?api-version=2024-10-21&alt=sse"),
            Ok(())
        );
        assert_eq!(check("v1/messages"), Err(PathError::NotAbsolute));
        assert_eq!(check("/v1/../admin"), Err(PathError::DotSegment));
        assert_eq!(check("/v1/%2e%2E/admin"), Err(PathError::DotSegment));
        assert_eq!(check("/v1/./x"), Err(PathError::DotSegment));
        assert_eq!(check("/v1/a b"), Err(PathError::Byte(5)));
        assert_eq!(check("/v1/a\r\nHost: evil"), Err(PathError::Byte(5)));
        assert_eq!(check("/v1/a#frag"), Err(PathError::Byte(5)));
        assert_eq!(check("/v1/a\\b"), Err(PathError::Byte(5)));
        assert_eq!(check("/v1/é"), Err(PathError::Byte(4)));
        assert_eq!(check("/v1/a%zz"), Err(PathError::Escape(5)));
        assert_eq!(check("/v1/a%2"), Err(PathError::Escape(5)));
        assert_eq!(check("/v1/a?x=1 2"), Err(PathError::Byte(9)));
    }

    #[test]
    fn a_query_pair_joins_a_template_that_has_one() {
        assert_eq!(
            with_suffix("/v1/messages?beta=true".into(), "/count_tokens"),
            "/v1/messages/count_tokens?beta=true"
        );
        assert_eq!(
            with_suffix("/v1/messages".into(), "/count_tokens"),
            "/v1/messages/count_tokens"
        );
        assert_eq!(with_query("/v1/messages".into(), "beta=true"), "/v1/messages?beta=true");
        assert_eq!(
            with_query(
                "/deployments/x/chat/completions?api-version=2024-10-21".into(),
                "alt=sse"
            ),
            "/deployments/x/chat/completions?api-version=2024-10-21&alt=sse"
        );
    }
}
