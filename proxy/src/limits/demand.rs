//! What a request asks of the limits before it is sent: its tokens (the plugin's input
//! estimate plus the output it allows) and its worst-case cost at list prices.
//!
//! A request that names no output limit is taken at its model's `max_output` from the
//! price catalogue, or [`DEFAULT_MAX_OUTPUT`] for a model the catalogue does not know. The
//! worst case is over every candidate's upstream model, so failing over to a dearer one
//! cannot spend past a budget.

use crate::router::Candidate;
use crate::telemetry::money::NanoUsd;
use crate::telemetry::pricing::Pricing;

use super::take::Demand;

/// The output a request that names no limit is taken to allow, when its model's own
/// maximum is not known.
pub const DEFAULT_MAX_OUTPUT: u64 = 32_768;

/// The demand of a request for `requested` (as the client named it) with `(input
/// estimate, max output)`; the cost is worked out only when a budget needs it.
pub fn estimate(
    pricing: &Pricing,
    candidates: &[Candidate],
    requested: &str,
    (input, max_output): (u32, Option<u32>),
    budgets: bool,
    now_ms: i64,
) -> Demand {
    let input = u64::from(input);
    let models = candidates.iter().map(|c| c.upstream_model(requested));
    let output = max_output.map_or_else(
        || {
            models
                .clone()
                .filter_map(|m| pricing.model(m).and_then(|p| p.max_output))
                .max()
                .unwrap_or(DEFAULT_MAX_OUTPUT)
        },
        u64::from,
    );
    let cost = if budgets {
        models
            .filter_map(|m| pricing.model(m))
            .map(|price| {
                let unit = price.tier(input);
                unit.input
                    .cost(input)
                    .plus(unit.output.cost(output))
                    .plus(unit.per_request)
            })
            .max()
            .unwrap_or(NanoUsd::ZERO)
    } else {
        NanoUsd::ZERO
    };
    Demand {
        tokens: input.saturating_add(output),
        cost,
        now_ms,
    }
}
