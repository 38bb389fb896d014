//! The upstream leg: one attempt against one candidate, on Pingora's own connectors
//! (pooled HTTP/1.1 and HTTP/2 sessions, rustls).
//!
//! An attempt connects, sends the request, waits for the response head under the
//! first-byte timeout and, for a stream, prefetches until the first whole SSE event is in,
//! so an error event in a 200 still fails over. Its verdict is either a response to relay
//! (success, or a 4xx that is the client's fault) or a failure that moves on to the next
//! candidate. Nothing here writes to the client, so failing over is always safe.

pub mod pool;
pub mod rate_headers;
pub mod resolve;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::protocols::ALPN;
// Pingora's lazy coarse timers: a stream's every read has a deadline, and most reads wait.
use pingora::protocols::http::client::HttpSession;
use pingora::protocols::http::v1::client::HttpSession as Http1Session;
use pingora::time::timeout;
use pingora::upstreams::peer::HttpPeer;
use pingora::upstreams::peer::Peer;

use crate::config::compile::{Provider, ProviderKey};
use crate::config::file::{ClientBillingHeaders, HttpVersionSetting};
use crate::sse::{self, SseFramer};
use resolve::Resolver;

/// How long an idle pooled upstream connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);
/// How much of a rejected response body is drained so its connection can be reused.
const DRAIN_LIMIT: usize = 256 * 1024;
/// Idle upstream connections kept per connector.
const UPSTREAM_POOL_SIZE: usize = 1024;
/// Concurrent streams per HTTP/2 upstream connection.
const H2_STREAMS: usize = 128;

/// Shared upstream machinery: the connector (and its pools) and the resolver.
pub struct Upstreams {
    connector: Connector,
    resolver: Resolver,
    idle: pool::IdlePool,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams").finish_non_exhaustive()
    }
}

/// Where an upstream connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    /// Connected for this attempt.
    Fresh,
    /// Taken from a pool: it may have been closed by the upstream while idle.
    Pooled,
}

/// What to send to one candidate.
#[derive(Debug)]
pub struct Exchange<'a> {
    /// The provider.
    pub provider: &'a Provider,
    /// The key.
    pub key: &'a ProviderKey,
    /// Path and query.
    pub path: String,
    /// The client's request headers (filtered here by the header policy).
    pub client_headers: &'a http::HeaderMap,
    /// Which of them go, and what is added.
    pub policy: HeaderPolicy<'a>,
    /// The body to send.
    pub body: Bytes,
    /// Whether a stream is expected.
    pub stream: bool,
    /// The longest SSE event accepted from the upstream.
    pub max_event_bytes: usize,
}

/// How the client's headers are forwarded.
#[derive(Debug, Clone, Copy)]
pub enum HeaderPolicy<'a> {
    /// Same format: every header the policy allows ([`crate::headers::forward_upstream`]).
    SameFormat,
    /// Converted: not the client format's own headers
    /// ([`crate::headers::forward_converted`]), and then these, from the upstream's plugin.
    Converted(&'a http::HeaderMap),
}

/// A response worth relaying.
pub struct UpstreamResponse {
    session: HttpSession,
    peer: HttpPeer,
    /// Status and headers.
    pub header: ResponseHeader,
    /// Body bytes already read: whole SSE events for a stream.
    pub head: Bytes,
    /// Partial event carried over (streams).
    pub framer: SseFramer,
    /// Whether the body is an event stream.
    pub streaming: bool,
    /// When the exchange must be over.
    pub deadline: Instant,
    /// The longest silence between two body reads.
    pub idle: Duration,
    /// When the response's rate-limit headers say the key has nothing left: until when
    /// it should rest.
    pub exhausted_for: Option<Duration>,
}

impl std::fmt::Debug for UpstreamResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamResponse")
            .field("status", &self.header.status)
            .finish_non_exhaustive()
    }
}

