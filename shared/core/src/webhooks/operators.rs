//! What an operator does with the webhook path (admin API and `storesync webhooks …`): queue
//! depths, dead letters listed, retried or discarded with a reason, and archived deliveries
//! replayed. Every change is audited.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::processor::{
    attempts_key, DeadLetter, Message, CLASS_QUEUES, DEAD_PREFIX, DISCARDED_PREFIX, QUEUES, RAW_PREFIX,
};
use super::receipt::{accept, Receipt};
use super::receiver::{delivery_body, fifo_id, outgoing};
use super::WebhookSource;
use crate::ports::{AuditEntry, PortError, Ports, QueueDepth};

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("no dead letter {0:?}")]
    NotFound(String),
    #[error("dead letter {id:?} cannot be retried: {why}")]
    NotRetryable { id: String, why: String },
    #[error("a reason is required to discard {0:?}")]
    NoReason(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueInfo {
    pub queue: String,
    #[serde(flatten)]
    pub depth: QueueDepth,
}

/// Depths of every queue of the webhook path, and how many dead letters wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub queues: Vec<QueueInfo>,
    pub dead_letters: usize,
    /// When the oldest dead letter died.
    pub oldest_dead_letter: Option<DateTime<Utc>>,
}

pub async fn overview(ports: &Ports) -> Result<Overview, OpsError> {
    let mut queues = Vec::with_capacity(QUEUES.len());
    for q in QUEUES {
        queues.push(QueueInfo { queue: q.to_string(), depth: ports.queue.depth(q).await? });
    }
    let dead = dead_letters(ports).await?;
    Ok(Overview { queues, dead_letters: dead.len(), oldest_dead_letter: dead.iter().map(|d| d.dead_at).min() })
}

/// Every dead letter, oldest first.
pub async fn dead_letters(ports: &Ports) -> Result<Vec<DeadLetter>, OpsError> {
    let mut out = Vec::new();
    for b in ports.blobs.list(DEAD_PREFIX).await? {
        let bytes = ports.blobs.get(&b.key).await?.to_bytes().map_err(|e| PortError::backend("read", &b.key, e))?;
        match serde_json::from_slice::<DeadLetter>(&bytes) {
            Ok(d) => out.push(d),
            Err(e) => tracing::warn!(key = b.key, error = %e, "unreadable dead letter"),
        }
    }
    out.sort_by(|a, b| (a.dead_at, &a.id).cmp(&(b.dead_at, &b.id)));
    Ok(out)
}

async fn load(ports: &Ports, id: &str) -> Result<DeadLetter, OpsError> {
    let key = DeadLetter::key(id);
    if ports.blobs.head(&key).await?.is_none() {
        return Err(OpsError::NotFound(id.to_string()));
    }
    let bytes = ports.blobs.get(&key).await?.to_bytes().map_err(|e| PortError::backend("read", &key, e))?;
    serde_json::from_slice(&bytes).map_err(|e| OpsError::Port(PortError::backend("decode", key, e)))
}

async fn audit(
    ports: &Ports,
    who: &str,
    action: &str,
    id: &str,
    before: serde_json::Value,
    after: serde_json::Value,
) -> Result<(), OpsError> {
    let entry = AuditEntry {
        at: ports.clock.now(),
        who: who.to_string(),
        action: action.to_string(),
        target: format!("webhook/{id}"),
        before,
        after,
    };
    Ok(ports.audit.record(&entry).await?)
}

/// Sends a dead letter's message back to its queue with a fresh attempt history. One with no
/// message but its raw delivery (refused as malformed at receipt, or a record the outbox could
/// not read) has the delivery read again, as this version reads it, and queued as the receiver
/// would have; one that is still not processable stays, with the reason.
pub async fn retry(ports: &Ports, id: &str, who: &str) -> Result<(), OpsError> {
    let dead = load(ports, id).await?;
    let queue = match (dead.queue.as_deref(), dead.message.as_deref(), &dead.delivery) {
        (Some(queue), Some(message), _) => {
            if CLASS_QUEUES.contains(&queue) {
                let group = dead.group.clone().unwrap_or_else(|| "ungrouped".into());
                let dedupe = fifo_id(&format!("retry:{id}:{}", ports.clock.now().timestamp_millis()));
                ports.queue.send_in_group(queue, &fifo_id(&group), &dedupe, message).await?;
            } else {
                ports.queue.send(queue, message).await?;
            }
            queue
        }
        (_, _, Some(delivery)) => requeue_delivery(ports, id, delivery).await?,
        _ => {
            let why = "it keeps neither a message nor its delivery; discard it, or let the sender resend";
            return Err(OpsError::NotRetryable { id: id.to_string(), why: why.into() });
        }
    };
    ports.kv.delete(&attempts_key(id)).await?;
    ports.blobs.delete(&DeadLetter::key(id)).await?;
    audit(
        ports,
        who,
        "webhook.retry",
        id,
        json!({ "reason": dead.reason, "attempts": dead.attempts.len() }),
        json!({ "queue": queue }),
    )
    .await
}

