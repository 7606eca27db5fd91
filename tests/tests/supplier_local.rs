//! The supplier pipeline end to end on the local runtime: a ZIP of 20,000 rows on a real FTP
//! server (libunftp), polled (twice: the file is seen once), its download cut midway and
//! resumed, ingested into batches of 100, each validated against the Xorosoft simulator (one
//! look-up per batch), matched against the Shopify simulator's products and staged; every row
//! ends staged, unchanged, not carried or a bad row, and the counts add up. A batch delivered
//! twice stages nothing twice. The approved entries reach Shopify (new products with their
//! vendor, structured details and stock; matched ones with their changed fields), each with
//! its versions; a reviewed entry follows; a version restored puts the product back. Products
//! edited by hand in Shopify after staging go through the conflict policy: the feed's
//! description wins (the hand edit kept as a version), a weight goes back to a person, who sees
//! both values and decides.

use std::time::Duration;

use serde_json::json;
use serde_json::Value;
use storesync_core::ports::{Ports, StagingQuery};
use storesync_core::stores::catalog::DataType;
use storesync_core::stores::catalog_sync::CatalogStore;
use storesync_core::supplier::apply::{apply, restore};
use storesync_core::supplier::pipeline::StoreSnapshot;
use storesync_core::supplier::pipeline::{
    bad_rows_key, ingest, poll, run_of, run_report, work_batch, IngestOutcome, SupplierSettings, APPLY_QUEUE,
    BATCH_QUEUE,
};
use storesync_core::supplier::staging::{review, Review, StagedAction, StagingStatus};
use storesync_local::Local;
use storesync_platforms::ftp::{FtpConfig, FtpServer, FtpSource};
use storesync_platforms::shopify::catalog::ShopifyCatalog;
use storesync_platforms::shopify::client::ShopifyClient;
use storesync_platforms::shopify::sim::{Bucket, ShopifySim};
use storesync_platforms::xorosoft::client::XorosoftClient;
use storesync_platforms::xorosoft::sim::XorosoftSim;
use storesync_tests::supplier;

const ROWS: usize = 20_000;

/// The shop: the simulator (a bucket large enough not to slow the test), its products seeded,
/// and the catalog adapter on it.
async fn shopify() -> (ShopifySim, ShopifyCatalog, String) {
    let sim = ShopifySim::new("shpat", Bucket { size: 1e9, restore_rate: 1e9 });
    let location = sim.add_location("Main warehouse");
    supplier::seed_shop(&sim, ROWS);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = sim.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client =
        ShopifyClient::new(&base, "shpat", storesync_platforms::shopify::API_VERSION, Duration::from_secs(30)).unwrap();
    (sim, ShopifyCatalog::new(client), location)
}

/// Applies every queued approval; (applied, held for a person).
async fn apply_all(ports: &Ports, shop: &ShopifyCatalog, location: &str) -> (usize, usize) {
    let (mut applied, mut held) = (0, 0);
    loop {
        let got = ports.queue.receive(APPLY_QUEUE, 10, 120).await.unwrap();
        if got.is_empty() {
            return (applied, held);
        }
        for d in got {
            let m: Value = serde_json::from_str(&d.body).unwrap();
            let ids: Vec<String> = serde_json::from_value(m["ids"].clone()).unwrap();
            let r = apply(ports, shop, &ids, Some(location), &Default::default(), d.receive_count > 1).await.unwrap();
            assert!(r.failed.is_empty(), "{:?}", r.failed);
            applied += r.applied.len();
            held += r.held.len();
            ports.queue.ack(APPLY_QUEUE, &d.receipt).await.unwrap();
        }
    }
}

async fn xorosoft() -> (XorosoftSim, XorosoftClient) {
    let sim = XorosoftSim::new("xo-token");
    sim.rate_limit(0, 0.0);
    sim.carry_by(supplier::distributor_rule);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = sim.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (sim, XorosoftClient::new(&base, "xo-token", Duration::from_secs(10)).unwrap())
}

