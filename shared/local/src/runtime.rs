//! The in-process runtime: the same workflow the Lambda functions run, on a folder and SQLite,
//! with queue workers, an inbox watcher and the admin API on localhost.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use storesync_api::auth::Secret;
use storesync_api::{router, AppState, Auth};
use storesync_core::config::Settings;
use storesync_core::ports::{BlobStore, PortError, Ports, Queue, SystemClock};
use storesync_core::webhooks::processor::Processor;
use storesync_core::webhooks::receiver::Receiver;
use storesync_core::webhooks::Secrets;
use storesync_core::workflow::{UploadOutcome, Workflow, WorkflowError, QUEUES};

use crate::blob::FsBlobStore;
use crate::sqlite::SqliteState;

pub const ENV_STATE: &str = "STORESYNC_STATE";
pub const ENV_JWT_SECRET: &str = "STORESYNC_JWT_SECRET";

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("state folder {path}: {source}")]
    State {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    #[error("queue {queue}: message failed and stays queued for a retry: {source}")]
    Message {
        queue: String,
        #[source]
        source: WorkflowError,
    },
    #[error("{0}")]
    Auth(#[from] storesync_api::auth::AuthError),
    #[error("configuration: {0}")]
    Config(String),
}

/// Webhook secrets from the environment: `STORESYNC_WMS_SECRET`, `STORESYNC_SHOPIFY_SECRET`,
/// `STORESYNC_WOOCOMMERCE_SECRET` (several comma-separated while a key is rotated) and
/// `STORESYNC_WMS_SIGNATURE=hmac|standard`.
pub fn secrets_from_env() -> Result<Secrets, LocalError> {
    Secrets::from_lookup(|k| std::env::var(k).ok()).map_err(LocalError::Config)
}

/// The embedded default: `<state>/bucket/` is the bucket, `<state>/state.sqlite` the tables.
pub struct Local {
    pub dir: PathBuf,
    pub blobs: Arc<FsBlobStore>,
    pub state: Arc<SqliteState>,
    pub workflow: Arc<Workflow>,
    /// Where store ⇄ store sync reaches the stores (the environment by default).
    pub stores: Arc<dyn storesync_core::stores::plans::StoreConnector>,
}

impl Local {
    pub fn open(dir: &Path, settings: Settings) -> Result<Self, LocalError> {
        let err = |source| LocalError::State { path: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(err)?;
        let blobs = Arc::new(FsBlobStore::new(dir.join("bucket")).map_err(err)?);
        let state = Arc::new(SqliteState::open(&dir.join("state.sqlite"))?);
        let ports = Ports {
            blobs: blobs.clone(),
            status: state.clone(),
            kv: state.clone(),
            queue: state.clone(),
            admission: state.clone(),
            audit: state.clone(),
            staging: state.clone(),
            versions: state.clone(),
            clock: Arc::new(SystemClock),
        };
        let workflow = Arc::new(Workflow::new(ports, settings));
        let stores = Arc::new(crate::stores::ConfiguredStores::default());
        Ok(Self { dir: dir.to_path_buf(), blobs, state, workflow, stores })
    }

    /// Copies a local file into the bucket (keeping its modification time) and fires the
    /// upload trigger, as an S3 put does on AWS.
    pub async fn upload_file(&self, key: &str, path: &Path) -> Result<UploadOutcome, LocalError> {
        let err = |source| LocalError::State { path: path.to_path_buf(), source };
        let data = std::fs::read(path).map_err(err)?;
        let modified: Option<DateTime<Utc>> = std::fs::metadata(path).and_then(|m| m.modified()).ok().map(Into::into);
        self.blobs.put(key, Bytes::from(data), modified).await?;
        Ok(self.workflow.on_upload(key).await?)
    }

    /// Handles every queued command until the queues are empty; returns how many it handled.
    pub async fn drain(&self) -> Result<usize, LocalError> {
        let mut handled = 0;
        loop {
            let n = self.pass().await?;
            if n == 0 {
                return Ok(handled);
            }
            handled += n;
        }
    }

    /// One pass over every queue.
    pub async fn pass(&self) -> Result<usize, LocalError> {
        let mut n = 0;
        for q in QUEUES {
            for d in self.state.receive(q, 10, 30).await? {
                n += 1;
                match self.workflow.handle_message(&d.body).await {
                    Ok(()) => self.state.ack(q, &d.receipt).await?,
                    Err(source) => return Err(LocalError::Message { queue: q.to_string(), source }),
                }
            }
        }
        Ok(n)
    }

    /// The JWT secret: `STORESYNC_JWT_SECRET`, else `<state>/jwt-secret` (made on first use).
    pub fn jwt_secret(&self) -> Result<Secret, LocalError> {
        if let Ok(s) = std::env::var(ENV_JWT_SECRET) {
            return Ok(Secret::new(s.into_bytes())?);
        }
        let path = self.dir.join("jwt-secret");
        let err = |source| LocalError::State { path: path.clone(), source };
        if !path.exists() {
            let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            std::fs::write(&path, secret).map_err(err)?;
        }
        let s = std::fs::read_to_string(&path).map_err(err)?;
        Ok(Secret::new(s.trim().as_bytes().to_vec())?)
    }

    /// Serves the admin API on `addr`, runs the queue workers and watches `bucket/inbox/`.
    /// Returns the bound address once listening; runs until `shutdown` resolves.
    pub async fn serve(
        self: Arc<Self>,
        addr: SocketAddr,
        secrets: Secrets,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<SocketAddr, LocalError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| LocalError::State { path: self.dir.clone(), source })?;
        self.serve_with(listener, secrets, Extras::default(), shutdown).await
    }

    /// [`Local::serve`] on a bound listener, with what [`Extras`] adds.
    pub async fn serve_with(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        secrets: Secrets,
        extras: Extras,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<SocketAddr, LocalError> {
        let Extras { processor, routes: extra, supplier } = extras;
        let receiver = Arc::new(Receiver::new(self.workflow.ports().clone(), secrets));
        let mut app = router(Arc::new(AppState {
            workflow: self.workflow.clone(),
            auth: Auth::Hs256(self.jwt_secret()?),
            webhooks: Some(receiver),
        }));
        if let Some(extra) = extra {
            app = app.merge(extra);
        }
        let bound = listener.local_addr().map_err(|source| LocalError::State { path: self.dir.clone(), source })?;
        if let Some(p) = processor {
            let scheduled = p.clone();
            tokio::spawn(async move { crate::webhooks::work(&p, false).await });
            tokio::spawn(async move { crate::webhooks::schedule(&scheduled).await });
        }
        let worker = self.clone();
        tokio::spawn(async move {
            loop {
                match worker.pass().await {
                    Ok(0) => tokio::time::sleep(Duration::from_millis(150)).await,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "queue worker");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        let watcher = self.clone();
        tokio::spawn(async move { watcher.watch_inbox().await });
        if let Some(s) = supplier {
            let ports = self.workflow.ports().clone();
            tokio::spawn(s.clone().work_forever(ports.clone()));
            tokio::spawn(s.schedule(ports));
        }
        let stores = self.stores.clone();
        tokio::spawn(crate::stores::work_forever(self.workflow.ports().clone(), stores));
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                tracing::error!(error = %e, "admin api stopped");
            }
        });
        Ok(bound)
    }

    /// Polls `inbox/` and fires the upload trigger for every new or changed file, once it has
    /// stayed the same for one poll (so that a file still being copied is not read half-way).
    async fn watch_inbox(&self) {
        let mut settled = Settled::default();
        loop {
            match self.blobs.list("inbox/").await {
                Ok(files) => {
                    for key in settled.next(files) {
                        match self.workflow.on_upload(&key).await {
                            Ok(UploadOutcome::Ignored(why)) => tracing::warn!(key = %key, why, "upload ignored"),
                            Ok(UploadOutcome::Handled(s)) => {
                                tracing::info!(key = %key, session = %s, "upload handled")
                            }
                            Err(e) => tracing::error!(key = %key, error = %e, "upload failed"),
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "inbox watcher"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Runs `jobs` on their periods (the template's expressions) for as long as the process lives:
/// each first after one period, as EventBridge does, but those named in `at_start` at once.
pub async fn run_schedules<F: std::future::Future<Output = ()>>(
    jobs: &[storesync_core::webhooks::jobs::Schedule],
    at_start: &[&str],
    mut run: impl FnMut(&'static str) -> F,
) {
    let started = tokio::time::Instant::now();
    let period = |i: usize| Duration::from_secs(jobs[i].every_secs);
    let mut next: Vec<tokio::time::Instant> =
        (0..jobs.len()).map(|i| if at_start.contains(&jobs[i].job) { started } else { started + period(i) }).collect();
    while let Some((i, due)) = next.iter().copied().enumerate().min_by_key(|(_, t)| *t) {
        tokio::time::sleep_until(due).await;
        run(jobs[i].job).await;
        next[i] = due + period(i);
    }
}

/// What `serve` runs besides the admin API, the daily flow's workers and the store sync's.
#[derive(Default)]
pub struct Extras {
    /// The webhook processor's worker and schedules.
    pub processor: Option<Arc<Processor>>,
    /// More routes on the same port (the simulators).
    pub routes: Option<axum::Router>,
    /// The supplier pipeline's workers and schedules.
    pub supplier: Option<Arc<crate::supplier::SupplierRuntime>>,
}

/// A folder watcher's memory: which files fired, and which are settling. A new or changed file
/// fires once it has stayed the same (size and time) for one look, as an upload trigger would
/// after the object is complete.
#[derive(Debug, Default)]
pub struct Settled {
    fired: HashMap<String, (u64, DateTime<Utc>)>,
    settling: HashMap<String, (u64, DateTime<Utc>)>,
}

impl Settled {
    /// The keys of `files` (one look at the folder) that fire now.
    pub fn next(&mut self, files: Vec<storesync_core::ports::BlobInfo>) -> Vec<String> {
        // Files gone are forgotten (a file put again fires again).
        let present: std::collections::HashSet<String> = files.iter().map(|f| f.key.clone()).collect();
        self.fired.retain(|k, _| present.contains(k));
        self.settling.retain(|k, _| present.contains(k));
        let mut fire = Vec::new();
        for f in files {
            let sig = (f.size, f.modified);
            if self.fired.get(&f.key) == Some(&sig) {
                continue;
            }
            if self.settling.insert(f.key.clone(), sig) != Some(sig) {
                continue;
            }
            self.settling.remove(&f.key);
            self.fired.insert(f.key.clone(), sig);
            fire.push(f.key);
        }
        fire
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storesync_core::ports::BlobInfo;

    fn info(key: &str, size: u64) -> BlobInfo {
        BlobInfo { key: key.into(), size, modified: "2026-12-07T09:00:00Z".parse().unwrap() }
    }

    #[test]
    fn a_file_fires_once_it_stays_the_same_and_again_when_it_changes() {
        let mut s = Settled::default();
        assert!(s.next(vec![info("a", 10)]).is_empty(), "first seen: settling");
        assert!(s.next(vec![info("a", 20)]).is_empty(), "still growing");
        assert_eq!(s.next(vec![info("a", 20)]), vec!["a".to_string()]);
        assert!(s.next(vec![info("a", 20)]).is_empty(), "fired once");
        assert!(s.next(vec![info("a", 30)]).is_empty());
        assert_eq!(s.next(vec![info("a", 30)]), vec!["a".to_string()], "changed, then settled");
        assert!(s.next(vec![info("b", 5)]).is_empty());
        assert!(s.next(vec![]).is_empty(), "both gone");
        assert!((s.fired.is_empty() && s.settling.is_empty()), "nothing kept of files gone");
        assert!(s.next(vec![info("a", 30)]).is_empty(), "put again: settles again");
        assert_eq!(s.next(vec![info("a", 30)]), vec!["a".to_string()]);
    }
}
