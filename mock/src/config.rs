//! Behaviour of a mock instance ([`MockConfig`], [`Fault`], [`Scenario`]) and the per-request
//! overrides read from `x-mock-*` request headers.
//!
//! Header overrides win over the instance configuration; a header whose value cannot be parsed
//! is ignored, so a typo degrades to the instance default instead of an error.

use std::time::Duration;

use http::HeaderMap;

/// Default number of text deltas in a stream.
const DEFAULT_CHUNKS: usize = 5;

/// The most deltas a request may ask for, to keep a typo from allocating without bound.
const MAX_CHUNKS: usize = 10_000;

/// How a mock instance answers every request it serves, unless a request overrides it.
///
/// [`MockConfig::default()`] is instant and healthy: no delays, five text deltas, no fault, a
/// plain text answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockConfig {
    /// Delay before the response headers are written (all responses).
    pub latency: Duration,
    /// Delay between the response headers and the first body byte of a streamed response.
    pub ttfb: Duration,
    /// Number of text delta events in a stream, and how many pieces the answer text is split
    /// into (at least one is always sent).
    pub chunks: usize,
    /// Delay between consecutive stream events.
    pub interval: Duration,
    /// The fault to inject.
    pub fault: Fault,
    /// What the answer contains.
    pub scenario: Scenario,
    /// With a 429: the `retry-after` (seconds) it names.
    pub retry_after_secs: Option<u64>,
    /// On every answer: rate-limit headers saying the key has no requests left until this
    /// long from now (`x-ratelimit-remaining-requests: 0`, `x-ratelimit-reset-requests`).
    pub exhausted_for: Option<Duration>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            ttfb: Duration::ZERO,
            chunks: DEFAULT_CHUNKS,
            interval: Duration::ZERO,
            fault: Fault::None,
            scenario: Scenario::Text,
            retry_after_secs: None,
            exhausted_for: None,
        }
    }
}

/// A failure the mock injects instead of (or in the middle of) a healthy answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Answer normally.
    #[default]
    None,
    /// Respond with this HTTP status and the format's real error body.
    Status(u16),
    /// For a streaming request: a `200` stream whose first event is the format's error event.
    /// For a non-streaming request: the provider's "overloaded" status (`529` for Anthropic,
    /// `503` for the others) with its error body.
    StreamError,
    /// Send the response headers and the first `after_events` stream events, then drop the
    /// connection without terminating the body. A non-streaming response is cut after half of
    /// its body.
    ResetMidStream {
        /// How many complete events reach the client before the connection is dropped.
        after_events: usize,
    },
    /// Read the request and never respond, until the client goes away or the server stops.
    Hang,
    /// Send this many `103 Early Hints` informational heads before the answer.
    EarlyHints(usize),
    /// For a streaming request: after the first event, 64 KiB SSE comments (valid, and
    /// ignored by every parser) as fast as the reader takes them, up to 1 GiB, then the rest
    /// of the stream: a client that stops reading is left with a writer that never finishes.
    Flood,
    /// For a streaming request: send `after_events` events, then one event that never ends
    /// (`data: xxxx…` without its blank line, up to 64 MiB, then the connection is dropped).
    Unterminated {
        /// How many complete events come first.
        after_events: usize,
    },
}

/// What a healthy answer contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scenario {
    /// A plain text answer.
    #[default]
    Text,
    /// One call to the first tool of the request (or `get_weather` when the request has none)
    /// with the arguments `{"city":"Paris"}`, split across several deltas in streams where the
    /// provider streams arguments.
    ToolCall,
    /// A thinking / reasoning block (with its signature where the provider has one) before the
    /// text.
    Thinking,
}

impl MockConfig {
    /// This configuration with the `x-mock-*` overrides of `headers` applied.
    pub(crate) fn with_overrides(&self, headers: &HeaderMap) -> MockConfig {
        let mut config = self.clone();
        if let Some(ms) = number(headers, "x-mock-latency-ms") {
            config.latency = Duration::from_millis(ms);
        }
        if let Some(ms) = number(headers, "x-mock-ttfb-ms") {
            config.ttfb = Duration::from_millis(ms);
        }
        if let Some(ms) = number(headers, "x-mock-interval-ms") {
            config.interval = Duration::from_millis(ms);
        }
        if let Some(chunks) = number(headers, "x-mock-chunks") {
            config.chunks = usize::try_from(chunks).unwrap_or(MAX_CHUNKS);
        }
        config.chunks = config.chunks.clamp(1, MAX_CHUNKS);
        if let Some(fault) = number(headers, "x-mock-status").and_then(status_fault) {
            config.fault = fault;
        }
        if let Some(fault) = text(headers, "x-mock-fault").and_then(parse_fault) {
            config.fault = fault;
        }
        if let Some(scenario) = text(headers, "x-mock-scenario").and_then(parse_scenario) {
            config.scenario = scenario;
        }
        if let Some(secs) = number(headers, "x-mock-retry-after") {
            config.retry_after_secs = Some(secs);
        }
        if let Some(ms) = number(headers, "x-mock-exhausted-ms") {
            config.exhausted_for = Some(Duration::from_millis(ms));
        }
        config
    }
}

