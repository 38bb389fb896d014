//! Weighted rendezvous hashing, the routing hash: each client key scores every provider key
//! of a route and takes the best, so a client sticks to one provider key (and keeps that
//! key's prompt cache warm) while clients spread over keys in proportion to their weights,
//! and removing a key moves only the clients that were on it.
//!
//! Seeds are FNV-1a of stable names, so the same client lands on the same key in every
//! process and after every restart (unlike `DefaultHasher`, whose output may change
//! between Rust versions). Hand-written rather than a crate: two pure functions of a few
//! lines each, on the routing path of every request.

/// A stable 64-bit seed for a name or key hash (FNV-1a).
pub fn seed(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The weighted rendezvous score of a provider key for a client: `-w / ln(u)` with `u` a
/// uniform hash of both seeds in (0, 1). The highest score wins.
pub fn score(client_seed: u64, key_seed: u64, weight: u32) -> f64 {
    let h = splitmix64(client_seed ^ key_seed);
    // 53 random bits mapped into (0, 1), excluding both ends.
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    -f64::from(weight) / u.ln()
}

/// SplitMix64's finaliser: spreads the XOR of two seeds over all 64 bits.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_stable_across_processes() {
        // FNV-1a's published test vectors.
        assert_eq!(seed(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(seed(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn weights_spread_clients_in_proportion() {
        let keys = [(seed(b"p\0a"), 1u32), (seed(b"p\0b"), 3u32)];
        let mut wins = [0u32; 2];
        for client in 0u32..8_000 {
            let c = seed(&client.to_le_bytes());
            let best = if score(c, keys[0].0, keys[0].1) > score(c, keys[1].0, keys[1].1) {
                0
            } else {
                1
            };
            wins[best] += 1;
        }
        // 1:3 by weight, within a few percent.
        assert!((1_800..2_200).contains(&wins[0]), "{wins:?}");
    }
}
