//! The WMS webhook contract: `{"id", "event", "occurred_at", "data"}`, typed by `event`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub sku: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Received,
    Picking,
    Packed,
    Shipped,
    Cancelled,
}

/// What happened, by event type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data")]
pub enum WmsData {
    #[serde(rename = "order.created")]
    OrderCreated { order_id: String, external_id: String, status: OrderStatus, lines: Vec<Line> },
    #[serde(rename = "order.updated")]
    OrderUpdated { order_id: String, external_id: String, status: OrderStatus, lines: Vec<Line> },
    #[serde(rename = "order.shipped")]
    OrderShipped {
        order_id: String,
        external_id: String,
        carrier: String,
        tracking_number: String,
        shipped_at: DateTime<Utc>,
    },
    #[serde(rename = "stock.updated")]
    StockUpdated { sku: String, available: i64 },
    #[serde(rename = "stock.adjustment")]
    StockAdjustment { sku: String, delta: i64, reason: String },
    #[serde(rename = "shipment.created")]
    ShipmentCreated {
        shipment_id: String,
        order_id: String,
        external_id: String,
        carrier: String,
        tracking_number: String,
        status: String,
    },
    #[serde(rename = "shipment.updated")]
    ShipmentUpdated {
        shipment_id: String,
        order_id: String,
        external_id: String,
        carrier: String,
        tracking_number: String,
        status: String,
    },
    #[serde(rename = "inbound.created")]
    InboundCreated { inbound_id: String, lines: Vec<Line> },
    #[serde(rename = "inbound.completed")]
    InboundCompleted { inbound_id: String, lines: Vec<Line> },
}

/// One WMS event. `id` identifies the event (applied once even when re-sent under a new
/// delivery id); the delivery id travels in `X-Webhook-Id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WmsEvent {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    #[serde(flatten)]
    pub data: WmsData,
}

#[derive(Debug, thiserror::Error)]
#[error("the WMS event does not match the contract: {0}")]
pub struct ContractError(#[from] serde_json::Error);

impl WmsEvent {
    pub fn parse(body: &[u8]) -> Result<Self, ContractError> {
        let e: WmsEvent = serde_json::from_slice(body)?;
        if e.id.trim().is_empty() {
            return Err(ContractError(serde::de::Error::custom("id is empty")));
        }
        Ok(e)
    }

    /// The entity whose events must be applied in order: an order, a shipment, an inbound or a SKU.
    pub fn entity(&self) -> String {
        match &self.data {
            WmsData::OrderCreated { order_id, .. }
            | WmsData::OrderUpdated { order_id, .. }
            | WmsData::OrderShipped { order_id, .. } => format!("order:{order_id}"),
            WmsData::StockUpdated { sku, .. } | WmsData::StockAdjustment { sku, .. } => format!("sku:{sku}"),
            WmsData::ShipmentCreated { shipment_id, .. } | WmsData::ShipmentUpdated { shipment_id, .. } => {
                format!("shipment:{shipment_id}")
            }
            WmsData::InboundCreated { inbound_id, .. } | WmsData::InboundCompleted { inbound_id, .. } => {
                format!("inbound:{inbound_id}")
            }
        }
    }

    /// The event that must have been applied first, if any (by entity and type).
    pub fn prerequisite(&self) -> Option<&'static str> {
        match self.data {
            WmsData::OrderUpdated { .. } | WmsData::OrderShipped { .. } => Some("order.created"),
            WmsData::ShipmentUpdated { .. } => Some("shipment.created"),
            WmsData::InboundCompleted { .. } => Some("inbound.created"),
            _ => None,
        }
    }

    /// The WMS's priority classes: order lifecycle 1–5, stock 10–11, shipments 15–18, inbounds 20+.
    pub fn priority(&self) -> u8 {
        match self.data {
            WmsData::OrderCreated { .. } => 1,
            WmsData::OrderUpdated { .. } => 2,
            WmsData::OrderShipped { .. } => 3,
            WmsData::StockUpdated { .. } => 10,
            WmsData::StockAdjustment { .. } => 11,
            WmsData::ShipmentCreated { .. } => 15,
            WmsData::ShipmentUpdated { .. } => 16,
            WmsData::InboundCreated { .. } => 20,
            WmsData::InboundCompleted { .. } => 21,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract() {
        let body = br#"{"id":"evt_1","event":"stock.adjustment","occurred_at":"2026-11-25T08:00:00Z","data":{"sku":"W1","delta":-2,"reason":"damaged"}}"#;
        let e = WmsEvent::parse(body).unwrap();
        assert_eq!(e.data, WmsData::StockAdjustment { sku: "W1".into(), delta: -2, reason: "damaged".into() });
        assert_eq!((e.entity().as_str(), e.priority(), e.prerequisite()), ("sku:W1", 11, None));
        let shipped = br#"{"id":"evt_2","event":"order.shipped","occurred_at":"2026-11-25T08:00:00Z","data":{"order_id":"O1","external_id":"5001","carrier":"UPS","tracking_number":"1Z","shipped_at":"2026-11-25T07:59:00Z"}}"#;
        let e = WmsEvent::parse(shipped).unwrap();
        assert_eq!((e.entity().as_str(), e.prerequisite()), ("order:O1", Some("order.created")));
    }

    #[test]
    fn contract_errors_name_the_problem() {
        let e =
            WmsEvent::parse(br#"{"id":"x","event":"stock.teleported","occurred_at":"2026-11-25T08:00:00Z","data":{}}"#)
                .unwrap_err();
        assert!(
            e.to_string().starts_with("the WMS event does not match the contract: unknown variant `stock.teleported`"),
            "{e}"
        );
        let e = WmsEvent::parse(
            br#"{"id":"x","event":"stock.updated","occurred_at":"2026-11-25T08:00:00Z","data":{"sku":"W1"}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("missing field `available`"), "{e}");
        let e = WmsEvent::parse(br#"{"id":" ","event":"stock.updated","occurred_at":"2026-11-25T08:00:00Z","data":{"sku":"W1","available":1}}"#).unwrap_err();
        assert_eq!(e.to_string(), "the WMS event does not match the contract: id is empty");
    }
}
