//! `streamGenerateContent?alt=sse` streams ↔ IR stream events, one event at a time.

pub mod decode;
pub mod encode;
