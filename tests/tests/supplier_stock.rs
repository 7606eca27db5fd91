//! The Xorosoft inventory sync against the simulators: the linked products' stock looked up
//! 100 a call and written to Shopify through `inventorySetQuantities`; on the next sync, a side
//! that moved alone wins, and both moving goes through the conflict policy (Shopify 0 → the
//! distributor's, close → the lower, far apart → a person, kept with both values). A sale that
//! takes a linked product low in Shopify sends `inventory_levels/update`: that product alone is
//! synced from Xorosoft.

use std::time::Duration;

use serde_json::json;
use std::collections::HashMap;
use storesync_core::config;
use storesync_core::supplier::conflict::ConflictPolicy;
use storesync_core::supplier::distributor::Carried;
use storesync_core::supplier::inventory::{low_stock_alert, sync_stock, DEFAULT_LOW_STOCK};
use storesync_core::supplier::matching::Match;
use storesync_core::supplier::pipeline::{self, SupplierSettings};
use storesync_core::supplier::staging::{stage, StagingStatus};
use storesync_core::supplier::worker::{handle, ApplyMessage, Handled};
use storesync_local::Local;
use storesync_platforms::shopify::client::ShopifyClient;
use storesync_platforms::shopify::inventory::ShopifyInventory;
use storesync_platforms::shopify::sim::{Bucket, ShopifySim};
use storesync_platforms::supplier::Connected;
use storesync_platforms::xorosoft::client::XorosoftClient;
use storesync_platforms::xorosoft::sim::XorosoftSim;

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Staging entries applied for `skus`: the products storesync put in the store.
async fn link(ports: &storesync_core::ports::Ports, skus: &[&str]) {
    for sku in skus {
        let item = serde_json::from_value(json!({
            "line": 2, "sku": sku, "handle": "h", "title": format!("Item {sku}"), "description": "", "vendor": "",
            "product_type": "", "tags": [], "barcode": null, "mpn": null, "weight_grams": null, "price": null,
            "cost": null, "images": [], "seo_title": "", "seo_description": "", "options": [], "product_info": {}
        }))
        .unwrap();
        let m = Match { product: None, confidence: 100, evidence: vec![], caveat: None };
        let mut e = stage("run-1", item, carried(1), m, &Default::default(), 95, chrono::Utc::now()).unwrap();
        e.status = StagingStatus::Applied;
        assert!(ports.staging.create(&e).await.unwrap());
    }
}

/// A client of the simulated shop served at `base`.
fn shop_client(base: &str) -> ShopifyClient {
    ShopifyClient::new(base, "shpat", storesync_platforms::shopify::API_VERSION, Duration::from_secs(10)).unwrap()
}

/// The distributor's client of the simulator, served here.
async fn distributor_of(xoro: &XorosoftSim) -> (String, XorosoftClient) {
    let base = serve(xoro.router()).await;
    let client = XorosoftClient::new(&base, "xo", Duration::from_secs(10)).unwrap();
    (base, client)
}

