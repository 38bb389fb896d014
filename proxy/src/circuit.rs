//! In-process circuit breaker per provider key.
//!
//! Closed: outcomes go into a sliding time window; once it holds `min_requests` outcomes
//! and the error rate reaches the threshold, the circuit opens. Open: the key is skipped
//! until the open period ends. Half-open: one probe request at a time is let through;
//! `half_open_successes` successes in a row close the circuit, one failure re-opens it
//! with the open period doubled (up to `max_open_secs`).
//!
//! The window is a ring of time buckets holding counts, so recording an outcome is O(1)
//! and memory is fixed however many requests a key serves; the error rate is only
//! evaluated when a failure is recorded (a success can never open a circuit).
//!
//! Breakers live in a [`CircuitRegistry`] keyed by provider and key name, so their state
//! survives config reloads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Thresholds, compiled from `[circuit_breaker]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitSettings {
    /// Sliding window length.
    pub window: Duration,
    /// Outcomes needed before the rate counts.
    pub min_requests: u32,
    /// Error rate that opens the circuit.
    pub error_rate: f64,
    /// First open period.
    pub open_for: Duration,
    /// Longest open period.
    pub max_open_for: Duration,
    /// Successes that close a half-open circuit.
    pub half_open_successes: u32,
}

/// Whether a request may use the key now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed circuit: go ahead.
    Allowed,
    /// Half-open: this request is the probe.
    Probe,
    /// Open (or a probe is already out): skip this key.
    Rejected,
}

/// What recording an outcome did to the circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing that other instances need to hear of.
    Unchanged,
    /// The circuit opened for this long.
    Opened(Duration),
}

/// The outcome of one attempt, as far as the key's health is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered properly (including a client-fault 4xx).
    Success,
    /// Connect error, timeout, 429, 5xx, 401/403, embedded stream error.
    Failure,
    /// Says nothing about the key: the client's doing (an unknown model it chose, a request
    /// that could not be built, a request it cancelled). Counts for nothing, and frees a
    /// half-open key for its next probe.
    Neutral,
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    HalfOpen {
        successes: u32,
        probe_since: Option<Instant>,
    },
}

/// Buckets in the sliding window.
const BUCKETS: usize = 10;

/// Outcome counts for one slice of the window.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Which slice of time (since the breaker's origin) the counts belong to.
    epoch: u64,
    successes: u32,
    failures: u32,
}

/// A sliding window of outcome counts in `BUCKETS` time slices.
#[derive(Debug)]
struct Window {
    origin: Instant,
    buckets: [Bucket; BUCKETS],
}

impl Window {
    fn new(origin: Instant) -> Self {
        Window {
            origin,
            buckets: [Bucket::default(); BUCKETS],
        }
    }

    fn epoch(&self, settings: &CircuitSettings, now: Instant) -> u64 {
        let width = (settings.window.as_nanos() / BUCKETS as u128).max(1);
        (now.saturating_duration_since(self.origin).as_nanos() / width) as u64
    }

    fn add(&mut self, settings: &CircuitSettings, outcome: Outcome, now: Instant) {
        let epoch = self.epoch(settings, now);
        let bucket = &mut self.buckets[(epoch % BUCKETS as u64) as usize];
        if bucket.epoch != epoch {
            *bucket = Bucket {
                epoch,
                ..Bucket::default()
            };
        }
        match outcome {
            Outcome::Success => bucket.successes += 1,
            Outcome::Failure => bucket.failures += 1,
            Outcome::Neutral => {}
        }
    }

    /// (total, failures) over the buckets still inside the window.
    fn counts(&self, settings: &CircuitSettings, now: Instant) -> (u64, u64) {
        let current = self.epoch(settings, now);
        self.buckets
            .iter()
            .filter(|b| current.saturating_sub(b.epoch) < BUCKETS as u64 && b.epoch <= current)
            .fold((0, 0), |(t, f), b| {
                (t + u64::from(b.successes + b.failures), f + u64::from(b.failures))
            })
    }

    fn clear(&mut self) {
        self.buckets = [Bucket::default(); BUCKETS];
    }
}

#[derive(Debug)]
struct State {
    phase: Phase,
    window: Window,
    open_for: Option<Duration>,
}

/// One key's breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    state: Mutex<State>,
}

