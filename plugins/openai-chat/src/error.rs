//! OpenAI's error shape, `{"error":{"message","type","param","code"}}`, which both OpenAI
//! formats (Chat Completions and Responses) and their SDKs use: writing it for a client, and
//! reading an upstream's (IR.md "Errors": the status kept, the class from `error.code` or
//! `error.type` where they say one, else from the status).

use aether_plugin_sdk::errors;
use aether_plugin_sdk::types::{ErrorClass, ErrorInfo};
use serde::Deserialize;

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

/// An error body: `{"error": {...}}`.
#[derive(Deserialize)]
pub struct ErrorBody<'a> {
    /// The error.
    #[serde(borrow)]
    pub error: WireError<'a>,
}

/// The `error` object. `code` is a string at OpenAI, a number at some compatible servers.
#[derive(Deserialize)]
pub struct WireError<'a> {
    /// The message.
    #[serde(borrow, default)]
    pub message: Option<std::borrow::Cow<'a, str>>,
    /// `invalid_request_error`, `rate_limit_exceeded`, `server_error`, ...
    #[serde(borrow, rename = "type", default)]
    pub kind: Option<std::borrow::Cow<'a, str>>,
    /// `invalid_api_key`, `model_not_found`, `rate_limit_exceeded`, ... (or an HTTP status).
    #[serde(default)]
    pub code: Option<serde_json::Value>,
}

/// An upstream error response (status and body) as error info.
pub fn decode(status: u16, body: &[u8]) -> ErrorInfo {
    match serde_json::from_slice::<ErrorBody<'_>>(body) {
        Ok(parsed) => info(&parsed.error, Some(status)),
        Err(_) => errors::generic(status, body),
    }
}

/// The info of an `error` object; `status` is the response's (none for an error sent inside
/// a stream, where the class decides it, or a numeric `code` when there is one).
pub fn info(error: &WireError<'_>, status: Option<u16>) -> ErrorInfo {
    let numeric = error
        .code
        .as_ref()
        .and_then(serde_json::Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..600).contains(c));
    let code = error.code.as_ref().and_then(serde_json::Value::as_str);
    let fallback = status.or(numeric);
    let class = code
        .and_then(class_of_code)
        .or_else(|| error.kind.as_deref().and_then(|k| class_of_type(k, fallback)))
        .unwrap_or_else(|| fallback.map_or(ErrorClass::Internal, errors::class_for_status));
    ErrorInfo {
        class,
        status: status.or(numeric).unwrap_or_else(|| status_of(class)),
        message: error
            .message
            .as_deref()
            .filter(|m| !m.is_empty())
            .unwrap_or("upstream error")
            .to_owned(),
    }
}

/// The class a specific `error.code` names, if it names one.
fn class_of_code(code: &str) -> Option<ErrorClass> {
    Some(match code {
        "invalid_api_key" | "invalid_authentication" => ErrorClass::Authentication,
        "model_not_allowed" | "unsupported_country_region_territory" => ErrorClass::Permission,
        "model_not_found" | "not_found" => ErrorClass::NotFound,
        "method_not_allowed" => ErrorClass::MethodNotAllowed,
        "request_too_large" => ErrorClass::TooLarge,
        "rate_limit_exceeded" | "insufficient_quota" => ErrorClass::RateLimited,
        "service_unavailable" | "overloaded" => ErrorClass::Unavailable,
        "timeout" => ErrorClass::Timeout,
        _ => return None,
    })
}

