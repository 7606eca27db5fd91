//! The AWS implementations of the ports: S3 (blobs), DynamoDB (status, key-value, audit) and
//! SQS (queues). Resource names come from the environment the template sets.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use storesync_core::domain::SessionId;
use storesync_core::ports::{
    AuditEntry, AuditLog, Blob, BlobInfo, BlobStore, Delivery, GroupMessage, KeyValue, PortError, Queue, QueueDepth,
    StagingQuery, StagingStore, StatusEntry, StatusLog, StepStatus, TempCopy, VersionStore,
};
use storesync_core::supplier::staging::{StagingEntry, StagingStatus};
use storesync_core::supplier::versions::ProductVersion;

/// The state table's TTL attribute (epoch seconds): DynamoDB purges expired dedupe records.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// The object metadata that carries the source file's time (`x-amz-meta-mtime`).
pub const MTIME_META: &str = "mtime";
/// Objects larger than this are streamed to a scratch file on get, not held in memory.
pub const SPILL_ABOVE: u64 = 1 << 20;

fn backend<E: std::error::Error + Send + Sync + 'static>(op: &'static str, target: &str, e: E) -> PortError {
    PortError::backend(op, target, e)
}

fn smithy_time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())).unwrap_or_else(Utc::now)
}

pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3BlobStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }
}

impl S3BlobStore {
    /// One PUT, the source time as `x-amz-meta-mtime`.
    async fn put_body(&self, key: &str, body: ByteStream, modified: Option<DateTime<Utc>>) -> Result<(), PortError> {
        let mut req = self.client.put_object().bucket(&self.bucket).key(key).body(body);
        if let Some(t) = modified {
            req = req.metadata(MTIME_META, t.to_rfc3339());
        }
        req.send().await.map(|_| ()).map_err(|e| backend("put", key, e.into_service_error()))
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, data: Bytes, modified: Option<DateTime<Utc>>) -> Result<(), PortError> {
        self.put_body(key, ByteStream::from(data), modified).await
    }

    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        modified: Option<DateTime<Utc>>,
    ) -> Result<(), PortError> {
        let body = ByteStream::from_path(path).await.map_err(|e| backend("put", key, e))?;
        self.put_body(key, body, modified).await
    }

    async fn get(&self, key: &str) -> Result<Blob, PortError> {
        let out = self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|e| {
            let e = e.into_service_error();
            if e.is_no_such_key() {
                PortError::NotFound { key: key.to_string() }
            } else {
                backend("get", key, e)
            }
        })?;
        if out.content_length().unwrap_or(0).max(0) as u64 <= SPILL_ABOVE {
            let data = out.body.collect().await.map_err(|e| backend("get", key, e))?;
            return Ok(Blob::Bytes(data.into_bytes()));
        }
        // A large object (a supplier feed of hundreds of MB) goes to the function's /tmp as it
        // arrives: the memory holds one chunk at a time.
        static SPILLS: AtomicU64 = AtomicU64::new(0);
        let n = SPILLS.fetch_add(1, Ordering::Relaxed);
        let copy = TempCopy::new(std::env::temp_dir().join(format!("storesync-get-{}-{n}", std::process::id())));
        let io = |e: std::io::Error| backend("get", key, e);
        let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(copy.path()).map_err(io)?);
        let mut body = out.body;
        while let Some(chunk) = body.try_next().await.map_err(|e| backend("get", key, e))? {
            std::io::Write::write_all(&mut file, &chunk).map_err(io)?;
        }
        std::io::Write::flush(&mut file).map_err(io)?;
        Ok(Blob::Temp(std::sync::Arc::new(copy)))
    }

    async fn head(&self, key: &str) -> Result<Option<BlobInfo>, PortError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let mtime = out
                    .metadata()
                    .and_then(|m| m.get(MTIME_META))
                    .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
                    .map(|t| t.with_timezone(&Utc));
                Ok(Some(BlobInfo {
                    key: key.to_string(),
                    size: out.content_length().unwrap_or(0).max(0) as u64,
                    modified: mtime.unwrap_or_else(|| smithy_time(out.last_modified())),
                }))
            }
            Err(e) => {
                let e = e.into_service_error();
                if e.is_not_found() {
                    Ok(None)
                } else {
                    Err(backend("head", key, e))
                }
            }
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<BlobInfo>, PortError> {
        let mut out = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| backend("list", prefix, e.into_service_error()))?;
            for o in page.contents() {
                if let Some(key) = o.key() {
                    out.push(BlobInfo {
                        key: key.to_string(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        // Listing gives the upload time; `head` reads the source time.
                        modified: smithy_time(o.last_modified()),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), PortError> {
        let source = format!("{}/{}", self.bucket, encode_key(from));
        self.client.copy_object().bucket(&self.bucket).copy_source(source).key(to).send().await.map(|_| ()).map_err(
            |e| {
                let e = e.into_service_error();
                if matches!(e.code(), Some("NoSuchKey") | Some("NotFound") | Some("404")) {
                    PortError::NotFound { key: from.to_string() }
                } else {
                    backend("copy", from, e)
                }
            },
        )
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend("delete", key, e.into_service_error()))
    }

    async fn download_url(&self, key: &str, expires_secs: u64) -> Result<String, PortError> {
        let cfg =
            PresigningConfig::expires_in(Duration::from_secs(expires_secs)).map_err(|e| backend("presign", key, e))?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(cfg)
            .await
            .map_err(|e| backend("presign", key, e.into_service_error()))?;
        Ok(req.uri().to_string())
    }
}

/// Percent-encodes a key for `x-amz-copy-source`, keeping `/`.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A sort key that keeps entries in time order, then in append order within one process.
fn time_sort_key(at: DateTime<Utc>) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let wall = Utc::now().timestamp_nanos_opt().unwrap_or(0);
    format!("{}#{wall:020}#{:010}", at.format("%Y-%m-%dT%H:%M:%S%.9fZ"), SEQ.fetch_add(1, Ordering::Relaxed))
}

/// A conditional write's outcome: written, refused by its condition, or failed.
fn conditional<O, E>(
    r: Result<O, aws_sdk_dynamodb::error::SdkError<E>>,
    op: &'static str,
    key: &str,
) -> Result<bool, PortError>
where
    E: ProvideErrorMetadata + aws_smithy_runtime_api::client::result::CreateUnhandledError,
    E: std::error::Error + Send + Sync + 'static,
{
    match r.map_err(|e| e.into_service_error()) {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
        Err(e) => Err(backend(op, key, e)),
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn get_s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Result<&'a str, PortError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| PortError::backend("decode", name, format!("the item has no string attribute {name:?}")))
}

fn json_attr(item: &HashMap<String, AttributeValue>, name: &str) -> Result<serde_json::Value, PortError> {
    serde_json::from_str(get_s(item, name)?).map_err(|e| PortError::backend("decode", name, e))
}

fn time_attr(item: &HashMap<String, AttributeValue>, name: &str) -> Result<DateTime<Utc>, PortError> {
    DateTime::parse_from_rfc3339(get_s(item, name)?)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| PortError::backend("decode", name, e))
}

/// Reads every item of partition `pk`, in sort-key order.
async fn query_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
) -> Result<Vec<HashMap<String, AttributeValue>>, PortError> {
    let mut pages = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", s(pk))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send();
    let mut out = Vec::new();
    while let Some(item) = pages.next().await {
        out.push(item.map_err(|e| backend("query", pk, e.into_service_error()))?);
    }
    Ok(out)
}

