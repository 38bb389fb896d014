//! Capabilities: what a request needs from an upstream that not every provider key offers.
//! A request's set comes from its format plugin's `inspect` and the `X-Require-Capability`
//! header; a candidate's from its provider's and key's `capabilities` in the config. The
//! router keeps only candidates that have every capability a request requires.
//!
//! A set is a bit mask: checking a candidate is one AND.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::plugin_host::bindings::types::Capability as WitCapability;

/// One capability, named as in config files and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Tool definitions or tool calls.
    Tools,
    /// Image input.
    Vision,
    /// Extended thinking / reasoning.
    Thinking,
    /// A JSON schema or JSON mode for the answer.
    StructuredOutput,
    /// Anthropic's one-million-token context window (`anthropic-beta: context-1m-…`).
    #[serde(rename = "context_1m")]
    Context1m,
    /// One-hour prompt-cache writes (`cache_control.ttl: "1h"`), billed higher.
    #[serde(rename = "cache_1h")]
    Cache1h,
}

/// Every capability, in a fixed order.
pub const ALL: [Capability; 6] = [
    Capability::Tools,
    Capability::Vision,
    Capability::Thinking,
    Capability::StructuredOutput,
    Capability::Context1m,
    Capability::Cache1h,
];

impl Capability {
    /// The config and error name.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Tools => "tools",
            Capability::Vision => "vision",
            Capability::Thinking => "thinking",
            Capability::StructuredOutput => "structured_output",
            Capability::Context1m => "context_1m",
            Capability::Cache1h => "cache_1h",
        }
    }

    /// The capability a name stands for (`-` and `_` alike, any case).
    pub fn parse(name: &str) -> Option<Capability> {
        let name = name.trim().to_ascii_lowercase().replace('-', "_");
        ALL.into_iter().find(|c| c.as_str() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl From<WitCapability> for Capability {
    fn from(c: WitCapability) -> Self {
        match c {
            WitCapability::Tools => Capability::Tools,
            WitCapability::Vision => Capability::Vision,
            WitCapability::Thinking => Capability::Thinking,
            WitCapability::StructuredOutput => Capability::StructuredOutput,
            WitCapability::Context1m => Capability::Context1m,
            WitCapability::Cache1h => Capability::Cache1h,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of capabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(u8);

impl Capabilities {
    /// No capability.
    pub const NONE: Capabilities = Capabilities(0);

    /// What a provider that declares nothing offers: the common four. The ones that cost
    /// more (`context_1m`, `cache_1h`) are only ever declared.
    pub const STANDARD: Capabilities = Capabilities(
        (1 << Capability::Tools as u8)
            | (1 << Capability::Vision as u8)
            | (1 << Capability::Thinking as u8)
            | (1 << Capability::StructuredOutput as u8),
    );

    /// Capabilities that cost more; a key declaring one is kept for the requests that
    /// need it (ordered after keys without it for requests that do not).
    pub const PREMIUM: Capabilities =
        Capabilities((1 << Capability::Context1m as u8) | (1 << Capability::Cache1h as u8));

    /// Adds one.
    pub fn insert(&mut self, c: Capability) {
        self.0 |= c.bit();
    }

    /// Both sets together.
    pub fn union(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }

    /// Whether every capability of `required` is in this set.
    pub fn covers(self, required: Capabilities) -> bool {
        self.0 & required.0 == required.0
    }

    /// The capabilities of `required` missing from this set.
    pub fn missing(self, required: Capabilities) -> Capabilities {
        Capabilities(required.0 & !self.0)
    }

    /// The capabilities in both sets.
    pub fn intersection(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 & other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many capabilities are in the set.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// The capabilities, in [`ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        ALL.into_iter().filter(move |c| self.0 & c.bit() != 0)
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = Capabilities::NONE;
        for c in iter {
            set.insert(c);
        }
        set
    }
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Capability::as_str).collect();
        f.write_str(&names.join(", "))
    }
}

/// The capabilities named in `X-Require-Capability` values (comma-separated, repeatable),
/// or the first unknown name.
pub fn from_header<'a>(values: impl Iterator<Item = &'a str>) -> Result<Capabilities, String> {
    let mut set = Capabilities::NONE;
    for name in values
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        set.insert(Capability::parse(name).ok_or_else(|| name.to_owned())?);
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets() {
        let need: Capabilities = [Capability::Vision, Capability::Context1m].into_iter().collect();
        assert!(!Capabilities::STANDARD.covers(need));
        assert_eq!(Capabilities::STANDARD.missing(need).to_string(), "context_1m");
        assert!(Capabilities::STANDARD.union(Capabilities::PREMIUM).covers(need));
        assert_eq!(
            from_header(["tools, context-1m", "CACHE_1H"].into_iter())
                .unwrap()
                .to_string(),
            "tools, context_1m, cache_1h"
        );
        assert_eq!(from_header(["telepathy"].into_iter()).unwrap_err(), "telepathy");
    }
}
