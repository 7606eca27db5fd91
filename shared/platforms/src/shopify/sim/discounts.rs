//! The simulator's basic code discounts (PLATFORMS.md §A6): the `codeDiscountNodes` connection,
//! `codeDiscountNode(id:)`, `codeDiscountNodeByCode(code:)`, and `discountCodeBasicCreate`,
//! `discountCodeBasicUpdate(id:, …)` and `discountCodeDelete(id:)` with Shopify's user errors (a
//! code already in use — codes are unique without case —, a blank title or start, a percentage
//! outside 0–1, an end before the start).
//!
//! A discount is kept as the API reads it: `codeDiscount` is a `DiscountCodeBasic` whose
//! `customerGets.value` is a `DiscountPercentage {percentage}` or a `DiscountAmount {amount
//! {amount}, appliesOnEachItem}`, and whose `minimumRequirement` is null or a
//! `DiscountMinimumSubtotal {greaterThanOrEqualToSubtotal {amount}}`; queries select them with
//! inline fragments (`... on DiscountPercentage`).

use graphql_parser::query::Field;
use serde_json::{json, Map, Value};

use super::{arg, connection, select, GqlError, Inner};
use crate::shopify::{gid, gid_id};

const NODE: &str = "DiscountCodeNode";

fn user_error(field: &str, message: &str, code: &str) -> Value {
    json!({ "field": ["basicCodeDiscount", field], "message": message, "code": code, "extraInfo": null })
}

/// A money amount as Shopify's `Decimal` reads: `"5.0"`, `"12.5"`.
fn decimal(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').to_string()
    }
}

fn amount(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// A `DateTime` input as Shopify reads it back: UTC, `Z`.
fn datetime(v: &Value) -> Result<Value, ()> {
    match v {
        Value::Null => Ok(Value::Null),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| json!(t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string()))
            .map_err(|_| ()),
        _ => Err(()),
    }
}

/// The discount as the API shows it (`DiscountCodeNode`).
fn node_value(id: u64, d: &Map<String, Value>) -> Value {
    json!({ "id": gid(NODE, id), "codeDiscount": Value::Object(d.clone()) })
}

fn code_of(d: &Map<String, Value>) -> &str {
    d.get("codes").and_then(|c| c["nodes"][0]["code"].as_str()).unwrap_or_default()
}

/// A `DiscountCustomerGetsValueInput` as read back, or its user error.
fn discount_value(value: &Value, errors: &mut Vec<Value>) -> Option<Value> {
    if let Some(p) = value.get("percentage") {
        match p.as_f64() {
            Some(p) if (0.0..=1.0).contains(&p) => Some(json!({ "__typename": "DiscountPercentage", "percentage": p })),
            _ => {
                errors.push(user_error("customerGets", "Value must be between 0.0 and 1.0", "VALUE_OUTSIDE_RANGE"));
                None
            }
        }
    } else if let Some(a) = value.get("discountAmount") {
        match amount(&a["amount"]) {
            Some(x) if x > 0.0 => Some(json!({
                "__typename": "DiscountAmount",
                "amount": { "amount": decimal(x), "currencyCode": "USD" },
                "appliesOnEachItem": a["appliesOnEachItem"].as_bool().unwrap_or(false),
            })),
            _ => {
                errors.push(user_error("customerGets", "Value must be greater than 0", "GREATER_THAN"));
                None
            }
        }
    } else {
        errors.push(user_error("customerGets", "Value can't be blank", "BLANK"));
        None
    }
}

/// A `DiscountItemsInput` over the items a discount has: `{all: true}`, or
/// `{products: {productsToAdd, productsToRemove}}` (read back as `DiscountProducts` with its
/// `products` connection); an unknown product is a user error.
fn discount_items(s: &Inner, current: &Value, items: &Value) -> Result<Value, Value> {
    if items["all"] == true {
        return Ok(json!({ "__typename": "AllDiscountItems", "allItems": true }));
    }
    let Some(products) = items.get("products") else {
        return Err(user_error("customerGets", "Items must be all or a list of products", "INVALID"));
    };
    let mut ids: Vec<Value> = match current["__typename"].as_str() {
        Some("DiscountProducts") => current["products"]["nodes"].as_array().cloned().unwrap_or_default(),
        _ => Vec::new(),
    };
    let given = |k: &str| products[k].as_array().cloned().unwrap_or_default();
    for id in given("productsToAdd") {
        if !id.as_str().and_then(|g| gid_id("Product", g)).is_some_and(|p| s.products.contains_key(&p)) {
            return Err(user_error("customerGets", &format!("Product {id} does not exist"), "INVALID"));
        }
        let node = json!({ "id": id });
        if !ids.contains(&node) {
            ids.push(node);
        }
    }
    let remove = given("productsToRemove");
    ids.retain(|n| !remove.contains(&n["id"]));
    Ok(json!({ "__typename": "DiscountProducts", "products": { "nodes": ids }, "productVariants": { "nodes": [] } }))
}

