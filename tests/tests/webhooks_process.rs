//! Webhook processing on the local runtime against the WooCommerce and WMS simulators over
//! loopback: ordering, exactly-once effects, priority, retries, dead letters, deadlock
//! reconciliation, and a 10,000-webhook storm with faults.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use storesync_core::config::Settings;
use storesync_core::ports::{Ports, Queue};
use storesync_core::webhooks::ordering::EntityProgress;
use storesync_core::webhooks::processor::{progress_key, DeadLetter, Processor, DEADLOCK, DEAD_PREFIX};
use storesync_core::webhooks::receiver::{Receiver, Reply};
use storesync_core::webhooks::retry::RetryPolicy;
use storesync_core::webhooks::signature::sign_base64;
use storesync_core::webhooks::wms::WmsEvent;
use storesync_core::webhooks::{Secrets, WebhookSource};
use storesync_local::webhooks::work;
use storesync_local::Local;
use storesync_platforms::testkit::{note_event_ids, start_sims, truth, Sims};
use storesync_platforms::woocommerce::sim::Fault;

const SECRET: &[u8] = b"wms-secret";
const WOO_SECRET: &[u8] = b"woo-webhook-secret";

struct Env {
    _dir: tempfile::TempDir,
    local: Arc<Local>,
    sims: Sims,
    receiver: Receiver,
    processor: Processor,
}

impl Env {
    fn ports(&self) -> &Ports {
        self.local.workflow.ports()
    }

    async fn send(&self, delivery: &str, id: &str, event: &str, data: Value) -> Reply {
        self.send_at(delivery, id, event, "2026-11-25T08:00:00Z", data).await
    }

    async fn send_at(&self, delivery: &str, id: &str, event: &str, at: &str, data: Value) -> Reply {
        let body = serde_json::to_vec(&json!({ "id": id, "event": event, "occurred_at": at, "data": data })).unwrap();
        self.send_raw(delivery, &body).await
    }

    async fn send_raw(&self, delivery: &str, body: &[u8]) -> Reply {
        let headers = vec![
            ("X-Webhook-Id".to_string(), delivery.to_string()),
            ("X-Webhook-Signature".to_string(), sign_base64(SECRET, body)),
        ];
        self.receiver.handle(WebhookSource::Wms, &headers, body).await.unwrap()
    }

    /// Processes until every queue but the deadlock checks is empty.
    async fn pump(&self) {
        let drained = tokio::time::timeout(Duration::from_secs(300), work(&self.processor, true)).await;
        drained.expect("the queues did not drain").unwrap();
    }

    fn notes(&self, order: u64) -> Vec<String> {
        self.sims.woo.notes(order).iter().filter_map(|n| n["note"].as_str().map(String::from)).collect()
    }

    async fn dead_letters(&self) -> Vec<DeadLetter> {
        let mut out = Vec::new();
        for b in self.ports().blobs.list(DEAD_PREFIX).await.unwrap() {
            let bytes = self.ports().blobs.get(&b.key).await.unwrap().to_bytes().unwrap();
            out.push(serde_json::from_slice(&bytes).unwrap());
        }
        out
    }
}

async fn env(client_timeout: Duration) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(Local::open(dir.path(), Settings::default()).unwrap());
    let sims = start_sims(client_timeout).await;
    let ports = local.workflow.ports().clone();
    let secrets = Secrets { wms: vec![SECRET.to_vec()], woocommerce: vec![WOO_SECRET.to_vec()], ..Secrets::default() };
    let receiver = Receiver::new(ports.clone(), secrets);
    let mut processor = Processor::new(ports, sims.store.clone(), sims.warehouse.clone());
    processor.policy = RetryPolicy { delays_secs: vec![0], ..RetryPolicy::default() };
    Env { _dir: dir, local, sims, receiver, processor }
}

fn order(status: &str) -> Value {
    json!({ "order_id": "W1", "external_id": "5001", "status": status, "lines": [{ "sku": "A", "quantity": 1 }] })
}

