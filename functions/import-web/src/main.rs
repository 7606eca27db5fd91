//! A daily-sync step function: S3 uploads, SQS step commands and the daily schedule all reach
//! the same workflow; the event's shape tells them apart.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    storesync_aws::lambda::run_step_function().await
}
