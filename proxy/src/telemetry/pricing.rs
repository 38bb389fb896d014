//! The price catalogue and the cost of a request.
//!
//! Prices are per million tokens in USD, per model: `input`, `output`, `cache_write_5m`,
//! `cache_write_1h`, `cache_read`, an optional `per_request` price, and optional `tiers` by
//! input context size. The shipped catalogue (`conf/prices.toml`, built into the binary) is
//! the base; `[pricing] catalogue = "path"` replaces it with another file, and
//! `[pricing.models."name"]` entries in the config add models or replace a catalogue entry
//! wholesale.
//!
//! Rules (the reference behaviour, section 7):
//! - **Tier**: the input context is every input bucket (see [`Usage::context_tokens`]); the
//!   first tier whose `up_to` is absent or ≥ the context applies, else the last tier. A tier's
//!   missing prices are the model's base prices.
//! - **Missing cache prices** (decided here, from the tier's input price): cache write 5m =
//!   1.25 × input, cache write 1h = 2 × input (Anthropic's published multipliers), cache read
//!   = 0.1 × input. OpenAI and Gemini never report cache writes, so their write prices never
//!   apply; their catalogue entries set `cache_read` explicitly.
//! - **Cost** per bucket = tokens × price, exact in integers ([`super::money`]); the
//!   `per_request` price is charged unless the request failed or answered an HTTP error.
//! - **Actual cost** = list total × the provider key's `cost_multiplier` (default 1).
//! - **Lookup**: the upstream model, then the requested model; each exactly, then without a
//!   trailing date (`-20250929`, `-2025-04-14`) or `-latest`, then without a `models/`
//!   prefix. A model with no price leaves the record's cost empty (counted in the metrics).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use thiserror::Error;

use super::money::{Multiplier, NanoUsd, PricePerMTok};
use super::record::{Cost, Status, UnitPrices, Usage, UsageRecord};

/// The shipped catalogue, built in.
pub const BUILTIN_CATALOGUE: &str = include_str!("../../../conf/prices.toml");

/// A catalogue or price that cannot be used.
#[derive(Debug, Error)]
pub enum PricingError {
    /// The catalogue file could not be read.
    #[error("pricing.catalogue: cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The catalogue file is not a valid catalogue.
    #[error("pricing.catalogue: {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        source: toml::de::Error,
    },
    /// A price, tier or multiplier is invalid.
    #[error("{path}: {message}")]
    Invalid {
        /// Path of the field.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// `[pricing]` in `aether.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingSection {
    /// A catalogue file replacing the built-in one (same format as `conf/prices.toml`).
    pub catalogue: Option<String>,
    /// Models added to, or replacing entries of, the catalogue.
    #[serde(default)]
    pub models: BTreeMap<String, PriceEntry>,
}

/// A catalogue file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueFile {
    /// When the list prices were taken (informational).
    pub taken: Option<String>,
    /// Model → prices.
    #[serde(default)]
    pub models: BTreeMap<String, PriceEntry>,
}

/// Prices of one model, USD per million tokens.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceEntry {
    /// Uncached input.
    pub input: Option<f64>,
    /// Output (reasoning included).
    pub output: Option<f64>,
    /// Cache write, 5-minute TTL (default 1.25 × input).
    pub cache_write_5m: Option<f64>,
    /// Cache write, 1-hour TTL (default 2 × input).
    pub cache_write_1h: Option<f64>,
    /// Cache read (default 0.1 × input).
    pub cache_read: Option<f64>,
    /// USD per request, charged unless the request failed.
    pub per_request: Option<f64>,
    /// Other names of the same model (e.g. dated snapshots).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The most output tokens the model writes when a request names no limit: what a
    /// budget or token limit reserves for such a request.
    pub max_output: Option<u64>,
    /// Prices by input context size; the first tier with `up_to` absent or ≥ the context.
    #[serde(default)]
    pub tiers: Vec<TierEntry>,
}

/// One tier; absent prices are the model's base prices.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierEntry {
    /// Largest input context (tokens) of this tier; absent = no limit.
    pub up_to: Option<u64>,
    /// Input.
    pub input: Option<f64>,
    /// Output.
    pub output: Option<f64>,
    /// Cache write 5m.
    pub cache_write_5m: Option<f64>,
    /// Cache write 1h.
    pub cache_write_1h: Option<f64>,
    /// Cache read.
    pub cache_read: Option<f64>,
    /// Per request.
    pub per_request: Option<f64>,
}

