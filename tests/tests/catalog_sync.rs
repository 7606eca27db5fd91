//! Catalog sync through the one port: pages, posts, coupons and collections between two
//! simulated WooCommerce stores, and between WooCommerce and Shopify both ways (the port
//! is written once for any pair): compare, sync, a compare that finds nothing, rollback to the
//! state before field for field, the delete guard, and a create replayed after a lost reply
//! applied once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use storesync_core::stores::catalog::{Action, CompareOptions, DataType, FieldKind};
use storesync_core::stores::catalog_sync::{
    catalog_report, compare_catalog, rollback_catalog_plan, start_catalog, work_catalog, CatalogStore,
};
use storesync_core::stores::sync::{Selection, SyncError, SyncOptions, SYNC_QUEUE};
use storesync_local::Local;
use storesync_platforms::woocommerce::catalog::WooCatalog;
use storesync_platforms::woocommerce::client::WooClient;
use storesync_platforms::woocommerce::sim::{ContentKind, WooSim};

async fn store(sim: &WooSim) -> WooCatalog {
    let app = axum::Router::new().nest("/wp-json/wc/v3", sim.router()).nest("/wp-json/wp/v2", sim.wp_router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/wp-json/wc/v3", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    WooCatalog::new(WooClient::new(&base, "ck", "cs", Duration::from_secs(10)).unwrap())
}

fn seed(sim: &WooSim, kind: ContentKind, items: &[Value]) {
    for i in items {
        sim.seed_content(kind, i.clone()).unwrap();
    }
}

/// The source: the wine shop's site. The destination: an older copy of it.
fn catalogs() -> (WooSim, WooSim) {
    let (src, dst) = (WooSim::new("ck", "cs"), WooSim::new("ck", "cs"));
    seed(
        &src,
        ContentKind::Pages,
        &[
            json!({ "title": "About us", "content": "We pour since 1998.", "status": "publish" }),
            json!({ "title": "Shipping", "content": "Free over $50.", "status": "publish" }),
            json!({ "title": "FAQ", "content": "<h2>Ask</h2>", "status": "draft" }),
        ],
    );
    seed(
        &dst,
        ContentKind::Pages,
        &[
            json!({ "title": "About us", "content": "We pour since 1999.", "status": "publish" }),
            json!({ "title": "FAQ", "content": "<h2>Ask</h2>", "status": "draft" }),
            json!({ "title": "Old promo", "content": "Gone.", "status": "publish" }),
        ],
    );
    seed(&src, ContentKind::Tags, &[json!({ "name": "Harvest" }), json!({ "name": "Events" })]);
    let tag = |sim: &WooSim, name: &str| {
        sim.content(ContentKind::Tags).iter().find(|t| t["name"] == name).map(|t| t["id"].clone()).unwrap()
    };
    seed(
        &src,
        ContentKind::Posts,
        &[
            json!({ "title": "Harvest notes", "content": "Grapes!", "excerpt": "Short", "status": "publish",
                    "tags": [tag(&src, "Harvest"), tag(&src, "Events")] }),
            json!({ "title": "Tasting night", "content": "Thursday.", "status": "publish" }),
        ],
    );
    seed(&dst, ContentKind::Posts, &[json!({ "title": "Harvest notes", "content": "Grapes", "status": "publish" })]);
    seed(
        &src,
        ContentKind::ProductCategories,
        &[
            json!({ "name": "Red wine", "description": "From the cellar" }),
            json!({ "name": "Gift sets", "image": { "src": "https://example.com/gift.jpg" } }),
        ],
    );
    seed(&dst, ContentKind::ProductCategories, &[json!({ "name": "Red wine", "description": "Reds" })]);
    seed_products(&src, &dst);
    // WELCOME5 is limited to the merlot (named by id, read by its key: its SKU).
    let id_of =
        |name: &str| (1..10_000).find_map(|id| src.product(id).filter(|p| p["name"] == name)).unwrap()["id"].clone();
    seed(
        &src,
        ContentKind::Coupons,
        &[
            json!({ "code": "SUMMER10", "discount_type": "percent", "amount": "10", "usage_limit": 100 }),
            json!({ "code": "WELCOME5", "discount_type": "fixed_cart", "amount": "5", "date_expires": "2027-01-31T23:59:59",
                    "product_ids": [id_of("Merlot 2019")] }),
        ],
    );
    seed(&dst, ContentKind::Coupons, &[json!({ "code": "summer10", "discount_type": "percent", "amount": "15" })]);
    (src, dst)
}

/// Products: a simple one on sale, a variable one, one only on the source.
fn seed_products(src: &WooSim, dst: &WooSim) {
    let category = |sim: &WooSim, name: &str| {
        let id = sim.content(ContentKind::ProductCategories).iter().find(|c| c["name"] == name).unwrap()["id"].clone();
        json!([{ "id": id }])
    };
    let dry = src.seed_content(ContentKind::ProductTags, json!({ "name": "Dry" })).unwrap();
    src.seed_product(json!({ "name": "Merlot 2019", "sku": "MER-19", "regular_price": "20.00", "sale_price": "15.00",
                             "weight": "0.75", "categories": category(src, "Red wine"),
                             "tags": [{ "id": dry["id"] }], "global_unique_id": "7290000000017",
                             "images": [{ "src": "https://example.com/merlot.jpg" }] }))
        .unwrap();
    dst.seed_product(json!({ "name": "Merlot 2019", "sku": "MER-19", "regular_price": "22.00", "weight": "0.75" }))
        .unwrap();
    src.seed_product(json!({ "name": "Rosé 2023", "sku": "ROS-23", "regular_price": "12.50", "status": "draft" }))
        .unwrap();
    let attrs = json!([{ "name": "Size", "options": ["Small", "Large"], "variation": true, "visible": true }]);
    let gift = |sim: &WooSim, variations: &[(&str, &str, &str)], categories: Value| {
        let p = sim
            .seed_product(json!({ "name": "Gift box", "type": "variable", "description": "Two bottles",
                                  "attributes": attrs, "categories": categories }))
            .unwrap();
        for (sku, size, price) in variations {
            sim.seed_variation(
                p["id"].as_u64().unwrap(),
                json!({ "sku": sku, "regular_price": price, "attributes": [{ "name": "Size", "option": size }],
                        // The large box has a weight and barcode of its own.
                        "weight": if *sku == "GB-L" { "1.5" } else { "" },
                        "global_unique_id": if *sku == "GB-L" { "7290000000024" } else { "" } }),
            )
            .unwrap();
        }
    };
    gift(src, &[("GB-S", "Small", "30.00"), ("GB-L", "Large", "50.00")], category(src, "Gift sets"));
    gift(dst, &[("GB-S", "Small", "28.00"), ("GB-X", "Huge", "90.00")], json!([]));
}

/// Delivers every queued chunk to the worker.
async fn drain(local: &Local, destination: &dyn CatalogStore) {
    let ports = local.workflow.ports();
    loop {
        let batch = ports.queue.receive(SYNC_QUEUE, 10, 60).await.unwrap();
        if batch.is_empty() {
            return;
        }
        for d in batch {
            work_catalog(ports, destination, &d).await.unwrap();
            ports.queue.ack(SYNC_QUEUE, &d.receipt).await.unwrap();
        }
    }
}

/// A store's records of a type as comparable values (ids aside; sets in order).
async fn state(s: &dyn CatalogStore, t: DataType) -> Vec<BTreeMap<String, Value>> {
    let mut v: Vec<BTreeMap<String, Value>> = s.read(t).await.unwrap().into_iter().map(|r| r.fields).collect();
    for fields in &mut v {
        // Platform ids aside: a variant deleted and recreated by a rollback has a new one.
        fields.remove("_variant_id");
        for variant in fields.get_mut("variants").and_then(Value::as_array_mut).into_iter().flatten() {
            variant.as_object_mut().unwrap().remove("id");
        }
        for (name, value) in fields.iter_mut() {
            if let (Some(FieldKind::Set), Value::Array(items)) = (t.field_kind(name), value) {
                items.sort_by_key(|i| i.to_string());
            }
        }
    }
    v.sort_by_key(|f| serde_json::to_string(f).unwrap());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_catalog_type_syncs_compares_clean_and_rolls_back() {
    let (src_sim, dst_sim) = catalogs();
    let (src, dst) = (store(&src_sim).await, store(&dst_sim).await);
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    let expect = [
        // (type, updates, creates)
        (DataType::Pages, 1, 1),
        (DataType::Posts, 1, 1),
        (DataType::Coupons, 1, 1),
        (DataType::Collections, 1, 1),
        // Last: a product sync creates the categories it names (a rollback leaves them).
        (DataType::Products, 2, 1),
    ];
    for (t, updates, creates) in expect {
        let before = state(&dst, t).await;
        let plan = compare_catalog(ports, t, &src, &dst, "dana", CompareOptions::default()).await.unwrap();
        let count = |a: Action| plan.comparison.items.iter().filter(|i| i.action == a).count();
        assert_eq!(
            (count(Action::Update), count(Action::Create), count(Action::Delete)),
            (updates, creates, 0),
            "{t}: {:#?}",
            plan.comparison.items
        );
        let run = start_catalog(ports, &plan.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap();
        drain(&local, &dst).await;
        let r = catalog_report(ports, &run.id).await.unwrap();
        assert_eq!((r.succeeded, r.failed, r.pending), (updates + creates, 0, 0), "{t}: {:#?}", r.items);
        let again = compare_catalog(ports, t, &src, &dst, "dana", CompareOptions::default()).await.unwrap();
        assert!(again.comparison.items.is_empty(), "{t}: after the sync: {:#?}", again.comparison.items);

        // Rollback: creates become deletes, so the inverse plan needs the override.
        let inverse = rollback_catalog_plan(ports, &run.id, "dana").await.unwrap();
        assert_eq!(inverse.rollback_of.as_deref(), Some(run.id.as_str()));
        let e = start_catalog(ports, &inverse.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap_err();
        assert!(matches!(e, SyncError::Deletes { deletes } if deletes == creates), "{e}");
        let opts = SyncOptions { override_blast: true, ..SyncOptions::default() };
        let back = start_catalog(ports, &inverse.id, &Selection::All, "dana", &opts).await.unwrap();
        drain(&local, &dst).await;
        let r = catalog_report(ports, &back.id).await.unwrap();
        assert_eq!((r.failed, r.pending), (0, 0), "{t}: {:#?}", r.items);
        assert_eq!(state(&dst, t).await, before, "{t}: the destination is as it was, field for field");
    }
    // The unmatched page was listed, never touched.
    let pages = compare_catalog(ports, DataType::Pages, &src, &dst, "dana", CompareOptions::default()).await.unwrap();
    assert_eq!(pages.comparison.unmatched.missing_in_source, ["old-promo"]);
    let audit = ports.audit.list(&format!("store-sync/plan/{}", pages.id)).await.unwrap();
    assert_eq!((audit.len(), audit[0].action.as_str(), audit[0].who.as_str()), (1, "store-sync.compare", "dana"));
    assert_eq!(audit[0].after["type"], "pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_replayed_after_a_lost_reply_is_applied_once_and_deletes_need_the_override() {
    let (src_sim, dst_sim) = catalogs();
    let (src, dst) = (store(&src_sim).await, store(&dst_sim).await);
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    let plan = compare_catalog(ports, DataType::Pages, &src, &dst, "dana", CompareOptions { delete_missing: true })
        .await
        .unwrap();
    let e = start_catalog(ports, &plan.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap_err();
    assert_eq!(e.to_string(), "this sync would delete 1 objects from the destination: confirm with the override");
    let creates: Vec<usize> =
        plan.comparison.items.iter().filter(|i| i.action == Action::Create).map(|i| i.item).collect();
    let run =
        start_catalog(ports, &plan.id, &Selection::Items(creates), "dana", &SyncOptions::default()).await.unwrap();
    let d = ports.queue.receive(SYNC_QUEUE, 1, 60).await.unwrap().remove(0);
    work_catalog(ports, &dst, &d).await.unwrap();
    // The reply was lost: the results are not kept, and the queue delivers the chunk again.
    for b in ports.blobs.list(&format!("store-sync/runs/{}/chunks/", run.id)).await.unwrap() {
        ports.blobs.delete(&b.key).await.unwrap();
    }
    let again = storesync_core::ports::Delivery { receive_count: 2, ..d };
    work_catalog(ports, &dst, &again).await.unwrap();
    let shipping: Vec<Value> =
        dst_sim.content(ContentKind::Pages).into_iter().filter(|p| p["title"]["raw"] == "Shipping").collect();
    assert_eq!(shipping.len(), 1, "created once: {shipping:#?}");
    let r = catalog_report(ports, &run.id).await.unwrap();
    assert_eq!((r.succeeded, r.pending), (1, 0));
    let item = r.items[0].item;
    let audit = ports.audit.list(&format!("store-sync/run/{}/item/{item}", run.id)).await.unwrap();
    assert!(audit.iter().all(|a| a.who == "dana" && a.action == "store-sync.set"));
    assert!(audit.iter().any(|a| a.after["field"] == "content" && a.after["value"] == "Free over $50."), "{audit:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_is_refused_by_the_catalog_port_by_name() {
    let (src_sim, _) = catalogs();
    let src = store(&src_sim).await;
    let shop = shop_store(&storesync_platforms::shopify::sim::ShopifySim::new("shpat", Default::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    for (a, b) in [(&src as &dyn CatalogStore, &shop as &dyn CatalogStore), (&shop, &src)] {
        let e = compare_catalog(local.workflow.ports(), DataType::Inventory, a, b, "dana", CompareOptions::default())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("inventory is not a catalog type"), "{e}");
    }
}

/// A CDN serving images by name (`/img/{name}`; `missing.jpg` is not there), and how many
/// it served.
async fn image_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let served = std::sync::Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    let app = axum::Router::new().route(
        "/img/{name}",
        axum::routing::get(move |axum::extract::Path(name): axum::extract::Path<String>| {
            let count = count.clone();
            async move {
                if name == "missing.jpg" {
                    return Err(axum::http::StatusCode::NOT_FOUND);
                }
                count.fetch_add(1, Ordering::SeqCst);
                Ok(([("content-type", "image/jpeg")], format!("JPEG bytes of {name}")))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/img", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, served)
}

async fn shop_store(
    sim: &storesync_platforms::shopify::sim::ShopifySim,
) -> storesync_platforms::shopify::catalog::ShopifyCatalog {
    shop_store_with(sim, Duration::from_secs(10)).await
}

async fn shop_store_with(
    sim: &storesync_platforms::shopify::sim::ShopifySim,
    timeout: Duration,
) -> storesync_platforms::shopify::catalog::ShopifyCatalog {
    use storesync_platforms::shopify::client::ShopifyClient;
    sim.add_location("Main warehouse");
    let app = sim.router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut client = ShopifyClient::new(&base, "shpat", storesync_platforms::shopify::API_VERSION, timeout).unwrap();
    // The client's retries without their back-off, to keep the tests short.
    client.backoff = Duration::ZERO;
    storesync_platforms::shopify::catalog::ShopifyCatalog::new(client)
}

/// Products, pages, posts, coupons (discount codes) and collections between WooCommerce
/// (WordPress) and Shopify, each way: after a sync a
/// compare finds nothing; after the rollback the destination is as it was, field for field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_catalog_type_syncs_between_woocommerce_and_shopify_both_ways() {
    use storesync_platforms::shopify::sim::{Bucket, ShopifySim};
    let (woo_sim, _) = catalogs();
    let shop_sim = ShopifySim::new("shpat", Bucket::default());
    let (cdn, served) = image_server().await;
    shop_sim
        .add_page(json!({ "title": "About us", "body": "<p>We pour since 1999.</p>", "isPublished": true }))
        .unwrap();
    shop_sim.add_page(json!({ "title": "Old promo", "body": "Gone.", "isPublished": true })).unwrap();
    shop_sim
        .add_collection(json!({ "title": "Red wine", "descriptionHtml": "Reds",
                                "seo": { "title": "Red wines", "description": "Our reds" } }))
        .unwrap();
    shop_sim
        .add_discount(json!({ "title": "Summer", "code": "SUMMER10", "startsAt": "2026-06-01T00:00:00Z",
                              "customerGets": { "value": { "percentage": 0.15 }, "items": { "all": true } },
                              "minimumRequirement": { "subtotal": { "greaterThanOrEqualToSubtotal": "50.00" } },
                              "appliesOncePerCustomer": true }))
        .unwrap();
    shop_sim
        .add_discount(json!({ "title": "Bottle", "code": "BOTTLE3", "startsAt": "2026-06-01T00:00:00Z",
                              "endsAt": "2027-03-01T12:00:00Z",
                              "customerGets": { "value": { "discountAmount": { "amount": "3", "appliesOnEachItem": true } },
                                                "items": { "all": true } } }))
        .unwrap();
    shop_sim.add_product("Merlot 2019", &[("MER-19", "Default Title", "22.00")], 5);
    shop_sim.add_product("Gift box", &[("GB-S", "Small", "28.00"), ("GB-X", "Huge", "90.00")], 5);
    let news = shop_sim.add_blog(json!({ "title": "News" })).unwrap();
    for (title, body, tags) in
        [("Harvest notes", "Grapes", json!(["Harvest"])), ("Winter hours", "Closed Mondays", json!([]))]
    {
        shop_sim
            .add_article(json!({ "title": title, "body": body, "tags": tags, "isPublished": true,
                                 "author": { "name": "Dana" }, "blogId": news["id"],
                                 "image": { "url": format!("{cdn}/Winter.jpg?v=2") } }))
            .unwrap();
    }
    let (woo, shop) = (store(&woo_sim).await, shop_store(&shop_sim).await);
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    // (type, source, destination, updates, creates)
    let runs: [(DataType, &dyn CatalogStore, &dyn CatalogStore, usize, usize); 10] = [
        (DataType::Posts, &woo, &shop, 1, 1),
        (DataType::Posts, &shop, &woo, 1, 1),
        (DataType::Pages, &woo, &shop, 1, 2),
        (DataType::Pages, &shop, &woo, 1, 1),
        (DataType::Collections, &woo, &shop, 1, 1),
        (DataType::Collections, &shop, &woo, 1, 0),
        (DataType::Coupons, &woo, &shop, 1, 1),
        (DataType::Coupons, &shop, &woo, 1, 1),
        // Last: a product sync creates the collections it names (a rollback leaves them).
        (DataType::Products, &woo, &shop, 2, 1),
        (DataType::Products, &shop, &woo, 2, 0),
    ];
    for (t, source, destination, updates, creates) in runs {
        let before = state(destination, t).await;
        let plan = compare_catalog(ports, t, source, destination, "dana", CompareOptions::default()).await.unwrap();
        let c = &plan.comparison;
        let count = |a: Action| c.items.iter().filter(|i| i.action == a).count();
        assert_eq!((count(Action::Update), count(Action::Create)), (updates, creates), "{t}: {:#?}", c.items);
        let run = start_catalog(ports, &plan.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap();
        drain(&local, destination).await;
        let r = catalog_report(ports, &run.id).await.unwrap();
        assert_eq!((r.failed, r.pending), (0, 0), "{t}: {:#?}", r.items);
        let again = compare_catalog(ports, t, source, destination, "dana", CompareOptions::default()).await.unwrap();
        assert!(again.comparison.items.is_empty(), "{t}: {:#?}", again.comparison.items);
        let inverse = rollback_catalog_plan(ports, &run.id, "dana").await.unwrap();
        let opts = SyncOptions { override_blast: true, ..SyncOptions::default() };
        let back = start_catalog(ports, &inverse.id, &Selection::All, "dana", &opts).await.unwrap();
        drain(&local, destination).await;
        assert_eq!(catalog_report(ports, &back.id).await.unwrap().failed, 0);
        assert_eq!(state(destination, t).await, before, "{t}: rolled back field for field");
    }
    // A product reaches Shopify with its tags, barcode and weight (the variant's, in grams).
    let plan =
        compare_catalog(ports, DataType::Products, &woo, &shop, "dana", CompareOptions::default()).await.unwrap();
    let run = start_catalog(ports, &plan.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap();
    drain(&local, &shop).await;
    assert_eq!(catalog_report(ports, &run.id).await.unwrap().failed, 0);
    let merlot = state(&shop, DataType::Products).await.into_iter().find(|p| p["sku"] == "MER-19").unwrap();
    assert_eq!(
        (merlot["tags"].clone(), merlot["barcode"].clone(), merlot["weight_grams"].clone()),
        (json!(["Dry"]), json!("7290000000017"), json!(750))
    );
    let gift = state(&shop, DataType::Products).await.into_iter().find(|p| p["name"] == "Gift box").unwrap();
    let large = gift["variants"].as_array().unwrap().iter().find(|v| v["sku"] == "GB-L").unwrap().clone();
    assert_eq!((large["weight_grams"].clone(), large["barcode"].clone()), (json!(1500), json!("7290000000024")));
    // Its categories are the collections it is in: the shop's own "Red wine", a new "Gift sets".
    assert_eq!((merlot["categories"].clone(), gift["categories"].clone()), (json!(["Red wine"]), json!(["Gift sets"])));
    let titles: Vec<Value> = shop_sim.collections().into_iter().map(|c| c["title"].clone()).collect();
    assert_eq!(titles.iter().filter(|t| **t == "Red wine").count(), 1, "{titles:?}");

    // A post reaches Shopify as an article of its blog, with its tags and excerpt.
    let plan = compare_catalog(ports, DataType::Posts, &woo, &shop, "dana", CompareOptions::default()).await.unwrap();
    let run = start_catalog(ports, &plan.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap();
    drain(&local, &shop).await;
    assert_eq!(catalog_report(ports, &run.id).await.unwrap().failed, 0);
    let harvest = shop_sim.articles().into_iter().find(|a| a["handle"] == "harvest-notes").unwrap();
    assert_eq!((harvest["summary"].clone(), harvest["tags"].clone()), (json!("Short"), json!(["Events", "Harvest"])));
    let tasting = shop_sim.articles().into_iter().find(|a| a["handle"] == "tasting-night").unwrap();
    assert_eq!(
        (tasting["blog"]["id"].clone(), tasting["author"]["name"].clone()),
        (news["id"].clone(), json!("storesync"))
    );

    // An article's image reaches WordPress's media library once, under its file name, as the
    // posts' featured media (both articles show the same image).
    let plan = compare_catalog(ports, DataType::Posts, &shop, &woo, "dana", CompareOptions::default()).await.unwrap();
    let run = start_catalog(ports, &plan.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap();
    drain(&local, &woo).await;
    assert_eq!(catalog_report(ports, &run.id).await.unwrap().failed, 0);
    let media = woo_sim.content(ContentKind::Media);
    let posts = woo_sim.content(ContentKind::Posts);
    let winter = posts.iter().find(|p| p["slug"] == "winter-hours").unwrap();
    let image = media.iter().find(|m| m["id"] == winter["featured_media"]).expect("featured media");
    assert!(image["source_url"].as_str().unwrap().ends_with("/Winter.jpg"), "{image}");
    assert_eq!((media.len(), served.load(std::sync::atomic::Ordering::SeqCst)), (1, 1), "{media:#?}");

    // A coupon reaches Shopify as its discount: 10 % is 0.1, the expiry UTC.
    let plan = compare_catalog(ports, DataType::Coupons, &woo, &shop, "dana", CompareOptions::default()).await.unwrap();
    let run = start_catalog(ports, &plan.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap();
    drain(&local, &shop).await;
    assert_eq!(catalog_report(ports, &run.id).await.unwrap().failed, 0);
    let code = |c: &str| {
        let code_of = |d: &Value| d["codeDiscount"]["codes"]["nodes"][0]["code"].as_str().unwrap().to_lowercase();
        shop_sim.discounts().into_iter().find(|d| code_of(d) == c.to_lowercase()).unwrap()
    };
    let summer = &code("summer10")["codeDiscount"];
    assert_eq!(summer["customerGets"]["value"], json!({ "__typename": "DiscountPercentage", "percentage": 0.1 }));
    assert_eq!((summer["usageLimit"].clone(), summer["minimumRequirement"].clone()), (json!(100), Value::Null));
    use storesync_core::stores::catalog_sync::{CatalogOutcome, CatalogWrite};
    let welcome = &code("welcome5")["codeDiscount"];
    assert_eq!(welcome["endsAt"], "2027-01-31T23:59:59Z");
    assert_eq!(welcome["customerGets"]["value"]["amount"]["amount"], "5.0");
    assert_eq!(welcome["customerGets"]["value"]["appliesOnEachItem"], false);
    // Limited to the merlot: the shop's own product, read back by its key.
    let merlot = shop.find(DataType::Products, "MER-19").await.unwrap().unwrap();
    assert_eq!(welcome["customerGets"]["items"]["products"]["nodes"], json!([{ "id": merlot }]));
    let read = shop.read(DataType::Coupons).await.unwrap();
    let read = read.iter().find(|r| r.fields["code"].as_str().is_some_and(|c| c.eq_ignore_ascii_case("welcome5")));
    assert_eq!(read.unwrap().fields["product_skus"], json!(["MER-19"]));
    // A coupon limited to a product the shop lacks is that coupon's failure, naming the product.
    let rose_only = CatalogWrite {
        action: Action::Create,
        id: None,
        key: "ROSE".into(),
        fields: [
            ("code", json!("ROSE")),
            ("discount_type", json!("percent")),
            ("amount", json!("5")),
            ("product_skus", json!(["NOPE-1", "MER-19"])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    };
    let out = shop.write(DataType::Coupons, &[rose_only]).await.unwrap();
    assert!(matches!(&out[0], CatalogOutcome::Failed { error } if error.contains("(NOPE-1)")), "{out:?}");
    assert!(shop.find(DataType::Coupons, "ROSE").await.unwrap().is_none(), "nothing written");
    // A code Shopify already has (codes are unique without case) is that object's own failure.
    let dup = CatalogWrite {
        action: Action::Create,
        id: None,
        key: "BOTTLE3".into(),
        fields: [("code", json!("bottle3")), ("discount_type", json!("percent")), ("amount", json!("5"))]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    };
    let out = shop.write(DataType::Coupons, &[dup]).await.unwrap();
    assert_eq!(
        out[0],
        CatalogOutcome::Failed { error: "TAKEN: Code must be unique. Please try a different code.".into() }
    );
    assert_eq!(
        shop.find(DataType::Coupons, "Bottle3").await.unwrap(),
        code("BOTTLE3")["id"].as_str().map(str::to_string)
    );

    // Shopify's SEO stays: WooCommerce has no such field to sync it from.
    let red = shop_sim.collections().into_iter().find(|c| c["handle"] == "red-wine").unwrap();
    assert_eq!(red["seo"]["title"], "Red wines");
    // Shopify's user errors are the object's own failure; the rest of the call applies.
    let about = shop_sim.pages().into_iter().find(|p| p["handle"] == "about-us").unwrap();
    let write = |title: &str| CatalogWrite {
        action: Action::Update,
        id: about["id"].as_str().map(str::to_string),
        key: "about-us".into(),
        fields: [("title".to_string(), json!(title))].into(),
    };
    let out = shop.write(DataType::Pages, &[write(""), write("About")]).await.unwrap();
    assert_eq!(out[0], CatalogOutcome::Failed { error: "BLANK: Title can't be blank".into() });
    assert!(matches!(&out[1], CatalogOutcome::Done { id } if Some(id.as_str()) == about["id"].as_str()));
    // A delete repeated after its answer was lost finds the page gone: done, not failed.
    let delete = CatalogWrite { action: Action::Delete, fields: BTreeMap::new(), ..write("") };
    for _ in 0..2 {
        let out = shop.write(DataType::Pages, std::slice::from_ref(&delete)).await.unwrap();
        assert!(matches!(&out[0], CatalogOutcome::Done { .. }), "{out:?}");
    }
    assert!(shop_sim.pages().iter().all(|p| p["handle"] != "about-us"));
}

/// Products between WooCommerce stores: prices as WooCommerce keeps them (a sale is the
/// price, the regular price the compare-at), categories by the destination's own ids, and a
/// variable product's variations set to exactly the source's (matched by SKU).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_sync_with_their_variations_and_categories() {
    let (src_sim, dst_sim) = catalogs();
    let (src, dst) = (store(&src_sim).await, store(&dst_sim).await);
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    let plan = compare_catalog(ports, DataType::Products, &src, &dst, "dana", CompareOptions::default()).await.unwrap();
    let merlot = plan.comparison.items.iter().find(|i| i.key == "MER-19").unwrap();
    let fields: Vec<&str> = merlot.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        ["price", "compare_at_price", "barcode", "images", "categories", "tags"],
        "{:#?}",
        merlot.changes
    );
    let run = start_catalog(ports, &plan.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap();
    drain(&local, &dst).await;
    assert_eq!(catalog_report(ports, &run.id).await.unwrap().failed, 0);

    let products = |name: &str| {
        let client = dst_sim.clone();
        (1..200).filter_map(move |id| client.product(id)).filter(move |p| p["name"] == name).collect::<Vec<_>>()
    };
    let m = &products("Merlot 2019")[0];
    assert_eq!((m["regular_price"].as_str(), m["sale_price"].as_str()), (Some("20.00"), Some("15.00")));
    let red = dst_sim.content(ContentKind::ProductCategories).into_iter().find(|c| c["name"] == "Red wine").unwrap();
    assert_eq!(m["categories"][0]["id"], red["id"], "the destination's own category");
    let dry = dst_sim.content(ContentKind::ProductTags).into_iter().find(|t| t["name"] == "Dry").unwrap();
    assert_eq!(
        (m["tags"][0]["id"].clone(), m["global_unique_id"].as_str()),
        (dry["id"].clone(), Some("7290000000017"))
    );
    let gift = &products("Gift box")[0];
    let variations: Vec<(String, String, String, String)> = (1..200)
        .filter_map(|id| dst_sim.variation(id))
        .filter(|v| gift["variations"].as_array().unwrap().contains(&v["id"]))
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            (s("sku"), s("regular_price"), s("weight"), s("global_unique_id"))
        })
        .collect();
    let mut variations = variations;
    variations.sort();
    let row = |a: &str, b: &str, c: &str, d: &str| (a.to_string(), b.to_string(), c.to_string(), d.to_string());
    assert_eq!(variations, [row("GB-L", "50.00", "1.5", "7290000000024"), row("GB-S", "30.00", "", "")]);
    let rose = &products("Rosé 2023")[0];
    assert_eq!((rose["status"].as_str(), rose["sku"].as_str()), (Some("draft"), Some("ROS-23")));
}

/// Products WooCommerce → Shopify through faults: 5xx answers and lost replies on 30 % of the
/// calls, and a bucket that throttles. Every selected product ends succeeded, or failed with its
/// error (its chunk dead-lettered); no create is applied twice (a lost create is looked up on the
/// chunk's next delivery instead of being sent again), and a compare afterwards finds only what
/// failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_reach_shopify_through_faults_and_throttling_without_duplicates() {
    use storesync_core::stores::sync::SYNC_DLQ;
    use storesync_platforms::fault::Fault;
    use storesync_platforms::shopify::sim::{Bucket, ShopifySim};
    let woo_sim = WooSim::new("ck", "cs");
    // A full bucket of 1,000 points restored at 5,000 a second: the calls are paced, the test
    // stays short (a products read asks 992 points a page).
    let shop_sim = ShopifySim::new("shpat", Bucket { size: 1000.0, restore_rate: 5000.0 });
    for n in 0..240 {
        let sku = format!("P-{n:04}");
        if n % 4 == 0 {
            let attrs = json!([{ "name": "Size", "options": ["S", "L"], "variation": true, "visible": true }]);
            let p =
                woo_sim.seed_product(json!({ "name": format!("Box {n}"), "type": "variable", "attributes": attrs }));
            let id = p.unwrap()["id"].as_u64().unwrap();
            for (size, price) in [("S", "10.00"), ("L", "20.00")] {
                woo_sim
                    .seed_variation(
                        id,
                        json!({ "sku": format!("{sku}-{size}"), "regular_price": price,
                                                "attributes": [{ "name": "Size", "option": size }] }),
                    )
                    .unwrap();
            }
        } else {
            woo_sim.seed_product(json!({ "name": format!("Wine {n}"), "sku": sku, "regular_price": "9.50" })).unwrap();
        }
        // Shopify has a third of the simple products already, at another price.
        if n % 3 == 0 && n % 4 != 0 {
            shop_sim.add_product(&format!("Wine {n}"), &[(sku.as_str(), "Default Title", "8.00")], 1);
        }
    }
    // Answers held back past the client's timeout: lost, though Shopify applied the call.
    let (woo, shop) = (store(&woo_sim).await, shop_store_with(&shop_sim, Duration::from_millis(300)).await);
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    let plan =
        compare_catalog(ports, DataType::Products, &woo, &shop, "dana", CompareOptions::default()).await.unwrap();
    let count = |a: Action| plan.comparison.items.iter().filter(|i| i.action == a).count();
    assert_eq!((count(Action::Update), count(Action::Create)), (60, 180));
    let run = start_catalog(ports, &plan.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap();
    shop_sim.fail_randomly(
        0.3,
        vec![Fault::Status { code: 503, retry_after_secs: None }, Fault::LostReply { millis: 500 }],
        11,
    );
    storesync_local::stores::drain_catalog_queue(ports, &shop, 0, |_| {}).await.unwrap();
    shop_sim.fail_randomly(0.0, vec![], 0);
    assert!(shop_sim.stats().faults_served > 10, "{:?}", shop_sim.stats());
    // The run spent several bucketfuls: the client paced itself on the restore rate.
    assert!(shop_sim.stats().points > 5.0 * shop_sim.bucket().size, "{:?}", shop_sim.stats());

    let r = catalog_report(ports, &run.id).await.unwrap();
    assert_eq!(r.pending, 0);
    assert_eq!(r.succeeded + r.failed, 240);
    let failed: Vec<_> = r.items.iter().filter(|i| i.outcome == "failed").collect();
    assert!(failed.iter().all(|i| i.error.as_deref().is_some_and(|e| !e.is_empty())), "{failed:#?}");
    let dead = ports.queue.receive(SYNC_DLQ, 10, 60).await.unwrap();
    assert_eq!(failed.is_empty(), dead.is_empty(), "a failed item's chunk is dead-lettered");
    // No SKU on two products: nothing was created twice.
    let skus: Vec<String> =
        shop.read(DataType::Products).await.unwrap().iter().map(|p| p.text("sku").unwrap_or_default()).collect();
    let unique: std::collections::HashSet<&String> = skus.iter().collect();
    assert_eq!(unique.len(), skus.len(), "no product created twice");
    // What is left to do is what failed.
    let again =
        compare_catalog(ports, DataType::Products, &woo, &shop, "dana", CompareOptions::default()).await.unwrap();
    assert_eq!(again.comparison.items.len(), failed.len(), "{:#?}", again.comparison.items);
}

/// A delete repeated after its answer was lost finds the object gone: done, not failed — for
/// WordPress's one-by-one deletes and WooCommerce's batches alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_delete_on_woocommerce_is_done_not_failed() {
    use storesync_core::stores::catalog_sync::{CatalogOutcome, CatalogWrite};
    let (_, dst_sim) = catalogs();
    let dst = store(&dst_sim).await;
    for t in [DataType::Pages, DataType::Coupons, DataType::Products] {
        let victim = dst.read(t).await.unwrap().remove(0);
        let delete = CatalogWrite {
            action: Action::Delete,
            id: Some(victim.id.clone()),
            key: String::new(),
            fields: BTreeMap::new(),
        };
        for _ in 0..2 {
            let out = dst.write(t, std::slice::from_ref(&delete)).await.unwrap();
            assert_eq!(out[0], CatalogOutcome::Done { id: victim.id.clone() }, "{t}");
        }
        assert!(dst.read(t).await.unwrap().iter().all(|r| r.id != victim.id), "{t}: deleted");
    }
}

/// Pages and posts between two Shopify shops carry their SEO title and description (the
/// `global.title_tag` / `global.description_tag` metafields): set, changed, and cleared (a
/// `metafieldsDelete` beside the update); the rollback puts each back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seo_metafields_of_pages_and_articles_sync_between_shopify_shops() {
    use storesync_platforms::shopify::sim::{Bucket, ShopifySim};
    let seo = |title: &str, description: &str| {
        json!([
            { "namespace": "global", "key": "title_tag", "type": "single_line_text_field", "value": title },
            { "namespace": "global", "key": "description_tag", "type": "single_line_text_field", "value": description },
        ])
    };
    let (src_sim, dst_sim) = (ShopifySim::new("shpat", Bucket::default()), ShopifySim::new("shpat", Bucket::default()));
    src_sim
        .add_page(json!({ "title": "About us", "body": "Hi", "isPublished": true,
                          "metafields": seo("About the winery", "Since 1999") }))
        .unwrap();
    src_sim.add_page(json!({ "title": "Shipping", "body": "Free", "isPublished": true })).unwrap();
    dst_sim
        .add_page(json!({ "title": "About us", "body": "Hi", "isPublished": true,
                          "metafields": seo("About", "Since 1998") }))
        .unwrap();
    dst_sim
        .add_page(json!({ "title": "Shipping", "body": "Free", "isPublished": true,
                          "metafields": seo("Old shipping", "Old") }))
        .unwrap();
    for (sim, title) in [(&src_sim, "Harvest, in detail"), (&dst_sim, "Harvest")] {
        let blog = sim.add_blog(json!({ "title": "News" })).unwrap();
        sim.add_article(json!({ "title": "Harvest notes", "body": "Grapes", "isPublished": true,
                                "author": { "name": "Dana" }, "blogId": blog["id"],
                                "metafields": seo(title, "Notes") }))
            .unwrap();
    }
    let (src, dst) = (shop_store(&src_sim).await, shop_store(&dst_sim).await);
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    for t in [DataType::Pages, DataType::Posts] {
        let before = state(&dst, t).await;
        let plan = compare_catalog(ports, t, &src, &dst, "dana", CompareOptions::default()).await.unwrap();
        let mut changed: Vec<(String, String)> = plan
            .comparison
            .items
            .iter()
            .flat_map(|i| i.changes.iter().map(|c| (i.key.clone(), c.field.clone())))
            .collect();
        changed.sort();
        let expected: Vec<(&str, &str)> = match t {
            DataType::Pages => vec![
                ("about-us", "seo_description"),
                ("about-us", "seo_title"),
                ("shipping", "seo_description"),
                ("shipping", "seo_title"),
            ],
            _ => vec![("harvest-notes", "seo_title")],
        };
        let expected: Vec<(String, String)> = expected.iter().map(|(k, f)| (k.to_string(), f.to_string())).collect();
        assert_eq!(changed, expected, "{t}");
        let run = start_catalog(ports, &plan.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap();
        drain(&local, &dst).await;
        let r = catalog_report(ports, &run.id).await.unwrap();
        assert_eq!((r.succeeded, r.failed), (expected.len().min(2), 0), "{t}: {:#?}", r.items);
        let after = state(&dst, t).await;
        assert_eq!(after, state(&src, t).await, "{t}: the SEO fields as the source has them, cleared ones too");
        let inverse = rollback_catalog_plan(ports, &run.id, "dana").await.unwrap();
        let back = start_catalog(ports, &inverse.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap();
        drain(&local, &dst).await;
        assert_eq!(catalog_report(ports, &back.id).await.unwrap().failed, 0);
        assert_eq!(state(&dst, t).await, before, "{t}: rolled back field for field");
    }
}

/// A post whose image cannot be fetched is that post's failure, named by the image's URL, and
/// nothing of it is written; the other posts sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_whose_image_cannot_be_fetched_fails_alone() {
    use storesync_platforms::shopify::sim::{Bucket, ShopifySim};
    let woo_sim = WooSim::new("ck", "cs");
    let shop_sim = ShopifySim::new("shpat", Bucket::default());
    let (cdn, _) = image_server().await;
    let news = shop_sim.add_blog(json!({ "title": "News" })).unwrap();
    for (title, image) in [("Harvest notes", "harvest.png"), ("Winter hours", "missing.jpg")] {
        shop_sim
            .add_article(json!({ "title": title, "body": "Text", "isPublished": true, "author": { "name": "Dana" },
                                 "blogId": news["id"], "image": { "url": format!("{cdn}/{image}") } }))
            .unwrap();
    }
    let (woo, shop) = (store(&woo_sim).await, shop_store(&shop_sim).await);
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    let plan = compare_catalog(ports, DataType::Posts, &shop, &woo, "dana", CompareOptions::default()).await.unwrap();
    let run = start_catalog(ports, &plan.id, &Selection::All, "dana", &SyncOptions::default()).await.unwrap();
    drain(&local, &woo).await;
    let r = catalog_report(ports, &run.id).await.unwrap();
    assert_eq!((r.succeeded, r.failed), (1, 1), "{:#?}", r.items);
    let failed = r.items.iter().find(|i| i.error.is_some()).unwrap();
    let error = failed.error.clone().unwrap();
    assert!(error.contains(&format!("{cdn}/missing.jpg")), "{error}");
    let posts: Vec<Value> = woo_sim.content(ContentKind::Posts).into_iter().map(|p| p["slug"].clone()).collect();
    assert_eq!(posts, vec![json!("harvest-notes")]);
    let media = woo_sim.content(ContentKind::Media);
    assert_eq!(media.len(), 1);
    assert!(media[0]["source_url"].as_str().unwrap().ends_with("/harvest.png"), "{media:#?}");
    assert_eq!(media[0]["mime_type"], "image/jpeg", "the type the image was served as");
}