#[tokio::test]
async fn events_apply_in_order_and_once_each() {
    let e = env(Duration::from_millis(300)).await;
    e.sims.woo.seed_order(5001, "processing");
    // The update and the shipment arrive before the creation.
    assert_eq!(e.send("d2", "ev2", "order.updated", order("picking")).await, Reply::Accepted);
    let shipped = json!({ "order_id": "W1", "external_id": "5001", "carrier": "UPS", "tracking_number": "1Z9", "shipped_at": "2026-11-25T09:00:00Z" });
    assert_eq!(e.send("d3", "ev3", "order.shipped", shipped).await, Reply::Accepted);
    e.pump().await;
    assert!(e.notes(5001).is_empty(), "nothing applied before order.created");
    let progress: EntityProgress =
        serde_json::from_value(e.ports().kv.get(&progress_key("order:W1")).await.unwrap().unwrap()).unwrap();
    assert_eq!(progress.parked.iter().map(|p| p.event_id.as_str()).collect::<Vec<_>>(), ["ev2", "ev3"]);

    // The creation's note is added but its reply is lost: the retry must not add it twice.
    e.sims.woo.inject([Fault::LostReply { millis: 600 }]);
    assert_eq!(e.send("d1", "ev1", "order.created", order("received")).await, Reply::Accepted);
    e.pump().await;
    let notes = e.notes(5001);
    let ours: Vec<&String> = notes.iter().filter(|n| n.contains("[WMS event ")).collect();
    assert_eq!(ours.len(), 3, "{notes:#?}");
    assert_eq!(ours.iter().filter(|n| n.contains("[WMS event ev1]")).count(), 1, "the lost reply was not re-applied");
    assert!(ours.iter().any(|n| n.starts_with("Shipped by UPS, tracking number 1Z9")), "{notes:#?}");
    assert_eq!(e.sims.woo.order(5001).unwrap()["status"], "completed");

    // The same event re-emitted under a new delivery id, and a repeated delivery: no effect.
    assert_eq!(e.send("d4", "ev2", "order.updated", order("picking")).await, Reply::Accepted);
    assert_eq!(e.send("d1", "ev1", "order.created", order("received")).await, Reply::Duplicate);
    e.pump().await;
    assert_eq!(e.notes(5001).iter().filter(|n| n.contains("[WMS event ")).count(), 3);
    let s = e.processor.stats.snapshot();
    assert_eq!((s.applied, s.parked, s.released, s.duplicate_events, s.dead_lettered), (3, 2, 2, 1, 0));
}

#[tokio::test]
async fn a_backlog_is_drained_by_priority_class() {
    let e = env(Duration::from_secs(2)).await;
    e.sims.woo.seed_order(5001, "processing");
    e.sims.create_products(&["A".to_string()], 5).await;
    // Arrival order: inbound, shipment, stock, order.
    e.send("d1", "in1", "inbound.created", json!({ "inbound_id": "I1", "lines": [] })).await;
    e.send("d2", "sh1", "shipment.created", json!({ "shipment_id": "S1", "order_id": "W1", "external_id": "5001", "carrier": "DHL", "tracking_number": "JD1", "status": "created" })).await;
    e.send("d3", "st1", "stock.updated", json!({ "sku": "A", "available": 9 })).await;
    e.send("d4", "or1", "order.created", order("received")).await;
    let order_notes = |e: &Env| e.notes(5001).iter().filter(|n| n.contains("[WMS event ")).cloned().collect::<Vec<_>>();
    assert_eq!(e.processor.poll_once().await.unwrap(), 1);
    assert_eq!(order_notes(&e).len(), 1, "the order lifecycle first");
    assert!(order_notes(&e)[0].contains("[WMS event or1]"));
    assert_eq!(e.processor.poll_once().await.unwrap(), 1, "then stock");
    assert_eq!(e.processor.poll_once().await.unwrap(), 1, "then the stock push");
    let a = e.sims.store.stock_by_sku("A").await.unwrap();
    assert_eq!((a, order_notes(&e).len()), (Some(9), 1), "stock before shipments");
    assert_eq!(e.processor.poll_once().await.unwrap(), 1);
    assert!(order_notes(&e)[1].contains("[WMS event sh1]"), "then shipments");
    assert_eq!(e.processor.poll_once().await.unwrap(), 1, "inbounds last");
    assert_eq!(e.processor.stats.snapshot().applied, 4);
}