/// Works every batch message until the queue is empty; how many messages were worked.
async fn drain(ports: &Ports, client: &XorosoftClient, store: &StoreSnapshot) -> usize {
    let settings = SupplierSettings::default();
    let mut worked = 0;
    loop {
        let got = ports.queue.receive(BATCH_QUEUE, 10, 60).await.unwrap();
        if got.is_empty() {
            return worked;
        }
        for d in got {
            let m: Value = serde_json::from_str(&d.body).unwrap();
            let (run, n) = (m["run"].as_str().unwrap(), m["batch"].as_u64().unwrap());
            work_batch(ports, client, store, run, n, &settings).await.unwrap();
            ports.queue.ack(BATCH_QUEUE, &d.receipt).await.unwrap();
            worked += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_on_ftp_is_polled_once_ingested_matched_and_staged_with_every_row_accounted_for() {
    let ftp_root = tempfile::tempdir().unwrap();
    let zip = supplier::feed_zip(ROWS);
    std::fs::write(ftp_root.path().join("CowanOfficeSupplies_2026-12-01.zip"), &zip).unwrap();
    std::fs::write(ftp_root.path().join("OtherVendor.zip"), b"not ours").unwrap();
    let server = FtpServer::start(ftp_root.path(), "etilize", "pw").await.unwrap();
    let source = FtpSource::new(FtpConfig {
        address: server.address.clone(),
        user: "etilize".into(),
        password: "pw".into(),
        folder: "/".into(),
        timeout: Duration::from_secs(5),
        tls: None,
    });
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    let settings = SupplierSettings::default();
    let scratch = dir.path().join("scratch");

    // The download is cut at a third: the poll resumes it and keeps only the whole file.
    server.cut_next_download_after(zip.len() as u64 / 3);
    let first = poll(ports, &source, &settings, &scratch).await.unwrap();
    assert_eq!((first.listed, first.feed_files, first.seen_before, first.downloaded.len()), (2, 1, 0, 1), "{first:?}");
    let key = first.downloaded[0].clone();
    assert!(key.starts_with("raw/etilize/") && key.ends_with("/CowanOfficeSupplies_2026-12-01.zip"), "{key}");
    assert!(ports.blobs.get(&key).await.unwrap().to_bytes().unwrap() == zip, "the whole file, once");
    let run = run_of(&key);
    let log = ports.status.read(&storesync_core::domain::SessionId::parse(&run).unwrap()).await.unwrap();
    let states: Vec<&str> = log.iter().map(|e| e.details["state"].as_str().unwrap()).collect();
    assert_eq!(states, vec!["file_detected", "downloading", "retry_wait", "downloading", "processing"], "{log:#?}");
    let again = poll(ports, &source, &settings, &scratch).await.unwrap();
    assert_eq!((again.seen_before, again.downloaded.len()), (1, 0), "polled twice, seen once");

    let IngestOutcome::Ingested(manifest) = ingest(ports, &key, &settings).await.unwrap() else { panic!("ingested") };
    assert_eq!((manifest.items + manifest.bad_rows, manifest.bad_rows, manifest.batches), (ROWS as u64, 200, 198));
    let bad = ports.blobs.get(&bad_rows_key(&run)).await.unwrap().to_bytes().unwrap();
    let bad = String::from_utf8(bad.to_vec()).unwrap();
    assert!(
        bad.starts_with("line,column,sku,reason\n6,Weight value (grams),,\"\"\"heavy\"\" is not a weight in grams\"\n"),
        "{}",
        &bad[..200]
    );
    assert!(matches!(ingest(ports, &key, &settings).await.unwrap(), IngestOutcome::AlreadyIngested { .. }));

    let (sim, client) = xorosoft().await;
    let (shop_sim, shop, location) = shopify().await;
    let store = StoreSnapshot::read(&shop).await.unwrap();
    assert_eq!(store.index.len(), 4000);
    assert_eq!(drain(ports, &client, &store).await, 198);
    let stats = sim.stats();
    assert_eq!((stats.lookups, stats.skus_looked_up), (198, manifest.items), "one look-up of up to 100 per batch");

    let r = run_report(ports, &run).await.unwrap();
    assert_eq!(r.batches_done, 198);
    assert_eq!(r.items + r.bad_rows, ROWS as u64, "{r:?}");
    assert_eq!(r.not_carried + r.creates + r.updates + r.unchanged, r.items, "{r:?}");
    assert!(
        r.not_carried > 1000 && r.unchanged > 1000 && r.creates > 9000 && r.updates > 5000 && r.pending > 1500,
        "{r:?}"
    );
    assert_eq!(r.auto_approved + r.pending, r.creates + r.updates);
    assert_eq!(r.entries.get(&StagingStatus::Approved).copied(), Some(r.auto_approved));
    assert_eq!(r.entries.get(&StagingStatus::Pending).copied(), Some(r.pending));
    // The renamed products wait for a person; SKU and UPC/EAN matches and new products do not.
    let pending = ports
        .staging
        .list(StagingStatus::Pending, &StagingQuery { run: Some(run.clone()), after: None, limit: 5000 })
        .await
        .unwrap();
    assert_eq!(pending.len() as u64, r.pending);
    assert!(pending
        .iter()
        .all(|e| e.action == StagedAction::Update && e.confidence <= 90 && e.item.title.ends_with("Refurbished")));
    let approved = ports
        .staging
        .list(StagingStatus::Approved, &StagingQuery { run: Some(run.clone()), after: None, limit: 100 })
        .await
        .unwrap();
    assert!(approved.iter().all(|e| e.confidence > 95 && e.decided_by.as_deref() == Some("auto")));
    // The run's last state, and the approved entries waiting to be applied.
    let log = ports.status.read(&storesync_core::domain::SessionId::parse(&run).unwrap()).await.unwrap();
    assert_eq!(log.last().unwrap().details["state"], "review_pending", "{:#?}", log.last());
    let depth = ports.queue.depth(APPLY_QUEUE).await.unwrap();
    assert_eq!(depth.visible, 198);

    // A batch delivered again stages nothing twice and the counts stay.
    work_batch(ports, &client, &store, &run, 0, &settings).await.unwrap();
    let again = run_report(ports, &run).await.unwrap();
    assert_eq!((again.entries, again.creates, again.batches_done), (r.entries.clone(), r.creates, 198));

    // Meanwhile someone edits two products by hand in Shopify: a description, a weight.
    let gid = |sku: &'static str| {
        let shop = &shop;
        async move { shop.find(DataType::Products, sku).await.unwrap().unwrap() }
    };
    let (p20, p30) = (gid("ST-00020").await, gid("ST-00030").await);
    shop_sim.product_set(json!({ "id": p20, "descriptionHtml": "<p>Edited by hand</p>" })).unwrap();
    let weight = json!({ "sku": "ST-00030", "price": "12.50", "barcode": store.fields[&p30]["barcode"],
                         "optionValues": [{ "optionName": "Title", "name": "Default Title" }],
                         "inventoryItem": { "measurement": { "weight": { "unit": "GRAMS", "value": 500 } } } });
    shop_sim.product_set(json!({ "id": p30, "variants": [weight] })).unwrap();

    // The approved entries reach Shopify, each with its version; the weight waits for a person.
    let products_before = shop.read(DataType::Products).await.unwrap().len() as u64;
    assert_eq!(apply_all(ports, &shop, &location).await, (r.auto_approved as usize - 1, 1));
    let after = run_report(ports, &run).await.unwrap();
    assert_eq!(after.entries.get(&StagingStatus::Applied).copied(), Some(r.auto_approved - 1));
    assert_eq!(after.entries.get(&StagingStatus::Pending).copied(), Some(r.pending + 1));
    assert_eq!(after.entries.get(&StagingStatus::Approved), None);
    // The description: the feed's wins, the hand edit kept as a version before it.
    let history = ports.versions.history(&p20).await.unwrap();
    let sources: Vec<&str> = history.iter().map(|v| v.source.as_str()).collect();
    assert_eq!(&sources[..3], ["shopify (before storesync)", "shopify", &format!("supplier-feed {run}")]);
    assert_eq!(history[1].changes[0].after, json!("<p>Edited by hand</p>"));
    let applied20 = ports.staging.get(&format!("{run}/st-00020")).await.unwrap().unwrap();
    assert_eq!((applied20.conflicts.len(), applied20.conflicts[0].rule.as_str()), (1, "description.feed_wins"));
    // The weight: back in review, with both values and the reason; a person approves it.
    let held = ports.staging.get(&format!("{run}/sup-000301")).await.unwrap().unwrap();
    assert_eq!(held.status, StagingStatus::Pending);
    let c = &held.conflicts[0];
    assert_eq!(
        (c.field.as_str(), c.remote.clone(), c.local.clone(), c.rule.as_str()),
        ("weight_grams", json!(500), json!(450), "no_rule")
    );
    assert!(held.note.as_deref().unwrap().contains("Shopify changed weight_grams since staging"));
    let decided = review(&held, &Review::Approve, "dana", chrono::Utc::now()).unwrap();
    assert!(ports.staging.update(&decided, held.revision).await.unwrap());
    let r3 = apply(ports, &shop, std::slice::from_ref(&decided.id), Some(&location), &Default::default(), false)
        .await
        .unwrap();
    assert_eq!(r3.applied, vec![decided.id.clone()]);
    let w30 = shop.read_ids(DataType::Products, std::slice::from_ref(&p30)).await.unwrap();
    assert_eq!(w30[0].fields["weight_grams"], json!(450));
    let applied = ports.staging.get(&decided.id).await.unwrap().unwrap();
    assert_eq!(applied.conflicts[0].rule, "reviewed");
    let products = shop.read(DataType::Products).await.unwrap();
    assert_eq!(products.len() as u64, products_before + r.creates);
    // A new product: published, its vendor, its details as one JSON metafield, its stock.
    let created = shop.find(DataType::Products, "SUP-000005").await.unwrap().expect("created");
    let record = products.iter().find(|p| p.id == created).unwrap();
    assert_eq!(
        (record.fields["vendor"].clone(), record.fields["status"].clone(), record.fields["product_info"].clone()),
        (json!("Globex"), json!("publish"), json!({ "specs": { "color": "Blue" }, "features": ["Recycled", "Ring"] }))
    );
    assert_eq!(shop_sim.available("SUP-000005", &location), Some(40));
    let history = ports.versions.history(&created).await.unwrap();
    assert_eq!((history.len(), history[0].source.clone()), (1, format!("supplier-feed {run}")));
    // A matched one, by its SKU (a new description) and by its UPC/EAN (a new weight): the
    // store's values before, then each change, as versions.
    let matched = shop.find(DataType::Products, "ST-00010").await.unwrap().unwrap();
    let history = ports.versions.history(&matched).await.unwrap();
    let sources: Vec<&str> = history.iter().map(|v| v.source.as_str()).collect();
    let feed = format!("supplier-feed {run}");
    let before = "shopify (before storesync)";
    assert_eq!(sources, vec![before, feed.as_str(), before, feed.as_str()]);
    assert_eq!(history[1].changes[0].after, json!("<p>Stapler 10, now with a staple remover</p>"));
    assert_eq!(history[2].changes[0].after, json!(400), "the weight before the feed's");
    let weight = (history[3].changes[0].field.as_str(), history[3].changes[0].after.clone());
    assert_eq!(weight, ("weight_grams", json!(450)));
    let now = products.iter().find(|p| p.id == matched).unwrap();
    let expected = (history[1].changes[0].after.clone(), json!(450));
    assert_eq!((now.fields["description"].clone(), now.fields["weight_grams"].clone()), expected);

    // A person approves a renamed product; it follows, with who approved it.
    let entry = pending[0].clone();
    let decided = review(&entry, &Review::Approve, "dana", chrono::Utc::now()).unwrap();
    assert!(ports.staging.update(&decided, entry.revision).await.unwrap());
    let r2 = apply(ports, &shop, std::slice::from_ref(&decided.id), Some(&location), &Default::default(), false)
        .await
        .unwrap();
    assert_eq!(r2.applied, vec![decided.id.clone()]);
    let product = decided.product.clone().unwrap();
    let history = ports.versions.history(&product).await.unwrap();
    assert!(history.last().unwrap().source.ends_with("approved by dana"), "{history:#?}");
    let read_one = |id: String| {
        let shop = &shop;
        async move { shop.read(DataType::Products).await.unwrap().into_iter().find(|p| p.id == id).unwrap() }
    };
    assert!(read_one(product.clone()).await.fields["name"].as_str().unwrap().ends_with("Refurbished"));

    // Version 1 restored: the product is back as it was, and the restore is a version too.
    let restored = restore(ports, &shop, &product, 1, "dana").await.unwrap();
    assert_eq!(restored.source, "restore of 1 by dana");
    let back = read_one(product.clone()).await;
    let before = store.fields.get(&product).unwrap();
    for f in ["name", "description", "vendor", "price", "barcode", "weight_grams", "product_info"] {
        assert_eq!(back.fields[f], before[f], "{f}");
    }
}
