//! A Shopify GraphQL Admin API simulator (`POST /admin/api/{version}/graphql.json`) with state,
//! answering as the real API does (`../shared/PLATFORMS.md` §A, simulator checklist §C):
//! - the cost-based leaky bucket per shop (size and restore rate configurable; Standard plan by
//!   default: 100 points/s): the requested cost is reserved, the difference to the actual cost
//!   refunded; an empty bucket answers `THROTTLED` with HTTP 200, no `data` and
//!   `actualQueryCost: null`; every answer carries `extensions.cost`;
//! - `MAX_COST_EXCEEDED` over 1,000 points, `first`/`last` required and at most 250, input
//!   arrays at most 250 (`MAX_INPUT_SIZE_EXCEEDED`), a bad token 401 with a string `errors`;
//! - reads: `locations`, `products` (with `variants`), `productVariants` (`query: "sku:…"`),
//!   inventory items and levels, cursor pagination with opaque cursors, GIDs;
//! - `inventorySetQuantities` as 2026-04 has it: `@idempotent(key:)` on the field is required
//!   (same key and variables replay the first result, other variables are refused),
//!   `changeFromQuantity` is required (`null` skips the check; a stale one fails the whole call
//!   with `CHANGE_FROM_QUANTITY_STALE`), `available` and `on_hand` move together;
//! - injectable faults (5xx, delays, lost replies).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use graphql_parser::query::{Definition, Field, OperationDefinition, Selection, SelectionSet};
use serde_json::{json, Map, Value};

use super::{gid, gid_id};
use crate::fault::{Fault, FaultPlan};

type Gql<'a> = graphql_parser::query::Value<'a, String>;

/// The most points one query may cost.
pub const MAX_QUERY_COST: f64 = 1000.0;
/// The most items a connection page or an input array may hold.
pub const MAX_PAGE: i64 = 250;
/// What a mutation's root field costs.
pub const MUTATION_COST: f64 = 10.0;

/// The shop's rate limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub size: f64,
    /// Points restored per second.
    pub restore_rate: f64,
}

impl Default for Bucket {
    /// The Standard plan: 100 points a second, a bucket of 1,000.
    fn default() -> Self {
        Self { size: 1000.0, restore_rate: 100.0 }
    }
}

/// What the simulator counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub requests: u64,
    /// Requests answered `THROTTLED`.
    pub throttled: u64,
    /// Points actually spent (requested, less refunds).
    pub points: f64,
    /// `inventorySetQuantities` calls that applied, and the quantities they set.
    pub set_calls: u64,
    pub quantities_set: u64,
    /// Calls answered from an idempotency key's first result (nothing applied again).
    pub idempotent_replays: u64,
    pub faults_served: u64,
    /// When the first and the latest request arrived.
    pub first_at: Option<Instant>,
    pub last_at: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Variant {
    product: u64,
    title: String,
    sku: String,
    price: String,
    item: u64,
    compare_at: Option<String>,
    barcode: Option<String>,
    /// The inventory item's `measurement.weight`: (value, unit: `GRAMS`, `KILOGRAMS`, `OUNCES`
    /// or `POUNDS`); none reads as 0 kilograms.
    weight: Option<(f64, String)>,
    /// `selectedOptions`: (option name, value).
    options: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy)]
struct Level {
    available: i64,
    on_hand: i64,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    locations: BTreeMap<u64, String>,
    products: BTreeMap<u64, (String, Vec<u64>)>,
    /// A product's other fields as the API reads them (`handle`, `descriptionHtml`, `status`,
    /// `tags`, `seo`, `images`: the URLs of its media images).
    product_fields: BTreeMap<u64, Map<String, Value>>,
    variants: BTreeMap<u64, Variant>,
    /// Inventory item → its variant.
    items: BTreeMap<u64, u64>,
    /// SKU → variant, for the test-side helpers.
    by_sku: HashMap<String, u64>,
    levels: HashMap<(u64, u64), Level>,
    /// The webhooks queued for the subscriber.
    outbox: webhooks::Outbox,
    /// Idempotency key → (the variables it was first used with, the root field's result).
    idempotency: HashMap<String, (String, Value)>,
    /// Keys whose call applied a change.
    applied_keys: HashSet<String>,
    /// Online-store pages and collections (`content`).
    pages: BTreeMap<u64, Map<String, Value>>,
    collections: BTreeMap<u64, Map<String, Value>>,
    blogs: BTreeMap<u64, Map<String, Value>>,
    articles: BTreeMap<u64, Map<String, Value>>,
    /// Basic code discounts (`discounts`), as `DiscountCodeBasic` reads.
    discounts: BTreeMap<u64, Map<String, Value>>,
    /// Bulk operations (`bulk`), and the shop's base URL as the latest request reached it (the
    /// operations' result URLs are under it).
    bulk: BTreeMap<u64, bulk::BulkOp>,
    base_url: String,
    available: f64,
    refilled: Option<Instant>,
    faults: FaultPlan,
    stats: Stats,
}

