//! A WooCommerce REST v3 client for what storesync writes: finding products by SKU, setting
//! stock in batches of 100 (variations through their parent's batch endpoint), and order
//! status and notes. Every failure maps to the retry schedule's [`Failure`].

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{json, Value};
use storesync_core::webhooks::retry::Failure;

use super::sim::BATCH_LIMIT;

#[derive(Debug, thiserror::Error)]
pub enum WooError {
    #[error("WooCommerce {method} {path}: HTTP {status} {code}: {message}")]
    Http {
        method: &'static str,
        path: String,
        status: u16,
        code: String,
        message: String,
        retry_after_secs: Option<u64>,
    },
    #[error("WooCommerce {method} {path}: {source}")]
    Transport {
        method: &'static str,
        path: String,
        #[source]
        source: reqwest::Error,
    },
}

/// Attempts at a GET before its error is returned.
pub const GET_ATTEMPTS: u32 = 5;

/// Whether an error code says the object is not there (an unknown id, already trashed): what a
/// delete repeated after a lost answer meets.
pub fn is_gone(code: &str) -> bool {
    code.ends_with("_invalid_id") || code.ends_with("already_trashed") || code == "woocommerce_rest_term_invalid"
}

impl WooError {
    /// Worth another attempt: 408, 429, 5xx, or no answer.
    pub fn transient(&self) -> bool {
        match self {
            WooError::Http { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            WooError::Transport { .. } => true,
        }
    }

    /// How the retry schedule sees this failure.
    pub fn failure(&self) -> Failure {
        match self {
            WooError::Http { status, retry_after_secs, .. } => {
                Failure::Status { code: *status, retry_after_secs: *retry_after_secs }
            }
            WooError::Transport { .. } => Failure::Timeout,
        }
    }
}

/// A product or variation found by SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductRef {
    pub id: u64,
    /// The parent product of a variation.
    pub parent: Option<u64>,
}

/// One item of a batch that WooCommerce refused (the rest of the batch applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    pub id: u64,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub calls: u64,
    pub updated: u64,
    pub errors: Vec<ItemError>,
}

pub struct WooClient {
    base: String,
    key: String,
    secret: String,
    http: reqwest::Client,
}

