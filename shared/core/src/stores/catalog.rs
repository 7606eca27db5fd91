//! The catalog data types beyond inventory — products, pages, blog posts, coupons and
//! collections — as platform-neutral records, and the pure compare that plans the
//! destination's changes from the source's (the source wins, field by field).
//!
//! Each adapter reads its platform's objects into [`CatalogRecord`]s with the field names of
//! [`DataType::fields`] (prices as decimal strings with two places, HTML as the platform stores
//! it, lists of URLs, names or SKUs; a page's or post's `status` as `publish` or `draft`, what
//! both platforms have) and writes them back the same way. The compare:
//! - matches by the type's primary key, then by its secondary key among what is left on both
//!   sides (products: SKU, then name; pages and posts: slug, then title; coupons: code;
//!   collections: slug, then name); a key held by more than one record on a side is listed as
//!   ambiguous and never synced;
//! - plans an **update** per matched record whose fields differ (only the fields the source
//!   has; each change with the destination's value before and the source's after), a
//!   **create** per source record the destination lacks, and — only when asked — a **delete**
//!   per destination record the source lacks (a delete always needs the sync's override);
//! - compares unordered lists (tags, categories, a collection's products, a coupon's products)
//!   as sets, ordered ones (images, variants by SKU) as lists, and money as amounts.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::inventory::MatchedBy;
use super::Platform;

/// What a store ⇄ store sync compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    Inventory,
    Products,
    Pages,
    Posts,
    Coupons,
    Collections,
}

/// How a field compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// A code compared without case (coupon codes: WooCommerce keeps them in lower case,
    /// Shopify matches them without case).
    Code,
    /// A decimal amount (`"10"` equals `"10.00"`).
    Money,
    /// A whole number or null.
    Number,
    /// A list whose order does not matter (tags, categories, SKUs).
    Set,
    /// A list whose order matters (images).
    List,
    /// Product variants: objects compared by SKU, each field by its own kind.
    Variants,
    /// An image URL, compared by its file name: a platform keeps its own copy of an image it
    /// is given (WordPress's uploads, Shopify's CDN), under the same name.
    Image,
    /// Image URLs in order, each compared by its file name.
    Images,
}

impl DataType {
    pub const ALL: [DataType; 6] =
        [Self::Inventory, Self::Products, Self::Pages, Self::Posts, Self::Coupons, Self::Collections];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inventory => "inventory",
            Self::Products => "products",
            Self::Pages => "pages",
            Self::Posts => "posts",
            Self::Coupons => "coupons",
            Self::Collections => "collections",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|t| t.as_str() == s || (s == "articles" && *t == Self::Posts))
    }

    /// The primary and the secondary match key (the secondary is tried among what the primary
    /// left unmatched on both sides).
    pub fn match_keys(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::Inventory | Self::Products => ("sku", Some("name")),
            Self::Pages | Self::Posts => ("slug", Some("title")),
            Self::Coupons => ("code", None),
            Self::Collections => ("slug", Some("name")),
        }
    }

    /// The fields a record of this type carries, with how each compares. The match keys are
    /// among them.
    pub fn fields(self) -> &'static [(&'static str, FieldKind)] {
        use FieldKind::*;
        match self {
            Self::Inventory => &[("sku", Text), ("name", Text), ("quantity", Number)],
            Self::Products => &[
                ("sku", Text),
                ("name", Text),
                ("description", Text),
                ("status", Text),
                ("price", Money),
                ("compare_at_price", Money),
                ("barcode", Text),
                ("weight_grams", Number),
                ("images", Images),
                ("categories", Set),
                ("tags", Set),
                ("seo_title", Text),
                ("seo_description", Text),
                ("variants", Variants),
            ],
            Self::Pages => &[
                ("slug", Text),
                ("title", Text),
                ("content", Text),
                ("status", Text),
                ("seo_title", Text),
                ("seo_description", Text),
            ],
            Self::Posts => &[
                ("slug", Text),
                ("title", Text),
                ("content", Text),
                ("excerpt", Text),
                ("status", Text),
                ("featured_image", Image),
                ("categories", Set),
                ("tags", Set),
                ("seo_title", Text),
                ("seo_description", Text),
            ],
            Self::Coupons => &[
                ("code", Code),
                ("discount_type", Text),
                ("amount", Money),
                ("expires_at", Text),
                ("usage_limit", Number),
                ("usage_limit_per_customer", Number),
                ("minimum_amount", Money),
                ("product_skus", Set),
            ],
            Self::Collections => &[
                ("slug", Text),
                ("name", Text),
                ("description", Text),
                ("image", Image),
                ("product_skus", Set),
                ("seo_title", Text),
                ("seo_description", Text),
            ],
        }
    }

    pub fn field_kind(self, field: &str) -> Option<FieldKind> {
        self.fields().iter().find(|(f, _)| *f == field).map(|(_, k)| *k)
    }
}

