//! Processing of verified webhooks: per entity in order (FIFO groups), prerequisites parked and
//! released, effects on the store exactly once, retries on the schedule, then the dead-letter
//! store with the reason and the attempt history.
//!
//! Queues, by the WMS's priority classes (the local worker drains them in this order; on AWS each
//! has its own event source): order lifecycle, stock, shipments, inbounds. Stock events update a
//! per-SKU record ([`SkuStock`]) and queue one push per SKU while none is queued; the stock
//! pusher sets the latest quantities in batches of up to 100 per call. A parked event also
//! sends a delayed check: past the deadlock timeout the entity is read from the WMS API and
//! reconciled from that.
//!
//! Exactly once: an event's id is recorded as applied in its entity's progress after its effects;
//! a message received more than once (after a failure, a crash or a timeout) looks for the note
//! it may already have added (each note carries the event id) instead of adding it again.
//! Status and stock writes are absolute, so repeating them changes nothing.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::archive::{self, ArchiveMode};
use super::effects::{EffectError, Storefront, Warehouse};
use super::ordering::{Decision, EntityProgress, Reconciled};
use super::receipt::Accepted;
use super::receiver::{delivery_body, fifo_id, record_key};
use super::retry::{Failure, Next, RetryPolicy};
use super::stock::{SkuStock, StockFact};
use super::wms::{EventKind, WmsData, WmsEvent};
use super::WebhookSource;
use crate::ports::{AuditEntry, BlobStore, Delivery, GroupMessage, PortError, Ports};

/// The FIFO queues of verified events, highest priority first.
pub const ORDERS: &str = "webhooks-orders";
pub const STOCK: &str = "webhooks-stock";
pub const SHIPMENTS: &str = "webhooks-shipments";
pub const INBOUNDS: &str = "webhooks-inbounds";
pub const CLASS_QUEUES: [&str; 4] = [ORDERS, STOCK, SHIPMENTS, INBOUNDS];
/// SKUs whose stock is to be set in the store (standard queue, batches of up to 100).
pub const STOCK_PUSH: &str = "webhooks-stock-push";
/// How many stock push messages one pusher run takes (SKUs repeat; each SKU is set once, 100
/// per call). The Lambda event source mapping uses the same batch size.
pub const PUSH_BATCH: usize = 1000;
/// Delayed checks of parked events (standard queue).
pub const DEADLOCK: &str = "webhooks-deadlock";
/// Every queue of the webhook path.
/// Every queue of the webhook path, in the order the local worker drains them: stock pushes
/// follow stock events (so that under a backlog they collect into full batches) and come before
/// shipments.
pub const QUEUES: [&str; 6] = [ORDERS, STOCK, STOCK_PUSH, SHIPMENTS, INBOUNDS, DEADLOCK];
/// Messages stay invisible this long while they are processed.
pub const VISIBILITY_SECS: u32 = 60;
/// Where dead letters are kept (one object each: listable, retryable, discardable).
pub const DEAD_PREFIX: &str = "webhooks/dead/";
/// Where dead letters go when an operator discards them.
pub const DISCARDED_PREFIX: &str = "webhooks/discarded/";
pub use super::archive::RAW_PREFIX;

/// The class queue of a WMS priority (order lifecycle 1–5, stock 10–11, shipments 15–18,
/// inbounds 20+).
pub fn class_queue(priority: u8) -> &'static str {
    match priority {
        0..=9 => ORDERS,
        10..=14 => STOCK,
        15..=19 => SHIPMENTS,
        _ => INBOUNDS,
    }
}

/// A message on a class queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// A verified delivery. The raw delivery (source, time, body, headers) travels with it, so
    /// processing reads no record; messages without it (sent by earlier versions) take it from
    /// the dedupe record.
    Webhook {
        dedupe_key: String,
        accepted: Accepted,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery: Option<serde_json::Value>,
    },
    /// A stock fact applied in the SKU's group: a quantity received by a completed inbound
    /// (relative), or the WMS's stock read by the backup sync (absolute). `id` identifies it
    /// whatever path brought it.
    Stock { sku: String, id: String, occurred_at: DateTime<Utc>, quantity: i64, absolute: bool },
    /// An entity as the WMS API returns it, read by a backup sync: applied in its group.
    Sync { entity: String, item: serde_json::Value },
    /// A parked event's deadlock check, run in its entity's group.
    Reconcile { entity: String, event_id: String },
}

impl Message {
    /// The entity: the FIFO message group.
    pub fn group(&self) -> String {
        match self {
            Message::Webhook { accepted, .. } => accepted.entity.clone(),
            Message::Stock { sku, .. } => format!("sku:{sku}"),
            Message::Sync { entity, .. } => entity.clone(),
            Message::Reconcile { entity, .. } => entity.clone(),
        }
    }

