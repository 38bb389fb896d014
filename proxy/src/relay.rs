//! Relaying an upstream response to the client.
//!
//! Streams are relayed event by event as they arrive (whole SSE events, never the whole
//! stream), awaiting each client write before the next upstream read so backpressure
//! reaches the upstream. Every event also passes the usage tap on its way. The client's
//! disconnect drops the upstream connection, which cancels the upstream request. A stream
//! that breaks after bytes reached the client cannot fail over: the client gets an error
//! event in its own format and the stream is cut (not ended cleanly), so no client mistakes
//! it for a complete answer. Non-streamed bodies are read whole (bounded), then written
//! with their length.
//!
//! When the upstream speaks another format than the client ([`ResponseConversion`]), the
//! usage comes from the upstream's answer as the conversion decodes it (the usage tap reads
//! the upstream's own bytes only after a plugin failed mid-stream), and what goes to the
//! client is converted:
//! a body through `decode-response` → `encode-response` (an error body through
//! `decode-error` → `error-body`, same status), a stream block by block through a
//! [`StreamConverter`]. A conversion that fails before the response head was written is an
//! HTTP error; after it, the client gets its format's error event, as for a broken upstream.

use std::sync::{Arc, LazyLock};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use memchr::memmem::Finder;
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;

use crate::conversion::stream::StreamConverter;
use crate::conversion::{self, ConversionError};
use crate::downstream::{self, client_gone};
use crate::error::{BrokenResponse, GatewayError};
use crate::format::WireFormat;
use crate::plugin_host::Plugin;
use crate::plugin_host::bindings::types::{ErrorClass as WitErrorClass, ErrorInfo};
use crate::response_model::ModelRewrite;
use crate::sse;
use crate::telemetry::usage::UsageTap;
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

/// Whether the client asked for the usage chunk of an OpenAI Chat stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageChunk {
    /// Relay it (the client asked, or the format has none).
    Relay,
    /// Aether asked the upstream for it to bill the request; keep it from the client.
    Withhold,
}

/// What the relay needs besides the response.
#[derive(Debug)]
pub struct RelayParams<'a> {
    /// The request id for the response header.
    pub request_id: &'a str,
    /// The client's format (for a mid-stream error event).
    pub format: WireFormat,
    /// The client format's plugin, which renders that event.
    pub client_plugin: &'a Arc<Plugin>,
    /// Puts the requested model name back, when it differs upstream.
    pub rewrite: Option<&'a ModelRewrite>,
    /// Whether an OpenAI usage-only chunk goes to the client.
    pub usage_chunk: UsageChunk,
    /// Set when the upstream speaks another format than the client.
    pub conversion: Option<ResponseConversion<'a>>,
}

/// What converting an answer for the client needs besides the client's plugin.
#[derive(Debug, Clone, Copy)]
pub struct ResponseConversion<'a> {
    /// The upstream format's plugin, which decodes the answer.
    pub upstream: &'a Arc<Plugin>,
    /// The model as the client named it, which the converted answer reports.
    pub client_model: &'a str,
}

/// The client's SSE error event, by its format's plugin; by the built-in plugin's code
/// natively when the plugin cannot be called.
fn stream_error_event(params: &RelayParams<'_>, message: &str) -> Vec<u8> {
    params
        .client_plugin
        .stream_error_event(&broken(message))
        .unwrap_or_else(|_| params.format.stream_error_event(message))
}

/// A stream that broke, as error info.
fn broken(message: &str) -> ErrorInfo {
    ErrorInfo {
        class: WitErrorClass::Internal,
        status: 502,
        message: message.to_owned(),
    }
}

/// What the relay observed, for the usage record.
#[derive(Debug)]
pub struct RelayReport {
    /// Token usage seen in the body or the stream.
    pub tap: UsageTap,
    /// When the response head went to the client.
    pub first_byte_at: Option<Instant>,
    /// The response body (for streams, the first events), kept only when usage records
    /// store bodies.
    pub sample: BodySample,
}

/// Whether the relay keeps a sample of the response for the usage record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySample {
    /// Bodies are not recorded.
    Off,
    /// Keep the first bytes that pass (empty until then).
    Keep(Bytes),
}

impl BodySample {
    fn offer(&mut self, bytes: &Bytes) {
        if let BodySample::Keep(kept) = self
            && kept.is_empty()
        {
            *kept = bytes.clone();
        }
    }
}

