//! The WooCommerce client against the simulator, over loopback as against a real store.

use std::time::Duration;

use serde_json::json;
use storesync_core::webhooks::retry::Failure;
use storesync_platforms::woocommerce::client::{ProductRef, WooClient, WooError};
use storesync_platforms::woocommerce::sim::{Fault, WooSim};

async fn start() -> (WooSim, WooClient, String) {
    let sim = WooSim::new("ck_live", "cs_live");
    let app = axum::Router::new().nest("/wp-json/wc/v3", sim.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}/wp-json/wc/v3");
    let client = WooClient::new(&base, "ck_live", "cs_live", Duration::from_secs(5)).unwrap();
    (sim, client, base)
}

/// A POST as a client with the store's keys makes it; the answer's JSON.
async fn post(base: &str, path: String, body: serde_json::Value) -> serde_json::Value {
    let req = reqwest::Client::new().post(format!("{base}{path}")).basic_auth("ck_live", Some("cs_live")).json(&body);
    req.send().await.unwrap().json::<serde_json::Value>().await.unwrap()
}

#[tokio::test]
async fn finds_by_sku_and_sets_stock_in_full_batches() {
    let (sim, client, base) = start().await;
    let post = |path: String, body: serde_json::Value| post(&base, path, body);
    let creates: Vec<serde_json::Value> =
        (0..100).map(|i| json!({ "name": format!("P{i}"), "sku": format!("SKU {i}") })).collect();
    for _ in 0..2 {
        // Two batches of 100, with distinct SKUs.
        let offset = sim.stats().batch_items;
        let batch: Vec<serde_json::Value> = creates
            .iter()
            .enumerate()
            .map(|(i, c)| json!({ "name": c["name"], "sku": format!("SKU {}", offset as usize + i) }))
            .collect();
        post("/products/batch".into(), json!({ "create": batch })).await;
    }
    let parent = post("/products".into(), json!({ "name": "Box", "type": "variable", "sku": "BOX" })).await;
    let pid = parent["id"].as_u64().unwrap();
    for i in 0..3 {
        post(format!("/products/{pid}/variations"), json!({ "sku": format!("BOX-{i}") })).await;
    }
    let mut skus: Vec<String> = (0..200).map(|i| format!("SKU {i}")).collect();
    skus.extend((0..3).map(|i| format!("BOX-{i}")));
    let refs: Vec<&str> = skus.iter().map(String::as_str).collect();
    let found = client.find_by_sku(&refs).await.unwrap();
    assert_eq!(found.len(), 203);
    assert_eq!(found["BOX-1"].parent, Some(pid), "a variation is found with its parent");
    assert_eq!(found["SKU 7"].parent, None);

    let before = sim.stats().batch_calls;
    let updates: Vec<(ProductRef, i64)> =
        skus.iter().enumerate().map(|(i, s)| (found[s.as_str()], i as i64 % 5)).collect();
    let mut with_missing = updates.clone();
    with_missing.push((ProductRef { id: 999_999, parent: None }, 1));
    let report = client.set_stock(&with_missing).await.unwrap();
    assert_eq!((report.calls, report.updated), (4, 203), "201 products in 3 calls, 3 variations in 1");
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].code, "woocommerce_rest_product_invalid_id");
    assert_eq!(sim.stats().batch_calls - before, 4);
    let id = found["SKU 13"].id;
    assert_eq!(
        (sim.product(id).unwrap()["stock_quantity"].clone(), sim.product(id).unwrap()["manage_stock"].clone()),
        (json!(3), json!(true))
    );
    assert_eq!(sim.variation(found["BOX-2"].id).unwrap()["stock_quantity"], json!(202 % 5));
}

#[tokio::test]
async fn failures_map_to_the_retry_schedule() {
    let (sim, client, base) = start().await;
    sim.inject([Fault::Status { code: 429, retry_after_secs: Some(7) }]);
    let e = client.add_order_note(1, "x").await.unwrap_err();
    assert_eq!(e.failure(), Failure::Status { code: 429, retry_after_secs: Some(7) });
    assert!(e.failure().retryable());
    let e = client.add_order_note(424242, "x").await.unwrap_err();
    assert!(
        matches!(&e, WooError::Http { status: 404, code, .. } if code == "woocommerce_rest_shop_order_invalid_id"),
        "{e}"
    );
    assert!(!e.failure().retryable(), "a 404 is not retried");
    assert_eq!(
        e.to_string(),
        "WooCommerce POST /orders/424242/notes: HTTP 404 woocommerce_rest_shop_order_invalid_id: Invalid ID."
    );
    sim.inject([Fault::Delay { millis: 400 }]);
    let impatient = WooClient::new(&base, "ck_live", "cs_live", Duration::from_millis(100)).unwrap();
    let e = impatient.add_order_note(1, "x").await.unwrap_err();
    assert!(matches!(e, WooError::Transport { .. }), "{e}");
    assert_eq!(e.failure(), Failure::Timeout, "no answer in time is a transient failure");
}

