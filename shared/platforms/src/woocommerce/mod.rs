//! WooCommerce REST v3.

pub mod catalog;
pub mod client;
pub mod inventory;
pub mod products;
pub mod sim;
pub mod store;
