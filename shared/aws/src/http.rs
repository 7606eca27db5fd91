//! The admin API in Lambda: the same axum Router, behind the HTTP API's JWT authorizer.

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use lambda_http::request::RequestContext;
use storesync_api::{router, AppState, Auth, Identity, Role};
use storesync_core::workflow::Workflow;

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

/// `main` of the webhook receiver function: secrets from SSM at cold start.
pub async fn run_webhook_receiver() -> Result<(), lambda_http::Error> {
    crate::lambda::init_tracing();
    let edge = crate::lambda::edge_from_env().await?;
    let secrets = crate::webhooks::secrets(&edge.cfg).await?;
    let ports = edge.workflow.ports().clone();
    let app = webhook_app(Arc::new(edge.workflow), crate::webhooks::receiver(ports, secrets));
    lambda_http::run(app).await
}

/// `main` of the admin API function.
pub async fn run_admin_api() -> Result<(), lambda_http::Error> {
    crate::lambda::init_tracing();
    let wf = Arc::new(crate::lambda::workflow_from_env().await?);
    lambda_http::run(app(wf)).await
}
