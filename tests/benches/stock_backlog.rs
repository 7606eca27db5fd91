//! Stock pushes under a backlog (docs/PERFORMANCE.md): a backlog of WMS stock events for many
//! SKUs is received first, then the processor drains it against the WooCommerce simulator; the
//! figure is the objects per `/products/batch` call. The store must end at the stock computed
//! from the event log.
//!
//! usage: cargo bench -p storesync-tests --bench stock_backlog [-- EVENTS SKUS]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use storesync_core::config::Settings;
use storesync_core::webhooks::processor::Processor;
use storesync_core::webhooks::receiver::{Receiver, Reply};
use storesync_core::webhooks::{Secrets, WebhookSource};
use storesync_local::Local;
use storesync_platforms::testkit::{start_sims, truth};
use storesync_platforms::wms::storm::Delivery;

const SECRET: &[u8] = b"backlog-secret";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let events: usize = args.first().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let skus: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(2_000);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let local = Local::open(dir.path(), Settings::default()).expect("local state");
    let ports = local.workflow.ports().clone();
    let sims = start_sims(Duration::from_secs(10)).await;

    let start = chrono::Utc::now();
    let deliveries: Vec<Delivery> = (0..events)
        .map(|i| {
            let sku = format!("SKU-{:05}", i % skus);
            let (event, data) = if i % 5 == 0 {
                ("stock.updated", json!({ "sku": sku, "available": 40 + i % 17 }))
            } else {
                ("stock.adjustment", json!({ "sku": sku, "delta": if i % 2 == 0 { 2 } else { -1 }, "reason": "pick" }))
            };
            let id = format!("evt_{i:07}");
            let at = start + chrono::Duration::milliseconds(i as i64);
            let body = json!({ "id": id, "event": event, "occurred_at": at.to_rfc3339(), "data": data });
            Delivery {
                delivery_id: format!("dlv_{i:07}"),
                event_id: id,
                event_type: event.into(),
                entity: format!("sku:{sku}"),
                body: serde_json::to_vec(&body).expect("JSON"),
            }
        })
        .collect();
    let (want, _, sku_set) = truth(&deliveries, 10);
    sims.create_products(&sku_set.iter().cloned().collect::<Vec<_>>(), 10).await;

    let receiver = Receiver::new(ports.clone(), Secrets { wms: vec![SECRET.to_vec()], ..Secrets::default() });
    for d in &deliveries {
        let reply = receiver.handle(WebhookSource::Wms, &d.headers(SECRET), &d.body).await.expect("receipt");
        assert_eq!(reply, Reply::Accepted);
    }
    let processor = Arc::new(Processor::new(ports, sims.store.clone(), sims.warehouse.clone()));
    let started = Instant::now();
    storesync_local::webhooks::work(&processor, true).await.expect("drained");
    let secs = started.elapsed().as_secs_f64();

    let got = sims.observed(&Default::default(), &sku_set).await;
    assert_eq!(got.stock, want.stock, "the store ends at the stock of the event log");
    let s = processor.stats.snapshot();
    println!(
        "{events} stock events for {skus} SKUs: {} batch calls, {} objects, {:.1} objects per call; drained in {secs:.2} s",
        s.stock_calls,
        s.stock_objects,
        s.stock_objects as f64 / s.stock_calls.max(1) as f64
    );
}
