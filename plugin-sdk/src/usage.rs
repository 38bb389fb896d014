//! Usage helpers: an empty report, and folding in a cumulative count without ever lowering
//! one already seen (stream events report running totals, and a later partial report must
//! not undo an earlier full one).

use crate::types::{Usage, UsageReport};

/// No tokens, nothing seen.
pub fn empty_report() -> UsageReport {
    UsageReport {
        usage: zero(),
        saw_usage: false,
        completed: false,
    }
}

/// Zero in every bucket.
pub fn zero() -> Usage {
    Usage {
        input: 0,
        output: 0,
        cache_creation5m: 0,
        cache_creation1h: 0,
        cache_read: 0,
        reasoning: 0,
    }
}

/// Raises each bucket of `into` to `seen` where `seen` is larger.
pub fn raise(into: &mut Usage, seen: &Usage) {
    into.input = into.input.max(seen.input);
    into.output = into.output.max(seen.output);
    into.cache_creation5m = into.cache_creation5m.max(seen.cache_creation5m);
    into.cache_creation1h = into.cache_creation1h.max(seen.cache_creation1h);
    into.cache_read = into.cache_read.max(seen.cache_read);
    into.reasoning = into.reasoning.max(seen.reasoning);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raise_never_lowers() {
        let mut u = zero();
        u.input = 10;
        let mut seen = zero();
        seen.output = 5;
        raise(&mut u, &seen);
        assert_eq!((u.input, u.output), (10, 5));
    }
}
