//! The first run: `aether serve --demo`.
//!
//! The README's "Try it" curls are read out of README.md, checked to be the lines the demo's
//! banner prints, and replayed (path, headers, body, as curl sends them) against the demo
//! config served in-process against the project's mock, and against the real binary run with
//! `serve --demo` on free ports: the README cannot drift from what works.

#![allow(clippy::unwrap_used)] // test code

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use aether::demo;
use aether_mock::MockConfig;
use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_aether");

/// The fenced `sh` block of README.md's "Try it" section that holds the curls.
fn readme_curls() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme.find("\n## Try it").expect("README has a \"Try it\" section");
    let section = &readme[start + 1..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("\n```").next())
        .find(|b| b.contains("curl "))
        .expect("the Try it section has a block of curls")
        .to_owned()
}

/// One curl command line.
#[derive(Debug)]
struct Curl {
    /// `host:port` it is aimed at.
    host: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// Shell words, with single quotes (all the README's curls use).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                assert!(quoted || !"\"\\$`".contains(c), "unexpected shell syntax in {line}");
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quote in {line}");
    if in_word {
        out.push(word);
    }
    out
}

/// The curls of a block: comment lines skipped, continuation lines joined.
fn parse_curls(block: &str) -> Vec<Curl> {
    let joined = block.replace("\\\n", " ");
    joined
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let words = words(line);
            assert_eq!(words[0], "curl", "{line}");
            let mut url = None;
            let mut headers = Vec::new();
            let mut body = None;
            let mut it = words[1..].iter();
            while let Some(w) = it.next() {
                match w.as_str() {
                    "-s" | "-sN" | "-N" => {}
                    "-H" => {
                        let (name, value) = it.next().unwrap().split_once(':').unwrap();
                        headers.push((name.trim().to_owned(), value.trim().to_owned()));
                    }
                    "-d" => body = Some(it.next().unwrap().clone()),
                    flag if flag.starts_with('-') => panic!("unexpected curl flag {flag} in {line}"),
                    u => url = Some(u.to_owned()),
                }
            }
            let url = url.unwrap();
            let (host, path) = url.split_at(url.find('/').unwrap());
            Curl {
                host: host.to_owned(),
                path: path.to_owned(),
                headers,
                body: body.expect("every demo curl sends a body"),
            }
        })
        .collect()
}

/// Sends `curl` as curl would: a POST (it has `-d`), with curl's default content type for
/// `-d` when the line sets none.
async fn replay(client: &Client, curl: &Curl) -> Resp {
    let mut headers: Vec<(&str, &str)> = curl.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
        headers.push(("content-type", "application/x-www-form-urlencoded"));
    }
    headers.push(("accept", "*/*"));
    headers.push(("user-agent", "curl/8.5.0"));
    client.post(&curl.path, &headers, curl.body.clone()).await
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// The answer to `curl` is a 200 with its format's shape, naming the model it asked for.
fn assert_shape(curl: &Curl, resp: &Resp) {
    let text = resp.text();
    assert_eq!(resp.status, 200, "{} answered {}: {text}", curl.path, resp.status);
    let event_stream = || {
        assert!(
            resp.header("content-type")
                .unwrap_or("")
                .starts_with("text/event-stream"),
            "{}: {:?}",
            curl.path,
            resp.headers
        );
        sse_data(&resp.body)
    };
    match curl.path.as_str() {
        "/v1/messages" => {
            let body = resp.json();
            assert_eq!(body["type"], "message", "{text}");
            assert_eq!(body["model"], "mock-claude", "{text}");
            assert_eq!(body["content"][0]["type"], "text", "{text}");
            assert!(
                body["content"][0]["text"].as_str().is_some_and(|t| !t.is_empty()),
                "{text}"
            );
        }
        "/v1/chat/completions" => {
            let data = event_stream();
            assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{text}");
            let chunks: Vec<_> = data[..data.len() - 1].iter().map(|d| json(d)).collect();
            assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"), "{text}");
            assert!(chunks.iter().all(|c| c["model"] == "mock-gpt"), "{text}");
            assert!(
                chunks.iter().any(|c| c["choices"][0]["delta"]["content"].is_string()),
                "{text}"
            );
        }
        "/v1/responses" => {
            let body = resp.json();
            assert_eq!(body["object"], "response", "{text}");
            assert_eq!(body["status"], "completed", "{text}");
            assert_eq!(body["model"], "mock-responses", "{text}");
            let message = body["output"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["type"] == "message")
                .unwrap_or_else(|| panic!("no message output: {text}"));
            assert_eq!(message["content"][0]["type"], "output_text", "{text}");
        }
        path if path.starts_with("/v1beta/models/mock-gemini:streamGenerateContent") => {
            let data = event_stream();
            assert!(!data.is_empty(), "{text}");
            let events: Vec<_> = data.iter().map(|d| json(d)).collect();
            assert!(
                events
                    .iter()
                    .any(|e| e["candidates"][0]["content"]["parts"][0]["text"].is_string()),
                "{text}"
            );
            assert!(events.iter().any(|e| e["usageMetadata"].is_object()), "{text}");
        }
        other => panic!("a README curl for an unexpected path {other}"),
    }
}

