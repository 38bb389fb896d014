//! Gemini parts ↔ IR content blocks, shared by requests and whole responses (streams have
//! their own incremental versions in [`crate::stream`]).

pub mod decode;
pub mod encode;
