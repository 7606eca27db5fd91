//! Store ⇄ store sync in Lambda: the compare worker (`store-compare` queue) and the sync worker
//! (`store-sync` queue), each fed SQS batches with partial batch failures, and the stores opened
//! from the environment (URLs, API version, location) and SSM (tokens and keys).

use std::collections::HashMap;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;
use storesync_core::ports::{Delivery, Ports};
use storesync_core::stores::plans::{run_compare_request, StoreConnector, COMPARE_QUEUE};
use storesync_core::stores::sync::{work_with, SYNC_QUEUE};
use tracing::Instrument;

use crate::lambda::EdgeError;
use crate::webhooks::queue_for_arn;

/// Which worker a function is: the queue it consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    Compare,
    Sync,
}

impl Worker {
    pub fn queue(self) -> &'static str {
        match self {
            Worker::Compare => COMPARE_QUEUE,
            Worker::Sync => SYNC_QUEUE,
        }
    }
}

/// The delivery an SQS record is, for the core's workers (the message id stands for the
/// receipt: it is what a batch item failure names).
pub fn delivery(record: &aws_lambda_events::event::sqs::SqsMessage) -> Delivery {
    Delivery {
        receipt: record.message_id.clone().unwrap_or_default(),
        body: record.body.clone().unwrap_or_default(),
        receive_count: record.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1),
    }
}

/// A store worker's entry: each record of the SQS batch handled on its own, a failure reported
/// as that record's (the queue retries it; on its last receive the core makes the failure
/// final). A record from a queue other than the worker's is an error: the wiring is wrong.
pub async fn handle_store_event(
    ports: &Ports,
    stores: &dyn StoreConnector,
    urls: &HashMap<String, String>,
    worker: Worker,
    event: Value,
) -> Result<Value, EdgeError> {
    each_message(event, urls, &[worker.queue()], |_, d| async move {
        match worker {
            Worker::Compare => run_compare_request(ports, stores, &d).await.map_err(|e| e.to_string()),
            Worker::Sync => work_with(ports, stores, &d).await.map_err(|e| e.to_string()),
        }
    })
    .await
}

/// Each record of an SQS batch handed to `handle` with its queue (one of `queues`: a record
/// from another is an error, the wiring is wrong) and its delivery, in a span; a failure is
/// reported as that record's (`ReportBatchItemFailures`: the queue retries it alone).
pub async fn each_message<F, Fut>(
    event: Value,
    urls: &HashMap<String, String>,
    queues: &[&str],
    mut handle: F,
) -> Result<Value, EdgeError>
where
    F: FnMut(String, Delivery) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let e: SqsEvent = serde_json::from_value(event).map_err(|source| EdgeError::BadEvent { kind: "SQS", source })?;
    let mut response = SqsBatchResponse::default();
    for r in &e.records {
        let arn = r.event_source_arn.as_deref().unwrap_or_default();
        let queue = queue_for_arn(arn, urls).filter(|q| queues.contains(q)).ok_or_else(|| {
            EdgeError::UnknownEvent(format!("a message from {arn}, not the {} queue", queues.join(" or ")))
        })?;
        let d = delivery(r);
        let receipt = d.receipt.clone();
        let span = tracing::info_span!("sqs", queue, message_id = %d.receipt, attempt = d.receive_count);
        let outcome = handle(queue.to_string(), d).instrument(span.clone()).await;
        if let Err(error) = outcome {
            span.in_scope(|| tracing::warn!(error, "left for a retry"));
            let mut f = BatchItemFailure::default();
            f.item_identifier = receipt;
            response.batch_item_failures.push(f);
        }
    }
    serde_json::to_value(response).map_err(|source| EdgeError::BadEvent { kind: "SQS response", source })
}

/// `main` of a store worker function: the AWS ports, and the stores `open` builds from the SSM
/// parameters under the secrets prefix (the function's crate opens them: this one does not know
/// the platform clients).
pub async fn run_store_worker(
    worker: Worker,
    open: impl FnOnce(HashMap<String, String>) -> std::sync::Arc<dyn StoreConnector>,
) -> Result<(), lambda_runtime::Error> {
    crate::lambda::init_tracing();
    let edge = crate::lambda::edge_from_env().await?;
    let params = crate::webhooks::secret_parameters(&edge.cfg).await?;
    let stores = open(params);
    let ports = edge.workflow.ports().clone();
    let urls = std::sync::Arc::new(edge.resources.queue_urls);
    lambda_runtime::run(lambda_runtime::service_fn(move |ev: lambda_runtime::LambdaEvent<Value>| {
        let (ports, stores, urls) = (ports.clone(), stores.clone(), urls.clone());
        async move { handle_store_event(&ports, stores.as_ref(), &urls, worker, ev.payload).await }
    }))
    .await
}
