//! The Shopify GraphQL Admin API client storesync uses: paced by the shop's cost bucket (it
//! reads `extensions.cost.throttleStatus` from every answer and waits before a call the bucket
//! cannot take, so it keeps the bucket busy without being throttled), retrying throttled and
//! failed calls (a mutation keeps its idempotency key, so a retry never applies twice).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::graphql_path;

/// Attempts at one call before its error is returned (throttled answers do not count).
pub const ATTEMPTS: u32 = 5;
/// Variants per page when reading stock: a page costs 2 + 190 × 5 = 952 points, under the
/// 1,000 a single query may cost.
pub const STOCK_PAGE: usize = 190;
/// Quantities per `inventorySetQuantities` call.
pub const SET_BATCH: usize = 250;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShopifyError {
    #[error("Shopify {url}: {message}")]
    Transport { url: String, message: String },
    #[error("Shopify answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("Shopify GraphQL error {code}: {message}")]
    Graphql { code: String, message: String },
    #[error("Shopify answered something that is not the expected shape: {0}")]
    Shape(String),
}

impl ShopifyError {
    /// Worth another attempt with the same request.
    pub fn transient(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Graphql { code, .. } => code == "THROTTLED" || code == "IDEMPOTENCY_CONCURRENT_REQUEST",
            Self::Shape(_) => false,
        }
    }
}

/// The client's picture of the shop's bucket, from the latest `throttleStatus`.
#[derive(Debug, Clone, Copy)]
struct Pacer {
    available: f64,
    size: f64,
    rate: f64,
    at: Instant,
}

impl Pacer {
    /// How long to wait before a call of `cost` points fits.
    fn wait_for(&self, cost: f64) -> Duration {
        let now = self.available + self.at.elapsed().as_secs_f64() * self.rate;
        let need = cost.min(self.size) - now.min(self.size);
        if need <= 0.0 || self.rate <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(need / self.rate)
        }
    }
}

/// One variant's stock at one location.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantStock {
    pub variant_id: String,
    pub product_id: String,
    pub product_title: String,
    pub title: String,
    pub sku: String,
    pub inventory_item_id: String,
    /// `None`: not stocked at the location.
    pub available: Option<i64>,
}

/// One quantity to set; `change_from` is the value the plan saw (compare-and-set), `None` to
/// set whatever it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct SetQuantity {
    pub inventory_item_id: String,
    pub location_id: String,
    pub quantity: i64,
    pub change_from: Option<i64>,
}

/// A user error of a mutation, as Shopify reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserError {
    pub code: String,
    pub field: Vec<String>,
    pub message: String,
}

pub struct ShopifyClient {
    http: reqwest::Client,
    url: String,
    token: String,
    pacer: Mutex<Option<Pacer>>,
    /// Waits between attempts after a failure (not after throttling, which waits as long as
    /// the bucket needs).
    pub backoff: Duration,
}

