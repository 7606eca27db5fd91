//! Webhooks from the WMS, Shopify and WooCommerce. A request goes from [`Unverified`] to
//! [`Verified`] only through signature verification; nothing downstream accepts the other.

pub mod archive;
pub mod effects;
pub mod jobs;
pub mod operators;
pub mod ordering;
pub mod processor;
pub mod receipt;
pub mod receiver;
pub mod retry;
pub mod signature;
pub mod stock;
pub mod wms;

pub use signature::{Headers, Secrets, Unverified, Verified, VerifyError, WebhookSource, WmsScheme};
