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
use storesync_api::{router, AppState, Auth};
use storesync_core::config::Settings;
use storesync_core::ports::{Admission, Admit, Admitted, PortError, Ports};
use storesync_core::webhooks::receiver::Receiver;
use storesync_local::runtime::{secrets_from_env, Local};

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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8082".into());
    let dir = tempfile::tempdir()?;
    let local = Local::open(dir.path(), Settings::default())?;
    let ports = Ports { admission: Arc::new(Unstored), ..local.workflow.ports().clone() };
    let app = router(Arc::new(AppState {
        workflow: local.workflow.clone(),
        auth: Auth::Hs256(local.jwt_secret()?),
        webhooks: Some(Arc::new(Receiver::new(ports, secrets_from_env()?))),
    }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("storesync's receipt, storing nothing, on {addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