/// Applies a `DiscountCodeBasicInput`; the user errors, if any (then nothing changes).
fn apply(s: &Inner, id: u64, d: &mut Map<String, Value>, input: &Value, creating: bool) -> Vec<Value> {
    let mut errors = Vec::new();
    let mut next = d.clone();
    for (k, v) in input.as_object().into_iter().flatten() {
        match k.as_str() {
            "title" | "usageLimit" | "appliesOncePerCustomer" | "combinesWith" | "recurringCycleLimit" => {
                next.insert(k.clone(), v.clone());
            }
            "context" | "customerSelection" => {}
            "code" => {
                let code = v.as_str().unwrap_or_default().trim();
                if code.is_empty() {
                    errors.push(user_error("code", "Code can't be blank", "BLANK"));
                } else if s.discounts.iter().any(|(other, o)| *other != id && code_of(o).eq_ignore_ascii_case(code)) {
                    errors.push(user_error("code", "Code must be unique. Please try a different code.", "TAKEN"));
                }
                next.insert("codes".into(), json!({ "nodes": [{ "code": code }] }));
            }
            "startsAt" | "endsAt" => match datetime(v) {
                Ok(t) => {
                    next.insert(k.clone(), t);
                }
                Err(()) => errors.push(user_error(k, &format!("{k} is not a valid date and time"), "INVALID")),
            },
            "customerGets" => {
                let all = json!({ "__typename": "AllDiscountItems", "allItems": true });
                let mut gets = next.get("customerGets").cloned().unwrap_or(json!({ "value": null, "items": all }));
                match v.get("value").filter(|x| !x.is_null()) {
                    Some(value) => {
                        if let Some(read) = discount_value(value, &mut errors) {
                            gets["value"] = read;
                        }
                    }
                    None if creating => errors.push(user_error("customerGets", "Value can't be blank", "BLANK")),
                    None => {}
                }
                if let Some(items) = v.get("items").filter(|x| !x.is_null()) {
                    match discount_items(s, &gets["items"], items) {
                        Ok(read) => gets["items"] = read,
                        Err(e) => errors.push(e),
                    }
                }
                next.insert("customerGets".into(), gets);
            }
            "minimumRequirement" => {
                let subtotal = v.get("subtotal").and_then(|s| amount(&s["greaterThanOrEqualToSubtotal"]));
                let read = subtotal.map(|x| {
                    json!({
                        "__typename": "DiscountMinimumSubtotal",
                        "greaterThanOrEqualToSubtotal": { "amount": decimal(x), "currencyCode": "USD" },
                    })
                });
                next.insert("minimumRequirement".into(), read.unwrap_or(Value::Null));
            }
            other => errors.push(user_error(other, &format!("Field '{other}' is not defined on the input"), "INVALID")),
        }
    }
    let blank = |f: &str| next.get(f).is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()));
    if blank("title") {
        errors.push(user_error("title", "Title can't be blank", "BLANK"));
    }
    if creating && blank("startsAt") {
        errors.push(user_error("startsAt", "Starts at can't be blank", "BLANK"));
    }
    if creating && !next.contains_key("codes") {
        errors.push(user_error("code", "Code can't be blank", "BLANK"));
    }
    if creating && !next.contains_key("customerGets") && errors.is_empty() {
        errors.push(user_error("customerGets", "Customer gets can't be blank", "BLANK"));
    }
    if let (Some(start), Some(end)) =
        (next.get("startsAt").and_then(Value::as_str), next.get("endsAt").and_then(Value::as_str))
    {
        if end < start {
            errors.push(user_error("endsAt", "Ends at needs to be after starts_at", "INVALID"));
        }
    }
    if !errors.is_empty() {
        return errors;
    }
    next.insert("__typename".into(), json!("DiscountCodeBasic"));
    for k in ["endsAt", "usageLimit", "minimumRequirement"] {
        next.entry(k).or_insert(Value::Null);
    }
    next.entry("appliesOncePerCustomer").or_insert(json!(false));
    next.insert("status".into(), json!("ACTIVE"));
    *d = next;
    Vec::new()
}

