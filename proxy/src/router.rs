//! Routing: the ordered candidate list `(provider, key, upstream model)` for a request.
//!
//! Order: provider priority (lower first); within a priority tier, weighted rendezvous
//! hashing of the client key against each provider key. Rendezvous hashing gives each
//! client a stable first choice (so a client sticks to one key and keeps that provider's
//! prompt cache warm), spreads clients across keys in proportion to their weights, and
//! gives a stable fallback order. Keys whose circuit is open are left out and counted.
//!
//! Capabilities: only keys that have every capability the request needs are candidates.
//! Within a priority tier, a key with a costlier capability the request does not need
//! (`context_1m`, `cache_1h`) comes after keys without it, so it stays free for the
//! requests that need it.

use std::time::Instant;

use crate::capability::Capabilities;
use crate::circuit::Admission;
use crate::config::compile::{Route, RuntimeConfig};
use crate::rendezvous;

/// One upstream to try.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Provider, key and upstream model.
    pub route: Route,
    /// Normal attempt or half-open probe.
    pub admission: Admission,
}

impl Candidate {
    /// The model name to send upstream.
    pub fn upstream_model<'a>(&'a self, requested: &'a str) -> &'a str {
        self.route.upstream_model.as_deref().unwrap_or(requested)
    }
}

/// The candidates for one request.
#[derive(Debug, Default)]
pub struct Plan {
    /// In the order to try them.
    pub candidates: Vec<Candidate>,
    /// Routes skipped because their circuit is open.
    pub skipped_open: usize,
    /// Whether any route serves the model at all.
    pub model_known: bool,
    /// When routes exist but none has every required capability: the ones missing from
    /// the closest route.
    pub missing: Capabilities,
}

