//! The simulator's online-store pages, blogs, articles and collections (PLATFORMS.md §A6): the
//! `pages`, `blogs`, `articles` and `collections` connections (with `query: "handle:…"`),
//! `page(id:)`, `article(id:)` and `collection(id:)`, and `pageCreate(page:)`, `pageUpdate(id:,
//! page:)`, `pageDelete(id:)`, `blogCreate(blog:)`, `articleCreate(article:, blog:)` (an article
//! needs an author and a blog), `articleUpdate(id:, article:)`, `articleDelete(id:)`,
//! `collectionCreate(input:)`,
//! `collectionUpdate(input: {id, …})` (no `id`: a top-level `BAD_REQUEST`, as Shopify answers)
//! and `collectionDelete(input: {id})`, each answering `userErrors` as Shopify does (a blank
//! title, a taken handle, an unknown object) rather than top-level errors. Pages and articles
//! keep metafields (`metafields: [{namespace, key, type, value}]` in their inputs, read with
//! `metafield(namespace:, key:)`, removed with `metafieldsDelete`): the online store's SEO
//! title and description are `global.title_tag` and `global.description_tag`.

use graphql_parser::query::{Field, SelectionSet};
use serde_json::{json, Map, Value};

use super::{arg, connection, object, select, GqlError, Inner};
use crate::shopify::{gid, gid_id};

/// A kind of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Page,
    Collection,
    Blog,
    Article,
}

impl Kind {
    fn gid_kind(self) -> &'static str {
        match self {
            Kind::Page => "Page",
            Kind::Collection => "Collection",
            Kind::Blog => "Blog",
            Kind::Article => "Article",
        }
    }

    /// The name of the mutation payload's object and of the input argument.
    fn field(self) -> &'static str {
        match self {
            Kind::Page => "page",
            Kind::Collection => "collection",
            Kind::Blog => "blog",
            Kind::Article => "article",
        }
    }

    fn input_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Page => &["title", "body", "handle", "isPublished", "templateSuffix"],
            Kind::Collection => &["title", "handle", "descriptionHtml", "image", "seo", "sortOrder", "templateSuffix"],
            Kind::Blog => &["title", "handle", "commentPolicy", "templateSuffix"],
            Kind::Article => &[
                "title",
                "author",
                "blogId",
                "body",
                "summary",
                "tags",
                "isPublished",
                "handle",
                "image",
                "publishDate",
                "templateSuffix",
            ],
        }
    }

    fn not_found(self) -> &'static str {
        match self {
            Kind::Page => "Page does not exist",
            Kind::Collection => "Collection does not exist",
            Kind::Blog => "Blog does not exist",
            Kind::Article => "Article does not exist",
        }
    }

    fn items(self, s: &Inner) -> &std::collections::BTreeMap<u64, Map<String, Value>> {
        match self {
            Kind::Page => &s.pages,
            Kind::Collection => &s.collections,
            Kind::Blog => &s.blogs,
            Kind::Article => &s.articles,
        }
    }

    fn items_mut(self, s: &mut Inner) -> &mut std::collections::BTreeMap<u64, Map<String, Value>> {
        match self {
            Kind::Page => &mut s.pages,
            Kind::Collection => &mut s.collections,
            Kind::Blog => &mut s.blogs,
            Kind::Article => &mut s.articles,
        }
    }
}

