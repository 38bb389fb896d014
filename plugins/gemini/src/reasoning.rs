//! Reasoning effort ↔ thinking budget (the IR's tables), and Gemini 3's `thinkingLevel`.

/// The thinking budget for an effort: minimal 1024, low 2048, medium 8192, high 24576.
pub fn budget_for_effort(effort: &str) -> Option<u32> {
    match effort {
        "minimal" => Some(1024),
        "low" => Some(2048),
        "medium" => Some(8192),
        "high" => Some(24576),
        _ => None,
    }
}

/// The IR effort for a Gemini `thinkingLevel` (`minimal`, `low`, `medium`, `high`, any case).
pub fn effort_for_level(level: &str) -> Option<&'static str> {
    match level.to_ascii_lowercase().as_str() {
        "minimal" => Some("minimal"),
        "low" => Some("low"),
        "medium" => Some("medium"),
        "high" => Some("high"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        assert_eq!(budget_for_effort("minimal"), Some(1024));
        assert_eq!(budget_for_effort("low"), Some(2048));
        assert_eq!(budget_for_effort("medium"), Some(8192));
        assert_eq!(budget_for_effort("high"), Some(24576));
        assert_eq!(budget_for_effort("none"), None);
        assert_eq!(effort_for_level("HIGH"), Some("high"));
        assert_eq!(effort_for_level("x"), None);
    }
}
