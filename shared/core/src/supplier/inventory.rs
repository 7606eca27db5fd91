//! The Xorosoft inventory sync (scheduled, on demand, or on a low-stock alert): the stock of
//! every linked product (an applied supplier entry's SKU; on an alert, the one it names) looked
//! up 100 a call, decided against Shopify's, and written through the store's inventory port
//! (`inventorySetQuantities`, 250 a call, compare-and-set on the quantity read).
//!
//! The low-stock alert: Shopify's `inventory_levels/update` webhook at or below the threshold,
//! for an inventory item linked to a supplier SKU (by the apply, [`link`], and by each sync),
//! queues a sync of that one product.
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
use crate::ports::{PortError, Ports, StagingQuery};
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

/// A linked product's variant as the store holds it: what writes it, and its stock.
#[derive(Debug, Clone, PartialEq)]
struct Held {
    write_key: String,
    quantity: i64,
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
    if skus.is_empty() {
        // Nothing of the store is storesync's yet: no need to read its stock.
        return Ok(StockReport::default());
    }
    let records =
        store.inventory().await.map_err(|e| SupplierError::Invalid(format!("reading the store's stock: {e}")))?;
    let held: HashMap<String, Held> = records
        .into_iter()
        .filter_map(|r| Some((r.sku.trim().to_lowercase(), Held { quantity: r.quantity?, write_key: r.write_key })))
        .collect();
    reconcile(ports, distributor, store, policy, key, &skus, &held).await
}

/// A Shopify inventory level at or below the low-stock threshold, of a linked product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LowStock {
    pub sku: String,
    /// The inventory item's GID.
    pub item: String,
    pub available: i64,
    /// The webhook it came from (its dedupe key): this alert's writes are its own.
    pub event: String,
}

/// The low-stock threshold: `STORESYNC_SUPPLIER_LOW_STOCK` (default 5 units).
pub const ENV_LOW_STOCK: &str = "STORESYNC_SUPPLIER_LOW_STOCK";
pub const DEFAULT_LOW_STOCK: i64 = 5;

pub fn low_stock_threshold(get: impl Fn(&str) -> Option<String>) -> Result<i64, String> {
    match get(ENV_LOW_STOCK).filter(|v| !v.trim().is_empty()) {
        None => Ok(DEFAULT_LOW_STOCK),
        Some(v) => v.trim().parse().map_err(|_| format!("{ENV_LOW_STOCK}={v:?}: expected a whole number of units")),
    }
}

fn item_key(item: &str) -> String {
    format!("supplier/stock-items/{item}")
}

/// Records that the inventory item `item` is the supplier SKU `sku`'s (what a low-stock alert
/// looks up).
async fn link_item(ports: &Ports, item: &str, sku: &str) -> Result<(), PortError> {
    ports.kv.put(&item_key(item), &json!({ "sku": sku })).await
}

/// Shopify's `inventory_levels/update` body (`inventory_item_id`, `available`):
/// a low-stock alert when the level is at or below `threshold` and the item is a linked
/// product's (known from the stock syncs, which record each linked SKU's inventory item).
pub async fn low_stock_alert(
    ports: &Ports,
    body: &Value,
    threshold: i64,
    event: &str,
) -> Result<Option<LowStock>, PortError> {
    let (Some(id), Some(available)) = (body["inventory_item_id"].as_u64(), body["available"].as_i64()) else {
        return Ok(None);
    };
    if available > threshold {
        return Ok(None);
    }
    let item = format!("gid://shopify/InventoryItem/{id}");
    let Some(link) = ports.kv.get(&item_key(&item)).await? else { return Ok(None) };
    let Some(sku) = link["sku"].as_str() else { return Ok(None) };
    Ok(Some(LowStock { sku: sku.to_string(), item, available, event: event.to_string() }))
}

/// Links the inventory items of `skus` (products just applied) to their SKUs, so that a
/// low-stock alert for them is known before the next stock sync; how many were linked. The
/// stock base is the stock sync's to set.
pub async fn link(ports: &Ports, store: &dyn InventoryStore, skus: &[String]) -> Result<usize, SupplierError> {
    if skus.is_empty() {
        return Ok(0);
    }
    let records = store
        .inventory_of(skus)
        .await
        .map_err(|e| SupplierError::Invalid(format!("reading the store's stock: {e}")))?;
    for r in &records {
        if ports.kv.get(&item_key(&r.write_key)).await?.as_ref().and_then(|l| l["sku"].as_str()) != Some(&r.sku) {
            link_item(ports, &r.write_key, &r.sku).await?;
        }
    }
    Ok(records.len())
}

