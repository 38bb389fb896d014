//! The usage record: one per request, whatever happened to it.
//!
//! The request path fills a [`UsageRecord`] as the request goes (it is plain data with public
//! fields) and hands copies of it to the hook at three points: accepted (status
//! [`Status::Pending`]), first byte, and finished ([`Status::Completed`], [`Status::Failed`] or
//! [`Status::Cancelled`]). The hook prices it ([`super::pricing`]) when the request path has
//! not, and the stores upsert it by `request_id`, so the row a request leaves is always the
//! last state it reached.
//!
//! The client's key is known only by its configured name; the key itself never reaches a
//! record. Timestamps are Unix milliseconds ([`super::clock`]).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::clock::{self, UnixMillis};
use super::money::{Multiplier, NanoUsd, PricePerMTok};
use crate::format::WireFormat;

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted; no upstream answer yet.
    Pending,
    /// The first byte of the answer reached the client; still going.
    Streaming,
    /// Answered to its end (whatever the HTTP status: a relayed 400 is completed too).
    Completed,
    /// Aether could not answer it (every candidate failed, an upstream broke mid-stream,
    /// a gateway-side error).
    Failed,
    /// The client went away before the answer ended.
    Cancelled,
}

impl Status {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Streaming => "streaming",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "pending" => Status::Pending,
            "streaming" => Status::Streaming,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            _ => return None,
        })
    }

    /// Whether the request is over (no later event may change the record).
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

/// How the response body ended: the marker for a stream cut before its final event, whose
/// tokens are then only those seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseEnd {
    /// No response body was relayed (rejected or failed before an upstream answered).
    #[default]
    NoResponse,
    /// The body, or the stream up to its final event, was relayed whole.
    Complete,
    /// The stream stopped before its final event (upstream reset, client gone, timeout):
    /// tokens are those reported so far, usually an undercount of what the provider bills.
    CutShort,
}

impl ResponseEnd {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseEnd::NoResponse => "no_response",
            ResponseEnd::Complete => "complete",
            ResponseEnd::CutShort => "cut_short",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> ResponseEnd {
        match s {
            "complete" => ResponseEnd::Complete,
            "cut_short" => ResponseEnd::CutShort,
            _ => ResponseEnd::NoResponse,
        }
    }
}

/// Tokens per billing bucket. The buckets never overlap, so the cost is the sum of
/// `bucket × its price`:
///
/// - `input`: input tokens billed at the **input** price: *not* read from or written to the
///   prompt cache (OpenAI's `prompt_tokens` and Gemini's `promptTokenCount` include cached
///   tokens; they are subtracted here).
/// - `output`: everything billed at the **output** price, reasoning / thinking included
///   (Gemini's `thoughtsTokenCount` is added to `candidatesTokenCount`).
/// - `cache_creation_5m`, `cache_creation_1h`: tokens written to the prompt cache with a
///   5-minute or 1-hour TTL (Anthropic), billed at the cache-write prices.
/// - `cache_read`: tokens read from the prompt cache, billed at the cache-read price.
/// - `reasoning`: **informational**, the part of `output` that was reasoning; never priced
///   on its own (it is already in `output`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Usage {
    /// Uncached input tokens.
    pub input: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    /// Cache writes with a 5-minute TTL.
    pub cache_creation_5m: u64,
    /// Cache writes with a 1-hour TTL.
    pub cache_creation_1h: u64,
    /// Cache reads.
    pub cache_read: u64,
    /// Reasoning tokens, a part of `output` (informational).
    pub reasoning: u64,
}

impl Usage {
    /// The input context size used to choose a price tier: every input bucket (uncached,
    /// cache writes, cache reads). For Claude this is Anthropic's rule
    /// (input + cache creation + cache read); for the others it is input + cache read,
    /// since they never report cache writes.
    pub fn context_tokens(&self) -> u64 {
        self.input + self.cache_creation_5m + self.cache_creation_1h + self.cache_read
    }