pub struct DynamoStatusLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStatusLog {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

#[async_trait]
impl StatusLog for DynamoStatusLog {
    async fn append(&self, e: &StatusEntry) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(e.session.as_str()))
            .item("sk", s(time_sort_key(e.at)))
            .item("step", AttributeValue::N(e.step.to_string()))
            .item("name", s(&e.name))
            .item("status", s(e.status.as_str()))
            .item("message", s(&e.message))
            .item("details", s(e.details.to_string()))
            .item("at", s(e.at.to_rfc3339()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| backend("append", e.session.as_str(), err.into_service_error()))
    }

    async fn read(&self, session: &SessionId) -> Result<Vec<StatusEntry>, PortError> {
        query_all(&self.client, &self.table, session.as_str())
            .await?
            .iter()
            .map(|item| {
                let step = item.get("step").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
                let status = StepStatus::parse(get_s(item, "status")?);
                Ok(StatusEntry {
                    session: session.clone(),
                    step: step.ok_or_else(|| PortError::backend("decode", session.as_str(), "bad step"))?,
                    name: get_s(item, "name")?.to_string(),
                    status: status.ok_or_else(|| PortError::backend("decode", session.as_str(), "bad status"))?,
                    message: get_s(item, "message")?.to_string(),
                    details: json_attr(item, "details")?,
                    at: time_attr(item, "at")?,
                })
            })
            .collect()
    }
}

