//! Compare, sync and rollback of the catalog data types ([`DataType`] other than inventory)
//! through one port, [`CatalogStore`], so a sync is written once for any pair of stores and
//! either direction. The machinery is inventory's (`sync`): the plan kept in the bucket, an
//! explicit start with guards, chunks on the `store-sync` queue, a worker that writes each
//! chunk and keeps its results, progress in the status log, an audit entry per change, and a
//! rollback that is itself a plan.
//!
//! WooCommerce and WordPress have no idempotency keys: a create replayed after a lost reply
//! would create twice. So on any delivery after the first the worker looks each create up by
//! its key first and updates what it finds instead.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::catalog::{
    compare, Action, CatalogComparison, CatalogPlanItem, CatalogRecord, CompareOptions, DataType, FieldChange,
};
use super::plans::{new_plan_id, plan_key, read_json, write_json, PlanError};
use super::sync::{
    audit, get_json, keep_chunk, launch, run_results, selected, ChunkMessage, NewRun, Run, Selection, SyncError,
    SyncOptions, SYNC_DLQ, SYNC_RECEIVES,
};
use super::{Platform, StoreError};
use crate::ports::{Delivery, Ports};

/// One object to write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogWrite {
    pub action: Action,
    /// The destination object (none for a create).
    pub id: Option<String>,
    /// The primary key's value (a create's lookup on a retry).
    pub key: String,
    /// The fields to set (their neutral names); a null clears one.
    pub fields: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatalogOutcome {
    /// Written; the object's id (a create's new one).
    Done {
        id: String,
    },
    Failed {
        error: String,
    },
}

/// A store's catalog, read and written in the neutral fields of `catalog`: one adapter per
/// platform.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    fn platform(&self) -> Platform;
    /// The neutral fields of `data_type` this store reads and writes: a compare looks only at
    /// the fields both stores have (a field one cannot keep would differ for ever).
    fn fields(&self, data_type: DataType) -> &'static [&'static str];
    /// The variant fields (of [`super::catalog::VARIANT_FIELDS`]) this store keeps: a compare
    /// of products looks only at those both stores keep.
    fn variant_fields(&self) -> &'static [&'static str] {
        &["sku", "options", "price", "compare_at_price", "barcode", "weight_grams"]
    }
    /// Whether the store answers with these credentials.
    async fn check(&self) -> Result<(), StoreError>;
    /// Every object of `data_type`.
    async fn read(&self, data_type: DataType) -> Result<Vec<CatalogRecord>, StoreError>;
    /// The id of the object whose primary key is `key`, if there is one.
    async fn find(&self, data_type: DataType, key: &str) -> Result<Option<String>, StoreError>;
    /// The objects of `data_type` with these ids, as they are now (those that exist).
    async fn read_ids(&self, data_type: DataType, ids: &[String]) -> Result<Vec<CatalogRecord>, StoreError> {
        let all = self.read(data_type).await?;
        Ok(all.into_iter().filter(|r| ids.contains(&r.id)).collect())
    }
    /// Writes in order, as few calls as the platform allows; one outcome per write. An error
    /// means none is known to be written.
    async fn write(&self, data_type: DataType, writes: &[CatalogWrite]) -> Result<Vec<CatalogOutcome>, StoreError>;
}

/// Objects per chunk (and per sync message).
pub const CATALOG_CHUNK: usize = 25;

/// A stored catalog plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogPlan {
    pub id: String,
    pub requested_by: String,
    #[serde(flatten)]
    pub comparison: CatalogComparison,
    /// The run this plan undoes, for a rollback plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
}

/// One object's outcome, with the changes it carried (before and after).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogItemResult {
    pub item: usize,
    pub action: Action,
    pub key: String,
    /// `succeeded` or `failed`.
    pub outcome: String,
    pub error: Option<String>,
    pub destination_id: Option<String>,
    pub changes: Vec<FieldChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogRunReport {
    pub run: Run,
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub pending: usize,
    pub items: Vec<CatalogItemResult>,
}

