//! The supplier catalog pipeline, on the ports: poll the feed's FTP folder → ingest the ZIP
//! (batches of 100 on a queue) → per batch: ask the distributor, match, stage, auto-approve.
//!
//! Each run follows the seed's data-flow states in its status log (session = the run id):
//! `monitoring` → `file_detected` → `downloading` → `processing` → `validation` → `matching` →
//! `staging` → `review_pending` | `complete`, or `error` / `retry_wait`.
//!
//! - A file is new by name + size + modification time; it is downloaded to a local scratch
//!   file, resumed where a cut left it, and put in the bucket (`raw/etilize/…`) only whole and
//!   only when its size is the listed one; then it is recorded as seen. A poll run twice sees it
//!   once.
//! - The ingest of a file is the run: its id comes from the file's version, so a repeated
//!   event re-runs the same batches (same keys, staging entries created once) and a finished
//!   run is not run again.
//! - Batches are blobs (`supplier/runs/{run}/batches/{n}.json`) named by their queue message;
//!   each batch's outcome is a blob too, and the run's counts are their sum.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek};
use std::path::Path;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::distributor::{Distributor, DistributorError, LOOKUP_LIMIT};
use super::feed::{open_zipped_csv, BadRow, FeedError, FeedMapping, FeedReader, FeedRecord, SupplierItem};
use super::matching::CatalogIndex;
use super::source::{matches, FeedSource, RemoteFile, SourceError};
use super::staging::{stage, StagingStatus, AUTO_APPROVE_ABOVE};
use crate::csvio::CsvError;
use crate::domain::SessionId;
use crate::ports::{Blob, PortError, Ports, StatusEntry, StepStatus};
use crate::webhooks::jobs::Schedule;

/// The queue of batches to validate, match and stage (`{"run", "batch"}`).
pub const BATCH_QUEUE: &str = "supplier-batches";
/// The queue of approved entries to apply to the store (`{"ids": [...]}`).
pub const APPLY_QUEUE: &str = "supplier-apply";
/// Where downloaded feed files are kept (an object put here starts its ingest).
pub const RAW_PREFIX: &str = "raw/etilize/";
/// The supplier's scheduled jobs (the `job` of a scheduled event) and their schedules; the
/// poll's expression is the template's `SupplierPollSchedule` parameter (every 15 minutes by
/// default, its period here).
pub const JOBS: [Schedule; 4] = [
    Schedule { job: "poll", expression: "SupplierPollSchedule", every_secs: 900 },
    Schedule { job: "stock", expression: "rate(1 hour)", every_secs: 3600 },
    Schedule { job: "check", expression: "rate(1 day)", every_secs: 86_400 },
    Schedule { job: "sweep", expression: "rate(30 minutes)", every_secs: 1800 },
];

/// Items per batch: one distributor look-up.
pub const BATCH_SIZE: usize = LOOKUP_LIMIT;

#[derive(Debug, thiserror::Error)]
pub enum SupplierError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error("{0}")]
    Source(SourceError),
    #[error("{0}")]
    Distributor(DistributorError),
    #[error("{0}")]
    Invalid(String),
}

impl SupplierError {
    /// Worth a retry later (a queue redelivery, the next poll).
    pub fn transient(&self) -> bool {
        match self {
            SupplierError::Port(_) => true,
            SupplierError::Source(e) => e.transient,
            SupplierError::Distributor(e) => e.transient,
            _ => false,
        }
    }
}