/// The trimmed text of a header, if present and valid UTF-8.
fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// The header parsed as a non-negative integer.
fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    text(headers, name)?.parse().ok()
}

/// `x-mock-status`: a success status means "no fault", an error status a [`Fault::Status`].
fn status_fault(status: u64) -> Option<Fault> {
    match status {
        100..=299 => Some(Fault::None),
        300..=999 => u16::try_from(status).ok().map(Fault::Status),
        _ => None,
    }
}

/// `x-mock-fault: none | stream-error | reset[:N] | hang | status:N`.
fn parse_fault(value: &str) -> Option<Fault> {
    let lower = value.to_ascii_lowercase();
    let (kind, arg) = match lower.split_once(':') {
        Some((kind, arg)) => (kind.trim(), Some(arg.trim())),
        None => (lower.as_str(), None),
    };
    match (kind, arg) {
        ("none" | "ok", None) => Some(Fault::None),
        ("stream-error" | "stream_error", None) => Some(Fault::StreamError),
        ("hang", None) => Some(Fault::Hang),
        ("flood", None) => Some(Fault::Flood),
        ("early-hints", Some(n)) => n.parse().ok().map(Fault::EarlyHints),
        ("reset", None) => Some(Fault::ResetMidStream { after_events: 0 }),
        ("reset", Some(n)) => n
            .parse()
            .ok()
            .map(|after_events| Fault::ResetMidStream { after_events }),
        ("status", Some(n)) => n.parse().ok().and_then(status_fault),
        ("unterminated", None) => Some(Fault::Unterminated { after_events: 0 }),
        ("unterminated", Some(n)) => n.parse().ok().map(|after_events| Fault::Unterminated { after_events }),
        _ => None,
    }
}

/// `x-mock-scenario: text | tool_call | thinking`.
fn parse_scenario(value: &str) -> Option<Scenario> {
    match value.to_ascii_lowercase().as_str() {
        "text" => Some(Scenario::Text),
        "tool_call" | "tool-call" | "tool" | "tools" => Some(Scenario::ToolCall),
        "thinking" | "reasoning" => Some(Scenario::Thinking),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, http::HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn no_headers_keeps_config() {
        let config = MockConfig::default().with_overrides(&HeaderMap::new());
        assert_eq!(config, MockConfig::default());
    }

    #[test]
    fn headers_override_config() {
        let base = MockConfig {
            fault: Fault::Status(500),
            ..MockConfig::default()
        };
        let config = base.with_overrides(&headers(&[
            ("x-mock-latency-ms", "10"),
            ("x-mock-ttfb-ms", "20"),
            ("x-mock-interval-ms", "30"),
            ("x-mock-chunks", "7"),
            ("x-mock-status", "200"),
            ("x-mock-scenario", "tool_call"),
        ]));
        assert_eq!(config.latency, Duration::from_millis(10));
        assert_eq!(config.ttfb, Duration::from_millis(20));
        assert_eq!(config.interval, Duration::from_millis(30));
        assert_eq!(config.chunks, 7);
        assert_eq!(config.fault, Fault::None);
        assert_eq!(config.scenario, Scenario::ToolCall);
    }

    #[test]
    fn fault_values() {
        assert_eq!(parse_fault("stream-error"), Some(Fault::StreamError));
        assert_eq!(parse_fault("reset:3"), Some(Fault::ResetMidStream { after_events: 3 }));
        assert_eq!(parse_fault("HANG"), Some(Fault::Hang));
        assert_eq!(
            parse_fault("unterminated:2"),
            Some(Fault::Unterminated { after_events: 2 })
        );
        assert_eq!(parse_fault("status:429"), Some(Fault::Status(429)));
        assert_eq!(parse_fault("bogus"), None);
        let config = MockConfig::default().with_overrides(&headers(&[("x-mock-status", "429")]));
        assert_eq!(config.fault, Fault::Status(429));
        let config = MockConfig::default().with_overrides(&headers(&[("x-mock-chunks", "0")]));
        assert_eq!(config.chunks, 1);
    }
}
