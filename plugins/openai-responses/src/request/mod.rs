//! Requests: a client's `POST /v1/responses` body into the IR ([`decode`]) and an IR request
//! into a body for a Responses upstream ([`encode`]).

pub mod decode;
pub mod encode;
