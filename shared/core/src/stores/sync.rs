//! Sync and rollback of an inventory plan: the operator selects items and confirms; the run is
//! kept (`store-sync/runs/{id}.json`), its items go through the `store-sync` queue in chunks the
//! destination writes in one call, and a worker writes each chunk (under an idempotency key of
//! the run and chunk, so a replayed message applies nothing twice), keeps the chunk's results
//! (`store-sync/runs/{id}/chunks/{n}.json`), audits every change and logs progress. A
//! rollback is a new plan from the run's before-images, synced the same way.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::inventory::{InventoryComparison, InventoryPlanItem, InventoryStore, StockWrite, WriteOutcome};
use super::plans::{load_plan, plan_key, read_json, write_json, InventoryPlan, PlanError, StoreConnector};
use super::{Platform, StoreError};
use crate::domain::SessionId;
use crate::ports::{AuditEntry, Delivery, PortError, Ports, StatusEntry, StepStatus};

/// The queue of chunks to write.
pub const SYNC_QUEUE: &str = "store-sync";
/// Where a chunk that failed for good goes, with its error (besides its items' results): the
/// sync queue's dead-letter queue.
pub const SYNC_DLQ: &str = "store-sync-dead";
/// Receives of a chunk before the queue dead-letters it (the template's `maxReceiveCount`): on
/// the last one a transient failure is final, so every item ends with a result.
pub const SYNC_RECEIVES: u32 = 5;
pub const RUN_PREFIX: &str = "store-sync/runs/";

/// Items per chunk: what the destination writes in one call.
pub fn chunk_size(destination: Platform) -> usize {
    match destination {
        Platform::Shopify => 250,
        Platform::WooCommerce => 100,
    }
}

/// The operator's choice of items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Selection {
    All,
    Items(Vec<usize>),
}

impl Selection {
    /// `all`, or item numbers and ranges: `1,2,5-9`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("all") {
            return Ok(Self::All);
        }
        let mut items = BTreeSet::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let n = |x: &str| x.trim().parse::<usize>().map_err(|_| format!("{x:?} in {s:?} is not an item number"));
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (n(a)?, n(b)?);
                    if a > b {
                        return Err(format!("{part:?}: a range runs low to high"));
                    }
                    items.extend(a..=b);
                }
                None => {
                    items.insert(n(part)?);
                }
            }
        }
        if items.is_empty() {
            return Err(format!("{s:?} selects nothing: use all, or item numbers like 1,2,5-9"));
        }
        Ok(Self::Items(items.into_iter().collect()))
    }
}

/// The guards of a sync.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOptions {
    /// A plan older than this is refused (compare again).
    pub max_plan_age: Duration,
    /// A sync that would zero more than this share of the destination's in-stock variants
    /// needs `override_blast`.
    pub max_zero_share: f64,
    pub override_blast: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self { max_plan_age: Duration::hours(1), max_zero_share: 0.2, override_blast: false }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("plan {id} was compared at {at}, more than {max_minutes} minutes ago: compare again")]
    PlanTooOld { id: String, at: DateTime<Utc>, max_minutes: i64 },
    #[error("plan {id} has no item {}: it has items 0 to {}", missing.iter().map(usize::to_string).collect::<Vec<_>>().join(", "), len.saturating_sub(1))]
    UnknownItems { id: String, missing: Vec<usize>, len: usize },
    #[error("plan {id} selects nothing to change")]
    Empty { id: String },
    #[error("this sync would zero {zeroing} of {in_stock} in-stock variants (over {:.0} %): confirm with the override", share * 100.0)]
    BlastRadius { zeroing: usize, in_stock: usize, share: f64 },
    #[error("run {id}: {message}")]
    Run { id: String, message: String },
    #[error("this sync would delete {deletes} objects from the destination: confirm with the override")]
    Deletes { deletes: usize },
}

/// A started sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub plan_id: String,
    pub requested_by: String,
    pub started_at: DateTime<Utc>,
    pub source: Platform,
    pub destination: Platform,
    pub items: Vec<usize>,
    pub chunks: usize,
    /// The items of each chunk, in order (`items` is their concatenation).
    #[serde(default)]
    pub chunk_sizes: Vec<usize>,
    pub override_blast: bool,
    /// What the run writes: inventory (a run kept before other types existed has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<super::catalog::DataType>,
}