/// The FTP server of the feed (`host:port`), its user, password (a secret) and folder.
pub const ENV_FTP_ADDRESS: &str = "STORESYNC_SUPPLIER_FTP_ADDRESS";
pub const ENV_FTP_USER: &str = "STORESYNC_SUPPLIER_FTP_USER";
pub const ENV_FTP_PASSWORD: &str = "STORESYNC_SUPPLIER_FTP_PASSWORD";
pub const ENV_FTP_FOLDER: &str = "STORESYNC_SUPPLIER_FTP_FOLDER";
/// `explicit` for FTPS (`AUTH TLS`), `none` (the default) for plain FTP.
pub const ENV_FTP_TLS: &str = "STORESYNC_SUPPLIER_FTP_TLS";
/// A PEM file of certificates to trust besides the system's (a private CA, a self-signed server).
pub const ENV_FTP_CA_FILE: &str = "STORESYNC_SUPPLIER_FTP_CA_FILE";
/// Which files are the feed (default `CowanOfficeSupplies*.zip`).
pub const ENV_PATTERN: &str = "STORESYNC_SUPPLIER_PATTERN";
/// Entries above this confidence are approved as staged (default 95).
pub const ENV_AUTO_APPROVE_ABOVE: &str = "STORESYNC_SUPPLIER_AUTO_APPROVE_ABOVE";
/// The distributor's API and its token (a secret).
pub const ENV_XOROSOFT_URL: &str = "STORESYNC_XOROSOFT_URL";
pub const ENV_XOROSOFT_TOKEN: &str = "STORESYNC_XOROSOFT_TOKEN";

/// The pipeline's settings (TOML `[supplier]`; defaults for the office-supplies merchant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupplierSettings {
    /// Which files of the FTP folder are the feed.
    pub pattern: String,
    /// Entries above this confidence are approved as they are staged.
    pub auto_approve_above: u8,
    /// Tries per download (each resuming where the last stopped).
    pub download_attempts: u32,
    pub mapping: FeedMapping,
    /// How a field Shopify changed since staging is decided.
    pub conflicts: super::conflict::ConflictPolicy,
}

impl Default for SupplierSettings {
    fn default() -> Self {
        Self {
            pattern: "CowanOfficeSupplies*.zip".into(),
            auto_approve_above: AUTO_APPROVE_ABOVE,
            download_attempts: 5,
            mapping: FeedMapping::default(),
            conflicts: Default::default(),
        }
    }
}

impl SupplierSettings {
    /// The defaults, with the pattern and the threshold from `get` where set.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SupplierError> {
        let mut s = Self::default();
        if let Some(p) = get(ENV_PATTERN).filter(|p| !p.trim().is_empty()) {
            s.pattern = p.trim().to_string();
        }
        if let Some(t) = get(ENV_AUTO_APPROVE_ABOVE).filter(|t| !t.trim().is_empty()) {
            s.auto_approve_above = t.trim().parse().ok().filter(|t: &u8| *t <= 100).ok_or_else(|| {
                SupplierError::Invalid(format!("{ENV_AUTO_APPROVE_ABOVE}={t:?}: a confidence from 0 to 100"))
            })?;
        }
        Ok(s)
    }
}

/// The data-flow states of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Monitoring,
    FileDetected,
    Downloading,
    Processing,
    Validation,
    Matching,
    Staging,
    ReviewPending,
    Syncing,
    Complete,
    Error,
    RetryWait,
}

impl RunState {
    fn step(self) -> (u8, &'static str) {
        match self {
            Self::Monitoring | Self::FileDetected | Self::Downloading => (1, "download"),
            Self::Processing => (2, "ingest"),
            Self::Validation | Self::Matching | Self::Staging => (3, "match and stage"),
            Self::ReviewPending => (4, "review"),
            Self::Syncing | Self::Complete => (5, "apply"),
            Self::Error | Self::RetryWait => (0, "error"),
        }
    }

    fn status(self) -> StepStatus {
        match self {
            Self::Error => StepStatus::Failed,
            Self::Complete => StepStatus::Completed,
            Self::ReviewPending | Self::RetryWait => StepStatus::Waiting,
            _ => StepStatus::Processing,
        }
    }
}

async fn status(ports: &Ports, run: &str, state: RunState, message: String, details: Value) -> Result<(), PortError> {
    let (step, name) = state.step();
    let Ok(session) = SessionId::parse(run) else { return Ok(()) };
    let mut details = details;
    details["state"] = json!(state);
    ports
        .status
        .append(&StatusEntry {
            session,
            step,
            name: name.into(),
            status: state.status(),
            message,
            details,
            at: ports.clock.now(),
        })
        .await
}

