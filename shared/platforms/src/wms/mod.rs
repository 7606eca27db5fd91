//! The WMS: its webhook contract is in `storesync_core::webhooks::wms`; here are its REST API
//! (simulator and client) and a sender of signed webhook storms.

pub mod client;
pub mod sim;
pub mod storm;
