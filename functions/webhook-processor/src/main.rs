//! The webhook processor function: the platform clients from the environment and SSM, the
//! processor on the AWS ports, and every SQS batch or schedule handed to it.

use std::sync::Arc;
use std::time::Duration;

use storesync_aws::webhooks::{handle_processor_event, lookup, secret_parameters};
use storesync_core::config::{ENV_WMS_KEY, ENV_WMS_URL, ENV_WOO_KEY, ENV_WOO_SECRET, ENV_WOO_URL};
use storesync_core::webhooks::processor::Processor;
use storesync_platforms::wms::client::WmsClient;
use storesync_platforms::woocommerce::client::WooClient;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    storesync_aws::lambda::init_tracing();
    let edge = storesync_aws::lambda::edge_from_env().await?;
    let params = secret_parameters(&edge.cfg).await?;
    let get = lookup(&params);
    let need = |k: &str| get(k).ok_or_else(|| format!("{k} is not set (environment or SSM parameter)"));
    let timeout = Duration::from_secs(10);
    let store = WooClient::new(&need(ENV_WOO_URL)?, &need(ENV_WOO_KEY)?, &need(ENV_WOO_SECRET)?, timeout)?;
    let wms = WmsClient::new(&need(ENV_WMS_URL)?, &need(ENV_WMS_KEY)?, timeout)?;
    let mut processor = Processor::new(edge.workflow.ports().clone(), Arc::new(store), Arc::new(wms));
    processor.configure(&get)?;
    let processor = Arc::new(processor);
    let urls = Arc::new(edge.resources.queue_urls.clone());
    lambda_runtime::run(lambda_runtime::service_fn(move |ev: lambda_runtime::LambdaEvent<serde_json::Value>| {
        let (processor, urls) = (processor.clone(), urls.clone());
        async move { handle_processor_event(&processor, &urls, ev.payload).await }
    }))
    .await
}