impl std::fmt::Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The coupon fields WooCommerce and Shopify keep: the terms, and `product_skus`, the keys of
/// the products a coupon is limited to (empty: every product).
pub const COUPON_FIELDS: &[&str] = &[
    "code",
    "discount_type",
    "amount",
    "expires_at",
    "usage_limit",
    "usage_limit_per_customer",
    "minimum_amount",
    "product_skus",
];

/// The fields of a product variant, with how each compares (matched by `sku`).
pub const VARIANT_FIELDS: [(&str, FieldKind); 6] = [
    ("sku", FieldKind::Text),
    ("options", FieldKind::Text),
    ("price", FieldKind::Money),
    ("compare_at_price", FieldKind::Money),
    ("barcode", FieldKind::Text),
    ("weight_grams", FieldKind::Number),
];

/// A product's match key: its single variant's SKU, or for a product with variants the
/// smallest of their SKUs (WooCommerce gives the parent a SKU of its own, Shopify does not:
/// the variants' SKUs are what both sides share).
pub fn product_sku(own_sku: &str, variant_skus: &[&str]) -> String {
    variant_skus
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .min()
        .map(str::to_string)
        .unwrap_or_else(|| own_sku.trim().to_string())
}

/// One object of a store, in the type's neutral fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogRecord {
    /// The platform's id of the object (what a write names).
    pub id: String,
    pub fields: BTreeMap<String, Value>,
}

