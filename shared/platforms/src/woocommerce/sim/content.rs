//! The simulator's content beyond products and orders (`../shared/PLATFORMS.md` §B5, §B6):
//! WooCommerce coupons and product categories under `/wp-json/wc/v3` (with their batch
//! endpoints), and WordPress pages, posts, categories and tags under `/wp-json/wp/v2`
//! (`WooSim::wp_router`). Each answers as its platform does: the response shapes, unique codes,
//! names and slugs, `term_exists` with the existing id, trash then 410 for posts and coupons,
//! no trash for terms, `title`/`content`/`excerpt` as `{rendered, raw}` (`raw` only with
//! `context=edit`; writes take plain strings), WordPress's 400 past the last page, and the same
//! pagination headers, authentication and faults as the rest of the simulator.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::{batch_with, error, now_fields, paginate_with, BatchOp, Inner, WcError, WooSim};

/// A collection of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Coupons,
    ProductCategories,
    ProductTags,
    Pages,
    Posts,
    Categories,
    Tags,
    /// WordPress's media library (`/wp/v2/media`): uploads, read by id.
    Media,
}

impl Kind {
    pub(super) fn key(self) -> &'static str {
        match self {
            Self::Coupons => "coupons",
            Self::ProductCategories => "products/categories",
            Self::ProductTags => "products/tags",
            Self::Pages => "pages",
            Self::Posts => "posts",
            Self::Categories => "categories",
            Self::Tags => "tags",
            Self::Media => "media",
        }
    }

    /// A WordPress (`wp/v2`) collection rather than a WooCommerce one.
    fn wordpress(self) -> bool {
        matches!(self, Self::Pages | Self::Posts | Self::Categories | Self::Tags | Self::Media)
    }

    fn term(self) -> bool {
        matches!(self, Self::ProductCategories | Self::ProductTags | Self::Categories | Self::Tags)
    }

    fn path(self) -> String {
        if self.wordpress() {
            format!("/wp-json/wp/v2/{}", self.key())
        } else {
            format!("/{}", self.key())
        }
    }

    fn invalid_id(self, status: StatusCode) -> Response {
        match self {
            Self::Coupons => error(status, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID."),
            Self::ProductCategories | Self::ProductTags => {
                error(status, "woocommerce_rest_term_invalid", "Resource does not exist.")
            }
            Self::Pages | Self::Posts | Self::Media => {
                error(StatusCode::NOT_FOUND, "rest_post_invalid_id", "Invalid post ID.")
            }
            Self::Categories | Self::Tags => error(StatusCode::NOT_FOUND, "rest_term_invalid", "Term does not exist."),
        }
    }

    fn skeleton(self) -> Map<String, Value> {
        let v = match self {
            Self::Coupons => json!({
                "id": 0, "code": "", "amount": "0", "status": "publish", "date_created": null, "date_created_gmt": null,
                "date_modified": null, "date_modified_gmt": null, "discount_type": "fixed_cart", "description": "",
                "date_expires": null, "date_expires_gmt": null, "usage_count": 0, "individual_use": false,
                "product_ids": [], "excluded_product_ids": [], "usage_limit": null, "usage_limit_per_user": null,
                "limit_usage_to_x_items": null, "free_shipping": false, "product_categories": [],
                "excluded_product_categories": [], "exclude_sale_items": false, "minimum_amount": "0.00",
                "maximum_amount": "0.00", "email_restrictions": [], "used_by": [], "meta_data": [], "_links": {}
            }),
            Self::ProductCategories => json!({
                "id": 0, "name": "", "slug": "", "parent": 0, "description": "", "display": "default",
                "image": null, "menu_order": 0, "count": 0, "_links": {}
            }),
            Self::ProductTags => {
                json!({ "id": 0, "name": "", "slug": "", "description": "", "count": 0, "_links": {} })
            }
            Self::Pages | Self::Posts => {
                let mut p = json!({
                    "id": 0, "date": null, "date_gmt": null, "guid": { "rendered": "" }, "modified": null,
                    "modified_gmt": null, "slug": "", "status": "draft", "type": "", "link": "",
                    "title": { "raw": "", "rendered": "" },
                    "content": { "raw": "", "rendered": "", "protected": false },
                    "excerpt": { "raw": "", "rendered": "", "protected": false },
                    "author": 1, "featured_media": 0, "comment_status": "open", "ping_status": "open",
                    "template": "", "meta": [], "_links": {}
                });
                if self == Self::Pages {
                    p["type"] = json!("page");
                    p["parent"] = json!(0);
                    p["menu_order"] = json!(0);
                } else {
                    p["type"] = json!("post");
                    p["sticky"] = json!(false);
                    p["format"] = json!("standard");
                    p["categories"] = json!([1]);
                    p["tags"] = json!([]);
                }
                p
            }
            Self::Media => json!({
                "id": 0, "date": null, "date_gmt": null, "guid": { "rendered": "" }, "modified": null,
                "modified_gmt": null, "slug": "", "status": "inherit", "type": "attachment", "link": "",
                "title": { "raw": "", "rendered": "" }, "author": 1, "comment_status": "open", "ping_status": "closed",
                "template": "", "meta": [], "description": { "raw": "", "rendered": "" },
                "caption": { "raw": "", "rendered": "" }, "alt_text": "", "media_type": "image", "mime_type": "",
                "media_details": {}, "post": null, "source_url": "", "_links": {}
            }),
            Self::Categories | Self::Tags => {
                let taxonomy = if self == Self::Categories { "category" } else { "post_tag" };
                let mut t = json!({
                    "id": 0, "count": 0, "description": "", "link": "", "name": "", "slug": "",
                    "taxonomy": taxonomy, "meta": [], "_links": {}
                });
                if self == Self::Categories {
                    t["parent"] = json!(0);
                }
                t
            }
        };
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}

/// Fields a client may not set.
const READ_ONLY: [&str; 14] = [
    "id",
    "date_created",
    "date_created_gmt",
    "date_modified",
    "date_modified_gmt",
    "modified",
    "modified_gmt",
    "guid",
    "link",
    "type",
    "taxonomy",
    "count",
    "usage_count",
    "used_by",
];

use crate::slugify;

/// The text of a WordPress rendered field: a string, or `{raw}`.
fn raw_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("raw").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// WordPress renders content through `wpautop`: text not already in a block is a paragraph.
fn rendered(field: &str, raw: &str) -> String {
    match field {
        "title" => raw.to_string(),
        _ if raw.trim().is_empty() => String::new(),
        _ if raw.trim_start().starts_with('<') => format!("{}\n", raw.trim()),
        _ => format!("<p>{}</p>\n", raw.trim()),
    }
}

fn bad_param(param: &str, message: String) -> WcError {
    (StatusCode::BAD_REQUEST, "rest_invalid_param", format!("Invalid parameter(s): {param} ({message})"))
}

/// Applies a request body to an object of `kind`; an error names the field. `id` is the
/// object's own (0 for a new one), for the uniqueness checks.
fn apply(
    items: &BTreeMap<u64, Map<String, Value>>,
    kind: Kind,
    id: u64,
    o: &mut Map<String, Value>,
    body: &Map<String, Value>,
) -> Result<(), WcError> {
    for (k, v) in body {
        if READ_ONLY.contains(&k.as_str()) || !o.contains_key(k) {
            continue;
        }
        match (kind, k.as_str()) {
            (Kind::Pages | Kind::Posts, "title" | "content" | "excerpt") => {
                let raw = raw_text(v).ok_or_else(|| bad_param(k, "a string".into()))?;
                let mut f = o.get(k).and_then(Value::as_object).cloned().unwrap_or_default();
                f.insert("rendered".into(), json!(rendered(k, &raw)));
                f.insert("raw".into(), json!(raw));
                o.insert(k.clone(), Value::Object(f));
                continue;
            }
            (Kind::Pages | Kind::Posts, "status") => {
                let ok = ["publish", "future", "draft", "pending", "private"];
                if !v.as_str().is_some_and(|s| ok.contains(&s)) {
                    return Err(bad_param(k, format!("status is not one of {}", ok.join(", "))));
                }
            }
            (Kind::Posts, "categories" | "tags") if !v.as_array().is_some_and(|a| a.iter().all(Value::is_u64)) => {
                return Err(bad_param(k, format!("{k}[0] is not of type integer")));
            }
            (Kind::Coupons, "discount_type") => {
                let ok = ["percent", "fixed_cart", "fixed_product"];
                if !v.as_str().is_some_and(|s| ok.contains(&s)) {
                    return Err(bad_param(k, format!("discount_type is not one of {}", ok.join(", "))));
                }
            }
            (Kind::Coupons, "amount" | "minimum_amount" | "maximum_amount") => {
                // Strings, kept as WooCommerce's `wc_format_decimal` leaves them: two places.
                let amount = v.as_str().ok_or_else(|| bad_param(k, "amounts are strings".into()))?;
                let x: f64 = amount.trim().parse().map_err(|_| bad_param(k, format!("{amount:?} is not a number")))?;
                o.insert(k.clone(), json!(format!("{x:.2}")));
                continue;
            }
            (Kind::Coupons, "code") => {
                // WooCommerce keeps codes in lower case and unique.
                let code = v.as_str().unwrap_or_default().trim().to_lowercase();
                let taken = items.iter().any(|(other, c)| *other != id && c["code"] == json!(code));
                if taken {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        "woocommerce_rest_coupon_code_already_exists",
                        format!("The coupon code already exists (code {code})."),
                    ));
                }
                o.insert("code".into(), json!(code));
                continue;
            }
            _ => {}
        }
        o.insert(k.clone(), v.clone());
    }
    if kind == Kind::Coupons && o["code"].as_str().is_none_or(str::is_empty) {
        return Err((
            StatusCode::BAD_REQUEST,
            "woocommerce_rest_empty_coupon_code",
            "The coupon code cannot be empty.".into(),
        ));
    }
    if kind.term() {
        let name = o["name"].as_str().unwrap_or_default().trim().to_string();
        if name.is_empty() {
            return Err((StatusCode::BAD_REQUEST, "rest_missing_callback_param", "Missing parameter(s): name".into()));
        }
        let parent = o.get("parent").cloned().unwrap_or(json!(0));
        let existing = items.iter().find(|(other, t)| {
            **other != id
                && t["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(&name))
                && t.get("parent").cloned().unwrap_or(json!(0)) == parent
        });
        if let Some((existing, _)) = existing {
            return Err((
                StatusCode::BAD_REQUEST,
                "term_exists",
                format!("A term with the name provided already exists with this parent.|{existing}"),
            ));
        }
        if o["slug"].as_str().is_none_or(str::is_empty) {
            o.insert("slug".into(), json!(slugify(&name)));
        }
    }
    if matches!(kind, Kind::Pages | Kind::Posts) {
        let mut slug = o["slug"]
            .as_str()
            .map(slugify)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| slugify(o["title"]["raw"].as_str().unwrap_or_default()));
        if slug.is_empty() {
            slug = id.to_string();
        }
        // WordPress makes a taken slug unique with a number.
        let taken = |s: &str| items.iter().any(|(other, p)| *other != id && p["slug"] == json!(s));
        let base = slug.clone();
        let mut n = 2;
        while taken(&slug) {
            slug = format!("{base}-{n}");
            n += 1;
        }
        o.insert("slug".into(), json!(slug));
    }
    Ok(())
}

