//! Idle HTTP/1.1 upstream connections, kept by Aether rather than Pingora's pool.
//!
//! Pingora's pool watches every idle connection with a task of its own (spawned on a random
//! worker thread), checks the socket's peer address on every reuse, and wakes the watcher
//! across threads to take the connection back: together about a tenth of the gateway's CPU
//! per request under load. Here an idle connection is just a stream on a stack per peer
//! (the most recently used first, so the warmest connections serve and the rest age out).
//! A connection the upstream closed while idle is found out when it is used: the exchange
//! fails before any response byte, and the attempt is retried once on a new connection
//! (as nginx does with its keep-alive cache). HTTP/2 sessions still use Pingora's pool,
//! which multiplexes them.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use pingora::protocols::Stream;

/// Idle connections kept per peer.
const PER_PEER: usize = 256;

/// Idle streams by peer (Pingora's reuse hash of the peer).
#[derive(Debug, Default)]
pub struct IdlePool {
    idle: Mutex<HashMap<u64, Vec<(Stream, Instant)>>>,
}

impl IdlePool {
    /// The most recently released stream for `peer` that has been idle less than `max_idle`.
    pub fn take(&self, peer: u64, max_idle: Duration) -> Option<Stream> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let stack = idle.get_mut(&peer)?;
        while let Some((stream, since)) = stack.pop() {
            if since.elapsed() < max_idle {
                return Some(stream);
            }
        }
        None
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