fn hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A file version's identity: name, size and time.
fn version(f: &RemoteFile) -> String {
    hex(&[&f.name, &f.size.to_string(), &f.modified.map(|t| t.to_rfc3339()).unwrap_or_default()])
}

/// Where a feed file's version is kept: `raw/etilize/{date}/{version}/{name}` (its run is
/// `etilize-{version}`, see [`run_of`]); the date is the file's time, else `now`.
pub fn raw_key(f: &RemoteFile, now: DateTime<Utc>) -> String {
    let at = f.modified.unwrap_or(now);
    format!("{RAW_PREFIX}{}/{}/{}", at.format("%Y-%m-%d"), version(f), f.name)
}

/// The run of a feed object: `etilize-{version}` for the poller's keys, else from the key.
pub fn run_of(key: &str) -> String {
    let segment = key.strip_prefix(RAW_PREFIX).and_then(|rest| rest.split('/').nth(1));
    match segment {
        Some(v) if v.len() == 16 && v.bytes().all(|b| b.is_ascii_hexdigit()) => format!("etilize-{v}"),
        _ => format!("etilize-{}", hex(&[key])),
    }
}

/// What a poll did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PollReport {
    pub listed: usize,
    /// Files matching the pattern.
    pub feed_files: usize,
    pub seen_before: usize,
    /// Objects put in the bucket (each starts a run).
    pub downloaded: Vec<String>,
}

/// Polls the feed's folder once (see the module).
pub async fn poll(
    ports: &Ports,
    source: &dyn FeedSource,
    settings: &SupplierSettings,
    scratch: &Path,
) -> Result<PollReport, SupplierError> {
    let files = source.list().await.map_err(SupplierError::Source)?;
    let mut report = PollReport { listed: files.len(), ..Default::default() };
    std::fs::create_dir_all(scratch).map_err(|e| SupplierError::Invalid(format!("{}: {e}", scratch.display())))?;
    for f in files.iter().filter(|f| matches(&settings.pattern, &f.name)) {
        report.feed_files += 1;
        let v = version(f);
        let seen = format!("supplier/seen/{v}");
        if ports.kv.get(&seen).await?.is_some() {
            report.seen_before += 1;
            continue;
        }
        let run = format!("etilize-{v}");
        let key = raw_key(f, ports.clock.now());
        let detail = json!({ "file": f.name, "size": f.size, "modified": f.modified });
        status(ports, &run, RunState::FileDetected, format!("{} ({} bytes) is new", f.name, f.size), detail.clone())
            .await?;
        let part = scratch.join(format!("{v}.part"));
        download(ports, source, f, &part, &run, settings.download_attempts).await?;
        ports.blobs.put_file(&key, &part, f.modified).await?;
        ports.kv.put(&seen, &json!({ "key": key, "file": f.name, "size": f.size, "at": ports.clock.now() })).await?;
        let _ = std::fs::remove_file(&part);
        status(ports, &run, RunState::Processing, format!("{} downloaded to {key}", f.name), detail).await?;
        report.downloaded.push(key);
    }
    Ok(report)
}

