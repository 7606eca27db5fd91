//! WooCommerce products in the neutral product fields of `storesync_core::stores::catalog`.
//!
//! - A simple product is one record with its own `sku` and prices and no `variants`; a variable
//!   product's `variants` are its variations (`sku`, `options` — the attribute values as
//!   `Name: value / Name: value` —, prices, weight), and its key is the smallest variation SKU.
//! - Prices: WooCommerce's `regular_price` with a `sale_price` is `compare_at_price` with a
//!   `price` (Shopify's pair); without a sale, `price` is the regular price.
//! - `weight_grams` from the store's weight in kilograms (WooCommerce's default unit).
//! - `images` their URLs in order; `categories` and `tags` by name (written as the ids the store
//!   has, terms it lacks are created first).
//! - `barcode` is the product's or variation's `global_unique_id` (GTIN, UPC, EAN or ISBN;
//!   WooCommerce 9.2+, unique across the store).
//! - A product write goes through `/products/batch` (100 per call); its variants, when they
//!   change, through `/products/{id}/variations/batch`: the variations are matched by SKU,
//!   updated, created or deleted so the product ends with exactly the given list.
//!
//! Not kept by WooCommerce without a plugin: the product SEO title and description.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};
use storesync_core::stores::catalog::{product_sku, Action, CatalogRecord};
use storesync_core::stores::catalog_sync::{CatalogOutcome, CatalogWrite};

use super::client::{is_gone, WooClient, WooError};
use super::sim::BATCH_LIMIT;

/// The neutral product fields WooCommerce keeps.
pub const FIELDS: &[&str] = &[
    "sku",
    "name",
    "description",
    "status",
    "price",
    "compare_at_price",
    "barcode",
    "weight_grams",
    "images",
    "categories",
    "tags",
    "variants",
];

/// The one attribute a variation's options are written under when they carry no names.
const OPTION: &str = "Option";

fn empty_null(v: &Value) -> Value {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() => json!(s),
        _ => Value::Null,
    }
}

/// `(price, compare_at_price)` from WooCommerce's regular and sale prices.
fn prices(o: &Value) -> (Value, Value) {
    let (regular, sale) = (empty_null(&o["regular_price"]), empty_null(&o["sale_price"]));
    if sale.is_null() {
        (regular, Value::Null)
    } else {
        (sale, regular)
    }
}

/// WooCommerce's regular and sale prices from `(price, compare_at_price)`.
fn woo_prices(price: &Value, compare_at: &Value) -> (Value, Value) {
    let s = |v: &Value| v.as_str().map(str::to_string).or_else(|| v.as_f64().map(|x| format!("{x:.2}")));
    match (s(price), s(compare_at)) {
        (p, Some(c)) => (json!(c), json!(p.unwrap_or_default())),
        (p, None) => (json!(p.unwrap_or_default()), json!("")),
    }
}

fn grams(weight: &Value) -> Value {
    weight
        .as_str()
        .and_then(|w| w.trim().parse::<f64>().ok())
        .map(|kg| (kg * 1000.0).round() as i64)
        // A weight of 0 is none given, as on Shopify (whose variants all weigh something).
        .filter(|g| *g > 0)
        .map(Value::from)
        .unwrap_or(Value::Null)
}

fn kilograms(grams: &Value) -> Value {
    match grams.as_f64() {
        Some(g) => json!(format!("{}", g / 1000.0)),
        None => json!(""),
    }
}

fn options(attributes: &Value) -> Value {
    let parts: Vec<String> = attributes
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["option"].as_str().map(|o| format!("{}: {o}", a["name"].as_str().unwrap_or(OPTION))))
        .collect();
    if parts.is_empty() {
        Value::Null
    } else {
        json!(parts.join(" / "))
    }
}

/// `Name: value / Name: value` as WooCommerce attributes (`[{name, option}]`).
fn attributes(options: &Value) -> Vec<(String, String)> {
    options
        .as_str()
        .unwrap_or_default()
        .split(" / ")
        .filter(|p| !p.trim().is_empty())
        .map(|p| match p.split_once(": ") {
            Some((n, v)) => (n.trim().to_string(), v.trim().to_string()),
            None => (OPTION.to_string(), p.trim().to_string()),
        })
        .collect()
}

