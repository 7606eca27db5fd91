//! A WooCommerce REST v3 simulator that answers as the real API does (see
//! `../shared/PLATFORMS.md` §B and its simulator checklist): products with the real response
//! shape, `?sku=`/`?page=`/`?per_page=` with `X-WP-Total`, `X-WP-TotalPages` and `Link`, the
//! batch endpoint with its 100-item limit and per-item errors, the error envelope, consumer
//! key/secret authentication, and injectable faults (5xx, 429 with `Retry-After`, delays).
//!
//! Also variations (with `manage_stock: "parent"` and their own batch endpoint), and orders
//! with notes (a status change adds WooCommerce's system note). Mounted under `/wp-json/wc/v3`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Map, Value};

/// The most items one batch call may carry.
pub const BATCH_LIMIT: usize = 100;

pub use crate::fault::Fault;
use crate::fault::FaultPlan;

mod content;
pub use content::Kind as ContentKind;

/// What the simulator counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub batch_calls: u64,
    pub batch_items: u64,
    pub faults_served: u64,
}

#[derive(Default)]
struct Inner {
    products: BTreeMap<u64, Map<String, Value>>,
    /// Variations by id, with their parent product's id.
    variations: BTreeMap<u64, (u64, Map<String, Value>)>,
    /// Each product's variation ids, in creation order.
    children: BTreeMap<u64, Vec<u64>>,
    orders: BTreeMap<u64, Map<String, Value>>,
    notes: BTreeMap<u64, Vec<Value>>,
    /// Coupons, product categories, and WordPress pages, posts, categories and tags, by
    /// collection (`content::Kind`).
    content: BTreeMap<&'static str, BTreeMap<u64, Map<String, Value>>>,
    next_id: u64,
    faults: FaultPlan,
    stats: Stats,
}

/// The simulator's state, shared between its router and the test that drives it.
#[derive(Clone)]
pub struct WooSim {
    inner: Arc<Mutex<Inner>>,
    key: String,
    secret: String,
}

/// An error on its way to the envelope: status, code, message.
type WcError = (StatusCode, &'static str, String);

/// A batch item's error entry: `{id, error: {code, message, data: {status}}}`.
fn item_error(id: u64, (status, code, message): WcError) -> Value {
    json!({ "id": id, "error": { "code": code, "message": message, "data": { "status": status.as_u16() } } })
}

/// Refuses a batch over the limit, and counts the one it lets through.
fn admit_batch(inner: &mut Inner, n: usize) -> Result<(), Box<Response>> {
    if n > BATCH_LIMIT {
        return Err(Box::new(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "woocommerce_rest_request_entity_too_large",
            "Unable to accept more than 100 items for this request.",
        )));
    }
    inner.stats.batch_calls += 1;
    inner.stats.batch_items += n as u64;
    Ok(())
}

/// A WooCommerce error: `{code, message, data: {status}}`.
/// One entry of a batch call.
enum BatchOp {
    Create(Map<String, Value>),
    Update(u64, Map<String, Value>),
    Delete(u64),
}

/// A batch endpoint: `{create, update, delete}`, at most [`BATCH_LIMIT`] entries in all, each
/// handed to `apply` in that order and answered with the object or `{id, error}`; no rollback.
fn batch_with(
    inner: &mut Inner,
    body: &Value,
    mut apply: impl FnMut(&mut Inner, BatchOp) -> Result<Map<String, Value>, WcError>,
) -> Response {
    let list = |k: &str| body.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
    let (creates, updates, deletes) = (list("create"), list("update"), list("delete"));
    if let Err(r) = admit_batch(inner, creates.len() + updates.len() + deletes.len()) {
        return *r;
    }
    let mut out = Map::new();
    for (key, entries) in [("create", creates), ("update", updates), ("delete", deletes)] {
        if entries.is_empty() {
            continue;
        }
        let answers: Vec<Value> = entries
            .into_iter()
            .map(|e| {
                let (id, op) = match key {
                    "create" => (0, BatchOp::Create(object(e))),
                    "update" => {
                        let id = e.get("id").and_then(Value::as_u64).unwrap_or(0);
                        (id, BatchOp::Update(id, object(e)))
                    }
                    _ => {
                        let id = e.as_u64().unwrap_or(0);
                        (id, BatchOp::Delete(id))
                    }
                };
                match apply(inner, op) {
                    Ok(o) => Value::Object(o),
                    Err(err) => item_error(id, err),
                }
            })
            .collect();
        out.insert(key.into(), Value::Array(answers));
    }
    Json(Value::Object(out)).into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message, "data": { "status": status.as_u16() } }))).into_response()
}

