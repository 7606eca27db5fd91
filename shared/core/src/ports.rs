//! The ports: what the core needs from the world, named for what the domain asks.
//! Each has exactly two adapters (local and AWS) and one contract suite ([`crate::contract`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::SessionId;
use crate::supplier::staging::{StagingEntry, StagingStatus};
use crate::supplier::versions::ProductVersion;

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("{key}: not found")]
    NotFound { key: String },
    #[error("{op} {target}: {source}")]
    Backend {
        op: &'static str,
        target: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl PortError {
    pub fn backend(
        op: &'static str,
        target: impl Into<String>,
        e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        PortError::Backend { op, target: target.into(), source: e.into() }
    }
}

/// An object's content: in memory, a local file to stream, or a downloaded copy in a scratch
/// file (a large object from a remote bucket: it is streamed to disk, not held in memory).
#[derive(Debug, Clone)]
pub enum Blob {
    Bytes(Bytes),
    File(PathBuf),
    Temp(Arc<TempCopy>),
}

/// A scratch file, removed when dropped.
#[derive(Debug)]
pub struct TempCopy(PathBuf);

impl TempCopy {
    /// Takes charge of `path` (made or not yet): it is removed when this is dropped.
    pub fn new(path: PathBuf) -> Self {
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Blob {
    pub fn reader(&self) -> std::io::Result<Box<dyn Read + Send + '_>> {
        let open = |p: &Path| std::fs::File::open(p).map(|f| std::io::BufReader::with_capacity(1 << 16, f));
        Ok(match self {
            Blob::Bytes(b) => Box::new(&b[..]),
            Blob::File(p) => Box::new(open(p)?),
            Blob::Temp(t) => Box::new(open(t.path())?),
        })
    }

    pub fn to_bytes(&self) -> std::io::Result<Bytes> {
        match self {
            Blob::Bytes(b) => Ok(b.clone()),
            Blob::File(p) => Ok(Bytes::from(std::fs::read(p)?)),
            Blob::Temp(t) => Ok(Bytes::from(std::fs::read(t.path())?)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobInfo {
    pub key: String,
    pub size: u64,
    /// When the content was written: the source file's time when the uploader gave one
    /// (metadata `mtime`), else the upload time.
    pub modified: DateTime<Utc>,
}

/// A bucket: objects by key.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Writes `key`; `modified` records when the content was written at its source.
    async fn put(&self, key: &str, data: Bytes, modified: Option<DateTime<Utc>>) -> Result<(), PortError>;
    /// Writes `key` from the local file `path`, streamed (a large download); the object
    /// appears whole or not at all.
    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        modified: Option<DateTime<Utc>>,
    ) -> Result<(), PortError>;
    async fn get(&self, key: &str) -> Result<Blob, PortError>;
    async fn head(&self, key: &str) -> Result<Option<BlobInfo>, PortError>;
    /// Every object under `prefix`, sorted by key. Here `modified` only marks a change: S3's
    /// listing carries the upload time, not the source time that `head` reads, so callers that
    /// need the source time call `head`.
    async fn list(&self, prefix: &str) -> Result<Vec<BlobInfo>, PortError>;
    /// Copies content and the `modified` time.
    async fn copy(&self, from: &str, to: &str) -> Result<(), PortError>;
    /// Removes `key`; removing an absent key is not an error.
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// A URL from which the object can be downloaded for `expires_secs`.
    async fn download_url(&self, key: &str, expires_secs: u64) -> Result<String, PortError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Waiting,
    Processing,
    Completed,
    Failed,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Waiting => "waiting",
            StepStatus::Processing => "processing",
            StepStatus::Completed => "completed",
            StepStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "waiting" => StepStatus::Waiting,
            "processing" => StepStatus::Processing,
            "completed" => StepStatus::Completed,
            "failed" => StepStatus::Failed,
            _ => return None,
        })
    }
}

/// One status record, written by the step as it works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusEntry {
    pub session: SessionId,
    pub step: u8,
    pub name: String,
    pub status: StepStatus,
    pub message: String,
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// The append-only status log of sessions.
#[async_trait]
pub trait StatusLog: Send + Sync {
    async fn append(&self, entry: &StatusEntry) -> Result<(), PortError>;
    /// The session's entries in the order they were written (by time, then append order).
    async fn read(&self, session: &SessionId) -> Result<Vec<StatusEntry>, PortError>;
}

/// Small state records with conditional writes (idempotency keys, ledgers, pointers).
#[async_trait]
pub trait KeyValue: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>, PortError>;
    /// A read that may miss a write of the last second (DynamoDB's eventually consistent read,
    /// half the price): for a check that a conditional write backs up.
    async fn get_relaxed(&self, key: &str) -> Result<Option<serde_json::Value>, PortError> {
        self.get(key).await
    }
    async fn put(&self, key: &str, value: &serde_json::Value) -> Result<(), PortError>;
    /// Writes only if `key` is absent; returns whether it wrote.
    async fn put_if_absent(&self, key: &str, value: &serde_json::Value) -> Result<bool, PortError>;
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// Replaces the value only if the stored value equals `expected` (compare-and-set);
    /// returns whether it wrote.
    async fn put_if(
        &self,
        key: &str,
        expected: &serde_json::Value,
        value: &serde_json::Value,
    ) -> Result<bool, PortError>;
    /// Deletes only if the stored value equals `expected`; returns whether it deleted.
    async fn delete_if(&self, key: &str, expected: &serde_json::Value) -> Result<bool, PortError>;
    /// The dedupe set's insert: writes `key` to live until `expires_at` unless a record that is
    /// still live at `now` holds it; returns whether it wrote. An expired record counts as
    /// absent (whether or not the backend has purged it yet: expiry follows the caller's clock).
    async fn insert_unless_live(
        &self,
        key: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, PortError>;
}

/// A received message, to be acknowledged once handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub receipt: String,
    pub body: String,
    pub receive_count: u32,
}

