//! Request ids: unique across processes and restarts, cheap to make (no lock, no syscall
//! beyond the vDSO clock), and ordered by time. Time order matters: the id is the usage
//! record's primary key, and keys that arrive in order are appended to the index's last
//! page, where random keys would dirty a different page (and write it to the WAL) for
//! nearly every row.
//!
//! Layout, 32 hex digits after `req_`: 12 of Unix milliseconds, 8 of a per-process counter,
//! 12 of a per-process random seed.
//!
//! Not the `uuid` crate's time-ordered v7: it would change the ids' text, which stores and
//! clients already keep, and take random bits for every id where a counter and one seed per
//! process suffice. Nor the `hex` crate below: it encodes bytes, not an integer's low digits.

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
    // By hand rather than `format!`, whose padded hex formatting took about 2,900
    // instructions per id (callgrind), on every request.
    let mut id = String::with_capacity(36);
    id.push_str("req_");
    push_hex(&mut id, millis & 0xffff_ffff_ffff, 12);
    push_hex(&mut id, u64::from(n), 8);
    push_hex(&mut id, *SEED, 12);
    id
}

/// Appends the low `digits` hex digits of `value`, zero-padded, lower case.
fn push_hex(out: &mut String, value: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for digit in (0..digits).rev() {
        out.push(char::from(HEX[(value >> (digit * 4)) as usize & 0xf]));
    }
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

    #[test]
    fn hex_is_zero_padded_and_truncated_like_format() {
        for (value, digits) in [(0u64, 12), (0xabc, 8), (u64::MAX, 12), (0x1234_5678_9abc, 12), (7, 1)] {
            let mut out = String::new();
            super::push_hex(&mut out, value, digits);
            let width = digits as usize;
            let full = format!("{value:0width$x}");
            assert_eq!(out, full[full.len() - width..], "{value:#x} in {digits} digits");
        }
    }
}