fn invalid_id(status: StatusCode) -> Response {
    error(status, "woocommerce_rest_product_invalid_id", "Invalid ID.")
}

/// Every field of a product as the real API returns it, at its default.
fn product_skeleton() -> Map<String, Value> {
    static SKELETON: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    SKELETON.get_or_init(|| serde_json::from_str(PRODUCT_SKELETON).unwrap_or_default()).clone()
}

const PRODUCT_SKELETON: &str = r#"{
        "id": 0, "name": "", "slug": "", "permalink": "", "date_created": null, "date_created_gmt": null,
        "date_modified": null, "date_modified_gmt": null, "type": "simple", "status": "publish", "featured": false,
        "catalog_visibility": "visible", "description": "", "short_description": "", "sku": "", "global_unique_id": "",
        "price": "",
        "regular_price": "", "sale_price": "", "date_on_sale_from": null, "date_on_sale_from_gmt": null,
        "date_on_sale_to": null, "date_on_sale_to_gmt": null, "price_html": "", "on_sale": false, "purchasable": true,
        "total_sales": 0, "virtual": false, "downloadable": false, "downloads": [], "download_limit": -1,
        "download_expiry": -1, "external_url": "", "button_text": "", "tax_status": "taxable", "tax_class": "",
        "manage_stock": false, "stock_quantity": null, "stock_status": "instock", "backorders": "no",
        "backorders_allowed": false, "backordered": false, "sold_individually": false, "weight": "",
        "dimensions": { "length": "", "width": "", "height": "" }, "shipping_required": true, "shipping_taxable": true,
        "shipping_class": "", "shipping_class_id": 0, "reviews_allowed": true, "average_rating": "0.00",
        "rating_count": 0, "related_ids": [], "upsell_ids": [], "cross_sell_ids": [], "parent_id": 0,
        "purchase_note": "", "categories": [], "tags": [], "images": [], "attributes": [], "default_attributes": [],
        "variations": [], "grouped_products": [], "menu_order": 0, "meta_data": [], "_links": {}
    }"#;

fn variation_skeleton() -> Map<String, Value> {
    static SKELETON: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    SKELETON.get_or_init(|| serde_json::from_str(VARIATION_SKELETON).unwrap_or_default()).clone()
}

fn order_skeleton() -> Map<String, Value> {
    static SKELETON: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    SKELETON.get_or_init(|| serde_json::from_str(ORDER_SKELETON).unwrap_or_default()).clone()
}

const VARIATION_SKELETON: &str = r#"{"id": 0, "date_created": "", "date_created_gmt": "", "date_modified": "", "date_modified_gmt": "", "description": "", "permalink": "", "sku": "", "global_unique_id": "", "price": "", "regular_price": "", "sale_price": "", "date_on_sale_from": null, "date_on_sale_from_gmt": null, "date_on_sale_to": null, "date_on_sale_to_gmt": null, "on_sale": false, "status": "publish", "purchasable": true, "virtual": false, "downloadable": false, "downloads": [], "download_limit": -1, "download_expiry": -1, "tax_status": "taxable", "tax_class": "", "manage_stock": false, "stock_quantity": null, "stock_status": "instock", "backorders": "no", "backorders_allowed": false, "backordered": false, "weight": "", "dimensions": {"length": "", "width": "", "height": ""}, "shipping_class": "", "shipping_class_id": 0, "image": null, "attributes": [], "menu_order": 0, "meta_data": [], "_links": {}}"#;

const ORDER_SKELETON: &str = r#"{"id": 0, "parent_id": 0, "number": "", "order_key": "", "created_via": "rest-api", "version": "7.9.0", "status": "pending", "currency": "USD", "date_created": "", "date_created_gmt": "", "date_modified": "", "date_modified_gmt": "", "discount_total": "0.00", "discount_tax": "0.00", "shipping_total": "0.00", "shipping_tax": "0.00", "cart_tax": "0.00", "total": "0.00", "total_tax": "0.00", "prices_include_tax": false, "customer_id": 0, "customer_ip_address": "", "customer_user_agent": "", "customer_note": "", "billing": {"first_name": "", "last_name": "", "company": "", "address_1": "", "address_2": "", "city": "", "state": "", "postcode": "", "country": "", "email": "", "phone": ""}, "shipping": {"first_name": "", "last_name": "", "company": "", "address_1": "", "address_2": "", "city": "", "state": "", "postcode": "", "country": ""}, "payment_method": "", "payment_method_title": "", "transaction_id": "", "date_paid": null, "date_paid_gmt": null, "date_completed": null, "date_completed_gmt": null, "cart_hash": "", "meta_data": [], "line_items": [], "tax_lines": [], "shipping_lines": [], "fee_lines": [], "coupon_lines": [], "refunds": [], "_links": {}}"#;

