//! A gateway-wide budget of request-body bytes held at once.
//!
//! Aether reads every request body whole before it routes (failover replays it), so many
//! large bodies at once could hold gigabytes: `server.max_body_bytes` bounds one body, this
//! bounds them all together (`server.max_inflight_body_bytes`). Bytes are leased as they
//! arrive and given back when the request ends (the [`BodyLease`] drops); a body that would
//! pass the budget is refused with 503 in the client's shape, and the client may retry.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The budget, shared by every request of one gateway.
#[derive(Debug)]
pub struct BodyBudget {
    held: AtomicUsize,
    limit: usize,
}

/// Bytes of one request's body, held until dropped.
#[derive(Debug)]
pub struct BodyLease {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

/// The budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSpent {
    /// The budget, in bytes.
    pub limit: usize,
}

impl BodyBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(BodyBudget {
            held: AtomicUsize::new(0),
            limit,
        })
    }

    /// An empty lease, grown with [`BodyLease::grow`].
    pub fn lease(self: &Arc<Self>) -> BodyLease {
        BodyLease {
            budget: Arc::clone(self),
            bytes: 0,
        }
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

impl BodyLease {
    /// Takes `more` bytes from the budget, or none when that would pass it.
    pub fn grow(&mut self, more: usize) -> Result<(), BudgetSpent> {
        let budget = &self.budget;
        let taken = budget.held.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
            held.checked_add(more).filter(|&total| total <= budget.limit)
        });
        match taken {
            Ok(_) => {
                self.bytes += more;
                Ok(())
            }
            Err(_) => Err(BudgetSpent { limit: budget.limit }),
        }
    }
}

impl Drop for BodyLease {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_take_and_give_back() {
        let budget = BodyBudget::new(100);
        let mut a = budget.lease();
        a.grow(60).unwrap();
        let mut b = budget.lease();
        assert_eq!(b.grow(50), Err(BudgetSpent { limit: 100 }));
        b.grow(40).unwrap();
        assert_eq!(budget.held(), 100);
        drop(a);
        assert_eq!(budget.held(), 40);
        b.grow(60).unwrap();
        drop(b);
        assert_eq!(budget.held(), 0);
    }
}
