//! The daily-flow scenarios on the embedded default (folder + SQLite), as `storesync serve` runs them.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use storesync_core::config::Settings;
use storesync_core::ports::BlobStore;
use storesync_core::workflow::Workflow;
use storesync_local::Local;
use storesync_tests::Backend;

struct LocalBackend {
    local: Local,
    _dir: tempfile::TempDir,
}

impl LocalBackend {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let local = Local::open(dir.path(), Settings::default()).unwrap();
        Self { local, _dir: dir }
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn workflow(&self) -> &Workflow {
        &self.local.workflow
    }

    async fn upload(&self, key: &str, data: Bytes, modified: Option<DateTime<Utc>>) {
        self.local.blobs.put(key, data, modified).await.unwrap();
        self.local.workflow.on_upload(key).await.unwrap();
    }

    async fn drain(&self) {
        self.local.drain().await.unwrap();
    }
}

async fn backend(_scenario: &str) -> LocalBackend {
    LocalBackend::new()
}

storesync_tests::all_scenario_tests!(backend);
