//! Gemini's `finishReason` ↔ the IR's stop reason (IR.md's table). A `functionCall` in the
//! answer makes the stop reason `tool-use` whatever Gemini said; that rule is the decoders'.

use aether_plugin_sdk::types::StopReason;

/// The IR stop reason for a `finishReason`.
pub fn decode(reason: &str) -> StopReason {
    match reason {
        "MAX_TOKENS" => StopReason::MaxTokens,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            StopReason::ContentFilter
        }
        "MALFORMED_FUNCTION_CALL" | "UNEXPECTED_TOOL_CALL" | "TOO_MANY_TOOL_CALLS" => StopReason::Error,
        // STOP, and the reasons that end a turn without a more precise IR meaning
        // (OTHER, LANGUAGE, FINISH_REASON_UNSPECIFIED, …).
        _ => StopReason::EndTurn,
    }
}

/// The `finishReason` for an IR stop reason (tool calls end with `STOP` in Gemini).
pub fn encode(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::ToolUse => "STOP",
        StopReason::MaxTokens => "MAX_TOKENS",
        StopReason::Refusal | StopReason::ContentFilter => "SAFETY",
        StopReason::Error => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways() {
        assert_eq!(decode("STOP"), StopReason::EndTurn);
        assert_eq!(decode("MAX_TOKENS"), StopReason::MaxTokens);
        assert_eq!(decode("SAFETY"), StopReason::ContentFilter);
        assert_eq!(decode("RECITATION"), StopReason::ContentFilter);
        assert_eq!(decode("MALFORMED_FUNCTION_CALL"), StopReason::Error);
        assert_eq!(decode("OTHER"), StopReason::EndTurn);
        assert_eq!(encode(StopReason::ToolUse), "STOP");
        assert_eq!(encode(StopReason::StopSequence), "STOP");
        assert_eq!(encode(StopReason::MaxTokens), "MAX_TOKENS");
        assert_eq!(encode(StopReason::Refusal), "SAFETY");
        assert_eq!(encode(StopReason::ContentFilter), "SAFETY");
        assert_eq!(encode(StopReason::Error), "OTHER");
    }
}