#[test]
fn the_readme_shows_the_curls_the_banner_prints() {
    let block = readme_curls();
    assert_eq!(
        block,
        demo::CURLS,
        "README.md's Try it curls and aether::demo::CURLS differ"
    );
    assert_eq!(block, demo::curls("127.0.0.1:8080".parse().unwrap()));
    let curls = parse_curls(&block);
    assert_eq!(curls.len(), 4, "one curl per wire format");
    for curl in &curls {
        assert_eq!(curl.host, "localhost:8080", "the demo's address");
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    assert!(
        readme.contains("cargo run --release -- serve --demo"),
        "the first command"
    );
}

#[tokio::test]
async fn the_demo_config_answers_every_readme_curl() {
    let upstream = mock(MockConfig::default()).await;
    let dir = TempDir::new();
    let mut file = demo::config(upstream.addr(), demo::Listeners::default(), &dir.0).unwrap();
    // The compiled plugins every in-process test shares (`proxy/data/plugin-cache`).
    file.plugins.cache_dir = aether::config::file::PluginsSection::default().cache_dir;
    let gateway = start_gateway_file(file, dir).await;
    let client = Client::new(gateway.addr);
    let curls = parse_curls(&readme_curls());
    for curl in &curls {
        let resp = replay(&client, curl).await;
        assert_shape(curl, &resp);
    }
    assert_eq!(upstream.request_count(), curls.len(), "every curl reached the mock");
    // Each format reached the mock on its own path, unconverted.
    let paths: Vec<String> = upstream.requests().iter().map(|r| r.path.clone()).collect();
    for expected in [
        "/v1/messages",
        "/v1/chat/completions",
        "/v1/responses",
        "/v1beta/models/mock-gemini:streamGenerateContent",
    ] {
        assert!(paths.iter().any(|p| p.starts_with(expected)), "{expected} in {paths:?}");
    }
}

#[test]
fn demo_refuses_a_config_file() {
    let out = Command::new(BIN)
        .args(["serve", "--demo", "--config", "conf/aether.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--demo serves a built-in config"), "{stderr}");
    // Listener overrides belong to the demo.
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn demo_on_a_taken_port_says_so_and_exits() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let tmp = TempDir::new();
    let out = Command::new(BIN)
        .args(["serve", "--demo", "--listen", &addr.to_string(), "--admin-listen"])
        .arg(free_addr().to_string())
        .env("TMPDIR", &tmp.0)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr} for the gateway")) && stderr.contains("--listen"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "no banner: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Copies the compiled plugins the in-process tests left in `proxy/data/plugin-cache` (the
/// same build's artifacts, named by content hash and engine; written by rename, so whole)
/// into `dir`, so the demo process need not compile them again: tens of seconds in a debug
/// build on a busy machine.
fn seed_plugin_cache(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let Ok(entries) = std::fs::read_dir("data/plugin-cache") else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "cwasm") {
            let _ = std::fs::copy(&path, dir.join(entry.file_name()));
        }
    }
}

#[tokio::test]
async fn serve_demo_starts_prints_the_banner_and_answers_its_curls() {
    // TMPDIR: the demo's state directory (usage records, plugin cache) is the test's own.
    let tmp = TempDir::new();
    seed_plugin_cache(&tmp.0.join("aether-demo").join("plugin-cache"));
    let (listen, admin) = (free_addr(), free_addr());
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", &listen.to_string(), "--admin-listen"])
        .arg(admin.to_string())
        .env("TMPDIR", &tmp.0)
        .current_dir(&tmp.0)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _proc = Proc(child);

    // The banner comes once the gateway accepts connections; read it up to its last rule.
    let (lines, banner) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut rules = 0;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            rules += usize::from(line.starts_with("====="));
            text.push_str(&line);
            text.push('\n');
            if rules == 2 {
                break;
            }
        }
        let _ = lines.send(text);
    });
    let banner = tokio::task::spawn_blocking(move || banner.recv_timeout(Duration::from_secs(120)))
        .await
        .unwrap()
        .expect("the demo printed its banner");
    assert!(banner.contains("AETHER DEMO"), "{banner}");
    assert!(banner.contains("client key  sk-aether-demo"), "{banner}");
    let printed = demo::curls(listen);
    assert!(banner.contains(&printed), "the banner's curls, for this port: {banner}");
    assert!(
        banner.contains(&format!("localhost:{}/admin/usage", admin.port())),
        "{banner}"
    );
    assert!(
        banner.contains(&tmp.0.join("aether-demo").join("usage.db").display().to_string()),
        "{banner}"
    );

    let client = Client::new(listen);
    for curl in parse_curls(&printed) {
        assert_eq!(curl.host, format!("localhost:{}", listen.port()));
        let resp = replay(&client, &curl).await;
        assert_shape(&curl, &resp);
    }
    let admin = Client::new(admin);
    let ready = admin.request("GET", "/readyz", &[], "").await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    // The four requests' usage records reach the demo's database (written in batches).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let usage = admin.request("GET", "/admin/usage", &[], "").await;
        assert_eq!(usage.status, 200, "{}", usage.text());
        if usage.json()["total"]["requests"] == 4 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "usage records: {}", usage.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(tmp.0.join("aether-demo").join("usage.db").is_file());
    assert!(
        !tmp.0.join("data").exists(),
        "nothing written under the working directory"
    );
}
