//! The self-test corpus: how a plugin writes its cases (friendly JSON fixtures), how a case
//! is evaluated natively, and how an outcome is compared with what the case expects.
//!
//! The gateway runs the same cases through the plugin's real Wasm exports when it loads the
//! plugin and refuses the plugin if one fails; [`assert_self_test`] runs them natively in an
//! ordinary `#[test]`, so an author sees a failure before building a component. Both sides
//! turn an outcome into JSON the same way ([`outcome_json`]) and compare with [`matches`].
//!
//! Fixture file format (a JSON list; each case has a `name`, one input, and `expect`):
//!
//! ```json
//! [
//!   {"name": "model and stream", "inspect": {"path": "/v1/messages", "headers": {"anthropic-beta": "x"},
//!    "body": {"model": "m", "stream": true}}, "expect": {"model": "m", "stream": true}},
//!   {"name": "bad json", "inspect": {"path": "/v1/messages", "body_text": "{"},
//!    "expect": {"error": {"InvalidRequest": "~not valid JSON"}}},
//!   {"name": "usage", "usage_body": {"usage": {"input_tokens": 3}}, "expect": {"usage": {"input": 3}}},
//!   {"name": "stream", "usage_stream": "event: message_stop\ndata: {}\n\n", "expect": {"completed": true}},
//!   {"name": "429", "error_body": {"class": "RateLimited", "status": 429, "message": "slow"},
//!    "expect": {"error": {"type": "rate_limit_error"}}}
//! ]
//! ```
//!
//! Conversion cases (the conformance corpus uses the same format): `convert_request` (like
//! `inspect`: decode, then encode), `convert_response` (a body), `convert_stream` (SSE text,
//! with an optional `model` for the encoder) expect the converted output —
//! `{"path", "headers", "body"}`, the body, or a list of `{"event", "data"}` — and
//! `decode_error` (`{"status", "body"}`) expects the error info.
//!
//! `expect` is matched as a subset: every key it names must match, others are ignored; lists
//! match element by element; a string starting with `~` matches any string containing the rest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::adapter::Tap;
use crate::bindings::exports::aether::plugin::format::GuestUsageTap;
use crate::types::{
    EncodedRequest, ErrorCase, ErrorInfo, Header, HttpRequest, PluginError, RequestHead, StreamCase, TestCase,
    TestCheck,
};
use crate::{FormatPlugin, sse};

/// One case as written in a fixture file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    name: String,
    #[serde(default)]
    inspect: Option<InspectFixture>,
    #[serde(default)]
    usage_body: Option<Value>,
    #[serde(default)]
    usage_stream: Option<String>,
    #[serde(default)]
    error_body: Option<ErrorInfo>,
    #[serde(default)]
    convert_request: Option<InspectFixture>,
    #[serde(default)]
    convert_response: Option<Value>,
    #[serde(default)]
    convert_stream: Option<String>,
    /// The client's model name, for `convert_stream` (default `client-model`).
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    decode_error: Option<ErrorFixture>,
    expect: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorFixture {
    status: u16,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    body_text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InspectFixture {
    #[serde(default = "post")]
    method: String,
    path: String,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    body_text: Option<String>,
}

fn post() -> String {
    "POST".into()
}

/// The cases of a fixture file. A file that does not parse yields one case that fails and
/// says why, so a broken corpus refuses the plugin instead of passing vacuously.
pub fn cases_from_fixtures(json: &str) -> Vec<TestCase> {
    match serde_json::from_str::<Vec<Fixture>>(json) {
        Ok(fixtures) => fixtures.into_iter().map(case_from_fixture).collect(),
        Err(e) => vec![TestCase {
            name: "fixture file".into(),
            check: TestCheck::UsageBody(Vec::new()),
            expected_json: serde_json::json!({ "fixture_file_is_invalid": e.to_string() }).to_string(),
        }],
    }
}

fn fixture_body(body: Option<Value>, text: Option<String>) -> Vec<u8> {
    match (body, text) {
        (_, Some(text)) => text.into_bytes(),
        (Some(value), None) => value.to_string().into_bytes(),
        (None, None) => Vec::new(),
    }
}

fn http_request(i: InspectFixture) -> HttpRequest {
    HttpRequest {
        head: RequestHead {
            method: i.method,
            path: i.path,
            query: i.query,
            headers: i
                .headers
                .into_iter()
                .map(|(name, value)| Header { name, value })
                .collect(),
        },
        body: fixture_body(i.body, i.body_text),
    }
}

fn case_from_fixture(f: Fixture) -> TestCase {
    let check = if let Some(i) = f.inspect {
        TestCheck::Inspect(http_request(i))
    } else if let Some(i) = f.convert_request {
        TestCheck::ConvertRequest(http_request(i))
    } else if let Some(body) = f.convert_response {
        TestCheck::ConvertResponse(body.to_string().into_bytes())
    } else if let Some(text) = f.convert_stream {
        TestCheck::ConvertStream(StreamCase {
            model: f.model.unwrap_or_else(|| "client-model".into()),
            events: sse::parse(&text),
        })
    } else if let Some(e) = f.decode_error {
        TestCheck::DecodeError(ErrorCase {
            status: e.status,
            body: fixture_body(e.body, e.body_text),
        })
    } else if let Some(body) = f.usage_body {
        TestCheck::UsageBody(body.to_string().into_bytes())
    } else if let Some(text) = f.usage_stream {
        TestCheck::UsageStream(sse::parse(&text))
    } else if let Some(info) = f.error_body {
        TestCheck::ErrorBody(info)
    } else {
        TestCheck::UsageBody(Vec::new())
    };
    TestCase {
        name: f.name,
        check,
        expected_json: f.expect.to_string(),
    }
}

/// An outcome as the JSON a case's `expect` is matched against: the value itself, or
/// `{"error": <the plugin error>}`.
pub fn outcome_json<T: Serialize, E: Serialize>(outcome: &Result<T, E>) -> Value {
    match outcome {
        Ok(value) => serde_json::to_value(value).unwrap_or(Value::Null),
        Err(error) => serde_json::json!({ "error": error }),
    }
}

/// An error body as JSON (a body that is not JSON is reported as such and fails the case).
pub fn body_json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(
        |e| serde_json::json!({ "body_is_not_json": e.to_string(), "body": String::from_utf8_lossy(body) }),
    )
}

