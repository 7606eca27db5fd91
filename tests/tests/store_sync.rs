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
    let woo = storesync_local::stores::connect(Platform::WooCommerce, &get).await.unwrap();
    let shopify = storesync_local::stores::connect(Platform::Shopify, &get).await.unwrap();
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
    work(ports, s.shopify.as_ref(), &msg.body).await.unwrap();
    let applied = s.sim.shopify.stats().set_calls;
    assert_eq!(applied, 1);
    // The same message again (the queue delivered it twice): its results are kept, nothing is sent.
    let requests = s.sim.shopify.stats().requests;
    work(ports, s.shopify.as_ref(), &msg.body).await.unwrap();
    assert_eq!(s.sim.shopify.stats().requests, requests);
    // Even with its results lost, the write goes again under the same key: Shopify replays it.
    let chunk = ports.blobs.list(&format!("store-sync/runs/{}/chunks/", run.id)).await.unwrap();
    ports.blobs.delete(&chunk[0].key).await.unwrap();
    work(ports, s.shopify.as_ref(), &msg.body).await.unwrap();
    assert_eq!(s.sim.shopify.stats().set_calls, applied, "not applied twice");
    assert_eq!(s.sim.shopify.stats().idempotent_replays, 1);
    let r = report(ports, &run.id).await.unwrap();
    assert_eq!((r.succeeded, r.pending), (3, 0));
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
    storesync_local::stores::drain_sync_queue(ports, s.shopify.as_ref(), 0, || {}).await.unwrap();
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
