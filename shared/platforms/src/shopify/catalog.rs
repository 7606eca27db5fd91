//! Shopify's side of the catalog port, in the neutral fields of
//! `storesync_core::stores::catalog`: online-store pages (`handle` is the slug, `body` the
//! content, `isPublished` the status: `publish` or `draft`), blog articles, discount codes and
//! collections (`handle`, `title`
//! the name, `descriptionHtml`, `image.url`, `seo`). A chunk's writes go in one request, one
//! aliased create/update/delete mutation per object (10 points each), so a chunk of 25 is one
//! call; each object's `userErrors` are its own failure.
//!
//! Coupons are basic code discounts (`codeDiscountNodes`, `discountCodeBasicCreate/Update`,
//! `discountCodeDelete`): WooCommerce's `percent` is a `DiscountPercentage` (10 ↔ 0.1),
//! `fixed_cart` and `fixed_product` a `DiscountAmount` off the order or off each item, a usage
//! limit per customer of 1 is `appliesOncePerCustomer` (Shopify has no larger per-customer
//! limit: a WooCommerce limit of 3 reads back as 1 and keeps differing), the minimum spend a
//! `DiscountMinimumSubtotal`, the expiry `endsAt` (UTC).
//!
//! Posts are blog articles (`handle`, `title`, `body`, `summary` the excerpt, `isPublished`,
//! `image.url` the featured image, `tags`); new ones go to the shop's first blog (one is created
//! when it has none) with the author "storesync". Shopify has no post categories (its blogs are
//! the nearest thing): they are not compared.
//!
//! Products are in `super::products`; a product's `categories` are the collections it is in,
//! so a collection's products travel with the products (a collection compare leaves them alone).
//!
//! A discount's products (`customerGets.items`) are `product_skus`, each product's key (read by
//! id after the page, written by key through a variant look-up); pages' and articles' SEO is
//! their `global.title_tag` / `global.description_tag` metafields.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::{json, Value};
use storesync_core::stores::catalog::{product_sku, Action, CatalogRecord, DataType, COUPON_FIELDS};
use storesync_core::stores::catalog_sync::{CatalogOutcome, CatalogStore, CatalogWrite};
use storesync_core::stores::{Platform, StoreError};

use super::client::{ShopifyClient, ShopifyError};
use super::sim::{MAX_PAGE, MAX_QUERY_COST, MUTATION_COST};

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
    /// What one node of a read costs (1, plus 1 per object it selects, plus nested connections).
    node_cost: f64,
    create: &'static str,
    update: &'static str,
    delete: &'static str,
    /// The variables' types of a create and of an update (`$in` the input, `$id` the object).
    create_params: &'static str,
    update_params: &'static str,
    /// The object a create or update answers with.
    object: &'static str,
    /// The root field that reads one object by id.
    node: &'static str,
    /// The update's input carries the id (`collectionUpdate(input: {id, …})`) rather than an `id:`
    /// argument beside it (`pageUpdate(id:, page:)`).
    id_in_input: bool,
    neutral: &'static [&'static str],
}

/// A page's or article's SEO title and description: the online store's `global.title_tag` and
/// `global.description_tag` metafields (1 point each).
macro_rules! seo_metafields {
    () => {
        "seoTitle: metafield(namespace: \"global\", key: \"title_tag\") { value } \
         seoDescription: metafield(namespace: \"global\", key: \"description_tag\") { value }"
    };
}

/// The metafield of each neutral SEO field.
const SEO_METAFIELDS: [(&str, &str); 2] = [("seo_title", "title_tag"), ("seo_description", "description_tag")];

