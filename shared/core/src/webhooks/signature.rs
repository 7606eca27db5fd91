//! Signature schemes, checked over the raw body in constant time.
//!
//! - Shopify: `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(app secret, body)).
//! - WooCommerce: `X-WC-Webhook-Signature` = base64(HMAC-SHA256(webhook secret, body)).
//! - WMS, by configuration: `X-Webhook-Signature` = base64(HMAC-SHA256(secret, body)), or
//!   Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> …`,
//!   signed `id.timestamp.body` with the base64 key after `whsec_`, ±5 minutes).
//!
//! Every scheme accepts several secrets (key rotation): the request is valid when one matches.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::domain::url_decode;

type HmacSha256 = Hmac<Sha256>;

/// The Standard Webhooks timestamp tolerance.
pub const TOLERANCE_SECS: i64 = 5 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookSource {
    Wms,
    Shopify,
    #[serde(rename = "woocommerce")]
    WooCommerce,
}

impl WebhookSource {
    /// The source named in `POST /webhooks/{source}`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "wms" => Some(WebhookSource::Wms),
            "shopify" => Some(WebhookSource::Shopify),
            "woocommerce" => Some(WebhookSource::WooCommerce),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookSource::Wms => "wms",
            WebhookSource::Shopify => "shopify",
            WebhookSource::WooCommerce => "woocommerce",
        }
    }
}

/// How the WMS signs (`STORESYNC_WMS_SIGNATURE=hmac|standard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WmsScheme {
    Hmac,
    Standard,
}

/// The secrets of each source; several per source while a key is rotated.
#[derive(Clone, Default)]
pub struct Secrets {
    pub shopify: Vec<Vec<u8>>,
    pub woocommerce: Vec<Vec<u8>>,
    pub wms: Vec<Vec<u8>>,
    pub wms_scheme: Option<WmsScheme>,
}

/// The webhook secrets' variables (several comma-separated while a key is rotated); on AWS the
/// same names are SSM parameters under the deployment's prefix.
pub const ENV_WMS_SECRET: &str = "STORESYNC_WMS_SECRET";
pub const ENV_SHOPIFY_SECRET: &str = "STORESYNC_SHOPIFY_SECRET";
pub const ENV_WOOCOMMERCE_SECRET: &str = "STORESYNC_WOOCOMMERCE_SECRET";

impl Secrets {
    /// Reads the secrets from variables looked up by `get`, and the WMS scheme from
    /// `STORESYNC_WMS_SIGNATURE` (`hmac`, the default, or `standard`, whose `whsec_…` keys are
    /// decoded). The error names the variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let list = |var: &str| -> Vec<Vec<u8>> {
            get(var)
                .map(|v| v.split(',').map(|s| s.trim().as_bytes().to_vec()).filter(|k| !k.is_empty()).collect())
                .unwrap_or_default()
        };
        let sig = crate::config::ENV_WMS_SIGNATURE;
        let scheme = match get(sig).as_deref() {
            None | Some("hmac") => WmsScheme::Hmac,
            Some("standard") => WmsScheme::Standard,
            Some(other) => return Err(format!("{sig}={other:?}: use hmac or standard")),
        };
        let mut wms = list(ENV_WMS_SECRET);
        if scheme == WmsScheme::Standard {
            wms = wms
                .iter()
                .map(|k| standard_key(&String::from_utf8_lossy(k)))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{ENV_WMS_SECRET}: {e}"))?;
        }
        Ok(Secrets {
            shopify: list(ENV_SHOPIFY_SECRET),
            woocommerce: list(ENV_WOOCOMMERCE_SECRET),
            wms,
            wms_scheme: Some(scheme),
        })
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Secrets {{ shopify: {} key(s), woocommerce: {} key(s), wms: {} key(s) }}",
            self.shopify.len(),
            self.woocommerce.len(),
            self.wms.len()
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("header {0} is not a valid signature")]
    Malformed(&'static str),
    #[error("the signature does not match")]
    Mismatch,
    #[error("timestamp {ts} is outside the {TOLERANCE_SECS} s tolerance")]
    Stale { ts: i64 },
    #[error("no secret is configured for {0}")]
    NoSecret(&'static str),
    #[error("a Standard Webhooks secret must be whsec_ followed by base64")]
    BadSecret,
}

/// Request headers, looked up by name case-insensitively.
pub trait Headers: Sync {
    fn header(&self, name: &str) -> Option<&str>;
}

impl Headers for Vec<(String, String)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl Headers for std::collections::BTreeMap<String, String> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A request as received: nothing about it is trusted yet.
pub struct Unverified<'a> {
    pub source: WebhookSource,
    pub headers: &'a dyn Headers,
    pub body: &'a [u8],
}