/// An error response, with `term_exists`' existing id where the message carries one.
fn error_response((status, code, message): WcError, wordpress: bool) -> Response {
    match message.split_once('|') {
        Some((msg, id)) => {
            let id: u64 = id.parse().unwrap_or(0);
            let key = if wordpress { "term_id" } else { "resource_id" };
            (status, Json(json!({ "code": code, "message": msg, "data": { "status": status.as_u16(), key: id } })))
                .into_response()
        }
        None => error(status, code, &message),
    }
}

/// An object as a read shows it: WordPress's `raw` fields only with `context=edit`.
fn view(kind: Kind, o: &Map<String, Value>, edit: bool) -> Value {
    let mut o = o.clone();
    if kind.wordpress() && !edit {
        for f in ["title", "content", "excerpt"] {
            if let Some(Value::Object(m)) = o.get_mut(f) {
                m.remove("raw");
            }
        }
    }
    Value::Object(o)
}

fn create_in(inner: &mut Inner, kind: Kind, body: &Map<String, Value>) -> Result<Map<String, Value>, WcError> {
    inner.next_id += 1;
    let id = inner.next_id;
    let mut o = kind.skeleton();
    o.insert("id".into(), json!(id));
    featured_media(inner, kind, body)?;
    let items = inner.content.entry(kind.key()).or_default();
    apply(items, kind, id, &mut o, body)?;
    stamp(kind, &mut o, true);
    items.insert(id, o.clone());
    Ok(o)
}