/// Downloads `f` into `part`, resuming from what `part` holds, until it has `f.size` bytes.
async fn download(
    ports: &Ports,
    source: &dyn FeedSource,
    f: &RemoteFile,
    part: &Path,
    run: &str,
    attempts: u32,
) -> Result<(), SupplierError> {
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    if len(part) > f.size {
        // Not this version's bytes: start over.
        let _ = std::fs::remove_file(part);
    }
    let mut last = None;
    for attempt in 1..=attempts.max(1) {
        let offset = len(part);
        if offset == f.size {
            break;
        }
        let message = format!("downloading {}: {offset} of {} bytes (attempt {attempt})", f.name, f.size);
        status(ports, run, RunState::Downloading, message, json!({ "file": f.name, "offset": offset })).await?;
        match source.fetch(&f.name, offset, part).await {
            Ok(_) => last = None,
            Err(e) if e.transient => {
                let message = format!("{e}; resuming from byte {}", len(part));
                status(ports, run, RunState::RetryWait, message, json!({ "file": f.name })).await?;
                last = Some(e);
            }
            Err(e) => {
                status(ports, run, RunState::Error, e.message.clone(), json!({ "file": f.name })).await?;
                return Err(SupplierError::Source(e));
            }
        }
    }
    let got = len(part);
    if got != f.size {
        let why = last.map(|e| format!(": {e}")).unwrap_or_default();
        let message = format!("the download of {} stopped at {got} of {} bytes{why}", f.name, f.size);
        status(ports, run, RunState::Error, message.clone(), json!({ "file": f.name })).await?;
        // Kept for the next poll to resume; the file is not seen yet.
        return Err(SupplierError::Source(SourceError { transient: true, message }));
    }
    Ok(())
}

/// A run as its ingest left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    pub run: String,
    pub key: String,
    /// Data rows read (items, images of items and bad rows).
    pub items: u64,
    pub bad_rows: u64,
    pub batches: u64,
    pub metafield_columns: usize,
    pub ingested_at: DateTime<Utc>,
}

fn manifest_key(run: &str) -> String {
    format!("supplier/run/{run}")
}

fn batch_key(run: &str, n: u64) -> String {
    format!("supplier/runs/{run}/batches/{n:06}.json")
}

fn result_key(run: &str, n: u64) -> String {
    format!("supplier/runs/{run}/results/{n:06}.json")
}

pub fn bad_rows_key(run: &str) -> String {
    format!("supplier/runs/{run}/bad-rows.csv")
}

/// What an ingest did: the run's manifest, or that the run was finished already.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum IngestOutcome {
    Ingested(RunManifest),
    AlreadyIngested { run: String },
}

fn open_feed(key: &str, blob: Blob) -> Result<(String, Box<dyn Read + Send>), SupplierError> {
    fn boxed<R: Read + Seek + Send + 'static>(
        key: &str,
        r: R,
    ) -> Result<(String, Box<dyn Read + Send>), SupplierError> {
        if key.to_ascii_lowercase().ends_with(".zip") {
            Ok(open_zipped_csv(key, r)?)
        } else {
            Ok((key.to_string(), Box::new(r)))
        }
    }
    // A scratch copy may be removed once open: the open file reads on.
    let f = match &blob {
        Blob::Bytes(b) => return boxed(key, std::io::Cursor::new(b.clone())),
        Blob::File(p) => std::fs::File::open(p),
        Blob::Temp(t) => std::fs::File::open(t.path()),
    }
    .map_err(|e| SupplierError::Invalid(format!("{key}: {e}")))?;
    boxed(key, std::io::BufReader::with_capacity(1 << 16, f))
}

