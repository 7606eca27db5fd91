//! A client of the WMS REST API (see [`super::sim`] for the contract): entities by id for
//! reconciliation ([`Warehouse`]), changes since a time for the backup syncs, and order pushes.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use storesync_core::webhooks::effects::{
    ChangePage, EffectError, Pushed, Warehouse, WmsInbound, WmsOrder, WmsShipment,
};
use storesync_core::webhooks::retry::Failure;

pub struct WmsClient {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl WmsClient {
    pub fn new(base: &str, key: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self { base: base.trim_end_matches('/').to_string(), key: key.to_string(), http })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, EffectError> {
        let what = format!("WMS {method} {path}");
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp =
            req.send().await.map_err(|e| EffectError { failure: Failure::Timeout, message: format!("{what}: {e}") })?;
        let status = resp.status().as_u16();
        let retry_after_secs =
            resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
        if status == 404 {
            return Ok(None);
        }
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(Some(value));
        }
        Err(EffectError {
            failure: Failure::Status { code: status, retry_after_secs },
            message: format!(
                "{what}: HTTP {status} {}",
                value["message"].as_str().or(value["error"].as_str()).unwrap_or("")
            ),
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, EffectError> {
        match self.call(reqwest::Method::GET, path, None).await? {
            None => Ok(None),
            Some(v) => serde_json::from_value(v).map(Some).map_err(|e| EffectError {
                failure: Failure::Status { code: 422, retry_after_secs: None },
                message: format!("WMS GET {path}: the answer does not match the contract: {e}"),
            }),
        }
    }
}

#[async_trait]
impl Warehouse for WmsClient {
    async fn order(&self, order_id: &str) -> Result<Option<WmsOrder>, EffectError> {
        self.get(&format!("/orders/{order_id}")).await
    }

    async fn shipment(&self, shipment_id: &str) -> Result<Option<WmsShipment>, EffectError> {
        self.get(&format!("/shipments/{shipment_id}")).await
    }

    async fn inbound(&self, inbound_id: &str) -> Result<Option<WmsInbound>, EffectError> {
        self.get(&format!("/inbounds/{inbound_id}")).await
    }

    /// Changes of `kind` (`orders`, `shipments`, `inbounds`, `stock`) since `since`, one page.
    async fn changes(
        &self,
        kind: &str,
        since: Option<DateTime<Utc>>,
        cursor: Option<&str>,
    ) -> Result<ChangePage, EffectError> {
        let mut path = format!("/{kind}?limit=100");
        if let Some(t) = since {
            path.push_str(&format!("&updated_since={}", t.to_rfc3339().replace('+', "%2B")));
        }
        if let Some(c) = cursor {
            path.push_str(&format!("&cursor={}", c.replace('+', "%2B").replace('|', "%7C")));
        }
        let v = self.call(reqwest::Method::GET, &path, None).await?.unwrap_or_default();
        Ok(ChangePage {
            items: v["items"].as_array().cloned().unwrap_or_default(),
            next_cursor: v["next_cursor"].as_str().map(String::from),
        })
    }

    /// Pushes up to 10 orders (`{external_id, lines: [{sku, quantity}], ...}`) in one call.
    async fn push_orders(&self, orders: &[Value]) -> Result<Vec<Pushed>, EffectError> {
        let v =
            self.call(reqwest::Method::POST, "/orders", Some(&json!({ "orders": orders }))).await?.unwrap_or_default();
        Ok(v["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let external_id = r["external_id"].as_str().unwrap_or_default().to_string();
                match (r["order_id"].as_str(), r["error"].as_str()) {
                    (Some(id), _) => Pushed::Created { external_id, order_id: id.to_string() },
                    (None, e) => {
                        Pushed::Refused { external_id, error: e.unwrap_or("no order id returned").to_string() }
                    }
                }
            })
            .collect())
    }
}
