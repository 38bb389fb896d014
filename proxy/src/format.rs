//! The four LLM wire formats Aether speaks, and what each one means on the wire:
//! where its client key travels, how the provider key is injected upstream, the default
//! upstream path, and the error body its SDKs parse.
//!
//! This is the seam where the Wasm format plugins plug in: everything that differs between
//! formats on the same-format path is asked of a [`WireFormat`] here.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One of the LLM wire formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WireFormat {
    /// Anthropic Messages (`POST /v1/messages`).
    Claude,
    /// OpenAI Chat Completions (`POST /v1/chat/completions`).
    OpenaiChat,
    /// OpenAI Responses (`POST /v1/responses`).
    OpenaiResponses,
    /// Google Gemini (`…:generateContent`, `…:streamGenerateContent`).
    Gemini,
}

/// Every format, for listings and tests.
pub const ALL_FORMATS: [WireFormat; 4] = [
    WireFormat::Claude,
    WireFormat::OpenaiChat,
    WireFormat::OpenaiResponses,
    WireFormat::Gemini,
];

/// How a format carries a credential in a request header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHeader {
    /// `x-api-key: KEY` (Anthropic).
    XApiKey,
    /// `authorization: Bearer KEY` (OpenAI).
    Bearer,
    /// `x-goog-api-key: KEY` (Gemini).
    GoogApiKey,
}

impl KeyHeader {
    /// The header name, lower case.
    pub fn name(self) -> &'static str {
        match self {
            KeyHeader::XApiKey => "x-api-key",
            KeyHeader::Bearer => "authorization",
            KeyHeader::GoogApiKey => "x-goog-api-key",
        }
    }

    /// The header value that carries `key`.
    pub fn value(self, key: &str) -> String {
        match self {
            KeyHeader::Bearer => format!("Bearer {key}"),
            KeyHeader::XApiKey | KeyHeader::GoogApiKey => key.to_owned(),
        }
    }
}

/// The class of an error, from which each format derives its own type string and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request is malformed or invalid (400).
    InvalidRequest,
    /// No or a wrong client key (401).
    Authentication,
    /// The key may not do this (403).
    Permission,
    /// No such route or model (404).
    NotFound,
    /// Wrong method for the route (405).
    MethodNotAllowed,
    /// The request body is over the limit (413).
    TooLarge,
    /// Rate limited (429).
    RateLimited,
    /// Aether or a plugin failed (500, 502).
    Internal,
    /// No upstream could serve the request (503).
    Unavailable,
    /// An upstream took too long (504).
    Timeout,
}

impl WireFormat {
    /// The name used in config files, logs and records.
    pub fn as_str(self) -> &'static str {
        match self {
            WireFormat::Claude => "claude",
            WireFormat::OpenaiChat => "openai-chat",
            WireFormat::OpenaiResponses => "openai-responses",
            WireFormat::Gemini => "gemini",
        }
    }

    /// The header through which this format's upstreams expect their key.
    pub fn upstream_key_header(self) -> KeyHeader {
        match self {
            WireFormat::Claude => KeyHeader::XApiKey,
            WireFormat::OpenaiChat | WireFormat::OpenaiResponses => KeyHeader::Bearer,
            WireFormat::Gemini => KeyHeader::GoogApiKey,
        }
    }

    /// The default upstream path template; `{model}` and `{action}` are substituted.
    pub fn default_path(self) -> &'static str {
        match self {
            WireFormat::Claude => "/v1/messages",
            WireFormat::OpenaiChat => "/v1/chat/completions",
            WireFormat::OpenaiResponses => "/v1/responses",
            WireFormat::Gemini => "/v1beta/models/{model}:{action}",
        }
    }

    /// Whether the model travels in the request body (`model` field) rather than the path.
    pub fn model_in_body(self) -> bool {
        !matches!(self, WireFormat::Gemini)
    }

    /// The JSON error body this format's SDKs parse, for a gateway-made error.
    pub fn error_body(self, class: ErrorClass, status: u16, message: &str) -> Vec<u8> {
        let value = match self {
            WireFormat::Claude => serde_json::json!({
                "type": "error",
                "error": { "type": claude_error_type(class), "message": message },
            }),
            WireFormat::OpenaiChat | WireFormat::OpenaiResponses => {
                let (kind, code) = openai_error_type(class);
                serde_json::json!({
                    "error": { "message": message, "type": kind, "param": null, "code": code },
                })
            }
            WireFormat::Gemini => serde_json::json!({
                "error": { "code": status, "message": message, "status": gemini_status(class) },
            }),
        };
        // Serialising a `Value` built above cannot fail; fall back to an empty object anyway.
        serde_json::to_vec(&value).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// An SSE error event in this format, sent when an upstream stream breaks after bytes
    /// have reached the client (no failover is possible then), before the stream is cut.
    pub fn stream_error_event(self, message: &str) -> Vec<u8> {
        let class = ErrorClass::Internal;
        let (name, data) = match self {
            WireFormat::Claude => (Some("error"), self.error_body(class, 502, message)),
            WireFormat::OpenaiResponses => {
                let value = serde_json::json!({
                    "type": "error", "code": "server_error", "message": message, "param": null,
                });
                (Some("error"), serde_json::to_vec(&value).unwrap_or_default())
            }
            WireFormat::OpenaiChat | WireFormat::Gemini => (None, self.error_body(class, 502, message)),
        };
        let mut out = Vec::with_capacity(data.len() + 24);
        if let Some(name) = name {
            out.extend_from_slice(b"event: ");
            out.extend_from_slice(name.as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\n\n");
        out
    }
}

impl fmt::Display for WireFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn claude_error_type(class: ErrorClass) -> &'static str {
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

fn openai_error_type(class: ErrorClass) -> (&'static str, Option<&'static str>) {
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

fn gemini_status(class: ErrorClass) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_have_each_formats_shape() {
        let v: serde_json::Value =
            serde_json::from_slice(&WireFormat::Claude.error_body(ErrorClass::RateLimited, 429, "slow down")).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "rate_limit_error");
        assert_eq!(v["error"]["message"], "slow down");

        let v: serde_json::Value =
            serde_json::from_slice(&WireFormat::OpenaiChat.error_body(ErrorClass::Authentication, 401, "bad key"))
                .unwrap();
        assert_eq!(v["error"]["code"], "invalid_api_key");
        assert!(v["error"]["param"].is_null());

        let v: serde_json::Value =
            serde_json::from_slice(&WireFormat::Gemini.error_body(ErrorClass::RateLimited, 429, "quota")).unwrap();
        assert_eq!(v["error"]["code"], 429);
        assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    }

    #[test]
    fn key_headers_render() {
        assert_eq!(KeyHeader::Bearer.value("k"), "Bearer k");
        assert_eq!(KeyHeader::XApiKey.value("k"), "k");
        assert_eq!(WireFormat::Gemini.upstream_key_header().name(), "x-goog-api-key");
    }
}
