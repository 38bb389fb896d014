//! Builds the format plugins from this workspace to `wasm32-wasip2` components and leaves
//! them in `OUT_DIR`, where `plugin_host::builtin` embeds the four built-in ones and the
//! tests find the example and the hostile test plugin. No `.wasm` is committed: like
//! wasmtime's own test-programs crate, the guests are built from source by the normal build.
//!
//! Each plugin is built by its own `cargo build` so that a plugin reusing another's code
//! (the Responses plugin uses the Chat plugin's error shape) does not get that plugin's
//! exports too: cargo unifies features across the packages of one invocation.
//!
//! rustup installs the targets a `rust-toolchain.toml` names only when it installs the
//! toolchain itself; on a machine where the pinned toolchain is already there, the
//! `wasm32-wasip2` standard library may be missing. So the script looks for it in the
//! sysroot of the compiler cargo is using and, when it is missing, adds it through rustup
//! and says so (a cargo warning). Without rustup it stops with the one thing to install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

/// (package, file name in OUT_DIR).
const PLUGINS: &[(&str, &str)] = &[
    ("aether-plugin-claude", "claude.wasm"),
    ("aether-plugin-openai-chat", "openai-chat.wasm"),
    ("aether-plugin-openai-responses", "openai-responses.wasm"),
    ("aether-plugin-gemini", "gemini.wasm"),
    ("aether-example-model-namespace", "example-model-namespace.wasm"),
    ("aether-test-hostile-plugin", "test-hostile.wasm"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("the proxy crate is inside the workspace");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for watched in ["plugin-sdk", "plugins", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }
    ensure_wasm_target(workspace);
    // A stable directory beside the outer build's own (OUT_DIR is <target>/<profile>/build/<pkg>/out),
    // shared by debug, release and clippy builds, so the guests are compiled once.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map_or_else(|| out_dir.join("wasm-plugins"), |t| t.join("wasm-plugins"));
    for (package, file) in PLUGINS {
        build(workspace, &target_dir, package);
        let artifact = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", package.replace('-', "_")));
        copy_if_changed(&artifact, &out_dir.join(file));
    }
}

/// The guests' target.
const WASM_TARGET: &str = "wasm32-wasip2";

/// Makes sure the compiler cargo runs has the `wasm32-wasip2` standard library, adding it
/// through rustup when it is missing.
fn ensure_wasm_target(workspace: &Path) {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if libdir.as_deref().is_some_and(has_std) {
        return;
    }
    let mut rustup = Command::new("rustup");
    rustup.current_dir(workspace).args(["target", "add", WASM_TARGET]);
    // The toolchain this build runs on (rustup's proxy sets it); without it, rustup picks
    // the one rust-toolchain.toml pins, which is the same.
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        rustup.arg("--toolchain").arg(toolchain);
    }
    match rustup.status() {
        Ok(status) if status.success() => println!(
            "cargo:warning=installed the {WASM_TARGET} target with `rustup target add {WASM_TARGET}`: \
             the built-in format plugins are WebAssembly components built for it"
        ),
        Ok(status) => panic!(
            "the {WASM_TARGET} target is not installed and `rustup target add {WASM_TARGET}` failed ({status}); \
             the built-in format plugins are built for it: run that command and build again"
        ),
        Err(e) => panic!(
            "the {WASM_TARGET} target is not installed for {} and rustup could not be run ({e}); \
             install the {WASM_TARGET} standard library for this compiler (with rustup: \
             `rustup target add {WASM_TARGET}`) and build again",
            rustc.to_string_lossy()
        ),
    }
}

/// Whether a target library directory holds a standard library.
fn has_std(libdir: &Path) -> bool {
    fs::read_dir(libdir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
    })
}

fn build(workspace: &Path, target_dir: &Path, package: &str) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--release", "--target", WASM_TARGET, "--package", package])
        .arg("--target-dir")
        .arg(target_dir)
        // Fast guests: whole-program optimisation, no debug info (function names are kept
        // for trap backtraces), Wasm SIMD (which memchr, and so JSON scanning, uses), and
        // aggressive inlining. A call between Wasm functions costs more than a native call
        // (Cranelift does not inline across them, and each function entry checks the epoch
        // deadline), and serde's visitors are many small functions: inlining took `inspect`
        // on 100 KB from 1.60x to 1.28x the native time (BENCHMARKS.md).
        .args([
            "--config",
            "profile.release.debug=false",
            "--config",
            "profile.release.lto=true",
            "--config",
            "profile.release.codegen-units=1",
        ])
        .env(
            "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
            "-Ctarget-feature=+simd128 -Cllvm-args=-inline-threshold=2000",
        );
    // The outer build's settings are for the host target, not the guest.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("cargo can be run from a build script");
    assert!(
        status.success(),
        "building the {package} plugin for {WASM_TARGET} failed (cargo's output above says why)"
    );
}

fn copy_if_changed(from: &Path, to: &Path) {
    let bytes = fs::read(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    if fs::read(to).ok().as_deref() != Some(&bytes[..]) {
        fs::write(to, &bytes).unwrap_or_else(|e| panic!("writing {}: {e}", to.display()));
    }
}
