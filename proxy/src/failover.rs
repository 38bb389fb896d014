//! The failover loop: try candidates in order until one yields a response worth relaying.
//!
//! Moves on after connect errors, timeouts, 429, 5xx, 401/403/404 and a stream whose first
//! event is an error; a 4xx that is the client's fault is relayed as is. Nothing has been
//! written to the client while this runs, so every failover is safe. Each attempt is
//! recorded (candidate, outcome, latency) for the usage record, and reported to the key's
//! circuit breaker.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::circuit::Outcome;
use crate::config::compile::RuntimeConfig;
use crate::error::GatewayError;
use crate::router::{Candidate, Plan};
use crate::upstream::{Exchange, FailureKind, UpstreamResponse, Upstreams, Verdict};

/// What happened to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The response (with this status) was relayed.
    Relayed(u16),
    /// The attempt failed and the next candidate was tried.
    Failed(FailureKind),
}

/// One attempt, for the usage record and logs.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// Provider name.
    pub provider: String,
    /// Key name.
    pub key: String,
    /// Upstream model.
    pub upstream_model: String,
    /// Outcome.
    pub outcome: AttemptOutcome,
    /// Time from the start of the attempt to its verdict.
    pub latency: Duration,
}

/// The request-specific parts of every exchange.
pub struct Outgoing<'a> {
    /// The model the client asked for.
    pub requested_model: &'a str,
    /// The client's headers.
    pub client_headers: &'a http::HeaderMap,
    /// Builds the upstream body for a candidate's upstream model.
    pub body_for: &'a (dyn Fn(&str) -> Bytes + Sync),
    /// Builds the upstream path (and query) for a candidate.
    pub path_for: &'a (dyn Fn(&Candidate, &str) -> String + Sync),
    /// Whether the client asked for a stream.
    pub stream: bool,
}

/// Tries the plan's candidates in order.
pub async fn run(
    upstreams: &Upstreams,
    config: &RuntimeConfig,
    plan: &Plan,
    out: &Outgoing<'_>,
    attempts: &mut Vec<AttemptRecord>,
) -> Result<(Candidate, Box<UpstreamResponse>), GatewayError> {
    let mut last = String::from("no candidate was tried");
    for candidate in &plan.candidates {
        let upstream_model = candidate.upstream_model(out.requested_model);
        let started = Instant::now();
        let exchange = Exchange {
            provider: &candidate.route.provider,
            key: &candidate.route.key,
            path: (out.path_for)(candidate, upstream_model),
            client_headers: out.client_headers,
            body: (out.body_for)(upstream_model),
            stream: out.stream,
        };
        let verdict = upstreams.attempt(exchange).await;
        let now = Instant::now();
        let (outcome, health) = match &verdict {
            Verdict::Relay(r) => (AttemptOutcome::Relayed(r.header.status.as_u16()), Outcome::Success),
            Verdict::Failover(f) => (AttemptOutcome::Failed(f.kind), Outcome::Failure),
        };
        candidate.route.key.breaker.record(&config.circuit, health, now);
        attempts.push(AttemptRecord {
            provider: candidate.route.provider.name.clone(),
            key: candidate.route.key.name.clone(),
            upstream_model: upstream_model.to_owned(),
            outcome,
            latency: now.duration_since(started),
        });
        match verdict {
            Verdict::Relay(response) => return Ok((candidate.clone(), response)),
            Verdict::Failover(f) => {
                tracing::warn!(provider = %candidate.route.provider.name, key = %candidate.route.key.name, "attempt failed, trying next candidate: {}", f.detail);
                last = f.detail;
            }
        }
    }
    Err(GatewayError::AllFailed {
        tried: plan.candidates.len(),
        last,
    })
}
