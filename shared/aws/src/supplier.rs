//! The supplier catalog in Lambda: the poller (an EventBridge schedule), the ingest (S3
//! `ObjectCreated` under `raw/etilize/`) and the worker (the batch and apply queues, partial
//! batch failures). The function crates open the FTP source, the distributor and the store
//! (this crate does not know the platform clients).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::s3::S3Event;
use serde_json::{json, Value};
use storesync_core::ports::Ports;
use storesync_core::stores::catalog_sync::CatalogStore;
use storesync_core::stores::inventory::InventoryStore;
use storesync_core::supplier::distributor::Distributor;
use storesync_core::supplier::pipeline::{
    ingest, poll, work_batch, StoreSnapshot, SupplierSettings, APPLY_QUEUE, BATCH_QUEUE, RAW_PREFIX,
};
use storesync_core::supplier::source::FeedSource;
use storesync_core::supplier::worker::{handle, Writers};

use crate::lambda::EdgeError;
use crate::stores::each_message;

/// What the worker needs: the distributor, the store (its catalog, and its stock at the
/// configured location for low-stock alerts), the stock location, and the store's snapshot of
/// the run it last matched (kept while the function is warm).
pub struct SupplierDeps {
    pub distributor: Arc<dyn Distributor>,
    pub store: Arc<dyn CatalogStore>,
    pub inventory: Option<Arc<dyn InventoryStore>>,
    pub location: Option<String>,
    pub settings: SupplierSettings,
    snapshot: Mutex<Option<(String, Arc<StoreSnapshot>)>>,
}

impl SupplierDeps {
    pub fn new(
        distributor: Arc<dyn Distributor>,
        store: Arc<dyn CatalogStore>,
        inventory: Option<Arc<dyn InventoryStore>>,
        location: Option<String>,
        settings: SupplierSettings,
    ) -> Self {
        Self { distributor, store, inventory, location, settings, snapshot: Mutex::new(None) }
    }

    /// The store's products for `run`: read once per run (and per warm function).
    async fn snapshot(&self, run: &str) -> Result<Arc<StoreSnapshot>, String> {
        if let Some((r, s)) = self.snapshot.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            if r == run {
                return Ok(s.clone());
            }
        }
        let s = Arc::new(StoreSnapshot::read(self.store.as_ref()).await.map_err(|e| e.to_string())?);
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = Some((run.to_string(), s.clone()));
        Ok(s)
    }
}

/// The ingest's entry: each object of the event under `raw/etilize/` ingested; a failure fails
/// the invocation (Lambda retries an asynchronous event, and a finished run is not re-run).
pub async fn handle_ingest_event(ports: &Ports, settings: &SupplierSettings, event: Value) -> Result<Value, EdgeError> {
    let e: S3Event = serde_json::from_value(event).map_err(|source| EdgeError::BadEvent { kind: "S3", source })?;
    let mut out = Vec::new();
    for r in &e.records {
        let raw = r.s3.object.key.clone().unwrap_or_default();
        let key = crate::lambda::decode_s3_key(&raw);
        if !key.starts_with(RAW_PREFIX) {
            return Err(EdgeError::UnknownEvent(format!("{key} is not under {RAW_PREFIX}")));
        }
        let outcome = ingest(ports, &key, settings).await.map_err(|e| EdgeError::Job(format!("{key}: {e}")))?;
        out.push(json!(outcome));
    }
    Ok(json!({ "ingested": out }))
}

