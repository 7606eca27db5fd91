//! The Shopify sync-down: a product as Shopify reports it (its `products/update` webhook,
//! through the webhook receiver) compared with the latest version storesync keeps; the fields
//! edited in Shopify become a version (`shopify`), so a hand edit is never lost without a trace,
//! and the next apply sees it as a remote change (see `apply`). Products storesync has no
//! version of are not its to track; its own writes coming back change nothing — also when the
//! webhook overtakes the version the apply records after its write: the apply marks what it is
//! writing first ([`mark_applying`]), and a field at the value being written is not an edit.
//! Webhooks also come late: the echo of an earlier write can arrive after a later one is
//! recorded, showing a field at the value it had a moment ago. A webhook's field back at a
//! value of a version recorded in the last [`ECHO_MINUTES`] is read as such an echo, not an
//! edit; the scheduled full check, which reads the store as it is, has no echoes and sees
//! every difference (a hand revert within those minutes included).

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
    observe(ports, &product, &now, Seen::Webhook).await
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
        if !observe(ports, &r.id, &r.fields, Seen::Now).await?.is_empty() {
            edited += 1;
        }
    }
    Ok(edited)
}

fn applying_key(product: &str) -> String {
    format!("supplier/applying/{product}")
}

/// How long a mark of an apply in flight counts (an apply that died between its write and its
/// version leaves one; its redelivery records the version).
const APPLYING_FOR_MINUTES: i64 = 60;

/// Marks `fields` as being written to `product` by storesync, until [`unmark_applying`].
pub async fn mark_applying(ports: &Ports, product: &str, fields: &BTreeMap<String, Value>) -> Result<(), PortError> {
    ports.kv.put(&applying_key(product), &json!({ "fields": fields, "at": ports.clock.now() })).await
}

pub async fn unmark_applying(ports: &Ports, product: &str) -> Result<(), PortError> {
    ports.kv.delete(&applying_key(product)).await
}

/// The fields storesync is writing to `product` now, if it is.
async fn applying(ports: &Ports, product: &str) -> Result<BTreeMap<String, Value>, PortError> {
    let Some(m) = ports.kv.get(&applying_key(product)).await? else { return Ok(BTreeMap::new()) };
    let at = m["at"].as_str().and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
    if at.is_none_or(|t| ports.clock.now() - t > chrono::Duration::minutes(APPLYING_FOR_MINUTES)) {
        return Ok(BTreeMap::new());
    }
    Ok(serde_json::from_value(m["fields"].clone()).unwrap_or_default())
}

/// How long a webhook may echo an earlier version (see the module).
pub const ECHO_MINUTES: i64 = 10;

/// Where a product's fields come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A webhook: possibly late, echoing an earlier write.
    Webhook,
    /// The store read now.
    Now,
}

/// Compares a product's fields with its latest version (see the module).
pub async fn observe(
    ports: &Ports,
    product: &str,
    now: &BTreeMap<String, Value>,
    seen: Seen,
) -> Result<Vec<String>, PortError> {
    let history = ports.versions.history(product).await?;
    let Some(last) = history.last() else { return Ok(Vec::new()) };
    // The fields that differ from the last version, as the store has them now.
    let differ: Vec<(&String, Value)> = last
        .fields
        .iter()
        .filter_map(|(k, before)| {
            let kind = kind_of(k);
            let a = canonical(kind, now.get(k)?);
            (!same(kind, &a, &canonical(kind, before))).then_some((k, a))
        })
        .collect();
    if differ.is_empty() {
        return Ok(Vec::new());
    }
    // Of those, the ones at a value storesync is writing, or (a late webhook) wrote a moment ago.
    let in_flight = applying(ports, product).await?;
    let since = ports.clock.now() - chrono::Duration::minutes(ECHO_MINUTES);
    let earlier: Vec<&BTreeMap<String, Value>> = match seen {
        Seen::Webhook => history.iter().rev().skip(1).take_while(|v| v.at >= since).map(|v| &v.fields).collect(),
        Seen::Now => Vec::new(),
    };
    let mut fields = last.fields.clone();
    let mut edited = Vec::new();
    for (k, a) in differ {
        let kind = kind_of(k);
        let at = |fields: &BTreeMap<String, Value>| fields.get(k).is_some_and(|w| same(kind, &a, &canonical(kind, w)));
        if !(at(&in_flight) || earlier.iter().any(|f| at(f))) {
            edited.push(k.clone());
            fields.insert(k.clone(), a);
        }
    }
    if !edited.is_empty() {
        let v = next(&history, product, fields, "shopify", ports.clock.now());
        ports.versions.append(&v).await?;
    }
    Ok(edited)
}
