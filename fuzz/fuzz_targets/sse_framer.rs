//! The host's SSE framer: whatever the bytes and wherever they are cut, the events it hands
//! back and its remainder are the input, in order; nothing is lost or made up, and the
//! events it hands back parse without panicking.
#![no_main]

use aether_fuzz::sse::{SseFramer, events};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else { return };
    let limit = 1 << 20;
    let mut framer = SseFramer::new(limit);
    let at = usize::from(cut).min(body.len());
    let mut out = Vec::new();
    for piece in [&body[..at], &body[at..]] {
        match framer.push(Bytes::copy_from_slice(piece)) {
            Ok(block) => {
                for event in events(&block) {
                    let _ = (event.name, event.data.len());
                }
                out.extend_from_slice(&block);
            }
            Err(_) => {
                assert!(body.len() > limit);
                return;
            }
        }
    }
    out.extend_from_slice(framer.remainder());
    assert_eq!(out, body, "the framer lost or invented bytes");
});