fn spec(data_type: DataType) -> Result<&'static Spec, StoreError> {
    static PAGES: Spec = Spec {
        connection: "pages",
        fields: concat!("id title handle body isPublished ", seo_metafields!()),
        node_cost: 3.0,
        create: "pageCreate(page: $in)",
        update: "pageUpdate(id: $id, page: $in)",
        delete: "pageDelete(id: $id) { deletedPageId userErrors { field message code } }",
        create_params: "$in: PageCreateInput!",
        update_params: "$id: ID!, $in: PageUpdateInput!",
        object: "page",
        node: "page",
        id_in_input: false,
        neutral: &["slug", "title", "content", "status", "seo_title", "seo_description"],
    };
    static COLLECTIONS: Spec = Spec {
        connection: "collections",
        fields: "id title handle descriptionHtml image { url } seo { title description }",
        node_cost: 3.0,
        create: "collectionCreate(input: $in)",
        update: "collectionUpdate(input: $in)",
        delete: "collectionDelete(input: {id: $id}) { deletedCollectionId userErrors { field message code } }",
        create_params: "$in: CollectionInput!",
        update_params: "$in: CollectionInput!",
        object: "collection",
        node: "collection",
        id_in_input: true,
        neutral: &["slug", "name", "description", "image", "seo_title", "seo_description"],
    };
    static PRODUCTS: Spec = Spec {
        connection: "products",
        fields: super::products::FIELDS,
        node_cost: super::products::NODE_COST,
        create: "productSet(input: $in, synchronous: true)",
        update: "productSet(input: $in, identifier: {id: $id}, synchronous: true)",
        delete: "productDelete(input: {id: $id}) { deletedProductId userErrors { field message code } }",
        create_params: "$in: ProductSetInput!",
        update_params: "$id: ID!, $in: ProductSetInput!",
        object: "product",
        node: "product",
        id_in_input: false,
        neutral: super::products::NEUTRAL,
    };
    static POSTS: Spec = Spec {
        connection: "articles",
        fields: concat!("id title handle body summary isPublished tags image { url } ", seo_metafields!()),
        node_cost: 4.0,
        create: "articleCreate(article: $in)",
        update: "articleUpdate(id: $id, article: $in)",
        delete: "articleDelete(id: $id) { deletedArticleId userErrors { field message code } }",
        create_params: "$in: ArticleCreateInput!",
        update_params: "$id: ID!, $in: ArticleUpdateInput!",
        object: "article",
        node: "article",
        id_in_input: false,
        neutral: &[
            "slug",
            "title",
            "content",
            "excerpt",
            "status",
            "featured_image",
            "tags",
            "seo_title",
            "seo_description",
        ],
    };
    static COUPONS: Spec = Spec {
        connection: "codeDiscountNodes",
        fields: "id codeDiscount { __typename ... on DiscountCodeBasic { title startsAt endsAt usageLimit \
                 appliesOncePerCustomer codes(first: 1) { nodes { code } } customerGets { value { __typename \
                 ... on DiscountPercentage { percentage } ... on DiscountAmount { amount { amount } appliesOnEachItem } } \
                 items { __typename ... on DiscountProducts { products(first: 20) { nodes { id } } } } } \
                 minimumRequirement { __typename ... on DiscountMinimumSubtotal { greaterThanOrEqualToSubtotal { amount } } } } }",
        node_cost: 33.0,
        create: "discountCodeBasicCreate(basicCodeDiscount: $in)",
        update: "discountCodeBasicUpdate(id: $id, basicCodeDiscount: $in)",
        delete: "discountCodeDelete(id: $id) { deletedCodeDiscountId userErrors { field message code } }",
        create_params: "$in: DiscountCodeBasicInput!",
        update_params: "$id: ID!, $in: DiscountCodeBasicInput!",
        object: "codeDiscountNode",
        node: "codeDiscountNode",
        id_in_input: false,
        neutral: COUPON_FIELDS,
    };
    match data_type {
        DataType::Pages => Ok(&PAGES),
        DataType::Collections => Ok(&COLLECTIONS),
        DataType::Coupons => Ok(&COUPONS),
        DataType::Posts => Ok(&POSTS),
        DataType::Products => Ok(&PRODUCTS),
        other => Err(StoreError {
            platform: Platform::Shopify,
            operation: "catalog",
            message: format!("{other} is not a catalog type: inventory goes through the inventory compare"),
            transient: false,
        }),
    }
}