#[tokio::test]
async fn failures_retry_on_the_schedule_then_dead_letter_with_their_history() {
    let e = env(Duration::from_secs(2)).await;
    e.sims.woo.seed_order(5001, "processing");
    // 503 four times: the first delivery and three retries fail, then the event is dead-lettered.
    e.sims.woo.inject([Fault::Status { code: 503, retry_after_secs: None }; 4]);
    e.send("d1", "ev1", "order.created", order("received")).await;
    e.pump().await;
    // An order the store does not have: 404 is not retried.
    let missing = json!({ "order_id": "W2", "external_id": "9999", "status": "received", "lines": [] });
    e.send("d2", "ev2", "order.created", missing).await;
    // A stock change of a SKU the store does not have.
    e.send("d3", "ev3", "stock.adjustment", json!({ "sku": "NOPE", "delta": 2, "reason": "count" })).await;
    e.pump().await;
    let mut dead = e.dead_letters().await;
    dead.sort_by(|a, b| a.id.cmp(&b.id));
    let summary: Vec<(&str, usize)> = dead.iter().map(|d| (d.id.as_str(), d.attempts.len())).collect();
    assert_eq!(summary, [("wms:d1", 4), ("wms:d2", 1), ("wms:d3", 0)]);
    assert!(dead[0].reason.starts_with("HTTP 503 after 4 attempts"), "{}", dead[0].reason);
    assert!(dead[1].reason.starts_with("HTTP 404: not retryable"), "{}", dead[1].reason);
    assert_eq!(dead[2].reason, "SKU NOPE is not in the store");
    assert_eq!(dead[0].queue.as_deref(), Some("webhooks-orders"));
    assert!(e.notes(5001).is_empty());
    let s = e.processor.stats.snapshot();
    assert_eq!((s.retried, s.dead_lettered, s.applied), (3, 3, 0));

    // Retry-After is honoured: the retry waits at least that long.
    e.sims.woo.inject([Fault::Status { code: 429, retry_after_secs: Some(1) }]);
    let other = json!({ "order_id": "W3", "external_id": "5001", "status": "received", "lines": [] });
    e.send("d5", "ev5", "order.created", other).await;
    let t = std::time::Instant::now();
    e.pump().await;
    assert!(t.elapsed() >= Duration::from_millis(950), "{:?}", t.elapsed());
}

#[tokio::test]
async fn a_prerequisite_that_never_comes_is_reconciled_from_the_wms() {
    let mut e = env(Duration::from_secs(2)).await;
    e.processor.deadlock_timeout = chrono::Duration::seconds(1);
    e.sims.woo.seed_order(5001, "processing");
    // The WMS knows the order; its order.created webhook was lost.
    let created = br#"{"id":"ev1","event":"order.created","occurred_at":"2026-11-25T08:00:00Z","data":{"order_id":"W1","external_id":"5001","status":"picking","lines":[]}}"#;
    e.sims.wms.record(&WmsEvent::parse(created).unwrap());
    e.send("d2", "ev2", "order.updated", order("packed")).await;
    // A shipment whose creation the WMS never heard of either.
    e.send("d3", "sh2", "shipment.updated", json!({ "shipment_id": "S9", "order_id": "W1", "external_id": "5001", "carrier": "DHL", "tracking_number": "JD9", "status": "in_transit" })).await;
    e.pump().await;
    assert!(e.notes(5001).is_empty());
    // The deadlock checks come due after the timeout.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..50 {
        e.processor.poll_once().await.unwrap();
        if e.local.state.depth(DEADLOCK).await.unwrap().visible == 0 && e.processor.stats.snapshot().reconciled == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    e.pump().await;
    let notes = e.notes(5001);
    assert!(
        notes.iter().any(|n| n.contains("WMS order W1: picking (read from the WMS: order.created never arrived)")),
        "{notes:#?}"
    );
    assert!(notes.iter().any(|n| n.contains("[WMS event ev2]")), "the parked update was released: {notes:#?}");
    let progress: EntityProgress =
        serde_json::from_value(e.ports().kv.get(&progress_key("order:W1")).await.unwrap().unwrap()).unwrap();
    assert_eq!(progress.reconciled.len(), 1, "recorded");
    assert_eq!(progress.reconciled[0].missing, "order.created");
    let audit = e.ports().audit.list("order:W1").await.unwrap();
    assert_eq!(audit[0].action, "webhook.reconcile");
    let dead = e.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "shipment.created never arrived and the WMS has no shipment:S9");
}

