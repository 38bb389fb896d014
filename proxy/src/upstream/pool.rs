//! Idle HTTP/1.1 upstream connections, kept by Aether rather than Pingora's pool.
//!
//! Pingora's pool watches every idle connection with a task of its own (spawned on a random
//! worker thread), checks the socket's peer address on every reuse, and wakes the watcher
//! across threads to take the connection back: together about a tenth of the gateway's CPU
//! per request under load. Here an idle connection is just a stream on a stack per peer
//! (the most recently used first, so the warmest connections serve and the rest age out).
//! A connection idle for a second or more is checked when it is taken: one the upstream
//! closed while it sat idle (or that has bytes nobody asked for) reads as ready without
//! blocking, and is dropped. What
//! that check cannot see (a close racing the request) fails while the request is written,
//! and only then is the attempt retried on a new connection (`super::Upstreams::attempt`).
//! HTTP/2 sessions still use Pingora's pool, which multiplexes them.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use pingora::protocols::Stream;
use tokio::io::{AsyncRead, ReadBuf};

/// Idle connections kept per peer.
const PER_PEER: usize = 256;
/// Connections idle at least this long are checked for a close before they are reused.
const CHECK_AFTER: Duration = Duration::from_secs(1);

/// Idle streams by peer (Pingora's reuse hash of the peer).
#[derive(Debug, Default)]
pub struct IdlePool {
    idle: Mutex<HashMap<u64, Vec<(Stream, Instant)>>>,
}

impl IdlePool {
    /// The most recently released stream for `peer` that has been idle less than `max_idle`.
    pub fn take(&self, peer: u64, max_idle: Duration) -> Option<Stream> {
        loop {
            let (mut stream, since) = {
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                idle.get_mut(&peer)?.pop()?
            };
            let idle = since.elapsed();
            // A connection used a moment ago is not checked: under load that is every reuse,
            // and the check is a `recv` system call. What a close in that moment breaks, the
            // attempt's write-phase retry catches.
            if idle < max_idle && (idle < CHECK_AFTER || still_open(&mut stream)) {
                return Some(stream);
            }
        }
    }

    /// Keeps `stream` for reuse (dropped, and so closed, when the peer's stack is full).
    pub fn put(&self, peer: u64, stream: Stream) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let stack = idle.entry(peer).or_default();
        if stack.len() < PER_PEER {
            stack.push((stream, Instant::now()));
        }
    }
}

/// Whether an idle connection is still usable: a read that does not block means the peer
/// closed it, reset it or sent bytes no request asked for; only "would block" is healthy.
fn still_open(stream: &mut Stream) -> bool {
    let mut byte = [0u8; 1];
    let mut buf = ReadBuf::new(&mut byte);
    let mut cx = Context::from_waker(Waker::noop());
    matches!(Pin::new(stream).poll_read(&mut cx, &mut buf), Poll::Pending)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn pair() -> (Stream, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (Box::new(pingora::protocols::l4::stream::Stream::from(client)), server)
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_is_not_handed_out() {
        let pool = IdlePool::default();
        let (open, _keep) = pair().await;
        let (closed, server) = pair().await;
        let (chatty, mut talker) = pair().await;
        drop(server);
        talker.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        pool.put(1, open);
        pool.put(1, closed);
        pool.put(1, chatty);
        // Idle long enough to be checked.
        tokio::time::sleep(CHECK_AFTER + Duration::from_millis(50)).await;
        // Most recent first: the chatty and the closed ones are skipped.
        assert!(pool.take(1, Duration::from_secs(60)).is_some());
        assert!(pool.take(1, Duration::from_secs(60)).is_none());
    }
}
