//! Counting the AWS requests a run makes: the ports wrapped so that every call is counted as
//! the request it is on AWS (DynamoDB reads and writes with their capacity units, SQS requests,
//! S3 requests), to price a run at list prices (docs/COST.md).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use storesync_core::ports::{
    AuditEntry, AuditLog, Blob, BlobInfo, BlobStore, Delivery, GroupMessage, KeyValue, PortError, Ports, Queue,
    QueueDepth, RecordAdmission,
};

/// Requests by kind (`dynamodb.write`, `sqs.send`, …) and DynamoDB capacity units.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub requests: BTreeMap<&'static str, u64>,
    /// Write request units: one per started KB of the item written.
    pub wru: u64,
    /// Read request units: one per started 4 KB read strongly consistent, half of one
    /// eventually consistent.
    pub rru: f64,
    /// DynamoDB requests by what they are for (`write webhook/seen`, `read webhook/stock`, …).
    pub by_record: BTreeMap<String, u64>,
    /// Wall time spent waiting on the backends (here moto and the folder/SQLite), to be
    /// replaced by AWS's own latencies when a function's duration is priced.
    pub backend_secs: f64,
}

impl Counts {
    /// Seconds the counted requests take on AWS at typical in-region latencies: DynamoDB
    /// single-item requests 5 ms, SQS requests 8 ms, S3 PUTs 25 ms and GETs/LISTs 15 ms.
    pub fn aws_secs(&self) -> f64 {
        self.requests
            .iter()
            .map(|(kind, n)| {
                let each = match kind.split('.').next() {
                    Some("dynamodb") => 0.005,
                    Some("sqs") => 0.008,
                    _ if *kind == "s3.put" => 0.025,
                    _ => 0.015,
                };
                each * *n as f64
            })
            .sum()
    }

    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Counts) -> Counts {
        let mut requests = self.requests.clone();
        for (k, n) in &before.requests {
            *requests.entry(k).or_default() -= n;
        }
        Counts {
            requests,
            wru: self.wru - before.wru,
            rru: self.rru - before.rru,
            by_record: BTreeMap::new(),
            backend_secs: self.backend_secs - before.backend_secs,
        }
    }
}

#[derive(Clone, Default)]
pub struct Meter(Arc<Mutex<Counts>>);

impl Meter {
    fn add(&self, kind: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        let mut c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *c.requests.entry(kind).or_default() += n;
    }

    fn record(&self, op: &str, key: &str) {
        let kind: String = key.split('/').take(2).collect::<Vec<_>>().join("/");
        let mut c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *c.by_record.entry(format!("{op} {kind}")).or_default() += 1;
    }

    /// Runs a backend call, adding its wall time to `backend_secs`.
    async fn timed<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let out = call.await;
        let mut c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        c.backend_secs += started.elapsed().as_secs_f64();
        out
    }

    fn units(&self, wru: u64, rru: f64) {
        let mut c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        c.wru += wru;
        c.rru += rru;
    }

    /// Counts requests made outside the ports (the event source mapping's polls and deletes).
    pub fn count(&self, kind: &'static str, n: u64) {
        self.add(kind, n);
    }

    pub fn counts(&self) -> Counts {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `ports` with every call counted. Admission is the AWS adapter's calls on the counted
    /// key-value store (its messages are sent by the outbox, on the counted queue).
    pub fn wrap(&self, ports: &Ports) -> Ports {
        let kv: Arc<dyn KeyValue> = Arc::new(Counted { inner: ports.kv.clone(), meter: self.clone() });
        let queue: Arc<dyn Queue> = Arc::new(Counted { inner: ports.queue.clone(), meter: self.clone() });
        Ports {
            blobs: Arc::new(Counted { inner: ports.blobs.clone(), meter: self.clone() }),
            status: ports.status.clone(),
            admission: Arc::new(RecordAdmission { kv: kv.clone() }),
            kv,
            queue,
            audit: Arc::new(Counted { inner: ports.audit.clone(), meter: self.clone() }),
            staging: ports.staging.clone(),
            versions: ports.versions.clone(),
            clock: ports.clock.clone(),
        }
    }
}

struct Counted<T: ?Sized> {
    inner: Arc<T>,
    meter: Meter,
}

/// DynamoDB item size of a record in bytes: the key, the JSON value and the small attributes
/// around it.
fn item_bytes(key: &str, value: &serde_json::Value) -> u64 {
    (key.len() + value.to_string().len() + 64) as u64
}

/// Write request units of a record: one per started KB.
fn item_kb(key: &str, value: &serde_json::Value) -> u64 {
    item_bytes(key, value).div_ceil(1024)
}

impl Meter {
    /// One DynamoDB write (`op` on `key`) of `wru` write units.
    fn write(&self, op: &str, key: &str, wru: u64) {
        self.add("dynamodb.write", 1);
        self.record(op, key);
        self.units(wru, 0.0);
    }
}

