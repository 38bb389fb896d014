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

/// What `aether check` makes of warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningPolicy {
    /// Warnings are reported and the config passes: it loads, with the named parts
    /// disabled (the default, as `nginx -t`; a pipeline without the secrets can gate on it).
    Tolerate,
    /// Warnings fail the check too (`aether check --strict`).
    Fail,
}

/// The outcome of checking a config, which decides `aether check`'s exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No problem at all.
    Clean,
    /// Warnings only, tolerated: the config is usable.
    Usable {
        /// How many warnings.
        warnings: usize,
    },
    /// Errors, or warnings under [`WarningPolicy::Fail`].
    Fails {
        /// How many errors.
        errors: usize,
        /// How many warnings.
        warnings: usize,
    },
}

impl Verdict {
    /// The verdict on `diagnostics` under `policy`.
    pub fn of(diagnostics: &[Diagnostic], policy: WarningPolicy) -> Verdict {
        let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
        let warnings = diagnostics.len() - errors;
        match (errors, warnings, policy) {
            (0, 0, _) => Verdict::Clean,
            (0, warnings, WarningPolicy::Tolerate) => Verdict::Usable { warnings },
            (errors, warnings, _) => Verdict::Fails { errors, warnings },
        }
    }

    /// Whether the check passes (exit status 0).
    pub fn passes(self) -> bool {
        !matches!(self, Verdict::Fails { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostic(severity: Severity) -> Diagnostic {
        Diagnostic {
            path: "p".into(),
            message: "m".into(),
            severity,
        }
    }

    #[test]
    fn warnings_pass_a_check_unless_strict_and_errors_never_do() {
        use Severity::{Error, Warning};
        use WarningPolicy::{Fail, Tolerate};
        let warnings = [diagnostic(Warning), diagnostic(Warning)];
        let mixed = [diagnostic(Warning), diagnostic(Error)];
        assert_eq!(Verdict::of(&[], Tolerate), Verdict::Clean);
        assert_eq!(Verdict::of(&[], Fail), Verdict::Clean);
        assert_eq!(Verdict::of(&warnings, Tolerate), Verdict::Usable { warnings: 2 });
        assert_eq!(Verdict::of(&warnings, Fail), Verdict::Fails { errors: 0, warnings: 2 });
        assert_eq!(Verdict::of(&mixed, Tolerate), Verdict::Fails { errors: 1, warnings: 1 });
        assert!(Verdict::Clean.passes() && Verdict::Usable { warnings: 2 }.passes());
        assert!(!Verdict::of(&mixed, Tolerate).passes() && !Verdict::of(&warnings, Fail).passes());
    }
}
