//! Shopify's side of the catalog port, in the neutral fields of
//! `storesync_core::stores::catalog`: online-store pages (`handle` is the slug, `body` the
//! content, `isPublished` the status: `publish` or `draft`) and collections (`handle`, `title`
//! the name, `descriptionHtml`, `image.url`, `seo`). A chunk's writes go in one request, one
//! aliased create/update/delete mutation per object (10 points each), so a chunk of 25 is one
//! call; each object's `userErrors` are its own failure.
//!
//! Not mapped yet: products (`productSet`), blog articles, discount codes, a collection's
//! products, and the pages' SEO metafields.

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

/// How one type lives in the Admin API.
struct Spec {
    connection: &'static str,
    fields: &'static str,
    create: &'static str,
    update: &'static str,
    delete: &'static str,
    input_type: &'static str,
    /// The update's input carries the id (`collectionUpdate(input: {id, …})`) rather than an `id:`
    /// argument beside it (`pageUpdate(id:, page:)`).
    id_in_input: bool,
    neutral: &'static [&'static str],
}

fn spec(data_type: DataType) -> Result<&'static Spec, StoreError> {
    static PAGES: Spec = Spec {
        connection: "pages",
        fields: "id title handle body isPublished",
        create: "pageCreate(page: $in)",
        update: "pageUpdate(id: $id, page: $in)",
        delete: "pageDelete(id: $id) { deletedPageId userErrors { field message code } }",
        input_type: "Page",
        id_in_input: false,
        neutral: &["slug", "title", "content", "status"],
    };
    static COLLECTIONS: Spec = Spec {
        connection: "collections",
        fields: "id title handle descriptionHtml image { url } seo { title description }",
        create: "collectionCreate(input: $in)",
        update: "collectionUpdate(input: $in)",
        delete: "collectionDelete(input: {id: $id}) { deletedCollectionId userErrors { field message code } }",
        input_type: "Collection",
        id_in_input: true,
        neutral: &["slug", "name", "description", "image", "seo_title", "seo_description"],
    };
    match data_type {
        DataType::Pages => Ok(&PAGES),
        DataType::Collections => Ok(&COLLECTIONS),
        other => Err(StoreError {
            platform: Platform::Shopify,
            operation: "catalog",
            message: format!("{other} are not synced with Shopify yet (pages and collections are)"),
            transient: false,
        }),
    }
}

/// Objects per read (a node costs 1, or 3 with a collection's image and SEO objects).
const PAGE: usize = 250;

