//! Cross-format conversion on the request path: a client of one wire format served by an
//! upstream of another.
//!
//! The plugins do the work; this module only drives them, in the order `plugin-sdk/IR.md`
//! describes. The client's request is decoded by the client format's plugin, once, and only
//! when a candidate of another format is tried ([`request::ClientRequest`]). It is then encoded
//! by each such candidate's plugin. A whole answer goes back `decode-response` →
//! `encode-response`, and an upstream error `decode-error` → `error-body`, under the same
//! status ([`response`]). A stream goes back one block of upstream events at a time through
//! a stream decoder and a stream encoder ([`stream::StreamConverter`]), except the events the
//! plugins' splices cover, which the host converts by copying their text ([`splice`]).
//! Same-format traffic never comes here: it is relayed untouched.

pub mod case;
pub mod request;
pub mod response;
pub mod splice;
pub mod stream;

use thiserror::Error;

use crate::format::WireFormat;
use crate::plugin_host::CallError;
use crate::plugin_host::bindings::types::PluginError;

/// How a candidate's traffic is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Client and upstream speak the same format: bytes are relayed as they are.
    PassThrough,
    /// They differ: requests, answers and streams go through the IR.
    Convert,
}

impl Conversion {
    /// The handling for a client of `client` format and an upstream of `upstream` format.
    pub fn between(client: WireFormat, upstream: WireFormat) -> Self {
        if client == upstream {
            Conversion::PassThrough
        } else {
            Conversion::Convert
        }
    }
}

/// Which plugin export a conversion failed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The client's request into the IR.
    DecodeRequest,
    /// The IR request for the upstream.
    EncodeRequest,
    /// The upstream's answer into the IR.
    DecodeResponse,
    /// The IR answer for the client.
    EncodeResponse,
    /// An upstream stream event into the IR.
    DecodeStream,
    /// IR stream events for the client.
    EncodeStream,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::DecodeRequest => "decoding the request",
            Step::EncodeRequest => "encoding the request for the upstream",
            Step::DecodeResponse => "decoding the upstream's response",
            Step::EncodeResponse => "encoding the response",
            Step::DecodeStream => "decoding the upstream's stream",
            Step::EncodeStream => "encoding the stream",
        })
    }
}

/// A conversion that did not happen.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum ConversionError {
    /// The plugin answered, and refused (the input cannot be converted, or is invalid).
    #[error("{step}: {}", refusal_message(.refusal))]
    Refused {
        /// Where.
        step: Step,
        /// The plugin's reason.
        refusal: PluginError,
    },
    /// The plugin itself failed (trap, deadline, memory cap, unusable output).
    #[error("{step}: {error}")]
    Plugin {
        /// Where.
        step: Step,
        /// What went wrong in the host.
        error: CallError,
    },
}

impl ConversionError {
    /// Whether the client's request is at fault: the client format's plugin found it invalid
    /// or inexpressible in the IR. Any other failure is the gateway's.
    pub fn is_client_fault(&self) -> bool {
        matches!(
            self,
            ConversionError::Refused {
                step: Step::DecodeRequest,
                refusal: PluginError::InvalidRequest(_) | PluginError::Unsupported(_),
            }
        )
    }
}

fn refusal_message(refusal: &PluginError) -> &str {
    match refusal {
        PluginError::InvalidRequest(m) | PluginError::Unsupported(m) | PluginError::Internal(m) => m,
    }
}

/// Unwraps a plugin call's two layers of failure into one.
fn settle<T>(step: Step, outcome: Result<Result<T, PluginError>, CallError>) -> Result<T, ConversionError> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(refusal)) => Err(ConversionError::Refused { step, refusal }),
        Err(error) => Err(ConversionError::Plugin { step, error }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refused_decode_is_the_clients_fault() {
        let refused = |step| ConversionError::Refused {
            step,
            refusal: PluginError::InvalidRequest("bad".into()),
        };
        assert!(refused(Step::DecodeRequest).is_client_fault());
        assert!(!refused(Step::EncodeRequest).is_client_fault());
        assert_eq!(refused(Step::DecodeRequest).to_string(), "decoding the request: bad");
        assert_eq!(
            Conversion::between(WireFormat::Claude, WireFormat::Gemini),
            Conversion::Convert
        );
        assert_eq!(
            Conversion::between(WireFormat::Gemini, WireFormat::Gemini),
            Conversion::PassThrough
        );
    }
}
