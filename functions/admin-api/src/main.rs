//! The admin HTTP API function: the shared axum Router behind the HTTP API's JWT authorizer.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    storesync_aws::http::run_admin_api().await
}
