//! The Pingora [`HttpServerApp`] that serves mock requests over HTTP/1.1 and h2c, and the
//! accept loop that feeds it connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::{Version, header};
use pingora::apps::{HttpPersistentSettings, HttpServerApp, HttpServerOptions, ReusedHttpStream, ServerApp};
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::config::{Fault, MockConfig};
use crate::formats::content::new_id;
use crate::formats::{self, Body, Format, Reply};
use crate::handler::{self, Action, Ending, Prebuilt};
use crate::record::{RecordedRequest, Recorder};

/// The largest request body accepted; larger ones get a `413`.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// State shared between the server handle and the application.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// The instance configuration, replaceable at run time.
    config: RwLock<MockConfig>,
    /// Every request received.
    pub(crate) recorder: Recorder,
    /// Connections accepted.
    pub(crate) connections: AtomicUsize,
    /// Responses whose writing failed part-way (the client went away).
    pub(crate) aborted_responses: AtomicUsize,
}

impl Shared {
    /// Shared state starting with `config`.
    pub(crate) fn new(config: MockConfig) -> Shared {
        Shared {
            config: RwLock::new(config),
            recorder: Recorder::default(),
            connections: AtomicUsize::new(0),
            aborted_responses: AtomicUsize::new(0),
        }
    }

    /// A copy of the current configuration.
    pub(crate) fn config(&self) -> MockConfig {
        self.config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Replace the configuration.
    pub(crate) fn set_config(&self, config: MockConfig) {
        *self.config.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = config;
    }
}

/// What to do with the connection after a request.
enum Next {
    /// Offer it for the next request (HTTP/1.1 keep-alive).
    Reuse,
    /// Drop it.
    Close,
}

/// The mock as a Pingora HTTP application.
pub(crate) struct MockApp {
    shared: Arc<Shared>,
    options: HttpServerOptions,
    prebuilt: Prebuilt,
}

impl MockApp {
    /// An application over `shared`, with h2c enabled.
    pub(crate) fn new(shared: Arc<Shared>) -> MockApp {
        let mut options = HttpServerOptions::default();
        options.h2c = true;
        MockApp {
            shared,
            options,
            prebuilt: Prebuilt::new(),
        }
    }

    /// Serve one request whose header has been read.
    async fn serve(&self, session: &mut ServerSession) -> pingora::Result<Next> {
        let (method, path, query, headers, plan, route, http10, expect_continue) = {
            let req = session.req_header();
            let headers: Vec<(String, String)> = req
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let plan = self.shared.config().with_overrides(&req.headers);
            let path = req.uri.path().to_owned();
            let query = req.uri.query().map(str::to_owned);
            let route = formats::route(&req.method, &path, query.as_deref(), &req.headers);
            let expect_continue = req
                .headers
                .get(header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
            (
                req.method.as_str().to_owned(),
                path,
                query,
                headers,
                plan,
                route,
                req.version == Version::HTTP_10,
                expect_continue,
            )
        };

        if expect_continue {
            session.write_continue_response().await?;
        }
        let body = read_body(session).await?;
        self.shared.recorder.record(RecordedRequest {
            method,
            path,
            query,
            headers,
            body: body.clone().unwrap_or_default(),
        });

        let action = match &body {
            Some(body) => handler::decide(&route, body, &plan, &self.prebuilt),
            None => {
                session.set_keepalive(None);
                handler::too_large(&route)
            }
        };
        match action {
            Action::Hang => hang(session).await,
            Action::Respond { reply, ending, format } => {
                sleep(plan.latency).await;
                let written = write(session, reply, ending, format, &plan, http10).await;
                if written.is_err() {
                    self.shared.aborted_responses.fetch_add(1, Ordering::Relaxed);
                }
                written
            }
        }
    }
}

#[async_trait]
impl HttpServerApp for MockApp {
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        _shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        match session.read_request().await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                debug!(error = %e, "mock: reading the request failed");
                return None;
            }
        }
        match self.serve(&mut session).await {
            Ok(Next::Reuse) => {
                let settings = HttpPersistentSettings::for_session(&session);
                match session.finish().await {
                    Ok(Some(stream)) => Some(ReusedHttpStream::from_reusable_stream(stream, settings)),
                    Ok(None) => None,
                    Err(e) => {
                        debug!(error = %e, "mock: finishing the response failed");
                        None
                    }
                }
            }
            Ok(Next::Close) => None,
            Err(e) => {
                debug!(error = %e, "mock: serving the request failed");
                None
            }
        }
    }

    fn server_options(&self) -> Option<&HttpServerOptions> {
        Some(&self.options)
    }
}

