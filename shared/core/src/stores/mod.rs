//! Store ⇄ store sync: one port for any store (WooCommerce, Shopify), and the pure compare
//! that turns both sides' records into a plan. Inventory first; the other data types follow.

pub mod catalog;
pub mod catalog_sync;
pub mod inventory;
pub mod plans;
pub mod sync;

use serde::{Deserialize, Serialize};

/// A store platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    #[serde(rename = "woocommerce")]
    WooCommerce,
    Shopify,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WooCommerce => "woocommerce",
            Self::Shopify => "shopify",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "woocommerce" | "woo" => Some(Self::WooCommerce),
            "shopify" => Some(Self::Shopify),
            _ => None,
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a store adapter can fail with: the platform and what was being done, and whether
/// trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{platform} {operation}: {message}")]
pub struct StoreError {
    pub platform: Platform,
    pub operation: &'static str,
    pub message: String,
    pub transient: bool,
}
