//! Google's error shape: `{"error":{"code":<status>,"message","status":"RESOURCE_EXHAUSTED"…}}`,
//! written for clients and read from upstreams (`status` decides the class; the HTTP status
//! when the body has none).

use aether_plugin_sdk::errors;
use aether_plugin_sdk::types::{ErrorClass, ErrorInfo};
use serde::Deserialize;
use serde_json::Value;

/// The error body Google's SDKs parse.
pub fn body(error: &ErrorInfo) -> Vec<u8> {
    serde_json::json!({
        "error": { "code": error.status, "message": error.message, "status": status(error.class) },
    })
    .to_string()
    .into_bytes()
}

/// Google's canonical status name for a class.
pub fn status(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest | ErrorClass::MethodNotAllowed | ErrorClass::TooLarge => "INVALID_ARGUMENT",
        ErrorClass::Authentication => "UNAUTHENTICATED",
        ErrorClass::Permission => "PERMISSION_DENIED",
        ErrorClass::NotFound => "NOT_FOUND",
        ErrorClass::RateLimited => "RESOURCE_EXHAUSTED",
        ErrorClass::Internal => "INTERNAL",
        ErrorClass::Unavailable => "UNAVAILABLE",
        ErrorClass::Timeout => "DEADLINE_EXCEEDED",
    }
}

/// The class a canonical status name means, if it is one.
pub fn class(status: &str) -> Option<ErrorClass> {
    Some(match status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => ErrorClass::InvalidRequest,
        "UNAUTHENTICATED" => ErrorClass::Authentication,
        "PERMISSION_DENIED" => ErrorClass::Permission,
        "NOT_FOUND" => ErrorClass::NotFound,
        "RESOURCE_EXHAUSTED" => ErrorClass::RateLimited,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => ErrorClass::Internal,
        "UNAVAILABLE" => ErrorClass::Unavailable,
        "DEADLINE_EXCEEDED" => ErrorClass::Timeout,
        _ => return None,
    })
}

#[derive(Deserialize)]
struct Envelope {
    error: Detail,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// An upstream's error response (status and body) as error info. Google sometimes wraps the
/// body in a one-element array; that is read too.
pub fn decode(http_status: u16, body: &[u8]) -> ErrorInfo {
    let is_array = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let envelope = if is_array {
        serde_json::from_slice::<Vec<Envelope>>(body)
            .ok()
            .and_then(|list| list.into_iter().next())
    } else {
        serde_json::from_slice::<Envelope>(body).ok()
    };
    match envelope {
        Some(e) => from_detail(http_status, e.error),
        None => errors::generic(http_status, body),
    }
}

/// The `error` object of a stream chunk as error info (its `code` as the status, else 500).
pub fn decode_value(error: &Value) -> ErrorInfo {
    match Detail::deserialize(error) {
        Ok(detail) => {
            let status = detail.code.unwrap_or(500);
            from_detail(status, detail)
        }
        Err(_) => ErrorInfo {
            class: ErrorClass::Internal,
            status: 500,
            message: error.to_string(),
        },
    }
}

fn from_detail(http_status: u16, detail: Detail) -> ErrorInfo {
    ErrorInfo {
        class: detail
            .status
            .as_deref()
            .and_then(class)
            .unwrap_or_else(|| errors::class_for_status(http_status)),
        status: http_status,
        message: detail.message.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_by_status_name() {
        let info = decode(
            429,
            br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}"#,
        );
        assert_eq!(
            info,
            ErrorInfo {
                class: ErrorClass::RateLimited,
                status: 429,
                message: "Quota exceeded".into()
            }
        );
        let info = decode(
            400,
            br#"[{"error":{"code":400,"message":"bad","status":"FAILED_PRECONDITION"}}]"#,
        );
        assert_eq!((info.class, info.message.as_str()), (ErrorClass::InvalidRequest, "bad"));
        let info = decode(
            503,
            br#"{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}"#,
        );
        assert_eq!(info.class, ErrorClass::Unavailable);
        let info = decode(403, br#"{"error":{"message":"no"}}"#);
        assert_eq!(info.class, ErrorClass::Permission);
        let info = decode(502, b"upstream connect error");
        assert_eq!(
            (info.class, info.message.as_str()),
            (ErrorClass::Internal, "upstream connect error")
        );
    }

    #[test]
    fn every_class_round_trips_through_its_status_name() {
        for c in [
            ErrorClass::InvalidRequest,
            ErrorClass::Authentication,
            ErrorClass::Permission,
            ErrorClass::NotFound,
            ErrorClass::RateLimited,
            ErrorClass::Internal,
            ErrorClass::Unavailable,
            ErrorClass::Timeout,
        ] {
            assert_eq!(class(status(c)), Some(c));
        }
        assert_eq!(class("WHATEVER"), None);
    }

    #[test]
    fn stream_error_values() {
        let info = decode_value(&serde_json::json!({"code": 500, "message": "boom", "status": "INTERNAL"}));
        assert_eq!((info.class, info.status), (ErrorClass::Internal, 500));
    }
}