/// 10,000 webhooks for 500 entities, 30 % delivered twice, shuffled within a minute, while
/// WooCommerce fails 10 % of calls transiently (503, 429, timeouts, lost replies): the store
/// ends equal to the truth computed from the event log, every note once, and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_with_faults_ends_in_the_truth() {
    use storesync_platforms::wms::storm::{storm, StormConfig};
    let mut e = env(Duration::from_millis(250)).await;
    e.processor.policy = RetryPolicy { delays_secs: vec![0], max_retries: 10, ..RetryPolicy::default() };
    let deliveries = storm(&StormConfig {
        entities: 500,
        events: std::env::var("STORM_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000),
        duplicate_share: 0.3,
        shuffle_window_secs: 60,
        seed: 2026,
        start: chrono::Utc::now(),
    });
    let (want, orders, skus) = truth(&deliveries, 10);
    for &id in &orders {
        e.sims.woo.seed_order(id, "processing");
    }
    e.sims.create_products(&skus.iter().cloned().collect::<Vec<_>>(), 10).await;
    e.sims.woo.fail_randomly(
        0.10,
        vec![
            Fault::Status { code: 503, retry_after_secs: None },
            Fault::Status { code: 429, retry_after_secs: Some(0) },
            Fault::Delay { millis: 300 },
            Fault::LostReply { millis: 300 },
        ],
        7,
    );
    let mut accepted = 0u64;
    let mut duplicates = 0u64;
    for d in &deliveries {
        let headers = d.headers(SECRET);
        match e.receiver.handle(WebhookSource::Wms, &headers, &d.body).await.unwrap() {
            Reply::Accepted => accepted += 1,
            Reply::Duplicate => duplicates += 1,
            other => panic!("{other:?}"),
        }
    }
    let unique: BTreeSet<&str> = deliveries.iter().map(|d| d.delivery_id.as_str()).collect();
    assert_eq!((accepted as usize, accepted + duplicates), (unique.len(), deliveries.len() as u64));
    e.pump().await;
    e.sims.woo.fail_randomly(0.0, vec![], 0);

    let got = e.sims.observed(&orders, &skus).await;
    let s = e.processor.stats.snapshot();
    assert_eq!(e.local.state.dead_letters().await.unwrap(), vec![], "no message ran out of receives");
    assert_eq!(s.dead_lettered, 0, "{:?}", e.dead_letters().await);
    assert_eq!(note_event_ids(&got.notes), want.notes, "every note once");
    assert_eq!(got.completed, want.completed);
    assert_eq!(got.stock, want.stock);
    assert_eq!(accepted, s.applied + s.dead_lettered + s.duplicate_events, "{s:?}");
    assert!(s.retried > 0 && e.sims.woo.stats().faults_served > 0, "faults were met: {s:?}");
    eprintln!("storm: {s:?}; WooCommerce {:?}", e.sims.woo.stats());
}

