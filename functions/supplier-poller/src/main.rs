//! The supplier poller function: one poll of the feed's FTP folder per scheduled event.

use std::sync::Arc;

use serde_json::Value;
use storesync_aws::supplier::{handle_poll_event, start};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (edge, params, settings) = start().await?;
    let lookup = |k: &str| params.get(k).cloned().or_else(|| std::env::var(k).ok());
    let source = Arc::new(storesync_platforms::supplier::ftp_source(lookup)?);
    let ports = edge.workflow.ports().clone();
    lambda_runtime::run(lambda_runtime::service_fn(move |_: lambda_runtime::LambdaEvent<Value>| {
        let (ports, settings, source) = (ports.clone(), settings.clone(), source.clone());
        async move { handle_poll_event(&ports, source.as_ref(), &settings).await }
    }))
    .await
}