fn payload(r: Result<Value, Vec<Value>>) -> Value {
    match r {
        Ok(node) => json!({ "codeDiscountNode": node, "userErrors": [] }),
        Err(errors) => json!({ "codeDiscountNode": null, "userErrors": errors }),
    }
}

fn create(s: &mut Inner, input: &Value) -> Result<Value, Vec<Value>> {
    let mut d = Map::new();
    let errors = apply(s, 0, &mut d, input, true);
    if !errors.is_empty() {
        return Err(errors);
    }
    s.next_id += 1;
    let id = s.next_id;
    s.discounts.insert(id, d.clone());
    Ok(node_value(id, &d))
}

fn update(s: &mut Inner, gid: &Value, input: &Value) -> Result<Value, Vec<Value>> {
    let found = gid.as_str().and_then(|g| gid_id(NODE, g)).and_then(|id| s.discounts.get(&id).map(|d| (id, d.clone())));
    let Some((id, mut d)) = found else {
        return Err(vec![json!({ "field": ["id"], "message": "Discount does not exist", "code": "INVALID" })]);
    };
    let errors = apply(s, id, &mut d, input, false);
    if !errors.is_empty() {
        return Err(errors);
    }
    s.discounts.insert(id, d.clone());
    Ok(node_value(id, &d))
}

/// `codeDiscountNodes`, `codeDiscountNode(id:)` and `codeDiscountNodeByCode(code:)`; `None` for
/// any other root field.
pub(super) fn query(s: &Inner, f: &Field<'_, String>, vars: &Map<String, Value>, actual: &mut f64) -> Option<Value> {
    let one = |id: Option<u64>| {
        id.and_then(|id| s.discounts.get(&id).map(|d| select(&node_value(id, d), &f.selection_set)))
            .unwrap_or(Value::Null)
    };
    match f.name.as_str() {
        "codeDiscountNodes" => {
            Some(connection(s.discounts.keys().copied().collect(), f, vars, actual, |id, set, _| {
                s.discounts.get(&id).map(|d| select(&node_value(id, d), set)).unwrap_or(Value::Null)
            }))
        }
        "codeDiscountNode" => {
            *actual += 1.0;
            Some(one(arg(&f.arguments, "id", vars).as_str().and_then(|g| gid_id(NODE, g))))
        }
        "codeDiscountNodeByCode" => {
            *actual += 1.0;
            let code = arg(&f.arguments, "code", vars);
            let code = code.as_str().unwrap_or_default().trim();
            Some(one(s.discounts.iter().find(|(_, d)| code_of(d).eq_ignore_ascii_case(code)).map(|(id, _)| *id)))
        }
        _ => None,
    }
}

/// The discount mutations; `None` for any other field.
pub(super) fn mutate(
    s: &mut Inner,
    f: &Field<'_, String>,
    vars: &Map<String, Value>,
) -> Result<Option<Value>, GqlError> {
    let a = |name: &str| arg(&f.arguments, name, vars);
    let result = match f.name.as_str() {
        "discountCodeBasicCreate" => payload(create(s, &a("basicCodeDiscount"))),
        "discountCodeBasicUpdate" => payload(update(s, &a("id"), &a("basicCodeDiscount"))),
        "discountCodeDelete" => {
            let id = a("id");
            match id.as_str().and_then(|g| gid_id(NODE, g)).and_then(|n| s.discounts.remove(&n)) {
                Some(_) => json!({ "deletedCodeDiscountId": id, "userErrors": [] }),
                None => json!({ "deletedCodeDiscountId": null,
                                "userErrors": [{ "field": ["id"], "message": "Discount does not exist", "code": "INVALID" }] }),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(select(&result, &f.selection_set)))
}

impl super::ShopifySim {
    /// Every code discount as the API shows it (`DiscountCodeNode`).
    pub fn discounts(&self) -> Vec<Value> {
        let s = self.lock();
        s.discounts.iter().map(|(id, d)| node_value(*id, d)).collect()
    }

    /// Creates a basic code discount as `discountCodeBasicCreate` would; returns the node, or the
    /// user errors.
    pub fn add_discount(&self, input: Value) -> Result<Value, Value> {
        create(&mut self.lock(), &input).map_err(|e| json!(e))
    }
}
