//! Settings of the daily sync, read once from the environment (or the CLI) and validated.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// An input file older than this many hours gets a "stale file" warning.
    pub max_input_age_hours: f64,
    /// A price change above this ratio of the web price gets a warning (0.5 = 50 %).
    pub price_change_ratio: f64,
    /// Validation fails when the export would set more than this share of in-stock products to 0.
    pub blast_zero_share: f64,
    /// Validation fails when the Comax file has fewer rows than this share of the last accepted one.
    pub blast_min_rows_ratio: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self { max_input_age_hours: 24.0, price_change_ratio: 0.5, blast_zero_share: 0.30, blast_min_rows_ratio: 0.5 }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingsError {
    #[error("{name}={value:?}: {reason}")]
    Invalid { name: &'static str, value: String, reason: &'static str },
}

pub const ENV_MAX_AGE: &str = "STORESYNC_MAX_INPUT_AGE_HOURS";
pub const ENV_PRICE_RATIO: &str = "STORESYNC_PRICE_CHANGE_RATIO";
pub const ENV_BLAST_SHARE: &str = "STORESYNC_BLAST_ZERO_SHARE";
pub const ENV_BLAST_ROWS: &str = "STORESYNC_BLAST_MIN_ROWS_RATIO";
/// Every settings variable.
pub const ENV_ALL: [&str; 4] = [ENV_MAX_AGE, ENV_PRICE_RATIO, ENV_BLAST_SHARE, ENV_BLAST_ROWS];

/// The webhook path's platforms: the store's REST base (`https://shop.example/wp-json/wc/v3`)
/// and the WMS's, with their credentials (locally from the environment; on AWS the credentials
/// come from SSM Parameter Store, see `storesync_aws::webhooks`).
pub const ENV_WOO_URL: &str = "STORESYNC_WOOCOMMERCE_URL";
pub const ENV_WOO_KEY: &str = "STORESYNC_WOOCOMMERCE_CONSUMER_KEY";
pub const ENV_WOO_SECRET: &str = "STORESYNC_WOOCOMMERCE_CONSUMER_SECRET";
pub const ENV_WMS_URL: &str = "STORESYNC_WMS_URL";
pub const ENV_WMS_KEY: &str = "STORESYNC_WMS_API_KEY";
/// A Shopify store for store ⇄ store sync: the shop's base URL (`https://{shop}.myshopify.com`),
/// an Admin API access token, the API version (default [`SHOPIFY_API_VERSION`]) and the location
/// whose stock is synced (a GID; optional when the shop has one location).
pub const ENV_SHOPIFY_URL: &str = "STORESYNC_SHOPIFY_URL";
pub const ENV_SHOPIFY_TOKEN: &str = "STORESYNC_SHOPIFY_TOKEN";
pub const ENV_SHOPIFY_API_VERSION: &str = "STORESYNC_SHOPIFY_API_VERSION";
pub const ENV_SHOPIFY_LOCATION: &str = "STORESYNC_SHOPIFY_LOCATION";
/// From 2026-04 `changeFromQuantity` and `@idempotent` are required on inventory mutations.
pub const SHOPIFY_API_VERSION: &str = "2026-04";
/// `hmac` (default) or `standard`: how the WMS signs its webhooks.
pub const ENV_WMS_SIGNATURE: &str = "STORESYNC_WMS_SIGNATURE";

impl Settings {
    /// Reads the settings from variables looked up by `get` (the environment in binaries).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut s = Settings::default();
        let fields: [(&'static str, &mut f64); 4] = [
            (ENV_MAX_AGE, &mut s.max_input_age_hours),
            (ENV_PRICE_RATIO, &mut s.price_change_ratio),
            (ENV_BLAST_SHARE, &mut s.blast_zero_share),
            (ENV_BLAST_ROWS, &mut s.blast_min_rows_ratio),
        ];
        for (name, slot) in fields {
            if let Some(value) = get(name) {
                *slot = value.trim().parse().map_err(|_| SettingsError::Invalid {
                    name,
                    value: value.clone(),
                    reason: "not a number",
                })?;
            }
        }
        s.check()?;
        Ok(s)
    }

    pub fn check(&self) -> Result<(), SettingsError> {
        let bad = |name, v: f64, reason| Err(SettingsError::Invalid { name, value: v.to_string(), reason });
        if self.max_input_age_hours.is_nan() || self.max_input_age_hours <= 0.0 {
            return bad(ENV_MAX_AGE, self.max_input_age_hours, "must be above 0");
        }
        if self.price_change_ratio.is_nan() || self.price_change_ratio <= 0.0 {
            return bad(ENV_PRICE_RATIO, self.price_change_ratio, "must be above 0");
        }
        if !(0.0..=1.0).contains(&self.blast_zero_share) {
            return bad(ENV_BLAST_SHARE, self.blast_zero_share, "must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&self.blast_min_rows_ratio) {
            return bad(ENV_BLAST_ROWS, self.blast_min_rows_ratio, "must be between 0 and 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_checks() {
        let s = Settings::from_lookup(|k| (k == ENV_MAX_AGE).then(|| "12".to_string())).unwrap();
        assert_eq!(s.max_input_age_hours, 12.0);
        let e = Settings::from_lookup(|k| (k == ENV_BLAST_SHARE).then(|| "1.5".to_string())).unwrap_err();
        assert_eq!(e.to_string(), "STORESYNC_BLAST_ZERO_SHARE=\"1.5\": must be between 0 and 1");
        let e = Settings::from_lookup(|k| (k == ENV_PRICE_RATIO).then(|| "x".to_string())).unwrap_err();
        assert_eq!(e.to_string(), "STORESYNC_PRICE_CHANGE_RATIO=\"x\": not a number");
    }
}
