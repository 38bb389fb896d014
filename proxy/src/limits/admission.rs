//! The protocol between the [`super::Limiter`] and its stores: what one admission asks
//! (the client's takes and the candidate keys' takes, in the router's order) and what the
//! store answers. Both stores answer it the same way, in one atomic step.

use super::take::{KeyTakes, Take};

/// One admission: every client take and the first candidate key that can take its own.
#[derive(Debug)]
pub struct AdmitRequest<'a> {
    /// The request id (the lease holder's name).
    pub id: &'a str,
    /// The client key's takes (all or none).
    pub client: &'a [Take],
    /// Candidate keys in the order to try them; the first not cooling down and with room
    /// is taken. Empty: no key is taken (the client's takes alone decide).
    pub candidates: &'a [KeyTakes],
    /// The client's affinity for this model: the key it names is tried first, and the key
    /// taken becomes it.
    pub affinity: Option<&'a Affinity>,
}

/// Where a client's affinity for one model is kept, for how long it lasts after the last
/// request it served, and how far it may reach: only within the first priority tier, so it
/// never holds a client on a fallback provider the operator ranked lower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affinity {
    /// The counter's name (`aff:<client>:<model>`).
    pub key: String,
    /// Its lifetime, in ms.
    pub ttl_ms: i64,
    /// How many leading candidates share the first candidate's priority.
    pub tier: usize,
}

/// Why a candidate key was passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// It answered 429, or said it had nothing left, and its reset has not come.
    CoolingDown,
    /// One of its own limits (rate, tokens, concurrency) is reached.
    Full,
}

impl SkipReason {
    /// The attempt outcome recorded for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::CoolingDown => "cooling_down",
            SkipReason::Full => "key_full",
        }
    }
}

/// A candidate passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySkip {
    /// Its index in the request's candidates.
    pub candidate: usize,
    /// Why.
    pub reason: SkipReason,
    /// When it may have room again, in ms from now.
    pub retry_ms: i64,
}

/// The store's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdmitAnswer {
    /// Everything taken: the client's takes, and the takes of candidate `chosen` (`None`
    /// when no candidates were given).
    Admitted {
        /// The candidate taken.
        chosen: Option<usize>,
        /// Candidates passed over before it.
        skipped: Vec<KeySkip>,
    },
    /// A client take could not be taken; nothing was.
    Refused {
        /// Index into the client's takes.
        take: usize,
        /// When it may pass, in ms from now (0: not by waiting).
        retry_ms: i64,
        /// What is left of that limit.
        remaining: i64,
    },
    /// Every candidate key is cooling down or full; nothing was taken.
    KeysBusy {
        /// The soonest a key may have room, in ms from now.
        retry_ms: i64,
        /// Every candidate, why.
        skipped: Vec<KeySkip>,
    },
}

/// One settled take: how much was really used (tokens, nano-USD; a lease's amount is
/// ignored: it is released).
#[derive(Debug, Clone)]
pub struct Settled {
    /// What was taken.
    pub take: Take,
    /// What was used.
    pub used: i64,
}

/// What a provider key's answer says about its concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pressure {
    /// It answered 429: halve its concurrency (not below the floor).
    Throttled,
    /// It answered: grow its concurrency by one per round of successes (not above the
    /// ceiling).
    Succeeded,
}
