//! Errors in the Responses format. The body is OpenAI's `{"error":{"message","type","param",
//! "code"}}` (written by the Chat plugin's error module); this module reads it back
//! ([`decode`], IR.md "Errors") and renders the stream's `error` event.
//!
//! The class comes from the body's `code`, then its `type`; OpenAI's generic types
//! (`invalid_request_error`, `server_error`) say less than the status, so for them the
//! status decides.

use aether_plugin_openai_chat::error as openai_error;
use aether_plugin_sdk::errors::{class_for_status, message_of};
use aether_plugin_sdk::types::{ErrorClass, ErrorInfo};
use serde::Deserialize;

#[derive(Deserialize)]
struct Body {
    error: Option<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

/// The class an OpenAI error `code` or `type` names; `None` for generic or unknown ones.
pub fn class_for_code(code: &str) -> Option<ErrorClass> {
    Some(match code {
        "rate_limit_exceeded" | "rate_limit_error" | "insufficient_quota" | "tokens" | "requests" => {
            ErrorClass::RateLimited
        }
        "invalid_api_key" | "authentication_error" | "invalid_authentication" => ErrorClass::Authentication,
        "permission_error" | "permission_denied" | "model_not_allowed" | "unsupported_country_region_territory" => {
            ErrorClass::Permission
        }
        "not_found" | "not_found_error" | "model_not_found" => ErrorClass::NotFound,
        "method_not_allowed" => ErrorClass::MethodNotAllowed,
        "request_too_large" | "context_length_exceeded" | "string_above_max_length" => {
            if code == "request_too_large" {
                ErrorClass::TooLarge
            } else {
                ErrorClass::InvalidRequest
            }
        }
        "service_unavailable" | "overloaded_error" | "server_is_overloaded" | "engine_overloaded" => {
            ErrorClass::Unavailable
        }
        "timeout" => ErrorClass::Timeout,
        _ => return None,
    })
}

/// The HTTP status of an error class (the gateway's table).
pub fn status_for_class(class: ErrorClass) -> u16 {
    match class {
        ErrorClass::InvalidRequest => 400,
        ErrorClass::Authentication => 401,
        ErrorClass::Permission => 403,
        ErrorClass::NotFound => 404,
        ErrorClass::MethodNotAllowed => 405,
        ErrorClass::TooLarge => 413,
        ErrorClass::RateLimited => 429,
        ErrorClass::Internal => 502,
        ErrorClass::Unavailable => 503,
        ErrorClass::Timeout => 504,
    }
}

/// An error reported inside a stream (the `error` event, or a failed response's `error`):
/// the class from its code, the status from the class.
pub fn in_stream(code: Option<&str>, message: Option<&str>) -> ErrorInfo {
    let class = code.and_then(class_for_code).unwrap_or(ErrorClass::Internal);
    ErrorInfo {
        class,
        status: status_for_class(class),
        message: message.unwrap_or("the upstream failed").to_owned(),
    }
}

/// An upstream error response of this format as error info: the status kept, the class
/// from the body's `code` or `type` where specific (else from the status), the message
/// from the body.
pub fn decode(status: u16, body: &[u8]) -> ErrorInfo {
    let detail = serde_json::from_slice::<Body>(body).ok().and_then(|b| b.error);
    let class = detail
        .as_ref()
        .and_then(|d| {
            let code = d.code.as_ref().and_then(|c| c.as_str()).and_then(class_for_code);
            code.or_else(|| d.kind.as_deref().and_then(class_for_code))
        })
        .unwrap_or_else(|| class_for_status(status));
    ErrorInfo {
        class,
        status,
        message: message_of(body),
    }
}

/// The error `code` the stream's `error` event carries for a class.
pub fn stream_code(class: ErrorClass) -> &'static str {
    let (kind, code) = openai_error::error_type(class);
    code.unwrap_or(kind)
}

/// `event: error` with `{"type":"error","code","message","param"}`, as the Responses stream
/// defines it (the host sends it when a stream breaks after it started).
pub fn stream_error_event(error: &ErrorInfo) -> Vec<u8> {
    let data = serde_json::json!({
        "type": "error", "code": stream_code(error.class), "message": error.message, "param": null,
    });
    aether_plugin_sdk::sse::frame(Some("error"), data.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_from_code_type_and_status() {
        let e = decode(
            429,
            br#"{"error":{"message":"slow","type":"requests","code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!(
            (e.class, e.status, e.message.as_str()),
            (ErrorClass::RateLimited, 429, "slow")
        );
        let e = decode(
            401,
            br#"{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}"#,
        );
        assert_eq!(e.class, ErrorClass::Authentication);
        let e = decode(
            404,
            br#"{"error":{"message":"nope","type":"invalid_request_error","code":null}}"#,
        );
        assert_eq!(e.class, ErrorClass::NotFound);
        let e = decode(
            400,
            br#"{"error":{"message":"bad","type":"invalid_request_error","param":"input"}}"#,
        );
        assert_eq!(e.class, ErrorClass::InvalidRequest);
        let e = decode(500, br#"{"error":{"message":"oops","type":"server_error"}}"#);
        assert_eq!(e.class, ErrorClass::Internal);
        let e = decode(503, b"upstream down");
        assert_eq!(
            (e.class, e.message.as_str()),
            (ErrorClass::Unavailable, "upstream down")
        );
        let e = decode(
            400,
            br#"{"error":{"message":"big","type":"invalid_request_error","code":"request_too_large"}}"#,
        );
        assert_eq!(e.class, ErrorClass::TooLarge);
    }

    #[test]
    fn stream_error_event_shape() {
        let info = ErrorInfo {
            class: ErrorClass::RateLimited,
            status: 429,
            message: "slow".into(),
        };
        let text = String::from_utf8(stream_error_event(&info)).unwrap();
        assert!(text.starts_with("event: error\ndata: "));
        assert!(text.contains("\"code\":\"rate_limit_exceeded\""));
    }
}
