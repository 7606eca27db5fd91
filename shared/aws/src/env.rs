//! The environment variables the template sets for the functions: the only way resource
//! names reach the code (the template test checks both sides against this list).

pub const BUCKET: &str = "STORESYNC_BUCKET";
pub const STATUS_TABLE: &str = "STORESYNC_STATUS_TABLE";
pub const STATE_TABLE: &str = "STORESYNC_STATE_TABLE";
pub const AUDIT_TABLE: &str = "STORESYNC_AUDIT_TABLE";

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

/// Every variable a function reads.
pub fn all() -> Vec<&'static str> {
    let mut v = vec![BUCKET, STATUS_TABLE, STATE_TABLE, AUDIT_TABLE];
    v.extend(QUEUE_URLS.iter().map(|(_, var)| *var));
    v.extend(WEBHOOK_QUEUE_URLS.iter().map(|(_, var)| *var));
    v.extend(storesync_core::config::ENV_ALL);
    v.extend([
        storesync_core::config::ENV_WOO_URL,
        storesync_core::config::ENV_WMS_URL,
        storesync_core::config::ENV_WMS_SIGNATURE,
        crate::webhooks::ENV_SECRETS_PREFIX,
    ]);
    v
}