/// The stock sync of one product on a low-stock alert: Xorosoft's stock looked up and decided
/// against the level the alert reported, as the full sync would (the write is conditional on
/// that level, so a stale alert writes nothing).
pub async fn sync_low_stock(
    ports: &Ports,
    distributor: &dyn Distributor,
    store: &dyn InventoryStore,
    policy: &ConflictPolicy,
    alert: &LowStock,
) -> Result<StockReport, SupplierError> {
    // This alert's writes: a redelivery of it replays them (the digest of what they write is
    // added below), another alert of the same item is a write of its own.
    let key = format!("supplier-low-stock-{}", alert.event);
    let held = HashMap::from([(
        alert.sku.trim().to_lowercase(),
        Held { write_key: alert.item.clone(), quantity: alert.available },
    )]);
    reconcile(ports, distributor, store, policy, &key, std::slice::from_ref(&alert.sku), &held).await
}

/// Looks `skus` up at the distributor and decides each against the store's `held` stock.
async fn reconcile(
    ports: &Ports,
    distributor: &dyn Distributor,
    store: &dyn InventoryStore,
    policy: &ConflictPolicy,
    key: &str,
    skus: &[String],
    held: &HashMap<String, Held>,
) -> Result<StockReport, SupplierError> {
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
    let mut writes: Vec<(String, StockWrite)> = Vec::new();
    // The stock each SKU ends at, with its inventory item.
    let mut bases: BTreeMap<String, (i64, String)> = BTreeMap::new();
    // The base records as read (to write only what changes).
    let mut priors: HashMap<String, Value> = HashMap::new();
    for sku in skus {
        let k = sku.to_lowercase();
        let Some(&x) = xoro.get(&k) else { continue };
        let Some(rec) = held.get(&k) else {
            report.not_in_store.push(sku.clone());
            continue;
        };
        let shop = rec.quantity;
        let keep = |bases: &mut BTreeMap<_, _>, q: i64| bases.insert(sku.clone(), (q, rec.write_key.clone()));
        let prior = ports.kv.get(&base_key(sku)).await?;
        let base = prior.as_ref().and_then(|v| v["stock"].as_i64());
        if let Some(p) = prior {
            priors.insert(sku.clone(), p);
        }
        let target = match base {
            _ if shop == x => None,
            None => Some(x),
            Some(b) if shop == b => Some(x),
            Some(b) if x == b => {
                report.kept += 1;
                keep(&mut bases, shop);
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
                        keep(&mut bases, shop);
                        continue;
                    }
                    (_, Some(v)) => Some(v),
                }
            }
        };
        match target {
            None => {
                report.unchanged += 1;
                keep(&mut bases, shop);
            }
            Some(q) => writes.push((
                sku.clone(),
                StockWrite { write_key: rec.write_key.clone(), quantity: q, expected: Some(shop) },
            )),
        }
    }
    if !writes.is_empty() {
        let batch: Vec<StockWrite> = writes.iter().map(|(_, w)| w.clone()).collect();
        let outcomes = store
            .set_stock(&batch, &write_key(key, &batch))
            .await
            .map_err(|e| SupplierError::Invalid(format!("writing stock: {e}")))?;
        for ((sku, w), outcome) in writes.into_iter().zip(outcomes) {
            match outcome {
                WriteOutcome::Done => {
                    bases.insert(sku.clone(), (w.quantity, w.write_key));
                    report.written.push((sku, w.quantity));
                }
                WriteOutcome::Moved { .. } => report.moved.push(sku),
                WriteOutcome::Failed { error } => report.failed.push((sku, error)),
            }
        }
    }
    let at = ports.clock.now();
    for (sku, (stock, item)) in bases {
        // Written only when it changed: a sync of an unchanged catalog writes nothing.
        let before = priors.get(&sku);
        let same = |b: &Value| b["stock"].as_i64() == Some(stock) && b["item"].as_str() == Some(item.as_str());
        if before.is_some_and(same) {
            continue;
        }
        if before.and_then(|b| b["item"].as_str()) != Some(item.as_str()) {
            link_item(ports, &item, &sku).await?;
        }
        ports.kv.put(&base_key(&sku), &json!({ "stock": stock, "item": item, "at": at })).await?;
    }
    Ok(report)
}

/// The writes' idempotency key: `key` and a digest of what they write, so a replay of the same
/// writes applies nothing twice and a sync that decides otherwise (the distributor moved
/// since) is a write of its own, not a mismatch of the key.
fn write_key(key: &str, writes: &[StockWrite]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for w in writes {
        h.update(format!("{}={}<-{:?};", w.write_key, w.quantity, w.expected).as_bytes());
    }
    format!("{key}-{}", &hex::encode(h.finalize())[..16])
}

fn d_json(sku: &str, c: &Conflict, why: &str) -> Value {
    json!({ "sku": sku, "base": c.base, "shopify": c.remote, "xorosoft": c.local, "reason": why })
}
