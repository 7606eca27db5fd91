//! The store compare function: each queued compare request reads both stores and keeps the plan.

use storesync_aws::stores::{run_store_worker, Worker};
use storesync_platforms::stores::ConfiguredStores;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run_store_worker(Worker::Compare, ConfiguredStores::shared).await
}
