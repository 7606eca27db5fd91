//! Webhook receipt on the local adapters: a crash between recording a delivery and queueing it
//! loses nothing, because the sender's retry finds the record unqueued and queues it.

use std::sync::Arc;
use storesync_core::webhooks::signature::sign_base64 as sign;

use storesync_core::config::Settings;
use storesync_core::ports::Queue;
use storesync_core::webhooks::receiver::{record_key, Receiver, Reply};
use storesync_core::webhooks::{Secrets, WebhookSource};
use storesync_local::Local;

#[tokio::test]
async fn a_delivery_recorded_but_not_queued_is_queued_by_the_retry() {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(Local::open(dir.path(), Settings::default()).unwrap());
    let secrets = Secrets { wms: vec![b"k".to_vec()], ..Secrets::default() };
    let receiver = Receiver::new(local.workflow.ports().clone(), secrets);
    let body = br#"{"id":"evt_7","event":"inbound.created","occurred_at":"2026-11-25T08:00:00Z","data":{"inbound_id":"IN1","lines":[]}}"#;
    let headers =
        vec![("X-Webhook-Id".to_string(), "dlv_7".to_string()), ("X-Webhook-Signature".to_string(), sign(b"k", body))];
    // As if the process died after recording the delivery and before queueing it (the record
    // is written first, exactly as the receiver writes it).
    let key = record_key("wms:dlv_7");
    let now = chrono::Utc::now();
    let rec = serde_json::json!({ "delivery": {}, "accepted": {}, "queued": false });
    assert!(local
        .workflow
        .ports()
        .kv
        .insert_unless_live(&key, &rec, now, now + chrono::Duration::days(7))
        .await
        .unwrap());

    assert_eq!(
        receiver.handle(WebhookSource::Wms, &headers, body).await.unwrap(),
        Reply::Accepted,
        "the retry queues it"
    );
    assert_eq!(local.workflow.ports().kv.get(&key).await.unwrap().unwrap()["queued"], true);
    let queued = local.state.receive("webhooks-inbounds", 10, 30).await.unwrap();
    assert_eq!(queued.len(), 1, "queued exactly once");
    assert!(queued[0].body.contains("\"inbound:IN1\""), "{}", queued[0].body);
    assert_eq!(receiver.handle(WebhookSource::Wms, &headers, body).await.unwrap(), Reply::Duplicate);
    assert_eq!(receiver.rejected(), 0);
    let bad =
        vec![("X-Webhook-Id".to_string(), "dlv_8".to_string()), ("X-Webhook-Signature".to_string(), sign(b"x", body))];
    assert!(matches!(receiver.handle(WebhookSource::Wms, &bad, body).await.unwrap(), Reply::Unauthorized(_)));
    assert_eq!(receiver.rejected(), 1, "a refused request leaves only a count");
}

#[tokio::test]
async fn a_signed_body_that_is_not_utf8_is_kept_byte_for_byte() {
    use storesync_core::webhooks::processor::DeadLetter;
    use storesync_core::webhooks::receiver::stored_body;
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Settings::default()).unwrap();
    let receiver =
        Receiver::new(local.workflow.ports().clone(), Secrets { wms: vec![b"k".to_vec()], ..Secrets::default() });
    let body = b"{\"id\":\"\xff\xfe\"}".to_vec();
    let headers =
        vec![("X-Webhook-Id".to_string(), "dlv_9".to_string()), ("X-Webhook-Signature".to_string(), sign(b"k", &body))];
    assert!(matches!(receiver.handle(WebhookSource::Wms, &headers, &body).await.unwrap(), Reply::DeadLettered(_)));
    let blob = local.workflow.ports().blobs.get(&DeadLetter::key("wms:dlv_9")).await.unwrap();
    let dead: DeadLetter = serde_json::from_slice(&blob.to_bytes().unwrap()).unwrap();
    assert!(dead.reason.contains("does not match the contract"), "{}", dead.reason);
    assert_eq!(stored_body(dead.delivery.as_ref().unwrap()).unwrap(), body, "the archived body verifies again");
}