/// Ingests the feed object `key` (see the module): batches of 100 on [`BATCH_QUEUE`], bad rows
/// in `supplier/runs/{run}/bad-rows.csv`.
pub async fn ingest(ports: &Ports, key: &str, settings: &SupplierSettings) -> Result<IngestOutcome, SupplierError> {
    let run = run_of(key);
    if let Some(m) = ports.kv.get(&manifest_key(&run)).await? {
        if m["state"] == "ingested" {
            return Ok(IngestOutcome::AlreadyIngested { run });
        }
    }
    status(ports, &run, RunState::Processing, format!("reading {key}"), json!({ "key": key })).await?;
    let blob = ports.blobs.get(key).await?;
    let outcome = async {
        let (name, csv) = open_feed(key, blob)?;
        let mut feed = FeedReader::open(&name, csv, &settings.mapping)?;
        let (mut batch, mut n, mut items, mut bad): (Vec<SupplierItem>, u64, u64, Vec<BadRow>) =
            (Vec::with_capacity(BATCH_SIZE), 0, 0, Vec::new());
        while let Some(rec) = feed.next()? {
            match rec {
                FeedRecord::Item(item) => {
                    items += 1;
                    batch.push(*item);
                    if batch.len() == BATCH_SIZE {
                        send_batch(ports, &run, n, &batch).await?;
                        batch.clear();
                        n += 1;
                    }
                }
                FeedRecord::Bad(b) => bad.push(b),
            }
        }
        if !batch.is_empty() {
            send_batch(ports, &run, n, &batch).await?;
            n += 1;
        }
        Ok::<_, SupplierError>((items, bad, n, feed.metafield_columns()))
    }
    .await;
    let (items, bad, batches, metafield_columns) = match outcome {
        Ok(x) => x,
        Err(e) => {
            status(ports, &run, RunState::Error, e.to_string(), json!({ "key": key })).await?;
            return Err(e);
        }
    };
    if !bad.is_empty() {
        ports.blobs.put(&bad_rows_key(&run), bad_rows_csv(&bad), None).await?;
    }
    let manifest = RunManifest {
        run: run.clone(),
        key: key.to_string(),
        items,
        bad_rows: bad.len() as u64,
        batches,
        metafield_columns,
        ingested_at: ports.clock.now(),
    };
    let mut record = serde_json::to_value(&manifest).unwrap_or_default();
    record["state"] = json!("ingested");
    ports.kv.put(&manifest_key(&run), &record).await?;
    let message = format!("{items} items in {batches} batches of up to {BATCH_SIZE}; {} bad rows reported", bad.len());
    status(ports, &run, RunState::Validation, message, serde_json::to_value(&manifest).unwrap_or_default()).await?;
    if batches == 0 {
        status(ports, &run, RunState::Complete, "the feed holds no items".into(), json!({})).await?;
    }
    Ok(IngestOutcome::Ingested(manifest))
}

async fn send_batch(ports: &Ports, run: &str, n: u64, batch: &[SupplierItem]) -> Result<(), SupplierError> {
    let body = serde_json::to_vec(batch).map_err(|e| SupplierError::Invalid(e.to_string()))?;
    ports.blobs.put(&batch_key(run, n), Bytes::from(body), None).await?;
    ports.queue.send(BATCH_QUEUE, &json!({ "run": run, "batch": n }).to_string()).await?;
    Ok(())
}

fn bad_rows_csv(bad: &[BadRow]) -> Bytes {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["line", "column", "sku", "reason"]);
    for b in bad {
        let _ =
            w.write_record([b.line.to_string(), b.column.clone().unwrap_or_default(), b.sku.clone(), b.reason.clone()]);
    }
    Bytes::from(w.into_inner().unwrap_or_default())
}

/// The store's products as matching needs them: the index, and each product's fields for the
/// diff (by the product's id).
pub struct StoreSnapshot {
    pub index: CatalogIndex,
    pub fields: HashMap<String, BTreeMap<String, Value>>,
}

impl StoreSnapshot {
    /// The store's products as they are now (each variant matched on its own, with its
    /// product's title and vendor; a product's fields by its id).
    pub async fn read(store: &dyn crate::stores::catalog_sync::CatalogStore) -> Result<Self, SupplierError> {
        let records = store
            .read(crate::stores::catalog::DataType::Products)
            .await
            .map_err(|e| SupplierError::Invalid(format!("reading the store's products: {e}")))?;
        let mut products = Vec::new();
        let mut fields = HashMap::with_capacity(records.len());
        for r in records {
            let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
            let (title, vendor) = (text(r.fields.get("name")), text(r.fields.get("vendor")));
            let mpn = r.fields.get("product_info").and_then(|i| i.get("mpn")).and_then(Value::as_str).map(String::from);
            let variants: Vec<Value> = r.fields.get("variants").and_then(Value::as_array).cloned().unwrap_or_default();
            let one = [json!({ "sku": r.fields.get("sku"), "barcode": r.fields.get("barcode") })];
            for v in if variants.is_empty() { &one[..] } else { &variants[..] } {
                products.push(super::matching::StoreProduct {
                    id: r.id.clone(),
                    sku: text(v.get("sku")),
                    title: title.clone(),
                    vendor: vendor.clone(),
                    barcode: v.get("barcode").and_then(Value::as_str).map(String::from),
                    mpn: mpn.clone(),
                });
            }
            fields.insert(r.id, r.fields);
        }
        Ok(Self { index: CatalogIndex::new(products), fields })
    }
}