/// The simulator; clones share the shop.
#[derive(Clone)]
pub struct ShopifySim {
    inner: Arc<Mutex<Inner>>,
    token: String,
    bucket: Bucket,
}

mod bulk;
mod content;
mod discounts;
mod products;
mod webhooks;

pub use webhooks::Delivered;

/// The SKUs of a `productVariants` search `sku:A OR sku:"B C"` (quotes optional, `\"` inside
/// them a quote); none for any other search.
fn sku_search(q: &str) -> Option<Vec<String>> {
    q.split(" OR ")
        .map(|term| {
            let v = term.trim().strip_prefix("sku:")?;
            Some(match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\\\"", "\""),
                None => v.to_string(),
            })
        })
        .collect()
}

/// A top-level GraphQL error.
struct GqlError {
    code: &'static str,
    message: String,
}

fn err(code: &'static str, message: impl Into<String>) -> GqlError {
    GqlError { code, message: message.into() }
}

impl ShopifySim {
    pub fn new(token: &str, bucket: Bucket) -> Self {
        let inner = Inner { next_id: 1000, available: bucket.size, ..Inner::default() };
        Self { inner: Arc::new(Mutex::new(inner)), token: token.to_string(), bucket }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A location; returns its GID.
    pub fn add_location(&self, name: &str) -> String {
        let mut s = self.lock();
        s.next_id += 1;
        let id = s.next_id;
        s.locations.insert(id, name.to_string());
        gid("Location", id)
    }

    /// A product with variants `(sku, title, price)`, each stocked at every location with
    /// `available` (and as much on hand); returns the product's GID.
    /// A product made as `productSet(input:)` makes one (seeding a shop with whole products);
    /// its id, or the user errors.
    pub fn product_set(&self, input: Value) -> Result<String, Vec<Value>> {
        products::product_set(&mut self.lock(), &input, &Value::Null).map(|id| gid("Product", id))
    }

    pub fn add_product(&self, title: &str, variants: &[(&str, &str, &str)], available: i64) -> String {
        let mut s = self.lock();
        s.next_id += 1;
        let pid = s.next_id;
        let locations: Vec<u64> = s.locations.keys().copied().collect();
        let mut ids = Vec::new();
        for (sku, vtitle, price) in variants {
            s.next_id += 2;
            let (vid, item) = (s.next_id - 1, s.next_id);
            s.variants.insert(
                vid,
                Variant {
                    product: pid,
                    title: vtitle.to_string(),
                    sku: sku.to_string(),
                    price: price.to_string(),
                    item,
                    compare_at: None,
                    barcode: None,
                    weight: None,
                    options: vec![(
                        if variants.len() == 1 { "Title" } else { "Option" }.to_string(),
                        vtitle.to_string(),
                    )],
                },
            );
            s.items.insert(item, vid);
            s.by_sku.insert(sku.to_string(), vid);
            for loc in &locations {
                s.levels.insert((item, *loc), Level { available, on_hand: available });
            }
            ids.push(vid);
        }
        s.products.insert(pid, (title.to_string(), ids));
        let handle = products::unique_handle(&s, title, pid);
        s.product_fields.insert(pid, products::default_fields(&handle));
        webhooks::product_changed(&mut s, pid, true);
        gid("Product", pid)
    }

    /// `available` of the variant with `sku` at `location` (a GID).
    pub fn available(&self, sku: &str, location: &str) -> Option<i64> {
        let s = self.lock();
        let loc = gid_id("Location", location)?;
        let v = s.by_sku.get(sku).and_then(|id| s.variants.get(id))?;
        s.levels.get(&(v.item, loc)).map(|l| l.available)
    }

    /// Sets `available` (and `on_hand` by the same delta) behind the API's back, as a sale would.
    pub fn set_available(&self, sku: &str, location: &str, available: i64) {
        let mut s = self.lock();
        let Some(loc) = gid_id("Location", location) else { return };
        let Some(item) = s.by_sku.get(sku).and_then(|id| s.variants.get(id)).map(|v| v.item) else { return };
        if let Some(l) = s.levels.get_mut(&(item, loc)) {
            l.on_hand += available - l.available;
            l.available = available;
        }
        webhooks::level_changed(&mut s, item, loc);
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Every variant's SKU and inventory item GID, in id order.
    pub fn inventory_items(&self) -> Vec<(String, String)> {
        self.lock().variants.values().map(|v| (v.sku.clone(), gid("InventoryItem", v.item))).collect()
    }

    /// The bucket this shop was made with.
    pub fn bucket(&self) -> Bucket {
        self.bucket
    }

    /// The idempotency keys whose calls applied a change.
    pub fn applied_keys(&self) -> HashSet<String> {
        self.lock().applied_keys.clone()
    }

    /// The next requests meet these faults, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.inject(faults);
    }

    /// Each request meets one of `faults` with probability `share` (seeded); empty stops it.
    pub fn fail_randomly(&self, share: f64, faults: Vec<Fault>, seed: u64) {
        self.lock().faults.fail_randomly(share, faults, seed);
    }

    /// The router, to be mounted at the shop's base (it serves
    /// `/admin/api/{version}/graphql.json`).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/admin/api/{version}/graphql.json", post(graphql))
            .route("/bulk/{file}", axum::routing::get(bulk_file))
            .with_state(self.clone())
    }

