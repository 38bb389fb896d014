//! The client side of a request: reading its body under the limit, noticing that it went
//! away, and writing Aether-made responses (errors, JSON). Every response carries
//! `x-request-id`.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;

use crate::body_budget::BodyLease;
use crate::edge::EdgeSettings;
use crate::error::GatewayError;

/// Reads the whole request body, refusing it once it passes `limit` bytes, once it falls
/// behind the pace `edge` sets (a base allowance plus time earned per byte), or once the
/// bodies held across the gateway would pass their budget (`lease` grows as bytes arrive).
pub async fn read_body(
    session: &mut ServerSession,
    limit: usize,
    edge: &EdgeSettings,
    lease: &mut BodyLease,
) -> Result<Bytes, GatewayError> {
    let declared = session
        .get_header(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(GatewayError::BodyTooLarge { limit });
    }
    if session
        .get_header(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
    {
        session
            .write_continue_response()
            .await
            .map_err(GatewayError::BodyRead)?;
    }
    // Most bodies arrive in one read: keep that chunk as is, copy only when there are more.
    let mut first: Option<Bytes> = None;
    let mut body = BytesMut::new();
    let started = Instant::now();
    loop {
        let received = first.as_ref().map_or(0, Bytes::len) + body.len();
        let allowed = (started + edge.body_allowance(received)).saturating_duration_since(Instant::now());
        let read = pingora::time::timeout(allowed, session.read_request_body());
        let Ok(read) = read.await else {
            return Err(GatewayError::BodyTimeout {
                received,
                waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
        };
        match read {
            Ok(Some(chunk)) => {
                let so_far = first.as_ref().map_or(0, Bytes::len) + body.len();
                if so_far + chunk.len() > limit {
                    return Err(GatewayError::BodyTooLarge { limit });
                }
                lease
                    .grow(chunk.len())
                    .map_err(|spent| GatewayError::BodyBudgetSpent { limit: spent.limit })?;
                match first.take() {
                    None if body.is_empty() => first = Some(chunk),
                    held => {
                        if let Some(held) = held {
                            body.reserve(declared.unwrap_or(0).max(held.len() + chunk.len()));
                            body.extend_from_slice(&held);
                        }
                        body.extend_from_slice(&chunk);
                    }
                }
            }
            Ok(None) => return Ok(first.unwrap_or_else(|| body.freeze())),
            Err(e) => return Err(GatewayError::BodyRead(e)),
        }
    }
}

/// Resolves when the client has closed its connection (or reset its HTTP/2 stream).
/// Never resolves while the client is still there.
pub async fn client_gone(session: &mut ServerSession) {
    loop {
        match session.read_body_or_idle(true).await {
            Err(_) => return,
            // Nothing to watch on this session type: wait forever.
            Ok(None) => std::future::pending::<()>().await,
            Ok(Some(_)) => {}
        }
    }
}

/// A response header with `x-request-id`.
pub fn response_header(status: u16, request_id: &str, capacity: usize) -> pingora::Result<ResponseHeader> {
    // No case map: HTTP/1.1 header names are case-insensitive, and HTTP/2 lower-cases them.
    let mut header = ResponseHeader::build_no_case(status, Some(capacity + 1))?;
    header.insert_header("x-request-id", request_id)?;
    Ok(header)
}

/// Writes a complete JSON response. Returns false when the client could not be written to.
pub async fn write_json(session: &mut ServerSession, status: u16, request_id: &str, body: Vec<u8>) -> bool {
    write_json_with(session, status, request_id, body, Vec::new()).await
}

/// [`write_json`] with `extra` headers (a refusal's `retry-after` and rate-limit headers).
pub async fn write_json_with(
    session: &mut ServerSession,
    status: u16,
    request_id: &str,
    body: Vec<u8>,
    extra: Vec<(String, String)>,
) -> bool {
    let write = async {
        let mut header = response_header(status, request_id, 2 + extra.len())?;
        for (name, value) in extra {
            header.insert_header(name, value)?;
        }
        header.insert_header(http::header::CONTENT_TYPE, "application/json")?;
        header.insert_header(http::header::CONTENT_LENGTH, body.len().to_string())?;
        session.write_response_header(Box::new(header)).await?;
        session.write_response_body(Bytes::from(body), true).await
    };
    write.await.is_ok()
}
