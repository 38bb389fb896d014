//! Money without floats: prices and costs as integers.
//!
//! - A **price** is micro-USD per million tokens ([`PricePerMTok`]), which is the same
//!   number as pico-USD per token: `$3.00 / MTok` is `3_000_000`, `$0.0375 / MTok` is
//!   `37_500`. Every list price with up to six decimals is exact.
//! - A **cost** is nano-USD ([`NanoUsd`], 10⁻⁹ USD): `tokens × price` is computed exactly in
//!   pico-USD (in `u128`) and rounded once, half up, to nano-USD per bucket. An `i64` of
//!   nano-USD holds 9.2 billion USD, so sums over any realistic history do not overflow.
//! - A **multiplier** (a provider key's discount or markup) is parts per million
//!   ([`Multiplier`]): `0.8` is `800_000`.
//!
//! Config files write prices and multipliers as ordinary decimal numbers; they are converted
//! once, at load, by rounding to the nearest unit (no arithmetic is ever done in floats).
//!
//! No decimal or money crate (`rust_decimal`, `rusty-money`): fixed integer units and one
//! rounding rule (half up) are all this needs, and the text forms are two `format!`s.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A cost in nano-USD (10⁻⁹ USD).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NanoUsd(pub i64);

impl NanoUsd {
    /// Zero.
    pub const ZERO: NanoUsd = NanoUsd(0);

    /// Exact USD text with nine decimals, e.g. `0.004500000`.
    pub fn to_usd_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:09}", abs / 1_000_000_000, abs % 1_000_000_000)
    }

    /// Saturating sum.
    pub fn plus(self, other: NanoUsd) -> NanoUsd {
        NanoUsd(self.0.saturating_add(other.0))
    }

    /// Applies a multiplier, rounding half up.
    pub fn times(self, m: Multiplier) -> NanoUsd {
        let product = i128::from(self.0) * i128::from(m.0);
        let rounded = (product + 500_000).div_euclid(1_000_000);
        NanoUsd(i64::try_from(rounded).unwrap_or(i64::MAX))
    }
}

impl fmt::Display for NanoUsd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.to_usd_string())
    }
}

/// A price in micro-USD per million tokens (equivalently pico-USD per token).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PricePerMTok(pub u64);

impl PricePerMTok {
    /// From USD per million tokens as written in a config file (rounded to the micro-USD).
    /// `None` for a negative or non-finite number.
    pub fn from_usd(usd: f64) -> Option<PricePerMTok> {
        let micro = (usd * 1e6).round();
        (usd.is_finite() && usd >= 0.0 && micro < 9e18).then_some(PricePerMTok(micro as u64))
    }

    /// `self × num / den`, rounded half up (used for the default cache prices).
    pub fn scaled(self, num: u64, den: u64) -> PricePerMTok {
        let v = (u128::from(self.0) * u128::from(num) + u128::from(den) / 2) / u128::from(den.max(1));
        PricePerMTok(u64::try_from(v).unwrap_or(u64::MAX))
    }

    /// The cost of `tokens` at this price: exact in pico-USD, rounded half up to nano-USD.
    pub fn cost(self, tokens: u64) -> NanoUsd {
        let pico = u128::from(tokens) * u128::from(self.0);
        let nano = (pico + 500) / 1000;
        NanoUsd(i64::try_from(nano).unwrap_or(i64::MAX))
    }

    /// USD per million tokens, as exact decimal text (`3`, `0.3`, `0.0375`).
    pub fn to_usd_string(self) -> String {
        let whole = self.0 / 1_000_000;
        let frac = self.0 % 1_000_000;
        if frac == 0 {
            whole.to_string()
        } else {
            format!("{whole}.{}", format!("{frac:06}").trim_end_matches('0'))
        }
    }
}

/// A cost multiplier in parts per million (`1_000_000` = ×1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Multiplier(pub u32);

impl Multiplier {
    /// ×1.
    pub const ONE: Multiplier = Multiplier(1_000_000);

    /// From a config number (rounded to the millionth). `None` when negative, not finite or
    /// above 1000.
    pub fn from_f64(x: f64) -> Option<Multiplier> {
        (x.is_finite() && (0.0..=1000.0).contains(&x)).then(|| Multiplier((x * 1e6).round() as u32))
    }
}

impl Default for Multiplier {
    fn default() -> Self {
        Multiplier::ONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_and_costs_are_exact() {
        let p = PricePerMTok::from_usd(0.30).unwrap();
        assert_eq!(p, PricePerMTok(300_000));
        assert_eq!(p.to_usd_string(), "0.3");
        assert_eq!(PricePerMTok::from_usd(0.0375).unwrap().to_usd_string(), "0.0375");
        // 1 token at $0.30/MTok = $0.0000003 = 300 nano-USD; 10 tokens = 3,000.
        assert_eq!(p.cost(1), NanoUsd(300));
        assert_eq!(p.cost(10), NanoUsd(3_000));
        // 1 token at $0.0375/MTok = 37.5 nano-USD: the one rounding, half up.
        assert_eq!(PricePerMTok::from_usd(0.0375).unwrap().cost(1), NanoUsd(38));
        assert_eq!(
            PricePerMTok::from_usd(3.0).unwrap().cost(1_000_000),
            NanoUsd(3_000_000_000)
        );
        assert_eq!(NanoUsd(3_000_000_000).to_usd_string(), "3.000000000");
        assert_eq!(NanoUsd(-5).to_usd_string(), "-0.000000005");
        assert_eq!(NanoUsd(1_000).times(Multiplier::from_f64(0.8).unwrap()), NanoUsd(800));
        assert_eq!(PricePerMTok(3_000_000).scaled(5, 4), PricePerMTok(3_750_000));
        assert!(PricePerMTok::from_usd(-1.0).is_none());
    }
}