    /// Points available now (refilled at the restore rate since the last request).
    fn refill(&self, s: &mut Inner) -> f64 {
        let now = Instant::now();
        if let Some(t) = s.refilled {
            s.available =
                (s.available + now.duration_since(t).as_secs_f64() * self.bucket.restore_rate).min(self.bucket.size);
        }
        s.refilled = Some(now);
        s.available
    }

    fn cost_status(&self, s: &Inner, requested: f64, actual: Option<f64>) -> Value {
        json!({ "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.bucket.size,
                "currentlyAvailable": s.available.floor(),
                "restoreRate": self.bucket.restore_rate,
            }
        }})
    }
}

fn errors_body(errors: &[GqlError]) -> Vec<Value> {
    errors.iter().map(|e| json!({ "message": e.message, "extensions": { "code": e.code } })).collect()
}

/// A bulk operation's JSONL result.
async fn bulk_file(State(sim): State<ShopifySim>, Path(file): Path<String>) -> Response {
    match bulk::file(&sim.lock(), &file) {
        Some(body) => ([("content-type", "application/jsonl")], body).into_response(),
        None => (StatusCode::NOT_FOUND, "NoSuchKey").into_response(),
    }
}

async fn graphql(
    State(sim): State<ShopifySim>,
    Path(version): Path<String>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fault = {
        let mut s = sim.lock();
        // The shop's base as this request reached it (a prefix when mounted under one).
        let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        let prefix = uri.path().split("/admin/api/").next().unwrap_or_default();
        s.base_url = format!("http://{host}{prefix}");
        let now = Instant::now();
        s.stats.requests += 1;
        s.stats.first_at.get_or_insert(now);
        s.stats.last_at = Some(now);
        let f = s.faults.draw();
        s.stats.faults_served = s.faults.served;
        f
    };
    match fault {
        Some(Fault::Status { code, retry_after_secs }) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = (status, Json(json!({ "errors": "Internal Server Error" }))).into_response();
            if let Some(secs) = retry_after_secs {
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    r.headers_mut().insert("retry-after", v);
                }
            }
            return r;
        }
        Some(Fault::Delay { millis }) => tokio::time::sleep(Duration::from_millis(millis)).await,
        Some(Fault::LostReply { .. }) | None => {}
    }
    if headers.get("x-shopify-access-token").and_then(|v| v.to_str().ok()) != Some(sim.token.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)" })),
        )
            .into_response();
    }
    let answered = if version.as_str() >= super::API_VERSION { version } else { super::API_VERSION.to_string() };
    let out = sim.execute(&body);
    let mut r = Json(out).into_response();
    if let Ok(v) = HeaderValue::from_str(&answered) {
        r.headers_mut().insert("x-shopify-api-version", v);
    }
    if let Some(Fault::LostReply { millis }) = fault {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    r
}

/// A request's operation, its variables, and the selection of its root.
struct Op<'q> {
    mutation: bool,
    selection: &'q SelectionSet<'q, String>,
    vars: Map<String, Value>,
}

