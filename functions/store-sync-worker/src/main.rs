//! The store sync worker function: each queued chunk of a confirmed sync, written to the
//! destination store in one call.

use storesync_aws::stores::{run_store_worker, Worker};
use storesync_platforms::stores::ConfiguredStores;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run_store_worker(Worker::Sync, ConfiguredStores::shared).await
}