/// Relays `response` to the client and returns the upstream connection to the pool when
/// it was read to its end.
pub async fn relay(
    session: &mut ServerSession,
    upstreams: &Upstreams,
    mut response: Box<UpstreamResponse>,
    params: RelayParams<'_>,
    report: &mut RelayReport,
) -> Result<RelayEnd, GatewayError> {
    let end = if response.streaming {
        relay_stream(session, &mut response, &params, report).await?
    } else {
        relay_buffered(session, &mut response, &params, report).await?
    };
    upstreams.release(*response).await;
    Ok(end)
}

fn downstream_header(upstream: &ResponseHeader, request_id: &str) -> Result<ResponseHeader, GatewayError> {
    let broken = |e: Box<pingora::Error>| GatewayError::UpstreamBroken(BrokenResponse::Transport(e));
    let mut header = downstream::response_header(upstream.status.as_u16(), request_id, upstream.headers.len() + 2)
        .map_err(broken)?;
    for (name, value) in &upstream.headers {
        if crate::headers::relay_downstream(name.as_str()) {
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

/// Taps usage from a block of whole events and returns what goes to the client.
fn pass_events(block: Bytes, params: &RelayParams<'_>, tap: &mut UsageTap) -> Bytes {
    if block.is_empty() {
        return block;
    }
    tap.events(&block);
    let block = match params.usage_chunk {
        UsageChunk::Relay => block,
        UsageChunk::Withhold => without_usage_chunks(block),
    };
    rewritten(block, params.rewrite)
}

/// Drops OpenAI usage-only chunks (`"choices":[]` with a `usage` object) from a block of
/// events. OpenAI writes that chunk's JSON compactly, so two substring checks find it
/// without parsing every event.
fn without_usage_chunks(block: Bytes) -> Bytes {
    static NO_CHOICES: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(br#""choices":[]"#));
    static USAGE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(br#""usage":{"#));
    let is_usage_only = |event: &[u8]| NO_CHOICES.find(event).is_some() && USAGE.find(event).is_some();
    if !sse::raw_events(&block).any(is_usage_only) {
        return block;
    }
    let mut out = BytesMut::with_capacity(block.len());
    for event in sse::raw_events(&block).filter(|e| !is_usage_only(e)) {
        out.extend_from_slice(event);
        out.extend_from_slice(b"\n\n");
    }
    out.freeze()
}

async fn relay_buffered(
    session: &mut ServerSession,
    response: &mut UpstreamResponse,
    params: &RelayParams<'_>,
    report: &mut RelayReport,
) -> Result<RelayEnd, GatewayError> {
    let body = response
        .read_to_end(MAX_BUFFERED_RESPONSE)
        .await
        .map_err(GatewayError::from)?;
    let status = response.header.status;
    report.sample.offer(&body);
    let body = match &params.conversion {
        None => {
            if status.is_success() {
                report.tap.body(&body);
            }
            rewritten(body, params.rewrite)
        }
        Some(c) if status.is_success() => {
            let (converted, usage) =
                conversion::response::success(c.upstream, params.client_plugin, c.client_model, &body)?;
            report.tap.decoded(&usage);
            Bytes::from(converted)
        }
        Some(c) => Bytes::from(conversion::response::error(
            c.upstream,
            params.client_plugin,
            status.as_u16(),
            &body,
        )?),
    };
    let mut header = downstream_header(&response.header, params.request_id)?;
    header
        .insert_header(http::header::CONTENT_LENGTH, body.len().to_string())
        .map_err(|e| GatewayError::UpstreamBroken(BrokenResponse::Transport(e)))?;
    report.first_byte_at = Some(Instant::now());
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
    report: &mut RelayReport,
) -> Result<RelayEnd, GatewayError> {
    let Ok(mut header) = downstream_header(&response.header, params.request_id) else {
        return Ok(RelayEnd::UpstreamBroke("invalid upstream response header".into()));
    };
    if !session.is_http2()
        && header
            .insert_header(http::header::TRANSFER_ENCODING, "chunked")
            .is_err()
    {
        return Ok(RelayEnd::UpstreamBroke("cannot frame the response".into()));
    }
    // A converter that cannot open, or a first block that cannot be converted, fails
    // before anything was written: the client gets an HTTP error.
    let mut converter = match params.conversion {
        None => None,
        Some(c) => Some(StreamConverter::open(c.upstream, params.client_plugin, c.client_model)?),
    };
    let mut path = RelayPath {
        params,
        converter: converter.as_mut(),
    };
    let head = path.pass(std::mem::take(&mut response.head), &mut report.tap)?;
    report.first_byte_at = Some(Instant::now());
    if session.write_response_header(Box::new(header)).await.is_err() {
        return Ok(RelayEnd::ClientGone);
    }
    report.sample.offer(&head);
    if session.write_response_body(head, false).await.is_err() {
        return Ok(RelayEnd::ClientGone);
    }
    loop {
        let read = tokio::select! {
            read = response.read_body() => read,
            () = client_gone(session) => return Ok(RelayEnd::ClientGone),
        };
        let (bytes, end) = match read {
            Ok(Some(chunk)) => match response.framer.push(chunk) {
                Ok(block) => match path.pass(block, &mut report.tap) {
                    Ok(events) => (events, None),
                    Err(e) => path.break_off(&e.to_string()),
                },
                Err(e) => path.break_off(&e.to_string()),
            },
            Ok(None) => match path.end(response.framer.remainder(), &mut report.tap) {
                Ok(tail) => (tail, Some(RelayEnd::Complete)),
                Err(e) => path.break_off(&e.to_string()),
            },
            Err(e) => path.break_off(&format!("upstream stream interrupted: {e}")),
        };
        match end {
            None => {
                if !bytes.is_empty() && session.write_response_body(bytes, false).await.is_err() {
                    return Ok(RelayEnd::ClientGone);
                }
            }
            Some(RelayEnd::Complete) => {
                if session.write_response_body(bytes, true).await.is_err() {
                    return Ok(RelayEnd::ClientGone);
                }
                return Ok(RelayEnd::Complete);
            }
            Some(broke) => {
                // Best effort: the client may be gone too; the break is what is reported.
                let _ = session.write_response_body(bytes, false).await;
                return Ok(broke);
            }
        }
    }
}

/// How a stream's bytes reach the client: tapped, then relayed as they are or converted.
struct RelayPath<'p, 'a> {
    params: &'p RelayParams<'a>,
    converter: Option<&'p mut StreamConverter>,
}

impl RelayPath<'_, '_> {
    /// A block of whole upstream events: tapped, then what goes to the client.
    fn pass(&mut self, block: Bytes, tap: &mut UsageTap) -> Result<Bytes, ConversionError> {
        match self.converter.as_deref_mut() {
            None => Ok(pass_events(block, self.params, tap)),
            Some(converter) => {
                if block.is_empty() {
                    return Ok(block);
                }
                let out = converter.push_block(&block, |raw| tap.offer(raw));
                tap.converted(converter.usage());
                tap.flush();
                let out = Bytes::from(out?);
                Ok(match self.params.usage_chunk {
                    UsageChunk::Relay => out,
                    UsageChunk::Withhold => without_usage_chunks(out),
                })
            }
        }
    }

    /// The upstream ended: an unterminated last event, and the converter's closing bytes.
    fn end(&mut self, remainder: &[u8], tap: &mut UsageTap) -> Result<Bytes, ConversionError> {
        match self.converter.as_deref_mut() {
            None => Ok(Bytes::copy_from_slice(remainder)),
            Some(converter) => {
                let mut out = if remainder.is_empty() {
                    Vec::new()
                } else {
                    let out = converter.push_block(remainder, |raw| tap.offer(raw));
                    tap.converted(converter.usage());
                    tap.flush();
                    out?
                };
                let closing = converter.finish();
                tap.converted(converter.usage());
                out.extend(closing?);
                let out = Bytes::from(out);
                Ok(match self.params.usage_chunk {
                    UsageChunk::Relay => out,
                    UsageChunk::Withhold => without_usage_chunks(out),
                })
            }
        }
    }

    /// The stream cannot go on: the client's error event (through the encoder, when
    /// converting, so it fits the stream so far), and how the relay ended.
    fn break_off(&mut self, message: &str) -> (Bytes, Option<RelayEnd>) {
        let end = Some(RelayEnd::UpstreamBroke(message.to_owned()));
        let event = match self.converter.as_deref_mut() {
            Some(converter) => converter
                .fail(broken(message))
                .unwrap_or_else(|_| stream_error_event(self.params, message)),
            None => stream_error_event(self.params, message),
        };
        (Bytes::from(event), end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_only_chunks_are_withheld() {
        let block = Bytes::from_static(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\ndata: [DONE]\n\n",
        );
        let out = without_usage_chunks(block);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("\"content\":\"hi\""));
        assert!(!text.contains("prompt_tokens"));
        assert!(text.ends_with("data: [DONE]\n\n"));
    }
}