/// The order statuses WooCommerce accepts.
pub const ORDER_STATUSES: [&str; 9] = [
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "auto-draft",
    "checkout-draft",
];

/// Fields a client may not set.
const READ_ONLY: [&str; 12] = [
    "id",
    "permalink",
    "date_created",
    "date_created_gmt",
    "date_modified",
    "date_modified_gmt",
    "price",
    "price_html",
    "on_sale",
    "total_sales",
    "variations",
    "_links",
];

impl WooSim {
    pub fn new(key: &str, secret: &str) -> Self {
        let inner = Inner { next_id: 100, ..Inner::default() };
        Self { inner: Arc::new(Mutex::new(inner)), key: key.to_string(), secret: secret.to_string() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data; keep serving it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next requests meet these faults, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.inject(faults);
    }

    /// From now on each request meets one of `faults` (picked at random) with probability
    /// `share`, deterministically for a seed. An empty list stops it.
    pub fn fail_randomly(&self, share: f64, faults: Vec<Fault>, seed: u64) {
        self.lock().faults.fail_randomly(share, faults, seed);
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// A product as the API would return it.
    pub fn product(&self, id: u64) -> Option<Value> {
        self.lock().products.get(&id).cloned().map(Value::Object)
    }

    /// A variation as the API would return it.
    pub fn variation(&self, id: u64) -> Option<Value> {
        let inner = self.lock();
        inner.variations.get(&id).map(|(parent, v)| Value::Object(variation_view(&inner, *parent, v)))
    }

    /// An order as the API would return it.
    pub fn order(&self, id: u64) -> Option<Value> {
        self.lock().orders.get(&id).cloned().map(Value::Object)
    }

    /// Creates a product as `POST /products` would (`fields` as the API takes them); returns it.
    pub fn seed_product(&self, fields: Value) -> Result<Value, String> {
        let mut inner = self.lock();
        create(&mut inner, &object(fields)).map(Value::Object).map_err(|(_, _, m)| m)
    }

    /// Creates a variation of `parent` as `POST /products/{parent}/variations` would; returns it.
    pub fn seed_variation(&self, parent: u64, fields: Value) -> Result<Value, String> {
        let mut inner = self.lock();
        create_variation_in(&mut inner, parent, &object(fields)).map(Value::Object).map_err(|(_, _, m)| m)
    }

    /// Puts an order that already exists in the store (as a shop that has been trading has),
    /// with this id and status.
    pub fn seed_order(&self, id: u64, status: &str) {
        let mut inner = self.lock();
        let mut o = order_skeleton();
        o.insert("id".into(), json!(id));
        o.insert("number".into(), json!(id.to_string()));
        o.insert("order_key".into(), json!(format!("wc_order_{id:013}")));
        o.insert("status".into(), json!(status));
        now_fields(&mut o, true);
        inner.orders.insert(id, o);
        inner.next_id = inner.next_id.max(id);
    }

    /// An order's notes, oldest first.
    pub fn notes(&self, order: u64) -> Vec<Value> {
        self.lock().notes.get(&order).cloned().unwrap_or_default()
    }

    /// The router, to be nested under `/wp-json/wc/v3`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/products", get(list_products).post(create_product))
            .route("/products/batch", post(batch_products))
            .route("/products/{id}", get(get_product).put(update_product).delete(delete_product))
            .route("/products/{id}/variations", get(list_variations).post(create_variation))
            .route("/products/{id}/variations/batch", post(batch_variations))
            .route("/products/{id}/variations/{vid}", get(get_variation).put(update_variation))
            .route("/orders", get(list_orders).post(create_order))
            .route("/orders/{id}", get(get_order).put(update_order))
            .route("/orders/{id}/notes", get(list_notes).post(create_note))
            .merge(content::wc_routes())
            .layer(axum::middleware::from_fn_with_state(self.clone(), gate))
            .with_state(self.clone())
    }

    fn authenticated(&self, headers: &HeaderMap, query: Option<&str>) -> bool {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok());
        if let Some(pair) = basic {
            return pair == format!("{}:{}", self.key, self.secret);
        }
        let q: BTreeMap<String, String> = query
            .map(|q| {
                q.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
            })
            .unwrap_or_default();
        q.get("consumer_key") == Some(&self.key) && q.get("consumer_secret") == Some(&self.secret)
    }
}

