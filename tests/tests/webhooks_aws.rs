//! The webhook storm against the template deployed to moto_server: deliveries reach the
//! receiver as API Gateway HTTP API events (the shape of `events/http-post-webhook-wms.json`),
//! queued messages reach the processor as SQS events (`events/sqs-webhook-fifo.json`) the way
//! Lambda's event source mapping delivers them, while WooCommerce fails 10 % of calls. The store
//! ends equal to the truth, and the AWS requests of the run are priced at list prices.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use storesync_aws::http::webhook_app;
use storesync_aws::lambda::{ports, sdk_config};
use storesync_aws::webhooks::handle_processor_event;
use storesync_core::config::Settings;
use storesync_core::webhooks::archive::{ArchiveMode, RAW_PREFIX};
use storesync_core::webhooks::processor::{Processor, DEADLOCK, QUEUES, STOCK_PUSH};
use storesync_core::webhooks::receiver::stored_body;
use storesync_core::webhooks::retry::RetryPolicy;
use storesync_core::webhooks::Secrets;
use storesync_core::workflow::Workflow;
use storesync_platforms::testkit::{note_event_ids, start_sims, truth};
use storesync_platforms::wms::storm::{storm, StormConfig};
use storesync_platforms::woocommerce::sim::Fault;
use storesync_tests::aws::{deploy, invoke_http, StreamTap};
use storesync_tests::cost::{Counts, Meter};
use storesync_tests::moto::Moto;
use storesync_tests::repo_root;

const SECRET: &[u8] = b"moto-wms-secret";

fn event(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo_root().join("events").join(name)).unwrap()).unwrap()
}

/// Bytes of JSON log lines, as Lambda would ship them to CloudWatch.
#[derive(Clone, Default)]
struct LogBytes(Arc<AtomicU64>);

impl Write for LogBytes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// List prices (us-east-1) per unit, in dollars.
const HTTP_API_PER_REQ: f64 = 1.00 / 1e6;
const LAMBDA_PER_REQ: f64 = 0.20 / 1e6;
const LAMBDA_PER_GB_S_ARM: f64 = 0.000_013_333_4;
const DDB_PER_WRU: f64 = 0.625 / 1e6;
const DDB_PER_RRU: f64 = 0.125 / 1e6;
const SQS_FIFO_PER_REQ: f64 = 0.50 / 1e6;
const S3_PUT_PER_REQ: f64 = 0.005 / 1000.0;
const S3_GET_PER_REQ: f64 = 0.0004 / 1000.0;
const LOGS_PER_GB: f64 = 0.50;
/// Memory of the two functions (the template's `MemorySize`), in GB.
const RECEIVER_GB: f64 = 0.125;
const PROCESSOR_GB: f64 = 0.25;

struct Run {
    webhooks: u64,
    /// HTTP requests to the receiver (through the HTTP API route or the function URL).
    receiver_invocations: u64,
    /// The receiver's outbox: change-stream batches.
    outbox_invocations: u64,
    processor_invocations: u64,
    receiver_secs: f64,
    processor_secs: f64,
    counts: Counts,
    log_bytes: u64,
}

