//! Streams: an upstream's Responses SSE events into IR stream events ([`decode`]), and IR
//! stream events into the SSE a Responses client expects ([`encode`]). Both convert one
//! event at a time and keep only per-stream state.

pub mod decode;
pub mod encode;
