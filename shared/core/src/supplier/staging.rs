//! Staging: what a supplier item would do to the store, waiting for approval.
//!
//! A matched item is an UPDATE entry carrying the field-level diff against the store's
//! product (only the fields the feed gives: an empty feed field says nothing); an item the store
//! lacks is a CREATE entry with every field. An UPDATE with no changes is not staged. As the
//! merchant has it, descriptions come from the feed, the price and stock from the distributor
//! (its price replaces the feed's when it gives one; its stock is a new product's first
//! inventory; later stock moves through the inventory sync, not through review). Entries
//! above the auto-approve threshold (default: confidence > 95) are approved by `auto`; the rest
//! wait for a person, who approves (all fields or some), or rejects.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use super::distributor::Carried;
use super::feed::SupplierItem;
use super::matching::{Evidence, Match};
use crate::stores::catalog::{canonical, same, FieldChange, FieldKind};

/// The product fields a supplier item carries, with how each compares.
pub const FIELDS: [(&str, FieldKind); 13] = [
    ("name", FieldKind::Text),
    ("description", FieldKind::Text),
    ("vendor", FieldKind::Text),
    ("product_type", FieldKind::Text),
    ("tags", FieldKind::Set),
    ("price", FieldKind::Money),
    ("barcode", FieldKind::Text),
    ("weight_grams", FieldKind::Number),
    ("images", FieldKind::Images),
    ("seo_title", FieldKind::Text),
    ("seo_description", FieldKind::Text),
    ("product_info", FieldKind::Text),
    ("inventory", FieldKind::Number),
];

/// How `field` compares (text unless [`FIELDS`] says otherwise).
pub fn kind_of(field: &str) -> FieldKind {
    FIELDS.iter().find(|(f, _)| *f == field).map(|(_, k)| *k).unwrap_or(FieldKind::Text)
}

/// The default auto-approve threshold: entries with a confidence above it are approved.
pub const AUTO_APPROVE_ABOVE: u8 = 95;

/// An item's fields, by the names of [`FIELDS`].
pub fn item_fields(item: &SupplierItem) -> BTreeMap<String, Value> {
    let text = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
    let mut f = BTreeMap::new();
    f.insert("name".into(), text(&item.title));
    f.insert("description".into(), text(&item.description));
    f.insert("vendor".into(), text(&item.vendor));
    f.insert("product_type".into(), text(&item.product_type));
    f.insert("tags".into(), if item.tags.is_empty() { Value::Null } else { json!(item.tags) });
    f.insert("price".into(), item.price.map(|p| json!(p.to_string())).unwrap_or(Value::Null));
    f.insert("barcode".into(), item.barcode.as_deref().map(|b| json!(b)).unwrap_or(Value::Null));
    f.insert("weight_grams".into(), item.weight_grams.map(|w| json!(w.round() as i64)).unwrap_or(Value::Null));
    f.insert("images".into(), if item.images.is_empty() { Value::Null } else { json!(item.images) });
    f.insert("seo_title".into(), text(&item.seo_title));
    f.insert("seo_description".into(), text(&item.seo_description));
    let info = if item.product_info.is_empty() { Value::Null } else { Value::Object(item.product_info.clone()) };
    f.insert("product_info".into(), info);
    f
}

