//! Webhook receipt made durable: a first delivery is recorded in the dedupe set (raw body and
//! headers included, so the record is the archive) with its message to its entity's FIFO group
//! made certain before it is acknowledged (locally queued in the same transaction; on AWS the
//! record is the outbox, and [`outbox`] queues it from the table's change stream); a duplicate
//! is acknowledged and queued nothing; a signed but malformed delivery goes to the dead-letter
//! store with its reason. An invalid signature stores nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::processor::{class_queue, DeadLetter, Message};
use super::receipt::{receive, Accepted, Receipt, Rejected};
use super::signature::{Headers, Secrets, WebhookSource};
use crate::ports::{Admit, Admitted, BlobStore, GroupMessage, PortError, Ports, Queue};

/// How long a delivery id is remembered.
pub const DEDUPE_TTL_DAYS: i64 = 7;

/// Bodies up to this size travel in the queue message (SQS bills each 64 KB of a message as
/// one request); larger ones are read from the dedupe record by the processor.
pub const INLINE_BODY_MAX: usize = 48 * 1024;

/// A dedupe record holds a raw body up to this size; a larger one is kept in the bucket under
/// [`BODIES_PREFIX`] and the record names it. (DynamoDB items are at most 400 KB, and a JSON
/// body stored as a JSON string grows at most twofold: only quotes and backslashes are escaped,
/// a body with raw control characters is not JSON and never admitted.)
pub const RECORD_BODY_MAX: usize = 150 * 1024;

/// The dead letters of the [`outbox`] are `outbox:{dedupe key}`.
pub const OUTBOX_DEAD_PREFIX: &str = "outbox:";

/// Where bodies too large for their record are kept, by source, day and content digest.
pub const BODIES_PREFIX: &str = "webhooks/bodies/";

/// What the sender is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 200: queued for processing.
    Accepted,
    /// 200: seen before; nothing queued.
    Duplicate,
    /// 200: WooCommerce's ping.
    Ping,
    /// 200: signed but not processable; kept in the dead-letter store.
    DeadLettered(String),
    /// 401.
    Unauthorized(String),
    /// 413.
    TooLarge(String),
    /// 400.
    BadRequest(String),
}

pub struct Receiver {
    ports: Ports,
    secrets: Secrets,
    rejected: AtomicU64,
}

/// Where dedupe records are kept: `webhook/seen/{dedupe key}`.
pub const RECORD_PREFIX: &str = "webhook/seen/";

pub fn record_key(dedupe_key: &str) -> String {
    format!("{RECORD_PREFIX}{dedupe_key}")
}

/// SQS FIFO dedupe ids are at most 128 characters of a restricted set.
pub fn fifo_id(key: &str) -> String {
    let clean: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".contains(c) { c } else { '_' })
        .collect();
    if clean.len() <= 128 {
        clean
    } else {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(key.as_bytes()))
    }
}

impl Receiver {
    pub fn new(ports: Ports, secrets: Secrets) -> Self {
        Self { ports, secrets, rejected: AtomicU64::new(0) }
    }