/// One batch's outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    pub items: u64,
    pub not_carried: Vec<String>,
    pub creates: u64,
    pub updates: u64,
    /// Matched items that change nothing.
    pub unchanged: u64,
    pub auto_approved: u64,
    pub pending: u64,
}

/// Validates, matches and stages batch `n` of `run` (see the module).
pub async fn work_batch(
    ports: &Ports,
    distributor: &dyn Distributor,
    store: &StoreSnapshot,
    run: &str,
    n: u64,
    settings: &SupplierSettings,
) -> Result<BatchResult, SupplierError> {
    let blob = ports.blobs.get(&batch_key(run, n)).await?;
    let bytes = blob.to_bytes().map_err(|e| SupplierError::Invalid(format!("{}: {e}", batch_key(run, n))))?;
    let items: Vec<SupplierItem> = serde_json::from_slice(&bytes)
        .map_err(|e| SupplierError::Invalid(format!("{}: not a batch: {e}", batch_key(run, n))))?;
    let skus: Vec<String> = items.iter().map(|i| i.sku.clone()).collect();
    let lookups = match distributor.lookup(&skus).await {
        Ok(l) => l,
        Err(e) => {
            let state = if e.transient { RunState::RetryWait } else { RunState::Error };
            status(ports, run, state, format!("batch {n}: {e}"), json!({ "batch": n })).await?;
            return Err(SupplierError::Distributor(e));
        }
    };
    let mut result = BatchResult { items: items.len() as u64, ..Default::default() };
    let mut approved = Vec::new();
    let mut scratch = Default::default();
    let now = ports.clock.now();
    let empty = BTreeMap::new();
    for (item, lookup) in items.into_iter().zip(lookups) {
        let Some(carried) = lookup.carried else {
            result.not_carried.push(item.sku);
            continue;
        };
        let m = store.index.best(&item, &mut scratch);
        let current = m.product.as_ref().and_then(|p| store.fields.get(p)).unwrap_or(&empty);
        let Some(entry) = stage(run, item, carried, m, current, settings.auto_approve_above, now) else {
            result.unchanged += 1;
            continue;
        };
        match entry.action {
            super::staging::StagedAction::Create => result.creates += 1,
            super::staging::StagedAction::Update => result.updates += 1,
        }
        // Created once: a repeated batch finds its entries (and re-sends what is approved).
        let stored = if ports.staging.create(&entry).await? {
            entry
        } else {
            ports.staging.get(&entry.id).await?.unwrap_or(entry)
        };
        match stored.status {
            StagingStatus::Approved => {
                result.auto_approved += 1;
                approved.push(stored.id);
            }
            StagingStatus::Pending => result.pending += 1,
            _ => {}
        }
    }
    if !approved.is_empty() {
        super::worker::ApplyMessage::entries(&approved).send(ports).await?;
    }
    let body = serde_json::to_vec(&result).map_err(|e| SupplierError::Invalid(e.to_string()))?;
    ports.blobs.put(&result_key(run, n), Bytes::from(body), None).await?;
    finish_batch(ports, run, n).await?;
    Ok(result)
}