/// Checks both stores, reads `data_type` from both, compares with `source` as the truth, and
/// keeps the plan (audited).
pub async fn compare_catalog(
    ports: &Ports,
    data_type: DataType,
    source: &dyn CatalogStore,
    destination: &dyn CatalogStore,
    who: &str,
    opts: CompareOptions,
) -> Result<CatalogPlan, PlanError> {
    compare_catalog_as(ports, &new_plan_id(ports.clock.now()), data_type, source, destination, who, opts).await
}

/// [`compare_catalog`] under a plan id given beforehand (a compare asked for through the queue).
pub(super) async fn compare_catalog_as(
    ports: &Ports,
    id: &str,
    data_type: DataType,
    source: &dyn CatalogStore,
    destination: &dyn CatalogStore,
    who: &str,
    opts: CompareOptions,
) -> Result<CatalogPlan, PlanError> {
    source.check().await?;
    destination.check().await?;
    let (mut src, mut dst) =
        futures_util::future::try_join(source.read(data_type), destination.read(data_type)).await?;
    let kept = destination.fields(data_type);
    for r in &mut src {
        r.fields.retain(|f, _| kept.contains(&f.as_str()));
    }
    // Variants: the fields both keep (and the platform's id, which compares never look at).
    let (sv, dv) = (source.variant_fields(), destination.variant_fields());
    let common: Vec<&str> = sv.iter().copied().filter(|f| dv.contains(f)).chain(["id"]).collect();
    for r in src.iter_mut().chain(dst.iter_mut()) {
        for v in r.fields.get_mut("variants").and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(o) = v.as_object_mut() {
                o.retain(|k, _| common.contains(&k.as_str()));
            }
        }
    }
    let now = ports.clock.now();
    let comparison = compare(data_type, source.platform(), &src, destination.platform(), &dst, opts, now);
    let plan = CatalogPlan { id: id.into(), requested_by: who.into(), comparison, rollback_of: None };
    keep_plan(ports, &plan, who).await?;
    Ok(plan)
}

async fn keep_plan(ports: &Ports, plan: &CatalogPlan, who: &str) -> Result<(), PlanError> {
    write_json(ports, &plan_key(&plan.id), plan).await?;
    let c = &plan.comparison;
    let count = |a: Action| c.items.iter().filter(|i| i.action == a).count();
    let after = json!({
        "source": c.source, "destination": c.destination, "type": c.data_type,
        "updates": count(Action::Update), "creates": count(Action::Create), "deletes": count(Action::Delete),
        "unchanged": c.unchanged, "ambiguous": c.unmatched.ambiguous.len(), "rollback_of": plan.rollback_of,
    });
    let target = format!("store-sync/plan/{}", plan.id);
    audit(ports, who, "store-sync.compare", &target, json!(null), after).await.map_err(PlanError::from)
}

pub async fn load_catalog_plan(ports: &Ports, id: &str) -> Result<CatalogPlan, SyncError> {
    get_json(ports, &plan_key(id)).await
}

/// Starts a sync of `selection` of catalog plan `plan_id`: refuses a stale plan and unknown
/// items; a selection that deletes anything needs `override_blast` (audited). Keeps the run and
/// queues its chunks.
pub async fn start_catalog(
    ports: &Ports,
    plan_id: &str,
    selection: &Selection,
    who: &str,
    opts: &SyncOptions,
) -> Result<Run, SyncError> {
    let plan = load_catalog_plan(ports, plan_id).await?;
    let c = &plan.comparison;
    let items = selected(plan_id, c.compared_at, c.items.len(), selection, opts, ports.clock.now())?;
    let deletes = items.iter().filter(|i| c.items[**i].action == Action::Delete).count();
    if deletes > 0 && !opts.override_blast {
        return Err(SyncError::Deletes { deletes });
    }
    let new = NewRun {
        plan_id,
        who,
        source: c.source,
        destination: c.destination,
        chunks: items.chunks(CATALOG_CHUNK).map(<[usize]>::to_vec).collect(),
        override_blast: deletes > 0,
        data_type: Some(c.data_type),
    };
    launch(ports, new, json!({ "type": c.data_type, "deletes": deletes })).await
}

