//! The supplier catalog: a content feed (Etilize, a ZIP of CSV) read streaming into items,
//! matched to the store's products with a confidence, staged, approved and applied.
//!
//! - [`feed`]: the feed's rows → [`feed::SupplierItem`]s or [`feed::BadRow`]s;
//! - [`matching`]: an item → the store product it is, with a confidence and its evidence;
//! - [`staging`]: what an item would change, waiting for approval (automatic above a threshold);
//! - [`conflict`]: a field changed in Shopify and here since the last sync, decided by policy;
//! - [`worker`]: the apply queue's messages (approved entries, low-stock alerts) handled.

pub mod apply;
pub mod conflict;
pub mod distributor;
pub mod feed;
pub mod inventory;
pub mod matching;
pub mod pipeline;
pub mod review;
pub mod source;
pub mod staging;
pub mod syncdown;
pub mod versions;
pub mod worker;
