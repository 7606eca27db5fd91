//! Store ⇄ store sync in the local runtime: the stores' connections from the environment
//! (WooCommerce as the webhook path has it, Shopify from `STORESYNC_SHOPIFY_*`).

use std::time::Duration;

use storesync_core::config::{
    ENV_SHOPIFY_API_VERSION, ENV_SHOPIFY_LOCATION, ENV_SHOPIFY_TOKEN, ENV_SHOPIFY_URL, ENV_WOO_KEY, ENV_WOO_SECRET,
    ENV_WOO_URL, SHOPIFY_API_VERSION,
};
use storesync_core::stores::inventory::InventoryStore;
use storesync_core::stores::Platform;
use storesync_platforms::shopify::client::ShopifyClient;
use storesync_platforms::shopify::inventory::ShopifyInventory;
use storesync_platforms::woocommerce::client::WooClient;
use storesync_platforms::woocommerce::inventory::WooInventory;

use crate::runtime::LocalError;

/// A platform call's time limit.
const TIMEOUT: Duration = Duration::from_secs(30);

fn need(get: &impl Fn(&str) -> Option<String>, var: &str, platform: Platform) -> Result<String, LocalError> {
    get(var).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        LocalError::Config(format!("{var} is not set (needed to reach the {platform} store; see the README)"))
    })
}

/// The inventory of `platform`'s store, as configured by variables looked up by `get`. A
/// Shopify shop with one location needs no location configured; with several, the error
/// names them.
pub async fn connect(
    platform: Platform,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Box<dyn InventoryStore>, LocalError> {
    let cfg = |e: reqwest::Error| LocalError::Config(format!("HTTP client: {e}"));
    match platform {
        Platform::WooCommerce => {
            let client = WooClient::new(
                &need(&get, ENV_WOO_URL, platform)?,
                &need(&get, ENV_WOO_KEY, platform)?,
                &need(&get, ENV_WOO_SECRET, platform)?,
                TIMEOUT,
            )
            .map_err(cfg)?;
            Ok(Box::new(WooInventory::new(client)))
        }
        Platform::Shopify => {
            let version = get(ENV_SHOPIFY_API_VERSION).unwrap_or_else(|| SHOPIFY_API_VERSION.to_string());
            let (url, token) = (need(&get, ENV_SHOPIFY_URL, platform)?, need(&get, ENV_SHOPIFY_TOKEN, platform)?);
            let client = ShopifyClient::new(&url, &token, &version, TIMEOUT).map_err(cfg)?;
            let location = match get(ENV_SHOPIFY_LOCATION).filter(|v| !v.trim().is_empty()) {
                Some(l) => l,
                None => {
                    let locations =
                        client.locations().await.map_err(|e| LocalError::Config(format!("Shopify {url}: {e}")))?;
                    match locations.as_slice() {
                        [(id, _)] => id.clone(),
                        _ => {
                            let names: Vec<String> = locations.iter().map(|(id, n)| format!("{id} ({n})")).collect();
                            return Err(LocalError::Config(format!(
                                "{ENV_SHOPIFY_LOCATION} is not set and the shop has {} locations: {}",
                                locations.len(),
                                names.join(", ")
                            )));
                        }
                    }
                }
            };
            Ok(Box::new(ShopifyInventory::new(client, &location)))
        }
    }
}

/// The sync worker in the local runtime: writes every queued chunk to `destination` until the
/// queue is empty, calling `progress` after each chunk. A chunk that fails transiently is
/// retried after `retry_secs` (its idempotency key keeps it from applying twice); after the
/// queue's receives it is dead-lettered.
pub async fn drain_sync_queue(
    ports: &storesync_core::ports::Ports,
    destination: &dyn InventoryStore,
    retry_secs: u32,
    mut progress: impl FnMut(),
) -> Result<usize, LocalError> {
    use storesync_core::stores::sync::{work, SYNC_QUEUE};
    let mut handled = 0;
    loop {
        let batch = ports.queue.receive(SYNC_QUEUE, 10, 300).await?;
        if batch.is_empty() {
            let depth = ports.queue.depth(SYNC_QUEUE).await?;
            if depth.visible + depth.not_visible == 0 {
                return Ok(handled);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        for d in batch {
            match work(ports, destination, &d.body).await {
                Ok(()) => {
                    ports.queue.ack(SYNC_QUEUE, &d.receipt).await?;
                    handled += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt = d.receive_count, "store sync chunk left for a retry");
                    ports.queue.retry_later(SYNC_QUEUE, &d.receipt, retry_secs).await?;
                }
            }
            progress();
        }
    }
}

/// The stores as configured (these variables first, then the environment), opened per use: a
/// missing variable fails that use with its name, not the runtime.
#[derive(Debug, Clone, Default)]
pub struct ConfiguredStores {
    pub vars: Vec<(String, String)>,
}

#[async_trait::async_trait]
impl storesync_core::stores::plans::StoreConnector for ConfiguredStores {
    async fn connect(&self, platform: Platform) -> Result<Box<dyn InventoryStore>, storesync_core::stores::StoreError> {
        let get =
            |k: &str| self.vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).or_else(|| std::env::var(k).ok());
        connect(platform, get).await.map_err(|e| storesync_core::stores::StoreError {
            platform,
            operation: "connect",
            message: e.to_string(),
            transient: false,
        })
    }
}

/// The compare and sync workers of the local runtime, for as long as it runs.
pub async fn work_forever(
    ports: storesync_core::ports::Ports,
    stores: std::sync::Arc<dyn storesync_core::stores::plans::StoreConnector>,
) {
    use storesync_core::stores::plans::{run_compare_request, COMPARE_QUEUE};
    use storesync_core::stores::sync::{work_with, SYNC_QUEUE};
    loop {
        let mut busy = false;
        for queue in [COMPARE_QUEUE, SYNC_QUEUE] {
            let batch = match ports.queue.receive(queue, 10, 300).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(queue, error = %e, "store sync worker");
                    continue;
                }
            };
            for d in batch {
                busy = true;
                let done = match queue {
                    COMPARE_QUEUE => {
                        run_compare_request(&ports, stores.as_ref(), &d.body).await.map_err(|e| e.to_string())
                    }
                    _ => work_with(&ports, stores.as_ref(), &d.body).await.map_err(|e| e.to_string()),
                };
                let step = match done {
                    Ok(()) => ports.queue.ack(queue, &d.receipt).await,
                    Err(e) => {
                        tracing::warn!(queue, error = e, attempt = d.receive_count, "left for a retry");
                        ports.queue.retry_later(queue, &d.receipt, 5).await
                    }
                };
                if let Err(e) = step {
                    tracing::warn!(queue, error = %e, "store sync worker");
                }
            }
        }
        if !busy {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
