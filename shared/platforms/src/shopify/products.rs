//! Shopify products in the neutral product fields of `storesync_core::stores::catalog`.
//!
//! - A product whose one variant is Shopify's default (`Title: Default Title`) is a simple
//!   product: its `sku`, `price`, `compare_at_price` and `barcode` are that variant's and it has
//!   no `variants`. Otherwise `variants` lists each variant (`sku`, `options` as
//!   `Name: value / Name: value` from `selectedOptions`, prices, `barcode`) and the product's key
//!   is the smallest variant SKU.
//! - `status` `ACTIVE` is `publish`, anything else `draft`; `images` the URLs of its media
//!   images; `tags`; `seo_title`/`seo_description` its `seo`; `categories` the titles of the
//!   collections it is in (written as `collections` ids; a title the shop lacks is created as
//!   a collection first).
//! - Written whole with `productSet` (it replaces list fields: variants, tags, files): an update
//!   merges the change into the product as it is now and names each kept variant by its id (a
//!   variant left out would be deleted with its inventory).
//! - `weight_grams` is a variant's inventory item `measurement.weight` (any `WeightUnit`, read
//!   in whole grams, written in `GRAMS`); Shopify's 0 is no weight (null), as WooCommerce's
//!   empty weight is.
//! - Read 11 products a call, each with its first 10 variants (what one query's 1,000 points
//!   allow; a product with more has the rest read 150 at a time) — or, for a shop of more than
//!   [`BULK_ABOVE`] products, all at once through a bulk operation whose JSONL is streamed.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use storesync_core::stores::catalog::{product_sku, CatalogRecord};
use storesync_core::stores::catalog_sync::CatalogWrite;

use super::client::{ShopifyClient, ShopifyError};

const VARIANT_FIELDS: &str =
    "id sku barcode price compareAtPrice selectedOptions { name value } inventoryItem { measurement { weight { unit value } } }";

/// What one variant of [`VARIANT_FIELDS`] costs: 1, `selectedOptions` 1, `inventoryItem` 3.
const VARIANT_COST: f64 = 5.0;

/// Variants read with their product; a product with more has the rest read
/// [`MORE_VARIANTS`] at a time.
const FIRST_VARIANTS: usize = 10;
const MORE_VARIANTS: usize = 150;

/// A product node's selection.
pub const FIELDS: &str = "id title handle descriptionHtml status tags vendor productType seo { title description } \
     metafield(namespace: \"custom\", key: \"product_info\") { value } \
     media(first: 10) { nodes { ... on MediaImage { image { url } } } } \
     variants(first: 10) { nodes { id sku barcode price compareAtPrice selectedOptions { name value } \
     inventoryItem { measurement { weight { unit value } } } } pageInfo { hasNextPage endCursor } } \
     collections(first: 10) { nodes { title } }";

/// What one node of [`FIELDS`] costs: 1, `seo` 1, `metafield` 1, `media` 2 + 10 × 2, `variants`
/// 2 + 10 × 5, `collections` 2 + 10 × 1.
pub const NODE_COST: f64 =
    1.0 + 1.0 + 1.0 + (2.0 + 10.0 * 2.0) + (2.0 + FIRST_VARIANTS as f64 * VARIANT_COST) + (2.0 + 10.0);

/// The neutral product fields Shopify keeps.
pub const NEUTRAL: &[&str] = &[
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
    "seo_title",
    "seo_description",
    "variants",
];

const DEFAULT_OPTION: (&str, &str) = ("Title", "Default Title");

fn options(selected: &Value) -> Vec<(String, String)> {
    selected
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| Some((o["name"].as_str()?.to_string(), o["value"].as_str()?.to_string())))
        .collect()
}

/// Grams in one of Shopify's `WeightUnit`s.
pub(crate) fn grams_per(unit: &str) -> Option<f64> {
    match unit {
        "GRAMS" => Some(1.0),
        "KILOGRAMS" => Some(1000.0),
        "OUNCES" => Some(28.349_523_125),
        "POUNDS" => Some(453.592_37),
        _ => None,
    }
}

/// A variant's inventory item weight in whole grams.
fn grams(v: &Value) -> Value {
    let w = &v["inventoryItem"]["measurement"]["weight"];
    let Some(per_unit) = w["unit"].as_str().and_then(grams_per) else { return Value::Null };
    // Shopify's variants all weigh something: 0 is no weight given.
    let g = w["value"].as_f64().map(|x| (x * per_unit).round() as i64).filter(|g| *g > 0);
    g.map(Value::from).unwrap_or(Value::Null)
}