impl Run {
    /// Dollars per million webhooks, by line item, with every webhook received through the
    /// HTTP API route or through the function URL.
    fn priced(&self, via_http_api: bool) -> Vec<(&'static str, f64)> {
        let per_million = 1e6 / self.webhooks as f64;
        let r = |k: &str| self.counts.requests.get(k).copied().unwrap_or(0) as f64;
        let invocations = (self.receiver_invocations + self.outbox_invocations + self.processor_invocations) as f64;
        // Billed by the millisecond; the time measured here includes moto's and the
        // simulators' (slower than DynamoDB, SQS and a real store), so this overstates it.
        let gb_s = self.receiver_secs * RECEIVER_GB + self.processor_secs * PROCESSOR_GB;
        let sqs = r("sqs.send") + r("sqs.receive") + r("sqs.delete") + r("sqs.change_visibility");
        // The template sets SystemLogLevel WARN: Lambda's own START/END/REPORT lines are not
        // ingested, only what the handlers log.
        let logs = self.log_bytes as f64 / 1e9;
        vec![
            (
                "API Gateway HTTP API",
                if via_http_api { self.receiver_invocations as f64 * HTTP_API_PER_REQ * per_million } else { 0.0 },
            ),
            ("Lambda requests", invocations * LAMBDA_PER_REQ * per_million),
            ("Lambda GB-s (arm64)", gb_s * LAMBDA_PER_GB_S_ARM * per_million),
            ("DynamoDB writes (WRU)", self.counts.wru as f64 * DDB_PER_WRU * per_million),
            ("DynamoDB reads (RRU)", self.counts.rru * DDB_PER_RRU * per_million),
            ("SQS requests", sqs * SQS_FIFO_PER_REQ * per_million),
            ("S3 PUT/LIST", (r("s3.put") + r("s3.list")) * S3_PUT_PER_REQ * per_million),
            ("S3 GET", r("s3.get") * S3_GET_PER_REQ * per_million),
            ("CloudWatch Logs ingestion", logs * LOGS_PER_GB * per_million),
        ]
    }
}

