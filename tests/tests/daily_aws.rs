//! The daily-flow scenarios against the template deployed to moto_server: S3, DynamoDB and SQS
//! resources created by the stack, handlers fed the event shapes of `events/`.

use storesync_tests::aws::AwsBackend;
use storesync_tests::scenarios;

macro_rules! scenario {
    ($($name:ident),* $(,)?) => {
        const RUN: &[&str] = &[$(stringify!($name)),*];
        $(
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
    let mut here = RUN.to_vec();
    let mut all = scenarios::ALL.to_vec();
    here.sort();
    all.sort();
    assert_eq!(here, all, "every scenario of the suite runs on this backend");
}
