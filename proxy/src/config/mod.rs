//! Configuration: the file model ([`file`]), its checks ([`validate`]), the runtime form
//! the request path reads ([`compile`]) and hot reload ([`reload`]).
//!
//! Loading is always parse → validate → compile; a reload swaps the compiled form in
//! atomically, so a request keeps the generation it started with.

pub mod compile;
pub mod file;
pub mod reload;
pub mod secret;
pub mod upstream_url;
pub mod validate;

use std::path::Path;

use thiserror::Error;

pub use compile::RuntimeConfig;
pub use file::ConfigFile;
pub use validate::{Diagnostic, Severity, Verdict, WarningPolicy};

use crate::circuit::CircuitRegistry;

/// Why a config could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
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
    /// Validation found errors; each is listed.
    #[error("invalid config:\n{}", list(.0))]
    Invalid(Vec<Diagnostic>),
    /// Compilation failed.
    #[error(transparent)]
    Compile(#[from] compile::CompileError),
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
pub fn read(path: &Path) -> Result<ConfigFile, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    Ok(toml::from_str(&text)?)
}

/// Validates and compiles a parsed file.
pub fn build(file: ConfigFile, registry: &CircuitRegistry) -> Result<Loaded, LoadError> {
    let (errors, warnings): (Vec<_>, Vec<_>) = validate::validate(&file)
        .into_iter()
        .partition(|d| d.severity == Severity::Error);
    if !errors.is_empty() {
        return Err(LoadError::Invalid(errors));
    }
    let runtime = RuntimeConfig::compile(&file, registry)?;
    Ok(Loaded {
        file,
        runtime,
        warnings,
    })
}

/// Reads, validates and compiles.
pub fn load(path: &Path, registry: &CircuitRegistry) -> Result<Loaded, LoadError> {
    build(read(path)?, registry)
}