impl ShopifySim {
    /// One request body (`{query, variables}`) → the response body.
    fn execute(&self, body: &[u8]) -> Value {
        let fail = |e: GqlError| json!({ "errors": errors_body(&[e]) });
        let req: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return fail(err("BAD_REQUEST", format!("the body is not JSON: {e}"))),
        };
        let Some(text) = req["query"].as_str() else {
            return fail(err("BAD_REQUEST", "a query is required"));
        };
        let doc = match graphql_parser::parse_query::<String>(text) {
            Ok(d) => d,
            Err(e) => return fail(err("BAD_REQUEST", format!("syntax error: {e}"))),
        };
        let vars = req["variables"].as_object().cloned().unwrap_or_default();
        let op = doc.definitions.iter().find_map(|d| match d {
            Definition::Operation(OperationDefinition::Query(q)) => {
                Some((false, &q.selection_set, q.directives.is_empty()))
            }
            Definition::Operation(OperationDefinition::SelectionSet(s)) => Some((false, s, true)),
            Definition::Operation(OperationDefinition::Mutation(m)) => {
                Some((true, &m.selection_set, m.directives.is_empty()))
            }
            _ => None,
        });
        let Some((mutation, selection, plain)) = op else {
            return fail(err("BAD_REQUEST", "no query or mutation in the document"));
        };
        if !plain {
            return fail(err(
                "BAD_REQUEST",
                "Directive 'idempotent' may not be used on operations; put it on the field.",
            ));
        }
        let op = Op { mutation, selection, vars };
        if let Err(e) = validate(&op) {
            return fail(e);
        }
        let requested = requested_cost(&op);
        let mut s = self.lock();
        if requested > MAX_QUERY_COST {
            let mut out = fail(err(
                "MAX_COST_EXCEEDED",
                format!("Query cost is {requested}, which exceeds the single query max cost limit (1000)."),
            ));
            out["extensions"] = self.cost_status(&s, requested, None);
            return out;
        }
        let available = self.refill(&mut s);
        if requested > available {
            s.stats.throttled += 1;
            let mut out = json!({ "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED" } }] });
            out["extensions"] = self.cost_status(&s, requested, None);
            return out;
        }
        s.available -= requested;
        let mut actual = 0.0;
        let mut data = Map::new();
        let mut errors = Vec::new();
        for sel in &op.selection.items {
            let Selection::Field(f) = sel else { continue };
            let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
            let value = if op.mutation {
                actual += MUTATION_COST;
                match self.mutate(&mut s, f, &op.vars) {
                    Ok(v) => v,
                    Err(e) => {
                        errors.push(e);
                        Value::Null
                    }
                }
            } else if f.name == "bulkOperation" {
                actual += 1.0;
                select(&bulk::poll(&mut s, &arg(&f.arguments, "id", &op.vars)), &f.selection_set)
            } else {
                match resolve_root(&s, f, &op.vars, &mut actual) {
                    Ok(v) => v,
                    Err(e) => {
                        errors.push(e);
                        Value::Null
                    }
                }
            };
            data.insert(key, value);
        }
        let actual = actual.min(requested);
        s.available = (s.available + requested - actual).min(self.bucket.size);
        s.stats.points += actual;
        let mut out = json!({ "data": data });
        if !errors.is_empty() {
            out["errors"] = json!(errors_body(&errors));
        }
        out["extensions"] = self.cost_status(&s, requested, Some(actual));
        out
    }

    fn mutate(&self, s: &mut Inner, f: &Field<'_, String>, vars: &Map<String, Value>) -> Result<Value, GqlError> {
        match f.name.as_str() {
            "inventorySetQuantities" => {
                let Some(dir) = f.directives.iter().find(|d| d.name == "idempotent") else {
                    return Err(err(
                        "BAD_REQUEST",
                        "The @idempotent directive is required for this mutation but was not provided.",
                    ));
                };
                let key = arg(&dir.arguments, "key", vars).as_str().map(str::to_string).unwrap_or_default();
                if key.is_empty() {
                    return Err(err("BAD_REQUEST", "The @idempotent directive needs a non-empty key."));
                }
                let input = arg(&f.arguments, "input", vars);
                let fingerprint = input.to_string();
                if let Some((first, result)) = s.idempotency.get(&key) {
                    if *first != fingerprint {
                        return Err(err(
                            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                            "The same idempotency key was used with different parameters.",
                        ));
                    }
                    s.stats.idempotent_replays += 1;
                    return Ok(select(result, &f.selection_set));
                }
                let result = set_quantities(s, &input, &key)?;
                s.idempotency.insert(key, (fingerprint, result.clone()));
                Ok(select(&result, &f.selection_set))
            }
            "productSet" | "productDelete" => Ok(select(&products::mutate(s, f, vars), &f.selection_set)),
            "bulkOperationRunQuery" => Ok(select(&bulk::mutate(s, f, vars), &f.selection_set)),
            other => match content::mutate(s, f, vars)? {
                Some(v) => Ok(v),
                None if other.starts_with("discountCode") => discounts::mutate(s, f, vars)?
                    .ok_or_else(|| err("BAD_REQUEST", format!("Field '{other}' doesn't exist on type 'Mutation'"))),
                None => Err(err("BAD_REQUEST", format!("Field '{other}' doesn't exist on type 'Mutation'"))),
            },
        }
    }
}

/// An argument's value with variables substituted, as JSON (`Null` when absent).
fn arg(args: &[(String, Gql<'_>)], name: &str, vars: &Map<String, Value>) -> Value {
    args.iter().find(|(n, _)| n == name).map(|(_, v)| to_json(v, vars)).unwrap_or(Value::Null)
}

fn to_json(v: &Gql<'_>, vars: &Map<String, Value>) -> Value {
    use graphql_parser::query::Value as V;
    match v {
        V::Variable(name) => vars.get(name).cloned().unwrap_or(Value::Null),
        V::Int(n) => json!(n.as_i64()),
        V::Float(f) => json!(f),
        V::String(s) => json!(s),
        V::Boolean(b) => json!(b),
        V::Null => Value::Null,
        V::Enum(e) => json!(e),
        V::List(items) => Value::Array(items.iter().map(|i| to_json(i, vars)).collect()),
        V::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v, vars))).collect()),
    }
}

/// Connections: the fields whose cost is 2 + `first` × a node's.
const CONNECTIONS: &[&str] = &[
    "locations",
    "products",
    "media",
    "productVariants",
    "variants",
    "inventoryLevels",
    "pages",
    "collections",
    "blogs",
    "articles",
    "codeDiscountNodes",
    "codes",
];