/// Why an attempt did not produce a response to relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Name resolution failed.
    Resolve,
    /// Connect refused or reset, TLS handshake failed, or the connection broke.
    Connect,
    /// No connection within the connect timeout.
    ConnectTimeout,
    /// No response head or first event of a stream within `first_byte_ms`.
    FirstByteTimeout,
    /// No head of a non-streamed response within `response_ms`.
    ResponseTimeout,
    /// An HTTP status that means this candidate cannot serve the request.
    Status(u16),
    /// A 200 stream whose first event is an error.
    StreamError,
    /// The request could not be encoded in this candidate's format (nothing was sent).
    Conversion,
    /// The request could not be built for this candidate (a header or path Aether could
    /// not send; nothing was sent).
    Request,
}

/// A failed attempt.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What happened.
    pub kind: FailureKind,
    /// Client-safe detail (no upstream body, which may quote a key).
    pub detail: String,
    /// A 429's wait, when its headers name one.
    pub retry_after: Option<Duration>,
}

/// The verdict on one attempt.
#[derive(Debug)]
pub enum Verdict {
    /// Relay this response to the client.
    Relay(Box<UpstreamResponse>),
    /// Try the next candidate.
    Failover(Failure),
}

/// Whether a status is the client's fault (returned as is, no failover).
pub fn is_client_fault(status: u16) -> bool {
    matches!(status, 400 | 413 | 422)
}

impl Default for Upstreams {
    fn default() -> Self {
        Upstreams {
            connector: Connector::new(Some(pingora::connectors::ConnectorOptions::new(UPSTREAM_POOL_SIZE))),
            resolver: Resolver::default(),
            idle: pool::IdlePool::default(),
        }
    }
}