/// Queues a stored delivery's message as [`super::receiver::Receiver`] does for a first
/// delivery (it was verified then); returns the queue.
async fn requeue_delivery(ports: &Ports, id: &str, delivery: &serde_json::Value) -> Result<&'static str, OpsError> {
    let not = |why: String| OpsError::NotRetryable { id: id.to_string(), why };
    let source: WebhookSource = serde_json::from_value(delivery["source"].clone())
        .map_err(|e| not(format!("its delivery names no known source: {e}")))?;
    let headers: BTreeMap<String, String> = serde_json::from_value(delivery["headers"].clone())
        .map_err(|e| not(format!("its delivery's headers are unreadable: {e}")))?;
    let body =
        delivery_body(ports.blobs.as_ref(), delivery).await?.ok_or_else(|| not("its delivery has no body".into()))?;
    match accept(source, &headers, &body) {
        Ok(Receipt::Event(accepted)) => {
            let (queue, m) = outgoing(&accepted, delivery);
            ports.queue.send_in_group(queue, &m.group, &m.dedupe_id, &m.body).await?;
            Ok(queue)
        }
        Ok(Receipt::Malformed { reason, .. }) => Err(not(format!(
            "its delivery is not processable: {reason}; discard it, or fix the sender and let it resend"
        ))),
        Ok(Receipt::Ping) => Err(not("its delivery is a ping".into())),
        Err(e) => Err(not(e.to_string())),
    }
}

/// Retries every retryable dead letter; returns how many were sent back.
pub async fn retry_all(ports: &Ports, who: &str) -> Result<usize, OpsError> {
    let mut n = 0;
    for d in dead_letters(ports).await? {
        match retry(ports, &d.id, who).await {
            Ok(()) => n += 1,
            Err(OpsError::NotRetryable { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Moves a dead letter to `webhooks/discarded/` with the operator's reason.
pub async fn discard(ports: &Ports, id: &str, reason: &str, who: &str) -> Result<(), OpsError> {
    if reason.trim().is_empty() {
        return Err(OpsError::NoReason(id.to_string()));
    }
    let dead = load(ports, id).await?;
    let kept = json!({ "discarded_at": ports.clock.now(), "discarded_by": who, "discard_reason": reason, "dead_letter": dead });
    let data = serde_json::to_vec_pretty(&kept).map_err(|e| PortError::backend("encode", id, e))?;
    let to = DeadLetter::key(id).replacen(DEAD_PREFIX, DISCARDED_PREFIX, 1);
    ports.blobs.put(&to, data.into(), None).await?;
    ports.blobs.delete(&DeadLetter::key(id)).await?;
    audit(ports, who, "webhook.discard", id, json!({ "reason": dead.reason }), json!({ "discarded": reason })).await
}

/// Sends the archived deliveries of `source` received at or after `since` through processing
/// again. Events already applied are recognised by their ids and change nothing; the rest apply.
/// Returns how many deliveries were queued.
pub async fn replay(ports: &Ports, source: WebhookSource, since: DateTime<Utc>, who: &str) -> Result<usize, OpsError> {
    let prefix = format!("{RAW_PREFIX}{}/", source.as_str());
    let first_day = since.format("%Y-%m-%d").to_string();
    let mut seen = std::collections::HashSet::new();
    let now = ports.clock.now();
    let mut n = 0;
    for b in ports.blobs.list(&prefix).await? {
        let day = b.key[prefix.len()..].split('/').next().unwrap_or_default();
        if day < first_day.as_str() {
            continue;
        }
        let bytes = ports.blobs.get(&b.key).await?.to_bytes().map_err(|e| PortError::backend("read", &b.key, e))?;
        for line in bytes.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else { continue };
            let received: Option<DateTime<Utc>> = v["delivery"]["received_at"].as_str().and_then(|t| t.parse().ok());
            let (Some(key), Some(received)) = (v["dedupe_key"].as_str(), received) else { continue };
            if received < since || !seen.insert(key.to_string()) {
                continue;
            }
            let Ok(accepted) = serde_json::from_value::<super::receipt::Accepted>(v["accepted"].clone()) else {
                continue;
            };
            let replay_key = format!("replay:{}:{key}", now.timestamp_millis());
            let mut a = accepted.clone();
            a.dedupe_key = replay_key.clone();
            // The delivery travels in the message: a replay needs no record of its own.
            let msg = Message::Webhook {
                dedupe_key: replay_key.clone(),
                accepted: a.clone(),
                delivery: Some(v["delivery"].clone()),
            };
            let queue = super::processor::class_queue(a.priority);
            ports.queue.send_in_group(queue, &fifo_id(&a.entity), &fifo_id(&replay_key), &msg.encode()).await?;
            n += 1;
        }
    }
    audit(ports, who, "webhook.replay", source.as_str(), json!({ "since": since }), json!({ "queued": n })).await?;
    Ok(n)
}
