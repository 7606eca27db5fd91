//! A Xorosoft (distributor ERP/WMS) API simulator, speaking the contract storesync uses:
//!
//! - `POST /api/v1/items/lookup` `{"skus": ["A", …]}` (1 to 100 SKUs): `{"items": [{"sku": "A",
//!   "carried": true, "item_number": "X-1", "stock": 12, "price": "9.99"}, {"sku": "B",
//!   "carried": false}]}`, one entry per SKU asked, in order (SKUs compare without case);
//!   more than 100 is 400 `{"error": "too_many_items"}`, none is 400 `{"error": "no_items"}`;
//! - `GET /api/v1/items/{item_number}`: the item, or 404 `{"error": "not_found"}`;
//! - `Authorization: Bearer <token>`, else 401 `{"error": "unauthorized"}`;
//! - a rate limit (a token bucket: `burst` requests, refilled at `per_second`): past it 429
//!   `{"error": "rate_limited"}` with `Retry-After: 1`;
//! - injectable faults (5xx, 429, delays, lost replies), queued or at random.
//!
//! Items are held explicitly ([`XorosoftSim::carry`]) or answered by a rule for large
//! catalogs ([`XorosoftSim::carry_by`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use storesync_core::supplier::distributor::{Carried, LOOKUP_LIMIT};

use crate::fault::{Fault, FaultPlan};

type Rule = Arc<dyn Fn(&str) -> Option<Carried> + Send + Sync>;

/// Requests and SKUs served, for the calls-per-item figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XorosoftStats {
    pub requests: u64,
    pub lookups: u64,
    pub skus_looked_up: u64,
    pub rate_limited: u64,
    pub faults_served: u64,
}

struct Inner {
    items: HashMap<String, (String, Carried)>,
    rule: Option<Rule>,
    faults: FaultPlan,
    stats: XorosoftStats,
    bucket: (f64, Instant),
    burst: f64,
    per_second: f64,
}

#[derive(Clone)]
pub struct XorosoftSim {
    inner: Arc<Mutex<Inner>>,
    token: String,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

fn item_json(sku: &str, c: &Carried) -> Value {
    json!({ "sku": sku, "carried": true, "item_number": c.item_number, "stock": c.stock,
            "price": c.price.map(|p| p.to_string()) })
}

impl XorosoftSim {
    /// A simulator answering `token`, limited to 10 requests a second (bursts of 20).
    pub fn new(token: &str) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                items: HashMap::new(),
                rule: None,
                faults: FaultPlan::default(),
                stats: XorosoftStats::default(),
                bucket: (20.0, Instant::now()),
                burst: 20.0,
                per_second: 10.0,
            })),
            token: token.to_string(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rate limit: `burst` requests at once, refilled at `per_second` (0: no limit).
    pub fn rate_limit(&self, burst: u32, per_second: f64) {
        let mut s = self.lock();
        s.burst = f64::from(burst);
        s.per_second = per_second;
        s.bucket = (f64::from(burst), Instant::now());
    }

    /// The distributor carries `sku`.
    pub fn carry(&self, sku: &str, carried: Carried) {
        self.lock().items.insert(sku.trim().to_lowercase(), (sku.to_string(), carried));
    }

    /// Sets the stock of an item carried explicitly; false when it is not.
    pub fn set_stock(&self, sku: &str, stock: i64) -> bool {
        match self.lock().items.get_mut(&sku.trim().to_lowercase()) {
            Some((_, c)) => {
                c.stock = stock;
                true
            }
            None => false,
        }
    }

    /// SKUs not carried explicitly are answered by `rule` (a large catalog without the memory).
    pub fn carry_by(&self, rule: impl Fn(&str) -> Option<Carried> + Send + Sync + 'static) {
        self.lock().rule = Some(Arc::new(rule));
    }

    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.inject(faults);
    }

    pub fn fail_randomly(&self, share: f64, faults: Vec<Fault>, seed: u64) {
        self.lock().faults.fail_randomly(share, faults, seed);
    }

    pub fn stats(&self) -> XorosoftStats {
        self.lock().stats
    }

    fn find(&self, sku: &str) -> Option<Carried> {
        let s = self.lock();
        match s.items.get(&sku.trim().to_lowercase()) {
            Some((_, c)) => Some(c.clone()),
            None => s.rule.clone().and_then(|r| r(sku)),
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/v1/items/lookup", post(lookup))
            .route("/api/v1/items/{item_number}", get(item))
            .layer(axum::middleware::from_fn_with_state(self.clone(), gate))
            .with_state(self.clone())
    }
}

/// Authentication, the rate limit and faults, before any handler.
async fn gate(State(sim): State<XorosoftSim>, req: Request, next: Next) -> Response {
    let authorized = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == sim.token);
    let (fault, limited) = {
        let mut s = sim.lock();
        s.stats.requests += 1;
        let fault = s.faults.draw();
        s.stats.faults_served = s.faults.served;
        let limited = if s.per_second > 0.0 && fault.is_none() {
            let (tokens, at) = s.bucket;
            let refilled = (tokens + at.elapsed().as_secs_f64() * s.per_second).min(s.burst);
            let ok = refilled >= 1.0;
            s.bucket = (if ok { refilled - 1.0 } else { refilled }, Instant::now());
            s.stats.rate_limited += u64::from(!ok);
            !ok
        } else {
            false
        };
        (fault, limited)
    };
    let retry_after = |mut r: Response, secs: u64| {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    };
    match fault {
        Some(Fault::Status { code, retry_after_secs }) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let r = error(status, "simulated_fault", "Simulated fault.");
            return match retry_after_secs {
                Some(s) => retry_after(r, s),
                None => r,
            };
        }
        Some(Fault::Delay { millis }) => tokio::time::sleep(Duration::from_millis(millis)).await,
        Some(Fault::LostReply { .. }) | None => {}
    }
    if !authorized {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "A valid bearer token is required.");
    }
    if limited {
        return retry_after(error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests."), 1);
    }
    let response = next.run(req).await;
    if let Some(Fault::LostReply { millis }) = fault {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    response
}

async fn lookup(State(sim): State<XorosoftSim>, body: axum::body::Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_json", "The body is not JSON.");
    };
    let Some(skus) = v["skus"].as_array() else {
        return error(StatusCode::BAD_REQUEST, "no_items", "skus: a list of SKUs is required.");
    };
    if skus.is_empty() {
        return error(StatusCode::BAD_REQUEST, "no_items", "skus: at least one SKU is required.");
    }
    if skus.len() > LOOKUP_LIMIT {
        return error(StatusCode::BAD_REQUEST, "too_many_items", &format!("skus: at most {LOOKUP_LIMIT} a call."));
    }
    let mut items = Vec::with_capacity(skus.len());
    for s in skus {
        let Some(sku) = s.as_str() else {
            return error(StatusCode::BAD_REQUEST, "invalid_sku", "skus: every SKU is a string.");
        };
        items.push(match sim.find(sku) {
            Some(c) => item_json(sku, &c),
            None => json!({ "sku": sku, "carried": false }),
        });
    }
    {
        let mut s = sim.lock();
        s.stats.lookups += 1;
        s.stats.skus_looked_up += skus.len() as u64;
    }
    Json(json!({ "items": items })).into_response()
}

async fn item(State(sim): State<XorosoftSim>, Path(number): Path<String>) -> Response {
    let found = sim.lock().items.values().find(|(_, c)| c.item_number == number).cloned();
    match found {
        Some((sku, c)) => Json(item_json(&sku, &c)).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "No such item."),
    }
}