/// Plans the candidates for `model` (already canonical) for the client whose key hashes to
/// `client_hash`.
pub fn plan(config: &RuntimeConfig, model: &str, required: Capabilities, client_hash: &[u8; 32], now: Instant) -> Plan {
    let routes = config.routes(model);
    let client_seed = rendezvous::seed(client_hash);
    let mut scored: Vec<(i32, u32, f64, &Route)> = routes
        .iter()
        .filter(|r| r.key.capabilities.covers(required))
        .map(|r| {
            // Costlier capabilities this key has that the request does not need.
            let unneeded_premium = required.missing(r.key.capabilities.intersection(Capabilities::PREMIUM));
            (
                r.provider.priority,
                unneeded_premium.len(),
                rendezvous::score(client_seed, r.key.affinity_seed, r.key.weight),
                r,
            )
        })
        .collect();
    // Priority ascending, then unneeded premium capabilities ascending, then score
    // descending; `total_cmp` keeps the order total.
    scored.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(b.2.total_cmp(&a.2)));
    let mut plan = Plan {
        model_known: !routes.is_empty(),
        ..Plan::default()
    };
    if scored.is_empty() {
        plan.missing = routes
            .iter()
            .map(|r| r.key.capabilities.missing(required))
            .min_by_key(|m| m.len())
            .unwrap_or(Capabilities::NONE);
    }
    for (_, _, _, route) in scored {
        match route.key.breaker.admit(&config.circuit, now) {
            Admission::Rejected => plan.skipped_open += 1,
            admission => plan.candidates.push(Candidate {
                route: route.clone(),
                admission,
            }),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::Capability;
    use crate::circuit::{CircuitRegistry, Outcome};
    use crate::config::ConfigFile;

    fn config(weights: &[u32]) -> RuntimeConfig {
        let mut text = String::from(
            "[[providers]]\nname = \"low\"\nformat = \"claude\"\nbase_url = \"http://127.0.0.1:1\"\npriority = 5\nmodels = { m = \"m\" }\n[[providers.keys]]\nname = \"only\"\napi_key = \"x\"\n",
        );
        text.push_str("[[providers]]\nname = \"main\"\nformat = \"claude\"\nbase_url = \"http://127.0.0.1:2\"\nmodels = { m = \"m\" }\n");
        for (i, w) in weights.iter().enumerate() {
            text.push_str(&format!(
                "[[providers.keys]]\nname = \"k{i}\"\napi_key = \"x\"\nweight = {w}\n"
            ));
        }
        let file: ConfigFile = toml::from_str(&text).unwrap();
        RuntimeConfig::compile(&file, &CircuitRegistry::default())
            .unwrap()
            .runtime
    }

    fn first_key(rt: &RuntimeConfig, client: u8) -> String {
        let p = plan(rt, "m", Capabilities::NONE, &[client; 32], Instant::now());
        p.candidates[0].route.key.name.clone()
    }

    #[test]
    fn priority_then_sticky_weighted_spread() {
        let rt = config(&[1, 3]);
        let p = plan(&rt, "m", Capabilities::NONE, &[7; 32], Instant::now());
        assert_eq!(p.candidates.len(), 3);
        assert_eq!(p.candidates[2].route.provider.name, "low", "lower priority tier last");
        // Sticky: the same client always gets the same first key.
        assert_eq!(first_key(&rt, 1), first_key(&rt, 1));
        // Spread by weight over many clients: k1 (weight 3) gets about three quarters.
        let k1 = (0..=255u8).filter(|c| first_key(&rt, *c) == "k1").count();
        assert!((150..230).contains(&k1), "k1 chosen for {k1} of 256 clients");
    }

    #[test]
    fn open_circuits_are_skipped() {
        let rt = config(&[1]);
        let key = &rt.routes("m")[0].key;
        let now = Instant::now();
        for _ in 0..5 {
            key.breaker.record(&rt.circuit, Outcome::Failure, now);
        }
        let p = plan(&rt, "m", Capabilities::NONE, &[1; 32], now);
        assert_eq!((p.candidates.len(), p.skipped_open), (1, 1));
        assert!(
            plan(&rt, "nope", Capabilities::NONE, &[1; 32], now)
                .candidates
                .is_empty()
        );
    }

    #[test]
    fn capabilities_filter_and_premium_keys_wait_for_requests_that_need_them() {
        let text = "[[providers]]\nname = \"p\"\nformat = \"claude\"\nbase_url = \"http://127.0.0.1:2\"\nmodels = { m = \"m\" }\n\
            [[providers.keys]]\nname = \"plain\"\napi_key = \"x\"\n\
            [[providers.keys]]\nname = \"big\"\napi_key = \"x\"\nweight = 1000\ncapabilities = [\"context_1m\"]\n\
            [[providers]]\nname = \"text-only\"\nformat = \"claude\"\nbase_url = \"http://127.0.0.1:3\"\npriority = 5\ncapabilities = []\nmodels = { m = \"m\" }\n\
            [[providers.keys]]\nname = \"t\"\napi_key = \"x\"\n";
        let file: ConfigFile = toml::from_str(text).unwrap();
        let rt = RuntimeConfig::compile(&file, &CircuitRegistry::default())
            .unwrap()
            .runtime;
        let now = Instant::now();
        let names = |required: Capabilities, client: u8| -> Vec<String> {
            plan(&rt, "m", required, &[client; 32], now)
                .candidates
                .iter()
                .map(|c| c.route.key.name.clone())
                .collect()
        };
        for client in 0..32u8 {
            // The heavy-weight 1M key never comes first for a request that does not need it.
            assert_eq!(names(Capabilities::NONE, client)[0], "plain");
        }
        let one_m: Capabilities = [Capability::Context1m].into_iter().collect();
        assert_eq!(names(one_m, 1), ["big"]);
        let vision: Capabilities = [Capability::Vision].into_iter().collect();
        assert!(
            !names(vision, 1).contains(&"t".to_string()),
            "text-only provider skipped"
        );
        let cache: Capabilities = [Capability::Cache1h, Capability::Vision].into_iter().collect();
        let p = plan(&rt, "m", cache, &[1; 32], now);
        assert!(p.candidates.is_empty());
        assert_eq!(p.missing.to_string(), "cache_1h");
    }
}