    /// Requests refused for their signature since start (the only trace they leave).
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    pub async fn handle(&self, source: WebhookSource, headers: &dyn Headers, body: &[u8]) -> Result<Reply, PortError> {
        let now = self.ports.clock.now();
        let receipt = match receive(source, headers, body, &self.secrets, now) {
            Ok(r) => r,
            Err(Rejected::Unauthorized(e)) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(source = source.as_str(), error = %e, "webhook refused");
                return Ok(Reply::Unauthorized(e.to_string()));
            }
            Err(e @ Rejected::TooLarge(_)) => return Ok(Reply::TooLarge(e.to_string())),
            Err(e @ Rejected::MissingDeliveryId(_)) => return Ok(Reply::BadRequest(e.to_string())),
        };
        let raw = json!({
            "source": source,
            "received_at": now,
            "body": raw_body(body),
            "headers": header_snapshot(headers),
        });
        match receipt {
            Receipt::Ping => Ok(Reply::Ping),
            Receipt::Malformed { dedupe_key, reason } => {
                DeadLetter {
                    id: dedupe_key.clone(),
                    queue: None,
                    group: None,
                    reason: reason.clone(),
                    attempts: vec![],
                    message: None,
                    delivery: Some(raw),
                    dead_at: now,
                }
                .store(&self.ports)
                .await?;
                tracing::warn!(dedupe_key, reason, "webhook dead-lettered at receipt");
                Ok(Reply::DeadLettered(reason))
            }
            Receipt::Event(accepted) => {
                let key = record_key(&accepted.dedupe_key);
                let expires = now + Duration::days(DEDUPE_TTL_DAYS);
                let is_live = |rec: &serde_json::Value| {
                    rec["delivery"]["received_at"]
                        .as_str()
                        .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
                        .is_none_or(|at| at + Duration::days(DEDUPE_TTL_DAYS) > now)
                };
                let mut raw = raw;
                if body.len() > RECORD_BODY_MAX {
                    // Kept in the bucket before the record names it (named by its content, so a
                    // retried delivery writes the same object again).
                    use sha2::Digest;
                    let day = now.format("%Y-%m-%d");
                    let digest = hex::encode(sha2::Sha256::digest(body));
                    let blob = format!("{BODIES_PREFIX}{}/{day}/{digest}", source.as_str());
                    self.ports.blobs.put(&blob, bytes::Bytes::copy_from_slice(body), None).await?;
                    raw["body"] = json!({ "blob": blob });
                }
                // One step: recorded and queued (locally in one transaction; on AWS the record
                // is written and the table's change stream queues its message). One write per
                // first delivery, one read per duplicate.
                let (queue, message) = outgoing(&accepted, &raw);
                let rec = json!({ "delivery": raw, "accepted": accepted });
                let admit = Admit {
                    key: &key,
                    record: &rec,
                    now,
                    expires_at: expires,
                    is_live: &is_live,
                    queue,
                    message: &message,
                };
                match self.ports.admission.admit(&admit).await? {
                    Admitted::Recorded => Ok(Reply::Accepted),
                    Admitted::Live(_) => Ok(Reply::Duplicate),
                }
            }
        }
    }
}

/// The FIFO message that carries an accepted delivery, and its queue: in its entity's group,
/// deduplicated by its delivery, with the raw delivery inline when its body is small enough
/// or kept in the bucket (the processor reads any other from the dedupe record).
pub fn outgoing(accepted: &Accepted, delivery: &serde_json::Value) -> (&'static str, GroupMessage) {
    let body = &delivery["body"];
    let inline = body.as_str().map_or(body["blob"].is_string(), |b| b.len() <= INLINE_BODY_MAX);
    let msg = Message::Webhook {
        dedupe_key: accepted.dedupe_key.clone(),
        accepted: accepted.clone(),
        delivery: inline.then(|| delivery.clone()),
    };
    // Deduplicated as this admission (a record written again after its expiry is admitted
    // again), whoever sends it and however often.
    let admission = format!("{}@{}", accepted.dedupe_key, delivery["received_at"].as_str().unwrap_or_default());
    let message = GroupMessage { group: fifo_id(&accepted.entity), dedupe_id: fifo_id(&admission), body: msg.encode() };
    (class_queue(accepted.priority), message)
}

/// The message of a dedupe record (`webhook/seen/{dedupe key}` → `{delivery, accepted}`), as
/// [`Receiver::handle`] admitted it, or why the record yields none.
pub fn outgoing_of_record(record: &serde_json::Value) -> Result<(&'static str, GroupMessage), String> {
    let accepted: Accepted = match record.get("accepted") {
        Some(a) => serde_json::from_value(a.clone()).map_err(|e| format!("its `accepted` is unreadable: {e}"))?,
        None => return Err("it has no `accepted`".to_string()),
    };
    match record["delivery"].is_object() {
        true => Ok(outgoing(&accepted, &record["delivery"])),
        false => Err("it has no `delivery`".to_string()),
    }
}

/// What [`outbox`] did with a batch of records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outboxed {
    /// Messages sent.
    pub queued: usize,
    /// Dedupe records no message could be made from, kept in the dead-letter store instead.
    pub dead_lettered: usize,
}

