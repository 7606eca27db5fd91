//! The apply queue (`supplier-apply`): its messages — approved entries to write to Shopify, and
//! low-stock alerts to sync from Xorosoft — and their handling, the same in Lambda and locally.

use serde::{Deserialize, Serialize};

use super::apply::{apply, ApplyReport};
use super::conflict::ConflictPolicy;
use super::distributor::Distributor;
use super::inventory::{sync_low_stock, LowStock, StockReport};
use super::pipeline::{SupplierError, APPLY_QUEUE};
use crate::ports::{PortError, Ports};
use crate::stores::catalog_sync::CatalogStore;
use crate::stores::inventory::InventoryStore;

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

    pub fn parse(body: &str) -> Result<Self, SupplierError> {
        serde_json::from_str(body).map_err(|e| {
            SupplierError::Invalid(format!(
                "not an apply message ({e}): expected {{\"ids\": […]}} or {{\"low_stock\": …}}"
            ))
        })
    }
}

/// What the apply queue's handler writes with. The distributor and the inventory port are
/// needed by low-stock alerts only (a local run may have no Xorosoft configured).
pub struct Writers<'a> {
    pub store: &'a dyn CatalogStore,
    pub location: Option<&'a str>,
    pub policy: &'a ConflictPolicy,
    pub distributor: Option<&'a dyn Distributor>,
    pub inventory: Option<&'a dyn InventoryStore>,
}

/// What one message did.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    Applied(ApplyReport),
    Stock(StockReport),
}

/// Handles one apply-queue message; `redelivered` when the queue has delivered it before.
pub async fn handle(ports: &Ports, w: &Writers<'_>, body: &str, redelivered: bool) -> Result<Handled, SupplierError> {
    match ApplyMessage::parse(body)? {
        ApplyMessage::Entries { ids, retry } => {
            Ok(Handled::Applied(apply(ports, w.store, &ids, w.location, w.policy, retry || redelivered).await?))
        }
        ApplyMessage::LowStock { low_stock } => {
            let (Some(d), Some(inv)) = (w.distributor, w.inventory) else {
                return Err(SupplierError::Invalid(format!(
                    "a low-stock alert for {} needs Xorosoft and the Shopify stock location configured",
                    low_stock.sku
                )));
            };
            Ok(Handled::Stock(sync_low_stock(ports, d, inv, w.policy, &low_stock).await?))
        }
    }
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
                updated_at: None,
            },
        };
        assert_eq!(ApplyMessage::parse(&serde_json::to_string(&low).unwrap()).unwrap(), low);
        let e = ApplyMessage::parse(r#"{"sku": "S"}"#).unwrap_err().to_string();
        assert!(e.contains("not an apply message"), "{e}");
    }
}