/// A weight in grams as an inventory item input (none: 0).
fn weight_input(grams: &Value) -> Value {
    json!({ "measurement": { "weight": { "value": grams.as_f64().unwrap_or(0.0), "unit": "GRAMS" } } })
}

fn is_default(v: &Value) -> bool {
    let o = options(&v["selectedOptions"]);
    o.is_empty() || (o.len() == 1 && o[0].0 == DEFAULT_OPTION.0 && o[0].1 == DEFAULT_OPTION.1)
}

/// A product node in the neutral fields (each variant keeps its `id`, and a simple product its
/// one variant's as `_variant_id`: a compare ignores them, a write names the variants it keeps).
pub fn record(p: &Value) -> CatalogRecord {
    let variants: Vec<&Value> = p["variants"]["nodes"].as_array().into_iter().flatten().collect();
    let simple = variants.len() == 1 && is_default(variants[0]);
    let one = if simple { variants[0].clone() } else { Value::Null };
    let listed: Vec<Value> = if simple {
        Vec::new()
    } else {
        variants
            .iter()
            .map(|v| {
                let opts: Vec<String> =
                    options(&v["selectedOptions"]).iter().map(|(n, x)| format!("{n}: {x}")).collect();
                json!({ "id": v["id"], "sku": v["sku"], "options": opts.join(" / "), "price": v["price"],
                        "compare_at_price": v["compareAtPrice"], "barcode": v["barcode"], "weight_grams": grams(v) })
            })
            .collect()
    };
    let skus: Vec<&str> = variants.iter().filter_map(|v| v["sku"].as_str()).collect();
    let collections: Vec<Value> =
        p["collections"]["nodes"].as_array().into_iter().flatten().map(|c| c["title"].clone()).collect();
    let images: Vec<Value> = p["media"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["image"]["url"].as_str().map(|u| json!(u)))
        .collect();
    let fields = [
        (
            "sku",
            json!(if simple { one["sku"].as_str().unwrap_or_default().to_string() } else { product_sku("", &skus) }),
        ),
        ("name", p["title"].clone()),
        ("description", p["descriptionHtml"].clone()),
        ("status", json!(if p["status"] == "ACTIVE" { "publish" } else { "draft" })),
        ("price", one["price"].clone()),
        ("compare_at_price", one["compareAtPrice"].clone()),
        ("barcode", one["barcode"].clone()),
        ("weight_grams", if simple { grams(&one) } else { Value::Null }),
        ("images", Value::from(images)),
        ("tags", p["tags"].clone()),
        ("categories", Value::from(collections)),
        ("seo_title", p["seo"]["title"].clone()),
        ("seo_description", p["seo"]["description"].clone()),
        ("variants", Value::from(listed)),
        // The supplier's fields: the manufacturer, the type and the feed's structured details.
        ("vendor", blank_null(&p["vendor"])),
        ("product_type", blank_null(&p["productType"])),
        (
            "product_info",
            p["metafield"]["value"].as_str().and_then(|v| serde_json::from_str(v).ok()).unwrap_or(Value::Null),
        ),
        // A simple product's one variant, for a write to name (not a compared field).
        ("_variant_id", one["id"].clone()),
    ];
    CatalogRecord {
        id: p["id"].as_str().unwrap_or_default().to_string(),
        fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

/// Reads the variants beyond the node's first page into it.
pub async fn complete(client: &ShopifyClient, node: &mut Value) -> Result<(), ShopifyError> {
    let query = format!(
        "query($id: ID!, $after: String) {{ product(id: $id) {{ variants(first: {MORE_VARIANTS}, after: $after) {{ nodes {{ {VARIANT_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"
    );
    let cost = 1.0 + 2.0 + MORE_VARIANTS as f64 * VARIANT_COST;
    while node["variants"]["pageInfo"]["hasNextPage"] == true {
        let after = node["variants"]["pageInfo"]["endCursor"].clone();
        let data = client.graphql(&query, json!({ "id": node["id"], "after": after }), cost).await?;
        let page = &data["product"]["variants"];
        let more = page["nodes"].as_array().cloned().unwrap_or_default();
        if let Some(list) = node["variants"]["nodes"].as_array_mut() {
            list.extend(more);
        }
        node["variants"]["pageInfo"] = page["pageInfo"].clone();
    }
    Ok(())
}

/// Above this many products a read is one bulk operation rather than pages of 11.
pub const BULK_ABOVE: u64 = 250;

/// How often a running bulk operation is looked at.
const BULK_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// The bulk query: every product with its media and variants (bulk queries take no page sizes).
const BULK_QUERY: &str = "{ products { edges { node { id title handle descriptionHtml status tags vendor productType \
     seo { title description } metafield(namespace: \"custom\", key: \"product_info\") { value } media { edges { node { ... on MediaImage { id image { url } } } } } \
     variants { edges { node { id sku barcode price compareAtPrice selectedOptions { name value } \
     inventoryItem { measurement { weight { unit value } } } } } } \
     collections { edges { node { id title } } } } } } }";

/// How many products the shop has.
pub async fn count(client: &ShopifyClient) -> Result<u64, ShopifyError> {
    let data = client.graphql("{ productsCount { count } }", json!({}), 1.0).await?;
    Ok(data["productsCount"]["count"].as_u64().unwrap_or(0))
}

/// Every product through one bulk operation: run it, wait for it, then stream its JSONL (a
/// product's line, then its media's and variants' lines with `__parentId`) into product nodes.
pub async fn read_bulk(client: &ShopifyClient) -> Result<Vec<Value>, ShopifyError> {
    let run = "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { field message code } } }";
    let data = client.graphql(run, json!({ "q": BULK_QUERY }), 10.0).await?;
    let payload = &data["bulkOperationRunQuery"];
    if let Some(e) = payload["userErrors"].as_array().and_then(|e| e.first()) {
        return Err(ShopifyError::Graphql {
            code: e["code"].as_str().unwrap_or("USER_ERROR").to_string(),
            message: e["message"].as_str().unwrap_or_default().to_string(),
        });
    }
    let id = payload["bulkOperation"]["id"].clone();
    let poll = "query($id: ID!) { bulkOperation(id: $id) { status errorCode url objectCount } }";
    let url = loop {
        let op = client.graphql(poll, json!({ "id": id }), 1.0).await?;
        let op = &op["bulkOperation"];
        match op["status"].as_str().unwrap_or_default() {
            "COMPLETED" => break op["url"].as_str().map(str::to_string),
            "CREATED" | "RUNNING" => tokio::time::sleep(BULK_POLL).await,
            other => {
                return Err(ShopifyError::Graphql {
                    code: format!("BULK_{other}"),
                    message: format!("bulk operation {id} ended {other}: {}", op["errorCode"]),
                })
            }
        }
    };
    // No URL: the operation found nothing.
    let Some(url) = url else { return Ok(Vec::new()) };
    let mut products: Vec<Value> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    client
        .download_lines(&url, |line| {
            let mut v: Value =
                serde_json::from_str(line).map_err(|e| ShopifyError::Shape(format!("{e}: {line:.200}")))?;
            match v.get("__parentId").and_then(Value::as_str).map(str::to_string) {
                None => {
                    v["media"] = json!({ "nodes": [] });
                    v["variants"] = json!({ "nodes": [] });
                    v["collections"] = json!({ "nodes": [] });
                    at.insert(v["id"].as_str().unwrap_or_default().to_string(), products.len());
                    products.push(v);
                }
                Some(parent) => {
                    let Some(p) = at.get(&parent).and_then(|i| products.get_mut(*i)) else {
                        return Err(ShopifyError::Shape(format!("a line before its parent {parent}")));
                    };
                    let id = v["id"].as_str().unwrap_or_default();
                    let list = if id.contains("/ProductVariant/") {
                        "variants"
                    } else if id.contains("/Collection/") {
                        "collections"
                    } else {
                        "media"
                    };
                    if let Some(nodes) = p[list]["nodes"].as_array_mut() {
                        nodes.push(v);
                    }
                }
            }
            Ok(())
        })
        .await?;
    Ok(products)
}

/// The product with a variant whose SKU is `sku`.
pub async fn find(client: &ShopifyClient, sku: &str) -> Result<Option<String>, ShopifyError> {
    let query = "query($q: String) { productVariants(first: 1, query: $q) { nodes { product { id } } } }";
    let data = client.graphql(query, json!({ "q": format!("sku:{sku}") }), 4.0).await?;
    Ok(data["productVariants"]["nodes"][0]["product"]["id"].as_str().map(str::to_string))
}

fn money(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::String(s) if s.trim().is_empty() => Value::Null,
        other => other.clone(),
    }
}

fn blank_null(v: &Value) -> Value {
    match v {
        Value::String(s) if s.trim().is_empty() => Value::Null,
        other => other.clone(),
    }
}

/// A write as a `ProductSetInput`: the product as it is now (`current`) with the write's fields
/// over it, lists whole.
pub fn input(w: &CatalogWrite, current: Option<&CatalogRecord>, collections: &HashMap<String, String>) -> Value {
    let mut f: Map<String, Value> = current.map(|c| c.fields.clone().into_iter().collect()).unwrap_or_default();
    for (k, v) in &w.fields {
        f.insert(k.clone(), v.clone());
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or(Value::Null);
    let text = |k: &str| match get(k) {
        Value::Null => json!(""),
        v => v,
    };
    // The ids of the variants the product has now, by SKU.
    let ids: Vec<(String, Value)> = current
        .and_then(|c| c.fields.get("variants"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| Some((v["sku"].as_str()?.to_string(), v["id"].clone())))
        .collect();
    let current_simple_id = current.and_then(|c| c.fields.get("_variant_id")).cloned();
    let id_of = |sku: &str| ids.iter().find(|(s, _)| s == sku).map(|(_, id)| id.clone());
    let listed: Vec<Value> = get("variants").as_array().cloned().unwrap_or_default();
    let mut option_names: Vec<String> = Vec::new();
    let mut option_values: Vec<Vec<String>> = Vec::new();
    let mut variants = Vec::new();
    if listed.is_empty() {
        option_names.push(DEFAULT_OPTION.0.into());
        option_values.push(vec![DEFAULT_OPTION.1.into()]);
        let mut v = json!({
            "sku": get("sku"), "price": money(&get("price")), "compareAtPrice": money(&get("compare_at_price")),
            "barcode": get("barcode"),
            "optionValues": [{ "optionName": DEFAULT_OPTION.0, "name": DEFAULT_OPTION.1 }],
        });
        if let Some(id) = current_simple_id.filter(|id| !id.is_null()) {
            v["id"] = id;
        }
        v["inventoryItem"] = weight_input(&get("weight_grams"));
        // A new product's first stock, at the location the write names.
        if let (Some(q), Some(loc)) =
            (w.fields.get("inventory").and_then(Value::as_i64), get("inventory_location").as_str())
        {
            v["inventoryQuantities"] = json!([{ "locationId": loc, "name": "available", "quantity": q }]);
        }
        variants.push(v);
    } else {
        for v in &listed {
            let mut values = Vec::new();
            for part in v["options"].as_str().unwrap_or_default().split(" / ").filter(|p| !p.trim().is_empty()) {
                let (name, value) = part.split_once(": ").unwrap_or(("Option", part));
                let at = match option_names.iter().position(|n| n == name.trim()) {
                    Some(at) => at,
                    None => {
                        option_names.push(name.trim().to_string());
                        option_values.push(Vec::new());
                        option_names.len() - 1
                    }
                };
                if !option_values[at].iter().any(|x| x == value.trim()) {
                    option_values[at].push(value.trim().to_string());
                }
                values.push(json!({ "optionName": name.trim(), "name": value.trim() }));
            }
            let mut out = json!({
                "sku": v["sku"], "price": money(&v["price"]), "compareAtPrice": money(&v["compare_at_price"]),
                "barcode": v.get("barcode").cloned().unwrap_or(Value::Null), "optionValues": values,
            });
            if let Some(id) = v["sku"].as_str().and_then(id_of) {
                out["id"] = id;
            }
            out["inventoryItem"] = weight_input(&v["weight_grams"]);
            variants.push(out);
        }
    }
    let product_options: Vec<Value> = option_names
        .iter()
        .zip(&option_values)
        .map(|(n, vals)| json!({ "name": n, "values": vals.iter().map(|v| json!({ "name": v })).collect::<Vec<_>>() }))
        .collect();
    let files: Vec<Value> = get("images")
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| json!({ "originalSource": u, "contentType": "IMAGE" }))
        .collect();
    let mut out = json!({
        "title": text("name"),
        "descriptionHtml": text("description"),
        "status": if get("status") == "publish" { "ACTIVE" } else { "DRAFT" },
        "tags": get("tags").as_array().cloned().unwrap_or_default(),
        "seo": { "title": get("seo_title"), "description": get("seo_description") },
        "files": files,
        "productOptions": product_options,
        "variants": variants,
    });
    for (field, name) in [("vendor", "vendor"), ("product_type", "productType")] {
        if let Some(v) = f.get(field).filter(|v| !v.is_null()) {
            out[name] = v.clone();
        }
    }
    if let Some(info) = f.get("product_info").filter(|v| v.is_object()) {
        out["metafields"] =
            json!([{ "namespace": "custom", "key": "product_info", "type": "json", "value": info.to_string() }]);
    }
    // The collections the product is in (a name the shop lacks was created before).
    if let Some(names) = f.get("categories").and_then(Value::as_array) {
        let ids: Vec<&String> =
            names.iter().filter_map(Value::as_str).filter_map(|n| collections.get(&n.trim().to_lowercase())).collect();
        out["collections"] = json!(ids);
    }
    out
}