    /// The id attempts and dead letters are kept under.
    pub fn id(&self) -> String {
        match self {
            Message::Webhook { dedupe_key, .. } => dedupe_key.clone(),
            Message::Stock { id, sku, .. } => format!("stock:{sku}:{id}"),
            Message::Sync { entity, item } => {
                format!("sync:{entity}:{}", item["updated_at"].as_str().unwrap_or_default())
            }
            Message::Reconcile { event_id, .. } => format!("reconcile:{event_id}"),
        }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// As a FIFO message: in its entity's group, deduplicated by its id.
    pub fn to_group_message(&self) -> GroupMessage {
        GroupMessage { group: fifo_id(&self.group()), dedupe_id: fifo_id(&self.id()), body: self.encode() }
    }
}

/// One failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub error: String,
}

/// A message that will not be applied without an operator: why, and what was tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: String,
    /// The queue to send `message` to on retry; `None` for deliveries refused at receipt.
    pub queue: Option<String>,
    pub group: Option<String>,
    pub reason: String,
    pub attempts: Vec<Attempt>,
    /// The queued message, as sent.
    pub message: Option<String>,
    /// The raw delivery, for deliveries dead-lettered at receipt.
    pub delivery: Option<serde_json::Value>,
    pub dead_at: DateTime<Utc>,
}

impl DeadLetter {
    pub fn key(id: &str) -> String {
        let safe: String =
            id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.:".contains(c) { c } else { '_' }).collect();
        format!("{DEAD_PREFIX}{safe}.json")
    }

    pub async fn store(&self, ports: &Ports) -> Result<(), PortError> {
        self.store_in(ports.blobs.as_ref()).await
    }

    /// Kept in the dead-letter store (the bucket, under [`DEAD_PREFIX`]), by its id.
    pub async fn store_in(&self, blobs: &dyn BlobStore) -> Result<(), PortError> {
        let data = serde_json::to_vec_pretty(self).map_err(|e| PortError::backend("encode", &self.id, e))?;
        blobs.put(&Self::key(&self.id), data.into(), None).await
    }
}

/// What the processor did, since start.
#[derive(Debug, Default)]
pub struct Stats {
    pub applied: AtomicU64,
    pub duplicate_events: AtomicU64,
    pub parked: AtomicU64,
    pub released: AtomicU64,
    pub reconciled: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub ignored: AtomicU64,
    /// Stock lines of completed inbounds applied to their SKUs.
    pub received_lines: AtomicU64,
    pub stock_calls: AtomicU64,
    /// Orders pushed to the WMS, and entities the backup syncs repaired.
    pub orders_pushed: AtomicU64,
    pub synced: AtomicU64,
    pub stock_objects: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    pub applied: u64,
    pub duplicate_events: u64,
    pub parked: u64,
    pub released: u64,
    pub reconciled: u64,
    pub retried: u64,
    pub dead_lettered: u64,
    pub ignored: u64,
    pub received_lines: u64,
    pub stock_calls: u64,
    pub orders_pushed: u64,
    pub synced: u64,
    pub stock_objects: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            applied: g(&self.applied),
            duplicate_events: g(&self.duplicate_events),
            parked: g(&self.parked),
            released: g(&self.released),
            reconciled: g(&self.reconciled),
            retried: g(&self.retried),
            dead_lettered: g(&self.dead_lettered),
            ignored: g(&self.ignored),
            received_lines: g(&self.received_lines),
            stock_calls: g(&self.stock_calls),
            orders_pushed: g(&self.orders_pushed),
            synced: g(&self.synced),
            stock_objects: g(&self.stock_objects),
        }
    }
}

pub(crate) fn bump(a: &AtomicU64, n: u64) {
    a.fetch_add(n, Ordering::Relaxed);
}

/// Which messages of a batch are finished (acknowledge them) and which come back later (report
/// them as batch item failures; their delay is already set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchResult {
    pub done: Vec<String>,
    pub failed: Vec<String>,
}

pub(crate) enum Step {
    Done,
    Retry,
}

/// What happens once in an entity's life: a second event of the type (a re-emission under a new
/// id, or after a backup sync applied it) changes nothing.
const ONCE_PER_ENTITY: [EventKind; 5] = [
    EventKind::OrderCreated,
    EventKind::OrderShipped,
    EventKind::ShipmentCreated,
    EventKind::InboundCreated,
    EventKind::InboundCompleted,
];

pub fn progress_key(entity: &str) -> String {
    format!("webhook/entity/{entity}")
}

pub fn stock_key(sku: &str) -> String {
    format!("webhook/stock/{sku}")
}

/// The retry schedule (JSON of [`RetryPolicy`]).
pub const ENV_RETRY: &str = "STORESYNC_WEBHOOK_RETRY";
/// Minutes a parked event waits for its prerequisite before the entity is read from the WMS.
pub const ENV_DEADLOCK_MINUTES: &str = "STORESYNC_DEADLOCK_TIMEOUT_MINUTES";

