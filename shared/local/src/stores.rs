//! Store ⇄ store sync in the local runtime: the stores opened from configuration
//! (`storesync_platforms::stores::connect`) and the compare and sync workers.

use std::time::Duration;

use storesync_core::stores::inventory::InventoryStore;
use storesync_core::stores::Platform;
pub use storesync_platforms::stores::connect;

use crate::runtime::LocalError;

/// The sync worker in the local runtime: writes every queued chunk to `destination` until the
/// queue is empty, calling `progress` after each chunk. A chunk that fails transiently is
/// retried after `retry_secs` (its idempotency key keeps it from applying twice); after the
/// queue's receives it is dead-lettered.
pub async fn drain_sync_queue(
    ports: &storesync_core::ports::Ports,
    destination: &dyn InventoryStore,
    retry_secs: u32,
    mut progress: impl FnMut(),
) -> Result<usize, LocalError> {
    use storesync_core::stores::sync::{work, SYNC_QUEUE};
    let mut handled = 0;
    loop {
        let batch = ports.queue.receive(SYNC_QUEUE, 10, 300).await?;
        if batch.is_empty() {
            let depth = ports.queue.depth(SYNC_QUEUE).await?;
            if depth.visible + depth.not_visible == 0 {
                return Ok(handled);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        for d in batch {
            match work(ports, destination, &d.body).await {
                Ok(()) => {
                    ports.queue.ack(SYNC_QUEUE, &d.receipt).await?;
                    handled += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt = d.receive_count, "store sync chunk left for a retry");
                    ports.queue.retry_later(SYNC_QUEUE, &d.receipt, retry_secs).await?;
                }
            }
            progress();
        }
    }
}

/// The stores as configured (these variables first, then the environment), opened per use: a
/// missing variable fails that use with its name, not the runtime.
#[derive(Debug, Clone, Default)]
pub struct ConfiguredStores {
    pub vars: Vec<(String, String)>,
}

#[async_trait::async_trait]
impl storesync_core::stores::plans::StoreConnector for ConfiguredStores {
    async fn connect(&self, platform: Platform) -> Result<Box<dyn InventoryStore>, storesync_core::stores::StoreError> {
        let get =
            |k: &str| self.vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).or_else(|| std::env::var(k).ok());
        connect(platform, get).await.map_err(|e| storesync_core::stores::StoreError {
            platform,
            operation: "connect",
            message: e.to_string(),
            transient: false,
        })
    }
}

/// The compare and sync workers of the local runtime, for as long as it runs.
pub async fn work_forever(
    ports: storesync_core::ports::Ports,
    stores: std::sync::Arc<dyn storesync_core::stores::plans::StoreConnector>,
) {
    use storesync_core::stores::plans::{run_compare_request, COMPARE_QUEUE};
    use storesync_core::stores::sync::{work_with, SYNC_QUEUE};
    loop {
        let mut busy = false;
        for queue in [COMPARE_QUEUE, SYNC_QUEUE] {
            let batch = match ports.queue.receive(queue, 10, 300).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(queue, error = %e, "store sync worker");
                    continue;
                }
            };
            for d in batch {
                busy = true;
                let done = match queue {
                    COMPARE_QUEUE => {
                        run_compare_request(&ports, stores.as_ref(), &d.body).await.map_err(|e| e.to_string())
                    }
                    _ => work_with(&ports, stores.as_ref(), &d.body).await.map_err(|e| e.to_string()),
                };
                let step = match done {
                    Ok(()) => ports.queue.ack(queue, &d.receipt).await,
                    Err(e) => {
                        tracing::warn!(queue, error = e, attempt = d.receive_count, "left for a retry");
                        ports.queue.retry_later(queue, &d.receipt, 5).await
                    }
                };
                if let Err(e) = step {
                    tracing::warn!(queue, error = %e, "store sync worker");
                }
            }
        }
        if !busy {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
