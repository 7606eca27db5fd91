//! Inventory: each store's variants with their stock, the port that reads and writes them, and
//! the compare (a dry run) that matches both sides — by SKU, then by name — and plans the
//! destination's changes from the source of truth. Nothing here writes.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Platform, StoreError};

/// One sellable variant (a simple product is its own single variant) and its stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryRecord {
    pub product_id: String,
    pub variant_id: String,
    /// The product's name, with the variant's where it has one (`Shirt - Blue / M`).
    pub name: String,
    pub sku: String,
    /// `None` when the store does not track this variant's stock (or does not stock it at the
    /// mapped location).
    pub quantity: Option<i64>,
    /// `instock`, `outofstock`, `onbackorder` or `untracked`.
    pub status: String,
    /// What the adapter needs to write this variant (Shopify: the inventory item's GID;
    /// WooCommerce: `product_id` or `parent/variation`).
    pub write_key: String,
}

/// The stock status a quantity means where the platform reports none of its own: `untracked`
/// without a quantity, `outofstock` at or below 0, else `instock`.
pub fn status_for(quantity: Option<i64>) -> &'static str {
    match quantity {
        None => "untracked",
        Some(q) if q <= 0 => "outofstock",
        Some(_) => "instock",
    }
}

/// How a plan item was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchedBy {
    Sku,
    Name,
}

/// One destination variant to change, with the fields of the design.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryPlanItem {
    /// The item's id in its plan (its position), as the selection names it.
    pub item: usize,
    /// The destination variant, the row that changes.
    pub product_id: String,
    pub name: String,
    pub sku: String,
    pub source_quantity: Option<i64>,
    pub destination_quantity: Option<i64>,
    /// `source − destination` (an untracked side counts as 0).
    pub difference: i64,
    pub source_status: String,
    pub destination_status: String,
    pub source_platform: Platform,
    pub destination_platform: Platform,
    pub source_product_id: String,
    pub destination_product_id: String,
    pub destination_write_key: String,
    pub matched_by: MatchedBy,
}

/// Records one side has and the other does not, or that cannot be matched safely.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Unmatched {
    pub missing_in_destination: Vec<InventoryRecord>,
    pub missing_in_source: Vec<InventoryRecord>,
    /// A SKU (or, unmatched by SKU, a name) held by more than one variant on a side: listed,
    /// never synced, until the store is cleaned up. `(side, key, how many)`.
    pub ambiguous: Vec<(Platform, String, usize)>,
}

/// The result of a compare: the changes to make, what already agrees, and what is unmatched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryComparison {
    pub source: Platform,
    pub destination: Platform,
    pub compared_at: DateTime<Utc>,
    pub items: Vec<InventoryPlanItem>,
    pub unchanged: usize,
    /// Matched destination variants in stock (quantity above 0) at the compare: the base of
    /// the blast-radius guard.
    #[serde(default)]
    pub destination_in_stock: usize,
    pub unmatched: Unmatched,
    /// The run this plan undoes, for a rollback plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
}

fn name_key(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Indexes `records` by `key`, keeping keys held once; returns the index and the keys held
/// more than once with their counts.
fn index<'a>(
    records: impl IntoIterator<Item = &'a InventoryRecord>,
    key: impl Fn(&InventoryRecord) -> Option<String>,
) -> (HashMap<String, &'a InventoryRecord>, Vec<(String, usize)>) {
    let mut counts: HashMap<String, (usize, &InventoryRecord)> = HashMap::new();
    for r in records {
        if let Some(k) = key(r) {
            counts.entry(k).and_modify(|e| e.0 += 1).or_insert((1, r));
        }
    }
    let mut dup: Vec<(String, usize)> =
        counts.iter().filter(|(_, (n, _))| *n > 1).map(|(k, (n, _))| (k.clone(), *n)).collect();
    dup.sort();
    let unique = counts.into_iter().filter(|(_, (n, _))| *n == 1).map(|(k, (_, r))| (k, r)).collect();
    (unique, dup)
}