fn update_in(
    inner: &mut Inner,
    kind: Kind,
    id: u64,
    body: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, WcError> {
    featured_media(inner, kind, body)?;
    let items = inner.content.entry(kind.key()).or_default();
    let Some(mut o) = items.get(&id).cloned() else { return Ok(None) };
    apply(items, kind, id, &mut o, body)?;
    stamp(kind, &mut o, false);
    items.insert(id, o.clone());
    Ok(Some(o))
}

/// A post's `featured_media`: 0 (none) or an id of the media library.
fn featured_media(inner: &Inner, kind: Kind, body: &Map<String, Value>) -> Result<(), WcError> {
    let Some(v) = body.get("featured_media").filter(|_| matches!(kind, Kind::Posts | Kind::Pages)) else {
        return Ok(());
    };
    let known = |id: u64| inner.content.get(Kind::Media.key()).is_some_and(|m| m.contains_key(&id));
    match v.as_u64() {
        Some(0) => Ok(()),
        Some(id) if known(id) => Ok(()),
        _ => Err((StatusCode::BAD_REQUEST, "rest_invalid_featured_media", "Invalid featured media ID.".into())),
    }
}

/// `POST /wp/v2/media`: the file is the body, named by `Content-Disposition: attachment;
/// filename=…`; WordPress keeps it under its uploads, a taken name getting `-1`, `-2`, ….
async fn upload(State(sim): State<WooSim>, headers: axum::http::HeaderMap, body: axum::body::Bytes) -> Response {
    let header = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let disposition = header("content-disposition");
    let Some(filename) = disposition.split("filename=").nth(1).map(|f| f.trim().trim_matches('"').to_string()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "rest_upload_no_content_disposition",
            "No Content-Disposition supplied.",
        );
    };
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST, "rest_upload_no_data", "No data supplied.");
    }
    let mime = header("content-type");
    if !mime.starts_with("image/") {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "rest_upload_sideload_error",
            "Sorry, you are not allowed to upload this file type.",
        );
    }
    let mut inner = sim.lock();
    let filename = sanitize_file_name(&filename);
    let (stem, ext) = filename.rsplit_once('.').unwrap_or((filename.as_str(), ""));
    let media = inner.content.entry(Kind::Media.key()).or_default();
    let taken =
        |name: &str| media.values().any(|m| m["source_url"].as_str().is_some_and(|u| u.ends_with(&format!("/{name}"))));
    let dot = if ext.is_empty() { "" } else { "." };
    let mut name = format!("{stem}{dot}{ext}");
    let mut n = 1;
    while taken(&name) {
        name = format!("{stem}-{n}{dot}{ext}");
        n += 1;
    }
    inner.next_id += 1;
    let id = inner.next_id;
    let mut m = Kind::Media.skeleton();
    let url = format!("https://wine.example/wp-content/uploads/{}/{name}", chrono::Utc::now().format("%Y/%m"));
    m.insert("id".into(), json!(id));
    m.insert("slug".into(), json!(crate::slugify(name.strip_suffix(&format!("{dot}{ext}")).unwrap_or(&name))));
    m.insert("title".into(), json!({ "raw": stem, "rendered": stem }));
    m.insert("mime_type".into(), json!(mime));
    m.insert("media_details".into(), json!({ "filesize": body.len() }));
    m.insert("source_url".into(), json!(url));
    m.insert("guid".into(), json!({ "rendered": url }));
    stamp(Kind::Media, &mut m, true);
    inner.content.entry(Kind::Media.key()).or_default().insert(id, m.clone());
    (StatusCode::CREATED, Json(Value::Object(m))).into_response()
}

