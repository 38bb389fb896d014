//! A [`Ticket`]: what one admitted request holds (its client takes and the takes of the
//! provider key it is on) until its usage record is final.
//!
//! The failover loop asks the ticket before each candidate ([`Ticket::key_for`]); the
//! request settles it with its real usage and cost ([`Ticket::settle`]); a ticket dropped
//! without settling releases its slots and keeps its worst case spent, so no path can
//! leave a slot held or a budget under-counted.

use std::sync::Arc;

use super::admission::{Affinity, KeySkip, Settled, SkipReason};
use super::take::{Demand, KeyTakes, LimitName, Take, TakeKind};
use super::{Backend, Limiter};
use crate::router::Candidate;
use crate::telemetry::money::NanoUsd;

/// Whether a candidate may be tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTurn {
    /// Its key's limits are held: try it.
    Go,
    /// Pass it over.
    Skip(SkipReason),
}

/// What an admission took.
#[derive(Debug)]
pub struct Held {
    /// Where.
    pub backend: Backend,
    /// The client key's takes.
    pub client: Vec<Take>,
    /// The candidate whose key is held, and its takes.
    pub key: Option<(usize, KeyTakes)>,
    /// Candidates passed over at admission.
    pub skipped: Vec<KeySkip>,
    /// The client's affinity for the model, which follows the key that serves it.
    pub affinity: Option<Affinity>,
}

/// What one request holds.
#[derive(Debug)]
pub struct Ticket {
    limiter: Arc<Limiter>,
    id: Arc<str>,
    backend: Backend,
    client: Vec<Take>,
    /// The candidate whose key is held, and its takes.
    key: Option<(usize, KeyTakes)>,
    /// Candidates passed over at admission.
    skipped: Vec<KeySkip>,
    affinity: Option<Affinity>,
    demand: Demand,
    settled: bool,
}

impl Ticket {
    /// A ticket that holds nothing (no limit applies).
    pub(super) fn nothing(limiter: Arc<Limiter>, id: &str) -> Ticket {
        Ticket {
            limiter,
            id: Arc::from(id),
            backend: Backend::Nothing,
            client: Vec::new(),
            key: None,
            skipped: Vec::new(),
            affinity: None,
            demand: Demand::nothing(0),
            settled: false,
        }
    }

    /// A ticket for what an admission took.
    pub(super) fn new(limiter: Arc<Limiter>, id: &str, held: Held, demand: Demand) -> Ticket {
        let ticket = Ticket {
            limiter,
            id: Arc::from(id),
            backend: held.backend,
            client: held.client,
            key: held.key,
            skipped: held.skipped,
            affinity: held.affinity,
            demand,
            settled: false,
        };
        ticket.hold();
        ticket
    }

    /// Registers what is held in Redis for renewal.
    fn hold(&self) {
        if self.backend == Backend::Shared {
            let key_takes = self.key.iter().flat_map(|(_, k)| k.takes.iter());
            let all: Vec<Take> = self.client.iter().chain(key_takes).cloned().collect();
            self.limiter.hold(&self.id, &all);
        }
    }

    /// The order to try `n` candidates in: the ones the admission passed over (so the
    /// record shows why), the one whose key it took (the client's affinity may have put it
    /// ahead of the routing order), then the rest in the routing order.
    pub fn order(&self, n: usize) -> Vec<usize> {
        let taken = self.key.as_ref().map(|(i, _)| *i);
        let first: Vec<usize> = self
            .skipped
            .iter()
            .map(|s| s.candidate)
            .chain(taken)
            .filter(|i| *i < n)
            .collect();
        let rest = (0..n).filter(|i| !first.contains(i));
        first.iter().copied().chain(rest).collect()
    }

    /// Whether settling needs the request's cost (it has a budget).
    pub fn needs_cost(&self) -> bool {
        self.client.iter().any(|t| t.name.is_budget())
    }

    /// Whether candidate `index` may be tried: its key is taken (at admission or now),
    /// or it is passed over (cooling down, or at one of its limits). Taking a later
    /// candidate's key releases the previous key's slot first.
    pub async fn key_for(&mut self, index: usize, candidate: &Candidate) -> KeyTurn {
        if self.key.as_ref().is_some_and(|(i, _)| *i == index) {
            return KeyTurn::Go;
        }
        if let Some(s) = self.skipped.iter().find(|s| s.candidate == index) {
            return KeyTurn::Skip(s.reason);
        }
        let key = &candidate.route.key;
        if self.backend == Backend::Nothing
            && !key.limits.counts()
            && self.limiter.local_cooldowns.load(std::sync::atomic::Ordering::Relaxed) == 0
        {
            return KeyTurn::Go;
        }
        self.release_key();
        let takes = super::key_takes(key, self.demand.tokens);
        let (skip, backend) = self
            .limiter
            .take_key(&self.id, &takes, self.backend, self.affinity.as_ref())
            .await;
        if let Some(s) = skip {
            return KeyTurn::Skip(s.reason);
        }
        if self.backend == Backend::Nothing {
            self.backend = backend;
        }
        self.key = Some((index, takes));
        self.hold();
        KeyTurn::Go
    }

    /// The attempt on the held key ended without an answer to relay: its slot is
    /// released (its rate takes stay spent: the provider counted the attempt).
    pub fn release_key(&mut self) {
        if let Some((_, key)) = self.key.take() {
            let items: Vec<Settled> = key
                .takes
                .into_iter()
                .filter(|t| t.kind == TakeKind::Lease)
                .map(|take| Settled { used: 0, take })
                .collect();
            self.limiter.settle(self.id.clone(), self.backend, items);
            self.hold();
        }
    }

    /// Settles to what the request really used: `tokens` in all, `cost` at list prices.
    pub fn settle(mut self, tokens: u64, cost: NanoUsd) {
        self.settled = true;
        let items = self.items(|t| match t.name {
            LimitName::Requests => t.amount,
            LimitName::Tokens => i64::try_from(tokens).unwrap_or(i64::MAX),
            LimitName::Concurrent => 0,
            LimitName::BudgetDaily | LimitName::BudgetMonthly | LimitName::BudgetTotal => cost.0.max(0),
        });
        self.limiter.settle(self.id.clone(), self.backend, items);
    }

    fn items(&mut self, used: impl Fn(&Take) -> i64) -> Vec<Settled> {
        let key_takes = self.key.take().into_iter().flat_map(|(_, k)| k.takes);
        std::mem::take(&mut self.client)
            .into_iter()
            .chain(key_takes)
            .map(|take| Settled {
                used: used(&take),
                take,
            })
            .collect()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.settled || self.backend == Backend::Nothing {
            return;
        }
        // Never settled (a path that ended early): slots back, the worst case stays spent.
        let items = self.items(|t| match t.kind {
            TakeKind::Lease => 0,
            _ => t.amount,
        });
        self.limiter.settle(self.id.clone(), self.backend, items);
    }
}
