//! A mock LLM upstream for Aether's integration tests, demos and load benchmarks.
//!
//! It speaks the four wire formats the gateway proxies — Anthropic Messages, OpenAI Chat
//! Completions, OpenAI Responses and Google Gemini — with the providers' real JSON bodies, SSE
//! streams and error shapes, over HTTP/1.1 (keep-alive, `100-continue`, chunked streams) and
//! h2c, on Pingora's server pieces.
//!
//! Behaviour comes from a [`MockConfig`] per instance, replaceable at run time with
//! [`MockServer::set_config`], and can be overridden per request with headers (which the
//! gateway forwards upstream, so tests steer the mock through the gateway):
//!
//! | header | effect |
//! |---|---|
//! | `x-mock-status: 429` | respond with that status and the format's error body |
//! | `x-mock-fault: stream-error \| reset:N \| unterminated:N \| flood \| early-hints:N \| hang \| none` | inject a [`Fault`] |
//! | `x-mock-latency-ms`, `x-mock-ttfb-ms`, `x-mock-interval-ms` | delays |
//! | `x-mock-chunks` | number of text deltas |
//! | `x-mock-scenario: text \| tool_call \| thinking` | the [`Scenario`] |
//! | `x-mock-retry-after: N` | a 429 names `retry-after: N` |
//! | `x-mock-exhausted-ms: N` | every answer says the key has no requests left for N ms (`x-ratelimit-remaining-requests: 0`) |
//!
//! Routes: `POST /v1/messages` (and `/v1/messages/count_tokens`), `POST /v1/chat/completions`,
//! `POST /v1/responses`, `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent` (also under `/v1/models/`, and `:countTokens`), `GET /v1/models`
//! (Anthropic's shape when `anthropic-version` is sent), `GET /v1beta/models`. Anything else is
//! a `404` with a JSON error.
//!
//! OpenAI streams carry OpenAI's random `obfuscation` padding on every Chat chunk with a choice
//! and every Responses delta event, as OpenAI's do, unless the request sets
//! `stream_options.include_obfuscation: false`.
//!
//! Token usage is deterministic: prompt tokens are the body length / 4 (at least 1), output
//! tokens twice the number of chunks; cache counts are non-zero when the body contains
//! `cache_control` (Anthropic), `prompt_cache_key` (OpenAI) or `cachedContent` (Gemini).

mod config;
mod formats;
mod handler;
mod record;
mod server;
mod sse;
mod template;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{Fault, MockConfig, Scenario};
pub use record::RecordedRequest;

use server::{MockApp, Shared};

/// A running mock upstream. Dropping it stops it, like [`MockServer::shutdown`] without waiting.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl MockServer {
    /// Listen on `addr` (port `0` picks a free port; see [`MockServer::addr`]) and serve every
    /// request with `config` unless the request overrides it.
    pub async fn start(addr: SocketAddr, config: MockConfig) -> io::Result<MockServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let app = Arc::new(MockApp::new(Arc::clone(&shared)));
        let (stop, stopped) = watch::channel(false);
        let accept = tokio::spawn(server::accept_loop(listener, app, stopped));
        Ok(MockServer {
            addr,
            shared,
            accept,
            stop,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received, oldest first (the most recent 10,000).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.snapshot()
    }

    /// How many requests were received since the server started.
    pub fn request_count(&self) -> usize {
        self.shared.recorder.total()
    }

    /// How many TCP connections were accepted since the server started (shows pooling).
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many responses could not be written to their end because the client went away
    /// (a gateway cancelling an upstream stream shows up here).
    pub fn cancelled_streams(&self) -> usize {
        self.shared.aborted_responses.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Replace the configuration; requests read after this call use it.
    pub fn set_config(&self, config: MockConfig) {
        self.shared.set_config(config);
    }

    /// The configuration currently in effect.
    pub fn config(&self) -> MockConfig {
        self.shared.config()
    }

    /// Stop accepting connections, close the open ones, and wait for the listener to close.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        self.accept.abort();
        // The accept task was aborted: the only possible outcome is a cancellation.
        let _cancelled = (&mut self.accept).await;
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        self.accept.abort();
    }
}

/// Serve on `addr` forever (the `aether mock` command), logging the address listened on.
pub async fn run(addr: SocketAddr, config: MockConfig) -> io::Result<()> {
    let mut server = MockServer::start(addr, config).await?;
    tracing::info!(addr = %server.addr(), "aether mock upstream listening");
    let ended = (&mut server.accept).await;
    Err(io::Error::other(match ended {
        Ok(()) => "the mock accept loop ended".to_owned(),
        Err(e) => format!("the mock accept loop failed: {e}"),
    }))
}