/// Objects per read: as many as one query's 1,000 points allow, at most 250.
fn page_size(spec: &Spec) -> usize {
    (((MAX_QUERY_COST - 2.0) / spec.node_cost).floor() as usize).min(MAX_PAGE as usize)
}

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
        DataType::Coupons => coupon_fields(&p["codeDiscount"]),
        DataType::Products => return super::products::record(p),
        DataType::Posts => vec![
            ("slug", p["handle"].clone()),
            ("title", p["title"].clone()),
            ("content", p["body"].clone()),
            ("excerpt", p["summary"].clone()),
            ("status", json!(if p["isPublished"] == true { "publish" } else { "draft" })),
            ("featured_image", p["image"]["url"].clone()),
            ("tags", p["tags"].clone()),
            ("seo_title", p["seoTitle"]["value"].clone()),
            ("seo_description", p["seoDescription"]["value"].clone()),
        ],
        _ => vec![
            ("slug", p["handle"].clone()),
            ("title", p["title"].clone()),
            ("content", p["body"].clone()),
            ("status", json!(if p["isPublished"] == true { "publish" } else { "draft" })),
            ("seo_title", p["seoTitle"]["value"].clone()),
            ("seo_description", p["seoDescription"]["value"].clone()),
        ],
    };
    CatalogRecord {
        id: p["id"].as_str().unwrap_or_default().to_string(),
        fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

/// A basic code discount in the neutral coupon fields: `percent` (the percentage × 100),
/// `fixed_cart` or `fixed_product` (an amount off the order, or off each item);
/// `appliesOncePerCustomer` as a per-customer limit of 1; `endsAt` without its `Z` (WooCommerce's
/// dates carry no offset; both are UTC here).
fn coupon_fields(d: &Value) -> Vec<(&'static str, Value)> {
    let value = &d["customerGets"]["value"];
    let (kind, amount) = match value["__typename"].as_str() {
        Some("DiscountPercentage") => {
            ("percent", value["percentage"].as_f64().map(|p| json!(format!("{:.2}", p * 100.0))).unwrap_or_default())
        }
        Some("DiscountAmount") => {
            let kind = if value["appliesOnEachItem"] == true { "fixed_product" } else { "fixed_cart" };
            (kind, value["amount"]["amount"].clone())
        }
        _ => ("", Value::Null),
    };
    let ends = d["endsAt"].as_str().map(|t| json!(t.trim_end_matches('Z'))).unwrap_or(Value::Null);
    vec![
        ("code", d["codes"]["nodes"][0]["code"].clone()),
        ("discount_type", if kind.is_empty() { Value::Null } else { json!(kind) }),
        ("amount", amount),
        ("expires_at", ends),
        ("usage_limit", d["usageLimit"].clone()),
        ("usage_limit_per_customer", if d["appliesOncePerCustomer"] == true { json!(1) } else { Value::Null }),
        ("minimum_amount", d["minimumRequirement"]["greaterThanOrEqualToSubtotal"]["amount"].clone()),
        // The products' ids: the read turns them into `product_skus` (a write names them).
        ("_product_ids", Value::from(product_ids(d))),
    ]
}

/// The ids of the products a discount is limited to (none: every product).
fn product_ids(d: &Value) -> Vec<Value> {
    let nodes = d["customerGets"]["items"]["products"]["nodes"].as_array();
    nodes.into_iter().flatten().map(|n| n["id"].clone()).collect()
}

/// The products (by key) a discount is limited to, as `DiscountItemsInput`: every product, or
/// the named ones added and the others the discount has now removed.
fn discount_items(keys: &Value, current: Option<&CatalogRecord>, ids: &HashMap<String, String>) -> Value {
    let wanted: Vec<&String> =
        keys.as_array().into_iter().flatten().filter_map(Value::as_str).filter_map(|k| ids.get(k)).collect();
    if wanted.is_empty() {
        return json!({ "all": true });
    }
    let now = current.and_then(|c| c.fields.get("_product_ids")).and_then(Value::as_array).cloned().unwrap_or_default();
    let remove: Vec<&Value> =
        now.iter().filter(|id| !id.as_str().is_some_and(|id| wanted.iter().any(|w| *w == id))).collect();
    json!({ "products": { "productsToAdd": wanted, "productsToRemove": remove } })
}

/// A coupon write as a `DiscountCodeBasicInput`; `current` fills the half of the value (type or
/// amount) an update does not change, since Shopify takes the value whole.
fn coupon_input(w: &CatalogWrite, current: Option<&CatalogRecord>, ids: &HashMap<String, String>) -> Value {
    let mut input = serde_json::Map::new();
    let field = |k: &str| w.fields.get(k).or_else(|| current.and_then(|c| c.fields.get(k))).cloned();
    for (k, v) in &w.fields {
        match k.as_str() {
            "code" => {
                input.insert("code".into(), v.clone());
            }
            "expires_at" => {
                let at = v.as_str().map(|t| {
                    let has_zone = t.ends_with('Z') || t.get(19..).is_some_and(|z| z.contains(['+', '-']));
                    json!(if has_zone { t.to_string() } else { format!("{t}Z") })
                });
                input.insert("endsAt".into(), at.unwrap_or(Value::Null));
            }
            "usage_limit" => {
                input.insert("usageLimit".into(), v.clone());
            }
            "usage_limit_per_customer" => {
                input.insert("appliesOncePerCustomer".into(), json!(v.as_i64().is_some_and(|n| n >= 1)));
            }
            "minimum_amount" => {
                let min =
                    if v.is_null() { v.clone() } else { json!({ "subtotal": { "greaterThanOrEqualToSubtotal": v } }) };
                input.insert("minimumRequirement".into(), min);
            }
            _ => {}
        }
    }
    let mut gets = serde_json::Map::new();
    if let Some(keys) = w.fields.get("product_skus") {
        gets.insert("items".into(), discount_items(keys, current, ids));
    }
    if w.fields.contains_key("discount_type") || w.fields.contains_key("amount") {
        let amount = field("amount").unwrap_or_default();
        let number = amount.as_str().and_then(|a| a.trim().parse::<f64>().ok()).or(amount.as_f64()).unwrap_or(0.0);
        let value = match field("discount_type").as_ref().and_then(Value::as_str) {
            Some("percent") => json!({ "percentage": number / 100.0 }),
            Some(kind) => {
                json!({ "discountAmount": { "amount": amount, "appliesOnEachItem": kind == "fixed_product" } })
            }
            None => Value::Null,
        };
        gets.insert("value".into(), value);
    }
    if !gets.is_empty() {
        input.insert("customerGets".into(), Value::Object(gets));
    }
    if w.action == Action::Create {
        input.insert("title".into(), field("code").unwrap_or_default());
        input.insert("startsAt".into(), json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()));
        input.insert("context".into(), json!({ "all": "ALL" }));
    }
    Value::Object(input)
}