impl CatalogRecord {
    pub fn text(&self, field: &str) -> Option<String> {
        match self.fields.get(field)? {
            Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// One field's change: the destination's value before, the source's after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

/// One destination object to change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogPlanItem {
    pub item: usize,
    pub action: Action,
    /// The primary key's value (SKU, slug, code).
    pub key: String,
    pub title: String,
    pub source_id: Option<String>,
    pub destination_id: Option<String>,
    pub matched_by: Option<MatchedBy>,
    /// Update: the fields that differ. Create: every field of the source. Delete: every field
    /// of the destination (its before-image), after `null`.
    pub changes: Vec<FieldChange>,
}

/// Records one side has and the other does not, or that cannot be matched safely.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CatalogUnmatched {
    /// On the source only (planned as creates).
    pub missing_in_destination: Vec<String>,
    /// On the destination only (planned as deletes only when asked).
    pub missing_in_source: Vec<String>,
    /// `(platform, key, count)`: a key more than one record holds.
    pub ambiguous: Vec<(Platform, String, usize)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogComparison {
    pub data_type: DataType,
    pub source: Platform,
    pub destination: Platform,
    pub compared_at: DateTime<Utc>,
    pub items: Vec<CatalogPlanItem>,
    pub unchanged: usize,
    pub unmatched: CatalogUnmatched,
}

impl CatalogComparison {
    pub fn deletes(&self) -> usize {
        self.items.iter().filter(|i| i.action == Action::Delete).count()
    }
}

/// Options of a compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompareOptions {
    /// Plan a delete for each destination record the source lacks.
    pub delete_missing: bool,
}

fn normalise_key(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// A decimal amount as a comparable string (`"10"`, `"10.0"` and `"10.00"` → `"10.00"`);
/// `None` for an empty or unreadable one.
pub fn money(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    if s.is_empty() {
        return None;
    }
    let x: f64 = s.parse().ok()?;
    Some(format!("{x:.2}"))
}

/// The value of a field as compared (money normalised, sets sorted, empty text as null).
pub fn canonical(kind: FieldKind, v: &Value) -> Value {
    match kind {
        FieldKind::Money => money(v).map(Value::String).unwrap_or(Value::Null),
        FieldKind::Code => match v {
            Value::String(s) if !s.trim().is_empty() => Value::String(s.trim().to_lowercase()),
            _ => Value::Null,
        },
        FieldKind::Text => match v {
            Value::String(s) if s.trim().is_empty() => Value::Null,
            Value::String(s) => Value::String(s.trim().to_string()),
            other => other.clone(),
        },
        FieldKind::Number => match v {
            Value::String(s) => s.trim().parse::<i64>().map(Value::from).unwrap_or(Value::Null),
            Value::Number(n) => n.as_f64().map(|x| Value::from(x.round() as i64)).unwrap_or(Value::Null),
            _ => Value::Null,
        },
        FieldKind::Set => {
            let set: BTreeSet<String> = v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(|s| s.trim().to_string()))
                .filter(|s| !s.is_empty())
                .collect();
            Value::from(set.into_iter().collect::<Vec<_>>())
        }
        FieldKind::Image => match v {
            Value::String(s) if !s.trim().is_empty() => Value::String(s.trim().to_string()),
            _ => Value::Null,
        },
        FieldKind::List | FieldKind::Images => Value::from(
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(|s| s.trim().to_string()))
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>(),
        ),
        FieldKind::Variants => {
            let mut variants: Vec<Value> = v
                .as_array()
                .into_iter()
                .flatten()
                .map(|variant| {
                    let mut out = serde_json::Map::new();
                    for (f, k) in VARIANT_FIELDS {
                        if let Some(x) = variant.get(f) {
                            out.insert(f.to_string(), canonical(k, x));
                        }
                    }
                    Value::Object(out)
                })
                .collect();
            variants.sort_by(|a, b| a["sku"].as_str().cmp(&b["sku"].as_str()));
            Value::from(variants)
        }
    }
}

/// An image URL's file name (lower case, without query or fragment): what two platforms'
/// copies of one image share.
pub fn image_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    path.rsplit('/').next().unwrap_or_default().to_lowercase()
}

/// Whether two canonical values are the same for `kind` (images by file name).
pub fn same(kind: FieldKind, a: &Value, b: &Value) -> bool {
    let names = |v: &Value| match v {
        Value::String(s) => Value::String(image_name(s)),
        Value::Array(a) => Value::from(a.iter().filter_map(Value::as_str).map(image_name).collect::<Vec<_>>()),
        other => other.clone(),
    };
    match kind {
        FieldKind::Image | FieldKind::Images => names(a) == names(b),
        _ => a == b,
    }
}

/// Indexes `records` by the canonical value of `field`, keeping values held once; returns the
/// index and the values held more than once with their counts.
fn index<'a>(
    records: impl IntoIterator<Item = &'a CatalogRecord>,
    field: &str,
) -> (HashMap<String, &'a CatalogRecord>, Vec<(String, usize)>) {
    let mut counts: HashMap<String, (usize, &CatalogRecord)> = HashMap::new();
    for r in records {
        if let Some(k) = r.text(field).map(|k| normalise_key(&k)) {
            counts.entry(k).and_modify(|e| e.0 += 1).or_insert((1, r));
        }
    }
    let mut dup: Vec<(String, usize)> =
        counts.iter().filter(|(_, (n, _))| *n > 1).map(|(k, (n, _))| (k.clone(), *n)).collect();
    dup.sort();
    (counts.into_iter().filter(|(_, (n, _))| *n == 1).map(|(k, (_, r))| (k, r)).collect(), dup)
}

