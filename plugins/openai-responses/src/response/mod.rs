//! Whole (non-streamed) responses: an upstream's Responses body into the IR ([`decode`]) and
//! an IR response into the body a Responses client expects ([`encode`]).

pub mod decode;
pub mod encode;
