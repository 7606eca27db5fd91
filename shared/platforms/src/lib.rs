//! The platforms storesync talks to: faithful simulators (used by tests and the offline demo)
//! and, as they come, the clients.

pub mod fault;
pub mod ftp;
pub mod shopify;
pub mod stores;
pub mod supplier;
pub mod testkit;
pub mod wms;
pub mod woocommerce;
pub mod xorosoft;

/// A slug or handle from a title, as WordPress's `sanitize_title` and Shopify's handles make
/// them: lower case, runs of anything but letters and digits as one `-`.
pub fn slugify(s: &str) -> String {
    storesync_core::supplier::feed::handle_of(s)
}

/// The error of a coupon write naming products (by key) the destination does not have.
pub(crate) fn missing_products(
    w: &storesync_core::stores::catalog_sync::CatalogWrite,
    known: &std::collections::HashMap<String, impl Sized>,
) -> Option<String> {
    let keys = w
        .fields
        .get("product_skus")
        .and_then(serde_json::Value::as_array)
        .filter(|_| w.action != storesync_core::stores::catalog::Action::Delete)?;
    let missing: Vec<&str> =
        keys.iter().filter_map(serde_json::Value::as_str).filter(|k| !known.contains_key(*k)).collect();
    (!missing.is_empty()).then(|| {
        format!(
            "the coupon is limited to products the destination lacks ({}): sync the products first",
            missing.join(", ")
        )
    })
}

/// The simulators under one router, as `storesync serve --simulate` and the tests mount them:
/// WooCommerce at `/sim/woocommerce/wp-json/wc/v3/…` (and its WordPress at `…/wp-json/wp/v2/…`), the WMS at `/sim/wms/…`, Shopify at
/// `/sim/shopify/admin/api/<version>/graphql.json` (the shop's base URL is `…/sim/shopify`).
pub fn sim_router(
    woo: &woocommerce::sim::WooSim,
    wms: &wms::sim::WmsSim,
    shopify: &shopify::sim::ShopifySim,
) -> axum::Router {
    axum::Router::new()
        .nest("/sim/woocommerce/wp-json/wc/v3", woo.router())
        .nest("/sim/woocommerce/wp-json/wp/v2", woo.wp_router())
        .nest("/sim/wms", wms.router())
        .nest("/sim/shopify", shopify.router())
}