/// The changes `item` makes to a store product holding `store`: the feed's non-empty fields
/// that differ.
pub fn diff(item: &BTreeMap<String, Value>, store: &BTreeMap<String, Value>) -> Vec<FieldChange> {
    FIELDS
        .iter()
        .filter_map(|(field, kind)| {
            let after = item.get(*field).map(|v| canonical(*kind, v)).unwrap_or(Value::Null);
            if after.is_null() || after == json!([]) {
                return None;
            }
            let before = store.get(*field).map(|v| canonical(*kind, v)).unwrap_or(Value::Null);
            (!same(*kind, &after, &before)).then(|| FieldChange { field: field.to_string(), before, after })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StagedAction {
    Create,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StagingStatus {
    /// Waits for a person.
    Pending,
    /// Approved (automatically or by a person), to be applied.
    Approved,
    Rejected,
    /// In the store, with a product version recorded.
    Applied,
    /// Its apply failed past the retries (the reason in `error`).
    Failed,
}

impl StagingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Applied => "applied",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Rejected, Self::Applied, Self::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One staged change to the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagingEntry {
    /// `{run}/{sku}`: one entry per item per run, so a repeated batch stages nothing twice.
    pub id: String,
    pub run: String,
    pub sku: String,
    pub action: StagedAction,
    /// The store product an UPDATE changes.
    pub product: Option<String>,
    pub confidence: u8,
    pub evidence: Vec<Evidence>,
    pub caveat: Option<String>,
    /// For an UPDATE, the fields that change; for a CREATE, every field the feed gives.
    pub changes: Vec<FieldChange>,
    pub item: SupplierItem,
    pub carried: Carried,
    pub status: StagingStatus,
    /// Set when only some fields were approved.
    pub approved_fields: Option<Vec<String>>,
    /// Who decided (`auto` for the threshold), when, and why.
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    /// The conflict policy's decisions when the store's values moved since staging (a manual
    /// one holds the entry for a person, with both values and the reason).
    #[serde(default)]
    pub conflicts: Vec<super::conflict::Decision>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Bumped by every change: writes are compare-and-set on it.
    pub revision: u64,
}

/// The entry id of `sku` in `run`.
pub fn entry_id(run: &str, sku: &str) -> String {
    format!("{run}/{}", sku.trim().to_lowercase())
}

/// Stages `item` as matched: `None` for an UPDATE that changes nothing. `store` holds the matched
/// product's fields (empty for a CREATE). Above `auto_above` the entry is approved as it is made.
pub fn stage(
    run: &str,
    item: SupplierItem,
    carried: Carried,
    m: Match,
    store: &BTreeMap<String, Value>,
    auto_above: u8,
    now: DateTime<Utc>,
) -> Option<StagingEntry> {
    let mut fields = item_fields(&item);
    if let Some(price) = carried.price {
        fields.insert("price".into(), json!(price.to_string()));
    }
    let (action, changes) = match &m.product {
        Some(_) => (StagedAction::Update, diff(&fields, store)),
        None => {
            fields.insert("inventory".into(), json!(carried.stock.max(0)));
            (StagedAction::Create, diff(&fields, &BTreeMap::new()))
        }
    };
    if action == StagedAction::Update && changes.is_empty() {
        return None;
    }
    let auto = m.confidence > auto_above;
    Some(StagingEntry {
        id: entry_id(run, &item.sku),
        run: run.to_string(),
        sku: item.sku.clone(),
        action,
        product: m.product,
        confidence: m.confidence,
        evidence: m.evidence,
        caveat: m.caveat,
        changes,
        item,
        carried,
        status: if auto { StagingStatus::Approved } else { StagingStatus::Pending },
        approved_fields: None,
        decided_by: auto.then(|| "auto".to_string()),
        decided_at: auto.then_some(now),
        note: auto.then(|| format!("confidence {} is above the auto-approve threshold {auto_above}", m.confidence)),
        conflicts: Vec::new(),
        error: None,
        created_at: now,
        revision: 0,
    })
}

/// A review decision that cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("{id} is {status}, not pending: it was decided already")]
    NotPending { id: String, status: &'static str },
    #[error("{id}: {field:?} is not among the entry's changes ({known})")]
    UnknownField { id: String, field: String, known: String },
    #[error("{id}: approving no fields is a rejection; reject it instead")]
    NoFields { id: String },
    #[error("{id}: a new product is approved whole (its name is needed), or rejected")]
    PartialCreate { id: String },
}

/// What a person decides of a pending entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Review {
    Approve,
    /// Only these fields are applied.
    ApproveFields {
        fields: Vec<String>,
    },
    Reject {
        reason: Option<String>,
    },
}

/// `entry` with `review` taken by `who`: a pending entry only; partial approval names fields of
/// its changes.
pub fn review(
    entry: &StagingEntry,
    review: &Review,
    who: &str,
    now: DateTime<Utc>,
) -> Result<StagingEntry, ReviewError> {
    if entry.status != StagingStatus::Pending {
        return Err(ReviewError::NotPending { id: entry.id.clone(), status: entry.status.as_str() });
    }
    let mut e = entry.clone();
    match review {
        Review::Approve => e.status = StagingStatus::Approved,
        Review::ApproveFields { fields } => {
            if fields.is_empty() {
                return Err(ReviewError::NoFields { id: e.id.clone() });
            }
            if e.action == StagedAction::Create {
                return Err(ReviewError::PartialCreate { id: e.id.clone() });
            }
            let known: Vec<&str> = e.changes.iter().map(|c| c.field.as_str()).collect();
            if let Some(f) = fields.iter().find(|f| !known.contains(&f.as_str())) {
                return Err(ReviewError::UnknownField { id: e.id.clone(), field: f.clone(), known: known.join(", ") });
            }
            e.status = StagingStatus::Approved;
            e.approved_fields = Some(fields.clone());
        }
        Review::Reject { reason } => {
            e.status = StagingStatus::Rejected;
            e.note = reason.clone();
        }
    }
    e.decided_by = Some(who.to_string());
    e.decided_at = Some(now);
    e.revision += 1;
    Ok(e)
}

/// The changes an approved entry applies (all, or the approved fields).
pub fn approved_changes(entry: &StagingEntry) -> Vec<&FieldChange> {
    entry.changes.iter().filter(|c| entry.approved_fields.as_ref().is_none_or(|f| f.contains(&c.field))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Cents;
    use crate::supplier::matching::Signal;

    fn item() -> SupplierItem {
        SupplierItem {
            line: 7,
            sku: "BR-X1".into(),
            handle: "laser-printer-x1".into(),
            title: "Laser Printer X1".into(),
            description: "<p>Fast</p>".into(),
            vendor: "Brother".into(),
            product_type: String::new(),
            tags: vec!["printers".into()],
            barcode: Some("036000291452".into()),
            mpn: Some("HL-L2350DW".into()),
            weight_grams: Some(7200.4),
            price: Some(Cents(19900)),
            cost: None,
            images: vec!["https://cdn.example/x1.jpg".into()],
            seo_title: String::new(),
            seo_description: String::new(),
            options: vec![],
            product_info: serde_json::json!({ "color": "Black" }).as_object().unwrap().clone(),
        }
    }

    fn matched(product: Option<&str>, confidence: u8) -> Match {
        let evidence = product
            .map(|p| vec![Evidence { signal: Signal::Sku, product: p.into(), confidence, detail: "SKU BR-X1".into() }])
            .unwrap_or_default();
        Match { product: product.map(Into::into), confidence, evidence, caveat: None }
    }

    fn carried() -> Carried {
        Carried { item_number: "X-100".into(), stock: 12, price: None }
    }

    #[test]
    fn an_update_carries_only_what_the_feed_changes_and_nothing_is_not_staged() {
        let now = Utc::now();
        let store: BTreeMap<String, Value> = serde_json::from_value(json!({
            "name": "Laser Printer X1", "description": "<p>Old</p>", "vendor": "Brother", "product_type": "Printers",
            "tags": ["printers"], "price": "199", "barcode": "036000291452", "weight_grams": 7200,
            "images": ["https://cdn.shopify.example/files/x1.jpg?v=3"], "product_info": { "color": "Black" }
        }))
        .unwrap();
        let e = stage("run-1", item(), carried(), matched(Some("v1"), 100), &store, AUTO_APPROVE_ABOVE, now).unwrap();
        // The description differs; the type the feed leaves empty is kept; the price, weight and
        // image (by file name) are the same.
        assert_eq!(
            e.changes,
            vec![FieldChange { field: "description".into(), before: json!("<p>Old</p>"), after: json!("<p>Fast</p>") }]
        );
        assert_eq!(
            (e.action, e.status, e.decided_by.as_deref(), e.id.as_str()),
            (StagedAction::Update, StagingStatus::Approved, Some("auto"), "run-1/br-x1")
        );
        let mut same = store.clone();
        same.insert("description".into(), json!("<p>Fast</p>"));
        assert_eq!(stage("run-1", item(), carried(), matched(Some("v1"), 100), &same, AUTO_APPROVE_ABOVE, now), None);
        // At the threshold: a person decides.
        let e = stage("run-1", item(), carried(), matched(Some("v1"), 95), &store, AUTO_APPROVE_ABOVE, now).unwrap();
        assert_eq!((e.status, e.decided_by), (StagingStatus::Pending, None));
        // A new product carries every field it has.
        let e =
            stage("run-1", item(), carried(), matched(None, 100), &BTreeMap::new(), AUTO_APPROVE_ABOVE, now).unwrap();
        let fields: Vec<&str> = e.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "name",
                "description",
                "vendor",
                "tags",
                "price",
                "barcode",
                "weight_grams",
                "images",
                "product_info",
                "inventory"
            ]
        );
        assert_eq!((e.changes[6].after.clone(), e.changes[9].after.clone()), (json!(7200), json!(12)));
        // The distributor's price replaces the feed's.
        let priced = Carried { price: Some(Cents(18900)), ..carried() };
        let e = stage("run-1", item(), priced, matched(Some("v1"), 100), &store, AUTO_APPROVE_ABOVE, now).unwrap();
        let price = e.changes.iter().find(|c| c.field == "price").unwrap();
        assert_eq!((price.before.clone(), price.after.clone()), (json!("199.00"), json!("189.00")));
    }

    #[test]
    fn a_person_approves_all_or_some_fields_or_rejects_once() {
        let now = Utc::now();
        let store: BTreeMap<String, Value> =
            serde_json::from_value(json!({ "name": "Printer", "price": "150" })).unwrap();
        let pending = stage("r", item(), carried(), matched(Some("v1"), 80), &store, AUTO_APPROVE_ABOVE, now).unwrap();
        let some = review(&pending, &Review::ApproveFields { fields: vec!["price".into()] }, "dana", now).unwrap();
        assert_eq!(
            (some.status, some.revision, some.decided_by.as_deref()),
            (StagingStatus::Approved, 1, Some("dana"))
        );
        let applied: Vec<&str> = approved_changes(&some).iter().map(|c| c.field.as_str()).collect();
        assert_eq!(applied, vec!["price"]);
        assert_eq!(
            approved_changes(&review(&pending, &Review::Approve, "dana", now).unwrap()).len(),
            pending.changes.len()
        );
        let e = review(&pending, &Review::ApproveFields { fields: vec!["colour".into()] }, "dana", now).unwrap_err();
        assert!(
            e.to_string().starts_with("r/br-x1: \"colour\" is not among the entry's changes (name, description"),
            "{e}"
        );
        assert_eq!(
            review(&pending, &Review::ApproveFields { fields: vec![] }, "d", now).unwrap_err(),
            ReviewError::NoFields { id: "r/br-x1".into() }
        );
        let rejected = review(&pending, &Review::Reject { reason: Some("wrong printer".into()) }, "dana", now).unwrap();
        assert_eq!((rejected.status, rejected.note.as_deref()), (StagingStatus::Rejected, Some("wrong printer")));
        assert_eq!(
            review(&rejected, &Review::Approve, "dana", now).unwrap_err().to_string(),
            "r/br-x1 is rejected, not pending: it was decided already"
        );
        let create =
            stage("r", item(), carried(), matched(None, 90), &BTreeMap::new(), AUTO_APPROVE_ABOVE, now).unwrap();
        assert!(matches!(
            review(&create, &Review::ApproveFields { fields: vec!["price".into()] }, "d", now),
            Err(ReviewError::PartialCreate { .. })
        ));
    }
}
