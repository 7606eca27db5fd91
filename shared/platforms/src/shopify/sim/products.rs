//! The simulator's product writes (PLATFORMS.md §A5): `productSet(input:, identifier:)` —
//! a create without an identifier, else an update of that product — with Shopify's list
//! semantics: `variants`, `tags` and `files` given **replace** what the product had (a variant
//! left out is deleted, with its inventory item), scalars left out are kept; a variant is
//! matched by its `id`, else by its SKU, else created (stocked at every location at 0). And
//! `productDelete(input: {id})`. Both answer `userErrors` as Shopify does (a blank title, an
//! unknown product, a taken handle, a bad status).

use graphql_parser::query::Field;
use serde_json::{json, Map, Value};

use super::{arg, Inner, Level, Variant};
use crate::shopify::{gid, gid_id};

fn user_error(field: &[&str], message: &str, code: &str) -> Value {
    json!({ "field": field, "message": message, "code": code })
}

/// A handle from `title` no other product holds.
pub(super) fn unique_handle(s: &Inner, title: &str, id: u64) -> String {
    let base = crate::slugify(title);
    let taken = |h: &str| s.product_fields.iter().any(|(other, p)| *other != id && p["handle"] == json!(h));
    let mut h = base.clone();
    let mut n = 1;
    while taken(&h) {
        h = format!("{base}-{n}");
        n += 1;
    }
    h
}

