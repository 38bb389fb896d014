//! Compiling components, once per content: an in-memory cache keyed by the SHA-256 of the
//! component's bytes, and optionally a directory of precompiled artifacts keyed by that hash
//! and the engine's compatibility hash, so a restart loads native code (about 0.3 ms)
//! instead of compiling again (about 50 ms per plugin).
//!
//! This is the plugin host's only file with `unsafe`: loading a precompiled artifact runs
//! native code that wasmtime cannot verify. Aether only loads artifacts it wrote itself into
//! its own cache directory, under a name that binds the source hash and the engine build.
//! The directory is created `0700` (an existing one must belong to the gateway's user and is
//! tightened to `0700`), and an artifact is loaded only when that user owns it and nobody
//! else can write it ([`crate::private_dir`]); otherwise the plugin is compiled again.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::PluginLoadError;

/// A component's content hash, hex.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn memory_cache() -> &'static Mutex<HashMap<String, Component>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Component>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Where a compile came from, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Already compiled in this process.
    Memory,
    /// Loaded from the artifact directory.
    Disk,
    /// Compiled now.
    Compiled,
}

/// The compiled component for `bytes` (whose hash is `hash`).
pub fn compile(
    engine: &Engine,
    bytes: &[u8],
    hash: &str,
    cache_dir: Option<&Path>,
) -> Result<(Component, Origin), PluginLoadError> {
    if let Some(found) = memory_cache().lock().ok().and_then(|c| c.get(hash).cloned()) {
        return Ok((found, Origin::Memory));
    }
    let disk_path = cache_dir.map(|dir| dir.join(format!("{hash}-{:016x}.cwasm", engine_fingerprint(engine))));
    let from_disk = disk_path.as_deref().filter(|p| is_private_artifact(p)).and_then(|p| {
        // SAFETY: see the module docs: the file is one this process (or an earlier run of the
        // same build) wrote from a component whose hash is in its name.
        unsafe { Component::deserialize_file(engine, p) }.ok()
    });
    let (component, origin) = match from_disk {
        Some(c) => (c, Origin::Disk),
        None => (compile_compact(engine, bytes, disk_path.as_deref())?, Origin::Compiled),
    };
    if let Ok(mut cache) = memory_cache().lock() {
        cache.insert(hash.to_owned(), component.clone());
    }
    Ok((component, origin))
}

/// Compiles `bytes` on a throwaway engine ([`super::engine::compiler`]) and loads the
/// artifact into `engine`, so the compiler's working memory leaves with the throwaway engine
/// (measured: the four built-in plugins compiled on the process's own engine left it at
/// 91 MB of RSS at idle, against 41 MB when they are loaded from artifacts). Should the
/// artifact not load (an engine setting that differs between the two), the component is
/// compiled on `engine` itself.
fn compile_compact(engine: &Engine, bytes: &[u8], disk_path: Option<&Path>) -> Result<Component, PluginLoadError> {
    let artifact = compile_apart(bytes).map_err(|e| classify(&e))?;
    // SAFETY: see the module docs: these are the bytes this process serialised a moment ago
    // from the component it compiled.
    match unsafe { Component::deserialize(engine, &artifact) } {
        Ok(component) => {
            if let Some(path) = disk_path {
                store_artifact(&artifact, path);
            }
            Ok(component)
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "a plugin compiled apart did not load; compiling it in place");
            let component = Component::new(engine, bytes).map_err(|e| classify(&e))?;
            if let (Some(path), Ok(artifact)) = (disk_path, component.serialize()) {
                store_artifact(&artifact, path);
            }
            Ok(component)
        }
    }
}

/// The artifact of `bytes` compiled on a throwaway engine.
fn compile_apart(bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
    let compiler = super::engine::compiler()?;
    Component::new(&compiler, bytes)?.serialize()
}

fn classify(e: &wasmtime::Error) -> PluginLoadError {
    let text = format!("{e:#}");
    PluginLoadError::NotAComponent(text)
}

/// Writes an artifact atomically (temp file, then rename); a failure only costs a compile
/// at the next start, so it is logged, not returned.
fn store_artifact(artifact: &[u8], path: &Path) {
    let result = (|| {
        if let Some(dir) = path.parent() {
            crate::private_dir::ensure(dir).map_err(std::io::Error::other)?;
        }
        // Unique per writer: gateways in one process (the tests) may store the same artifact
        // at once.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp: PathBuf = path.with_extension(format!("tmp{}-{n}", std::process::id()));
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(artifact)?;
        }
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "could not cache a compiled plugin");
    }
}

/// Whether an artifact may be loaded: a file in a private directory, owned by this user and
/// writable by nobody else. Anything else is compiled again (and the artifact rewritten).
fn is_private_artifact(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    let private = path.parent().is_some_and(|dir| crate::private_dir::ensure(dir).is_ok())
        && crate::private_dir::check_file(path).is_ok();
    if !private {
        tracing::warn!(path = %path.display(), "a cached plugin artifact is not private to the gateway's user; compiling instead");
    }
    private
}

/// The engine's compatibility hash as a number for file names.
fn engine_fingerprint(engine: &Engine) -> u64 {
    static FINGERPRINT: OnceLock<u64> = OnceLock::new();
    *FINGERPRINT.get_or_init(|| {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        h.finish()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_lower_case_sha256_hex() {
        assert_eq!(
            content_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn compiled_plugins_are_cached_on_disk_and_loaded_back() {
        let engine = &super::super::engine::runtime().unwrap().engine;
        let bytes = std::fs::read(super::super::builtin::test_artifacts::HOSTILE).unwrap();
        // A hash no other test uses, so the in-memory cache starts without it.
        let hash = format!("{}-disk-test", content_hash(&bytes));
        let dir = tempfile::tempdir().unwrap();
        let (_, origin) = compile(engine, &bytes, &hash, Some(dir.path())).unwrap();
        assert_eq!(origin, Origin::Compiled);
        let written: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(written.len(), 1, "one artifact, no temp file left");
        assert_eq!(
            compile(engine, &bytes, &hash, Some(dir.path())).unwrap().1,
            Origin::Memory
        );
        memory_cache().lock().unwrap().remove(&hash);
        assert_eq!(
            compile(engine, &bytes, &hash, Some(dir.path())).unwrap().1,
            Origin::Disk
        );
        let apart = compile_apart(&bytes).unwrap();
        assert!(
            unsafe { Component::deserialize(engine, &apart) }.is_ok(),
            "what the compile-only engine builds loads into the running engine"
        );
        assert!(matches!(
            compile(engine, b"garbage", "garbage", None),
            Err(PluginLoadError::NotAComponent(_))
        ));
    }
}
