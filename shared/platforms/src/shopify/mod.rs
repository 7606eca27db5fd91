//! Shopify's GraphQL Admin API: a simulator that answers as the real API does
//! (`../shared/PLATFORMS.md` §A and its simulator checklist) and the client storesync uses.

pub mod catalog;
pub mod client;
pub mod inventory;
pub mod products;
pub mod sim;

/// The API version storesync pins by default.
pub use storesync_core::config::SHOPIFY_API_VERSION as API_VERSION;

/// The endpoint path under a shop's base URL.
pub fn graphql_path(version: &str) -> String {
    format!("/admin/api/{version}/graphql.json")
}

/// `gid://shopify/{kind}/{id}`.
pub fn gid(kind: &str, id: u64) -> String {
    format!("gid://shopify/{kind}/{id}")
}

/// The numeric id of a GID of `kind`.
pub fn gid_id(kind: &str, gid: &str) -> Option<u64> {
    gid.strip_prefix("gid://shopify/")?.strip_prefix(kind)?.strip_prefix('/')?.split('?').next()?.parse().ok()
}