/// A request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<'a> {
    pub source: WebhookSource,
    pub body: &'a [u8],
}

fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut m =
        <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for p in parts {
        m.update(p);
    }
    m
}

/// Constant-time check of `expected` (raw bytes) against HMAC(key, parts), for any of `keys`.
fn any_key_matches(keys: &[Vec<u8>], parts: &[&[u8]], expected: &[u8]) -> bool {
    // Every key is tried, so the time does not tell which key matched.
    keys.iter().fold(false, |ok, k| mac(k, parts).verify_slice(expected).is_ok() | ok)
}

fn base64_hmac(keys: &[Vec<u8>], header: &'static str, value: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
    let value = value.ok_or(VerifyError::MissingHeader(header))?;
    let expected = B64.decode(value.trim()).map_err(|_| VerifyError::Malformed(header))?;
    if any_key_matches(keys, &[body], &expected) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Signs like Shopify, WooCommerce and the WMS's HMAC scheme: base64(HMAC-SHA256(key, body)).
pub fn sign_base64(key: &[u8], body: &[u8]) -> String {
    B64.encode(mac(key, &[body]).finalize().into_bytes())
}

/// Signs like Standard Webhooks: the `webhook-signature` value `v1,<base64>` of `id.ts.body`.
pub fn sign_standard(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let m = mac(key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", B64.encode(m.finalize().into_bytes()))
}

/// The key of a Standard Webhooks secret (`whsec_<base64>`; a bare base64 secret is accepted too).
pub fn standard_key(secret: &str) -> Result<Vec<u8>, VerifyError> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    B64.decode(b64).map_err(|_| VerifyError::BadSecret)
}

/// Standard Webhooks: `v1,<base64>` signatures (space-separated, any may match) over
/// `id.timestamp.body`, with the timestamp within ±5 minutes of `now`.
pub fn verify_standard(
    keys: &[Vec<u8>],
    headers: &dyn Headers,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let header = |n: &str| headers.header(n);
    let id = header("webhook-id").ok_or(VerifyError::MissingHeader("webhook-id"))?;
    let ts_raw = header("webhook-timestamp").ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
    let sigs = header("webhook-signature").ok_or(VerifyError::MissingHeader("webhook-signature"))?;
    let ts: i64 = ts_raw.trim().parse().map_err(|_| VerifyError::Malformed("webhook-timestamp"))?;
    if (now.timestamp() - ts).abs() > TOLERANCE_SECS {
        return Err(VerifyError::Stale { ts });
    }
    let mut any = false;
    let mut matched = false;
    for sig in sigs.split_whitespace() {
        let Some(b64) = sig.strip_prefix("v1,") else { continue };
        let Ok(expected) = B64.decode(b64) else { continue };
        any = true;
        matched |= any_key_matches(keys, &[id.as_bytes(), b".", ts_raw.as_bytes(), b".", body], &expected);
    }
    match (matched, any) {
        (true, _) => Ok(()),
        (false, true) => Err(VerifyError::Mismatch),
        (false, false) => Err(VerifyError::Malformed("webhook-signature")),
    }
}

impl<'a> Unverified<'a> {
    /// Checks the signature with the source's secrets; `now` is for timestamp tolerance.
    pub fn verify(&self, secrets: &Secrets, now: DateTime<Utc>) -> Result<Verified<'a>, VerifyError> {
        let h = |n: &str| self.headers.header(n);
        match self.source {
            WebhookSource::Shopify => {
                need(&secrets.shopify, "shopify")?;
                base64_hmac(&secrets.shopify, "X-Shopify-Hmac-Sha256", h("X-Shopify-Hmac-Sha256"), self.body)?
            }
            WebhookSource::WooCommerce => {
                // WooCommerce signs with an empty secret when none was set: an empty key is a key.
                base64_hmac(&secrets.woocommerce, "X-WC-Webhook-Signature", h("X-WC-Webhook-Signature"), self.body)?
            }
            WebhookSource::Wms => {
                need(&secrets.wms, "wms")?;
                match secrets.wms_scheme.unwrap_or(WmsScheme::Hmac) {
                    WmsScheme::Hmac => {
                        base64_hmac(&secrets.wms, "X-Webhook-Signature", h("X-Webhook-Signature"), self.body)?
                    }
                    WmsScheme::Standard => verify_standard(&secrets.wms, self.headers, self.body, now)?,
                }
            }
        }
        Ok(Verified { source: self.source, body: self.body })
    }
}

