//! The in-process store: every counter in one map behind one mutex (held for a few
//! hash-map operations, never across an `.await`).
//!
//! It is the store without Redis, and each instance's fallback while Redis is unreachable
//! and a limit kind fails open (then with each limit divided among the instances). Its
//! rules are the Lua scripts' rules (`lua/admit.lua`, `lua/settle.lua`), step for step:
//!
//! - **Rate**: a bucket of `limit` that refills continuously at `limit` per minute. A take
//!   of `amount` passes when the bucket holds `min(amount, limit)`, and may leave it below
//!   zero: a request larger than the whole limit passes only from a full bucket, and the
//!   debt is repaid before anything else passes.
//! - **Lease**: passes while fewer than `limit` (or the adaptive concurrency) are held.
//! - **Budget**: passes while spent + reserved + this request's worst case ≤ `limit`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::admission::{AdmitAnswer, AdmitRequest, KeySkip, Pressure, Settled, SkipReason};
use super::take::{Take, TakeKind};
use super::view::{self, Counter, SlotView, refilled};

/// One counter.
#[derive(Debug, Clone)]
enum Slot {
    Bucket {
        level: f64,
        at: i64,
    },
    Leases(HashMap<Arc<str>, i64>),
    Budget {
        spent: i64,
        reserved: i64,
        held: HashMap<Arc<str>, i64>,
    },
    Until(i64),
    Level(f64),
    Affine {
        scope: Arc<str>,
        until: i64,
    },
}

/// The in-process store.
#[derive(Debug, Default)]
pub struct LocalStore {
    slots: Mutex<HashMap<String, Slot>>,
}

/// A check's verdict on one take.
struct Verdict {
    ok: bool,
    retry_ms: i64,
    remaining: i64,
    /// Rates: the level refilled to now.
    level: f64,
}

#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
fn check(slots: &mut HashMap<String, Slot>, t: &Take, now: i64) -> Verdict {
    match t.kind {
        TakeKind::Rate => {
            let level = match slots.get(&t.key) {
                Some(Slot::Bucket { level, at }) => refilled(*level, *at, t.limit, now),
                _ => t.limit as f64,
            };
            let need = t.amount.min(t.limit) as f64;
            if level >= need {
                Verdict {
                    ok: true,
                    retry_ms: 0,
                    remaining: (level - t.amount as f64).max(0.0) as i64,
                    level,
                }
            } else {
                Verdict {
                    ok: false,
                    retry_ms: ((need - level) * 60_000.0 / t.limit as f64).ceil() as i64,
                    remaining: level.max(0.0) as i64,
                    level,
                }
            }
        }
        TakeKind::Lease => {
            let mut limit = t.limit;
            if let Some((key, floor)) = &t.adaptive
                && let Some(Slot::Level(level)) = slots.get(key)
            {
                limit = limit.min((level.floor() as i64).max(*floor)).max(1);
            }
            let held = match slots.get_mut(&t.key) {
                Some(Slot::Leases(leases)) => {
                    leases.retain(|_, expires| *expires > now);
                    i64::try_from(leases.len()).unwrap_or(i64::MAX)
                }
                _ => 0,
            };
            Verdict {
                ok: held < limit,
                retry_ms: if held < limit { 0 } else { 1000 },
                remaining: (limit - held - 1).max(0),
                level: 0.0,
            }
        }
        TakeKind::Budget => {
            let (spent, reserved) = match slots.get(&t.key) {
                Some(Slot::Budget { spent, reserved, .. }) => (*spent, *reserved),
                _ => (0, 0),
            };
            let left = t.limit - spent - reserved;
            let ok = t.amount <= left;
            Verdict {
                ok,
                retry_ms: if ok || t.resets_at_ms == 0 {
                    0
                } else {
                    (t.resets_at_ms - now).max(0)
                },
                remaining: if ok { left - t.amount } else { left.max(0) },
                level: 0.0,
            }
        }
    }
}

