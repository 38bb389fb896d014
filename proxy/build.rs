//! Builds the format plugins from this workspace to `wasm32-wasip2` components and leaves
//! them in `OUT_DIR`, where `plugin_host::builtin` embeds the four built-in ones and the
//! tests find the example and the hostile test plugin. No `.wasm` is committed: like
//! wasmtime's own test-programs crate, the guests are built from source by the normal build.
//!
//! Each plugin is built by its own `cargo build` so that a plugin reusing another's code
//! (the Responses plugin uses the Chat plugin's error shape) does not get that plugin's
//! exports too: cargo unifies features across the packages of one invocation.

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

fn build(workspace: &Path, target_dir: &Path, package: &str) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--package", package])
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
        "building the {package} plugin for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );
}

fn copy_if_changed(from: &Path, to: &Path) {
    let bytes = fs::read(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    if fs::read(to).ok().as_deref() != Some(&bytes[..]) {
        fs::write(to, &bytes).unwrap_or_else(|e| panic!("writing {}: {e}", to.display()));
    }
}