/// A model's compiled prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPrice {
    /// `(up_to, prices)`; one entry `(None, base)` when the model has no tiers.
    pub tiers: Vec<(Option<u64>, UnitPrices)>,
    /// The most output tokens a request that names no limit can get.
    pub max_output: Option<u64>,
}

impl ModelPrice {
    /// The prices for an input context of `context` tokens.
    pub fn tier(&self, context: u64) -> UnitPrices {
        self.tiers
            .iter()
            .find(|(up_to, _)| up_to.is_none_or(|limit| limit >= context))
            .or(self.tiers.last())
            .map(|(_, p)| *p)
            .unwrap_or_default()
    }
}

/// Whether a request is charged its per-request price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestCharge {
    /// Charged (the request was answered without an HTTP error).
    Charged,
    /// Not charged (failed, or answered with an HTTP error).
    Waived,
}

impl RequestCharge {
    /// The rule for a record: waived when failed or the HTTP status is an error.
    pub fn for_record(status: Status, http_status: Option<u16>) -> RequestCharge {
        if status == Status::Failed || http_status.is_some_and(|s| s >= 400) {
            RequestCharge::Waived
        } else {
            RequestCharge::Charged
        }
    }
}

/// Prices and provider-key multipliers, compiled from config.
#[derive(Debug, Clone, Default)]
pub struct Pricing {
    models: HashMap<String, Arc<ModelPrice>>,
    multipliers: HashMap<(String, String), Multiplier>,
    /// When the catalogue's prices were taken.
    pub taken: Option<String>,
}

impl Pricing {
    /// Builds the pricing from the `[pricing]` section: the built-in (or configured)
    /// catalogue, the section's own entries over it, and the provider keys' cost multipliers
    /// (which the config compiles, keyed by provider and key name).
    pub fn new(
        section: &PricingSection,
        multipliers: HashMap<(String, String), Multiplier>,
    ) -> Result<Pricing, PricingError> {
        let catalogue: CatalogueFile = match &section.catalogue {
            Some(path) => {
                let text = std::fs::read_to_string(Path::new(path)).map_err(|source| PricingError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| PricingError::Parse {
                    path: path.clone(),
                    source,
                })?
            }
            None => toml::from_str(BUILTIN_CATALOGUE).map_err(|source| PricingError::Parse {
                path: "built-in conf/prices.toml".into(),
                source,
            })?,
        };
        let mut pricing = Pricing {
            taken: catalogue.taken.clone(),
            ..Pricing::default()
        };
        for (name, entry) in &catalogue.models {
            pricing.add(&format!("catalogue.models.{name}"), name, entry)?;
        }
        for (name, entry) in &section.models {
            pricing.add(&format!("pricing.models.{name}"), name, entry)?;
        }
        pricing.multipliers = multipliers;
        Ok(pricing)
    }

    /// Adds (or replaces) one model.
    pub fn add(&mut self, path: &str, name: &str, entry: &PriceEntry) -> Result<(), PricingError> {
        let price = Arc::new(compile_entry(path, entry)?);
        for alias in &entry.aliases {
            self.models.insert(alias.clone(), price.clone());
        }
        self.models.insert(name.to_owned(), price);
        Ok(())
    }

    /// Number of priced model names (aliases included).
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether no model is priced.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// The prices of a model, by the lookup rules of this module.
    pub fn model(&self, name: &str) -> Option<&ModelPrice> {
        let name = name.strip_prefix("models/").unwrap_or(name);
        if let Some(p) = self.models.get(name) {
            return Some(p);
        }
        let base = strip_version_suffix(name);
        (base != name).then(|| self.models.get(base)).flatten().map(|p| &**p)
    }

    /// A provider key's multiplier (×1 when not configured).
    pub fn multiplier(&self, provider: &str, key: &str) -> Multiplier {
        self.multipliers
            .get(&(provider.to_owned(), key.to_owned()))
            .copied()
            .unwrap_or_default()
    }

    /// The cost of a record: `None` when neither its upstream nor its requested model is
    /// priced.
    pub fn price(&self, record: &UsageRecord) -> Option<Cost> {
        let model = [record.upstream_model.as_deref(), record.requested_model.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|m| self.model(m))?;
        let multiplier = match (&record.provider, &record.provider_key) {
            (Some(p), Some(k)) => self.multiplier(p, k),
            _ => Multiplier::ONE,
        };
        let charge = RequestCharge::for_record(record.status, record.http_status);
        Some(cost(model, &record.usage, charge, multiplier))
    }
}