fn carried(stock: i64) -> Carried {
    Carried { item_number: "X".into(), stock, price: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_follows_the_distributor_and_conflicts_follow_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    // Products storesync applied (the linked ones), and one it did not (left alone).
    link(ports, &["A", "B", "C", "D", "E", "F", "G"]).await;
    let shop = ShopifySim::new("shpat", Bucket::default());
    let location = shop.add_location("Main warehouse");
    for (sku, stock) in [("A", 5), ("B", 5), ("C", 0), ("D", 20), ("E", 3), ("F", 7), ("UNLINKED", 4)] {
        shop.add_product(&format!("Item {sku}"), &[(sku, "Default Title", "1.00")], stock);
    }
    let xoro = XorosoftSim::new("xo");
    for (sku, stock) in [("A", 12), ("B", 5), ("C", 30), ("D", 40), ("E", 8), ("G", 1), ("UNLINKED", 99)] {
        xoro.carry(sku, carried(stock));
    }
    let store = ShopifyInventory::new(shop_client(&serve(shop.router()).await), &location);
    let (_, distributor) = distributor_of(&xoro).await;
    let policy = ConflictPolicy::default();

    let first = sync_stock(ports, &distributor, &store, &policy, "stock-1").await.unwrap();
    assert_eq!((first.linked, first.lookups, first.unchanged), (7, 1, 1), "{first:?}");
    assert_eq!(first.written, vec![("A".into(), 12), ("C".into(), 30), ("D".into(), 40), ("E".into(), 8)]);
    assert_eq!((first.not_carried.clone(), first.not_in_store.clone()), (vec!["F".to_string()], vec!["G".to_string()]));
    let now = |sku: &str| shop.available(sku, &location);
    assert_eq!((now("A"), now("B"), now("F"), now("UNLINKED")), (Some(12), Some(5), Some(7), Some(4)));

    // Meanwhile: a sale of A in Shopify; B restocked at the distributor; C sold out in Shopify
    // while the distributor sold some; D and E moved on both sides, close and far apart.
    shop.set_available("A", &location, 10);
    xoro.set_stock("B", 9);
    shop.set_available("C", &location, 0);
    xoro.set_stock("C", 25);
    shop.set_available("D", &location, 35);
    xoro.set_stock("D", 33);
    shop.set_available("E", &location, 2);
    xoro.set_stock("E", 20);
    let second = sync_stock(ports, &distributor, &store, &policy, "stock-2").await.unwrap();
    assert_eq!(second.written, vec![("B".into(), 9), ("C".into(), 25), ("D".into(), 33)], "{second:?}");
    assert_eq!(second.kept, 1, "A's sale stands");
    assert_eq!(second.manual.len(), 1);
    assert_eq!(second.manual[0].0, "E");
    assert!(second.manual[0].1.contains("a person decides"), "{:?}", second.manual);
    assert_eq!((now("A"), now("B"), now("C"), now("D"), now("E")), (Some(10), Some(9), Some(25), Some(33), Some(2)));
    let conflict = ports.kv.get("supplier/stock-conflicts/e").await.unwrap().unwrap();
    assert_eq!(
        (conflict["shopify"].clone(), conflict["xorosoft"].clone(), conflict["base"].clone()),
        (json!(2), json!(20), json!(8))
    );
}

type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;

/// A receiver of the shop's webhooks, subscribed: what it gets is (topic, body).
async fn subscribe(shop: &ShopifySim) -> Received {
    let got: Received = Default::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: axum::http::HeaderMap, body: axum::body::Bytes| async move {
            let topic = h["x-shopify-topic"].to_str().unwrap().to_string();
            sink.lock().unwrap().push((topic, serde_json::from_slice(&body).unwrap()));
        }),
    );
    shop.subscribe(&format!("{}/hook", serve(app).await), b"secret");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_stock_level_syncs_that_product_from_the_distributor() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    link(ports, &["A", "B"]).await;
    let shop = ShopifySim::new("shpat", Bucket::default());
    let location = shop.add_location("Main warehouse");
    for sku in ["A", "B", "UNLINKED"] {
        shop.add_product(&format!("Item {sku}"), &[(sku, "Default Title", "1.00")], 20);
    }
    let xoro = XorosoftSim::new("xo");
    for sku in ["A", "B", "UNLINKED"] {
        xoro.carry(sku, carried(20));
    }
    let shop_base = serve(shop.router()).await;
    let store = ShopifyInventory::new(shop_client(&shop_base), &location);
    let (xoro_base, distributor) = distributor_of(&xoro).await;
    let policy = ConflictPolicy::default();
    // The store's stock of some SKUs, by a search (not a whole read): those it has.
    use storesync_core::stores::inventory::InventoryStore;
    let some = store.inventory_of(&["A".into(), "UNLINKED".into(), "NOPE".into()]).await.unwrap();
    let items: HashMap<String, String> = shop.inventory_items().into_iter().collect();
    let got: Vec<(&str, Option<i64>, bool)> =
        some.iter().map(|r| (r.sku.as_str(), r.quantity, items[&r.sku] == r.write_key)).collect();
    assert_eq!(got, vec![("A", Some(20), true), ("UNLINKED", Some(20), true)]);
    // The hourly sync links each SKU to its inventory item; nothing to write.
    let first = sync_stock(ports, &distributor, &store, &policy, "stock-1").await.unwrap();
    assert_eq!((first.unchanged, first.written.len()), (2, 0), "{first:?}");
    let lookups = xoro.stats().lookups;
    let received = subscribe(&shop).await;

    // Sales: A sold out (low), B down to 12 (not low), UNLINKED down to 1 (not storesync's).
    // The distributor restocked A meanwhile.
    xoro.set_stock("A", 40);
    shop.set_available("A", &location, 0);
    shop.set_available("B", &location, 12);
    shop.set_available("UNLINKED", &location, 1);
    assert_eq!(shop.deliver_webhooks(&reqwest::Client::new()).await.refused, None);
    let hooks = received.lock().unwrap().clone();
    assert_eq!(hooks.iter().filter(|(t, _)| t == "inventory_levels/update").count(), 3, "{hooks:?}");
    let mut alerts = Vec::new();
    for (i, (_, body)) in hooks.iter().enumerate() {
        if let Some(a) = low_stock_alert(ports, body, DEFAULT_LOW_STOCK, &format!("shopify-hook-{i}")).await.unwrap() {
            alerts.push(a);
        }
    }
    assert_eq!(alerts.len(), 1, "only the linked product at or below {DEFAULT_LOW_STOCK}: {alerts:?}");
    assert_eq!((alerts[0].sku.as_str(), alerts[0].available), ("A", 0));

    // The alert goes through the apply queue's handler, as the worker receives it, on the
    // platforms as configured.
    let mut vars = HashMap::from([
        (config::ENV_SHOPIFY_URL, shop_base.clone()),
        (config::ENV_SHOPIFY_TOKEN, "shpat".to_string()),
        (config::ENV_SHOPIFY_LOCATION, location.clone()),
        (pipeline::ENV_XOROSOFT_URL, xoro_base),
        (pipeline::ENV_XOROSOFT_TOKEN, "xo".into()),
    ]);
    let platforms = Connected::connect(|k| vars.get(k).cloned());
    let settings = SupplierSettings::default();
    let body = serde_json::to_string(&ApplyMessage::LowStock { low_stock: alerts[0].clone() }).unwrap();
    let Handled::Stock(r) = handle(ports, &platforms, &settings, &body, false).await.unwrap() else {
        panic!("a stock sync")
    };
    // Both moved since the last sync, Shopify at 0: the policy takes the distributor's.
    assert_eq!((r.linked, r.lookups, r.written.clone()), (1, 1, vec![("A".to_string(), 40)]), "{r:?}");
    assert_eq!(xoro.stats().lookups, lookups + 1, "one look-up, of A alone");
    assert_eq!(shop.available("A", &location), Some(40));
    assert_eq!(shop.available("B", &location), Some(12), "B is not low: untouched");
    // The write is keyed by the alert (and what it writes): another alert of A, however alike,
    // is never taken for a replay of this one.
    let event = alerts[0].event.clone();
    assert!(shop.applied_keys().iter().any(|k| k.starts_with(&format!("supplier-low-stock-{event}-"))));

    // A stale alert (another sale since) writes nothing: the write is conditional on its level.
    shop.set_available("A", &location, 38);
    xoro.set_stock("A", 41);
    let r = match handle(ports, &platforms, &settings, &body, true).await.unwrap() {
        Handled::Stock(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!((r.written.len(), r.moved.clone()), (0, vec!["A".to_string()]), "{r:?}");
    assert_eq!(shop.available("A", &location), Some(38));

    // Without Xorosoft configured, the alert fails naming what to set (and stays on the queue).
    vars.remove(pipeline::ENV_XOROSOFT_URL);
    let bare = Connected::connect(|k| vars.get(k).cloned());
    let e = handle(ports, &bare, &settings, &body, false).await.unwrap_err().to_string();
    assert!(e.contains("low-stock alert for A") && e.contains(pipeline::ENV_XOROSOFT_URL), "{e}");
    // Queued, such a message is reported by what it is about and stays for a retry.
    ApplyMessage::LowStock { low_stock: alerts[0].clone() }.send(ports).await.unwrap();
    let tally = storesync_local::supplier::drain_apply(ports, &bare, &settings).await.unwrap();
    assert_eq!(tally.failed.len(), 1, "{tally:?}");
    assert_eq!(tally.failed[0].0, "the low-stock alert for A");
    assert!(tally.failed[0].1.ends_with("(queued for a retry)"), "{tally:?}");
    let depth = ports.queue.depth(pipeline::APPLY_QUEUE).await.unwrap();
    assert_eq!((depth.visible, depth.not_visible), (0, 1), "in flight until its visibility timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nothing_linked_the_stock_sync_reads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let shop = ShopifySim::new("shpat", Bucket::default());
    let location = shop.add_location("Main warehouse");
    shop.add_product("Item", &[("A", "Default Title", "1.00")], 3);
    let store = ShopifyInventory::new(shop_client(&serve(shop.router()).await), &location);
    let xoro = XorosoftSim::new("xo");
    let (_, distributor) = distributor_of(&xoro).await;
    let ports = local.workflow.ports();
    let r = sync_stock(ports, &distributor, &store, &ConflictPolicy::default(), "stock-0").await.unwrap();
    assert_eq!((r.linked, r.lookups), (0, 0));
    assert_eq!((shop.stats().requests, xoro.stats().lookups), (0, 0), "neither the store nor the distributor asked");
}
