//! `storesync supplier …`: the supplier catalog pipeline on the embedded default — a feed
//! ingested (from a file, or polled from the FTP server), its batches matched against Xorosoft
//! and the Shopify store, the review, the apply, product versions and the stock sync. The
//! platforms come from the environment (`STORESYNC_SUPPLIER_FTP_*`, `STORESYNC_XOROSOFT_*`,
//! `STORESYNC_SHOPIFY_*`).

use std::fmt::Write as _;

use anyhow::Context;
use serde_json::Value;
use storesync_core::ports::{Ports, StagingQuery};
use storesync_core::stores::Platform;
use storesync_core::supplier::apply::restore;
use storesync_core::supplier::inventory::StockReport;
use storesync_core::supplier::pipeline::{
    ingest, poll, raw_key, run_report, work_batch, IngestOutcome, RunReport, StoreSnapshot, SupplierSettings,
    APPLY_QUEUE, BATCH_QUEUE, JOBS, RAW_PREFIX,
};
use storesync_core::supplier::review::{decide, decide_all, Filter};
use storesync_core::supplier::source::RemoteFile;
use storesync_core::supplier::staging::{Review, StagedAction, StagingEntry, StagingStatus};
use storesync_core::supplier::worker::{handle, run_job, ApplyMessage, Handled, SupplierPlatforms};
use storesync_platforms::supplier::Connected;

use crate::Local;

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

fn settings() -> anyhow::Result<SupplierSettings> {
    SupplierSettings::from_lookup(env).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A run's report as lines.
pub fn report_text(r: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {}: {} items, {} bad rows, {} of {} batches done",
        r.run, r.items, r.bad_rows, r.batches_done, r.batches
    );
    let _ = writeln!(
        out,
        "  not carried {}, new {}, matched {}, unchanged {}; auto-approved {}, pending review {}",
        r.not_carried, r.creates, r.updates, r.unchanged, r.auto_approved, r.pending
    );
    let _ = writeln!(out, "  entries now: {}", entries_now(r));
    out
}

fn entries_now(r: &RunReport) -> String {
    let entries: Vec<String> = r.entries.iter().map(|(s, n)| format!("{} {n}", s.as_str())).collect();
    entries.join(", ")
}