/// An encoded request as `{"path", "headers", "body"}` (headers as an object, body as JSON).
pub fn request_json<'a>(path: &str, headers: impl IntoIterator<Item = (&'a str, &'a str)>, body: &[u8]) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::String(value.to_owned())))
        .collect();
    serde_json::json!({ "path": path, "headers": headers, "body": body_json(body) })
}

/// An encoded stream as a list of `{"event", "data"}` (data as JSON where it parses; the
/// event name `null` when the format names none).
pub fn stream_json(bytes: &[u8]) -> Value {
    Value::Array(
        sse::parse(&String::from_utf8_lossy(bytes))
            .into_iter()
            .map(|e| {
                let data = serde_json::from_str(&e.data).unwrap_or(Value::String(e.data));
                serde_json::json!({ "event": e.name, "data": data })
            })
            .collect(),
    )
}

/// A failed step as the JSON a case can expect: `{"error": <the plugin error>}`.
pub fn error_json<E: Serialize>(error: &E) -> Value {
    serde_json::json!({ "error": error })
}

fn request_outcome(outcome: &Result<EncodedRequest, PluginError>) -> Value {
    match outcome {
        Ok(r) => request_json(
            &r.path,
            r.headers.iter().map(|h| (h.name.as_str(), h.value.as_str())),
            &r.body,
        ),
        Err(error) => error_json(error),
    }
}

fn response_outcome(outcome: &Result<Vec<u8>, PluginError>) -> Value {
    match outcome {
        Ok(body) => body_json(body),
        Err(error) => error_json(error),
    }
}

fn stream_outcome(outcome: &Result<Vec<u8>, PluginError>) -> Value {
    match outcome {
        Ok(bytes) => stream_json(bytes),
        Err(error) => error_json(error),
    }
}

/// Whether `actual` matches `expected` (see the module docs for the rules).
pub fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().all(|(k, v)| a.get(k).is_some_and(|av| matches(v, av))),
        (Value::Array(e), Value::Array(a)) => e.len() == a.len() && e.iter().zip(a).all(|(ev, av)| matches(ev, av)),
        (Value::String(e), Value::String(a)) => match e.strip_prefix('~') {
            Some(part) => a.contains(part),
            None => e == a,
        },
        (Value::Number(e), Value::Number(a)) => e.as_f64() == a.as_f64(),
        _ => expected == actual,
    }
}

/// A case that did not give what it expected.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFailure {
    /// The case's name.
    pub name: String,
    /// Expected and actual, as JSON.
    pub reason: String,
}

