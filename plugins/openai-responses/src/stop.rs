//! Why a response ended, both ways: the Responses `status` (with `incomplete_details.reason`)
//! and what the output holds ↔ the IR stop reason (IR.md's table).
//!
//! Decoding: a `function_call` in the output is `tool-use` whatever the status says; else
//! `incomplete` with `max_output_tokens` is `max-tokens`, with `content_filter`
//! `content-filter`; a `refusal` part is `refusal`; `failed` is `error`; `completed` is
//! `end-turn`. Encoding: the reverse; `refusal` is written as `completed` with the text as
//! `refusal` parts (see `response::encode`).

use aether_plugin_sdk::types::StopReason;
use serde_json::{Value, json};

/// A response's `status`, with the incomplete reason where there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `completed`.
    Completed,
    /// `incomplete`, with `incomplete_details.reason`.
    Incomplete(Incomplete),
    /// `failed`.
    Failed,
    /// `in_progress`, `queued` or anything else not final.
    InProgress,
}

/// `incomplete_details.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incomplete {
    /// `max_output_tokens`.
    MaxOutputTokens,
    /// `content_filter` (and any reason this plugin does not know).
    ContentFilter,
}

/// What the output held that decides the stop reason over the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A `function_call` item.
    ToolCall,
    /// A `refusal` content part (and no function call).
    Refusal,
    /// Neither.
    Plain,
}

impl Status {
    /// The status of a response's `status` and `incomplete_details.reason`.
    pub fn parse(status: Option<&str>, reason: Option<&str>) -> Status {
        match status {
            Some("completed") => Status::Completed,
            Some("incomplete") => Status::Incomplete(match reason {
                Some("max_output_tokens") => Incomplete::MaxOutputTokens,
                _ => Incomplete::ContentFilter,
            }),
            Some("failed" | "cancelled") => Status::Failed,
            _ => Status::InProgress,
        }
    }

    /// The status to write for an IR stop reason.
    pub fn for_stop(stop: Option<StopReason>) -> Status {
        match stop {
            Some(StopReason::MaxTokens) => Status::Incomplete(Incomplete::MaxOutputTokens),
            Some(StopReason::ContentFilter) => Status::Incomplete(Incomplete::ContentFilter),
            Some(StopReason::Error) => Status::Failed,
            _ => Status::Completed,
        }
    }

    /// The `status` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Completed => "completed",
            Status::Incomplete(_) => "incomplete",
            Status::Failed => "failed",
            Status::InProgress => "in_progress",
        }
    }

    /// `incomplete_details` (null unless incomplete).
    pub fn incomplete_details(self) -> Value {
        match self {
            Status::Incomplete(Incomplete::MaxOutputTokens) => json!({"reason": "max_output_tokens"}),
            Status::Incomplete(Incomplete::ContentFilter) => json!({"reason": "content_filter"}),
            _ => Value::Null,
        }
    }

    /// The stream's terminal event for this status.
    pub fn terminal_event(self) -> &'static str {
        match self {
            Status::Incomplete(_) => "response.incomplete",
            Status::Failed => "response.failed",
            Status::Completed | Status::InProgress => "response.completed",
        }
    }

    /// The IR stop reason of a response with this status whose output held `seen`.
    pub fn stop_reason(self, seen: Seen) -> Option<StopReason> {
        match (seen, self) {
            (Seen::ToolCall, _) => Some(StopReason::ToolUse),
            (_, Status::Incomplete(Incomplete::MaxOutputTokens)) => Some(StopReason::MaxTokens),
            (_, Status::Incomplete(Incomplete::ContentFilter)) => Some(StopReason::ContentFilter),
            (Seen::Refusal, _) => Some(StopReason::Refusal),
            (_, Status::Failed) => Some(StopReason::Error),
            (_, Status::Completed) => Some(StopReason::EndTurn),
            (_, Status::InProgress) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        let done = Status::parse(Some("completed"), None);
        assert_eq!(done.stop_reason(Seen::Plain), Some(StopReason::EndTurn));
        assert_eq!(done.stop_reason(Seen::ToolCall), Some(StopReason::ToolUse));
        assert_eq!(done.stop_reason(Seen::Refusal), Some(StopReason::Refusal));
        let max = Status::parse(Some("incomplete"), Some("max_output_tokens"));
        assert_eq!(max.stop_reason(Seen::Plain), Some(StopReason::MaxTokens));
        let filtered = Status::parse(Some("incomplete"), Some("content_filter"));
        assert_eq!(filtered.stop_reason(Seen::Plain), Some(StopReason::ContentFilter));
        assert_eq!(
            Status::parse(Some("failed"), None).stop_reason(Seen::Plain),
            Some(StopReason::Error)
        );
        assert_eq!(Status::parse(None, None).stop_reason(Seen::Plain), None);
    }

    #[test]
    fn encoding() {
        let s = Status::for_stop(Some(StopReason::MaxTokens));
        assert_eq!((s.as_str(), s.terminal_event()), ("incomplete", "response.incomplete"));
        assert_eq!(s.incomplete_details()["reason"], "max_output_tokens");
        let s = Status::for_stop(Some(StopReason::ContentFilter));
        assert_eq!(s.incomplete_details()["reason"], "content_filter");
        for stop in [
            StopReason::EndTurn,
            StopReason::ToolUse,
            StopReason::StopSequence,
            StopReason::Refusal,
        ] {
            let s = Status::for_stop(Some(stop));
            assert_eq!((s.as_str(), s.terminal_event()), ("completed", "response.completed"));
            assert!(s.incomplete_details().is_null());
        }
        assert_eq!(
            Status::for_stop(Some(StopReason::Error)).terminal_event(),
            "response.failed"
        );
    }
}
