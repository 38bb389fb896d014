//! Requests: a client's Chat Completions request into the IR ([`decode`]), and an IR request
//! as a Chat Completions request for an upstream ([`encode`]).

pub mod decode;
pub mod encode;
