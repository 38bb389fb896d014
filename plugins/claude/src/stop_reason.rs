//! Claude's `stop_reason` ↔ the IR's stop reason (the table in the SDK's IR.md).

use aether_plugin_sdk::types::StopReason;

/// The IR stop reason of a Claude `stop_reason`; `None` for null or one Claude may add later.
pub fn decode(reason: Option<&str>) -> Option<StopReason> {
    Some(match reason? {
        "end_turn" | "pause_turn" => StopReason::EndTurn,
        "max_tokens" | "model_context_window_exceeded" => StopReason::MaxTokens,
        "tool_use" => StopReason::ToolUse,
        "stop_sequence" => StopReason::StopSequence,
        "refusal" => StopReason::Refusal,
        _ => return None,
    })
}

/// Whether the answer holds a tool call, which decides the stop reason whatever the
/// upstream said (IR.md: decoders report `tool-use` whenever there is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolCalls {
    /// The answer calls at least one tool.
    Present,
    /// It calls none.
    Absent,
}

/// The stop reason to report: `tool-use` when the answer calls a tool and the upstream
/// said it ended its turn (or said nothing); otherwise what it said.
pub fn settle(reason: Option<StopReason>, tools: ToolCalls) -> Option<StopReason> {
    match (reason, tools) {
        (None | Some(StopReason::EndTurn | StopReason::StopSequence), ToolCalls::Present) => Some(StopReason::ToolUse),
        (reason, _) => reason,
    }
}

/// Claude's `stop_reason` for an IR stop reason. Claude has no "error" or "content filter"
/// reason: a content filter is a `refusal`, an upstream error ends the turn (`end_turn`).
pub fn encode(reason: Option<StopReason>) -> &'static str {
    match reason {
        None | Some(StopReason::EndTurn | StopReason::Error) => "end_turn",
        Some(StopReason::MaxTokens) => "max_tokens",
        Some(StopReason::ToolUse) => "tool_use",
        Some(StopReason::StopSequence) => "stop_sequence",
        Some(StopReason::Refusal | StopReason::ContentFilter) => "refusal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_maps() {
        assert_eq!(decode(Some("end_turn")), Some(StopReason::EndTurn));
        assert_eq!(decode(Some("pause_turn")), Some(StopReason::EndTurn));
        assert_eq!(decode(Some("max_tokens")), Some(StopReason::MaxTokens));
        assert_eq!(
            decode(Some("model_context_window_exceeded")),
            Some(StopReason::MaxTokens)
        );
        assert_eq!(decode(Some("tool_use")), Some(StopReason::ToolUse));
        assert_eq!(decode(Some("stop_sequence")), Some(StopReason::StopSequence));
        assert_eq!(decode(Some("refusal")), Some(StopReason::Refusal));
        assert_eq!(decode(Some("new_thing")), None);
        assert_eq!(decode(None), None);
        assert_eq!(encode(Some(StopReason::ContentFilter)), "refusal");
        assert_eq!(encode(Some(StopReason::Refusal)), "refusal");
        assert_eq!(encode(Some(StopReason::Error)), "end_turn");
        assert_eq!(encode(None), "end_turn");
        assert_eq!(encode(Some(StopReason::MaxTokens)), "max_tokens");
        assert_eq!(encode(Some(StopReason::StopSequence)), "stop_sequence");
        assert_eq!(encode(Some(StopReason::ToolUse)), "tool_use");
    }

    #[test]
    fn tool_calls_win() {
        assert_eq!(
            settle(Some(StopReason::EndTurn), ToolCalls::Present),
            Some(StopReason::ToolUse)
        );
        assert_eq!(settle(None, ToolCalls::Present), Some(StopReason::ToolUse));
        assert_eq!(
            settle(Some(StopReason::MaxTokens), ToolCalls::Present),
            Some(StopReason::MaxTokens)
        );
        assert_eq!(
            settle(Some(StopReason::EndTurn), ToolCalls::Absent),
            Some(StopReason::EndTurn)
        );
    }
}