/// One entry as a reviewer reads it.
pub fn entry_text(e: &StagingEntry) -> String {
    let mut out = String::new();
    let action = match e.action {
        StagedAction::Create => "CREATE".to_string(),
        StagedAction::Update => format!("UPDATE {}", e.product.clone().unwrap_or_default()),
    };
    let _ = writeln!(out, "{} [{}] {action}, confidence {}: {}", e.sku, e.status.as_str(), e.confidence, e.item.title);
    for ev in &e.evidence {
        let _ = writeln!(out, "    evidence: {} ({})", ev.detail, ev.confidence);
    }
    if let Some(c) = &e.caveat {
        let _ = writeln!(out, "    caveat: {c}");
    }
    for c in &e.changes {
        let _ = writeln!(out, "    {}: {} -> {}", c.field, short(&c.before), short(&c.after));
    }
    for d in &e.conflicts {
        let _ = writeln!(
            out,
            "    conflict {}: Shopify {} / feed {}: {}",
            d.field,
            short(&d.remote),
            short(&d.local),
            d.explanation
        );
    }
    out
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// The supplier's platforms as the environment configures them.
pub fn from_env() -> anyhow::Result<(Connected, SupplierSettings)> {
    Ok((Connected::connect(env), settings()?))
}

/// Matches and stages every queued batch against the distributor and the store (the store's
/// products read once per run); how many batches. `progress` is told of each. A batch that
/// fails stays queued for a retry (after the queue's visibility timeout) and the rest go on;
/// the failures are returned with their reasons.
pub async fn drain_batches(
    ports: &Ports,
    p: &dyn SupplierPlatforms,
    settings: &SupplierSettings,
    progress: impl Fn(u64, u64),
) -> anyhow::Result<(u64, Vec<String>)> {
    let depth = ports.queue.depth(BATCH_QUEUE).await?.visible;
    if depth == 0 {
        return Ok((0, Vec::new()));
    }
    let distributor = p.distributor().map_err(anyhow::Error::msg)?;
    let store = p.catalog().map_err(anyhow::Error::msg)?;
    let mut snapshot: Option<(String, StoreSnapshot)> = None;
    let (mut done, mut failed) = (0, Vec::new());
    loop {
        let got = ports.queue.receive(BATCH_QUEUE, 10, 300).await?;
        if got.is_empty() {
            return Ok((done, failed));
        }
        for d in got {
            let m: Value = serde_json::from_str(&d.body).with_context(|| format!("a supplier batch: {}", d.body))?;
            let (run, n) = (m["run"].as_str().unwrap_or_default().to_string(), m["batch"].as_u64().unwrap_or(0));
            if snapshot.as_ref().is_none_or(|(r, _)| *r != run) {
                snapshot = Some((run.clone(), StoreSnapshot::read(store).await?));
            }
            let products = &snapshot.as_ref().context("the store's products")?.1;
            match work_batch(ports, distributor, products, &run, n, settings).await {
                Ok(_) => {
                    ports.queue.ack(BATCH_QUEUE, &d.receipt).await?;
                    done += 1;
                }
                Err(e) => failed.push(format!("run {run} batch {n}: {e} (queued for a retry)")),
            }
            progress(done, depth);
        }
    }
}

/// Handles every message of the apply queue: approved entries written to the store, low-stock
/// alerts synced from the distributor.
pub async fn drain_apply(
    ports: &Ports,
    p: &dyn SupplierPlatforms,
    settings: &SupplierSettings,
) -> anyhow::Result<ApplyTally> {
    let mut tally = ApplyTally::default();
    loop {
        let got = ports.queue.receive(APPLY_QUEUE, 10, 300).await?;
        if got.is_empty() {
            return Ok(tally);
        }
        for d in got {
            match handle(ports, p, settings, &d.body, d.receive_count > 1).await {
                Ok(h) => {
                    tally.add(h);
                    ports.queue.ack(APPLY_QUEUE, &d.receipt).await?;
                }
                // Stays queued: back after the visibility timeout, as on SQS.
                Err(e) => tally.failed.push((ApplyMessage::describe(&d.body), format!("{e} (queued for a retry)"))),
            }
        }
    }
}

/// The batches matched with a progress bar.
async fn work_batches(ports: &Ports, p: &dyn SupplierPlatforms, settings: &SupplierSettings) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0).with_message("matching and staging");
    let (_, failed) = drain_batches(ports, p, settings, |done, of| {
        bar.set_length(of);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    match failed.as_slice() {
        [] => Ok(()),
        _ => anyhow::bail!("{} batches failed:\n  {}", failed.len(), failed.join("\n  ")),
    }
}

/// Ingests `key` and matches its batches; the run's report.
async fn ingest_and_match(
    ports: &Ports,
    p: &dyn SupplierPlatforms,
    key: &str,
    settings: &SupplierSettings,
) -> anyhow::Result<String> {
    let run = match ingest(ports, key, settings).await? {
        IngestOutcome::Ingested(m) => m.run,
        IngestOutcome::AlreadyIngested { run } => run,
    };
    work_batches(ports, p, settings).await?;
    Ok(report_text(&run_report(ports, &run).await?))
}

/// `supplier ingest FILE`: the file put in the bucket (as the poller would), ingested, matched.
pub async fn ingest_file(local: &Local, file: &std::path::Path) -> anyhow::Result<String> {
    let ports = local.workflow.ports();
    let name = file.file_name().and_then(|n| n.to_str()).context("the file has no name")?;
    let meta = std::fs::metadata(file).with_context(|| format!("{}", file.display()))?;
    let f = RemoteFile { name: name.to_string(), size: meta.len(), modified: meta.modified().ok().map(Into::into) };
    let key = raw_key(&f, chrono::Utc::now());
    ports.blobs.put_file(&key, file, None).await?;
    let (p, settings) = from_env()?;
    ingest_and_match(ports, &p, &key, &settings).await
}

/// `supplier poll`: the FTP folder polled; each new file ingested and matched.
pub async fn poll_ftp(local: &Local) -> anyhow::Result<String> {
    let ports = local.workflow.ports();
    let (p, settings) = from_env()?;
    let report = poll(ports, p.source().map_err(anyhow::Error::msg)?, &settings, &local.dir.join("scratch")).await?;
    let mut out = format!(
        "{} files listed, {} feed files, {} seen before, {} new\n",
        report.listed,
        report.feed_files,
        report.seen_before,
        report.downloaded.len()
    );
    for key in &report.downloaded {
        out.push_str(&ingest_and_match(ports, &p, key, &settings).await?);
    }
    Ok(out)
}

/// `supplier runs`: every feed file in the bucket (newest last), its run, and where it stands.
pub async fn runs(local: &Local) -> anyhow::Result<String> {
    let mut out = String::new();
    for s in storesync_core::supplier::pipeline::runs(local.workflow.ports()).await? {
        let _ = match s.report {
            Some(r) => writeln!(
                out,
                "{}  {}  {} items, {} bad rows, {}/{} batches; entries now: {}",
                s.run,
                s.key,
                r.items,
                r.bad_rows,
                r.batches_done,
                r.batches,
                entries_now(&r)
            ),
            None => writeln!(out, "{}  {}  not ingested yet", s.run, s.key),
        };
    }
    if out.is_empty() {
        out = format!("no feed files under {RAW_PREFIX} yet\n");
    }
    Ok(out)
}

pub async fn report(local: &Local, run: &str) -> anyhow::Result<String> {
    Ok(report_text(&run_report(local.workflow.ports(), run).await?))
}

pub async fn review(local: &Local, run: &str, status: &str, limit: usize) -> anyhow::Result<String> {
    let status = StagingStatus::parse(status)
        .with_context(|| format!("--status {status:?}: use pending, approved, rejected, applied or failed"))?;
    let q = StagingQuery { run: Some(run.to_string()), after: None, limit };
    let entries = local.workflow.ports().staging.list(status, &q).await?;
    Ok(entries.iter().map(entry_text).collect())
}

pub async fn decide_one(local: &Local, run: &str, sku: &str, decision: Review, who: &str) -> anyhow::Result<String> {
    let e = decide(local.workflow.ports(), run, sku, &decision, who).await?;
    Ok(entry_text(&e))
}

pub async fn decide_many(local: &Local, filter: Filter, decision: Review, who: &str) -> anyhow::Result<String> {
    let out = decide_all(local.workflow.ports(), &filter, &decision, who).await?;
    Ok(format!("{} entries decided; {} decided by someone else meanwhile\n", out.decided, out.raced.len()))
}

/// `supplier apply`: every queued approval applied to the configured Shopify store, and every
/// queued low-stock alert synced from Xorosoft.
pub async fn apply_queued(local: &Local) -> anyhow::Result<String> {
    let (p, settings) = from_env()?;
    Ok(drain_apply(local.workflow.ports(), &p, &settings).await?.text())
}

/// What a drain of the apply queue did, summed.
#[derive(Debug, Default)]
pub struct ApplyTally {
    applied: usize,
    held: usize,
    pub failed: Vec<(String, String)>,
    alerts: usize,
    stock_written: Vec<(String, i64)>,
    /// Messages handled.
    pub handled: usize,
}

impl ApplyTally {
    pub fn add(&mut self, h: Handled) {
        self.handled += 1;
        match h {
            Handled::Applied(r) => {
                self.applied += r.applied.len();
                self.held += r.held.len();
                self.failed.extend(r.failed);
            }
            Handled::Stock(r) => {
                self.alerts += 1;
                self.stock_written.extend(r.written);
                self.failed.extend(r.failed);
            }
        }
    }

    pub fn text(&self) -> String {
        let mut out = format!(
            "{} applied, {} back in review (Shopify changed them), {} failed\n",
            self.applied,
            self.held,
            self.failed.len()
        );
        if self.alerts > 0 {
            let _ =
                writeln!(out, "{} low-stock alerts: {} restocked from Xorosoft", self.alerts, self.stock_written.len());
            for (sku, q) in &self.stock_written {
                let _ = writeln!(out, "  {sku}: {q}");
            }
        }
        for (id, e) in &self.failed {
            let _ = writeln!(out, "  {id}: {e}");
        }
        out
    }
}

pub async fn history(local: &Local, product: &str) -> anyhow::Result<String> {
    let versions = local.workflow.ports().versions.history(product).await?;
    let mut out = String::new();
    for v in versions {
        let _ = writeln!(out, "{} {} {}", v.number, v.at.format("%Y-%m-%d %H:%M:%S"), v.source);
        for c in v.changes {
            let _ = writeln!(out, "    {}: {} -> {}", c.field, short(&c.before), short(&c.after));
        }
    }
    Ok(out)
}

pub async fn restore_version(local: &Local, product: &str, number: u64, who: &str) -> anyhow::Result<String> {
    let store = storesync_platforms::stores::connect_catalog(Platform::Shopify, env)?;
    let v = restore(local.workflow.ports(), store.as_ref(), product, number, who).await?;
    Ok(format!("{product}: version {number} restored as version {}\n", v.number))
}

/// `supplier stock`: the Xorosoft inventory sync (the scheduled job, on demand).
pub async fn stock(local: &Local) -> anyhow::Result<String> {
    let (p, settings) = from_env()?;
    let report = run_job(local.workflow.ports(), &p, &settings, "stock", &local.dir.join("scratch")).await?;
    let r: StockReport = serde_json::from_value(report)?;
    let mut out = format!(
        "{} linked products: {} written, {} unchanged, {} kept (Shopify moved), {} for a person, {} not carried, {} not in the store\n",
        r.linked,
        r.written.len(),
        r.unchanged,
        r.kept,
        r.manual.len(),
        r.not_carried.len(),
        r.not_in_store.len()
    );
    for (sku, why) in r.manual {
        let _ = writeln!(out, "  {sku}: {why}");
    }
    Ok(out)
}

/// The supplier pipeline in `serve`, as the functions run it on AWS: feed files landing under
/// `raw/etilize/` ingested (the S3 trigger's work), their batches matched and approvals and
/// low-stock alerts applied (the worker's), and the scheduled jobs run on their periods — the
/// poll also at start, so that a feed waiting on the FTP server is picked up at once.
pub struct SupplierRuntime {
    pub platforms: Box<dyn SupplierPlatforms>,
    pub settings: SupplierSettings,
    /// Where the poll downloads before the bucket.
    pub scratch: std::path::PathBuf,
}

impl SupplierRuntime {
    /// Works for as long as the process lives.
    pub async fn work_forever(self: std::sync::Arc<Self>, ports: Ports) {
        let mut settled = crate::runtime::Settled::default();
        loop {
            match self.pass(&ports, &mut settled).await {
                Ok(0) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "supplier worker");
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                }
            }
        }
    }

    /// One look at the feed folder and the supplier's queues; how much it did.
    pub async fn pass(&self, ports: &Ports, settled: &mut crate::runtime::Settled) -> anyhow::Result<usize> {
        let mut did = 0;
        for key in settled.next(ports.blobs.list(RAW_PREFIX).await?) {
            match ingest(ports, &key, &self.settings).await {
                Ok(outcome) => tracing::info!(key, outcome = ?outcome, "supplier feed"),
                // The run's status log has it, with the file's name.
                Err(e) => tracing::error!(key, error = %e, "supplier feed not ingested"),
            }
            did += 1;
        }
        let p = self.platforms.as_ref();
        let (batches, failed) = drain_batches(ports, p, &self.settings, |_, _| {}).await?;
        let applied = drain_apply(ports, p, &self.settings).await?;
        for f in failed.iter().chain(applied.failed.iter().map(|(_, e)| e)) {
            tracing::warn!(failure = %f, "supplier work");
        }
        Ok(did + batches as usize + applied.handled)
    }

    /// Runs the supplier's scheduled jobs ([`JOBS`]) for as long as the process lives.
    pub async fn schedule(self: std::sync::Arc<Self>, ports: Ports) {
        crate::runtime::run_schedules(&JOBS, &["poll"], |job| {
            let (this, ports) = (self.clone(), ports.clone());
            async move {
                match run_job(&ports, this.platforms.as_ref(), &this.settings, job, &this.scratch).await {
                    Ok(r) => tracing::info!(job, report = %r, "supplier job ran"),
                    Err(e) => tracing::warn!(job, error = %e, "supplier job failed"),
                }
            }
        })
        .await
    }
}
