//! Anthropic's error shape: `{"type":"error","error":{"type":…,"message":…}}`, and the same
//! body as a stream's `error` event; read back into the IR by [`decode`] (an upstream's error
//! response) and [`from_event`] (a stream's `error` event, which has no HTTP status).

use aether_plugin_sdk::errors;
use aether_plugin_sdk::types::{ErrorClass, ErrorInfo};
use serde::Deserialize;

/// The error body Anthropic's SDKs parse.
pub fn body(error: &ErrorInfo) -> Vec<u8> {
    serde_json::json!({
        "type": "error",
        "error": { "type": error_type(error.class), "message": error.message },
    })
    .to_string()
    .into_bytes()
}

/// Anthropic's `error.type` for a class.
pub fn error_type(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest | ErrorClass::MethodNotAllowed => "invalid_request_error",
        ErrorClass::Authentication => "authentication_error",
        ErrorClass::Permission => "permission_error",
        ErrorClass::NotFound => "not_found_error",
        ErrorClass::TooLarge => "request_too_large",
        ErrorClass::RateLimited => "rate_limit_error",
        ErrorClass::Internal => "api_error",
        ErrorClass::Unavailable => "overloaded_error",
        ErrorClass::Timeout => "timeout_error",
    }
}

/// The class and the HTTP status Anthropic sends with an `error.type`; `None` for a type
/// this plugin does not know.
fn class_of(kind: &str) -> Option<(ErrorClass, u16)> {
    Some(match kind {
        "invalid_request_error" => (ErrorClass::InvalidRequest, 400),
        "authentication_error" => (ErrorClass::Authentication, 401),
        "billing_error" | "permission_error" => (ErrorClass::Permission, 403),
        "not_found_error" => (ErrorClass::NotFound, 404),
        "request_too_large" => (ErrorClass::TooLarge, 413),
        "rate_limit_error" => (ErrorClass::RateLimited, 429),
        "api_error" => (ErrorClass::Internal, 500),
        "overloaded_error" => (ErrorClass::Unavailable, 529),
        "timeout_error" => (ErrorClass::Timeout, 504),
        _ => return None,
    })
}

/// `{"type":"error","error":{"type","message"}}`, every part optional.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    error: Option<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// An upstream's error response: the status kept, the class from `error.type` (else from
/// the status), the message from the body.
pub fn decode(status: u16, body: &[u8]) -> ErrorInfo {
    let inner = serde_json::from_slice::<Envelope>(body).ok().and_then(|e| e.error);
    let class = inner
        .as_ref()
        .and_then(|i| i.kind.as_deref())
        .and_then(class_of)
        .map_or_else(|| errors::class_for_status(status), |(class, _)| class);
    let message = inner
        .and_then(|i| i.message)
        .unwrap_or_else(|| errors::message_of(body));
    ErrorInfo { class, status, message }
}

/// A stream's `error` event: the class and status from `error.type` (an unknown type is an
/// upstream failure, 502).
pub fn from_event(data: &str) -> ErrorInfo {
    let inner = serde_json::from_str::<Envelope>(data).ok().and_then(|e| e.error);
    let (class, status) = inner
        .as_ref()
        .and_then(|i| i.kind.as_deref())
        .and_then(class_of)
        .unwrap_or((ErrorClass::Internal, 502));
    let message = inner
        .and_then(|i| i.message)
        .unwrap_or_else(|| "the upstream stream failed".into());
    ErrorInfo { class, status, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_type() {
        for (kind, class) in [
            ("invalid_request_error", ErrorClass::InvalidRequest),
            ("authentication_error", ErrorClass::Authentication),
            ("permission_error", ErrorClass::Permission),
            ("not_found_error", ErrorClass::NotFound),
            ("request_too_large", ErrorClass::TooLarge),
            ("rate_limit_error", ErrorClass::RateLimited),
            ("api_error", ErrorClass::Internal),
            ("overloaded_error", ErrorClass::Unavailable),
            ("timeout_error", ErrorClass::Timeout),
        ] {
            let body = format!(r#"{{"type":"error","error":{{"type":"{kind}","message":"m"}}}}"#);
            let info = decode(418, body.as_bytes());
            assert_eq!((info.class, info.status, info.message.as_str()), (class, 418, "m"));
            // And back to the same type.
            assert_eq!(error_type(class), kind);
        }
    }

    #[test]
    fn falls_back_to_the_status() {
        let info = decode(429, b"too many");
        assert_eq!(
            (info.class, info.message.as_str()),
            (ErrorClass::RateLimited, "too many")
        );
        let info = decode(500, br#"{"type":"error","error":{"type":"brand_new","message":"x"}}"#);
        assert_eq!((info.class, info.message.as_str()), (ErrorClass::Internal, "x"));
    }

    #[test]
    fn stream_events() {
        let info = from_event(r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#);
        assert_eq!((info.class, info.status), (ErrorClass::Unavailable, 529));
        let info = from_event("garbage");
        assert_eq!((info.class, info.status), (ErrorClass::Internal, 502));
    }
}
