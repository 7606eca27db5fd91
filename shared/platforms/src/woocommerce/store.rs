//! WooCommerce as the store the WMS's events are applied to ([`Storefront`]).

use async_trait::async_trait;
use storesync_core::webhooks::effects::{EffectError, StockPush, Storefront};

use super::client::{WooClient, WooError};

impl From<WooError> for EffectError {
    fn from(e: WooError) -> Self {
        EffectError { failure: e.failure(), message: e.to_string() }
    }
}

/// A store order id: WooCommerce's ids are numbers.
fn order_id(order: &str) -> Result<u64, EffectError> {
    order.trim().parse().map_err(|_| EffectError {
        failure: storesync_core::webhooks::retry::Failure::Status { code: 404, retry_after_secs: None },
        message: format!("{order:?} is not a WooCommerce order id"),
    })
}

#[async_trait]
impl Storefront for WooClient {
    async fn order_notes(&self, order: &str) -> Result<Vec<String>, EffectError> {
        Ok(self.order_notes(order_id(order)?).await?)
    }

    async fn add_order_note(&self, order: &str, note: &str) -> Result<(), EffectError> {
        Ok(WooClient::add_order_note(self, order_id(order)?, note).await?)
    }

    async fn set_order_status(&self, order: &str, status: &str) -> Result<(), EffectError> {
        Ok(WooClient::set_order_status(self, order_id(order)?, status).await?)
    }

    async fn stock_of(&self, sku: &str) -> Result<Option<i64>, EffectError> {
        Ok(self.stock_by_sku(sku).await?)
    }

    async fn set_stocks(&self, items: &[(String, i64)]) -> Result<StockPush, EffectError> {
        let skus: Vec<&str> = items.iter().map(|(s, _)| s.as_str()).collect();
        let found = self.find_by_sku(&skus).await?;
        let mut push = StockPush::default();
        let mut updates = Vec::with_capacity(items.len());
        for (sku, qty) in items {
            match found.get(sku) {
                Some(r) => updates.push((*r, *qty)),
                None => push.refused.push((sku.clone(), "no product or variation has this SKU".into())),
            }
        }
        let report = self.set_stock(&updates).await?;
        let sku_of: std::collections::HashMap<u64, &str> = found.iter().map(|(sku, r)| (r.id, sku.as_str())).collect();
        for e in report.errors {
            let sku = sku_of.get(&e.id).copied().unwrap_or_default().to_string();
            push.refused.push((sku, format!("{}: {}", e.code, e.message)));
        }
        push.calls = report.calls;
        push.updated = report.updated;
        Ok(push)
    }
}
