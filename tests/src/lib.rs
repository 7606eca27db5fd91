//! The harness of the end-to-end tests: input fixtures, backends (local and moto) and the
//! scenario suite that runs on every backend.

pub mod aws;
pub mod cost;
pub mod fixtures;
pub mod moto;
pub mod scenarios;
pub mod supplier;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use storesync_core::workflow::Workflow;

/// The repository's root (for `events/`, `infra/`, `examples/`).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `../shared/testdata/real/` beside the checkout.
pub fn real_testdata() -> std::path::PathBuf {
    repo_root().join("../shared/testdata/real")
}

/// A WMS `inbound.created` of at least `bytes` bytes (one line per 30), delivery `dlv_{id}`,
/// signed with `secret`: its body and headers.
pub fn large_inbound(id: &str, bytes: usize, secret: &[u8]) -> (Vec<u8>, Vec<(String, String)>) {
    let lines: Vec<String> = (0..bytes / 30).map(|i| format!(r#"{{"sku":"SKU-{i:05}","quantity":{i}}}"#)).collect();
    let body = format!(
        r#"{{"id":"evt_{id}","event":"inbound.created","occurred_at":"2026-11-25T08:00:00Z","data":{{"inbound_id":"IN{id}","lines":[{}]}}}}"#,
        lines.join(",")
    )
    .into_bytes();
    let signature = storesync_core::webhooks::signature::sign_base64(secret, &body);
    let headers =
        vec![("X-Webhook-Id".to_string(), format!("dlv_{id}")), ("X-Webhook-Signature".to_string(), signature)];
    (body, headers)
}

/// The template's logical name of one of our queues: `import-web` → `ImportWebQueue`; a
/// dead-letter queue of ours (`store-sync-dead`) is its queue's redrive target, `StoreSyncDLQ`.
pub fn logical_queue(queue: &str) -> String {
    let pascal = |name: &str| -> String { name.split('-').map(|p| p[..1].to_uppercase() + &p[1..]).collect() };
    match queue.strip_suffix("-dead") {
        Some(q) => format!("{}DLQ", pascal(q)),
        None => format!("{}Queue", pascal(queue)),
    }
}

/// A place where the daily flow runs: uploads fire the handlers the way the platform does.
#[async_trait]
pub trait Backend: Send + Sync {
    fn workflow(&self) -> &Workflow;
    /// Writes an object and fires the upload trigger (S3 ObjectCreated, or the local watcher).
    async fn upload(&self, key: &str, data: Bytes, modified: Option<DateTime<Utc>>);
    /// Delivers queued step commands to their handlers until the queues are empty.
    async fn drain(&self);
}
