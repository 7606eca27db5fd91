//! A WMS REST API simulator: orders, stock, shipments and inbounds, read by id or as changes
//! since a time with a cursor, and orders pushed in (up to 10 per call). Its state follows the
//! events it is told about ([`WmsSim::record`]), so the API and the webhooks agree, as on a real
//! WMS. Authentication by `Authorization: Bearer <key>`; injectable faults as on the WooCommerce
//! simulator.
//!
//! - `GET /orders/{id}`, `/shipments/{id}`, `/inbounds/{id}`: the entity, or 404 `{"error": "not_found"}`;
//! - `GET /{orders|shipments|inbounds|stock}?updated_since=<RFC 3339>&cursor=<c>&limit=<n ≤ 100>`:
//!   `{"items": [...], "next_cursor": "<c>" | null}`, oldest change first;
//! - `POST /orders` `{"orders": [{external_id, lines: [{sku, quantity}], ...}]}` (at most 10):
//!   `{"results": [{"external_id", "order_id"} | {"external_id", "error"}]}`; a re-pushed
//!   `external_id` returns the order it already created.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use storesync_core::webhooks::wms::{WmsData, WmsEvent};

use crate::woocommerce::sim::Fault;

use storesync_core::webhooks::effects::PUSH_LIMIT;

#[derive(Default)]
struct Inner {
    /// Entities by kind (`orders`, `shipments`, `inbounds`, `stock`) and id, with their change time.
    entities: BTreeMap<&'static str, BTreeMap<String, (DateTime<Utc>, Value)>>,
    /// Orders pushed by the store, by external id.
    pushed: BTreeMap<String, String>,
    next_order: u64,
    faults: VecDeque<Fault>,
    requests: u64,
    push_calls: u64,
}

#[derive(Clone)]
pub struct WmsSim {
    inner: Arc<Mutex<Inner>>,
    key: String,
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": "not_found" }))).into_response()
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": "bad_request", "message": message }))).into_response()
}