impl WooClient {
    /// `base` is the site's `…/wp-json/wc/v3`.
    pub fn new(base: &str, key: &str, secret: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            secret: secret.to_string(),
            http,
        })
    }

    /// A path's URL: under `…/wc/v3`, or for WordPress's own API (`/wp/v2/…`) under the site's
    /// `…/wp-json` (the same credentials, as an application password).
    fn url(&self, path: &str) -> String {
        match path.starts_with("/wp/") {
            true => format!("{}{path}", self.base.strip_suffix("/wc/v3").unwrap_or(&self.base)),
            false => format!("{}{path}", self.base),
        }
    }

    /// One request, not retried (the caller knows whether repeating it is safe); the answer's
    /// JSON.
    pub async fn request(&self, method: &'static str, path: &str, body: Option<&Value>) -> Result<Value, WooError> {
        self.call(method, path, body).await.map(|(v, _)| v)
    }

    async fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(Value, reqwest::header::HeaderMap), WooError> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = self.http.request(m, self.url(path)).basic_auth(&self.key, Some(&self.secret));
        if let Some(b) = body {
            req = req.json(b);
        }
        let transport = |source| WooError::Transport { method, path: path.to_string(), source };
        let resp = req.send().await.map_err(transport)?;
        answer(method, path, resp).await
    }

    /// Uploads an image to WordPress's media library (`POST /wp/v2/media`, the file as the
    /// body, named by `Content-Disposition`); the new media object. Not retried.
    pub async fn upload_media(&self, filename: &str, content_type: &str, bytes: Vec<u8>) -> Result<Value, WooError> {
        let path = "/wp/v2/media";
        let req = self
            .http
            .post(self.url(path))
            .basic_auth(&self.key, Some(&self.secret))
            .header("content-type", content_type)
            .header("content-disposition", format!("attachment; filename=\"{}\"", filename.replace('"', "")))
            .body(bytes);
        let resp =
            req.send().await.map_err(|source| WooError::Transport { method: "POST", path: path.into(), source })?;
        answer("POST", path, resp).await.map(|(v, _)| v)
    }

    /// Fetches an image from its URL (anywhere: another store's CDN): its bytes and content
    /// type (from the answer, else from the file name).
    pub async fn download(&self, url: &str) -> Result<(Vec<u8>, String), WooError> {
        let transport = |source| WooError::Transport { method: "GET", path: url.to_string(), source };
        let resp = self.http.get(url).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(WooError::Http {
                method: "GET",
                path: url.to_string(),
                status,
                code: "image_download_failed".into(),
                message: format!("the image {url} could not be fetched"),
                retry_after_secs: None,
            });
        }
        let given = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
        let bytes = resp.bytes().await.map_err(transport)?.to_vec();
        let by_name = match url.split(['?', '#']).next().unwrap_or_default().rsplit('.').next() {
            Some("png") => "image/png",
            Some("gif") => "image/gif",
            Some("webp") => "image/webp",
            _ => "image/jpeg",
        };
        Ok((bytes, given.filter(|t| t.starts_with("image/")).unwrap_or_else(|| by_name.to_string())))
    }
    /// One page of a list endpoint, as it comes.
    pub async fn list_page(&self, path: &str) -> Result<Vec<Value>, WooError> {
        let (items, _) = self.get_retrying(path).await?;
        Ok(items.as_array().cloned().unwrap_or_default())
    }

    /// A GET (safe to repeat), retried up to [`GET_ATTEMPTS`] times on 408, 429 (after its
    /// `Retry-After`), 5xx and timeouts. The webhook path's calls are not retried here: its
    /// retry schedule decides.
    async fn get_retrying(&self, path: &str) -> Result<(Value, reqwest::header::HeaderMap), WooError> {
        let mut attempt = 1;
        loop {
            match self.call("GET", path, None).await {
                Err(e) if attempt < GET_ATTEMPTS && e.transient() => {
                    let wait = match &e {
                        WooError::Http { retry_after_secs: Some(s), .. } => Duration::from_secs(*s),
                        _ => Duration::from_millis(200 * u64::from(attempt)),
                    };
                    tracing::debug!(error = %e, attempt, "WooCommerce GET retried");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Every item of a list endpoint (`/products`, `/products/{id}/variations`), 100 a page,
    /// following `X-WP-TotalPages`.
    pub async fn list_all(&self, path: &str) -> Result<Vec<Value>, WooError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let (items, headers) = self.get_retrying(&format!("{path}{sep}per_page=100&page={page}")).await?;
            out.extend(items.as_array().into_iter().flatten().cloned());
            let pages: u64 =
                headers.get("x-wp-totalpages").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(1);
            if page >= pages {
                return Ok(out);
            }
            page += 1;
        }
    }

    /// Products and variations by SKU (exact), 100 SKUs per request, every page.
    pub async fn find_by_sku(&self, skus: &[&str]) -> Result<HashMap<String, ProductRef>, WooError> {
        let mut found = HashMap::new();
        for chunk in skus.chunks(BATCH_LIMIT) {
            let list = chunk.iter().map(|s| percent(s)).collect::<Vec<_>>().join(",");
            let mut page = 1;
            loop {
                let (items, headers) =
                    self.call("GET", &format!("/products?sku={list}&per_page=100&page={page}"), None).await?;
                for p in items.as_array().into_iter().flatten() {
                    let (Some(sku), Some(id)) = (p["sku"].as_str(), p["id"].as_u64()) else { continue };
                    let parent = (p["type"] == json!("variation")).then(|| p["parent_id"].as_u64()).flatten();
                    found.insert(sku.to_string(), ProductRef { id, parent });
                }
                let pages: u64 = headers
                    .get("x-wp-totalpages")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                if page >= pages {
                    break;
                }
                page += 1;
            }
        }
        Ok(found)
    }

    /// Sets stock (managed) on products and variations: one batch call per 100 products, and per
    /// 100 variations of one parent. A refused item is reported; the others apply.
    pub async fn set_stock(&self, updates: &[(ProductRef, i64)]) -> Result<BatchReport, WooError> {
        let mut groups: BTreeMap<Option<u64>, Vec<Value>> = BTreeMap::new();
        for (r, qty) in updates {
            groups
                .entry(r.parent)
                .or_default()
                .push(json!({ "id": r.id, "manage_stock": true, "stock_quantity": qty }));
        }
        let mut report = BatchReport::default();
        for (parent, items) in groups {
            let path = match parent {
                None => "/products/batch".to_string(),
                Some(p) => format!("/products/{p}/variations/batch"),
            };
            for chunk in items.chunks(BATCH_LIMIT) {
                let (r, _) = self.call("POST", &path, Some(&json!({ "update": chunk }))).await?;
                report.calls += 1;
                for item in r["update"].as_array().into_iter().flatten() {
                    match item.get("error") {
                        Some(e) => report.errors.push(ItemError {
                            id: item["id"].as_u64().unwrap_or(0),
                            code: e["code"].as_str().unwrap_or_default().to_string(),
                            message: e["message"].as_str().unwrap_or_default().to_string(),
                        }),
                        None => report.updated += 1,
                    }
                }
            }
        }
        Ok(report)
    }

    /// The stock of the product or variation with this exact SKU (`None`: no such SKU; a
    /// product that does not manage stock counts as 0).
    pub async fn stock_by_sku(&self, sku: &str) -> Result<Option<i64>, WooError> {
        let (items, _) = self.call("GET", &format!("/products?sku={}", percent(sku)), None).await?;
        Ok(items
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["sku"].as_str() == Some(sku))
            .map(|p| p["stock_quantity"].as_i64().unwrap_or(0)))
    }

    /// The notes of an order, newest first, as WooCommerce lists them.
    pub async fn order_notes(&self, order: u64) -> Result<Vec<String>, WooError> {
        let (items, _) = self.call("GET", &format!("/orders/{order}/notes"), None).await?;
        Ok(items.as_array().into_iter().flatten().filter_map(|n| n["note"].as_str().map(String::from)).collect())
    }

    pub async fn add_order_note(&self, order: u64, note: &str) -> Result<(), WooError> {
        self.call("POST", &format!("/orders/{order}/notes"), Some(&json!({ "note": note }))).await.map(|_| ())
    }

    pub async fn set_order_status(&self, order: u64, status: &str) -> Result<(), WooError> {
        self.call("PUT", &format!("/orders/{order}"), Some(&json!({ "status": status }))).await.map(|_| ())
    }
}

/// Percent-encodes a SKU for a query string.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An answer's JSON, or its error (WordPress's and WooCommerce's `{code, message}`).
async fn answer(
    method: &'static str,
    path: &str,
    resp: reqwest::Response,
) -> Result<(Value, reqwest::header::HeaderMap), WooError> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let value: Value = resp.json().await.unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok((value, headers));
    }
    let retry_after_secs = headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    Err(WooError::Http {
        method,
        path: path.to_string(),
        status,
        code: value["code"].as_str().unwrap_or_default().to_string(),
        message: value["message"].as_str().unwrap_or_default().to_string(),
        retry_after_secs,
    })
}
