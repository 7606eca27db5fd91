//! Every sample event in `events/` is a real event shape (it parses into the `aws_lambda_events`
//! and `lambda_http` types) and reaches the right handler.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use bytes::Bytes;
use serde_json::Value;
use storesync_aws::lambda::{decode_s3_key, handle_event};
use storesync_core::config::Settings;
use storesync_core::ports::{BlobStore, Queue, StepStatus};
use storesync_core::workflow::Command;
use storesync_local::Local;
use storesync_tests::{real_testdata, repo_root};

fn event(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo_root().join("events").join(name)).unwrap()).unwrap()
}

fn local() -> (Local, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Local::open(dir.path(), Settings::default()).unwrap(), dir)
}

#[test]
fn there_is_a_sample_for_every_trigger() {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "dynamodb-stream-webhook-seen.json",
            "http-get-session.json",
            "http-post-webhook-function-url.json",
            "http-post-webhook-wms.json",
            "http-retry-step.json",
            "s3-put-comax-products.json",
            "s3-put-supplier-feed.json",
            "s3-put-web-products.json",
            "schedule-daily.json",
            "schedule-supplier-poll.json",
            "sqs-step-command.json",
            "sqs-store-sync-chunk.json",
            "sqs-supplier-batch.json",
            "sqs-webhook-fifo.json"
        ]
    );
}

