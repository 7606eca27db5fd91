//! The Xorosoft inventory sync (scheduled, on demand, or on a low-stock alert): the stock of
//! every linked product (an applied supplier entry's SKU) looked up 100 a call, decided against
//! Shopify's, and written through the store's inventory port (`inventorySetQuantities`, 250 a
//! call, compare-and-set on the quantity read).
//!
//! Per SKU, with the stock storesync last synced as the base:
//! - Xorosoft moved, Shopify did not: Xorosoft's is written;
//! - Shopify moved, Xorosoft did not: Shopify's stands (a sale, a count) and becomes the base;
//! - both moved: the conflict policy decides (Shopify 0 → Xorosoft's; both above 0 and close →
//!   the lower; else a person, kept in `supplier/stock-conflicts/{sku}` with both values and the
//!   reason);
//! - first sync (no base): Xorosoft's, the distributor being the truth for stock.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::conflict::{decide, Conflict, ConflictPolicy, Outcome, Source};
use super::distributor::{Distributor, LOOKUP_LIMIT};
use super::pipeline::SupplierError;
use super::staging::StagingStatus;
use crate::ports::{Ports, StagingQuery};
use crate::stores::inventory::{InventoryStore, StockWrite, WriteOutcome};

/// What an inventory sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StockReport {
    pub linked: usize,
    pub lookups: usize,
    pub not_carried: Vec<String>,
    /// SKUs the store does not have (or does not track).
    pub not_in_store: Vec<String>,
    pub unchanged: usize,
    pub written: Vec<(String, i64)>,
    /// Shopify's value kept (it moved, Xorosoft did not; or the policy chose it).
    pub kept: usize,
    /// Left for a person: SKU and the policy's reason.
    pub manual: Vec<(String, String)>,
    /// Moved in the store between the read and the write: left for the next sync.
    pub moved: Vec<String>,
    pub failed: Vec<(String, String)>,
}

fn base_key(sku: &str) -> String {
    format!("supplier/stock/{}", sku.trim().to_lowercase())
}

/// The SKUs storesync put in the store (applied entries of every run).
async fn linked(ports: &Ports) -> Result<Vec<String>, SupplierError> {
    let mut skus = Vec::new();
    let mut after = None;
    loop {
        let page = ports
            .staging
            .list(StagingStatus::Applied, &StagingQuery { run: None, after: after.clone(), limit: 500 })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        skus.extend(page.into_iter().map(|e| e.sku));
    }
    skus.sort_by_key(|s| s.to_lowercase());
    skus.dedup_by_key(|s| s.to_lowercase());
    Ok(skus)
}

/// Syncs the stock of every linked product (see the module). `key` names this sync's writes
/// (a repeat with the same key applies nothing twice where the store supports it).
pub async fn sync_stock(
    ports: &Ports,
    distributor: &dyn Distributor,
    store: &dyn InventoryStore,
    policy: &ConflictPolicy,
    key: &str,
) -> Result<StockReport, SupplierError> {
    let skus = linked(ports).await?;
    let mut report = StockReport { linked: skus.len(), ..Default::default() };
    let mut xoro: HashMap<String, i64> = HashMap::new();
    for chunk in skus.chunks(LOOKUP_LIMIT) {
        let found = distributor.lookup(chunk).await.map_err(SupplierError::Distributor)?;
        report.lookups += 1;
        for l in found {
            match l.carried {
                Some(c) => {
                    xoro.insert(l.sku.to_lowercase(), c.stock.max(0));
                }
                None => report.not_carried.push(l.sku),
            }
        }
    }
    let records =
        store.inventory().await.map_err(|e| SupplierError::Invalid(format!("reading the store's stock: {e}")))?;
    let by_sku: HashMap<String, _> = records.into_iter().map(|r| (r.sku.trim().to_lowercase(), r)).collect();
    let mut writes: Vec<(String, StockWrite)> = Vec::new();
    let mut bases: BTreeMap<String, i64> = BTreeMap::new();
    for sku in &skus {
        let k = sku.to_lowercase();
        let Some(&x) = xoro.get(&k) else { continue };
        let Some(rec) = by_sku.get(&k).filter(|r| r.quantity.is_some()) else {
            report.not_in_store.push(sku.clone());
            continue;
        };
        let shop = rec.quantity.unwrap_or(0);
        let base = ports.kv.get(&base_key(sku)).await?.and_then(|v| v["stock"].as_i64());
        let target = match base {
            _ if shop == x => None,
            None => Some(x),
            Some(b) if shop == b => Some(x),
            Some(b) if x == b => {
                report.kept += 1;
                bases.insert(sku.clone(), shop);
                continue;
            }
            Some(b) => {
                let c = Conflict {
                    field: "inventory".into(),
                    base: json!(b),
                    remote: json!(shop),
                    local: json!(x),
                    local_source: Source::Xorosoft,
                };
                let d = decide(&c, policy);
                match (d.outcome, d.value.and_then(|v| v.as_i64())) {
                    (Outcome::Manual, _) | (_, None) => {
                        ports
                            .kv
                            .put(&format!("supplier/stock-conflicts/{k}"), &json!(d_json(sku, &c, &d.explanation)))
                            .await?;
                        report.manual.push((sku.clone(), d.explanation));
                        continue;
                    }
                    (_, Some(v)) if v == shop => {
                        report.kept += 1;
                        bases.insert(sku.clone(), shop);
                        continue;
                    }
                    (_, Some(v)) => Some(v),
                }
            }
        };
        match target {
            None => {
                report.unchanged += 1;
                bases.insert(sku.clone(), shop);
            }
            Some(q) => writes.push((
                sku.clone(),
                StockWrite { write_key: rec.write_key.clone(), quantity: q, expected: Some(shop) },
            )),
        }
    }
    if !writes.is_empty() {
        let batch: Vec<StockWrite> = writes.iter().map(|(_, w)| w.clone()).collect();
        let outcomes =
            store.set_stock(&batch, key).await.map_err(|e| SupplierError::Invalid(format!("writing stock: {e}")))?;
        for ((sku, w), outcome) in writes.into_iter().zip(outcomes) {
            match outcome {
                WriteOutcome::Done => {
                    bases.insert(sku.clone(), w.quantity);
                    report.written.push((sku, w.quantity));
                }
                WriteOutcome::Moved { .. } => report.moved.push(sku),
                WriteOutcome::Failed { error } => report.failed.push((sku, error)),
            }
        }
    }
    let at = ports.clock.now();
    for (sku, stock) in bases {
        ports.kv.put(&base_key(&sku), &json!({ "stock": stock, "at": at })).await?;
    }
    Ok(report)
}

fn d_json(sku: &str, c: &Conflict, why: &str) -> Value {
    json!({ "sku": sku, "base": c.base, "shopify": c.remote, "xorosoft": c.local, "reason": why })
}