/// Key-value records in a table with `pk` (the key) and `sk` (always `v`).
pub struct DynamoKeyValue {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoKeyValue {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

const KV_SK: &str = "v";

impl DynamoKeyValue {
    /// A put of `key`'s record, ready for a condition.
    fn put_value(
        &self,
        key: &str,
        value: &serde_json::Value,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("sk", s(KV_SK))
            .item("value", s(value.to_string()))
    }

    /// `key`'s record, read strongly or eventually consistent.
    async fn read(&self, key: &str, consistent: bool) -> Result<Option<serde_json::Value>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .key("sk", s(KV_SK))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| backend("get", key, e.into_service_error()))?;
        out.item().map(|i| json_attr(i, "value")).transpose()
    }

    /// A delete of `key`'s record, ready for a condition.
    fn delete_key(&self, key: &str) -> aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder {
        self.client.delete_item().table_name(&self.table).key("pk", s(key)).key("sk", s(KV_SK))
    }
}

#[async_trait]
impl KeyValue for DynamoKeyValue {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>, PortError> {
        self.read(key, true).await
    }

    async fn get_relaxed(&self, key: &str) -> Result<Option<serde_json::Value>, PortError> {
        self.read(key, false).await
    }

    async fn put(&self, key: &str, value: &serde_json::Value) -> Result<(), PortError> {
        self.put_value(key, value).send().await.map(|_| ()).map_err(|e| backend("put", key, e.into_service_error()))
    }

    async fn put_if_absent(&self, key: &str, value: &serde_json::Value) -> Result<bool, PortError> {
        let r = self.put_value(key, value).condition_expression("attribute_not_exists(pk)").send().await;
        conditional(r, "put-if-absent", key)
    }

    async fn insert_unless_live(
        &self,
        key: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        // `expires_at` is also the table's TTL attribute, so DynamoDB purges expired records.
        let r = self
            .put_value(key, value)
            .item(TTL_ATTRIBUTE, AttributeValue::N(expires_at.timestamp().to_string()))
            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .send()
            .await;
        conditional(r, "insert-unless-live", key)
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.delete_key(key).send().await.map(|_| ()).map_err(|e| backend("delete", key, e.into_service_error()))
    }

    async fn put_if(
        &self,
        key: &str,
        expected: &serde_json::Value,
        value: &serde_json::Value,
    ) -> Result<bool, PortError> {
        let r = self
            .put_value(key, value)
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(":v", s(expected.to_string()))
            .send()
            .await;
        conditional(r, "put-if", key)
    }

    async fn delete_if(&self, key: &str, expected: &serde_json::Value) -> Result<bool, PortError> {
        let r = self
            .delete_key(key)
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(":v", s(expected.to_string()))
            .send()
            .await;
        conditional(r, "delete-if", key)
    }
}

pub struct DynamoAuditLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoAuditLog {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

#[async_trait]
impl AuditLog for DynamoAuditLog {
    async fn record(&self, e: &AuditEntry) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&e.target))
            .item("sk", s(time_sort_key(e.at)))
            .item("at", s(e.at.to_rfc3339()))
            .item("who", s(&e.who))
            .item("action", s(&e.action))
            .item("before", s(e.before.to_string()))
            .item("after", s(e.after.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| backend("audit", &e.target, err.into_service_error()))
    }

    async fn list(&self, target: &str) -> Result<Vec<AuditEntry>, PortError> {
        query_all(&self.client, &self.table, target)
            .await?
            .iter()
            .map(|item| {
                Ok(AuditEntry {
                    at: time_attr(item, "at")?,
                    who: get_s(item, "who")?.to_string(),
                    action: get_s(item, "action")?.to_string(),
                    target: target.to_string(),
                    before: json_attr(item, "before")?,
                    after: json_attr(item, "after")?,
                })
            })
            .collect()
    }
}