/// Compares one case's outcome with its expectation.
pub fn check(case: &TestCase, actual: &Value) -> Result<(), CaseFailure> {
    let expected: Value = serde_json::from_str(&case.expected_json).map_err(|e| CaseFailure {
        name: case.name.clone(),
        reason: format!("expected_json is not JSON: {e}"),
    })?;
    if matches(&expected, actual) {
        Ok(())
    } else {
        Err(CaseFailure {
            name: case.name.clone(),
            reason: format!("expected {expected}, got {actual}"),
        })
    }
}

/// Runs one case against the plugin's native code (conversion cases decode and encode
/// with the same plugin).
pub fn evaluate<P: FormatPlugin>(check: &TestCheck) -> Value {
    match check {
        TestCheck::ConvertRequest(_) | TestCheck::ConvertResponse(_) | TestCheck::ConvertStream(_) => {
            convert::<P, P>(check)
        }
        TestCheck::DecodeError(case) => outcome_json::<_, ()>(&Ok(P::decode_error(case.status, &case.body))),
        TestCheck::Inspect(request) => outcome_json(&P::inspect(&request.head, &request.body)),
        TestCheck::UsageBody(body) => outcome_json::<_, ()>(&Ok(P::usage_from_body(body))),
        TestCheck::UsageStream(events) => {
            let tap = <Tap<P> as GuestUsageTap>::new();
            let marked = events.iter().filter(|e| sse::is_marked(P::USAGE_MARKERS, e)).cloned();
            tap.push(marked.collect());
            outcome_json::<_, ()>(&Ok(tap.report()))
        }
        TestCheck::ErrorBody(info) => body_json(&P::error_body(info)),
    }
}

/// Runs a conversion case natively: `D` decodes (the source format), `E` encodes (the
/// target format). Other checks yield `null`.
pub fn convert<D: FormatPlugin, E: FormatPlugin>(check: &TestCheck) -> Value {
    match check {
        TestCheck::ConvertRequest(r) => {
            request_outcome(&D::decode_request(&r.head, &r.body).and_then(|ir| E::encode_request(&ir)))
        }
        TestCheck::ConvertResponse(body) => {
            response_outcome(&D::decode_response(body).and_then(|ir| E::encode_response(&ir)))
        }
        TestCheck::ConvertStream(case) => stream_outcome(&convert_stream::<D, E>(case)),
        _ => Value::Null,
    }
}

/// A stream through a decoder and an encoder, exactly as the gateway drives them: each
/// upstream event is decoded, the IR events it yields (if any) are encoded at once; at the
/// end the decoder's and then the encoder's `finish`.
fn convert_stream<D: FormatPlugin, E: FormatPlugin>(case: &StreamCase) -> Result<Vec<u8>, PluginError> {
    let mut decoder = D::stream_decoder();
    let mut encoder = E::stream_encoder(&case.model);
    let mut out = Vec::new();
    for event in &case.events {
        let ir = decoder.push(event)?;
        if !ir.is_empty() {
            out.extend(encoder.push(&ir)?);
        }
    }
    let ir = decoder.finish()?;
    if !ir.is_empty() {
        out.extend(encoder.push(&ir)?);
    }
    out.extend(encoder.finish()?);
    Ok(out)
}

/// Runs the plugin's whole self-test natively; the failures, if any.
pub fn run<P: FormatPlugin>() -> Vec<CaseFailure> {
    P::self_test()
        .iter()
        .filter_map(|case| check(case, &evaluate::<P>(&case.check)).err())
        .collect()
}

/// Panics with every failing case (for a plugin's own `#[test]`). Also fails on an empty
/// corpus: a self-test that checks nothing is a mistake.
#[allow(clippy::panic)]
pub fn assert_self_test<P: FormatPlugin>() {
    assert!(
        !P::self_test().is_empty(),
        "the {} plugin ships no self-test cases",
        P::FORMAT
    );
    let failures = run::<P>();
    assert!(
        failures.is_empty(),
        "{} of the {} plugin's self-test cases failed:\n{}",
        failures.len(),
        P::FORMAT,
        failures
            .iter()
            .map(|f| format!("  {}: {}", f.name, f.reason))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_matching() {
        assert!(matches(&json!({"a": 1}), &json!({"a": 1.0, "b": 2})));
        assert!(!matches(&json!({"a": 1, "c": 3}), &json!({"a": 1})));
        assert!(matches(&json!({"m": "~JSON"}), &json!({"m": "not valid JSON: x"})));
        assert!(!matches(&json!(["a"]), &json!(["a", "b"])));
    }

    #[test]
    fn a_broken_fixture_file_fails() {
        let cases = cases_from_fixtures("[{\"nam\": 1}]");
        assert_eq!(cases.len(), 1);
        assert!(cases[0].expected_json.contains("fixture_file_is_invalid"));
    }
}