/// The checks Shopify makes before it runs a query: `first`/`last` on every connection (at
/// most 250), input arrays of at most 250.
fn validate(op: &Op<'_>) -> Result<(), GqlError> {
    fn walk(set: &SelectionSet<'_, String>, vars: &Map<String, Value>) -> Result<(), GqlError> {
        for sel in &set.items {
            let Selection::Field(f) = sel else { continue };
            if CONNECTIONS.contains(&f.name.as_str()) {
                let n = arg(&f.arguments, "first", vars).as_i64().or_else(|| arg(&f.arguments, "last", vars).as_i64());
                match n {
                    None => return Err(err("BAD_REQUEST", "you must provide one of first or last")),
                    Some(n) if !(0..=MAX_PAGE).contains(&n) => {
                        return Err(err(
                            "BAD_REQUEST",
                            format!("The value of first or last must be between 0 and {MAX_PAGE}, not {n}."),
                        ))
                    }
                    _ => {}
                }
            }
            for (_, v) in &f.arguments {
                let j = to_json(v, vars);
                if let Some(q) = j.get("quantities").and_then(Value::as_array) {
                    if q.len() as i64 > MAX_PAGE {
                        return Err(err(
                            "MAX_INPUT_SIZE_EXCEEDED",
                            format!(
                                "The input array size of {} is greater than the maximum allowed of {MAX_PAGE}.",
                                q.len()
                            ),
                        ));
                    }
                }
            }
            walk(&f.selection_set, vars)?;
        }
        Ok(())
    }
    walk(op.selection, &op.vars)
}

/// The requested cost: objects 1, scalars 0, a connection 2 + `first` × a node's cost, a
/// mutation's root field 10.
fn requested_cost(op: &Op<'_>) -> f64 {
    if op.mutation {
        return op.selection.items.len() as f64 * MUTATION_COST;
    }
    set_cost(op.selection, &op.vars)
}

fn set_cost(set: &SelectionSet<'_, String>, vars: &Map<String, Value>) -> f64 {
    set.items
        .iter()
        .map(|sel| match sel {
            Selection::Field(f) => field_cost(f, vars),
            Selection::InlineFragment(frag) => set_cost(&frag.selection_set, vars),
            Selection::FragmentSpread(_) => 0.0,
        })
        .sum()
}

fn field_cost(f: &Field<'_, String>, vars: &Map<String, Value>) -> f64 {
    if f.selection_set.items.is_empty() {
        return 0.0;
    }
    if CONNECTIONS.contains(&f.name.as_str()) {
        let first = arg(&f.arguments, "first", vars)
            .as_f64()
            .or_else(|| arg(&f.arguments, "last", vars).as_f64())
            .unwrap_or(0.0);
        return 2.0 + first * node_cost(&f.selection_set, vars);
    }
    1.0 + set_cost(&f.selection_set, vars)
}

/// What one node of a connection costs: 1 plus its selections (under `nodes` or `edges.node`).
fn node_cost(conn: &SelectionSet<'_, String>, vars: &Map<String, Value>) -> f64 {
    let mut cost: f64 = 1.0;
    for sel in &conn.items {
        let Selection::Field(f) = sel else { continue };
        let inner = match f.name.as_str() {
            "nodes" => Some(&f.selection_set),
            "edges" => f.selection_set.items.iter().find_map(|s| match s {
                Selection::Field(n) if n.name == "node" => Some(&n.selection_set),
                _ => None,
            }),
            _ => None,
        };
        if let Some(set) = inner {
            cost = cost.max(1.0 + set_cost(set, vars));
        }
    }
    cost
}

/// The page a connection argument set asks for, from ordered ids.
fn page(ids: Vec<u64>, f: &Field<'_, String>, vars: &Map<String, Value>) -> (Vec<u64>, bool) {
    let first = arg(&f.arguments, "first", vars).as_i64().unwrap_or(0).max(0) as usize;
    let after = arg(&f.arguments, "after", vars).as_str().and_then(decode_cursor);
    let rest: Vec<u64> = ids.into_iter().filter(|id| after.is_none_or(|a| *id > a)).collect();
    let more = rest.len() > first;
    (rest.into_iter().take(first).collect(), more)
}

fn cursor(id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"last_id\":{id}}}"))
}

fn decode_cursor(c: &str) -> Option<u64> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(c).ok()?;
    serde_json::from_slice::<Value>(&bytes).ok()?["last_id"].as_u64()
}

