//! One conversion case of the SDK's test corpus, driven through two plugins' real exports by
//! the same code as the request path: the plugins' load-time self-test
//! ([`crate::plugin_registry::check`]) and the conformance corpus run through the host
//! (`proxy/tests/conformance.rs`) both use it.

use std::sync::Arc;

use aether_plugin_sdk::harness;
use serde_json::Value;

use super::ConversionError;
use super::request::ClientRequest;
use super::stream::StreamConverter;
use crate::plugin_host::bindings::types::TestCheck;
use crate::plugin_host::{CallError, Plugin};

/// A conversion case through two plugins' real exports, `from` decoding and `to` encoding,
/// driven by the same code as the gateway's request path; the JSON the SDK's native
/// [`harness::convert`] gives for the same case. Other checks yield `null`.
pub fn convert(from: &Arc<Plugin>, to: &Arc<Plugin>, check: &TestCheck) -> Result<Value, CallError> {
    let refused = |e: ConversionError| match e {
        ConversionError::Refused { refusal, .. } => Ok(harness::error_json(&refusal)),
        ConversionError::Plugin { error, .. } => Err(error),
    };
    Ok(match check {
        TestCheck::ConvertRequest(r) => {
            let client = ClientRequest::new(from.clone(), r.head.clone(), r.body.clone().into());
            let ir = match client.ir() {
                Ok(ir) => ir,
                Err(e) => return refused(e),
            };
            match to.encode_request(&ir)? {
                Ok(e) => harness::request_json(
                    &e.path,
                    e.headers.iter().map(|h| (h.name.as_str(), h.value.as_str())),
                    &e.body,
                ),
                Err(refusal) => harness::error_json(&refusal),
            }
        }
        TestCheck::ConvertResponse(body) => match from.decode_response(body)? {
            Ok(ir) => match to.encode_response(&ir)? {
                Ok(body) => harness::body_json(&body),
                Err(refusal) => harness::error_json(&refusal),
            },
            Err(refusal) => harness::error_json(&refusal),
        },
        TestCheck::ConvertStream(case) => {
            let run = || -> Result<Vec<u8>, ConversionError> {
                let mut converter = StreamConverter::open(from, to, &case.model)?;
                let mut out = Vec::new();
                for event in &case.events {
                    out.extend(converter.push_event(event)?);
                }
                out.extend(converter.finish()?);
                Ok(out)
            };
            match run() {
                Ok(bytes) => harness::stream_json(&bytes),
                Err(e) => return refused(e),
            }
        }
        _ => Value::Null,
    })
}
