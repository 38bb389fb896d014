//! Request ids: unguessable, unique across processes and restarts, and ordered by time.
//!
//! Unguessable because `GET /admin/requests/{id}` can return a request's stored bodies:
//! each id carries 128 random bits from a per-thread ChaCha generator that the OS seeds
//! (`rand`'s `ThreadRng`), so knowing one id tells nothing about another. Time order
//! matters too: the id is the usage record's primary key, and keys that arrive in order
//! (to the millisecond) are appended to the index's last page, where fully random keys
//! would dirty a different page (and write it to the WAL) for nearly every row.
//!
//! Layout, 44 hex digits after `req_`: 12 of Unix milliseconds, then 32 random.
//!
//! Not the `uuid` crate's time-ordered v7: it has 74 random bits, not 128, and would change
//! the ids' text, which stores and clients keep. Nor the `hex` crate below: it encodes
//! bytes, not an integer's low digits.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;

/// A new id: `req_` and 44 hex digits.
pub fn next() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut random = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut random);
    // By hand rather than `format!`, whose padded hex formatting took about 2,900
    // instructions per id (callgrind), on every request.
    let mut id = String::with_capacity(48);
    id.push_str("req_");
    push_hex(&mut id, millis & 0xffff_ffff_ffff, 12);
    for half in random.chunks_exact(8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(half);
        push_hex(&mut id, u64::from_be_bytes(bytes), 16);
    }
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
    fn ids_are_unique_and_ordered_by_time() {
        let ids: Vec<String> = (0..10_000).map(|_| super::next()).collect();
        assert!(ids.iter().all(|id| id.len() == 48 && id.starts_with("req_")));
        assert!(ids.iter().all(|id| id[4..].bytes().all(|b| b.is_ascii_hexdigit())));
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), 10_000);
        assert!(
            ids.windows(2).all(|w| w[0][..16] <= w[1][..16]),
            "ids sort in creation order by their millisecond"
        );
    }

    #[test]
    fn hex_is_zero_padded_and_truncated_like_format() {
        for (value, digits) in [
            (0u64, 12),
            (0xabc, 8),
            (u64::MAX, 12),
            (0x1234_5678_9abc, 12),
            (7, 1),
            (u64::MAX, 16),
        ] {
            let mut out = String::new();
            super::push_hex(&mut out, value, digits);
            let width = digits as usize;
            let full = format!("{value:0width$x}");
            assert_eq!(out, full[full.len() - width..], "{value:#x} in {digits} digits");
        }
    }
}
