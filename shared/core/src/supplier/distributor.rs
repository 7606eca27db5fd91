//! The distributor (Xorosoft): which supplier items it carries, under which item number, with
//! what stock and price. Looked up 100 SKUs a call.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::Cents;

/// The most SKUs one look-up carries.
pub const LOOKUP_LIMIT: usize = 100;

/// What the distributor says of an item it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carried {
    pub item_number: String,
    pub stock: i64,
    /// Its selling price, when the distributor sets one.
    pub price: Option<Cents>,
}

/// One SKU's answer: carried, or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lookup {
    pub sku: String,
    pub carried: Option<Carried>,
}

/// A look-up that failed as a whole (after the client's own retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DistributorError {
    /// Worth retrying later (a timeout, 429, 5xx).
    pub transient: bool,
    pub message: String,
}

#[async_trait]
pub trait Distributor: Send + Sync {
    /// Looks up at most [`LOOKUP_LIMIT`] SKUs; the answer has one entry per SKU asked, in order.
    async fn lookup(&self, skus: &[String]) -> Result<Vec<Lookup>, DistributorError>;
}