/// Matches both sides and plans the destination's stock from the source's: by SKU first, then
/// by name among the variants left unmatched on both sides. Items that already agree count as
/// unchanged; a source variant whose stock is not tracked changes nothing.
pub fn compare(
    source: Platform,
    source_records: &[InventoryRecord],
    destination: Platform,
    destination_records: &[InventoryRecord],
    now: DateTime<Utc>,
) -> InventoryComparison {
    let sku = |r: &InventoryRecord| Some(r.sku.trim().to_string()).filter(|s| !s.is_empty());
    let (src_sku, src_dup) = index(source_records, sku);
    let (dst_sku, dst_dup) = index(destination_records, sku);
    let mut unmatched = Unmatched::default();
    unmatched.ambiguous.extend(src_dup.iter().map(|(k, n)| (source, k.clone(), *n)));
    unmatched.ambiguous.extend(dst_dup.iter().map(|(k, n)| (destination, k.clone(), *n)));
    let dup_skus: std::collections::HashSet<&str> =
        src_dup.iter().chain(dst_dup.iter()).map(|(k, _)| k.as_str()).collect();

    let mut pairs: Vec<(&InventoryRecord, &InventoryRecord, MatchedBy)> = Vec::new();
    let mut matched_dst: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut left_src: Vec<&InventoryRecord> = Vec::new();
    for r in source_records {
        match sku(r) {
            Some(k) if dup_skus.contains(k.as_str()) => {}
            Some(k) => match (src_sku.contains_key(&k), dst_sku.get(&k)) {
                (true, Some(d)) => {
                    matched_dst.insert(d.variant_id.as_str());
                    pairs.push((r, d, MatchedBy::Sku));
                }
                _ => left_src.push(r),
            },
            None => left_src.push(r),
        }
    }
    // By name, among what SKUs left unmatched on both sides.
    let left_dst: Vec<&InventoryRecord> = destination_records
        .iter()
        .filter(|d| {
            !matched_dst.contains(d.variant_id.as_str()) && sku(d).is_none_or(|k| !dup_skus.contains(k.as_str()))
        })
        .collect();
    let by_name = |r: &InventoryRecord| Some(name_key(&r.name)).filter(|n| !n.is_empty());
    let (src_name, src_name_dup) = index(left_src.iter().copied(), by_name);
    let (dst_name, dst_name_dup) = index(left_dst.iter().copied(), by_name);
    unmatched.ambiguous.extend(src_name_dup.iter().map(|(k, n)| (source, k.clone(), *n)));
    unmatched.ambiguous.extend(dst_name_dup.iter().map(|(k, n)| (destination, k.clone(), *n)));
    let mut name_matched_dst: std::collections::HashSet<String> = std::collections::HashSet::new();
    for r in &left_src {
        let key = name_key(&r.name);
        match (src_name.contains_key(&key), dst_name.get(&key)) {
            (true, Some(d)) => {
                name_matched_dst.insert(d.variant_id.clone());
                pairs.push((r, d, MatchedBy::Name));
            }
            _ if src_name_dup.iter().any(|(k, _)| *k == key) => {}
            _ => unmatched.missing_in_destination.push((*r).clone()),
        }
    }
    for d in &left_dst {
        let key = name_key(&d.name);
        if !name_matched_dst.contains(&d.variant_id) && !dst_name_dup.iter().any(|(k, _)| *k == key) {
            unmatched.missing_in_source.push((*d).clone());
        }
    }

    let mut items = Vec::new();
    let mut unchanged = 0;
    let destination_in_stock = pairs.iter().filter(|(_, d, _)| d.quantity.is_some_and(|q| q > 0)).count();
    for (s, d, matched_by) in pairs {
        let Some(want) = s.quantity else { continue };
        if d.quantity == Some(want) {
            unchanged += 1;
            continue;
        }
        items.push(InventoryPlanItem {
            item: items.len(),
            product_id: d.variant_id.clone(),
            name: s.name.clone(),
            sku: if s.sku.is_empty() { d.sku.clone() } else { s.sku.clone() },
            source_quantity: s.quantity,
            destination_quantity: d.quantity,
            difference: want - d.quantity.unwrap_or(0),
            source_status: s.status.clone(),
            destination_status: d.status.clone(),
            source_platform: source,
            destination_platform: destination,
            source_product_id: s.product_id.clone(),
            destination_product_id: d.product_id.clone(),
            destination_write_key: d.write_key.clone(),
            matched_by,
        });
    }
    InventoryComparison {
        source,
        destination,
        compared_at: now,
        items,
        unchanged,
        destination_in_stock,
        unmatched,
        rollback_of: None,
    }
}