/// The changes that make `destination` (None: a new object) equal `source` on the fields the
/// source has.
pub fn diff(data_type: DataType, source: &CatalogRecord, destination: Option<&CatalogRecord>) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let (primary, _) = data_type.match_keys();
    for (field, kind) in data_type.fields() {
        let Some(after) = source.fields.get(*field) else { continue };
        let after = canonical(*kind, after);
        // An empty value clears the destination's, but for the primary key: a record without
        // one (matched by its secondary key) says nothing about the destination's.
        if *field == primary && after.is_null() {
            continue;
        }
        let before = destination.and_then(|d| d.fields.get(*field)).map(|v| canonical(*kind, v)).unwrap_or(Value::Null);
        // A new record's empty fields are simply absent.
        let absent = destination.is_none() && after.is_null();
        if !absent && !same(*kind, &after, &before) {
            out.push(FieldChange { field: field.to_string(), before, after });
        }
    }
    out
}

/// `record` with `changes` applied (each field set to its `after`; a null removes it): what the
/// destination holds once a sync has written them.
pub fn apply(record: &mut CatalogRecord, changes: &[FieldChange]) {
    for c in changes {
        if c.after.is_null() {
            record.fields.remove(&c.field);
        } else {
            record.fields.insert(c.field.clone(), c.after.clone());
        }
    }
}

