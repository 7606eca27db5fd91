//! Compare as an operator runs it: both stores checked, both read, the plan computed and kept
//! (`store-sync/plans/{id}.json` in the bucket), the compare audited. Nothing is written to
//! either store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::catalog::{CompareOptions, DataType};
use super::catalog_sync::{compare_catalog_as, CatalogPlan};
use super::inventory::{compare, InventoryComparison, InventoryStore};
use super::{Platform, StoreError};
use crate::ports::{AuditEntry, Delivery, PortError, Ports};

/// Where plans are kept.
pub const PLAN_PREFIX: &str = "store-sync/plans/";
/// Compare requests, for the compare worker (a compare of a large catalog outlasts an API call).
pub const COMPARE_QUEUE: &str = "store-compare";

/// Opens a store's inventory by platform, from the deployment's configuration.
#[async_trait]
pub trait StoreConnector: Send + Sync {
    async fn connect(&self, platform: Platform) -> Result<Box<dyn InventoryStore>, StoreError>;
    /// The store's catalog (products, pages, posts, coupons, collections).
    async fn catalog(&self, platform: Platform) -> Result<Box<dyn super::catalog_sync::CatalogStore>, StoreError>;
}

/// The other store.
pub fn destination_of(source: Platform) -> Platform {
    match source {
        Platform::WooCommerce => Platform::Shopify,
        Platform::Shopify => Platform::WooCommerce,
    }
}

/// A compare asked for and not done yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompareRequest {
    pub plan: String,
    pub source: Platform,
    pub data_type: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

/// Where a plan stands.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanStatus {
    Ready(Box<InventoryPlan>),
    ReadyCatalog(Box<CatalogPlan>),
    Comparing(CompareRequest),
    Failed { request: CompareRequest, error: String },
}

fn request_key(id: &str) -> String {
    format!("{PLAN_PREFIX}{id}.request.json")
}

fn failed_key(id: &str) -> String {
    format!("{PLAN_PREFIX}{id}.failed.json")
}

pub(super) fn new_plan_id(now: DateTime<Utc>) -> String {
    format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// A stored plan: its id, who asked for it, and the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryPlan {
    pub id: String,
    pub data_type: String,
    pub requested_by: String,
    #[serde(flatten)]
    pub comparison: InventoryComparison,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("plan {id}: {message}")]
    Unreadable { id: String, message: String },
    #[error("type {0:?}: use inventory, products, pages, posts, coupons or collections")]
    UnsupportedType(String),
}

pub fn plan_key(id: &str) -> String {
    format!("{PLAN_PREFIX}{id}.json")
}

/// Checks both stores, reads both, compares with `source` as the truth, and keeps the plan.
pub async fn compare_inventory(
    ports: &Ports,
    source: &dyn InventoryStore,
    destination: &dyn InventoryStore,
    who: &str,
) -> Result<InventoryPlan, PlanError> {
    compare_as(ports, &new_plan_id(ports.clock.now()), source, destination, who).await
}

async fn compare_as(
    ports: &Ports,
    id: &str,
    source: &dyn InventoryStore,
    destination: &dyn InventoryStore,
    who: &str,
) -> Result<InventoryPlan, PlanError> {
    source.check().await?;
    destination.check().await?;
    let (src, dst) = futures_util::future::try_join(source.inventory(), destination.inventory()).await?;
    let now = ports.clock.now();
    let comparison = compare(source.platform(), &src, destination.platform(), &dst, now);
    let id = id.to_string();
    let plan = InventoryPlan { id: id.clone(), data_type: "inventory".into(), requested_by: who.into(), comparison };
    write_json(ports, &plan_key(&id), &plan).await?;
    let c = &plan.comparison;
    ports
        .audit
        .record(&AuditEntry {
            at: now,
            who: who.into(),
            action: "store-sync.compare".into(),
            target: format!("store-sync/plan/{id}"),
            before: json!(null),
            after: json!({
                "source": c.source, "destination": c.destination, "type": "inventory",
                "changes": c.items.len(), "unchanged": c.unchanged,
                "missing_in_destination": c.unmatched.missing_in_destination.len(),
                "missing_in_source": c.unmatched.missing_in_source.len(),
                "ambiguous": c.unmatched.ambiguous.len(),
            }),
        })
        .await?;
    Ok(plan)
}

/// A stored plan by id.
pub async fn load_plan(ports: &Ports, id: &str) -> Result<InventoryPlan, PlanError> {
    read_json(ports, &plan_key(id)).await?.ok_or_else(|| PortError::NotFound { key: plan_key(id) }.into())
}