/// A write's create or update input.
fn input(
    data_type: DataType,
    w: &CatalogWrite,
    current: Option<&CatalogRecord>,
    // The ids of what the writes name: a product's collections by title (lower case), a
    // coupon's products by key.
    ids: &HashMap<String, String>,
) -> Value {
    if data_type == DataType::Coupons {
        return coupon_input(w, current, ids);
    }
    if data_type == DataType::Products {
        return super::products::input(w, current, ids);
    }
    let mut input = serde_json::Map::new();
    let mut seo = serde_json::Map::new();
    for (k, v) in &w.fields {
        let text = || if v.is_null() { json!("") } else { v.clone() };
        match (data_type, k.as_str()) {
            (_, "slug") => input.insert("handle".into(), v.clone()),
            (DataType::Pages | DataType::Posts, "title") | (DataType::Collections, "name") => {
                input.insert("title".into(), text())
            }
            (DataType::Pages | DataType::Posts, "content") => input.insert("body".into(), text()),
            (DataType::Pages | DataType::Posts, "status") => input.insert("isPublished".into(), json!(v == "publish")),
            (DataType::Posts, "excerpt") => input.insert("summary".into(), v.clone()),
            (DataType::Posts, "tags") => input.insert("tags".into(), if v.is_null() { json!([]) } else { v.clone() }),
            (DataType::Posts, "featured_image") => {
                input.insert("image".into(), if v.is_null() { Value::Null } else { json!({ "url": v }) })
            }
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
    if matches!(data_type, DataType::Pages | DataType::Posts) {
        // The SEO fields given a value (a cleared one is deleted beside the update).
        let metafields: Vec<Value> = SEO_METAFIELDS
            .iter()
            .filter_map(|(field, key)| {
                let value = w.fields.get(*field)?.as_str().filter(|v| !v.trim().is_empty())?;
                Some(json!({ "namespace": "global", "key": key, "type": "single_line_text_field", "value": value }))
            })
            .collect();
        if !metafields.is_empty() {
            input.insert("metafields".into(), Value::from(metafields));
        }
    }
    Value::Object(input)
}

/// The SEO metafields an update of a page or article clears, as `metafieldsDelete` identifiers.
fn cleared_seo(data_type: DataType, w: &CatalogWrite, owner: &str) -> Vec<Value> {
    if !matches!(data_type, DataType::Pages | DataType::Posts) {
        return Vec::new();
    }
    SEO_METAFIELDS
        .iter()
        .filter(|(field, _)| w.fields.get(*field).is_some_and(|v| v.as_str().is_none_or(|v| v.trim().is_empty())))
        .map(|(_, key)| json!({ "ownerId": owner, "namespace": "global", "key": key }))
        .collect()
}

/// The author of the articles storesync creates (Shopify requires one; authors are not synced).
pub const ARTICLE_AUTHOR: &str = "storesync";

impl ShopifyCatalog {
    /// The ids of the products coupon writes name by key (one variant look-up per key).
    async fn product_ids(&self, writes: &[CatalogWrite]) -> Result<HashMap<String, String>, StoreError> {
        let mut keys: Vec<String> = writes
            .iter()
            .filter_map(|w| w.fields.get("product_skus").and_then(Value::as_array))
            .flatten()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        keys.sort();
        keys.dedup();
        let mut out = HashMap::new();
        for key in keys {
            if let Some(id) = super::products::find(&self.client, &key).await.map_err(store_error("find products"))? {
                out.insert(key, id);
            }
        }
        Ok(out)
    }

    /// Coupons' product ids as `product_skus`: each product's key, read by id in aliased
    /// `product(id:)` queries (a product gone reads as `#id`).
    async fn coupon_products(&self, records: &mut [CatalogRecord]) -> Result<(), StoreError> {
        let mut gids: Vec<String> = records
            .iter()
            .filter_map(|r| r.fields.get("_product_ids").and_then(Value::as_array))
            .flatten()
            .filter_map(|g| g.as_str().map(str::to_string))
            .collect();
        gids.sort();
        gids.dedup();
        // 1 + variants 2 + 50 × 1 points a product.
        const PER_PRODUCT: f64 = 53.0;
        let mut keys: HashMap<String, String> = HashMap::new();
        for chunk in gids.chunks(((MAX_QUERY_COST - 2.0) / PER_PRODUCT) as usize) {
            let params: Vec<String> = (0..chunk.len()).map(|i| format!("$p{i}: ID!")).collect();
            let fields: Vec<String> = (0..chunk.len())
                .map(|i| format!("p{i}: product(id: $p{i}) {{ variants(first: 50) {{ nodes {{ sku }} }} }}"))
                .collect();
            let query = format!("query({}) {{ {} }}", params.join(", "), fields.join(" "));
            let vars: serde_json::Map<String, Value> =
                chunk.iter().enumerate().map(|(i, id)| (format!("p{i}"), json!(id))).collect();
            let cost = chunk.len() as f64 * PER_PRODUCT;
            let data = self.client.graphql(&query, Value::Object(vars), cost).await.map_err(store_error("read"))?;
            for (i, gid) in chunk.iter().enumerate() {
                let nodes = data[format!("p{i}")]["variants"]["nodes"].as_array().cloned().unwrap_or_default();
                let skus: Vec<&str> = nodes.iter().filter_map(|v| v["sku"].as_str()).collect();
                let key = product_sku("", &skus);
                if !key.is_empty() {
                    keys.insert(gid.clone(), key);
                }
            }
        }
        for r in records {
            let ids = r.fields.get("_product_ids").and_then(Value::as_array).cloned().unwrap_or_default();
            let named: Vec<String> = ids
                .iter()
                .filter_map(Value::as_str)
                .map(|g| keys.get(g).cloned().unwrap_or_else(|| format!("#{}", g.rsplit('/').next().unwrap_or(g))))
                .collect();
            r.fields.insert("product_skus".into(), json!(named));
        }
        Ok(())
    }

    /// The shop's collections by title (lower case) → id, for a product's `categories`; the
    /// ones `writes` name that the shop lacks are created first.
    async fn collections(&self, writes: &[CatalogWrite]) -> Result<HashMap<String, String>, StoreError> {
        let mut known: HashMap<String, String> = HashMap::new();
        for c in self.read(DataType::Collections).await? {
            if let Some(name) = c.fields.get("name").and_then(Value::as_str) {
                known.entry(name.trim().to_lowercase()).or_insert(c.id);
            }
        }
        let mut named: Vec<String> = Vec::new();
        for w in writes.iter().filter(|w| w.action != Action::Delete) {
            let names = w.fields.get("categories").and_then(Value::as_array).into_iter().flatten();
            named.extend(names.filter_map(Value::as_str).map(str::to_string));
        }
        let create = "mutation($in: CollectionInput!) { collectionCreate(input: $in) { collection { id } userErrors { field message code } } }";
        for name in &named {
            let key = name.trim().to_lowercase();
            if known.contains_key(&key) {
                continue;
            }
            let data = self
                .client
                .graphql_unrepeatable(create, json!({ "in": { "title": name.trim() } }), MUTATION_COST)
                .await
                .map_err(store_error("create collection"))?;
            let id = data["collectionCreate"]["collection"]["id"].as_str().ok_or_else(|| StoreError {
                platform: Platform::Shopify,
                operation: "create collection",
                message: format!("collection {name:?}: {}", data["collectionCreate"]["userErrors"]),
                transient: false,
            })?;
            known.insert(key, id.to_string());
        }
        Ok(known)
    }

    /// The blog new articles go to: the shop's first (a shop starts with "News"), created if it
    /// has none.
    async fn blog(&self) -> Result<String, StoreError> {
        let data = self
            .client
            .graphql("{ blogs(first: 1) { nodes { id } } }", json!({}), 3.0)
            .await
            .map_err(store_error("read blogs"))?;
        if let Some(id) = data["blogs"]["nodes"][0]["id"].as_str() {
            return Ok(id.to_string());
        }
        let create =
            "mutation($b: BlogCreateInput!) { blogCreate(blog: $b) { blog { id } userErrors { code message } } }";
        let data = self
            .client
            .graphql(create, json!({ "b": { "title": "News" } }), MUTATION_COST)
            .await
            .map_err(store_error("create blog"))?;
        data["blogCreate"]["blog"]["id"].as_str().map(str::to_string).ok_or_else(|| StoreError {
            platform: Platform::Shopify,
            operation: "create blog",
            message: format!("Shopify did not create the blog: {}", data["blogCreate"]["userErrors"]),
            transient: false,
        })
    }

    /// The objects updates need whole (a coupon whose type or amount alone changes: Shopify
    /// takes the value whole), by id, in one call.
    async fn current(
        &self,
        data_type: DataType,
        writes: &[CatalogWrite],
    ) -> Result<HashMap<String, CatalogRecord>, StoreError> {
        // A product is set whole (`productSet` replaces its lists, and its variants keep their
        // ids only when named).
        let needs = |w: &&CatalogWrite| {
            w.action == Action::Update
                && (data_type == DataType::Products
                    || (data_type == DataType::Coupons
                        && (w.fields.contains_key("product_skus")
                            || w.fields.contains_key("amount") != w.fields.contains_key("discount_type"))))
        };
        let ids: Vec<String> = writes.iter().filter(needs).filter_map(|w| w.id.clone()).collect();
        self.by_ids(data_type, &ids).await
    }

    /// Objects by id, as many a call as the cost allows.
    async fn by_ids(&self, data_type: DataType, ids: &[String]) -> Result<HashMap<String, CatalogRecord>, StoreError> {
        let mut out = HashMap::new();
        let spec = spec(data_type)?;
        for chunk in ids.chunks(page_size(spec)) {
            let params: Vec<String> = (0..chunk.len()).map(|i| format!("$c{i}: ID!")).collect();
            let fields: Vec<String> =
                (0..chunk.len()).map(|i| format!("c{i}: {}(id: $c{i}) {{ {} }}", spec.node, spec.fields)).collect();
            let query = format!("query({}) {{ {} }}", params.join(", "), fields.join(" "));
            let vars: serde_json::Map<String, Value> =
                chunk.iter().enumerate().map(|(i, id)| (format!("c{i}"), json!(id))).collect();
            let cost = chunk.len() as f64 * spec.node_cost;
            let data = self.client.graphql(&query, Value::Object(vars), cost).await.map_err(store_error("read"))?;
            for i in 0..chunk.len() {
                let mut node = data[format!("c{i}")].clone();
                if !node.is_null() {
                    if data_type == DataType::Products {
                        super::products::complete(&self.client, &mut node).await.map_err(store_error("read"))?;
                    }
                    let r = record(data_type, &node);
                    out.insert(r.id.clone(), r);
                }
            }
        }
        Ok(out)
    }
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
        if data_type == DataType::Products
            && super::products::count(&self.client).await.map_err(store_error("read"))? > super::products::BULK_ABOVE
        {
            let nodes = super::products::read_bulk(&self.client).await.map_err(store_error("bulk read"))?;
            return Ok(nodes.iter().map(super::products::record).collect());
        }
        let (conn, fields) = (spec.connection, spec.fields);
        let page = page_size(spec);
        let query = format!(
            "query($after: String) {{ {conn}(first: {page}, after: $after) {{ nodes {{ {fields} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        let cost = 2.0 + page as f64 * spec.node_cost;
        let mut out = Vec::new();
        let mut after = Value::Null;
        loop {
            let data =
                self.client.graphql(&query, json!({ "after": after }), cost).await.map_err(store_error("read"))?;
            let page = &data[conn];
            for n in page["nodes"].as_array().into_iter().flatten() {
                let mut n = n.clone();
                if data_type == DataType::Products {
                    super::products::complete(&self.client, &mut n).await.map_err(store_error("read"))?;
                }
                out.push(record(data_type, &n));
            }
            if page["pageInfo"]["hasNextPage"] != true {
                if data_type == DataType::Coupons {
                    self.coupon_products(&mut out).await?;
                }
                return Ok(out);
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
    }

    async fn find(&self, data_type: DataType, key: &str) -> Result<Option<String>, StoreError> {
        let conn = spec(data_type)?.connection;
        if data_type == DataType::Products {
            return super::products::find(&self.client, key).await.map_err(store_error("find"));
        }
        if data_type == DataType::Coupons {
            let query = "query($code: String!) { codeDiscountNodeByCode(code: $code) { id } }";
            let data = self.client.graphql(query, json!({ "code": key }), 2.0).await.map_err(store_error("find"))?;
            return Ok(data["codeDiscountNodeByCode"]["id"].as_str().map(str::to_string));
        }
        let query = format!("query($q: String) {{ {conn}(first: 1, query: $q) {{ nodes {{ id }} }} }}");
        let data = self
            .client
            .graphql(&query, json!({ "q": format!("handle:{key}") }), 3.0)
            .await
            .map_err(store_error("find"))?;
        Ok(data[conn]["nodes"][0]["id"].as_str().map(str::to_string))
    }

    async fn read_ids(&self, data_type: DataType, ids: &[String]) -> Result<Vec<CatalogRecord>, StoreError> {
        let found = self.by_ids(data_type, ids).await?;
        Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
    }

    async fn write(&self, data_type: DataType, writes: &[CatalogWrite]) -> Result<Vec<CatalogOutcome>, StoreError> {
        let spec = spec(data_type)?;
        let mut out = vec![CatalogOutcome::Failed { error: "not written".into() }; writes.len()];
        let payload = |call: &str| format!("{call} {{ {} {{ id }} userErrors {{ field message code }} }}", spec.object);
        let current = self.current(data_type, writes).await?;
        let creates = writes.iter().any(|w| w.action == Action::Create);
        let blog = if data_type == DataType::Posts && creates { Some(self.blog().await?) } else { None };
        // A product's categories are the collections it is in; a coupon's products, products.
        let ids = match data_type {
            DataType::Products if writes.iter().any(|w| w.action != Action::Delete) => self.collections(writes).await?,
            DataType::Coupons => self.product_ids(writes).await?,
            _ => HashMap::new(),
        };
        // At most 1,000 points a request: 100 mutations.
        // A page's or article's update may carry a metafield delete beside it.
        let per_call = if matches!(data_type, DataType::Pages | DataType::Posts) { 50 } else { 100 };
        for (n, chunk) in writes.chunks(per_call).enumerate() {
            let mut params = Vec::new();
            let mut fields = Vec::new();
            let mut vars = serde_json::Map::new();
            for (i, w) in chunk.iter().enumerate() {
                let (input_var, id_var) = (format!("in{i}"), format!("id{i}"));
                let named =
                    |call: &str| call.replace("$in", &format!("${input_var}")).replace("$id", &format!("${id_var}"));
                // A coupon limited to a product this shop lacks is not written half.
                if let Some(missing) = crate::missing_products(w, &ids) {
                    out[n * per_call + i] = CatalogOutcome::Failed { error: missing };
                    continue;
                }
                match (w.action, &w.id) {
                    (Action::Create, _) => {
                        params.push(named(spec.create_params));
                        fields.push(format!("p{i}: {}", payload(&named(spec.create))));
                        let mut body = input(data_type, w, None, &ids);
                        if let Some(blog) = &blog {
                            body["blogId"] = json!(blog);
                            body["author"] = json!({ "name": ARTICLE_AUTHOR });
                        }
                        vars.insert(input_var.clone(), body);
                    }
                    (Action::Update, Some(gid)) => {
                        let mut body = input(data_type, w, current.get(gid.as_str()), &ids);
                        params.push(named(spec.update_params));
                        if spec.id_in_input {
                            body["id"] = json!(gid);
                        } else {
                            vars.insert(id_var.clone(), json!(gid));
                        }
                        fields.push(format!("p{i}: {}", payload(&named(spec.update))));
                        vars.insert(input_var.clone(), body);
                        let cleared = cleared_seo(data_type, w, gid);
                        if !cleared.is_empty() {
                            params.push(format!("$m{i}: [MetafieldIdentifierInput!]!"));
                            fields.push(format!(
                                "m{i}: metafieldsDelete(metafields: $m{i}) {{ deletedMetafields {{ key }} userErrors {{ field message }} }}"
                            ));
                            vars.insert(format!("m{i}"), Value::from(cleared));
                        }
                    }
                    (Action::Delete, Some(gid)) => {
                        params.push(format!("${id_var}: ID!"));
                        fields.push(format!("p{i}: {}", named(spec.delete)));
                        vars.insert(id_var.clone(), json!(gid));
                    }
                    (_, None) => {
                        out[n * per_call + i] =
                            CatalogOutcome::Failed { error: format!("no destination id for {}", w.key) };
                    }
                }
            }
            if fields.is_empty() {
                continue;
            }
            let mutation = format!("mutation({}) {{ {} }}", params.join(", "), fields.join(" "));
            let cost = fields.len() as f64 * MUTATION_COST;
            // Creates carry no idempotency key: a lost answer is not repeated here; the chunk's
            // next delivery looks each create up first.
            let creates = chunk.iter().any(|w| w.action == Action::Create);
            let data = if creates {
                self.client.graphql_unrepeatable(&mutation, Value::Object(vars), cost).await
            } else {
                self.client.graphql(&mutation, Value::Object(vars), cost).await
            }
            .map_err(store_error("write"))?;
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
                // A delete of what is gone already (a repeat after a lost answer) has its way.
                let gone = w.action == Action::Delete && errors.iter().all(|e| e.contains("does not exist"));
                out[n * per_call + i] = match (errors.is_empty() || gone, id.or(w.id.clone())) {
                    (true, Some(id)) => CatalogOutcome::Done { id },
                    (true, None) => CatalogOutcome::Failed { error: format!("unexpected answer: {r}") },
                    (false, _) => CatalogOutcome::Failed { error: errors.join("; ") },
                };
            }
        }
        Ok(out)
    }
}
