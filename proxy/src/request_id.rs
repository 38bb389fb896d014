//! Request ids: unique across processes and restarts, cheap to make (no lock, no syscall
//! beyond the vDSO clock), and ordered by time. Time order matters: the id is the usage
//! record's primary key, and keys that arrive in order are appended to the index's last
//! page, where random keys would dirty a different page (and write it to the WAL) for
//! nearly every row.
//!
//! Layout, 32 hex digits after `req_`: 12 of Unix milliseconds, 8 of a per-process counter,
//! 12 of a per-process random seed.

use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static SEED: LazyLock<u64> = LazyLock::new(|| {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    RandomState::new().hash_one((nanos, std::process::id())) & 0xffff_ffff_ffff
});
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A new id: `req_` and 32 hex digits.
pub fn next() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("req_{:012x}{:08x}{:012x}", millis & 0xffff_ffff_ffff, n, *SEED)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique_and_ordered() {
        let ids: Vec<String> = (0..10_000).map(|_| super::next()).collect();
        assert!(ids.iter().all(|id| id.len() == 36 && id.starts_with("req_")));
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), 10_000);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids sort in creation order");
    }
}