#[test]
fn s3_keys_are_url_decoded() {
    assert_eq!(decode_s3_key("inbox/web/Web+Products%20(1).csv"), "inbox/web/Web Products (1).csv");
    let real: S3Event = serde_json::from_slice(
        &std::fs::read(real_testdata().join("aws_lambda_events/example-s3-event-with-decoded.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(decode_s3_key(real.records[0].s3.object.key.as_deref().unwrap()), "Happy Face.jpg");
}

#[tokio::test]
async fn s3_put_fires_the_upload_trigger() {
    let (l, _d) = local();
    for name in ["s3-put-web-products.json", "s3-put-comax-products.json"] {
        let e: S3Event = serde_json::from_value(event(name)).unwrap();
        assert_eq!(e.records[0].event_name.as_deref(), Some("ObjectCreated:Put"));
    }
    l.blobs
        .put("inbox/web/WebProducts.csv", Bytes::from_static(b"ID,Type,SKU,Stock,Regular price\n"), None)
        .await
        .unwrap();
    assert_eq!(handle_event(&l.workflow, event("s3-put-web-products.json")).await.unwrap(), Value::Null);
    let s = l.workflow.current().await.unwrap().unwrap();
    let v = l.workflow.view(&s).await.unwrap();
    assert_eq!(v.status(1), Some(StepStatus::Waiting));
    assert_eq!(v.step(1).message, "Received WebProducts.csv; waiting for WebOrders.csv, WebTranslations.csv");
}

#[tokio::test]
async fn sqs_failures_are_reported_per_message() {
    let (l, _d) = local();
    let ev = event("sqs-step-command.json");
    let parsed: SqsEvent = serde_json::from_value(ev.clone()).unwrap();
    let cmd: Command = serde_json::from_str(parsed.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(cmd.queue(), "export-orders");
    // The session does not exist here: the message is reported failed, so SQS retries it and
    // finally moves it to the dead-letter queue.
    let reply = handle_event(&l.workflow, ev).await.unwrap();
    assert_eq!(
        reply,
        serde_json::json!({ "batchItemFailures": [{ "itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da" }] })
    );
    let mut bad = event("sqs-step-command.json");
    bad["Records"][0]["body"] = Value::from("{\"type\":\"NoSuchCommandV9\"}");
    let reply = handle_event(&l.workflow, bad).await.unwrap();
    assert_eq!(reply["batchItemFailures"].as_array().unwrap().len(), 1, "an undecodable command is not dropped");
}

#[tokio::test]
async fn the_schedule_starts_a_session() {
    let (l, _d) = local();
    let ev = event("schedule-daily.json");
    let parsed: EventBridgeEvent = serde_json::from_value(ev.clone()).unwrap();
    assert_eq!(parsed.detail_type, "Scheduled Event");
    let reply = handle_event(&l.workflow, ev).await.unwrap();
    let s = l.workflow.current().await.unwrap().unwrap();
    assert_eq!(reply["session"], Value::from(s.as_str()));
    let queued = l.state.receive("import-web", 10, 30).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        serde_json::from_str::<Command>(&queued[0].body).unwrap(),
        Command::StartSessionV1 { by: "schedule".into() }
    );
    let audit = l.workflow.ports().audit.list(&format!("session/{s}")).await.unwrap();
    assert_eq!((audit[0].who.as_str(), audit[0].action.as_str()), ("schedule", "start"));
}

#[tokio::test]
async fn an_unknown_event_is_an_error() {
    let (l, _d) = local();
    let e = handle_event(&l.workflow, serde_json::json!({ "hello": 1 })).await.unwrap_err();
    assert_eq!(e.to_string(), "the event is none of S3, SQS, DynamoDB Streams or a schedule: {\"hello\":1}");
}

async fn call(app: axum::Router, name: &str, edit: impl FnOnce(&mut Value)) -> (u16, Value) {
    let mut ev = event(name);
    edit(&mut ev);
    storesync_tests::aws::invoke_http(&app, &ev).await
}

#[tokio::test]
async fn http_events_reach_the_admin_router_with_the_authorizer_identity() {
    let (l, _d) = local();
    let app = storesync_aws::http::app(l.workflow.clone());
    let (code, body) = call(app.clone(), "http-get-session.json", |_| {}).await;
    assert_eq!((code, body), (404, serde_json::json!({ "error": "session 20261125-051244-ab12 not found" })));
    let (code, _) = call(app.clone(), "http-retry-step.json", |_| {}).await;
    assert_eq!(code, 404, "an operator reaches the workflow");
    let (code, body) = call(app.clone(), "http-retry-step.json", |e| {
        e["requestContext"]["authorizer"]["jwt"]["claims"]["role"] = Value::from("viewer");
    })
    .await;
    assert_eq!((code, body["error"].as_str().unwrap()), (403, "dana is a viewer; this needs an operator"));
    let (code, body) = call(app, "http-get-session.json", |e| {
        e["requestContext"].as_object_mut().unwrap().remove("authorizer");
    })
    .await;
    assert_eq!((code, body["error"].as_str().unwrap()), (401, "no identity from the gateway authorizer"));
}

#[tokio::test]
async fn the_state_stream_archives_first_writes_of_dedupe_records_only() {
    use storesync_core::webhooks::archive::RAW_PREFIX;
    let raw = event("dynamodb-stream-webhook-seen.json");
    let typed: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(typed.records.len(), 3);
    let (local, _dir) = local();
    let ports = local.workflow.ports();
    let archived = storesync_aws::webhooks::archive_stream(ports, &typed).await.unwrap();
    assert_eq!(archived, 2, "the insert and an expired record's renewal; not the expiry");
    let objects = ports.blobs.list(RAW_PREFIX).await.unwrap();
    assert_eq!(objects.len(), 1);
    assert!(objects[0].key.starts_with("webhooks/raw/wms/2026-11-25/"), "{}", objects[0].key);
    let bytes = ports.blobs.get(&objects[0].key).await.unwrap().to_bytes().unwrap();
    let line: Value = serde_json::from_slice(bytes.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["dedupe_key"], "wms:dlv_0001");
    let stored = storesync_core::webhooks::receiver::stored_body(&line).unwrap();
    assert!(stored.starts_with(br#"{"id":"evt_0001""#), "the body as sent");
    // The same batch again (Lambda retries a failed batch) writes the same object.
    storesync_aws::webhooks::archive_stream(ports, &typed).await.unwrap();
    assert_eq!(ports.blobs.list(RAW_PREFIX).await.unwrap().len(), 1);
}

#[test]
fn a_store_sync_chunk_event_is_a_delivery_with_its_receive_count() {
    let parsed: SqsEvent = serde_json::from_value(event("sqs-store-sync-chunk.json")).unwrap();
    let d = storesync_aws::stores::delivery(&parsed.records[0]);
    assert_eq!((d.receipt.as_str(), d.receive_count), ("7b1c3d52-0e8a-4b5e-9d0f-3c2a1e6f9b44", 2));
    let chunk: storesync_core::stores::sync::ChunkMessage = serde_json::from_str(&d.body).unwrap();
    assert_eq!((chunk.chunk, chunk.items), (0, vec![0, 1, 2]));
}

#[test]
fn the_supplier_samples_are_the_events_their_functions_take() {
    let s3: S3Event = serde_json::from_value(event("s3-put-supplier-feed.json")).unwrap();
    let key = decode_s3_key(s3.records[0].s3.object.key.as_deref().unwrap());
    assert!(key.starts_with(storesync_core::supplier::pipeline::RAW_PREFIX), "{key}");
    assert_eq!(storesync_core::supplier::pipeline::run_of(&key), "etilize-0123456789abcdef");
    let sqs: SqsEvent = serde_json::from_value(event("sqs-supplier-batch.json")).unwrap();
    let body: Value = serde_json::from_str(sqs.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!((body["run"].as_str(), body["batch"].as_u64()), (Some("etilize-0123456789abcdef"), Some(0)));
    let poll: EventBridgeEvent = serde_json::from_value(event("schedule-supplier-poll.json")).unwrap();
    assert_eq!(poll.detail_type, "Scheduled Event");
}

/// The receiver function's entry (`handle_receiver_event`) on the local state.
struct Receiver {
    app: axum::Router,
    ports: storesync_core::ports::Ports,
    _local: Local,
    _dir: tempfile::TempDir,
}

impl Receiver {
    fn new() -> Self {
        let (local, dir) = local();
        let ports = local.workflow.ports().clone();
        let receiver = storesync_aws::webhooks::receiver(ports.clone(), Default::default());
        let app = storesync_aws::http::webhook_app(local.workflow.clone(), receiver);
        Self { app, ports, _local: local, _dir: dir }
    }

    async fn handle(&self, event: Value) -> Value {
        storesync_aws::http::handle_receiver_event(&self.app, &self.ports, event, Default::default()).await.unwrap()
    }
}

#[tokio::test]
async fn the_state_stream_queues_new_dedupe_records_through_the_receiver() {
    use storesync_core::webhooks::processor::{Message, STOCK};
    let raw = event("dynamodb-stream-webhook-seen.json");
    let receiver = Receiver::new();
    let reply = receiver.handle(raw.clone()).await;
    assert_eq!(
        reply,
        serde_json::json!({ "queued": 2, "dead_lettered": 0 }),
        "the insert and the renewal; not the expiry"
    );
    let got = receiver.ports.queue.receive(STOCK, 10, 30).await.unwrap();
    let keys: Vec<String> = got
        .iter()
        .map(|d| match serde_json::from_str::<Message>(&d.body).unwrap() {
            Message::Webhook { dedupe_key, delivery, .. } => {
                assert!(delivery.is_some(), "a small body travels in the message");
                dedupe_key
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(keys, ["wms:dlv_0001", "wms:dlv_0002"], "in the stream's order");
    // Lambda retries a failed batch: sent again, the messages are dropped by their dedupe ids.
    receiver.handle(raw).await;
    for d in &got {
        receiver.ports.queue.ack(STOCK, &d.receipt).await.unwrap();
    }
    assert!(receiver.ports.queue.receive(STOCK, 10, 30).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_dedupe_record_the_outbox_cannot_read_is_dead_lettered_not_skipped() {
    use storesync_core::webhooks::operators;
    use storesync_core::webhooks::processor::STOCK;
    let mut raw = event("dynamodb-stream-webhook-seen.json");
    // The insert's value is not JSON; the renewal's record lacks what its message is made of.
    raw["Records"][0]["dynamodb"]["NewImage"]["value"]["S"] = "{\"delivery\": {trunc".into();
    let renewal = &mut raw["Records"][1]["dynamodb"]["NewImage"]["value"]["S"];
    let mut record: Value = serde_json::from_str(renewal.as_str().unwrap()).unwrap();
    record.as_object_mut().unwrap().remove("accepted");
    *renewal = record.to_string().into();
    let receiver = Receiver::new();
    let reply = receiver.handle(raw.clone()).await;
    assert_eq!(reply, serde_json::json!({ "queued": 0, "dead_lettered": 2 }));
    assert!(receiver.ports.queue.receive(STOCK, 10, 30).await.unwrap().is_empty());
    let mut dead = operators::dead_letters(&receiver.ports).await.unwrap();
    dead.sort_by(|a, b| a.id.cmp(&b.id));
    let ids: Vec<&str> = dead.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["outbox:wms:dlv_0001", "outbox:wms:dlv_0002"]);
    assert!(
        dead[0].reason.contains("webhook/seen/wms:dlv_0001") && dead[0].reason.contains("not JSON"),
        "{}",
        dead[0].reason
    );
    assert!(dead[1].reason.contains("no `accepted`"), "{}", dead[1].reason);
    assert_eq!(dead[0].delivery, None, "nothing readable to keep");
    assert_eq!(dead[1].delivery.as_ref().unwrap()["headers"]["X-Webhook-Id"], "dlv_0002", "the raw delivery kept");
    // Lambda retries the batch after any failure: the same records make the same dead letters.
    receiver.handle(raw).await;
    assert_eq!(operators::dead_letters(&receiver.ports).await.unwrap().len(), 2);
    // An operator's retry reads the kept delivery again and queues it as the receiver would;
    // with nothing kept there is nothing to retry.
    let ports = &receiver.ports;
    let err = operators::retry(ports, "outbox:wms:dlv_0001", "ops").await.unwrap_err();
    assert!(matches!(err, operators::OpsError::NotRetryable { .. }), "{err}");
    operators::retry(ports, "outbox:wms:dlv_0002", "ops").await.unwrap();
    let got = ports.queue.receive(STOCK, 10, 30).await.unwrap();
    assert_eq!(got.len(), 1);
    match serde_json::from_str(&got[0].body).unwrap() {
        storesync_core::webhooks::processor::Message::Webhook { accepted, delivery, .. } => {
            assert_eq!((accepted.dedupe_key.as_str(), accepted.entity.as_str()), ("wms:dlv_0002", "sku:SKU-0001"));
            assert_eq!(delivery.unwrap()["headers"]["X-Webhook-Id"], "dlv_0002");
        }
        other => panic!("{other:?}"),
    }
    let left: Vec<String> = operators::dead_letters(ports).await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(left, ["outbox:wms:dlv_0001"]);
    let audit = ports.audit.list("webhook/outbox:wms:dlv_0002").await.unwrap();
    assert_eq!(audit.last().unwrap().action, "webhook.retry");
}
