//! OpenAI's error shape, `{"error":{"message","type","param","code"}}`, which both OpenAI
//! formats (Chat Completions and Responses) and their SDKs use.

use aether_plugin_sdk::types::{ErrorClass, ErrorInfo};

/// The error body OpenAI's SDKs parse.
pub fn body(error: &ErrorInfo) -> Vec<u8> {
    let (kind, code) = error_type(error.class);
    serde_json::json!({
        "error": { "message": error.message, "type": kind, "param": null, "code": code },
    })
    .to_string()
    .into_bytes()
}

/// OpenAI's `error.type` and `error.code` for a class.
pub fn error_type(class: ErrorClass) -> (&'static str, Option<&'static str>) {
    match class {
        ErrorClass::InvalidRequest => ("invalid_request_error", None),
        ErrorClass::MethodNotAllowed => ("invalid_request_error", Some("method_not_allowed")),
        ErrorClass::Authentication => ("invalid_request_error", Some("invalid_api_key")),
        ErrorClass::Permission => ("invalid_request_error", Some("model_not_allowed")),
        ErrorClass::NotFound => ("invalid_request_error", Some("not_found")),
        ErrorClass::TooLarge => ("invalid_request_error", Some("request_too_large")),
        ErrorClass::RateLimited => ("rate_limit_exceeded", Some("rate_limit_exceeded")),
        ErrorClass::Internal => ("server_error", None),
        ErrorClass::Unavailable => ("server_error", Some("service_unavailable")),
        ErrorClass::Timeout => ("server_error", Some("timeout")),
    }
}