#[async_trait]
impl KeyValue for Counted<dyn KeyValue> {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>, PortError> {
        let v = self.meter.timed(self.inner.get(key)).await?;
        self.meter.add("dynamodb.read", 1);
        self.meter.record("read", key);
        let size = v.as_ref().map(|v| item_bytes(key, v)).unwrap_or(0);
        self.meter.units(0, size.div_ceil(4096).max(1) as f64);
        Ok(v)
    }
    async fn get_relaxed(&self, key: &str) -> Result<Option<serde_json::Value>, PortError> {
        let v = self.meter.timed(self.inner.get_relaxed(key)).await?;
        self.meter.add("dynamodb.read", 1);
        self.meter.record("read", key);
        let size = v.as_ref().map(|v| item_bytes(key, v)).unwrap_or(0);
        self.meter.units(0, size.div_ceil(4096).max(1) as f64 / 2.0);
        Ok(v)
    }
    async fn put(&self, key: &str, value: &serde_json::Value) -> Result<(), PortError> {
        self.meter.write("write", key, item_kb(key, value));
        self.meter.timed(self.inner.put(key, value)).await
    }
    async fn put_if_absent(&self, key: &str, value: &serde_json::Value) -> Result<bool, PortError> {
        self.meter.write("write", key, item_kb(key, value));
        self.meter.timed(self.inner.put_if_absent(key, value)).await
    }
    async fn put_if(
        &self,
        key: &str,
        expected: &serde_json::Value,
        value: &serde_json::Value,
    ) -> Result<bool, PortError> {
        self.meter.write("write", key, item_kb(key, value).max(item_kb(key, expected)));
        self.meter.timed(self.inner.put_if(key, expected, value)).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.meter.write("delete", key, 1);
        self.meter.timed(self.inner.delete(key)).await
    }
    async fn delete_if(&self, key: &str, expected: &serde_json::Value) -> Result<bool, PortError> {
        self.meter.write("delete", key, item_kb(key, expected));
        self.meter.timed(self.inner.delete_if(key, expected)).await
    }
    async fn insert_unless_live(
        &self,
        key: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        self.meter.write("write", key, item_kb(key, value));
        self.meter.timed(self.inner.insert_unless_live(key, value, now, expires_at)).await
    }
}

#[async_trait]
impl Queue for Counted<dyn Queue> {
    async fn send(&self, queue: &str, body: &str) -> Result<(), PortError> {
        self.meter.add("sqs.send", 1);
        self.meter.timed(self.inner.send(queue, body)).await
    }
    async fn send_in_group(&self, queue: &str, group: &str, dedupe_id: &str, body: &str) -> Result<(), PortError> {
        self.meter.add("sqs.send", 1);
        self.meter.timed(self.inner.send_in_group(queue, group, dedupe_id, body)).await
    }
    async fn send_batch_in_group(&self, queue: &str, messages: &[GroupMessage]) -> Result<(), PortError> {
        // SendMessageBatch: ten a call (the storm's messages are far under its size limit).
        self.meter.add("sqs.send", messages.len().div_ceil(10) as u64);
        self.meter.timed(self.inner.send_batch_in_group(queue, messages)).await
    }
    async fn receive(&self, queue: &str, max: usize, visibility_secs: u32) -> Result<Vec<Delivery>, PortError> {
        self.meter.add("sqs.receive", 1);
        self.meter.timed(self.inner.receive(queue, max, visibility_secs)).await
    }
    async fn ack(&self, queue: &str, receipt: &str) -> Result<(), PortError> {
        self.meter.add("sqs.delete", 1);
        self.meter.timed(self.inner.ack(queue, receipt)).await
    }
    async fn send_delayed(&self, queue: &str, body: &str, delay_secs: u32) -> Result<(), PortError> {
        self.meter.add("sqs.send", 1);
        self.meter.timed(self.inner.send_delayed(queue, body, delay_secs)).await
    }
    async fn retry_later(&self, queue: &str, receipt: &str, delay_secs: u32) -> Result<(), PortError> {
        self.meter.add("sqs.change_visibility", 1);
        self.meter.timed(self.inner.retry_later(queue, receipt, delay_secs)).await
    }
    async fn depth(&self, queue: &str) -> Result<QueueDepth, PortError> {
        self.meter.add("sqs.attributes", 1);
        self.meter.timed(self.inner.depth(queue)).await
    }
}

#[async_trait]
impl BlobStore for Counted<dyn BlobStore> {
    async fn put(&self, key: &str, data: Bytes, modified: Option<DateTime<Utc>>) -> Result<(), PortError> {
        self.meter.add("s3.put", 1);
        self.meter.timed(self.inner.put(key, data, modified)).await
    }
    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        modified: Option<DateTime<Utc>>,
    ) -> Result<(), PortError> {
        self.meter.add("s3.put", 1);
        self.meter.timed(self.inner.put_file(key, path, modified)).await
    }
    async fn get(&self, key: &str) -> Result<Blob, PortError> {
        self.meter.add("s3.get", 1);
        self.meter.timed(self.inner.get(key)).await
    }
    async fn head(&self, key: &str) -> Result<Option<BlobInfo>, PortError> {
        self.meter.add("s3.get", 1);
        self.meter.timed(self.inner.head(key)).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<BlobInfo>, PortError> {
        self.meter.add("s3.list", 1);
        self.meter.timed(self.inner.list(prefix)).await
    }
    async fn copy(&self, from: &str, to: &str) -> Result<(), PortError> {
        self.meter.add("s3.put", 1);
        self.meter.timed(self.inner.copy(from, to)).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.meter.add("s3.delete", 1);
        self.meter.timed(self.inner.delete(key)).await
    }
    async fn download_url(&self, key: &str, expires_secs: u64) -> Result<String, PortError> {
        self.meter.timed(self.inner.download_url(key, expires_secs)).await
    }
}

#[async_trait]
impl AuditLog for Counted<dyn AuditLog> {
    async fn record(&self, entry: &AuditEntry) -> Result<(), PortError> {
        self.meter.write("audit", &entry.target, 1);
        self.meter.timed(self.inner.record(entry)).await
    }
    async fn list(&self, target: &str) -> Result<Vec<AuditEntry>, PortError> {
        self.meter.add("dynamodb.read", 1);
        self.meter.timed(self.inner.list(target)).await
    }
}