/// WordPress's `sanitize_file_name`: special characters dropped, spaces become dashes, case
/// kept.
fn sanitize_file_name(name: &str) -> String {
    const SPECIAL: &str = "?[]/\\=<>:;,'\"&$#*()|~`!{}%+\u{2019}\u{ab}\u{bb}\u{201d}\u{201c}";
    let kept: String = name.chars().filter(|c| !SPECIAL.contains(*c)).collect();
    let dashed = kept.split_whitespace().collect::<Vec<_>>().join("-");
    let mut out = String::new();
    for c in dashed.chars() {
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.trim_matches(['.', '-', '_']).to_string()
}

/// The media library's routes: list, upload, one, delete.
fn media_routes() -> Router<WooSim> {
    let kind = Kind::Media;
    Router::new()
        .route("/media", get(move |State(sim): State<WooSim>, Query(q): Q| list(sim, kind, q)).post(upload))
        .route(
            "/media/{id}",
            get(move |State(sim): State<WooSim>, Path(id): Path<u64>, Query(q): Q| get_one(sim, kind, id, q)).delete(
                move |State(sim): State<WooSim>, Path(id): Path<u64>, Query(q): Q| async move {
                    delete_in(&sim, kind, id, q.get("force").map(String::as_str) == Some("true"))
                },
            ),
        )
}

fn stamp(kind: Kind, o: &mut Map<String, Value>, created: bool) {
    if !kind.wordpress() {
        if !kind.term() {
            now_fields(o, created);
        }
        return;
    }
    let t = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    if created && !kind.term() {
        o.insert("date".into(), json!(t));
        o.insert("date_gmt".into(), json!(t));
    }
    if !kind.term() {
        o.insert("modified".into(), json!(t));
        o.insert("modified_gmt".into(), json!(t));
    }
    let slug = o["slug"].as_str().unwrap_or_default().to_string();
    o.insert("link".into(), json!(format!("https://example.com/{slug}/")));
}

/// The trash, as each platform has it: posts, pages and coupons go to the trash first (then
/// 410); terms cannot be trashed (501 without `force`).
fn delete_in(sim: &WooSim, kind: Kind, id: u64, force: bool) -> Response {
    let mut inner = sim.lock();
    let items = inner.content.entry(kind.key()).or_default();
    let Some(o) = items.get_mut(&id) else { return kind.invalid_id(StatusCode::NOT_FOUND) };
    if force {
        let o = items.remove(&id).unwrap_or_default();
        return if kind.wordpress() {
            Json(json!({ "deleted": true, "previous": view(kind, &o, true) })).into_response()
        } else {
            Json(Value::Object(o)).into_response()
        };
    }
    if kind.term() {
        let code = if kind.wordpress() { "rest_trash_not_supported" } else { "woocommerce_rest_trash_not_supported" };
        return error(
            StatusCode::NOT_IMPLEMENTED,
            code,
            "Resource does not support trashing. Set 'force=true' to delete.",
        );
    }
    if o["status"] == json!("trash") {
        return if kind.wordpress() {
            error(StatusCode::GONE, "rest_already_trashed", "The post has already been deleted.")
        } else {
            error(StatusCode::GONE, "woocommerce_rest_already_trashed", "The coupon has already been deleted.")
        };
    }
    o.insert("status".into(), json!("trash"));
    Json(view(kind, o, true)).into_response()
}

async fn list(sim: WooSim, kind: Kind, q: BTreeMap<String, String>) -> Response {
    let inner = sim.lock();
    let empty = BTreeMap::new();
    let items = inner.content.get(kind.key()).unwrap_or(&empty);
    let one_of = |field: &str, o: &Map<String, Value>| match q.get(field) {
        None => true,
        Some(list) => list.split(',').any(|v| o.get(field).and_then(Value::as_str) == Some(v.trim())),
    };
    let statuses: Vec<&str> = match q.get("status") {
        Some(s) => s.split(',').map(str::trim).collect(),
        None if kind == Kind::Media => vec!["inherit"],
        None if kind.wordpress() => vec!["publish"],
        None => vec!["any"],
    };
    let shown: Vec<&Map<String, Value>> = items
        .values()
        .filter(|o| one_of("slug", o) && one_of("code", o))
        // `include=1,2`: those ids; `search=`: a word of the title, name or slug.
        .filter(|o| {
            q.get("include").is_none_or(|list| {
                list.split(',').any(|i| i.trim().parse::<u64>().ok() == o.get("id").and_then(Value::as_u64))
            })
        })
        .filter(|o| {
            q.get("search").is_none_or(|term| {
                let term = term.to_lowercase();
                let has =
                    |v: Option<&Value>| v.and_then(Value::as_str).is_some_and(|x| x.to_lowercase().contains(&term));
                has(o.get("slug")) || has(o.get("title").and_then(|t| t.get("raw"))) || has(o.get("name"))
            })
        })
        .filter(|o| {
            kind.term()
                || statuses.iter().any(|s| {
                    let st = o["status"].as_str().unwrap_or_default();
                    (*s == "any" && st != "trash") || *s == st
                })
        })
        .collect();
    let edit = q.get("context").map(String::as_str) == Some("edit");
    let total = shown.len();
    if kind.wordpress() {
        let per_page: usize = q.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(10).max(1);
        let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
        if page > 1 && (page - 1) * per_page >= total {
            return error(
                StatusCode::BAD_REQUEST,
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            );
        }
    }
    paginate_with(total, &q, &kind.path(), |skip, take| {
        shown.iter().skip(skip).take(take).map(|o| view(kind, o, edit)).collect()
    })
}

async fn get_one(sim: WooSim, kind: Kind, id: u64, q: BTreeMap<String, String>) -> Response {
    let inner = sim.lock();
    match inner.content.get(kind.key()).and_then(|items| items.get(&id)) {
        Some(o) => Json(view(kind, o, q.get("context").map(String::as_str) == Some("edit"))).into_response(),
        None => kind.invalid_id(StatusCode::NOT_FOUND),
    }
}

async fn create(sim: WooSim, kind: Kind, body: Value) -> Response {
    match create_in(&mut sim.lock(), kind, &super::object(body)) {
        Ok(o) => (StatusCode::CREATED, Json(view(kind, &o, true))).into_response(),
        Err(e) => error_response(e, kind.wordpress()),
    }
}

async fn update(sim: WooSim, kind: Kind, id: u64, body: Value) -> Response {
    match update_in(&mut sim.lock(), kind, id, &super::object(body)) {
        Ok(Some(o)) => Json(view(kind, &o, true)).into_response(),
        // WooCommerce answers an unknown id on PUT with 400; WordPress with 404.
        Ok(None) => kind.invalid_id(StatusCode::BAD_REQUEST),
        Err(e) => error_response(e, kind.wordpress()),
    }
}

/// A WooCommerce collection's batch endpoint (deletes are forced).
async fn batch(sim: WooSim, kind: Kind, body: Value) -> Response {
    let invalid = || (StatusCode::BAD_REQUEST, invalid_code(kind), "Invalid ID.".to_string());
    batch_with(&mut sim.lock(), &body, |inner, op| match op {
        BatchOp::Create(b) => create_in(inner, kind, &b).map_err(plain),
        BatchOp::Update(id, b) => update_in(inner, kind, id, &b).map_err(plain)?.ok_or_else(invalid),
        BatchOp::Delete(id) => inner.content.entry(kind.key()).or_default().remove(&id).ok_or_else(invalid),
    })
}

/// An error without `term_exists`' id (a batch entry's error carries none).
fn plain((status, code, message): WcError) -> WcError {
    (status, code, message.split('|').next().unwrap_or_default().to_string())
}

fn invalid_code(kind: Kind) -> &'static str {
    match kind {
        Kind::Coupons => "woocommerce_rest_shop_coupon_invalid_id",
        _ => "woocommerce_rest_term_invalid",
    }
}

