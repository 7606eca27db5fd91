//! The supplier ingest function: an object under `raw/etilize/` read into batches of 100.

use serde_json::Value;
use storesync_aws::supplier::{handle_ingest_event, start};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (edge, _, settings) = start().await?;
    let ports = edge.workflow.ports().clone();
    lambda_runtime::run(lambda_runtime::service_fn(move |ev: lambda_runtime::LambdaEvent<Value>| {
        let (ports, settings) = (ports.clone(), settings.clone());
        async move { handle_ingest_event(&ports, &settings, ev.payload).await }
    }))
    .await
}
