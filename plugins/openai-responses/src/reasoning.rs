//! Reasoning effort ↔ thinking budget (IR.md): effort to budget is minimal = 1024, low =
//! 2048, medium = 8192, high = 24576; budget to effort is up to 1024 minimal, up to 4096
//! low, up to 16384 medium, more high.
//!
//! The Responses API speaks effort only (`minimal`, `low`, `medium`, `high`, and on some
//! models `none` and `xhigh`).

/// A Responses `reasoning.effort`, as this plugin reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// `none`: no reasoning.
    Off,
    /// One of the IR's efforts.
    Level(&'static str),
}

/// Reads a client's `reasoning.effort`; `None` for an unknown value.
pub fn parse_effort(effort: &str) -> Option<Effort> {
    match effort {
        "none" => Some(Effort::Off),
        "minimal" => Some(Effort::Level("minimal")),
        "low" => Some(Effort::Level("low")),
        "medium" => Some(Effort::Level("medium")),
        "high" | "xhigh" => Some(Effort::Level("high")),
        _ => None,
    }
}

/// The effort a thinking budget implies.
pub fn effort_for_budget(budget: u32) -> &'static str {
    match budget {
        0..=1024 => "minimal",
        1025..=4096 => "low",
        4097..=16384 => "medium",
        _ => "high",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_to_efforts() {
        assert_eq!(effort_for_budget(1024), "minimal");
        assert_eq!(effort_for_budget(2048), "low");
        assert_eq!(effort_for_budget(4096), "low");
        assert_eq!(effort_for_budget(8192), "medium");
        assert_eq!(effort_for_budget(16385), "high");
    }

    #[test]
    fn efforts() {
        assert_eq!(parse_effort("none"), Some(Effort::Off));
        assert_eq!(parse_effort("xhigh"), Some(Effort::Level("high")));
        assert_eq!(parse_effort("low"), Some(Effort::Level("low")));
        assert_eq!(parse_effort("turbo"), None);
    }
}
