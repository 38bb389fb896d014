//! The whole corpus, natively: every case of every pair file must match its expectation,
//! and every cross-format pair must be covered.

use std::collections::BTreeSet;

use aether_conformance::{FORMATS, check, decoded_and_tapped_usage, load, run_native};
use aether_plugin_sdk::types::TestCheck;

#[test]
fn every_case_passes_natively() {
    let files = load().expect("the corpus loads");
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &files {
        for case in &file.cases {
            total += 1;
            let actual = run_native(&file.from, &file.to, case).expect("known formats");
            if let Err(reason) = check(case, &actual) {
                failures.push(format!("{}--{} / {}: {reason}", file.from, file.to, case.name));
            }
        }
    }
    assert!(total > 0, "the corpus is empty");
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_pair_is_covered() {
    let files = load().expect("the corpus loads");
    let present: BTreeSet<(String, String)> = files
        .iter()
        .filter(|f| !f.cases.is_empty())
        .map(|f| (f.from.clone(), f.to.clone()))
        .collect();
    let missing: Vec<String> = FORMATS
        .iter()
        .flat_map(|f| FORMATS.iter().map(move |t| (f.to_string(), t.to_string())))
        .filter(|pair| !present.contains(pair))
        .map(|(f, t)| format!("{f}--{t}"))
        .collect();
    assert!(missing.is_empty(), "pairs without cases: {missing:?}");
}

#[test]
fn a_decoded_body_bills_like_the_usage_tap() {
    let files = load().expect("the corpus loads");
    let mut compared = 0;
    for file in &files {
        for case in &file.cases {
            let TestCheck::ConvertResponse(body) = &case.check else {
                continue;
            };
            if let Some((decoded, tapped)) = decoded_and_tapped_usage(&file.from, body) {
                assert_eq!(decoded, tapped, "{}--{} / {}", file.from, file.to, case.name);
                compared += 1;
            }
        }
    }
    assert!(compared > 20, "only {compared} bodies compared");
}