/// The processor's settings from configuration looked up by `get`, where set:
/// `STORESYNC_WEBHOOK_RETRY` (JSON: `{"delays_secs": [30, 120, 300, 900, 3600],
/// "max_retries": 3, "per_type": {"order.created": [10, 60]}}`) and
/// `STORESYNC_DEADLOCK_TIMEOUT_MINUTES` (15). An error names the variable and the fault.
pub fn settings(get: impl Fn(&str) -> Option<String>) -> Result<(Option<RetryPolicy>, Option<Duration>), String> {
    let policy = match get(ENV_RETRY).filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(v) => {
            let p: RetryPolicy = serde_json::from_str(&v).map_err(|e| format!("{ENV_RETRY}: {e} (in {v:?})"))?;
            if p.delays_secs.is_empty() || p.per_type.values().any(Vec::is_empty) {
                return Err(format!("{ENV_RETRY}: a schedule needs at least one delay (in {v:?})"));
            }
            Some(p)
        }
    };
    let deadlock = match get(ENV_DEADLOCK_MINUTES).filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(v) => {
            let minutes: i64 = v
                .trim()
                .parse()
                .ok()
                .filter(|m| *m > 0)
                .ok_or_else(|| format!("{ENV_DEADLOCK_MINUTES}={v:?}: a whole number of minutes above 0"))?;
            Some(Duration::minutes(minutes))
        }
    };
    Ok((policy, deadlock))
}

/// Compare-and-set attempts on a stock record before the message is retried later.
const CAS_TRIES: usize = 8;

fn stock_contended(sku: &str) -> PortError {
    PortError::backend("compare-and-set", stock_key(sku), "the stock record kept changing")
}

pub fn attempts_key(id: &str) -> String {
    format!("webhook/attempts/{id}")
}

pub(crate) fn port_failure(e: PortError) -> EffectError {
    EffectError { failure: Failure::Timeout, message: e.to_string() }
}

pub struct Processor {
    ports: Ports,
    pub(crate) store: Arc<dyn Storefront>,
    pub(crate) warehouse: Arc<dyn Warehouse>,
    pub policy: RetryPolicy,
    pub deadlock_timeout: Duration,
    /// How long a received message stays invisible: after a crash, it comes back then.
    pub visibility_secs: u32,
    pub stats: Stats,
    /// Whether this processor archives the raw deliveries it processes.
    pub archive: ArchiveMode,
    /// Shopify stock at or below this, of a supplier-linked product, queues its stock sync.
    pub low_stock_at: i64,
}

impl Processor {
    pub fn new(ports: Ports, store: Arc<dyn Storefront>, warehouse: Arc<dyn Warehouse>) -> Self {
        Self {
            ports,
            store,
            warehouse,
            policy: RetryPolicy::default(),
            deadlock_timeout: Duration::minutes(super::ordering::DEADLOCK_TIMEOUT_MINUTES),
            visibility_secs: VISIBILITY_SECS,
            stats: Stats::default(),
            archive: ArchiveMode::default(),
            low_stock_at: crate::supplier::inventory::DEFAULT_LOW_STOCK,
        }
    }

    /// Applies [`settings`] (the retry schedule and the deadlock timeout), the
    /// [`ArchiveMode`] and the low-stock threshold from configuration.
    pub fn configure(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        self.archive = ArchiveMode::from_lookup(&get)?;
        self.low_stock_at = crate::supplier::inventory::low_stock_threshold(&get)?;
        let (policy, deadlock) = settings(get)?;
        if let Some(p) = policy {
            self.policy = p;
        }
        if let Some(d) = deadlock {
            self.deadlock_timeout = d;
        }
        Ok(())
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Receives and processes one batch from the highest-priority queue that has messages
    /// (class queues first, then stock pushes, then deadlock checks); returns how many messages
    /// it handled. The local worker calls this in a loop; on AWS each queue triggers a function.
    pub async fn poll_once(&self) -> Result<usize, PortError> {
        for queue in QUEUES {
            let max = if queue == STOCK_PUSH { PUSH_BATCH } else { 10 };
            let batch = self.ports.queue.receive(queue, max, self.visibility_secs).await?;
            if batch.is_empty() {
                continue;
            }
            let result = self.process(queue, &batch).await?;
            for receipt in &result.done {
                self.ports.queue.ack(queue, receipt).await?;
            }
            return Ok(batch.len());
        }
        Ok(0)
    }

    /// Processes a batch received from `queue`. A message that fails blocks only the later
    /// messages of its own group in this batch; they are reported as failed without being tried.
    pub async fn process(&self, queue: &str, batch: &[Delivery]) -> Result<BatchResult, PortError> {
        match queue {
            STOCK_PUSH => return self.push_stock(batch).await,
            DEADLOCK => {
                let mut result = BatchResult::default();
                for d in batch {
                    self.forward_check(d).await?;
                    result.done.push(d.receipt.clone());
                }
                return Ok(result);
            }
            _ => {}
        }
        let mut result = BatchResult::default();
        let mut blocked: HashSet<String> = HashSet::new();
        let mut archive: Vec<serde_json::Value> = Vec::new();
        for d in batch {
            let msg: Message = match serde_json::from_str(&d.body) {
                Ok(m) => m,
                Err(e) => {
                    let id = format!("unreadable:{}", fifo_id(&d.receipt));
                    self.dead_letter(queue, &id, None, &d.body, format!("unreadable message: {e}"), vec![]).await?;
                    result.done.push(d.receipt.clone());
                    continue;
                }
            };
            let group = msg.group();
            if blocked.contains(&group) {
                // Not tried: it comes back as soon as the failed message before it is retried.
                self.ports.queue.retry_later(queue, &d.receipt, 0).await?;
                result.failed.push(d.receipt.clone());
                continue;
            }
            let step = match self.one(queue, d, &msg, &mut archive).await {
                Ok(Step::Done) if d.receive_count > 1 => {
                    // It may have failed before: its attempt history is done with.
                    self.ports.kv.delete(&attempts_key(&msg.id())).await?;
                    Step::Done
                }
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(queue, group, error = %e, "message left for a later attempt");
                    Step::Retry
                }
            };
            match step {
                Step::Done => result.done.push(d.receipt.clone()),
                Step::Retry => {
                    blocked.insert(group);
                    result.failed.push(d.receipt.clone());
                }
            }
        }
        if self.archive == ArchiveMode::Processor {
            archive::write(self.ports.blobs.as_ref(), &archive).await?;
        }
        Ok(result)
    }