/// A variation in the neutral variant fields.
pub fn variant(v: &Value) -> Value {
    let (price, compare_at) = prices(v);
    json!({
        "sku": v["sku"], "options": options(&v["attributes"]), "price": price,
        "compare_at_price": compare_at, "barcode": empty_null(&v["global_unique_id"]),
        "weight_grams": grams(&v["weight"]),
    })
}

/// A product (with its variations, for a variable one) in the neutral fields.
pub fn record(o: &Value, variations: &[Value]) -> CatalogRecord {
    let variants: Vec<Value> = variations.iter().map(variant).collect();
    let skus: Vec<&str> = variations.iter().filter_map(|v| v["sku"].as_str()).collect();
    let (price, compare_at) = if variations.is_empty() { prices(o) } else { (Value::Null, Value::Null) };
    let names = |list: &Value, key: &str| -> Value {
        Value::from(
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c[key].as_str().map(str::to_string))
                .collect::<Vec<_>>(),
        )
    };
    let fields: BTreeMap<String, Value> = [
        ("sku", json!(product_sku(o["sku"].as_str().unwrap_or_default(), &skus))),
        ("name", o["name"].clone()),
        ("description", o["description"].clone()),
        ("status", json!(if o["status"] == "publish" { "publish" } else { "draft" })),
        ("price", price),
        ("compare_at_price", compare_at),
        ("barcode", if variations.is_empty() { empty_null(&o["global_unique_id"]) } else { Value::Null }),
        ("weight_grams", if variations.is_empty() { grams(&o["weight"]) } else { Value::Null }),
        ("images", names(&o["images"], "src")),
        ("categories", names(&o["categories"], "name")),
        ("tags", names(&o["tags"], "name")),
        ("variants", Value::from(variants)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    CatalogRecord { id: o["id"].as_u64().map(|i| i.to_string()).unwrap_or_default(), fields }
}

/// Every product, variable ones with their variations (one list call per variable product).
pub async fn read(client: &WooClient) -> Result<Vec<CatalogRecord>, WooError> {
    let products = client.list_all("/products?status=any").await?;
    let mut out = Vec::with_capacity(products.len());
    for p in &products {
        let variations = if p["type"] == "variable" {
            client.list_all(&format!("/products/{}/variations", p["id"])).await?
        } else {
            Vec::new()
        };
        out.push(record(p, &variations));
    }
    Ok(out)
}

/// The product holding `sku` (itself, or the parent of the variation that has it).
pub async fn find(client: &WooClient, sku: &str) -> Result<Option<String>, WooError> {
    let found = client.list_page(&format!("/products?sku={sku}")).await?;
    Ok(found.first().and_then(|p| {
        let parent = p["parent_id"].as_u64().filter(|id| *id > 0);
        parent.or(p["id"].as_u64()).map(|id| id.to_string())
    }))
}

/// Product categories and tags by name (lower case), each loaded when a write first needs it.
#[derive(Default)]
struct Terms {
    known: HashMap<&'static str, HashMap<String, u64>>,
}

impl Terms {
    /// `names` as `[{id}]` of the taxonomy under `path` (`/products/categories`,
    /// `/products/tags`), creating the missing terms.
    async fn ids(&mut self, client: &WooClient, path: &'static str, names: &Value) -> Result<Value, WooError> {
        if !self.known.contains_key(path) {
            let all = client.list_all(path).await?;
            let by_name = all.iter().filter_map(|c| Some((c["name"].as_str()?.to_lowercase(), c["id"].as_u64()?)));
            self.known.insert(path, by_name.collect());
        }
        let mut ids = Vec::new();
        for name in names.as_array().into_iter().flatten().filter_map(Value::as_str) {
            let key = name.trim().to_lowercase();
            let id = match self.known.get(path).and_then(|k| k.get(&key)) {
                Some(id) => *id,
                None => {
                    let id = match client.request("POST", path, Some(&json!({ "name": name }))).await {
                        Ok(c) => c["id"].as_u64().unwrap_or(0),
                        // Created meanwhile: the store names the one it has.
                        Err(WooError::Http { code, .. }) if code == "term_exists" => {
                            let all = client.list_all(path).await?;
                            all.iter()
                                .find(|c| {
                                    c["name"].as_str().is_some_and(|n| n.trim().eq_ignore_ascii_case(name.trim()))
                                })
                                .and_then(|c| c["id"].as_u64())
                                .unwrap_or(0)
                        }
                        Err(e) => return Err(e),
                    };
                    self.known.entry(path).or_default().insert(key, id);
                    id
                }
            };
            ids.push(json!({ "id": id }));
        }
        Ok(Value::from(ids))
    }
}

/// The product-level body of a write (variants aside).
async fn body(client: &WooClient, terms: &mut Terms, w: &CatalogWrite) -> Result<Map<String, Value>, WooError> {
    let mut b = Map::new();
    let f = &w.fields;
    for (k, v) in f {
        match k.as_str() {
            "sku" if f.get("variants").and_then(Value::as_array).is_none_or(|a| a.is_empty()) => {
                b.insert("sku".into(), v.clone());
            }
            "name" | "description" => {
                b.insert(k.clone(), if v.is_null() { json!("") } else { v.clone() });
            }
            "status" => {
                b.insert("status".into(), json!(if v == "publish" { "publish" } else { "draft" }));
            }
            "weight_grams" => {
                b.insert("weight".into(), kilograms(v));
            }
            "images" => {
                let images: Vec<Value> = v.as_array().into_iter().flatten().map(|src| json!({ "src": src })).collect();
                b.insert("images".into(), Value::from(images));
            }
            "categories" => {
                b.insert("categories".into(), terms.ids(client, "/products/categories", v).await?);
            }
            "tags" => {
                b.insert("tags".into(), terms.ids(client, "/products/tags", v).await?);
            }
            "barcode" if f.get("variants").and_then(Value::as_array).is_none_or(|a| a.is_empty()) => {
                b.insert("global_unique_id".into(), if v.is_null() { json!("") } else { v.clone() });
            }
            _ => {}
        }
    }
    if f.contains_key("price") || f.contains_key("compare_at_price") {
        let (regular, sale) =
            woo_prices(f.get("price").unwrap_or(&Value::Null), f.get("compare_at_price").unwrap_or(&Value::Null));
        b.insert("regular_price".into(), regular);
        b.insert("sale_price".into(), sale);
    }
    if let Some(variants) = f.get("variants").and_then(Value::as_array).filter(|a| !a.is_empty()) {
        // A variable product declares the attributes its variations use.
        let mut declared: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for v in variants {
            for (name, value) in attributes(&v["options"]) {
                let values = declared.entry(name).or_default();
                if !values.contains(&value) {
                    values.push(value);
                }
            }
        }
        let attrs: Vec<Value> = declared
            .into_iter()
            .map(|(name, options)| json!({ "name": name, "options": options, "variation": true, "visible": true }))
            .collect();
        b.insert("type".into(), json!("variable"));
        b.insert("attributes".into(), Value::from(attrs));
    }
    Ok(b)
}

/// A variant as a variation body.
fn variation_body(v: &Value) -> Value {
    let (regular, sale) = woo_prices(&v["price"], &v["compare_at_price"]);
    let attrs: Vec<Value> =
        attributes(&v["options"]).into_iter().map(|(name, option)| json!({ "name": name, "option": option })).collect();
    json!({
        "sku": v["sku"], "regular_price": regular, "sale_price": sale,
        "global_unique_id": v["barcode"].as_str().unwrap_or_default(),
        "weight": kilograms(&v["weight_grams"]), "attributes": attrs,
    })
}

fn batch_error(entry: &Value) -> Option<String> {
    entry
        .get("error")
        .map(|e| format!("{}: {}", e["code"].as_str().unwrap_or_default(), e["message"].as_str().unwrap_or_default()))
}

/// Sets a product's variations to exactly `variants` (matched by SKU).
async fn set_variations(client: &WooClient, product: &str, variants: &[Value]) -> Result<Option<String>, WooError> {
    let path = format!("/products/{product}/variations");
    let existing = client.list_all(&path).await?;
    let by_sku: HashMap<&str, u64> =
        existing.iter().filter_map(|v| Some((v["sku"].as_str()?, v["id"].as_u64()?))).collect();
    let wanted: Vec<&str> = variants.iter().filter_map(|v| v["sku"].as_str()).collect();
    let (mut create, mut update) = (Vec::new(), Vec::new());
    for v in variants {
        let mut b = variation_body(v);
        match v["sku"].as_str().and_then(|s| by_sku.get(s)) {
            Some(id) => {
                b["id"] = json!(id);
                update.push(b);
            }
            None => create.push(b),
        }
    }
    let delete: Vec<Value> = existing
        .iter()
        .filter(|v| !v["sku"].as_str().is_some_and(|s| wanted.contains(&s)))
        .filter_map(|v| v["id"].as_u64().map(Value::from))
        .collect();
    // Deletes first, so a SKU moving between variations is free when it is written.
    let mut errors = Vec::new();
    let calls = [("delete", delete), ("update", update), ("create", create)];
    for (kind, items) in calls {
        for part in items.chunks(BATCH_LIMIT) {
            let mut body = json!({ "create": [], "update": [], "delete": [] });
            body[kind] = Value::from(part.to_vec());
            let answer = client.request("POST", &format!("{path}/batch"), Some(&body)).await?;
            errors.extend(answer[kind].as_array().into_iter().flatten().filter_map(batch_error));
        }
    }
    Ok((!errors.is_empty()).then(|| errors.join("; ")))
}

/// Writes products: the product fields through `/products/batch`, then each changed variant
/// list through its product's variation batch.
pub async fn write(client: &WooClient, writes: &[CatalogWrite]) -> Result<Vec<CatalogOutcome>, WooError> {
    let mut out = vec![CatalogOutcome::Failed { error: "not written".into() }; writes.len()];
    let mut terms = Terms::default();
    for (n, chunk) in writes.chunks(BATCH_LIMIT).enumerate() {
        let (mut create, mut update, mut delete) = (vec![], vec![], vec![]);
        let mut slots: Vec<Option<(&'static str, usize)>> = Vec::new();
        for (i, w) in chunk.iter().enumerate() {
            let mut b = body(client, &mut terms, w).await?;
            match (w.action, w.id.as_deref().and_then(|id| id.parse::<u64>().ok())) {
                (Action::Create, _) => {
                    slots.push(Some(("create", create.len())));
                    create.push(Value::Object(b));
                }
                (Action::Update, Some(id)) => {
                    b.insert("id".into(), json!(id));
                    slots.push(Some(("update", update.len())));
                    update.push(Value::Object(b));
                }
                (Action::Delete, Some(id)) => {
                    slots.push(Some(("delete", delete.len())));
                    delete.push(json!(id));
                }
                (_, None) => {
                    out[n * BATCH_LIMIT + i] =
                        CatalogOutcome::Failed { error: format!("no destination id for {}", w.key) };
                    slots.push(None);
                }
            }
        }
        let answer = client
            .request("POST", "/products/batch", Some(&json!({ "create": create, "update": update, "delete": delete })))
            .await?;
        for (i, (w, slot)) in chunk.iter().zip(slots).enumerate() {
            let Some((kind, k)) = slot else { continue };
            let entry = &answer[kind][k];
            let at = n * BATCH_LIMIT + i;
            // A delete of what is gone already (a repeat after a lost answer) has its way.
            let gone = kind == "delete" && entry["error"]["code"].as_str().is_some_and(is_gone);
            let id = match gone {
                true => w.id.as_deref().and_then(|id| id.parse::<u64>().ok()),
                false => entry["id"].as_u64(),
            };
            out[at] = match (batch_error(entry).filter(|_| !gone), id) {
                (Some(error), _) => CatalogOutcome::Failed { error },
                (None, None) => CatalogOutcome::Failed { error: format!("unexpected answer: {entry}") },
                (None, Some(id)) => {
                    let variants =
                        w.fields.get("variants").and_then(Value::as_array).filter(|_| w.action != Action::Delete);
                    match variants {
                        Some(list) => match set_variations(client, &id.to_string(), list).await {
                            Ok(None) => CatalogOutcome::Done { id: id.to_string() },
                            Ok(Some(error)) => CatalogOutcome::Failed { error: format!("variations: {error}") },
                            Err(e) => CatalogOutcome::Failed { error: format!("variations: {e}") },
                        },
                        None => CatalogOutcome::Done { id: id.to_string() },
                    }
                }
            };
        }
    }
    Ok(out)
}