type Q = Query<BTreeMap<String, String>>;

/// A collection's routes (under the router's base): list and create, one object, and for
/// WooCommerce's the batch endpoint.
fn routes(kind: Kind) -> Router<WooSim> {
    let base = format!("/{}", kind.key());
    let mut r = Router::new()
        .route(
            &base,
            get(move |State(sim): State<WooSim>, Query(q): Q| list(sim, kind, q))
                .post(move |State(sim): State<WooSim>, Json(b): Json<Value>| create(sim, kind, b)),
        )
        .route(
            &format!("{base}/{{id}}"),
            get(move |State(sim): State<WooSim>, Path(id): Path<u64>, Query(q): Q| get_one(sim, kind, id, q))
                .put(move |State(sim): State<WooSim>, Path(id): Path<u64>, Json(b): Json<Value>| {
                    update(sim, kind, id, b)
                })
                .post(move |State(sim): State<WooSim>, Path(id): Path<u64>, Json(b): Json<Value>| {
                    update(sim, kind, id, b)
                })
                .delete(move |State(sim): State<WooSim>, Path(id): Path<u64>, Query(q): Q| async move {
                    delete_in(&sim, kind, id, q.get("force").map(String::as_str) == Some("true"))
                }),
        );
    if !kind.wordpress() {
        r = r.route(
            &format!("{base}/batch"),
            post(move |State(sim): State<WooSim>, Json(b): Json<Value>| batch(sim, kind, b)),
        );
    }
    r
}

