//! The supplier's scheduled jobs: poll the feed's FTP folder (the plain schedule), sync the
//! stock from Xorosoft, check the store for edits made in Shopify, re-queue approvals left
//! unapplied.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use storesync_aws::supplier::{handle_scheduled, start, JobConnector};
use storesync_core::stores::catalog_sync::CatalogStore;
use storesync_core::stores::inventory::InventoryStore;
use storesync_core::stores::Platform;
use storesync_core::supplier::distributor::Distributor;
use storesync_core::supplier::source::FeedSource;

/// The platforms from the SSM parameters, then the environment.
struct Configured(HashMap<String, String>);

impl Configured {
    fn get(&self, k: &str) -> Option<String> {
        self.0.get(k).cloned().or_else(|| std::env::var(k).ok())
    }
}

#[async_trait::async_trait]
impl JobConnector for Configured {
    fn source(&self) -> Result<Box<dyn FeedSource>, String> {
        Ok(Box::new(storesync_platforms::supplier::ftp_source(|k| self.get(k))?))
    }

    fn distributor(&self) -> Result<Box<dyn Distributor>, String> {
        Ok(Box::new(storesync_platforms::supplier::xorosoft(|k| self.get(k))?))
    }

    fn catalog(&self) -> Result<Box<dyn CatalogStore>, String> {
        storesync_platforms::stores::connect_catalog(Platform::Shopify, |k| self.get(k)).map_err(|e| e.to_string())
    }

    async fn inventory(&self) -> Result<Box<dyn InventoryStore>, String> {
        storesync_platforms::stores::connect(Platform::Shopify, |k| self.get(k)).await.map_err(|e| e.to_string())
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (edge, params, settings) = start().await?;
    let connect = Arc::new(Configured(params));
    let ports = edge.workflow.ports().clone();
    lambda_runtime::run(lambda_runtime::service_fn(move |ev: lambda_runtime::LambdaEvent<Value>| {
        let (ports, settings, connect) = (ports.clone(), settings.clone(), connect.clone());
        async move { handle_scheduled(&ports, connect.as_ref(), &settings, ev.payload).await }
    }))
    .await
}
