//! What the processor needs of the platforms: the store it writes to (WooCommerce) and the
//! warehouse it reconciles from (the WMS REST API). Clients in `storesync-platforms` implement
//! these; the core names no HTTP client.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::retry::Failure;
use super::wms::{Line, OrderStatus};

/// A failed call to a platform, as the retry schedule sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EffectError {
    pub failure: Failure,
    pub message: String,
}

/// Stock set in the store: how many batch calls it took and the SKUs the store refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StockPush {
    pub calls: u64,
    pub updated: u64,
    /// `(sku, reason)`: not applied and not worth retrying (unknown SKU, refused value).
    pub refused: Vec<(String, String)>,
}

/// The web store the WMS's events are applied to.
#[async_trait]
pub trait Storefront: Send + Sync {
    /// The notes of an order (by the store's order id), to find a note already added.
    async fn order_notes(&self, order: &str) -> Result<Vec<String>, EffectError>;
    async fn add_order_note(&self, order: &str, note: &str) -> Result<(), EffectError>;
    async fn set_order_status(&self, order: &str, status: &str) -> Result<(), EffectError>;
    /// A SKU's stock in the store; `None` when the store has no such SKU.
    async fn stock_of(&self, sku: &str) -> Result<Option<i64>, EffectError>;
    /// Sets stock quantities by SKU in as few calls as the platform allows.
    async fn set_stocks(&self, items: &[(String, i64)]) -> Result<StockPush, EffectError>;
}

/// An order as the WMS API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WmsOrder {
    pub order_id: String,
    pub external_id: String,
    pub status: OrderStatus,
    #[serde(default)]
    pub lines: Vec<Line>,
    #[serde(default)]
    pub carrier: Option<String>,
    #[serde(default)]
    pub tracking_number: Option<String>,
}

/// A shipment as the WMS API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WmsShipment {
    pub shipment_id: String,
    pub order_id: String,
    pub external_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub status: String,
}

/// An inbound as the WMS API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WmsInbound {
    pub inbound_id: String,
    pub status: String,
    #[serde(default)]
    pub lines: Vec<Line>,
}

/// One page of a WMS change feed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangePage {
    pub items: Vec<serde_json::Value>,
    pub next_cursor: Option<String>,
}

/// What the WMS answered for one pushed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    Created { external_id: String, order_id: String },
    Refused { external_id: String, error: String },
}

/// The WMS REST API: entities read when a prerequisite never arrives, change feeds for the
/// backup syncs, and the store's new orders pushed in.
#[async_trait]
pub trait Warehouse: Send + Sync {
    async fn order(&self, order_id: &str) -> Result<Option<WmsOrder>, EffectError>;
    async fn shipment(&self, shipment_id: &str) -> Result<Option<WmsShipment>, EffectError>;
    async fn inbound(&self, inbound_id: &str) -> Result<Option<WmsInbound>, EffectError>;
    /// Changes of `kind` (`orders`, `shipments`, `inbounds`, `stock`) since `since` (all of them
    /// without), a page at a time.
    async fn changes(
        &self,
        kind: &str,
        since: Option<DateTime<Utc>>,
        cursor: Option<&str>,
    ) -> Result<ChangePage, EffectError>;
    /// Pushes orders (at most [`PUSH_LIMIT`] per call).
    async fn push_orders(&self, orders: &[serde_json::Value]) -> Result<Vec<Pushed>, EffectError>;
}

/// The most orders the WMS takes per push.
pub const PUSH_LIMIT: usize = 10;
