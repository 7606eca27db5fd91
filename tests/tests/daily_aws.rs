//! The daily-flow scenarios against the template deployed to moto_server: S3, DynamoDB and SQS
//! resources created by the stack, handlers fed the event shapes of `events/`.

use storesync_tests::aws::AwsBackend;

async fn backend(scenario: &str) -> AwsBackend {
    AwsBackend::deploy(&format!("storesync-{}", scenario.replace('_', "-"))).await
}

storesync_tests::all_scenario_tests!(backend);
