//! Messages streams ↔ IR stream events, one event at a time: [`decode::Decoder`] reads an
//! upstream's SSE events, [`encode::Encoder`] writes a client's.

pub mod decode;
pub mod encode;
