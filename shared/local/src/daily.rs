//! `storesync daily`: the whole five-step flow in one process, with the operator's
//! confirmations given by `--yes` (or asked for on the terminal).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use storesync_core::domain::{Actor, SessionId};
use storesync_core::formats::{COMAX_PRODUCTS, WEB_ORDERS, WEB_PRODUCTS, WEB_TRANSLATIONS};
use storesync_core::ports::{BlobStore, StepStatus};
use storesync_core::workflow::{file_name, Action, SessionView, INBOX_COMAX, INBOX_WEB, MAPPING_KEY};

use crate::runtime::{Local, LocalError};

#[derive(Debug, Clone, clap::Args)]
pub struct DailyArgs {
    #[arg(long)]
    pub web_products: PathBuf,
    #[arg(long)]
    pub web_orders: PathBuf,
    #[arg(long)]
    pub web_translations: PathBuf,
    #[arg(long)]
    pub comax: PathBuf,
    /// A Comax column-mapping file (TOML); see the README.
    #[arg(long)]
    pub comax_mapping: Option<PathBuf>,
    /// Where the exports and the validation report are written.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Confirm the operator steps (Comax update, web update) without asking.
    #[arg(long)]
    pub yes: bool,
    /// Override the blast-radius guard, with the reason to record.
    #[arg(long, value_name = "REASON")]
    pub override_blast_radius: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DailyError {
    #[error(transparent)]
    Local(#[from] LocalError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Input(String),
}

impl From<storesync_core::workflow::WorkflowError> for DailyError {
    fn from(e: storesync_core::workflow::WorkflowError) -> Self {
        DailyError::Local(e.into())
    }
}

impl From<storesync_core::ports::PortError> for DailyError {
    fn from(e: storesync_core::ports::PortError) -> Self {
        DailyError::Local(e.into())
    }
}

/// What the run ended with.
pub struct DailyResult {
    pub session: SessionId,
    pub view: SessionView,
    pub outputs: Vec<PathBuf>,
}

impl DailyResult {
    pub fn completed(&self) -> bool {
        self.view.is_complete()
    }
}

fn ask(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

pub async fn run(local: &Local, args: &DailyArgs) -> Result<DailyResult, DailyError> {
    for p in [&args.web_products, &args.web_orders, &args.web_translations, &args.comax] {
        if !p.is_file() {
            return Err(DailyError::Input(format!("{}: no such file", p.display())));
        }
    }
    let actor = Actor(std::env::var("USER").unwrap_or_else(|_| "operator".into()));
    let bar = ProgressBar::new(5).with_style(
        ProgressStyle::with_template("{spinner} [{bar:25}] step {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let wf = &local.workflow;
    if let Some(m) = &args.comax_mapping {
        let data = std::fs::read(m).map_err(|source| DailyError::Io { path: m.clone(), source })?;
        local.blobs.put(MAPPING_KEY, Bytes::from(data), None).await?;
    } else {
        local.blobs.delete(MAPPING_KEY).await?;
    }
    if let Some(s) = wf.current().await? {
        // A fresh daily run starts a fresh cycle: an unfinished one is reset, not continued.
        wf.reset(&s, &actor).await?;
    }
    bar.set_message("uploading the web files");
    for (name, path) in
        [(WEB_PRODUCTS, &args.web_products), (WEB_ORDERS, &args.web_orders), (WEB_TRANSLATIONS, &args.web_translations)]
    {
        local.upload_file(&format!("{INBOX_WEB}{name}"), path).await?;
    }
    local.upload_file(&format!("{INBOX_COMAX}{COMAX_PRODUCTS}"), &args.comax).await?;
    let session = wf.current().await?.ok_or_else(|| DailyError::Input("the uploads opened no session".into()))?;
    let mut overridden = false;
    loop {
        local.drain().await?;
        let view = wf.view(&session).await?;
        let done = (1..=5u8).take_while(|&n| view.status(n) == Some(StepStatus::Completed)).count() as u64;
        let active = view
            .steps
            .iter()
            .filter(|st| st.status.is_some())
            .max_by_key(|st| st.at)
            .map(|st| format!("{}: {}", st.name, st.message));
        bar.set_position(done);
        bar.set_message(active.unwrap_or_default());
        let failed = view.steps.iter().find(|st| st.status == Some(StepStatus::Failed));
        let (s2, s4, s5) = (view.step(2), view.step(4), view.step(5));
        let next = if let Some(f) = failed {
            if f.step == 4 && !overridden && args.override_blast_radius.is_some() && blast_only(&view) {
                overridden = true;
                Some(Action::Retry { step: 4, override_blast_radius: args.override_blast_radius.clone() })
            } else {
                None
            }
        } else if s2.status == Some(StepStatus::Waiting) {
            let q = format!("{} — confirm that Comax took the orders?", s2.message);
            bar.suspend(|| args.yes || ask(&q)).then_some(Action::ConfirmOrders)
        } else if s4.status == Some(StepStatus::Completed) && s5.details.get("file").is_none() {
            Some(Action::GenerateInventory)
        } else if s5.status == Some(StepStatus::Waiting) && s5.details.get("file").is_some() {
            let q = format!("{} — confirm the web update?", s5.message);
            bar.suspend(|| args.yes || ask(&q)).then_some(Action::ConfirmInventory)
        } else {
            None
        };
        match next {
            Some(a) => {
                wf.request(&session, a, &actor).await?;
            }
            None => break,
        }
    }
    bar.finish_and_clear();
    let view = wf.view(&session).await?;
    let outputs = copy_outputs(local, &session, &args.out).await?;
    Ok(DailyResult { session, view, outputs })
}

/// Whether validation failed on the blast-radius guard alone.
fn blast_only(view: &SessionView) -> bool {
    let d = &view.step(4).details;
    let tripped = d["blast_radius"]["tripped"].as_array().map(|a| !a.is_empty()).unwrap_or(false);
    let errors = d["counts"]["errors"].as_u64().unwrap_or(0);
    tripped && errors as usize == d["blast_radius"]["tripped"].as_array().map(Vec::len).unwrap_or(0)
}

async fn copy_outputs(local: &Local, s: &SessionId, out: &Path) -> Result<Vec<PathBuf>, DailyError> {
    std::fs::create_dir_all(out).map_err(|source| DailyError::Io { path: out.to_path_buf(), source })?;
    let mut written = Vec::new();
    for info in local.blobs.list(&format!("outbox/{s}/")).await? {
        if info.key.contains("/superseded/") {
            continue;
        }
        let src = local.blobs.path(&info.key)?;
        let dst = out.join(file_name(&info.key));
        std::fs::copy(&src, &dst).map_err(|source| DailyError::Io { path: dst.clone(), source })?;
        written.push(dst);
    }
    Ok(written)
}

/// The status timeline as text.
pub fn timeline(view: &SessionView) -> String {
    let mut out = format!("session {} ({:?})\n", view.session.id, view.session.state)
        .replace("(Open)", "(open)")
        .replace("(Completed)", "(completed)")
        .replace("(Reset)", "(reset)");
    for e in &view.timeline {
        out.push_str(&format!(
            "{}  step {} {:<22} {:<10} {}\n",
            e.at.format("%H:%M:%S%.3f"),
            e.step,
            e.name,
            e.status.as_str(),
            e.message
        ));
    }
    out
}
