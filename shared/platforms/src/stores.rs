//! The stores' inventory adapters as configuration names them (`STORESYNC_WOOCOMMERCE_*`,
//! `STORESYNC_SHOPIFY_*`): the one place both runtimes open a store for store ⇄ store sync.

use std::time::Duration;

use storesync_core::config::{
    ENV_SHOPIFY_API_VERSION, ENV_SHOPIFY_LOCATION, ENV_SHOPIFY_TOKEN, ENV_SHOPIFY_URL, ENV_WOO_KEY, ENV_WOO_SECRET,
    ENV_WOO_URL, SHOPIFY_API_VERSION,
};
use storesync_core::stores::inventory::InventoryStore;
use storesync_core::stores::{Platform, StoreError};

use crate::shopify::client::ShopifyClient;
use crate::shopify::inventory::ShopifyInventory;
use crate::woocommerce::client::WooClient;
use crate::woocommerce::inventory::WooInventory;

/// A platform call's time limit.
const TIMEOUT: Duration = Duration::from_secs(30);

fn config_error(platform: Platform, message: String) -> StoreError {
    StoreError { platform, operation: "configure", message, transient: false }
}

fn http_error(platform: Platform, e: reqwest::Error) -> StoreError {
    config_error(platform, format!("HTTP client: {e}"))
}

fn need(get: &impl Fn(&str) -> Option<String>, var: &str, platform: Platform) -> Result<String, StoreError> {
    get(var).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        config_error(platform, format!("{var} is not set (needed to reach the {platform} store; see the README)"))
    })
}

/// The inventory of `platform`'s store, as configured by variables looked up by `get`. A
/// Shopify shop with one location needs no location configured; with several, the error
/// names them.
pub fn connect(
    platform: Platform,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Box<dyn InventoryStore>, StoreError> {
    match platform {
        Platform::WooCommerce => Ok(Box::new(WooInventory::new(woo_client(&get)?))),
        Platform::Shopify => {
            need(&get, ENV_SHOPIFY_URL, platform)?;
            let client = shopify_client(&get)?;
            Ok(Box::new(match get(ENV_SHOPIFY_LOCATION).filter(|v| !v.trim().is_empty()) {
                Some(location) => ShopifyInventory::new(client, &location),
                None => ShopifyInventory::at_only_location(client),
            }))
        }
    }
}

/// The stores as configured (these variables first, then the environment), opened per use: a
/// missing variable fails that use with its name, not the runtime. Locally the variables are
/// `serve`'s; on AWS the SSM parameters under the secrets prefix.
#[derive(Debug, Clone, Default)]
pub struct ConfiguredStores {
    pub vars: Vec<(String, String)>,
}

impl ConfiguredStores {
    /// A variable: these first, then the environment.
    fn lookup(&self, k: &str) -> Option<String> {
        self.vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).or_else(|| std::env::var(k).ok())
    }

    /// The connector of a deployed function: the stores configured by `vars` (its SSM
    /// parameters), then its environment.
    pub fn shared(
        vars: std::collections::HashMap<String, String>,
    ) -> std::sync::Arc<dyn storesync_core::stores::plans::StoreConnector> {
        std::sync::Arc::new(Self { vars: vars.into_iter().collect() })
    }
}

#[async_trait::async_trait]
impl storesync_core::stores::plans::StoreConnector for ConfiguredStores {
    async fn connect(&self, platform: Platform) -> Result<Box<dyn InventoryStore>, StoreError> {
        connect(platform, |k: &str| self.lookup(k))
    }

    async fn catalog(
        &self,
        platform: Platform,
    ) -> Result<Box<dyn storesync_core::stores::catalog_sync::CatalogStore>, StoreError> {
        connect_catalog(platform, |k: &str| self.lookup(k))
    }
}

/// The catalog of `platform`'s store, as configured by variables looked up by `get`.
pub fn connect_catalog(
    platform: Platform,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Box<dyn storesync_core::stores::catalog_sync::CatalogStore>, StoreError> {
    match platform {
        Platform::WooCommerce => Ok(Box::new(crate::woocommerce::catalog::WooCatalog::new(woo_client(&get)?))),
        Platform::Shopify => Ok(Box::new(crate::shopify::catalog::ShopifyCatalog::new(shopify_client(&get)?))),
    }
}

fn shopify_client(get: &impl Fn(&str) -> Option<String>) -> Result<ShopifyClient, StoreError> {
    let platform = Platform::Shopify;
    let version = get(ENV_SHOPIFY_API_VERSION).unwrap_or_else(|| SHOPIFY_API_VERSION.to_string());
    let (url, token) = (need(get, ENV_SHOPIFY_URL, platform)?, need(get, ENV_SHOPIFY_TOKEN, platform)?);
    ShopifyClient::new(&url, &token, &version, TIMEOUT).map_err(|e| http_error(platform, e))
}

fn woo_client(get: &impl Fn(&str) -> Option<String>) -> Result<WooClient, StoreError> {
    let platform = Platform::WooCommerce;
    WooClient::new(
        &need(get, ENV_WOO_URL, platform)?,
        &need(get, ENV_WOO_KEY, platform)?,
        &need(get, ENV_WOO_SECRET, platform)?,
        TIMEOUT,
    )
    .map_err(|e| http_error(platform, e))
}
