//! WooCommerce's side of the inventory port: simple products and variations with their stock
//! (a variation whose `manage_stock` is `"parent"` shows its product's), written in batches of
//! 100 (variations through their parent's batch endpoint).
//!
//! WooCommerce has neither compare-and-set nor idempotency keys: a write sets an absolute
//! quantity (so a replay sets the same value again), and the sync re-reads the destination
//! before it writes to find what moved since the compare.

use async_trait::async_trait;
use serde_json::Value;
use storesync_core::stores::inventory::{InventoryRecord, InventoryStore, StockWrite, WriteOutcome};
use storesync_core::stores::{Platform, StoreError};

use super::client::{ProductRef, WooClient, WooError};

pub struct WooInventory {
    client: WooClient,
}

impl WooInventory {
    pub fn new(client: WooClient) -> Self {
        Self { client }
    }
}

fn store_error(operation: &'static str) -> impl Fn(WooError) -> StoreError {
    move |e| StoreError { platform: Platform::WooCommerce, operation, transient: e.transient(), message: e.to_string() }
}

/// `parent/variation` or `product`: where a write goes.
fn write_key(r: &ProductRef) -> String {
    match r.parent {
        Some(p) => format!("{p}/{}", r.id),
        None => r.id.to_string(),
    }
}

fn parse_key(key: &str) -> Option<ProductRef> {
    match key.split_once('/') {
        Some((p, v)) => Some(ProductRef { id: v.parse().ok()?, parent: Some(p.parse().ok()?) }),
        None => Some(ProductRef { id: key.parse().ok()?, parent: None }),
    }
}

fn record(item: &Value, r: ProductRef, name: String) -> InventoryRecord {
    let managed = item["manage_stock"] == Value::Bool(true) || item["manage_stock"] == "parent";
    let quantity = if managed { item["stock_quantity"].as_i64() } else { None };
    InventoryRecord {
        product_id: r.parent.unwrap_or(r.id).to_string(),
        variant_id: write_key(&r),
        name,
        sku: item["sku"].as_str().unwrap_or_default().to_string(),
        quantity,
        status: if quantity.is_none() {
            "untracked".into()
        } else {
            item["stock_status"].as_str().unwrap_or("instock").to_string()
        },
        write_key: write_key(&r),
    }
}

#[async_trait]
impl InventoryStore for WooInventory {
    fn platform(&self) -> Platform {
        Platform::WooCommerce
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.client.list_page("/products?per_page=1").await.map(|_| ()).map_err(store_error("connection check"))
    }

    async fn inventory(&self) -> Result<Vec<InventoryRecord>, StoreError> {
        let products = self.client.list_all("/products").await.map_err(store_error("read inventory"))?;
        let mut out = Vec::with_capacity(products.len());
        for p in &products {
            let (Some(id), name) = (p["id"].as_u64(), p["name"].as_str().unwrap_or_default()) else { continue };
            if p["type"] != "variable" {
                out.push(record(p, ProductRef { id, parent: None }, name.to_string()));
                continue;
            }
            let variations = self
                .client
                .list_all(&format!("/products/{id}/variations"))
                .await
                .map_err(store_error("read inventory"))?;
            for v in &variations {
                let Some(vid) = v["id"].as_u64() else { continue };
                let options: Vec<&str> =
                    v["attributes"].as_array().into_iter().flatten().filter_map(|a| a["option"].as_str()).collect();
                let vname =
                    if options.is_empty() { name.to_string() } else { format!("{name} - {}", options.join(" / ")) };
                out.push(record(v, ProductRef { id: vid, parent: Some(id) }, vname));
            }
        }
        Ok(out)
    }

    async fn set_stock(&self, writes: &[StockWrite], _key: &str) -> Result<Vec<WriteOutcome>, StoreError> {
        let mut out: Vec<WriteOutcome> = Vec::with_capacity(writes.len());
        let mut updates = Vec::new();
        for w in writes {
            match parse_key(&w.write_key) {
                Some(r) => {
                    updates.push((r, w.quantity));
                    out.push(WriteOutcome::Done);
                }
                None => out
                    .push(WriteOutcome::Failed { error: format!("not a WooCommerce product key: {:?}", w.write_key) }),
            }
        }
        let report = self.client.set_stock(&updates).await.map_err(store_error("set inventory"))?;
        for e in report.errors {
            for (w, o) in writes.iter().zip(out.iter_mut()) {
                if parse_key(&w.write_key).is_some_and(|r| r.id == e.id) {
                    *o = WriteOutcome::Failed { error: format!("{}: {}", e.code, e.message) };
                }
            }
        }
        Ok(out)
    }
}
