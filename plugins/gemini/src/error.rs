//! Google's error shape: `{"error":{"code":<status>,"message","status":"RESOURCE_EXHAUSTED"…}}`.

use aether_plugin_sdk::types::{ErrorClass, ErrorInfo};

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
