//! The store-sync engine on the local runtime against the WooCommerce and Shopify simulators:
//! its guards, exactly-once writes under replays and faults, and per-item results.

use std::collections::HashSet;

use storesync_core::stores::inventory::InventoryStore;
use storesync_core::stores::plans::compare_inventory;
use storesync_core::stores::sync::{report, start, work, Selection, SyncError, SyncOptions, SYNC_QUEUE};
use storesync_core::stores::Platform;
use storesync_local::simulate::Simulation;
use storesync_local::Local;
use storesync_platforms::fault::Fault;

struct Setup {
    sim: Simulation,
    local: Local,
    woo: Box<dyn InventoryStore>,
    shopify: Box<dyn InventoryStore>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Simulation::new(listener.local_addr().unwrap());
    let app = sim.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let env = sim.store_env.clone();
    let get = move |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let woo = storesync_local::stores::connect(Platform::WooCommerce, &get).unwrap();
    let shopify = storesync_local::stores::connect(Platform::Shopify, &get).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    Setup { sim, local, woo, shopify, _dir: dir }
}

fn location(s: &Setup) -> String {
    s.sim.store_env.iter().find(|(k, _)| k.ends_with("LOCATION")).unwrap().1.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_refuse_a_stale_plan_unknown_items_and_a_blast_without_override() {
    let s = setup().await;
    let ports = s.local.workflow.ports();
    let plan = compare_inventory(ports, s.shopify.as_ref(), s.woo.as_ref(), "test").await.unwrap();
    let stale = SyncOptions { max_plan_age: chrono::Duration::zero(), ..SyncOptions::default() };
    let e = start(ports, &plan.id, &Selection::All, "test", &stale).await.unwrap_err();
    assert!(matches!(e, SyncError::PlanTooOld { .. }), "{e}");
    let n = plan.comparison.items.len();
    let e =
        start(ports, &plan.id, &Selection::Items(vec![0, n + 3]), "test", &SyncOptions::default()).await.unwrap_err();
    assert_eq!(e.to_string(), format!("plan {} has no item {}: it has items 0 to {}", plan.id, n + 3, n - 1));

    // Shopify → WooCommerce zeroes the SKUs Shopify has at 0: over a tiny allowed share.
    let zeroing = plan.comparison.items.iter().filter(|i| i.source_quantity == Some(0)).count();
    assert!(zeroing > 0);
    let tight = SyncOptions { max_zero_share: 0.001, ..SyncOptions::default() };
    let e = start(ports, &plan.id, &Selection::All, "test", &tight).await.unwrap_err();
    assert!(e.to_string().starts_with(&format!("this sync would zero {zeroing} of ")), "{e}");
    assert_eq!(ports.queue.depth(SYNC_QUEUE).await.unwrap().visible, 0, "nothing queued");
    let run =
        start(ports, &plan.id, &Selection::All, "ops", &SyncOptions { override_blast: true, ..tight }).await.unwrap();
    assert!(run.override_blast);
    let audit = ports.audit.list(&format!("store-sync/run/{}", run.id)).await.unwrap();
    assert_eq!(audit[0].action, "store-sync.start");
    assert_eq!((audit[0].who.as_str(), &audit[0].after["blast_override"]), ("ops", &serde_json::json!(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_chunk_applies_nothing_twice() {
    let s = setup().await;
    let ports = s.local.workflow.ports();
    let plan = compare_inventory(ports, s.woo.as_ref(), s.shopify.as_ref(), "test").await.unwrap();
    let run = start(ports, &plan.id, &Selection::Items(vec![0, 1, 2]), "test", &SyncOptions::default()).await.unwrap();
    let msg = ports.queue.receive(SYNC_QUEUE, 1, 60).await.unwrap().remove(0);
    work(ports, s.shopify.as_ref(), &msg).await.unwrap();
    let applied = s.sim.shopify.stats().set_calls;
    assert_eq!(applied, 1);
    // The same message again (the queue delivered it twice): its results are kept, nothing is sent.
    let requests = s.sim.shopify.stats().requests;
    work(ports, s.shopify.as_ref(), &msg).await.unwrap();
    assert_eq!(s.sim.shopify.stats().requests, requests);
    // Even with its results lost, the write goes again under the same key: Shopify replays it.
    let chunk = ports.blobs.list(&format!("store-sync/runs/{}/chunks/", run.id)).await.unwrap();
    ports.blobs.delete(&chunk[0].key).await.unwrap();
    work(ports, s.shopify.as_ref(), &msg).await.unwrap();
    assert_eq!(s.sim.shopify.stats().set_calls, applied, "not applied twice");
    assert_eq!(s.sim.shopify.stats().idempotent_replays, 1);
    let r = report(ports, &run.id).await.unwrap();
    assert_eq!((r.succeeded, r.pending), (3, 0));
    let log = ports.status.read(&storesync_core::domain::SessionId::parse(&run.id).unwrap()).await.unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        (last.message.as_str(), last.status),
        ("3 of 3 items, 0 failed or moved", storesync_core::ports::StepStatus::Completed)
    );
    let first = &r.items[0];
    assert_eq!((first.old, first.new), (plan.comparison.items[0].destination_quantity, 10));
    let audit = ports.audit.list(&format!("store-sync/run/{}/item/0", run.id)).await.unwrap();
    assert_eq!(audit.len(), 2, "one per write: the lost results were written again");
    assert_eq!(audit[0].after["value"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_moved_items_end_in_the_results_and_nothing_applies_twice() {
    let s = setup().await;
    let ports = s.local.workflow.ports();
    let plan = compare_inventory(ports, s.woo.as_ref(), s.shopify.as_ref(), "test").await.unwrap();
    let loc = location(&s);
    // A sale on Shopify after the compare: that item has moved and is left alone.
    let moved = plan.comparison.items[3].sku.clone();
    s.sim.shopify.set_available(&moved, &loc, 77);
    let run = start(ports, &plan.id, &Selection::All, "test", &SyncOptions::default()).await.unwrap();
    s.sim.shopify.fail_randomly(
        0.3,
        vec![Fault::Status { code: 503, retry_after_secs: None }, Fault::LostReply { millis: 400 }],
        7,
    );
    storesync_local::stores::drain_sync_queue(ports, s.shopify.as_ref(), 0, |_| {}).await.unwrap();
    s.sim.shopify.fail_randomly(0.0, vec![], 0);
    let r = report(ports, &run.id).await.unwrap();
    assert_eq!(
        (r.pending, r.failed, r.moved),
        (0, 0, 1),
        "{:?}",
        r.items.iter().filter(|i| i.outcome != "succeeded").collect::<Vec<_>>()
    );
    assert_eq!(r.succeeded, plan.comparison.items.len() - 1);
    assert_eq!(s.sim.shopify.available(&moved, &loc), Some(77));
    assert!(s.sim.shopify.stats().faults_served > 0);
    let keys: HashSet<String> = s.sim.shopify.applied_keys();
    assert_eq!(s.sim.shopify.stats().set_calls as usize, keys.len(), "each key applied once");
}

/// A chunk whose writes fail transiently on every receive: on its last receive the failure is
/// final, so its items end failed with the error and the chunk is on the dead-letter queue
/// (rather than pending for ever once the queue gives up on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_failing_on_every_receive_ends_failed_and_dead_lettered() {
    use storesync_core::stores::sync::{SYNC_DLQ, SYNC_RECEIVES};
    let s = setup().await;
    let ports = s.local.workflow.ports();
    let plan = compare_inventory(ports, s.woo.as_ref(), s.shopify.as_ref(), "test").await.unwrap();
    let run = start(ports, &plan.id, &Selection::Items(vec![0, 1]), "test", &SyncOptions::default()).await.unwrap();
    // The client's own retries without their back-off, to keep the test short.
    let var = |k: &str| s.sim.store_env.iter().find(|(n, _)| *n == k).unwrap().1.clone();
    let mut client = storesync_platforms::shopify::client::ShopifyClient::new(
        &var("STORESYNC_SHOPIFY_URL"),
        &var("STORESYNC_SHOPIFY_TOKEN"),
        storesync_core::config::SHOPIFY_API_VERSION,
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    client.backoff = std::time::Duration::ZERO;
    let shopify = storesync_platforms::shopify::inventory::ShopifyInventory::new(client, &location(&s));
    s.sim.shopify.fail_randomly(1.0, vec![Fault::Status { code: 503, retry_after_secs: None }], 3);
    storesync_local::stores::drain_sync_queue(ports, &shopify, 0, |_| {}).await.unwrap();
    let r = report(ports, &run.id).await.unwrap();
    assert_eq!((r.pending, r.succeeded, r.failed), (0, 0, 2));
    assert!(r.items.iter().all(|i| i.error.as_deref().is_some_and(|e| e.contains("503"))), "{:?}", r.items);
    assert_eq!(s.sim.shopify.stats().set_calls, 0);
    let dead = ports.queue.receive(SYNC_DLQ, 10, 60).await.unwrap();
    assert_eq!(dead.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&dead[0].body).unwrap();
    assert_eq!(v["message"]["run"], run.id.as_str());
    assert!(v["error"].as_str().unwrap().contains("503"), "{v}");
    // Each receive before the last one left the chunk for a retry.
    assert!(s.sim.shopify.stats().faults_served >= SYNC_RECEIVES as u64, "{:?}", s.sim.shopify.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_compares_syncs_reports_and_rolls_back() {
    use std::time::{Duration, Instant};
    use storesync_api::auth::{issue, Role};
    let s = setup().await;
    let vars = s.sim.store_env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let mut local = Local::open(s._dir.path().join("api").as_path(), Default::default()).unwrap();
    local.stores = std::sync::Arc::new(storesync_local::stores::ConfiguredStores { vars });
    let local = std::sync::Arc::new(local);
    let secret = local.jwt_secret().unwrap();
    let (operator, viewer) =
        (issue(&secret, "dana", Role::Operator, 600).unwrap(), issue(&secret, "noam", Role::Viewer, 600).unwrap());
    let addr =
        local.clone().serve("127.0.0.1:0".parse().unwrap(), Default::default(), std::future::pending()).await.unwrap();
    let http = reqwest::Client::new();
    let call = |method: &str, path: &str, token: &str, body: Option<serde_json::Value>| {
        let mut req = http.request(method.parse().unwrap(), format!("http://{addr}{path}")).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let r = req.send().await.unwrap();
            let code = r.status().as_u16();
            let text = r.text().await.unwrap();
            (code, serde_json::from_str::<serde_json::Value>(&text).unwrap_or(serde_json::Value::String(text)))
        }
    };
    let wait = |path: String, done: fn(u16, &serde_json::Value) -> bool| {
        let call = &call;
        let viewer = viewer.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(90);
            loop {
                let (code, v) = call("GET", &path, &viewer, None).await;
                if done(code, &v) {
                    return v;
                }
                assert!(Instant::now() < deadline, "{path}: {code} {v}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };

    let (code, v) =
        call("POST", "/store-sync/compare", &viewer, Some(serde_json::json!({ "source": "woocommerce" }))).await;
    assert_eq!(code, 403, "a viewer cannot compare: {v}");
    let (code, v) =
        call("POST", "/store-sync/compare", &operator, Some(serde_json::json!({ "source": "amazon" }))).await;
    assert_eq!((code, v["error"].as_str().unwrap()), (400, "source \"amazon\": use woocommerce or shopify"));
    let (code, v) = call(
        "POST",
        "/store-sync/compare",
        &operator,
        Some(serde_json::json!({ "source": "woocommerce", "type": "inventory" })),
    )
    .await;
    assert_eq!(code, 202, "{v}");
    let plan = v["plan"].as_str().unwrap().to_string();
    let ready = wait(format!("/store-sync/plans/{plan}"), |code, _| code == 200).await;
    let items = ready["items"].as_array().unwrap().len();
    assert!(items > 0);
    let (code, csv) = call("GET", &format!("/store-sync/plans/{plan}?format=csv"), &viewer, None).await;
    assert_eq!(code, 200);
    assert_eq!(csv.as_str().unwrap().lines().count(), items + 1);

    let path = format!("/store-sync/plans/{plan}/sync");
    let (code, v) = call("POST", &path, &operator, Some(serde_json::json!({ "select": "all" }))).await;
    assert_eq!(
        (code, v["error"].as_str().unwrap()),
        (400, "confirm: true is required: a sync writes to the destination store")
    );
    let (code, v) =
        call("POST", &path, &operator, Some(serde_json::json!({ "select": [0, 1], "confirm": true }))).await;
    assert_eq!(code, 202, "{v}");
    let run = v["run"]["id"].as_str().unwrap().to_string();
    let report = wait(format!("/store-sync/runs/{run}"), |_, v| v["pending"] == 0).await;
    assert_eq!((report["succeeded"].as_u64(), report["failed"].as_u64()), (Some(2), Some(0)), "{report}");
    assert_eq!(report["items"][0]["new"], 10);

    let (code, v) = call("POST", &format!("/store-sync/runs/{run}/rollback"), &operator, None).await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    assert_eq!(v["rollback_of"], run.as_str());
    let (code, _) = call("GET", "/store-sync/plans/nope", &viewer, None).await;
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compare_that_cannot_reach_a_store_says_why() {
    use storesync_core::stores::plans::{plan_status, request_compare, run_compare_request, PlanStatus};
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    // No Shopify configured: the variables are empty here (set ones would win over the environment).
    let stores = storesync_local::stores::ConfiguredStores {
        vars: vec![
            ("STORESYNC_SHOPIFY_URL".into(), String::new()),
            ("STORESYNC_WOOCOMMERCE_URL".into(), "http://127.0.0.1:9".into()),
            ("STORESYNC_WOOCOMMERCE_CONSUMER_KEY".into(), "ck".into()),
            ("STORESYNC_WOOCOMMERCE_CONSUMER_SECRET".into(), "cs".into()),
        ],
    };
    let r = request_compare(ports, Platform::Shopify, "inventory", "dana").await.unwrap();
    assert!(matches!(plan_status(ports, &r.plan).await.unwrap(), Some(PlanStatus::Comparing(_))));
    let msg = ports.queue.receive(storesync_core::stores::plans::COMPARE_QUEUE, 1, 60).await.unwrap().remove(0);
    run_compare_request(ports, &stores, &msg).await.unwrap();
    match plan_status(ports, &r.plan).await.unwrap() {
        Some(PlanStatus::Failed { error, .. }) => {
            assert!(error.contains("STORESYNC_SHOPIFY_URL is not set"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    let e = request_compare(ports, Platform::Shopify, "orders", "dana").await.unwrap_err();
    assert_eq!(e.to_string(), "type \"orders\": use inventory, products, pages, posts, coupons or collections");
}

/// 5,000 products with two variants each on both stores, random differences, 5 % transient
/// faults on both, Shopify's bucket on: every selected item ends succeeded or failed with its
/// error, nothing is applied twice, and a new compare finds only what failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_products_with_faults_and_throttling_end_applied_once() {
    use rand::{RngExt, SeedableRng};
    use serde_json::json;
    use std::time::Duration;
    use storesync_platforms::shopify::client::ShopifyClient;
    use storesync_platforms::shopify::inventory::ShopifyInventory;
    use storesync_platforms::shopify::sim::{Bucket, ShopifySim};
    use storesync_platforms::woocommerce::client::WooClient;
    use storesync_platforms::woocommerce::inventory::WooInventory;
    use storesync_platforms::woocommerce::sim::WooSim;

    let woo = WooSim::new("ck", "cs");
    // Throttling on, at a rate that keeps the test short (the Standard rate is the benchmark's).
    let shop = ShopifySim::new("shpat", Bucket { size: 2000.0, restore_rate: 10_000.0 });
    let loc = shop.add_location("Main warehouse");
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    for p in 0..5000 {
        let parent = woo
            .seed_product(json!({ "name": format!("Tee {p}"), "type": "variable", "sku": format!("TEE-{p:05}") }))
            .unwrap()["id"]
            .as_u64()
            .unwrap();
        let mut variants = Vec::new();
        for size in ["S", "M"] {
            let sku = format!("TEE-{p:05}-{size}");
            let q = rng.random_range(0..20);
            woo.seed_variation(
                parent,
                json!({ "sku": sku, "manage_stock": true, "stock_quantity": q,
                "attributes": [{ "name": "Size", "option": size }] }),
            )
            .unwrap();
            let differs = rng.random_bool(0.3);
            variants.push((sku, if differs { (q + rng.random_range(1..5)) % 25 } else { q }));
        }
        let skus: Vec<(&str, &str, &str)> = variants.iter().map(|(s, _)| (s.as_str(), "Size", "15.00")).collect();
        shop.add_product(&format!("Tee {p}"), &skus, 0);
        for (sku, q) in &variants {
            shop.set_available(sku, &loc, *q);
        }
    }
    let app = axum::Router::new().nest("/wp-json/wc/v3", woo.router()).merge(shop.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let woo_store = WooInventory::new(
        WooClient::new(&format!("{base}/wp-json/wc/v3"), "ck", "cs", Duration::from_secs(10)).unwrap(),
    );
    let mut client =
        ShopifyClient::new(&base, "shpat", storesync_platforms::shopify::API_VERSION, Duration::from_secs(10)).unwrap();
    client.backoff = Duration::from_millis(20);
    let shop_store = ShopifyInventory::new(client, &loc);
    let faults =
        |codes: &[u16]| codes.iter().map(|c| Fault::Status { code: *c, retry_after_secs: Some(0) }).collect::<Vec<_>>();
    woo.fail_randomly(0.05, faults(&[503, 429]), 1);
    shop.fail_randomly(0.05, faults(&[503, 502]), 2);

    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    let plan = compare_inventory(ports, &woo_store, &shop_store, "test").await.unwrap();
    let c = &plan.comparison;
    assert_eq!(c.items.len() + c.unchanged, 10_000, "every variant matched by SKU");
    assert!(c.items.len() > 2500, "{}", c.items.len());
    let run = start(
        ports,
        &plan.id,
        &Selection::All,
        "test",
        &SyncOptions { override_blast: true, ..SyncOptions::default() },
    )
    .await
    .unwrap();
    storesync_local::stores::drain_sync_queue(ports, &shop_store, 0, |_| {}).await.unwrap();
    let r = report(ports, &run.id).await.unwrap();
    assert_eq!(r.pending, 0);
    assert_eq!(r.succeeded + r.failed + r.moved, c.items.len());
    assert!(r.items.iter().filter(|i| i.outcome != "succeeded").all(|i| i.error.is_some()), "a failure says why");
    assert!(shop.stats().faults_served > 0 && woo.stats().faults_served > 0);
    assert_eq!(shop.stats().set_calls as usize, shop.applied_keys().len(), "no call applied twice");
    assert_eq!(shop.stats().quantities_set as usize, r.succeeded, "no item applied twice");

    woo.fail_randomly(0.0, vec![], 0);
    shop.fail_randomly(0.0, vec![], 0);
    let after = compare_inventory(ports, &woo_store, &shop_store, "test").await.unwrap();
    assert_eq!(after.comparison.items.len(), r.failed + r.moved, "only what did not succeed still differs");
}