/// SQS queues by name (each name maps to a queue URL).
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    urls: HashMap<String, String>,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, urls: HashMap<String, String>) -> Self {
        Self { client, urls }
    }

    fn url(&self, queue: &str) -> Result<&str, PortError> {
        self.urls
            .get(queue)
            .map(String::as_str)
            .ok_or_else(|| PortError::backend("queue", queue, "no URL is configured for this queue"))
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, queue: &str, body: &str) -> Result<(), PortError> {
        self.client
            .send_message()
            .queue_url(self.url(queue)?)
            .message_body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend("send", queue, e.into_service_error()))
    }

    async fn send_in_group(&self, queue: &str, group: &str, dedupe_id: &str, body: &str) -> Result<(), PortError> {
        self.client
            .send_message()
            .queue_url(self.url(queue)?)
            .message_body(body)
            .message_group_id(group)
            .message_deduplication_id(dedupe_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend("send", queue, e.into_service_error()))
    }

    async fn send_batch_in_group(&self, queue: &str, messages: &[GroupMessage]) -> Result<(), PortError> {
        // SendMessageBatch: at most ten entries and 256 KB of bodies a call, in order.
        const MAX_BYTES: usize = 256 * 1024;
        let url = self.url(queue)?;
        let mut rest = messages;
        while !rest.is_empty() {
            let (mut n, mut bytes) = (0, 0);
            while n < rest.len() && n < 10 && (n == 0 || bytes + rest[n].body.len() <= MAX_BYTES) {
                bytes += rest[n].body.len();
                n += 1;
            }
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&m.body)
                        .message_group_id(&m.group)
                        .message_deduplication_id(&m.dedupe_id)
                        .build()
                        .map_err(|e| backend("send-batch", queue, e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| backend("send-batch", queue, e.into_service_error()))?;
            if let Some(f) = out.failed().first() {
                let m = f.id().parse::<usize>().ok().and_then(|i| chunk.get(i));
                let what = m.map_or_else(|| f.id().to_string(), |m| format!("message {}", m.dedupe_id));
                return Err(PortError::backend(
                    "send-batch",
                    queue,
                    format!("{what} refused: {} {}", f.code(), f.message().unwrap_or_default()),
                ));
            }
        }
        Ok(())
    }

    async fn receive(&self, queue: &str, max: usize, visibility_secs: u32) -> Result<Vec<Delivery>, PortError> {
        let out = self
            .client
            .receive_message()
            .queue_url(self.url(queue)?)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .visibility_timeout(visibility_secs as i32)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| backend("receive", queue, e.into_service_error()))?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Delivery {
                receipt: m.receipt_handle().unwrap_or_default().to_string(),
                body: m.body().unwrap_or_default().to_string(),
                receive_count: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
            })
            .collect())
    }

    async fn ack(&self, queue: &str, receipt: &str) -> Result<(), PortError> {
        self.client
            .delete_message()
            .queue_url(self.url(queue)?)
            .receipt_handle(receipt)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend("ack", queue, e.into_service_error()))
    }

    async fn send_delayed(&self, queue: &str, body: &str, delay_secs: u32) -> Result<(), PortError> {
        self.client
            .send_message()
            .queue_url(self.url(queue)?)
            .message_body(body)
            .delay_seconds(delay_secs.min(900) as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend("send", queue, e.into_service_error()))
    }

    async fn retry_later(&self, queue: &str, receipt: &str, delay_secs: u32) -> Result<(), PortError> {
        self.client
            .change_message_visibility()
            .queue_url(self.url(queue)?)
            .receipt_handle(receipt)
            .visibility_timeout(delay_secs.min(12 * 3600) as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| backend("retry", queue, e.into_service_error()))
    }

    async fn depth(&self, queue: &str) -> Result<QueueDepth, PortError> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(self.url(queue)?)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(A::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| backend("depth", queue, e.into_service_error()))?;
        let n = |a: A| -> u64 { out.attributes().and_then(|m| m.get(&a)).and_then(|v| v.parse().ok()).unwrap_or(0) };
        Ok(QueueDepth {
            visible: n(A::ApproximateNumberOfMessages),
            not_visible: n(A::ApproximateNumberOfMessagesNotVisible) + n(A::ApproximateNumberOfMessagesDelayed),
        })
    }
}

/// Staging entries and product versions in the supplier table (`pk`, `sk`; the index
/// [`STAGING_INDEX`] on `status` and `sid`, the entry's id).
pub struct DynamoSupplierStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// The supplier table's index of staging entries by status, then id.
pub const STAGING_INDEX: &str = "by-status";

