//! The simulated shop's webhooks. Once [`ShopifySim::subscribe`]d, its product changes
//! (`products/create`, `products/update`, `products/delete`) and inventory level changes
//! (`inventory_levels/update`) — through the API or behind its back, as a sale or a hand edit in
//! the admin — are queued as Shopify sends them: the REST resource, snake_case, as the body;
//! `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the body with the app's secret), a webhook id
//! that a retry keeps, an event id, the topic and the time. [`ShopifySim::deliver_webhooks`]
//! posts them in order; a delivery not answered 2xx stays first in line (Shopify retries it).

use std::collections::VecDeque;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use storesync_core::webhooks::signature::sign_base64;

use super::{gid, Inner, ShopifySim};

#[derive(Default)]
pub(super) struct Outbox {
    /// Where deliveries go and the secret they are signed with.
    subscription: Option<(String, Vec<u8>)>,
    queued: VecDeque<Outgoing>,
    next: u64,
}

#[derive(Clone)]
struct Outgoing {
    topic: &'static str,
    webhook_id: String,
    event_id: String,
    triggered_at: DateTime<Utc>,
    body: Vec<u8>,
}

fn queue(s: &mut Inner, topic: &'static str, body: Value) {
    let o = &mut s.outbox;
    o.next += 1;
    let triggered_at = Utc::now();
    o.queued.push_back(Outgoing {
        topic,
        webhook_id: format!("sim-{:08x}-{}", o.next, triggered_at.timestamp_micros()),
        event_id: format!("sim-event-{}", o.next),
        triggered_at,
        body: body.to_string().into_bytes(),
    });
}

fn subscribed(s: &Inner) -> bool {
    s.outbox.subscription.is_some()
}

/// The variant's weight in grams (Shopify's REST `grams`).
fn grams(weight: &Option<(f64, String)>) -> i64 {
    let Some((v, unit)) = weight else { return 0 };
    (v * crate::shopify::products::grams_per(unit).unwrap_or(0.0)).round() as i64
}

/// The product as Shopify's REST Admin API (and its webhooks) render it.
fn rest_product(s: &Inner, pid: u64) -> Option<Value> {
    let (title, variants) = s.products.get(&pid)?;
    let f = s.product_fields.get(&pid).cloned().unwrap_or_default();
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let tags: Vec<&str> =
        f.get("tags").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let images: Vec<Value> = f
        .get("images")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, src)| json!({ "position": i + 1, "product_id": pid, "src": src }))
        .collect();
    let variants: Vec<Value> = variants
        .iter()
        .filter_map(|vid| s.variants.get(vid).map(|v| (vid, v)))
        .enumerate()
        .map(|(i, (vid, v))| {
            let stock: i64 = s.levels.iter().filter(|((item, _), _)| *item == v.item).map(|(_, l)| l.available).sum();
            json!({
                "id": vid, "admin_graphql_api_id": gid("ProductVariant", *vid), "product_id": pid,
                "title": v.title, "sku": v.sku, "price": v.price, "compare_at_price": v.compare_at,
                "barcode": v.barcode, "grams": grams(&v.weight), "position": i + 1,
                "inventory_item_id": v.item, "inventory_quantity": stock, "inventory_management": "shopify",
                "option1": v.options.first().map(|(_, x)| x.clone()),
            })
        })
        .collect();
    Some(json!({
        "id": pid,
        "admin_graphql_api_id": gid("Product", pid),
        "title": title,
        "body_html": f.get("descriptionHtml").cloned().unwrap_or(Value::Null),
        "vendor": f.get("vendor").cloned().unwrap_or(json!("")),
        "product_type": f.get("productType").cloned().unwrap_or(json!("")),
        "handle": f.get("handle").cloned().unwrap_or(Value::Null),
        "status": f.get("status").and_then(Value::as_str).unwrap_or("ACTIVE").to_lowercase(),
        "tags": tags.join(", "),
        "updated_at": now,
        "images": images,
        "variants": variants,
    }))
}

/// A product made or changed: `products/create` or `products/update`.
pub(super) fn product_changed(s: &mut Inner, pid: u64, created: bool) {
    if !subscribed(s) {
        return;
    }
    if let Some(body) = rest_product(s, pid) {
        queue(s, if created { "products/create" } else { "products/update" }, body);
    }
}

pub(super) fn product_deleted(s: &mut Inner, pid: u64) {
    if subscribed(s) {
        queue(s, "products/delete", json!({ "id": pid }));
    }
}

