//! Directories only the gateway's user can use, and files only that user wrote.
//!
//! The plugin artifact cache holds native code the gateway loads without verification
//! (`plugin_host::artifact`), the plugin directory holds code it runs, and the runtime
//! directory holds the upgrade socket (whoever connects to it is handed the listening
//! sockets) and the pid file. So each is created `0700`; an existing one must belong to
//! the gateway's user and be closed to others, or it is refused; and a plugin or artifact
//! file is loaded only when the gateway's user owns it and nobody else may write it.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a directory or file is not private.
#[derive(Debug, thiserror::Error)]
pub enum NotPrivate {
    /// It could not be created or read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Another user owns it.
    #[error("{path} belongs to uid {owner}, not to this process's uid {me}")]
    Owner {
        /// The path.
        path: String,
        /// Its owner.
        owner: u32,
        /// The gateway's effective uid.
        me: u32,
    },
    /// Others may write it (a file) or use it (a directory).
    #[error("{path} is open to other users (mode {mode:o})")]
    Mode {
        /// The path.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
}

/// Creates `dir` (and its parents) as `0700`, or checks an existing one: owned by this
/// process's user, and closed to everyone else (a directory we own with looser bits is
/// tightened to `0700`).
pub fn ensure(dir: &Path) -> Result<(), NotPrivate> {
    let io_error = |source| NotPrivate::Io {
        path: dir.display().to_string(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error)?;
    let meta = std::fs::metadata(dir).map_err(io_error)?;
    check_owner(dir, &meta)?;
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io_error)?;
    }
    Ok(())
}

/// Whether a file may be loaded as code: owned by this process's user, and not writable
/// by group or others.
pub fn check_file(path: &Path) -> Result<(), NotPrivate> {
    let meta = std::fs::metadata(path).map_err(|source| NotPrivate::Io {
        path: path.display().to_string(),
        source,
    })?;
    check_owner(path, &meta)?;
    if meta.mode() & 0o022 != 0 {
        return Err(NotPrivate::Mode {
            path: path.display().to_string(),
            mode: meta.mode() & 0o777,
        });
    }
    Ok(())
}

fn check_owner(path: &Path, meta: &std::fs::Metadata) -> Result<(), NotPrivate> {
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(NotPrivate::Owner {
            path: path.display().to_string(),
            owner: meta.uid(),
            me,
        });
    }
    Ok(())
}

/// The default directory for the upgrade socket and the pid file: `$XDG_RUNTIME_DIR/aether`
/// when the session has one (per-user, `0700`, on tmpfs), else `data/run` under the working
/// directory, beside the usage database. Never `/tmp`, where another user could take the
/// name first.
pub fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("aether"),
        None => PathBuf::from("data/run"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_private_and_loose_ones_tightened() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("a/b");
        ensure(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        ensure(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_file_others_may_write_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let file = base.path().join("p.wasm");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        check_file(&file).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(check_file(&file), Err(NotPrivate::Mode { mode: 0o666, .. })));
        // Owned by another user: as root, hand the file to `nobody`; otherwise a root file.
        let foreign = if rustix::process::geteuid().as_raw() == 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
            file.clone()
        } else {
            PathBuf::from("/etc/passwd")
        };
        assert!(matches!(check_file(&foreign), Err(NotPrivate::Owner { .. })));
    }
}
