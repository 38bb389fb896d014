//! Whole (non-streamed) responses: an upstream's `chat.completion` into the IR
//! ([`decode`]), and an IR response as a `chat.completion` for a client ([`encode`]).

pub mod decode;
pub mod encode;

/// The id a client sees: OpenAI's `chatcmpl-` prefix on the upstream's id (kept when it is
/// already there), so ids from other formats still look like Chat Completions ids.
pub fn chat_id(id: &str) -> String {
    if id.starts_with("chatcmpl-") {
        id.to_owned()
    } else if id.is_empty() {
        "chatcmpl-aether".to_owned()
    } else {
        format!("chatcmpl-{id}")
    }
}

/// Seconds since the Unix epoch, for `created`.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_get_the_chat_prefix_once() {
        assert_eq!(chat_id("chatcmpl-1"), "chatcmpl-1");
        assert_eq!(chat_id("msg_1"), "chatcmpl-msg_1");
        assert_eq!(chat_id(""), "chatcmpl-aether");
        assert!(now() > 1_700_000_000);
    }
}
