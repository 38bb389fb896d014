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
    /// Not valid TOML, or fields of the wrong type or unknown.
    #[error("{0}")]
    Parse(#[from] toml::de::Error),
    /// The config pass found errors; each is listed (warnings too, for context).
    #[error("invalid config:\n{}", list(.0))]
    Invalid(Vec<Diagnostic>),
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
    Ok(toml::from_str(&text)?)
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
