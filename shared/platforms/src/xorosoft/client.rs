//! A client of the Xorosoft API (the contract is in [`super::sim`]): look-ups of up to 100 SKUs,
//! retried on 429 (after its `Retry-After`), 5xx and timeouts, up to [`XorosoftClient::attempts`]
//! times with a growing back-off; any other answer is the look-up's failure, named.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use storesync_core::domain::Cents;
use storesync_core::supplier::distributor::{Carried, Distributor, DistributorError, Lookup, LOOKUP_LIMIT};

pub struct XorosoftClient {
    base: String,
    token: String,
    http: reqwest::Client,
    /// Tries per look-up (the first and the retries).
    pub attempts: u32,
    /// The first retry's wait (doubling after), unless the answer says `Retry-After`.
    pub backoff: Duration,
}

impl XorosoftClient {
    pub fn new(base: &str, token: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
            attempts: 5,
            backoff: Duration::from_millis(200),
        })
    }

    /// One call: the answer, or (transient?, message, Retry-After).
    async fn call(&self, skus: &[String]) -> Result<Value, (bool, String, Option<u64>)> {
        let url = format!("{}/api/v1/items/lookup", self.base);
        let resp = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .json(&json!({ "skus": skus }))
            .send()
            .await
            .map_err(|e| (true, format!("Xorosoft POST /api/v1/items/lookup: {e}"), None))?;
        let status = resp.status().as_u16();
        let retry_after =
            resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let transient = matches!(status, 408 | 429) || status >= 500;
        let why = value["message"].as_str().or(value["error"].as_str()).unwrap_or("");
        Err((transient, format!("Xorosoft POST /api/v1/items/lookup: HTTP {status} {why}"), retry_after))
    }
}

fn parse(skus: &[String], v: &Value) -> Result<Vec<Lookup>, DistributorError> {
    let bad = |why: String| DistributorError { transient: false, message: format!("Xorosoft look-up: {why}") };
    let items = v["items"].as_array().ok_or_else(|| bad("the answer has no items".into()))?;
    if items.len() != skus.len() {
        return Err(bad(format!("{} SKUs asked, {} answered", skus.len(), items.len())));
    }
    skus.iter()
        .zip(items)
        .map(|(sku, it)| {
            if !it["sku"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(sku)) {
                return Err(bad(format!("asked {sku}, answered {}", it["sku"])));
            }
            let carried = match it["carried"].as_bool() {
                Some(true) => Some(Carried {
                    item_number: it["item_number"].as_str().unwrap_or_default().to_string(),
                    stock: it["stock"].as_i64().unwrap_or(0),
                    price: it["price"].as_str().and_then(Cents::parse),
                }),
                Some(false) => None,
                None => return Err(bad(format!("{sku}: carried is not true or false"))),
            };
            Ok(Lookup { sku: sku.clone(), carried })
        })
        .collect()
}

#[async_trait]
impl Distributor for XorosoftClient {
    async fn lookup(&self, skus: &[String]) -> Result<Vec<Lookup>, DistributorError> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        if skus.len() > LOOKUP_LIMIT {
            return Err(DistributorError {
                transient: false,
                message: format!("Xorosoft look-up: {} SKUs, at most {LOOKUP_LIMIT} a call", skus.len()),
            });
        }
        let (mut wait, mut attempt) = (self.backoff, 1);
        loop {
            match self.call(skus).await {
                Ok(v) => return parse(skus, &v),
                Err((true, message, retry_after)) if attempt < self.attempts => {
                    tracing::warn!(attempt, %message, "Xorosoft look-up retried");
                    tokio::time::sleep(retry_after.map(Duration::from_secs).unwrap_or(wait)).await;
                    wait *= 2;
                    attempt += 1;
                }
                Err((transient, message, _)) => return Err(DistributorError { transient, message }),
            }
        }
    }
}
