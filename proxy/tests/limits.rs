//! Limits end to end, in-process and through Redis: client-key rates, tokens, concurrency
//! and budgets; two instances sharing one Redis; leases of a stopped instance; provider-key
//! cooldowns; Redis going away and coming back, and a Redis that does not answer.
//!
//! The Redis tests use the machine's Redis at 127.0.0.1:6379 (`.ci/run` starts one when
//! none answers), each under its own key prefix; they skip with a printed reason when none
//! answers.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aether_mock::MockConfig;
use common::{Client, Resp, TestGateway, call, config_head, mock, start_gateway};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

const REDIS: &str = "127.0.0.1:6379";

/// Where the counters live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Local,
    Redis,
}

async fn redis_answers() -> bool {
    let Ok(Ok(mut s)) = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(REDIS)).await else {
        return false;
    };
    s.write_all(b"PING\r\n").await.is_ok()
}

/// Whether Redis answers; when not, says the test skips.
async fn redis_or_skip() -> bool {
    let answers = redis_answers().await;
    if !answers {
        eprintln!("skipping: nothing answers at {REDIS} (.ci/run starts one)");
    }
    answers
}

/// The stores to test: both, or only the local one (saying why) when no Redis answers.
async fn stores() -> Vec<Store> {
    if redis_answers().await {
        vec![Store::Local, Store::Redis]
    } else {
        eprintln!("skipping the Redis half: nothing answers at {REDIS} (.ci/run starts one)");
        vec![Store::Local]
    }
}

/// A `[redis]` section with a prefix of its own, so tests running at once do not share
/// counters, and a timeout a loaded test machine keeps (unless `extra` sets one).
fn redis_section(url: &str, extra: &str) -> String {
    let timeout = if extra.contains("timeout_ms") {
        ""
    } else {
        "timeout_ms = 2000\n"
    };
    format!(
        "[redis]\nurl = \"{url}\"\nprefix = \"test-{}\"\n{timeout}{extra}\n",
        aether::request_id::next()
    )
}

/// The demo client key with `limits`, one Claude provider on `upstream` serving `m`,
/// prices for `m`, and `[redis]` for the Redis store.
fn config(upstream: SocketAddr, limits: &str, store: Store) -> String {
    let mut c = config_head();
    c.push_str(&format!("[client_keys.limits]\n{limits}\n"));
    c.push_str(&format!(
        "[[providers]]\nname = \"p\"\nformat = \"claude\"\nbase_url = \"http://{upstream}\"\nmodels = {{ m = \"m\" }}\nkeys = [{{ name = \"k\", api_key = \"upstream-secret\" }}]\n\n"
    ));
    c.push_str("[pricing.models.m]\ninput = 1000.0\noutput = 1000.0\ncache_write_5m = 1000.0\ncache_read = 1000.0\n\n");
    if store == Store::Redis {
        c.push_str(&redis_section(&format!("redis://{REDIS}"), ""));
    }
    c
}

fn request_id(r: &Resp) -> String {
    r.header("x-request-id").unwrap().to_owned()
}

/// Sends one request and says how its record's first attempt ended.
async fn first_attempt(gw: &TestGateway, client: &Client) -> Option<String> {
    let r = call(client, "claude", "m", false, &[]).await;
    gw.record(&request_id(&r))
        .await
        .attempts
        .first()
        .map(|a| a.outcome.clone())
}

/// Waits until `ok` holds (settling happens after the response is written).
async fn eventually(what: &str, ok: impl AsyncFnMut() -> bool) {
    within(Duration::from_secs(10), what, ok).await;
}