impl Run {
    /// How many items chunk `n` holds.
    pub fn chunk_len(&self, n: usize) -> usize {
        match self.chunk_sizes.get(n) {
            Some(len) => *len,
            // A run kept before chunks had their own sizes: fixed-size chunks.
            None => {
                let size = chunk_size(self.destination);
                self.items.len().saturating_sub(n * size).min(size)
            }
        }
    }
}

/// A chunk on the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkMessage {
    pub run: String,
    pub chunk: usize,
    pub items: Vec<usize>,
}

/// One item's outcome, with its before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    pub item: usize,
    pub sku: String,
    pub name: String,
    /// `succeeded`, `failed`, or `moved` (the destination changed since the compare: left alone).
    pub outcome: String,
    pub error: Option<String>,
    pub old: Option<i64>,
    pub new: i64,
    pub write_key: String,
}

/// A run's results so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    pub run: Run,
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub moved: usize,
    pub pending: usize,
    pub items: Vec<ItemResult>,
}

pub fn run_key(id: &str) -> String {
    format!("{RUN_PREFIX}{id}.json")
}

pub(super) fn chunks_prefix(run: &str) -> String {
    format!("{RUN_PREFIX}{run}/chunks/")
}

/// A chunk's kept results: `chunks/{n}-{items that did not succeed}.json`.
pub(super) fn chunk_key(run: &str, chunk: usize, not_succeeded: usize) -> String {
    format!("{}{chunk:06}-{not_succeeded}.json", chunks_prefix(run))
}

/// `(chunk, items that did not succeed)` of a chunk key.
pub(super) fn chunk_of_key(key: &str) -> Option<(usize, usize)> {
    let name = key.rsplit('/').next()?.strip_suffix(".json")?;
    let (n, f) = name.split_once('-')?;
    Some((n.parse().ok()?, f.parse().ok()?))
}

pub(super) async fn get_json<T: serde::de::DeserializeOwned>(ports: &Ports, key: &str) -> Result<T, SyncError> {
    read_json(ports, key).await?.ok_or_else(|| PortError::NotFound { key: key.into() }.into())
}

pub(super) async fn progress(ports: &Ports, run: &Run, status: StepStatus, message: String) -> Result<(), PortError> {
    let Ok(session) = SessionId::parse(&run.id) else { return Ok(()) };
    ports
        .status
        .append(&StatusEntry {
            session,
            step: 1,
            name: "store-sync".into(),
            status,
            message,
            details: json!({ "plan": run.plan_id }),
            at: ports.clock.now(),
        })
        .await
}

/// The items in the order the chunks take them: products without variants first, then each
/// product's variants together. A destination that writes per product (WooCommerce's
/// variations go through their parent's batch endpoint) then fills its calls; Shopify writes
/// any 250 quantities in one call either way.
fn in_write_order(c: &InventoryComparison, mut items: Vec<usize>) -> Vec<usize> {
    items.sort_by(|a, b| {
        let key = |i: &usize| {
            let it = &c.items[*i];
            (it.product_id != it.destination_product_id, it.destination_product_id.as_str(), *i)
        };
        key(a).cmp(&key(b))
    });
    items
}

/// Whether the destination writes a product's variants only through that product (WooCommerce:
/// `/products/{id}/variations/batch`; it has no batch across products).
fn writes_per_product(destination: Platform) -> bool {
    destination == Platform::WooCommerce
}

