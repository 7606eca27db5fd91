//! The Shopify simulator answers as the GraphQL Admin API does (PLATFORMS.md §A, checklist §C),
//! and the client reads, writes and paces itself against it.

use std::time::Duration;

use serde_json::{json, Value};
use storesync_platforms::fault::Fault;
use storesync_platforms::shopify::client::{SetQuantity, ShopifyClient, ShopifyError};
use storesync_platforms::shopify::sim::{Bucket, ShopifySim};
use storesync_platforms::shopify::{graphql_path, API_VERSION};

const TOKEN: &str = "shpat_test";

async fn serve(sim: &ShopifySim) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = sim.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A shop with one location and `n` single-variant products `SKU-0000`… stocked at 10.
async fn shop(n: usize, bucket: Bucket) -> (ShopifySim, String, String) {
    let sim = ShopifySim::new(TOKEN, bucket);
    let loc = sim.add_location("Main warehouse");
    for i in 0..n {
        let sku = format!("SKU-{i:04}");
        sim.add_product(&format!("Shirt {i}"), &[(&sku, "Default Title", "19.90")], 10);
    }
    let base = serve(&sim).await;
    (sim, base, loc)
}

fn client(base: &str) -> ShopifyClient {
    let mut c = ShopifyClient::new(base, TOKEN, API_VERSION, Duration::from_millis(500)).unwrap();
    c.backoff = Duration::from_millis(10);
    c
}

