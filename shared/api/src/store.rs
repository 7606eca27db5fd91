//! The store ⇄ store sync routes: compare (asked for, then done by the compare worker), plans
//! as JSON or CSV, sync with an explicit confirmation, runs, rollback.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use storesync_core::stores::catalog::catalog_csv;
use storesync_core::stores::catalog_sync::{catalog_report, rollback_catalog_plan, start_catalog};
use storesync_core::stores::inventory::plan_csv;
use storesync_core::stores::plans::{plan_status, request_compare, PlanError, PlanStatus};
use storesync_core::stores::sync::{load_run, report, rollback_plan, start, Selection, SyncError, SyncOptions};
use storesync_core::stores::Platform;

use crate::{ApiError, AppState, Caller, OperatorCaller};

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        match &e {
            PlanError::UnsupportedType(_) => ApiError(StatusCode::BAD_REQUEST, e.to_string()),
            PlanError::Port(storesync_core::ports::PortError::NotFound { .. }) => {
                ApiError(StatusCode::NOT_FOUND, e.to_string())
            }
            PlanError::Store(_) => ApiError(StatusCode::BAD_GATEWAY, e.to_string()),
            _ => {
                tracing::error!(error = %e, "store sync: backend failure");
                ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
        }
    }
}

impl From<SyncError> for ApiError {
    /// Backend, store and plan failures answer as a compare's do; a refused sync is the
    /// caller's to mend (400) or a state to resolve first (409).
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Plan(p) => p.into(),
            SyncError::Port(p) => PlanError::Port(p).into(),
            SyncError::Store(s) => PlanError::Store(s).into(),
            refused => {
                let code = match refused {
                    SyncError::UnknownItems { .. } | SyncError::Empty { .. } => StatusCode::BAD_REQUEST,
                    _ => StatusCode::CONFLICT,
                };
                ApiError(code, refused.to_string())
            }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct CompareBody {
    source: String,
    #[serde(rename = "type", default = "inventory")]
    data_type: String,
}

fn inventory() -> String {
    "inventory".into()
}

/// `POST /store-sync/compare` `{"source": "woocommerce"|"shopify", "type": "inventory"}` → 202
/// with the plan id; the plan is ready once the compare worker has read both stores.
pub(crate) async fn compare(
    OperatorCaller(actor): OperatorCaller,
    State(st): State<Arc<AppState>>,
    Json(body): Json<CompareBody>,
) -> Result<Response, ApiError> {
    let source = Platform::parse(&body.source).ok_or_else(|| {
        ApiError(StatusCode::BAD_REQUEST, format!("source {:?}: use woocommerce or shopify", body.source))
    })?;
    let r = request_compare(st.workflow.ports(), source, &body.data_type, &actor.0).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "plan": r.plan, "status": "comparing" }))).into_response())
}

#[derive(Deserialize)]
pub(crate) struct PlanQuery {
    format: Option<String>,
}

/// `GET /store-sync/plans/{id}[?format=csv]`: the plan, 202 while it is being compared, 422
/// with the reason when the compare failed.
pub(crate) async fn plan(
    _: Caller,
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<PlanQuery>,
) -> Result<Response, ApiError> {
    let status = plan_status(st.workflow.ports(), &id)
        .await?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no plan {id}")))?;
    match status {
        PlanStatus::Comparing(r) => {
            Ok((StatusCode::ACCEPTED, Json(json!({ "plan": id, "status": "comparing", "request": r }))).into_response())
        }
        PlanStatus::Failed { request, error } => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "plan": id, "status": "failed", "error": error, "request": request })),
        )
            .into_response()),
        PlanStatus::Ready(plan) => {
            let csv = || plan_csv(&plan.comparison.items);
            plan_as(&id, q.format.as_deref(), serde_json::to_value(&*plan).map_err(internal)?, csv)
        }
        PlanStatus::ReadyCatalog(plan) => {
            let csv = || catalog_csv(&plan.comparison);
            plan_as(&id, q.format.as_deref(), serde_json::to_value(&*plan).map_err(internal)?, csv)
        }
    }
}

/// A plan as JSON, or as CSV (made by `csv`) with `?format=csv`.
fn plan_as<E: std::fmt::Display>(
    id: &str,
    format: Option<&str>,
    json: Value,
    csv: impl FnOnce() -> Result<String, E>,
) -> Result<Response, ApiError> {
    match format {
        Some("csv") => Response::builder()
            .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
            .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"plan-{id}.csv\""))
            .body(axum::body::Body::from(csv().map_err(internal)?))
            .map_err(internal),
        None | Some("json") => Ok(Json(json).into_response()),
        Some(other) => Err(ApiError(StatusCode::BAD_REQUEST, format!("format {other:?}: use json or csv"))),
    }
}

#[derive(Deserialize)]
pub(crate) struct SyncBody {
    /// `"all"` (default), or item numbers: `[1, 2]` or `"1,2,5-9"`.
    #[serde(default)]
    select: Option<Value>,
    #[serde(default)]
    confirm: bool,
    #[serde(default)]
    override_blast: bool,
    #[serde(default)]
    max_plan_age_minutes: Option<i64>,
}

/// `POST /store-sync/plans/{id}/sync` `{"select": …, "confirm": true}` → 202 with the run.
pub(crate) async fn sync(
    OperatorCaller(actor): OperatorCaller,
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Json(body): Json<SyncBody>,
) -> Result<Response, ApiError> {
    if !body.confirm {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "confirm: true is required: a sync writes to the destination store".into(),
        ));
    }
    let selection = match &body.select {
        None => Selection::All,
        Some(Value::String(s)) => Selection::parse(s).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?,
        Some(Value::Array(a)) => Selection::Items(
            a.iter()
                .map(|v| v.as_u64().map(|n| n as usize))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "select: a list of item numbers".into()))?,
        ),
        Some(other) => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("select: {other}: use \"all\", \"1,2,5-9\" or [1, 2]"),
            ))
        }
    };
    let mut opts = SyncOptions { override_blast: body.override_blast, ..SyncOptions::default() };
    if let Some(m) = body.max_plan_age_minutes {
        opts.max_plan_age = chrono::Duration::minutes(m);
    }
    let ports = st.workflow.ports();
    let run = match plan_status(ports, &id).await? {
        Some(PlanStatus::ReadyCatalog(_)) => start_catalog(ports, &id, &selection, &actor.0, &opts).await?,
        _ => start(ports, &id, &selection, &actor.0, &opts).await?,
    };
    Ok((StatusCode::ACCEPTED, Json(json!({ "run": run }))).into_response())
}

/// `GET /store-sync/runs/{id}`: the summary and every item's result so far.
pub(crate) async fn run(
    _: Caller,
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ports = st.workflow.ports();
    let value = match load_run(ports, &id).await?.is_catalog() {
        true => serde_json::to_value(catalog_report(ports, &id).await?),
        false => serde_json::to_value(report(ports, &id).await?),
    };
    Ok(Json(value.map_err(internal)?))
}

/// `POST /store-sync/runs/{id}/rollback` → 201 with the plan that undoes the run.
pub(crate) async fn rollback(
    OperatorCaller(actor): OperatorCaller,
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ports = st.workflow.ports();
    let plan = match load_run(ports, &id).await?.is_catalog() {
        true => serde_json::to_value(rollback_catalog_plan(ports, &id, &actor.0).await?),
        false => serde_json::to_value(rollback_plan(ports, &id, &actor.0).await?),
    };
    Ok((StatusCode::CREATED, Json(plan.map_err(internal)?)).into_response())
}