/// The worker for a catalog run whose destination is at hand (the local CLI's way; the
/// deployed worker opens it through `sync::work_with`): writes the chunk a delivered message
/// names, unless its results are kept already (a replayed message).
pub async fn work_catalog(ports: &Ports, destination: &dyn CatalogStore, d: &Delivery) -> Result<(), SyncError> {
    match super::sync::pending_chunk(ports, &d.body).await? {
        Some((msg, run)) => write_catalog_chunk(ports, destination, &msg, &run, d).await,
        None => Ok(()),
    }
}

/// The write an item makes.
fn write_of(item: &CatalogPlanItem) -> CatalogWrite {
    CatalogWrite {
        action: item.action,
        id: item.destination_id.clone(),
        key: item.key.clone(),
        fields: item.changes.iter().map(|c| (c.field.clone(), c.after.clone())).collect(),
    }
}

/// The worker's part for a catalog run: writes chunk `msg` to `destination`, keeps its results,
/// audits every change and logs progress. A transient failure is returned for a retry (but on
/// the last receive); any other fails the chunk's items and sends it to [`SYNC_DLQ`].
pub(super) async fn write_catalog_chunk(
    ports: &Ports,
    destination: &dyn CatalogStore,
    msg: &ChunkMessage,
    run: &Run,
    d: &Delivery,
) -> Result<(), SyncError> {
    let plan = load_catalog_plan(ports, &run.plan_id).await?;
    let data_type = plan.comparison.data_type;
    let items: Vec<&CatalogPlanItem> = msg.items.iter().filter_map(|i| plan.comparison.items.get(*i)).collect();
    let mut writes: Vec<CatalogWrite> = items.iter().map(|i| write_of(i)).collect();
    if d.receive_count > 1 {
        // A create that went through before its reply was lost becomes an update.
        for w in writes.iter_mut().filter(|w| w.action == Action::Create) {
            match destination.find(data_type, &w.key).await {
                Ok(Some(id)) => {
                    w.action = Action::Update;
                    w.id = Some(id);
                }
                Ok(None) => {}
                Err(e) if e.transient && d.receive_count < SYNC_RECEIVES => return Err(e.into()),
                Err(e) => return fail(ports, msg, run, &items, &e).await,
            }
        }
    }
    let outcomes = match destination.write(data_type, &writes).await {
        Ok(o) => o,
        Err(e) if e.transient && d.receive_count < SYNC_RECEIVES => return Err(e.into()),
        Err(e) => return fail(ports, msg, run, &items, &e).await,
    };
    keep(ports, msg, run, &items, outcomes).await
}

/// A chunk whose destination cannot be opened: every item failed with the error.
pub(super) async fn fail_chunk(ports: &Ports, msg: &ChunkMessage, run: &Run, e: &StoreError) -> Result<(), SyncError> {
    let plan = load_catalog_plan(ports, &run.plan_id).await?;
    let items: Vec<&CatalogPlanItem> = msg.items.iter().filter_map(|i| plan.comparison.items.get(*i)).collect();
    fail(ports, msg, run, &items, e).await
}

async fn fail(
    ports: &Ports,
    msg: &ChunkMessage,
    run: &Run,
    items: &[&CatalogPlanItem],
    e: &StoreError,
) -> Result<(), SyncError> {
    let dead = json!({ "message": msg, "error": e.to_string() });
    ports.queue.send(SYNC_DLQ, &dead.to_string()).await?;
    let outcomes = vec![CatalogOutcome::Failed { error: e.to_string() }; items.len()];
    keep(ports, msg, run, items, outcomes).await
}

