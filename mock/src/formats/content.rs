//! The canned content of every answer (text, thinking, tool arguments, signatures) and the
//! identifiers and timestamps responses carry.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The words of the answer text; repeated when more pieces are asked for than it has words.
const TEXT: &str = "Hello! This is a mock answer from the Aether mock upstream. \
                    It streams a few words at a time so that gateways have something to relay.";

/// The thinking / reasoning text, already in the pieces it is streamed in.
pub(crate) const THINKING_PIECES: [&str; 3] = [
    "The user wants an answer. ",
    "This is a mock, so a canned reply will do. ",
    "I will answer briefly.",
];

/// Tokens the thinking block costs.
pub(crate) const THINKING_TOKENS: u64 = 2 * THINKING_PIECES.len() as u64;

/// The signature of a thinking block (Anthropic) or thought (Gemini).
pub(crate) const SIGNATURE: &str =
    "EqQBCkYIBxgCKkBtb2NrLXNpZ25hdHVyZS1mb3ItYWV0aGVyLXRlc3RzAAAAEgxtb2NrX3NpZ25hdHVyZRoMbW9ja19zaWduYXR1cmU=";

/// The arguments of the tool call, as JSON text.
pub(crate) const TOOL_ARGUMENTS: &str = r#"{"city":"Paris"}"#;

/// The tool called when the request declares none.
pub(crate) const DEFAULT_TOOL: &str = "get_weather";

/// The whole thinking text.
pub(crate) fn thinking_text() -> String {
    THINKING_PIECES.concat()
}

/// The answer text split into `chunks` non-empty pieces (at least one), whose concatenation is
/// the full answer text.
pub(crate) fn text_pieces(chunks: usize) -> Vec<String> {
    let chunks = chunks.max(1);
    let words: Vec<&str> = TEXT.split(' ').collect();
    let count = words.len().max(chunks);
    let mut pieces = Vec::with_capacity(chunks);
    for piece in 0..chunks {
        let (start, end) = (piece * count / chunks, (piece + 1) * count / chunks);
        let mut text = String::new();
        for index in start..end {
            text.push_str(words[index % words.len()]);
            if index + 1 < count {
                text.push(' ');
            }
        }
        pieces.push(text);
    }
    pieces
}

/// The tool arguments split into at most `chunks` non-empty pieces.
pub(crate) fn argument_pieces(chunks: usize) -> Vec<&'static str> {
    let len = TOOL_ARGUMENTS.len();
    let chunks = chunks.clamp(1, len);
    (0..chunks)
        .map(|piece| &TOOL_ARGUMENTS[piece * len / chunks..(piece + 1) * len / chunks])
        .collect()
}

/// A fresh identifier: `prefix` followed by 24 hexadecimal digits, unique within the process.
pub(crate) fn new_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    static SEED: OnceLock<u64> = OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        (nanos as u64) & 0xffff_ffff
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{seed:08x}{n:016x}")
}

/// OpenAI's `obfuscation` padding: 4 to 16 random letters and digits, different in every
/// event (a cheap generator; the padding only has to vary, as OpenAI's does).
pub(crate) fn obfuscation() -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static STATE: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    // splitmix64 over a shared counter.
    let mut z = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let len = 4 + (z % 13) as usize;
    (0..len)
        .map(|i| char::from(ALPHABET[((z >> (i * 4 % 60)) as usize + i) % ALPHABET.len()]))
        .collect()
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_pieces_rejoin_to_the_text() {
        for chunks in [1, 2, 5, 7, 40, 100] {
            let pieces = text_pieces(chunks);
            assert_eq!(pieces.len(), chunks);
            assert!(pieces.iter().all(|p| !p.is_empty()));
            if chunks <= TEXT.split(' ').count() {
                assert_eq!(pieces.concat(), TEXT);
            }
        }
    }

    #[test]
    fn argument_pieces_rejoin() {
        for chunks in [1, 3, 5, 100] {
            let pieces = argument_pieces(chunks);
            assert_eq!(pieces.concat(), TOOL_ARGUMENTS);
            assert!(pieces.iter().all(|p| !p.is_empty()));
        }
    }

    #[test]
    fn obfuscation_varies() {
        let pads: Vec<String> = (0..50).map(|_| obfuscation()).collect();
        assert!(
            pads.iter()
                .all(|p| (4..=16).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        );
        assert!(pads.windows(2).any(|w| w[0] != w[1]) && pads.iter().any(|p| p.len() != pads[0].len()));
    }

    #[test]
    fn ids_are_unique() {
        assert_ne!(new_id("msg_"), new_id("msg_"));
        assert!(new_id("msg_").starts_with("msg_"));
    }
}
