//! Product versions: every change applied to a store product (by the supplier feed, Xorosoft,
//! an operator, or seen in Shopify) is a version: who or what, when, the product's fields
//! after it, and the changes (before/after). History reads oldest first; restoring version *n*
//! is a new version whose fields are *n*'s.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::stores::catalog::FieldChange;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductVersion {
    /// The store product (its id in the store).
    pub product: String,
    /// 1, 2, …: versions of a product are numbered without gaps.
    pub number: u64,
    pub at: DateTime<Utc>,
    /// Who or what made it: `supplier-feed run-1`, `xorosoft`, `shopify`, `operator dana`,
    /// `restore of 3 by dana`.
    pub source: String,
    /// The product's fields after it.
    pub fields: BTreeMap<String, Value>,
    /// What changed from the version before.
    pub changes: Vec<FieldChange>,
}

/// The changes from `before` to `after` (every field of either; a field gone is null).
pub fn changes(before: &BTreeMap<String, Value>, after: &BTreeMap<String, Value>) -> Vec<FieldChange> {
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|f| {
            let (b, a) = (before.get(f).cloned().unwrap_or(Value::Null), after.get(f).cloned().unwrap_or(Value::Null));
            (b != a).then(|| FieldChange { field: f.clone(), before: b, after: a })
        })
        .collect()
}

/// The next version of a product whose history is `history` (oldest first): its fields become
/// `fields`.
pub fn next(
    history: &[ProductVersion],
    product: &str,
    fields: BTreeMap<String, Value>,
    source: &str,
    at: DateTime<Utc>,
) -> ProductVersion {
    let last = history.last();
    let empty = BTreeMap::new();
    ProductVersion {
        product: product.to_string(),
        number: last.map_or(1, |v| v.number + 1),
        at,
        source: source.to_string(),
        changes: changes(last.map_or(&empty, |v| &v.fields), &fields),
        fields,
    }
}

/// A version restoring `number`: the product's fields become what they were then. A field
/// first recorded after it (its value from before storesync touched it) is taken from the first
/// later version that has it.
pub fn restore(history: &[ProductVersion], number: u64, who: &str, at: DateTime<Utc>) -> Option<ProductVersion> {
    let target = history.iter().find(|v| v.number == number)?;
    let mut fields = target.fields.clone();
    for later in history.iter().filter(|v| v.number > number) {
        for (k, v) in &later.fields {
            fields.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let product = target.product.clone();
    Some(next(history, &product, fields, &format!("restore of {number} by {who}"), at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn versions_number_their_changes_and_a_restore_puts_the_fields_back_exactly() {
        let t = Utc::now();
        let v1 = next(&[], "p1", fields(json!({ "name": "Pen", "price": "1.00" })), "supplier-feed run-1", t);
        assert_eq!((v1.number, v1.changes.len()), (1, 2));
        let v2 = next(std::slice::from_ref(&v1), "p1", fields(json!({ "name": "Pen", "price": "1.20" })), "shopify", t);
        assert_eq!(v2.number, 2);
        assert_eq!(
            v2.changes,
            vec![FieldChange { field: "price".into(), before: json!("1.00"), after: json!("1.20") }]
        );
        // The vendor storesync first touches later: its value before is recorded first.
        let mut history = vec![v1.clone(), v2.clone()];
        let base = next(
            &history,
            "p1",
            fields(json!({ "name": "Pen", "price": "1.20", "vendor": "Acme" })),
            "shopify (before storesync)",
            t,
        );
        history.push(base);
        let v4 = next(
            &history,
            "p1",
            fields(json!({ "name": "Pen", "price": "1.20", "vendor": "Bic" })),
            "supplier-feed r",
            t,
        );
        history.push(v4);
        let back = restore(&history, 1, "dana", t).unwrap();
        assert_eq!((back.number, back.source.as_str()), (5, "restore of 1 by dana"));
        assert_eq!(back.fields, fields(json!({ "name": "Pen", "price": "1.00", "vendor": "Acme" })));
        assert_eq!(back.changes.len(), 2, "price and vendor back: {:?}", back.changes);
        assert_eq!(restore(&history, 9, "dana", t), None);
    }
}