fn apply(slots: &mut HashMap<String, Slot>, t: &Take, id: &Arc<str>, now: i64, level: f64) {
    match t.kind {
        TakeKind::Rate => {
            #[allow(clippy::cast_precision_loss)]
            let level = level - t.amount as f64;
            slots.insert(t.key.clone(), Slot::Bucket { level, at: now });
        }
        TakeKind::Lease => {
            let slot = slots
                .entry(t.key.clone())
                .or_insert_with(|| Slot::Leases(HashMap::new()));
            if let Slot::Leases(leases) = slot {
                // A lease here lives as long as the process: it is released, never lapses.
                leases.insert(id.clone(), i64::MAX);
            }
        }
        TakeKind::Budget => {
            let slot = slots.entry(t.key.clone()).or_insert_with(|| Slot::Budget {
                spent: 0,
                reserved: 0,
                held: HashMap::new(),
            });
            if let Slot::Budget { reserved, held, .. } = slot {
                *reserved += t.amount;
                held.insert(id.clone(), t.amount);
            }
        }
    }
}

impl LocalStore {
    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while holding the lock leaves counters, not broken invariants: go on.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks every take of `req` and applies them all, or none.
    pub fn admit(&self, req: &AdmitRequest<'_>, now: i64) -> AdmitAnswer {
        let id: Arc<str> = Arc::from(req.id);
        let mut slots = self.slots();
        let mut levels = Vec::with_capacity(req.client.len());
        for (i, t) in req.client.iter().enumerate() {
            let v = check(&mut slots, t, now);
            if !v.ok {
                return AdmitAnswer::Refused {
                    take: i,
                    retry_ms: v.retry_ms,
                    remaining: v.remaining,
                };
            }
            levels.push(v.level);
        }
        let mut skipped = Vec::new();
        let mut chosen = None;
        // The key the client last used for this model first, then the routing order.
        let preferred = req.affinity.and_then(|a| match slots.get(&a.key) {
            Some(Slot::Affine { scope, until }) if *until > now => req.candidates[..a.tier.min(req.candidates.len())]
                .iter()
                .position(|c| c.scope == *scope),
            _ => None,
        });
        let order = preferred
            .into_iter()
            .chain((0..req.candidates.len()).filter(|i| Some(*i) != preferred));
        for c in order {
            let cand = &req.candidates[c];
            if let Some(Slot::Until(until)) = slots.get(&cand.cool_key)
                && *until > now
            {
                skipped.push(KeySkip {
                    candidate: c,
                    reason: SkipReason::CoolingDown,
                    retry_ms: until - now,
                });
                continue;
            }
            let mut key_levels = Vec::with_capacity(cand.takes.len());
            let mut full = None;
            for t in &cand.takes {
                let v = check(&mut slots, t, now);
                if !v.ok {
                    full = Some(v.retry_ms);
                    break;
                }
                key_levels.push(v.level);
            }
            if let Some(retry_ms) = full {
                skipped.push(KeySkip {
                    candidate: c,
                    reason: SkipReason::Full,
                    retry_ms,
                });
                continue;
            }
            for (t, level) in cand.takes.iter().zip(key_levels) {
                apply(&mut slots, t, &id, now, level);
            }
            chosen = Some(c);
            break;
        }
        if !req.candidates.is_empty() && chosen.is_none() {
            let retry_ms = skipped.iter().map(|s| s.retry_ms).min().unwrap_or(0);
            // The key takes of a candidate that passed were never applied: nothing is taken.
            return AdmitAnswer::KeysBusy { retry_ms, skipped };
        }
        for (t, level) in req.client.iter().zip(levels) {
            apply(&mut slots, t, &id, now, level);
        }
        if let (Some(a), Some(c)) = (req.affinity, chosen) {
            slots.insert(
                a.key.clone(),
                Slot::Affine {
                    scope: req.candidates[c].scope.clone(),
                    until: now + a.ttl_ms,
                },
            );
        }
        AdmitAnswer::Admitted { chosen, skipped }
    }

