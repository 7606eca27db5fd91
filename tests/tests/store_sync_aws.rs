//! Store ⇄ store sync on the AWS wiring: the template deployed to moto_server, the admin API
//! invoked with HTTP API events, and the compare and sync workers handed SQS events built from
//! the stack's real queues (with their ARNs and receive counts), as the event source mappings
//! would: compare, sync, results, a compare that finds nothing left, rollback.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};
use storesync_aws::lambda::{ports, sdk_config};
use storesync_aws::stores::{handle_store_event, Worker};
use storesync_core::config::Settings;
use storesync_core::workflow::Workflow;
use storesync_local::simulate::Simulation;
use storesync_platforms::stores::ConfiguredStores;
use storesync_tests::aws::{deploy, invoke_http, Stack};
use storesync_tests::moto::Moto;
use storesync_tests::repo_root;

fn event(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo_root().join("events").join(name)).unwrap()).unwrap()
}

/// The admin API as the function serves it, called as the HTTP API would (an operator's JWT
/// claims from the authorizer).
async fn call(app: &axum::Router, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut ev = event("http-get-session.json");
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    ev["routeKey"] = Value::from(format!("{method} {raw_path}"));
    ev["rawPath"] = Value::from(raw_path);
    ev["rawQueryString"] = Value::from(query);
    ev["requestContext"]["http"]["method"] = Value::from(method);
    ev["requestContext"]["http"]["path"] = Value::from(raw_path);
    ev["pathParameters"] = json!({});
    if let Some(b) = body {
        ev["body"] = Value::from(b.to_string());
    }
    invoke_http(app, &ev).await
}

struct Aws {
    _moto: Moto,
    stack: Stack,
    sqs: aws_sdk_sqs::Client,
    urls: HashMap<String, String>,
    ports: storesync_core::ports::Ports,
    stores: ConfiguredStores,
}