/// Counts a batch done once; the last one writes where the run stands.
async fn finish_batch(ports: &Ports, run: &str, n: u64) -> Result<(), SupplierError> {
    if !ports.kv.put_if_absent(&format!("supplier/run/{run}/batch/{n}"), &json!(true)).await? {
        return Ok(());
    }
    let counter = format!("supplier/run/{run}/done");
    let done = loop {
        let now = ports.kv.get(&counter).await?;
        let next = now.as_ref().and_then(Value::as_u64).unwrap_or(0) + 1;
        let wrote = match &now {
            None => ports.kv.put_if_absent(&counter, &json!(next)).await?,
            Some(v) => ports.kv.put_if(&counter, v, &json!(next)).await?,
        };
        if wrote {
            break next;
        }
    };
    let Some(manifest) = ports.kv.get(&manifest_key(run)).await? else { return Ok(()) };
    let batches = manifest["batches"].as_u64().unwrap_or(0);
    if done % 50 == 0 && done < batches {
        let message = format!("{done} of {batches} batches matched and staged");
        status(ports, run, RunState::Staging, message, json!({ "done": done, "batches": batches })).await?;
    }
    if done == batches {
        let report = run_report(ports, run).await?;
        let (state, message) = match report.pending {
            0 => (RunState::Complete, format!("staged: {} auto-approved, none waits for review", report.auto_approved)),
            p => (
                RunState::ReviewPending,
                format!("staged: {} auto-approved, {p} wait for review", report.auto_approved),
            ),
        };
        status(ports, run, state, message, serde_json::to_value(&report).unwrap_or_default()).await?;
    }
    Ok(())
}

/// A run's counts: rows in, and where every one went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub run: String,
    pub items: u64,
    pub bad_rows: u64,
    pub batches: u64,
    pub batches_done: u64,
    pub not_carried: u64,
    pub creates: u64,
    pub updates: u64,
    pub unchanged: u64,
    pub auto_approved: u64,
    pub pending: u64,
    /// The staging entries by status now (approved, rejected, applied…).
    pub entries: BTreeMap<StagingStatus, u64>,
}

/// A feed file in the bucket and its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run: String,
    pub key: String,
    pub received_at: DateTime<Utc>,
    /// Where its rows went; none while it is not ingested yet.
    pub report: Option<RunReport>,
}

/// Every feed file in the bucket (by key: by date), with its run.
pub async fn runs(ports: &Ports) -> Result<Vec<RunSummary>, SupplierError> {
    let mut out = Vec::new();
    for f in ports.blobs.list(RAW_PREFIX).await? {
        let run = run_of(&f.key);
        let report = report_of(ports, &run).await?;
        out.push(RunSummary { run, key: f.key, received_at: f.modified, report });
    }
    Ok(out)
}

/// Sums a run's batch outcomes (read on demand: nothing is computed while reading).
pub async fn run_report(ports: &Ports, run: &str) -> Result<RunReport, SupplierError> {
    report_of(ports, run).await?.ok_or_else(|| SupplierError::Invalid(format!("no supplier run {run}")))
}

/// [`run_report`], none while the run is not ingested.
async fn report_of(ports: &Ports, run: &str) -> Result<Option<RunReport>, SupplierError> {
    let Some(manifest) = ports.kv.get(&manifest_key(run)).await? else { return Ok(None) };
    let mut r = RunReport {
        run: run.to_string(),
        items: manifest["items"].as_u64().unwrap_or(0),
        bad_rows: manifest["bad_rows"].as_u64().unwrap_or(0),
        batches: manifest["batches"].as_u64().unwrap_or(0),
        ..Default::default()
    };
    for info in ports.blobs.list(&format!("supplier/runs/{run}/results/")).await? {
        let bytes = ports.blobs.get(&info.key).await?.to_bytes().map_err(|e| SupplierError::Invalid(e.to_string()))?;
        let b: BatchResult = serde_json::from_slice(&bytes).map_err(|e| SupplierError::Invalid(e.to_string()))?;
        r.batches_done += 1;
        r.not_carried += b.not_carried.len() as u64;
        r.creates += b.creates;
        r.updates += b.updates;
        r.unchanged += b.unchanged;
        r.auto_approved += b.auto_approved;
        r.pending += b.pending;
    }
    r.entries = ports.staging.counts(run).await?;
    Ok(Some(r))
}