/// The outbox: queues the messages of newly written dedupe records (a change stream's
/// inserts and updates, in the stream's order, each read or why it could not be), ten to a
/// batch per queue. Records that are not dedupe records are skipped. A dedupe record that
/// yields no message (unreadable, say, after a change of format between the writer and this
/// reader) was acknowledged to its sender, so it is not skipped: it goes to the dead-letter
/// store with the reason, named by its dedupe key, for an operator to see and retry. Sent
/// again after a failure, a message is dropped by its FIFO dedupe id within five minutes and
/// recognised by the processor's per-event record after that.
pub async fn outbox<'a>(
    queue: &dyn Queue,
    dead_letters: &dyn BlobStore,
    now: DateTime<Utc>,
    records: impl IntoIterator<Item = (&'a str, Result<&'a serde_json::Value, &'a str>)>,
) -> Result<Outboxed, PortError> {
    let mut by_queue: Vec<(&'static str, Vec<GroupMessage>)> = Vec::new();
    let mut done = Outboxed::default();
    for (key, record) in records {
        let Some(dedupe_key) = key.strip_prefix(RECORD_PREFIX) else { continue };
        match record.map_err(str::to_string).and_then(outgoing_of_record) {
            Ok((q, m)) => match by_queue.iter_mut().find(|(name, _)| *name == q) {
                Some((_, v)) => v.push(m),
                None => by_queue.push((q, vec![m])),
            },
            Err(why) => {
                let reason = format!("recorded at receipt, but no message could be made from its record {key}: {why}");
                tracing::error!(dedupe_key, reason, "webhook dead-lettered by the outbox");
                DeadLetter {
                    id: format!("{OUTBOX_DEAD_PREFIX}{dedupe_key}"),
                    queue: None,
                    group: None,
                    reason,
                    attempts: vec![],
                    message: None,
                    delivery: record.ok().map(|r| r["delivery"].clone()).filter(|d| !d.is_null()),
                    dead_at: now,
                }
                .store_in(dead_letters)
                .await?;
                done.dead_lettered += 1;
            }
        }
    }
    for (q, messages) in by_queue {
        queue.send_batch_in_group(q, &messages).await?;
        done.queued += messages.len();
    }
    Ok(done)
}

/// The body as sent, for replay: text when it is UTF-8, else `{"base64": …}`, never lossy
/// (a replay must verify against the same bytes).
fn raw_body(body: &[u8]) -> serde_json::Value {
    match std::str::from_utf8(body) {
        Ok(text) => json!(text),
        Err(_) => {
            json!({ "base64": base64::engine::general_purpose::STANDARD.encode(body) })
        }
    }
}

/// The raw body of a stored delivery record, byte for byte, when the delivery holds it (see
/// [`delivery_body`] for one kept in the bucket).
/// Takes a dedupe record (`{"delivery": …}`) or a delivery itself.
pub fn stored_body(record: &serde_json::Value) -> Option<Vec<u8>> {
    let delivery = if record["delivery"].is_object() { &record["delivery"] } else { record };
    let body = &delivery["body"];
    match body.as_str() {
        Some(text) => Some(text.as_bytes().to_vec()),
        None => base64::engine::general_purpose::STANDARD.decode(body["base64"].as_str()?).ok(),
    }
}

/// The raw body of a stored delivery (or a dedupe record), byte for byte, wherever it is kept:
/// in the delivery, or in the bucket for one too large for its record. `None` when the delivery
/// has none.
pub async fn delivery_body(blobs: &dyn BlobStore, record: &serde_json::Value) -> Result<Option<Vec<u8>>, PortError> {
    let delivery = if record["delivery"].is_object() { &record["delivery"] } else { record };
    match delivery["body"]["blob"].as_str() {
        Some(key) => {
            let bytes = blobs.get(key).await?.to_bytes().map_err(|e| PortError::backend("read", key, e))?;
            Ok(Some(bytes.to_vec()))
        }
        None => Ok(stored_body(delivery)),
    }
}

/// The headers worth keeping with the raw delivery (signatures and ids, for replay).
fn header_snapshot(headers: &dyn Headers) -> serde_json::Value {
    const KEEP: [&str; 14] = [
        "X-Shopify-Hmac-Sha256",
        "X-Shopify-Webhook-Id",
        "X-Shopify-Event-Id",
        "X-Shopify-Triggered-At",
        "X-Shopify-Topic",
        "X-WC-Webhook-Signature",
        "X-WC-Webhook-Delivery-ID",
        "X-WC-Webhook-Topic",
        "X-Webhook-Id",
        "X-Webhook-Event",
        "X-Webhook-Signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ];
    let map: serde_json::Map<String, serde_json::Value> =
        KEEP.iter().filter_map(|k| headers.header(k).map(|v| (k.to_string(), json!(v)))).collect();
    serde_json::Value::Object(map)
}
