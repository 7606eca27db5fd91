//! The supplier catalog routes: a run's report, its entries by status with their diffs and
//! evidence, a person's decision on one entry, and a decision on every pending entry a filter
//! picks. Every decision is the caller's (JWT), audited, and an approval queues the apply.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use storesync_core::ports::StagingQuery;
use storesync_core::supplier::pipeline::{run_report, SupplierError};
use storesync_core::supplier::review::{decide, decide_all, DecisionError, Filter};
use storesync_core::supplier::staging::{Review, StagingStatus};

use crate::{ApiError, AppState, Caller, OperatorCaller};

impl From<DecisionError> for ApiError {
    fn from(e: DecisionError) -> Self {
        let code = match &e {
            DecisionError::Unknown(_) => StatusCode::NOT_FOUND,
            DecisionError::Refused(_) | DecisionError::PartialBulk => StatusCode::BAD_REQUEST,
            DecisionError::Raced(_) => StatusCode::CONFLICT,
            DecisionError::Port(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        // A decision on an entry decided already is a conflict with its state.
        let code = match &e {
            DecisionError::Refused(storesync_core::supplier::staging::ReviewError::NotPending { .. }) => {
                StatusCode::CONFLICT
            }
            _ => code,
        };
        ApiError(code, e.to_string())
    }
}

fn run_error(e: SupplierError) -> ApiError {
    match e {
        SupplierError::Invalid(m) if m.starts_with("no supplier run") => ApiError(StatusCode::NOT_FOUND, m),
        other => ApiError(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
    }
}

/// `GET /supplier/runs`: every feed file received, its run and (once ingested) its report.
pub(crate) async fn runs(Caller(_): Caller, State(st): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let runs = storesync_core::supplier::pipeline::runs(st.workflow.ports()).await.map_err(run_error)?;
    Ok(Json(json!({ "runs": runs })))
}

/// `GET /supplier/runs/{run}`: where every row of the run went.
pub(crate) async fn run(
    Caller(_): Caller,
    State(st): State<Arc<AppState>>,
    Path(run): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = run_report(st.workflow.ports(), &run).await.map_err(run_error)?;
    Ok(Json(json!(r)))
}

#[derive(Deserialize)]
pub(crate) struct EntriesQuery {
    #[serde(default = "pending")]
    status: String,
    after: Option<String>,
    limit: Option<usize>,
}

fn pending() -> String {
    "pending".into()
}

/// `GET /supplier/runs/{run}/entries?status=pending&after=ID&limit=N`: entries with their
/// diffs, confidence and evidence, by id, a page at a time (`next` names the next page's start).
pub(crate) async fn entries(
    Caller(_): Caller,
    State(st): State<Arc<AppState>>,
    Path(run): Path<String>,
    Query(q): Query<EntriesQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = StagingStatus::parse(&q.status).ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("status {:?}: use pending, approved, rejected, applied or failed", q.status),
        )
    })?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let query = StagingQuery { run: Some(run), after: q.after, limit };
    let page = st
        .workflow
        .ports()
        .staging
        .list(status, &query)
        .await
        .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let next = (page.len() == limit).then(|| page.last().map(|e| e.id.clone())).flatten();
    Ok(Json(json!({ "entries": page, "next": next })))
}

/// `POST /supplier/runs/{run}/entries/{sku}/review` `{"decision": "approve"}`,
/// `{"decision": "approve_fields", "fields": [...]}` or `{"decision": "reject", "reason": "..."}`.
pub(crate) async fn review_one(
    OperatorCaller(actor): OperatorCaller,
    State(st): State<Arc<AppState>>,
    Path((run, sku)): Path<(String, String)>,
    Json(decision): Json<Review>,
) -> Result<Json<Value>, ApiError> {
    let entry = decide(st.workflow.ports(), &run, &sku, &decision, &actor.0).await?;
    Ok(Json(json!(entry)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BulkBody {
    decision: String,
    reason: Option<String>,
    /// Only one entry's fields can be approved: named here to say so.
    fields: Option<Vec<String>>,
    min_confidence: Option<u8>,
    max_confidence: Option<u8>,
    action: Option<storesync_core::supplier::staging::StagedAction>,
}

/// `POST /supplier/runs/{run}/review` `{"decision": "approve"|"reject", "reason": "...",
/// "min_confidence": 90, "max_confidence": 95, "action": "update"}`: every pending entry of the
/// run the filter picks.
pub(crate) async fn review_all(
    OperatorCaller(actor): OperatorCaller,
    State(st): State<Arc<AppState>>,
    Path(run): Path<String>,
    Json(body): Json<BulkBody>,
) -> Result<Json<Value>, ApiError> {
    let decision = match body.decision.as_str() {
        "approve" => Review::Approve,
        "reject" => Review::Reject { reason: body.reason },
        "approve_fields" => Review::ApproveFields { fields: body.fields.unwrap_or_default() },
        other => {
            return Err(ApiError(StatusCode::BAD_REQUEST, format!("decision {other:?}: use approve or reject")));
        }
    };
    let filter = Filter {
        run: Some(run),
        min_confidence: body.min_confidence,
        max_confidence: body.max_confidence,
        action: body.action,
    };
    let out = decide_all(st.workflow.ports(), &filter, &decision, &actor.0).await?;
    Ok(Json(json!(out)))
}
