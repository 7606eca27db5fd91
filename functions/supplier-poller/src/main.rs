//! The supplier's scheduled jobs: poll the feed's FTP folder (the plain schedule), sync the
//! stock from Xorosoft, check the store for edits made in Shopify, re-queue approvals left
//! unapplied.

use std::sync::Arc;

use serde_json::Value;
use storesync_aws::supplier::{handle_scheduled, start};
use storesync_platforms::supplier::Connected;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (edge, params, settings) = start().await?;
    let platforms = Arc::new(Connected::connect(|k| params.get(k).cloned().or_else(|| std::env::var(k).ok())));
    let ports = edge.workflow.ports().clone();
    lambda_runtime::run(lambda_runtime::service_fn(move |ev: lambda_runtime::LambdaEvent<Value>| {
        let (ports, settings, platforms) = (ports.clone(), settings.clone(), platforms.clone());
        async move { handle_scheduled(&ports, platforms.as_ref(), &settings, ev.payload).await }
    }))
    .await
}
