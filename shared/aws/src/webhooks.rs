//! The webhook path in Lambda: secrets from SSM Parameter Store, the receiver behind the HTTP
//! API (no JWT: each source's signature authenticates it), and the processor fed by SQS
//! (partial batch failures) and by the EventBridge schedules (`{"job": "<name>"}`).

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;
use storesync_core::ports::{BlobStore, Delivery, Ports, Queue};
use storesync_core::webhooks::processor::Processor;
use storesync_core::webhooks::receiver::{Outboxed, Receiver};
use storesync_core::webhooks::Secrets;

use crate::lambda::EdgeError;

/// The SSM path under which the secrets are kept, as parameters named like the local
/// variables (`<prefix>STORESYNC_WMS_SECRET`, `<prefix>STORESYNC_WOOCOMMERCE_CONSUMER_KEY`, …).
pub const ENV_SECRETS_PREFIX: &str = "STORESYNC_SECRETS_PREFIX";

/// Every parameter under `prefix` (decrypted), by its name without the prefix.
pub async fn load_parameters(cfg: &aws_config::SdkConfig, prefix: &str) -> Result<HashMap<String, String>, EdgeError> {
    let ssm = aws_sdk_ssm::Client::new(cfg);
    let mut out = HashMap::new();
    let mut next: Option<String> = None;
    loop {
        let page = ssm
            .get_parameters_by_path()
            .path(prefix.trim_end_matches('/'))
            .recursive(true)
            .with_decryption(true)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| EdgeError::Secrets(format!("SSM {prefix}: {}", e.into_service_error())))?;
        for p in page.parameters() {
            let (Some(name), Some(value)) = (p.name(), p.value()) else { continue };
            let short = name.rsplit('/').next().unwrap_or(name);
            out.insert(short.to_string(), value.to_string());
        }
        match page.next_token() {
            Some(t) => next = Some(t.to_string()),
            None => return Ok(out),
        }
    }
}

/// A lookup that reads the environment first, then the SSM parameters.
pub fn lookup(params: &HashMap<String, String>) -> impl Fn(&str) -> Option<String> + '_ {
    move |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty()).or_else(|| params.get(k).cloned())
}

/// The parameters under the configured secrets prefix (none when no prefix is set), at cold start.
pub async fn secret_parameters(cfg: &aws_config::SdkConfig) -> Result<HashMap<String, String>, EdgeError> {
    match std::env::var(ENV_SECRETS_PREFIX) {
        Ok(prefix) if !prefix.is_empty() => load_parameters(cfg, &prefix).await,
        _ => Ok(HashMap::new()),
    }
}

/// The webhook secrets, at cold start.
pub async fn secrets(cfg: &aws_config::SdkConfig) -> Result<Secrets, EdgeError> {
    let params = secret_parameters(cfg).await?;
    Secrets::from_lookup(lookup(&params)).map_err(EdgeError::Secrets)
}

/// The receiver on the deployment's ports.
pub fn receiver(ports: Ports, secrets: Secrets) -> Arc<Receiver> {
    Arc::new(Receiver::new(ports, secrets))
}

/// Our name of the queue an SQS record came from: the queue whose URL ends in the ARN's last
/// part (the queue's name).
pub fn queue_for_arn<'a>(arn: &str, urls: &'a HashMap<String, String>) -> Option<&'a str> {
    let name = arn.rsplit(':').next()?;
    urls.iter().find(|(_, url)| url.rsplit('/').next() == Some(name)).map(|(q, _)| q.as_str())
}

/// An SQS batch for the processor: every record of one invocation comes from one queue.
pub async fn handle_sqs(
    processor: &Processor,
    urls: &HashMap<String, String>,
    event: SqsEvent,
) -> Result<SqsBatchResponse, EdgeError> {
    let mut by_receipt: HashMap<String, String> = HashMap::new();
    let mut batches: Vec<(String, Vec<Delivery>)> = Vec::new();
    for r in event.records {
        let arn = r.event_source_arn.clone().unwrap_or_default();
        let queue = queue_for_arn(&arn, urls)
            .ok_or_else(|| EdgeError::UnknownEvent(format!("a message from {arn}, which is no queue of ours")))?;
        let receipt = r.receipt_handle.clone().unwrap_or_default();
        by_receipt.insert(receipt.clone(), r.message_id.clone().unwrap_or_default());
        let receive_count = r.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1);
        let d = Delivery { receipt, body: r.body.unwrap_or_default(), receive_count };
        match batches.iter_mut().find(|(q, _)| q == queue) {
            Some((_, v)) => v.push(d),
            None => batches.push((queue.to_string(), vec![d])),
        }
    }
    let mut response = SqsBatchResponse::default();
    for (queue, deliveries) in batches {
        let result = match processor.process(&queue, &deliveries).await {
            Ok(r) => r,
            Err(e) => {
                // The whole batch comes back; what was applied is recognised and not repeated.
                tracing::error!(queue, error = %e, "batch failed");
                storesync_core::webhooks::processor::BatchResult {
                    done: vec![],
                    failed: deliveries.iter().map(|d| d.receipt.clone()).collect(),
                }
            }
        };
        for receipt in result.failed {
            let mut f = BatchItemFailure::default();
            f.item_identifier = by_receipt.get(&receipt).cloned().unwrap_or_default();
            response.batch_item_failures.push(f);
        }
    }
    Ok(response)
}

