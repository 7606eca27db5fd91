//! The environment variables the template sets for the functions: the only way resource
//! names reach the code (the template test checks both sides against this list).

pub const BUCKET: &str = "STORESYNC_BUCKET";
pub const STATUS_TABLE: &str = "STORESYNC_STATUS_TABLE";
pub const STATE_TABLE: &str = "STORESYNC_STATE_TABLE";
pub const AUDIT_TABLE: &str = "STORESYNC_AUDIT_TABLE";
/// Supplier staging entries and product versions.
pub const SUPPLIER_TABLE: &str = "STORESYNC_SUPPLIER_TABLE";

/// The queue URL variable of each step queue, in the order of `workflow::QUEUES`.
pub const QUEUE_URLS: [(&str, &str); 5] = [
    ("import-web", "STORESYNC_QUEUE_IMPORT_WEB"),
    ("export-orders", "STORESYNC_QUEUE_EXPORT_ORDERS"),
    ("import-comax", "STORESYNC_QUEUE_IMPORT_COMAX"),
    ("validate", "STORESYNC_QUEUE_VALIDATE"),
    ("export-inventory", "STORESYNC_QUEUE_EXPORT_INVENTORY"),
];

/// The queue URL variable of each webhook queue (`webhooks::processor::QUEUES` and the order push).
pub const WEBHOOK_QUEUE_URLS: [(&str, &str); 7] = [
    ("webhooks-orders", "STORESYNC_QUEUE_WEBHOOKS_ORDERS"),
    ("webhooks-stock", "STORESYNC_QUEUE_WEBHOOKS_STOCK"),
    ("webhooks-stock-push", "STORESYNC_QUEUE_WEBHOOKS_STOCK_PUSH"),
    ("webhooks-shipments", "STORESYNC_QUEUE_WEBHOOKS_SHIPMENTS"),
    ("webhooks-inbounds", "STORESYNC_QUEUE_WEBHOOKS_INBOUNDS"),
    ("webhooks-deadlock", "STORESYNC_QUEUE_WEBHOOKS_DEADLOCK"),
    ("wms-order-push", "STORESYNC_QUEUE_WMS_ORDER_PUSH"),
];

/// The queue URL variable of each store ⇄ store sync queue (`stores::plans::COMPARE_QUEUE`,
/// `stores::sync::SYNC_QUEUE` and its dead-letter queue `stores::sync::SYNC_DLQ`).
pub const STORE_QUEUE_URLS: [(&str, &str); 3] = [
    ("store-compare", "STORESYNC_QUEUE_STORE_COMPARE"),
    ("store-sync", "STORESYNC_QUEUE_STORE_SYNC"),
    ("store-sync-dead", "STORESYNC_QUEUE_STORE_SYNC_DEAD"),
];

/// The queue URL variable of each supplier queue (`supplier::pipeline::BATCH_QUEUE`,
/// `APPLY_QUEUE`).
pub const SUPPLIER_QUEUE_URLS: [(&str, &str); 2] =
    [("supplier-batches", "STORESYNC_QUEUE_SUPPLIER_BATCHES"), ("supplier-apply", "STORESYNC_QUEUE_SUPPLIER_APPLY")];

/// Every queue URL variable: the daily steps', the webhook path's, store sync's and the
/// supplier pipeline's.
pub fn queue_urls() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    QUEUE_URLS.iter().chain(WEBHOOK_QUEUE_URLS.iter()).chain(STORE_QUEUE_URLS.iter()).chain(SUPPLIER_QUEUE_URLS.iter())
}

/// Every variable a function reads.
pub fn all() -> Vec<&'static str> {
    let mut v = vec![BUCKET, STATUS_TABLE, STATE_TABLE, AUDIT_TABLE, SUPPLIER_TABLE];
    v.extend(queue_urls().map(|(_, var)| *var));
    v.extend(storesync_core::config::ENV_ALL);
    v.extend([
        storesync_core::config::ENV_WOO_URL,
        storesync_core::config::ENV_WMS_URL,
        storesync_core::config::ENV_WMS_SIGNATURE,
        storesync_core::config::ENV_SHOPIFY_URL,
        storesync_core::config::ENV_SHOPIFY_API_VERSION,
        storesync_core::config::ENV_SHOPIFY_LOCATION,
        crate::webhooks::ENV_SECRETS_PREFIX,
        storesync_core::supplier::pipeline::ENV_FTP_ADDRESS,
        storesync_core::supplier::pipeline::ENV_FTP_USER,
        storesync_core::supplier::pipeline::ENV_FTP_FOLDER,
        storesync_core::supplier::pipeline::ENV_FTP_TLS,
        storesync_core::supplier::pipeline::ENV_FTP_CA_FILE,
        storesync_core::supplier::pipeline::ENV_PATTERN,
        storesync_core::supplier::pipeline::ENV_AUTO_APPROVE_ABOVE,
        storesync_core::supplier::pipeline::ENV_XOROSOFT_URL,
        storesync_core::supplier::inventory::ENV_LOW_STOCK,
    ]);
    v
}