/// Counts, authenticates and serves injected faults before any handler.
async fn gate(State(sim): State<WooSim>, req: Request, next: Next) -> Response {
    let fault = {
        let mut s = sim.lock();
        s.stats.requests += 1;
        let f = s.faults.draw();
        s.stats.faults_served = s.faults.served;
        f
    };
    match fault {
        Some(Fault::Status { code, retry_after_secs }) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = error(status, "simulated_fault", "Simulated fault.");
            if let Some(s) = retry_after_secs {
                if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            return r;
        }
        Some(Fault::Delay { millis }) => tokio::time::sleep(Duration::from_millis(millis)).await,
        Some(Fault::LostReply { .. }) | None => {}
    }
    if !sim.authenticated(req.headers(), req.uri().query()) {
        return error(StatusCode::UNAUTHORIZED, "woocommerce_rest_authentication_error", "Consumer key is invalid.");
    }
    let response = next.run(req).await;
    if let Some(Fault::LostReply { millis }) = fault {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    response
}

fn now_fields(p: &mut Map<String, Value>, created: bool) {
    let t = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    if created {
        p.insert("date_created".into(), json!(t));
        p.insert("date_created_gmt".into(), json!(t));
    }
    p.insert("date_modified".into(), json!(t));
    p.insert("date_modified_gmt".into(), json!(t));
}

/// Applies a request body to a product, as WooCommerce does; an error names the field.
fn apply(inner: &Inner, p: &mut Map<String, Value>, body: &Map<String, Value>) -> Result<(), WcError> {
    let bad = |param: &str, msg: String| {
        (StatusCode::BAD_REQUEST, "rest_invalid_param", format!("Invalid parameter(s): {param} ({msg})"))
    };
    for (k, v) in body {
        if READ_ONLY.contains(&k.as_str()) || !p.contains_key(k) {
            continue;
        }
        match k.as_str() {
            "regular_price" | "sale_price" if !(v.is_string()) => return Err(bad(k, "prices are strings".into())),
            "sku" | "global_unique_id" => {
                let value = v.as_str().unwrap_or_default();
                let id = p.get("id").and_then(Value::as_u64).unwrap_or(0);
                let others = inner.products.values().chain(inner.variations.values().map(|(_, v)| v));
                let taken = !value.is_empty()
                    && others.filter(|o| o["id"].as_u64() != Some(id)).any(|o| o[k.as_str()] == json!(value));
                if taken {
                    return Err(match k.as_str() {
                        "sku" => (StatusCode::BAD_REQUEST, "product_invalid_sku", "Invalid or duplicated SKU.".into()),
                        _ => (
                            StatusCode::BAD_REQUEST,
                            "product_invalid_global_unique_id",
                            "Invalid or duplicated GTIN, UPC, EAN or ISBN.".into(),
                        ),
                    });
                }
            }
            "stock_quantity" if !(v.is_i64() || v.is_null()) => return Err(bad(k, "an integer".into())),
            "categories" | "tags" => {
                // Written as `[{id}]`, read as `[{id, name, slug}]` from the store's terms; an
                // id the store lacks is skipped, as WordPress's `wp_set_object_terms` does.
                let taxonomy = if k == "tags" { content::Kind::ProductTags } else { content::Kind::ProductCategories };
                let store = inner.content.get(taxonomy.key());
                let out: Vec<Value> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| {
                        let id = c["id"].as_u64()?;
                        let term = store?.get(&id)?;
                        Some(json!({ "id": id, "name": term["name"], "slug": term["slug"] }))
                    })
                    .collect();
                p.insert(k.clone(), Value::from(out));
                continue;
            }
            _ => {}
        }
        p.insert(k.clone(), v.clone());
    }
    // `stock_quantity` counts only while stock is managed; it then decides the stock status.
    if p.get("manage_stock") != Some(&json!(true)) {
        p.insert("stock_quantity".into(), Value::Null);
    } else if let Some(q) = p.get("stock_quantity").and_then(Value::as_i64) {
        let status = if q > 0 { "instock" } else { "outofstock" };
        p.insert("stock_status".into(), json!(status));
    }
    let price =
        p.get("sale_price").filter(|s| s.as_str().is_some_and(|s| !s.is_empty())).or(p.get("regular_price")).cloned();
    p.insert("price".into(), price.unwrap_or(json!("")));
    Ok(())
}

