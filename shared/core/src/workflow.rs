//! The daily ERP ⇄ web sync: five steps, each writing its own status as it works.
//!
//! Steps are driven by [`Command`]s (queue messages) and by uploads ([`Workflow::on_upload`]).
//! Operator actions go through [`Workflow::request`], which checks the step's state, audits the
//! call and enqueues the command; readers use [`Workflow::view`] and never trigger work.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::Read;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::domain::{Actor, SessionId};
use crate::engine::{export_inventory_parallel, Translations};
use crate::formats::{
    index_comax, on_hold_quantities, read_orders, read_translations, write_comax_orders, ComaxMapping, ComaxReader,
    OrderLine, Parsed, ProductKind, Translation, WebProductReader, COMAX_PRODUCTS, WEB_ORDERS, WEB_PRODUCTS,
    WEB_TRANSLATIONS,
};
use crate::ports::{AuditEntry, Blob, BlobInfo, PortError, Ports, StatusEntry, StepStatus};
use crate::report::write_report;
use crate::validate::{validate, BlastOverride, Inputs};

pub const STEP_NAMES: [&str; 5] =
    ["Import web data", "Export orders", "Import Comax data", "Validate", "Export web inventory"];
pub const WEB_FILES: [&str; 3] = [WEB_PRODUCTS, WEB_ORDERS, WEB_TRANSLATIONS];
pub const INBOX_WEB: &str = "inbox/web/";
pub const INBOX_COMAX: &str = "inbox/comax/";
pub const MAPPING_KEY: &str = "config/comax-mapping.toml";
/// Every queue the daily sync uses; the template declares one (with a dead-letter queue) each.
pub const QUEUES: [&str; 5] = ["import-web", "export-orders", "import-comax", "validate", "export-inventory"];

const KV_CURRENT: &str = "daily/current-session";
const KV_LATEST: &str = "daily/latest-session";
const KV_LAST_COMAX_ROWS: &str = "daily/last-accepted-comax-rows";
const DOWNLOAD_SECS: u64 = 900;

fn kv_session(s: &SessionId) -> String {
    format!("daily/session/{s}")
}

fn kv_exported(order_id: &str) -> String {
    format!("daily/exported-order/{order_id}")
}

pub fn outbox_key(s: &SessionId, stem: &str) -> String {
    format!("outbox/{s}/{stem}-{s}.csv")
}

/// A step command, as carried by the step queues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Command {
    StartSessionV1 { by: String },
    ImportWebV1 { session: SessionId },
    ExportOrdersV1 { session: SessionId },
    ConfirmOrdersV1 { session: SessionId, by: String },
    ImportComaxV1 { session: SessionId },
    ValidateV1 { session: SessionId, blast_override: Option<BlastOverride> },
    GenerateInventoryV1 { session: SessionId },
    ConfirmInventoryV1 { session: SessionId, by: String },
}

impl Command {
    /// The queue (and so the function) that handles this command.
    pub fn queue(&self) -> &'static str {
        match self {
            Command::StartSessionV1 { .. } | Command::ImportWebV1 { .. } => QUEUES[0],
            Command::ExportOrdersV1 { .. } | Command::ConfirmOrdersV1 { .. } => QUEUES[1],
            Command::ImportComaxV1 { .. } => QUEUES[2],
            Command::ValidateV1 { .. } => QUEUES[3],
            Command::GenerateInventoryV1 { .. } | Command::ConfirmInventoryV1 { .. } => QUEUES[4],
        }
    }
}

/// What an operator asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    ConfirmOrders,
    GenerateInventory,
    ConfirmInventory,
    Retry { step: u8, override_blast_radius: Option<String> },
}

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("session {0} not found")]
    UnknownSession(SessionId),
    #[error("session {session}: {message}")]
    Conflict { session: SessionId, message: String },
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("cannot decode the command: {0}")]
    BadCommand(#[from] serde_json::Error),
}

