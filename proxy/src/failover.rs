//! The failover loop: try candidates in order until one yields a response worth relaying.
//!
//! Moves on after connect errors, timeouts, 429, 5xx, 401/403/404 and a stream whose first
//! event is an error; a 4xx that is the client's fault is relayed as is. Nothing has been
//! written to the client while this runs, so every failover is safe. Each attempt is
//! recorded (candidate, outcome, latency) for the usage record, and reported to the key's
//! circuit breaker and to the limits (a 429 cools the key down; rate-limit headers at zero
//! rest it before it answers 429). A candidate whose key is cooling down or at its own
//! limits is passed over (recorded as skipped) without being sent anything.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::circuit::{Outcome, Owed, Transition};
use crate::config::compile::{ModelSource, RuntimeConfig};
use crate::error::{Fault, GatewayError};
use crate::limits::admission::SkipReason;
use crate::limits::{KeyOutcome, KeyTurn, Limiter, Ticket};
use crate::router::{Candidate, Plan};
use crate::upstream::{Exchange, Failure, FailureKind, HeaderPolicy, UpstreamResponse, Upstreams, Verdict};

/// What happened to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The response (with this status) was relayed.
    Relayed(u16),
    /// The attempt failed and the next candidate was tried.
    Failed(FailureKind),
    /// The key was cooling down or at its own limits: nothing was sent.
    Skipped(SkipReason),
}

/// The limits side of the loop: the request's ticket (which takes each candidate's key)
/// and the limiter (which hears what each key's answer said).
#[derive(Debug)]
pub struct Keys<'a> {
    /// The request's ticket; `None`: no limit is consulted.
    pub ticket: Option<&'a mut Ticket>,
    /// The limiter.
    pub limiter: &'a Arc<Limiter>,
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
    /// Builds what goes to a candidate, given its upstream model: the client's body (model
    /// swapped) for a same-format candidate, a converted one for another format.
    pub prepare: &'a (dyn Fn(&Candidate, &str) -> Result<CandidateRequest, GatewayError> + Sync),
    /// Whether the client asked for a stream.
    pub stream: bool,
}

/// What one candidate is sent.
#[derive(Debug)]
pub struct CandidateRequest {
    /// Path and query.
    pub path: String,
    /// The body.
    pub body: Bytes,
    /// Which headers go with it.
    pub headers: HeaderSource,
}

/// Which request headers an exchange forwards (through the header policy either way).
#[derive(Debug)]
pub enum HeaderSource {
    /// The client's: same format, same meaning.
    Client,
    /// The client's, less those of its own format (`anthropic-*`, `openai-*`,
    /// `x-goog-*`), plus the upstream plugin's.
    Converted(http::HeaderMap),
}

/// What a failed attempt says about its key: only what the key or its provider did opens
/// a breaker, never what the client did.
fn health(kind: FailureKind, candidate: &Candidate) -> Outcome {
    match kind {
        // Nothing was sent.
        FailureKind::Request | FailureKind::Conversion => Outcome::Neutral,
        // A model the client named through a `"*" = "*"` wildcard that the upstream does not
        // know: the next candidate may know it, but this key is fine.
        FailureKind::Status(404) if candidate.route.model_source == ModelSource::Client => Outcome::Neutral,
        FailureKind::Resolve
        | FailureKind::Connect
        | FailureKind::ConnectTimeout
        | FailureKind::FirstByteTimeout
        | FailureKind::ResponseTimeout
        | FailureKind::Status(_)
        | FailureKind::StreamError => Outcome::Failure,
    }
}

