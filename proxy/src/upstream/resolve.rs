//! Asynchronous DNS with a small TTL cache. Pingora's `HttpPeer` resolves host names
//! synchronously (and panics when that fails), so Aether hands it socket addresses.
//!
//! A lookup returns every address the name has (the attempt tries them in order until one
//! connects) and is bounded by [`LOOKUP_TIMEOUT`]. When a lookup fails or times out, the
//! last good answer is served (stale, for up to [`STALE_FOR`]): a resolver hiccup does not
//! take down a provider whose addresses have not changed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a resolved answer is reused before it is looked up again.
const TTL: Duration = Duration::from_secs(30);
/// How long one lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the last good answer is served while lookups fail.
const STALE_FOR: Duration = Duration::from_secs(3600);

/// The addresses of one host and port.
pub type Addresses = Arc<[SocketAddr]>;

/// A resolver with a per-(host, port) cache.
#[derive(Debug, Default)]
pub struct Resolver {
    cache: Mutex<HashMap<(String, u16), (Addresses, Instant)>>,
}

impl Resolver {
    /// The addresses for `host:port`: an IP literal directly, names through the cache or DNS.
    pub async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Addresses> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Arc::from([SocketAddr::new(ip, port)]));
        }
        let key = (host.to_owned(), port);
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some((addrs, at)) = &cached
            && at.elapsed() < TTL
        {
            return Ok(addrs.clone());
        }
        match self.lookup(host, port).await {
            Ok(addrs) => {
                self.cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key, (addrs.clone(), Instant::now()));
                Ok(addrs)
            }
            Err(e) => match cached {
                Some((addrs, at)) if at.elapsed() < STALE_FOR => {
                    tracing::warn!(host, "DNS lookup failed, serving the last good answer: {e}");
                    Ok(addrs)
                }
                _ => Err(e),
            },
        }
    }

    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Addresses> {
        let found = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer for {host} within {LOOKUP_TIMEOUT:?}"),
                )
            })??;
        let addrs: Vec<SocketAddr> = found.collect();
        if addrs.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no address for {host}"),
            ));
        }
        Ok(Arc::from(addrs))
    }

    /// Ages every cached answer past its TTL (for tests of the stale path).
    #[cfg(test)]
    fn expire(&self) {
        let long_ago = Instant::now().checked_sub(TTL + Duration::from_secs(1));
        if let Some(long_ago) = long_ago {
            for (_, at) in self.cache.lock().unwrap_or_else(PoisonError::into_inner).values_mut() {
                *at = long_ago;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn literals_names_and_the_last_good_answer() {
        let r = Resolver::default();
        assert_eq!(
            &*r.resolve("127.0.0.1", 80).await.unwrap(),
            &["127.0.0.1:80".parse().unwrap()]
        );
        let localhost = r.resolve("localhost", 81).await.unwrap();
        assert!(!localhost.is_empty() && localhost.iter().all(|a| a.port() == 81));
        assert!(r.resolve("no-such-host.invalid", 80).await.is_err());
        // A name whose lookup now fails keeps its last good answer.
        let stale: Addresses = Arc::from(["10.0.0.7:443".parse::<SocketAddr>().unwrap()]);
        r.cache
            .lock()
            .unwrap()
            .insert(("no-such-host.invalid".into(), 443), (stale.clone(), Instant::now()));
        r.expire();
        assert_eq!(r.resolve("no-such-host.invalid", 443).await.unwrap(), stale);
    }
}
