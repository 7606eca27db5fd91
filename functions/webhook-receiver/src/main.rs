//! The webhook receiver function: `POST /webhooks/{source}`, authenticated by signatures.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    storesync_aws::http::run_webhook_receiver().await
}