/// The chunks of items in write order, each written in one go: fixed-size, unless the
/// destination writes per product — then a product's variants stay in one chunk (a product
/// with more than a chunk's worth fills whole chunks), so each chunk makes the fewest calls.
fn into_chunks(c: &InventoryComparison, items: &[usize]) -> Vec<Vec<usize>> {
    let size = chunk_size(c.destination);
    if !writes_per_product(c.destination) {
        return items.chunks(size).map(<[usize]>::to_vec).collect();
    }
    // Products without variants all go through one endpoint: one group.
    let group = |i: &usize| {
        let it = &c.items[*i];
        (it.product_id != it.destination_product_id).then_some(it.destination_product_id.as_str())
    };
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for same in items.chunk_by(|a, b| group(a) == group(b)) {
        for piece in same.chunks(size) {
            if current.len() + piece.len() > size {
                out.push(std::mem::take(&mut current));
            }
            current.extend_from_slice(piece);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The items `selection` names in a plan of `len` items compared at `compared_at`: refuses a
/// plan older than the options allow, item numbers the plan does not have, and nothing.
pub(super) fn selected(
    plan_id: &str,
    compared_at: DateTime<Utc>,
    len: usize,
    selection: &Selection,
    opts: &SyncOptions,
    now: DateTime<Utc>,
) -> Result<Vec<usize>, SyncError> {
    if now - compared_at > opts.max_plan_age {
        return Err(SyncError::PlanTooOld {
            id: plan_id.into(),
            at: compared_at,
            max_minutes: opts.max_plan_age.num_minutes(),
        });
    }
    let items: Vec<usize> = match selection {
        Selection::All => (0..len).collect(),
        Selection::Items(ids) => {
            let missing: Vec<usize> = ids.iter().copied().filter(|i| *i >= len).collect();
            if !missing.is_empty() {
                return Err(SyncError::UnknownItems { id: plan_id.into(), missing, len });
            }
            ids.clone()
        }
    };
    if items.is_empty() {
        return Err(SyncError::Empty { id: plan_id.into() });
    }
    Ok(items)
}

/// What a new run is: its plan, who started it, the stores, its chunks of items, whether the
/// blast guard was overridden, and its data type.
pub(super) struct NewRun<'a> {
    pub plan_id: &'a str,
    pub who: &'a str,
    pub source: Platform,
    pub destination: Platform,
    pub chunks: Vec<Vec<usize>>,
    pub override_blast: bool,
    pub data_type: Option<super::catalog::DataType>,
}

/// Keeps a new run, audits its start (`details` added to the entry), logs "0 of n" and queues
/// its chunks.
pub(super) async fn launch(ports: &Ports, new: NewRun<'_>, details: serde_json::Value) -> Result<Run, SyncError> {
    let now = ports.clock.now();
    let id = format!("run-{}-{}", now.format("%Y%m%dT%H%M%SZ"), &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let run = Run {
        id: id.clone(),
        plan_id: new.plan_id.into(),
        requested_by: new.who.into(),
        started_at: now,
        source: new.source,
        destination: new.destination,
        items: new.chunks.concat(),
        chunks: new.chunks.len(),
        chunk_sizes: new.chunks.iter().map(Vec::len).collect(),
        override_blast: new.override_blast,
        data_type: new.data_type,
    };
    write_json(ports, &run_key(&id), &run).await?;
    let mut after = json!({ "plan": new.plan_id, "items": run.items.len(), "blast_override": run.override_blast });
    if let (Some(a), Some(d)) = (after.as_object_mut(), details.as_object()) {
        a.extend(d.clone());
    }
    audit(ports, new.who, "store-sync.start", &format!("store-sync/run/{id}"), json!(null), after).await?;
    progress(ports, &run, StepStatus::Processing, format!("0 of {} items", run.items.len())).await?;
    for (n, chunk) in new.chunks.into_iter().enumerate() {
        let msg = ChunkMessage { run: id.clone(), chunk: n, items: chunk };
        let body = serde_json::to_string(&msg).map_err(|e| PortError::backend("encode", SYNC_QUEUE, e))?;
        ports.queue.send(SYNC_QUEUE, &body).await?;
    }
    Ok(run)
}

/// Logs a run's progress from one listing of its kept chunks: chunk sizes are in the run, and
/// each chunk's key says how many of its items did not succeed (no chunk is read back).
async fn log_progress(ports: &Ports, run: &Run, not_succeeded_means: &str) -> Result<(), SyncError> {
    let (mut done, mut not_succeeded) = (0, 0);
    for b in ports.blobs.list(&chunks_prefix(&run.id)).await? {
        if let Some((n, f)) = chunk_of_key(&b.key) {
            done += run.chunk_len(n);
            not_succeeded += f;
        }
    }
    let status = match (done < run.items.len(), not_succeeded > 0) {
        (true, _) => StepStatus::Processing,
        (false, true) => StepStatus::Failed,
        (false, false) => StepStatus::Completed,
    };
    let message = format!("{done} of {} items, {not_succeeded} {not_succeeded_means}", run.items.len());
    Ok(progress(ports, run, status, message).await?)
}

/// Starts a sync of `selection` of plan `plan_id`: refuses a stale plan, unknown items and (unless
/// overridden, which is audited) too many zeroed variants; keeps the run and queues its chunks.
pub async fn start(
    ports: &Ports,
    plan_id: &str,
    selection: &Selection,
    who: &str,
    opts: &SyncOptions,
) -> Result<Run, SyncError> {
    let plan = load_plan(ports, plan_id).await?;
    let c = &plan.comparison;
    let items = selected(plan_id, c.compared_at, c.items.len(), selection, opts, ports.clock.now())?;
    let zeroing = items
        .iter()
        .filter(|i| c.items[**i].source_quantity == Some(0) && c.items[**i].destination_quantity.is_some_and(|q| q > 0))
        .count();
    let in_stock = c.destination_in_stock.max(1);
    let blast = zeroing as f64 / in_stock as f64 > opts.max_zero_share;
    if blast && !opts.override_blast {
        return Err(SyncError::BlastRadius { zeroing, in_stock: c.destination_in_stock, share: opts.max_zero_share });
    }
    let items = in_write_order(c, items);
    let new = NewRun {
        plan_id,
        who,
        source: c.source,
        destination: c.destination,
        chunks: into_chunks(c, &items),
        override_blast: blast,
        data_type: None,
    };
    launch(ports, new, json!({ "zeroing": zeroing })).await
}

pub(super) async fn audit(
    ports: &Ports,
    who: &str,
    action: &str,
    target: &str,
    before: serde_json::Value,
    after: serde_json::Value,
) -> Result<(), PortError> {
    let at = ports.clock.now();
    ports
        .audit
        .record(&AuditEntry { at, who: who.into(), action: action.into(), target: target.into(), before, after })
        .await
}

/// The worker: writes the chunk a delivered message names to the destination. A chunk whose
/// results are kept already (a replayed message) changes nothing. A transient failure is
/// returned (the queue retries the message, and the same idempotency key keeps a write from
/// applying twice) unless this is the message's last receive ([`SYNC_RECEIVES`]); any other
/// failure marks the chunk's items failed with the error and sends the chunk to [`SYNC_DLQ`].
pub async fn work(ports: &Ports, destination: &dyn InventoryStore, d: &Delivery) -> Result<(), SyncError> {
    match pending_chunk(ports, &d.body).await? {
        Some((msg, run)) => write_chunk(ports, destination, &msg, &run, d.receive_count >= SYNC_RECEIVES).await,
        None => Ok(()),
    }
}

/// [`work`] on the run's destination, opened through `stores` (the deployed worker's way)
/// only when the chunk still has to be written.
pub async fn work_with(ports: &Ports, stores: &dyn StoreConnector, d: &Delivery) -> Result<(), SyncError> {
    let Some((msg, run)) = pending_chunk(ports, &d.body).await? else { return Ok(()) };
    let last = d.receive_count >= SYNC_RECEIVES;
    if run.is_catalog() {
        return match stores.catalog(run.destination).await {
            Ok(destination) => {
                super::catalog_sync::write_catalog_chunk(ports, destination.as_ref(), &msg, &run, d).await
            }
            Err(e) if e.transient && !last => Err(e.into()),
            Err(e) => super::catalog_sync::fail_chunk(ports, &msg, &run, &e).await,
        };
    }
    match stores.connect(run.destination).await {
        Ok(destination) => write_chunk(ports, destination.as_ref(), &msg, &run, last).await,
        Err(e) if e.transient && !last => Err(e.into()),
        Err(e) => fail_chunk(ports, &msg, &run, &e).await,
    }
}

/// The chunk a message names and its run, or `None` when its results are kept already (a
/// replayed message).
pub(super) async fn pending_chunk(ports: &Ports, body: &str) -> Result<Option<(ChunkMessage, Run)>, SyncError> {
    let msg: ChunkMessage = serde_json::from_str(body)
        .map_err(|e| SyncError::Run { id: "?".into(), message: format!("unreadable chunk message: {e}") })?;
    let kept = ports.blobs.list(&format!("{}{:06}-", chunks_prefix(&msg.run), msg.chunk)).await?;
    if !kept.is_empty() {
        return Ok(None);
    }
    let run: Run = get_json(ports, &run_key(&msg.run)).await?;
    Ok(Some((msg, run)))
}

/// A chunk that cannot be written at all (its destination cannot be opened): every item failed
/// with the error, the chunk on [`SYNC_DLQ`].
async fn fail_chunk(ports: &Ports, msg: &ChunkMessage, run: &Run, e: &StoreError) -> Result<(), SyncError> {
    let plan = load_plan(ports, &run.plan_id).await?;
    let items: Vec<&InventoryPlanItem> = msg.items.iter().filter_map(|i| plan.comparison.items.get(*i)).collect();
    let outcomes = dead_letter(ports, msg, e, items.len()).await?;
    keep_results(ports, msg, run, &items, outcomes).await
}

/// Sends a chunk that failed for good to [`SYNC_DLQ`] with its error; its items' outcomes.
async fn dead_letter(
    ports: &Ports,
    msg: &ChunkMessage,
    e: &StoreError,
    items: usize,
) -> Result<Vec<WriteOutcome>, SyncError> {
    let dead = json!({ "message": msg, "error": e.to_string() });
    ports.queue.send(SYNC_DLQ, &dead.to_string()).await?;
    Ok(vec![WriteOutcome::Failed { error: e.to_string() }; items])
}

async fn write_chunk(
    ports: &Ports,
    destination: &dyn InventoryStore,
    msg: &ChunkMessage,
    run: &Run,
    last_receive: bool,
) -> Result<(), SyncError> {
    let plan = load_plan(ports, &run.plan_id).await?;
    let items: Vec<&InventoryPlanItem> = msg.items.iter().filter_map(|i| plan.comparison.items.get(*i)).collect();
    let writes: Vec<StockWrite> = items
        .iter()
        .map(|i| StockWrite {
            write_key: i.destination_write_key.clone(),
            quantity: i.source_quantity.unwrap_or(0),
            expected: i.destination_quantity,
        })
        .collect();
    let key = format!("{}-{}", run.id, msg.chunk);
    let outcomes = match destination.set_stock(&writes, &key).await {
        Ok(o) => o,
        Err(e) if e.transient && !last_receive => return Err(e.into()),
        Err(e) => dead_letter(ports, msg, &e, writes.len()).await?,
    };
    keep_results(ports, msg, run, &items, outcomes).await
}

/// Keeps a chunk's results, audits each change and logs the run's progress.
async fn keep_results(
    ports: &Ports,
    msg: &ChunkMessage,
    run: &Run,
    items: &[&InventoryPlanItem],
    outcomes: Vec<WriteOutcome>,
) -> Result<(), SyncError> {
    let results: Vec<ItemResult> = items
        .iter()
        .zip(outcomes)
        .map(|(i, o)| {
            let (outcome, error) = match o {
                WriteOutcome::Done => ("succeeded", None),
                WriteOutcome::Moved { .. } => ("moved", Some("the destination changed since the compare".to_string())),
                WriteOutcome::Failed { error } => ("failed", Some(error)),
            };
            ItemResult {
                item: i.item,
                sku: i.sku.clone(),
                name: i.name.clone(),
                outcome: outcome.into(),
                error,
                old: i.destination_quantity,
                new: i.source_quantity.unwrap_or(0),
                write_key: i.destination_write_key.clone(),
            }
        })
        .collect();
    for r in results.iter().filter(|r| r.outcome == "succeeded") {
        let target = format!("store-sync/run/{}/item/{}", run.id, r.item);
        let before = json!({ "sku": r.sku, "field": "stock_quantity", "value": r.old });
        let after = json!({ "sku": r.sku, "field": "stock_quantity", "value": r.new });
        audit(ports, &run.requested_by, "store-sync.set", &target, before, after).await?;
    }
    let failed = results.iter().filter(|r| r.outcome != "succeeded").count();
    keep_chunk(ports, run, msg.chunk, &results, failed, "failed or moved").await
}

/// Keeps a chunk's results (its key counting the `failed` among them) and logs the run's progress.
pub(super) async fn keep_chunk<T: Serialize>(
    ports: &Ports,
    run: &Run,
    chunk: usize,
    results: &[T],
    failed: usize,
    failed_means: &str,
) -> Result<(), SyncError> {
    write_json(ports, &chunk_key(&run.id, chunk, failed), &results).await?;
    log_progress(ports, run, failed_means).await
}

/// A run and the results of every chunk kept so far, in item order.
pub(super) async fn run_results<T: serde::de::DeserializeOwned>(
    ports: &Ports,
    run_id: &str,
    item: impl Fn(&T) -> usize,
) -> Result<(Run, Vec<T>), SyncError> {
    let run: Run = get_json(ports, &run_key(run_id)).await?;
    let mut items: Vec<T> = Vec::new();
    for b in ports.blobs.list(&chunks_prefix(run_id)).await? {
        let chunk: Vec<T> = get_json(ports, &b.key).await?;
        items.extend(chunk);
    }
    items.sort_by_key(|r| item(r));
    Ok((run, items))
}

/// A run as it was started (its type says which report and rollback it has).
pub async fn load_run(ports: &Ports, run_id: &str) -> Result<Run, SyncError> {
    get_json(ports, &run_key(run_id)).await
}

impl Run {
    /// Whether the run writes catalog objects (anything but inventory).
    pub fn is_catalog(&self) -> bool {
        self.data_type.is_some_and(|t| t != super::catalog::DataType::Inventory)
    }
}

/// A run's results: every chunk written so far, and what is still pending.
pub async fn report(ports: &Ports, run_id: &str) -> Result<RunReport, SyncError> {
    let (run, items) = run_results(ports, run_id, |r: &ItemResult| r.item).await?;
    let count = |o: &str| items.iter().filter(|r| r.outcome == o).count();
    let (succeeded, failed, moved) = (count("succeeded"), count("failed"), count("moved"));
    Ok(RunReport {
        total: run.items.len(),
        pending: run.items.len() - items.len(),
        run,
        succeeded,
        failed,
        moved,
        items,
    })
}

/// The plan that undoes a completed run: each item it changed, back to its before-image (and
/// only if the destination still holds what the run wrote). Kept like any plan, so it is
/// previewed, confirmed and synced the same way.
pub async fn rollback_plan(ports: &Ports, run_id: &str, who: &str) -> Result<InventoryPlan, SyncError> {
    let r = report(ports, run_id).await?;
    if r.pending > 0 {
        return Err(SyncError::Run { id: run_id.into(), message: format!("{} items are still pending", r.pending) });
    }
    let original = load_plan(ports, &r.run.plan_id).await?;
    let now = ports.clock.now();
    let mut items = Vec::new();
    for res in r.items.iter().filter(|x| x.outcome == "succeeded") {
        let Some(before) = original.comparison.items.get(res.item) else { continue };
        items.push(InventoryPlanItem {
            item: items.len(),
            source_quantity: Some(res.old.unwrap_or(0)),
            destination_quantity: Some(res.new),
            difference: res.old.unwrap_or(0) - res.new,
            source_status: "before the run".into(),
            destination_status: before.source_status.clone(),
            ..before.clone()
        });
    }
    let id = format!("{}-rollback-{}", now.format("%Y%m%dT%H%M%SZ"), &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let c = &original.comparison;
    let comparison = InventoryComparison {
        source: c.source,
        destination: c.destination,
        compared_at: now,
        destination_in_stock: items.iter().filter(|i| i.destination_quantity.is_some_and(|q| q > 0)).count(),
        items,
        unchanged: 0,
        unmatched: Default::default(),
        rollback_of: Some(run_id.into()),
    };
    let plan = InventoryPlan { id: id.clone(), data_type: "inventory".into(), requested_by: who.into(), comparison };
    write_json(ports, &plan_key(&id), &plan).await?;
    let after = json!({ "plan": id, "items": plan.comparison.items.len() });
    audit(ports, who, "store-sync.rollback-plan", &format!("store-sync/run/{run_id}"), json!(null), after).await?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_is_all_or_numbers_and_ranges() {
        assert_eq!(Selection::parse("all"), Ok(Selection::All));
        assert_eq!(Selection::parse("3, 1,5-7"), Ok(Selection::Items(vec![1, 3, 5, 6, 7])));
        assert!(Selection::parse("7-5").unwrap_err().contains("low to high"));
        assert!(Selection::parse("x").unwrap_err().contains("not an item number"));
        assert!(Selection::parse(" , ").unwrap_err().contains("selects nothing"));
    }

    #[test]
    fn chunks_take_products_without_variants_first_then_each_products_variants_together() {
        use crate::stores::inventory::{compare, InventoryRecord};
        // WooCommerce's keys: a simple product is its own variant; a variation is parent/id.
        let rec = |product: &str, variant: &str, sku: &str, q: i64| InventoryRecord {
            product_id: product.into(),
            variant_id: variant.into(),
            name: sku.into(),
            sku: sku.into(),
            quantity: Some(q),
            status: "instock".into(),
            write_key: variant.into(),
        };
        let dst = vec![
            rec("7", "7/71", "A-1", 1),
            rec("3", "3", "S-3", 1),
            rec("9", "9/91", "B-1", 1),
            rec("7", "7/72", "A-2", 1),
            rec("5", "5", "S-5", 1),
            rec("9", "9/92", "B-2", 1),
        ];
        let src: Vec<InventoryRecord> =
            dst.iter().map(|r| InventoryRecord { quantity: Some(2), ..r.clone() }).collect();
        let now = "2026-12-01T09:00:00Z".parse().unwrap();
        let c = compare(Platform::Shopify, &src, Platform::WooCommerce, &dst, now);
        let order = in_write_order(&c, (0..c.items.len()).collect());
        let keys: Vec<&str> = order.iter().map(|i| c.items[*i].destination_write_key.as_str()).collect();
        assert_eq!(keys, ["3", "5", "7/71", "7/72", "9/91", "9/92"]);
    }

    #[test]
    fn woocommerce_chunks_keep_a_products_variations_together_and_make_the_fewest_calls() {
        use crate::stores::inventory::{compare, InventoryRecord};
        let rec = |product: String, variant: String| InventoryRecord {
            product_id: product,
            sku: format!("SKU-{variant}"),
            name: variant.clone(),
            write_key: variant.clone(),
            variant_id: variant,
            quantity: Some(1),
            status: "instock".into(),
        };
        // 150 simple products; products A, B and C with 30, 80 and 120 variations.
        let mut dst: Vec<InventoryRecord> = (0..150).map(|i| rec(format!("{i}"), format!("{i}"))).collect();
        for (p, n) in [("1001", 30), ("1002", 80), ("1003", 120)] {
            dst.extend((0..n).map(|v| rec(p.into(), format!("{p}/{v}"))));
        }
        let src: Vec<InventoryRecord> =
            dst.iter().map(|r| InventoryRecord { quantity: Some(2), ..r.clone() }).collect();
        let now = "2026-12-01T09:00:00Z".parse().unwrap();
        let woo = compare(Platform::Shopify, &src, Platform::WooCommerce, &dst, now);
        let order = in_write_order(&woo, (0..woo.items.len()).collect());
        let chunks = into_chunks(&woo, &order);
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [100, 80, 80, 100, 20]);
        assert_eq!(chunks.concat(), order, "every item once, in write order");
        // Calls: one per endpoint a chunk touches (100 per call): 2 + 1 + 1 + 2 = the fewest.
        let calls: usize = chunks
            .iter()
            .map(|c| {
                let endpoints: BTreeSet<Option<&str>> =
                    c.iter().map(|i| woo.items[*i].destination_write_key.split_once('/').map(|(p, _)| p)).collect();
                endpoints.len()
            })
            .sum();
        assert_eq!(calls, 6);
        // Shopify writes any 250 in one call: fixed-size chunks.
        let shop = compare(Platform::WooCommerce, &src, Platform::Shopify, &dst, now);
        let sizes: Vec<usize> = into_chunks(&shop, &order).iter().map(Vec::len).collect();
        assert_eq!(sizes, [250, 130]);
    }
}
