//! The checks a plugin passes before it serves: a contract version this host speaks, a
//! sane identity, and its own self-test corpus run through its real exports.

use std::sync::Arc;

use aether_plugin_sdk::harness;
use serde_json::Value;

use super::bindings::types::{PluginIdentity, TestCase, TestCheck};
use super::error::{LoadError, PluginError};
use super::plugin::Plugin;
use crate::conversion::ConversionError;
use crate::conversion::request::ClientRequest;
use crate::conversion::stream::StreamConverter;
use crate::format::WireFormat;

/// The contract version this host speaks.
pub const CONTRACT_VERSION: &str = aether_plugin_sdk::CONTRACT_VERSION;

/// The format an identity names, if the identity is acceptable.
pub fn identity(id: &PluginIdentity) -> Result<WireFormat, LoadError> {
    if id.contract != CONTRACT_VERSION {
        return Err(LoadError::ContractVersion {
            found: id.contract.clone(),
            expected: CONTRACT_VERSION.to_owned(),
        });
    }
    let format = WireFormat::parse(&id.format).ok_or_else(|| {
        LoadError::Identity(format!(
            "format {:?} is not one of claude, openai-chat, openai-responses, gemini",
            id.format
        ))
    })?;
    let printable = |s: &str| !s.is_empty() && s.len() <= 64 && s.chars().all(|c| !c.is_control());
    if !printable(&id.version) {
        return Err(LoadError::Identity(format!(
            "version {:?} is empty, too long or not printable",
            id.version
        )));
    }
    if id.usage_markers.len() > 16 || id.usage_markers.iter().any(|m| m.is_empty() || m.len() > 64) {
        return Err(LoadError::Identity(
            "usage markers: at most 16, each 1 to 64 bytes".into(),
        ));
    }
    Ok(format)
}

/// Runs the plugin's self-test; the number of cases that passed.
pub fn self_test(plugin: &Arc<Plugin>) -> Result<usize, LoadError> {
    let cases = plugin.self_test_cases()?;
    if cases.is_empty() {
        return Err(LoadError::SelfTest("the plugin ships no self-test cases".into()));
    }
    let mut failures = Vec::new();
    for case in &cases {
        let actual = evaluate(plugin, case)?;
        let expected: Value = serde_json::from_str(&case.expected_json)
            .map_err(|e| LoadError::SelfTest(format!("case {:?}: expected_json is not JSON: {e}", case.name)))?;
        if !harness::matches(&expected, &actual) {
            failures.push(format!("{:?}: expected {expected}, got {actual}", case.name));
        }
    }
    if failures.is_empty() {
        Ok(cases.len())
    } else {
        Err(LoadError::SelfTest(format!(
            "{} of {} cases failed: {}",
            failures.len(),
            cases.len(),
            failures.join("; ")
        )))
    }
}

/// One case through the plugin's real exports, as the JSON the case's expectation matches.
fn evaluate(plugin: &Arc<Plugin>, case: &TestCase) -> Result<Value, LoadError> {
    Ok(match &case.check {
        TestCheck::Inspect(request) => harness::outcome_json(&plugin.inspect(&request.head, &request.body)?),
        TestCheck::UsageBody(body) => harness::outcome_json::<_, ()>(&Ok(plugin.usage_from_body(body)?)),
        TestCheck::UsageStream(events) => {
            let tap = plugin.open_usage_tap()?;
            let marked: Vec<_> = events
                .iter()
                .filter(|e| {
                    let raw = aether_plugin_sdk::sse::frame(e.name.as_deref(), e.data.as_bytes());
                    plugin.is_usage_event(&raw)
                })
                .cloned()
                .collect();
            tap.tap_push(&marked)?;
            harness::outcome_json::<_, ()>(&Ok(tap.tap_report()?))
        }
        TestCheck::ErrorBody(info) => harness::body_json(&plugin.error_body(info)?),
        TestCheck::DecodeError(case) => {
            harness::outcome_json::<_, ()>(&Ok(plugin.decode_error(case.status, &case.body)?))
        }
        TestCheck::ConvertRequest(_) | TestCheck::ConvertResponse(_) | TestCheck::ConvertStream(_) => {
            convert(plugin, plugin, &case.check)?
        }
    })
}

/// A conversion case through two plugins' real exports, `from` decoding and `to` encoding,
/// driven by the same code as the gateway's request path; the JSON the SDK's native
/// [`harness::convert`] gives for the same case. Other checks yield `null`.
pub fn convert(from: &Arc<Plugin>, to: &Arc<Plugin>, check: &TestCheck) -> Result<Value, PluginError> {
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
