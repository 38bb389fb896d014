//! Relaying an upstream response to the client.
//!
//! Streams are relayed event by event as they arrive (whole SSE events, never the whole
//! stream), awaiting each client write before the next upstream read so backpressure
//! reaches the upstream. The client's disconnect drops the upstream connection, which
//! cancels the upstream request. A stream that breaks after bytes reached the client cannot
//! fail over: the client gets an error event in its own format and the stream is cut (not
//! ended cleanly), so no client mistakes it for a complete answer. Non-streamed bodies are
//! read whole (bounded), then written with their length.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;

use crate::downstream::{self, client_gone};
use crate::error::GatewayError;
use crate::format::WireFormat;
use crate::response_model::ModelRewrite;
use crate::upstream::{UpstreamResponse, Upstreams};

/// Largest non-streamed upstream body relayed.
const MAX_BUFFERED_RESPONSE: usize = 64 * 1024 * 1024;

/// How a relay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayEnd {
    /// Complete; the client connection may be reused.
    Complete,
    /// The client went away; the upstream request was cancelled.
    ClientGone,
    /// The upstream broke mid-stream; the client stream was cut after an error event.
    UpstreamBroke(String),
}

/// What the relay needs besides the response.
#[derive(Debug)]
pub struct RelayParams<'a> {
    /// The request id for the response header.
    pub request_id: &'a str,
    /// The client's format (for a mid-stream error event).
    pub format: WireFormat,
    /// Puts the requested model name back, when it differs upstream.
    pub rewrite: Option<&'a ModelRewrite>,
}

/// Relays `response` to the client and returns the upstream connection to the pool when
/// it was read to its end.
pub async fn relay(
    session: &mut ServerSession,
    upstreams: &Upstreams,
    mut response: Box<UpstreamResponse>,
    params: RelayParams<'_>,
) -> Result<RelayEnd, GatewayError> {
    let end = if response.streaming {
        relay_stream(session, &mut response, &params).await
    } else {
        relay_buffered(session, &mut response, &params).await?
    };
    upstreams.release(*response).await;
    Ok(end)
}

fn downstream_header(upstream: &ResponseHeader, request_id: &str) -> Result<ResponseHeader, GatewayError> {
    let broken = |e: Box<pingora::Error>| GatewayError::UpstreamBroken(e.etype().as_str().to_owned());
    let mut header = downstream::response_header(upstream.status.as_u16(), request_id, upstream.headers.len() + 2)
        .map_err(broken)?;
    for (name, value) in &upstream.headers {
        if crate::headers::relay_downstream(name.as_str()) && name != "x-request-id" {
            header.append_header(name.clone(), value.clone()).map_err(broken)?;
        }
    }
    Ok(header)
}

fn rewritten(bytes: Bytes, rewrite: Option<&ModelRewrite>) -> Bytes {
    match rewrite.and_then(|r| r.apply(&bytes)) {
        Some(v) => Bytes::from(v),
        None => bytes,
    }
}

async fn relay_buffered(
    session: &mut ServerSession,
    response: &mut UpstreamResponse,
    params: &RelayParams<'_>,
) -> Result<RelayEnd, GatewayError> {
    let body = response
        .read_to_end(MAX_BUFFERED_RESPONSE)
        .await
        .map_err(|e| GatewayError::UpstreamBroken(e.to_string()))?;
    let body = rewritten(body, params.rewrite);
    let mut header = downstream_header(&response.header, params.request_id)?;
    header
        .insert_header(http::header::CONTENT_LENGTH, body.len().to_string())
        .map_err(|e| GatewayError::UpstreamBroken(e.etype().as_str().to_owned()))?;
    if session.write_response_header(Box::new(header)).await.is_err()
        || session.write_response_body(body, true).await.is_err()
    {
        return Ok(RelayEnd::ClientGone);
    }
    Ok(RelayEnd::Complete)
}

async fn relay_stream(
    session: &mut ServerSession,
    response: &mut UpstreamResponse,
    params: &RelayParams<'_>,
) -> RelayEnd {
    let Ok(mut header) = downstream_header(&response.header, params.request_id) else {
        return RelayEnd::UpstreamBroke("invalid upstream response header".into());
    };
    if !session.is_http2()
        && header
            .insert_header(http::header::TRANSFER_ENCODING, "chunked")
            .is_err()
    {
        return RelayEnd::UpstreamBroke("cannot frame the response".into());
    }
    if session.write_response_header(Box::new(header)).await.is_err() {
        return RelayEnd::ClientGone;
    }
    let head = std::mem::take(&mut response.head);
    if session
        .write_response_body(rewritten(head, params.rewrite), false)
        .await
        .is_err()
    {
        return RelayEnd::ClientGone;
    }
    loop {
        let read = tokio::select! {
            read = response.read_body() => read,
            () = client_gone(session) => return RelayEnd::ClientGone,
        };
        match read {
            Ok(Some(chunk)) => {
                let events = response.framer.push(&chunk);
                if !events.is_empty()
                    && session
                        .write_response_body(rewritten(events, params.rewrite), false)
                        .await
                        .is_err()
                {
                    return RelayEnd::ClientGone;
                }
            }
            Ok(None) => {
                let tail = Bytes::copy_from_slice(response.framer.remainder());
                if session.write_response_body(tail, true).await.is_err() {
                    return RelayEnd::ClientGone;
                }
                return RelayEnd::Complete;
            }
            Err(e) => {
                let message = format!("upstream stream interrupted: {e}");
                let event = params.format.stream_error_event(&message);
                // Best effort: the client may be gone too.
                let _ = session.write_response_body(Bytes::from(event), false).await;
                return RelayEnd::UpstreamBroke(message);
            }
        }
    }
}