/// A raw request, as a client would send it: (HTTP status, body).
async fn raw(base: &str, token: &str, query: &str, variables: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}{}", graphql_path(API_VERSION)))
        .header("X-Shopify-Access-Token", token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

const SET: &str = "mutation($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) { inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } } userErrors { code field message } } }";

fn set_input(item: &str, loc: &str, quantity: i64, from: Value) -> Value {
    json!({ "name": "available", "reason": "correction", "referenceDocumentUri": "gid://storesync/Sync/1",
            "quantities": [{ "inventoryItemId": item, "locationId": loc, "quantity": quantity, "changeFromQuantity": from }] })
}

#[tokio::test]
async fn reads_page_through_every_variant_with_its_stock() {
    // A Plus plan's rate (1,000 points/s): three pages of 952 points without waiting long.
    let (sim, base, loc) = shop(450, Bucket { size: 2000.0, restore_rate: 1000.0 }).await;
    sim.set_available("SKU-0007", &loc, 3);
    let c = client(&base);
    assert_eq!(c.locations().await.unwrap(), vec![(loc.clone(), "Main warehouse".to_string())]);
    let stock = c.variant_stock(&loc).await.unwrap();
    assert_eq!(stock.len(), 450, "three pages of up to 190");
    assert!(stock.iter().all(|v| v.variant_id.starts_with("gid://shopify/ProductVariant/")));
    let seven = stock.iter().find(|v| v.sku == "SKU-0007").unwrap();
    assert_eq!(seven.available, Some(3));
    assert_eq!(seven.product_title, "Shirt 7");
    assert!(seven.inventory_item_id.starts_with("gid://shopify/InventoryItem/"));
    // Every answer carries the cost; a page is refunded down to what it returned.
    let (status, v) = raw(&base, TOKEN, "{ locations(first: 10) { nodes { id } } }", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(v["extensions"]["cost"]["requestedQueryCost"], 12.0);
    assert_eq!(v["extensions"]["cost"]["actualQueryCost"], 3.0);
    assert_eq!(v["extensions"]["cost"]["throttleStatus"]["restoreRate"], 1000.0);
}

#[tokio::test]
async fn set_quantities_is_idempotent_and_compare_and_set() {
    let (sim, base, loc) = shop(3, Bucket::default()).await;
    let c = client(&base);
    let stock = c.variant_stock(&loc).await.unwrap();
    let q = |i: usize, quantity: i64, from: Option<i64>| SetQuantity {
        inventory_item_id: stock[i].inventory_item_id.clone(),
        location_id: loc.clone(),
        quantity,
        change_from: from,
    };
    let batch = vec![q(0, 4, Some(10)), q(1, 0, Some(10))];
    assert_eq!(c.set_available(&batch, "plan-1:0", "gid://storesync/Sync/1").await.unwrap(), vec![]);
    assert_eq!(sim.available("SKU-0000", &loc), Some(4));
    assert_eq!(sim.available("SKU-0001", &loc), Some(0));
    // The same key and call again (a retry, a replayed message): the first result, nothing applied.
    sim.set_available("SKU-0000", &loc, 8);
    assert_eq!(c.set_available(&batch, "plan-1:0", "gid://storesync/Sync/1").await.unwrap(), vec![]);
    assert_eq!(sim.available("SKU-0000", &loc), Some(8), "not applied twice");
    assert_eq!(sim.stats().idempotent_replays, 1);
    assert_eq!(sim.stats().set_calls, 1);
    // The same key with other quantities is refused.
    let e = c.set_available(&[q(0, 5, Some(8))], "plan-1:0", "gid://storesync/Sync/1").await.unwrap_err();
    assert!(matches!(&e, ShopifyError::Graphql { code, .. } if code == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"), "{e}");
    // A stale changeFromQuantity fails the whole call: nothing applied.
    let errors =
        c.set_available(&[q(2, 1, Some(10)), q(0, 1, Some(7))], "plan-1:1", "gid://storesync/Sync/1").await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, "CHANGE_FROM_QUANTITY_STALE");
    assert_eq!(errors[0].field, ["input", "quantities", "1", "changeFromQuantity"], "indexes are strings");
    assert_eq!(sim.available("SKU-0002", &loc), Some(10), "all or nothing");
    // changeFromQuantity: null opts out of the check.
    assert_eq!(c.set_available(&[q(0, 2, None)], "plan-1:2", "gid://storesync/Sync/1").await.unwrap(), vec![]);
    assert_eq!(sim.available("SKU-0000", &loc), Some(2));
    assert_eq!(sim.applied_keys().len(), 2);
}

#[tokio::test]
async fn the_api_refuses_what_2026_04_refuses() {
    let (_sim, base, loc) = shop(1, Bucket::default()).await;
    let (status, v) = raw(&base, "wrong", "{ locations(first: 1) { nodes { id } } }", json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(v["errors"], "[API] Invalid API key or access token (unrecognized login or wrong password)");
    let code = |v: &Value| v["errors"][0]["extensions"]["code"].as_str().unwrap_or_default().to_string();

    let (status, v) = raw(&base, TOKEN, "{ locations { nodes { id } } }", json!({})).await;
    assert_eq!((status, code(&v)), (200, "BAD_REQUEST".to_string()));
    assert_eq!(v["errors"][0]["message"], "you must provide one of first or last");
    let (_, v) = raw(&base, TOKEN, "{ locations(first: 251) { nodes { id } } }", json!({})).await;
    assert_eq!(code(&v), "BAD_REQUEST");
    let q = "{ productVariants(first: 250) { nodes { id product { id } inventoryItem { id inventoryLevel(locationId: \"x\") { id } } } } }";
    let (_, v) = raw(&base, TOKEN, q, json!({})).await;
    assert_eq!(code(&v), "MAX_COST_EXCEEDED");
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("exceeds the single query max cost limit (1000)"));

    let stock = client(&base).variant_stock(&loc).await.unwrap();
    let item = stock[0].inventory_item_id.clone();
    let no_key = "mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) { userErrors { code } } }";
    let (_, v) = raw(&base, TOKEN, no_key, json!({ "input": set_input(&item, &loc, 1, json!(10)) })).await;
    assert_eq!(code(&v), "BAD_REQUEST");
    assert_eq!(v["data"]["inventorySetQuantities"], Value::Null);
    let on_operation = "mutation($input: InventorySetQuantitiesInput!) @idempotent(key: \"k\") { inventorySetQuantities(input: $input) { userErrors { code } } }";
    let (_, v) = raw(&base, TOKEN, on_operation, json!({ "input": set_input(&item, &loc, 1, json!(10)) })).await;
    assert_eq!(code(&v), "BAD_REQUEST");

    let mut missing = set_input(&item, &loc, 1, json!(10));
    missing["quantities"][0].as_object_mut().unwrap().remove("changeFromQuantity");
    let (_, v) = raw(&base, TOKEN, SET, json!({ "input": missing, "key": "k1" })).await;
    assert_eq!(code(&v), "INVALID_FIELD_ARGUMENTS");
    let mut many = set_input(&item, &loc, 1, json!(10));
    many["quantities"] = json!(vec![many["quantities"][0].clone(); 251]);
    let (_, v) = raw(&base, TOKEN, SET, json!({ "input": many, "key": "k2" })).await;
    assert_eq!(code(&v), "MAX_INPUT_SIZE_EXCEEDED");

    // Setting available reports available and on_hand moving together; quantityAfterChange is null.
    let (_, v) = raw(&base, TOKEN, SET, json!({ "input": set_input(&item, &loc, 4, json!(10)), "key": "k3" })).await;
    let changes = &v["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"]["changes"];
    assert_eq!(
        changes,
        &json!([{ "name": "available", "delta": -6, "quantityAfterChange": null },
                { "name": "on_hand", "delta": -6, "quantityAfterChange": null }])
    );
    let unknown = set_input("gid://shopify/InventoryItem/1", &loc, 1, Value::Null);
    let (_, v) = raw(&base, TOKEN, SET, json!({ "input": unknown, "key": "k4" })).await;
    assert_eq!(v["data"]["inventorySetQuantities"]["userErrors"][0]["code"], "INVALID_INVENTORY_ITEM");
}

#[tokio::test]
async fn an_empty_bucket_throttles_with_200_and_the_client_paces_itself_instead() {
    let small = Bucket { size: 100.0, restore_rate: 100.0 };
    let (sim, base, _) = shop(30, small).await;
    // Requested 2 + 20 × (variant + product) = 42, and as much actually spent.
    let query = "{ productVariants(first: 20) { nodes { id product { id } } } }";
    let mut throttled = None;
    for _ in 0..5 {
        let (status, v) = raw(&base, TOKEN, query, json!({})).await;
        assert_eq!(status, 200);
        if v["errors"][0]["extensions"]["code"] == "THROTTLED" {
            throttled = Some(v);
            break;
        }
    }
    let v = throttled.expect("a burst empties the bucket");
    assert_eq!(v["errors"][0]["message"], "Throttled");
    assert!(v.get("data").is_none());
    assert_eq!(v["extensions"]["cost"]["actualQueryCost"], Value::Null);
    assert_eq!(v["extensions"]["cost"]["requestedQueryCost"], 42.0);

    // The client, on a fresh shop with the same bucket: the same burst, no throttled answer.
    let (sim2, base2, _) = shop(30, small).await;
    let c = client(&base2);
    for _ in 0..6 {
        c.graphql(query, json!({}), 42.0).await.unwrap();
    }
    assert_eq!(sim2.stats().throttled, 0, "paced by throttleStatus");
    assert!(sim.stats().throttled >= 1);
}

#[tokio::test]
async fn failures_are_retried_and_a_lost_reply_is_not_applied_twice() {
    let (sim, base, loc) = shop(1, Bucket::default()).await;
    let c = client(&base);
    let stock = c.variant_stock(&loc).await.unwrap();
    let q = SetQuantity {
        inventory_item_id: stock[0].inventory_item_id.clone(),
        location_id: loc.clone(),
        quantity: 7,
        change_from: Some(10),
    };
    // A 503, then the change is applied but its answer is lost (the client times out): the
    // retry with the same key gets the first result back.
    sim.inject([Fault::Status { code: 503, retry_after_secs: None }, Fault::LostReply { millis: 800 }]);
    assert_eq!(c.set_available(std::slice::from_ref(&q), "plan-2:0", "gid://storesync/Sync/2").await.unwrap(), vec![]);
    assert_eq!(sim.available("SKU-0000", &loc), Some(7));
    let st = sim.stats();
    assert_eq!((st.set_calls, st.idempotent_replays, st.faults_served), (1, 1, 2));
    // A failure that outlasts the attempts is returned, not swallowed.
    sim.inject(vec![Fault::Status { code: 500, retry_after_secs: None }; 5]);
    let e = c.locations().await.unwrap_err();
    assert!(matches!(e, ShopifyError::Status { status: 500, .. }), "{e}");
}

#[tokio::test]
async fn the_inventory_port_reads_and_writes_with_compare_and_set() {
    use storesync_core::stores::inventory::{InventoryStore, StockWrite, WriteOutcome};
    use storesync_platforms::shopify::inventory::ShopifyInventory;
    let (sim, base, loc) = shop(3, Bucket::default()).await;
    sim.add_product("Jacket", &[("JK-S", "S", "99.00"), ("JK-M", "M", "99.00")], 2);
    let store = ShopifyInventory::new(client(&base), &loc);
    store.check().await.unwrap();
    let e = ShopifyInventory::new(client(&base), "gid://shopify/Location/1").check().await.unwrap_err();
    assert!(e.message.contains("is not in the shop") && e.message.contains("Main warehouse"), "{e}");
    // No location given: the shop's only one, asked for on first use (not when opened).
    let requests = sim.stats().requests;
    let only = ShopifyInventory::at_only_location(client(&base));
    assert_eq!(sim.stats().requests, requests, "opening the port calls nothing");
    assert_eq!(only.inventory().await.unwrap(), store.inventory().await.unwrap());
    let (two, two_base, _) = shop(1, Bucket::default()).await;
    two.add_location("Overflow");
    let e = ShopifyInventory::at_only_location(client(&two_base)).inventory().await.unwrap_err();
    assert!(e.message.contains("STORESYNC_SHOPIFY_LOCATION is not set and the shop has 2 locations"), "{e}");

    let records = store.inventory().await.unwrap();
    assert_eq!(records.len(), 5);
    let m = records.iter().find(|r| r.sku == "JK-M").unwrap();
    assert_eq!((m.name.as_str(), m.quantity, m.status.as_str()), ("Jacket - M", Some(2), "instock"));
    assert_eq!(records[0].name, "Shirt 0", "a default variant is named by its product");

    let w = |sku: &str, quantity: i64, expected: i64| StockWrite {
        write_key: records.iter().find(|r| r.sku == sku).unwrap().write_key.clone(),
        quantity,
        expected: Some(expected),
    };
    sim.set_available("SKU-0001", &loc, 6); // a sale since the compare
    let writes = [w("SKU-0000", 0, 10), w("SKU-0001", 1, 10), w("JK-M", 9, 2)];
    let out = store.set_stock(&writes, "run-7").await.unwrap();
    assert_eq!(out, [WriteOutcome::Done, WriteOutcome::Moved { now: None }, WriteOutcome::Done]);
    assert_eq!(sim.available("SKU-0000", &loc), Some(0));
    assert_eq!(sim.available("SKU-0001", &loc), Some(6), "a moved item is left alone");
    assert_eq!(sim.available("JK-M", &loc), Some(9));
    // The same writes under the same key (a replayed queue message): the same calls, nothing twice.
    let before = sim.stats();
    sim.set_available("JK-M", &loc, 4);
    let again = store.set_stock(&writes, "run-7").await.unwrap();
    assert_eq!(again, out);
    assert_eq!(sim.available("JK-M", &loc), Some(4), "not applied again");
    assert_eq!(sim.stats().set_calls, before.set_calls);
    assert_eq!(sim.stats().idempotent_replays, before.idempotent_replays + 2);
}

#[tokio::test]
async fn the_inventory_port_contract() {
    use storesync_platforms::shopify::inventory::ShopifyInventory;
    let (_sim, base, loc) = shop(3, Bucket::default()).await;
    let store = ShopifyInventory::new(client(&base), &loc);
    storesync_core::contract::inventory_store(&store, "gid://shopify/InventoryItem/1").await;
}

/// Pages and collections answer as Shopify does: user errors for a blank title, a taken handle
/// and an unknown object; a collection update without its id is a top-level error; handles are
/// made from titles and kept unique.
#[tokio::test]
async fn pages_and_collections_answer_with_shopifys_user_errors() {
    let (_sim, base, _) = shop(0, Bucket::default()).await;
    let create = "mutation($p: PageCreateInput!) { pageCreate(page: $p) { page { id handle isPublished } userErrors { field message code } } }";
    let (_, v) =
        raw(&base, TOKEN, create, json!({ "p": { "title": "About us", "body": "<p>Hi</p>", "isPublished": true } }))
            .await;
    assert_eq!(v["data"]["pageCreate"]["page"]["handle"], "about-us");
    assert_eq!(v["data"]["pageCreate"]["userErrors"], json!([]));
    let (_, v) = raw(&base, TOKEN, create, json!({ "p": { "title": "About us" } })).await;
    assert_eq!(v["data"]["pageCreate"]["page"]["handle"], "about-us-1", "a unique handle from the title");
    let (_, v) = raw(&base, TOKEN, create, json!({ "p": { "title": "x", "handle": "about-us" } })).await;
    assert_eq!(v["data"]["pageCreate"]["userErrors"][0]["code"], "TAKEN");
    let (_, v) = raw(&base, TOKEN, create, json!({ "p": { "title": " " } })).await;
    assert_eq!(
        v["data"]["pageCreate"]["userErrors"][0],
        json!({ "field": ["page", "title"], "message": "Title can't be blank", "code": "BLANK" })
    );
    assert!(v["extensions"]["cost"]["actualQueryCost"].as_f64().is_some());
    let update = "mutation($id: ID!, $p: PageUpdateInput!) { pageUpdate(id: $id, page: $p) { page { id } userErrors { field message code } } }";
    let (_, v) = raw(&base, TOKEN, update, json!({ "id": "gid://shopify/Page/999999", "p": { "title": "y" } })).await;
    assert_eq!(v["data"]["pageUpdate"]["userErrors"][0]["code"], "NOT_FOUND");

    let create = "mutation($c: CollectionInput!) { collectionCreate(input: $c) { collection { id handle image { url } } userErrors { field message code } } }";
    let (_, v) = raw(
        &base,
        TOKEN,
        create,
        json!({ "c": { "title": "Red wine", "image": { "src": "https://example.com/red.jpg" } } }),
    )
    .await;
    let c = &v["data"]["collectionCreate"]["collection"];
    assert_eq!(
        (c["handle"].as_str(), c["image"]["url"].as_str()),
        (Some("red-wine"), Some("https://example.com/red.jpg"))
    );
    let update = "mutation($c: CollectionInput!) { collectionUpdate(input: $c) { collection { id } userErrors { field message code } } }";
    let (_, v) = raw(&base, TOKEN, update, json!({ "c": { "title": "Reds" } })).await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{v}");
    let (_, v) = raw(&base, TOKEN, update, json!({ "c": { "id": c["id"], "descriptionHtml": "<p>Reds</p>" } })).await;
    assert_eq!(v["data"]["collectionUpdate"]["userErrors"], json!([]));
    let read = "{ collections(first: 5, query: \"handle:red-wine\") { nodes { title descriptionHtml } } }";
    let (_, v) = raw(&base, TOKEN, read, json!({})).await;
    assert_eq!(v["data"]["collections"]["nodes"], json!([{ "title": "Red wine", "descriptionHtml": "<p>Reds</p>" }]));
    let delete =
        "mutation($id: ID!) { collectionDelete(input: {id: $id}) { deletedCollectionId userErrors { code } } }";
    let (_, v) = raw(&base, TOKEN, delete, json!({ "id": c["id"] })).await;
    assert_eq!(v["data"]["collectionDelete"]["deletedCollectionId"], c["id"]);
    let (_, v) = raw(&base, TOKEN, delete, json!({ "id": c["id"] })).await;
    assert_eq!(v["data"]["collectionDelete"]["userErrors"][0]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn discount_codes_read_through_inline_fragments_and_answer_with_user_errors() {
    let (_sim, base, _) = shop(0, Bucket::default()).await;
    let create = "mutation($d: DiscountCodeBasicInput!) { discountCodeBasicCreate(basicCodeDiscount: $d) { codeDiscountNode { id } userErrors { field message code } } }";
    let discount = |code: &str, value: Value| {
        json!({ "d": { "title": code, "code": code, "startsAt": "2026-12-01T00:00:00+02:00", "context": { "all": "ALL" },
                       "customerGets": { "value": value, "items": { "all": true } } } })
    };
    let (_, v) = raw(&base, TOKEN, create, discount("SAVE10", json!({ "percentage": 0.1 }))).await;
    let id = v["data"]["discountCodeBasicCreate"]["codeDiscountNode"]["id"].clone();
    assert!(id.as_str().is_some_and(|g| g.starts_with("gid://shopify/DiscountCodeNode/")), "{v}");
    let errors = |v: &Value| v["data"]["discountCodeBasicCreate"]["userErrors"].clone();
    let (_, v) = raw(&base, TOKEN, create, discount("save10", json!({ "percentage": 0.2 }))).await;
    assert_eq!(errors(&v)[0]["code"], "TAKEN", "codes are unique without case");
    let (_, v) = raw(&base, TOKEN, create, discount("BIG", json!({ "percentage": 10 }))).await;
    assert_eq!(errors(&v)[0]["code"], "VALUE_OUTSIDE_RANGE", "a percentage is a fraction");
    let mut no_start = discount("LATE", json!({ "percentage": 0.1 }));
    no_start["d"].as_object_mut().unwrap().remove("startsAt");
    let (_, v) = raw(&base, TOKEN, create, no_start).await;
    assert_eq!(
        errors(&v)[0],
        json!({ "field": ["basicCodeDiscount", "startsAt"], "message": "Starts at can't be blank", "code": "BLANK" })
    );
    let (_, v) = raw(
        &base,
        TOKEN,
        create,
        discount("FIVE", json!({ "discountAmount": { "amount": "5", "appliesOnEachItem": true } })),
    )
    .await;
    assert_eq!(errors(&v), json!([]));

    // Read as an app does: the union through inline fragments, dates in UTC.
    let read = "{ codeDiscountNodes(first: 10) { nodes { id codeDiscount { __typename ... on DiscountCodeBasic { startsAt codes(first: 1) { nodes { code } } customerGets { value { __typename ... on DiscountPercentage { percentage } ... on DiscountAmount { amount { amount } appliesOnEachItem } } } } } } } }";
    let (_, v) = raw(&base, TOKEN, read, json!({})).await;
    let nodes = &v["data"]["codeDiscountNodes"]["nodes"];
    assert_eq!(nodes.as_array().map(Vec::len), Some(2), "{v}");
    let save = &nodes[0]["codeDiscount"];
    assert_eq!(save["__typename"], "DiscountCodeBasic");
    assert_eq!(save["startsAt"], "2026-11-30T22:00:00Z");
    assert_eq!(save["customerGets"]["value"], json!({ "__typename": "DiscountPercentage", "percentage": 0.1 }));
    assert_eq!(
        nodes[1]["codeDiscount"]["customerGets"]["value"],
        json!({ "__typename": "DiscountAmount", "amount": { "amount": "5.0" }, "appliesOnEachItem": true })
    );
    // The fragments' fields count in the cost: 2 + 10 × (1 + 1 + 3 + 3).
    assert_eq!(v["extensions"]["cost"]["requestedQueryCost"], 82.0);

    let by_code = "query($c: String!) { codeDiscountNodeByCode(code: $c) { id } }";
    let (_, v) = raw(&base, TOKEN, by_code, json!({ "c": "Save10" })).await;
    assert_eq!(v["data"]["codeDiscountNodeByCode"]["id"], id);
    let update = "mutation($id: ID!, $d: DiscountCodeBasicInput!) { discountCodeBasicUpdate(id: $id, basicCodeDiscount: $d) { codeDiscountNode { id } userErrors { field message code } } }";
    let (_, v) = raw(&base, TOKEN, update, json!({ "id": id, "d": { "endsAt": "2026-01-01T00:00:00Z" } })).await;
    assert_eq!(v["data"]["discountCodeBasicUpdate"]["userErrors"][0]["message"], "Ends at needs to be after starts_at");
    let delete = "mutation($id: ID!) { discountCodeDelete(id: $id) { deletedCodeDiscountId userErrors { code } } }";
    let (_, v) = raw(&base, TOKEN, delete, json!({ "id": id })).await;
    assert_eq!(v["data"]["discountCodeDelete"]["deletedCodeDiscountId"], id);
    let (_, v) = raw(&base, TOKEN, delete, json!({ "id": id })).await;
    assert_eq!(v["data"]["discountCodeDelete"]["userErrors"][0]["code"], "INVALID");
}

#[tokio::test]
async fn articles_need_an_author_and_a_blog_and_their_handles_are_unique_per_blog() {
    let (_sim, base, _) = shop(0, Bucket::default()).await;
    let create = "mutation($a: ArticleCreateInput!, $b: BlogCreateInput) { articleCreate(article: $a, blog: $b) { article { id handle blog { id } } userErrors { field message code } } }";
    let (_, v) = raw(&base, TOKEN, create, json!({ "a": { "title": "Harvest", "author": { "name": "Dana" } } })).await;
    assert_eq!(
        v["data"]["articleCreate"]["userErrors"][0],
        json!({ "field": ["article", "blogId"], "message": "Blog does not exist", "code": "NOT_FOUND" })
    );
    // A blog made with the article.
    let (_, v) = raw(
        &base,
        TOKEN,
        create,
        json!({ "a": { "title": "Harvest", "author": { "name": "Dana" } }, "b": { "title": "News" } }),
    )
    .await;
    let first = v["data"]["articleCreate"]["article"].clone();
    assert_eq!(first["handle"], "harvest", "{v}");
    let blog = first["blog"]["id"].clone();
    let (_, v) = raw(&base, TOKEN, create, json!({ "a": { "title": "Harvest", "blogId": blog } })).await;
    assert_eq!(v["data"]["articleCreate"]["userErrors"][0]["message"], "Author can't be blank");
    let (_, v) = raw(
        &base,
        TOKEN,
        create,
        json!({ "a": { "title": "x", "handle": "harvest", "blogId": blog, "author": { "name": "Dana" } } }),
    )
    .await;
    assert_eq!(v["data"]["articleCreate"]["userErrors"][0]["code"], "TAKEN");
    let (_, v) = raw(
        &base,
        TOKEN,
        create,
        json!({ "a": { "title": "x", "handle": "harvest", "author": { "name": "Dana" } }, "b": { "title": "Recipes" } }),
    )
    .await;
    assert_eq!(v["data"]["articleCreate"]["article"]["handle"], "harvest", "another blog: the handle is free");
    let read = "{ blogs(first: 5) { nodes { title } } articles(first: 5) { nodes { handle } } }";
    let (_, v) = raw(&base, TOKEN, read, json!({})).await;
    assert_eq!(v["data"]["blogs"]["nodes"], json!([{ "title": "News" }, { "title": "Recipes" }]));
    assert_eq!(v["data"]["articles"]["nodes"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn product_set_replaces_list_fields_and_keeps_left_out_scalars() {
    let (sim, base, _) = shop(0, Bucket::default()).await;
    let set = "mutation($in: ProductSetInput!, $id: ID) { productSet(input: $in, identifier: {id: $id}, synchronous: true) { product { id } userErrors { field message code } } }";
    let variant = |sku: &str, size: &str, price: &str| json!({ "sku": sku, "price": price, "optionValues": [{ "optionName": "Size", "name": size }] });
    let input = json!({ "title": "Gift box", "descriptionHtml": "<p>Two</p>", "tags": ["gift"], "status": "ACTIVE",
                        "productOptions": [{ "name": "Size", "values": [{ "name": "S" }, { "name": "L" }] }],
                        "variants": [variant("GB-S", "S", "30"), variant("GB-L", "L", "50")] });
    let (_, v) = raw(&base, TOKEN, set, json!({ "in": input })).await;
    let id = v["data"]["productSet"]["product"]["id"].as_str().unwrap().to_string();
    let p = sim.product(&id).unwrap();
    assert_eq!((p["handle"].as_str(), p["variants"].as_array().map(Vec::len)), (Some("gift-box"), Some(2)));
    assert_eq!(p["variants"][0]["price"], "30.00");
    let small = p["variants"][0]["id"].clone();

    // Variants and tags given replace; the description left out is kept; GB-L is deleted.
    let mut kept = variant("GB-S", "S", "32");
    kept["id"] = small.clone();
    kept["inventoryItem"] = json!({ "measurement": { "weight": { "value": 1.5, "unit": "POUNDS" } } });
    let (_, v) = raw(
        &base,
        TOKEN,
        set,
        json!({ "id": id, "in": { "tags": [], "variants": [kept, variant("GB-X", "XL", "90")] } }),
    )
    .await;
    assert_eq!(v["data"]["productSet"]["userErrors"], json!([]), "{v}");
    let p = sim.product(&id).unwrap();
    let skus: Vec<&str> = p["variants"].as_array().unwrap().iter().map(|v| v["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["GB-S", "GB-X"]);
    assert_eq!((p["variants"][0]["id"].clone(), p["variants"][0]["price"].clone()), (small, json!("32.00")));
    assert_eq!((p["descriptionHtml"].as_str(), p["tags"].clone()), (Some("<p>Two</p>"), json!([])));
    assert!(sim.inventory_items().iter().all(|(sku, _)| sku != "GB-L"), "its inventory item went with it");
    let weights = "query($id: ID!) { product(id: $id) { variants(first: 5) { nodes { sku \
                   inventoryItem { measurement { weight { unit value } } } } } } }";
    let (_, v) = raw(&base, TOKEN, weights, json!({ "id": id })).await;
    let nodes = &v["data"]["product"]["variants"]["nodes"];
    assert_eq!(nodes[0]["inventoryItem"]["measurement"]["weight"], json!({ "unit": "POUNDS", "value": 1.5 }));
    assert_eq!(
        nodes[1]["inventoryItem"]["measurement"]["weight"],
        json!({ "unit": "KILOGRAMS", "value": 0.0 }),
        "no weight given: 0, as Shopify has it"
    );
    assert_eq!(
        v["extensions"]["cost"]["requestedQueryCost"],
        1.0 + 2.0 + 5.0 * 4.0,
        "variant, inventoryItem, measurement, weight"
    );
    let mut heavy = variant("GB-S", "S", "32");
    heavy["inventoryItem"] = json!({ "measurement": { "weight": { "value": 3, "unit": "STONES" } } });
    let (_, v) = raw(&base, TOKEN, set, json!({ "id": id, "in": { "variants": [heavy] } })).await;
    assert_eq!(
        v["data"]["productSet"]["userErrors"][0]["field"],
        json!(["input", "variants", "0", "inventoryItem", "measurement", "weight", "unit"])
    );
    assert_eq!(sim.product(&id).unwrap()["variants"].as_array().map(Vec::len), Some(2), "nothing applied");

    // Collections: the list is the product's memberships; an unknown one is a user error.
    let gifts = sim.add_collection(json!({ "title": "Gifts" })).unwrap();
    let (_, v) = raw(&base, TOKEN, set, json!({ "id": id, "in": { "collections": [gifts["id"]] } })).await;
    assert_eq!(v["data"]["productSet"]["userErrors"], json!([]), "{v}");
    let read = "query($id: ID!) { product(id: $id) { collections(first: 5) { nodes { title } } } }";
    let (_, v) = raw(&base, TOKEN, read, json!({ "id": id })).await;
    assert_eq!(v["data"]["product"]["collections"]["nodes"], json!([{ "title": "Gifts" }]));
    let unknown = json!({ "id": id, "in": { "collections": [gifts["id"], "gid://shopify/Collection/999999"] } });
    let (_, v) = raw(&base, TOKEN, set, unknown).await;
    assert_eq!(
        (&v["data"]["productSet"]["userErrors"][0]["field"], &v["data"]["productSet"]["userErrors"][0]["code"]),
        (&json!(["input", "collections", "1"]), &json!("COLLECTION_DOES_NOT_EXIST"))
    );

    let (_, v) = raw(&base, TOKEN, set, json!({ "in": { "title": " " } })).await;
    assert_eq!(v["data"]["productSet"]["userErrors"][0]["code"], "BLANK");
    let (_, v) = raw(&base, TOKEN, set, json!({ "id": "gid://shopify/Product/999999", "in": { "title": "x" } })).await;
    assert_eq!(v["data"]["productSet"]["userErrors"][0]["code"], "PRODUCT_DOES_NOT_EXIST");
    let (_, v) = raw(&base, TOKEN, set, json!({ "id": id, "in": { "status": "LIVE" } })).await;
    assert_eq!(v["data"]["productSet"]["userErrors"][0]["field"], json!(["input", "status"]));
    let delete = "mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId userErrors { code } } }";
    let (_, v) = raw(&base, TOKEN, delete, json!({ "id": id })).await;
    assert_eq!(v["data"]["productDelete"]["deletedProductId"], json!(id));
    assert!(sim.product(&id).is_none());
}

#[tokio::test]
async fn a_large_catalog_is_read_through_one_bulk_operation_streamed_as_jsonl() {
    use storesync_core::stores::catalog::DataType;
    use storesync_core::stores::catalog_sync::CatalogStore;
    use storesync_platforms::shopify::catalog::ShopifyCatalog;
    use storesync_platforms::shopify::products::BULK_ABOVE;
    let n = BULK_ABOVE as usize + 50;
    let (sim, base, _) = shop(n, Bucket::default()).await;
    sim.add_product("Gift box", &[("GB-S", "Small", "30.00"), ("GB-L", "Large", "50.00")], 1);
    let before = sim.stats().requests;
    let records = ShopifyCatalog::new(client(&base)).read(DataType::Products).await.unwrap();
    assert_eq!(records.len(), n + 1);
    // The count, the run, the polls until it completed: not 21 pages of 15.
    let calls = sim.stats().requests - before;
    assert!(calls <= 5, "{calls} calls");
    let gift = records.iter().find(|r| r.text("name").as_deref() == Some("Gift box")).unwrap();
    assert_eq!(gift.fields["variants"].as_array().map(Vec::len), Some(2));
    assert_eq!(gift.text("sku").as_deref(), Some("GB-L"));
    let shirt = records.iter().find(|r| r.text("sku").as_deref() == Some("SKU-0007")).unwrap();
    assert_eq!(shirt.fields["price"], "19.90");

    // The operation as Shopify reports it, and its JSONL: children after their parent.
    let run = "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { code } } }";
    let q = "{ products { edges { node { id title variants { edges { node { id sku } } } } } } }";
    let (_, v) = raw(&base, TOKEN, run, json!({ "q": q })).await;
    let id = v["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"].clone();
    assert_eq!(v["data"]["bulkOperationRunQuery"]["bulkOperation"]["status"], "CREATED");
    let poll = "query($id: ID!) { bulkOperation(id: $id) { status url objectCount } }";
    let (_, v) = raw(&base, TOKEN, poll, json!({ "id": id })).await;
    assert_eq!(
        (v["data"]["bulkOperation"]["status"].as_str(), v["data"]["bulkOperation"]["url"].as_str()),
        (Some("RUNNING"), None)
    );
    let (_, v) = raw(&base, TOKEN, poll, json!({ "id": id })).await;
    let op = &v["data"]["bulkOperation"];
    assert_eq!((op["status"].as_str(), op["objectCount"].as_str()), (Some("COMPLETED"), Some("603")));
    let body = reqwest::get(op["url"].as_str().unwrap()).await.unwrap().text().await.unwrap();
    let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let last_two = &lines[lines.len() - 3..];
    assert_eq!(last_two[0]["title"], "Gift box");
    assert_eq!((last_two[1]["sku"].as_str(), &last_two[1]["__parentId"]), (Some("GB-S"), &last_two[0]["id"]));
    // Five unfinished operations at most.
    for _ in 0..5 {
        raw(&base, TOKEN, run, json!({ "q": q })).await;
    }
    let (_, v) = raw(&base, TOKEN, run, json!({ "q": q })).await;
    assert_eq!(v["data"]["bulkOperationRunQuery"]["userErrors"][0]["code"], "OPERATION_IN_PROGRESS");
}
