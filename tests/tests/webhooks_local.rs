//! Webhook receipt on the local adapters: a delivery too large to travel in its queue message
//! is queued without it and processed from its dedupe record; one too large for its record is
//! kept in the bucket; bodies that are not UTF-8 are kept byte for byte.

use std::sync::Arc;
use storesync_core::webhooks::signature::sign_base64 as sign;

use storesync_core::config::Settings;
use storesync_core::ports::Queue;
use storesync_core::webhooks::processor::{Message, Processor, INBOUNDS};
use storesync_core::webhooks::receiver::{
    delivery_body, record_key, Receiver, Reply, BODIES_PREFIX, INLINE_BODY_MAX, RECORD_BODY_MAX,
};
use storesync_core::webhooks::{Secrets, WebhookSource};
use storesync_local::Local;
use storesync_tests::large_inbound;

#[tokio::test]
async fn a_large_delivery_is_queued_without_its_body_and_processed_from_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(Local::open(dir.path(), Settings::default()).unwrap());
    let secrets = Secrets { wms: vec![b"k".to_vec()], ..Secrets::default() };
    let ports = local.workflow.ports().clone();
    let receiver = Receiver::new(ports.clone(), secrets);
    let (body, headers) = large_inbound("7", 2 * INLINE_BODY_MAX, b"k");
    let body = body.as_slice();
    assert!(body.len() > INLINE_BODY_MAX && body.len() <= RECORD_BODY_MAX, "{} bytes", body.len());
    assert_eq!(receiver.handle(WebhookSource::Wms, &headers, body).await.unwrap(), Reply::Accepted);
    let record = ports.kv.get(&record_key("wms:dlv_7")).await.unwrap().expect("recorded");
    assert_eq!(record["delivery"]["body"].as_str().unwrap().as_bytes(), body, "the record holds the body");
    assert_eq!(receiver.handle(WebhookSource::Wms, &headers, body).await.unwrap(), Reply::Duplicate);

    let queued = local.state.receive(INBOUNDS, 10, 30).await.unwrap();
    assert_eq!(queued.len(), 1, "queued exactly once");
    assert!(queued[0].body.len() < 1024, "the message does not carry the body: {} bytes", queued[0].body.len());
    match serde_json::from_str::<Message>(&queued[0].body).unwrap() {
        Message::Webhook { dedupe_key, delivery, accepted } => {
            assert_eq!((dedupe_key.as_str(), accepted.entity.as_str()), ("wms:dlv_7", "inbound:IN7"));
            assert!(delivery.is_none());
        }
        other => panic!("{other:?}"),
    }
    let sims = storesync_platforms::testkit::start_sims(std::time::Duration::from_secs(5)).await;
    let processor = Processor::new(ports.clone(), sims.store.clone(), sims.warehouse.clone());
    let done = processor.process(INBOUNDS, &queued).await.unwrap();
    assert_eq!((done.done.len(), done.failed.len()), (1, 0), "applied from the record");
    assert_eq!(processor.stats.snapshot().applied, 1);

    assert_eq!(receiver.rejected(), 0);
    let bad =
        vec![("X-Webhook-Id".to_string(), "dlv_8".to_string()), ("X-Webhook-Signature".to_string(), sign(b"x", body))];
    assert!(matches!(receiver.handle(WebhookSource::Wms, &bad, body).await.unwrap(), Reply::Unauthorized(_)));
    assert_eq!(receiver.rejected(), 1, "a refused request leaves only a count");
}

#[tokio::test]
async fn a_delivery_too_large_for_its_record_is_kept_in_the_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Settings::default()).unwrap();
    let ports = local.workflow.ports().clone();
    let receiver = Receiver::new(ports.clone(), Secrets { wms: vec![b"k".to_vec()], ..Secrets::default() });
    let (body, headers) = large_inbound("big", 2 * RECORD_BODY_MAX, b"k");
    assert!(body.len() > RECORD_BODY_MAX && body.len() < 1024 * 1024);
    assert_eq!(receiver.handle(WebhookSource::Wms, &headers, &body).await.unwrap(), Reply::Accepted);
    let record = ports.kv.get(&record_key("wms:dlv_big")).await.unwrap().expect("recorded");
    assert!(record.to_string().len() < 4096, "the record names the body instead of holding it");
    let blob = record["delivery"]["body"]["blob"].as_str().expect("a bucket key").to_string();
    assert!(blob.starts_with(&format!("{BODIES_PREFIX}wms/")), "{blob}");
    assert_eq!(ports.blobs.get(&blob).await.unwrap().to_bytes().unwrap(), body, "kept as sent");
    assert_eq!(delivery_body(ports.blobs.as_ref(), &record).await.unwrap().unwrap(), body);
    assert_eq!(receiver.handle(WebhookSource::Wms, &headers, &body).await.unwrap(), Reply::Duplicate);

    let queued = local.state.receive(INBOUNDS, 10, 30).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].body.len() < 4096, "the message names the body too: {} bytes", queued[0].body.len());
    let sims = storesync_platforms::testkit::start_sims(std::time::Duration::from_secs(5)).await;
    let processor = Processor::new(ports.clone(), sims.store.clone(), sims.warehouse.clone());
    let done = processor.process(INBOUNDS, &queued).await.unwrap();
    assert_eq!((done.done.len(), done.failed.len()), (1, 0), "applied from the bucket's copy");
    assert_eq!(processor.stats.snapshot().applied, 1);
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
    // A retry reads the kept delivery again: still not processable, it stays, saying why.
    let ports = local.workflow.ports();
    let err = storesync_core::webhooks::operators::retry(ports, "wms:dlv_9", "ops").await.unwrap_err();
    assert!(err.to_string().contains("not processable") && err.to_string().contains("contract"), "{err}");
    assert!(ports.blobs.get(&DeadLetter::key("wms:dlv_9")).await.is_ok(), "kept");
}
