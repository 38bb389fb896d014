//! Messages requests ↔ the IR: [`decode`] reads a client's request, [`encode`] writes one for
//! an Anthropic upstream.

pub mod decode;
pub mod encode;