/// Matches both sides and plans the destination's changes (see the module's description).
pub fn compare(
    data_type: DataType,
    source: Platform,
    source_records: &[CatalogRecord],
    destination: Platform,
    destination_records: &[CatalogRecord],
    opts: CompareOptions,
    now: DateTime<Utc>,
) -> CatalogComparison {
    let (primary, secondary) = data_type.match_keys();
    let mut unmatched = CatalogUnmatched::default();
    let mut pairs: Vec<(&CatalogRecord, &CatalogRecord, MatchedBy)> = Vec::new();
    let mut matched_src: HashSet<&str> = HashSet::new();
    let mut matched_dst: HashSet<&str> = HashSet::new();
    let mut ambiguous_src: HashSet<&str> = HashSet::new();
    let mut ambiguous_dst: HashSet<&str> = HashSet::new();
    let label = |r: &CatalogRecord| {
        r.text(primary).or_else(|| secondary.and_then(|s| r.text(s))).unwrap_or_else(|| r.id.clone())
    };
    for (field, by) in std::iter::once((primary, MatchedBy::Sku)).chain(secondary.map(|s| (s, MatchedBy::Name))) {
        let src_left = source_records.iter().filter(|r| !matched_src.contains(r.id.as_str()));
        let dst_left = destination_records.iter().filter(|r| !matched_dst.contains(r.id.as_str()));
        let (src, src_dup) = index(src_left, field);
        let (dst, dst_dup) = index(dst_left, field);
        for (k, n) in &src_dup {
            unmatched.ambiguous.push((source, k.clone(), *n));
        }
        for (k, n) in &dst_dup {
            unmatched.ambiguous.push((destination, k.clone(), *n));
        }
        let dup: HashSet<&str> = src_dup.iter().chain(dst_dup.iter()).map(|(k, _)| k.as_str()).collect();
        for r in
            source_records.iter().filter(|r| r.text(field).is_some_and(|k| dup.contains(normalise_key(&k).as_str())))
        {
            ambiguous_src.insert(r.id.as_str());
        }
        for r in destination_records
            .iter()
            .filter(|r| r.text(field).is_some_and(|k| dup.contains(normalise_key(&k).as_str())))
        {
            ambiguous_dst.insert(r.id.as_str());
        }
        let mut found: Vec<(&CatalogRecord, &CatalogRecord)> =
            src.iter().filter_map(|(k, s)| dst.get(k).map(|d| (*s, *d))).collect();
        found.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        for (s, d) in found {
            if ambiguous_src.contains(s.id.as_str()) || ambiguous_dst.contains(d.id.as_str()) {
                continue;
            }
            matched_src.insert(s.id.as_str());
            matched_dst.insert(d.id.as_str());
            pairs.push((s, d, by));
        }
    }
    let mut items = Vec::new();
    let mut unchanged = 0;
    for (s, d, by) in pairs {
        let changes = diff(data_type, s, Some(d));
        if changes.is_empty() {
            unchanged += 1;
            continue;
        }
        items.push(CatalogPlanItem {
            item: items.len(),
            action: Action::Update,
            key: label(d),
            title: secondary.and_then(|f| s.text(f)).unwrap_or_default(),
            source_id: Some(s.id.clone()),
            destination_id: Some(d.id.clone()),
            matched_by: Some(by),
            changes,
        });
    }
    for s in
        source_records.iter().filter(|r| !matched_src.contains(r.id.as_str()) && !ambiguous_src.contains(r.id.as_str()))
    {
        unmatched.missing_in_destination.push(label(s));
        items.push(CatalogPlanItem {
            item: items.len(),
            action: Action::Create,
            key: label(s),
            title: secondary.and_then(|f| s.text(f)).unwrap_or_default(),
            source_id: Some(s.id.clone()),
            destination_id: None,
            matched_by: None,
            changes: diff(data_type, s, None),
        });
    }
    for d in destination_records
        .iter()
        .filter(|r| !matched_dst.contains(r.id.as_str()) && !ambiguous_dst.contains(r.id.as_str()))
    {
        unmatched.missing_in_source.push(label(d));
        if opts.delete_missing {
            let changes = data_type
                .fields()
                .iter()
                .filter_map(|(f, k)| {
                    let before = canonical(*k, d.fields.get(*f)?);
                    Some(FieldChange { field: f.to_string(), before, after: Value::Null })
                })
                .collect();
            items.push(CatalogPlanItem {
                item: items.len(),
                action: Action::Delete,
                key: label(d),
                title: secondary.and_then(|f| d.text(f)).unwrap_or_default(),
                source_id: None,
                destination_id: Some(d.id.clone()),
                matched_by: None,
                changes,
            });
        }
    }
    unmatched.ambiguous.sort();
    unmatched.ambiguous.dedup();
    CatalogComparison { data_type, source, destination, compared_at: now, items, unchanged, unmatched }
}

