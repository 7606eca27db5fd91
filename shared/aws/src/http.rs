//! The admin API in Lambda: the same axum Router, behind the HTTP API's JWT authorizer.

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use lambda_http::request::RequestContext;
use serde_json::Value;
use storesync_api::{router, AppState, Auth, Identity, Role};
use storesync_core::ports::Ports;
use storesync_core::workflow::Workflow;

use crate::lambda::EdgeError;

/// The caller from the JWT authorizer's claims (`sub`, and `role` or `custom:role`; no role
/// means a viewer). The authorizer has verified the token before the function runs.
pub fn identity_from_context(ctx: &RequestContext) -> Option<Identity> {
    let RequestContext::ApiGatewayV2(ctx) = ctx else { return None };
    let claims = &ctx.authorizer.as_ref()?.jwt.as_ref()?.claims;
    let sub = claims.get("sub")?.clone();
    let role =
        claims.get("role").or_else(|| claims.get("custom:role")).and_then(|r| Role::parse(r)).unwrap_or(Role::Viewer);
    Some(Identity { sub, role })
}

async fn gateway_identity(mut req: Request, next: Next) -> Response {
    let id = req.extensions().get::<RequestContext>().and_then(identity_from_context);
    if let Some(id) = id {
        req.extensions_mut().insert(id);
    }
    next.run(req).await
}

/// The admin API as the Lambda function serves it: the router, trusting the authorizer.
pub fn app(workflow: Arc<Workflow>) -> Router {
    router(Arc::new(AppState { workflow, auth: Auth::Gateway, webhooks: None }))
        .layer(axum::middleware::from_fn(gateway_identity))
}

/// The webhook receiver as its Lambda function serves it: the same router, taking webhooks
/// (the template routes only `POST /webhooks/{source}` here, without an authorizer).
pub fn webhook_app(workflow: Arc<Workflow>, receiver: Arc<storesync_core::webhooks::receiver::Receiver>) -> Router {
    router(Arc::new(AppState { workflow, auth: Auth::Gateway, webhooks: Some(receiver) }))
}

/// `main` of the webhook receiver function: secrets from SSM at cold start; HTTP events for
/// the receiver, and the state table's change stream for its outbox.
pub async fn run_webhook_receiver() -> Result<(), lambda_http::Error> {
    crate::lambda::init_tracing();
    let edge = crate::lambda::edge_from_env().await?;
    let secrets = crate::webhooks::secrets(&edge.cfg).await?;
    let ports = edge.workflow.ports().clone();
    let app = webhook_app(Arc::new(edge.workflow), crate::webhooks::receiver(ports.clone(), secrets));
    lambda_runtime::run(lambda_runtime::service_fn(move |ev: lambda_runtime::LambdaEvent<Value>| {
        let (app, ports) = (app.clone(), ports.clone());
        async move { handle_receiver_event(&app, &ports, ev.payload, ev.context).await }
    }))
    .await
}

/// The receiver function's entry: a change-stream batch goes to the outbox
/// ([`crate::webhooks::outbox_stream`]), anything else is an HTTP event for the router.
pub async fn handle_receiver_event(
    app: &Router,
    ports: &Ports,
    payload: Value,
    context: lambda_runtime::Context,
) -> Result<Value, EdgeError> {
    if let Some(event) = crate::webhooks::as_stream_event(&payload) {
        let done =
            crate::webhooks::outbox_stream(ports.queue.as_ref(), ports.blobs.as_ref(), ports.clock.now(), &event?)
                .await?;
        return Ok(serde_json::json!({ "queued": done.queued, "dead_lettered": done.dead_lettered }));
    }
    handle_http_event(app, payload, context).await
}

/// An HTTP event (HTTP API or function URL) through `app`, as `lambda_http::run` hands it over
/// and answers it: the response event.
pub async fn handle_http_event(
    app: &Router,
    payload: Value,
    context: lambda_runtime::Context,
) -> Result<Value, EdgeError> {
    use lambda_http::tower::ServiceExt;
    let request: lambda_http::request::LambdaRequest =
        serde_json::from_value(payload).map_err(|source| EdgeError::BadEvent { kind: "HTTP", source })?;
    let adapter = lambda_http::Adapter::from(app.clone());
    let Ok(response) = adapter.oneshot(lambda_runtime::LambdaEvent::new(request, context)).await;
    serde_json::to_value(response).map_err(|source| EdgeError::BadEvent { kind: "HTTP response", source })
}

/// `main` of the admin API function.
pub async fn run_admin_api() -> Result<(), lambda_http::Error> {
    crate::lambda::init_tracing();
    let wf = Arc::new(crate::lambda::workflow_from_env().await?);
    lambda_http::run(app(wf)).await
}