impl Aws {
    async fn arn(&self, queue: &str) -> String {
        let a = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.urls[queue])
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        a.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone()
    }

    /// Hands each message of `worker`'s queue to its handler, one per event (the template's
    /// batch size), deleting what the handler did not report as failed; until the queue is
    /// empty. Returns the failures reported.
    async fn drain(&self, worker: Worker) -> usize {
        let arn = self.arn(worker.queue()).await;
        let mut failures = 0;
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.urls[worker.queue()])
                .max_number_of_messages(1)
                .visibility_timeout(0)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            let Some(m) = out.messages().first() else { return failures };
            let mut ev = event("sqs-store-sync-chunk.json");
            let r = &mut ev["Records"][0];
            r["messageId"] = Value::from(m.message_id().unwrap());
            r["receiptHandle"] = Value::from(m.receipt_handle().unwrap());
            r["body"] = Value::from(m.body().unwrap());
            r["eventSourceARN"] = Value::from(arn.as_str());
            let count = m
                .attributes()
                .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount));
            r["attributes"]["ApproximateReceiveCount"] = Value::from(count.cloned().unwrap_or_else(|| "1".into()));
            let reply = handle_store_event(&self.ports, &self.stores, &self.urls, worker, ev).await.unwrap();
            let failed = reply["batchItemFailures"].as_array().map(Vec::len).unwrap_or(0);
            failures += failed;
            if failed == 0 {
                let receipt = m.receipt_handle().unwrap();
                self.sqs
                    .delete_message()
                    .queue_url(&self.urls[worker.queue()])
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_sync_and_rollback_run_on_the_aws_wiring() {
    let moto = Moto::start();
    let stack = deploy(&moto, "storesync-stores");
    let resources = stack.resources();
    let cfg = sdk_config(Some(&moto.endpoint)).await;
    let ports = ports(&cfg, &resources);
    let app = storesync_aws::http::app(Arc::new(Workflow::new(ports.clone(), Settings::default())));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Simulation::new(listener.local_addr().unwrap());
    let router = sim.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    // On AWS the tokens come from SSM and the URLs from the environment: the worker sees both
    // as one lookup.
    let stores = ConfiguredStores { vars: sim.store_env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect() };
    let aws = Aws {
        sqs: aws_sdk_sqs::Client::new(&cfg),
        urls: resources.queue_urls.clone(),
        _moto: moto,
        stack,
        ports,
        stores,
    };

    // A worker handed a message from another queue refuses the batch: the wiring is wrong.
    let mut ev = event("sqs-store-sync-chunk.json");
    ev["Records"][0]["eventSourceARN"] = Value::from(aws.arn("store-compare").await);
    let e = handle_store_event(&aws.ports, &aws.stores, &aws.urls, Worker::Sync, ev).await.unwrap_err();
    assert!(e.to_string().contains("not the store-sync queue"), "{e}");

    // Compare: asked through the API, done by the compare worker from the store-compare queue.
    let (code, v) = call(&app, "POST", "/store-sync/compare", Some(json!({ "source": "woocommerce" }))).await;
    assert_eq!(code, 202, "{v}");
    let plan_id = v["plan"].as_str().unwrap().to_string();
    let (code, _) = call(&app, "GET", &format!("/store-sync/plans/{plan_id}"), None).await;
    assert_eq!(code, 202, "comparing until the worker has run");
    assert_eq!(aws.drain(Worker::Compare).await, 0);
    let (code, plan) = call(&app, "GET", &format!("/store-sync/plans/{plan_id}"), None).await;
    assert_eq!(code, 200, "{plan}");
    let items = plan["items"].as_array().unwrap().clone();
    assert!(items.len() > 10, "the demo catalog differs on every 7th SKU: {}", items.len());
    let location = sim.store_env.iter().find(|(k, _)| k.ends_with("LOCATION")).unwrap().1.clone();
    let before: Vec<(String, Option<i64>)> = items
        .iter()
        .map(|i| {
            let sku = i["sku"].as_str().unwrap().to_string();
            let q = sim.shopify.available(&sku, &location);
            (sku, q)
        })
        .collect();
    let (code, csv) = call(&app, "GET", &format!("/store-sync/plans/{plan_id}?format=csv"), None).await;
    assert_eq!((code, csv.as_str().map(|c| c.lines().count())), (200, Some(items.len() + 1)));

    // Sync all, confirmed: the chunks go through the store-sync queue to the worker.
    let (code, v) = call(
        &app,
        "POST",
        &format!("/store-sync/plans/{plan_id}/sync"),
        Some(json!({ "select": "all", "confirm": true, "override_blast": true })),
    )
    .await;
    assert_eq!(code, 202, "{v}");
    let run = v["run"]["id"].as_str().unwrap().to_string();
    assert_eq!(aws.drain(Worker::Sync).await, 0);
    let (code, report) = call(&app, "GET", &format!("/store-sync/runs/{run}"), None).await;
    assert_eq!(code, 200);
    assert_eq!(
        (report["pending"].as_u64(), report["succeeded"].as_u64(), report["failed"].as_u64()),
        (Some(0), Some(items.len() as u64), Some(0)),
        "{report}"
    );
    for i in &items {
        let sku = i["sku"].as_str().unwrap();
        assert_eq!(sim.shopify.available(sku, &location), i["sourceQuantity"].as_i64(), "{sku}");
    }
    let audit = aws.ports.audit.list(&format!("store-sync/run/{run}/item/0")).await.unwrap();
    assert_eq!((audit.len(), audit[0].who.as_str()), (1, "dana"));

    // A new compare finds nothing left to change.
    let (_, v) = call(&app, "POST", "/store-sync/compare", Some(json!({ "source": "woocommerce" }))).await;
    let again = v["plan"].as_str().unwrap().to_string();
    aws.drain(Worker::Compare).await;
    let (_, after) = call(&app, "GET", &format!("/store-sync/plans/{again}"), None).await;
    assert_eq!(after["items"], json!([]), "{after}");

    // Rollback: an inverse plan, synced the same way, leaves Shopify as it was.
    let (code, inverse) = call(&app, "POST", &format!("/store-sync/runs/{run}/rollback"), None).await;
    assert_eq!(code, 201, "{inverse}");
    let inverse_id = inverse["id"].as_str().unwrap();
    let (code, v) = call(
        &app,
        "POST",
        &format!("/store-sync/plans/{inverse_id}/sync"),
        Some(json!({ "select": "all", "confirm": true, "override_blast": true })),
    )
    .await;
    assert_eq!(code, 202, "{v}");
    let back = v["run"]["id"].as_str().unwrap().to_string();
    assert_eq!(aws.drain(Worker::Sync).await, 0);
    let (_, report) = call(&app, "GET", &format!("/store-sync/runs/{back}"), None).await;
    assert_eq!((report["pending"].as_u64(), report["failed"].as_u64()), (Some(0), Some(0)), "{report}");
    for (sku, q) in &before {
        assert_eq!(sim.shopify.available(sku, &location), *q, "{sku} is back to its value before the sync");
    }
    // Progress went to the status log in DynamoDB.
    let log = aws.ports.status.read(&storesync_core::domain::SessionId::parse(&back).unwrap()).await.unwrap();
    assert!(log.iter().any(|e| e.message.starts_with(&format!("{0} of {0} items", items.len()))), "{log:?}");
    assert!(aws.stack.outputs.contains_key("StoreSyncDLQUrl"));

    // Pages through the same wiring: the compare worker reads both catalogs, the sync worker
    // opens the destination's catalog by the run's type.
    let (code, v) =
        call(&app, "POST", "/store-sync/compare", Some(json!({ "source": "woocommerce", "type": "pages" }))).await;
    assert_eq!(code, 202, "{v}");
    let pages_plan = v["plan"].as_str().unwrap().to_string();
    assert_eq!(aws.drain(Worker::Compare).await, 0);
    let (code, plan) = call(&app, "GET", &format!("/store-sync/plans/{pages_plan}"), None).await;
    assert_eq!(
        (code, plan["data_type"].as_str(), plan["items"].as_array().map(Vec::len)),
        (200, Some("pages"), Some(3)),
        "{plan}"
    );
    let (code, csv) = call(&app, "GET", &format!("/store-sync/plans/{pages_plan}?format=csv"), None).await;
    assert!(code == 200 && csv.as_str().is_some_and(|c| c.starts_with("item,action,key,title")), "{csv}");
    let (code, v) = call(
        &app,
        "POST",
        &format!("/store-sync/plans/{pages_plan}/sync"),
        Some(json!({ "select": "all", "confirm": true })),
    )
    .await;
    assert_eq!(code, 202, "{v}");
    let pages_run = v["run"]["id"].as_str().unwrap().to_string();
    assert_eq!(aws.drain(Worker::Sync).await, 0);
    let (_, report) = call(&app, "GET", &format!("/store-sync/runs/{pages_run}"), None).await;
    assert_eq!(
        (report["succeeded"].as_u64(), report["failed"].as_u64(), report["pending"].as_u64()),
        (Some(3), Some(0), Some(0)),
        "{report}"
    );
    assert!(sim.shopify.pages().iter().any(|p| p["handle"] == "shipping"));
    let (code, inverse) = call(&app, "POST", &format!("/store-sync/runs/{pages_run}/rollback"), None).await;
    assert_eq!((code, inverse["rollback_of"].as_str()), (201, Some(pages_run.as_str())));
    let path = format!("/store-sync/plans/{}/sync", inverse["id"].as_str().unwrap());
    let (code, v) = call(&app, "POST", &path, Some(json!({ "confirm": true }))).await;
    assert_eq!(code, 409, "the rollback deletes the created pages: it needs the override: {v}");
}