/// Named work queues with at-least-once delivery.
#[async_trait]
pub trait Queue: Send + Sync {
    async fn send(&self, queue: &str, body: &str) -> Result<(), PortError>;
    /// FIFO: messages of one `group` are delivered in the order sent, and none while an earlier
    /// one of the group is in flight; a message whose `dedupe_id` was sent in the last five
    /// minutes is dropped (SQS FIFO's window).
    async fn send_in_group(&self, queue: &str, group: &str, dedupe_id: &str, body: &str) -> Result<(), PortError>;
    /// [`Queue::send_in_group`] for many messages, in order (SQS: `SendMessageBatch`, ten a
    /// call). On an error, any prefix of them may have been sent.
    async fn send_batch_in_group(&self, queue: &str, messages: &[GroupMessage]) -> Result<(), PortError> {
        for m in messages {
            self.send_in_group(queue, &m.group, &m.dedupe_id, &m.body).await?;
        }
        Ok(())
    }
    /// Up to `max` visible messages; each stays invisible for `visibility_secs` unless acked.
    async fn receive(&self, queue: &str, max: usize, visibility_secs: u32) -> Result<Vec<Delivery>, PortError>;
    async fn ack(&self, queue: &str, receipt: &str) -> Result<(), PortError>;
    /// Sends `body` to become visible after `delay_secs` (at most 900, SQS's limit; not on FIFO).
    async fn send_delayed(&self, queue: &str, body: &str, delay_secs: u32) -> Result<(), PortError>;
    /// A received message that failed comes back after `delay_secs` (at most 12 hours) instead of
    /// its visibility timeout; on FIFO its group stays blocked until then.
    async fn retry_later(&self, queue: &str, receipt: &str, delay_secs: u32) -> Result<(), PortError>;
    /// How many messages wait and how many are in flight or delayed.
    async fn depth(&self, queue: &str) -> Result<QueueDepth, PortError>;
}

/// A FIFO message: its group, dedupe id and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMessage {
    pub group: String,
    pub dedupe_id: String,
    pub body: String,
}

/// A queue's backlog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDepth {
    /// Ready to be received.
    pub visible: u64,
    /// Received and not acknowledged, waiting for a retry, or delayed.
    pub not_visible: u64,
}

/// Who changed what, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub who: String,
    pub action: String,
    pub target: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn record(&self, entry: &AuditEntry) -> Result<(), PortError>;
    /// Entries about `target`, oldest first.
    async fn list(&self, target: &str) -> Result<Vec<AuditEntry>, PortError>;
}

/// Which staged entries to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StagingQuery {
    /// One run's entries only.
    pub run: Option<String>,
    /// Entries after this id (the last of the page before).
    pub after: Option<String>,
    pub limit: usize,
}

