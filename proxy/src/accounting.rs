//! The request path's side of the telemetry hook: turns a request's context into its one
//! usage record and hands the record's events to the hook (which never blocks).
//!
//! Every request gets exactly one record: `Accepted` when it is routed (or, for a request
//! rejected before routing, right before it is finished), `FirstByte` when a stream starts
//! reaching the client, and `Finished` once, whatever the outcome.

use std::time::Instant;

use crate::context::{Lifecycle, RequestCtx};
use crate::failover::{AttemptOutcome, AttemptRecord};
use crate::relay::{BodySample, RelayEnd};
use crate::telemetry::record::{AttemptTrace, Bodies, ResponseEnd, Status, UsageRecord};
use crate::telemetry::{Telemetry, TelemetryEvent};
use crate::upstream::FailureKind;

/// Submits the pending record.
pub fn accepted(telemetry: &Telemetry, ctx: &mut RequestCtx) {
    if ctx.lifecycle == Lifecycle::Unrecorded {
        telemetry.submit(TelemetryEvent::Accepted(Box::new(base_record(ctx))));
        ctx.lifecycle = Lifecycle::Accepted;
    }
}

/// Marks a stream as reaching the client.
pub fn first_byte(telemetry: &Telemetry, ctx: &RequestCtx, at: Instant) {
    telemetry.submit(TelemetryEvent::FirstByte {
        request_id: ctx.id.clone(),
        ttfb_ms: millis(at, ctx.started),
    });
}

/// Submits the finished record (and the pending one first, if it was never sent).
///
/// A request that never authenticated (an unknown path, no key, a wrong key, a probe of
/// `/`) gets no record: a scanner would otherwise write rows as fast as it can send
/// requests. Its refusal is counted by reason instead.
pub fn finished(telemetry: &Telemetry, ctx: &mut RequestCtx) {
    if ctx.client.is_none() {
        if let Some((kind, _)) = &ctx.error {
            telemetry.unauthenticated(kind);
        }
        return;
    }
    accepted(telemetry, ctx);
    let mut record = base_record(ctx);
    record.http_status = ctx.status;
    record.attempts = ctx.attempts.iter().map(trace).collect();
    if let Some(last) = ctx.attempts.last() {
        record.provider = Some(last.provider.clone());
        record.provider_key = Some(last.key.clone());
        record.upstream_model = Some(last.upstream_model.clone());
    }
    record.upstream_format = ctx.upstream_format;
    if let Some(report) = &ctx.report {
        record.usage = report.tap.usage();
        record.ttfb_ms = report.first_byte_at.map(|at| millis(at, ctx.started));
    }
    let (status, end) = match (&ctx.end, &ctx.error) {
        (Some(RelayEnd::Complete), _) => {
            let whole = ctx.report.as_ref().is_none_or(|r| !ctx.stream || r.tap.completed());
            (
                Status::Completed,
                if whole {
                    ResponseEnd::Complete
                } else {
                    ResponseEnd::CutShort
                },
            )
        }
        (Some(RelayEnd::ClientGone), _) => {
            record.fail("client_cancelled", "the client closed the connection");
            let end = if ctx.report.is_some() {
                ResponseEnd::CutShort
            } else {
                ResponseEnd::NoResponse
            };
            (Status::Cancelled, end)
        }
        (Some(RelayEnd::UpstreamBroke(message)), _) => {
            record.fail("upstream_broke", message.clone());
            (Status::Failed, ResponseEnd::CutShort)
        }
        (None, Some((kind, message))) => {
            record.fail(*kind, message.clone());
            (Status::Failed, ResponseEnd::NoResponse)
        }
        // Answered by Aether itself (model listing, local token count).
        (None, None) => (Status::Completed, ResponseEnd::Complete),
    };
    record.response_end = end;
    // The request's limits settle to what it really used; its cost is worked out here
    // (the hook would otherwise) when a budget needs it.
    if let Some(ticket) = ctx.limits.take() {
        let cost = if ticket.needs_cost() {
            record.finish(status);
            record.cost = telemetry.pricing().price(&record);
            record
                .cost
                .as_ref()
                .map_or(crate::telemetry::money::NanoUsd::ZERO, |c| c.total)
        } else {
            crate::telemetry::money::NanoUsd::ZERO
        };
        ticket.settle(record.usage.total(), cost);
    }
    if telemetry.stores_bodies() {
        let response = match ctx.report.as_ref().map(|r| &r.sample) {
            Some(BodySample::Keep(bytes)) if !bytes.is_empty() => telemetry.capture_body(bytes, &ctx.config.secrets),
            _ => None,
        };
        let request = ctx
            .request_body
            .as_ref()
            .and_then(|b| telemetry.capture_body(b, &ctx.config.secrets));
        record.bodies = Some(Bodies { request, response });
    }
    record.finish(status);
    telemetry.submit(TelemetryEvent::Finished(Box::new(record)));
}

fn base_record(ctx: &RequestCtx) -> UsageRecord {
    let mut record = UsageRecord::pending(ctx.id.clone(), ctx.format, ctx.started_at);
    record.client_key = ctx.client.as_ref().map(|c| c.name.clone());
    record.requested_model = ctx.model.clone();
    record.stream = ctx.stream;
    record
}

/// One attempt as the record keeps it: the outcome as a short stable name and the status
/// the upstream answered with, if any.
fn trace(a: &AttemptRecord) -> AttemptTrace {
    let (outcome, status) = match &a.outcome {
        AttemptOutcome::Relayed(s) => ("relayed", Some(*s)),
        AttemptOutcome::Skipped(reason) => (reason.as_str(), None),
        AttemptOutcome::Failed(kind) => match kind {
            FailureKind::Resolve => ("resolve", None),
            FailureKind::Connect => ("connect", None),
            FailureKind::ConnectTimeout => ("connect_timeout", None),
            FailureKind::FirstByteTimeout => ("first_byte_timeout", None),
            FailureKind::ResponseTimeout => ("response_timeout", None),
            FailureKind::Status(s) => ("status", Some(*s)),
            FailureKind::StreamError => ("stream_error", Some(200)),
            FailureKind::Conversion => ("conversion", None),
            FailureKind::Request => ("request", None),
        },
    };
    AttemptTrace {
        provider: a.provider.clone(),
        key: a.key.clone(),
        upstream_model: a.upstream_model.clone(),
        outcome: outcome.to_owned(),
        status,
        latency_ms: u64::try_from(a.latency.as_millis()).unwrap_or(u64::MAX),
    }
}

fn millis(at: Instant, since: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(since).as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_convert() {
        let a = AttemptRecord {
            provider: "p".into(),
            key: "k".into(),
            upstream_model: "m".into(),
            outcome: AttemptOutcome::Failed(FailureKind::Status(429)),
            latency: std::time::Duration::from_millis(12),
        };
        let t = trace(&a);
        assert_eq!((t.outcome.as_str(), t.status, t.latency_ms), ("status", Some(429), 12));
    }
}
