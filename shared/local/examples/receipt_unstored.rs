//! The middle peer of the receipt throughput bench (`bench/webhooks.sh`): `storesync serve`'s
//! own router and receiver (HTTP, signature check, parse, dedupe key, the record's and the
//! message's JSON, the record serialized as a store writes it) with an admission that stores
//! nothing and answers "recorded". Between the bare handler and `storesync serve` it shows what
//! the request path costs and what making a webhook durable costs. Not a product: a webhook
//! it answers is kept nowhere.
//!
//! usage: STORESYNC_WMS_SECRET=… cargo run --release -p storesync-local --example receipt_unstored -- 127.0.0.1:PORT

use std::sync::Arc;

use async_trait::async_trait;
use storesync_core::config::Settings;
use storesync_core::ports::{Admission, Admit, Admitted, PortError, Ports};
use storesync_core::workflow::Workflow;
use storesync_local::runtime::{secrets_from_env, Extras, Local};

// The allocator `storesync serve` runs with.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serializes the record, as the SQLite admission does on the caller's side, and keeps nothing.
struct Unstored;

#[async_trait]
impl Admission for Unstored {
    async fn admit(&self, a: &Admit<'_>) -> Result<Admitted, PortError> {
        std::hint::black_box((a.key.to_string(), a.record.to_string(), a.message.body.clone()));
        Ok(Admitted::Recorded)
    }
}

/// `storesync serve` with no platforms configured (as the bench runs it: its workers, its
/// watcher, its router), on ports whose admission is [`Unstored`].
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8082".into());
    let dir = tempfile::tempdir()?;
    let local = Local::open(dir.path(), Settings::default())?;
    let ports = Ports { admission: Arc::new(Unstored), ..local.workflow.ports().clone() };
    let local = Local { workflow: Arc::new(Workflow::new(ports, Settings::default())), ..local };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    Arc::new(local).serve_with(listener, secrets_from_env()?, Extras::default(), std::future::pending()).await?;
    eprintln!("storesync's receipt, storing nothing, on {addr}");
    std::future::pending::<()>().await;
    Ok(())
}
