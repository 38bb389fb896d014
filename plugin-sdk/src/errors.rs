//! Upstream errors in the IR: the class an HTTP status implies, and a format-agnostic
//! reading of an error body (the default [`crate::FormatPlugin::decode_error`]).
//!
//! A plugin overrides `decode_error` to read its format's own error shape (an Anthropic
//! `error.type`, a Gemini `error.status`), and falls back to [`class_for_status`] when the
//! body says nothing more precise.

use crate::types::{ErrorClass, ErrorInfo};

/// Longest message kept from an error body that is not the format's error shape.
const MAX_RAW_MESSAGE: usize = 500;

/// The error class an HTTP status implies.
pub fn class_for_status(status: u16) -> ErrorClass {
    match status {
        401 => ErrorClass::Authentication,
        403 => ErrorClass::Permission,
        404 => ErrorClass::NotFound,
        405 => ErrorClass::MethodNotAllowed,
        408 | 504 => ErrorClass::Timeout,
        413 => ErrorClass::TooLarge,
        429 => ErrorClass::RateLimited,
        503 | 529 => ErrorClass::Unavailable,
        400..=499 => ErrorClass::InvalidRequest,
        _ => ErrorClass::Internal,
    }
}

/// An error body of unknown shape: the class from the status, the message from a JSON
/// `error.message` / `message` / string `error`, else the body's text (truncated).
pub fn generic(status: u16, body: &[u8]) -> ErrorInfo {
    ErrorInfo {
        class: class_for_status(status),
        status,
        message: message_of(body),
    }
}

/// The message in an error body, as [`generic`] finds it.
pub fn message_of(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| {
        let text = v
            .pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error").filter(|e| e.is_string()))?;
        text.as_str().map(str::to_owned)
    });
    from_json.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let mut end = text.len().min(MAX_RAW_MESSAGE);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].trim().to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_messages() {
        let info = generic(429, br#"{"error":{"message":"slow down"}}"#);
        assert_eq!(info.class, ErrorClass::RateLimited);
        assert_eq!(info.message, "slow down");
        assert_eq!(generic(502, b"bad gateway").message, "bad gateway");
        assert_eq!(class_for_status(422), ErrorClass::InvalidRequest);
        assert_eq!(class_for_status(529), ErrorClass::Unavailable);
    }
}