/// Staged supplier changes (`supplier::staging`), one record per entry id.
#[async_trait]
pub trait StagingStore: Send + Sync {
    /// Writes a new entry unless one has its id; returns whether it wrote.
    async fn create(&self, entry: &StagingEntry) -> Result<bool, PortError>;
    async fn get(&self, id: &str) -> Result<Option<StagingEntry>, PortError>;
    /// Replaces the entry if the stored one's revision is `expected_revision`; returns
    /// whether it wrote.
    async fn update(&self, entry: &StagingEntry, expected_revision: u64) -> Result<bool, PortError>;
    /// Entries of `status`, by id, a page at a time.
    async fn list(&self, status: StagingStatus, query: &StagingQuery) -> Result<Vec<StagingEntry>, PortError>;
    /// How many entries of a run have each status.
    async fn counts(&self, run: &str) -> Result<BTreeMap<StagingStatus, u64>, PortError>;
}

/// Product versions (`supplier::versions`).
#[async_trait]
pub trait VersionStore: Send + Sync {
    /// Writes the version unless the product has one of its number; returns whether it wrote.
    async fn append(&self, version: &ProductVersion) -> Result<bool, PortError>;
    /// A product's versions, oldest first.
    async fn history(&self, product: &str) -> Result<Vec<ProductVersion>, PortError>;
}

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A first delivery to admit: its dedupe record and the FIFO message that carries it.
pub struct Admit<'a> {
    /// The dedupe record's key, and the record.
    pub key: &'a str,
    pub record: &'a serde_json::Value,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether a stored record still holds the key at `now` (for backends that hand back the
    /// value only; a backend that keeps `expires_at` beside the value uses that instead).
    pub is_live: &'a (dyn Fn(&serde_json::Value) -> bool + Sync),
    /// Where the message goes: `send_in_group(queue, group, message)`. A backend whose
    /// record is its outbox ([`RecordAdmission`]) derives the same message from the record.
    pub queue: &'a str,
    pub message: &'a GroupMessage,
}

/// What admitting a delivery did.
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// Recorded, and queued (or, with [`RecordAdmission`], to be queued by the record's change
    /// stream).
    Recorded,
    /// A live record holds the key (returned when the backend read it, else `Null`): nothing
    /// was recorded, and nothing is queued on its behalf.
    Live(serde_json::Value),
}

/// The webhook receiver's durable step: record a delivery's dedupe key unless a live record
/// holds it, and have its message queued, so that no delivery is acknowledged without its
/// message being certain. Two adapters: the local state's one transaction (record and message),
/// and [`RecordAdmission`] (on AWS: the record is written, and the state table's change
/// stream queues its message, ten to a `SendMessageBatch`).
#[async_trait]
pub trait Admission: Send + Sync {
    async fn admit(&self, a: &Admit<'_>) -> Result<Admitted, PortError>;
}

/// [`Admission`] whose record is the outbox: a relaxed read (a duplicate costs only that),
/// then the conditional write of the record. The message is not sent here: a consumer of the
/// store's change stream sends it (`webhooks::receiver::outbox`), so a record is never left
/// without its message, and one send serves up to ten deliveries.
pub struct RecordAdmission {
    pub kv: Arc<dyn KeyValue>,
}

#[async_trait]
impl Admission for RecordAdmission {
    async fn admit(&self, a: &Admit<'_>) -> Result<Admitted, PortError> {
        if let Some(rec) = self.kv.get_relaxed(a.key).await? {
            if (a.is_live)(&rec) {
                return Ok(Admitted::Live(rec));
            }
        }
        match self.kv.insert_unless_live(a.key, a.record, a.now, a.expires_at).await? {
            true => Ok(Admitted::Recorded),
            // The same delivery, concurrently (or written within the relaxed read's lag).
            false => Ok(Admitted::Live(serde_json::Value::Null)),
        }
    }
}

/// Every port, as picked by one composition root.
#[derive(Clone)]
pub struct Ports {
    pub blobs: Arc<dyn BlobStore>,
    pub status: Arc<dyn StatusLog>,
    pub kv: Arc<dyn KeyValue>,
    pub queue: Arc<dyn Queue>,
    /// Webhook admission: on the same store as `kv` and `queue`.
    pub admission: Arc<dyn Admission>,
    pub audit: Arc<dyn AuditLog>,
    pub staging: Arc<dyn StagingStore>,
    pub versions: Arc<dyn VersionStore>,
    pub clock: Arc<dyn Clock>,
}