/// WooCommerce's content routes, merged into the `/wp-json/wc/v3` router.
pub(super) fn wc_routes() -> Router<WooSim> {
    routes(Kind::Coupons).merge(routes(Kind::ProductCategories)).merge(routes(Kind::ProductTags))
}

impl WooSim {
    /// WordPress's pages, posts, categories and tags, to be nested under `/wp-json/wp/v2` (the
    /// same credentials as the store's REST API, sent as HTTP Basic like an application
    /// password). WordPress's default category "Uncategorized" (id 1) exists from the start.
    pub fn wp_router(&self) -> Router {
        {
            let mut inner = self.lock();
            let categories = inner.content.entry(Kind::Categories.key()).or_default();
            if categories.is_empty() {
                let mut c = Kind::Categories.skeleton();
                c.insert("id".into(), json!(1));
                c.insert("name".into(), json!("Uncategorized"));
                c.insert("slug".into(), json!("uncategorized"));
                categories.insert(1, c);
            }
        }
        Router::new()
            .merge(routes(Kind::Pages))
            .merge(routes(Kind::Posts))
            .merge(routes(Kind::Categories))
            .merge(routes(Kind::Tags))
            .merge(media_routes())
            .layer(axum::middleware::from_fn_with_state(self.clone(), super::gate))
            .with_state(self.clone())
    }

    /// Creates an object of `kind` as a POST would; returns it (with WordPress's raw fields).
    pub fn seed_content(&self, kind: Kind, fields: Value) -> Result<Value, String> {
        create_in(&mut self.lock(), kind, &super::object(fields)).map(|o| view(kind, &o, true)).map_err(|(_, _, m)| m)
    }

    /// Every object of `kind` (with WordPress's raw fields), by id.
    pub fn content(&self, kind: Kind) -> Vec<Value> {
        self.lock()
            .content
            .get(kind.key())
            .map(|m| m.values().map(|o| view(kind, o, true)).collect())
            .unwrap_or_default()
    }
}