/// A read-only view for the admin API.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CircuitView {
    /// `closed`, `open` or `half-open`.
    pub state: &'static str,
    /// Outcomes in the current window.
    pub window_requests: u64,
    /// Failures in the current window.
    pub window_failures: u64,
    /// Seconds until an open circuit lets a probe through.
    pub retry_in_secs: Option<u64>,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker {
            state: Mutex::new(State {
                phase: Phase::Closed,
                window: Window::new(Instant::now()),
                open_for: None,
            }),
        }
    }
}

impl CircuitBreaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is always left consistent, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks whether a request may use this key at `now`.
    pub fn admit(&self, settings: &CircuitSettings, now: Instant) -> Admission {
        let mut s = self.lock();
        match s.phase {
            Phase::Closed => Admission::Allowed,
            Phase::Open { until } if now < until => Admission::Rejected,
            Phase::Open { .. } => {
                s.phase = Phase::HalfOpen {
                    successes: 0,
                    probe_since: Some(now),
                };
                Admission::Probe
            }
            Phase::HalfOpen { successes, probe_since } => match probe_since {
                // A probe whose request vanished without an outcome must not wedge the key.
                Some(since) if now.duration_since(since) < settings.open_for => Admission::Rejected,
                _ => {
                    s.phase = Phase::HalfOpen {
                        successes,
                        probe_since: Some(now),
                    };
                    Admission::Probe
                }
            },
        }
    }

    /// Records the outcome of an attempt that was admitted; says whether the circuit
    /// opened.
    pub fn record(&self, settings: &CircuitSettings, outcome: Outcome, now: Instant) -> Transition {
        let mut s = self.lock();
        match s.phase {
            Phase::Closed => {
                if outcome == Outcome::Neutral {
                    return Transition::Unchanged;
                }
                s.window.add(settings, outcome, now);
                if outcome == Outcome::Success {
                    return Transition::Unchanged;
                }
                let (total, failures) = s.window.counts(settings, now);
                if total >= u64::from(settings.min_requests) && failures as f64 >= settings.error_rate * total as f64 {
                    let open_for = settings.open_for;
                    s.open_for = Some(open_for);
                    s.phase = Phase::Open { until: now + open_for };
                    s.window.clear();
                    return Transition::Opened(open_for);
                }
            }
            Phase::HalfOpen { successes, .. } => match outcome {
                Outcome::Success if successes + 1 >= settings.half_open_successes => {
                    s.phase = Phase::Closed;
                    s.open_for = None;
                    s.window.clear();
                }
                Outcome::Success => {
                    s.phase = Phase::HalfOpen {
                        successes: successes + 1,
                        probe_since: None,
                    };
                }
                Outcome::Neutral => {
                    s.phase = Phase::HalfOpen {
                        successes,
                        probe_since: None,
                    };
                }
                Outcome::Failure => {
                    let next = s
                        .open_for
                        .map_or(settings.open_for, |d| (d * 2).min(settings.max_open_for));
                    s.open_for = Some(next);
                    s.phase = Phase::Open { until: now + next };
                    return Transition::Opened(next);
                }
            },
            // An attempt admitted before the circuit opened: its outcome is already stale.
            Phase::Open { .. } => {}
        }
        Transition::Unchanged
    }

    /// The current state, for the admin API.
    pub fn view(&self, settings: &CircuitSettings, now: Instant) -> CircuitView {
        let s = self.lock();
        let (total, failures) = s.window.counts(settings, now);
        let (state, retry_in_secs) = match s.phase {
            Phase::Closed => ("closed", None),
            Phase::Open { until } => ("open", Some(until.saturating_duration_since(now).as_secs())),
            Phase::HalfOpen { .. } => ("half-open", None),
        };
        CircuitView {
            state,
            window_requests: total,
            window_failures: failures,
            retry_in_secs,
        }
    }
}

/// An admitted attempt whose outcome the breaker is owed. Settled with [`Owed::settle`];
/// dropped unsettled (the client went away mid-attempt, and the attempt's future with it),
/// it records [`Outcome::Neutral`], so a cancelled probe does not keep a half-open key
/// from its next probe.
#[derive(Debug)]
pub struct Owed<'a> {
    breaker: &'a CircuitBreaker,
    settings: &'a CircuitSettings,
    settled: bool,
}

impl<'a> Owed<'a> {
    /// The outcome of an attempt about to run on `breaker`'s key.
    pub fn new(breaker: &'a CircuitBreaker, settings: &'a CircuitSettings) -> Self {
        Owed {
            breaker,
            settings,
            settled: false,
        }
    }

    /// Records the attempt's outcome; says whether the circuit opened.
    pub fn settle(mut self, outcome: Outcome, now: Instant) -> Transition {
        self.settled = true;
        self.breaker.record(self.settings, outcome, now)
    }
}

