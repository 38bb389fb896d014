//! Streams: an upstream's `chat.completion.chunk` events into IR events ([`decode`]), and
//! IR events as chunks for a client ([`encode`]). Both work one event at a time.

pub mod decode;
pub mod encode;