/// Tries the plan's candidates in order.
pub async fn run(
    upstreams: &Upstreams,
    config: &RuntimeConfig,
    plan: &Plan,
    out: &Outgoing<'_>,
    attempts: &mut Vec<AttemptRecord>,
    mut keys: Keys<'_>,
) -> Result<(Candidate, Box<UpstreamResponse>), GatewayError> {
    let mut failures = Vec::new();
    let order = match keys.ticket.as_deref() {
        Some(ticket) => ticket.order(plan.candidates.len()),
        None => (0..plan.candidates.len()).collect(),
    };
    for index in order {
        let candidate = &plan.candidates[index];
        let upstream_model = candidate.upstream_model(out.requested_model);
        let started = Instant::now();
        if let Some(ticket) = keys.ticket.as_deref_mut()
            && let KeyTurn::Skip(reason) = ticket.key_for(index, candidate).await
        {
            attempts.push(AttemptRecord {
                provider: candidate.route.provider.name.clone(),
                key: candidate.route.key.name.clone(),
                upstream_model: upstream_model.to_owned(),
                outcome: AttemptOutcome::Skipped(reason),
                latency: started.elapsed(),
            });
            continue;
        }
        let prepared = match (out.prepare)(candidate, upstream_model) {
            Ok(p) => p,
            Err(e) if e.fault() == Fault::Client => return Err(e),
            Err(e) => {
                // Nothing was sent, and the key is not at fault: no breaker record.
                tracing::warn!(provider = %candidate.route.provider.name, "cannot convert the request, trying next candidate: {e}");
                failures.push(Failure {
                    retry_after: None,
                    kind: FailureKind::Conversion,
                    detail: e.to_string(),
                });
                attempts.push(AttemptRecord {
                    provider: candidate.route.provider.name.clone(),
                    key: candidate.route.key.name.clone(),
                    upstream_model: upstream_model.to_owned(),
                    outcome: AttemptOutcome::Failed(FailureKind::Conversion),
                    latency: started.elapsed(),
                });
                continue;
            }
        };
        let policy = match &prepared.headers {
            HeaderSource::Client => HeaderPolicy::SameFormat,
            HeaderSource::Converted(headers) => HeaderPolicy::Converted(headers),
        };
        let exchange = Exchange {
            provider: &candidate.route.provider,
            key: &candidate.route.key,
            path: prepared.path,
            client_headers: out.client_headers,
            policy,
            body: prepared.body,
            stream: out.stream,
            max_event_bytes: config.max_event_bytes,
        };
        let owed = Owed::new(&candidate.route.key.breaker, &config.circuit);
        let verdict = upstreams.attempt(exchange).await;
        let now = Instant::now();
        let (outcome, health) = match &verdict {
            Verdict::Relay(r) => (AttemptOutcome::Relayed(r.header.status.as_u16()), Outcome::Success),
            Verdict::Failover(f) => (AttemptOutcome::Failed(f.kind), health(f.kind, candidate)),
        };
        let key = &candidate.route.key;
        match &verdict {
            Verdict::Relay(r) => keys
                .limiter
                .report(key, r.exhausted_for.map_or(KeyOutcome::Answered, KeyOutcome::Exhausted)),
            Verdict::Failover(f) => {
                if f.kind == FailureKind::Status(429) {
                    keys.limiter.report(key, KeyOutcome::Throttled(f.retry_after));
                }
                if let Some(ticket) = keys.ticket.as_deref_mut() {
                    ticket.release_key();
                }
            }
        }
        if let Transition::Opened(open_for) = owed.settle(health, now) {
            // Every instance rests the key while this one's circuit is open.
            keys.limiter
                .report(&candidate.route.key, KeyOutcome::CircuitOpened(open_for));
        }
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
                failures.push(f);
            }
        }
    }
    let tried = attempts
        .iter()
        .filter(|a| !matches!(a.outcome, AttemptOutcome::Skipped(_)))
        .count();
    let throttled = attempts
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Failed(FailureKind::Status(429)))
        .count();
    let rate_limited = tried > 0 && throttled == tried;
    Err(if rate_limited {
        GatewayError::RateLimited { tried }
    } else {
        GatewayError::AllFailed(failures)
    })
}
