//! Shopify's side of the inventory port: variants and their `available` stock at one mapped
//! location, written with `inventorySetQuantities` in calls of 250 with compare-and-set and
//! idempotency keys derived from the caller's key. The location is given, or the shop's only
//! one, asked for on first use (opening the port costs no call).

use async_trait::async_trait;
use storesync_core::config::ENV_SHOPIFY_LOCATION;
use storesync_core::stores::inventory::{status_for, InventoryRecord, InventoryStore, StockWrite, WriteOutcome};
use storesync_core::stores::{Platform, StoreError};

use super::client::{SetQuantity, ShopifyClient, ShopifyError, VariantStock, SET_BATCH};

pub struct ShopifyInventory {
    client: ShopifyClient,
    location: tokio::sync::OnceCell<String>,
}

fn store_error(operation: &'static str) -> impl Fn(ShopifyError) -> StoreError {
    move |e| StoreError { platform: Platform::Shopify, operation, transient: e.transient(), message: e.to_string() }
}

/// The port's records of the client's variants.
fn records(stock: Vec<VariantStock>) -> Vec<InventoryRecord> {
    stock
        .into_iter()
        .map(|v| InventoryRecord {
            name: if v.title.is_empty() || v.title == "Default Title" {
                v.product_title.clone()
            } else {
                format!("{} - {}", v.product_title, v.title)
            },
            status: status_for(v.available).into(),
            product_id: v.product_id,
            variant_id: v.variant_id,
            sku: v.sku,
            quantity: v.available,
            write_key: v.inventory_item_id,
        })
        .collect()
}

impl ShopifyInventory {
    /// The shop behind `client`, its stock at `location` (a location GID).
    pub fn new(client: ShopifyClient, location: &str) -> Self {
        Self { client, location: tokio::sync::OnceCell::new_with(Some(location.to_string())) }
    }

    /// The shop behind `client`, its stock at its only location (found on first use; a shop
    /// with several fails then, naming them and the variable to set).
    pub fn at_only_location(client: ShopifyClient) -> Self {
        Self { client, location: tokio::sync::OnceCell::new() }
    }

    async fn location(&self) -> Result<&str, StoreError> {
        let found = self
            .location
            .get_or_try_init(|| async {
                let locations = self.client.locations().await.map_err(store_error("list locations"))?;
                match locations.as_slice() {
                    [(id, _)] => Ok(id.clone()),
                    _ => {
                        let names: Vec<String> = locations.iter().map(|(id, n)| format!("{id} ({n})")).collect();
                        Err(StoreError {
                            platform: Platform::Shopify,
                            operation: "list locations",
                            transient: false,
                            message: format!(
                                "{ENV_SHOPIFY_LOCATION} is not set and the shop has {} locations: {}",
                                locations.len(),
                                names.join(", ")
                            ),
                        })
                    }
                }
            })
            .await?;
        Ok(found)
    }
}

#[async_trait]
impl InventoryStore for ShopifyInventory {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    async fn check(&self) -> Result<(), StoreError> {
        let locations = self.client.locations().await.map_err(store_error("connection check"))?;
        let location = self.location().await?;
        if locations.iter().any(|(id, _)| id == location) {
            return Ok(());
        }
        let known: Vec<String> = locations.iter().map(|(id, name)| format!("{id} ({name})")).collect();
        Err(StoreError {
            platform: Platform::Shopify,
            operation: "connection check",
            message: format!("location {location} is not in the shop; it has {}", known.join(", ")),
            transient: false,
        })
    }

    async fn inventory(&self) -> Result<Vec<InventoryRecord>, StoreError> {
        let stock = self.client.variant_stock(self.location().await?).await.map_err(store_error("read inventory"))?;
        Ok(records(stock))
    }

    /// A search by SKU, 50 a call, instead of a whole read.
    async fn inventory_of(&self, skus: &[String]) -> Result<Vec<InventoryRecord>, StoreError> {
        let location = self.location().await?;
        let stock = self.client.variant_stock_of(location, skus).await.map_err(store_error("read inventory"))?;
        // Shopify's search matches more than the exact SKU at times: only the SKUs asked for.
        let wanted: std::collections::HashSet<String> = skus.iter().map(|s| s.trim().to_lowercase()).collect();
        Ok(records(stock).into_iter().filter(|r| wanted.contains(&r.sku.trim().to_lowercase())).collect())
    }

    /// Calls of up to 250 quantities. A call Shopify refuses applies nothing: the items it
    /// names are set aside (moved since the compare, or failed with Shopify's message) and
    /// the rest go again under a key derived from what was set aside, so a replay of the same
    /// writes under the same key takes the same calls and applies nothing twice.
    async fn set_stock(&self, writes: &[StockWrite], key: &str) -> Result<Vec<WriteOutcome>, StoreError> {
        let location = self.location().await?;
        let mut out: Vec<Option<WriteOutcome>> = vec![None; writes.len()];
        for (c, chunk) in writes.chunks(SET_BATCH).enumerate() {
            let base = c * SET_BATCH;
            let mut pending: Vec<usize> = (0..chunk.len()).collect();
            let mut set_aside: Vec<usize> = Vec::new();
            while !pending.is_empty() {
                let quantities: Vec<SetQuantity> = pending
                    .iter()
                    .map(|&i| SetQuantity {
                        inventory_item_id: chunk[i].write_key.clone(),
                        location_id: location.to_string(),
                        quantity: chunk[i].quantity,
                        change_from: chunk[i].expected,
                    })
                    .collect();
                let call_key = if set_aside.is_empty() {
                    format!("{key}:{c}")
                } else {
                    let ids: Vec<String> = set_aside.iter().map(usize::to_string).collect();
                    format!("{key}:{c}-{}", ids.join("."))
                };
                let errors = self
                    .client
                    .set_available(&quantities, &call_key, &format!("gid://storesync/StoreSync/{key}"))
                    .await
                    .map_err(store_error("set inventory"))?;
                if errors.is_empty() {
                    for &i in &pending {
                        out[base + i] = Some(WriteOutcome::Done);
                    }
                    break;
                }
                let mut named = Vec::new();
                for e in &errors {
                    let Some(pos) = e.field.get(2).and_then(|p| p.parse::<usize>().ok()).filter(|p| *p < pending.len())
                    else {
                        // Not about one item: every pending item fails with it.
                        for &i in &pending {
                            out[base + i] = Some(WriteOutcome::Failed { error: format!("{}: {}", e.code, e.message) });
                        }
                        named.clear();
                        pending.clear();
                        break;
                    };
                    let i = pending[pos];
                    out[base + i] = Some(if e.code == "CHANGE_FROM_QUANTITY_STALE" {
                        WriteOutcome::Moved { now: None }
                    } else {
                        WriteOutcome::Failed { error: format!("{}: {}", e.code, e.message) }
                    });
                    named.push(i);
                }
                set_aside.extend(&named);
                pending.retain(|i| !named.contains(i));
            }
        }
        Ok(out.into_iter().map(|o| o.unwrap_or(WriteOutcome::Failed { error: "not attempted".into() })).collect())
    }
}
