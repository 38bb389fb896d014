//! Gemini `generateContent` requests ↔ the IR's chat request.

pub mod decode;
pub mod encode;

/// The action a request path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `:generateContent`, one whole answer.
    Generate,
    /// `:streamGenerateContent`, an SSE stream (`?alt=sse`).
    Stream,
}

impl Action {
    /// The action named in a path (`None` for anything else, e.g. `countTokens`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "generateContent" => Some(Action::Generate),
            "streamGenerateContent" => Some(Action::Stream),
            _ => None,
        }
    }
}
