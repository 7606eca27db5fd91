//! The platforms storesync talks to: faithful simulators (used by tests and the offline demo)
//! and, as they come, the clients.

pub mod fault;
pub mod shopify;
pub mod stores;
pub mod testkit;
pub mod wms;
pub mod woocommerce;

/// A slug or handle from a title, as WordPress's `sanitize_title` and Shopify's handles make
/// them: lower case, runs of anything but letters and digits as one `-`.
pub fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
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
