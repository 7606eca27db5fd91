//! WooCommerce's side of the catalog port: WordPress pages and posts (`/wp/v2`, one call per
//! object: WordPress has no batch endpoint for them), coupons and product categories (the
//! collections; `/wc/v3`, through their batch endpoints, 100 per call), in the neutral fields
//! of `storesync_core::stores::catalog`.
//!
//! Products are `products`'s.
//!
//! A post's featured image is a media library id in WordPress: read as the media's URL,
//! written by finding the media of that file name or uploading the image (fetched from the
//! source's URL) first.
//!
//! Not mapped: SEO fields (WordPress has none without a plugin) and a category's products
//! (they live on the products).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use storesync_core::stores::catalog::{image_name, Action, CatalogRecord, DataType, COUPON_FIELDS};
use storesync_core::stores::catalog_sync::{CatalogOutcome, CatalogStore, CatalogWrite};
use storesync_core::stores::{Platform, StoreError};

use super::client::{is_gone, WooClient, WooError};
use super::sim::BATCH_LIMIT;

pub struct WooCatalog {
    client: WooClient,
}

impl WooCatalog {
    pub fn new(client: WooClient) -> Self {
        Self { client }
    }
}

fn store_error(operation: &'static str) -> impl Fn(WooError) -> StoreError {
    move |e| StoreError { platform: Platform::WooCommerce, operation, transient: e.transient(), message: e.to_string() }
}

fn unsupported(data_type: DataType) -> StoreError {
    StoreError {
        platform: Platform::WooCommerce,
        operation: "catalog",
        message: format!("{data_type} is not a catalog type: inventory goes through the inventory compare"),
        transient: false,
    }
}

/// Every status a page or post can have but the trash.
const STATUSES: &str = "publish,future,draft,pending,private";

/// The collection a type lives in, and whether it is WordPress's.
fn collection(data_type: DataType) -> Result<(&'static str, bool), StoreError> {
    match data_type {
        DataType::Pages => Ok(("/wp/v2/pages", true)),
        DataType::Posts => Ok(("/wp/v2/posts", true)),
        DataType::Coupons => Ok(("/coupons", false)),
        DataType::Collections => Ok(("/products/categories", false)),
        other => Err(unsupported(other)),
    }
}

