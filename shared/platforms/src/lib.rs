//! The platforms storesync talks to: faithful simulators (used by tests and the offline demo)
//! and, as they come, the clients.

pub mod wms;
pub mod woocommerce;
