//! The client edge: what a connection is allowed before and between its requests.
//!
//! [`Edge`] wraps the gateway app for Pingora's listening services. It caps the client
//! connections open at once (one cap shared by the plain and the TLS listener; over it, a
//! new connection is closed at once and counted), and it does the TLS handshake itself,
//! under `tls_handshake_ms`, because Pingora's listener allows every handshake a fixed 60 s.
//! The per-request deadlines (request head, body, keep-alive idle, writes) are applied by
//! the gateway to each session from the same [`EdgeSettings`]; HTTP/2's idle timeout is a
//! Pingora server option the gateway sets.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::listeners::tls::Acceptor;
use pingora::protocols::Stream;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::server::ShutdownWatch;
use tokio::sync::Semaphore;

use crate::config::file::EdgeSection;

/// The client-side limits, from `[server.edge]` (read at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeSettings {
    /// From a new connection's accept (or the first byte of a kept-alive connection's next
    /// request) to the end of the request head.
    pub header: Duration,
    /// How long a kept-alive HTTP/1.1 connection may wait for its next request's whole head.
    pub keepalive_idle: Duration,
    /// The request body's base allowance...
    pub body: Duration,
    /// ...plus one second per this many bytes received (the minimum rate a large body must
    /// keep up).
    pub body_min_bytes_per_sec: u64,
    /// The longest a write to the client may block (a client that stopped reading).
    pub write: Duration,
    /// An HTTP/2 connection with no open stream is closed after this long.
    pub h2_idle: Duration,
    /// The TLS handshake.
    pub tls_handshake: Duration,
    /// Client connections open at once, over every listener.
    pub max_connections: usize,
    /// Request-body bytes held at once, over every request.
    pub max_inflight_body_bytes: usize,
}

impl EdgeSettings {
    /// The settings of `[server.edge]`.
    pub fn from_section(s: &EdgeSection) -> Self {
        EdgeSettings {
            header: Duration::from_millis(s.header_ms),
            keepalive_idle: Duration::from_millis(s.keepalive_idle_ms),
            body: Duration::from_millis(s.body_ms),
            body_min_bytes_per_sec: s.body_min_bytes_per_sec,
            write: Duration::from_millis(s.write_ms),
            h2_idle: Duration::from_millis(s.h2_idle_ms),
            tls_handshake: Duration::from_millis(s.tls_handshake_ms),
            max_connections: s.max_connections,
            max_inflight_body_bytes: s.max_inflight_body_bytes,
        }
    }

    /// The time a body of `received` bytes so far has been allowed in all.
    pub fn body_allowance(&self, received: usize) -> Duration {
        let per_byte = self.body_min_bytes_per_sec.max(1);
        self.body + Duration::from_millis((received as u64).saturating_mul(1000) / per_byte)
    }
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings::from_section(&EdgeSection::default())
    }
}

/// What the edge turned away, for `/metrics`.
#[derive(Debug, Default)]
pub struct EdgeCounters {
    /// Connections closed because `max_connections` were open.
    pub over_capacity: AtomicU64,
    /// TLS handshakes that failed or took longer than `tls_handshake_ms`.
    pub tls_failed: AtomicU64,
}

/// The connection cap shared by every listener.
#[derive(Debug, Clone)]
pub struct ConnectionCap {
    slots: Arc<Semaphore>,
    counters: Arc<EdgeCounters>,
}

impl ConnectionCap {
    /// A cap of `max` connections.
    pub fn new(max: usize) -> Self {
        ConnectionCap {
            slots: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
            counters: Arc::default(),
        }
    }

    /// What the edge turned away so far.
    pub fn counters(&self) -> Arc<EdgeCounters> {
        self.counters.clone()
    }
}

/// One listener's edge around the app `A`.
pub struct Edge<A> {
    app: Arc<A>,
    cap: ConnectionCap,
    tls: Option<(Acceptor, Duration)>,
}

impl<A> std::fmt::Debug for Edge<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl<A> Edge<A> {
    /// A plain-text listener's edge.
    pub fn plain(app: Arc<A>, cap: ConnectionCap) -> Self {
        Edge { app, cap, tls: None }
    }

    /// A TLS listener's edge: the listener itself is plain TCP, the handshake is done here.
    pub fn tls(app: Arc<A>, cap: ConnectionCap, acceptor: Acceptor, handshake: Duration) -> Self {
        Edge {
            app,
            cap,
            tls: Some((acceptor, handshake)),
        }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Edge<A> {
    async fn process_new(self: &Arc<Self>, stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        let Ok(_slot) = self.cap.slots.clone().try_acquire_owned() else {
            let turned_away = self.cap.counters.over_capacity.fetch_add(1, Ordering::Relaxed);
            if turned_away.is_power_of_two() {
                tracing::warn!(
                    total = turned_away + 1,
                    "client connection closed: server.edge.max_connections are open"
                );
            }
            return None;
        };
        let mut next = match &self.tls {
            None => Some(stream),
            Some((acceptor, limit)) => {
                let Ok(tcp) = stream.into_any().downcast::<L4Stream>() else {
                    tracing::error!("TLS edge on a listener that is not plain TCP");
                    return None;
                };
                match tokio::time::timeout(*limit, acceptor.tls_handshake(*tcp)).await {
                    Ok(Ok(tls)) => Some(Box::new(tls) as Stream),
                    Ok(Err(e)) => {
                        self.cap.counters.tls_failed.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("TLS handshake failed: {e}");
                        None
                    }
                    Err(_) => {
                        self.cap.counters.tls_failed.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("TLS handshake took longer than {limit:?}");
                        None
                    }
                }
            }
        };
        // The slot is held for the connection's whole life, every request on it included.
        while let Some(stream) = next {
            next = self.app.process_new(stream, shutdown).await;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_earns_time_by_arriving() {
        let s = EdgeSettings {
            body: Duration::from_secs(10),
            body_min_bytes_per_sec: 1024,
            ..EdgeSettings::default()
        };
        assert_eq!(s.body_allowance(0), Duration::from_secs(10));
        assert_eq!(s.body_allowance(10 * 1024), Duration::from_secs(20));
        let zero_rate = EdgeSettings {
            body_min_bytes_per_sec: 0,
            ..s
        };
        assert_eq!(
            zero_rate.body_allowance(1),
            Duration::from_secs(11),
            "a zero rate counts as one byte a second"
        );
    }
}
