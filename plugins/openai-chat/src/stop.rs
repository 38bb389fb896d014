//! `finish_reason` ↔ the IR's stop reason (IR.md's table): `stop`, `length`, `tool_calls`
//! (and the legacy `function_call`), `content_filter`.

use aether_plugin_sdk::types::StopReason;

/// The IR stop reason of a `finish_reason`. Unknown reasons (providers add their own, e.g.
/// DeepSeek's `insufficient_system_resource`) end the turn, except those that say the
/// upstream failed.
pub fn decode(finish_reason: &str) -> StopReason {
    match finish_reason {
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::ContentFilter,
        "insufficient_system_resource" | "error" => StopReason::Error,
        _ => StopReason::EndTurn,
    }
}

/// What an answer turned out to hold, as far as the stop reason is concerned. Ordered: a
/// tool call outranks a refusal, which outranks plain content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Evidence {
    /// Text, reasoning or nothing.
    #[default]
    Plain,
    /// A `refusal` from the model.
    Refusal,
    /// At least one tool call.
    ToolCall,
}

impl Evidence {
    /// Keeps the stronger of two pieces of evidence.
    pub fn raise(&mut self, seen: Evidence) {
        *self = (*self).max(seen);
    }
}

/// The stop reason a decoder reports: tool use whenever the answer holds a tool call and the
/// upstream said it simply stopped (some upstreams say `stop` after tool calls), a refusal
/// where the model refused.
pub fn settle(reason: Option<StopReason>, evidence: Evidence) -> Option<StopReason> {
    match (reason, evidence) {
        (Some(StopReason::EndTurn | StopReason::StopSequence) | None, Evidence::ToolCall) => Some(StopReason::ToolUse),
        (Some(StopReason::EndTurn | StopReason::StopSequence), Evidence::Refusal) => Some(StopReason::Refusal),
        (other, _) => other,
    }
}

/// The `finish_reason` for an IR stop reason. A stop sequence is `stop` (OpenAI does not
/// tell them apart); a refusal and a content filter are both `content_filter`; an upstream
/// failure that still ended the answer is `stop`.
pub fn encode(reason: Option<StopReason>) -> &'static str {
    match reason {
        Some(StopReason::MaxTokens) => "length",
        Some(StopReason::ToolUse) => "tool_calls",
        Some(StopReason::Refusal | StopReason::ContentFilter) => "content_filter",
        Some(StopReason::EndTurn | StopReason::StopSequence | StopReason::Error) | None => "stop",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_reason() {
        assert_eq!(decode("stop"), StopReason::EndTurn);
        assert_eq!(decode("length"), StopReason::MaxTokens);
        assert_eq!(decode("tool_calls"), StopReason::ToolUse);
        assert_eq!(decode("function_call"), StopReason::ToolUse);
        assert_eq!(decode("content_filter"), StopReason::ContentFilter);
        assert_eq!(decode("insufficient_system_resource"), StopReason::Error);
        assert_eq!(decode("something_new"), StopReason::EndTurn);
    }

    #[test]
    fn tool_calls_and_refusals_settle_the_reason() {
        assert_eq!(
            settle(Some(StopReason::EndTurn), Evidence::ToolCall),
            Some(StopReason::ToolUse)
        );
        assert_eq!(settle(None, Evidence::ToolCall), Some(StopReason::ToolUse));
        assert_eq!(
            settle(Some(StopReason::MaxTokens), Evidence::ToolCall),
            Some(StopReason::MaxTokens)
        );
        assert_eq!(
            settle(Some(StopReason::EndTurn), Evidence::Refusal),
            Some(StopReason::Refusal)
        );
        assert_eq!(settle(None, Evidence::Plain), None);
        let mut e = Evidence::ToolCall;
        e.raise(Evidence::Refusal);
        assert_eq!(e, Evidence::ToolCall);
    }

    #[test]
    fn encodes_every_reason() {
        assert_eq!(encode(Some(StopReason::EndTurn)), "stop");
        assert_eq!(encode(Some(StopReason::StopSequence)), "stop");
        assert_eq!(encode(Some(StopReason::MaxTokens)), "length");
        assert_eq!(encode(Some(StopReason::ToolUse)), "tool_calls");
        assert_eq!(encode(Some(StopReason::Refusal)), "content_filter");
        assert_eq!(encode(Some(StopReason::ContentFilter)), "content_filter");
        assert_eq!(encode(Some(StopReason::Error)), "stop");
        assert_eq!(encode(None), "stop");
    }
}
