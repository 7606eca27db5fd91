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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderData {
    pub order_id: String,
    pub external_id: String,
    pub status: OrderStatus,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippedData {
    pub order_id: String,
    pub external_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub shipped_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockData {
    pub sku: String,
    pub available: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustmentData {
    pub sku: String,
    pub delta: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentData {
    pub shipment_id: String,
    pub order_id: String,
    pub external_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundData {
    pub inbound_id: String,
    pub lines: Vec<Line>,
}

/// What happened, by event type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum WmsData {
    OrderCreated(OrderData),
    OrderUpdated(OrderData),
    OrderShipped(ShippedData),
    StockUpdated(StockData),
    StockAdjustment(AdjustmentData),
    ShipmentCreated(ShipmentData),
    ShipmentUpdated(ShipmentData),
    InboundCreated(InboundData),
    InboundCompleted(InboundData),
}

/// One WMS event. `id` identifies the event (applied once even when re-sent under a new
/// delivery id); the delivery id travels in `X-Webhook-Id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WmsEvent {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub data: WmsData,
}

/// The envelope, with `data` left unparsed until the type is known (one pass, no buffering).
#[derive(Deserialize)]
struct Envelope<'a> {
    id: String,
    event: std::borrow::Cow<'a, str>,
    occurred_at: DateTime<Utc>,
    #[serde(borrow)]
    data: &'a serde_json::value::RawValue,
}

/// The nine WMS event types, with what the processor needs to know of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    OrderCreated,
    OrderUpdated,
    OrderShipped,
    StockUpdated,
    StockAdjustment,
    ShipmentCreated,
    ShipmentUpdated,
    InboundCreated,
    InboundCompleted,
}

const KINDS: [(&str, EventKind); 9] = [
    ("order.created", EventKind::OrderCreated),
    ("order.updated", EventKind::OrderUpdated),
    ("order.shipped", EventKind::OrderShipped),
    ("stock.updated", EventKind::StockUpdated),
    ("stock.adjustment", EventKind::StockAdjustment),
    ("shipment.created", EventKind::ShipmentCreated),
    ("shipment.updated", EventKind::ShipmentUpdated),
    ("inbound.created", EventKind::InboundCreated),
    ("inbound.completed", EventKind::InboundCompleted),
];

impl EventKind {
    pub fn parse(name: &str) -> Result<Self, ContractError> {
        KINDS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k).ok_or_else(|| {
            let names: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
            ContractError(serde::de::Error::custom(format!(
                "unknown event type {name:?} (expected one of {})",
                names.join(", ")
            )))
        })
    }

    /// The name the WMS uses (`order.created`, …).
    pub fn name(self) -> &'static str {
        KINDS.iter().find(|(_, k)| *k == self).map(|(n, _)| *n).unwrap_or_default()
    }

    /// The event of the same entity that must have been applied first, if any.
    pub fn prerequisite(self) -> Option<EventKind> {
        match self {
            EventKind::OrderUpdated | EventKind::OrderShipped => Some(EventKind::OrderCreated),
            EventKind::ShipmentUpdated => Some(EventKind::ShipmentCreated),
            EventKind::InboundCompleted => Some(EventKind::InboundCreated),
            _ => None,
        }
    }

    /// The WMS's priority classes: order lifecycle 1–5, stock 10–11, shipments 15–18, inbounds 20+.
    pub fn priority(self) -> u8 {
        match self {
            EventKind::OrderCreated => 1,
            EventKind::OrderUpdated => 2,
            EventKind::OrderShipped => 3,
            EventKind::StockUpdated => 10,
            EventKind::StockAdjustment => 11,
            EventKind::ShipmentCreated => 15,
            EventKind::ShipmentUpdated => 16,
            EventKind::InboundCreated => 20,
            EventKind::InboundCompleted => 21,
        }
    }

    /// The entity class and the `data` field that names the entity.
    fn entity_field(self) -> (&'static str, &'static str) {
        match self {
            EventKind::OrderCreated | EventKind::OrderUpdated | EventKind::OrderShipped => ("order", "order_id"),
            EventKind::StockUpdated | EventKind::StockAdjustment => ("sku", "sku"),
            EventKind::ShipmentCreated | EventKind::ShipmentUpdated => ("shipment", "shipment_id"),
            EventKind::InboundCreated | EventKind::InboundCompleted => ("inbound", "inbound_id"),
        }
    }
}

/// What receipt needs of a WMS event, read without parsing the whole payload: its id, kind,
/// time and entity. The processor parses the rest ([`WmsEvent::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WmsHead {
    pub id: String,
    pub kind: EventKind,
    pub occurred_at: DateTime<Utc>,
    pub entity: String,
}

#[derive(Deserialize)]
struct EntityKeys<'a> {
    #[serde(borrow)]
    order_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    sku: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    shipment_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    inbound_id: Option<std::borrow::Cow<'a, str>>,
}

/// The envelope with only the entity keys of `data`: one pass over the body.
#[derive(Deserialize)]
struct HeadEnvelope<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    event: std::borrow::Cow<'a, str>,
    occurred_at: DateTime<Utc>,
    #[serde(borrow)]
    data: EntityKeys<'a>,
}