/// The plan's items as CSV, one row each, with the design's column names.
pub fn plan_csv(items: &[InventoryPlanItem]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "item",
        "productId",
        "name",
        "sku",
        "sourceQuantity",
        "destinationQuantity",
        "difference",
        "sourceStatus",
        "destinationStatus",
        "sourcePlatform",
        "destinationPlatform",
        "sourceProductId",
        "destinationProductId",
        "matchedBy",
    ])?;
    let q = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    for i in items {
        w.write_record([
            i.item.to_string(),
            i.product_id.clone(),
            i.name.clone(),
            i.sku.clone(),
            q(i.source_quantity),
            q(i.destination_quantity),
            i.difference.to_string(),
            i.source_status.clone(),
            i.destination_status.clone(),
            i.source_platform.to_string(),
            i.destination_platform.to_string(),
            i.source_product_id.clone(),
            i.destination_product_id.clone(),
            match i.matched_by {
                MatchedBy::Sku => "sku".into(),
                MatchedBy::Name => "name".into(),
            },
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One destination stock change, as a sync worker hands it to an adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockWrite {
    pub write_key: String,
    pub quantity: i64,
    /// The quantity the plan saw (the adapter refuses the write if the store moved since,
    /// where the platform can compare-and-set).
    pub expected: Option<i64>,
}

/// An item's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteOutcome {
    Done,
    /// The store's value moved since the compare: nothing written.
    Moved {
        now: Option<i64>,
    },
    Failed {
        error: String,
    },
}

/// A store's inventory, read and written: one adapter per platform.
#[async_trait]
pub trait InventoryStore: Send + Sync {
    fn platform(&self) -> Platform;
    /// The connection check before a compare: credentials and reachability.
    async fn check(&self) -> Result<(), StoreError>;
    async fn inventory(&self) -> Result<Vec<InventoryRecord>, StoreError>;
    /// The records of these SKUs (those the store has). By default a whole read, filtered; a
    /// store that can look SKUs up does so.
    async fn inventory_of(&self, skus: &[String]) -> Result<Vec<InventoryRecord>, StoreError> {
        let wanted: std::collections::HashSet<String> = skus.iter().map(|s| s.trim().to_lowercase()).collect();
        Ok(self.inventory().await?.into_iter().filter(|r| wanted.contains(&r.sku.trim().to_lowercase())).collect())
    }
    /// Writes as few calls as the platform allows; `key` identifies this write (a retry or a
    /// replay with the same key applies nothing twice where the platform supports it). One
    /// outcome per write, in order.
    async fn set_stock(&self, writes: &[StockWrite], key: &str) -> Result<Vec<WriteOutcome>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, sku: &str, name: &str, q: Option<i64>) -> InventoryRecord {
        InventoryRecord {
            product_id: format!("p{id}"),
            variant_id: id.to_string(),
            name: name.to_string(),
            sku: sku.to_string(),
            quantity: q,
            status: status_for(q).into(),
            write_key: format!("w{id}"),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-12-01T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn matches_by_sku_then_by_name_and_plans_only_differences() {
        let src = vec![
            rec("s1", "A", "Shirt - Blue", Some(5)),
            rec("s2", "B", "Shirt - Red", Some(0)),
            rec("s3", "", "Mug", Some(7)),
            rec("s4", "C", "Only on source", Some(1)),
            rec("s5", "D", "Untracked", None),
        ];
        let dst = vec![
            rec("d1", "A", "shirt  - blue", Some(3)),
            rec("d2", "B", "Shirt - Red", Some(0)),
            rec("d3", "", "  MUG ", Some(2)),
            rec("d4", "E", "Only on destination", Some(9)),
            rec("d5", "D", "Untracked", Some(4)),
        ];
        let c = compare(Platform::WooCommerce, &src, Platform::Shopify, &dst, now());
        type Row<'a> = (&'a str, Option<i64>, Option<i64>, i64, MatchedBy);
        let got: Vec<Row> = c
            .items
            .iter()
            .map(|i| (i.product_id.as_str(), i.source_quantity, i.destination_quantity, i.difference, i.matched_by))
            .collect();
        assert_eq!(got, [("d1", Some(5), Some(3), 2, MatchedBy::Sku), ("d3", Some(7), Some(2), 5, MatchedBy::Name)]);
        assert_eq!(c.unchanged, 1, "B agrees");
        assert_eq!(
            c.unmatched.missing_in_destination.iter().map(|r| r.variant_id.as_str()).collect::<Vec<_>>(),
            ["s4"]
        );
        assert_eq!(c.unmatched.missing_in_source.iter().map(|r| r.variant_id.as_str()).collect::<Vec<_>>(), ["d4"]);
        let first = &c.items[0];
        assert_eq!((first.source_platform, first.destination_platform), (Platform::WooCommerce, Platform::Shopify));
        assert_eq!((first.source_product_id.as_str(), first.destination_product_id.as_str()), ("ps1", "pd1"));
        assert_eq!(first.destination_write_key, "wd1");
        assert_eq!(c.items.iter().map(|i| i.item).collect::<Vec<_>>(), [0, 1]);
    }

    #[test]
    fn a_sku_held_twice_is_listed_and_never_synced() {
        let src =
            vec![rec("s1", "A", "One", Some(5)), rec("s2", "A", "Two", Some(6)), rec("s3", "B", "Three", Some(1))];
        let dst =
            vec![rec("d1", "A", "One", Some(0)), rec("d2", "B", "Three", Some(0)), rec("d3", "B", "Four", Some(0))];
        let c = compare(Platform::Shopify, &src, Platform::WooCommerce, &dst, now());
        assert!(c.items.is_empty(), "{:?}", c.items);
        assert_eq!(
            c.unmatched.ambiguous,
            [(Platform::Shopify, "A".to_string(), 2), (Platform::WooCommerce, "B".to_string(), 2)]
        );
    }

    #[test]
    fn the_plan_exports_as_csv_with_the_design_columns() {
        let c = compare(
            Platform::WooCommerce,
            &[rec("s1", "A", "Shirt, \"Blue\"", Some(5))],
            Platform::Shopify,
            &[rec("d1", "A", "x", None)],
            now(),
        );
        let csv = plan_csv(&c.items).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "item,productId,name,sku,sourceQuantity,destinationQuantity,difference,sourceStatus,destinationStatus,sourcePlatform,destinationPlatform,sourceProductId,destinationProductId,matchedBy"
        );
        assert_eq!(
            lines.next().unwrap(),
            "0,d1,\"Shirt, \"\"Blue\"\"\",A,5,,5,instock,untracked,woocommerce,shopify,ps1,pd1,sku"
        );
    }
}
