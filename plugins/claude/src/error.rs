//! Anthropic's error shape: `{"type":"error","error":{"type":…,"message":…}}`, and the same
//! body as a stream's `error` event.

use aether_plugin_sdk::types::{ErrorClass, ErrorInfo};

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