impl Drop for Owed<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.record(self.settings, Outcome::Neutral, Instant::now());
        }
    }
}

/// Breakers by (provider name, key name), shared across config generations.
#[derive(Debug, Default)]
pub struct CircuitRegistry {
    breakers: Mutex<HashMap<(String, String), Arc<CircuitBreaker>>>,
}

impl CircuitRegistry {
    /// The breaker for a key, created on first use.
    pub fn get(&self, provider: &str, key: &str) -> Arc<CircuitBreaker> {
        let mut map = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry((provider.to_owned(), key.to_owned())).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CircuitSettings {
        CircuitSettings {
            window: Duration::from_secs(60),
            min_requests: 4,
            error_rate: 0.5,
            open_for: Duration::from_secs(10),
            max_open_for: Duration::from_secs(25),
            half_open_successes: 2,
        }
    }

    #[test]
    fn neutral_outcomes_count_for_nothing_and_free_a_probe() {
        let s = settings();
        let b = CircuitBreaker::default();
        let t0 = Instant::now();
        for _ in 0..10 {
            b.record(&s, Outcome::Neutral, t0);
        }
        assert_eq!((b.view(&s, t0).state, b.view(&s, t0).window_requests), ("closed", 0));
        for _ in 0..4 {
            b.record(&s, Outcome::Failure, t0);
        }
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(b.admit(&s, t1), Admission::Probe);
        assert_eq!(b.admit(&s, t1), Admission::Rejected);
        // The probe's client went away: its attempt was dropped unsettled.
        drop(Owed::new(&b, &s));
        assert_eq!(b.admit(&s, t1), Admission::Probe, "the next probe goes at once");
        Owed::new(&b, &s).settle(Outcome::Success, t1);
        assert_eq!(b.view(&s, t1).state, "half-open");
    }

    #[test]
    fn opens_half_opens_and_closes() {
        let s = settings();
        let b = CircuitBreaker::default();
        let t0 = Instant::now();
        for _ in 0..2 {
            b.record(&s, Outcome::Success, t0);
        }
        b.record(&s, Outcome::Failure, t0);
        assert_eq!(b.admit(&s, t0), Admission::Allowed);
        // 2 of 4 failed: opens, and says so (other instances hear of it).
        assert_eq!(b.record(&s, Outcome::Failure, t0), Transition::Opened(s.open_for));
        assert_eq!(b.admit(&s, t0 + Duration::from_secs(9)), Admission::Rejected);
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(b.admit(&s, t1), Admission::Probe);
        assert_eq!(b.admit(&s, t1), Admission::Rejected, "one probe at a time");
        b.record(&s, Outcome::Success, t1);
        assert_eq!(b.view(&s, t1).state, "half-open");
        assert_eq!(b.admit(&s, t1), Admission::Probe);
        b.record(&s, Outcome::Success, t1);
        assert_eq!(b.view(&s, t1).state, "closed");
        assert_eq!(b.admit(&s, t1), Admission::Allowed);
    }

    #[test]
    fn failed_probe_doubles_open_period_up_to_max() {
        let s = settings();
        let b = CircuitBreaker::default();
        let t0 = Instant::now();
        for _ in 0..4 {
            b.record(&s, Outcome::Failure, t0);
        }
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(b.admit(&s, t1), Admission::Probe);
        b.record(&s, Outcome::Failure, t1);
        assert_eq!(b.admit(&s, t1 + Duration::from_secs(19)), Admission::Rejected);
        let t2 = t1 + Duration::from_secs(20);
        assert_eq!(b.admit(&s, t2), Admission::Probe);
        b.record(&s, Outcome::Failure, t2);
        assert_eq!(b.view(&s, t2).retry_in_secs, Some(25), "capped at max_open_for");
    }

    #[test]
    fn old_outcomes_leave_the_window() {
        let s = settings();
        let b = CircuitBreaker::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            b.record(&s, Outcome::Failure, t0);
        }
        let later = t0 + Duration::from_secs(61);
        b.record(&s, Outcome::Failure, later);
        let view = b.view(&s, later);
        assert_eq!((view.state, view.window_requests), ("closed", 1));
    }

    #[test]
    fn registry_keeps_state_across_lookups() {
        let r = CircuitRegistry::default();
        assert!(Arc::ptr_eq(&r.get("p", "k"), &r.get("p", "k")));
        assert!(!Arc::ptr_eq(&r.get("p", "k"), &r.get("p", "k2")));
    }
}