#[tokio::test]
async fn operators_retry_discard_and_replay() {
    use storesync_core::webhooks::operators::{self, OpsError};
    let e = env(Duration::from_secs(2)).await;
    // Two events dead-lettered: the store does not have order 5001 yet, and a SKU it lacks.
    e.send("d1", "ev1", "order.created", order("received")).await;
    e.send("d2", "ev2", "stock.adjustment", json!({ "sku": "NOPE", "delta": 1, "reason": "count" })).await;
    e.pump().await;
    let o = operators::overview(e.ports()).await.unwrap();
    assert_eq!(o.dead_letters, 2);
    assert!(o.queues.iter().all(|q| q.depth.visible == 0));
    let dead = operators::dead_letters(e.ports()).await.unwrap();
    assert_eq!(dead.iter().map(|d| d.id.as_str()).collect::<BTreeSet<_>>(), BTreeSet::from(["wms:d1", "wms:d2"]));

    // The order now exists: a retry applies the event.
    e.sims.woo.seed_order(5001, "processing");
    operators::retry(e.ports(), "wms:d1", "ops@example.com").await.unwrap();
    e.pump().await;
    assert_eq!(e.notes(5001).iter().filter(|n| n.contains("[WMS event ev1]")).count(), 1);
    assert!(matches!(operators::retry(e.ports(), "wms:d1", "x").await, Err(OpsError::NotFound(_))));
    assert!(matches!(operators::discard(e.ports(), "wms:d2", " ", "x").await, Err(OpsError::NoReason(_))));
    operators::discard(e.ports(), "wms:d2", "SKU retired", "ops@example.com").await.unwrap();
    assert!(operators::dead_letters(e.ports()).await.unwrap().is_empty());
    let kept = e.ports().blobs.list("webhooks/discarded/").await.unwrap();
    assert_eq!(kept.len(), 1, "a discarded letter is kept with its reason");
    let audit = e.ports().audit.list("webhook/wms:d2").await.unwrap();
    assert_eq!((audit[0].action.as_str(), audit[0].who.as_str()), ("webhook.discard", "ops@example.com"));
    assert_eq!(e.ports().audit.list("webhook/wms:d1").await.unwrap()[0].action, "webhook.retry");

    // Replay: the archived deliveries go through again; an event already applied changes nothing.
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let n = operators::replay(e.ports(), WebhookSource::Wms, since, "ops@example.com").await.unwrap();
    assert!(n >= 2, "both deliveries are in the archive: {n}");
    e.pump().await;
    assert_eq!(e.notes(5001).iter().filter(|n| n.contains("[WMS event ev1]")).count(), 1, "not applied twice");
    let raw = e.ports().blobs.list("webhooks/raw/wms/").await.unwrap();
    assert!(!raw.is_empty() && raw[0].key.ends_with(".jsonl"), "{raw:?}");
}

#[tokio::test]
async fn new_store_orders_are_pushed_to_the_wms_in_tens() {
    let e = env(Duration::from_secs(2)).await;
    for id in 0..23u64 {
        let body = serde_json::to_vec(&json!({ "id": 7000 + id, "status": "processing", "line_items": [{ "sku": "A", "quantity": 2 }], "shipping": { "city": "Haifa" } })).unwrap();
        let headers = vec![
            ("X-WC-Webhook-Topic".to_string(), "order.created".to_string()),
            ("X-WC-Webhook-Delivery-ID".to_string(), format!("w{id}")),
            ("X-WC-Webhook-Signature".to_string(), sign_base64(WOO_SECRET, &body)),
        ];
        assert_eq!(e.receiver.handle(WebhookSource::WooCommerce, &headers, &body).await.unwrap(), Reply::Accepted);
    }
    e.pump().await;
    assert!(e.sims.wms.pushed().is_empty(), "pushed on the schedule, not at once");
    // The WMS is down for the first call: the batch waits for its retry.
    e.sims.wms.inject([Fault::Status { code: 503, retry_after_secs: None }]);
    let r = e.processor.run_job("wms-order-push").await.unwrap();
    assert_eq!((r.items, r.failed), (0, 10));
    let r = e.processor.run_job("wms-order-push").await.unwrap();
    assert_eq!((r.items, r.failed), (23, 0));
    let pushed = e.sims.wms.pushed();
    assert_eq!(pushed.len(), 23);
    assert!(pushed.contains_key("7005"));
    assert_eq!(e.sims.wms.counts().1, 3, "23 orders in 3 calls of at most 10");
}

