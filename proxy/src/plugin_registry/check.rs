//! The checks a plugin passes before it serves: a contract version this host speaks, a
//! sane identity, and its own self-test corpus run through its real exports.

use std::sync::Arc;

use aether_plugin_sdk::harness;
use serde_json::Value;

use crate::conversion::case;
use crate::format::WireFormat;
use crate::plugin_host::bindings::types::{PluginIdentity, TestCase, TestCheck};
use crate::plugin_host::error::PluginLoadError;
use crate::plugin_host::plugin::{CONTRACT_VERSION, Plugin};

/// The format an identity names, if the identity is acceptable.
pub fn identity(id: &PluginIdentity) -> Result<WireFormat, PluginLoadError> {
    if id.contract != CONTRACT_VERSION {
        return Err(PluginLoadError::ContractVersion {
            found: id.contract.clone(),
            expected: CONTRACT_VERSION.to_owned(),
        });
    }
    let format = WireFormat::parse(&id.format).ok_or_else(|| {
        PluginLoadError::Identity(format!(
            "format {:?} is not one of claude, openai-chat, openai-responses, gemini",
            id.format
        ))
    })?;
    let printable = |s: &str| !s.is_empty() && s.len() <= 64 && s.chars().all(|c| !c.is_control());
    if !printable(&id.version) {
        return Err(PluginLoadError::Identity(format!(
            "version {:?} is empty, too long or not printable",
            id.version
        )));
    }
    if id.usage_markers.len() > 16 || id.usage_markers.iter().any(|m| m.is_empty() || m.len() > 64) {
        return Err(PluginLoadError::Identity(
            "usage markers: at most 16, each 1 to 64 bytes".into(),
        ));
    }
    Ok(format)
}

/// Runs the plugin's self-test; the number of cases that passed.
pub fn self_test(plugin: &Arc<Plugin>) -> Result<usize, PluginLoadError> {
    let cases = plugin.self_test_cases()?;
    if cases.is_empty() {
        return Err(PluginLoadError::SelfTest("the plugin ships no self-test cases".into()));
    }
    let mut failures = Vec::new();
    for case in &cases {
        let actual = evaluate(plugin, case)?;
        let expected: Value = serde_json::from_str(&case.expected_json)
            .map_err(|e| PluginLoadError::SelfTest(format!("case {:?}: expected_json is not JSON: {e}", case.name)))?;
        if !harness::matches(&expected, &actual) {
            failures.push(format!("{:?}: expected {expected}, got {actual}", case.name));
        }
    }
    if failures.is_empty() {
        Ok(cases.len())
    } else {
        Err(PluginLoadError::SelfTest(format!(
            "{} of {} cases failed: {}",
            failures.len(),
            cases.len(),
            failures.join("; ")
        )))
    }
}

/// One case through the plugin's real exports, as the JSON the case's expectation matches.
fn evaluate(plugin: &Arc<Plugin>, case: &TestCase) -> Result<Value, PluginLoadError> {
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
            case::convert(plugin, plugin, &case.check)?
        }
    })
}
