//! The admin API as one axum Router: served by lambda_http in Lambda and by the local runtime.

pub mod auth;
mod store;
mod supplier;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use storesync_core::domain::{Actor, SessionId};
use storesync_core::webhooks::operators::{self, OpsError};
use storesync_core::webhooks::receiver::{Receiver, Reply};
use storesync_core::webhooks::{Headers, WebhookSource};
use storesync_core::workflow::{Action, Workflow, WorkflowError};

pub use auth::{Auth, Identity, Role};

pub struct AppState {
    pub workflow: Arc<Workflow>,
    pub auth: Auth,
    /// The webhook receiver; `None` where this deployment does not take webhooks.
    pub webhooks: Option<Arc<Receiver>>,
}

/// An error as the API answers it: a status and `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<WorkflowError> for ApiError {
    fn from(e: WorkflowError) -> Self {
        let code = match &e {
            WorkflowError::UnknownSession(_) => StatusCode::NOT_FOUND,
            WorkflowError::Conflict { .. } => StatusCode::CONFLICT,
            WorkflowError::BadRequest(_) | WorkflowError::BadCommand(_) => StatusCode::BAD_REQUEST,
            WorkflowError::Port(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        if code == StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %e, "admin api: backend failure");
        }
        ApiError(code, e.to_string())
    }
}

/// The authenticated caller; rejects with 401 before any handler runs.
pub struct Caller(pub Identity);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let unauthorized = |m: String| ApiError(StatusCode::UNAUTHORIZED, m);
        match &state.auth {
            Auth::Gateway => parts
                .extensions
                .get::<Identity>()
                .cloned()
                .map(Caller)
                .ok_or_else(|| unauthorized(auth::AuthError::NoGatewayIdentity.to_string())),
            Auth::Hs256(secret) => {
                let token = parts
                    .headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .ok_or_else(|| unauthorized(auth::AuthError::Missing.to_string()))?;
                auth::verify(secret, token.trim()).map(Caller).map_err(|e| unauthorized(e.to_string()))
            }
        }
    }
}

/// A caller allowed to change things.
pub struct OperatorCaller(pub Actor);

impl FromRequestParts<Arc<AppState>> for OperatorCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let Caller(id) = Caller::from_request_parts(parts, state).await?;
        if id.role != Role::Operator {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                format!("{} is a {:?}; this needs an operator", id.sub, id.role).to_lowercase(),
            ));
        }
        Ok(OperatorCaller(Actor(id.sub)))
    }
}

fn session(raw: &str) -> Result<SessionId, ApiError> {
    SessionId::parse(raw).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))
}

/// Every route of the admin API, as the template declares them (checked by the template test).
pub const ROUTES: [(&str, &str); 27] = [
    ("POST", "/sessions"),
    ("GET", "/sessions/current"),
    ("GET", "/sessions/{id}"),
    ("GET", "/sessions/{id}/audit"),
    ("POST", "/sessions/{id}/orders/export"),
    ("POST", "/sessions/{id}/orders/confirm"),
    ("POST", "/sessions/{id}/inventory/export"),
    ("GET", "/sessions/{id}/inventory/download"),
    ("POST", "/sessions/{id}/inventory/confirm"),
    ("POST", "/sessions/{id}/steps/{n}/retry"),
    ("POST", "/sessions/{id}/reset"),
    ("GET", "/operations/webhooks"),
    ("GET", "/operations/webhooks/dead-letters"),
    ("POST", "/operations/webhooks/dead-letters/retry"),
    ("POST", "/operations/webhooks/dead-letters/{id}/retry"),
    ("POST", "/operations/webhooks/dead-letters/{id}/discard"),
    ("POST", "/operations/webhooks/replay"),
    ("POST", "/store-sync/compare"),
    ("GET", "/store-sync/plans/{id}"),
    ("POST", "/store-sync/plans/{id}/sync"),
    ("GET", "/store-sync/runs/{id}"),
    ("POST", "/store-sync/runs/{id}/rollback"),
    ("GET", "/supplier/runs"),
    ("GET", "/supplier/runs/{run}"),
    ("GET", "/supplier/runs/{run}/entries"),
    ("POST", "/supplier/runs/{run}/entries/{sku}/review"),
    ("POST", "/supplier/runs/{run}/review"),
];