    /// Every billed token (reasoning is inside `output`).
    pub fn total(&self) -> u64 {
        self.context_tokens() + self.output
    }

    /// A usage in bucket order (for tests): input, output, cache writes 5m and 1h, cache
    /// reads, reasoning.
    #[cfg(test)]
    pub(crate) fn of(input: u64, output: u64, c5: u64, c1: u64, read: u64, reasoning: u64) -> Self {
        Usage {
            input,
            output,
            cache_creation_5m: c5,
            cache_creation_1h: c1,
            cache_read: read,
            reasoning,
        }
    }

    /// Whether no token was counted.
    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }
}

/// The unit prices a cost was computed with (per million tokens), kept with the record so a
/// later price change does not rewrite history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitPrices {
    /// Input.
    pub input: PricePerMTok,
    /// Output.
    pub output: PricePerMTok,
    /// Cache write, 5-minute TTL.
    pub cache_write_5m: PricePerMTok,
    /// Cache write, 1-hour TTL.
    pub cache_write_1h: PricePerMTok,
    /// Cache read.
    pub cache_read: PricePerMTok,
    /// Per request, in nano-USD (charged unless the request failed).
    pub per_request: NanoUsd,
}

/// A request's cost, per bucket and in total (list price), and the actual cost after the
/// provider key's multiplier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    /// Input bucket.
    pub input: NanoUsd,
    /// Output bucket (reasoning included).
    pub output: NanoUsd,
    /// Cache writes, 5 minutes.
    pub cache_write_5m: NanoUsd,
    /// Cache writes, 1 hour.
    pub cache_write_1h: NanoUsd,
    /// Cache reads.
    pub cache_read: NanoUsd,
    /// Per-request price.
    pub request: NanoUsd,
    /// Sum of the above, at list price.
    pub total: NanoUsd,
    /// `total × multiplier`: what the provider key actually costs.
    pub actual_total: NanoUsd,
    /// The provider key's multiplier.
    pub multiplier: Multiplier,
    /// The unit prices used.
    pub prices: UnitPrices,
}

/// Why a request failed, in a class that can be grouped on and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// Short stable class, e.g. `all_failed`, `upstream_broke`, `invalid_key`, `timeout`.
    pub class: String,
    /// Client-safe message (never an upstream body that may quote a key).
    pub message: String,
}

/// One candidate tried: what it was and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptTrace {
    /// Provider name.
    pub provider: String,
    /// Provider key name.
    pub key: String,
    /// Upstream model.
    pub upstream_model: String,
    /// `relayed`, `connect`, `connect_timeout`, `first_byte_timeout`, `status`,
    /// `stream_error`, `resolve`.
    pub outcome: String,
    /// The upstream's HTTP status, when it answered.
    pub status: Option<u16>,
    /// From the start of the attempt to its verdict.
    pub latency_ms: u64,
}

/// Request and response bodies, truncated and with secrets redacted; only kept when
/// `[telemetry] store_bodies = "truncated"` (see [`super::bodies`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bodies {
    /// The client's request body.
    pub request: Option<String>,
    /// The response body (for streams, the first events).
    pub response: Option<String>,
}

