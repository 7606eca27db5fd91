//! Shopify's side of the catalog port, in the neutral fields of
//! `storesync_core::stores::catalog`: online-store pages so far (`handle` is the slug, `body`
//! the content, `isPublished` the status: `publish` or `draft`). A chunk's writes go in one
//! request, one aliased `pageCreate`/`pageUpdate`/`pageDelete` per object (10 points each), so
//! a chunk of 25 is one call; each object's `userErrors` are its own failure.
//!
//! Not mapped yet: products (`productSet`), blog articles, discount codes, collections, and the
//! pages' SEO metafields.

use async_trait::async_trait;
use serde_json::{json, Value};
use storesync_core::stores::catalog::{Action, CatalogRecord, DataType};
use storesync_core::stores::catalog_sync::{CatalogOutcome, CatalogStore, CatalogWrite};
use storesync_core::stores::{Platform, StoreError};

use super::client::{ShopifyClient, ShopifyError};
use super::sim::MUTATION_COST;

pub struct ShopifyCatalog {
    client: ShopifyClient,
}

impl ShopifyCatalog {
    pub fn new(client: ShopifyClient) -> Self {
        Self { client }
    }
}

fn store_error(operation: &'static str) -> impl Fn(ShopifyError) -> StoreError {
    move |e| StoreError { platform: Platform::Shopify, operation, transient: e.transient(), message: e.to_string() }
}

fn supported(data_type: DataType) -> Result<(), StoreError> {
    match data_type {
        DataType::Pages => Ok(()),
        other => Err(StoreError {
            platform: Platform::Shopify,
            operation: "catalog",
            message: format!("{other} are not synced with Shopify yet (pages are)"),
            transient: false,
        }),
    }
}

/// Pages per read (a page node costs 1: 2 + 250 points a call).
const PAGE: usize = 250;
const PAGE_FIELDS: &str = "id title handle body isPublished";

fn record(p: &Value) -> CatalogRecord {
    let fields = [
        ("slug", p["handle"].clone()),
        ("title", p["title"].clone()),
        ("content", p["body"].clone()),
        ("status", json!(if p["isPublished"] == true { "publish" } else { "draft" })),
    ];
    CatalogRecord {
        id: p["id"].as_str().unwrap_or_default().to_string(),
        fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

/// A write's `PageCreateInput`/`PageUpdateInput`.
fn page_input(w: &CatalogWrite) -> Value {
    let mut input = serde_json::Map::new();
    for (k, v) in &w.fields {
        let text = || if v.is_null() { json!("") } else { v.clone() };
        match k.as_str() {
            "slug" => input.insert("handle".into(), v.clone()),
            "title" => input.insert("title".into(), text()),
            "content" => input.insert("body".into(), text()),
            "status" => input.insert("isPublished".into(), json!(v == "publish")),
            _ => None,
        };
    }
    Value::Object(input)
}

#[async_trait]
impl CatalogStore for ShopifyCatalog {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.client.locations().await.map(|_| ()).map_err(store_error("connection check"))
    }

    async fn read(&self, data_type: DataType) -> Result<Vec<CatalogRecord>, StoreError> {
        supported(data_type)?;
        let query = format!(
            "query($after: String) {{ pages(first: {PAGE}, after: $after) {{ nodes {{ {PAGE_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        let mut out = Vec::new();
        let mut after = Value::Null;
        loop {
            let data = self
                .client
                .graphql(&query, json!({ "after": after }), 2.0 + PAGE as f64)
                .await
                .map_err(store_error("read pages"))?;
            let conn = &data["pages"];
            out.extend(conn["nodes"].as_array().into_iter().flatten().map(record));
            if conn["pageInfo"]["hasNextPage"] != true {
                return Ok(out);
            }
            after = conn["pageInfo"]["endCursor"].clone();
        }
    }

    async fn find(&self, data_type: DataType, key: &str) -> Result<Option<String>, StoreError> {
        supported(data_type)?;
        let query = "query($q: String) { pages(first: 1, query: $q) { nodes { id } } }";
        let data = self
            .client
            .graphql(query, json!({ "q": format!("handle:{key}") }), 3.0)
            .await
            .map_err(store_error("find page"))?;
        Ok(data["pages"]["nodes"][0]["id"].as_str().map(str::to_string))
    }

    async fn write(&self, data_type: DataType, writes: &[CatalogWrite]) -> Result<Vec<CatalogOutcome>, StoreError> {
        supported(data_type)?;
        let mut out = vec![CatalogOutcome::Failed { error: "not written".into() }; writes.len()];
        // At most 1,000 points a request: 100 mutations.
        for (n, chunk) in writes.chunks(100).enumerate() {
            let mut params = Vec::new();
            let mut fields = Vec::new();
            let mut vars = serde_json::Map::new();
            for (i, w) in chunk.iter().enumerate() {
                let (input, id) = (format!("input{i}"), format!("id{i}"));
                match (w.action, &w.id) {
                    (Action::Create, _) => {
                        params.push(format!("${input}: PageCreateInput!"));
                        fields.push(format!(
                            "p{i}: pageCreate(page: ${input}) {{ page {{ id }} userErrors {{ field message code }} }}"
                        ));
                        vars.insert(input, page_input(w));
                    }
                    (Action::Update, Some(gid)) => {
                        params.push(format!("${id}: ID!, ${input}: PageUpdateInput!"));
                        fields.push(format!("p{i}: pageUpdate(id: ${id}, page: ${input}) {{ page {{ id }} userErrors {{ field message code }} }}"));
                        vars.insert(id, json!(gid));
                        vars.insert(input, page_input(w));
                    }
                    (Action::Delete, Some(gid)) => {
                        params.push(format!("${id}: ID!"));
                        fields.push(format!(
                            "p{i}: pageDelete(id: ${id}) {{ deletedPageId userErrors {{ field message code }} }}"
                        ));
                        vars.insert(id, json!(gid));
                    }
                    (_, None) => {
                        out[n * 100 + i] = CatalogOutcome::Failed { error: format!("no destination id for {}", w.key) };
                    }
                }
            }
            if fields.is_empty() {
                continue;
            }
            let mutation = format!("mutation({}) {{ {} }}", params.join(", "), fields.join(" "));
            let cost = fields.len() as f64 * MUTATION_COST;
            let data =
                self.client.graphql(&mutation, Value::Object(vars), cost).await.map_err(store_error("write pages"))?;
            for (i, w) in chunk.iter().enumerate() {
                let r = &data[format!("p{i}")];
                if r.is_null() {
                    continue;
                }
                let errors: Vec<String> = r["userErrors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e["code"].as_str().unwrap_or_default(),
                            e["message"].as_str().unwrap_or_default()
                        )
                    })
                    .collect();
                let id = r["page"]["id"].as_str().or(r["deletedPageId"].as_str()).map(str::to_string).or(w.id.clone());
                out[n * 100 + i] = match (errors.is_empty(), id) {
                    (true, Some(id)) => CatalogOutcome::Done { id },
                    (true, None) => CatalogOutcome::Failed { error: format!("unexpected answer: {r}") },
                    (false, _) => CatalogOutcome::Failed { error: errors.join("; ") },
                };
            }
        }
        Ok(out)
    }
}
