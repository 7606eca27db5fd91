//! The simulators on a loopback port with clients for them, and the truth a WMS storm should
//! leave in the store, computed from its event log alone: for tests and benchmarks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::wms::client::WmsClient;
use crate::wms::sim::WmsSim;
use crate::wms::storm::Delivery;
use crate::woocommerce::client::WooClient;
use crate::woocommerce::sim::WooSim;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use storesync_core::webhooks::wms::{WmsData, WmsEvent};

pub const WOO_KEY: &str = "ck_storm";
pub const WOO_SECRET: &str = "cs_storm";
pub const WMS_KEY: &str = "wms_api_key";

pub struct Sims {
    pub woo: WooSim,
    pub wms: WmsSim,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub store: Arc<WooClient>,
    pub warehouse: Arc<WmsClient>,
}

/// Starts both simulators; the clients time out after `timeout`.
pub async fn start_sims(timeout: Duration) -> Sims {
    let woo = WooSim::new(WOO_KEY, WOO_SECRET);
    let wms = WmsSim::new(WMS_KEY);
    let shopify = crate::shopify::sim::ShopifySim::new("shpat_testkit", crate::shopify::sim::Bucket::default());
    let app = crate::sim_router(&woo, &wms, &shopify);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}");
    let store = WooClient::new(&format!("{base}/sim/woocommerce/wp-json/wc/v3"), WOO_KEY, WOO_SECRET, timeout)
        .expect("WooCommerce client");
    let warehouse = WmsClient::new(&format!("{base}/sim/wms"), WMS_KEY, timeout).expect("WMS client");
    Sims { woo, wms, base, store: Arc::new(store), warehouse: Arc::new(warehouse) }
}

impl Sims {
    /// Creates simple products with these SKUs, each with `stock` in stock, through the REST API.
    pub async fn create_products(&self, skus: &[String], stock: i64) {
        let http = reqwest::Client::new();
        for chunk in skus.chunks(100) {
            let create: Vec<Value> = chunk
                .iter()
                .map(|s| json!({ "name": format!("Product {s}"), "sku": s, "manage_stock": true, "stock_quantity": stock }))
                .collect();
            let r = http
                .post(format!("{}/sim/woocommerce/wp-json/wc/v3/products/batch", self.base))
                .basic_auth(WOO_KEY, Some(WOO_SECRET))
                .json(&json!({ "create": create }))
                .send()
                .await
                .expect("batch create");
            assert!(r.status().is_success(), "batch create: {}", r.status());
        }
    }

    /// What the store holds now, in the terms of [`Outcome`].
    pub async fn observed(&self, orders: &BTreeSet<u64>, skus: &BTreeSet<String>) -> Outcome {
        let mut out = Outcome::default();
        for &id in orders {
            let notes: Vec<String> = self
                .woo
                .notes(id)
                .iter()
                .filter_map(|n| n["note"].as_str().map(String::from))
                .filter(|n| n.contains("[WMS event "))
                .collect();
            out.notes.insert(id, notes);
            if self.woo.order(id).is_some_and(|o| o["status"] == "completed") {
                out.completed.insert(id);
            }
        }
        let refs: Vec<&str> = skus.iter().map(String::as_str).collect();
        let found = self.store.find_by_sku(&refs).await.expect("find by SKU");
        for sku in skus {
            let id = found[sku].id;
            let q = self.woo.product(id).and_then(|p| p["stock_quantity"].as_i64()).unwrap_or(0);
            out.stock.insert(sku.clone(), q);
        }
        out
    }
}

/// What a storm leaves in the store.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Per order, the notes storesync added (each once), in any order: sorted here.
    pub notes: BTreeMap<u64, Vec<String>>,
    pub completed: BTreeSet<u64>,
    pub stock: BTreeMap<String, i64>,
}

/// A stock event of the log: when, the absolute quantity if it is one, else the delta.
type StockFact = (DateTime<Utc>, Option<i64>, i64);

/// The outcome computed directly from the event log: one note per order, order update and
/// shipment event; shipped orders completed; per SKU the latest absolute stock plus the
/// relative quantities after it (or the initial stock plus all of them).
pub fn truth(deliveries: &[Delivery], initial_stock: i64) -> (Outcome, BTreeSet<u64>, BTreeSet<String>) {
    let mut events: BTreeMap<String, WmsEvent> = BTreeMap::new();
    for d in deliveries {
        let e = WmsEvent::parse(&d.body).expect("storm events follow the contract");
        events.insert(e.id.clone(), e);
    }
    let mut out = Outcome::default();
    let mut orders = BTreeSet::new();
    let mut stock_events: BTreeMap<String, Vec<StockFact>> = BTreeMap::new();
    for e in events.values() {
        let mut note = |order: &str| {
            let id: u64 = order.parse().expect("numeric order id");
            orders.insert(id);
            out.notes.entry(id).or_default().push(e.id.clone());
        };
        match &e.data {
            WmsData::OrderCreated(o) | WmsData::OrderUpdated(o) => note(&o.external_id),
            WmsData::OrderShipped(s) => {
                note(&s.external_id);
                out.completed.insert(s.external_id.parse().expect("numeric order id"));
            }
            WmsData::ShipmentCreated(s) | WmsData::ShipmentUpdated(s) => note(&s.external_id),
            WmsData::StockUpdated(s) => {
                stock_events.entry(s.sku.clone()).or_default().push((e.occurred_at, Some(s.available), 0))
            }
            WmsData::StockAdjustment(s) => {
                stock_events.entry(s.sku.clone()).or_default().push((e.occurred_at, None, s.delta))
            }
            WmsData::InboundCompleted(i) => {
                for l in &i.lines {
                    stock_events.entry(l.sku.clone()).or_default().push((e.occurred_at, None, l.quantity));
                }
            }
            WmsData::InboundCreated(_) => {}
        }
    }
    let skus: BTreeSet<String> = stock_events.keys().cloned().collect();
    for (sku, mut evs) in stock_events {
        evs.sort_by_key(|e| e.0);
        let value = match evs.iter().rposition(|e| e.1.is_some()) {
            Some(i) => {
                let (at, abs, _) = evs[i];
                abs.unwrap_or(0) + evs[i + 1..].iter().filter(|e| e.0 > at).map(|e| e.2).sum::<i64>()
            }
            None => initial_stock + evs.iter().map(|e| e.2).sum::<i64>(),
        };
        out.stock.insert(sku, value);
    }
    (out, orders, skus)
}

/// The event ids named in the notes the store holds (for comparison with [`truth`]).
pub fn note_event_ids(notes: &BTreeMap<u64, Vec<String>>) -> BTreeMap<u64, Vec<String>> {
    notes
        .iter()
        .map(|(id, ns)| {
            let mut ids: Vec<String> = ns
                .iter()
                .filter_map(|n| n.rsplit_once("[WMS event ").map(|(_, r)| r.trim_end_matches(']').to_string()))
                .collect();
            ids.sort();
            (*id, ids)
        })
        .collect()
}