    /// Settles what `id` took: rates corrected to what was used, leases released,
    /// reservations replaced by the real spend.
    pub fn settle(&self, id: &str, items: &[Settled], now: i64) {
        let mut slots = self.slots();
        for s in items {
            let t = &s.take;
            match t.kind {
                TakeKind::Rate => {
                    let delta = s.used - t.amount;
                    if delta == 0 {
                        continue;
                    }
                    if let Some(Slot::Bucket { level, at }) = slots.get_mut(&t.key) {
                        #[allow(clippy::cast_precision_loss)]
                        let refilled = refilled(*level, *at, t.limit, now) - delta as f64;
                        #[allow(clippy::cast_precision_loss)]
                        let cap = t.limit as f64;
                        *level = refilled.min(cap);
                        *at = now;
                    }
                }
                TakeKind::Lease => {
                    if let Some(Slot::Leases(leases)) = slots.get_mut(&t.key) {
                        leases.remove(id);
                    }
                }
                TakeKind::Budget => {
                    let slot = slots.entry(t.key.clone()).or_insert_with(|| Slot::Budget {
                        spent: 0,
                        reserved: 0,
                        held: HashMap::new(),
                    });
                    if let Slot::Budget { spent, reserved, held } = slot {
                        if let Some(amount) = held.remove(id) {
                            *reserved -= amount;
                        }
                        *spent += s.used.max(0);
                    }
                }
            }
        }
    }

    /// Cools `key` until `until_ms`, or keeps a later cooldown already there.
    pub fn cool(&self, key: &str, until_ms: i64) {
        let mut slots = self.slots();
        match slots.get_mut(key) {
            Some(Slot::Until(until)) => *until = (*until).max(until_ms),
            _ => {
                slots.insert(key.to_owned(), Slot::Until(until_ms));
            }
        }
    }

    /// Adjusts an adaptive concurrency within `[floor, ceiling]`.
    #[allow(clippy::cast_precision_loss)]
    pub fn adapt(&self, key: &str, pressure: Pressure, floor: i64, ceiling: i64) {
        let mut slots = self.slots();
        let current = match slots.get(key) {
            Some(Slot::Level(l)) => *l,
            _ => ceiling as f64,
        };
        let next = match pressure {
            Pressure::Throttled => (current / 2.0).max(floor as f64),
            Pressure::Succeeded => (current + 1.0 / current.max(1.0)).min(ceiling as f64),
        };
        slots.insert(key.to_owned(), Slot::Level(next));
    }

    /// The counters' state now, in `counters`' order.
    #[allow(clippy::cast_possible_truncation)]
    pub fn view(&self, counters: &[Counter], now: i64) -> Vec<SlotView> {
        let slots = self.slots();
        counters
            .iter()
            .map(|c| match (c, slots.get(c.key())) {
                (Counter::Rate { limit, .. }, Some(Slot::Bucket { level, at })) => SlotView::Rate {
                    available: refilled(*level, *at, *limit, now).floor() as i64,
                },
                (Counter::Rate { limit, .. }, _) => SlotView::Rate { available: *limit },
                (Counter::Lease { .. }, slot) => SlotView::Leases {
                    held: match slot {
                        Some(Slot::Leases(l)) => {
                            i64::try_from(l.values().filter(|e| **e > now).count()).unwrap_or(i64::MAX)
                        }
                        _ => 0,
                    },
                },
                (Counter::Budget { .. }, Some(Slot::Budget { spent, reserved, .. })) => view::budget(*spent, *reserved),
                (Counter::Budget { .. }, _) => view::budget(0, 0),
                (Counter::Cooldown { .. }, slot) => SlotView::Cooldown {
                    remaining_ms: match slot {
                        Some(Slot::Until(until)) => (until - now).max(0),
                        _ => 0,
                    },
                },
                (Counter::Adaptive { .. }, slot) => SlotView::Adaptive {
                    concurrency: match slot {
                        Some(Slot::Level(l)) => Some(*l),
                        _ => None,
                    },
                },
            })
            .collect()
    }