fn create(inner: &mut Inner, body: &Map<String, Value>) -> Result<Map<String, Value>, WcError> {
    let mut p = product_skeleton();
    apply(inner, &mut p, body)?;
    inner.next_id += 1;
    let id = inner.next_id;
    let name = p["name"].as_str().unwrap_or_default().to_lowercase().replace(' ', "-");
    p.insert("id".into(), json!(id));
    p.insert("slug".into(), json!(format!("{name}-{id}")));
    p.insert("permalink".into(), json!(format!("https://example.com/product/{name}-{id}/")));
    now_fields(&mut p, true);
    inner.products.insert(id, p.clone());
    Ok(p)
}

fn update(inner: &mut Inner, id: u64, body: &Map<String, Value>) -> Result<Map<String, Value>, WcError> {
    let Some(mut p) = inner.products.get(&id).cloned() else {
        return Err((StatusCode::BAD_REQUEST, "woocommerce_rest_product_invalid_id", "Invalid ID.".into()));
    };
    apply(inner, &mut p, body)?;
    now_fields(&mut p, false);
    inner.products.insert(id, p.clone());
    Ok(p)
}

fn err_response((status, code, message): WcError) -> Response {
    error(status, code, &message)
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A page of `items` as WooCommerce answers a list: `per_page` 1–100 (else 400, never clamped),
/// `X-WP-Total`, `X-WP-TotalPages`, and `Link` with `prev`/`next`; past the end, `[]`.
fn paginate(items: Vec<Value>, q: &BTreeMap<String, String>, path: &str) -> Response {
    let total = items.len();
    paginate_with(total, q, path, |skip, take| items.into_iter().skip(skip).take(take).collect())
}

/// A page of `total` items: `page_items(skip, take)` makes only the page's (a list of thousands
/// is not copied for each page of 100).
fn paginate_with(
    total: usize,
    q: &BTreeMap<String, String>,
    path: &str,
    page_items: impl FnOnce(usize, usize) -> Vec<Value>,
) -> Response {
    let per_page: usize = match q.get("per_page").map(|v| v.parse::<usize>()) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "code": "rest_invalid_param",
                    "message": "Invalid parameter(s): per_page",
                    "data": { "status": 400, "params": { "per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)" },
                              "details": { "per_page": { "code": "rest_out_of_bounds" } } }
                })),
            )
                .into_response()
        }
    };
    let page: usize = q.get("page").and_then(|v| v.parse().ok()).filter(|&p| p >= 1).unwrap_or(1);
    let pages = total.div_ceil(per_page);
    let items: Vec<Value> = page_items((page - 1) * per_page, per_page);
    let mut r = Json(Value::Array(items)).into_response();
    let h = r.headers_mut();
    let put = |h: &mut HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    put(h, "X-WP-Total", total.to_string());
    put(h, "X-WP-TotalPages", pages.to_string());
    let base = if path.starts_with("/wp-json/") { "" } else { "/wp-json/wc/v3" };
    let link = |p: usize, rel: &str| format!("<{base}{path}?page={p}&per_page={per_page}>; rel=\"{rel}\"");
    let mut links = vec![];
    if page > 1 && page <= pages + 1 {
        links.push(link(page - 1, "prev"));
    }
    if page < pages {
        links.push(link(page + 1, "next"));
    }
    if !links.is_empty() {
        put(h, "Link", links.join(", "));
    }
    r
}