/// A JSON document of the bucket; `None` when there is none.
pub(super) async fn read_json<T: serde::de::DeserializeOwned>(
    ports: &Ports,
    key: &str,
) -> Result<Option<T>, PlanError> {
    let blob = match ports.blobs.get(key).await {
        Ok(b) => b,
        Err(PortError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let bytes = blob.to_bytes().map_err(|e| PortError::backend("read", key, e))?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| PlanError::Unreadable { id: key.into(), message: e.to_string() })
}

pub(super) async fn write_json(ports: &Ports, key: &str, v: &impl Serialize) -> Result<(), PortError> {
    let data = serde_json::to_vec(v).map_err(|e| PortError::backend("encode", key, e))?;
    ports.blobs.put(key, data.into(), None).await
}

/// Asks for a compare (the API's way: a large catalog takes longer than a request may): the
/// request is kept and queued for [`run_compare_request`]; the plan id is known at once.
pub async fn request_compare(
    ports: &Ports,
    source: Platform,
    data_type: &str,
    who: &str,
) -> Result<CompareRequest, PlanError> {
    let Some(data_type) = DataType::parse(data_type) else {
        return Err(PlanError::UnsupportedType(data_type.into()));
    };
    let now = ports.clock.now();
    let request = CompareRequest {
        plan: new_plan_id(now),
        source,
        data_type: data_type.as_str().into(),
        requested_by: who.into(),
        requested_at: now,
    };
    let body = serde_json::to_string(&request).map_err(|e| PortError::backend("encode", COMPARE_QUEUE, e))?;
    ports.blobs.put(&request_key(&request.plan), body.clone().into_bytes().into(), None).await?;
    ports.queue.send(COMPARE_QUEUE, &body).await?;
    Ok(request)
}

/// Receives of a compare request before the queue dead-letters it (the template's
/// `maxReceiveCount`): on the last one a transient failure is kept as the plan's failure.
pub const COMPARE_RECEIVES: u32 = 5;

/// The compare worker: runs a delivered request. A failure retrying may mend (a timeout, a
/// 5xx) is returned for the queue to retry, up to the request's last receive
/// ([`COMPARE_RECEIVES`]); any other is kept with the plan id, so the operator sees why (for
/// example a missing credential).
pub async fn run_compare_request(ports: &Ports, stores: &dyn StoreConnector, d: &Delivery) -> Result<(), PlanError> {
    let last = d.receive_count >= COMPARE_RECEIVES;
    let request: CompareRequest = serde_json::from_str(&d.body)
        .map_err(|e| PlanError::Unreadable { id: "?".into(), message: format!("compare request: {e}") })?;
    if ports.blobs.head(&plan_key(&request.plan)).await?.is_some() {
        return Ok(());
    }
    let data_type = DataType::parse(&request.data_type).unwrap_or(DataType::Inventory);
    let (id, who) = (&request.plan, &request.requested_by);
    let outcome = async {
        if data_type == DataType::Inventory {
            let source = stores.connect(request.source).await?;
            let destination = stores.connect(destination_of(request.source)).await?;
            compare_as(ports, id, source.as_ref(), destination.as_ref(), who).await.map(|_| ())
        } else {
            let source = stores.catalog(request.source).await?;
            let destination = stores.catalog(destination_of(request.source)).await?;
            let (s, d) = (source.as_ref(), destination.as_ref());
            compare_catalog_as(ports, id, data_type, s, d, who, CompareOptions::default()).await.map(|_| ())
        }
    }
    .await;
    match outcome {
        Ok(()) => Ok(()),
        Err(PlanError::Store(e)) if e.transient && !last => Err(PlanError::Store(e)),
        Err(PlanError::Port(e)) if !last => Err(PlanError::Port(e)),
        Err(e) => Ok(write_json(ports, &failed_key(&request.plan), &json!({ "error": e.to_string() })).await?),
    }
}

/// A plan, or where its compare stands; `None` for an id never asked for.
pub async fn plan_status(ports: &Ports, id: &str) -> Result<Option<PlanStatus>, PlanError> {
    if let Some(plan) = read_json::<serde_json::Value>(ports, &plan_key(id)).await? {
        let unreadable = |e: serde_json::Error| PlanError::Unreadable { id: id.into(), message: e.to_string() };
        return Ok(Some(match plan["data_type"].as_str() {
            Some("inventory") | None => PlanStatus::Ready(Box::new(serde_json::from_value(plan).map_err(unreadable)?)),
            Some(_) => PlanStatus::ReadyCatalog(Box::new(serde_json::from_value(plan).map_err(unreadable)?)),
        }));
    }
    let Some(request) = read_json::<CompareRequest>(ports, &request_key(id)).await? else { return Ok(None) };
    Ok(Some(match read_json::<serde_json::Value>(ports, &failed_key(id)).await? {
        Some(failed) => PlanStatus::Failed { request, error: failed["error"].as_str().unwrap_or_default().to_string() },
        None => PlanStatus::Comparing(request),
    }))
}
