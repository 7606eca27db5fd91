//! Compare as an operator runs it: both stores checked, both read, the plan computed and kept
//! (`store-sync/plans/{id}.json` in the bucket), the compare audited. Nothing is written to
//! either store.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::inventory::{compare, InventoryComparison, InventoryStore};
use super::StoreError;
use crate::ports::{AuditEntry, PortError, Ports};

/// Where plans are kept.
pub const PLAN_PREFIX: &str = "store-sync/plans/";

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
    source.check().await?;
    destination.check().await?;
    let (src, dst) = futures_util::future::try_join(source.inventory(), destination.inventory()).await?;
    let now = ports.clock.now();
    let comparison = compare(source.platform(), &src, destination.platform(), &dst, now);
    let id = format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let plan = InventoryPlan { id: id.clone(), data_type: "inventory".into(), requested_by: who.into(), comparison };
    let data = serde_json::to_vec(&plan).map_err(|e| PortError::backend("encode", plan_key(&id), e))?;
    ports.blobs.put(&plan_key(&id), data.into(), None).await?;
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
    let bytes =
        ports.blobs.get(&plan_key(id)).await?.to_bytes().map_err(|e| PortError::backend("read", plan_key(id), e))?;
    serde_json::from_slice(&bytes).map_err(|e| PlanError::Unreadable { id: id.into(), message: e.to_string() })
}
