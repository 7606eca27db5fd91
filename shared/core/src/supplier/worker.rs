//! The supplier's work beyond the feed, the same in Lambda and locally: the apply queue
//! (`supplier-apply`) — approved entries to write to Shopify, low-stock alerts to sync from
//! Xorosoft — and the scheduled jobs ([`super::pipeline::JOBS`]), on the platforms as
//! configured ([`SupplierPlatforms`]).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::apply::{apply, requeue_approved, ApplyReport};
use super::distributor::Distributor;
use super::inventory::{link, sync_low_stock, sync_stock, LowStock, StockReport};
use super::pipeline::{poll, SupplierError, SupplierSettings, APPLY_QUEUE};
use super::source::FeedSource;
use crate::ports::{PortError, Ports};
use crate::stores::catalog_sync::CatalogStore;
use crate::stores::inventory::InventoryStore;

/// The platforms the supplier's work reaches, as configured. Each may be missing: its error
/// names what to set, and only the work that needs it fails (an apply needs no FTP server).
pub trait SupplierPlatforms: Send + Sync {
    /// The feed's folder (FTP).
    fn source(&self) -> Result<&dyn FeedSource, String>;
    /// The distributor (Xorosoft).
    fn distributor(&self) -> Result<&dyn Distributor, String>;
    /// The store's catalog (Shopify).
    fn catalog(&self) -> Result<&dyn CatalogStore, String>;
    /// The store's stock at its location (Shopify).
    fn inventory(&self) -> Result<&dyn InventoryStore, String>;
    /// The stock location new products are stocked at.
    fn location(&self) -> Option<&str>;
}

fn need<T: ?Sized>(r: Result<&T, String>) -> Result<&T, SupplierError> {
    r.map_err(SupplierError::Invalid)
}

/// One message of the apply queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ApplyMessage {
    /// Approved staging entries (a retry looks a CREATE up before making it again).
    Entries {
        ids: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retry: bool,
    },
    /// A linked product's stock at or below the threshold in Shopify.
    LowStock { low_stock: LowStock },
}

impl ApplyMessage {
    pub fn entries(ids: &[String]) -> Self {
        ApplyMessage::Entries { ids: ids.to_vec(), retry: false }
    }

    pub async fn send(&self, ports: &Ports) -> Result<(), PortError> {
        let body = serde_json::to_string(self).map_err(|e| PortError::backend("encode", APPLY_QUEUE, e))?;
        ports.queue.send(APPLY_QUEUE, &body).await
    }

    /// What a message is about, in a few words (for a report of what failed).
    pub fn describe(body: &str) -> String {
        match Self::parse(body) {
            Ok(ApplyMessage::Entries { ids, .. }) => {
                format!("{} approved entries ({}…)", ids.len(), ids.first().map_or("", |s| s.as_str()))
            }
            Ok(ApplyMessage::LowStock { low_stock }) => format!("the low-stock alert for {}", low_stock.sku),
            Err(_) => "a message that is not an apply message".into(),
        }
    }

    pub fn parse(body: &str) -> Result<Self, SupplierError> {
        serde_json::from_str(body).map_err(|e| {
            SupplierError::Invalid(format!(
                "not an apply message ({e}): expected {{\"ids\": […]}} or {{\"low_stock\": …}}"
            ))
        })
    }
}

/// What one message did.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    Applied(ApplyReport),
    Stock(StockReport),
}

/// Handles one apply-queue message; `redelivered` when the queue has delivered it before.
pub async fn handle(
    ports: &Ports,
    p: &dyn SupplierPlatforms,
    settings: &SupplierSettings,
    body: &str,
    redelivered: bool,
) -> Result<Handled, SupplierError> {
    let policy = &settings.conflicts;
    match ApplyMessage::parse(body)? {
        ApplyMessage::Entries { ids, retry } => {
            let store = need(p.catalog())?;
            let report = apply(ports, store, &ids, p.location(), policy, retry || redelivered).await?;
            // Low-stock alerts for what was just applied are known at once (not only after
            // the next stock sync); without the stock port configured, that sync links them.
            if let Ok(inventory) = p.inventory() {
                if let Err(e) = link(ports, inventory, &report.applied_skus).await {
                    tracing::warn!(error = %e, "linking the applied products' stock; the next stock sync will");
                }
            }
            Ok(Handled::Applied(report))
        }
        ApplyMessage::LowStock { low_stock } => {
            let what = |e: String| SupplierError::Invalid(format!("the low-stock alert for {}: {e}", low_stock.sku));
            let distributor = p.distributor().map_err(what)?;
            let inventory = p.inventory().map_err(what)?;
            Ok(Handled::Stock(sync_low_stock(ports, distributor, inventory, policy, &low_stock).await?))
        }
    }
}

/// Runs one scheduled job (`poll`, `stock`, `check` or `sweep`; see [`super::pipeline::JOBS`]);
/// its report. `scratch` is where the poll downloads before the bucket.
pub async fn run_job(
    ports: &Ports,
    p: &dyn SupplierPlatforms,
    settings: &SupplierSettings,
    job: &str,
    scratch: &Path,
) -> Result<Value, SupplierError> {
    let report = match job {
        "poll" => json!(poll(ports, need(p.source())?, settings, scratch).await?),
        "stock" => {
            let key = format!("supplier-stock-{}", ports.clock.now().format("%Y%m%dT%H%M"));
            let (d, inv) = (need(p.distributor())?, need(p.inventory())?);
            json!(sync_stock(ports, d, inv, &settings.conflicts, &key).await?)
        }
        "check" => {
            let edited = super::syncdown::full_check(ports, need(p.catalog())?).await?;
            json!({ "products_edited_in_shopify": edited })
        }
        "sweep" => json!({ "requeued": requeue_approved(ports, chrono::Duration::minutes(30)).await? }),
        other => {
            return Err(SupplierError::Invalid(format!("no supplier job {other:?}: use poll, stock, check or sweep")))
        }
    };
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_they_are_written() {
        let m = ApplyMessage::entries(&["a".into(), "b".into()]);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"ids":["a","b"]}"#);
        let retry = ApplyMessage::Entries { ids: vec!["a".into()], retry: true };
        assert_eq!(ApplyMessage::parse(&serde_json::to_string(&retry).unwrap()).unwrap(), retry);
        let low = ApplyMessage::LowStock {
            low_stock: LowStock {
                sku: "S".into(),
                item: "gid://shopify/InventoryItem/1".into(),
                available: 2,
                event: "shopify:1".into(),
            },
        };
        assert_eq!(ApplyMessage::parse(&serde_json::to_string(&low).unwrap()).unwrap(), low);
        let e = ApplyMessage::parse(r#"{"sku": "S"}"#).unwrap_err().to_string();
        assert!(e.contains("not an apply message"), "{e}");
        assert_eq!(ApplyMessage::describe(&serde_json::to_string(&low).unwrap()), "the low-stock alert for S");
        assert_eq!(ApplyMessage::describe(r#"{"ids":["r/a","r/b"]}"#), "2 approved entries (r/a…)");
    }
}