pub(super) fn default_fields(handle: &str) -> Map<String, Value> {
    let v = json!({ "handle": handle, "descriptionHtml": "", "status": "ACTIVE", "tags": [], "vendor": "", "productType": "",
                    "seo": { "title": null, "description": null }, "images": [] });
    v.as_object().cloned().unwrap_or_default()
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A variant price input as the API reads it back: `Money`, two places (`"19.99"`, `"5.00"`).
fn money(v: &Value) -> Option<String> {
    let x: f64 = text(v)?.trim().parse().ok()?;
    Some(format!("{x:.2}"))
}

fn remove_variant(s: &mut Inner, vid: u64) {
    if let Some(v) = s.variants.remove(&vid) {
        s.items.remove(&v.item);
        if s.by_sku.get(&v.sku) == Some(&vid) {
            s.by_sku.remove(&v.sku);
        }
        s.levels.retain(|(item, _), _| *item != v.item);
    }
}

/// Shopify's `WeightUnit`.
const WEIGHT_UNITS: [&str; 4] = ["GRAMS", "KILOGRAMS", "OUNCES", "POUNDS"];

pub(super) fn product_set(s: &mut Inner, input: &Value, identifier: &Value) -> Result<u64, Vec<Value>> {
    let given = identifier.get("id").or(input.get("id")).and_then(Value::as_str);
    let existing = match given {
        Some(g) => match gid_id("Product", g).filter(|id| s.products.contains_key(id)) {
            Some(id) => Some(id),
            None => return Err(vec![user_error(&["input", "id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]),
        },
        None => None,
    };
    let mut errors = Vec::new();
    let title = match input.get("title") {
        Some(t) => text(t).unwrap_or_default(),
        None => existing.and_then(|id| s.products.get(&id)).map(|p| p.0.clone()).unwrap_or_default(),
    };
    if title.trim().is_empty() {
        errors.push(user_error(&["input", "title"], "Title can't be blank", "BLANK"));
    }
    let id = existing.unwrap_or(0);
    let mut fields = existing.and_then(|id| s.product_fields.get(&id).cloned()).unwrap_or_else(|| default_fields(""));
    for (k, v) in input.as_object().into_iter().flatten() {
        match k.as_str() {
            "descriptionHtml" => {
                fields.insert(k.clone(), json!(text(v).unwrap_or_default()));
            }
            "status" => {
                if !v.as_str().is_some_and(|st| ["ACTIVE", "DRAFT", "ARCHIVED"].contains(&st)) {
                    errors.push(user_error(&["input", "status"], "Status is not included in the list", "INVALID"));
                }
                fields.insert(k.clone(), v.clone());
            }
            "tags" => {
                fields.insert(k.clone(), v.as_array().cloned().map(Value::from).unwrap_or(json!([])));
            }
            "seo" => {
                let seo = json!({ "title": v.get("title").cloned().unwrap_or(Value::Null),
                                  "description": v.get("description").cloned().unwrap_or(Value::Null) });
                fields.insert(k.clone(), seo);
            }
            "files" => {
                let urls: Vec<Value> =
                    v.as_array().into_iter().flatten().filter_map(|f| f.get("originalSource").cloned()).collect();
                fields.insert("images".into(), Value::from(urls));
            }
            "handle" => {
                let h = crate::slugify(v.as_str().unwrap_or_default());
                if s.product_fields.iter().any(|(other, p)| *other != id && p["handle"] == json!(h)) {
                    errors.push(user_error(&["input", "handle"], "Handle has already been taken", "TAKEN"));
                }
                fields.insert(k.clone(), json!(h));
            }
            "collections" => {
                // The custom collections the product is in: the list replaces its memberships.
                let ids: Vec<Option<u64>> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|g| g.as_str().and_then(|g| gid_id("Collection", g)).filter(|c| s.collections.contains_key(c)))
                    .collect();
                match ids.iter().position(Option::is_none) {
                    Some(at) => errors.push(user_error(
                        &["input", "collections", &at.to_string()],
                        "Collection does not exist",
                        "COLLECTION_DOES_NOT_EXIST",
                    )),
                    None => {
                        fields.insert(k.clone(), Value::from(ids.into_iter().flatten().collect::<Vec<_>>()));
                    }
                }
            }
            "vendor" | "productType" => {
                fields.insert(k.clone(), json!(text(v).unwrap_or_default()));
            }
            "metafields" => super::content::set_metafields(&mut fields, "input", v, &mut errors),
            "id" | "title" | "productOptions" | "variants" => {}
            other => errors.push(user_error(
                &["input", other],
                &format!("Field '{other}' is not defined on the input"),
                "INVALID",
            )),
        }
    }
    for (i, v) in input.get("variants").and_then(Value::as_array).into_iter().flatten().enumerate() {
        for (q, level) in v["inventoryQuantities"].as_array().into_iter().flatten().enumerate() {
            let known = level["locationId"]
                .as_str()
                .and_then(|g| gid_id("Location", g))
                .filter(|l| s.locations.contains_key(l));
            if known.is_none() || level["name"] != "available" || !level["quantity"].is_i64() {
                let (at, q) = (i.to_string(), q.to_string());
                let field = ["input", "variants", at.as_str(), "inventoryQuantities", q.as_str()];
                errors.push(user_error(
                    &field,
                    "Inventory quantities need a known locationId, the name available and a quantity",
                    "INVALID",
                ));
            }
        }
        let unit = &v["inventoryItem"]["measurement"]["weight"]["unit"];
        if !unit.is_null() && !unit.as_str().is_some_and(|u| WEIGHT_UNITS.contains(&u)) {
            let at = i.to_string();
            let field = ["input", "variants", at.as_str(), "inventoryItem", "measurement", "weight", "unit"];
            errors.push(user_error(&field, &format!("Unit {unit} is not a WeightUnit"), "INVALID"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let id = match existing {
        Some(id) => id,
        None => {
            s.next_id += 1;
            s.next_id
        }
    };
    if fields["handle"].as_str().is_none_or(str::is_empty) {
        fields.insert("handle".into(), json!(unique_handle(s, &title, id)));
    }
    let mut variant_ids = existing.and_then(|p| s.products.get(&p)).map(|p| p.1.clone()).unwrap_or_default();
    let wanted = input.get("variants").and_then(Value::as_array).cloned();
    let wanted = match wanted {
        Some(list) => Some(list),
        // A new product without variants has Shopify's one default variant.
        None if existing.is_none() => {
            Some(vec![json!({ "optionValues": [{ "optionName": "Title", "name": "Default Title" }] })])
        }
        None => None,
    };
    if let Some(list) = wanted {
        let mut kept = Vec::new();
        for v in &list {
            let by_id = v.get("id").and_then(Value::as_str).and_then(|g| gid_id("ProductVariant", g));
            let sku = v.get("sku").and_then(Value::as_str).or_else(|| v["inventoryItem"]["sku"].as_str());
            let found = by_id.filter(|vid| variant_ids.contains(vid)).or_else(|| {
                sku.and_then(|k| {
                    variant_ids.iter().copied().find(|vid| s.variants.get(vid).is_some_and(|x| x.sku == k))
                })
            });
            let options: Vec<(String, String)> = v["optionValues"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| Some((o["optionName"].as_str()?.to_string(), o["name"].as_str()?.to_string())))
                .collect();
            let vid = match found {
                Some(vid) => vid,
                None => {
                    s.next_id += 2;
                    let (vid, item) = (s.next_id - 1, s.next_id);
                    let variant = Variant {
                        product: id,
                        title: String::new(),
                        sku: String::new(),
                        price: "0.00".into(),
                        item,
                        compare_at: None,
                        barcode: None,
                        weight: None,
                        options: Vec::new(),
                    };
                    s.variants.insert(vid, variant);
                    s.items.insert(item, vid);
                    let locations: Vec<u64> = s.locations.keys().copied().collect();
                    for loc in locations {
                        s.levels.insert((item, loc), Level { available: 0, on_hand: 0 });
                    }
                    vid
                }
            };
            let Some(x) = s.variants.get_mut(&vid) else { continue };
            if let Some(k) = sku {
                x.sku = k.to_string();
            }
            if let Some(p) = v.get("price").and_then(money) {
                x.price = p;
            }
            if let Some(c) = v.get("compareAtPrice") {
                x.compare_at = money(c);
            }
            if let Some(b) = v.get("barcode") {
                x.barcode = text(b).filter(|b| !b.is_empty());
            }
            if let Some(w) = v["inventoryItem"].get("measurement").map(|m| &m["weight"]) {
                x.weight =
                    w["value"].as_f64().map(|value| (value, w["unit"].as_str().unwrap_or("KILOGRAMS").to_string()));
            }
            if !options.is_empty() {
                x.title = options.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(" / ");
                x.options = options;
            }
            let (sku, item) = (x.sku.clone(), x.item);
            if !sku.is_empty() {
                s.by_sku.insert(sku, vid);
            }
            for level in v["inventoryQuantities"].as_array().into_iter().flatten() {
                let loc = level["locationId"].as_str().and_then(|g| gid_id("Location", g)).unwrap_or(0);
                let quantity = level["quantity"].as_i64().unwrap_or(0);
                let before = s.levels.insert((item, loc), Level { available: quantity, on_hand: quantity });
                if existing.is_some() && before.is_some_and(|b| b.available != quantity) {
                    super::webhooks::level_changed(s, item, loc);
                }
            }
            kept.push(vid);
        }
        for gone in variant_ids.iter().filter(|v| !kept.contains(v)).copied().collect::<Vec<_>>() {
            remove_variant(s, gone);
        }
        variant_ids = kept;
    }
    s.products.insert(id, (title, variant_ids));
    s.product_fields.insert(id, fields);
    super::webhooks::product_changed(s, id, existing.is_none());
    Ok(id)
}

/// `productSet` or `productDelete`: the payload (before selection).
pub(super) fn mutate(s: &mut Inner, f: &Field<'_, String>, vars: &Map<String, Value>) -> Value {
    if f.name == "productDelete" {
        let input = arg(&f.arguments, "input", vars);
        let id = input["id"].as_str().and_then(|g| gid_id("Product", g));
        return match id.and_then(|id| s.products.remove(&id).map(|p| (id, p))) {
            Some((id, (_, variants))) => {
                for v in variants {
                    remove_variant(s, v);
                }
                s.product_fields.remove(&id);
                super::webhooks::product_deleted(s, id);
                json!({ "deletedProductId": gid("Product", id), "userErrors": [] })
            }
            None => json!({ "deletedProductId": null,
                            "userErrors": [user_error(&["id"], "Product does not exist", "NOT_FOUND")] }),
        };
    }
    let input = arg(&f.arguments, "input", vars);
    let identifier = arg(&f.arguments, "identifier", vars);
    match product_set(s, &input, &identifier) {
        Ok(id) => json!({ "product": { "id": gid("Product", id) }, "productSetOperation": null, "userErrors": [] }),
        Err(errors) => json!({ "product": null, "productSetOperation": null, "userErrors": errors }),
    }
}

impl super::ShopifySim {
    /// A product as the API reads it: its fields, and its variants (`sku`, `price`,
    /// `compareAtPrice`, `barcode`, `selectedOptions`).
    pub fn product(&self, id: &str) -> Option<Value> {
        let s = self.lock();
        let pid = gid_id("Product", id)?;
        let (title, variants) = s.products.get(&pid)?;
        let mut p = Value::Object(s.product_fields.get(&pid).cloned().unwrap_or_default());
        p["id"] = json!(id);
        p["title"] = json!(title);
        p["variants"] = variants
            .iter()
            .filter_map(|v| s.variants.get(v).map(|x| (v, x)))
            .map(|(vid, x)| {
                json!({ "id": gid("ProductVariant", *vid), "sku": x.sku, "price": x.price, "compareAtPrice": x.compare_at,
                        "barcode": x.barcode, "title": x.title,
                        "selectedOptions": x.options.iter().map(|(n, v)| json!({ "name": n, "value": v })).collect::<Vec<_>>() })
            })
            .collect();
        Some(p)
    }
}