/// The plan as CSV: one row per field change.
pub fn catalog_csv(c: &CatalogComparison) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["item", "action", "key", "title", "destinationId", "field", "before", "after"])?;
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for i in &c.items {
        let action = match i.action {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        };
        for ch in &i.changes {
            w.write_record([
                i.item.to_string(),
                action.to_string(),
                i.key.clone(),
                i.title.clone(),
                i.destination_id.clone().unwrap_or_default(),
                ch.field.clone(),
                text(&ch.before),
                text(&ch.after),
            ])?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn rec(id: &str, fields: Value) -> CatalogRecord {
        let fields = fields.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        CatalogRecord { id: id.into(), fields }
    }

    #[test]
    fn images_compare_by_file_name_and_carry_the_source_url() {
        let src = rec(
            "1",
            json!({ "slug": "harvest", "featured_image": "https://cdn.shopify.com/s/files/1/Harvest.JPG?v=17",
                                   "title": "Harvest" }),
        );
        let same = rec(
            "9",
            json!({ "slug": "harvest", "featured_image": "https://wine.example/wp-content/uploads/2026/12/harvest.jpg",
                                    "title": "Harvest" }),
        );
        assert_eq!(diff(DataType::Posts, &src, Some(&same)), vec![], "one image, two copies");
        let other = rec(
            "9",
            json!({ "slug": "harvest", "featured_image": "https://wine.example/uploads/vines.jpg",
                                     "title": "Harvest" }),
        );
        let changes = diff(DataType::Posts, &src, Some(&other));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].after, json!("https://cdn.shopify.com/s/files/1/Harvest.JPG?v=17"), "the URL to fetch");
        let p = |images: Value| rec("1", json!({ "sku": "A", "images": images }));
        let (a, b) =
            (json!(["https://x/a.jpg", "https://x/b.jpg"]), json!(["https://y/up/a.jpg", "https://y/up/b.jpg"]));
        assert_eq!(diff(DataType::Products, &p(a.clone()), Some(&p(b.clone()))), vec![]);
        let reordered = json!(["https://y/up/b.jpg", "https://y/up/a.jpg"]);
        assert_eq!(diff(DataType::Products, &p(a), Some(&p(reordered))).len(), 1, "images keep their order");
    }

    fn now() -> DateTime<Utc> {
        "2026-12-01T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn products_match_by_sku_then_name_and_plan_field_changes() {
        let src = vec![
            rec(
                "s1",
                json!({ "sku": "TEE-1", "name": "Tee", "price": "10", "tags": ["b", "a"], "images": ["u1", "u2"] }),
            ),
            rec("s2", json!({ "sku": "", "name": "Mug Large", "price": "4.5" })),
            rec("s3", json!({ "sku": "NEW-1", "name": "New thing", "price": "3" })),
        ];
        let dst = vec![
            rec(
                "d1",
                json!({ "sku": "TEE-1", "name": "Tee", "price": "10.00", "tags": ["a", "b"], "images": ["u2", "u1"] }),
            ),
            rec("d2", json!({ "sku": "MUG-9", "name": "mug large", "price": "4.50" })),
            rec("d3", json!({ "sku": "OLD-1", "name": "Old thing", "price": "1" })),
        ];
        let c = compare(
            DataType::Products,
            Platform::WooCommerce,
            &src,
            Platform::Shopify,
            &dst,
            CompareOptions::default(),
            now(),
        );
        // d1: money and tag order agree; the images' order differs. d2 is matched by name: its
        // name is the source's but for case; the source's empty SKU leaves the destination's.
        assert_eq!(c.unchanged, 0);
        assert_eq!(c.items.len(), 3, "{:#?}", c.items);
        let by_name = c.items.iter().find(|i| i.destination_id.as_deref() == Some("d2")).unwrap();
        assert_eq!(by_name.matched_by, Some(MatchedBy::Name));
        assert_eq!(
            by_name.changes,
            vec![FieldChange { field: "name".into(), before: json!("mug large"), after: json!("Mug Large") }]
        );
        let update = &c.items[0];
        assert_eq!(
            (update.action, update.destination_id.as_deref(), update.matched_by),
            (Action::Update, Some("d1"), Some(MatchedBy::Sku))
        );
        assert_eq!(
            update.changes,
            vec![FieldChange { field: "images".into(), before: json!(["u2", "u1"]), after: json!(["u1", "u2"]) }]
        );
        let create = &c.items[2];
        assert_eq!(
            (create.action, create.key.as_str(), create.destination_id.as_ref()),
            (Action::Create, "NEW-1", None)
        );
        assert_eq!(create.changes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(), ["sku", "name", "price"]);
        assert_eq!(c.unmatched.missing_in_source, ["OLD-1"]);
        assert_eq!(c.deletes(), 0, "nothing deleted unless asked");
        let with_deletes = compare(
            DataType::Products,
            Platform::WooCommerce,
            &src,
            Platform::Shopify,
            &dst,
            CompareOptions { delete_missing: true },
            now(),
        );
        assert_eq!(with_deletes.deletes(), 1);
        let del = with_deletes.items.last().unwrap();
        assert_eq!(
            (del.destination_id.as_deref(), &del.changes[2]),
            (Some("d3"), &FieldChange { field: "price".into(), before: json!("1.00"), after: Value::Null })
        );
    }

    #[test]
    fn variants_compare_by_sku_with_money_normalised() {
        let v = |sku: &str, price: &str| json!({ "sku": sku, "options": "Size: S", "price": price });
        let src = vec![rec("s", json!({ "sku": "A-1", "name": "A", "variants": [v("A-2", "5"), v("A-1", "4")] }))];
        let same =
            vec![rec("d", json!({ "sku": "A-1", "name": "A", "variants": [v("A-1", "4.00"), v("A-2", "5.0")] }))];
        let c = compare(
            DataType::Products,
            Platform::Shopify,
            &src,
            Platform::WooCommerce,
            &same,
            CompareOptions::default(),
            now(),
        );
        assert_eq!((c.items.len(), c.unchanged), (0, 1));
        let moved = vec![rec("d", json!({ "sku": "A-1", "name": "A", "variants": [v("A-1", "4.00"), v("A-2", "6")] }))];
        let c = compare(
            DataType::Products,
            Platform::Shopify,
            &src,
            Platform::WooCommerce,
            &moved,
            CompareOptions::default(),
            now(),
        );
        assert_eq!(c.items[0].changes[0].field, "variants");
        assert_eq!(c.items[0].changes[0].after[1]["price"], "5.00");
    }

    #[test]
    fn each_type_matches_on_its_own_keys_and_ambiguous_keys_are_never_synced() {
        let pages_src = vec![
            rec("1", json!({ "slug": "about", "title": "About us", "content": "<p>v2</p>" })),
            rec("2", json!({ "slug": "faq-old", "title": "FAQ", "content": "x" })),
        ];
        let pages_dst = vec![
            rec("a", json!({ "slug": "about", "title": "About", "content": "<p>v1</p>" })),
            rec("b", json!({ "slug": "faq", "title": "faq", "content": "x" })),
        ];
        let c = compare(
            DataType::Pages,
            Platform::WooCommerce,
            &pages_src,
            Platform::Shopify,
            &pages_dst,
            CompareOptions::default(),
            now(),
        );
        assert_eq!(c.items.len(), 2);
        assert_eq!(c.items[0].changes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(), ["title", "content"]);
        // FAQ matched by title (case aside): the source's slug and title win.
        assert_eq!(c.items[1].matched_by, Some(MatchedBy::Name));
        assert_eq!(c.items[1].changes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(), ["slug", "title"]);

        let coupons_src = vec![
            rec("1", json!({ "code": "SUMMER10", "amount": "10", "discount_type": "percent" })),
            rec("2", json!({ "code": "DUP" })),
            rec("3", json!({ "code": "dup" })),
        ];
        let coupons_dst = vec![
            rec("x", json!({ "code": "summer10", "amount": "15.00", "discount_type": "percent" })),
            rec("y", json!({ "code": "DUP" })),
        ];
        let c = compare(
            DataType::Coupons,
            Platform::WooCommerce,
            &coupons_src,
            Platform::Shopify,
            &coupons_dst,
            CompareOptions { delete_missing: true },
            now(),
        );
        assert_eq!(c.items.len(), 1, "{:#?}", c.items);
        assert_eq!(
            c.items[0].changes,
            vec![FieldChange { field: "amount".into(), before: json!("15.00"), after: json!("10.00") }]
        );
        assert_eq!(c.unmatched.ambiguous, vec![(Platform::WooCommerce, "dup".to_string(), 2)]);
        assert_eq!(c.deletes(), 0, "the destination's DUP is ambiguous with the source's: not deleted");

        let col_src = vec![rec("1", json!({ "slug": "summer", "name": "Summer", "product_skus": ["B", "A"] }))];
        let col_dst = vec![rec("9", json!({ "slug": "summer", "name": "Summer", "product_skus": ["A"] }))];
        let c = compare(
            DataType::Collections,
            Platform::Shopify,
            &col_src,
            Platform::WooCommerce,
            &col_dst,
            CompareOptions::default(),
            now(),
        );
        assert_eq!(c.items[0].changes[0].after, json!(["A", "B"]));
    }

    fn arb_product(sku: usize) -> impl Strategy<Value = CatalogRecord> {
        (
            proptest::option::of("[A-Z][a-z]{0,6}( [a-z]{1,5})?"),
            proptest::option::of(0u32..5000),
            proptest::collection::vec("[a-c]", 0..4),
            proptest::option::of("[a-z ]{0,8}"),
        )
            .prop_map(move |(name, cents, tags, seo)| {
                let mut fields = BTreeMap::new();
                fields.insert("sku".to_string(), json!(format!("SKU-{sku}")));
                if let Some(n) = name {
                    fields.insert("name".into(), json!(n));
                }
                if let Some(c) = cents {
                    fields.insert("price".into(), json!(format!("{}.{:02}", c / 100, c % 100)));
                }
                fields.insert("tags".into(), json!(tags));
                if let Some(s) = seo {
                    fields.insert("seo_title".into(), json!(s));
                }
                CatalogRecord { id: format!("{sku}"), fields }
            })
    }

    proptest! {
        /// After the plan is applied to the destination, a new compare finds nothing to do.
        #[test]
        fn a_synced_destination_compares_equal(
            src in proptest::collection::vec(0usize..12, 0..10).prop_flat_map(|ids| {
                let set: BTreeSet<usize> = ids.into_iter().collect();
                set.into_iter().map(arb_product).collect::<Vec<_>>()
            }),
            dst in proptest::collection::vec(0usize..12, 0..10).prop_flat_map(|ids| {
                let set: BTreeSet<usize> = ids.into_iter().collect();
                set.into_iter().map(arb_product).collect::<Vec<_>>()
            }),
        ) {
            let c = compare(DataType::Products, Platform::Shopify, &src, Platform::WooCommerce, &dst, CompareOptions::default(), now());
            let mut after = dst.clone();
            for item in &c.items {
                match item.action {
                    Action::Update => {
                        let r = after.iter_mut().find(|r| Some(&r.id) == item.destination_id.as_ref()).unwrap();
                        apply(r, &item.changes);
                    }
                    Action::Create => {
                        let mut r = CatalogRecord { id: format!("new-{}", item.item), fields: BTreeMap::new() };
                        apply(&mut r, &item.changes);
                        after.push(r);
                    }
                    Action::Delete => unreachable!("no deletes unless asked"),
                }
            }
            let again = compare(DataType::Products, Platform::Shopify, &src, Platform::WooCommerce, &after, CompareOptions::default(), now());
            prop_assert!(again.items.is_empty(), "{:#?}", again.items);
        }
    }

    #[test]
    fn a_products_sku_is_its_smallest_variant_sku_else_its_own() {
        assert_eq!(product_sku("TEE", &["TEE-M", "TEE-S", ""]), "TEE-M");
        assert_eq!(product_sku(" MUG ", &[]), "MUG");
        assert_eq!(DataType::parse(" Articles"), Some(DataType::Posts));
        assert_eq!(DataType::parse("collections"), Some(DataType::Collections));
        assert_eq!(DataType::parse("orders"), None);
    }

    #[test]
    fn the_plan_exports_one_csv_row_per_field_change() {
        let src = vec![rec("1", json!({ "slug": "about", "title": "About, us", "content": "new" }))];
        let dst = vec![rec("a", json!({ "slug": "about", "title": "About", "content": "old" }))];
        let c = compare(
            DataType::Pages,
            Platform::WooCommerce,
            &src,
            Platform::Shopify,
            &dst,
            CompareOptions::default(),
            now(),
        );
        let csv = catalog_csv(&c).unwrap();
        assert_eq!(
            csv,
            "item,action,key,title,destinationId,field,before,after\n0,update,about,\"About, us\",a,title,About,\"About, us\"\n0,update,about,\"About, us\",a,content,old,new\n"
        );
    }
}