    async fn one(
        &self,
        queue: &str,
        d: &Delivery,
        msg: &Message,
        archive: &mut Vec<serde_json::Value>,
    ) -> Result<Step, PortError> {
        match msg {
            Message::Webhook { dedupe_key, accepted, delivery } => {
                self.webhook(queue, d, msg, dedupe_key, accepted, delivery.as_ref(), archive).await
            }
            Message::Stock { sku, id, occurred_at, quantity, absolute } => {
                let (kind, fact) = match absolute {
                    true => ("stock.sync", StockFact::Absolute(*quantity)),
                    false => ("inbound.completed", StockFact::Delta(*quantity)),
                };
                self.stock_fact(queue, d, msg, kind, sku, id, *occurred_at, fact).await
            }
            Message::Sync { entity, item } => self.sync_entity(queue, d, msg, entity, item).await,
            Message::Reconcile { entity, event_id } => self.reconcile(queue, d, msg, entity, event_id).await,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn webhook(
        &self,
        queue: &str,
        d: &Delivery,
        msg: &Message,
        dedupe_key: &str,
        accepted: &Accepted,
        delivery: Option<&serde_json::Value>,
        archive: &mut Vec<serde_json::Value>,
    ) -> Result<Step, PortError> {
        let delivery = match delivery {
            Some(d) => Some(d.clone()),
            None => self.ports.kv.get(&record_key(dedupe_key)).await?.map(|r| r["delivery"].clone()),
        };
        let body = match &delivery {
            Some(d) => delivery_body(self.ports.blobs.as_ref(), d).await?,
            None => None,
        };
        if let Some(delivery) = delivery {
            archive.push(archive::line(dedupe_key, accepted, &delivery));
        }
        let Some(body) = body else {
            let reason = "the delivery record expired before the event was processed".to_string();
            return self.give_up(queue, d, msg, reason, vec![]).await;
        };
        if accepted.source == WebhookSource::WooCommerce && accepted.topic == "order.created" {
            return self.queue_order_push(queue, d, msg, &body).await;
        }
        // Shopify's product edits: the sync-down keeps them as versions of tracked products;
        // its stock levels: a linked product running low queues its sync from Xorosoft.
        let shopify_topic = ["products/update", "inventory_levels/update"].iter().find(|t| **t == accepted.topic);
        if let (WebhookSource::Shopify, Some(&topic)) = (accepted.source, shopify_topic) {
            let Ok(body) = serde_json::from_slice::<serde_json::Value>(&body) else {
                let reason = format!("a {topic} body that is not JSON");
                return self.give_up(queue, d, msg, reason, vec![]).await;
            };
            if topic == "products/update" {
                let edited = crate::supplier::syncdown::observed(&self.ports, &body).await?;
                tracing::info!(edited = ?edited, "shopify product update");
            } else if let Some(alert) =
                crate::supplier::inventory::low_stock_alert(&self.ports, &body, self.low_stock_at, dedupe_key).await?
            {
                tracing::info!(sku = alert.sku, available = alert.available, "low stock: queued its stock sync");
                crate::supplier::worker::ApplyMessage::LowStock { low_stock: alert }.send(&self.ports).await?;
            }
            return Ok(Step::Done);
        }
        if accepted.source != WebhookSource::Wms {
            bump(&self.stats.ignored, 1);
            tracing::info!(source = accepted.source.as_str(), topic = accepted.topic, "archived; no effect configured");
            return Ok(Step::Done);
        }
        let event = match WmsEvent::parse(&body) {
            Ok(e) => e,
            Err(e) => return self.give_up(queue, d, msg, e.to_string(), vec![]).await,
        };
        match &event.data {
            WmsData::StockUpdated(s) => {
                let fact = StockFact::Absolute(s.available);
                self.stock_fact(queue, d, msg, "stock.updated", &s.sku, &event.id, event.occurred_at, fact).await
            }
            WmsData::StockAdjustment(s) => {
                let fact = StockFact::Delta(s.delta);
                self.stock_fact(queue, d, msg, "stock.adjustment", &s.sku, &event.id, event.occurred_at, fact).await
            }
            _ => self.entity_event(queue, d, msg, &event).await,
        }
    }

    pub(crate) async fn load_progress(&self, key: &str) -> Result<EntityProgress, PortError> {
        Ok(self.ports.kv.get(key).await?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default())
    }

    pub(crate) async fn save_progress(&self, key: &str, p: &EntityProgress) -> Result<(), PortError> {
        let v = serde_json::to_value(p).map_err(|e| PortError::backend("encode", key, e))?;
        self.ports.kv.put(key, &v).await
    }

    async fn entity_event(
        &self,
        queue: &str,
        d: &Delivery,
        msg: &Message,
        event: &WmsEvent,
    ) -> Result<Step, PortError> {
        let kind = event.kind();
        let entity = event.entity();
        let key = progress_key(&entity);
        let mut progress = self.load_progress(&key).await?;
        let now = self.ports.clock.now();
        if ONCE_PER_ENTITY.contains(&kind) && progress.applied.contains(kind.name()) {
            // Already done for this entity (by another event id, or by a backup sync).
            bump(&self.stats.duplicate_events, 1);
            return Ok(Step::Done);
        }
        match progress.decide(&event.id, kind.name(), kind.prerequisite().map(EventKind::name), now, &d.body) {
            Decision::Duplicate => {
                bump(&self.stats.duplicate_events, 1);
                Ok(Step::Done)
            }
            Decision::Park { waiting_for } => {
                self.save_progress(&key, &progress).await?;
                let check = json!({ "queue": queue, "entity": entity, "event_id": event.id });
                let delay = self.deadlock_timeout.num_seconds().clamp(1, 900) as u32;
                self.ports.queue.send_delayed(DEADLOCK, &check.to_string(), delay).await?;
                bump(&self.stats.parked, 1);
                tracing::info!(entity, event_id = event.id, waiting_for, "event parked");
                Ok(Step::Done)
            }
            Decision::Apply => {
                // A message received before may have had its effects applied and then failed
                // (or crashed) before they were recorded: its notes are looked for before they
                // are added. A first receipt needs no such look, and no write ahead of it.
                let recovering = d.receive_count > 1 || progress.pending.as_deref() == Some(event.id.as_str());
                if let Err(e) = self.effects(event, recovering).await {
                    return self.failed(queue, d, msg, kind.name(), e).await;
                }
                self.applied(queue, &entity, &mut progress, &event.id, kind.name()).await?;
                bump(&self.stats.applied, 1);
                Ok(Step::Done)
            }
        }
    }

    /// Records an event as applied and sends the parked events it releases back to their group.
    pub(crate) async fn applied(
        &self,
        queue: &str,
        entity: &str,
        progress: &mut EntityProgress,
        id: &str,
        event_type: &str,
    ) -> Result<(), PortError> {
        let released = progress.applied(id, event_type);
        let sends: Vec<GroupMessage> = released
            .iter()
            .map(|p| GroupMessage {
                group: fifo_id(entity),
                dedupe_id: fifo_id(&format!("release:{}", p.event_id)),
                body: p.message.clone(),
            })
            .collect();
        self.ports.queue.send_batch_in_group(queue, &sends).await?;
        bump(&self.stats.released, released.len() as u64);
        progress.pending = None;
        self.save_progress(&progress_key(entity), progress).await
    }

    pub(crate) async fn note(
        &self,
        order: &str,
        text: &str,
        marker: &str,
        recovering: bool,
    ) -> Result<(), EffectError> {
        let marked = format!("{text} [{marker}]");
        if recovering && self.store.order_notes(order).await?.iter().any(|n| n.contains(&format!("[{marker}]"))) {
            return Ok(());
        }
        self.store.add_order_note(order, &marked).await
    }

    async fn effects(&self, event: &WmsEvent, recovering: bool) -> Result<(), EffectError> {
        let marker = format!("WMS event {}", event.id);
        match &event.data {
            WmsData::OrderCreated(o) | WmsData::OrderUpdated(o) => {
                let status = serde_json::to_value(o.status).unwrap_or_default();
                let text = format!("WMS order {}: {}", o.order_id, status.as_str().unwrap_or_default());
                self.note(&o.external_id, &text, &marker, recovering).await
            }
            WmsData::OrderShipped(s) => {
                self.store.set_order_status(&s.external_id, "completed").await?;
                let text = format!(
                    "Shipped by {}, tracking number {} (WMS order {})",
                    s.carrier, s.tracking_number, s.order_id
                );
                self.note(&s.external_id, &text, &marker, recovering).await
            }
            WmsData::ShipmentCreated(s) | WmsData::ShipmentUpdated(s) => {
                let text = format!(
                    "Shipment {} {}: {} tracking number {}",
                    s.shipment_id, s.status, s.carrier, s.tracking_number
                );
                self.note(&s.external_id, &text, &marker, recovering).await
            }
            WmsData::InboundCompleted(i) => {
                self.receive_lines(&i.inbound_id, &i.lines, event.occurred_at).await.map_err(port_failure)
            }
            WmsData::InboundCreated(_) | WmsData::StockUpdated(_) | WmsData::StockAdjustment(_) => Ok(()),
        }
    }

    /// A completed inbound's quantities, each applied in its SKU's group. A line's id is the
    /// inbound's and the SKU's, so the webhook and the backup sync add it once between them.
    pub(crate) async fn receive_lines(
        &self,
        inbound: &str,
        lines: &[super::wms::Line],
        at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let sends: Vec<GroupMessage> = lines
            .iter()
            .map(|line| {
                Message::Stock {
                    sku: line.sku.clone(),
                    id: format!("inbound:{inbound}:{}", line.sku),
                    occurred_at: at,
                    quantity: line.quantity,
                    absolute: false,
                }
                .to_group_message()
            })
            .collect();
        self.ports.queue.send_batch_in_group(STOCK, &sends).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn stock_fact(
        &self,
        queue: &str,
        d: &Delivery,
        msg: &Message,
        event_type: &str,
        sku: &str,
        event_id: &str,
        at: DateTime<Utc>,
        fact: StockFact,
    ) -> Result<Step, PortError> {
        for _ in 0..CAS_TRIES {
            let (stored, mut stock) = match self.load_stock(sku).await? {
                Some((v, s)) => (Some(v), s),
                None => match fact {
                    StockFact::Absolute(_) => (None, SkuStock::new(0)),
                    StockFact::Delta(_) => match self.store.stock_of(sku).await {
                        Ok(Some(s)) => (None, SkuStock::new(s)),
                        Ok(None) => {
                            let reason = format!("SKU {sku} is not in the store");
                            return self.give_up(queue, d, msg, reason, vec![]).await;
                        }
                        Err(e) => return self.failed(queue, d, msg, event_type, e).await,
                    },
                },
            };
            stock.apply(event_id, at, fact);
            if self.store_stock(sku, stored.as_ref(), stock).await? {
                match msg {
                    Message::Webhook { .. } => bump(&self.stats.applied, 1),
                    _ => bump(&self.stats.received_lines, 1),
                }
                return Ok(Step::Done);
            }
        }
        Err(stock_contended(sku))
    }

    /// A SKU's stock record, with its stored form for a compare-and-set.
    async fn load_stock(&self, sku: &str) -> Result<Option<(serde_json::Value, SkuStock)>, PortError> {
        let Some(v) = self.ports.kv.get(&stock_key(sku)).await? else { return Ok(None) };
        let s = serde_json::from_value::<SkuStock>(v.clone()).map_err(|e| PortError::backend("decode", sku, e))?;
        Ok(Some((v, s)))
    }

    /// Writes `stock` in place of `stored` (`None`: no record yet), queueing a push first when
    /// the value changed and none is queued. Returns false when another writer changed the
    /// record in between (re-read and apply again). The pusher and the SKU's group write the
    /// same record, so every write is a compare-and-set; a push sent for a write that then
    /// lost is harmless (it pushes the current value).
    async fn store_stock(
        &self,
        sku: &str,
        stored: Option<&serde_json::Value>,
        mut stock: SkuStock,
    ) -> Result<bool, PortError> {
        let key = stock_key(sku);
        if stock.claim_push() {
            self.ports.queue.send(STOCK_PUSH, &json!({ "sku": sku }).to_string()).await?;
        }
        let v = serde_json::to_value(&stock).map_err(|e| PortError::backend("encode", &key, e))?;
        match stored {
            Some(old) => self.ports.kv.put_if(&key, old, &v).await,
            None => self.ports.kv.put_if_absent(&key, &v).await,
        }
    }

    /// Records what became of a SKU's queued push (`Some(value)` given to the store, `None`
    /// refused), starting from the record read before the push; queues the next push when the
    /// stock moved on meanwhile.
    async fn finish_push(
        &self,
        sku: &str,
        mut record: Option<(serde_json::Value, SkuStock)>,
        outcome: Option<i64>,
    ) -> Result<(), PortError> {
        for _ in 0..CAS_TRIES {
            let Some((stored, mut stock)) = record.take() else { return Ok(()) };
            stock.push_done(outcome);
            if self.store_stock(sku, Some(&stored), stock).await? {
                return Ok(());
            }
            record = self.load_stock(sku).await?;
        }
        Err(stock_contended(sku))
    }

    async fn push_stock(&self, batch: &[Delivery]) -> Result<BatchResult, PortError> {
        let mut by_sku: BTreeMap<String, Vec<&Delivery>> = BTreeMap::new();
        let mut result = BatchResult::default();
        for d in batch {
            match serde_json::from_str::<serde_json::Value>(&d.body)
                .ok()
                .and_then(|v| v["sku"].as_str().map(String::from))
            {
                Some(sku) => by_sku.entry(sku).or_default().push(d),
                None => {
                    tracing::warn!(body = d.body, "unreadable stock push dropped");
                    result.done.push(d.receipt.clone());
                }
            }
        }
        let mut items = Vec::with_capacity(by_sku.len());
        let mut records = BTreeMap::new();
        for sku in by_sku.keys() {
            if let Some((stored, s)) = self.load_stock(sku).await? {
                items.push((sku.clone(), s.value()));
                records.insert(sku.clone(), (stored, s));
            }
        }
        match self.store.set_stocks(&items).await {
            Err(e) => {
                for (sku, ds) in &by_sku {
                    let mut given_up = false;
                    for d in ds {
                        let id = format!("stock-push:{sku}");
                        match self.failed_id(STOCK_PUSH, d, &id, None, &d.body, "stock.push", e.clone()).await? {
                            Step::Done => {
                                given_up = true;
                                result.done.push(d.receipt.clone());
                            }
                            Step::Retry => result.failed.push(d.receipt.clone()),
                        }
                    }
                    if given_up {
                        // Dead-lettered: no push is queued any more, so the next change queues one.
                        self.finish_push(sku, records.remove(sku), None).await?;
                    }
                }
            }
            Ok(report) => {
                bump(&self.stats.stock_calls, report.calls);
                bump(&self.stats.stock_objects, report.updated);
                let refused: BTreeMap<&str, &str> =
                    report.refused.iter().map(|(s, r)| (s.as_str(), r.as_str())).collect();
                for (sku, value) in &items {
                    let outcome = match refused.get(sku.as_str()) {
                        Some(reason) => {
                            let body = json!({ "sku": sku, "quantity": value }).to_string();
                            let id = format!("stock-push:{sku}");
                            let why = format!("the store refused stock {value} for {sku}: {reason}");
                            self.dead_letter(STOCK_PUSH, &id, None, &body, why, vec![]).await?;
                            None
                        }
                        None => Some(*value),
                    };
                    self.finish_push(sku, records.remove(sku), outcome).await?;
                }
                result.done.extend(by_sku.values().flatten().map(|d| d.receipt.clone()));
            }
        }
        Ok(result)
    }

    /// A deadlock check is due: run it in the entity's group, so it is ordered with its events.
    async fn forward_check(&self, d: &Delivery) -> Result<(), PortError> {
        let v: serde_json::Value = serde_json::from_str(&d.body).unwrap_or_default();
        let (Some(queue), Some(entity), Some(event_id)) =
            (v["queue"].as_str(), v["entity"].as_str(), v["event_id"].as_str())
        else {
            tracing::warn!(body = d.body, "unreadable deadlock check dropped");
            return Ok(());
        };
        let m = Message::Reconcile { entity: entity.to_string(), event_id: event_id.to_string() };
        let dedupe = fifo_id(&format!("{}:{}", m.id(), self.ports.clock.now().timestamp()));
        self.ports.queue.send_in_group(queue, &fifo_id(entity), &dedupe, &m.encode()).await
    }

    async fn reconcile(
        &self,
        queue: &str,
        d: &Delivery,
        msg: &Message,
        entity: &str,
        event_id: &str,
    ) -> Result<Step, PortError> {
        let key = progress_key(entity);
        let mut progress = self.load_progress(&key).await?;
        let Some(parked) = progress.parked.iter().find(|p| p.event_id == event_id).cloned() else {
            return Ok(Step::Done);
        };
        let now = self.ports.clock.now();
        let waited = now - parked.parked_at;
        if waited < self.deadlock_timeout {
            let check = json!({ "queue": queue, "entity": entity, "event_id": event_id });
            let delay = (self.deadlock_timeout - waited).num_seconds().clamp(1, 900) as u32;
            self.ports.queue.send_delayed(DEADLOCK, &check.to_string(), delay).await?;
            return Ok(Step::Done);
        }
        let marker = format!("reconciled for {event_id}");
        let (class, id) = entity.split_once(':').unwrap_or((entity, ""));
        let found: Result<Option<String>, EffectError> = async {
            match class {
                "order" => match self.warehouse.order(id).await? {
                    Some(o) => {
                        let status = serde_json::to_value(o.status).unwrap_or_default();
                        let status = status.as_str().unwrap_or_default().to_string();
                        let text = format!(
                            "WMS order {id}: {status} (read from the WMS: {} never arrived)",
                            parked.waiting_for
                        );
                        self.note(&o.external_id, &text, &marker, true).await?;
                        Ok(Some(format!("order {id} is {status}")))
                    }
                    None => Ok(None),
                },
                "shipment" => match self.warehouse.shipment(id).await? {
                    Some(s) => {
                        let text = format!(
                            "Shipment {id} {}: {} tracking number {} (read from the WMS: {} never arrived)",
                            s.status, s.carrier, s.tracking_number, parked.waiting_for
                        );
                        self.note(&s.external_id, &text, &marker, true).await?;
                        Ok(Some(format!("shipment {id} is {}", s.status)))
                    }
                    None => Ok(None),
                },
                _ => Ok(self.warehouse.inbound(id).await?.map(|i| format!("inbound {id} is {}", i.status))),
            }
        }
        .await;
        match found {
            Err(e) => self.failed(queue, d, msg, "reconcile", e).await,
            Ok(None) => {
                let reason = format!("{} never arrived and the WMS has no {entity}", parked.waiting_for);
                let (stuck, waiting): (Vec<_>, Vec<_>) =
                    progress.parked.drain(..).partition(|p| p.waiting_for == parked.waiting_for);
                progress.parked = waiting;
                for p in stuck {
                    let id = serde_json::from_str::<Message>(&p.message).map(|m| m.id()).unwrap_or(p.event_id.clone());
                    self.dead_letter(queue, &id, Some(entity), &p.message, reason.clone(), vec![]).await?;
                }
                self.save_progress(&key, &progress).await?;
                Ok(Step::Done)
            }
            Ok(Some(found)) => {
                progress.reconciled.push(Reconciled {
                    at: now,
                    missing: parked.waiting_for.clone(),
                    for_event: event_id.to_string(),
                    found: found.clone(),
                });
                self.ports
                    .audit
                    .record(&AuditEntry {
                        at: now,
                        who: "storesync".into(),
                        action: "webhook.reconcile".into(),
                        target: entity.to_string(),
                        before: json!({ "waiting_for": parked.waiting_for, "parked_at": parked.parked_at }),
                        after: json!({ "found": found }),
                    })
                    .await?;
                bump(&self.stats.reconciled, 1);
                self.applied(queue, entity, &mut progress, &format!("reconciled:{event_id}"), &parked.waiting_for)
                    .await?;
                Ok(Step::Done)
            }
        }
    }

    pub(crate) async fn failed(
        &self,
        queue: &str,
        d: &Delivery,
        msg: &Message,
        event_type: &str,
        e: EffectError,
    ) -> Result<Step, PortError> {
        let group = msg.group();
        self.failed_id(queue, d, &msg.id(), Some(&group), &d.body, event_type, e).await
    }

    /// After a failed attempt: a retry after the schedule's delay, or the dead-letter store.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn failed_id(
        &self,
        queue: &str,
        d: &Delivery,
        id: &str,
        group: Option<&str>,
        body: &str,
        event_type: &str,
        e: EffectError,
    ) -> Result<Step, PortError> {
        // A stock push is one of many messages for its SKU: its own receive count is its attempt
        // number. Other messages keep their attempt history until they are applied or dead.
        let keep_history = queue != STOCK_PUSH;
        let key = attempts_key(id);
        let mut attempts: Vec<Attempt> = if keep_history {
            self.ports.kv.get(&key).await?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default()
        } else {
            Vec::new()
        };
        attempts.push(Attempt { at: self.ports.clock.now(), error: e.message.clone() });
        let attempt = if keep_history { attempts.len() as u32 } else { d.receive_count };
        match self.policy.next(event_type, attempt, e.failure) {
            Next::RetryInSecs(secs) => {
                if keep_history {
                    let v = serde_json::to_value(&attempts).map_err(|e| PortError::backend("encode", &key, e))?;
                    self.ports.kv.put(&key, &v).await?;
                }
                self.ports.queue.retry_later(queue, &d.receipt, secs.min(12 * 3600) as u32).await?;
                bump(&self.stats.retried, 1);
                tracing::info!(queue, id, secs, error = e.message, "retry scheduled");
                Ok(Step::Retry)
            }
            Next::DeadLetter(reason) => {
                let reason = format!("{reason}: {}", e.message);
                self.dead_letter(queue, id, group, body, reason, attempts).await?;
                if keep_history {
                    self.ports.kv.delete(&key).await?;
                }
                Ok(Step::Done)
            }
        }
    }

    pub(crate) async fn give_up(
        &self,
        queue: &str,
        d: &Delivery,
        msg: &Message,
        reason: String,
        attempts: Vec<Attempt>,
    ) -> Result<Step, PortError> {
        self.dead_letter(queue, &msg.id(), Some(&msg.group()), &d.body, reason, attempts).await?;
        Ok(Step::Done)
    }

    pub(crate) async fn dead_letter(
        &self,
        queue: &str,
        id: &str,
        group: Option<&str>,
        body: &str,
        reason: String,
        attempts: Vec<Attempt>,
    ) -> Result<(), PortError> {
        tracing::warn!(queue, id, reason, "dead-lettered");
        DeadLetter {
            id: id.to_string(),
            queue: Some(queue.to_string()),
            group: group.map(String::from),
            reason,
            attempts,
            message: Some(body.to_string()),
            delivery: None,
            dead_at: self.ports.clock.now(),
        }
        .store(&self.ports)
        .await?;
        bump(&self.stats.dead_lettered, 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<(Option<RetryPolicy>, Option<Duration>), String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        settings(|k| map.get(k).cloned())
    }

    #[test]
    fn the_retry_schedule_and_deadlock_timeout_come_from_configuration() {
        assert_eq!(from(&[]).unwrap(), (None, None), "unset: the defaults stay");
        let (p, d) = from(&[
            (ENV_RETRY, r#"{"delays_secs": [5, 10], "max_retries": 2, "per_type": {"order.created": [1]}}"#),
            (ENV_DEADLOCK_MINUTES, "30"),
        ])
        .unwrap();
        let p = p.unwrap();
        assert_eq!((p.delays_secs, p.max_retries, p.per_type["order.created"].clone()), (vec![5, 10], 2, vec![1]));
        assert_eq!(d, Some(Duration::minutes(30)));
        let e = from(&[(ENV_RETRY, "{\"delays_secs\": []}")]).unwrap_err();
        assert!(e.starts_with("STORESYNC_WEBHOOK_RETRY: "), "{e}");
        let e = from(&[(ENV_RETRY, r#"{"delays_secs": [], "max_retries": 1}"#)]).unwrap_err();
        assert!(e.contains("at least one delay"), "{e}");
        let e = from(&[(ENV_DEADLOCK_MINUTES, "soon")]).unwrap_err();
        assert_eq!(e, "STORESYNC_DEADLOCK_TIMEOUT_MINUTES=\"soon\": a whole number of minutes above 0");
    }
}
