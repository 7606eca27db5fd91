//! Inventory sync of 50,000 variants to the Shopify simulator at its default rate (issue 4):
//! sustained point use ≥ 90 % of the restore rate, ≤ 1 % of calls throttled, ≥ 240 quantities
//! per `inventorySetQuantities` call, total time within 1.15× of the minimum the rate allows.
//! `cargo bench -p storesync-platforms --bench shopify_inventory` (add a number to change the
//! variant count).

use std::time::{Duration, Instant};

use storesync_core::stores::inventory::{InventoryStore, StockWrite, WriteOutcome};
use storesync_platforms::shopify::client::ShopifyClient;
use storesync_platforms::shopify::inventory::ShopifyInventory;
use storesync_platforms::shopify::sim::{Bucket, ShopifySim, MUTATION_COST};
use storesync_platforms::shopify::API_VERSION;

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(50_000);
    let sim = ShopifySim::new("shpat_bench", Bucket::default());
    let loc = sim.add_location("Main warehouse");
    for i in 0..n / 4 {
        let skus: Vec<String> = (0..4).map(|s| format!("JK-{i:06}-{s}")).collect();
        let variants: Vec<(&str, &str, &str)> = skus.iter().map(|s| (s.as_str(), "Size", "49.00")).collect();
        sim.add_product(&format!("Jacket {i}"), &variants, 5);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = sim.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = ShopifyClient::new(&base, "shpat_bench", API_VERSION, Duration::from_secs(10)).unwrap();
    let store = ShopifyInventory::new(client, &loc);

    let writes: Vec<StockWrite> = sim
        .inventory_items()
        .into_iter()
        .enumerate()
        .map(|(i, (_, item))| StockWrite { write_key: item, quantity: (i % 17) as i64, expected: Some(5) })
        .collect();
    let started = Instant::now();
    let out = store.set_stock(&writes, "bench-run").await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(out.iter().all(|o| *o == WriteOutcome::Done), "every write applied");

    let st = sim.stats();
    let b = sim.bucket();
    let calls = st.requests;
    let points = st.points;
    // The least time the bucket allows: what it holds at the start is free, the rest comes at
    // the restore rate.
    let minimum = ((calls as f64 * MUTATION_COST - b.size) / b.restore_rate).max(0.0);
    let active = st.last_at.zip(st.first_at).map(|(l, f)| l.duration_since(f).as_secs_f64()).unwrap_or(secs);
    // Sustained use: the points beyond what the bucket held at the start, over the run.
    let sustained = (points - b.size).max(0.0) / active.max(1e-9);
    println!("shopify inventory sync: {} variants, bucket {} points at {}/s", writes.len(), b.size, b.restore_rate);
    println!("  calls {calls}, throttled {} ({:.2} %)", st.throttled, st.throttled as f64 * 100.0 / calls as f64);
    println!("  quantities per inventorySetQuantities call: {:.1}", st.quantities_set as f64 / st.set_calls as f64);
    println!(
        "  points {points:.0}; sustained point use {:.1}/s = {:.1} % of the restore rate",
        sustained,
        sustained * 100.0 / b.restore_rate
    );
    println!("  time {secs:.2} s; minimum the rate allows {minimum:.2} s; ratio {:.3}", secs / minimum.max(1e-9));
}
