//! The WMS: its webhook contract is in `storesync_core::webhooks::wms`; here is what sends it.

pub mod storm;