impl Upstreams {
    /// Runs one attempt.
    pub async fn attempt(&self, ex: Exchange<'_>) -> Verdict {
        let p = ex.provider;
        let started = Instant::now();
        let deadline = started + p.timeouts.total;
        let addrs = match self.resolver.resolve(&p.url.host, p.url.port).await {
            Ok(a) => a,
            Err(e) => return failover(FailureKind::Resolve, format!("cannot resolve {}: {e}", p.url.host)),
        };
        // A stream's head and first event come quickly; a non-streamed answer's head comes
        // only when the whole generation is done.
        let head_limit = if ex.stream {
            p.timeouts.first_byte
        } else {
            p.timeouts.response
        }
        .min(p.timeouts.total);
        let request = match request_header(&ex) {
            Ok(r) => r,
            Err(e) => {
                return failover(
                    FailureKind::Request,
                    format!("cannot build the request for {}: {e}", p.name),
                );
            }
        };
        // Every address the name has, in the resolver's order, until one connects.
        let mut connected = None;
        let mut last_error = None;
        for addr in addrs.iter() {
            let peer = peer(p, *addr);
            match self.acquire(&peer).await {
                Ok(s) => {
                    connected = Some((s, peer));
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        let ((mut session, connection), peer) = match (connected, last_error) {
            (Some(c), _) => c,
            (None, Some(e)) => return connect_failure(p, &e),
            (None, None) => return failover(FailureKind::Resolve, format!("no address for {}", p.url.host)),
        };
        let mut result = timeout(head_limit, send_and_read_head(&mut session, &request, &ex.body)).await;
        // A pooled connection the upstream closed while it sat idle fails while the request
        // is being written. Only then is it retried, once, on a new connection: a failure
        // after the whole request was written may come from an upstream that is already
        // generating (and billing), and a retry would generate twice.
        if connection == Connection::Pooled && matches!(result, Ok(Err(SendError::Write(_)))) {
            session = match self.connector.get_http_session(&peer).await {
                Ok((s, _)) => s,
                Err(e) => return connect_failure(p, &e),
            };
            let remaining = (started + head_limit).saturating_duration_since(Instant::now());
            result = timeout(remaining, send_and_read_head(&mut session, &request, &ex.body)).await;
        }
        match result {
            Err(_) => {
                let (kind, what) = if ex.stream {
                    (FailureKind::FirstByteTimeout, "first_byte_ms")
                } else {
                    (FailureKind::ResponseTimeout, "response_ms")
                };
                return failover(
                    kind,
                    format!("{} sent no response within {head_limit:?} ({what})", p.name),
                );
            }
            Ok(Err(e)) => {
                return failover(
                    FailureKind::Connect,
                    format!("exchange with {} failed: {}", p.name, e.error().etype().as_str()),
                );
            }
            Ok(Ok(())) => {}
        }
        let Some(header) = session.response_header().cloned() else {
            return failover(FailureKind::Connect, format!("{} sent no response head", p.name));
        };
        let status = header.status.as_u16();
        if !header.status.is_success() && !is_client_fault(status) {
            let retry_after = (status == 429)
                .then(|| rate_headers::retry_after(&header.headers, std::time::SystemTime::now()))
                .flatten();
            self.drain_and_release(session, &peer).await;
            return Verdict::Failover(Failure {
                kind: FailureKind::Status(status),
                detail: format!("{} answered HTTP {status}", p.name),
                retry_after,
            });
        }
        let streaming = header.status.is_success() && is_event_stream(&header);
        let exhausted_for = rate_headers::exhausted_for(&header.headers, std::time::SystemTime::now());
        let mut response = UpstreamResponse {
            session,
            peer,
            header,
            head: Bytes::new(),
            framer: SseFramer::new(ex.max_event_bytes),
            streaming,
            deadline,
            idle: p.timeouts.idle,
            exhausted_for,
        };
        if streaming {
            let remaining = (started + head_limit).saturating_duration_since(Instant::now());
            match timeout(remaining, prefetch_first_event(&mut response)).await {
                Err(_) => {
                    return failover(
                        FailureKind::FirstByteTimeout,
                        format!("{} sent no stream event within {head_limit:?} (first_byte_ms)", p.name),
                    );
                }
                Ok(Err(e)) => {
                    return failover(
                        FailureKind::Connect,
                        format!(
                            "stream from {} broke before its first event: {}",
                            p.name,
                            e.etype().as_str()
                        ),
                    );
                }
                Ok(Ok(())) => {}
            }
            let first_is_error = sse::events(&response.head)
                .next()
                .is_some_and(|e| sse::is_error_event(&e));
            if first_is_error {
                response.session.shutdown().await;
                return failover(
                    FailureKind::StreamError,
                    format!("{} streamed an error event first", p.name),
                );
            }
        }
        Verdict::Relay(Box::new(response))
    }

    /// An HTTP/1.1 connection from Aether's idle pool, or one from Pingora's connector
    /// (new, or a pooled HTTP/2 session).
    async fn acquire(&self, peer: &HttpPeer) -> pingora::Result<(HttpSession, Connection)> {
        if peer.options.alpn == ALPN::H1
            && let Some(stream) = self.idle.take(peer.reuse_hash(), POOL_IDLE)
        {
            return Ok((
                HttpSession::H1(Http1Session::new_with_options(stream, peer)),
                Connection::Pooled,
            ));
        }
        let (session, reused) = self.connector.get_http_session(peer).await?;
        Ok((session, if reused { Connection::Pooled } else { Connection::Fresh }))
    }

    /// Returns a finished exchange's connection for reuse, or closes it if the response
    /// was not read to its end.
    pub async fn release(&self, response: UpstreamResponse) {
        self.release_session(response.session, &response.peer).await;
    }

    async fn release_session(&self, mut session: HttpSession, peer: &HttpPeer) {
        if !session.response_done() {
            session.shutdown().await;
            return;
        }
        match session {
            HttpSession::H1(mut h1) => {
                h1.respect_keepalive();
                if let Some(stream) = h1.reuse().await {
                    self.idle.put(peer.reuse_hash(), stream);
                }
            }
            other => self.connector.release_http_session(other, peer, Some(POOL_IDLE)).await,
        }
    }

    async fn drain_and_release(&self, mut session: HttpSession, peer: &HttpPeer) {
        let mut drained = 0usize;
        let drain = async {
            while drained <= DRAIN_LIMIT {
                match session.read_response_body().await {
                    Ok(Some(b)) => drained += b.len(),
                    Ok(None) => return true,
                    Err(_) => return false,
                }
            }
            false
        };
        let done = tokio::time::timeout(Duration::from_secs(2), drain)
            .await
            .unwrap_or(false);
        if done && session.response_done() {
            self.connector
                .release_http_session(session, peer, Some(POOL_IDLE))
                .await;
        } else {
            session.shutdown().await;
        }
    }
}

impl UpstreamResponse {
    /// Reads the next piece of the body (`None` at the end), under the exchange deadline.
    pub async fn read_body(&mut self) -> Result<Option<Bytes>, BodyError> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let (limit, late) = if remaining <= self.idle {
            (remaining, BodyError::Deadline)
        } else {
            (self.idle, BodyError::Idle)
        };
        match timeout(limit, self.session.read_response_body()).await {
            Err(_) => Err(late),
            Ok(Err(e)) if matches!(e.etype(), pingora::ErrorType::ReadTimedout) => Err(BodyError::Idle),
            Ok(Err(e)) => Err(BodyError::Broken(e.etype().as_str().to_owned())),
            Ok(Ok(b)) => Ok(b),
        }
    }

    /// Reads the whole remaining body, up to `limit` bytes.
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Bytes, BodyError> {
        // The common case is one chunk: return it without copying.
        let mut whole = std::mem::take(&mut self.head);
        let mut body: Option<BytesMut> = None;
        while let Some(chunk) = self.read_body().await? {
            let len = whole.len() + body.as_ref().map_or(0, BytesMut::len) + chunk.len();
            if len > limit {
                return Err(BodyError::TooLarge);
            }
            if whole.is_empty() && body.is_none() {
                whole = chunk;
                continue;
            }
            let buf = body.get_or_insert_with(|| BytesMut::from(&std::mem::take(&mut whole)[..]));
            buf.extend_from_slice(&chunk);
        }
        Ok(body.map_or(whole, BytesMut::freeze))
    }
}

/// Why reading an upstream body stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The total deadline passed.
    #[error("the upstream exceeded its total timeout")]
    Deadline,
    /// Silence longer than the idle timeout.
    #[error("the upstream went silent past its idle timeout")]
    Idle,
    /// Reset, closed early, or malformed.
    #[error("the upstream connection broke: {0}")]
    Broken(String),
    /// A non-streamed body over the relay limit.
    #[error("the upstream response is too large")]
    TooLarge,
}

async fn prefetch_first_event(r: &mut UpstreamResponse) -> pingora::Result<()> {
    // Until the first whole event is in (or the body ends): the framer holds partial ones,
    // up to its limit.
    while r.head.is_empty() {
        match r.session.read_response_body().await? {
            Some(chunk) => {
                r.head = r
                    .framer
                    .push(chunk)
                    .map_err(|e| pingora::Error::explain(pingora::ErrorType::InvalidHTTPHeader, e.to_string()))?;
            }
            None => break,
        }
    }
    Ok(())
}

/// Where an exchange failed: while the request was being written (the upstream cannot
/// have acted on it: its body is incomplete), or after (it may have).
#[derive(Debug)]
enum SendError {
    Write(Box<pingora::Error>),
    Read(Box<pingora::Error>),
}

impl SendError {
    fn error(&self) -> &pingora::Error {
        match self {
            SendError::Write(e) | SendError::Read(e) => e,
        }
    }
}

/// Informational responses (`100 Continue`, `103 Early Hints`) skipped before the final
/// head; more is a misbehaving upstream.
const MAX_INFORMATIONAL: usize = 8;

async fn send_and_read_head(session: &mut HttpSession, request: &RequestHeader, body: &Bytes) -> Result<(), SendError> {
    let write = async {
        session.write_request_header(Box::new(request.clone())).await?;
        session.write_request_body(body.clone(), true).await?;
        session.finish_request_body().await
    };
    write.await.map_err(SendError::Write)?;
    for _ in 0..=MAX_INFORMATIONAL {
        session.read_response_header().await.map_err(SendError::Read)?;
        match session.response_header() {
            Some(h) if h.status.is_informational() => continue,
            _ => return Ok(()),
        }
    }
    Err(SendError::Read(pingora::Error::explain(
        pingora::ErrorType::InvalidHTTPHeader,
        "too many informational responses",
    )))
}

fn connect_failure(p: &Provider, e: &pingora::Error) -> Verdict {
    let kind = if matches!(e.etype(), pingora::ErrorType::ConnectTimedout) {
        FailureKind::ConnectTimeout
    } else {
        FailureKind::Connect
    };
    failover(kind, format!("connect to {} failed: {}", p.name, e.etype().as_str()))
}

fn failover(kind: FailureKind, detail: String) -> Verdict {
    Verdict::Failover(Failure {
        kind,
        detail,
        retry_after: None,
    })
}

fn is_event_stream(header: &ResponseHeader) -> bool {
    header
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

fn peer(p: &Provider, addr: SocketAddr) -> HttpPeer {
    let mut peer = HttpPeer::new(addr, p.url.tls, p.url.host.clone());
    let o = &mut peer.options;
    o.connection_timeout = Some(p.timeouts.connect);
    o.total_connection_timeout = Some(p.timeouts.connect);
    // No read timeout on the connection: the wait for the head has its own limit (a
    // non-streamed answer may take longer than idle_ms to start), and body reads apply
    // idle_ms themselves (`UpstreamResponse::read_body`).
    o.write_timeout = Some(p.timeouts.idle);
    o.idle_timeout = Some(POOL_IDLE);
    o.max_h2_streams = H2_STREAMS;
    o.alpn = match (p.http, p.url.tls) {
        (HttpVersionSetting::Http1, _) | (HttpVersionSetting::Auto, false) => ALPN::H1,
        (HttpVersionSetting::Auto, true) => ALPN::H2H1,
        (HttpVersionSetting::Http2, _) => ALPN::H2,
    };
    peer
}

fn request_header(ex: &Exchange<'_>) -> pingora::Result<RequestHeader> {
    let mut req = RequestHeader::build(
        http::Method::POST,
        ex.path.as_bytes(),
        Some(ex.client_headers.len() + 4),
    )?;
    let connection = ex.client_headers.get(http::header::CONNECTION);
    let billing = ex.provider.client_billing_headers;
    let forwardable = |name: &http::HeaderName| {
        !crate::headers::named_by_connection(name.as_str(), connection)
            && (billing == ClientBillingHeaders::Forward || !crate::headers::is_billing_choice(name.as_str()))
    };
    match ex.policy {
        HeaderPolicy::SameFormat => {
            for (name, value) in ex.client_headers {
                if crate::headers::forward_upstream(name.as_str()) && forwardable(name) {
                    req.append_header(name.clone(), value.clone())?;
                }
            }
        }
        HeaderPolicy::Converted(plugin_headers) => {
            for (name, value) in ex.client_headers {
                if crate::headers::forward_converted(name.as_str()) && forwardable(name) {
                    req.append_header(name.clone(), value.clone())?;
                }
            }
            for (name, value) in plugin_headers {
                req.insert_header(name.clone(), value.clone())?;
            }
        }
    }
    for (name, value) in &ex.provider.headers {
        req.insert_header(name.clone(), value.clone())?;
    }
    if ex.provider.format == crate::format::WireFormat::Claude && !req.headers.contains_key("anthropic-version") {
        req.insert_header("anthropic-version", "2023-06-01")?;
    }
    req.insert_header(ex.key.auth.0.clone(), ex.key.auth.1.clone())?;
    req.insert_header(http::header::HOST, ex.provider.url.authority.as_str())?;
    req.insert_header(http::header::CONTENT_TYPE, "application/json")?;
    req.insert_header(http::header::CONTENT_LENGTH, ex.body.len().to_string())?;
    req.insert_header(http::header::ACCEPT_ENCODING, "identity")?;
    Ok(req)
}
