//! The daily-flow scenarios against the template deployed to moto_server: S3, DynamoDB and SQS
//! resources created by the stack, handlers fed the event shapes of `events/`.

use storesync_tests::aws::AwsBackend;
use storesync_tests::scenarios;

macro_rules! scenario {
    ($($name:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let b = AwsBackend::deploy(&format!("storesync-{}", stringify!($name).replace('_', "-"))).await;
            scenarios::run(stringify!($name), &b).await;
        }
    )*};
}

scenario!(
    bad_inputs,
    happy_path,
    missing_column,
    validation_errors,
    blast_radius,
    stale_file,
    comax_mapping,
    reset_and_retry
);

#[test]
fn every_scenario_has_a_test() {
    let src = include_str!("daily_aws.rs");
    for name in scenarios::ALL {
        assert!(src.contains(&format!("{name},")) || src.contains(&format!("{name})")), "{name} is not run here");
    }
}