/// One request's usage record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// The id returned to the client in `x-request-id`.
    pub request_id: String,
    /// When the request head was read (Unix ms).
    pub started_at_ms: UnixMillis,
    /// When it ended (Unix ms); `None` while pending or streaming.
    pub finished_at_ms: Option<UnixMillis>,
    /// The client key's configured name (never the key); `None` before authentication.
    pub client_key: Option<String>,
    /// The client's wire format.
    pub client_format: WireFormat,
    /// The upstream's wire format (of the candidate that answered, else the last tried).
    pub upstream_format: Option<WireFormat>,
    /// The model the client asked for.
    pub requested_model: Option<String>,
    /// The model sent upstream.
    pub upstream_model: Option<String>,
    /// Provider that answered (or was last tried).
    pub provider: Option<String>,
    /// That provider's key name.
    pub provider_key: Option<String>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// Lifecycle status.
    pub status: Status,
    /// HTTP status sent to the client.
    pub http_status: Option<u16>,
    /// The error, for failed (and cancelled) requests.
    pub error: Option<RecordError>,
    /// Time to the first byte sent to the client.
    pub ttfb_ms: Option<u64>,
    /// Total time.
    pub total_ms: Option<u64>,
    /// Tokens per bucket.
    pub usage: Usage,
    /// Cost; filled by the hook from the price catalogue when `None` at finish. Stays `None`
    /// when the model has no price.
    pub cost: Option<Cost>,
    /// Whether the response ended whole or was cut short.
    pub response_end: ResponseEnd,
    /// Every candidate tried, in order.
    pub attempts: Vec<AttemptTrace>,
    /// Bodies, when configured.
    pub bodies: Option<Bodies>,
}

impl UsageRecord {
    /// A new pending record for a request read at `started`.
    pub fn pending(request_id: impl Into<String>, client_format: WireFormat, started: SystemTime) -> Self {
        UsageRecord {
            request_id: request_id.into(),
            started_at_ms: clock::to_ms(started),
            finished_at_ms: None,
            client_key: None,
            client_format,
            upstream_format: None,
            requested_model: None,
            upstream_model: None,
            provider: None,
            provider_key: None,
            stream: false,
            status: Status::Pending,
            http_status: None,
            error: None,
            ttfb_ms: None,
            total_ms: None,
            usage: Usage::default(),
            cost: None,
            response_end: ResponseEnd::NoResponse,
            attempts: Vec::new(),
            bodies: None,
        }
    }

    /// Marks the record finished now with `status`, setting `finished_at_ms` and, when not
    /// set yet, `total_ms` from `started_at_ms`.
    pub fn finish(&mut self, status: Status) {
        let now = clock::now_ms();
        self.status = status;
        self.finished_at_ms = Some(now);
        if self.total_ms.is_none() {
            self.total_ms = Some(u64::try_from(now - self.started_at_ms).unwrap_or(0));
        }
    }

    /// Sets the error.
    /// The message is capped at [`MAX_ERROR_MESSAGE`] bytes (an all-failed error lists
    /// every candidate's failure; a record is not a log).
    pub fn fail(&mut self, class: impl Into<String>, message: impl Into<String>) {
        let mut message = message.into();
        if message.len() > MAX_ERROR_MESSAGE {
            let mut cut = MAX_ERROR_MESSAGE - '…'.len_utf8();
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        self.error = Some(RecordError {
            class: class.into(),
            message,
        });
    }
}

/// The longest error message a record keeps, in bytes.
pub const MAX_ERROR_MESSAGE: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_capped_on_a_char_boundary() {
        let mut r = UsageRecord::pending("req_x", crate::format::WireFormat::Claude, std::time::SystemTime::now());
        r.fail("all_failed", "é".repeat(2000));
        let kept = r.error.as_ref().unwrap().message.clone();
        assert!(kept.len() <= MAX_ERROR_MESSAGE && kept.ends_with('…'), "{}", kept.len());
        r.fail("x", "short");
        assert_eq!(r.error.unwrap().message, "short");
    }

    #[test]
    fn status_names_round_trip() {
        for s in [
            Status::Pending,
            Status::Streaming,
            Status::Completed,
            Status::Failed,
            Status::Cancelled,
        ] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        for e in [ResponseEnd::NoResponse, ResponseEnd::Complete, ResponseEnd::CutShort] {
            assert_eq!(ResponseEnd::parse(e.as_str()), e);
        }
    }

    #[test]
    fn context_counts_every_input_bucket() {
        let u = Usage {
            input: 1,
            output: 10,
            cache_creation_5m: 2,
            cache_creation_1h: 3,
            cache_read: 4,
            reasoning: 5,
        };
        assert_eq!(u.context_tokens(), 10);
        assert_eq!(u.total(), 20);
    }
}
