//! The request-path error: one enum for everything that ends a request before a response
//! from an upstream is relayed. Each variant knows its HTTP status, its client-safe message,
//! whose fault it was, and is rendered in the client's own wire format in one place
//! ([`GatewayError::body`]).

use thiserror::Error;

use crate::capability::Capabilities;
use crate::format::{ErrorClass, WireFormat};
use crate::plugin_host::PluginError;

/// Whose fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The client sent something wrong.
    Client,
    /// Upstreams failed.
    Upstream,
    /// Aether itself failed.
    Gateway,
}

/// Everything that can end a request with an Aether-made error response.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum GatewayError {
    /// No route for this path.
    #[error("no route for {method} {path}")]
    NotFound {
        /// Method.
        method: String,
        /// Path (without the query).
        path: String,
    },
    /// The route exists, not for this method.
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed {
        /// Method.
        method: String,
        /// Path.
        path: String,
    },
    /// No client key in any of the headers the formats use.
    #[error("missing API key")]
    MissingKey,
    /// A client key that is not configured.
    #[error("invalid API key")]
    InvalidKey,
    /// The key may not use this model.
    #[error("this API key may not use model {0:?}")]
    ModelNotAllowed(String),
    /// No provider serves this model.
    #[error("model {0:?} is not served by this gateway")]
    UnknownModel(String),
    /// The body names no model.
    #[error("request body has no \"model\" field")]
    MissingModel,
    /// Body over the configured limit.
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body is not valid JSON.
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body is JSON, but not a request.
    #[error("{0}")]
    InvalidRequest(String),
    /// The client went away or sent a broken body.
    #[error("could not read the request body: {0}")]
    BodyRead(String),
    /// Every candidate's circuit is open.
    #[error("no upstream is available for model {model:?}: every provider key is temporarily disabled after errors")]
    NoHealthyUpstream {
        /// The model.
        model: String,
    },
    /// Every candidate was tried and failed.
    #[error("all {tried} upstream candidates failed; last error: {last}")]
    AllFailed {
        /// How many candidates were tried.
        tried: usize,
        /// The last failure, client-safe.
        last: String,
    },
    /// Every candidate tried answered 429: the client sees a rate limit, in its own
    /// format's shape, and may retry later.
    #[error("rate limited: all {tried} upstream candidates answered HTTP 429")]
    RateLimited {
        /// How many candidates were tried.
        tried: usize,
    },
    /// No candidate for the model has every capability the request needs.
    #[error("no provider key serving model {model:?} has the capabilities this request needs; missing: {missing}")]
    MissingCapability {
        /// The model.
        model: String,
        /// The capabilities no candidate had.
        missing: Capabilities,
    },
    /// `X-Require-Capability` named something unknown.
    #[error(
        "unknown capability {0:?} in X-Require-Capability; known: tools, vision, thinking, structured_output, context_1m, cache_1h"
    )]
    UnknownCapability(String),
    /// The format plugin failed (trap, deadline, memory cap, unusable output).
    #[error("{0}")]
    Plugin(#[from] PluginError),
    /// A conversion between the client's format and the upstream's failed on the gateway's
    /// side (a plugin refused or failed to encode or decode).
    #[error("format conversion failed: {0}")]
    Conversion(String),
    /// An upstream response could not be relayed.
    #[error("upstream response could not be read: {0}")]
    UpstreamBroken(String),
}

impl From<crate::conversion::ConversionError> for GatewayError {
    /// A request the client format's plugin refused is the client's fault (400); any other
    /// conversion failure is the gateway's.
    fn from(e: crate::conversion::ConversionError) -> Self {
        if e.is_client_fault() {
            GatewayError::InvalidRequest(e.to_string())
        } else {
            GatewayError::Conversion(e.to_string())
        }
    }
}

impl GatewayError {
    /// The error class, which decides status and each format's error type.
    pub fn class(&self) -> ErrorClass {
        match self {
            GatewayError::NotFound { .. } | GatewayError::UnknownModel(_) => ErrorClass::NotFound,
            GatewayError::MethodNotAllowed { .. } => ErrorClass::MethodNotAllowed,
            GatewayError::MissingKey | GatewayError::InvalidKey => ErrorClass::Authentication,
            GatewayError::ModelNotAllowed(_) => ErrorClass::Permission,
            GatewayError::BodyTooLarge { .. } => ErrorClass::TooLarge,
            GatewayError::MissingModel
            | GatewayError::MalformedJson(_)
            | GatewayError::InvalidRequest(_)
            | GatewayError::BodyRead(_)
            | GatewayError::MissingCapability { .. }
            | GatewayError::UnknownCapability(_) => ErrorClass::InvalidRequest,
            GatewayError::RateLimited { .. } => ErrorClass::RateLimited,
            GatewayError::NoHealthyUpstream { .. } | GatewayError::AllFailed { .. } => ErrorClass::Unavailable,
            GatewayError::UpstreamBroken(_) | GatewayError::Plugin(_) | GatewayError::Conversion(_) => {
                ErrorClass::Internal
            }
        }
    }

    /// A short stable name for usage records and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            GatewayError::NotFound { .. } => "not_found",
            GatewayError::MethodNotAllowed { .. } => "method_not_allowed",
            GatewayError::MissingKey => "missing_key",
            GatewayError::InvalidKey => "invalid_key",
            GatewayError::ModelNotAllowed(_) => "model_not_allowed",
            GatewayError::UnknownModel(_) => "unknown_model",
            GatewayError::MissingModel => "missing_model",
            GatewayError::BodyTooLarge { .. } => "body_too_large",
            GatewayError::MalformedJson(_) => "malformed_json",
            GatewayError::InvalidRequest(_) => "invalid_request",
            GatewayError::BodyRead(_) => "body_read",
            GatewayError::NoHealthyUpstream { .. } => "no_healthy_upstream",
            GatewayError::AllFailed { .. } => "all_failed",
            GatewayError::RateLimited { .. } => "rate_limited",
            GatewayError::UpstreamBroken(_) => "upstream_broken",
            GatewayError::Conversion(_) => "conversion",
            GatewayError::MissingCapability { .. } => "missing_capability",
            GatewayError::UnknownCapability(_) => "unknown_capability",
            GatewayError::Plugin(e) => e.kind(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self.class() {
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

    /// Whose fault it was.
    pub fn fault(&self) -> Fault {
        match self.class() {
            ErrorClass::Unavailable | ErrorClass::Timeout | ErrorClass::RateLimited => Fault::Upstream,
            ErrorClass::Internal => Fault::Gateway,
            _ => Fault::Client,
        }
    }

    /// The response body in `format`'s error shape. The message never contains secrets:
    /// no variant carries a key, and upstream errors are summarised, not echoed with headers.
    pub fn body(&self, format: WireFormat) -> Vec<u8> {
        format.error_body(self.class(), self.status(), &self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_faults() {
        assert_eq!(GatewayError::MissingKey.status(), 401);
        assert_eq!(GatewayError::BodyTooLarge { limit: 1 }.status(), 413);
        let all = GatewayError::AllFailed {
            tried: 3,
            last: "HTTP 500".into(),
        };
        assert_eq!((all.status(), all.fault()), (503, Fault::Upstream));
        let body: serde_json::Value = serde_json::from_slice(&all.body(WireFormat::Claude)).unwrap();
        assert_eq!(body["error"]["type"], "overloaded_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("all 3 upstream candidates failed")
        );
        assert_eq!(
            GatewayError::MethodNotAllowed {
                method: "GET".into(),
                path: "/v1/messages".into()
            }
            .status(),
            405
        );
    }
}