    /// How many cooldowns are not over.
    pub fn cooling(&self, now: i64) -> usize {
        self.slots()
            .values()
            .filter(|s| matches!(s, Slot::Until(until) if *until > now))
            .count()
    }

    /// Forgets counters that say nothing any more: past cooldowns, empty lease sets,
    /// buckets refilled to full, and budget periods that ended (`ended` names them).
    pub fn prune(&self, now: i64, full_after_ms: i64, ended: impl Fn(&str) -> bool) {
        let mut slots = self.slots();
        slots.retain(|k, s| match s {
            Slot::Until(until) => *until > now,
            Slot::Leases(l) => !l.is_empty(),
            Slot::Bucket { at, .. } => now - *at < full_after_ms,
            Slot::Budget { held, .. } => !(held.is_empty() && ended(k)),
            Slot::Level(_) => true,
            Slot::Affine { until, .. } => *until > now,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::take::{KeyTakes, LimitName, Owner};

    fn take(kind: TakeKind, key: &str, limit: i64, amount: i64) -> Take {
        Take {
            kind,
            key: key.into(),
            limit,
            amount,
            name: match kind {
                TakeKind::Rate => LimitName::Requests,
                TakeKind::Lease => LimitName::Concurrent,
                TakeKind::Budget => LimitName::BudgetTotal,
            },
            owner: Owner::Client(Arc::from("c")),
            resets_at_ms: 0,
            adaptive: None,
        }
    }

    fn admit(s: &LocalStore, id: &str, client: &[Take], now: i64) -> AdmitAnswer {
        s.admit(
            &AdmitRequest {
                id,
                client,
                candidates: &[],
                affinity: None,
            },
            now,
        )
    }

    #[test]
    fn a_rate_admits_its_limit_then_refills_continuously() {
        let s = LocalStore::default();
        let rpm = [take(TakeKind::Rate, "r", 20, 1)];
        for i in 0..20 {
            assert!(matches!(
                admit(&s, &i.to_string(), &rpm, 0),
                AdmitAnswer::Admitted { .. }
            ));
        }
        let AdmitAnswer::Refused {
            retry_ms, remaining, ..
        } = admit(&s, "x", &rpm, 0)
        else {
            panic!("the 21st passed")
        };
        assert_eq!((retry_ms, remaining), (3000, 0));
        assert!(matches!(admit(&s, "y", &rpm, 3000), AdmitAnswer::Admitted { .. }));
    }

    #[test]
    fn tokens_are_given_back_or_topped_up() {
        let s = LocalStore::default();
        let t = take(TakeKind::Rate, "t", 1000, 800);
        assert!(matches!(
            admit(&s, "a", std::slice::from_ref(&t), 0),
            AdmitAnswer::Admitted { .. }
        ));
        assert!(matches!(
            admit(&s, "b", std::slice::from_ref(&t), 0),
            AdmitAnswer::Refused { .. }
        ));
        // The first used 100 of its 800: 700 come back.
        s.settle(
            "a",
            &[Settled {
                take: t.clone(),
                used: 100,
            }],
            0,
        );
        assert!(matches!(
            admit(&s, "b", std::slice::from_ref(&t), 0),
            AdmitAnswer::Admitted { .. }
        ));
    }

    #[test]
    fn all_or_nothing() {
        let s = LocalStore::default();
        let wide = take(TakeKind::Rate, "wide", 100, 1);
        let narrow = take(TakeKind::Lease, "narrow", 1, 1);
        let both = [wide.clone(), narrow.clone()];
        assert!(matches!(admit(&s, "a", &both, 0), AdmitAnswer::Admitted { .. }));
        assert!(matches!(admit(&s, "b", &both, 0), AdmitAnswer::Refused { take: 1, .. }));
        // The refused request took nothing from the wide limit.
        let wide_view = s.view(
            &[Counter::Rate {
                key: "wide".into(),
                limit: 100,
            }],
            0,
        );
        assert_eq!(wide_view, vec![SlotView::Rate { available: 99 }]);
        s.settle("a", &[Settled { take: narrow, used: 1 }], 0);
        assert!(matches!(admit(&s, "b", &both, 0), AdmitAnswer::Admitted { .. }));
    }

    #[test]
    fn budgets_reserve_then_settle_to_the_real_cost() {
        let s = LocalStore::default();
        let b = take(TakeKind::Budget, "b", 100, 60);
        assert!(matches!(
            admit(&s, "a", std::slice::from_ref(&b), 0),
            AdmitAnswer::Admitted { .. }
        ));
        // 60 reserved: another worst case of 60 does not fit.
        assert!(matches!(
            admit(&s, "b", std::slice::from_ref(&b), 0),
            AdmitAnswer::Refused { remaining: 40, .. }
        ));
        s.settle(
            "a",
            &[Settled {
                take: b.clone(),
                used: 10,
            }],
            0,
        );
        assert!(matches!(
            admit(&s, "b", std::slice::from_ref(&b), 0),
            AdmitAnswer::Admitted { .. }
        ));
        s.settle(
            "b",
            &[Settled {
                take: b.clone(),
                used: 50,
            }],
            0,
        );
        assert_eq!(
            s.view(&[Counter::Budget { key: "b".into() }], 0),
            vec![view::budget(60, 0)]
        );
    }

    #[test]
    fn keys_cooling_down_or_full_are_passed_over() {
        let s = LocalStore::default();
        let key = |name: &str| KeyTakes {
            scope: Arc::from(name),
            cool_key: format!("cool:{name}"),
            takes: vec![take(TakeKind::Lease, &format!("c:{name}"), 1, 1)],
        };
        let cands = [key("a"), key("b")];
        s.cool("cool:a", 5000);
        let req = |id| AdmitRequest {
            id,
            client: &[],
            candidates: &cands,
            affinity: None,
        };
        let AdmitAnswer::Admitted { chosen, skipped } = s.admit(&req("1"), 0) else {
            panic!()
        };
        assert_eq!(chosen, Some(1));
        assert_eq!(skipped[0].reason, SkipReason::CoolingDown);
        // b is full now, a still cooling: busy, retry when a's cooldown ends.
        assert_eq!(
            s.admit(&req("2"), 1000),
            AdmitAnswer::KeysBusy {
                retry_ms: 1000,
                skipped: vec![
                    KeySkip {
                        candidate: 0,
                        reason: SkipReason::CoolingDown,
                        retry_ms: 4000
                    },
                    KeySkip {
                        candidate: 1,
                        reason: SkipReason::Full,
                        retry_ms: 1000
                    }
                ]
            }
        );
        assert!(matches!(
            s.admit(&req("3"), 5000),
            AdmitAnswer::Admitted { chosen: Some(0), .. }
        ));
    }

    #[test]
    fn adaptive_concurrency_halves_and_grows_back() {
        let s = LocalStore::default();
        let mut lease = take(TakeKind::Lease, "c:k", 8, 1);
        lease.adaptive = Some(("adapt:k".into(), 2));
        s.adapt("adapt:k", Pressure::Throttled, 2, 8);
        s.adapt("adapt:k", Pressure::Throttled, 2, 8);
        s.adapt("adapt:k", Pressure::Throttled, 2, 8);
        for id in ["a", "b"] {
            assert!(matches!(
                admit(&s, id, std::slice::from_ref(&lease), 0),
                AdmitAnswer::Admitted { .. }
            ));
        }
        assert!(matches!(
            admit(&s, "c", std::slice::from_ref(&lease), 0),
            AdmitAnswer::Refused { .. }
        ));
        for _ in 0..3 {
            s.adapt("adapt:k", Pressure::Succeeded, 2, 8);
        }
        assert!(matches!(
            admit(&s, "c", std::slice::from_ref(&lease), 0),
            AdmitAnswer::Admitted { .. }
        ));
    }
}
