//! The supplier catalog in Lambda: the poller (an EventBridge schedule), the ingest (S3
//! `ObjectCreated` under `raw/etilize/`) and the worker (the batch and apply queues, partial
//! batch failures). The function crates open the platforms ([`SupplierPlatforms`]: this crate
//! does not know the platform clients).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::s3::S3Event;
use serde_json::{json, Value};
use storesync_core::ports::Ports;
use storesync_core::supplier::pipeline::{
    ingest, work_batch, StoreSnapshot, SupplierSettings, APPLY_QUEUE, BATCH_QUEUE, RAW_PREFIX,
};
use storesync_core::supplier::worker::{handle, run_job, SupplierPlatforms};

use crate::lambda::EdgeError;
use crate::stores::each_message;

/// What the worker needs: the platforms, the settings, and the store's snapshot of the run it
/// last matched (kept while the function is warm).
pub struct SupplierDeps {
    pub platforms: Arc<dyn SupplierPlatforms>,
    pub settings: SupplierSettings,
    snapshot: Mutex<Option<(String, Arc<StoreSnapshot>)>>,
}

impl SupplierDeps {
    pub fn new(platforms: Arc<dyn SupplierPlatforms>, settings: SupplierSettings) -> Self {
        Self { platforms, settings, snapshot: Mutex::new(None) }
    }

    /// The store's products for `run`: read once per run (and per warm function).
    async fn snapshot(&self, run: &str) -> Result<Arc<StoreSnapshot>, String> {
        if let Some((r, s)) = self.snapshot.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            if r == run {
                return Ok(s.clone());
            }
        }
        let store = self.platforms.catalog()?;
        let s = Arc::new(StoreSnapshot::read(store).await.map_err(|e| e.to_string())?);
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
            let distributor = deps.platforms.distributor()?;
            work_batch(ports, distributor, &store, run, n, &deps.settings).await.map(|_| ()).map_err(|e| e.to_string())
        } else {
            handle(ports, deps.platforms.as_ref(), &deps.settings, &d.body, d.receive_count > 1)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
    .await
}

/// The supplier's scheduled jobs (`{"job": "poll"|"stock"|"check"|"sweep"}`, the plain
/// scheduled event being a poll): poll the feed's folder; sync the stock from Xorosoft; check
/// every product for edits made in Shopify; re-queue approvals left unapplied.
pub async fn handle_scheduled(
    ports: &Ports,
    platforms: &dyn SupplierPlatforms,
    settings: &SupplierSettings,
    event: Value,
) -> Result<Value, EdgeError> {
    let job = event["job"].as_str().unwrap_or("poll");
    let scratch = PathBuf::from(std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into())).join("supplier");
    run_job(ports, platforms, settings, job, &scratch).await.map_err(|e| EdgeError::Job(format!("supplier {job}: {e}")))
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