/// The worker's entry: each record of the SQS batch on its own (a batch of items from the
/// batch queue, approved entries from the apply queue); a failure is that record's.
pub async fn handle_worker_event(
    ports: &Ports,
    deps: &SupplierDeps,
    urls: &HashMap<String, String>,
    event: Value,
) -> Result<Value, EdgeError> {
    each_message(event, urls, &[BATCH_QUEUE, APPLY_QUEUE], |queue, d| async move {
        if queue == BATCH_QUEUE {
            let m: Value = serde_json::from_str(&d.body).map_err(|e| format!("not a supplier batch: {e}"))?;
            let (run, n) = (m["run"].as_str().unwrap_or_default(), m["batch"].as_u64().unwrap_or(0));
            let store = deps.snapshot(run).await?;
            work_batch(ports, deps.distributor.as_ref(), &store, run, n, &deps.settings)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else {
            let writers = Writers {
                store: deps.store.as_ref(),
                location: deps.location.as_deref(),
                policy: &deps.settings.conflicts,
                distributor: Some(deps.distributor.as_ref()),
                inventory: deps.inventory.as_deref(),
            };
            handle(ports, &writers, &d.body, d.receive_count > 1).await.map(|_| ()).map_err(|e| e.to_string())
        }
    })
    .await
}

/// What the scheduled jobs open, as configured (the function crate knows the platforms); a
/// missing setting fails that job with its name.
#[async_trait::async_trait]
pub trait JobConnector: Send + Sync {
    fn source(&self) -> Result<Box<dyn FeedSource>, String>;
    fn distributor(&self) -> Result<Box<dyn Distributor>, String>;
    fn catalog(&self) -> Result<Box<dyn CatalogStore>, String>;
    async fn inventory(&self) -> Result<Box<dyn InventoryStore>, String>;
}

/// The supplier's scheduled jobs (`{"job": "poll"|"stock"|"check"|"sweep"}`, the plain
/// scheduled event being a poll): poll the feed's folder; sync the stock from Xorosoft; check
/// every product for edits made in Shopify; re-queue approvals left unapplied.
pub async fn handle_scheduled(
    ports: &Ports,
    connect: &dyn JobConnector,
    settings: &SupplierSettings,
    event: Value,
) -> Result<Value, EdgeError> {
    let job = event["job"].as_str().unwrap_or("poll");
    let failed = |e: String| EdgeError::Job(format!("supplier {job}: {e}"));
    match job {
        "poll" => {
            let source = connect.source().map_err(failed)?;
            let scratch = PathBuf::from(std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into())).join("supplier");
            let report = poll(ports, source.as_ref(), settings, &scratch).await.map_err(|e| failed(e.to_string()))?;
            Ok(json!(report))
        }
        "stock" => {
            let distributor = connect.distributor().map_err(failed)?;
            let store = connect.inventory().await.map_err(failed)?;
            let key = format!("supplier-stock-{}", ports.clock.now().format("%Y%m%dT%H%M"));
            let r = storesync_core::supplier::inventory::sync_stock(
                ports,
                distributor.as_ref(),
                store.as_ref(),
                &settings.conflicts,
                &key,
            )
            .await
            .map_err(|e| failed(e.to_string()))?;
            Ok(json!(r))
        }
        "check" => {
            let store = connect.catalog().map_err(failed)?;
            let edited = storesync_core::supplier::syncdown::full_check(ports, store.as_ref())
                .await
                .map_err(|e| failed(e.to_string()))?;
            Ok(json!({ "products_edited_in_shopify": edited }))
        }
        "sweep" => {
            let n = storesync_core::supplier::apply::requeue_approved(ports, chrono::Duration::minutes(30))
                .await
                .map_err(|e| failed(e.to_string()))?;
            Ok(json!({ "requeued": n }))
        }
        other => Err(EdgeError::UnknownEvent(format!("supplier job {other:?}"))),
    }
}

/// The cold start of a supplier function: tracing, the AWS ports, the SSM parameters (the
/// secrets, named as the variables they stand for) and the settings.
pub async fn start() -> Result<(crate::lambda::Edge, HashMap<String, String>, SupplierSettings), lambda_runtime::Error>
{
    crate::lambda::init_tracing();
    let edge = crate::lambda::edge_from_env().await?;
    let params = crate::webhooks::secret_parameters(&edge.cfg).await?;
    let lookup = |k: &str| params.get(k).cloned().or_else(|| std::env::var(k).ok());
    let settings = SupplierSettings::from_lookup(lookup).map_err(|e| EdgeError::Job(e.to_string()))?;
    Ok((edge, params, settings))
}
