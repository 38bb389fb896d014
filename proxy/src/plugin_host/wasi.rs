//! The WASI a plugin gets: no filesystem, no network, no stdio; an empty environment,
//! clocks and random numbers (so a plugin's `HashMap` works), all answered synchronously.
//! Any other WASI function a plugin imports links, but traps when called, naming itself.
//!
//! `wasmtime-wasi` is not used: its synchronous bindings block on a Tokio runtime, which
//! panics when a plugin is called from the gateway's own Tokio threads (as every call on
//! the request path is).
//!
//! A Rust plugin that panics first asks for stderr to print the message: that call traps,
//! and [`trap_reason`] says the plugin panicked.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wasmtime::component::{ComponentType, Linker, Lower};

use super::engine::HostState;

/// The WASI version plugins built with today's toolchains import; the linker matches other
/// 0.2.x imports to it.
const VERSION: &str = "0.2.6";

/// `wasi:clocks/wall-clock.datetime`.
#[derive(ComponentType, Lower, Clone, Copy)]
#[component(record)]
struct Datetime {
    seconds: u64,
    nanoseconds: u32,
}

/// Defines the functions above in `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut env = linker.instance(&format!("wasi:cli/environment@{VERSION}"))?;
    env.func_wrap("get-environment", |_, (): ()| Ok((Vec::<(String, String)>::new(),)))?;
    env.func_wrap("get-arguments", |_, (): ()| Ok((Vec::<String>::new(),)))?;
    env.func_wrap("initial-cwd", |_, (): ()| Ok((None::<String>,)))?;

    let mut exit = linker.instance(&format!("wasi:cli/exit@{VERSION}"))?;
    exit.func_wrap("exit", |_, (_status,): (Result<(), ()>,)| -> wasmtime::Result<()> {
        Err(wasmtime::Error::msg("the plugin called exit"))
    })?;

    for interface in ["random", "insecure"] {
        let mut random = linker.instance(&format!("wasi:random/{interface}@{VERSION}"))?;
        let bytes_name = if interface == "random" {
            "get-random-bytes"
        } else {
            "get-insecure-random-bytes"
        };
        let u64_name = if interface == "random" {
            "get-random-u64"
        } else {
            "get-insecure-random-u64"
        };
        random.func_wrap(bytes_name, |_, (len,): (u64,)| {
            let len = usize::try_from(len).unwrap_or(usize::MAX).min(1 << 20);
            let mut bytes = vec![0u8; len];
            getrandom::fill(&mut bytes).map_err(|e| wasmtime::Error::msg(e.to_string()))?;
            Ok((bytes,))
        })?;
        random.func_wrap(u64_name, |_, (): ()| {
            getrandom::u64()
                .map(|n| (n,))
                .map_err(|e| wasmtime::Error::msg(e.to_string()))
        })?;
    }
    let mut seed = linker.instance(&format!("wasi:random/insecure-seed@{VERSION}"))?;
    seed.func_wrap("insecure-seed", |_, (): ()| {
        let (a, b) = (getrandom::u64(), getrandom::u64());
        match (a, b) {
            (Ok(a), Ok(b)) => Ok(((a, b),)),
            _ => Err(wasmtime::Error::msg("no randomness available")),
        }
    })?;

    let mut wall = linker.instance(&format!("wasi:clocks/wall-clock@{VERSION}"))?;
    wall.func_wrap("now", |_, (): ()| {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Ok((Datetime {
            seconds: since.as_secs(),
            nanoseconds: since.subsec_nanos(),
        },))
    })?;
    wall.func_wrap("resolution", |_, (): ()| {
        Ok((Datetime {
            seconds: 0,
            nanoseconds: 1,
        },))
    })?;
    let mut mono = linker.instance(&format!("wasi:clocks/monotonic-clock@{VERSION}"))?;
    mono.func_wrap("now", |_, (): ()| Ok((monotonic_nanos(),)))?;
    mono.func_wrap("resolution", |_, (): ()| Ok((1u64,)))?;
    Ok(())
}

fn monotonic_nanos() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A trap's reason for the log and the client: what a stub trap meant, in words.
pub fn trap_reason(error: &wasmtime::Error) -> String {
    let text = format!("{error:#}");
    if text.contains("get-stderr") {
        "the plugin panicked (its message went to stderr, which plugins do not have)".to_owned()
    } else {
        text
    }
}
