//! A WMS webhook storm, as the real sender behaves: events of many entities, each delivery
//! signed, some delivered twice (the sender's retries), all shuffled within a time window.
//! Deterministic for a seed.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Value};
use storesync_core::webhooks::signature::sign_base64;

#[derive(Debug, Clone)]
pub struct StormConfig {
    pub entities: usize,
    pub events: usize,
    /// The share of deliveries sent a second time with the same delivery id.
    pub duplicate_share: f64,
    /// Deliveries arrive up to this many seconds out of order.
    pub shuffle_window_secs: i64,
    pub seed: u64,
    pub start: DateTime<Utc>,
}

/// One HTTP delivery of an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub delivery_id: String,
    pub event_id: String,
    pub event_type: String,
    pub entity: String,
    pub body: Vec<u8>,
}

impl Delivery {
    /// The headers the WMS sends with the HMAC scheme.
    pub fn headers(&self, secret: &[u8]) -> Vec<(String, String)> {
        vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Webhook-Id".into(), self.delivery_id.clone()),
            ("X-Webhook-Event".into(), self.event_type.clone()),
            ("X-Webhook-Signature".into(), sign_base64(secret, &self.body)),
        ]
    }
}

/// The event sequences of one entity, by class: orders, SKUs and inbounds.
fn lifecycle(class: usize, n: usize, i: usize) -> (String, Value) {
    match class {
        0 => {
            let id = format!("WMS-{n:05}");
            let (event, data) = match i {
                0 => (
                    "order.created",
                    json!({ "order_id": id, "external_id": (5000 + n).to_string(), "status": "received", "lines": [{ "sku": format!("SKU-{:04}", n % 97), "quantity": 1 + n % 3 }] }),
                ),
                1 | 2 => (
                    "order.updated",
                    json!({ "order_id": id, "external_id": (5000 + n).to_string(), "status": if i == 1 { "picking" } else { "packed" }, "lines": [] }),
                ),
                _ => (
                    "order.shipped",
                    json!({ "order_id": id, "external_id": (5000 + n).to_string(), "carrier": "UPS", "tracking_number": format!("1Z{n:08}"), "shipped_at": "2026-11-25T09:00:00Z" }),
                ),
            };
            (event.into(), data)
        }
        1 => {
            let sku = format!("SKU-{n:04}");
            if i.is_multiple_of(4) {
                ("stock.updated".into(), json!({ "sku": sku, "available": 20 + (n + i) % 30 }))
            } else {
                (
                    "stock.adjustment".into(),
                    json!({ "sku": sku, "delta": if i.is_multiple_of(2) { 2 } else { -1 }, "reason": "cycle count" }),
                )
            }
        }
        _ => {
            let id = format!("IN-{n:05}");
            if i == 0 {
                (
                    "inbound.created".into(),
                    json!({ "inbound_id": id, "lines": [{ "sku": format!("SKU-{:04}", n % 97), "quantity": 12 }] }),
                )
            } else {
                (
                    "inbound.completed".into(),
                    json!({ "inbound_id": id, "lines": [{ "sku": format!("SKU-{:04}", n % 97), "quantity": 12 }] }),
                )
            }
        }
    }
}

fn entity_of(class: usize, n: usize) -> String {
    match class {
        0 => format!("order:WMS-{n:05}"),
        1 => format!("sku:SKU-{n:04}"),
        _ => format!("inbound:IN-{n:05}"),
    }
}

/// The deliveries of a storm, in arrival order.
pub fn storm(cfg: &StormConfig) -> Vec<Delivery> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let limits = [4usize, usize::MAX, 2];
    let mut next = vec![0usize; cfg.entities.max(1)];
    let mut timed: Vec<(i64, Delivery)> = Vec::with_capacity(cfg.events * 2);
    let mut t = 0i64;
    let mut made = 0;
    while made < cfg.events {
        let e = rng.random_range(0..cfg.entities.max(1));
        let class = e % 3;
        if next[e] >= limits[class] {
            if next.iter().enumerate().all(|(i, &k)| k >= limits[i % 3]) {
                break;
            }
            continue;
        }
        let (event_type, data) = lifecycle(class, e, next[e]);
        next[e] += 1;
        made += 1;
        t += 1;
        let event_id = format!("evt_{made:07}");
        let occurred = cfg.start + Duration::milliseconds(t * 10);
        let body = json!({ "id": event_id, "event": event_type, "occurred_at": occurred.to_rfc3339(), "data": data });
        let d = Delivery {
            delivery_id: format!("dlv_{made:07}"),
            event_id,
            event_type,
            entity: entity_of(class, e),
            body: serde_json::to_vec(&body).unwrap_or_default(),
        };
        let window = cfg.shuffle_window_secs.max(0) * 1000;
        let arrive = t * 10 + if window > 0 { rng.random_range(0..window) } else { 0 };
        if rng.random_bool(cfg.duplicate_share.clamp(0.0, 1.0)) {
            let again = arrive + if window > 0 { rng.random_range(0..window) } else { 1 };
            timed.push((again, d.clone()));
        }
        timed.push((arrive, d));
    }
    timed.sort_by_key(|(at, _)| *at);
    timed.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use storesync_core::webhooks::wms::{WmsEvent, WmsHead};

    fn cfg() -> StormConfig {
        StormConfig {
            entities: 60,
            events: 500,
            duplicate_share: 0.3,
            shuffle_window_secs: 60,
            seed: 7,
            start: DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn storms_follow_the_contract_and_the_config() {
        let d = storm(&cfg());
        let unique: std::collections::BTreeSet<&str> = d.iter().map(|x| x.delivery_id.as_str()).collect();
        assert_eq!(unique.len(), 500);
        let dups = d.len() - unique.len();
        assert!((100..200).contains(&dups), "about 30 % duplicates: {dups}");
        for x in &d {
            let e = WmsEvent::parse(&x.body).unwrap();
            assert_eq!(e.entity(), x.entity);
            assert_eq!(WmsHead::parse(&x.body).unwrap().kind.name(), x.event_type);
        }
        let in_order = d.windows(2).filter(|w| w[0].event_id <= w[1].event_id).count();
        assert!(in_order < d.len() - 1, "deliveries are shuffled");
        assert_eq!(storm(&cfg()), d, "the same seed gives the same storm");
    }
}