fn text(v: &Value) -> Value {
    match v {
        Value::String(s) => json!(s),
        Value::Object(o) => o.get("raw").or(o.get("rendered")).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// The neutral fields of a WooCommerce object.
fn record(data_type: DataType, o: &Value, terms: &Terms) -> CatalogRecord {
    let mut f: BTreeMap<String, Value> = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        f.insert(k.to_string(), v);
    };
    match data_type {
        DataType::Pages | DataType::Posts => {
            put("slug", o["slug"].clone());
            put("title", text(&o["title"]));
            put("content", text(&o["content"]));
            // What both platforms have: published or not.
            put("status", json!(if o["status"] == "publish" { "publish" } else { "draft" }));
            if data_type == DataType::Posts {
                put("excerpt", text(&o["excerpt"]));
                put("categories", terms.names("categories", &o["categories"]));
                put("tags", terms.names("tags", &o["tags"]));
                let image = o["featured_media"].as_u64().and_then(|id| terms.media.get(&id));
                put("featured_image", image.map(|url| json!(url)).unwrap_or(Value::Null));
            }
        }
        DataType::Coupons => {
            put("code", o["code"].clone());
            put("discount_type", o["discount_type"].clone());
            put("amount", o["amount"].clone());
            put("expires_at", o["date_expires"].clone());
            put("usage_limit", o["usage_limit"].clone());
            put("usage_limit_per_customer", o["usage_limit_per_user"].clone());
            // No minimum reads "0.00" (or ""): null, as the other platforms have it.
            let min = o["minimum_amount"].as_str().filter(|m| m.parse::<f64>().is_ok_and(|x| x > 0.0));
            put("minimum_amount", min.map(|m| json!(m)).unwrap_or(Value::Null));
            // A product this store cannot name by key (a single variation) reads as `#id`.
            let products: Vec<String> = o["product_ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_u64)
                .map(|id| terms.product_keys.get(&id).cloned().unwrap_or_else(|| format!("#{id}")))
                .collect();
            put("product_skus", json!(products));
        }
        DataType::Collections => {
            put("slug", o["slug"].clone());
            put("name", o["name"].clone());
            put("description", o["description"].clone());
            put("image", o["image"]["src"].clone());
        }
        DataType::Inventory | DataType::Products => {}
    }
    let id = o["id"].as_u64().map(|i| i.to_string()).unwrap_or_default();
    CatalogRecord { id, fields: f }
}

/// WordPress's post categories and tags by id, for names both ways.
#[derive(Default)]
struct Terms {
    by_id: HashMap<(&'static str, u64), String>,
    /// Products by id → their key (a coupon's `product_ids` read as `product_skus`).
    product_keys: HashMap<u64, String>,
    /// Product keys → the product's id (`product_skus` written as `product_ids`).
    product_ids: HashMap<String, u64>,
    /// The media library's ids → their URLs (a post's `featured_media`).
    media: HashMap<u64, String>,
}

impl Terms {
    fn names(&self, taxonomy: &'static str, ids: &Value) -> Value {
        let names: Vec<String> = ids
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_u64())
            .filter_map(|i| self.by_id.get(&(taxonomy, i)).cloned())
            .collect();
        json!(names)
    }

    fn id(&self, taxonomy: &'static str, name: &str) -> Option<u64> {
        self.by_id.iter().find(|((t, _), n)| *t == taxonomy && n.eq_ignore_ascii_case(name)).map(|((_, id), _)| *id)
    }
}

impl WooCatalog {
    async fn terms(&self) -> Result<Terms, StoreError> {
        let mut t = Terms::default();
        for taxonomy in ["categories", "tags"] {
            let all = self.client.list_all(&format!("/wp/v2/{taxonomy}")).await.map_err(store_error("read terms"))?;
            for term in all {
                if let (Some(id), Some(name)) = (term["id"].as_u64(), term["name"].as_str()) {
                    t.by_id.insert((taxonomy, id), name.to_string());
                }
            }
        }
        Ok(t)
    }

    /// The keys of the products coupons are limited to, by id (`?include=`, 100 per call;
    /// a variable product's key needs its variations).
    async fn product_keys(&self, coupons: &[Value], terms: &mut Terms) -> Result<(), WooError> {
        let mut ids: Vec<u64> =
            coupons.iter().filter_map(|c| c["product_ids"].as_array()).flatten().filter_map(Value::as_u64).collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(BATCH_LIMIT) {
            let list: Vec<String> = chunk.iter().map(u64::to_string).collect();
            let found = self.client.list_all(&format!("/products?include={}&status=any", list.join(","))).await?;
            for p in &found {
                let variations = if p["type"] == "variable" {
                    self.client.list_all(&format!("/products/{}/variations", p["id"])).await?
                } else {
                    Vec::new()
                };
                let key =
                    super::products::record(p, &variations).fields["sku"].as_str().unwrap_or_default().to_string();
                if let (Some(id), false) = (p["id"].as_u64(), key.is_empty()) {
                    terms.product_keys.insert(id, key);
                }
            }
        }
        Ok(())
    }

    /// The URLs of the posts' featured media (`?include=`, 100 per call).
    async fn media_urls(&self, posts: &[Value], terms: &mut Terms) -> Result<(), WooError> {
        let mut ids: Vec<u64> =
            posts.iter().filter_map(|p| p["featured_media"].as_u64()).filter(|id| *id > 0).collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(BATCH_LIMIT) {
            let list: Vec<String> = chunk.iter().map(u64::to_string).collect();
            let path = format!("/wp/v2/media?include={}&per_page={BATCH_LIMIT}", list.join(","));
            for m in self.client.list_all(&path).await? {
                if let (Some(id), Some(url)) = (m["id"].as_u64(), m["source_url"].as_str()) {
                    terms.media.insert(id, url.to_string());
                }
            }
        }
        Ok(())
    }

    /// The media id of the image at `url`: the library's file of that name, else the image
    /// fetched from `url` and uploaded. Null is none (0).
    async fn media_id(&self, terms: &mut Terms, url: &Value) -> Result<Value, WooError> {
        let Some(url) = url.as_str().filter(|u| !u.is_empty()) else { return Ok(json!(0)) };
        let name = image_name(url);
        let known = |terms: &Terms| terms.media.iter().find(|(_, u)| image_name(u) == name).map(|(id, _)| *id);
        if let Some(id) = known(terms) {
            return Ok(json!(id));
        }
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(stem, _)| stem);
        for m in self.client.list_all(&format!("/wp/v2/media?search={stem}")).await? {
            if let (Some(id), Some(u)) = (m["id"].as_u64(), m["source_url"].as_str()) {
                terms.media.insert(id, u.to_string());
            }
        }
        if let Some(id) = known(terms) {
            return Ok(json!(id));
        }
        let (bytes, content_type) = self.client.download(url).await?;
        // Uploaded under the source's file name, as it is spelled there.
        let file = url.split(['?', '#']).next().and_then(|p| p.rsplit('/').next()).unwrap_or(&name);
        let m = self.client.upload_media(file, &content_type, bytes).await?;
        match (m["id"].as_u64(), m["source_url"].as_str()) {
            (Some(id), Some(u)) => {
                terms.media.insert(id, u.to_string());
                Ok(json!(id))
            }
            _ => Ok(json!(0)),
        }
    }

    /// The ids of the products coupon writes name by key (`?sku=`, 100 per call; a variation's
    /// SKU names its parent).
    async fn product_ids(&self, writes: &[CatalogWrite], terms: &mut Terms) -> Result<(), WooError> {
        let mut keys: Vec<String> = writes
            .iter()
            .filter_map(|w| w.fields.get("product_skus").and_then(Value::as_array))
            .flatten()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        keys.sort();
        keys.dedup();
        for chunk in keys.chunks(BATCH_LIMIT) {
            let found = self.client.list_all(&format!("/products?sku={}&status=any", chunk.join(","))).await?;
            for p in &found {
                let parent = p["parent_id"].as_u64().filter(|id| *id > 0);
                if let (Some(sku), Some(id)) = (p["sku"].as_str(), parent.or(p["id"].as_u64())) {
                    terms.product_ids.insert(sku.to_string(), id);
                }
            }
        }
        Ok(())
    }

    /// The ids of these term names, creating those WordPress does not have yet.
    async fn term_ids(&self, terms: &mut Terms, taxonomy: &'static str, names: &Value) -> Result<Value, WooError> {
        let mut ids = Vec::new();
        for name in names.as_array().into_iter().flatten().filter_map(Value::as_str) {
            let id = match terms.id(taxonomy, name) {
                Some(id) => id,
                None => {
                    let created = match self
                        .client
                        .request("POST", &format!("/wp/v2/{taxonomy}"), Some(&json!({ "name": name })))
                        .await
                    {
                        Ok(v) => v["id"].as_u64().unwrap_or(0),
                        // Created meanwhile: WordPress names the one it has.
                        Err(WooError::Http { code, .. }) if code == "term_exists" => {
                            let found = self.client.list_page(&format!("/wp/v2/{taxonomy}?search={}", name)).await?;
                            found
                                .iter()
                                .find(|t| t["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
                                .and_then(|t| t["id"].as_u64())
                                .unwrap_or(0)
                        }
                        Err(e) => return Err(e),
                    };
                    terms.by_id.insert((taxonomy, created), name.to_string());
                    created
                }
            };
            ids.push(id);
        }
        Ok(json!(ids))
    }

    /// A write's body in WooCommerce's fields.
    async fn body(
        &self,
        data_type: DataType,
        w: &CatalogWrite,
        terms: &mut Terms,
    ) -> Result<Map<String, Value>, WooError> {
        let mut b = Map::new();
        for (k, v) in &w.fields {
            let (name, value) = match (data_type, k.as_str()) {
                (DataType::Posts, "categories") => ("categories", self.term_ids(terms, "categories", v).await?),
                (DataType::Posts, "tags") => ("tags", self.term_ids(terms, "tags", v).await?),
                (DataType::Posts, "featured_image") => ("featured_media", self.media_id(terms, v).await?),
                (DataType::Pages | DataType::Posts, "slug" | "title" | "content" | "excerpt" | "status") => {
                    (k.as_str(), if v.is_null() { json!("") } else { v.clone() })
                }
                (DataType::Coupons, "code" | "discount_type" | "amount" | "usage_limit") => (k.as_str(), v.clone()),
                (DataType::Coupons, "minimum_amount") => {
                    ("minimum_amount", if v.is_null() { json!("0.00") } else { v.clone() })
                }
                (DataType::Coupons, "expires_at") => ("date_expires", v.clone()),
                (DataType::Coupons, "usage_limit_per_customer") => ("usage_limit_per_user", v.clone()),
                (DataType::Coupons, "product_skus") => {
                    let keys = v.as_array().into_iter().flatten().filter_map(Value::as_str);
                    ("product_ids", json!(keys.filter_map(|k| terms.product_ids.get(k)).collect::<Vec<_>>()))
                }
                (DataType::Collections, "slug" | "name" | "description") => (k.as_str(), v.clone()),
                (DataType::Collections, "image") => {
                    ("image", if v.is_null() { Value::Null } else { json!({ "src": v }) })
                }
                _ => continue,
            };
            b.insert(name.to_string(), value);
        }
        Ok(b)
    }

    /// Pages and posts: one call per object.
    async fn write_each(
        &self,
        data_type: DataType,
        path: &str,
        writes: &[CatalogWrite],
    ) -> Result<Vec<CatalogOutcome>, StoreError> {
        let mut terms = if data_type == DataType::Posts { self.terms().await? } else { Terms::default() };
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            let answer = async {
                let body = Value::Object(self.body(data_type, w, &mut terms).await?);
                match (w.action, &w.id) {
                    (Action::Create, _) => self.client.request("POST", path, Some(&body)).await,
                    (Action::Update, Some(id)) => {
                        self.client.request("POST", &format!("{path}/{id}"), Some(&body)).await
                    }
                    (Action::Delete, Some(id)) => {
                        self.client.request("DELETE", &format!("{path}/{id}?force=true"), None).await
                    }
                    (_, None) => Ok(json!({ "error": "no destination id" })),
                }
            }
            .await;
            out.push(match answer {
                Ok(v) => match v["id"].as_u64().or(v["previous"]["id"].as_u64()) {
                    Some(id) => CatalogOutcome::Done { id: id.to_string() },
                    None => CatalogOutcome::Failed { error: format!("unexpected answer: {v}") },
                },
                // Nothing written yet: the whole chunk is retried (a create is looked up first).
                Err(e) if e.transient() && out.is_empty() => return Err(store_error("write")(e)),
                // A delete of what is gone already (a repeat after a lost answer) has its way.
                Err(WooError::Http { code, .. }) if w.action == Action::Delete && is_gone(&code) => {
                    CatalogOutcome::Done { id: w.id.clone().unwrap_or_default() }
                }
                Err(e) => CatalogOutcome::Failed { error: e.to_string() },
            });
        }
        Ok(out)
    }

    /// Coupons and categories: their batch endpoint, 100 per call.
    async fn write_batched(
        &self,
        data_type: DataType,
        path: &str,
        writes: &[CatalogWrite],
    ) -> Result<Vec<CatalogOutcome>, StoreError> {
        let mut out = vec![CatalogOutcome::Failed { error: "not written".into() }; writes.len()];
        let mut terms = Terms::default();
        if data_type == DataType::Coupons {
            self.product_ids(writes, &mut terms).await.map_err(store_error("read products"))?;
        }
        for (n, chunk) in writes.chunks(BATCH_LIMIT).enumerate() {
            let (mut create, mut update, mut delete) = (vec![], vec![], vec![]);
            let mut slots: Vec<(&'static str, usize)> = Vec::new();
            for (i, w) in chunk.iter().enumerate() {
                let at = n * BATCH_LIMIT + i;
                // A coupon limited to a product this store lacks is not written half.
                if let Some(missing) = crate::missing_products(w, &terms.product_ids) {
                    out[at] = CatalogOutcome::Failed { error: missing };
                    slots.push(("", 0));
                    continue;
                }
                let mut body = self.body(data_type, w, &mut terms).await.map_err(store_error("write"))?;
                match (w.action, w.id.as_deref().and_then(|id| id.parse::<u64>().ok())) {
                    (Action::Create, _) => {
                        slots.push(("create", create.len()));
                        create.push(Value::Object(body));
                    }
                    (Action::Update, Some(id)) => {
                        body.insert("id".into(), json!(id));
                        slots.push(("update", update.len()));
                        update.push(Value::Object(body));
                    }
                    (Action::Delete, Some(id)) => {
                        slots.push(("delete", delete.len()));
                        delete.push(json!(id));
                    }
                    (_, None) => {
                        out[at] = CatalogOutcome::Failed { error: format!("no destination id for {}", w.key) };
                        slots.push(("", 0));
                    }
                }
            }
            let answer = self
                .client
                .request(
                    "POST",
                    &format!("{path}/batch"),
                    Some(&json!({ "create": create, "update": update, "delete": delete })),
                )
                .await
                .map_err(store_error("write"))?;
            for (i, (kind, k)) in slots.into_iter().enumerate() {
                if kind.is_empty() {
                    continue;
                }
                let entry = &answer[kind][k];
                // A delete of what is gone already (a repeat after a lost answer) has its way.
                let gone = kind == "delete" && entry["error"]["code"].as_str().is_some_and(is_gone);
                let id = match gone {
                    true => chunk[i].id.as_deref().and_then(|id| id.parse::<u64>().ok()),
                    false => entry["id"].as_u64(),
                };
                out[n * BATCH_LIMIT + i] = match (entry.get("error").filter(|_| !gone), id) {
                    (Some(e), _) => CatalogOutcome::Failed {
                        error: format!(
                            "{}: {}",
                            e["code"].as_str().unwrap_or_default(),
                            e["message"].as_str().unwrap_or_default()
                        ),
                    },
                    (None, Some(id)) => CatalogOutcome::Done { id: id.to_string() },
                    (None, None) => CatalogOutcome::Failed { error: format!("unexpected answer: {entry}") },
                };
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl CatalogStore for WooCatalog {
    fn platform(&self) -> Platform {
        Platform::WooCommerce
    }

    fn fields(&self, data_type: DataType) -> &'static [&'static str] {
        match data_type {
            DataType::Pages => &["slug", "title", "content", "status"],
            DataType::Posts => {
                &["slug", "title", "content", "status", "excerpt", "categories", "tags", "featured_image"]
            }
            DataType::Coupons => COUPON_FIELDS,
            DataType::Collections => &["slug", "name", "description", "image"],
            DataType::Products => super::products::FIELDS,
            DataType::Inventory => &[],
        }
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.client.list_page("/products?per_page=1").await.map(|_| ()).map_err(store_error("connection check"))
    }

    async fn read(&self, data_type: DataType) -> Result<Vec<CatalogRecord>, StoreError> {
        if data_type == DataType::Products {
            return super::products::read(&self.client).await.map_err(store_error("read"));
        }
        let (path, wordpress) = collection(data_type)?;
        let mut terms = if data_type == DataType::Posts { self.terms().await? } else { Terms::default() };
        let path = if wordpress { format!("{path}?context=edit&status={STATUSES}") } else { path.to_string() };
        let all = self.client.list_all(&path).await.map_err(store_error("read"))?;
        if data_type == DataType::Coupons {
            self.product_keys(&all, &mut terms).await.map_err(store_error("read products"))?;
        }
        if data_type == DataType::Posts {
            self.media_urls(&all, &mut terms).await.map_err(store_error("read media"))?;
        }
        Ok(all.iter().map(|o| record(data_type, o, &terms)).collect())
    }

    async fn find(&self, data_type: DataType, key: &str) -> Result<Option<String>, StoreError> {
        if data_type == DataType::Products {
            return super::products::find(&self.client, key).await.map_err(store_error("find"));
        }
        let (path, wordpress) = collection(data_type)?;
        let query = match data_type {
            DataType::Coupons => format!("{path}?code={}", key.to_lowercase()),
            _ if wordpress => format!("{path}?slug={key}&status={STATUSES}"),
            _ => format!("{path}?slug={key}"),
        };
        let found = self.client.list_page(&query).await.map_err(store_error("find"))?;
        Ok(found.first().and_then(|o| o["id"].as_u64()).map(|id| id.to_string()))
    }

    async fn write(&self, data_type: DataType, writes: &[CatalogWrite]) -> Result<Vec<CatalogOutcome>, StoreError> {
        if data_type == DataType::Products {
            return super::products::write(&self.client, writes).await.map_err(store_error("write"));
        }
        let (path, wordpress) = collection(data_type)?;
        if wordpress {
            self.write_each(data_type, path, writes).await
        } else {
            self.write_batched(data_type, path, writes).await
        }
    }
}