fn need(keys: &[Vec<u8>], source: &'static str) -> Result<(), VerifyError> {
    if keys.is_empty() {
        Err(VerifyError::NoSecret(source))
    } else {
        Ok(())
    }
}

/// Shopify's OAuth callback: hex HMAC of the query without `hmac`, `k=v` joined by `&`, in
/// sorted order (Shopify's rule); the order as given is also accepted, as Shopify's PHP
/// library signs it. Array values (`ids[]=1&ids[]=2`) sign as `ids=["1", "2"]`.
pub fn verify_oauth_query(secret: &[u8], params: &[(String, String)]) -> Result<(), VerifyError> {
    let given =
        params.iter().find(|(k, _)| k == "hmac").map(|(_, v)| v.as_str()).ok_or(VerifyError::MissingHeader("hmac"))?;
    let expected = hex::decode(given).map_err(|_| VerifyError::Malformed("hmac"))?;
    let grouped = group_arrays(params.iter().filter(|(k, _)| k != "hmac" && k != "signature"));
    let as_given: Vec<String> = grouped.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut sorted = as_given.clone();
    sorted.sort();
    let ok = [sorted.join("&"), as_given.join("&")]
        .iter()
        .fold(false, |ok, msg| mac(secret, &[msg.as_bytes()]).verify_slice(&expected).is_ok() | ok);
    if ok {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Shopify's app proxy: hex HMAC of the sorted `k=v` params without `signature`, concatenated
/// with no separator; repeated keys join their values with `,`.
pub fn verify_app_proxy(secret: &[u8], params: &[(String, String)]) -> Result<(), VerifyError> {
    let given = params
        .iter()
        .find(|(k, _)| k == "signature")
        .map(|(_, v)| v.as_str())
        .ok_or(VerifyError::MissingHeader("signature"))?;
    let expected = hex::decode(given).map_err(|_| VerifyError::Malformed("signature"))?;
    let mut joined: Vec<(String, Vec<&str>)> = Vec::new();
    for (k, v) in params.iter().filter(|(k, _)| k != "signature") {
        match joined.iter_mut().find(|(jk, _)| jk == k) {
            Some((_, vs)) => vs.push(v),
            None => joined.push((k.clone(), vec![v])),
        }
    }
    let mut parts: Vec<String> = joined.into_iter().map(|(k, vs)| format!("{k}={}", vs.join(","))).collect();
    parts.sort();
    if mac(secret, &[parts.concat().as_bytes()]).verify_slice(&expected).is_ok() {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Splits a raw query string into decoded `(key, value)` pairs, in order; a key without `=`
/// has an empty value.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (url_decode(k), url_decode(v)),
            None => (url_decode(p), String::new()),
        })
        .collect()
}

/// `ids[]=1&ids[]=2` → `ids=["1", "2"]`, as Shopify's libraries sign array parameters.
fn group_arrays<'p>(params: impl Iterator<Item = &'p (String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, Vec<String>, bool)> = Vec::new();
    for (k, v) in params {
        let (name, array) = match k.strip_suffix("[]") {
            Some(n) => (n.to_string(), true),
            None => (k.clone(), false),
        };
        match out.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, vs, _)) => vs.push(v.clone()),
            None => out.push((name, vec![v.clone()], array)),
        }
    }
    out.into_iter()
        .map(|(k, vs, array)| {
            if array {
                let inner: Vec<String> = vs.iter().map(|v| format!("\"{v}\"")).collect();
                (k, format!("[{}]", inner.join(", ")))
            } else {
                (k, vs.join(","))
            }
        })
        .collect()
}
