//! The WooCommerce simulator answers as the real REST v3 API does, checked against the real
//! examples in ../shared/testdata/real/woocommerce_rest_v3/ and the simulator checklist.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{json, Value};
use storesync_platforms::woocommerce::sim::{Fault, WooSim};

fn real(name: &str) -> Value {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/real/woocommerce_rest_v3").join(name);
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

struct Client {
    base: String,
    http: reqwest::Client,
    sim: WooSim,
}

impl Client {
    async fn start() -> Client {
        let sim = WooSim::new("ck_test", "cs_test");
        let app = axum::Router::new().nest("/wp-json/wc/v3", sim.router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Client { base: format!("http://{addr}/wp-json/wc/v3"), http: reqwest::Client::new(), sim }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .basic_auth("ck_test", Some("cs_test"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let (code, headers) = (r.status().as_u16(), r.headers().clone());
        (code, headers, r.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn products_have_the_real_shape_and_the_real_errors() {
    let c = Client::start().await;
    let (code, _, created) = c.call("POST", "/products", Some(real("products__create-a-product__request.json"))).await;
    assert_eq!(code, 201);
    let real_keys: BTreeSet<String> =
        real("products__retrieve-a-product__response.json").as_object().unwrap().keys().cloned().collect();
    let our_keys: BTreeSet<String> = created.as_object().unwrap().keys().cloned().collect();
    assert_eq!(our_keys, real_keys, "every field of the real response, and no other");
    assert_eq!(
        (created["name"].as_str(), created["regular_price"].as_str(), created["price"].as_str()),
        (Some("Premium Quality"), Some("21.99"), Some("21.99"))
    );
    assert_eq!(created["categories"], json!([{ "id": 9 }, { "id": 14 }]));
    let id = created["id"].as_u64().unwrap();

    let (code, _, e) = c
        .call(
            "PUT",
            &format!("/products/{id}"),
            Some(json!({ "sku": "W1", "manage_stock": false, "stock_quantity": 5 })),
        )
        .await;
    assert_eq!((code, e["stock_quantity"].clone()), (200, Value::Null), "stock_quantity counts only with manage_stock");
    let (_, _, e) =
        c.call("PUT", &format!("/products/{id}"), Some(json!({ "manage_stock": true, "stock_quantity": 0 }))).await;
    assert_eq!((e["stock_quantity"].as_i64(), e["stock_status"].as_str()), (Some(0), Some("outofstock")));
    let (code, _, e) = c.call("POST", "/products", Some(json!({ "name": "Other", "sku": "W1" }))).await;
    assert_eq!(
        (code, e),
        (
            400,
            json!({ "code": "product_invalid_sku", "message": "Invalid or duplicated SKU.", "data": { "status": 400 } })
        )
    );
    let (code, _, e) = c.call("GET", "/products/999999", None).await;
    assert_eq!((code, e["code"].as_str()), (404, Some("woocommerce_rest_product_invalid_id")));
    let (code, _, _) = c.call("PUT", "/products/999999", Some(json!({ "name": "x" }))).await;
    assert_eq!(code, 400, "an unknown id on PUT is a 400, as in WooCommerce");
    let (code, _, e) = c.call("POST", "/products", Some(json!({ "name": "Bad", "regular_price": 21.99 }))).await;
    assert_eq!((code, e["code"].as_str()), (400, Some("rest_invalid_param")), "prices are strings");
    let (code, _, _) = c.call("DELETE", &format!("/products/{id}"), None).await;
    assert_eq!(code, 200);
    let (code, _, e) = c.call("DELETE", &format!("/products/{id}"), None).await;
    assert_eq!((code, e["code"].as_str()), (410, Some("woocommerce_rest_already_trashed")));
}

#[tokio::test]
async fn authentication_by_basic_auth_or_query_keys() {
    let c = Client::start().await;
    let r = c.http.get(format!("{}/products", c.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({ "code": "woocommerce_rest_authentication_error", "message": "Consumer key is invalid.", "data": { "status": 401 } })
    );
    let r =
        c.http.get(format!("{}/products?consumer_key=ck_test&consumer_secret=cs_test", c.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = c.http.get(format!("{}/products", c.base)).basic_auth("ck_test", Some("wrong")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn pagination_headers_filters_and_bounds() {
    let c = Client::start().await;
    for i in 0..25 {
        c.call("POST", "/products", Some(json!({ "name": format!("P{i}"), "sku": format!("S{i}") }))).await;
    }
    let (code, h, page2) = c.call("GET", "/products?per_page=10&page=2", None).await;
    assert_eq!((code, page2.as_array().unwrap().len()), (200, 10));
    assert_eq!((h["x-wp-total"].to_str().unwrap(), h["x-wp-totalpages"].to_str().unwrap()), ("25", "3"));
    let link = h["link"].to_str().unwrap();
    assert!(
        link.contains("page=1&per_page=10>; rel=\"prev\"") && link.contains("page=3&per_page=10>; rel=\"next\""),
        "{link}"
    );
    let (code, _, past) = c.call("GET", "/products?per_page=10&page=4", None).await;
    assert_eq!((code, past), (200, json!([])), "past the last page: 200 and []");
    let (code, _, e) = c.call("GET", "/products?per_page=101", None).await;
    assert_eq!(code, 400, "per_page out of range is refused, never clamped");
    assert_eq!(e["data"]["params"]["per_page"], "per_page must be between 1 (inclusive) and 100 (inclusive)");
    let (_, _, found) = c.call("GET", "/products?sku=S3,S7", None).await;
    let skus: Vec<&str> = found.as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["S3", "S7"]);
}

#[tokio::test]
async fn batch_limit_per_item_errors_and_faults() {
    let c = Client::start().await;
    // The real example updates ids that do not exist here: each gets its own error, the rest applies.
    let (code, _, r) =
        c.call("POST", "/products/batch", Some(real("products__batch-update-products__request.json"))).await;
    assert_eq!(code, 200);
    assert_eq!(r["create"].as_array().unwrap().len(), 2);
    assert!(r["create"].as_array().unwrap().iter().all(|p| p["id"].as_u64().unwrap() > 0));
    let update = &r["update"][0];
    assert_eq!(update["error"]["code"], "woocommerce_rest_product_invalid_id", "{update}");
    let too_many: Vec<Value> = (0..101).map(|i| json!({ "name": format!("N{i}") })).collect();
    let (code, _, e) = c.call("POST", "/products/batch", Some(json!({ "create": too_many }))).await;
    assert_eq!((code, e["code"].as_str()), (413, Some("woocommerce_rest_request_entity_too_large")));
    assert_eq!(e["message"], "Unable to accept more than 100 items for this request.");

    c.sim.inject([
        Fault::Status { code: 503, retry_after_secs: None },
        Fault::Status { code: 429, retry_after_secs: Some(7) },
    ]);
    let (code, _, _) = c.call("GET", "/products", None).await;
    assert_eq!(code, 503);
    let (code, h, _) = c.call("GET", "/products", None).await;
    assert_eq!((code, h["retry-after"].to_str().unwrap()), (429, "7"));
    let (code, _, _) = c.call("GET", "/products", None).await;
    assert_eq!(code, 200, "faults are served once each");
    let stats = c.sim.stats();
    assert_eq!((stats.faults_served, stats.batch_calls, stats.batch_items), (2, 1, 4));
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn variations_follow_their_parent_and_batch() {
    let c = Client::start().await;
    let (_, _, parent) =
        c.call("POST", "/products", Some(json!({ "name": "Gift set", "type": "variable", "sku": "GS" }))).await;
    let pid = parent["id"].as_u64().unwrap();
    let (code, _, v) = c
        .call(
            "POST",
            &format!("/products/{pid}/variations"),
            Some(real("product-variations__create-a-product-variation__request.json")),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(
        keys(&v),
        keys(&real("product-variations__retrieve-a-product-variation__response.json")),
        "the real variation shape"
    );
    let vid = v["id"].as_u64().unwrap();
    c.call("PUT", &format!("/products/{pid}/variations/{vid}"), Some(json!({ "sku": "GS-2" }))).await;

    // The parent manages stock and the variation does not: it reads "parent".
    c.call("PUT", &format!("/products/{pid}"), Some(json!({ "manage_stock": true, "stock_quantity": 9 }))).await;
    let (_, _, v) = c.call("GET", &format!("/products/{pid}/variations/{vid}"), None).await;
    assert_eq!((v["manage_stock"].clone(), v["stock_quantity"].as_i64()), (json!("parent"), Some(9)));

    let (code, _, r) = c
        .call(
            "POST",
            &format!("/products/{pid}/variations/batch"),
            Some(json!({ "update": [{ "id": vid, "manage_stock": true, "stock_quantity": 3 }, { "id": 424242, "stock_quantity": 1 }] })),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        (r["update"][0]["manage_stock"].clone(), r["update"][0]["stock_quantity"].as_i64()),
        (json!(true), Some(3))
    );
    assert_eq!(r["update"][1]["error"]["code"], "woocommerce_rest_product_variation_invalid_id");
    let (_, _, found) = c.call("GET", "/products?sku=GS-2", None).await;
    assert_eq!(found[0]["id"].as_u64(), Some(vid), "?sku= also finds variations");
    assert_eq!(
        (found[0]["type"].as_str(), found[0]["parent_id"].as_u64()),
        (Some("variation"), Some(pid)),
        "in the product shape"
    );
    assert_eq!(c.sim.variation(vid).unwrap()["stock_quantity"], 3);
}

#[tokio::test]
async fn orders_status_changes_leave_system_notes() {
    let c = Client::start().await;
    let (code, _, o) = c.call("POST", "/orders", Some(real("orders__create-an-order__request.json"))).await;
    assert_eq!(code, 201);
    assert_eq!(keys(&o), keys(&real("orders__retrieve-an-order__response.json")), "the real order shape");
    assert_eq!(o["billing"]["email"], "john.doe@example.com");
    let id = o["id"].as_u64().unwrap();
    let (code, _, o) = c.call("PUT", &format!("/orders/{id}"), Some(json!({ "status": "completed" }))).await;
    assert_eq!((code, o["status"].as_str()), (200, Some("completed")));
    let (code, _, e) = c.call("PUT", &format!("/orders/{id}"), Some(json!({ "status": "shipped" }))).await;
    assert_eq!((code, e["code"].as_str()), (400, Some("rest_invalid_param")), "an unknown status is refused");
    let (code, _, n) = c.call("POST", &format!("/orders/{id}/notes"), Some(json!({ "note": "WMS: picking" }))).await;
    assert_eq!((code, n["note"].as_str(), n["customer_note"].as_bool()), (201, Some("WMS: picking"), Some(false)));
    let (_, _, notes) = c.call("GET", &format!("/orders/{id}/notes"), None).await;
    let texts: Vec<&str> = notes.as_array().unwrap().iter().map(|n| n["note"].as_str().unwrap()).collect();
    assert_eq!(texts, ["WMS: picking", "Order status changed from Pending payment to Completed."], "newest first");
    let (code, _, _) = c.call("GET", "/orders/777777", None).await;
    assert_eq!(code, 404);
    let (code, _, _) = c.call("PUT", "/orders/777777", Some(json!({ "status": "completed" }))).await;
    assert_eq!(code, 400);
}
