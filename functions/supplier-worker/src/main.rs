//! The supplier worker function: batches validated with Xorosoft, matched against the Shopify
//! store and staged; approved entries applied to it; low-stock alerts synced from Xorosoft.

use std::sync::Arc;

use serde_json::Value;
use storesync_aws::supplier::{handle_worker_event, start, SupplierDeps};
use storesync_platforms::supplier::Connected;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (edge, params, settings) = start().await?;
    let platforms = Connected::connect(|k| params.get(k).cloned().or_else(|| std::env::var(k).ok()));
    let deps = Arc::new(SupplierDeps::new(Arc::new(platforms), settings));
    let ports = edge.workflow.ports().clone();
    let urls = Arc::new(edge.resources.queue_urls);
    lambda_runtime::run(lambda_runtime::service_fn(move |ev: lambda_runtime::LambdaEvent<Value>| {
        let (ports, deps, urls) = (ports.clone(), deps.clone(), urls.clone());
        async move { handle_worker_event(&ports, &deps, &urls, ev.payload).await }
    }))
    .await
}
