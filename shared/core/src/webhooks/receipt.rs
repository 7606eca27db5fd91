//! The pure part of webhook receipt: size check, the WooCommerce ping, signature
//! verification, and what the receiver stores: the dedupe key, the topic, the entity and the
//! priority. Nothing here touches storage; the receiver makes the result durable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::signature::{Headers, Secrets, Unverified, VerifyError, WebhookSource};
use super::wms::WmsHead;

/// Bodies above this are refused (413).
pub const MAX_BODY: usize = 1024 * 1024;

/// A verified delivery, ready to be made durable and queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    pub source: WebhookSource,
    /// `source:delivery-id`: a duplicate delivery has the same key.
    pub dedupe_key: String,
    /// The event's own id where the source has one (WMS `id`, Shopify `X-Shopify-Event-Id`).
    pub event_id: Option<String>,
    pub topic: String,
    /// The entity whose events are applied in order (the queue's message group).
    pub entity: String,
    /// The WMS priority class (lower first); other sources use the order-lifecycle class.
    pub priority: u8,
    pub triggered_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Receipt {
    /// WooCommerce's unsigned ping when a webhook is created: answer 200, queue nothing.
    Ping,
    /// Verified and parsed.
    Event(Accepted),
    /// Signed by the sender but not parseable: kept in the dead-letter store with the reason.
    Malformed { dedupe_key: String, reason: String },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Rejected {
    /// 401: stored nowhere but a counter.
    #[error("invalid signature: {0}")]
    Unauthorized(#[from] VerifyError),
    /// 413.
    #[error("the body is {0} bytes, over the 1 MiB limit")]
    TooLarge(usize),
    /// 400: a signed delivery without the delivery id the source always sends.
    #[error("missing header {0}")]
    MissingDeliveryId(&'static str),
}

fn delivery_header(source: WebhookSource) -> &'static str {
    match source {
        WebhookSource::Shopify => "X-Shopify-Webhook-Id",
        WebhookSource::WooCommerce => "X-WC-Webhook-Delivery-ID",
        WebhookSource::Wms => "X-Webhook-Id",
    }
}

/// Whether the body is WooCommerce's ping: `webhook_id=<number>`, form-encoded, unsigned.
fn is_woocommerce_ping(headers: &dyn Headers, body: &[u8]) -> bool {
    headers.header("X-WC-Webhook-Signature").is_none()
        && body.strip_prefix(b"webhook_id=").is_some_and(|id| !id.is_empty() && id.iter().all(u8::is_ascii_digit))
}

/// Checks one delivery: size, ping, signature, then the parse that yields its keys.
pub fn receive(
    source: WebhookSource,
    headers: &dyn Headers,
    body: &[u8],
    secrets: &Secrets,
    now: DateTime<Utc>,
) -> Result<Receipt, Rejected> {
    if body.len() > MAX_BODY {
        return Err(Rejected::TooLarge(body.len()));
    }
    if source == WebhookSource::WooCommerce && is_woocommerce_ping(headers, body) {
        return Ok(Receipt::Ping);
    }
    let verified = Unverified { source, headers, body }.verify(secrets, now)?;
    accept(source, headers, verified.body)
}

/// What a verified delivery is: its dedupe key, topic, entity and priority (or why it is not
/// processable). Also re-reads a stored delivery whose record this version cannot read.
pub fn accept(source: WebhookSource, headers: &dyn Headers, body: &[u8]) -> Result<Receipt, Rejected> {
    let id_header = delivery_header(source);
    // Standard Webhooks carries the delivery id as `webhook-id`.
    let delivery = headers
        .header(id_header)
        .or_else(|| headers.header("webhook-id"))
        .ok_or(Rejected::MissingDeliveryId(id_header))?;
    let dedupe_key = format!("{}:{delivery}", source.as_str());
    let malformed = |reason: String| Ok(Receipt::Malformed { dedupe_key: dedupe_key.clone(), reason });
    match source {
        WebhookSource::Wms => match WmsHead::parse(body) {
            Ok(e) => Ok(Receipt::Event(Accepted {
                source,
                entity: e.entity,
                priority: e.kind.priority(),
                topic: e.kind.name().to_string(),
                event_id: Some(e.id),
                triggered_at: Some(e.occurred_at.to_rfc3339()),
                dedupe_key,
            })),
            Err(e) => malformed(e.to_string()),
        },
        WebhookSource::Shopify | WebhookSource::WooCommerce => {
            let (topic_h, event_h, at_h) = match source {
                WebhookSource::Shopify => {
                    ("X-Shopify-Topic", Some("X-Shopify-Event-Id"), Some("X-Shopify-Triggered-At"))
                }
                _ => ("X-WC-Webhook-Topic", None, None),
            };
            let value: serde_json::Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return malformed(format!("the body is not JSON: {e}")),
            };
            let topic = headers.header(topic_h).unwrap_or_default().to_string();
            let resource = topic.split(['/', '.']).next().unwrap_or_default();
            let id = value.get("id").map(|v| v.to_string().trim_matches('"').to_string()).unwrap_or_default();
            Ok(Receipt::Event(Accepted {
                source,
                dedupe_key,
                event_id: event_h.and_then(|h| headers.header(h)).map(str::to_string),
                entity: format!("{resource}:{id}"),
                priority: 1,
                topic,
                triggered_at: at_h.and_then(|h| headers.header(h)).map(str::to_string),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(key: &[u8], body: &[u8]) -> String {
        crate::webhooks::signature::sign_base64(key, body)
    }

    fn secrets() -> Secrets {
        Secrets {
            shopify: vec![b"s".to_vec()],
            woocommerce: vec![b"w".to_vec()],
            wms: vec![b"m".to_vec()],
            wms_scheme: None,
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn wms_events_get_their_keys() {
        let body = br#"{"id":"evt_9","event":"order.updated","occurred_at":"2026-11-25T08:00:00Z","data":{"order_id":"O7","external_id":"5001","status":"picking","lines":[]}}"#;
        let headers = h(&[("X-Webhook-Id", "dlv_1"), ("X-Webhook-Signature", &sign(b"m", body))]);
        let r = receive(WebhookSource::Wms, &headers, body, &secrets(), Utc::now()).unwrap();
        let Receipt::Event(a) = r else { panic!("{r:?}") };
        assert_eq!(
            (a.dedupe_key.as_str(), a.event_id.as_deref(), a.entity.as_str(), a.topic.as_str(), a.priority),
            ("wms:dlv_1", Some("evt_9"), "order:O7", "order.updated", 2)
        );
    }

    #[test]
    fn malformed_but_signed_is_kept_with_its_reason() {
        let body = b"{not json";
        let headers = h(&[("X-Webhook-Id", "dlv_2"), ("X-Webhook-Signature", &sign(b"m", body))]);
        let r = receive(WebhookSource::Wms, &headers, body, &secrets(), Utc::now()).unwrap();
        let Receipt::Malformed { dedupe_key, reason } = r else { panic!("{r:?}") };
        assert_eq!(dedupe_key, "wms:dlv_2");
        assert!(reason.starts_with("the WMS event does not match the contract: "), "{reason}");
    }

    #[test]
    fn shopify_and_woocommerce() {
        let body = br#"{"id":820982911946154508,"title":"Wine"}"#;
        let headers = h(&[
            ("X-Shopify-Hmac-Sha256", &sign(b"s", body)),
            ("X-Shopify-Webhook-Id", "b54557e4"),
            ("X-Shopify-Topic", "products/update"),
            ("X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5"),
            ("X-Shopify-Triggered-At", "2026-11-25T08:00:00Z"),
        ]);
        let Receipt::Event(a) = receive(WebhookSource::Shopify, &headers, body, &secrets(), Utc::now()).unwrap() else {
            panic!()
        };
        assert_eq!((a.dedupe_key.as_str(), a.entity.as_str()), ("shopify:b54557e4", "products:820982911946154508"));
        assert_eq!(a.event_id.as_deref(), Some("98880550-7158-44d4-b7cd-2c97c8a091b5"));
        let wc = br#"{"id":727,"status":"processing"}"#;
        let headers = h(&[
            ("X-WC-Webhook-Signature", &sign(b"w", wc)),
            ("X-WC-Webhook-Delivery-ID", "31"),
            ("X-WC-Webhook-Topic", "order.updated"),
        ]);
        let Receipt::Event(a) = receive(WebhookSource::WooCommerce, &headers, wc, &secrets(), Utc::now()).unwrap()
        else {
            panic!()
        };
        assert_eq!((a.dedupe_key.as_str(), a.entity.as_str()), ("woocommerce:31", "order:727"));
    }

    #[test]
    fn ping_size_and_signature() {
        let none = h(&[]);
        assert_eq!(
            receive(WebhookSource::WooCommerce, &none, b"webhook_id=17", &secrets(), Utc::now()),
            Ok(Receipt::Ping)
        );
        assert_eq!(
            receive(WebhookSource::Shopify, &none, b"webhook_id=17", &secrets(), Utc::now()),
            Err(Rejected::Unauthorized(VerifyError::MissingHeader("X-Shopify-Hmac-Sha256"))),
            "only WooCommerce pings"
        );
        let big = vec![b' '; MAX_BODY + 1];
        assert_eq!(
            receive(WebhookSource::Wms, &none, &big, &secrets(), Utc::now()),
            Err(Rejected::TooLarge(MAX_BODY + 1))
        );
        let bad = h(&[("X-Webhook-Id", "d"), ("X-Webhook-Signature", &sign(b"wrong", b"{}"))]);
        assert_eq!(
            receive(WebhookSource::Wms, &bad, b"{}", &secrets(), Utc::now()).unwrap_err().to_string(),
            "invalid signature: the signature does not match"
        );
        let no_id = h(&[("X-Webhook-Signature", &sign(b"m", b"{}"))]);
        assert_eq!(
            receive(WebhookSource::Wms, &no_id, b"{}", &secrets(), Utc::now()),
            Err(Rejected::MissingDeliveryId("X-Webhook-Id"))
        );
    }
}