/// The cost of `usage` at `model`'s prices.
pub fn cost(model: &ModelPrice, usage: &Usage, charge: RequestCharge, multiplier: Multiplier) -> Cost {
    let prices = model.tier(usage.context_tokens());
    let mut c = Cost {
        input: prices.input.cost(usage.input),
        output: prices.output.cost(usage.output),
        cache_write_5m: prices.cache_write_5m.cost(usage.cache_creation_5m),
        cache_write_1h: prices.cache_write_1h.cost(usage.cache_creation_1h),
        cache_read: prices.cache_read.cost(usage.cache_read),
        request: match charge {
            RequestCharge::Charged => prices.per_request,
            RequestCharge::Waived => NanoUsd::ZERO,
        },
        multiplier,
        prices,
        ..Cost::default()
    };
    c.total = [
        c.input,
        c.output,
        c.cache_write_5m,
        c.cache_write_1h,
        c.cache_read,
        c.request,
    ]
    .into_iter()
    .fold(NanoUsd::ZERO, NanoUsd::plus);
    c.actual_total = c.total.times(multiplier);
    c
}

/// `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`; `gpt-4.1-2025-04-14` → `gpt-4.1`;
/// `x-latest` → `x`.
fn strip_version_suffix(name: &str) -> &str {
    if let Some(base) = name.strip_suffix("-latest") {
        return base;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((base, tail)) = name.rsplit_once('-')
        && tail.len() == 8
        && digits(tail)
    {
        return base;
    }
    // -YYYY-MM-DD
    if name.len() > 11 {
        let (base, tail) = name.split_at(name.len() - 11);
        let b = tail.as_bytes();
        if b[0] == b'-'
            && b[5] == b'-'
            && b[8] == b'-'
            && digits(&tail[1..5])
            && digits(&tail[6..8])
            && digits(&tail[9..])
        {
            return base;
        }
    }
    name
}

fn usd(path: &str, field: &str, value: Option<f64>) -> Result<Option<PricePerMTok>, PricingError> {
    value
        .map(|v| {
            PricePerMTok::from_usd(v).ok_or_else(|| PricingError::Invalid {
                path: format!("{path}.{field}"),
                message: "must be a non-negative number".into(),
            })
        })
        .transpose()
}

fn compile_entry(path: &str, e: &PriceEntry) -> Result<ModelPrice, PricingError> {
    let base = TierEntry {
        up_to: None,
        input: e.input,
        output: e.output,
        cache_write_5m: e.cache_write_5m,
        cache_write_1h: e.cache_write_1h,
        cache_read: e.cache_read,
        per_request: e.per_request,
    };
    let resolve = |path: &str, t: &TierEntry| -> Result<UnitPrices, PricingError> {
        let pick = |field: &str, a: Option<f64>, b: Option<f64>| usd(path, field, a.or(b));
        let input = pick("input", t.input, base.input)?.ok_or_else(|| PricingError::Invalid {
            path: format!("{path}.input"),
            message: "an input price is required".into(),
        })?;
        let output = pick("output", t.output, base.output)?.ok_or_else(|| PricingError::Invalid {
            path: format!("{path}.output"),
            message: "an output price is required".into(),
        })?;
        let per_request = pick("per_request", t.per_request, base.per_request)?
            // USD per request → nano-USD: the per-million price unit is micro-USD, so ×1000.
            .map_or(NanoUsd::ZERO, |p| {
                NanoUsd(i64::try_from(p.0.saturating_mul(1000)).unwrap_or(i64::MAX))
            });
        Ok(UnitPrices {
            input,
            output,
            cache_write_5m: pick("cache_write_5m", t.cache_write_5m, base.cache_write_5m)?
                .unwrap_or_else(|| input.scaled(5, 4)),
            cache_write_1h: pick("cache_write_1h", t.cache_write_1h, base.cache_write_1h)?
                .unwrap_or_else(|| input.scaled(2, 1)),
            cache_read: pick("cache_read", t.cache_read, base.cache_read)?.unwrap_or_else(|| input.scaled(1, 10)),
            per_request,
        })
    };
    if e.tiers.is_empty() {
        return Ok(ModelPrice {
            tiers: vec![(None, resolve(path, &base)?)],
            max_output: e.max_output,
        });
    }
    let mut tiers = Vec::with_capacity(e.tiers.len());
    let mut last_limit: Option<u64> = None;
    for (i, t) in e.tiers.iter().enumerate() {
        let tpath = format!("{path}.tiers[{i}]");
        match (last_limit, t.up_to) {
            (Some(prev), Some(up)) if up <= prev => {
                return Err(PricingError::Invalid {
                    path: format!("{tpath}.up_to"),
                    message: "tiers must have increasing up_to".into(),
                });
            }
            _ => {}
        }
        if i > 0 && tiers.last().is_some_and(|(up, _): &(Option<u64>, _)| up.is_none()) {
            return Err(PricingError::Invalid {
                path: tpath,
                message: "only the last tier may omit up_to".into(),
            });
        }
        last_limit = t.up_to.or(last_limit);
        tiers.push((t.up_to, resolve(&tpath, t)?));
    }
    Ok(ModelPrice {
        tiers,
        max_output: e.max_output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64, c5: u64, c1: u64, read: u64, reasoning: u64) -> Usage {
        Usage::of(input, output, c5, c1, read, reasoning)
    }

    fn builtin() -> Pricing {
        Pricing::new(&PricingSection::default(), HashMap::new()).unwrap()
    }

    #[test]
    fn builtin_catalogue_parses_and_has_the_common_models() {
        let p = builtin();
        for m in [
            "claude-sonnet-4-5",
            "claude-opus-4-1",
            "claude-haiku-4-5",
            "gpt-4.1",
            "gpt-4o-mini",
            "gpt-5",
            "gemini-2.5-pro",
            "gemini-2.5-flash",
        ] {
            assert!(p.model(m).is_some(), "{m} missing");
        }
        assert!(p.model("claude-sonnet-4-5-20250929").is_some());
        assert!(p.model("gpt-4.1-2025-04-14").is_some());
        assert!(p.model("models/gemini-2.5-flash").is_some());
        assert!(p.model("no-such-model").is_none());
    }

    /// Claude Sonnet 4.5 at $3 / $15 / $3.75 (5m write) / $6 (1h write) / $0.30 (read).
    #[test]
    fn sonnet_with_cache_writes_and_reads_hand_checked() {
        let p = builtin();
        let m = p.model("claude-sonnet-4-5").unwrap();
        // 1,000 input × $3 = $0.003; 2,000 output × $15 = $0.03;
        // 10,000 5m writes × $3.75 = $0.0375; 20,000 1h writes × $6 = $0.12;
        // 100,000 reads × $0.30 = $0.03. Total $0.2205 (context 131,000 ≤ 200k).
        let c = cost(
            m,
            &usage(1_000, 2_000, 10_000, 20_000, 100_000, 0),
            RequestCharge::Charged,
            Multiplier::ONE,
        );
        assert_eq!(c.input, NanoUsd(3_000_000));
        assert_eq!(c.output, NanoUsd(30_000_000));
        assert_eq!(c.cache_write_5m, NanoUsd(37_500_000));
        assert_eq!(c.cache_write_1h, NanoUsd(120_000_000));
        assert_eq!(c.cache_read, NanoUsd(30_000_000));
        assert_eq!(c.total, NanoUsd(220_500_000));
        assert_eq!(c.total.to_usd_string(), "0.220500000");
        assert_eq!(c.actual_total, c.total);
    }

    /// Over 200k tokens of context, Sonnet 4.5 costs $6 / $22.50 / $7.50 / $12 / $0.60.
    #[test]
    fn tiers_by_context_including_cache() {
        let p = builtin();
        let m = p.model("claude-sonnet-4-5").unwrap();
        // 10k uncached + 195k cache read = 205k context → the long-context tier.
        let c = cost(
            m,
            &usage(10_000, 1_000, 0, 0, 195_000, 0),
            RequestCharge::Charged,
            Multiplier::ONE,
        );
        assert_eq!(c.prices.input, PricePerMTok(6_000_000));
        // 10,000 × $6 = $0.06; 1,000 × $22.50 = $0.0225; 195,000 × $0.60 = $0.117.
        assert_eq!(c.total, NanoUsd(60_000_000 + 22_500_000 + 117_000_000));
        // Exactly 200k stays in the first tier.
        let c = cost(
            m,
            &usage(5_000, 0, 0, 0, 195_000, 0),
            RequestCharge::Charged,
            Multiplier::ONE,
        );
        assert_eq!(c.prices.input, PricePerMTok(3_000_000));
    }

    /// OpenAI: reasoning is inside output, billed once; cached input at the cache price.
    #[test]
    fn reasoning_is_not_double_counted() {
        let p = builtin();
        let m = p.model("gpt-5").unwrap(); // $1.25 in, $0.125 cached, $10 out
        // prompt 10,000 of which 8,000 cached; completion 3,000 of which 2,500 reasoning.
        let c = cost(
            m,
            &usage(2_000, 3_000, 0, 0, 8_000, 2_500),
            RequestCharge::Charged,
            Multiplier::ONE,
        );
        // 2,000 × 1.25 = $0.0025; 8,000 × 0.125 = $0.001; 3,000 × 10 = $0.03.
        assert_eq!(c.total, NanoUsd(2_500_000 + 1_000_000 + 30_000_000));
    }

    #[test]
    fn missing_cache_prices_default_from_input() {
        let mut p = Pricing::default();
        let entry = PriceEntry {
            input: Some(2.0),
            output: Some(8.0),
            per_request: Some(0.01),
            ..PriceEntry::default()
        };
        p.add("t", "m", &entry).unwrap();
        let prices = p.model("m").unwrap().tier(0);
        assert_eq!(prices.cache_write_5m, PricePerMTok(2_500_000));
        assert_eq!(prices.cache_write_1h, PricePerMTok(4_000_000));
        assert_eq!(prices.cache_read, PricePerMTok(200_000));
        assert_eq!(prices.per_request, NanoUsd(10_000_000));
        let m = p.model("m").unwrap();
        let charged = cost(m, &usage(0, 0, 0, 0, 0, 0), RequestCharge::Charged, Multiplier::ONE);
        assert_eq!(charged.total, NanoUsd(10_000_000));
        let failed = cost(m, &usage(0, 0, 0, 0, 0, 0), RequestCharge::Waived, Multiplier::ONE);
        assert_eq!(failed.total, NanoUsd::ZERO);
    }

    #[test]
    fn multiplier_gives_actual_cost() {
        let p = builtin();
        let m = p.model("claude-haiku-4-5").unwrap(); // $1 in, $5 out
        let c = cost(
            m,
            &usage(1_000_000, 100_000, 0, 0, 0, 0),
            RequestCharge::Charged,
            Multiplier::from_f64(0.8).unwrap(),
        );
        assert_eq!(c.total, NanoUsd(1_500_000_000)); // $1 + $0.50
        assert_eq!(c.actual_total, NanoUsd(1_200_000_000));
    }

    #[test]
    fn records_are_priced_by_upstream_model_with_key_multiplier() {
        let section: PricingSection = toml::from_str(
            r#"
            [models."house-model"]
            input = 1.0
            output = 2.0
            "#,
        )
        .unwrap();
        let multipliers = HashMap::from([(("a".into(), "k".into()), Multiplier::from_f64(0.5).unwrap())]);
        let p = Pricing::new(&section, multipliers).unwrap();
        let mut r = UsageRecord::pending("r", crate::format::WireFormat::Claude, std::time::SystemTime::now());
        r.requested_model = Some("sonnet".into());
        r.upstream_model = Some("house-model".into());
        r.provider = Some("a".into());
        r.provider_key = Some("k".into());
        r.status = Status::Completed;
        r.usage = usage(1_000_000, 1_000_000, 0, 0, 0, 0);
        let c = p.price(&r).unwrap();
        assert_eq!(c.total, NanoUsd(3_000_000_000));
        assert_eq!(c.actual_total, NanoUsd(1_500_000_000));
        r.upstream_model = Some("unknown".into());
        r.requested_model = Some("unknown-too".into());
        assert!(p.price(&r).is_none());
    }

    #[test]
    fn bad_tiers_are_rejected() {
        let mut p = Pricing::default();
        let entry = PriceEntry {
            input: Some(1.0),
            output: Some(1.0),
            tiers: vec![
                TierEntry {
                    up_to: Some(10),
                    ..TierEntry::default()
                },
                TierEntry {
                    up_to: Some(5),
                    ..TierEntry::default()
                },
            ],
            ..PriceEntry::default()
        };
        assert!(p.add("t", "m", &entry).is_err());
        assert!(p.add("t", "m", &PriceEntry::default()).is_err());
    }

    #[test]
    fn version_suffixes() {
        assert_eq!(strip_version_suffix("claude-sonnet-4-5-20250929"), "claude-sonnet-4-5");
        assert_eq!(strip_version_suffix("gpt-4.1-2025-04-14"), "gpt-4.1");
        assert_eq!(strip_version_suffix("claude-3-7-sonnet-latest"), "claude-3-7-sonnet");
        assert_eq!(strip_version_suffix("gpt-4.1"), "gpt-4.1");
    }
}