const STOCK_QUERY: &str = "query Stock($first: Int!, $after: String, $location: ID!) {
  productVariants(first: $first, after: $after) {
    nodes { id title sku product { id title }
      inventoryItem { id inventoryLevel(locationId: $location) { quantities(names: [\"available\"]) { name quantity } } } }
    pageInfo { hasNextPage endCursor } } }";

const STOCK_OF_QUERY: &str = "query StockOf($first: Int!, $query: String!, $location: ID!) {
  productVariants(first: $first, query: $query) {
    nodes { id title sku product { id title }
      inventoryItem { id inventoryLevel(locationId: $location) { quantities(names: [\"available\"]) { name quantity } } } } } }";

/// SKUs looked up per `productVariants(query:)` call.
pub const STOCK_OF_BATCH: usize = 50;

const SET_MUTATION: &str = "mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message } } }";

impl ShopifyClient {
    /// `base` is the shop (`https://{shop}.myshopify.com`, or a simulator's base URL).
    pub fn new(base: &str, token: &str, version: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder().timeout(timeout).build()?,
            url: format!("{}{}", base.trim_end_matches('/'), graphql_path(version)),
            token: token.to_string(),
            pacer: Mutex::new(None),
            backoff: Duration::from_millis(500),
        })
    }

    /// Runs one operation whose requested cost is `cost` and returns its `data`: waits for the
    /// bucket first, retries throttled answers after the wait Shopify's numbers call for, and
    /// other transient failures up to [`ATTEMPTS`] times.
    pub async fn graphql(&self, query: &str, variables: Value, cost: f64) -> Result<Value, ShopifyError> {
        self.run(query, variables, cost, ATTEMPTS).await
    }

    /// A mutation that a repeat could apply twice (a create without an idempotency key): retried
    /// only when throttled (Shopify then applied nothing); any other failure is returned at once,
    /// since a lost answer may have been applied — the caller looks its objects up before trying
    /// again.
    pub async fn graphql_unrepeatable(&self, query: &str, variables: Value, cost: f64) -> Result<Value, ShopifyError> {
        self.run(query, variables, cost, 1).await
    }

    async fn run(&self, query: &str, variables: Value, cost: f64, attempts: u32) -> Result<Value, ShopifyError> {
        let mut failures = 0;
        loop {
            let wait = self.pacer.lock().await.map(|p| p.wait_for(cost)).unwrap_or_default();
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            match self.once(query, &variables).await {
                Ok(data) => return Ok(data),
                Err(e) if matches!(&e, ShopifyError::Graphql { code, .. } if code == "THROTTLED") => continue,
                Err(e) if e.transient() && failures + 1 < attempts => {
                    failures += 1;
                    tracing::debug!(error = %e, attempt = failures, "Shopify call retried");
                    tokio::time::sleep(self.backoff * failures).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A bulk operation's result, line by line as it streams in (never whole in memory).
    pub async fn download_lines(
        &self,
        url: &str,
        mut line: impl FnMut(&str) -> Result<(), ShopifyError>,
    ) -> Result<(), ShopifyError> {
        let transport = |e: reqwest::Error| ShopifyError::Transport { url: url.to_string(), message: e.to_string() };
        let mut resp = self.http.get(url).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        if status != 200 {
            let body = resp.text().await.unwrap_or_default();
            return Err(ShopifyError::Status { status, body: body.chars().take(300).collect() });
        }
        let mut pending: Vec<u8> = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            pending.extend_from_slice(&chunk);
            while let Some(at) = pending.iter().position(|b| *b == b'\n') {
                let l: Vec<u8> = pending.drain(..=at).collect();
                let text = std::str::from_utf8(&l[..at]).map_err(|e| ShopifyError::Shape(e.to_string()))?;
                if !text.trim().is_empty() {
                    line(text)?;
                }
            }
        }
        let rest = std::str::from_utf8(&pending).map_err(|e| ShopifyError::Shape(e.to_string()))?;
        if !rest.trim().is_empty() {
            line(rest)?;
        }
        Ok(())
    }

    async fn once(&self, query: &str, variables: &Value) -> Result<Value, ShopifyError> {
        let transport = |e: reqwest::Error| ShopifyError::Transport { url: self.url.clone(), message: e.to_string() };
        let resp = self
            .http
            .post(&self.url)
            .header("X-Shopify-Access-Token", &self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(transport)?;
        if status != 200 {
            return Err(ShopifyError::Status { status, body: body.chars().take(300).collect() });
        }
        let v: Value = serde_json::from_str(&body).map_err(|e| ShopifyError::Shape(format!("{e}: {body:.200}")))?;
        let t = &v["extensions"]["cost"]["throttleStatus"];
        if let (Some(available), Some(size), Some(rate)) =
            (t["currentlyAvailable"].as_f64(), t["maximumAvailable"].as_f64(), t["restoreRate"].as_f64())
        {
            *self.pacer.lock().await = Some(Pacer { available, size, rate, at: Instant::now() });
        }
        if let Some(e) = v["errors"].as_array().and_then(|e| e.first()) {
            return Err(ShopifyError::Graphql {
                code: e["extensions"]["code"].as_str().unwrap_or("UNKNOWN").to_string(),
                message: e["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        Ok(v["data"].clone())
    }

    /// The shop's locations: `(id, name)`.
    pub async fn locations(&self) -> Result<Vec<(String, String)>, ShopifyError> {
        let data = self.graphql("{ locations(first: 250) { nodes { id name } } }", json!({}), 252.0).await?;
        let nodes = data["locations"]["nodes"].as_array().ok_or_else(|| ShopifyError::Shape(data.to_string()))?;
        Ok(nodes
            .iter()
            .map(|n| {
                (n["id"].as_str().unwrap_or_default().to_string(), n["name"].as_str().unwrap_or_default().to_string())
            })
            .collect())
    }

    /// The variants with these SKUs and their `available` stock at `location`: a search of
    /// [`STOCK_OF_BATCH`] SKUs a call (`sku:"A" OR sku:"B" …`).
    pub async fn variant_stock_of(&self, location: &str, skus: &[String]) -> Result<Vec<VariantStock>, ShopifyError> {
        let mut out = Vec::new();
        for chunk in skus.chunks(STOCK_OF_BATCH) {
            let query: Vec<String> = chunk.iter().map(|s| format!("sku:\"{}\"", s.replace('"', "\\\""))).collect();
            // A SKU may be on several variants: room for a few each.
            let first = (chunk.len() * 2).min(250);
            let vars = json!({ "first": first, "query": query.join(" OR "), "location": location });
            let data = self.graphql(STOCK_OF_QUERY, vars, 2.0 + first as f64 * 5.0).await?;
            let nodes =
                data["productVariants"]["nodes"].as_array().ok_or_else(|| ShopifyError::Shape(data.to_string()))?;
            out.extend(nodes.iter().map(variant_stock_node));
        }
        Ok(out)
    }

    /// Every variant with its `available` stock at `location`, page by page.
    pub async fn variant_stock(&self, location: &str) -> Result<Vec<VariantStock>, ShopifyError> {
        // A page: 2 + first × (the variant, its product, item, level and quantities list).
        let cost = 2.0 + STOCK_PAGE as f64 * 5.0;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let vars = json!({ "first": STOCK_PAGE, "after": after, "location": location });
            let data = self.graphql(STOCK_QUERY, vars, cost).await?;
            let conn = &data["productVariants"];
            let nodes = conn["nodes"].as_array().ok_or_else(|| ShopifyError::Shape(conn.to_string()))?;
            out.extend(nodes.iter().map(variant_stock_node));
            if conn["pageInfo"]["hasNextPage"] != json!(true) {
                return Ok(out);
            }
            after = conn["pageInfo"]["endCursor"].as_str().map(str::to_string);
        }
    }

    /// Sets `available` for up to [`SET_BATCH`] quantities in one call, under the idempotency
    /// `key` (derive it from what the call carries: a retry or a replay with the same key
    /// applies nothing twice). `Ok` with user errors means nothing was applied.
    pub async fn set_available(
        &self,
        quantities: &[SetQuantity],
        key: &str,
        reference: &str,
    ) -> Result<Vec<UserError>, ShopifyError> {
        if quantities.len() > SET_BATCH {
            return Err(ShopifyError::Shape(format!(
                "{} quantities in one call; at most {SET_BATCH}",
                quantities.len()
            )));
        }
        let input = json!({
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": reference,
            "quantities": quantities.iter().map(|q| json!({
                "inventoryItemId": q.inventory_item_id,
                "locationId": q.location_id,
                "quantity": q.quantity,
                "changeFromQuantity": q.change_from,
            })).collect::<Vec<_>>(),
        });
        let data = self.graphql(SET_MUTATION, json!({ "input": input, "key": key }), 10.0).await?;
        let errors = data["inventorySetQuantities"]["userErrors"]
            .as_array()
            .ok_or_else(|| ShopifyError::Shape(data.to_string()))?;
        Ok(errors
            .iter()
            .map(|e| UserError {
                code: e["code"].as_str().unwrap_or_default().to_string(),
                field: e["field"]
                    .as_array()
                    .map(|f| f.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
                message: e["message"].as_str().unwrap_or_default().to_string(),
            })
            .collect())
    }
}

/// A `productVariants` node of the stock queries.
fn variant_stock_node(n: &Value) -> VariantStock {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let level = &n["inventoryItem"]["inventoryLevel"];
    let available = level["quantities"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["name"] == "available"))
        .and_then(|q| q["quantity"].as_i64());
    VariantStock {
        variant_id: s(&n["id"]),
        product_id: s(&n["product"]["id"]),
        product_title: s(&n["product"]["title"]),
        title: s(&n["title"]),
        sku: s(&n["sku"]),
        inventory_item_id: s(&n["inventoryItem"]["id"]),
        available,
    }
}
