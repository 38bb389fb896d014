//! The `aether` binary's life cycle: `check` (and its exit status), start-up with missing provider keys, SIGTERM
//! draining open streams, and graceful upgrade handing the listener to a new process.
//! These run the real binary (signals and socket hand-over cannot be tested in-process),
//! against the in-process mock upstream, on free ports.

#![allow(clippy::unwrap_used)] // helpers below are test code

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aether_mock::MockConfig;
use bytes::Bytes;
use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_aether");

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

fn serve_config(dir: &TempDir, listen: SocketAddr, upstream: SocketAddr, grace: u64) -> std::path::PathBuf {
    let path = dir.0.join("aether.toml");
    let text = format!(
        "[server]\nlisten = \"{listen}\"\nthreads = 1\ngrace_period_secs = {grace}\nupgrade_sock = \"{}/upgrade.sock\"\npid_file = \"{}/aether.pid\"\n\n{}{}",
        dir.0.display(),
        dir.0.display(),
        config_head(),
        provider("p", "openai-chat", upstream, 0, &[("m", "m")], "")
    );
    let text = with_test_telemetry(&text, dir);
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(args: &[&str]) -> Proc {
    Proc(
        Command::new(BIN)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "{addr} never came up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_exit(p: &mut Proc, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = p.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "process did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn check_lists_every_problem_with_its_path() {
    let dir = TempDir::new();
    let path = dir.0.join("bad.toml");
    std::fs::write(
        &path,
        "[admin]\nlisten = \"0.0.0.0:1\"\n[[providers]]\nname = \"a\"\nformat = \"claude\"\nbase_url = \"http://127.0.0.1:1\"\nmodels = { m = \"m\" }\nkeys = [{ name = \"k\", api_key = \"env:AETHER_LIFECYCLE_UNSET\" }]\n[[providers]]\nname = \"b\"\nformat = \"gemini\"\nbase_url = \"nope\"\nmodels = { m = \"m\" }\nkeys = [{ name = \"k\", api_key = \"x\" }]\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&path)
        .env_remove("AETHER_LIFECYCLE_UNSET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("providers[0].keys[0]: env var AETHER_LIFECYCLE_UNSET is not set"),
        "{stderr}"
    );
    assert!(stderr.contains("providers[1].base_url:"), "{stderr}");
    assert!(stderr.contains("admin.listen:"), "{stderr}");

    for example in ["local-mock", "shared-limits-a", "shared-limits-b"] {
        let out = Command::new(BIN)
            .args(["check", "--config", &format!("../conf/examples/{example}.toml")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Limits are checked like the rest: every problem, with its path.
    let limits = dir.0.join("limits.toml");
    std::fs::write(
        &limits,
        format!(
            "[redis]\nurl = \"rediss://h:1\"\nlease_secs = 1\n[[client_keys]]\nname = \"c\"\nkey_sha256 = \"{}\"\n[client_keys.limits]\nrequests_per_minute = 0\nbudget_usd = {{ daily = -5.0 }}\n[[providers]]\nname = \"p\"\nformat = \"claude\"\nbase_url = \"http://127.0.0.1:1\"\nmodels = {{ m = \"m\" }}\nkeys = [{{ name = \"k\", api_key = \"x\", limits = {{ adaptive_min = 2 }} }}]\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check", "--config", limits.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for path in [
        "redis.url:",
        "redis.lease_secs:",
        "client_keys[0].limits.requests_per_minute:",
        "client_keys[0].limits.budget_usd.daily:",
        "providers[0].keys[0].limits.adaptive_min:",
    ] {
        assert!(stderr.contains(path), "{path} missing from: {stderr}");
    }
}

/// `aether check` as a deployment pipeline without the secrets runs it.
fn check_with_no_secrets(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("check")
        .args(args)
        .env_remove("AETHER_CLIENT_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("GEMINI_API_KEY")
        .output()
        .unwrap()
}

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../conf/aether.toml");

#[test]
fn check_passes_the_shipped_config_with_warnings_when_no_key_is_set() {
    let out = check_with_no_secrets(&["--config", SHIPPED]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "warnings only pass: {stdout}{stderr}");
    assert!(
        stderr.contains("warning: providers[0].keys[0]: env var ANTHROPIC_API_KEY is not set"),
        "{stderr}"
    );
    assert!(!stderr.contains("error:"), "{stderr}");
    // The client key and the four provider keys.
    assert!(stdout.trim_end().ends_with(": ok (5 warnings)"), "{stdout}");
}

#[test]
fn check_strict_fails_on_warnings() {
    let out = check_with_no_secrets(&["--strict", "--config", SHIPPED]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("failed: 0 errors, 5 warnings (--strict: warnings fail)"),
        "{stderr}"
    );
}

#[test]
fn check_fails_on_errors_strict_or_not_and_passes_a_clean_config() {
    let dir = TempDir::new();
    let bad = dir.0.join("bad.toml");
    std::fs::write(&bad, "[server]\nlisten = \"not an address\"\n").unwrap();
    for args in [&["--config"][..], &["--strict", "--config"][..]] {
        let mut args = args.to_vec();
        args.push(bad.to_str().unwrap());
        let out = check_with_no_secrets(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("error: server.listen:"), "{stderr}");
        assert!(stderr.contains("failed: 1 error, 0 warnings"), "{stderr}");
    }
    let unreadable = dir.0.join("missing.toml");
    assert_eq!(
        check_with_no_secrets(&["--config", unreadable.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );

    let clean = concat!(env!("CARGO_MANIFEST_DIR"), "/../conf/examples/local-mock.toml");
    let out = check_with_no_secrets(&["--strict", "--config", clean]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.trim_end().ends_with("local-mock.toml: ok"), "{stdout}");
}

#[test]
fn plugins_lists_versions_hashes_and_refusals() {
    use aether::plugin_host::builtin::test_artifacts;
    let dir = TempDir::new();
    let plugins = dir.0.join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(test_artifacts::EXAMPLE_MODEL_NAMESPACE, plugins.join("namespace.wasm")).unwrap();
    std::fs::write(plugins.join("broken.wasm"), b"not wasm").unwrap();
    let path = dir.0.join("aether.toml");
    std::fs::write(&path, format!("[plugins]\ndir = \"{}\"\n", plugins.display())).unwrap();
    let out = Command::new(BIN)
        .args(["plugins", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a refused file fails the command: {stdout}");
    let claude = stdout.lines().find(|l| l.starts_with("claude")).unwrap();
    assert!(
        claude.contains("1.0.0") && claude.contains("namespace.wasm"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("gemini") && l.contains("built-in")),
        "{stdout}"
    );
    assert!(
        stdout.contains("refused:") && stdout.contains("broken.wasm"),
        "{stdout}"
    );

    std::fs::remove_file(plugins.join("broken.wasm")).unwrap();
    let out = Command::new(BIN)
        .args(["plugins", "--json", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listing["active"][0]["version"], "1.0.0");
    assert_eq!(listing["active"][0]["hash"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn shipped_default_config_starts_with_unset_provider_keys() {
    let dir = TempDir::new();
    let listen = free_addr();
    let admin = free_addr();
    let shipped = std::fs::read_to_string("../conf/aether.toml").unwrap();
    let text = shipped
        .replace("127.0.0.1:8080", &listen.to_string())
        .replace("127.0.0.1:9090", &admin.to_string())
        .replace("/tmp/aether_upgrade.sock", &format!("{}/u.sock", dir.0.display()))
        .replace("/tmp/aether.pid", &format!("{}/p.pid", dir.0.display()))
        .replace("grace_period_secs = 30", "grace_period_secs = 1");
    let text = with_test_telemetry(&text, &dir);
    let path = dir.0.join("aether.toml");
    std::fs::write(&path, text).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&path)
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("GEMINI_API_KEY")
        .env_remove("AETHER_CLIENT_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stderr.take().unwrap();
    let mut p = Proc(child);
    wait_listening(admin).await;
    let ready = Client::new(admin).request("GET", "/readyz", &[], "").await;
    assert_eq!(ready.status, 503, "no provider has a key: not ready, but running");
    signal(&p.0, "TERM");
    wait_exit(&mut p, Duration::from_secs(20)).await;
    let log = std::io::read_to_string(stdout).unwrap();
    for var in ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"] {
        assert!(log.contains(&format!("env var {var} is not set")), "{log}");
    }
    assert_eq!(
        log.matches("env var ANTHROPIC_API_KEY is not set").count(),
        1,
        "one warning each: {log}"
    );
    // Nothing can be served: the log says why and points at the demo.
    assert!(
        log.contains("this config can serve no request (no usable client key; no provider with a usable key)"),
        "{log}"
    );
    assert!(log.contains("aether serve --demo"), "{log}");
}

#[tokio::test]
async fn sigterm_lets_open_streams_finish() {
    let upstream = mock(MockConfig {
        chunks: 40,
        interval: Duration::from_millis(25),
        ..MockConfig::default()
    })
    .await;
    let dir = TempDir::new();
    let listen = free_addr();
    let path = serve_config(&dir, listen, upstream.addr(), 3);
    let mut p = spawn(&["serve", "--config", path.to_str().unwrap()]);
    wait_listening(listen).await;

    let client = Client::new(listen);
    let (req_path, body) = request_for("openai-chat", "m", true);
    let auth = format!("Bearer {DEMO_KEY}");
    let mut session = client
        .open(
            "POST",
            &req_path,
            &[("authorization", &auth)],
            Bytes::from(serde_json::to_vec(&body).unwrap()),
        )
        .await;
    let mut received = session.read_response_body().await.unwrap().unwrap().to_vec();
    signal(&p.0, "TERM");
    while let Some(chunk) = session.read_response_body().await.unwrap() {
        received.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.trim_end().ends_with("data: [DONE]"),
        "stream finished cleanly: {text}"
    );
    let status = wait_exit(&mut p, Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}");

    // The shutdown flushed the stream's usage record: `aether usage` reads it back.
    let out = Command::new(BIN)
        .args(["usage", "--since", "1h", "--json", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let usage: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(usage["total"]["requests"], 1, "{usage}");
    assert_eq!(usage["total"]["failed"], 0, "{usage}");
    let migrate = Command::new(BIN)
        .args(["migrate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
}

#[tokio::test]
async fn graceful_upgrade_hands_over_the_listener() {
    let upstream = mock(MockConfig::default()).await;
    let dir = TempDir::new();
    let listen = free_addr();
    let path = serve_config(&dir, listen, upstream.addr(), 1);
    let config = path.to_str().unwrap();
    let mut old = spawn(&["serve", "--config", config]);
    wait_listening(listen).await;
    let client = Client::new(listen);
    assert_eq!(call(&client, "openai-chat", "m", false, &[]).await.status, 200);

    let _new = spawn(&["serve", "--upgrade", "--config", config]);
    // The new process waits on the upgrade socket; hand over once it exists.
    let sock = dir.0.join("upgrade.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "new process never opened the upgrade socket");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(&old.0, "QUIT");
    wait_exit(&mut old, Duration::from_secs(15)).await;
    // The old process is gone; the same listening socket is served by the new one.
    for _ in 0..5 {
        let fresh = Client::new(listen);
        assert_eq!(call(&fresh, "openai-chat", "m", false, &[]).await.status, 200);
    }
}

/// A gateway process with a TLS listener (a fresh self-signed certificate) and these extra
/// `[server]` lines; returns it with the TLS address.
async fn spawn_tls(dir: &TempDir, upstream: SocketAddr, server_lines: &str) -> (Proc, SocketAddr) {
    let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl is needed to make a test certificate");
    assert!(made.success());
    let (listen, tls) = (free_addr(), free_addr());
    let path = serve_config(dir, listen, upstream, 1);
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "[server]\n",
        &format!(
            "[server]\ntls = {{ listen = \"{tls}\", cert = \"{}\", key = \"{}\" }}\n{server_lines}",
            cert.display(),
            key.display()
        ),
        1,
    );
    std::fs::write(&path, text).unwrap();
    let p = spawn(&["serve", "--config", path.to_str().unwrap()]);
    wait_listening(tls).await;
    (p, tls)
}

#[tokio::test]
async fn tls_listener_serves_clients() {
    let dir = TempDir::new();
    let upstream = mock(MockConfig::default()).await;
    let (_p, tls) = spawn_tls(&dir, upstream.addr(), "").await;
    let client = Client::tls_insecure(tls);
    for stream in [false, true] {
        let resp = call(&client, "openai-chat", "m", stream, &[]).await;
        assert_eq!(resp.status, 200, "{}", resp.text());
    }
}

#[tokio::test]
async fn sigterm_on_an_idle_gateway_exits_at_once() {
    let upstream = mock(MockConfig::default()).await;
    let dir = TempDir::new();
    let listen = free_addr();
    // A grace period far longer than the test allows: only an early exit passes.
    let path = serve_config(&dir, listen, upstream.addr(), 60);
    let mut p = spawn(&["serve", "--config", path.to_str().unwrap()]);
    wait_listening(listen).await;
    let client = Client::new(listen);
    assert_eq!(call(&client, "openai-chat", "m", false, &[]).await.status, 200);
    let started = Instant::now();
    signal(&p.0, "TERM");
    let status = wait_exit(&mut p, Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_tls_handshake_that_never_comes_is_cut_at_its_deadline() {
    let dir = TempDir::new();
    let upstream = mock(MockConfig::default()).await;
    let (_p, tls) = spawn_tls(&dir, upstream.addr(), "edge = { tls_handshake_ms = 300 }\n").await;
    // A client that connects and says nothing.
    let mut silent = tokio::net::TcpStream::connect(tls).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut silent, &mut buf),
    )
    .await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the silent TLS client was still connected: {read:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // A real client still gets through.
    let resp = call(&Client::tls_insecure(tls), "openai-chat", "m", false, &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
}

/// The real binary with `[redis]`: the shared store is made inside the gateway's runtimes
/// (its connection manager spawns tasks, and `serve` builds the gateway before any runtime
/// runs), and a limit holds across its worker threads.
#[tokio::test]
async fn the_binary_keeps_its_limits_in_redis() {
    let redis = "127.0.0.1:6379";
    if tokio::net::TcpStream::connect(redis).await.is_err() {
        eprintln!("skipping: nothing answers at {redis} (.ci/run starts one)");
        return;
    }
    let upstream = mock(MockConfig::default()).await;
    let dir = TempDir::new();
    let listen = free_addr();
    let path = serve_config(&dir, listen, upstream.addr(), 1);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("threads = 1", "threads = 2")
        .replacen(
            &format!("key_sha256 = \"{DEMO_KEY_SHA256}\"\n"),
            &format!("key_sha256 = \"{DEMO_KEY_SHA256}\"\n[client_keys.limits]\nrequests_per_minute = 2\n"),
            1,
        );
    let prefix = format!("lifecycle-{}", aether::request_id::next());
    std::fs::write(
        &path,
        format!("{text}\n[redis]\nurl = \"redis://{redis}\"\nprefix = \"{prefix}\"\ntimeout_ms = 2000\n"),
    )
    .unwrap();
    let _p = spawn(&["serve", "--config", path.to_str().unwrap()]);
    wait_listening(listen).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(call(&Client::new(listen), "openai-chat", "m", false, &[]).await.status);
    }
    assert_eq!(statuses, [200, 200, 429]);
}