/// Read the whole request body; `None` when it exceeds [`MAX_BODY`].
async fn read_body(session: &mut ServerSession) -> pingora::Result<Option<Bytes>> {
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let mut total = 0usize;
    while let Some(chunk) = session.read_request_body().await? {
        total += chunk.len();
        if total > MAX_BODY {
            return Ok(None);
        }
        match (&mut rest, first.take()) {
            (Some(buf), _) => buf.extend_from_slice(&chunk),
            (None, None) => first = Some(chunk),
            (None, Some(head)) => {
                let mut buf = BytesMut::with_capacity((head.len() + chunk.len()) * 2);
                buf.extend_from_slice(&head);
                buf.extend_from_slice(&chunk);
                rest = Some(buf);
            }
        }
    }
    Ok(Some(match rest {
        Some(buf) => buf.freeze(),
        None => first.unwrap_or_default(),
    }))
}

/// Wait, without answering, until the client goes away.
async fn hang(session: &mut ServerSession) -> pingora::Result<Next> {
    loop {
        match session.read_body_or_idle(true).await {
            Ok(Some(_)) => continue,
            Ok(None) => std::future::pending::<()>().await,
            Err(_) => return Ok(Next::Close),
        }
    }
}

/// Sleep unless the duration is zero.
async fn sleep(duration: Duration) {
    if !duration.is_zero() {
        tokio::time::sleep(duration).await;
    }
}

