//! Hot reload under traffic: a valid file is swapped in with no failed request; an invalid
//! one is rejected and the running config keeps serving.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use aether::config::reload::ReloadOutcome;
use aether_mock::MockConfig;
use common::*;

#[tokio::test]
async fn reloads_under_traffic_without_failing_a_request() {
    let old = mock(MockConfig::default()).await;
    let new = mock(MockConfig::default()).await;
    let toml_old = config_head() + &provider("p", "openai-chat", old.addr(), 0, &[("m", "m")], "");
    let toml_new = config_head() + &provider("p", "openai-chat", new.addr(), 0, &[("m", "m")], "");
    let gw = start_gateway(&toml_old).await;

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (stop, failures, done, addr) = (stop.clone(), failures.clone(), done.clone(), gw.addr);
        workers.push(tokio::spawn(async move {
            let client = Client::new(addr);
            let mut stream = false;
            while !stop.load(Ordering::Relaxed) {
                let resp = call(&client, "openai-chat", "m", stream, &[]).await;
                if resp.status != 200 {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
                stream = !stream;
            }
        }));
    }
    let wait_for = |n: usize| {
        let done = done.clone();
        async move {
            while done.load(Ordering::Relaxed) < n {
                tokio::task::yield_now().await;
            }
        }
    };
    wait_for(20).await;

    // An invalid file is rejected; traffic keeps flowing to the old upstream.
    std::fs::write(gw.config_path(), "[[providers]]\nname = 1\n").unwrap();
    assert!(matches!(gw.store.reload(), ReloadOutcome::Rejected(_)));
    let base = done.load(Ordering::Relaxed);
    wait_for(base + 20).await;
    assert_eq!(new.request_count(), 0);

    // A valid file is swapped in.
    std::fs::write(gw.config_path(), &toml_new).unwrap();
    assert_eq!(gw.store.reload(), ReloadOutcome::Applied);
    let base = done.load(Ordering::Relaxed);
    wait_for(base + 40).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0, "no request failed across reloads");
    assert!(new.request_count() >= 30, "new config serves: {}", new.request_count());
    assert!(old.request_count() >= 40);
}

#[tokio::test]
async fn the_file_watcher_picks_up_changes() {
    let old = mock(MockConfig::default()).await;
    let new = mock(MockConfig::default()).await;
    let gw = start_gateway(&(config_head() + &provider("p", "claude", old.addr(), 0, &[("m", "m")], ""))).await;
    tokio::spawn(gw.store.clone().watch(std::time::Duration::from_millis(20)));
    // Let the watcher take its first stamp, then change size and content.
    tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    std::fs::write(
        gw.config_path(),
        config_head() + &provider("renamed", "claude", new.addr(), 0, &[("m", "m")], ""),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while gw.store.current().providers[0].name != "renamed" {
        assert!(std::time::Instant::now() < deadline, "watcher did not reload");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(call(&Client::new(gw.addr), "claude", "m", false, &[]).await.status, 200);
    assert_eq!(new.request_count(), 1);
}

#[tokio::test]
async fn concurrent_reloads_never_let_an_older_file_win() {
    let upstream = mock(MockConfig::default()).await;
    let addr = upstream.addr();
    let version = move |n: usize| {
        format!("[server]\nmax_body_bytes = {}\n\n", 1_000_000 + n)
            + &config_head()
            + &provider("p", "openai-chat", addr, 0, &[("m", "m")], "")
    };
    let gw = start_gateway(&version(0)).await;
    let path = gw.config_path();
    let telemetry = std::fs::read_to_string(&path).unwrap();
    let telemetry = telemetry[telemetry.find("\n[telemetry]").unwrap()..].to_owned();
    // Writers each write a newer version, then reload, while others reload at once; the
    // writes are ordered by a lock, the reloads are not.
    let written = Arc::new(std::sync::Mutex::new(0usize));
    let mut threads = Vec::new();
    for _ in 0..4 {
        let (store, path, written, telemetry) = (gw.store.clone(), path.clone(), written.clone(), telemetry.clone());
        threads.push(std::thread::spawn(move || {
            for _ in 0..25 {
                {
                    let mut n = written.lock().unwrap();
                    *n += 1;
                    std::fs::write(&path, version(*n) + &telemetry).unwrap();
                }
                assert_eq!(store.reload(), ReloadOutcome::Applied);
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let last = *written.lock().unwrap();
    assert_eq!(
        gw.store.current().max_body_bytes,
        1_000_000 + last,
        "the running config is the last file written"
    );
}