/// [`eventually`], within `limit`.
async fn within(limit: Duration, what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_minute_refuse_in_the_clients_shape_and_are_recorded() {
    let upstream = mock(MockConfig::default()).await;
    for store in stores().await {
        let gw = start_gateway(&config(upstream.addr(), "requests_per_minute = 3", store)).await;
        let client = Client::new(gw.addr);
        for _ in 0..3 {
            assert_eq!(call(&client, "claude", "m", false, &[]).await.status, 200, "{store:?}");
        }
        let before = upstream.request_count();
        let refused = call(&client, "claude", "m", false, &[]).await;
        assert_eq!(refused.status, 429, "{store:?}");
        assert_eq!(
            upstream.request_count(),
            before,
            "a refused request never reaches an upstream"
        );
        assert_eq!(refused.json()["error"]["type"], "rate_limit_error", "{store:?}");
        assert_eq!(refused.header("x-ratelimit-limit-requests"), Some("3"));
        assert_eq!(refused.header("x-ratelimit-remaining-requests"), Some("0"));
        let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=20).contains(&retry), "retry-after {retry}");
        // The OpenAI SDK's shape for the same refusal.
        let chat = call(&client, "openai-chat", "m", false, &[]).await;
        assert_eq!(chat.status, 429);
        assert_eq!(chat.json()["error"]["type"], "rate_limit_exceeded");
        let record = gw.record(&request_id(&refused)).await;
        let error = record.error.unwrap();
        assert_eq!(error.class, "limited", "{store:?}");
        assert!(error.message.contains("requests_per_minute"), "{}", error.message);
        assert_eq!(record.http_status, Some(429));
        assert!(record.attempts.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_estimates_are_given_back_after_the_call() {
    let upstream = mock(MockConfig::default()).await;
    for store in stores().await {
        // max_tokens 64 + 22 input: each request takes 86 of 150 before the call and gives
        // back all but its real 32 (22 in, 10 out) after it. Without giving back, the
        // second would wait 9 s for the bucket to refill.
        let gw = start_gateway(&config(upstream.addr(), "tokens_per_minute = 150", store)).await;
        let client = Client::new(gw.addr);
        for _ in 0..3 {
            within(Duration::from_secs(2), "the tokens come back", async || {
                call(&client, "claude", "m", false, &[]).await.status == 200
            })
            .await;
        }
        let view = gw.limiter.view(&gw.store.current()).await;
        assert!(view.to_string().contains("tpm"), "{view}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_holds_its_slot_until_it_ends_and_a_cancelled_one_frees_it() {
    let upstream = mock(MockConfig {
        chunks: 20,
        interval: Duration::from_millis(100),
        ..MockConfig::default()
    })
    .await;
    for store in stores().await {
        let gw = start_gateway(&config(upstream.addr(), "concurrent = 1", store)).await;
        let client = Client::new(gw.addr);
        let (mut stream, _) = common::open_stream(&client, "claude", "m").await;
        let busy = call(&client, "claude", "m", false, &[]).await;
        assert_eq!(busy.status, 429, "{store:?}: the stream holds the only slot");
        assert!(busy.text().contains("concurrent"), "{}", busy.text());
        // Read the stream to its end: the slot comes back.
        while stream.read_response_body().await.unwrap().is_some() {}
        eventually("the finished stream's slot is free", async || {
            call(&client, "claude", "m", false, &[]).await.status == 200
        })
        .await;
        // A cancelled stream frees it at once.
        let (stream, _) = common::open_stream(&client, "claude", "m").await;
        assert_eq!(call(&client, "claude", "m", false, &[]).await.status, 429);
        drop(stream);
        eventually("the cancelled stream's slot is free", async || {
            call(&client, "claude", "m", false, &[]).await.status == 200
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_is_never_exceeded_by_50_concurrent_requests() {
    let upstream = mock(MockConfig {
        latency: Duration::from_millis(50),
        ..MockConfig::default()
    })
    .await;
    for store in stores().await {
        // Each request may cost up to ~$0.09 and really costs ~$0.04: $0.50 admits a
        // handful at a time and about a dozen in all.
        let gw = start_gateway(&config(upstream.addr(), "budget_usd = { daily = 0.5 }", store)).await;
        let gw = Arc::new(gw);
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let gw = gw.clone();
            tasks.push(tokio::spawn(async move {
                let client = Client::new(gw.addr);
                call(&client, "claude", "m", false, &[]).await
            }));
        }
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        let mut spent = 0i64;
        let (mut served, mut refused) = (0, 0);
        for a in &answers {
            let record = gw.record(&request_id(a)).await;
            match a.status {
                200 => {
                    served += 1;
                    spent += record.cost.unwrap().total.0;
                }
                429 => {
                    refused += 1;
                    let error = record.error.unwrap();
                    assert_eq!(error.class, "limited");
                    assert!(error.message.contains("daily budget"), "{}", error.message);
                    assert!(a.text().contains("budget"), "{}", a.text());
                }
                other => panic!("{store:?}: unexpected {other}: {}", a.text()),
            }
        }
        assert!(
            served > 0 && refused > 0,
            "{store:?}: {served} served, {refused} refused"
        );
        assert!(
            spent <= 500_000_000,
            "{store:?}: spent {spent} nano-USD of a 500,000,000 budget"
        );
        // Settled: nothing is left reserved once every request is over.
        eventually("every reservation is settled", async || {
            let view = gw.limiter.view(&gw.store.current()).await;
            let budgets: Vec<f64> = view["owners"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|o| o["counters"].as_array().unwrap())
                .filter_map(|c| c["reserved_usd"].as_str())
                .map(|r| r.parse().unwrap())
                .collect();
            budgets.len() == 1 && budgets[0] == 0.0
        })
        .await;
        // Every admission, settlement and renewal got its answer.
        assert_eq!(gw.limiter.stats().redis_errors(), 0, "{store:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_redis_enforce_one_combined_limit() {
    if !redis_or_skip().await {
        return;
    }
    let upstream = mock(MockConfig::default()).await;
    let redis = redis_section(&format!("redis://{REDIS}"), "");
    let mut c = config(upstream.addr(), "requests_per_minute = 20", Store::Local);
    c.push_str(&redis);
    let a = start_gateway(&c).await;
    let b = start_gateway(&c).await;
    let (ca, cb) = (Client::new(a.addr), Client::new(b.addr));
    let mut statuses = Vec::new();
    let started = Instant::now();
    for i in 0..40 {
        let client = if i % 2 == 0 { &ca } else { &cb };
        statuses.push(call(client, "claude", "m", false, &[]).await.status);
    }
    // The bucket refills one request every 3 s: a slow machine may earn one more.
    let refilled = usize::try_from(started.elapsed().as_secs() / 3).unwrap();
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (20..=20 + refilled).contains(&admitted),
        "{admitted} admitted: {statuses:?}"
    );
    assert!(statuses[..20].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    assert_eq!(upstream.request_count(), admitted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instance_frees_its_slots_within_the_lease_time() {
    if !redis_or_skip().await {
        return;
    }
    let upstream = mock(MockConfig::default()).await;
    let redis = redis_section(&format!("redis://{REDIS}"), "lease_secs = 3");
    let mut c = config(upstream.addr(), "concurrent = 1", Store::Local);
    c.push_str(&redis);
    let a = start_gateway(&c).await;
    let b = start_gateway(&c).await;
    // A's request hangs upstream, holding the one slot.
    let held = {
        let client = Client::new(a.addr);
        tokio::spawn(async move { call(&client, "claude", "m", false, &[("x-mock-fault", "hang")]).await })
    };
    let cb = Client::new(b.addr);
    eventually("A's request holds the slot", async || {
        call(&cb, "claude", "m", false, &[]).await.status == 429
    })
    .await;
    // A stops renewing (as a crashed instance would); its request never ends.
    let stopped = Instant::now();
    drop(a);
    eventually("the lapsed lease frees the slot", async || {
        call(&cb, "claude", "m", false, &[]).await.status == 200
    })
    .await;
    let waited = stopped.elapsed();
    assert!(waited <= Duration::from_secs(8), "freed after {waited:?}");
    held.abort();
}

/// Two Claude providers, `first` tried before `second`, with no affinity (each request
/// follows the routing order, so each one shows what happens to the first key).
fn two_providers(first: SocketAddr, second: SocketAddr, store: Store) -> String {
    two_providers_with(
        first,
        second,
        store,
        "cooldown_secs = 60",
        "[routing]\naffinity_secs = 0\n",
    )
}

/// [`two_providers`] with the first key's `limits` and `extra` sections.
fn two_providers_with(first: SocketAddr, second: SocketAddr, store: Store, first_limits: &str, extra: &str) -> String {
    let mut c = config_head();
    for (name, addr, priority, limits) in [("first", first, 0, first_limits), ("second", second, 1, "")] {
        c.push_str(&format!(
            "[[providers]]\nname = \"{name}\"\nformat = \"claude\"\nbase_url = \"http://{addr}\"\npriority = {priority}\nmodels = {{ m = \"m\" }}\nkeys = [{{ name = \"k\", api_key = \"upstream-secret-{name}\", limits = {{ {limits} }} }}]\n\n"
        ));
    }
    c.push_str(extra);
    if store == Store::Redis {
        c.push_str(&redis_section(&format!("redis://{REDIS}"), ""));
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_key_at_its_own_limit_is_passed_over() {
    for store in stores().await {
        let slow = MockConfig {
            chunks: 20,
            interval: Duration::from_millis(100),
            ..MockConfig::default()
        };
        let first = mock(slow.clone()).await;
        let second = mock(slow).await;
        let gw = start_gateway(&two_providers_with(
            first.addr(),
            second.addr(),
            store,
            "concurrent = 1",
            "",
        ))
        .await;
        let client = Client::new(gw.addr);
        let (_stream, _) = common::open_stream(&client, "claude", "m").await;
        assert_eq!(first.request_count(), 1);
        let r = call(&client, "claude", "m", false, &[]).await;
        assert_eq!(r.status, 200);
        let record = gw.record(&request_id(&r)).await;
        let outcomes: Vec<&str> = record.attempts.iter().map(|a| a.outcome.as_str()).collect();
        assert_eq!(outcomes, ["key_full", "relayed"], "{store:?}");
        assert_eq!((first.request_count(), second.request_count()), (1, 1));
    }
}

/// Two keys of one priority: the client's first choice (by the routing hash) answers 429
/// once (resting 1 s) and then recovers; three more requests follow the rest. Returns how
/// many requests each key got, the first choice's count first.
async fn affinity_after_a_rest(store: Store, affinity_secs: u64) -> (usize, usize) {
    let a = mock(MockConfig::default()).await;
    let b = mock(MockConfig::default()).await;
    let mut c = config_head();
    for (name, addr) in [("a", a.addr()), ("b", b.addr())] {
        c.push_str(&format!(
            "[[providers]]\nname = \"{name}\"\nformat = \"claude\"\nbase_url = \"http://{addr}\"\nmodels = {{ m = \"m\" }}\nkeys = [{{ name = \"k\", api_key = \"upstream-secret-{name}\" }}]\n\n"
        ));
    }
    c.push_str(&format!("[routing]\naffinity_secs = {affinity_secs}\n"));
    if store == Store::Redis {
        c.push_str(&redis_section(&format!("redis://{REDIS}"), ""));
    }
    let gw = start_gateway(&c).await;
    let client = Client::new(gw.addr);
    assert_eq!(call(&client, "claude", "m", false, &[]).await.status, 200);
    let (first, other) = if a.request_count() == 1 { (&a, &b) } else { (&b, &a) };
    first.set_config(MockConfig {
        fault: aether_mock::Fault::Status(429),
        retry_after_secs: Some(1),
        ..MockConfig::default()
    });
    assert_eq!(call(&client, "claude", "m", false, &[]).await.status, 200);
    assert_eq!((first.request_count(), other.request_count()), (2, 1));
    first.set_config(MockConfig::default());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for _ in 0..3 {
        assert_eq!(call(&client, "claude", "m", false, &[]).await.status, 200);
    }
    (first.request_count(), other.request_count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stays_on_the_key_that_served_it_for_the_affinity_lifetime() {
    for store in stores().await {
        // With affinity, the rested key's return does not take the client back: its prompt
        // cache is warm on the other key now.
        assert_eq!(affinity_after_a_rest(store, 300).await, (2, 4), "{store:?}");
        // Without, the routing order does.
        assert_eq!(affinity_after_a_rest(store, 0).await, (5, 1), "{store:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_circuit_opened_on_one_instance_rests_the_key_on_every_instance() {
    if !redis_or_skip().await {
        return;
    }
    let first = mock(MockConfig {
        fault: aether_mock::Fault::Status(500),
        ..MockConfig::default()
    })
    .await;
    let second = mock(MockConfig::default()).await;
    let breaker =
        "[circuit_breaker]\nmin_requests = 2\nerror_rate = 0.5\nopen_secs = 30\n[routing]\naffinity_secs = 0\n";
    let c = two_providers_with(first.addr(), second.addr(), Store::Redis, "", breaker);
    let a = start_gateway(&c).await;
    let b = start_gateway(&c).await;
    let ca = Client::new(a.addr);
    for _ in 0..2 {
        assert_eq!(call(&ca, "claude", "m", false, &[]).await.status, 200);
    }
    assert_eq!(first.request_count(), 2, "A's breaker opened after two failures");
    let cb = Client::new(b.addr);
    eventually("B passes over the key whose circuit A opened", async || {
        first_attempt(&b, &cb).await.as_deref() == Some("cooling_down")
    })
    .await;
    assert_eq!(first.request_count(), 2, "B never sent the broken key anything");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_429_cools_its_key_and_the_next_request_goes_elsewhere() {
    for store in stores().await {
        let first = mock(MockConfig {
            fault: aether_mock::Fault::Status(429),
            retry_after_secs: Some(30),
            ..MockConfig::default()
        })
        .await;
        let second = mock(MockConfig::default()).await;
        let gw = start_gateway(&two_providers(first.addr(), second.addr(), store)).await;
        let client = Client::new(gw.addr);
        let r = call(&client, "claude", "m", false, &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!((first.request_count(), second.request_count()), (1, 1));
        // The cooldown is shared off the request path: wait for it to land.
        eventually("the next request passes over the cooling key", async || {
            first_attempt(&gw, &client).await.as_deref() == Some("cooling_down")
        })
        .await;
        assert_eq!(first.request_count(), 1, "{store:?}: the cooling key was sent nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_headers_say_nothing_is_left_is_skipped_before_any_429() {
    for store in stores().await {
        let first = mock(MockConfig {
            exhausted_for: Some(Duration::from_secs(30)),
            ..MockConfig::default()
        })
        .await;
        let second = mock(MockConfig::default()).await;
        let gw = start_gateway(&two_providers(first.addr(), second.addr(), store)).await;
        let client = Client::new(gw.addr);
        assert_eq!(call(&client, "claude", "m", false, &[]).await.status, 200);
        assert_eq!(first.request_count(), 1);
        eventually("the exhausted key is passed over", async || {
            let r = call(&client, "claude", "m", false, &[]).await;
            r.status == 200 && second.request_count() > 0
        })
        .await;
        assert_eq!(
            first.request_count(),
            1,
            "{store:?}: the exhausted key never got a 429 to send"
        );
    }
}

/// A TCP relay to Redis that can be cut and restored, standing in for Redis going away.
struct Outage {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
}

impl Outage {
    async fn start() -> Outage {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let flag = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let flag = flag.clone();
                tokio::spawn(async move {
                    if !flag.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(mut outbound) = TcpStream::connect(REDIS).await else {
                        return;
                    };
                    // Relay until either side ends or the outage starts.
                    let relay = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    let cut = async {
                        while flag.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = relay => {}
                        () = cut => {}
                    }
                });
            }
        });
        Outage { addr, up }
    }

    fn set(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_fails_open_or_closed_by_policy_then_recovers() {
    if !redis_or_skip().await {
        return;
    }
    let upstream = mock(MockConfig::default()).await;
    let outage = Outage::start().await;
    // Rates fail open (each of 2 instances keeps half of 10), budgets fail closed.
    let mut c = config_head();
    c.push_str("[client_keys.limits]\nrequests_per_minute = 10\n\n");
    let budgeted_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"sk-budgeted-test-key"));
    c.push_str(&format!(
        "[[client_keys]]\nname = \"budgeted\"\nkey_sha256 = \"{budgeted_hash}\"\n[client_keys.limits]\nbudget_usd = {{ daily = 100.0 }}\n\n"
    ));
    c.push_str(&format!(
        "[[providers]]\nname = \"p\"\nformat = \"claude\"\nbase_url = \"http://{}\"\nmodels = {{ m = \"m\" }}\nkeys = [{{ name = \"k\", api_key = \"upstream-secret\" }}]\n\n",
        upstream.addr()
    ));
    c.push_str("[pricing.models.m]\ninput = 1.0\noutput = 1.0\n\n");
    c.push_str(&redis_section(
        &format!("redis://{}", outage.addr),
        "instances = 2\ntimeout_ms = 100\n[redis.on_failure]\nrates = \"open\"\nbudgets = \"closed\"",
    ));
    let gw = start_gateway(&c).await;
    let client = Client::new(gw.addr);
    let budgeted = [("x-api-key", "sk-budgeted-test-key")];
    assert_eq!(call(&client, "claude", "m", false, &[]).await.status, 200);
    assert_eq!(gw.limiter.redis_up(), Some(true));

    outage.set(false);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Fail open: admitted, counted here against this instance's half (5).
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(call(&client, "claude", "m", false, &[]).await.status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 5, "{statuses:?}");
    assert_eq!(gw.limiter.redis_up(), Some(false));
    // Fail closed: 503 in the client's shape, recorded.
    let closed = call_with(&client, &budgeted).await;
    assert_eq!(closed.status, 503, "{}", closed.text());
    assert_eq!(closed.json()["type"], "error");
    let record = gw.record(&request_id(&closed)).await;
    assert_eq!(record.error.unwrap().class, "limits_unavailable");

    outage.set(true);
    eventually("Redis answers again", async || {
        call_with(&client, &budgeted).await.status == 200
    })
    .await;
    assert_eq!(gw.limiter.redis_up(), Some(true));
}

async fn call_with(client: &Client, headers: &[(&str, &str)]) -> Resp {
    let (path, body) = common::request_for("claude", "m", false);
    let mut h = vec![("content-type", "application/json")];
    h.extend_from_slice(headers);
    client.post(&path, &h, serde_json::to_vec(&body).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_never_answers_costs_a_timeout_not_a_hang() {
    // Accepts connections and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let upstream = mock(MockConfig::default()).await;
    let mut c = config(upstream.addr(), "requests_per_minute = 100", Store::Local);
    c.push_str(&redis_section(&format!("redis://{addr}"), "timeout_ms = 50"));
    let gw: TestGateway = start_gateway(&c).await;
    let client = Client::new(gw.addr);
    let started = Instant::now();
    let r = call(&client, "claude", "m", false, &[]).await;
    assert_eq!(r.status, 200, "rates fail open by default: {}", r.text());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(gw.limiter.redis_up(), Some(false));
}

/// The Lua scripts and the in-process store give the same answers to the same sequence:
/// rates and their give-back, leases, budgets, cooldowns, adaptive concurrency and
/// affinity (retry times aside, which depend on each one's clock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lua_scripts_and_the_local_store_agree() {
    use aether::limits::admission::{AdmitAnswer, AdmitRequest, Affinity, Pressure, Settled};
    use aether::limits::local::LocalStore;
    use aether::limits::now_ms;
    use aether::limits::shared::SharedStore;
    use aether::limits::take::{KeyTakes, LimitName, Owner, Take, TakeKind};

    if !redis_or_skip().await {
        return;
    }
    let prefix = format!("test-{}", aether::request_id::next());
    let shared = SharedStore::new(
        &format!("redis://{REDIS}"),
        &prefix,
        Duration::from_secs(2),
        Duration::from_secs(30),
    )
    .unwrap();
    let local = LocalStore::default();
    let take = |kind, key: &str, limit, amount, name| Take {
        kind,
        key: key.into(),
        limit,
        amount,
        name,
        owner: Owner::Client(Arc::from("c")),
        resets_at_ms: 0,
        adaptive: None,
    };
    let rpm = take(TakeKind::Rate, "r:rpm", 2, 1, LimitName::Requests);
    let tpm = take(TakeKind::Rate, "r:tpm", 100, 80, LimitName::Tokens);
    let lease = take(TakeKind::Lease, "c:one", 1, 1, LimitName::Concurrent);
    let budget = take(TakeKind::Budget, "b:total", 1000, 600, LimitName::BudgetTotal);
    let key = |name: &str, adaptive: bool| {
        let mut lease = take(TakeKind::Lease, &format!("c:{name}"), 4, 1, LimitName::Concurrent);
        if adaptive {
            lease.adaptive = Some((format!("adapt:{name}"), 1));
        }
        KeyTakes {
            scope: Arc::from(name),
            cool_key: format!("cool:{name}"),
            takes: vec![lease],
        }
    };
    let keys = [key("a", true), key("b", false)];
    let affinity = Affinity {
        key: "aff:c:m".into(),
        ttl_ms: 60_000,
        tier: 2,
    };
    // Only what both must agree on: the verdict, which take or key, what is left.
    let shape = |a: AdmitAnswer| match a {
        AdmitAnswer::Admitted { chosen, skipped } => {
            format!(
                "admitted {chosen:?} skipped {:?}",
                skipped.iter().map(|s| (s.candidate, s.reason)).collect::<Vec<_>>()
            )
        }
        AdmitAnswer::Refused { take, remaining, .. } => format!("refused take {take} remaining {remaining}"),
        AdmitAnswer::KeysBusy { skipped, .. } => {
            format!(
                "busy {:?}",
                skipped.iter().map(|s| (s.candidate, s.reason)).collect::<Vec<_>>()
            )
        }
    };
    let mut step = 0;
    let mut both = async |client: &[Take], candidates: &[KeyTakes], affine: bool| {
        step += 1;
        let id = format!("req-{step}");
        let req = AdmitRequest {
            id: &id,
            client,
            candidates,
            affinity: affine.then_some(&affinity),
        };
        let l = shape(local.admit(&req, now_ms()));
        let s = shape(shared.admit(&req, now_ms()).await.unwrap());
        assert_eq!(l, s, "step {step}");
        l
    };
    assert!(
        both(std::slice::from_ref(&rpm), &[], false)
            .await
            .starts_with("admitted")
    );
    assert!(
        both(std::slice::from_ref(&rpm), &[], false)
            .await
            .starts_with("admitted")
    );
    assert_eq!(
        both(std::slice::from_ref(&rpm), &[], false).await,
        "refused take 0 remaining 0"
    );
    // Tokens: 80 of 100 taken; a second 80 does not fit until 70 come back.
    assert!(
        both(std::slice::from_ref(&tpm), &[], false)
            .await
            .starts_with("admitted")
    );
    assert_eq!(
        both(std::slice::from_ref(&tpm), &[], false).await,
        "refused take 0 remaining 20"
    );
    let give_back = [Settled {
        take: tpm.clone(),
        used: 10,
    }];
    local.settle("req-4", &give_back, now_ms());
    shared.settle("req-4", &give_back, now_ms()).await.unwrap();
    assert!(
        both(std::slice::from_ref(&tpm), &[], false)
            .await
            .starts_with("admitted")
    );
    // All or nothing: the lease fits, the budget's second worst case does not.
    assert!(
        both(&[lease.clone(), budget.clone()], &[], false)
            .await
            .starts_with("admitted")
    );
    assert_eq!(
        both(std::slice::from_ref(&budget), &[], false).await,
        "refused take 0 remaining 400"
    );
    assert_eq!(
        both(std::slice::from_ref(&lease), &[], false).await,
        "refused take 0 remaining 0"
    );
    let settled = [
        Settled {
            take: lease.clone(),
            used: 0,
        },
        Settled {
            take: budget.clone(),
            used: 100,
        },
    ];
    local.settle("req-7", &settled, now_ms());
    shared.settle("req-7", &settled, now_ms()).await.unwrap();
    assert!(
        both(&[lease.clone(), budget.clone()], &[], false)
            .await
            .starts_with("admitted")
    );
    // Keys: a cooling down, so b; with affinity, b first from now on.
    local.cool("cool:a", now_ms() + 60_000);
    shared.pressure("cool:a", 60_000, None, now_ms()).await.unwrap();
    assert_eq!(
        both(&[], &keys, true).await,
        "admitted Some(1) skipped [(0, CoolingDown)]"
    );
    assert_eq!(both(&[], &keys, true).await, "admitted Some(1) skipped []");
    // Adaptive: d's concurrency of 4 halves twice to 1.
    for _ in 0..2 {
        local.adapt("adapt:d", Pressure::Throttled, 1, 4);
        shared
            .pressure("cool:d", 0, Some(("adapt:d", Pressure::Throttled, 1, 4)), now_ms())
            .await
            .unwrap();
    }
    let d_only = [key("d", true)];
    assert_eq!(both(&[], &d_only, false).await, "admitted Some(0) skipped []");
    assert_eq!(both(&[], &d_only, false).await, "busy [(0, Full)]");
}
