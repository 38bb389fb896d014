//! Request ids: unique per process run and across restarts, cheap to make (no syscall,
//! no lock): a per-process random seed mixed with a counter.

use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

static SEED: LazyLock<u64> = LazyLock::new(|| {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    RandomState::new().hash_one((nanos, std::process::id()))
});
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new id: `req_` and 32 hex digits.
pub fn next() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mixed = (*SEED ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .rotate_left(17)
        .wrapping_mul(0xbf58_476d_1ce4_e5b9);
    format!("req_{:016x}{:016x}", *SEED, mixed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| super::next()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.len() == 36 && id.starts_with("req_")));
    }
}
