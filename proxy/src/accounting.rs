//! The request path's side of the telemetry hook: turns a request's context into its one
//! usage record and hands the record's events to the hook (which never blocks).
//!
//! Every request gets exactly one record: `Accepted` when it is routed (or, for a request
//! rejected before routing, right before it is finished), `FirstByte` when a stream starts
//! reaching the client, and `Finished` once, whatever the outcome.

use std::time::Instant;

use crate::relay::{BodySample, RelayEnd};
use crate::service::RequestCtx;
use crate::telemetry::record::{AttemptTrace, Bodies, ResponseEnd, Status, UsageRecord};
use crate::telemetry::{Telemetry, TelemetryEvent};

/// Whether the hook has seen this request's `Accepted` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lifecycle {
    /// Nothing submitted yet.
    #[default]
    Unrecorded,
    /// `Accepted` submitted; `Finished` is still owed.
    Accepted,
}

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
pub fn finished(telemetry: &Telemetry, ctx: &mut RequestCtx) {
    accepted(telemetry, ctx);
    let mut record = base_record(ctx);
    record.http_status = ctx.status;
    record.attempts = ctx.attempts.iter().map(AttemptTrace::from).collect();
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
    if telemetry.stores_bodies() {
        let response = match ctx.report.as_ref().map(|r| &r.sample) {
            Some(BodySample::Keep(bytes)) if !bytes.is_empty() => telemetry.capture_body(bytes),
            _ => None,
        };
        let request = ctx.request_body.as_ref().and_then(|b| telemetry.capture_body(b));
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

fn millis(at: Instant, since: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(since).as_millis()).unwrap_or(u64::MAX)
}
