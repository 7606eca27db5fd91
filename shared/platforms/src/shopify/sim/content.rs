//! The simulator's online-store pages (PLATFORMS.md §A6): the `pages` connection (with
//! `query: "handle:…"`) and `page(id:)`, and `pageCreate(page:)`, `pageUpdate(id:, page:)` and
//! `pageDelete(id:)`, each answering `userErrors` as Shopify does (a blank title, a taken
//! handle, an unknown page) rather than top-level errors.

use graphql_parser::query::{Field, SelectionSet};
use serde_json::{json, Map, Value};

use super::{arg, connection, object, select, GqlError, Inner};
use crate::shopify::{gid, gid_id};

/// Shopify's handle from a title: lower case, runs of anything but letters and digits as `-`.
fn handleize(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn user_error(field: &[&str], message: &str, code: &str) -> Value {
    json!({ "field": field, "message": message, "code": code })
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A page as the API shows it.
fn page_value(id: u64, p: &Map<String, Value>) -> Value {
    let mut v = Value::Object(p.clone());
    v["id"] = json!(gid("Page", id));
    v
}

pub(super) fn pages(s: &Inner, f: &Field<'_, String>, vars: &Map<String, Value>, actual: &mut f64) -> Value {
    let query = arg(&f.arguments, "query", vars);
    let handle = query.as_str().and_then(|q| q.strip_prefix("handle:")).map(|h| h.trim_matches('"').to_string());
    let ids: Vec<u64> = s
        .pages
        .iter()
        .filter(|(_, p)| handle.as_ref().is_none_or(|h| p["handle"].as_str() == Some(h.as_str())))
        .map(|(id, _)| *id)
        .collect();
    connection(ids, f, vars, actual, |id, set, _| page_node(s, id, set))
}

pub(super) fn page(s: &Inner, f: &Field<'_, String>, vars: &Map<String, Value>) -> Value {
    let id = arg(&f.arguments, "id", vars).as_str().and_then(|g| gid_id("Page", g));
    id.map(|id| page_node(s, id, &f.selection_set)).unwrap_or(Value::Null)
}

fn page_node(s: &Inner, id: u64, set: &SelectionSet<'_, String>) -> Value {
    match s.pages.get(&id) {
        Some(p) => object(set, &page_value(id, p), |_| None),
        None => Value::Null,
    }
}

/// Applies a `PageCreateInput`/`PageUpdateInput` to a page; the user errors, if any (then the
/// page is left as it was).
fn apply(s: &Inner, id: u64, p: &mut Map<String, Value>, input: &Value, creating: bool) -> Vec<Value> {
    let mut errors = Vec::new();
    let mut next = p.clone();
    for (k, v) in input.as_object().into_iter().flatten() {
        match k.as_str() {
            "title" | "body" | "handle" | "isPublished" | "templateSuffix" => {
                next.insert(k.clone(), v.clone());
            }
            other => errors.push(user_error(
                &["page", other],
                &format!("Field '{other}' is not defined on the page input"),
                "INVALID",
            )),
        }
    }
    if next.get("title").and_then(Value::as_str).is_none_or(|t| t.trim().is_empty()) {
        errors.push(user_error(&["page", "title"], "Title can't be blank", "BLANK"));
    }
    let given = input.get("handle").and_then(Value::as_str).map(handleize).filter(|h| !h.is_empty());
    let handle = match given {
        Some(h) => {
            if s.pages.iter().any(|(other, q)| *other != id && q["handle"] == json!(h)) {
                errors.push(user_error(&["page", "handle"], "Handle has already been taken", "TAKEN"));
            }
            h
        }
        None if creating => {
            // Shopify makes a handle from the title, unique with a number.
            let base = handleize(next.get("title").and_then(Value::as_str).unwrap_or_default());
            let mut h = base.clone();
            let mut n = 1;
            while s.pages.values().any(|q| q["handle"] == json!(h)) {
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
    let published = next.get("isPublished").and_then(Value::as_bool).unwrap_or(false);
    next.insert("isPublished".into(), json!(published));
    if published && next.get("publishedAt").is_none_or(Value::is_null) {
        next.insert("publishedAt".into(), json!(now()));
    } else if !published {
        next.insert("publishedAt".into(), Value::Null);
    }
    next.entry("body").or_insert(json!(""));
    next.insert("updatedAt".into(), json!(now()));
    next.entry("createdAt").or_insert(json!(now()));
    *p = next;
    Vec::new()
}

/// `pageCreate`, `pageUpdate` and `pageDelete`; `None` for any other field.
pub(super) fn mutate(
    s: &mut Inner,
    f: &Field<'_, String>,
    vars: &Map<String, Value>,
) -> Option<Result<Value, GqlError>> {
    let result = match f.name.as_str() {
        "pageCreate" => {
            let input = arg(&f.arguments, "page", vars);
            let mut p = Map::new();
            let errors = apply(s, 0, &mut p, &input, true);
            if errors.is_empty() {
                s.next_id += 1;
                let id = s.next_id;
                s.pages.insert(id, p.clone());
                json!({ "page": page_value(id, &p), "userErrors": [] })
            } else {
                json!({ "page": null, "userErrors": errors })
            }
        }
        "pageUpdate" => {
            let input = arg(&f.arguments, "page", vars);
            let id = arg(&f.arguments, "id", vars).as_str().and_then(|g| gid_id("Page", g));
            match id.and_then(|id| s.pages.get(&id).cloned().map(|p| (id, p))) {
                None => {
                    json!({ "page": null, "userErrors": [user_error(&["id"], "Page does not exist", "NOT_FOUND")] })
                }
                Some((id, mut p)) => {
                    let errors = apply(s, id, &mut p, &input, false);
                    if errors.is_empty() {
                        s.pages.insert(id, p.clone());
                        json!({ "page": page_value(id, &p), "userErrors": [] })
                    } else {
                        json!({ "page": null, "userErrors": errors })
                    }
                }
            }
        }
        "pageDelete" => {
            let g = arg(&f.arguments, "id", vars);
            match g.as_str().and_then(|g| gid_id("Page", g)).and_then(|id| s.pages.remove(&id)) {
                Some(_) => json!({ "deletedPageId": g, "userErrors": [] }),
                None => {
                    json!({ "deletedPageId": null, "userErrors": [user_error(&["id"], "Page does not exist", "NOT_FOUND")] })
                }
            }
        }
        _ => return None,
    };
    Some(Ok(select(&result, &f.selection_set)))
}

impl super::ShopifySim {
    /// Every page as the API shows it.
    pub fn pages(&self) -> Vec<Value> {
        self.lock().pages.iter().map(|(id, p)| page_value(*id, p)).collect()
    }

    /// Creates a page as `pageCreate` would; returns it.
    pub fn add_page(&self, input: Value) -> Result<Value, Value> {
        let mut s = self.lock();
        let mut p = Map::new();
        let errors = apply(&s, 0, &mut p, &input, true);
        if !errors.is_empty() {
            return Err(json!(errors));
        }
        s.next_id += 1;
        let id = s.next_id;
        s.pages.insert(id, p.clone());
        Ok(page_value(id, &p))
    }
}
