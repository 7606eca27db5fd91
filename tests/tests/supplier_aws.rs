//! The supplier pipeline on the AWS wiring: the template deployed to moto_server; the poller's
//! handler downloads the feed from a real FTP server into the stack's bucket; the ingest
//! handler is handed the sample S3 event naming it (twice: the second runs nothing); the worker
//! is handed SQS events built from the stack's batch and apply queues (their ARNs and receive
//! counts), as the event source mappings would. Every row is accounted for in the run's report
//! (DynamoDB staging), and the approved entries are in Shopify with their versions. Then the
//! scheduled jobs: the Shopify check finds exactly the one product edited by hand (storesync's
//! own writes are not edits), the stock sync writes the distributor's stock, the sweep finds
//! nothing left unapplied; a sale to 0 in Shopify goes through the receiver (HTTP API event),
//! the processor (SQS) and the worker (the apply queue) and brings the distributor's stock back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use storesync_aws::lambda::{ports, sdk_config};
use storesync_aws::supplier::{handle_ingest_event, handle_scheduled, handle_worker_event, SupplierDeps};
use storesync_aws::webhooks::handle_processor_event;
use storesync_core::config;
use storesync_core::ports::Ports;
use storesync_core::stores::catalog::DataType;
use storesync_core::stores::catalog_sync::CatalogStore;
use storesync_core::supplier::pipeline::{self, run_of, run_report, SupplierSettings, APPLY_QUEUE, BATCH_QUEUE};
use storesync_core::supplier::staging::StagingStatus;
use storesync_core::webhooks::processor::{Processor, QUEUES};
use storesync_core::webhooks::Secrets;
use storesync_core::workflow::Workflow;
use storesync_platforms::ftp::FtpServer;
use storesync_platforms::shopify::catalog::ShopifyCatalog;
use storesync_platforms::shopify::client::ShopifyClient;
use storesync_platforms::shopify::sim::{Bucket, ShopifySim};
use storesync_platforms::supplier::Connected;
use storesync_platforms::xorosoft::sim::XorosoftSim;
use storesync_tests::aws::deploy;
use storesync_tests::moto::Moto;
use storesync_tests::{repo_root, supplier};

const ROWS: usize = 1_000;

fn event(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo_root().join("events").join(name)).unwrap()).unwrap()
}

/// Webhooks as a receiver got them: headers and body.
type Captured = Arc<std::sync::Mutex<Vec<(Vec<(String, String)>, String)>>>;

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Hands every message of `queue` to the worker, one per event, deleting what it did not
/// report as failed, until the queue is empty; the failures reported.
async fn drain(
    sqs: &aws_sdk_sqs::Client,
    ports: &Ports,
    deps: &SupplierDeps,
    urls: &HashMap<String, String>,
    queue: &str,
) -> usize {
    drain_with(sqs, urls, queue, |ev| async move { handle_worker_event(ports, deps, urls, ev).await.unwrap() }).await
}