fn record(data_type: DataType, p: &Value) -> CatalogRecord {
    let fields: Vec<(&str, Value)> = match data_type {
        DataType::Collections => vec![
            ("slug", p["handle"].clone()),
            ("name", p["title"].clone()),
            ("description", p["descriptionHtml"].clone()),
            ("image", p["image"]["url"].clone()),
            ("seo_title", p["seo"]["title"].clone()),
            ("seo_description", p["seo"]["description"].clone()),
        ],
        _ => vec![
            ("slug", p["handle"].clone()),
            ("title", p["title"].clone()),
            ("content", p["body"].clone()),
            ("status", json!(if p["isPublished"] == true { "publish" } else { "draft" })),
        ],
    };
    CatalogRecord {
        id: p["id"].as_str().unwrap_or_default().to_string(),
        fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

/// A write's create or update input.
fn input(data_type: DataType, w: &CatalogWrite) -> Value {
    let mut input = serde_json::Map::new();
    let mut seo = serde_json::Map::new();
    for (k, v) in &w.fields {
        let text = || if v.is_null() { json!("") } else { v.clone() };
        match (data_type, k.as_str()) {
            (_, "slug") => input.insert("handle".into(), v.clone()),
            (DataType::Pages, "title") | (DataType::Collections, "name") => input.insert("title".into(), text()),
            (DataType::Pages, "content") => input.insert("body".into(), text()),
            (DataType::Pages, "status") => input.insert("isPublished".into(), json!(v == "publish")),
            (DataType::Collections, "description") => input.insert("descriptionHtml".into(), text()),
            (DataType::Collections, "image") => {
                input.insert("image".into(), if v.is_null() { Value::Null } else { json!({ "src": v }) })
            }
            (DataType::Collections, "seo_title") => seo.insert("title".into(), v.clone()),
            (DataType::Collections, "seo_description") => seo.insert("description".into(), v.clone()),
            _ => None,
        };
    }
    if !seo.is_empty() {
        input.insert("seo".into(), Value::Object(seo));
    }
    Value::Object(input)
}

#[async_trait]
impl CatalogStore for ShopifyCatalog {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    fn fields(&self, data_type: DataType) -> &'static [&'static str] {
        spec(data_type).map(|s| s.neutral).unwrap_or(&[])
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.client.locations().await.map(|_| ()).map_err(store_error("connection check"))
    }

    async fn read(&self, data_type: DataType) -> Result<Vec<CatalogRecord>, StoreError> {
        let spec = spec(data_type)?;
        let (conn, fields) = (spec.connection, spec.fields);
        let query = format!(
            "query($after: String) {{ {conn}(first: {PAGE}, after: $after) {{ nodes {{ {fields} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        // A node: 1, plus 1 for each object field it selects.
        let cost = 2.0 + PAGE as f64 * (1.0 + fields.matches('{').count() as f64);
        let mut out = Vec::new();
        let mut after = Value::Null;
        loop {
            let data =
                self.client.graphql(&query, json!({ "after": after }), cost).await.map_err(store_error("read"))?;
            let page = &data[conn];
            out.extend(page["nodes"].as_array().into_iter().flatten().map(|n| record(data_type, n)));
            if page["pageInfo"]["hasNextPage"] != true {
                return Ok(out);
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
    }

    async fn find(&self, data_type: DataType, key: &str) -> Result<Option<String>, StoreError> {
        let conn = spec(data_type)?.connection;
        let query = format!("query($q: String) {{ {conn}(first: 1, query: $q) {{ nodes {{ id }} }} }}");
        let data = self
            .client
            .graphql(&query, json!({ "q": format!("handle:{key}") }), 3.0)
            .await
            .map_err(store_error("find"))?;
        Ok(data[conn]["nodes"][0]["id"].as_str().map(str::to_string))
    }

    async fn write(&self, data_type: DataType, writes: &[CatalogWrite]) -> Result<Vec<CatalogOutcome>, StoreError> {
        let spec = spec(data_type)?;
        let mut out = vec![CatalogOutcome::Failed { error: "not written".into() }; writes.len()];
        let payload = |call: &str| {
            format!("{call} {{ {} {{ id }} userErrors {{ field message code }} }}", spec.input_type.to_lowercase())
        };
        // At most 1,000 points a request: 100 mutations.
        for (n, chunk) in writes.chunks(100).enumerate() {
            let mut params = Vec::new();
            let mut fields = Vec::new();
            let mut vars = serde_json::Map::new();
            for (i, w) in chunk.iter().enumerate() {
                let (input_var, id_var) = (format!("in{i}"), format!("id{i}"));
                let named =
                    |call: &str| call.replace("$in", &format!("${input_var}")).replace("$id", &format!("${id_var}"));
                match (w.action, &w.id) {
                    (Action::Create, _) => {
                        params.push(format!("${input_var}: {}CreateInput!", spec.input_type));
                        fields.push(format!("p{i}: {}", payload(&named(spec.create))));
                        vars.insert(input_var.clone(), input(data_type, w));
                    }
                    (Action::Update, Some(gid)) => {
                        let mut body = input(data_type, w);
                        if spec.id_in_input {
                            body["id"] = json!(gid);
                            params.push(format!("${input_var}: {}Input!", spec.input_type));
                        } else {
                            params.push(format!("${id_var}: ID!, ${input_var}: {}UpdateInput!", spec.input_type));
                            vars.insert(id_var.clone(), json!(gid));
                        }
                        fields.push(format!("p{i}: {}", payload(&named(spec.update))));
                        vars.insert(input_var.clone(), body);
                    }
                    (Action::Delete, Some(gid)) => {
                        params.push(format!("${id_var}: ID!"));
                        fields.push(format!("p{i}: {}", named(spec.delete)));
                        vars.insert(id_var.clone(), json!(gid));
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
            let data = self.client.graphql(&mutation, Value::Object(vars), cost).await.map_err(store_error("write"))?;
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
                // The object's id, or the deleted one's.
                let id = r
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| *k != "userErrors")
                    .find_map(|(_, v)| v.as_str().or(v["id"].as_str()))
                    .map(str::to_string);
                out[n * 100 + i] = match (errors.is_empty(), id.or(w.id.clone())) {
                    (true, Some(id)) => CatalogOutcome::Done { id },
                    (true, None) => CatalogOutcome::Failed { error: format!("unexpected answer: {r}") },
                    (false, _) => CatalogOutcome::Failed { error: errors.join("; ") },
                };
            }
        }
        Ok(out)
    }
}
