//! The request-path error: one enum for everything that ends a request before a response
//! from an upstream is relayed. Each variant's class and stable kind are decided in one
//! match ([`GatewayError::class_and_kind`]); its HTTP status and whose fault it was follow
//! from the class. Its `Display` is the client-safe message, its `source` the cause that
//! was kept for logs, and it is rendered in the client's own wire format in one place
//! ([`GatewayError::body`]).

use thiserror::Error;

use crate::capability::Capabilities;
use crate::conversion::ConversionError;
use crate::format::{ErrorClass, WireFormat};
use crate::limits::LimitError;
use crate::plugin_host::CallError;
use crate::upstream::{BodyError, Failure};

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

/// Why an upstream's response could not be relayed. The message names only the kind of
/// failure; the transport error it came from is the source.
#[derive(Debug, Error)]
pub enum BrokenResponse {
    /// Pingora failed building or reading the response.
    #[error("{}", .0.etype().as_str())]
    Transport(#[source] Box<pingora::Error>),
    /// The body stopped early or was too large.
    #[error(transparent)]
    Body(#[from] BodyError),
}

/// Everything that can end a request with an Aether-made error response.
#[derive(Debug, Error)]
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
    /// The body is not a request the client format's plugin accepts (its message).
    #[error("{0}")]
    InvalidRequest(String),
    /// The client format's plugin found the request invalid or inexpressible in the IR
    /// while converting it for another format.
    #[error("{0}")]
    NotConvertible(#[source] ConversionError),
    /// The client went away or sent a broken body.
    #[error("could not read the request body: {}", .0.etype().as_str())]
    BodyRead(#[source] Box<pingora::Error>),
    /// The body arrived slower than `server.edge` allows.
    #[error("the request body arrived too slowly: {received} bytes in {waited_ms} ms")]
    BodyTimeout {
        /// Bytes received before the deadline.
        received: usize,
        /// How long the gateway waited.
        waited_ms: u64,
    },
    /// The request bodies the gateway holds at once would pass `server.max_inflight_body_bytes`.
    #[error("the gateway is holding too many request bodies at once (over {limit} bytes); retry shortly")]
    BodyBudgetSpent {
        /// The budget.
        limit: usize,
    },
    /// Every candidate's circuit is open.
    #[error("no upstream is available for model {model:?}: every provider key is temporarily disabled after errors")]
    NoHealthyUpstream {
        /// The model.
        model: String,
    },
    /// Every candidate was tried and failed; each one's failure, in the order tried.
    #[error("all {} upstream candidates failed: {}", .0.len(), list(.0))]
    AllFailed(Vec<Failure>),
    /// A limit refused the request before any upstream was asked (a client key's rate,
    /// tokens, concurrency or budget; every key busy; the shared store down and failing
    /// closed).
    #[error(transparent)]
    Limited(#[from] LimitError),
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
    Plugin(#[from] CallError),
    /// A conversion between the client's format and the upstream's failed on the gateway's
    /// side (a plugin refused or failed to encode or decode).
    #[error("format conversion failed: {0}")]
    Conversion(#[source] ConversionError),
    /// An upstream response could not be relayed.
    #[error("upstream response could not be read: {0}")]
    UpstreamBroken(#[source] BrokenResponse),
}

/// The failures of an all-failed error, client-safe, in the order tried.
fn list(failures: &[Failure]) -> String {
    let details: Vec<&str> = failures.iter().map(|f| f.detail.as_str()).collect();
    details.join("; ")
}

impl From<ConversionError> for GatewayError {
    /// A request the client format's plugin refused is the client's fault (400); any other
    /// conversion failure is the gateway's.
    fn from(e: ConversionError) -> Self {
        if e.is_client_fault() {
            GatewayError::NotConvertible(e)
        } else {
            GatewayError::Conversion(e)
        }
    }
}

impl From<BodyError> for GatewayError {
    fn from(e: BodyError) -> Self {
        GatewayError::UpstreamBroken(BrokenResponse::Body(e))
    }
}

impl GatewayError {
    /// The one place each error's class (which decides its status, whose fault it was and
    /// each format's error type) and its short stable kind (for usage records and
    /// metrics) are decided.
    pub fn class_and_kind(&self) -> (ErrorClass, &'static str) {
        use ErrorClass as C;
        match self {
            GatewayError::NotFound { .. } => (C::NotFound, "not_found"),
            GatewayError::UnknownModel(_) => (C::NotFound, "unknown_model"),
            GatewayError::MethodNotAllowed { .. } => (C::MethodNotAllowed, "method_not_allowed"),
            GatewayError::MissingKey => (C::Authentication, "missing_key"),
            GatewayError::InvalidKey => (C::Authentication, "invalid_key"),
            GatewayError::ModelNotAllowed(_) => (C::Permission, "model_not_allowed"),
            GatewayError::BodyTooLarge { .. } => (C::TooLarge, "body_too_large"),
            GatewayError::MissingModel => (C::InvalidRequest, "missing_model"),
            GatewayError::InvalidRequest(_) | GatewayError::NotConvertible(_) => (C::InvalidRequest, "invalid_request"),
            GatewayError::BodyRead(_) => (C::InvalidRequest, "body_read"),
            GatewayError::BodyTimeout { .. } => (C::InvalidRequest, "body_timeout"),
            GatewayError::MissingCapability { .. } => (C::InvalidRequest, "missing_capability"),
            GatewayError::UnknownCapability(_) => (C::InvalidRequest, "unknown_capability"),
            GatewayError::RateLimited { .. } => (C::RateLimited, "rate_limited"),
            GatewayError::Limited(LimitError::Refused(_)) => (C::RateLimited, "limited"),
            GatewayError::Limited(LimitError::KeysBusy { .. }) => (C::RateLimited, "keys_busy"),
            GatewayError::Limited(LimitError::Unavailable(_)) => (C::Unavailable, "limits_unavailable"),
            GatewayError::NoHealthyUpstream { .. } => (C::Unavailable, "no_healthy_upstream"),
            GatewayError::BodyBudgetSpent { .. } => (C::Unavailable, "body_budget"),
            GatewayError::AllFailed(_) => (C::Unavailable, "all_failed"),
            GatewayError::UpstreamBroken(_) => (C::Internal, "upstream_broken"),
            GatewayError::Conversion(_) => (C::Internal, "conversion"),
            GatewayError::Plugin(e) => (C::Internal, e.kind()),
        }
    }

    /// Headers the response carries besides the body's: for a limit, `retry-after`
    /// (seconds, rounded up, and `retry-after-ms`, which the official SDKs read) and
    /// `x-ratelimit-{limit,remaining,reset}-<limit>` naming it (budgets in USD).
    pub fn headers(&self) -> Vec<(String, String)> {
        let retry = |d: std::time::Duration| {
            vec![
                ("retry-after".to_owned(), d.as_secs_f64().ceil().max(1.0).to_string()),
                ("retry-after-ms".to_owned(), d.as_millis().to_string()),
            ]
        };
        match self {
            GatewayError::Limited(LimitError::Refused(r)) => {
                let suffix = r.name.header_suffix();
                let amount = |n: i64| {
                    if r.name.is_budget() {
                        crate::telemetry::money::NanoUsd(n).to_usd_string()
                    } else {
                        n.to_string()
                    }
                };
                let mut h = r.retry_after.map(retry).unwrap_or_default();
                h.push((format!("x-ratelimit-limit-{suffix}"), amount(r.limit)));
                h.push((format!("x-ratelimit-remaining-{suffix}"), amount(r.remaining)));
                if let Some(d) = r.retry_after {
                    h.push((
                        format!("x-ratelimit-reset-{suffix}"),
                        format!("{:.3}s", d.as_secs_f64()),
                    ));
                }
                h
            }
            GatewayError::Limited(LimitError::KeysBusy { retry_after }) => retry(*retry_after),
            _ => Vec::new(),
        }
    }

    /// The error class, which decides status and each format's error type.
    pub fn class(&self) -> ErrorClass {
        self.class_and_kind().0
    }

    /// A short stable name for usage records and metrics.
    pub fn kind(&self) -> &'static str {
        self.class_and_kind().1
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        // A slow body is the client's request error, with the status that says which.
        if matches!(self, GatewayError::BodyTimeout { .. }) {
            return 408;
        }
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
        let failure = |detail: &str| Failure {
            retry_after: None,
            kind: crate::upstream::FailureKind::Status(500),
            detail: detail.into(),
        };
        let all = GatewayError::AllFailed(vec![
            failure("a: HTTP 500"),
            failure("b: HTTP 502"),
            failure("c: HTTP 500"),
        ]);
        assert_eq!((all.status(), all.fault()), (503, Fault::Upstream));
        let body: serde_json::Value = serde_json::from_slice(&all.body(WireFormat::Claude)).unwrap();
        assert_eq!(body["error"]["type"], "overloaded_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("all 3 upstream candidates failed")
        );
        // Every attempt's failure is kept, not only the last.
        assert!(
            all.to_string().ends_with("a: HTTP 500; b: HTTP 502; c: HTTP 500"),
            "{all}"
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