async fn call(app: &axum::Router, template: &Value, headers: &[(String, String)], body: &[u8]) -> (u16, Value) {
    let mut ev = template.clone();
    let mut h = serde_json::Map::new();
    h.insert("content-type".into(), json!("application/json"));
    for (k, v) in headers {
        h.insert(k.to_lowercase(), json!(v));
    }
    ev["headers"] = Value::Object(h);
    ev["body"] = json!(String::from_utf8_lossy(body));
    invoke_http(app, &ev).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_on_moto_ends_in_the_truth_and_is_priced() {
    let log_bytes = LogBytes::default();
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let writer = log_bytes.clone();
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().json().without_time().with_writer(move || writer.clone()))
            .with("info".parse::<tracing_subscriber::filter::Targets>().unwrap())
            .try_init();
    }
    let moto = Moto::start();
    let stack = deploy(&moto, "storesync-webhooks");
    let resources = stack.resources();
    let cfg = sdk_config(Some(&moto.endpoint)).await;
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let meter = Meter::default();
    let ports = meter.wrap(&ports(&cfg, &resources));
    let workflow = Arc::new(Workflow::new(ports.clone(), Settings::default()));
    let receiver =
        storesync_aws::webhooks::receiver(ports.clone(), Secrets { wms: vec![SECRET.to_vec()], ..Secrets::default() });
    let app = webhook_app(workflow, receiver);

    let sims = start_sims(Duration::from_millis(250)).await;
    let events: usize = std::env::var("MOTO_STORM_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let deliveries = storm(&StormConfig {
        entities: 150,
        events,
        duplicate_share: 0.3,
        shuffle_window_secs: 60,
        seed: 11,
        start: chrono::Utc::now(),
    });
    let (want, orders, skus) = truth(&deliveries, 10);
    for &id in &orders {
        sims.woo.seed_order(id, "processing");
    }
    sims.create_products(&skus.iter().cloned().collect::<Vec<_>>(), 10).await;
    sims.woo.fail_randomly(
        0.10,
        vec![
            Fault::Status { code: 503, retry_after_secs: None },
            Fault::Status { code: 429, retry_after_secs: Some(0) },
            Fault::LostReply { millis: 300 },
        ],
        5,
    );
    let mut processor = Processor::new(ports.clone(), sims.store.clone(), sims.warehouse.clone());
    processor.policy = RetryPolicy { delays_secs: vec![0], max_retries: 10, ..RetryPolicy::default() };
    // As the template configures it (tests/template.rs checks): the raw archive comes from the
    // state table's stream, not from each batch.
    processor.archive = ArchiveMode::Stream;

    // Receipt: one event per delivery, through the HTTP API route and the function URL in turn.
    let shapes = [event("http-post-webhook-wms.json"), event("http-post-webhook-function-url.json")];
    let mut accepted = 0u64;
    let before = meter.counts();
    let started = Instant::now();
    for (i, d) in deliveries.iter().enumerate() {
        let (status, v) = call(&app, &shapes[i % 2], &d.headers(SECRET), &d.body).await;
        assert_eq!(status, 200, "{v}");
        if v["status"] == "accepted" {
            accepted += 1;
        }
    }
    let receipt = meter.counts().since(&before);
    // The function's duration on AWS: our own time, with moto's replaced by AWS's latencies.
    let receiver_secs = started.elapsed().as_secs_f64() - receipt.backend_secs + receipt.aws_secs();
    let unique: BTreeSet<&str> = deliveries.iter().map(|d| d.delivery_id.as_str()).collect();
    assert_eq!(accepted as usize, unique.len());

    // The outbox: the state table's stream, as the receiver's WebhookOutbox mapping delivers it.
    let mut outbox = StreamTap::new(&moto, &resources.state_table, Some(("WebhookReceiverFunction", "WebhookOutbox")));
    let before = meter.counts();
    let started = Instant::now();
    let batches = outbox.poll().events;
    let outbox_invocations = batches.len() as u64;
    let mut queued = 0;
    for ev in batches {
        let reply = storesync_aws::http::handle_receiver_event(&app, &ports, ev, Default::default()).await.unwrap();
        queued += reply["queued"].as_u64().unwrap();
    }
    assert_eq!(queued, accepted, "every first delivery queued by the outbox, once");
    let queueing = meter.counts().since(&before);
    let receiver_secs = receiver_secs + started.elapsed().as_secs_f64() - queueing.backend_secs + queueing.aws_secs();
    eprintln!(
        "outbox: {outbox_invocations} stream batches, {} SendMessageBatch calls for {queued} messages",
        queueing.requests.get("sqs.send").copied().unwrap_or(0)
    );

    // Processing: SQS events as the event source mapping builds them, batch failures honoured.
    let record = event("sqs-webhook-fifo.json")["Records"][0].clone();
    let mut arns: HashMap<&str, String> = HashMap::new();
    for q in QUEUES {
        let url = &resources.queue_urls[q];
        let a = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        arns.insert(q, a.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone());
    }
    let mut invocations = 0u64;
    let mut handler_wall = 0.0;
    let before = meter.counts();
    let (mut esm_receives, mut esm_deletes) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(900);
    'drain: loop {
        for q in QUEUES.iter().filter(|q| **q != DEADLOCK) {
            let url = &resources.queue_urls[*q];
            let want_max = if *q == STOCK_PUSH { 100 } else { 10 };
            let mut msgs = Vec::new();
            while msgs.len() < want_max {
                let out = sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .visibility_timeout(60)
                    .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                    .send()
                    .await
                    .unwrap();
                let got = out.messages().to_vec();
                if got.is_empty() {
                    // An empty poll: this loop's artefact (it polls each queue in turn); the
                    // mapping's long polls return full batches under load.
                    break;
                }
                esm_receives += 1;
                msgs.extend(got);
                if *q != STOCK_PUSH {
                    break;
                }
            }
            if msgs.is_empty() {
                continue;
            }
            let records: Vec<Value> = msgs
                .iter()
                .map(|m| {
                    let mut r = record.clone();
                    r["messageId"] = json!(m.message_id());
                    r["receiptHandle"] = json!(m.receipt_handle());
                    r["body"] = json!(m.body());
                    r["eventSourceARN"] = json!(arns[*q]);
                    let attrs: serde_json::Map<String, Value> =
                        m.attributes().into_iter().flatten().map(|(k, v)| (k.as_str().to_string(), json!(v))).collect();
                    r["attributes"] = Value::Object(attrs);
                    r
                })
                .collect();
            invocations += 1;
            let started = Instant::now();
            let reply =
                handle_processor_event(&processor, &resources.queue_urls, json!({ "Records": records })).await.unwrap();
            handler_wall += started.elapsed().as_secs_f64();
            let failed: BTreeSet<&str> = reply["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["itemIdentifier"].as_str())
                .collect();
            // The event source mapping deletes what succeeded in one DeleteMessageBatch.
            let done: Vec<_> = msgs
                .iter()
                .filter(|m| !failed.contains(m.message_id().unwrap_or_default()))
                .enumerate()
                .map(|(i, m)| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle().unwrap())
                        .build()
                        .unwrap()
                })
                .collect();
            for chunk in done.chunks(10) {
                sqs.delete_message_batch().queue_url(url).set_entries(Some(chunk.to_vec())).send().await.unwrap();
                esm_deletes += 1;
            }
            continue 'drain;
        }
        // Nothing visible: done once nothing is in flight either.
        let mut busy = 0;
        for q in QUEUES.iter().filter(|q| **q != DEADLOCK) {
            let d = ports.queue.depth(q).await.unwrap();
            busy += d.visible + d.not_visible;
        }
        if busy == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the queues did not drain");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let processing = meter.counts().since(&before);
    let mut processor_secs = handler_wall - processing.backend_secs + processing.aws_secs();

    // The raw archive: the state table's stream, as the RawArchive mapping delivers it.
    let stream = StreamTap::new(&moto, &resources.state_table, Some(("WebhookProcessorFunction", "RawArchive"))).poll();
    let before = meter.counts();
    let started = Instant::now();
    for ev in &stream.events {
        invocations += 1;
        let reply = handle_processor_event(&processor, &resources.queue_urls, ev.clone()).await.unwrap();
        assert!(reply["archived"].as_u64().unwrap() > 0, "the filter passes only dedupe records: {reply}");
    }
    let archiving = meter.counts().since(&before);
    processor_secs += started.elapsed().as_secs_f64() - archiving.backend_secs + archiving.aws_secs();
    eprintln!(
        "archive: {} stream records, {} events to the archiver, {} PUTs",
        stream.records,
        stream.events.len(),
        archiving.requests.get("s3.put").copied().unwrap_or(0)
    );
    meter.count("sqs.receive", esm_receives);
    meter.count("sqs.delete", esm_deletes);
    sims.woo.fail_randomly(0.0, vec![], 0);

    // Every first delivery is archived, replayable byte for byte.
    let plain = storesync_aws::lambda::ports(&cfg, &resources);
    let mut archived: HashMap<String, Value> = HashMap::new();
    for b in plain.blobs.list(RAW_PREFIX).await.unwrap() {
        let bytes = plain.blobs.get(&b.key).await.unwrap().to_bytes().unwrap();
        for line in bytes.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
            let v: Value = serde_json::from_slice(line).unwrap();
            archived.insert(v["dedupe_key"].as_str().unwrap().to_string(), v);
        }
    }
    assert_eq!(archived.len() as u64, accepted, "one archived delivery per first delivery");
    for d in &deliveries {
        let line = archived.values().find(|v| v["delivery"]["headers"]["X-Webhook-Id"] == d.delivery_id.as_str());
        let line = line.unwrap_or_else(|| panic!("delivery {} is not archived", d.delivery_id));
        assert_eq!(stored_body(line).unwrap(), d.body, "archived as sent");
    }

    let got = sims.observed(&orders, &skus).await;
    let dead = storesync_core::webhooks::operators::dead_letters(&ports).await.unwrap();
    let first_dead: Vec<&str> = dead.iter().take(3).map(|d| d.reason.as_str()).collect();
    eprintln!("processor: {:?}; dead letters (first three): {first_dead:?}", processor.stats.snapshot());
    assert_eq!(note_event_ids(&got.notes), want.notes, "every note once");
    assert_eq!(got.completed, want.completed);
    assert_eq!(got.stock, want.stock);
    let s = processor.stats.snapshot();
    assert_eq!(accepted, s.applied + s.dead_lettered + s.duplicate_events, "{s:?}");
    assert_eq!(s.dead_lettered, 0);
    assert!(sims.woo.stats().faults_served > 0);

    let run = Run {
        webhooks: deliveries.len() as u64,
        receiver_invocations: deliveries.len() as u64,
        outbox_invocations,
        processor_invocations: invocations,
        receiver_secs,
        processor_secs,
        counts: meter.counts(),
        log_bytes: log_bytes.0.load(Ordering::Relaxed),
    };
    eprintln!("cost run: {} webhooks ({accepted} first deliveries), {invocations} processor invocations", run.webhooks);
    eprintln!(
        "requests: {:?}; WRU {} RRU {}; log bytes {}",
        run.counts.requests, run.counts.wru, run.counts.rru, run.log_bytes
    );
    eprintln!("DynamoDB requests by record: {:?}", run.counts.by_record);
    eprintln!(
        "function time at AWS latencies: receiver {receiver_secs:.1} s, processor {processor_secs:.1} s (the simulated store included)"
    );
    let mut totals = Vec::new();
    for via_http_api in [true, false] {
        let priced = run.priced(via_http_api);
        let total: f64 = priced.iter().map(|(_, d)| d).sum();
        eprintln!("received through the {}:", if via_http_api { "HTTP API route" } else { "function URL" });
        for (item, dollars) in &priced {
            eprintln!("  {item:<30} ${dollars:.3} per million webhooks");
        }
        eprintln!("  {:<30} ${total:.3} per million webhooks", "total");
        totals.push(total);
    }
    for (total, via) in totals.iter().zip(["HTTP API route", "function URL"]) {
        assert!(*total <= 3.00, "${total:.2} per million webhooks through the {via} is over the $3.00 budget");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_too_large_for_a_dynamodb_item_is_kept_in_the_bucket() {
    let moto = Moto::start();
    let stack = deploy(&moto, "storesync-large");
    let resources = stack.resources();
    let cfg = sdk_config(Some(&moto.endpoint)).await;
    let ports = ports(&cfg, &resources);
    // What the spill avoids: DynamoDB refuses an item over 400 KB.
    let huge = json!({ "body": "x".repeat(450 * 1024) });
    assert!(ports.kv.put("webhook/too-big", &huge).await.is_err(), "moto enforces the item size limit");

    let receiver =
        storesync_aws::webhooks::receiver(ports.clone(), Secrets { wms: vec![SECRET.to_vec()], ..Secrets::default() });
    let app = webhook_app(Arc::new(Workflow::new(ports.clone(), Settings::default())), receiver);
    let (body, headers) = storesync_tests::large_inbound("big", 600 * 1024, SECRET);
    assert!(body.len() > 500 * 1024 && body.len() < 1024 * 1024, "{} bytes", body.len());
    let (status, reply) = call(&app, &event("http-post-webhook-wms.json"), &headers, &body).await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("accepted")), "{reply}");

    let mut outbox = StreamTap::new(&moto, &resources.state_table, Some(("WebhookReceiverFunction", "WebhookOutbox")));
    assert_eq!(storesync_tests::aws::run_outbox(&mut outbox, &app, &ports).await, 1);
    let sims = start_sims(Duration::from_secs(5)).await;
    let processor = Processor::new(ports.clone(), sims.store.clone(), sims.warehouse.clone());
    let queue = storesync_core::webhooks::processor::INBOUNDS;
    let got = ports.queue.receive(queue, 10, 60).await.unwrap();
    assert_eq!(got.len(), 1);
    let done = processor.process(queue, &got).await.unwrap();
    assert_eq!((done.done.len(), done.failed.len()), (1, 0), "applied from the bucket's copy");
    // The raw archive keeps the reference; the body it names is the one sent.
    let record = ports.kv.get(&storesync_core::webhooks::receiver::record_key("wms:dlv_big")).await.unwrap().unwrap();
    let kept = storesync_core::webhooks::receiver::delivery_body(ports.blobs.as_ref(), &record).await.unwrap();
    assert_eq!(kept.unwrap(), body);
}
