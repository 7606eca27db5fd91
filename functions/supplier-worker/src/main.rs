//! The supplier worker function: batches validated with Xorosoft, matched against the Shopify
//! store and staged; approved entries applied to it; low-stock alerts synced from Xorosoft.

use std::sync::Arc;

use serde_json::Value;
use storesync_aws::supplier::{handle_worker_event, start, SupplierDeps};
use storesync_core::config::ENV_SHOPIFY_LOCATION;
use storesync_core::stores::Platform;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (edge, params, settings) = start().await?;
    let lookup = |k: &str| params.get(k).cloned().or_else(|| std::env::var(k).ok());
    let distributor = Arc::new(storesync_platforms::supplier::xorosoft(lookup)?);
    let store = storesync_platforms::stores::connect_catalog(Platform::Shopify, lookup)?;
    let location = lookup(ENV_SHOPIFY_LOCATION).filter(|l| !l.trim().is_empty());
    // Low-stock alerts write stock at the location; without one they fail with that reason.
    let inventory = match storesync_platforms::stores::connect(Platform::Shopify, lookup).await {
        Ok(s) => Some(Arc::from(s)),
        Err(e) => {
            tracing::warn!(error = %e, "no Shopify stock location: low-stock alerts will fail until it is configured");
            None
        }
    };
    let deps = Arc::new(SupplierDeps::new(distributor, Arc::from(store), inventory, location, settings));
    let ports = edge.workflow.ports().clone();
    let urls = Arc::new(edge.resources.queue_urls);
    lambda_runtime::run(lambda_runtime::service_fn(move |ev: lambda_runtime::LambdaEvent<Value>| {
        let (ports, deps, urls) = (ports.clone(), deps.clone(), urls.clone());
        async move { handle_worker_event(&ports, &deps, &urls, ev.payload).await }
    }))
    .await
}