impl WmsSim {
    pub fn new(key: &str) -> Self {
        Self { inner: Arc::new(Mutex::new(Inner { next_order: 1, ..Inner::default() })), key: key.to_string() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.extend(faults);
    }

    /// Requests served and order push calls made, since start.
    pub fn counts(&self) -> (u64, u64) {
        let s = self.lock();
        (s.requests, s.push_calls)
    }

    /// Orders pushed in, by the store's order id (external id) → WMS order id.
    pub fn pushed(&self) -> BTreeMap<String, String> {
        self.lock().pushed.clone()
    }

    fn put(&self, kind: &'static str, id: &str, at: DateTime<Utc>, value: Value) {
        let mut s = self.lock();
        let map = s.entities.entry(kind).or_default();
        // The WMS keeps the latest state of an entity.
        if map.get(id).is_none_or(|(t, _)| *t <= at) {
            map.insert(id.to_string(), (at, value));
        }
    }

    /// The WMS's state after `event` happened (what its API then returns).
    pub fn record(&self, event: &WmsEvent) {
        let at = event.occurred_at;
        match &event.data {
            WmsData::OrderCreated(o) | WmsData::OrderUpdated(o) => {
                let mut v = serde_json::to_value(o).unwrap_or_default();
                if let Some((_, old)) = self.lock().entities.get("orders").and_then(|m| m.get(&o.order_id)) {
                    for k in ["carrier", "tracking_number"] {
                        v[k] = old[k].clone();
                    }
                }
                self.put("orders", &o.order_id, at, v);
            }
            WmsData::OrderShipped(s) => {
                let old = self.lock().entities.get("orders").and_then(|m| m.get(&s.order_id)).map(|(_, v)| v.clone());
                let mut v =
                    old.unwrap_or_else(|| json!({ "order_id": s.order_id, "external_id": s.external_id, "lines": [] }));
                v["status"] = json!("shipped");
                v["carrier"] = json!(s.carrier);
                v["tracking_number"] = json!(s.tracking_number);
                self.put("orders", &s.order_id, at, v);
            }
            WmsData::StockUpdated(x) => {
                self.put("stock", &x.sku, at, json!({ "sku": x.sku, "available": x.available }))
            }
            WmsData::StockAdjustment(x) => {
                let old =
                    self.lock().entities.get("stock").and_then(|m| m.get(&x.sku)).map(|(_, v)| v["available"].as_i64());
                let available = old.flatten().unwrap_or(0) + x.delta;
                self.put("stock", &x.sku, at, json!({ "sku": x.sku, "available": available }));
            }
            WmsData::ShipmentCreated(x) | WmsData::ShipmentUpdated(x) => {
                self.put("shipments", &x.shipment_id, at, serde_json::to_value(x).unwrap_or_default())
            }
            WmsData::InboundCreated(x) => {
                let v = json!({ "inbound_id": x.inbound_id, "status": "expected", "lines": x.lines });
                self.put("inbounds", &x.inbound_id, at, v);
            }
            WmsData::InboundCompleted(x) => {
                let v = json!({ "inbound_id": x.inbound_id, "status": "completed", "lines": x.lines });
                self.put("inbounds", &x.inbound_id, at, v);
            }
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/orders", get(list_orders).post(push_orders))
            .route("/orders/{id}", get(get_order))
            .route("/shipments", get(list_shipments))
            .route("/shipments/{id}", get(get_shipment))
            .route("/inbounds", get(list_inbounds))
            .route("/inbounds/{id}", get(get_inbound))
            .route("/stock", get(list_stock))
            .layer(axum::middleware::from_fn_with_state(self.clone(), gate))
            .with_state(self.clone())
    }

    fn one(&self, kind: &'static str, id: &str) -> Response {
        match self.lock().entities.get(kind).and_then(|m| m.get(id)) {
            Some((_, v)) => Json(v.clone()).into_response(),
            None => not_found(),
        }
    }

    fn changes(&self, kind: &'static str, q: &ChangesQuery) -> Response {
        let since = match q.updated_since.as_deref().map(DateTime::parse_from_rfc3339) {
            Some(Ok(t)) => t.with_timezone(&Utc),
            Some(Err(e)) => return bad_request(format!("updated_since: {e}")),
            None => DateTime::<Utc>::MIN_UTC,
        };
        let limit = q.limit.unwrap_or(100).clamp(1, 100);
        // The cursor is the position of the last item returned, as `time|id`.
        let after: Option<(DateTime<Utc>, String)> = match q.cursor.as_deref() {
            None => None,
            Some(c) => match c.split_once('|').and_then(|(t, id)| Some((DateTime::parse_from_rfc3339(t).ok()?, id))) {
                Some((t, id)) => Some((t.with_timezone(&Utc), id.to_string())),
                None => return bad_request(format!("cursor {c:?} is not one this API returned")),
            },
        };
        let s = self.lock();
        let mut items: Vec<(DateTime<Utc>, &String, &Value)> = s
            .entities
            .get(kind)
            .into_iter()
            .flatten()
            .filter(|(_, (t, _))| *t >= since)
            .map(|(id, (t, v))| (*t, id, v))
            .filter(|(t, id, _)| after.as_ref().is_none_or(|(at, aid)| (*t, id.as_str()) > (*at, aid.as_str())))
            .collect();
        items.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let more = items.len() > limit;
        items.truncate(limit);
        let next = more.then(|| items.last().map(|(t, id, _)| format!("{}|{id}", t.to_rfc3339()))).flatten();
        let out: Vec<Value> = items
            .iter()
            .map(|(t, _, v)| {
                let mut v = (*v).clone();
                v["updated_at"] = json!(t.to_rfc3339());
                v
            })
            .collect();
        Json(json!({ "items": out, "next_cursor": next })).into_response()
    }
}

#[derive(Deserialize)]
struct ChangesQuery {
    updated_since: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn get_order(State(sim): State<WmsSim>, Path(id): Path<String>) -> Response {
    sim.one("orders", &id)
}
async fn get_shipment(State(sim): State<WmsSim>, Path(id): Path<String>) -> Response {
    sim.one("shipments", &id)
}
async fn get_inbound(State(sim): State<WmsSim>, Path(id): Path<String>) -> Response {
    sim.one("inbounds", &id)
}
async fn list_orders(State(sim): State<WmsSim>, Query(q): Query<ChangesQuery>) -> Response {
    sim.changes("orders", &q)
}
async fn list_shipments(State(sim): State<WmsSim>, Query(q): Query<ChangesQuery>) -> Response {
    sim.changes("shipments", &q)
}
async fn list_inbounds(State(sim): State<WmsSim>, Query(q): Query<ChangesQuery>) -> Response {
    sim.changes("inbounds", &q)
}
async fn list_stock(State(sim): State<WmsSim>, Query(q): Query<ChangesQuery>) -> Response {
    sim.changes("stock", &q)
}

async fn push_orders(State(sim): State<WmsSim>, Json(body): Json<Value>) -> Response {
    let Some(orders) = body["orders"].as_array() else {
        return bad_request("the body must be {\"orders\": [...]}".into());
    };
    if orders.len() > PUSH_LIMIT {
        return bad_request(format!("at most {PUSH_LIMIT} orders per call, got {}", orders.len()));
    }
    let mut results = Vec::with_capacity(orders.len());
    let now = Utc::now();
    for o in orders {
        let Some(external) = o["external_id"].as_str().filter(|e| !e.is_empty()).map(String::from) else {
            results.push(json!({ "external_id": o["external_id"], "error": "external_id is required" }));
            continue;
        };
        let existing = sim.lock().pushed.get(&external).cloned();
        let order_id = match existing {
            Some(id) => id,
            None => {
                let id = {
                    let mut s = sim.lock();
                    let id = format!("WMS-P{:06}", s.next_order);
                    s.next_order += 1;
                    s.pushed.insert(external.clone(), id.clone());
                    id
                };
                let v = json!({ "order_id": id, "external_id": external, "status": "received", "lines": o["lines"] });
                sim.put("orders", &id, now, v);
                id
            }
        };
        results.push(json!({ "external_id": external, "order_id": order_id }));
    }
    sim.lock().push_calls += 1;
    Json(json!({ "results": results })).into_response()
}

async fn gate(State(sim): State<WmsSim>, req: Request, next: Next) -> Response {
    let fault = {
        let mut s = sim.lock();
        s.requests += 1;
        s.faults.pop_front()
    };
    match fault {
        Some(Fault::Status { code, retry_after_secs }) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = (status, Json(json!({ "error": "simulated_fault" }))).into_response();
            if let Some(v) = retry_after_secs.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Some(Fault::Delay { millis }) => tokio::time::sleep(Duration::from_millis(millis)).await,
        Some(Fault::LostReply { .. }) | None => {}
    }
    let expected = format!("Bearer {}", sim.key);
    if req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "unauthorized" }))).into_response();
    }
    let response = next.run(req).await;
    if let Some(Fault::LostReply { millis }) = fault {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    response
}