/// The class an `error.type` names; the generic types defer to the status.
fn class_of_type(kind: &str, status: Option<u16>) -> Option<ErrorClass> {
    Some(match kind {
        "authentication_error" => ErrorClass::Authentication,
        "permission_error" | "permission_denied" => ErrorClass::Permission,
        "not_found_error" => ErrorClass::NotFound,
        "rate_limit_exceeded" | "rate_limit_error" | "requests" | "tokens" | "insufficient_quota" => {
            ErrorClass::RateLimited
        }
        "request_too_large" => ErrorClass::TooLarge,
        "overloaded_error" | "service_unavailable" => ErrorClass::Unavailable,
        "timeout" | "timeout_error" => ErrorClass::Timeout,
        "invalid_request_error" => match status {
            Some(s @ 400..=499) => errors::class_for_status(s),
            _ => ErrorClass::InvalidRequest,
        },
        "server_error" | "api_error" => match status {
            Some(s @ 500..=599) => errors::class_for_status(s),
            _ => ErrorClass::Internal,
        },
        _ => return None,
    })
}

/// The status a class implies when the upstream gave none (an error inside a stream).
pub fn status_of(class: ErrorClass) -> u16 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(status: u16, body: &str) -> ErrorInfo {
        decode(status, body.as_bytes())
    }

    #[test]
    fn code_outranks_type_and_status_is_kept() {
        let e = decoded(
            401,
            r#"{"error":{"message":"Incorrect API key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
        );
        assert_eq!(
            (e.class, e.status, e.message.as_str()),
            (ErrorClass::Authentication, 401, "Incorrect API key")
        );
        let e = decoded(
            404,
            r#"{"error":{"message":"no","type":"invalid_request_error","code":"model_not_found"}}"#,
        );
        assert_eq!(e.class, ErrorClass::NotFound);
    }

    #[test]
    fn rate_limits_by_type_or_code() {
        for body in [
            r#"{"error":{"message":"slow","type":"requests","code":"rate_limit_exceeded"}}"#,
            r#"{"error":{"message":"slow","type":"tokens","code":null}}"#,
            r#"{"error":{"message":"slow","type":"rate_limit_exceeded"}}"#,
        ] {
            let e = decoded(429, body);
            assert_eq!((e.class, e.status), (ErrorClass::RateLimited, 429), "{body}");
        }
    }

    #[test]
    fn generic_types_defer_to_the_status() {
        assert_eq!(
            decoded(413, r#"{"error":{"message":"big","type":"invalid_request_error"}}"#).class,
            ErrorClass::TooLarge
        );
        assert_eq!(
            decoded(
                400,
                r#"{"error":{"message":"bad","type":"invalid_request_error","param":"messages"}}"#
            )
            .class,
            ErrorClass::InvalidRequest
        );
        assert_eq!(
            decoded(503, r#"{"error":{"message":"busy","type":"server_error"}}"#).class,
            ErrorClass::Unavailable
        );
        assert_eq!(
            decoded(500, r#"{"error":{"message":"x","type":"server_error"}}"#).class,
            ErrorClass::Internal
        );
        assert_eq!(
            decoded(403, r#"{"error":{"message":"x","type":"permission_error"}}"#).class,
            ErrorClass::Permission
        );
    }

    #[test]
    fn other_bodies_fall_back_to_the_status() {
        let e = decoded(502, "Bad Gateway");
        assert_eq!(
            (e.class, e.status, e.message.as_str()),
            (ErrorClass::Internal, 502, "Bad Gateway")
        );
        let e = decoded(429, r#"{"error":{"message":"m","type":"something_else"}}"#);
        assert_eq!(e.class, ErrorClass::RateLimited);
    }

    #[test]
    fn stream_errors_take_their_status_from_the_class_or_a_numeric_code() {
        let parsed: ErrorBody<'_> = serde_json::from_str(r#"{"error":{"message":"slow","code":429}}"#).unwrap();
        let e = info(&parsed.error, None);
        assert_eq!((e.class, e.status), (ErrorClass::RateLimited, 429));
        let parsed: ErrorBody<'_> =
            serde_json::from_str(r#"{"error":{"message":"boom","type":"server_error"}}"#).unwrap();
        let e = info(&parsed.error, None);
        assert_eq!((e.class, e.status), (ErrorClass::Internal, 502));
    }
}