/// The webhook route: authenticated by each source's signature, not by a JWT.
pub const WEBHOOK_ROUTE: (&str, &str) = ("POST", "/webhooks/{source}");

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(WEBHOOK_ROUTE.1, post(webhook))
        .route("/sessions", post(start))
        .route("/sessions/current", get(current))
        .route("/sessions/{id}", get(view))
        .route("/sessions/{id}/audit", get(audit))
        .route("/sessions/{id}/orders/export", action_route(Action::Retry { step: 2, override_blast_radius: None }))
        .route("/sessions/{id}/orders/confirm", action_route(Action::ConfirmOrders))
        .route("/sessions/{id}/inventory/export", action_route(Action::GenerateInventory))
        .route("/sessions/{id}/inventory/download", get(download))
        .route("/sessions/{id}/inventory/confirm", action_route(Action::ConfirmInventory))
        .route("/sessions/{id}/steps/{n}/retry", post(retry))
        .route("/sessions/{id}/reset", post(reset))
        .route("/operations/webhooks", get(ops_overview))
        .route("/operations/webhooks/dead-letters", get(ops_dead))
        .route("/operations/webhooks/dead-letters/retry", post(ops_retry_all))
        .route("/operations/webhooks/dead-letters/{id}/retry", post(ops_retry))
        .route("/operations/webhooks/dead-letters/{id}/discard", post(ops_discard))
        .route("/operations/webhooks/replay", post(ops_replay))
        .route("/store-sync/compare", post(store::compare))
        .route("/store-sync/plans/{id}", get(store::plan))
        .route("/store-sync/plans/{id}/sync", post(store::sync))
        .route("/store-sync/runs/{id}", get(store::run))
        .route("/store-sync/runs/{id}/rollback", post(store::rollback))
        .route("/supplier/runs", get(supplier::runs))
        .route("/supplier/runs/{run}", get(supplier::run))
        .route("/supplier/runs/{run}/entries", get(supplier::entries))
        .route("/supplier/runs/{run}/entries/{sku}/review", post(supplier::review_one))
        .route("/supplier/runs/{run}/review", post(supplier::review_all))
        .with_state(state)
}

fn action_route(a: Action) -> MethodRouter<Arc<AppState>> {
    post(move |c: OperatorCaller, s: State<Arc<AppState>>, p: Path<String>| {
        let a = a.clone();
        async move { act(c, s, p, a).await }
    })
}

async fn start(OperatorCaller(actor): OperatorCaller, State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let s = st.workflow.start(&actor).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "session": s }))).into_response())
}

async fn current(_: Caller, State(st): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "session": st.workflow.current().await? })))
}

async fn view(_: Caller, State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let v = st.workflow.view(&session(&id)?).await?;
    Ok(Json(serde_json::to_value(v).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?))
}

async fn audit(_: Caller, State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let s = session(&id)?;
    let entries = st.workflow.ports().audit.list(&format!("session/{s}")).await.map_err(WorkflowError::from)?;
    Ok(Json(json!({ "session": s, "entries": entries })))
}

async fn act(
    OperatorCaller(actor): OperatorCaller,
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    action: Action,
) -> Result<Response, ApiError> {
    let cmd = st.workflow.request(&session(&id)?, action, &actor).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "enqueued": cmd }))).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryBody {
    override_blast_radius: Option<String>,
}

async fn retry(
    caller: OperatorCaller,
    state: State<Arc<AppState>>,
    Path((id, n)): Path<(String, u8)>,
    body: Option<Json<RetryBody>>,
) -> Result<Response, ApiError> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    act(caller, state, Path(id), Action::Retry { step: n, override_blast_radius: body.override_blast_radius }).await
}

impl From<OpsError> for ApiError {
    fn from(e: OpsError) -> Self {
        let code = match &e {
            OpsError::NotFound(_) => StatusCode::NOT_FOUND,
            OpsError::NotRetryable { .. } => StatusCode::CONFLICT,
            OpsError::NoReason(_) => StatusCode::BAD_REQUEST,
            OpsError::Port(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError(code, e.to_string())
    }
}

fn to_json(v: impl serde::Serialize) -> Result<Json<Value>, ApiError> {
    serde_json::to_value(v).map(Json).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn ops_overview(_: Caller, State(st): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    to_json(operators::overview(st.workflow.ports()).await?)
}

async fn ops_dead(_: Caller, State(st): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "dead_letters": operators::dead_letters(st.workflow.ports()).await? })))
}