/// Write an answer, cutting it short when `ending` says so.
async fn write(
    session: &mut ServerSession,
    reply: Reply,
    ending: Ending,
    format: Format,
    plan: &MockConfig,
    http10: bool,
) -> pingora::Result<Next> {
    let h2 = session.is_http2();
    if let Fault::EarlyHints(n) = plan.fault {
        for _ in 0..n {
            let mut hint = ResponseHeader::build(103, Some(1))?;
            hint.insert_header(header::LINK, "</style.css>; rel=preload")?;
            session.write_response_header(Box::new(hint)).await?;
        }
    }
    let mut resp = ResponseHeader::build(reply.status, Some(9))?;
    if reply.status == 429
        && let Some(secs) = plan.retry_after_secs
    {
        resp.insert_header(header::RETRY_AFTER, secs.to_string())?;
    }
    if let Some(wait) = plan.exhausted_for {
        resp.insert_header("x-ratelimit-remaining-requests", "0")?;
        resp.insert_header("x-ratelimit-reset-requests", format!("{}ms", wait.as_millis()))?;
    }
    if h2 {
        resp.set_version(Version::HTTP_2);
    }
    resp.insert_header(header::CONTENT_TYPE, reply.content_type)?;
    let request_id = match format {
        Format::Claude => "request-id",
        Format::Chat | Format::Responses | Format::Gemini => "x-request-id",
    };
    resp.insert_header(request_id, new_id("req_"))?;

    match reply.body {
        Body::Full(body) => {
            resp.set_content_length(body.len())?;
            session.write_response_header(Box::new(resp)).await?;
            match ending {
                Ending::Complete => {
                    session.write_response_body(body, true).await?;
                    Ok(Next::Reuse)
                }
                Ending::Flood => {
                    session.write_response_body(body, true).await?;
                    Ok(Next::Reuse)
                }
                Ending::ResetAfter(_) | Ending::Unterminated(_) => {
                    let half = body.slice(..body.len() / 2);
                    session.write_response_body(half, false).await?;
                    Ok(Next::Close)
                }
            }
        }
        Body::Events(events) => {
            resp.insert_header(header::CACHE_CONTROL, "no-cache")?;
            if !h2 {
                if http10 {
                    // No chunked encoding in HTTP/1.0: the body ends when the connection does.
                    session.set_keepalive(None);
                } else {
                    resp.insert_header(header::TRANSFER_ENCODING, "chunked")?;
                }
            }
            session.write_response_header(Box::new(resp)).await?;
            let limit = match ending {
                Ending::Complete | Ending::Flood => events.len(),
                Ending::ResetAfter(n) | Ending::Unterminated(n) => n.min(events.len()),
            };
            sleep(plan.ttfb).await;
            if ending == Ending::Flood {
                // The first event, then a gigabyte of comments, then the rest as usual.
                let mut events = events.into_iter();
                if let Some(first) = events.next() {
                    session.write_response_body(first, false).await?;
                }
                let mut comment = BytesMut::with_capacity(64 * 1024);
                comment.extend_from_slice(b": ");
                comment.resize(64 * 1024 - 2, b'x');
                comment.extend_from_slice(b"\n\n");
                let comment = comment.freeze();
                for _ in 0..16 * 1024 {
                    session.write_response_body(comment.clone(), false).await?;
                }
                for event in events {
                    session.write_response_body(event, false).await?;
                }
                session.write_response_body(Bytes::new(), true).await?;
                return Ok(Next::Reuse);
            }
            if plan.interval.is_zero() {
                // Nothing to pace: one write of every event.
                let batch = match &events[..limit] {
                    [] => Bytes::new(),
                    [one] => one.clone(),
                    many => {
                        let mut buf = BytesMut::with_capacity(many.iter().map(Bytes::len).sum());
                        for event in many {
                            buf.extend_from_slice(event);
                        }
                        buf.freeze()
                    }
                };
                session.write_response_body(batch, false).await?;
            } else {
                for (i, event) in events.into_iter().take(limit).enumerate() {
                    if i > 0 {
                        sleep(plan.interval).await;
                    }
                    session.write_response_body(event, false).await?;
                }
            }
            match ending {
                Ending::Complete => {
                    session.write_response_body(Bytes::new(), true).await?;
                    Ok(Next::Reuse)
                }
                Ending::ResetAfter(_) => Ok(Next::Close),
                Ending::Flood => Ok(Next::Reuse),
                Ending::Unterminated(_) => {
                    // One event that never ends: 64 KiB writes of `x` after `data: `, until the
                    // reader gives up or 64 MiB have gone.
                    session
                        .write_response_body(Bytes::from_static(b"data: "), false)
                        .await?;
                    let block = Bytes::from(vec![b'x'; 64 * 1024]);
                    for _ in 0..1024 {
                        session.write_response_body(block.clone(), false).await?;
                    }
                    Ok(Next::Close)
                }
            }
        }
    }
}

/// Accept connections until the task is aborted, serving each on its own task until it closes
/// or `shutdown` turns true (or its sender is dropped).
pub(crate) async fn accept_loop(listener: TcpListener, app: Arc<MockApp>, shutdown: watch::Receiver<bool>) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _peer)) => tcp,
            Err(e) => {
                // Typically out of file descriptors; back off instead of spinning.
                warn!(error = %e, "mock: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if let Err(e) = tcp.set_nodelay(true) {
            debug!(error = %e, "mock: setting TCP_NODELAY failed");
        }
        let stream: pingora::protocols::Stream = Box::new(pingora::protocols::l4::stream::Stream::from(tcp));
        app.shared.connections.fetch_add(1, Ordering::Relaxed);
        let app = Arc::clone(&app);
        let watch = shutdown.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = app.process_new(stream, &watch) => {}
                _ = stop.wait_for(|stopped| *stopped) => {}
            }
        });
    }
}