/// The processor function's entry: SQS batches, or a schedule's `{"job": "<name>"}`.
pub async fn handle_processor_event(
    processor: &Processor,
    urls: &HashMap<String, String>,
    event: Value,
) -> Result<Value, EdgeError> {
    if let Some(job) = event.get("job").and_then(Value::as_str) {
        let report = processor.run_job(job).await.map_err(|e| EdgeError::Job(e.to_string()))?;
        return serde_json::to_value(report).map_err(|source| EdgeError::BadEvent { kind: "job report", source });
    }
    if let Some(e) = as_stream_event(&event) {
        let archived = archive_stream(processor.ports(), &e?).await?;
        return Ok(serde_json::json!({ "archived": archived }));
    }
    if event.pointer("/Records/0/eventSource").and_then(Value::as_str) == Some("aws:sqs") {
        let e: SqsEvent =
            serde_json::from_value(event).map_err(|source| EdgeError::BadEvent { kind: "SQS", source })?;
        let r = handle_sqs(processor, urls, e).await?;
        return serde_json::to_value(r).map_err(|source| EdgeError::BadEvent { kind: "SQS response", source });
    }
    Err(EdgeError::UnknownEvent(event.to_string().chars().take(200).collect()))
}

/// A change-stream record's key, and its record or why its value could not be read.
type StreamRecord = (String, Result<Value, String>);

/// The records a change-stream event carries: each insert's or update's key and record (or
/// why its value could not be read), in the stream's order (removals, such as TTL expiries,
/// carry none).
fn stream_records(event: &aws_lambda_events::event::dynamodb::Event) -> Result<Vec<StreamRecord>, EdgeError> {
    let mut out = Vec::new();
    for r in &event.records {
        if r.event_name == "REMOVE" {
            continue;
        }
        // The image in DynamoDB's JSON: {"pk": {"S": …}, "value": {"S": "<the record as JSON>"}}.
        let image = serde_json::to_value(&r.change.new_image)
            .map_err(|source| EdgeError::BadEvent { kind: "DynamoDB Streams image", source })?;
        let Some(key) = image["pk"]["S"].as_str() else { continue };
        let record = match image["value"]["S"].as_str() {
            Some(value) => serde_json::from_str::<Value>(value).map_err(|e| format!("its value is not JSON: {e}")),
            None => Err("it has no string `value`".to_string()),
        };
        out.push((key.to_string(), record));
    }
    Ok(out)
}

/// The raw archive from the state table's change stream (the template's `RawArchive` event,
/// filtered to inserts and updates of dedupe records): one object per source and day of the
/// batch, however many deliveries it holds. Returns the deliveries archived. A failure fails
/// the batch, which Lambda retries; objects are named by their content, so a retry rewrites
/// the same ones.
pub async fn archive_stream(
    ports: &Ports,
    event: &aws_lambda_events::event::dynamodb::Event,
) -> Result<usize, EdgeError> {
    use storesync_core::webhooks::archive;
    let mut lines: Vec<Value> = Vec::new();
    for (key, record) in stream_records(event)? {
        match record {
            Ok(r) => lines.extend(archive::line_from_record(&key, &r)),
            // The outbox, reading the same stream, dead-letters it with the reason.
            Err(why) => tracing::warn!(key, why, "unreadable record in the change stream: not archived"),
        }
    }
    archive::write(ports.blobs.as_ref(), &lines).await?;
    Ok(lines.len())
}

/// The outbox from the state table's change stream (the template's `WebhookOutbox` event on
/// the receiver, filtered like the archive): every newly written dedupe record's message
/// queued, ten to a `SendMessageBatch`, and any record no message can be made from
/// dead-lettered with the reason. A failure fails the batch, which Lambda retries (bisecting
/// it); a message sent again is dropped by its FIFO dedupe id.
pub async fn outbox_stream(
    queue: &dyn Queue,
    dead_letters: &dyn BlobStore,
    now: chrono::DateTime<chrono::Utc>,
    event: &aws_lambda_events::event::dynamodb::Event,
) -> Result<Outboxed, EdgeError> {
    let records = stream_records(event)?;
    let records = records.iter().map(|(k, r)| (k.as_str(), r.as_ref().map_err(String::as_str)));
    Ok(storesync_core::webhooks::receiver::outbox(queue, dead_letters, now, records).await?)
}

/// A DynamoDB Streams event, when `event` is one.
pub fn as_stream_event(event: &Value) -> Option<Result<aws_lambda_events::event::dynamodb::Event, EdgeError>> {
    (event.pointer("/Records/0/eventSource").and_then(Value::as_str) == Some("aws:dynamodb")).then(|| {
        serde_json::from_value(event.clone()).map_err(|source| EdgeError::BadEvent { kind: "DynamoDB Streams", source })
    })
}