impl WmsHead {
    pub fn parse(body: &[u8]) -> Result<Self, ContractError> {
        let env: HeadEnvelope<'_> = serde_json::from_slice(body)?;
        if env.id.trim().is_empty() {
            return Err(ContractError(serde::de::Error::custom("id is empty")));
        }
        let kind = EventKind::parse(&env.event)?;
        let keys = env.data;
        let (class, field) = kind.entity_field();
        let value = match field {
            "order_id" => keys.order_id,
            "sku" => keys.sku,
            "shipment_id" => keys.shipment_id,
            _ => keys.inbound_id,
        };
        let value = value
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| ContractError(serde::de::Error::custom(format!("data.{field} is missing"))))?;
        Ok(WmsHead { id: env.id.into_owned(), kind, occurred_at: env.occurred_at, entity: format!("{class}:{value}") })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the WMS event does not match the contract: {0}")]
pub struct ContractError(#[from] serde_json::Error);

impl WmsEvent {
    pub fn parse(body: &[u8]) -> Result<Self, ContractError> {
        let env: Envelope<'_> = serde_json::from_slice(body)?;
        if env.id.trim().is_empty() {
            return Err(ContractError(serde::de::Error::custom("id is empty")));
        }
        let d = env.data.get();
        let data = match EventKind::parse(&env.event)? {
            EventKind::OrderCreated => WmsData::OrderCreated(serde_json::from_str(d)?),
            EventKind::OrderUpdated => WmsData::OrderUpdated(serde_json::from_str(d)?),
            EventKind::OrderShipped => WmsData::OrderShipped(serde_json::from_str(d)?),
            EventKind::StockUpdated => WmsData::StockUpdated(serde_json::from_str(d)?),
            EventKind::StockAdjustment => WmsData::StockAdjustment(serde_json::from_str(d)?),
            EventKind::ShipmentCreated => WmsData::ShipmentCreated(serde_json::from_str(d)?),
            EventKind::ShipmentUpdated => WmsData::ShipmentUpdated(serde_json::from_str(d)?),
            EventKind::InboundCreated => WmsData::InboundCreated(serde_json::from_str(d)?),
            EventKind::InboundCompleted => WmsData::InboundCompleted(serde_json::from_str(d)?),
        };
        Ok(WmsEvent { id: env.id, occurred_at: env.occurred_at, data })
    }

    /// The entity whose events must be applied in order: an order, a shipment, an inbound or a SKU.
    pub fn entity(&self) -> String {
        match &self.data {
            WmsData::OrderCreated(o) | WmsData::OrderUpdated(o) => format!("order:{}", o.order_id),
            WmsData::OrderShipped(o) => format!("order:{}", o.order_id),
            WmsData::StockUpdated(x) => format!("sku:{}", x.sku),
            WmsData::StockAdjustment(x) => format!("sku:{}", x.sku),
            WmsData::ShipmentCreated(x) | WmsData::ShipmentUpdated(x) => format!("shipment:{}", x.shipment_id),
            WmsData::InboundCreated(x) | WmsData::InboundCompleted(x) => format!("inbound:{}", x.inbound_id),
        }
    }

    pub fn kind(&self) -> EventKind {
        match self.data {
            WmsData::OrderCreated(_) => EventKind::OrderCreated,
            WmsData::OrderUpdated(_) => EventKind::OrderUpdated,
            WmsData::OrderShipped(_) => EventKind::OrderShipped,
            WmsData::StockUpdated(_) => EventKind::StockUpdated,
            WmsData::StockAdjustment(_) => EventKind::StockAdjustment,
            WmsData::ShipmentCreated(_) => EventKind::ShipmentCreated,
            WmsData::ShipmentUpdated(_) => EventKind::ShipmentUpdated,
            WmsData::InboundCreated(_) => EventKind::InboundCreated,
            WmsData::InboundCompleted(_) => EventKind::InboundCompleted,
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
        assert_eq!(
            e.data,
            WmsData::StockAdjustment(AdjustmentData { sku: "W1".into(), delta: -2, reason: "damaged".into() })
        );
        assert_eq!((e.entity().as_str(), e.kind().priority(), e.kind().prerequisite()), ("sku:W1", 11, None));
        assert_eq!(e.kind().name(), "stock.adjustment");
        let head = WmsHead::parse(body).unwrap();
        assert_eq!(
            (head.id.as_str(), head.kind, head.entity.as_str()),
            ("evt_1", EventKind::StockAdjustment, "sku:W1")
        );
        let shipped = br#"{"id":"evt_2","event":"order.shipped","occurred_at":"2026-11-25T08:00:00Z","data":{"order_id":"O1","external_id":"5001","carrier":"UPS","tracking_number":"1Z","shipped_at":"2026-11-25T07:59:00Z"}}"#;
        let e = WmsEvent::parse(shipped).unwrap();
        assert_eq!((e.entity().as_str(), e.kind().prerequisite()), ("order:O1", Some(EventKind::OrderCreated)));
        assert_eq!(WmsHead::parse(shipped).unwrap().entity, "order:O1");
    }

    #[test]
    fn contract_errors_name_the_problem() {
        let e =
            WmsEvent::parse(br#"{"id":"x","event":"stock.teleported","occurred_at":"2026-11-25T08:00:00Z","data":{}}"#)
                .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the WMS event does not match the contract: unknown event type \"stock.teleported\""),
            "{e}"
        );
        let e = WmsEvent::parse(
            br#"{"id":"x","event":"stock.updated","occurred_at":"2026-11-25T08:00:00Z","data":{"sku":"W1"}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("missing field `available`"), "{e}");
        let e = WmsEvent::parse(br#"{"id":" ","event":"stock.updated","occurred_at":"2026-11-25T08:00:00Z","data":{"sku":"W1","available":1}}"#).unwrap_err();
        assert_eq!(e.to_string(), "the WMS event does not match the contract: id is empty");
        let e = WmsHead::parse(
            br#"{"id":"x","event":"order.created","occurred_at":"2026-11-25T08:00:00Z","data":{"sku":"W1"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "the WMS event does not match the contract: data.order_id is missing");
    }
}
