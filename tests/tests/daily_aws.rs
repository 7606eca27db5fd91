//! The daily-flow scenarios against the template deployed to moto_server: S3, DynamoDB and SQS
//! resources created by the stack, handlers fed the event shapes of `events/`.

use storesync_tests::aws::AwsBackend;

async fn backend(scenario: &str) -> AwsBackend {
    AwsBackend::deploy(&format!("storesync-{}", scenario.replace('_', "-"))).await
}

storesync_tests::scenario_tests!(
    backend;
    bad_inputs,
    happy_path,
    missing_column,
    validation_errors,
    blast_radius,
    stale_file,
    comax_mapping,
    reset_and_retry,
);
