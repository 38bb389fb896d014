//! What a config pass found: every problem with the path of its field
//! (`providers[2].keys[0]: env var OPENAI_API_KEY is not set`), errors and warnings alike,
//! collected in one [`Diagnostics`] as the config is compiled, never just the first.

use std::fmt;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The config cannot be used.
    Error,
    /// The config works, with the named part disabled (e.g. a key whose env var is unset).
    Warning,
}

/// One problem found in a config, with the path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Dotted path, e.g. `providers[1].keys[0].api_key`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The problems found so far.
#[derive(Debug, Default)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// An error: the config cannot be used.
    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(path, message, Severity::Error);
    }

    /// A warning: the named part is disabled, the rest works.
    pub fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(path, message, Severity::Warning);
    }

    fn push(&mut self, path: impl Into<String>, message: impl Into<String>, severity: Severity) {
        self.0.push(Diagnostic {
            path: path.into(),
            message: message.into(),
            severity,
        });
    }

    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// Every problem, in the order found.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }
}