fn user_error(field: &[&str], message: &str, code: &str) -> Value {
    json!({ "field": field, "message": message, "code": code })
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An object as the API shows it.
fn value(kind: Kind, id: u64, p: &Map<String, Value>) -> Value {
    let mut shown = p.clone();
    shown.remove(METAFIELDS);
    let mut v = Value::Object(shown);
    v["id"] = json!(gid(kind.gid_kind(), id));
    if kind == Kind::Article {
        v["blog"] = json!({ "id": p.get("blogId") });
    }
    v
}

/// The `pages` or `collections` connection.
pub(super) fn list(kind: Kind, s: &Inner, f: &Field<'_, String>, vars: &Map<String, Value>, actual: &mut f64) -> Value {
    let query = arg(&f.arguments, "query", vars);
    let handle = query.as_str().and_then(|q| q.strip_prefix("handle:")).map(|h| h.trim_matches('"').to_string());
    let ids: Vec<u64> = kind
        .items(s)
        .iter()
        .filter(|(_, p)| handle.as_ref().is_none_or(|h| p["handle"].as_str() == Some(h.as_str())))
        .map(|(id, _)| *id)
        .collect();
    connection(ids, f, vars, actual, |id, set, _| node(kind, s, id, set))
}

/// `page(id:)` or `collection(id:)`.
pub(super) fn one(kind: Kind, s: &Inner, f: &Field<'_, String>, vars: &Map<String, Value>) -> Value {
    let id = arg(&f.arguments, "id", vars).as_str().and_then(|g| gid_id(kind.gid_kind(), g));
    id.map(|id| node(kind, s, id, &f.selection_set)).unwrap_or(Value::Null)
}

pub(super) fn node(kind: Kind, s: &Inner, id: u64, set: &SelectionSet<'_, String>) -> Value {
    match kind.items(s).get(&id) {
        Some(p) => object(set, &value(kind, id, p), |f| match f.name.as_str() {
            // `metafield(namespace:, key:)` (its arguments written in the query).
            "metafield" => Some(metafield(p, f)),
            _ => None,
        }),
        None => Value::Null,
    }
}

/// `metafield(namespace:, key:)` of an object (its arguments written in the query).
pub(super) fn metafield(p: &Map<String, Value>, f: &Field<'_, String>) -> Value {
    let none = Map::new();
    let (ns, key) = (arg(&f.arguments, "namespace", &none), arg(&f.arguments, "key", &none));
    let at = format!("{}.{}", ns.as_str().unwrap_or_default(), key.as_str().unwrap_or_default());
    p.get(METAFIELDS).and_then(|m| m.get(&at)).map(|m| select(m, &f.selection_set)).unwrap_or_default()
}

/// Where a page's or article's metafields are kept (`namespace.key` → `{namespace, key, type,
/// value}`); not a field of the API's object.
const METAFIELDS: &str = "_metafields";

/// `metafields: [{namespace, key, type, value}]` of a create or update input, set over `next`'s.
pub(super) fn set_metafields(next: &mut Map<String, Value>, field: &str, list: &Value, errors: &mut Vec<Value>) {
    let mut kept = next.get(METAFIELDS).and_then(Value::as_object).cloned().unwrap_or_default();
    for (i, m) in list.as_array().into_iter().flatten().enumerate() {
        let at = i.to_string();
        let text = |k: &str| m[k].as_str().map(str::trim).filter(|v| !v.is_empty());
        let (Some(ns), Some(key)) = (text("namespace"), text("key")) else {
            errors.push(user_error(&[field, "metafields", &at, "key"], "Key can't be blank", "BLANK"));
            continue;
        };
        let Some(value) = text("value") else {
            errors.push(user_error(&[field, "metafields", &at, "value"], "Value can't be blank", "BLANK"));
            continue;
        };
        let kind = text("type").unwrap_or("single_line_text_field");
        if kind == "json" && serde_json::from_str::<Value>(value).is_err() {
            errors.push(user_error(&[field, "metafields", &at, "value"], "Value is invalid JSON", "INVALID_VALUE"));
            continue;
        }
        kept.insert(format!("{ns}.{key}"), json!({ "namespace": ns, "key": key, "type": kind, "value": value }));
    }
    next.insert(METAFIELDS.into(), Value::Object(kept));
}

/// `metafieldsDelete(metafields: [{ownerId, namespace, key}])`: each deleted one, or null
/// when the owner has no such metafield.
fn delete_metafields(s: &mut Inner, list: &Value) -> Value {
    let mut deleted = Vec::new();
    for m in list.as_array().into_iter().flatten() {
        let owner = m["ownerId"].as_str().unwrap_or_default();
        let at = format!("{}.{}", m["namespace"].as_str().unwrap_or_default(), m["key"].as_str().unwrap_or_default());
        let found = [Kind::Page, Kind::Article].into_iter().find_map(|kind| {
            let id = gid_id(kind.gid_kind(), owner)?;
            let p = kind.items_mut(s).get_mut(&id)?;
            p.get_mut(METAFIELDS)?.as_object_mut()?.remove(&at)
        });
        deleted.push(match found {
            Some(_) => json!({ "ownerId": owner, "namespace": m["namespace"], "key": m["key"] }),
            None => Value::Null,
        });
    }
    json!({ "deletedMetafields": deleted, "userErrors": [] })
}

/// Applies a create or update input to an object; the user errors, if any (then the object is
/// left as it was).
fn apply(kind: Kind, s: &Inner, id: u64, p: &mut Map<String, Value>, input: &Value, creating: bool) -> Vec<Value> {
    let mut errors = Vec::new();
    let mut next = p.clone();
    let field = kind.field();
    for (k, v) in input.as_object().into_iter().flatten() {
        match k.as_str() {
            "id" if kind == Kind::Collection => {}
            "metafields" if matches!(kind, Kind::Page | Kind::Article) => {
                set_metafields(&mut next, field, v, &mut errors);
            }
            "image" => {
                // `ImageInput {src, altText}` (an article's: `{url, altText}`), read back as
                // `Image {url, altText}`.
                let image = v
                    .get("src")
                    .or(v.get("url"))
                    .map(|src| json!({ "url": src, "altText": v.get("altText").cloned().unwrap_or(Value::Null) }));
                next.insert("image".into(), image.unwrap_or(Value::Null));
            }
            k if kind.input_fields().contains(&k) => {
                next.insert(k.to_string(), v.clone());
            }
            other => errors.push(user_error(
                &[field, other],
                &format!("Field '{other}' is not defined on the input"),
                "INVALID",
            )),
        }
    }
    if next.get("title").and_then(Value::as_str).is_none_or(|t| t.trim().is_empty()) {
        errors.push(user_error(&[field, "title"], "Title can't be blank", "BLANK"));
    }
    if kind == Kind::Article {
        if next.get("author").and_then(|a| a["name"].as_str()).is_none_or(|n| n.trim().is_empty()) {
            errors.push(user_error(&[field, "author"], "Author can't be blank", "BLANK"));
        }
        let blog = next.get("blogId").and_then(Value::as_str).and_then(|g| gid_id("Blog", g));
        if blog.is_none_or(|b| !s.blogs.contains_key(&b)) {
            errors.push(user_error(&[field, "blogId"], "Blog does not exist", "NOT_FOUND"));
        }
    }
    // Handles are unique among a blog's articles, and among the shop's pages, collections, blogs.
    let same_scope = |q: &Map<String, Value>| kind != Kind::Article || q.get("blogId") == next.get("blogId");
    let items = kind.items(s);
    let given = input.get("handle").and_then(Value::as_str).map(crate::slugify).filter(|h| !h.is_empty());
    let handle = match given {
        Some(h) => {
            if items.iter().any(|(other, q)| *other != id && same_scope(q) && q["handle"] == json!(h)) {
                errors.push(user_error(&[field, "handle"], "Handle has already been taken", "TAKEN"));
            }
            h
        }
        None if creating => {
            // Shopify makes a handle from the title, unique with a number.
            let base = crate::slugify(next.get("title").and_then(Value::as_str).unwrap_or_default());
            let mut h = base.clone();
            let mut n = 1;
            while items.values().any(|q| same_scope(q) && q["handle"] == json!(h)) {
                h = format!("{base}-{n}");
                n += 1;
            }
            h
        }
        None => next.get("handle").and_then(Value::as_str).unwrap_or_default().to_string(),
    };
    if !errors.is_empty() {
        return errors;
    }
    next.insert("handle".into(), json!(handle));
    if matches!(kind, Kind::Page | Kind::Article) {
        let published = next.get("isPublished").and_then(Value::as_bool).unwrap_or(false);
        next.insert("isPublished".into(), json!(published));
        if published && next.get("publishedAt").is_none_or(Value::is_null) {
            next.insert("publishedAt".into(), json!(now()));
        } else if !published {
            next.insert("publishedAt".into(), Value::Null);
        }
        next.entry("body").or_insert(json!(""));
        if kind == Kind::Article {
            next.entry("summary").or_insert(Value::Null);
            next.entry("tags").or_insert(json!([]));
            next.entry("image").or_insert(Value::Null);
        }
    } else if kind == Kind::Collection {
        next.entry("descriptionHtml").or_insert(json!(""));
        next.entry("image").or_insert(Value::Null);
        next.entry("seo").or_insert(json!({ "title": null, "description": null }));
    }
    next.insert("updatedAt".into(), json!(now()));
    next.entry("createdAt").or_insert(json!(now()));
    *p = next;
    Vec::new()
}

fn create(kind: Kind, s: &mut Inner, input: &Value) -> Result<Value, Vec<Value>> {
    let mut p = Map::new();
    let errors = apply(kind, s, 0, &mut p, input, true);
    if !errors.is_empty() {
        return Err(errors);
    }
    s.next_id += 1;
    let id = s.next_id;
    kind.items_mut(s).insert(id, p.clone());
    Ok(value(kind, id, &p))
}

fn update(kind: Kind, s: &mut Inner, gid: &Value, input: &Value) -> Result<Value, Vec<Value>> {
    let id = gid.as_str().and_then(|g| gid_id(kind.gid_kind(), g));
    let Some((id, mut p)) = id.and_then(|id| kind.items(s).get(&id).cloned().map(|p| (id, p))) else {
        return Err(vec![user_error(&["id"], kind.not_found(), "NOT_FOUND")]);
    };
    let errors = apply(kind, s, id, &mut p, input, false);
    if !errors.is_empty() {
        return Err(errors);
    }
    kind.items_mut(s).insert(id, p.clone());
    Ok(value(kind, id, &p))
}

fn delete(kind: Kind, s: &mut Inner, gid: &Value) -> Result<Value, Vec<Value>> {
    match gid.as_str().and_then(|g| gid_id(kind.gid_kind(), g)).and_then(|id| kind.items_mut(s).remove(&id)) {
        Some(_) => Ok(gid.clone()),
        None => Err(vec![user_error(&["id"], kind.not_found(), "NOT_FOUND")]),
    }
}

/// A mutation payload: the object (or the deleted id) and the user errors.
fn payload(kind: Kind, deleted: bool, r: Result<Value, Vec<Value>>) -> Value {
    let key = if deleted { format!("deleted{}Id", kind.gid_kind()) } else { kind.field().to_string() };
    match r {
        Ok(v) => json!({ key: v, "userErrors": [] }),
        Err(errors) => json!({ key: null, "userErrors": errors }),
    }
}

/// The content mutations; `None` for any other field.
pub(super) fn mutate(
    s: &mut Inner,
    f: &Field<'_, String>,
    vars: &Map<String, Value>,
) -> Result<Option<Value>, GqlError> {
    let a = |name: &str| arg(&f.arguments, name, vars);
    let result = match f.name.as_str() {
        "pageCreate" => payload(Kind::Page, false, create(Kind::Page, s, &a("page"))),
        "pageUpdate" => payload(Kind::Page, false, update(Kind::Page, s, &a("id"), &a("page"))),
        "pageDelete" => payload(Kind::Page, true, delete(Kind::Page, s, &a("id"))),
        "metafieldsDelete" => delete_metafields(s, &a("metafields")),
        "blogCreate" => payload(Kind::Blog, false, create(Kind::Blog, s, &a("blog"))),
        "articleCreate" => {
            // A new blog may come with the article (`blog: {title}`) instead of `blogId`.
            let mut article = a("article");
            let blog = a("blog");
            if blog.is_object() && article.get("blogId").is_none_or(Value::is_null) {
                match create(Kind::Blog, s, &blog) {
                    Ok(b) => article["blogId"] = b["id"].clone(),
                    Err(errors) => {
                        return Ok(Some(select(&payload(Kind::Article, false, Err(errors)), &f.selection_set)))
                    }
                }
            }
            payload(Kind::Article, false, create(Kind::Article, s, &article))
        }
        "articleUpdate" => payload(Kind::Article, false, update(Kind::Article, s, &a("id"), &a("article"))),
        "articleDelete" => payload(Kind::Article, true, delete(Kind::Article, s, &a("id"))),
        "collectionCreate" => payload(Kind::Collection, false, create(Kind::Collection, s, &a("input"))),
        "collectionUpdate" | "collectionDelete" => {
            let input = a("input");
            let Some(id) = input.get("id").filter(|v| v.is_string()).cloned() else {
                return Err(super::err("BAD_REQUEST", "Variable $input of type CollectionInput! was provided invalid value for id (Expected value to not be null)"));
            };
            match f.name.as_str() {
                "collectionUpdate" => payload(Kind::Collection, false, update(Kind::Collection, s, &id, &input)),
                _ => payload(Kind::Collection, true, delete(Kind::Collection, s, &id)),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(select(&result, &f.selection_set)))
}

impl super::ShopifySim {
    /// Every page as the API shows it.
    pub fn pages(&self) -> Vec<Value> {
        let s = self.lock();
        s.pages.iter().map(|(id, p)| value(Kind::Page, *id, p)).collect()
    }

    /// Every collection as the API shows it.
    pub fn collections(&self) -> Vec<Value> {
        let s = self.lock();
        s.collections.iter().map(|(id, p)| value(Kind::Collection, *id, p)).collect()
    }

    /// Creates a page as `pageCreate` would; returns it, or the user errors.
    pub fn add_page(&self, input: Value) -> Result<Value, Value> {
        create(Kind::Page, &mut self.lock(), &input).map_err(|e| json!(e))
    }

    /// Every blog article as the API shows it.
    pub fn articles(&self) -> Vec<Value> {
        let s = self.lock();
        s.articles.iter().map(|(id, p)| value(Kind::Article, *id, p)).collect()
    }

    /// Creates a blog as `blogCreate` would; returns it, or the user errors.
    pub fn add_blog(&self, input: Value) -> Result<Value, Value> {
        create(Kind::Blog, &mut self.lock(), &input).map_err(|e| json!(e))
    }

    /// Creates an article as `articleCreate` would (`blogId` given); returns it, or the user errors.
    pub fn add_article(&self, input: Value) -> Result<Value, Value> {
        create(Kind::Article, &mut self.lock(), &input).map_err(|e| json!(e))
    }

    /// Creates a collection as `collectionCreate` would; returns it, or the user errors.
    pub fn add_collection(&self, input: Value) -> Result<Value, Value> {
        create(Kind::Collection, &mut self.lock(), &input).map_err(|e| json!(e))
    }
}
