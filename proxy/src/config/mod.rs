//! Configuration: the file model ([`file`]), one pass that validates and compiles it into
//! the runtime form the request path reads ([`compile`], with the sections that have no
//! runtime form checked in [`sections`] and every problem collected in [`diagnostic`]),
//! telemetry's inputs ([`telemetry`]) and hot reload ([`reload`]).
//!
//! Loading is always parse → validate-and-compile → swap; a reload swaps the compiled form
//! in atomically, so a request keeps the generation it started with.

pub mod compile;
pub mod diagnostic;
pub mod file;
pub mod limits;
pub mod reload;
pub mod secret;
pub mod sections;
pub mod telemetry;
pub mod upstream_url;

use std::path::Path;

use thiserror::Error;

pub use compile::RuntimeConfig;
pub use diagnostic::{Diagnostic, Severity, Verdict, WarningPolicy};
pub use file::ConfigFile;

use crate::circuit::CircuitRegistry;

/// Why a config could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not valid TOML, or a field of the wrong type or unknown: where and what, never the
    /// text of the line (it may hold a literal key, and this message reaches the log and
    /// `POST /admin/reload`'s answer). So the TOML error is not kept as a source: its
    /// `Display` quotes the line.
    #[error("{}line {line}, column {column}: {message}", at(.path))]
    Parse {
        /// The field's dotted path, when the error is in a value (`providers[0].weight`).
        path: Option<String>,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, with quoted values blanked.
        message: String,
    },
    /// The config pass found errors; each is listed (warnings too, for context).
    #[error("invalid config:\n{}", list(.0))]
    Invalid(Vec<Diagnostic>),
}

fn at(path: &Option<String>) -> String {
    path.as_ref().map(|p| format!("{p}: ")).unwrap_or_default()
}

fn list(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("  {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A loaded config: the file as parsed, its compiled form and the warnings it raised.
#[derive(Debug)]
pub struct Loaded {
    /// The file.
    pub file: ConfigFile,
    /// The runtime form.
    pub runtime: RuntimeConfig,
    /// Problems that disabled part of the config without making it unusable.
    pub warnings: Vec<Diagnostic>,
}

/// Reads and parses a config file.
pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text)
}

/// Parses config text, with each field's path in the error.
pub fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
    let parse_error = |path: Option<String>, e: &toml::de::Error| {
        let (line, column) = e.span().map_or((0, 0), |span| line_and_column(text, span.start));
        ConfigError::Parse {
            path,
            line,
            column,
            message: blank_quoted(e.message()),
        }
    };
    let de = toml::Deserializer::parse(text).map_err(|e| parse_error(None, &e))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        parse_error((path != ".").then_some(path), e.inner())
    })
}

/// The 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (line, offset.min(text.len()) - line_start + 1)
}

/// A serde message with every double-quoted value blanked (`invalid type: string
/// "sk-live-…", expected u32` names the value it rejected).
fn blank_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// Validates and compiles a parsed file, in one pass.
pub fn build(file: ConfigFile, registry: &CircuitRegistry) -> Result<Loaded, ConfigError> {
    let compiled = RuntimeConfig::compile(&file, registry)
        .map_err(|all| ConfigError::Invalid(all.into_iter().filter(|d| d.severity == Severity::Error).collect()))?;
    Ok(Loaded {
        file,
        runtime: compiled.runtime,
        warnings: compiled.warnings,
    })
}

/// Reads, validates and compiles.
pub fn load(path: &Path, registry: &CircuitRegistry) -> Result<Loaded, ConfigError> {
    build(read(path)?, registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_error_names_the_place_and_never_quotes_the_line() {
        let text = "[[providers]]\nname = \"p\"\nformat = \"claude\"\nbase_url = \"http://x\"\nkeys = [{ name = \"k\", api_key = \"sk-live-CANARY\", weight = \"sk-live-CANARY\" }]\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(!e.contains("CANARY"), "{e}");
        assert!(e.starts_with("providers[0].keys[0].weight: line 5, column"), "{e}");
        let e = parse("[server]\nlisten = sk-live-CANARY\n").unwrap_err().to_string();
        assert!(!e.contains("CANARY"), "{e}");
        assert!(e.starts_with("line 2, column 10: "), "{e}");
        let e = parse("[server]\nlisen = \"x\"\n").unwrap_err().to_string();
        assert!(
            e.contains("lisen") && e.contains("line 2"),
            "unknown fields are named: {e}"
        );
    }
}
