//! Inventory sync from Shopify to the WooCommerce simulator (issue 4: "≥ 95 objects per batch
//! call on average"), through the whole engine: compare, start (chunks of ≤ 100 on the queue),
//! the worker writing each chunk through the batch endpoints. Three catalogs: mostly simple
//! products (the wine shop of MERCHANTS.md: 3,000 products, one in ten a gift set with three
//! variations), all variable (the fashion brand: 500 products × 16 size/colour variants), and
//! all simple (5,000 products).
//! Every variant differs, so every one is written.
//!
//! The figure is set beside two others from the same plan: the fewest calls WooCommerce allows
//! (products without variants 100 per `/products/batch` call; a product's variations only
//! through its own `/products/{id}/variations/batch`, 100 per call: WooCommerce has no batch
//! across products), and the calls chunks in plan order would take.
//!
//! usage: cargo bench -p storesync-tests --bench woo_store_sync

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::json;
use storesync_core::stores::inventory::InventoryPlanItem;
use storesync_core::stores::plans::compare_inventory;
use storesync_core::stores::sync::{chunk_size, report, start, Selection, SyncOptions};
use storesync_core::stores::Platform;
use storesync_local::Local;
use storesync_platforms::shopify::client::ShopifyClient;
use storesync_platforms::shopify::inventory::ShopifyInventory;
use storesync_platforms::shopify::sim::{Bucket, ShopifySim};
use storesync_platforms::woocommerce::client::WooClient;
use storesync_platforms::woocommerce::inventory::WooInventory;
use storesync_platforms::woocommerce::sim::WooSim;

/// A catalog: products, each with its variant count (0: a simple product).
struct Catalog {
    name: &'static str,
    products: Vec<usize>,
}

/// The batch endpoint an item's write goes to (`None`: `/products/batch`).
fn endpoint(i: &InventoryPlanItem) -> Option<&str> {
    i.destination_write_key.split_once('/').map(|(parent, _)| parent)
}

/// Calls to write `chunks` (each chunk's items grouped by endpoint, 100 per call).
fn calls<'a>(chunks: impl Iterator<Item = Vec<&'a InventoryPlanItem>>) -> usize {
    chunks
        .map(|chunk| {
            let mut per: BTreeMap<Option<&str>, usize> = BTreeMap::new();
            for i in chunk {
                *per.entry(endpoint(i)).or_default() += 1;
            }
            per.values().map(|n| n.div_ceil(100)).sum::<usize>()
        })
        .sum()
}

async fn run(catalog: &Catalog) {
    let woo = WooSim::new("ck", "cs");
    let shop = ShopifySim::new("shpat", Bucket { size: 1_000_000.0, restore_rate: 1_000_000.0 });
    let loc = shop.add_location("Main warehouse");
    for (p, &variants) in catalog.products.iter().enumerate() {
        let name = format!("Product {p}");
        if variants == 0 {
            let sku = format!("P-{p:05}");
            woo.seed_product(json!({ "name": name, "sku": sku, "manage_stock": true, "stock_quantity": 3 })).unwrap();
            shop.add_product(&name, &[(sku.as_str(), "Title", "10.00")], 0);
            shop.set_available(&sku, &loc, 8);
            continue;
        }
        let parent = woo.seed_product(json!({ "name": name, "type": "variable" })).unwrap()["id"].as_u64().unwrap();
        let skus: Vec<String> = (0..variants).map(|v| format!("P-{p:05}-{v:02}")).collect();
        for (v, sku) in skus.iter().enumerate() {
            woo.seed_variation(
                parent,
                json!({ "sku": sku, "manage_stock": true, "stock_quantity": 3,
                        "attributes": [{ "name": "Option", "option": format!("{v}") }] }),
            )
            .unwrap();
        }
        let opts: Vec<(&str, &str, &str)> = skus.iter().map(|s| (s.as_str(), "Option", "10.00")).collect();
        shop.add_product(&name, &opts, 0);
        for sku in &skus {
            shop.set_available(sku, &loc, 8);
        }
    }
    let app = axum::Router::new().nest("/wp-json/wc/v3", woo.router()).merge(shop.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let woo_store = WooInventory::new(
        WooClient::new(&format!("{base}/wp-json/wc/v3"), "ck", "cs", Duration::from_secs(30)).unwrap(),
    );
    let client =
        ShopifyClient::new(&base, "shpat", storesync_platforms::shopify::API_VERSION, Duration::from_secs(30)).unwrap();
    let shop_store = ShopifyInventory::new(client, &loc);

    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    let plan = compare_inventory(ports, &shop_store, &woo_store, "bench").await.unwrap();
    let items = &plan.comparison.items;
    let before = woo.stats();
    let started = Instant::now();
    let opts = SyncOptions { override_blast: true, ..SyncOptions::default() };
    let run = start(ports, &plan.id, &Selection::All, "bench", &opts).await.unwrap();
    storesync_local::stores::drain_sync_queue(ports, &woo_store, 0, |_| {}).await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    let r = report(ports, &run.id).await.unwrap();
    assert_eq!((r.succeeded, r.pending), (items.len(), 0), "every variant written");
    let after = woo.stats();
    let (batch_calls, objects) = (after.batch_calls - before.batch_calls, after.batch_items - before.batch_items);

    let size = chunk_size(Platform::WooCommerce);
    let minimum: usize = {
        let mut per: BTreeMap<Option<&str>, usize> = BTreeMap::new();
        for i in items {
            *per.entry(endpoint(i)).or_default() += 1;
        }
        per.values().map(|n| n.div_ceil(100)).sum()
    };
    let in_plan_order = calls(items.chunks(size).map(|c| c.iter().collect()));
    let products: BTreeSet<&str> = items.iter().map(|i| i.destination_product_id.as_str()).collect();
    println!(
        "{}: {} products, {} variants written in {:.2} s ({} chunks)",
        catalog.name,
        products.len(),
        items.len(),
        secs,
        run.chunks
    );
    println!(
        "  storesync: {batch_calls} batch calls, {:.1} objects per call; the fewest WooCommerce allows: {minimum} ({:.1} per call); chunks in plan order: {in_plan_order} ({:.1} per call)",
        objects as f64 / batch_calls as f64,
        items.len() as f64 / minimum as f64,
        items.len() as f64 / in_plan_order as f64,
    );
}

#[tokio::main]
async fn main() {
    // The wine shop: 3,000 products, every tenth a gift set with three variations.
    let wine =
        Catalog { name: "mostly simple", products: (0..3000).map(|p| if p % 10 == 0 { 3 } else { 0 }).collect() };
    let fashion = Catalog { name: "all variable", products: vec![16; 500] };
    let simple = Catalog { name: "all simple", products: vec![0; 5000] };
    for c in [&simple, &wine, &fashion] {
        run(c).await;
    }
}