async fn list_products(State(sim): State<WooSim>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let skus: Option<Vec<&str>> = q.get("sku").map(|s| s.split(',').map(str::trim).collect());
    // `?include=1,2`: those products (not variations, as WooCommerce lists them).
    let include: Option<Vec<u64>> =
        q.get("include").map(|s| s.split(',').filter_map(|i| i.trim().parse().ok()).collect());
    let inner = sim.lock();
    let wanted = |sku: &Value| skus.as_ref().is_none_or(|s| s.iter().any(|x| sku == &json!(x)));
    let products: Vec<&Map<String, Value>> = inner
        .products
        .values()
        .filter(|p| wanted(&p["sku"]))
        .filter(|p| include.as_ref().is_none_or(|ids| p["id"].as_u64().is_some_and(|id| ids.contains(&id))))
        .filter(|p| q.get("type").is_none_or(|t| p["type"] == json!(t)))
        .collect();
    // `?sku=` also finds variations.
    let variations: Vec<(u64, &Map<String, Value>)> = match skus {
        Some(_) => inner.variations.values().filter(|(_, v)| wanted(&v["sku"])).map(|(p, v)| (*p, v)).collect(),
        None => Vec::new(),
    };
    let total = products.len() + variations.len();
    paginate_with(total, &q, "/products", |skip, take| {
        (skip..(skip + take).min(total))
            .map(|i| match products.get(i) {
                Some(p) => Value::Object((*p).clone()),
                None => {
                    let (parent, v) = variations[i - products.len()];
                    Value::Object(variation_as_product(&inner, parent, v))
                }
            })
            .collect()
    })
}

async fn create_product(State(sim): State<WooSim>, Json(body): Json<Value>) -> Response {
    let mut inner = sim.lock();
    match create(&mut inner, &object(body)) {
        Ok(p) => (StatusCode::CREATED, Json(Value::Object(p))).into_response(),
        Err(e) => err_response(e),
    }
}

async fn get_product(State(sim): State<WooSim>, Path(id): Path<u64>) -> Response {
    match sim.product(id) {
        Some(p) => Json(p).into_response(),
        None => invalid_id(StatusCode::NOT_FOUND),
    }
}

async fn update_product(State(sim): State<WooSim>, Path(id): Path<u64>, Json(body): Json<Value>) -> Response {
    let mut inner = sim.lock();
    match update(&mut inner, id, &object(body)) {
        Ok(p) => Json(Value::Object(p)).into_response(),
        Err(e) => err_response(e),
    }
}

async fn delete_product(
    State(sim): State<WooSim>,
    Path(id): Path<u64>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let mut inner = sim.lock();
    let force = q.get("force").map(String::as_str) == Some("true");
    let Some(p) = inner.products.get_mut(&id) else { return invalid_id(StatusCode::NOT_FOUND) };
    if force {
        let p = inner.products.remove(&id).unwrap_or_default();
        return Json(Value::Object(p)).into_response();
    }
    if p["status"] == json!("trash") {
        return error(StatusCode::GONE, "woocommerce_rest_already_trashed", "The product has already been deleted.");
    }
    p.insert("status".into(), json!("trash"));
    Json(Value::Object(p.clone())).into_response()
}

/// `POST /products/batch` (deletes are forced).
async fn batch_products(State(sim): State<WooSim>, Json(body): Json<Value>) -> Response {
    batch_with(&mut sim.lock(), &body, |inner, op| match op {
        BatchOp::Create(b) => create(inner, &b),
        BatchOp::Update(id, b) => update(inner, id, &b),
        BatchOp::Delete(id) => inner.products.remove(&id).ok_or((
            StatusCode::NOT_FOUND,
            "woocommerce_rest_product_invalid_id",
            "Invalid ID.".into(),
        )),
    })
}

/// A variation as the products endpoint shows it (`?sku=`): the product shape, with
/// `type: "variation"` and its `parent_id`.
fn variation_as_product(inner: &Inner, parent: u64, v: &Map<String, Value>) -> Map<String, Value> {
    let mut p = product_skeleton();
    for (k, val) in variation_view(inner, parent, v) {
        if p.contains_key(&k) {
            p.insert(k, val);
        }
    }
    p.insert("type".into(), json!("variation"));
    p.insert("parent_id".into(), json!(parent));
    p
}

/// A variation as read: `manage_stock` is `"parent"` (with the parent's stock) when the
/// variation does not manage stock and its product does.
fn variation_view(inner: &Inner, parent: u64, v: &Map<String, Value>) -> Map<String, Value> {
    let mut out = v.clone();
    if let Some(p) = inner.products.get(&parent) {
        if v.get("manage_stock") == Some(&json!(false)) && p.get("manage_stock") == Some(&json!(true)) {
            out.insert("manage_stock".into(), json!("parent"));
            out.insert("stock_quantity".into(), p["stock_quantity"].clone());
            out.insert("stock_status".into(), p["stock_status"].clone());
        }
    }
    out
}