/// A connection over `ids`, each node made by `node`; adds the actual cost.
fn connection(
    ids: Vec<u64>,
    f: &Field<'_, String>,
    vars: &Map<String, Value>,
    actual: &mut f64,
    mut node: impl FnMut(u64, &SelectionSet<'_, String>, &mut f64) -> Value,
) -> Value {
    let (ids, more) = page(ids, f, vars);
    *actual += 2.0 + ids.len() as f64 * node_cost(&f.selection_set, vars);
    let mut out = Map::new();
    for sel in &f.selection_set.items {
        let Selection::Field(c) = sel else { continue };
        let key = c.alias.clone().unwrap_or_else(|| c.name.clone());
        let v = match c.name.as_str() {
            "nodes" => Value::Array(ids.iter().map(|id| node(*id, &c.selection_set, &mut 0.0)).collect()),
            "edges" => Value::Array(
                ids.iter()
                    .map(|id| {
                        let mut e = Map::new();
                        for s in &c.selection_set.items {
                            let Selection::Field(x) = s else { continue };
                            let k = x.alias.clone().unwrap_or_else(|| x.name.clone());
                            match x.name.as_str() {
                                "cursor" => e.insert(k, json!(cursor(*id))),
                                "node" => e.insert(k, node(*id, &x.selection_set, &mut 0.0)),
                                _ => e.insert(k, Value::Null),
                            };
                        }
                        Value::Object(e)
                    })
                    .collect(),
            ),
            "pageInfo" => {
                let info = json!({
                    "hasNextPage": more,
                    "hasPreviousPage": arg(&f.arguments, "after", vars).is_string(),
                    "endCursor": ids.last().map(|id| cursor(*id)),
                    "startCursor": ids.first().map(|id| cursor(*id)),
                });
                select(&info, &c.selection_set)
            }
            _ => Value::Null,
        };
        out.insert(key, v);
    }
    Value::Object(out)
}

/// `value` narrowed to the selection (aliases honoured); scalars as they are.
fn select(value: &Value, set: &SelectionSet<'_, String>) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|i| select(i, set)).collect()),
        Value::Object(m) if !set.items.is_empty() => {
            let mut out = Map::new();
            select_into(m, set, &mut out);
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The selected fields of an object; an inline fragment (`... on T`) applies when the object's
/// `__typename` is `T` (or it has none).
fn select_into(m: &Map<String, Value>, set: &SelectionSet<'_, String>, out: &mut Map<String, Value>) {
    for sel in &set.items {
        match sel {
            Selection::Field(f) => {
                let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
                out.insert(key, m.get(&f.name).map(|v| select(v, &f.selection_set)).unwrap_or(Value::Null));
            }
            Selection::InlineFragment(frag) => {
                let applies = match &frag.type_condition {
                    Some(graphql_parser::query::TypeCondition::On(t)) => {
                        m.get("__typename").and_then(Value::as_str).is_none_or(|n| n == t)
                    }
                    None => true,
                };
                if applies {
                    select_into(m, &frag.selection_set, out);
                }
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

fn resolve_root(
    s: &Inner,
    f: &Field<'_, String>,
    vars: &Map<String, Value>,
    actual: &mut f64,
) -> Result<Value, GqlError> {
    match f.name.as_str() {
        "locations" => {
            Ok(connection(s.locations.keys().copied().collect(), f, vars, actual, |id, set, _| location(s, id, set)))
        }
        "products" => Ok(connection(s.products.keys().copied().collect(), f, vars, actual, |id, set, a| {
            product(s, id, set, vars, a)
        })),
        "productVariants" => {
            let query = arg(&f.arguments, "query", vars);
            let skus = match query.as_str() {
                Some(q) => Some(sku_search(q).ok_or_else(|| {
                    err("BAD_REQUEST", format!("the simulator searches variants by sku only (sku:X OR sku:Y): {q}"))
                })?),
                None => None,
            };
            let ids =
                s.variants.iter().filter(|(_, v)| skus.as_ref().is_none_or(|k| k.contains(&v.sku))).map(|(id, _)| *id);
            Ok(connection(ids.collect(), f, vars, actual, |id, set, a| variant(s, id, set, vars, a)))
        }
        "productsCount" => {
            *actual += 1.0;
            Ok(select(&json!({ "count": s.products.len(), "precision": "EXACT" }), &f.selection_set))
        }
        "product" => {
            *actual += 1.0;
            let id = arg(&f.arguments, "id", vars).as_str().and_then(|g| gid_id("Product", g));
            Ok(id.map(|id| product(s, id, &f.selection_set, vars, actual)).unwrap_or(Value::Null))
        }
        "pages" => Ok(content::list(content::Kind::Page, s, f, vars, actual)),
        "collections" => Ok(content::list(content::Kind::Collection, s, f, vars, actual)),
        "blogs" => Ok(content::list(content::Kind::Blog, s, f, vars, actual)),
        "articles" => Ok(content::list(content::Kind::Article, s, f, vars, actual)),
        "page" | "collection" | "blog" | "article" => {
            *actual += 1.0;
            let kind = match f.name.as_str() {
                "page" => content::Kind::Page,
                "blog" => content::Kind::Blog,
                "article" => content::Kind::Article,
                _ => content::Kind::Collection,
            };
            Ok(content::one(kind, s, f, vars))
        }
        other => discounts::query(s, f, vars, actual)
            .ok_or_else(|| err("BAD_REQUEST", format!("Field '{other}' doesn't exist on type 'QueryRoot'"))),
    }
}

/// Resolves the fields of one object: scalars from `scalars`, objects and connections by `nested`.
fn object(
    set: &SelectionSet<'_, String>,
    scalars: &Value,
    mut nested: impl FnMut(&Field<'_, String>) -> Option<Value>,
) -> Value {
    let mut out = Map::new();
    for sel in &set.items {
        let Selection::Field(f) = sel else { continue };
        let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
        let v = match nested(f) {
            Some(v) => v,
            None => scalars.get(&f.name).cloned().unwrap_or(Value::Null),
        };
        out.insert(key, v);
    }
    Value::Object(out)
}

fn location(s: &Inner, id: u64, set: &SelectionSet<'_, String>) -> Value {
    let name = s.locations.get(&id).cloned().unwrap_or_default();
    object(set, &json!({ "id": gid("Location", id), "name": name, "isActive": true }), |_| None)
}

fn product(s: &Inner, id: u64, set: &SelectionSet<'_, String>, vars: &Map<String, Value>, actual: &mut f64) -> Value {
    let Some((title, variants)) = s.products.get(&id) else { return Value::Null };
    let mut scalars = Value::Object(s.product_fields.get(&id).cloned().unwrap_or_default());
    scalars["id"] = json!(gid("Product", id));
    scalars["title"] = json!(title);
    object(set, &scalars, |f| match f.name.as_str() {
        "variants" => Some(connection(variants.clone(), f, vars, actual, |vid, vs, a| variant(s, vid, vs, vars, a))),
        "collections" => {
            let ids: Vec<u64> = scalars["collections"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_u64)
                .filter(|c| s.collections.contains_key(c))
                .collect();
            Some(connection(ids, f, vars, actual, |c, cs, _| content::node(content::Kind::Collection, s, c, cs)))
        }
        "media" => {
            let nodes: Vec<Value> = scalars["images"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, url)| {
                    json!({ "__typename": "MediaImage", "id": gid("MediaImage", id * 100 + i as u64), "image": { "url": url } })
                })
                .collect();
            let edges: Vec<Value> = nodes.iter().map(|n| json!({ "node": n })).collect();
            let conn = json!({ "nodes": nodes, "edges": edges, "pageInfo": { "hasNextPage": false } });
            Some(select(&conn, &f.selection_set))
        }
        "metafield" => Some(content::metafield(scalars.as_object().unwrap_or(&Map::new()), f)),
        _ => None,
    })
}

fn variant(s: &Inner, id: u64, set: &SelectionSet<'_, String>, vars: &Map<String, Value>, actual: &mut f64) -> Value {
    let Some(v) = s.variants.get(&id) else { return Value::Null };
    let total: i64 = s.levels.iter().filter(|((item, _), _)| *item == v.item).map(|(_, l)| l.available).sum();
    let scalars = json!({
        "id": gid("ProductVariant", id), "title": v.title, "sku": v.sku, "price": v.price,
        "compareAtPrice": v.compare_at, "barcode": v.barcode, "inventoryQuantity": total, "inventoryPolicy": "DENY",
        "selectedOptions": v.options.iter().map(|(n, x)| json!({ "name": n, "value": x })).collect::<Vec<_>>(),
        "displayName": format!("{} - {}", s.products.get(&v.product).map(|p| p.0.as_str()).unwrap_or(""), v.title),
    });
    object(set, &scalars, |f| match f.name.as_str() {
        "product" => Some(product(s, v.product, &f.selection_set, vars, actual)),
        "inventoryItem" => Some(item(s, v.item, &f.selection_set, vars, actual)),
        _ => None,
    })
}

fn item(s: &Inner, id: u64, set: &SelectionSet<'_, String>, vars: &Map<String, Value>, actual: &mut f64) -> Value {
    let variant = s.items.get(&id).and_then(|v| s.variants.get(v));
    let sku = variant.map(|v| v.sku.clone());
    let scalars = json!({ "id": gid("InventoryItem", id), "sku": sku, "tracked": true });
    object(set, &scalars, |f| match f.name.as_str() {
        "measurement" => {
            // Every variant has a weight: 0 in the shop's unit until one is set.
            let (value, unit) = variant.and_then(|v| v.weight.clone()).unwrap_or((0.0, "KILOGRAMS".into()));
            let weight = json!({ "value": value, "unit": unit });
            Some(select(&json!({ "weight": weight }), &f.selection_set))
        }
        "inventoryLevel" => {
            let loc = arg(&f.arguments, "locationId", vars).as_str().and_then(|g| gid_id("Location", g));
            Some(loc.map(|l| level(s, id, l, &f.selection_set, vars)).unwrap_or(Value::Null))
        }
        "inventoryLevels" => {
            let locs: Vec<u64> = s.locations.keys().copied().filter(|l| s.levels.contains_key(&(id, *l))).collect();
            Some(connection(locs, f, vars, actual, |l, ls, _| level(s, id, l, ls, vars)))
        }
        _ => None,
    })
}

fn level(s: &Inner, item: u64, loc: u64, set: &SelectionSet<'_, String>, vars: &Map<String, Value>) -> Value {
    let Some(l) = s.levels.get(&(item, loc)) else { return Value::Null };
    let scalars = json!({ "id": format!("gid://shopify/InventoryLevel/{loc}?inventory_item_id={item}") });
    object(set, &scalars, |f| match f.name.as_str() {
        "location" => Some(location(s, loc, &f.selection_set)),
        "quantities" => {
            let names = arg(&f.arguments, "names", vars);
            let names: Vec<&str> =
                names.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            let q: Vec<Value> = names
                .iter()
                .map(|n| {
                    let quantity = match *n {
                        "available" => l.available,
                        "on_hand" => l.on_hand,
                        "committed" => l.on_hand - l.available,
                        _ => 0,
                    };
                    json!({ "name": n, "quantity": quantity })
                })
                .collect();
            Some(select(&Value::Array(q), &f.selection_set))
        }
        _ => None,
    })
}

/// `inventorySetQuantities`: all or nothing. Returns the payload (before selection).
fn set_quantities(s: &mut Inner, input: &Value, key: &str) -> Result<Value, GqlError> {
    if input.get("quantities").and_then(|q| q.as_array()).is_none() {
        return Err(err(
            "INVALID_VARIABLE",
            "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for quantities",
        ));
    }
    let name = input["name"].as_str().unwrap_or_default();
    let reason = input["reason"].as_str().unwrap_or("correction");
    let quantities = input["quantities"].as_array().cloned().unwrap_or_default();
    let mut user_errors = Vec::new();
    let mut plan = Vec::new();
    for (i, q) in quantities.iter().enumerate() {
        let field = |f: &str| json!(["input", "quantities", i.to_string(), f]);
        if q.get("compareQuantity").is_some() {
            return Err(err("INVALID_VARIABLE", "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for quantities.compareQuantity (Field is not defined on InventoryQuantityInput)"));
        }
        if q.get("changeFromQuantity").is_none() {
            return Err(err(
                "INVALID_FIELD_ARGUMENTS",
                "InventoryQuantityInput must include the following argument: changeFromQuantity.",
            ));
        }
        let item =
            q["inventoryItemId"].as_str().and_then(|g| gid_id("InventoryItem", g)).filter(|i| s.items.contains_key(i));
        let loc = q["locationId"].as_str().and_then(|g| gid_id("Location", g)).filter(|l| s.locations.contains_key(l));
        let quantity = q["quantity"].as_i64();
        let (Some(item), Some(loc), Some(quantity)) = (item, loc, quantity) else {
            let (code, f, msg) = match (item, loc) {
                (None, _) => {
                    ("INVALID_INVENTORY_ITEM", "inventoryItemId", "The specified inventory item could not be found.")
                }
                (_, None) => ("INVALID_LOCATION", "locationId", "The specified location could not be found."),
                _ => ("INVALID_QUANTITY", "quantity", "A quantity is required."),
            };
            user_errors.push(json!({ "code": code, "field": field(f), "message": msg }));
            continue;
        };
        let Some(level) = s.levels.get(&(item, loc)).copied() else {
            user_errors.push(json!({ "code": "ITEM_NOT_STOCKED_AT_LOCATION", "field": field("locationId"),
                "message": "The item is not stocked at the location." }));
            continue;
        };
        if !(-1_000_000_000..=1_000_000_000).contains(&quantity) {
            let code = if quantity > 0 { "INVALID_QUANTITY_TOO_HIGH" } else { "INVALID_QUANTITY_TOO_LOW" };
            user_errors
                .push(json!({ "code": code, "field": field("quantity"), "message": "The quantity is out of range." }));
            continue;
        }
        let current = match name {
            "available" => level.available,
            "on_hand" => level.on_hand,
            _ => {
                user_errors.push(json!({ "code": "INVALID_NAME", "field": ["input", "name"],
                    "message": "The quantity name must be available or on_hand." }));
                break;
            }
        };
        if let Some(from) = q["changeFromQuantity"].as_i64() {
            if from != current {
                user_errors.push(json!({ "code": "CHANGE_FROM_QUANTITY_STALE", "field": field("changeFromQuantity"),
                    "message": format!("The quantity changed from {from}: it is {current} now.") }));
                continue;
            }
        }
        if name == "on_hand" && quantity < 0 {
            user_errors.push(json!({ "code": "INVALID_QUANTITY_NEGATIVE", "field": field("quantity"),
                "message": "on_hand cannot be negative." }));
            continue;
        }
        plan.push((item, loc, quantity - current));
    }
    if !user_errors.is_empty() {
        return Ok(json!({ "inventoryAdjustmentGroup": null, "userErrors": user_errors }));
    }
    let mut changes = Vec::new();
    for (item, loc, delta) in &plan {
        if let Some(l) = s.levels.get_mut(&(*item, *loc)) {
            l.available += delta;
            l.on_hand += delta;
        }
        if *delta != 0 {
            webhooks::level_changed(s, *item, *loc);
            for n in ["available", "on_hand"] {
                changes.push(json!({ "name": n, "delta": delta, "quantityAfterChange": null,
                    "item": { "id": gid("InventoryItem", *item) }, "location": { "id": gid("Location", *loc) } }));
            }
        }
    }
    s.next_id += 1;
    s.stats.set_calls += 1;
    s.stats.quantities_set += plan.len() as u64;
    s.applied_keys.insert(key.to_string());
    Ok(json!({
        "inventoryAdjustmentGroup": { "id": gid("InventoryAdjustmentGroup", s.next_id), "reason": reason,
            "referenceDocumentUri": input["referenceDocumentUri"], "changes": changes },
        "userErrors": [],
    }))
}
