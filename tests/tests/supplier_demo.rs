//! The offline demo of the supplier pipeline, as `storesync serve --simulate` runs it: the
//! office-supplies merchant's feed on a real FTP server, the Xorosoft and Shopify simulators,
//! and the local runtime doing what the functions do on AWS — the poll at start, the feed
//! ingested when it lands under `raw/etilize/`, its batches matched, the approvals applied.
//! Then Shopify's webhooks, sent by its simulator to the runtime's receiver: a sale taking a
//! supplier product's stock to 0 brings the distributor's stock back (the low-stock trigger);
//! a hand edit becomes a `shopify` version.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use storesync_core::config::{Settings, ENV_SHOPIFY_LOCATION};
use storesync_core::ports::Ports;
use storesync_core::supplier::distributor::Carried;
use storesync_core::supplier::pipeline::{run_of, run_report, RunReport, SupplierSettings, RAW_PREFIX};
use storesync_core::supplier::review::{decide_all, Filter};
use storesync_core::supplier::staging::{Review, StagingStatus};
use storesync_core::supplier::worker::run_job;
use storesync_local::runtime::Extras;
use storesync_local::simulate::office::{FEED_ROWS, SHOP_PRODUCTS};
use storesync_local::simulate::Simulation;
use storesync_local::supplier::SupplierRuntime;
use storesync_local::Local;
use storesync_platforms::supplier::Connected;

/// Waits (up to a minute) until `check` gives something.
async fn wait_for<T, F: Future<Output = Option<T>>>(what: &str, check: impl Fn() -> F) -> T {
    let started = Instant::now();
    loop {
        if let Some(t) = check().await {
            return t;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The run's report, once the ingest has started it.
async fn report(ports: &Ports, run: &str) -> Option<RunReport> {
    run_report(ports, run).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_merchant_runs_feed_to_shopify_and_back() {
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).try_init();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Simulation::new(listener.local_addr().unwrap()).with_supplier(&dir.path().join("sim-ftp")).await.unwrap();
    let secrets = sim.secrets().unwrap();
    let _webhooks = sim.send_shopify_webhooks(&secrets.shopify[0]);
    let local = Arc::new(Local::open(&dir.path().join("state"), Settings::default()).unwrap());
    let settings = SupplierSettings::default();
    let supplier = SupplierRuntime {
        platforms: Box::new(Connected::connect(sim.lookup())),
        settings: settings.clone(),
        scratch: dir.path().join("scratch"),
    };
    let extras = Extras {
        processor: Some(Arc::new(sim.platforms.processor(&local).unwrap())),
        routes: Some(sim.router()),
        supplier: Some(Arc::new(supplier)),
    };
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    local
        .clone()
        .serve_with(listener, secrets, extras, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    let ports = local.workflow.ports();
    let location = sim.lookup()(ENV_SHOPIFY_LOCATION).unwrap();

    // The poll at start: the feed downloaded into the bucket, ingested, matched, applied.
    let key = wait_for("the feed in the bucket", || async {
        ports.blobs.list(RAW_PREFIX).await.unwrap().first().map(|f| f.key.clone())
    })
    .await;
    assert!(key.ends_with("CowanOfficeSupplies_full.zip"), "{key}");
    let run = run_of(&key);
    let r = wait_for("the run matched and its approvals applied", || async {
        let r = report(ports, &run).await?;
        let applied = r.entries.get(&StagingStatus::Applied).copied().unwrap_or(0);
        (r.batches > 0 && r.batches_done == r.batches && applied == r.auto_approved).then_some(r)
    })
    .await;
    assert_eq!((r.items + r.bad_rows, r.bad_rows), (FEED_ROWS as u64, (FEED_ROWS / 50) as u64), "{r:?}");
    assert_eq!(r.not_carried + r.creates + r.updates + r.unchanged, r.items, "every item accounted for: {r:?}");
    // As the feed is made (simulate::office): SKUs ending in 7 not carried (a tenth of each kind
    // of row); updates by SKU, by barcode and by name; unchanged rows; new products; the name
    // matches wait for review.
    let counts = (r.not_carried, r.updates, r.unchanged, r.creates, r.auto_approved, r.pending);
    assert_eq!(counts, (120, 290, 90, 480, 90 + 100 + 480, 100), "{r:?}");
    // A new supplier product is in the shop, stocked as Xorosoft has it.
    assert_eq!(sim.shopify.available("ETL-00005", &location), Some(25));
    // The renamed ("Refurbished") ones wait for a person; approving them applies them.
    let filter = Filter { run: Some(run.clone()), min_confidence: None, max_confidence: None, action: None };
    let decided = decide_all(ports, &filter, &Review::Approve, "test:dana").await.unwrap();
    assert_eq!(decided.decided as u64, r.pending);
    wait_for("the reviewed entries applied", || async {
        let r = report(ports, &run).await?;
        (r.entries.get(&StagingStatus::Applied).copied() == Some(r.auto_approved + r.pending)).then_some(())
    })
    .await;

    // The distributor restocks, and a sale takes a product storesync just created to 0 in
    // Shopify: Shopify's inventory_levels/update reaches the receiver, and the product's stock
    // comes back (the apply linked it to its inventory item; no stock sync has run yet).
    sim.xorosoft.carry("ETL-00005", Carried { item_number: "XO-ETL-00005".into(), stock: 60, price: None });
    sim.shopify.set_available("ETL-00005", &location, 0);
    wait_for("the low-stock sync", || async {
        (sim.shopify.available("ETL-00005", &location) == Some(60)).then_some(())
    })
    .await;
    // A sale that leaves stock above the threshold changes nothing.
    sim.shopify.set_available("ETL-00015", &location, 20);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sim.shopify.available("ETL-00015", &location), Some(20));
    // The stock sync on demand: every linked product.
    let platforms = Connected::connect(sim.lookup());
    let stock = run_job(ports, &platforms, &settings, "stock", &dir.path().join("scratch")).await.unwrap();
    assert_eq!(stock["linked"].as_u64(), Some(770), "the applied entries' SKUs: {stock}");

    // A hand edit in Shopify's admin: products/update, kept as a version of the product.
    let product = sim.shopify.inventory_items().len();
    assert!(product > SHOP_PRODUCTS, "the shop grew by the supplier's products");
    let catalog =
        storesync_platforms::stores::connect_catalog(storesync_core::stores::Platform::Shopify, sim.lookup()).unwrap();
    let find = |sku: &'static str| {
        let catalog = &catalog;
        async move { catalog.find(storesync_core::stores::catalog::DataType::Products, sku).await.unwrap().unwrap() }
    };
    // storesync's own writes came back as webhooks too (OFF-0000 was written three times: by
    // SKU, by barcode, by name): none of them reads as an edit in Shopify.
    let sources: Vec<String> =
        ports.versions.history(&find("OFF-0000").await).await.unwrap().into_iter().map(|v| v.source).collect();
    // Each write: the fields' values before storesync first touched them, then its own.
    assert_eq!(sources.len(), 6, "{sources:?}");
    assert!(sources.iter().all(|s| s != "shopify"), "{sources:?}");
    let created = find("ETL-00005").await;
    sim.shopify.product_set(json!({ "id": created, "descriptionHtml": "<p>Edited by hand</p>" })).unwrap();
    let v = wait_for("the hand edit as a version", || async {
        let h = ports.versions.history(&created).await.unwrap();
        h.last().filter(|v| v.source == "shopify").cloned()
    })
    .await;
    assert_eq!(v.fields["description"], json!("<p>Edited by hand</p>"));
}
