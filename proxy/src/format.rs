//! The four LLM wire formats Aether speaks, and what each one means on the wire:
//! where its client key travels, how the provider key is injected upstream, the default
//! upstream path, and the error body its SDKs parse.
//!
//! This is the seam where the Wasm format plugins plug in: everything that differs between
//! formats on the same-format path is asked of a [`WireFormat`] here.

use std::fmt;

use aether_plugin_claude::Claude;
use aether_plugin_gemini::Gemini;
use aether_plugin_openai_chat::OpenaiChat;
use aether_plugin_openai_responses::OpenaiResponses;
use aether_plugin_sdk::FormatPlugin;
use aether_plugin_sdk::types::ErrorInfo;
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

/// The class of an error, from which each format derives its own type string and status:
/// the plugin contract's `error-class`, shared with the plugins.
pub use aether_plugin_sdk::types::ErrorClass;

impl WireFormat {
    /// The format a name (as [`WireFormat::as_str`] gives it) stands for.
    pub fn parse(name: &str) -> Option<WireFormat> {
        ALL_FORMATS.into_iter().find(|f| f.as_str() == name)
    }

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

    /// The JSON error body this format's SDKs parse, from the built-in plugin's code run
    /// natively: what the gateway answers when the format's Wasm plugin cannot be called.
    pub fn error_body(self, class: ErrorClass, status: u16, message: &str) -> Vec<u8> {
        let info = ErrorInfo {
            class,
            status,
            message: message.to_owned(),
        };
        match self {
            WireFormat::Claude => Claude::error_body(&info),
            WireFormat::OpenaiChat => OpenaiChat::error_body(&info),
            WireFormat::OpenaiResponses => OpenaiResponses::error_body(&info),
            WireFormat::Gemini => Gemini::error_body(&info),
        }
    }

    /// An SSE error event in this format (the built-in plugin's, natively), sent when an
    /// upstream stream breaks after bytes have reached the client (no failover is possible
    /// then), before the stream is cut.
    pub fn stream_error_event(self, message: &str) -> Vec<u8> {
        let info = ErrorInfo {
            class: ErrorClass::Internal,
            status: 502,
            message: message.to_owned(),
        };
        match self {
            WireFormat::Claude => Claude::stream_error_event(&info),
            WireFormat::OpenaiChat => OpenaiChat::stream_error_event(&info),
            WireFormat::OpenaiResponses => OpenaiResponses::stream_error_event(&info),
            WireFormat::Gemini => Gemini::stream_error_event(&info),
        }
    }
}

impl fmt::Display for WireFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
