//! Telemetry's inputs compiled from a config file: its own `[telemetry]` section, the
//! `[pricing]` section with each provider key's `cost_multiplier`, and the label values its
//! metrics allow (the configured models, aliases and providers). Telemetry takes these and
//! never the whole file, so it does not depend on the config module.

use std::collections::HashMap;
use std::sync::Arc;

use super::file::ConfigFile;
use crate::telemetry::money::Multiplier;
use crate::telemetry::{Labels, Pricing, PricingError, TelemetryInputs};

/// Telemetry's inputs from a file alone (for tools and tests; `serve` takes the prices and
/// labels its config pass already built, [`super::RuntimeConfig`]). The first invalid price
/// or multiplier is an error naming its path.
pub fn telemetry_inputs(file: &ConfigFile) -> Result<TelemetryInputs, PricingError> {
    Ok(TelemetryInputs {
        settings: file.telemetry.clone(),
        pricing: Arc::new(pricing(file)?),
        labels: labels(file),
    })
}

/// The pricing of a config file: `[pricing]` over the catalogue, with the keys' multipliers.
pub fn pricing(file: &ConfigFile) -> Result<Pricing, PricingError> {
    let mut multipliers = HashMap::new();
    for (i, p) in file.providers.iter().enumerate() {
        for (k, key) in p.keys.iter().enumerate() {
            if let Some(m) = key.cost_multiplier {
                let multiplier = Multiplier::from_f64(m).ok_or_else(|| PricingError::Invalid {
                    path: format!("providers[{i}].keys[{k}].cost_multiplier"),
                    message: "must be a number from 0 to 1000".into(),
                })?;
                multipliers.insert((p.name.clone(), key.name.clone()), multiplier);
            }
        }
    }
    Pricing::new(&file.pricing, multipliers)
}

/// The label values metrics allow: client-facing model names (not the `*` wildcard),
/// aliases, and provider names.
pub fn labels(file: &ConfigFile) -> Labels {
    let models = file
        .providers
        .iter()
        .flat_map(|p| p.models.keys().filter(|m| *m != "*").cloned())
        .chain(file.aliases.keys().cloned());
    Labels::new(models, file.providers.iter().map(|p| p.name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One provider `a` serving `house` and `*`, whose key `k` has this multiplier.
    fn file(cost_multiplier: f64) -> ConfigFile {
        toml::from_str(&format!(
            r#"
            [[providers]]
            name = "a"
            format = "claude"
            base_url = "http://127.0.0.1:1"
            models = {{ "house" = "house", "*" = "*" }}
            [[providers.keys]]
            name = "k"
            api_key = "env:NOPE"
            cost_multiplier = {cost_multiplier:?}
            "#
        ))
        .unwrap()
    }

    #[test]
    fn multipliers_and_labels_come_from_the_providers() {
        let file = file(0.5);
        let pricing = pricing(&file).unwrap();
        assert_eq!(pricing.multiplier("a", "k"), Multiplier::from_f64(0.5).unwrap());
        assert_eq!(pricing.multiplier("a", "other"), Multiplier::ONE);
        // The wildcard is not a model name a label may take.
        let labels = format!("{:?}", labels(&file));
        assert!(!labels.contains("\"*\"") && labels.contains("\"house\""), "{labels}");
    }

    #[test]
    fn an_out_of_range_multiplier_names_its_path() {
        match pricing(&file(2000.0)) {
            Err(PricingError::Invalid { path, .. }) => assert_eq!(path, "providers[0].keys[0].cost_multiplier"),
            other => panic!("{other:?}"),
        }
    }
}
