//! The conformance corpus through the gateway's Wasm host: every case of every pair, run
//! with the built-in plugins' components by the same conversion code the request path uses,
//! must match its expectation and agree with the native run of the same case (the plugin
//! code compiled natively), output for output.

use aether::format::WireFormat;
use aether::plugin_host::check;
use aether::plugin_host::{PluginSettings, Plugins, Watch};
use aether_plugin_sdk::types::TestCase;
use serde_json::Value;

/// The SDK's and the host's bindings are two generations of the same WIT types; a case
/// crosses from one to the other through its serde form.
fn host_check(case: &TestCase) -> aether::plugin_host::bindings::types::TestCheck {
    let value = serde_json::to_value(&case.check).expect("a test check serialises");
    serde_json::from_value(value).expect("both bindings have the same serde form")
}

/// Wall-clock fields (`created`, `created_at`) differ between two runs by design.
fn without_clock(mut value: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in ["created", "created_at"] {
                    if map.get(key).is_some_and(Value::is_number) {
                        map.insert(key.into(), Value::Null);
                    }
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

#[test]
fn the_corpus_passes_through_the_wasm_host_and_agrees_with_the_native_run() {
    let plugins = Plugins::load(PluginSettings {
        watch: Watch::Off,
        ..PluginSettings::default()
    })
    .unwrap();
    let files = aether_conformance::load().unwrap();
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &files {
        let from = plugins.get(WireFormat::parse(&file.from).unwrap());
        let to = plugins.get(WireFormat::parse(&file.to).unwrap());
        for case in &file.cases {
            total += 1;
            let check = host_check(case);
            let wasm = match &check {
                aether::plugin_host::bindings::types::TestCheck::DecodeError(e) => {
                    serde_json::to_value(from.decode_error(e.status, &e.body).unwrap()).unwrap()
                }
                _ => check::convert(&from, &to, &check).unwrap(),
            };
            let native = aether_conformance::run_native(&file.from, &file.to, case).unwrap();
            let label = format!("{}--{} / {}", file.from, file.to, case.name);
            if let Err(reason) = aether_conformance::check(case, &wasm) {
                failures.push(format!("{label}: through the host: {reason}"));
            }
            if without_clock(wasm.clone()) != without_clock(native.clone()) {
                failures.push(format!(
                    "{label}: host and native differ:\n  wasm   {wasm}\n  native {native}"
                ));
            }
        }
    }
    assert!(total > 100, "the corpus has only {total} cases");
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
