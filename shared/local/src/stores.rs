//! Store ⇄ store sync in the local runtime: the stores opened from configuration
//! (`storesync_platforms::stores::connect`) and the compare and sync workers.

use std::time::Duration;

use storesync_core::ports::Delivery;
use storesync_core::stores::inventory::InventoryStore;
pub use storesync_platforms::stores::{connect, connect_catalog, ConfiguredStores};

use crate::runtime::LocalError;

/// One receive from `queue`: each message goes to `handle`, and is acknowledged when it
/// succeeds, else left for a retry after `retry_secs` (after the queue's receives it is
/// dead-lettered). Returns how many messages were handled successfully, and how many received.
async fn pass<Fut: std::future::Future<Output = Result<(), String>>>(
    ports: &storesync_core::ports::Ports,
    queue: &str,
    retry_secs: u32,
    handle: impl Fn(Delivery) -> Fut,
) -> Result<(usize, usize), storesync_core::ports::PortError> {
    let batch = ports.queue.receive(queue, 10, 300).await?;
    let mut handled = 0;
    for d in &batch {
        match handle(d.clone()).await {
            Ok(()) => {
                ports.queue.ack(queue, &d.receipt).await?;
                handled += 1;
            }
            Err(e) => {
                tracing::warn!(queue, error = e, attempt = d.receive_count, "left for a retry");
                ports.queue.retry_later(queue, &d.receipt, retry_secs).await?;
            }
        }
    }
    Ok((handled, batch.len()))
}

/// The sync worker in the local runtime: writes every queued chunk to `destination` until the
/// queue is empty, calling `progress` with the items of the chunks each pass handled. A chunk
/// that fails transiently is retried after `retry_secs` (its idempotency key keeps it from
/// applying twice).
pub async fn drain_sync_queue(
    ports: &storesync_core::ports::Ports,
    destination: &dyn InventoryStore,
    retry_secs: u32,
    progress: impl FnMut(usize),
) -> Result<usize, LocalError> {
    use storesync_core::stores::sync::work;
    drain_with(ports, retry_secs, progress, |d| async move { work(ports, destination, &d).await }).await
}

/// [`drain_sync_queue`] for a catalog run's chunks (pages, posts, coupons, collections).
pub async fn drain_catalog_queue(
    ports: &storesync_core::ports::Ports,
    destination: &dyn storesync_core::stores::catalog_sync::CatalogStore,
    retry_secs: u32,
    progress: impl FnMut(usize),
) -> Result<usize, LocalError> {
    use storesync_core::stores::catalog_sync::work_catalog;
    drain_with(ports, retry_secs, progress, |d| async move { work_catalog(ports, destination, &d).await }).await
}

async fn drain_with<Fut: std::future::Future<Output = Result<(), storesync_core::stores::sync::SyncError>>>(
    ports: &storesync_core::ports::Ports,
    retry_secs: u32,
    mut progress: impl FnMut(usize),
    work: impl Fn(Delivery) -> Fut,
) -> Result<usize, LocalError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use storesync_core::stores::sync::{ChunkMessage, SYNC_QUEUE};
    let mut handled = 0;
    loop {
        let items = AtomicUsize::new(0);
        let (done, received) = pass(ports, SYNC_QUEUE, retry_secs, |d| {
            let (items, work) = (&items, &work);
            async move {
                let n = serde_json::from_str::<ChunkMessage>(&d.body).map(|m| m.items.len()).unwrap_or(0);
                work(d).await.map_err(|e| e.to_string())?;
                items.fetch_add(n, Ordering::Relaxed);
                Ok(())
            }
        })
        .await?;
        handled += done;
        progress(items.load(Ordering::Relaxed));
        if received == 0 {
            let depth = ports.queue.depth(SYNC_QUEUE).await?;
            if depth.visible + depth.not_visible == 0 {
                return Ok(handled);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
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
        let compared = pass(&ports, COMPARE_QUEUE, 5, |d| {
            let (ports, stores) = (ports.clone(), stores.clone());
            async move { run_compare_request(&ports, stores.as_ref(), &d).await.map_err(|e| e.to_string()) }
        })
        .await;
        let synced = pass(&ports, SYNC_QUEUE, 5, |d| {
            let (ports, stores) = (ports.clone(), stores.clone());
            async move { work_with(&ports, stores.as_ref(), &d).await.map_err(|e| e.to_string()) }
        })
        .await;
        let mut busy = false;
        for r in [compared, synced] {
            match r {
                Ok((_, received)) => busy |= received > 0,
                Err(e) => tracing::warn!(error = %e, "store sync worker"),
            }
        }
        if !busy {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
