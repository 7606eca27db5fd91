//! The peer of the receipt throughput bench (`bench/webhooks.sh`): a bare axum handler that
//! answers 200 to `POST /webhooks/{source}` without verifying, deduplicating or storing
//! anything, on the same runtime and listener setup as `storesync serve`.
//!
//! usage: cargo run --release -p storesync-local --example bare_axum -- 127.0.0.1:PORT

use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

async fn accept(body: axum::body::Bytes) -> Json<Value> {
    std::hint::black_box(body);
    Json(json!({ "status": "accepted" }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8081".into());
    let app = Router::new().route("/webhooks/{source}", post(accept));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("bare axum on {addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
