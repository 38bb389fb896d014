//! Secrets in config: an `env:NAME` reference or a literal, and a holder that never prints.

use std::fmt;

/// How a secret is written in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretRef<'a> {
    /// `env:NAME`: read from the environment when the config loads.
    Env(&'a str),
    /// The secret itself (allowed for provider keys in local setups; never shipped).
    Literal(&'a str),
}

impl<'a> SecretRef<'a> {
    /// Reads the config string.
    pub fn parse(raw: &'a str) -> Self {
        match raw.strip_prefix("env:") {
            Some(var) => SecretRef::Env(var),
            None => SecretRef::Literal(raw),
        }
    }

    /// The secret's value, or `None` when its env var is unset or empty.
    pub fn resolve(self) -> Option<Secret> {
        match self {
            SecretRef::Env(var) => std::env::var(var).ok().filter(|v| !v.is_empty()).map(Secret),
            SecretRef::Literal(v) => Some(Secret(v.to_owned())),
        }
    }
}

/// A secret value. `Debug` and `Display` print `***`, so it cannot leak through logs,
/// errors or the admin API by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that needs it: the upstream auth header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = SecretRef::parse("sk-live-123").resolve().unwrap();
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "sk-live-123");
        assert_eq!(SecretRef::parse("env:X"), SecretRef::Env("X"));
    }
}
