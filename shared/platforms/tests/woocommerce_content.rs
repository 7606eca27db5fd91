//! The WooCommerce simulator's content beyond products (PLATFORMS.md §B5, §B6): coupons and
//! product categories under `wc/v3`, WordPress pages, posts, categories and tags under `wp/v2`,
//! over HTTP as a client meets them.

use serde_json::{json, Value};
use storesync_platforms::woocommerce::sim::{ContentKind, WooSim};

struct Client {
    base: String,
    http: reqwest::Client,
    sim: WooSim,
}

impl Client {
    async fn start() -> Client {
        let sim = WooSim::new("ck_test", "cs_test");
        let app = axum::Router::new().nest("/wp-json/wc/v3", sim.router()).nest("/wp-json/wp/v2", sim.wp_router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Client { base: format!("http://{addr}/wp-json"), http: reqwest::Client::new(), sim }
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
async fn coupons_keep_unique_lower_case_codes_and_go_to_the_trash_first() {
    let c = Client::start().await;
    let (code, _, v) = c
        .call(
            "POST",
            "/wc/v3/coupons",
            Some(json!({ "code": "Summer10", "discount_type": "percent", "amount": "10", "usage_limit": 100,
                          "date_expires": "2027-08-31T23:59:59", "product_ids": [12] })),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(
        (v["code"].as_str(), v["amount"].as_str(), v["usage_limit"].as_i64()),
        (Some("summer10"), Some("10"), Some(100))
    );
    assert_eq!(v["minimum_amount"], "0.00");
    let id = v["id"].as_u64().unwrap();
    let (code, _, v) = c.call("POST", "/wc/v3/coupons", Some(json!({ "code": "SUMMER10" }))).await;
    assert_eq!((code, v["code"].as_str()), (400, Some("woocommerce_rest_coupon_code_already_exists")));
    let (code, _, v) = c.call("POST", "/wc/v3/coupons", Some(json!({ "code": "X", "discount_type": "bogus" }))).await;
    assert_eq!((code, v["code"].as_str()), (400, Some("rest_invalid_param")));
    assert!(v["message"].as_str().unwrap().contains("discount_type"));
    let (code, _, v) = c.call("POST", "/wc/v3/coupons", Some(json!({ "code": "Y", "amount": 5 }))).await;
    assert_eq!((code, v["code"].as_str()), (400, Some("rest_invalid_param")), "amounts are strings");
    let (code, _, v) = c.call("PUT", "/wc/v3/coupons/999999", Some(json!({ "amount": "5" }))).await;
    assert_eq!((code, v["code"].as_str()), (400, Some("woocommerce_rest_shop_coupon_invalid_id")));
    let (code, _, v) = c.call("GET", "/wc/v3/coupons/999999", None).await;
    assert_eq!((code, v["code"].as_str()), (404, Some("woocommerce_rest_shop_coupon_invalid_id")));
    let (code, _, v) = c.call("PUT", &format!("/wc/v3/coupons/{id}"), Some(json!({ "amount": "15" }))).await;
    assert_eq!((code, v["amount"].as_str()), (200, Some("15")));
    let (code, _, v) = c.call("GET", "/wc/v3/coupons?code=summer10", None).await;
    assert_eq!((code, v.as_array().map(Vec::len)), (200, Some(1)));
    let (code, _, v) = c.call("DELETE", &format!("/wc/v3/coupons/{id}"), None).await;
    assert_eq!((code, v["status"].as_str()), (200, Some("trash")));
    let (code, _, v) = c.call("DELETE", &format!("/wc/v3/coupons/{id}"), None).await;
    assert_eq!((code, v["code"].as_str()), (410, Some("woocommerce_rest_already_trashed")));
    let (code, _, _) = c.call("DELETE", &format!("/wc/v3/coupons/{id}?force=true"), None).await;
    assert_eq!(code, 200);
    assert!(c.sim.content(ContentKind::Coupons).is_empty());
}

#[tokio::test]
async fn coupon_and_category_batches_carry_per_item_errors_and_refuse_over_100() {
    let c = Client::start().await;
    let creates: Vec<Value> = (0..3).map(|i| json!({ "code": format!("c{i}"), "amount": "1" })).collect();
    let mut with_dup = creates.clone();
    with_dup.push(json!({ "code": "C0" }));
    let (code, _, v) = c.call("POST", "/wc/v3/coupons/batch", Some(json!({ "create": with_dup }))).await;
    assert_eq!(code, 200);
    let r = v["create"].as_array().unwrap();
    assert_eq!(r.len(), 4);
    assert_eq!(r[3]["error"]["code"], "woocommerce_rest_coupon_code_already_exists");
    assert!(r[..3].iter().all(|x| x["id"].as_u64().is_some_and(|id| id > 0)));
    let too_many: Vec<Value> = (0..101).map(|i| json!({ "code": format!("n{i}") })).collect();
    let (code, _, v) = c.call("POST", "/wc/v3/coupons/batch", Some(json!({ "create": too_many }))).await;
    assert_eq!((code, v["code"].as_str()), (413, Some("woocommerce_rest_request_entity_too_large")));

    let (code, _, v) = c
        .call(
            "POST",
            "/wc/v3/products/categories/batch",
            Some(json!({ "create": [{ "name": "Red Wine" }, { "name": "red wine" }] })),
        )
        .await;
    assert_eq!(code, 200);
    let r = v["create"].as_array().unwrap();
    assert_eq!(
        (r[0]["slug"].as_str(), r[0]["parent"].as_u64(), r[0]["display"].as_str()),
        (Some("red-wine"), Some(0), Some("default"))
    );
    assert_eq!(r[1]["error"]["code"], "term_exists");
    let (code, _, v) = c.call("POST", "/wc/v3/products/categories", Some(json!({ "name": "Red wine" }))).await;
    assert_eq!((code, v["code"].as_str(), &v["data"]["resource_id"]), (400, Some("term_exists"), &r[0]["id"]));
    let id = r[0]["id"].as_u64().unwrap();
    let (code, _, v) = c.call("DELETE", &format!("/wc/v3/products/categories/{id}"), None).await;
    assert_eq!((code, v["code"].as_str()), (501, Some("woocommerce_rest_trash_not_supported")));
    let (code, _, _) = c.call("DELETE", &format!("/wc/v3/products/categories/{id}?force=true"), None).await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn wordpress_pages_and_posts_render_keep_raw_for_edit_and_make_slugs_unique() {
    let c = Client::start().await;
    let (code, _, page) = c
        .call(
            "POST",
            "/wp/v2/pages",
            Some(json!({ "title": "About us", "content": "We pour since 1998.", "status": "publish" })),
        )
        .await;
    assert_eq!(code, 201, "{page}");
    assert_eq!(page["slug"], "about-us");
    assert_eq!(page["content"]["rendered"], "<p>We pour since 1998.</p>\n");
    assert_eq!((page["title"]["raw"].as_str(), page["type"].as_str()), (Some("About us"), Some("page")));
    let (_, _, again) = c
        .call(
            "POST",
            "/wp/v2/pages",
            Some(json!({ "title": "About us", "status": "publish", "content": { "raw": "<h2>Hi</h2>" } })),
        )
        .await;
    assert_eq!(again["slug"], "about-us-2", "a taken slug gets a number");
    assert_eq!(again["content"]["rendered"], "<h2>Hi</h2>\n");
    // Reads show `raw` only with context=edit.
    let (code, headers, list) = c.call("GET", "/wp/v2/pages?per_page=1", None).await;
    assert_eq!(code, 200);
    assert_eq!(headers["x-wp-total"], "2");
    assert_eq!(headers["x-wp-totalpages"], "2");
    assert!(headers["link"].to_str().unwrap().contains("</wp-json/wp/v2/pages?page=2&per_page=1>; rel=\"next\""));
    assert!(list[0]["title"].get("raw").is_none());
    let (_, _, edit) = c.call("GET", "/wp/v2/pages?context=edit&slug=about-us", None).await;
    assert_eq!(edit.as_array().unwrap().len(), 1);
    assert_eq!(edit[0]["content"]["raw"], "We pour since 1998.");
    let (code, _, v) = c.call("GET", "/wp/v2/pages?page=3&per_page=1", None).await;
    assert_eq!(
        (code, v["code"].as_str()),
        (400, Some("rest_post_invalid_page_number")),
        "WordPress refuses past the end"
    );
    let (code, _, v) = c.call("GET", "/wp/v2/pages/999999", None).await;
    assert_eq!((code, v["code"].as_str()), (404, Some("rest_post_invalid_id")));

    // Posts: drafts by default, categories and tags as term ids, Uncategorized (1) exists.
    let (code, _, tag) = c.call("POST", "/wp/v2/tags", Some(json!({ "name": "Harvest 2026" }))).await;
    assert_eq!((code, tag["slug"].as_str(), tag["taxonomy"].as_str()), (201, Some("harvest-2026"), Some("post_tag")));
    let (code, _, v) = c.call("POST", "/wp/v2/tags", Some(json!({ "name": "harvest 2026" }))).await;
    assert_eq!((code, v["code"].as_str(), &v["data"]["term_id"]), (400, Some("term_exists"), &tag["id"]));
    let (code, _, post) = c
        .call(
            "POST",
            "/wp/v2/posts",
            Some(json!({ "title": "Harvest notes", "content": "Grapes!", "excerpt": "Short", "tags": [tag["id"]] })),
        )
        .await;
    assert_eq!(code, 201, "{post}");
    assert_eq!(
        (post["status"].as_str(), &post["categories"], &post["tags"]),
        (Some("draft"), &json!([1]), &json!([tag["id"]]))
    );
    let (_, _, published) = c.call("GET", "/wp/v2/posts", None).await;
    assert_eq!(published, json!([]), "lists show published posts unless asked");
    let (_, _, any) = c.call("GET", "/wp/v2/posts?status=any", None).await;
    assert_eq!(any.as_array().unwrap().len(), 1);
    let (code, _, v) =
        c.call("POST", &format!("/wp/v2/posts/{}", post["id"]), Some(json!({ "tags": ["harvest"] }))).await;
    assert_eq!((code, v["code"].as_str()), (400, Some("rest_invalid_param")));
    let (code, _, v) = c
        .call("POST", &format!("/wp/v2/posts/{}", post["id"]), Some(json!({ "status": "publish", "title": "Harvest" })))
        .await;
    assert_eq!(
        (code, v["title"]["rendered"].as_str(), v["slug"].as_str()),
        (200, Some("Harvest"), Some("harvest-notes"))
    );
    let (code, _, v) = c.call("DELETE", &format!("/wp/v2/posts/{}", post["id"]), None).await;
    assert_eq!((code, v["status"].as_str()), (200, Some("trash")));
    let (code, _, v) = c.call("DELETE", &format!("/wp/v2/posts/{}", post["id"]), None).await;
    assert_eq!((code, v["code"].as_str()), (410, Some("rest_already_trashed")));
    let (code, _, v) = c.call("DELETE", &format!("/wp/v2/posts/{}?force=true", post["id"]), None).await;
    assert_eq!((code, v["deleted"].as_bool()), (200, Some(true)));
    let (code, _, v) = c.call("DELETE", &format!("/wp/v2/tags/{}", tag["id"]), None).await;
    assert_eq!((code, v["code"].as_str()), (501, Some("rest_trash_not_supported")));
}

#[tokio::test]
async fn wordpress_needs_the_credentials_too() {
    let c = Client::start().await;
    let r = c.http.get(format!("{}/wp/v2/pages", c.base)).basic_auth("ck_test", Some("wrong")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    c.sim.seed_content(ContentKind::Pages, json!({ "title": "Shipping", "status": "publish" })).unwrap();
    let (code, _, v) = c.call("GET", "/wp/v2/pages?slug=shipping", None).await;
    assert_eq!((code, v[0]["title"]["rendered"].as_str()), (200, Some("Shipping")));
}