impl DynamoSupplierStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn put_entry(
        &self,
        e: &StagingEntry,
    ) -> Result<aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder, PortError> {
        let body = serde_json::to_string(e).map_err(|err| backend("encode", &e.id, err))?;
        Ok(self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("staging#{}", e.id)))
            .item("sk", s(KV_SK))
            .item("sid", s(&e.id))
            .item("status", s(e.status.as_str()))
            .item("run", s(&e.run))
            .item("revision", AttributeValue::N(e.revision.to_string()))
            .item("body", s(body)))
    }

    /// Ids of `status` after `after`, within `prefix` (a run's `run/`), at most `limit`.
    async fn page(
        &self,
        status: StagingStatus,
        after: Option<&str>,
        prefix: Option<&str>,
        limit: usize,
        count_only: bool,
    ) -> Result<(Vec<StagingEntry>, u64), PortError> {
        // A run's ids are `run/sku`: contiguous in id order, after `run/`.
        let start = match (after, prefix) {
            (Some(a), Some(p)) => Some(a.max(p).to_string()),
            (a, p) => a.or(p).map(str::to_string),
        };
        let (mut out, mut counted, mut from) = (Vec::new(), 0u64, None);
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(STAGING_INDEX)
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":st", s(status.as_str()))
                .set_exclusive_start_key(from.take());
            q = match &start {
                Some(a) => q
                    .key_condition_expression("#st = :st AND sid > :after")
                    .expression_attribute_values(":after", s(a.as_str())),
                None => q.key_condition_expression("#st = :st"),
            };
            if !count_only {
                q = q.limit((limit - out.len()).clamp(1, 1000) as i32);
            }
            let page = q.send().await.map_err(|e| backend("staging-list", status.as_str(), e.into_service_error()))?;
            for item in page.items() {
                let id = get_s(item, "sid")?;
                if prefix.is_some_and(|p| !id.starts_with(p)) {
                    return Ok((out, counted));
                }
                counted += 1;
                if !count_only {
                    let body = get_s(item, "body")?;
                    out.push(serde_json::from_str(body).map_err(|e| backend("decode", id, e))?);
                    if out.len() >= limit {
                        return Ok((out, counted));
                    }
                }
            }
            match page.last_evaluated_key() {
                Some(k) => from = Some(k.clone()),
                None => return Ok((out, counted)),
            }
        }
    }
}

#[async_trait]
impl StagingStore for DynamoSupplierStore {
    async fn create(&self, e: &StagingEntry) -> Result<bool, PortError> {
        let r = self.put_entry(e)?.condition_expression("attribute_not_exists(pk)").send().await;
        conditional(r, "staging-create", &e.id)
    }

    async fn get(&self, id: &str) -> Result<Option<StagingEntry>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("staging#{id}")))
            .key("sk", s(KV_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("staging-get", id, e.into_service_error()))?;
        out.item().map(|i| serde_json::from_str(get_s(i, "body")?).map_err(|e| backend("decode", id, e))).transpose()
    }

    async fn update(&self, e: &StagingEntry, expected_revision: u64) -> Result<bool, PortError> {
        let r = self
            .put_entry(e)?
            .condition_expression("revision = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(expected_revision.to_string()))
            .send()
            .await;
        conditional(r, "staging-update", &e.id)
    }

    async fn list(&self, status: StagingStatus, q: &StagingQuery) -> Result<Vec<StagingEntry>, PortError> {
        let prefix = q.run.as_ref().map(|r| format!("{r}/"));
        Ok(self.page(status, q.after.as_deref(), prefix.as_deref(), q.limit.max(1), false).await?.0)
    }

    async fn counts(&self, run: &str) -> Result<BTreeMap<StagingStatus, u64>, PortError> {
        let prefix = format!("{run}/");
        let mut out = BTreeMap::new();
        for status in [
            StagingStatus::Pending,
            StagingStatus::Approved,
            StagingStatus::Rejected,
            StagingStatus::Applied,
            StagingStatus::Failed,
        ] {
            let (_, n) = self.page(status, None, Some(&prefix), usize::MAX, true).await?;
            if n > 0 {
                out.insert(status, n);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl VersionStore for DynamoSupplierStore {
    async fn append(&self, v: &ProductVersion) -> Result<bool, PortError> {
        let body = serde_json::to_string(v).map_err(|e| backend("encode", &v.product, e))?;
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("version#{}", v.product)))
            .item("sk", s(format!("{:012}", v.number)))
            .item("body", s(body))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional(r, "version-append", &v.product)
    }

    async fn history(&self, product: &str) -> Result<Vec<ProductVersion>, PortError> {
        query_all(&self.client, &self.table, &format!("version#{product}"))
            .await?
            .iter()
            .map(|item| serde_json::from_str(get_s(item, "body")?).map_err(|e| backend("decode", product, e)))
            .collect()
    }
}