#[tokio::test]
async fn backup_syncs_repair_lost_webhooks_and_later_webhooks_change_nothing() {
    let e = env(Duration::from_secs(2)).await;
    e.sims.woo.seed_order(5001, "processing");
    e.sims.create_products(&["A".to_string(), "B".to_string()], 5).await;
    let events = [
        r#"{"id":"o1","event":"order.created","occurred_at":"2026-11-25T08:00:00Z","data":{"order_id":"W1","external_id":"5001","status":"received","lines":[]}}"#,
        r#"{"id":"o2","event":"order.shipped","occurred_at":"2026-11-25T09:00:00Z","data":{"order_id":"W1","external_id":"5001","carrier":"UPS","tracking_number":"1Z7","shipped_at":"2026-11-25T09:00:00Z"}}"#,
        r#"{"id":"s1","event":"stock.updated","occurred_at":"2026-11-25T08:30:00Z","data":{"sku":"A","available":40}}"#,
        r#"{"id":"i1","event":"inbound.created","occurred_at":"2026-11-25T08:00:00Z","data":{"inbound_id":"IN1","lines":[{"sku":"B","quantity":6}]}}"#,
        r#"{"id":"i2","event":"inbound.completed","occurred_at":"2026-11-25T10:00:00Z","data":{"inbound_id":"IN1","lines":[{"sku":"B","quantity":6}]}}"#,
    ];
    // Every webhook was lost: the WMS's API knows what happened.
    for ev in events {
        e.sims.wms.record(&WmsEvent::parse(ev.as_bytes()).unwrap());
    }
    for job in ["wms-sync-orders", "wms-sync-stock", "wms-sync-inbounds", "wms-sync-shipments"] {
        e.processor.run_job(job).await.unwrap();
    }
    e.pump().await;
    let ours = |e: &Env| e.notes(5001).into_iter().filter(|n| n.contains("from the WMS backup sync")).count();
    assert_eq!(ours(&e), 2, "{:#?}", e.notes(5001));
    assert_eq!(e.sims.woo.order(5001).unwrap()["status"], "completed");
    assert_eq!(e.sims.store.stock_by_sku("A").await.unwrap(), Some(40));
    assert_eq!(e.sims.store.stock_by_sku("B").await.unwrap(), Some(11), "5 + 6 received");

    // A second run reads nothing new beyond the overlap and changes nothing.
    let r = e.processor.run_job("wms-sync-orders").await.unwrap();
    e.pump().await;
    assert_eq!(r.failed, 0);
    // The lost webhooks turn up after all: nothing is applied twice.
    for (i, ev) in events.iter().enumerate() {
        e.send_raw(&format!("late{i}"), ev.as_bytes()).await;
    }
    e.pump().await;
    assert_eq!(e.notes(5001).iter().filter(|n| n.contains("[WMS ")).count(), 2, "{:#?}", e.notes(5001));
    assert_eq!(e.sims.store.stock_by_sku("B").await.unwrap(), Some(11), "the inbound is added once");
    assert_eq!(e.sims.store.stock_by_sku("A").await.unwrap(), Some(40));
}

#[tokio::test]
async fn a_stock_push_dead_lettered_lets_the_next_change_push_again() {
    let e = env(Duration::from_millis(500)).await;
    e.sims.create_products(&["A".to_string()], 5).await;
    let sku = |q: i64| json!({ "sku": "A", "available": q });
    e.send_at("d1", "e1", "stock.updated", "2026-11-25T08:00:00Z", sku(7)).await;
    assert_eq!(e.processor.poll_once().await.unwrap(), 1, "the stock event, which queues a push");
    // The store refuses the push for good (a 400 is not retried): it is dead-lettered.
    e.sims.woo.inject([Fault::Status { code: 400, retry_after_secs: None }]);
    assert_eq!(e.processor.poll_once().await.unwrap(), 1, "the push");
    let dead = e.dead_letters().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].id, "stock-push:A");
    assert_eq!(e.sims.store.stock_by_sku("A").await.unwrap(), Some(5));
    // The SKU's record no longer says a push is queued, so the next change queues one.
    e.send_at("d2", "e2", "stock.updated", "2026-11-25T08:05:00Z", sku(9)).await;
    e.pump().await;
    assert_eq!(e.sims.store.stock_by_sku("A").await.unwrap(), Some(9));
}