/// An inventory level's `available` changed: `inventory_levels/update`.
pub(super) fn level_changed(s: &mut Inner, item: u64, location: u64) {
    if !subscribed(s) {
        return;
    }
    let Some(level) = s.levels.get(&(item, location)).copied() else { return };
    let body = json!({
        "inventory_item_id": item,
        "location_id": location,
        "available": level.available,
        "updated_at": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "admin_graphql_api_id": format!("gid://shopify/InventoryLevel/{location}?inventory_item_id={item}"),
    });
    queue(s, "inventory_levels/update", body);
}

/// What a delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    pub delivered: usize,
    /// Left queued: the first refusal (status or error), when there was one.
    pub refused: Option<String>,
}

impl ShopifySim {
    /// From now on, the shop's changes are queued as webhooks to `url`, signed with `secret`.
    pub fn subscribe(&self, url: &str, secret: &[u8]) {
        self.lock().outbox.subscription = Some((url.to_string(), secret.to_vec()));
    }

    /// The topics queued and not delivered yet, in order.
    pub fn queued_webhooks(&self) -> Vec<&'static str> {
        self.lock().outbox.queued.iter().map(|o| o.topic).collect()
    }

    /// Posts the queued webhooks in order until one is refused (it stays first in line).
    pub async fn deliver_webhooks(&self, http: &reqwest::Client) -> Delivered {
        let mut out = Delivered::default();
        loop {
            let next = {
                let s = self.lock();
                match (&s.outbox.subscription, s.outbox.queued.front()) {
                    (Some((url, secret)), Some(o)) => Some((url.clone(), secret.clone(), o.clone())),
                    _ => None,
                }
            };
            let Some((url, secret, o)) = next else { return out };
            let sent = http
                .post(&url)
                .header("Content-Type", "application/json")
                .header("X-Shopify-Topic", o.topic)
                .header("X-Shopify-Hmac-Sha256", sign_base64(&secret, &o.body))
                .header("X-Shopify-Shop-Domain", "storesync-sim.myshopify.com")
                .header("X-Shopify-API-Version", super::super::API_VERSION)
                .header("X-Shopify-Webhook-Id", &o.webhook_id)
                .header("X-Shopify-Event-Id", &o.event_id)
                .header("X-Shopify-Triggered-At", o.triggered_at.to_rfc3339_opts(SecondsFormat::Millis, true))
                .body(o.body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    let mut s = self.lock();
                    if s.outbox.queued.front().is_some_and(|f| f.webhook_id == o.webhook_id) {
                        s.outbox.queued.pop_front();
                    }
                    out.delivered += 1;
                }
                Ok(r) => {
                    out.refused = Some(format!("{} answered {}", o.topic, r.status()));
                    return out;
                }
                Err(e) => {
                    out.refused = Some(format!("{}: {e}", o.topic));
                    return out;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shopify::sim::Bucket;

    #[test]
    fn changes_queue_only_once_subscribed() {
        let shop = ShopifySim::new("t", Bucket::default());
        let loc = shop.add_location("Main");
        shop.add_product("Before", &[("B-1", "Default Title", "1.00")], 3);
        assert!(shop.queued_webhooks().is_empty());
        shop.subscribe("http://127.0.0.1:9/webhooks/shopify", b"s");
        let id = shop.add_product("Mug", &[("M-1", "Default Title", "9.50")], 4);
        shop.set_available("M-1", &loc, 2);
        shop.product_set(json!({ "id": id, "title": "Big mug" })).unwrap();
        assert_eq!(shop.queued_webhooks(), vec!["products/create", "inventory_levels/update", "products/update"]);
        let s = shop.lock();
        let level: Value = serde_json::from_slice(&s.outbox.queued[1].body).unwrap();
        assert_eq!(level["available"], 2);
        let update: Value = serde_json::from_slice(&s.outbox.queued[2].body).unwrap();
        assert_eq!((update["title"].as_str(), update["variants"][0]["sku"].as_str()), (Some("Big mug"), Some("M-1")));
        assert_eq!(update["admin_graphql_api_id"], json!(id));
    }

    #[test]
    fn weights_read_in_grams() {
        assert_eq!(grams(&Some((1.5, "KILOGRAMS".into()))), 1500);
        assert_eq!(grams(&Some((1.0, "POUNDS".into()))), 454);
        assert_eq!(grams(&None), 0);
    }
}