/// [`drain`] with any handler of SQS events (the event source mapping's part).
async fn drain_with<F: std::future::Future<Output = Value>>(
    sqs: &aws_sdk_sqs::Client,
    urls: &HashMap<String, String>,
    queue: &str,
    handler: impl Fn(Value) -> F,
) -> usize {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&urls[queue])
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    let mut failures = 0;
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&urls[queue])
            .max_number_of_messages(1)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let Some(m) = out.messages().first() else { return failures };
        let mut ev = event("sqs-supplier-batch.json");
        let r = &mut ev["Records"][0];
        r["messageId"] = Value::from(m.message_id().unwrap());
        r["receiptHandle"] = Value::from(m.receipt_handle().unwrap());
        r["body"] = Value::from(m.body().unwrap());
        r["eventSourceARN"] = Value::from(arn.as_str());
        for (k, v) in m.attributes().into_iter().flatten() {
            r["attributes"][k.as_str()] = Value::from(v.as_str());
        }
        let reply = handler(ev).await;
        let failed = reply["batchItemFailures"].as_array().map(Vec::len).unwrap_or(0);
        failures += failed;
        if failed == 0 {
            sqs.delete_message()
                .queue_url(&urls[queue])
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_goes_from_ftp_through_the_stack_to_shopify() {
    let moto = Moto::start();
    let stack = deploy(&moto, "supplier");
    let resources = stack.resources();
    let cfg = sdk_config(Some(&moto.endpoint)).await;
    let ports = ports(&cfg, &resources);
    let settings = SupplierSettings::default();

    // The poll: the feed from the FTP server into the stack's bucket.
    let ftp_root = tempfile::tempdir().unwrap();
    let zip = supplier::feed_zip(ROWS);
    std::fs::write(ftp_root.path().join("CowanOfficeSupplies_2026-12-01.zip"), &zip).unwrap();
    let server = FtpServer::start(ftp_root.path(), "etilize", "pw").await.unwrap();
    let xoro = XorosoftSim::new("xo");
    xoro.rate_limit(0, 0.0);
    xoro.carry_by(supplier::distributor_rule);
    let xoro_base = serve(xoro.router()).await;
    let shop_sim = ShopifySim::new("shpat", Bucket { size: 1e9, restore_rate: 1e9 });
    let location = shop_sim.add_location("Main warehouse");
    supplier::seed_shop(&shop_sim, ROWS);
    let shop_base = serve(shop_sim.router()).await;
    // The platforms as the functions open them: from their configuration.
    let vars: HashMap<&str, String> = HashMap::from([
        (pipeline::ENV_FTP_ADDRESS, server.address.clone()),
        (pipeline::ENV_FTP_USER, "etilize".into()),
        (pipeline::ENV_FTP_PASSWORD, "pw".into()),
        (pipeline::ENV_XOROSOFT_URL, xoro_base.clone()),
        (pipeline::ENV_XOROSOFT_TOKEN, "xo".into()),
        (config::ENV_SHOPIFY_URL, shop_base.clone()),
        (config::ENV_SHOPIFY_TOKEN, "shpat".into()),
        (config::ENV_SHOPIFY_LOCATION, location.clone()),
    ]);
    let jobs = Arc::new(Connected::connect(|k| vars.get(k).cloned()));
    // The plain scheduled event is a poll.
    let polled =
        handle_scheduled(&ports, jobs.as_ref(), &settings, event("schedule-supplier-poll.json")).await.unwrap();
    let key = polled["downloaded"][0].as_str().unwrap().to_string();
    assert!(ports.blobs.get(&key).await.unwrap().to_bytes().unwrap() == zip);

    // The ingest, from the sample S3 event naming the object; a second event runs nothing.
    let mut ev = event("s3-put-supplier-feed.json");
    ev["Records"][0]["s3"]["bucket"]["name"] = Value::from(resources.bucket.as_str());
    ev["Records"][0]["s3"]["object"]["key"] = Value::from(key.replace(' ', "+"));
    let first = handle_ingest_event(&ports, &settings, ev.clone()).await.unwrap();
    assert_eq!(first["ingested"][0]["outcome"], "ingested", "{first}");
    let again = handle_ingest_event(&ports, &settings, ev).await.unwrap();
    assert_eq!(again["ingested"][0]["outcome"], "already_ingested");

    // The worker: batches, then approved entries, from the stack's queues.
    let client =
        ShopifyClient::new(&shop_base, "shpat", storesync_platforms::shopify::API_VERSION, Duration::from_secs(30))
            .unwrap();
    let shop = Arc::new(ShopifyCatalog::new(client));
    let deps = SupplierDeps::new(jobs.clone(), settings.clone());
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    assert_eq!(drain(&sqs, &ports, &deps, &resources.queue_urls, BATCH_QUEUE).await, 0);
    let run = run_of(&key);
    let r = run_report(&ports, &run).await.unwrap();
    assert_eq!((r.items + r.bad_rows, r.batches_done), (ROWS as u64, r.batches), "{r:?}");
    assert_eq!(r.not_carried + r.creates + r.updates + r.unchanged, r.items, "{r:?}");
    assert_eq!(r.entries.get(&StagingStatus::Approved).copied(), Some(r.auto_approved));
    assert_eq!(r.entries.get(&StagingStatus::Pending).copied(), Some(r.pending));
    assert!(r.pending > 0 && r.creates > 0 && r.updates > 0, "{r:?}");

    assert_eq!(drain(&sqs, &ports, &deps, &resources.queue_urls, APPLY_QUEUE).await, 0);
    let after = run_report(&ports, &run).await.unwrap();
    assert_eq!(after.entries.get(&StagingStatus::Applied).copied(), Some(r.auto_approved));
    let created = shop.find(DataType::Products, "SUP-000005").await.unwrap().expect("a new product in Shopify");
    assert_eq!(shop_sim.available("SUP-000005", &location), Some(40));
    let versions = ports.versions.history(&created).await.unwrap();
    assert_eq!(versions.len(), 1, "its version, in DynamoDB");
    let log = ports.status.read(&storesync_core::domain::SessionId::parse(&run).unwrap()).await.unwrap();
    assert_eq!(log.last().unwrap().details["state"], "review_pending");

    // The scheduled jobs: a hand edit in Shopify found by the check; the stock sync; the sweep.
    shop_sim.product_set(serde_json::json!({ "id": created, "descriptionHtml": "<p>Edited by hand</p>" })).unwrap();
    let job = |name: &str| serde_json::json!({ "job": name });
    let checked = handle_scheduled(&ports, jobs.as_ref(), &settings, job("check")).await.unwrap();
    assert_eq!(checked["products_edited_in_shopify"], 1, "{checked}");
    assert_eq!(ports.versions.history(&created).await.unwrap().last().unwrap().source, "shopify");
    xoro.carry(
        "SUP-000005",
        storesync_core::supplier::distributor::Carried { item_number: "X".into(), stock: 3, price: None },
    );
    let stock = handle_scheduled(&ports, jobs.as_ref(), &settings, job("stock")).await.unwrap();
    assert!(stock["written"].as_array().unwrap().iter().any(|w| w[0] == "SUP-000005" && w[1] == 3), "{stock}");
    assert_eq!(shop_sim.available("SUP-000005", &location), Some(3));

    // A sale takes SUP-000005 to 0 in Shopify while the distributor restocked: Shopify's
    // inventory_levels/update reaches the receiver as an HTTP API event, the processor (from
    // its SQS queue, where the receiver's outbox put it) puts a low-stock alert on the apply queue, the worker restocks the product.
    let secret = b"moto-shopify-secret";
    let hooks: Captured = Default::default();
    let sink = hooks.clone();
    let capture = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: axum::http::HeaderMap, body: String| async move {
            let headers = h.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect();
            sink.lock().unwrap().push((headers, body));
        }),
    );
    shop_sim.subscribe(&format!("{}/hook", serve(capture).await), secret);
    xoro.carry(
        "SUP-000005",
        storesync_core::supplier::distributor::Carried { item_number: "X".into(), stock: 30, price: None },
    );
    shop_sim.set_available("SUP-000005", &location, 0);
    assert_eq!(shop_sim.deliver_webhooks(&reqwest::Client::new()).await.refused, None);
    let receiver = storesync_aws::webhooks::receiver(
        ports.clone(),
        Secrets { shopify: vec![secret.to_vec()], ..Default::default() },
    );
    let app = storesync_aws::http::webhook_app(Arc::new(Workflow::new(ports.clone(), Default::default())), receiver);
    let captured = hooks.lock().unwrap().clone();
    assert_eq!(captured.len(), 1, "one level changed");
    for (headers, body) in captured {
        let mut ev = event("http-post-webhook-wms.json");
        ev["rawPath"] = Value::from("/webhooks/shopify");
        ev["requestContext"]["http"]["path"] = Value::from("/webhooks/shopify");
        ev["pathParameters"]["source"] = Value::from("shopify");
        ev["headers"] = Value::Object(headers.into_iter().map(|(k, v)| (k, Value::from(v))).collect());
        ev["body"] = Value::from(body);
        let (status, reply) = storesync_tests::aws::invoke_http(&app, &ev).await;
        assert_eq!((status, reply["status"].as_str()), (200, Some("accepted")), "{reply}");
    }
    // The receiver's outbox queues it from the state table's stream.
    let mut outbox = storesync_tests::aws::StreamTap::new(
        &moto,
        &resources.state_table,
        Some(("WebhookReceiverFunction", "WebhookOutbox")),
    );
    assert_eq!(storesync_tests::aws::run_outbox(&mut outbox, &app, &ports).await, 1);
    let sims = storesync_platforms::testkit::start_sims(Duration::from_secs(5)).await;
    let processor = Processor::new(ports.clone(), sims.store.clone(), sims.warehouse.clone());
    for q in QUEUES {
        let processed = drain_with(&sqs, &resources.queue_urls, q, |ev| async {
            handle_processor_event(&processor, &resources.queue_urls, ev).await.unwrap()
        })
        .await;
        assert_eq!(processed, 0, "{q}: no failures");
    }
    assert_eq!(drain(&sqs, &ports, &deps, &resources.queue_urls, APPLY_QUEUE).await, 0);
    assert_eq!(shop_sim.available("SUP-000005", &location), Some(30), "restocked from the distributor");

    let swept = handle_scheduled(&ports, jobs.as_ref(), &settings, job("sweep")).await.unwrap();
    assert_eq!(swept["requeued"], 0, "nothing approved is left unapplied");
    assert!(handle_scheduled(&ports, jobs.as_ref(), &settings, job("dance")).await.is_err());
}