impl WorkflowError {
    /// Whether trying again later may succeed (the queue's retry and dead-letter rules apply).
    pub fn is_retryable(&self) -> bool {
        matches!(self, WorkflowError::Port(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    Open,
    Completed,
    Reset,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: SessionId,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub state: SessionState,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView {
    pub step: u8,
    pub name: &'static str,
    /// `None` until the step has written anything.
    pub status: Option<StepStatus>,
    pub message: String,
    pub details: Value,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionView {
    pub session: SessionRecord,
    pub steps: Vec<StepView>,
    pub timeline: Vec<StatusEntry>,
}

impl SessionView {
    pub fn step(&self, n: u8) -> &StepView {
        &self.steps[usize::from(n - 1)]
    }

    pub fn status(&self, n: u8) -> Option<StepStatus> {
        self.step(n).status
    }

    pub fn is_complete(&self) -> bool {
        self.session.state == SessionState::Completed
    }
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    Handled(SessionId),
    Ignored(String),
}

/// A step's ending: completed or waiting for something, with its message and details.
struct StepDone {
    status: StepStatus,
    message: String,
    details: Value,
}

fn done(message: impl Into<String>, details: Value) -> StepDone {
    StepDone { status: StepStatus::Completed, message: message.into(), details }
}

fn waiting(message: impl Into<String>, details: Value) -> StepDone {
    StepDone { status: StepStatus::Waiting, message: message.into(), details }
}

/// Why a step failed: bad input (recorded; the operator fixes it), or a port (retried).
enum StepError {
    Input { message: String, details: Value },
    Port(PortError),
}

impl From<PortError> for StepError {
    fn from(e: PortError) -> Self {
        StepError::Port(e)
    }
}

fn input_err(message: impl std::fmt::Display) -> StepError {
    StepError::Input { message: message.to_string(), details: Value::Null }
}

/// A snapshot of one input file in the session.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct InputRef {
    key: String,
    modified: DateTime<Utc>,
    size: u64,
    /// The content, when this step has just read it to snapshot it (not stored): the step
    /// parses it without reading it again.
    #[serde(skip)]
    fetched: Option<Blob>,
}

/// The imported inputs of a session, loaded: the small files parsed, the large ones ready to stream.
struct Imported {
    web: BTreeMap<String, InputRef>,
    comax: InputRef,
    mapping: ComaxMapping,
    comax_blob: Blob,
    products: Blob,
    orders: Parsed<OrderLine>,
    translations: Parsed<Translation>,
}

impl Imported {
    fn comax_reader(&self) -> Result<ComaxReader<Box<dyn Read + Send + '_>>, StepError> {
        ComaxReader::open(COMAX_PRODUCTS, open_blob(&self.comax_blob, COMAX_PRODUCTS)?, &self.mapping)
            .map_err(input_err)
    }

    fn web_reader(&self) -> Result<WebProductReader<Box<dyn Read + Send + '_>>, StepError> {
        WebProductReader::open(WEB_PRODUCTS, open_blob(&self.products, WEB_PRODUCTS)?).map_err(input_err)
    }
}

pub struct Workflow {
    ports: Ports,
    settings: Settings,
}

impl Workflow {
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self { ports, settings }
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    // ---- reading ----

    pub async fn current(&self) -> Result<Option<SessionId>, WorkflowError> {
        let v = self.ports.kv.get(KV_CURRENT).await?;
        Ok(v.and_then(|v| serde_json::from_value(v).ok()))
    }

    async fn record(&self, s: &SessionId) -> Result<SessionRecord, WorkflowError> {
        match self.ports.kv.get(&kv_session(s)).await? {
            Some(v) => Ok(serde_json::from_value(v)?),
            None => Err(WorkflowError::UnknownSession(s.clone())),
        }
    }

    pub async fn view(&self, s: &SessionId) -> Result<SessionView, WorkflowError> {
        let session = self.record(s).await?;
        let timeline = self.ports.status.read(s).await?;
        let steps = (1..=5u8)
            .map(|n| {
                let last = timeline.iter().rev().find(|e| e.step == n);
                StepView {
                    step: n,
                    name: STEP_NAMES[usize::from(n - 1)],
                    status: last.map(|e| e.status),
                    message: last.map(|e| e.message.clone()).unwrap_or_default(),
                    details: last.map(|e| e.details.clone()).unwrap_or(Value::Null),
                    at: last.map(|e| e.at),
                }
            })
            .collect();
        Ok(SessionView { session, steps, timeline })
    }

    /// The latest `completed` details of a step (what the next steps build on).
    fn completed_details(view: &SessionView, n: u8) -> Option<&Value> {
        view.timeline.iter().rev().find(|e| e.step == n && e.status == StepStatus::Completed).map(|e| &e.details)
    }

    // ---- sessions ----

    /// The open session, or a new one.
    pub async fn open_session(&self, by: &Actor) -> Result<SessionId, WorkflowError> {
        for _ in 0..3 {
            if let Some(s) = self.current().await? {
                if self.record(&s).await.map(|r| r.state == SessionState::Open).unwrap_or(false) {
                    return Ok(s);
                }
                self.ports.kv.delete_if(KV_CURRENT, &json!(s)).await?;
            }
            let now = self.now();
            let s = SessionId::generate(now);
            let rec = SessionRecord {
                id: s.clone(),
                created_at: now,
                created_by: by.0.clone(),
                state: SessionState::Open,
                closed_at: None,
            };
            self.ports.kv.put(&kv_session(&s), &serde_json::to_value(&rec)?).await?;
            if self.ports.kv.put_if_absent(KV_CURRENT, &json!(s)).await? {
                self.ports.kv.put(KV_LATEST, &json!(s)).await?;
                tracing::info!(session = %s, by = %by.0, "session opened");
                return Ok(s);
            }
        }
        Err(WorkflowError::Conflict {
            session: SessionId::generate(self.now()),
            message: "could not open a session: the current-session pointer keeps changing".into(),
        })
    }

    async fn close(&self, s: &SessionId, state: SessionState) -> Result<(), WorkflowError> {
        let mut rec = self.record(s).await?;
        rec.state = state;
        rec.closed_at = Some(self.now());
        self.ports.kv.put(&kv_session(s), &serde_json::to_value(&rec)?).await?;
        self.ports.kv.delete_if(KV_CURRENT, &json!(s)).await?;
        Ok(())
    }

    async fn status(
        &self,
        s: &SessionId,
        step: u8,
        status: StepStatus,
        message: &str,
        details: Value,
    ) -> Result<(), PortError> {
        let entry = StatusEntry {
            session: s.clone(),
            step,
            name: STEP_NAMES[usize::from(step - 1)].to_string(),
            status,
            message: message.to_string(),
            details,
            at: self.now(),
        };
        tracing::info!(session = %s, step, status = status.as_str(), message, "step status");
        self.ports.status.append(&entry).await
    }

    async fn enqueue(&self, cmd: &Command) -> Result<(), PortError> {
        let body = serde_json::to_string(cmd).map_err(|e| PortError::backend("encode", cmd.queue(), e))?;
        self.ports.queue.send(cmd.queue(), &body).await
    }

    // ---- triggers ----

    /// An object was written under `inbox/` (an S3 put, or the local watcher).
    pub async fn on_upload(&self, key: &str) -> Result<UploadOutcome, WorkflowError> {
        if let Some(name) = key.strip_prefix(INBOX_WEB) {
            if !WEB_FILES.contains(&name) {
                return Ok(UploadOutcome::Ignored(format!(
                    "{key}: not a web input; expected one of {}",
                    WEB_FILES.join(", ")
                )));
            }
            let s = self.open_session(&Actor::system()).await?;
            let view = self.view(&s).await?;
            if view.status(1) == Some(StepStatus::Processing) {
                return Ok(UploadOutcome::Handled(s));
            }
            let mut present = Vec::new();
            let mut missing = Vec::new();
            for f in WEB_FILES {
                match self.ports.blobs.head(&format!("{INBOX_WEB}{f}")).await? {
                    Some(info) => present.push(info),
                    None => missing.push(f),
                }
            }
            if !missing.is_empty() {
                let msg = format!(
                    "Received {}; waiting for {}",
                    present.iter().map(|i| file_name(&i.key)).collect::<Vec<_>>().join(", "),
                    missing.join(", ")
                );
                self.status(&s, 1, StepStatus::Waiting, &msg, json!({ "missing": missing })).await?;
                return Ok(UploadOutcome::Handled(s));
            }
            if self.claim(&s, "import-web", &present).await? {
                self.handle(Command::ImportWebV1 { session: s.clone() }).await?;
            }
            return Ok(UploadOutcome::Handled(s));
        }
        if let Some(name) = key.strip_prefix(INBOX_COMAX) {
            if name != COMAX_PRODUCTS {
                return Ok(UploadOutcome::Ignored(format!("{key}: not a Comax input; expected {COMAX_PRODUCTS}")));
            }
            let s = self.open_session(&Actor::system()).await?;
            let view = self.view(&s).await?;
            if view.status(2) != Some(StepStatus::Completed) {
                let msg = format!("{COMAX_PRODUCTS} received; it is imported once step 2 completes");
                self.status(&s, 3, StepStatus::Waiting, &msg, Value::Null).await?;
                return Ok(UploadOutcome::Handled(s));
            }
            if let Some(info) = self.ports.blobs.head(key).await? {
                if self.claim(&s, "import-comax", &[info]).await? {
                    self.handle(Command::ImportComaxV1 { session: s.clone() }).await?;
                }
            }
            return Ok(UploadOutcome::Handled(s));
        }
        Ok(UploadOutcome::Ignored(format!("{key}: not under {INBOX_WEB} or {INBOX_COMAX}")))
    }

    /// One handler per set of uploaded files, even when several upload events race.
    async fn claim(&self, s: &SessionId, what: &str, files: &[BlobInfo]) -> Result<bool, PortError> {
        let mut h = Sha256::new();
        for f in files {
            h.update(format!("{}|{}|{}\n", f.key, f.size, f.modified.timestamp_nanos_opt().unwrap_or(0)));
        }
        let key = format!("daily/claim/{s}/{what}/{}", &hex::encode(h.finalize())[..16]);
        self.ports.kv.put_if_absent(&key, &json!({ "at": self.now() })).await
    }

    /// Runs one command. Bad input is recorded as a failed step (Ok); a port error is returned
    /// so that the queue retries the message.
    pub async fn handle(&self, cmd: Command) -> Result<(), WorkflowError> {
        tracing::debug!(?cmd, "handle");
        match cmd {
            Command::StartSessionV1 { by } => {
                let s = self.open_session(&Actor(by)).await?;
                let mut present = Vec::new();
                for f in WEB_FILES {
                    if let Some(i) = self.ports.blobs.head(&format!("{INBOX_WEB}{f}")).await? {
                        present.push(i);
                    }
                }
                if present.len() == WEB_FILES.len() {
                    self.run(&s, 1, self.import_web(&s)).await
                } else {
                    let msg = format!("Session started; upload {} to {INBOX_WEB}", WEB_FILES.join(", "));
                    Ok(self.status(&s, 1, StepStatus::Waiting, &msg, Value::Null).await?)
                }
            }
            Command::ImportWebV1 { session } => {
                let s = self.open(&session).await?;
                self.run(&s, 1, self.import_web(&s)).await
            }
            Command::ExportOrdersV1 { session } => {
                let s = self.open(&session).await?;
                self.run(&s, 2, self.export_orders(&s)).await
            }
            Command::ConfirmOrdersV1 { session, by } => {
                let s = self.open(&session).await?;
                self.run(&s, 2, self.confirm_orders(&s, &by)).await
            }
            Command::ImportComaxV1 { session } => {
                let s = self.open(&session).await?;
                self.run(&s, 3, self.import_comax(&s)).await
            }
            Command::ValidateV1 { session, blast_override } => {
                let s = self.open(&session).await?;
                self.run(&s, 4, self.validate(&s, blast_override)).await
            }
            Command::GenerateInventoryV1 { session } => {
                let s = self.open(&session).await?;
                self.run(&s, 5, self.generate_inventory(&s)).await
            }
            Command::ConfirmInventoryV1 { session, by } => {
                let s = self.open(&session).await?;
                self.run(&s, 5, self.confirm_inventory(&s, &by)).await?;
                if self.view(&s).await?.status(5) == Some(StepStatus::Completed) {
                    self.close(&s, SessionState::Completed).await?;
                }
                Ok(())
            }
        }
    }

    /// Decodes and runs one queued message. A command for a closed session is moot: it is
    /// acknowledged with a log line. Any other failure is returned, so the message stays queued
    /// and, after the retry schedule, reaches the dead-letter queue.
    pub async fn handle_message(&self, body: &str) -> Result<(), WorkflowError> {
        let cmd: Command = serde_json::from_str(body)?;
        match self.handle(cmd).await {
            Err(WorkflowError::Conflict { session, message }) => {
                tracing::warn!(%session, message, "command for a closed session dropped");
                Ok(())
            }
            other => other,
        }
    }

    /// The session most recently opened.
    pub async fn latest(&self) -> Result<Option<SessionId>, WorkflowError> {
        let v = self.ports.kv.get(KV_LATEST).await?;
        Ok(v.and_then(|v| serde_json::from_value(v).ok()))
    }

    /// A command for a closed session is refused: its work is moot.
    async fn open(&self, s: &SessionId) -> Result<SessionId, WorkflowError> {
        let rec = self.record(s).await?;
        if rec.state != SessionState::Open {
            return Err(WorkflowError::Conflict {
                session: s.clone(),
                message: format!("the session is {:?}", rec.state).to_lowercase(),
            });
        }
        Ok(s.clone())
    }

    async fn run(
        &self,
        s: &SessionId,
        step: u8,
        work: impl Future<Output = Result<StepDone, StepError>>,
    ) -> Result<(), WorkflowError> {
        self.status(
            s,
            step,
            StepStatus::Processing,
            &format!("{} started", STEP_NAMES[usize::from(step - 1)]),
            Value::Null,
        )
        .await?;
        match work.await {
            Ok(d) => Ok(self.status(s, step, d.status, &d.message, d.details).await?),
            Err(StepError::Input { message, details }) => {
                Ok(self.status(s, step, StepStatus::Failed, &message, details).await?)
            }
            Err(StepError::Port(e)) => {
                let msg = format!("temporary failure, will be retried: {e}");
                // The failure status is best effort: the error itself goes back to the queue.
                let _ = self.status(s, step, StepStatus::Failed, &msg, Value::Null).await;
                Err(e.into())
            }
        }
    }

    // ---- operator actions ----

    /// Checks that the session can take `action` now, audits it and enqueues its command.
    pub async fn request(&self, s: &SessionId, action: Action, actor: &Actor) -> Result<Command, WorkflowError> {
        let view = self.view(s).await?;
        let conflict = |message: String| WorkflowError::Conflict { session: s.clone(), message };
        if view.session.state != SessionState::Open {
            return Err(conflict(format!(
                "the session is {}",
                serde_json::to_value(view.session.state)?.as_str().unwrap_or("")
            )));
        }
        let need = |n: u8, want: StepStatus, what: &str| -> Result<(), WorkflowError> {
            let have = view.status(n);
            if have == Some(want) {
                Ok(())
            } else {
                Err(conflict(format!(
                    "{what}: step {n} ({}) is {}, not {}",
                    STEP_NAMES[usize::from(n - 1)],
                    have.map(StepStatus::as_str).unwrap_or("not started"),
                    want.as_str()
                )))
            }
        };
        let cmd = match &action {
            Action::ConfirmOrders => {
                need(2, StepStatus::Waiting, "cannot confirm the Comax update")?;
                if view.step(2).details.get("order_ids").is_none() {
                    return Err(conflict("cannot confirm the Comax update: no orders were exported".into()));
                }
                Command::ConfirmOrdersV1 { session: s.clone(), by: actor.0.clone() }
            }
            Action::GenerateInventory => {
                need(4, StepStatus::Completed, "cannot generate the export")?;
                Command::GenerateInventoryV1 { session: s.clone() }
            }
            Action::ConfirmInventory => {
                need(5, StepStatus::Waiting, "cannot confirm the web update")?;
                if view.step(5).details.get("file").is_none() {
                    return Err(conflict("cannot confirm the web update: generate the export first".into()));
                }
                Command::ConfirmInventoryV1 { session: s.clone(), by: actor.0.clone() }
            }
            Action::Retry { step, override_blast_radius } => {
                if !(1..=5).contains(step) {
                    return Err(WorkflowError::BadRequest(format!("step {step}: steps are 1 to 5")));
                }
                if *step > 1 {
                    need(step - 1, StepStatus::Completed, &format!("cannot retry step {step}"))?;
                }
                if override_blast_radius.is_some() && *step != 4 {
                    return Err(WorkflowError::BadRequest("override_blast_radius applies to step 4 only".into()));
                }
                match step {
                    1 => Command::ImportWebV1 { session: s.clone() },
                    2 => Command::ExportOrdersV1 { session: s.clone() },
                    3 => Command::ImportComaxV1 { session: s.clone() },
                    4 => Command::ValidateV1 {
                        session: s.clone(),
                        blast_override: match override_blast_radius {
                            Some(reason) if reason.trim().is_empty() => {
                                return Err(WorkflowError::BadRequest("override_blast_radius needs a reason".into()))
                            }
                            Some(reason) => {
                                Some(BlastOverride { by: actor.0.clone(), reason: reason.clone(), at: self.now() })
                            }
                            None => None,
                        },
                    },
                    _ => Command::GenerateInventoryV1 { session: s.clone() },
                }
            }
        };
        self.audit(actor, &action_name(&action), s, &view, json!({ "enqueued": cmd })).await?;
        self.enqueue(&cmd).await?;
        Ok(cmd)
    }

    async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        s: &SessionId,
        before: &SessionView,
        after: Value,
    ) -> Result<(), PortError> {
        let steps: Vec<Value> = before.steps.iter().map(|st| json!({ "step": st.step, "status": st.status })).collect();
        self.ports
            .audit
            .record(&AuditEntry {
                at: self.now(),
                who: actor.0.clone(),
                action: action.to_string(),
                target: format!("session/{s}"),
                before: json!({ "state": before.session.state, "steps": steps }),
                after,
            })
            .await
    }

    /// Starts a session (the schedule and `POST /sessions`): audited, then enqueued.
    pub async fn start(&self, actor: &Actor) -> Result<SessionId, WorkflowError> {
        let s = self.open_session(actor).await?;
        let view = self.view(&s).await?;
        let cmd = Command::StartSessionV1 { by: actor.0.clone() };
        self.audit(actor, "start", &s, &view, json!({ "enqueued": cmd })).await?;
        self.enqueue(&cmd).await?;
        Ok(s)
    }

    /// Clears the session so that a fresh cycle can start; inputs and outputs stay in the bucket.
    /// Files still waiting in the inbox belong to this cycle: they move to
    /// `sessions/<s>/inbox-at-reset/`, so that the next cycle does not pick them up.
    pub async fn reset(&self, s: &SessionId, actor: &Actor) -> Result<(), WorkflowError> {
        let view = self.view(s).await?;
        if view.session.state != SessionState::Open {
            return Err(WorkflowError::Conflict {
                session: s.clone(),
                message: "the session is already closed".into(),
            });
        }
        let mut moved = Vec::new();
        for f in self.ports.blobs.list("inbox/").await? {
            let to = format!("sessions/{s}/inbox-at-reset/{}", &f.key["inbox/".len()..]);
            self.ports.blobs.copy(&f.key, &to).await?;
            self.ports.blobs.delete(&f.key).await?;
            moved.push(json!({ "from": f.key, "to": to }));
        }
        self.close(s, SessionState::Reset).await?;
        self.audit(actor, "reset", s, &view, json!({ "state": "reset", "moved_from_inbox": moved })).await?;
        Ok(())
    }

    /// A download URL for the inventory export of `s`.
    pub async fn download_url(&self, s: &SessionId) -> Result<String, WorkflowError> {
        let view = self.view(s).await?;
        let key = view
            .timeline
            .iter()
            .rev()
            .find_map(|e| (e.step == 5).then(|| e.details.get("file").and_then(Value::as_str)).flatten())
            .ok_or_else(|| WorkflowError::Conflict {
                session: s.clone(),
                message: "no inventory export yet: generate it first".into(),
            })?;
        Ok(self.ports.blobs.download_url(key, DOWNLOAD_SECS).await?)
    }

    // ---- the steps ----

    async fn snapshot(&self, s: &SessionId, inbox_key: &str, info: &BlobInfo) -> Result<InputRef, PortError> {
        let blob = self.ports.blobs.get(inbox_key).await?;
        let hash = hash_blob(&blob).map_err(|e| PortError::backend("read", inbox_key, e))?;
        let name = file_name(inbox_key);
        let stem = name.trim_end_matches(".csv");
        let key = format!("sessions/{s}/input/{stem}-{}.csv", &hash[..12]);
        if self.ports.blobs.head(&key).await?.is_none() {
            self.ports.blobs.copy(inbox_key, &key).await?;
        }
        // Bytes in memory, or our own scratch copy, are what was hashed; a file could change
        // underneath, so it is read again from the immutable snapshot.
        let fetched = matches!(blob, Blob::Bytes(_) | Blob::Temp(_)).then_some(blob);
        Ok(InputRef { key, modified: info.modified, size: info.size, fetched })
    }

    /// The inputs for a step: fresh uploads from the inbox, else the session's last snapshot.
    async fn take_inputs(
        &self,
        s: &SessionId,
        inbox: &str,
        names: &[&str],
        previous: Option<&Value>,
    ) -> Result<(BTreeMap<String, InputRef>, Vec<String>), StepError> {
        let mut inputs = BTreeMap::new();
        let mut from_inbox = Vec::new();
        let mut missing = Vec::new();
        for &name in names {
            let inbox_key = format!("{inbox}{name}");
            if let Some(info) = self.ports.blobs.head(&inbox_key).await? {
                inputs.insert(name.to_string(), self.snapshot(s, &inbox_key, &info).await?);
                from_inbox.push(inbox_key);
            } else if let Some(prev) = previous.and_then(|p| p.get("inputs")).and_then(|i| i.get(name)) {
                let r: InputRef =
                    serde_json::from_value(prev.clone()).map_err(|e| PortError::backend("decode", name, e))?;
                inputs.insert(name.to_string(), r);
            } else {
                missing.push(name);
            }
        }
        if !missing.is_empty() {
            return Err(input_err(format!("missing {} in {inbox}: upload it, then retry", missing.join(", "))));
        }
        Ok((inputs, from_inbox))
    }

    async fn load(&self, r: &InputRef) -> Result<Blob, StepError> {
        match &r.fetched {
            Some(blob) => Ok(blob.clone()),
            None => Ok(self.ports.blobs.get(&r.key).await?),
        }
    }

    async fn orders_of(&self, r: &InputRef) -> Result<Parsed<OrderLine>, StepError> {
        let blob = self.load(r).await?;
        let parsed = read_orders(WEB_ORDERS, open_blob(&blob, WEB_ORDERS)?).map_err(input_err)?;
        Ok(parsed)
    }

    async fn translations_of(&self, r: &InputRef) -> Result<Parsed<Translation>, StepError> {
        let blob = self.load(r).await?;
        let parsed = read_translations(WEB_TRANSLATIONS, open_blob(&blob, WEB_TRANSLATIONS)?).map_err(input_err)?;
        Ok(parsed)
    }

    /// Everything steps 1 and 3 imported, for validation and the export.
    async fn load_imported(&self, view: &SessionView) -> Result<Imported, StepError> {
        let web = Self::step_inputs(view, 1)?;
        let comax = Self::step_inputs(view, 3)?
            .remove(COMAX_PRODUCTS)
            .ok_or_else(|| input_err("step 3 recorded no ComaxProducts.csv"))?;
        let (mapping, _) = self.mapping().await?;
        Ok(Imported {
            comax_blob: self.load(&comax).await?,
            products: self.load(&web[WEB_PRODUCTS]).await?,
            orders: self.orders_of(&web[WEB_ORDERS]).await?,
            translations: self.translations_of(&web[WEB_TRANSLATIONS]).await?,
            web,
            comax,
            mapping,
        })
    }

    /// The input snapshots that step `n` recorded when it last completed.
    fn step_inputs(view: &SessionView, n: u8) -> Result<BTreeMap<String, InputRef>, StepError> {
        let d = Self::completed_details(view, n).ok_or_else(|| input_err(format!("step {n} has not completed")))?;
        serde_json::from_value(d["inputs"].clone())
            .map_err(|e| StepError::Port(PortError::backend("decode", format!("step {n} details"), e)))
    }

    /// A field of the step's latest `waiting` status (what the operator is asked to confirm).
    fn waiting_detail(view: &SessionView, n: u8, field: &str) -> Option<Value> {
        view.timeline
            .iter()
            .rev()
            .find(|e| e.step == n && e.status == StepStatus::Waiting)
            .and_then(|e| e.details.get(field).cloned())
    }

    async fn import_web(&self, s: &SessionId) -> Result<StepDone, StepError> {
        let view = self.view(s).await.map_err(port_only)?;
        let (inputs, from_inbox) =
            self.take_inputs(s, INBOX_WEB, &WEB_FILES, Self::completed_details(&view, 1)).await?;
        let products = self.load(&inputs[WEB_PRODUCTS]).await?;
        let mut reader =
            WebProductReader::open(WEB_PRODUCTS, open_blob(&products, WEB_PRODUCTS)?).map_err(input_err)?;
        let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
        let mut rows = 0u64;
        while let Some(p) = reader.next().map_err(input_err)? {
            rows += 1;
            *kinds.entry(kind_name(p.kind).to_string()).or_default() += 1;
        }
        let orders = self.orders_of(&inputs[WEB_ORDERS]).await?;
        let translations = self.translations_of(&inputs[WEB_TRANSLATIONS]).await?;
        for k in &from_inbox {
            self.ports.blobs.delete(k).await?;
        }
        let order_count = orders.rows.iter().map(|o| &o.order_id).collect::<BTreeSet<_>>().len();
        let problems = orders.problems.len() + translations.problems.len();
        let message = format!(
            "Imported {rows} products ({} variations), {} order lines in {order_count} orders, {} translations{}",
            kinds.get("variation").copied().unwrap_or(0),
            orders.rows.len(),
            translations.rows.len(),
            if problems > 0 {
                format!("; {problems} rows with problems go to the validation report")
            } else {
                String::new()
            }
        );
        let details = json!({
            "inputs": inputs,
            "counts": { "products": rows, "kinds": kinds, "order_lines": orders.rows.len(), "orders": order_count,
                        "translations": translations.rows.len(), "row_problems": problems },
        });
        self.enqueue(&Command::ExportOrdersV1 { session: s.clone() }).await?;
        Ok(done(message, details))
    }

    async fn export_orders(&self, s: &SessionId) -> Result<StepDone, StepError> {
        let view = self.view(s).await.map_err(port_only)?;
        let orders = self.orders_of(&Self::step_inputs(&view, 1)?[WEB_ORDERS]).await?;
        let mut eligible = Vec::new();
        let mut ids = BTreeSet::new();
        let mut already = BTreeSet::new();
        for line in orders.rows.iter().filter(|o| o.status == "processing") {
            if already.contains(&line.order_id) {
                continue;
            }
            if !ids.contains(&line.order_id) && self.ports.kv.get(&kv_exported(&line.order_id)).await?.is_some() {
                already.insert(line.order_id.clone());
                continue;
            }
            ids.insert(line.order_id.clone());
            eligible.push(line);
        }
        if eligible.is_empty() {
            self.enqueue(&Command::ImportComaxV1 { session: s.clone() }).await?;
            return Ok(done("No orders to export", json!({ "orders": 0, "already_exported": already })));
        }
        let key = outbox_key(s, "ComaxOrders");
        self.publish(&key, Bytes::from(write_comax_orders(&eligible))).await?;
        Ok(waiting(
            format!(
                "Exported {} orders ({} lines) to {}; waiting for \"Confirm Comax update\"",
                ids.len(),
                eligible.len(),
                file_name(&key)
            ),
            json!({ "file": key, "order_ids": ids, "lines": eligible.len(), "already_exported": already }),
        ))
    }

    async fn confirm_orders(&self, s: &SessionId, by: &str) -> Result<StepDone, StepError> {
        let view = self.view(s).await.map_err(port_only)?;
        let pending = Self::waiting_detail(&view, 2, "order_ids")
            .ok_or_else(|| input_err("no exported orders wait for confirmation"))?;
        let ids: Vec<String> = serde_json::from_value(pending)
            .map_err(|e| StepError::Port(PortError::backend("decode", "order ids", e)))?;
        let mut marked = 0;
        for id in &ids {
            let rec = json!({ "session": s, "by": by, "at": self.now() });
            marked += usize::from(self.ports.kv.put_if_absent(&kv_exported(id), &rec).await?);
        }
        self.enqueue(&Command::ImportComaxV1 { session: s.clone() }).await?;
        Ok(done(
            format!("Comax update confirmed by {by}: {marked} orders marked exported"),
            json!({ "order_ids": ids, "marked": marked, "by": by }),
        ))
    }

    async fn mapping(&self) -> Result<(ComaxMapping, &'static str), StepError> {
        if self.ports.blobs.head(MAPPING_KEY).await?.is_none() {
            return Ok((ComaxMapping::default(), "default"));
        }
        let blob = self.ports.blobs.get(MAPPING_KEY).await?;
        let bytes = blob.to_bytes().map_err(|e| PortError::backend("read", MAPPING_KEY, e))?;
        let text = String::from_utf8_lossy(&bytes);
        let m = ComaxMapping::from_toml(MAPPING_KEY, &text).map_err(input_err)?;
        Ok((m, MAPPING_KEY))
    }

    async fn import_comax(&self, s: &SessionId) -> Result<StepDone, StepError> {
        let view = self.view(s).await.map_err(port_only)?;
        let previous = Self::completed_details(&view, 3);
        let inbox_key = format!("{INBOX_COMAX}{COMAX_PRODUCTS}");
        if previous.is_none() && self.ports.blobs.head(&inbox_key).await?.is_none() {
            return Ok(waiting(format!("Upload {COMAX_PRODUCTS} to {INBOX_COMAX}"), Value::Null));
        }
        let (inputs, from_inbox) = self.take_inputs(s, INBOX_COMAX, &[COMAX_PRODUCTS], previous).await?;
        let (mapping, mapping_from) = self.mapping().await?;
        let blob = self.load(&inputs[COMAX_PRODUCTS]).await?;
        let reader =
            ComaxReader::open(COMAX_PRODUCTS, open_blob(&blob, COMAX_PRODUCTS)?, &mapping).map_err(input_err)?;
        let idx = index_comax(reader).map_err(input_err)?;
        for k in &from_inbox {
            self.ports.blobs.delete(k).await?;
        }
        self.enqueue(&Command::ValidateV1 { session: s.clone(), blast_override: None }).await?;
        Ok(done(
            format!("Imported {} Comax products ({} distinct SKUs)", idx.rows, idx.len()),
            json!({ "inputs": inputs, "rows": idx.rows, "skus": idx.len(), "mapping": mapping_from, "row_problems": idx.problems.len() }),
        ))
    }

    async fn validate(&self, s: &SessionId, blast_override: Option<BlastOverride>) -> Result<StepDone, StepError> {
        let view = self.view(s).await.map_err(port_only)?;
        let inputs = self.load_imported(&view).await?;
        let comax = index_comax(inputs.comax_reader()?).map_err(input_err)?;
        let last: Option<u64> = self.ports.kv.get(KV_LAST_COMAX_ROWS).await?.and_then(|v| v.as_u64());
        let mut file_times: Vec<(String, DateTime<Utc>)> =
            inputs.web.iter().map(|(n, r)| (n.clone(), r.modified)).collect();
        file_times.push((COMAX_PRODUCTS.to_string(), inputs.comax.modified));
        let outcome = validate(
            inputs.web_reader()?,
            &Inputs {
                translations: &inputs.translations,
                orders: &inputs.orders,
                comax: &comax,
                file_times: &file_times,
                now: self.now(),
                settings: &self.settings,
                last_accepted_comax_rows: last,
                blast_override: blast_override.as_ref(),
            },
        )
        .map_err(input_err)?;
        let key = outbox_key(s, "Validation");
        self.publish(&key, Bytes::from(write_report(&outcome.findings))).await?;
        let details = json!({
            "report": key, "counts": outcome.counts, "blast_radius": outcome.blast, "to_export": outcome.to_export,
        });
        let c = &outcome.counts;
        if outcome.blocked() {
            let blast = !outcome.blast.tripped.is_empty() && outcome.blast.overridden.is_none();
            return Err(StepError::Input {
                message: format!(
                    "{} errors, {} warnings: see {}{}",
                    c.errors,
                    c.warnings,
                    file_name(&key),
                    if blast {
                        format!("; blast-radius guard: {}", outcome.blast.tripped.join("; "))
                    } else {
                        String::new()
                    }
                ),
                details,
            });
        }
        self.ports.kv.put(KV_LAST_COMAX_ROWS, &json!(comax.rows)).await?;
        if let Some(o) = &blast_override {
            if !outcome.blast.tripped.is_empty() {
                self.audit(
                    &Actor(o.by.clone()),
                    "override-blast-radius",
                    s,
                    &view,
                    json!({ "reason": o.reason, "tripped": outcome.blast.tripped }),
                )
                .await?;
            }
        }
        Ok(done(
            format!("Passed: {} rows to export, {} warnings (see {})", outcome.to_export, c.warnings, file_name(&key)),
            details,
        ))
    }

    async fn generate_inventory(&self, s: &SessionId) -> Result<StepDone, StepError> {
        let view = self.view(s).await.map_err(port_only)?;
        if view.status(4) != Some(StepStatus::Completed) {
            return Err(input_err("validation has not passed"));
        }
        let inputs = self.load_imported(&view).await?;
        let mut out = Vec::new();
        let translations = Translations::new(&inputs.translations.rows);
        let held = on_hold_quantities(&inputs.orders.rows);
        let (summary, _) = export_inventory_parallel(
            inputs.web_reader()?,
            inputs.comax_reader()?,
            inputs.comax.size,
            &translations,
            &held,
            &mut out,
        )
        .map_err(input_err)?;
        let key = outbox_key(s, "WebInventory");
        self.publish(&key, Bytes::from(out)).await?;
        Ok(waiting(
            format!(
                "{} rows to update ({} stock, {} price) in {}: download it, import it into WooCommerce, then \"Confirm web update\"",
                summary.exported,
                summary.stock_changes,
                summary.price_changes,
                file_name(&key)
            ),
            json!({ "file": key, "summary": summary }),
        ))
    }

    async fn confirm_inventory(&self, s: &SessionId, by: &str) -> Result<StepDone, StepError> {
        let view = self.view(s).await.map_err(port_only)?;
        let file = Self::waiting_detail(&view, 5, "file")
            .ok_or_else(|| input_err("no export to confirm: generate it first"))?;
        Ok(done(format!("Web update confirmed by {by}; session complete"), json!({ "file": file, "by": by })))
    }

    /// Writes an output; an earlier different version is kept under `superseded/`.
    async fn publish(&self, key: &str, data: Bytes) -> Result<(), PortError> {
        if self.ports.blobs.head(key).await?.is_some() {
            let old = self.ports.blobs.get(key).await?.to_bytes().map_err(|e| PortError::backend("read", key, e))?;
            if old == data {
                return Ok(());
            }
            let (dir, name) = key.rsplit_once('/').unwrap_or(("", key));
            let keep = format!("{dir}/superseded/{}-{name}", self.now().format("%Y%m%dT%H%M%S%.3fZ"));
            self.ports.blobs.copy(key, &keep).await?;
        }
        self.ports.blobs.put(key, data, None).await
    }
}

fn action_name(a: &Action) -> String {
    match a {
        Action::ConfirmOrders => "confirm-orders".into(),
        Action::GenerateInventory => "generate-inventory".into(),
        Action::ConfirmInventory => "confirm-inventory".into(),
        Action::Retry { step, override_blast_radius: Some(_) } => format!("retry-step-{step}-with-override"),
        Action::Retry { step, .. } => format!("retry-step-{step}"),
    }
}

fn port_only(e: WorkflowError) -> StepError {
    match e {
        WorkflowError::Port(p) => StepError::Port(p),
        other => input_err(other),
    }
}

fn open_blob<'a>(blob: &'a Blob, name: &str) -> Result<Box<dyn Read + Send + 'a>, StepError> {
    blob.reader().map_err(|e| StepError::Port(PortError::backend("read", name, e)))
}

fn hash_blob(blob: &Blob) -> std::io::Result<String> {
    let mut r = blob.reader()?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

pub fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

fn kind_name(k: ProductKind) -> &'static str {
    match k {
        ProductKind::Simple => "simple",
        ProductKind::Variation => "variation",
        ProductKind::Variable => "variable",
        ProductKind::Grouped => "grouped",
        ProductKind::External => "external",
        ProductKind::Unknown => "unknown",
    }
}