async fn keep(
    ports: &Ports,
    msg: &ChunkMessage,
    run: &Run,
    items: &[&CatalogPlanItem],
    outcomes: Vec<CatalogOutcome>,
) -> Result<(), SyncError> {
    let results: Vec<CatalogItemResult> = items
        .iter()
        .zip(outcomes)
        .map(|(i, o)| {
            let (outcome, error, id) = match o {
                CatalogOutcome::Done { id } => ("succeeded", None, Some(id)),
                CatalogOutcome::Failed { error } => ("failed", Some(error), i.destination_id.clone()),
            };
            CatalogItemResult {
                item: i.item,
                action: i.action,
                key: i.key.clone(),
                outcome: outcome.into(),
                error,
                destination_id: id,
                changes: i.changes.clone(),
            }
        })
        .collect();
    for r in results.iter().filter(|r| r.outcome == "succeeded") {
        let target = format!("store-sync/run/{}/item/{}", run.id, r.item);
        for c in &r.changes {
            let before = json!({ "key": r.key, "id": r.destination_id, "field": c.field, "value": c.before });
            let after = json!({ "key": r.key, "id": r.destination_id, "field": c.field, "value": c.after });
            audit(ports, &run.requested_by, "store-sync.set", &target, before, after).await?;
        }
    }
    let failed = results.iter().filter(|r| r.outcome != "succeeded").count();
    keep_chunk(ports, run, msg.chunk, &results, failed, "failed").await
}

/// A catalog run's results so far.
pub async fn catalog_report(ports: &Ports, run_id: &str) -> Result<CatalogRunReport, SyncError> {
    let (run, items) = run_results(ports, run_id, |r: &CatalogItemResult| r.item).await?;
    let succeeded = items.iter().filter(|r| r.outcome == "succeeded").count();
    Ok(CatalogRunReport {
        total: run.items.len(),
        pending: run.items.len() - items.len(),
        failed: items.len() - succeeded,
        succeeded,
        run,
        items,
    })
}

/// The plan that undoes a finished catalog run: each update back to the values before it, each
/// create deleted (so syncing it needs the override), each delete created again from its
/// before-image. Kept like any plan: previewed, confirmed and synced the same way.
pub async fn rollback_catalog_plan(ports: &Ports, run_id: &str, who: &str) -> Result<CatalogPlan, SyncError> {
    let r = catalog_report(ports, run_id).await?;
    if r.pending > 0 {
        return Err(SyncError::Run { id: run_id.into(), message: format!("{} items are still pending", r.pending) });
    }
    let original = load_catalog_plan(ports, &r.run.plan_id).await?;
    let inverse =
        |c: &FieldChange| FieldChange { field: c.field.clone(), before: c.after.clone(), after: c.before.clone() };
    let mut items = Vec::new();
    for res in r.items.iter().filter(|x| x.outcome == "succeeded") {
        let action = match res.action {
            Action::Update => Action::Update,
            Action::Create => Action::Delete,
            Action::Delete => Action::Create,
        };
        items.push(CatalogPlanItem {
            item: items.len(),
            action,
            key: res.key.clone(),
            title: original.comparison.items.get(res.item).map(|i| i.title.clone()).unwrap_or_default(),
            source_id: None,
            destination_id: if action == Action::Create { None } else { res.destination_id.clone() },
            matched_by: None,
            changes: res.changes.iter().map(inverse).collect(),
        });
    }
    let now = ports.clock.now();
    let c = &original.comparison;
    let plan = CatalogPlan {
        id: new_plan_id(now),
        requested_by: who.into(),
        comparison: CatalogComparison {
            data_type: c.data_type,
            source: c.source,
            destination: c.destination,
            compared_at: now,
            items,
            unchanged: 0,
            unmatched: Default::default(),
        },
        rollback_of: Some(run_id.into()),
    };
    keep_plan(ports, &plan, who).await?;
    Ok(plan)
}

/// Whether the plan stored under `id` is a catalog plan (not inventory's).
pub async fn is_catalog_plan(ports: &Ports, id: &str) -> Result<bool, SyncError> {
    let v: Option<Value> = read_json(ports, &plan_key(id)).await?;
    Ok(v.is_some_and(|v| v.get("data_type").and_then(Value::as_str).is_some_and(|t| t != "inventory")))
}