async fn ops_retry_all(
    OperatorCaller(actor): OperatorCaller,
    State(st): State<Arc<AppState>>,
) -> Result<Json<Value>, ApiError> {
    let n = operators::retry_all(st.workflow.ports(), &actor.0).await?;
    Ok(Json(json!({ "retried": n })))
}

async fn ops_retry(
    OperatorCaller(actor): OperatorCaller,
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    operators::retry(st.workflow.ports(), &id, &actor.0).await?;
    Ok(Json(json!({ "retried": id })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscardBody {
    reason: String,
}

async fn ops_discard(
    OperatorCaller(actor): OperatorCaller,
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Json(body): Json<DiscardBody>,
) -> Result<Json<Value>, ApiError> {
    operators::discard(st.workflow.ports(), &id, &body.reason, &actor.0).await?;
    Ok(Json(json!({ "discarded": id })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    source: String,
    since: chrono::DateTime<chrono::Utc>,
}

async fn ops_replay(
    OperatorCaller(actor): OperatorCaller,
    State(st): State<Arc<AppState>>,
    Json(body): Json<ReplayBody>,
) -> Result<Json<Value>, ApiError> {
    let source = WebhookSource::parse(&body.source).ok_or_else(|| {
        ApiError(StatusCode::BAD_REQUEST, format!("source {:?}: use wms, shopify or woocommerce", body.source))
    })?;
    let n = operators::replay(st.workflow.ports(), source, body.since, &actor.0).await?;
    Ok(Json(json!({ "queued": n })))
}

async fn reset(
    OperatorCaller(actor): OperatorCaller,
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    st.workflow.reset(&session(&id)?, &actor).await?;
    Ok((StatusCode::OK, Json(json!({ "session": id, "state": "reset" }))).into_response())
}

/// A presigned URL on AWS (307 to it); the file itself locally.
async fn download(_: Caller, State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let url = st.workflow.download_url(&session(&id)?).await?;
    if let Some(path) = url.strip_prefix("file://") {
        let bytes =
            std::fs::read(path).map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("{path}: {e}")))?;
        let name = path.rsplit('/').next().unwrap_or("export.csv").to_string();
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
            .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""))
            .body(Body::from(bytes))
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
    }
    Response::builder()
        .status(StatusCode::TEMPORARY_REDIRECT)
        .header(header::LOCATION, &url)
        .body(Body::from(json!({ "url": url }).to_string()))
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Request headers as the signature checks read them.
struct HttpHeaders<'a>(&'a axum::http::HeaderMap);

impl Headers for HttpHeaders<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `POST /webhooks/{source}`: verified, deduplicated and made durable (queued, or recorded in an
/// outbox that queues it) before the 200.
async fn webhook(
    State(st): State<Arc<AppState>>,
    Path(source): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let reply = |code: StatusCode, v: Value| (code, Json(v)).into_response();
    let Some(src) = WebhookSource::parse(&source) else {
        return reply(
            StatusCode::NOT_FOUND,
            json!({ "error": format!("unknown webhook source {source:?}: use wms, shopify or woocommerce") }),
        );
    };
    let Some(receiver) = &st.webhooks else {
        return reply(StatusCode::SERVICE_UNAVAILABLE, json!({ "error": "webhooks are not configured here" }));
    };
    match receiver.handle(src, &HttpHeaders(&headers), &body).await {
        Ok(Reply::Accepted) => reply(StatusCode::OK, json!({ "status": "accepted" })),
        Ok(Reply::Duplicate) => reply(StatusCode::OK, json!({ "status": "duplicate" })),
        Ok(Reply::Ping) => reply(StatusCode::OK, json!({ "status": "ping" })),
        Ok(Reply::DeadLettered(reason)) => {
            reply(StatusCode::OK, json!({ "status": "dead-lettered", "reason": reason }))
        }
        Ok(Reply::Unauthorized(e)) => reply(StatusCode::UNAUTHORIZED, json!({ "error": e })),
        Ok(Reply::TooLarge(e)) => reply(StatusCode::PAYLOAD_TOO_LARGE, json!({ "error": e })),
        Ok(Reply::BadRequest(e)) => reply(StatusCode::BAD_REQUEST, json!({ "error": e })),
        Err(e) => {
            // Not durable: the sender must retry, so no 2xx.
            tracing::error!(error = %e, "webhook receipt failed");
            reply(StatusCode::SERVICE_UNAVAILABLE, json!({ "error": "temporarily unavailable; retry" }))
        }
    }
}