fn variation_invalid() -> WcError {
    (StatusCode::BAD_REQUEST, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.".into())
}

fn create_variation_in(
    inner: &mut Inner,
    parent: u64,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, WcError> {
    if !inner.products.contains_key(&parent) {
        return Err((StatusCode::NOT_FOUND, "woocommerce_rest_product_invalid_id", "Invalid ID.".into()));
    }
    let mut v = variation_skeleton();
    apply(inner, &mut v, body)?;
    inner.next_id += 1;
    let id = inner.next_id;
    v.insert("id".into(), json!(id));
    now_fields(&mut v, true);
    inner.variations.insert(id, (parent, v.clone()));
    inner.children.entry(parent).or_default().push(id);
    if let Some(p) = inner.products.get_mut(&parent) {
        if let Some(list) = p.get_mut("variations").and_then(Value::as_array_mut) {
            list.push(json!(id));
        }
    }
    Ok(variation_view(inner, parent, &v))
}

fn update_variation_in(
    inner: &mut Inner,
    parent: u64,
    id: u64,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, WcError> {
    let Some((p, mut v)) = inner.variations.get(&id).cloned() else { return Err(variation_invalid()) };
    if p != parent {
        return Err(variation_invalid());
    }
    apply(inner, &mut v, body)?;
    now_fields(&mut v, false);
    inner.variations.insert(id, (parent, v.clone()));
    Ok(variation_view(inner, parent, &v))
}

async fn list_variations(
    State(sim): State<WooSim>,
    Path(parent): Path<u64>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let inner = sim.lock();
    if !inner.products.contains_key(&parent) {
        return invalid_id(StatusCode::NOT_FOUND);
    }
    let items = inner
        .children
        .get(&parent)
        .into_iter()
        .flatten()
        .filter_map(|id| inner.variations.get(id))
        .map(|(_, v)| Value::Object(variation_view(&inner, parent, v)))
        .collect();
    paginate(items, &q, &format!("/products/{parent}/variations"))
}

async fn create_variation(State(sim): State<WooSim>, Path(parent): Path<u64>, Json(body): Json<Value>) -> Response {
    let mut inner = sim.lock();
    match create_variation_in(&mut inner, parent, &object(body)) {
        Ok(v) => (StatusCode::CREATED, Json(Value::Object(v))).into_response(),
        Err(e) => err_response(e),
    }
}

async fn get_variation(State(sim): State<WooSim>, Path((parent, id)): Path<(u64, u64)>) -> Response {
    let inner = sim.lock();
    match inner.variations.get(&id) {
        Some((p, v)) if *p == parent => Json(Value::Object(variation_view(&inner, parent, v))).into_response(),
        _ => error(StatusCode::NOT_FOUND, "woocommerce_rest_product_variation_invalid_id", "Invalid ID."),
    }
}

async fn update_variation(
    State(sim): State<WooSim>,
    Path((parent, id)): Path<(u64, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let mut inner = sim.lock();
    match update_variation_in(&mut inner, parent, id, &object(body)) {
        Ok(v) => Json(Value::Object(v)).into_response(),
        Err(e) => err_response(e),
    }
}

/// The variations' batch endpoint: the same limit and per-item errors as products'.
async fn batch_variations(State(sim): State<WooSim>, Path(parent): Path<u64>, Json(body): Json<Value>) -> Response {
    batch_with(&mut sim.lock(), &body, |inner, op| match op {
        BatchOp::Create(b) => create_variation_in(inner, parent, &b),
        BatchOp::Update(id, b) => update_variation_in(inner, parent, id, &b),
        BatchOp::Delete(id) => match inner.variations.get(&id) {
            Some((p, _)) if *p == parent => {
                let (_, v) = inner.variations.remove(&id).unwrap_or_default();
                if let Some(c) = inner.children.get_mut(&parent) {
                    c.retain(|x| *x != id);
                }
                Ok(v)
            }
            _ => Err(variation_invalid()),
        },
    })
}

fn order_invalid(status: StatusCode) -> Response {
    error(status, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
}

fn add_note(inner: &mut Inner, order: u64, note: &str, customer_note: bool, author: &str) -> Value {
    inner.next_id += 1;
    let t = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let n = json!({ "id": inner.next_id, "author": author, "date_created": t, "date_created_gmt": t, "note": note, "customer_note": customer_note, "_links": {} });
    inner.notes.entry(order).or_default().push(n.clone());
    n
}

/// Applies an order body; a status change adds WooCommerce's system note.
fn apply_order(
    inner: &mut Inner,
    id: u64,
    o: &mut Map<String, Value>,
    body: &Map<String, Value>,
) -> Result<(), WcError> {
    if let Some(status) = body.get("status") {
        let s = status.as_str().unwrap_or_default();
        if !ORDER_STATUSES.contains(&s) {
            return Err((StatusCode::BAD_REQUEST, "rest_invalid_param", "Invalid parameter(s): status".into()));
        }
        let old = o["status"].as_str().unwrap_or_default().to_string();
        if old != s && id != 0 {
            add_note(
                inner,
                id,
                &format!("Order status changed from {} to {}.", title(&old), title(s)),
                false,
                "system",
            );
        }
    }
    for (k, v) in body {
        if o.contains_key(k) && !READ_ONLY.contains(&k.as_str()) {
            o.insert(k.clone(), v.clone());
        }
    }
    Ok(())
}

/// WooCommerce's label of a status (`wc_get_order_status_name`).
fn title(status: &str) -> String {
    match status {
        "pending" => "Pending payment".into(),
        "processing" => "Processing".into(),
        "on-hold" => "On hold".into(),
        "completed" => "Completed".into(),
        "cancelled" => "Cancelled".into(),
        "refunded" => "Refunded".into(),
        "failed" => "Failed".into(),
        "checkout-draft" => "Draft".into(),
        other => other.to_string(),
    }
}

async fn list_orders(State(sim): State<WooSim>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let inner = sim.lock();
    let items = inner
        .orders
        .values()
        .rev()
        .filter(|o| q.get("status").is_none_or(|s| o["status"] == json!(s)))
        .map(|o| Value::Object(o.clone()))
        .collect();
    paginate(items, &q, "/orders")
}

async fn create_order(State(sim): State<WooSim>, Json(body): Json<Value>) -> Response {
    let mut inner = sim.lock();
    let mut o = order_skeleton();
    if let Err(r) = apply_order(&mut inner, 0, &mut o, &object(body)) {
        return err_response(r);
    }
    inner.next_id += 1;
    let id = inner.next_id;
    o.insert("id".into(), json!(id));
    o.insert("number".into(), json!(id.to_string()));
    o.insert("order_key".into(), json!(format!("wc_order_{id:013}")));
    now_fields(&mut o, true);
    inner.orders.insert(id, o.clone());
    (StatusCode::CREATED, Json(Value::Object(o))).into_response()
}

async fn get_order(State(sim): State<WooSim>, Path(id): Path<u64>) -> Response {
    match sim.order(id) {
        Some(o) => Json(o).into_response(),
        None => order_invalid(StatusCode::NOT_FOUND),
    }
}

async fn update_order(State(sim): State<WooSim>, Path(id): Path<u64>, Json(body): Json<Value>) -> Response {
    let mut inner = sim.lock();
    let Some(mut o) = inner.orders.get(&id).cloned() else { return order_invalid(StatusCode::BAD_REQUEST) };
    if let Err(r) = apply_order(&mut inner, id, &mut o, &object(body)) {
        return err_response(r);
    }
    now_fields(&mut o, false);
    inner.orders.insert(id, o.clone());
    Json(Value::Object(o)).into_response()
}

async fn list_notes(State(sim): State<WooSim>, Path(id): Path<u64>) -> Response {
    let inner = sim.lock();
    if !inner.orders.contains_key(&id) {
        return order_invalid(StatusCode::NOT_FOUND);
    }
    // Newest first, as WooCommerce lists them.
    let notes: Vec<Value> = inner.notes.get(&id).map(|n| n.iter().rev().cloned().collect()).unwrap_or_default();
    Json(Value::Array(notes)).into_response()
}

async fn create_note(State(sim): State<WooSim>, Path(id): Path<u64>, Json(body): Json<Value>) -> Response {
    let mut inner = sim.lock();
    if !inner.orders.contains_key(&id) {
        return order_invalid(StatusCode::NOT_FOUND);
    }
    let Some(note) = body.get("note").and_then(Value::as_str).filter(|n| !n.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "rest_missing_callback_param", "Missing parameter(s): note");
    };
    let customer = body.get("customer_note").and_then(Value::as_bool).unwrap_or(false);
    let n = add_note(&mut inner, id, note, customer, "storesync");
    (StatusCode::CREATED, Json(n)).into_response()
}