#[tokio::test]
async fn order_status_and_notes() {
    let (sim, client, base) = start().await;
    let o: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/orders"))
        .basic_auth("ck_live", Some("cs_live"))
        .json(&json!({ "status": "processing" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = o["id"].as_u64().unwrap();
    client.add_order_note(id, "WMS: packed").await.unwrap();
    client.set_order_status(id, "completed").await.unwrap();
    let notes: Vec<String> = sim.notes(id).iter().map(|n| n["note"].as_str().unwrap().to_string()).collect();
    assert_eq!(notes, ["WMS: packed", "Order status changed from Processing to Completed."]);
    assert_eq!(sim.order(id).unwrap()["status"], "completed");
}

#[tokio::test]
async fn the_inventory_port_lists_every_variant_and_writes_in_batches() {
    use storesync_core::stores::inventory::{InventoryStore, StockWrite, WriteOutcome};
    use storesync_platforms::woocommerce::inventory::WooInventory;
    let (sim, client, base) = start().await;
    let post = |path: String, body: serde_json::Value| post(&base, path, body);
    for i in 0..150 {
        post(
            "/products".into(),
            json!({ "name": format!("Mug {i}"), "sku": format!("MUG-{i}"),
            "manage_stock": true, "stock_quantity": i % 4 }),
        )
        .await;
    }
    post("/products".into(), json!({ "name": "Poster", "sku": "POSTER" })).await; // stock not managed
    let jacket = post(
        "/products".into(),
        json!({ "name": "Jacket", "type": "variable", "manage_stock": true, "stock_quantity": 9 }),
    )
    .await;
    let jid = jacket["id"].as_u64().unwrap();
    post(
        format!("/products/{jid}/variations"),
        json!({ "sku": "JK-S", "manage_stock": true, "stock_quantity": 3,
        "attributes": [{ "name": "Size", "option": "S" }] }),
    )
    .await;
    post(
        format!("/products/{jid}/variations"),
        json!({ "sku": "JK-M", "manage_stock": false,
        "attributes": [{ "name": "Size", "option": "M" }] }),
    )
    .await;

    let store = WooInventory::new(client);
    store.check().await.unwrap();
    let records = store.inventory().await.unwrap();
    assert_eq!(records.len(), 153, "two pages of products, and the jacket's variations");
    let by = |sku: &str| records.iter().find(|r| r.sku == sku).unwrap().clone();
    assert_eq!((by("MUG-7").quantity, by("MUG-7").name.as_str()), (Some(3), "Mug 7"));
    assert_eq!((by("POSTER").quantity, by("POSTER").status.as_str()), (None, "untracked"));
    let s = by("JK-S");
    assert_eq!((s.name.as_str(), s.quantity, s.product_id.clone()), ("Jacket - S", Some(3), jid.to_string()));
    assert_eq!(by("JK-M").quantity, Some(9), "manage_stock \"parent\" shows the product's stock");

    let mut writes: Vec<StockWrite> = records
        .iter()
        .filter(|r| r.sku.starts_with("MUG-"))
        .map(|r| StockWrite { write_key: r.write_key.clone(), quantity: 20, expected: r.quantity })
        .collect();
    writes.push(StockWrite { write_key: s.write_key.clone(), quantity: 0, expected: Some(3) });
    writes.push(StockWrite { write_key: "999999".into(), quantity: 1, expected: None });
    let before = sim.stats().batch_calls;
    let out = store.set_stock(&writes, "run-1").await.unwrap();
    assert_eq!(sim.stats().batch_calls - before, 3, "150 products in 2 calls, 1 variation in 1");
    assert!(out[..151].iter().all(|o| *o == WriteOutcome::Done));
    assert!(matches!(&out[151], WriteOutcome::Failed { error } if error.contains("invalid_id")), "{:?}", out[151]);
    assert_eq!(store.inventory().await.unwrap().iter().find(|r| r.sku == "JK-S").unwrap().quantity, Some(0));
}

#[tokio::test]
async fn the_inventory_port_contract() {
    use storesync_platforms::woocommerce::inventory::WooInventory;
    let (_sim, client, base) = start().await;
    for i in 0..2 {
        post(
            &base,
            "/products".into(),
            json!({ "name": format!("Cup {i}"), "sku": format!("CUP-{i}"), "manage_stock": true, "stock_quantity": 4 }),
        )
        .await;
    }
    storesync_core::contract::inventory_store(&WooInventory::new(client), "999999").await;
}
