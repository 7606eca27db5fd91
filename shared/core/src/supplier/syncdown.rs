//! The Shopify sync-down: a product as Shopify reports it (its `products/update` webhook,
//! through the webhook receiver) compared with the latest version storesync keeps; the fields
//! edited in Shopify become a version (`shopify`), so a hand edit is never lost without a trace,
//! and the next apply sees it as a remote change (see `apply`). Products storesync has no
//! version of are not its to track; its own writes coming back change nothing.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::staging::kind_of;
use super::versions::next;
use crate::ports::{PortError, Ports};
use crate::stores::catalog::{canonical, same};

/// A product webhook's body (Shopify's REST product) in the neutral fields: its id and fields.
pub fn product_fields(body: &Value) -> Option<(String, BTreeMap<String, Value>)> {
    let id = match body["admin_graphql_api_id"].as_str() {
        Some(g) => g.to_string(),
        None => format!("gid://shopify/Product/{}", body["id"].as_u64()?),
    };
    let mut f = BTreeMap::new();
    f.insert("name".into(), body["title"].clone());
    f.insert("description".into(), body["body_html"].clone());
    f.insert("vendor".into(), body["vendor"].clone());
    f.insert("product_type".into(), body["product_type"].clone());
    let tags: Vec<&str> =
        body["tags"].as_str().unwrap_or_default().split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    f.insert("tags".into(), json!(tags));
    let images: Vec<Value> = body["images"].as_array().into_iter().flatten().map(|i| i["src"].clone()).collect();
    f.insert("images".into(), Value::from(images));
    // A simple product's variant fields are the product's.
    if let Some([v]) = body["variants"].as_array().map(Vec::as_slice) {
        f.insert("price".into(), v["price"].clone());
        f.insert("barcode".into(), v["barcode"].clone());
        if let Some(g) = v["grams"].as_f64() {
            f.insert("weight_grams".into(), if g > 0.0 { json!(g.round() as i64) } else { Value::Null });
        }
    }
    Some((id, f))
}

/// Records Shopify's edits of a tracked product as a version; the fields edited (none when
/// nothing changed or the product is not tracked).
pub async fn observed(ports: &Ports, body: &Value) -> Result<Vec<String>, PortError> {
    let Some((product, now)) = product_fields(body) else { return Ok(Vec::new()) };
    observe(ports, &product, &now).await
}

/// The scheduled full check: every product of the store (its neutral fields, as the catalog
/// port reads them) compared as a webhook would be; how many products had edits recorded.
pub async fn full_check(
    ports: &Ports,
    store: &dyn crate::stores::catalog_sync::CatalogStore,
) -> Result<usize, super::pipeline::SupplierError> {
    let records = store
        .read(crate::stores::catalog::DataType::Products)
        .await
        .map_err(|e| super::pipeline::SupplierError::Invalid(format!("reading the store's products: {e}")))?;
    let mut edited = 0;
    for r in records {
        if !observe(ports, &r.id, &r.fields).await?.is_empty() {
            edited += 1;
        }
    }
    Ok(edited)
}

/// Compares a product's fields now with its latest version (see the module).
pub async fn observe(ports: &Ports, product: &str, now: &BTreeMap<String, Value>) -> Result<Vec<String>, PortError> {
    let history = ports.versions.history(product).await?;
    let Some(last) = history.last() else { return Ok(Vec::new()) };
    let mut fields = last.fields.clone();
    let mut edited = Vec::new();
    for (k, before) in &last.fields {
        let Some(after) = now.get(k) else { continue };
        let kind = kind_of(k);
        let (a, b) = (canonical(kind, after), canonical(kind, before));
        if !same(kind, &a, &b) {
            fields.insert(k.clone(), a);
            edited.push(k.clone());
        }
    }
    if !edited.is_empty() {
        let v = next(&history, product, fields, "shopify", ports.clock.now());
        ports.versions.append(&v).await?;
    }
    Ok(edited)
}
