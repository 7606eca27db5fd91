//! The conflict policy: a field changed both in Shopify and here (by the supplier feed,
//! Xorosoft or an operator) since the last sync is decided field by field, and every decision
//! carries its explanation.
//!
//! The default policy is the seed's decision tree:
//! - price: Shopify's and ours differ by less than 5 % (of ours) → Shopify's; else a person;
//! - inventory: Shopify's is 0 → Xorosoft's (ours); both above 0 and less than 10 apart → the
//!   lower; else a person;
//! - description: ours came from the supplier feed → the feed's; else (edited by hand in
//!   Shopify against an operator's or Xorosoft's change) a person;
//! - any other field: the first of the two sources in its configured priority list, if it has
//!   one; else a person.
//!
//! [`merge`] applies it to whole products: a field changed on one side only takes that side's
//! value; changed on both to the same value is no conflict; the rest go through [`decide`].
//! Nothing is lost: every field that differs from the base ends up either with a value and the
//! rule that chose it, or in manual review with both values and the reason.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who changed a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// In Shopify's admin (by hand, or an app other than storesync).
    Shopify,
    /// The supplier content feed (Etilize).
    SupplierFeed,
    /// The distributor's ERP/WMS.
    Xorosoft,
    /// A person, through storesync's review.
    Operator,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Shopify => "Shopify",
            Source::SupplierFeed => "the supplier feed",
            Source::Xorosoft => "Xorosoft",
            Source::Operator => "an operator",
        })
    }
}

/// One field changed on both sides since the last sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub field: String,
    /// The value at the last sync.
    pub base: Value,
    /// Shopify's value now.
    pub remote: Value,
    /// Ours now, and who set it.
    pub local: Value,
    pub local_source: Source,
}

/// What the policy decided for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Shopify's value stands.
    Remote,
    /// Ours is written to Shopify.
    Local,
    /// Waits for a person.
    Manual,
}

/// A decision with its explanation; `value` is what the field becomes (none when manual).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub field: String,
    pub outcome: Outcome,
    pub value: Option<Value>,
    /// The rule that decided (`price.within_tolerance`, `priority`, …).
    pub rule: String,
    pub explanation: String,
    /// Both sides, for a person to see.
    pub remote: Value,
    pub local: Value,
    pub local_source: Option<Source>,
}

/// The policy (TOML in the configuration); the default is the seed's tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConflictPolicy {
    /// Prices closer than this percentage of ours take Shopify's.
    pub price_tolerance_percent: f64,
    /// Stocks both above 0 and closer than this take the lower.
    pub inventory_tolerance_units: i64,
    /// Fields decided by who changed them: the first source listed wins.
    pub priorities: BTreeMap<String, Vec<Source>>,
}

impl Default for ConflictPolicy {
    fn default() -> Self {
        Self { price_tolerance_percent: 5.0, inventory_tolerance_units: 10, priorities: BTreeMap::new() }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct PolicyError {
    pub file: String,
    pub message: String,
}

impl ConflictPolicy {
    pub fn from_toml(file: &str, text: &str) -> Result<Self, PolicyError> {
        let p: Self = toml::from_str(text).map_err(|e| PolicyError { file: file.into(), message: e.to_string() })?;
        if p.price_tolerance_percent.is_nan() || p.price_tolerance_percent < 0.0 || p.inventory_tolerance_units < 0 {
            return Err(PolicyError { file: file.into(), message: "tolerances cannot be negative".into() });
        }
        Ok(p)
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Decides one conflict by `policy` (see the module).
pub fn decide(c: &Conflict, policy: &ConflictPolicy) -> Decision {
    let d = |outcome: Outcome, value: Option<Value>, rule: &str, explanation: String| Decision {
        field: c.field.clone(),
        outcome,
        value,
        rule: rule.to_string(),
        explanation,
        remote: c.remote.clone(),
        local: c.local.clone(),
        local_source: Some(c.local_source),
    };
    let remote = || Some(c.remote.clone());
    let local = || Some(c.local.clone());
    let (r, l) = (&c.remote, &c.local);
    match c.field.as_str() {
        "price" => {
            match (number(r), number(l)) {
                (Some(rv), Some(lv)) if lv > 0.0 => {
                    let percent = (rv - lv).abs() / lv * 100.0;
                    let tol = policy.price_tolerance_percent;
                    if percent < tol {
                        d(Outcome::Remote, remote(), "price.within_tolerance", format!("Shopify's price {r} is {percent:.1} % from {}'s {l} (under {tol} %): Shopify's is kept", c.local_source))
                    } else {
                        d(Outcome::Manual, None, "price.beyond_tolerance", format!("Shopify's price {r} is {percent:.1} % from {}'s {l} (at least {tol} %): a person decides", c.local_source))
                    }
                }
                _ => d(
                    Outcome::Manual,
                    None,
                    "price.unreadable",
                    format!("the prices {r} and {l} cannot be compared: a person decides"),
                ),
            }
        }
        "inventory" => match (number(r), number(l)) {
            (Some(0.0), Some(_)) => d(
                Outcome::Local,
                local(),
                "inventory.shopify_empty",
                format!("Shopify's stock is 0: {}'s {l} is taken", c.local_source),
            ),
            (Some(rv), Some(lv)) if rv > 0.0 && lv > 0.0 => {
                let apart = (rv - lv).abs();
                let tol = policy.inventory_tolerance_units as f64;
                if apart < tol {
                    let (outcome, value) =
                        if rv <= lv { (Outcome::Remote, remote()) } else { (Outcome::Local, local()) };
                    d(
                        outcome,
                        value,
                        "inventory.take_lower",
                        format!(
                            "Shopify's stock {r} and {}'s {l} are {apart} apart (under {tol}): the lower is taken",
                            c.local_source
                        ),
                    )
                } else {
                    d(
                        Outcome::Manual,
                        None,
                        "inventory.beyond_tolerance",
                        format!(
                            "Shopify's stock {r} and {}'s {l} are {apart} apart (at least {tol}): a person decides",
                            c.local_source
                        ),
                    )
                }
            }
            _ => d(
                Outcome::Manual,
                None,
                "inventory.uncovered",
                format!("Shopify's stock {r} and {}'s {l}: no rule covers these, a person decides", c.local_source),
            ),
        },
        "description" if c.local_source == Source::SupplierFeed => d(
            Outcome::Local,
            local(),
            "description.feed_wins",
            "the supplier feed changed the description: the feed's is taken".into(),
        ),
        "description" => d(
            Outcome::Manual,
            None,
            "description.hand_edit",
            format!(
                "the description was edited by hand in Shopify and changed by {}: a person decides",
                c.local_source
            ),
        ),
        field => match policy.priorities.get(field) {
            Some(order) => {
                let rank = |s: Source| order.iter().position(|o| *o == s);
                match (rank(Source::Shopify), rank(c.local_source)) {
                    (Some(a), Some(b)) if a < b => d(
                        Outcome::Remote,
                        remote(),
                        "priority",
                        format!("{field}: Shopify comes before {} in its priority: Shopify's is kept", c.local_source),
                    ),
                    (Some(_), Some(_)) | (None, Some(_)) => d(
                        Outcome::Local,
                        local(),
                        "priority",
                        format!("{field}: {} comes before Shopify in its priority: it is taken", c.local_source),
                    ),
                    (Some(_), None) => d(
                        Outcome::Remote,
                        remote(),
                        "priority",
                        format!("{field}: only Shopify is in its priority: Shopify's is kept"),
                    ),
                    (None, None) => d(
                        Outcome::Manual,
                        None,
                        "priority.unlisted",
                        format!("{field}: neither Shopify nor {} is in its priority: a person decides", c.local_source),
                    ),
                }
            }
            None => d(Outcome::Manual, None, "no_rule", format!("{field} has no rule: a person decides")),
        },
    }
}

/// A whole product's fields merged from the last sync's `base`, Shopify's `remote` and our
/// `local`: what to write, and what waits for a person.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Merge {
    /// Every field that changed on either side, with its decision.
    pub decisions: Vec<Decision>,
}

impl Merge {
    /// The fields decided, with their values.
    pub fn values(&self) -> Map<String, Value> {
        self.decisions.iter().filter_map(|d| d.value.clone().map(|v| (d.field.clone(), v))).collect()
    }

    pub fn manual(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| d.outcome == Outcome::Manual)
    }
}

/// Merges field by field (see the module). A field absent on a side is null there.
pub fn merge(
    base: &Map<String, Value>,
    remote: &Map<String, Value>,
    local: &Map<String, Value>,
    local_source: Source,
    policy: &ConflictPolicy,
) -> Merge {
    let mut fields: Vec<&String> = base.keys().chain(remote.keys()).chain(local.keys()).collect();
    fields.sort();
    fields.dedup();
    let get = |m: &Map<String, Value>, f: &str| m.get(f).cloned().unwrap_or(Value::Null);
    let mut decisions = Vec::new();
    for f in fields {
        let (b, r, l) = (get(base, f), get(remote, f), get(local, f));
        let one = |outcome, value: &Value, rule: &str, explanation: String| Decision {
            field: f.clone(),
            outcome,
            value: Some(value.clone()),
            rule: rule.into(),
            explanation,
            remote: r.clone(),
            local: l.clone(),
            local_source: Some(local_source),
        };
        match (r != b, l != b) {
            (false, false) => {}
            (true, false) => {
                decisions.push(one(Outcome::Remote, &r, "remote_only", format!("{f}: changed in Shopify only")))
            }
            (false, true) => {
                decisions.push(one(Outcome::Local, &l, "local_only", format!("{f}: changed by {local_source} only")))
            }
            (true, true) if r == l => decisions.push(one(
                Outcome::Remote,
                &r,
                "same_change",
                format!("{f}: changed to the same value on both sides"),
            )),
            (true, true) => {
                let c = Conflict { field: f.clone(), base: b, remote: r.clone(), local: l.clone(), local_source };
                decisions.push(decide(&c, policy));
            }
        }
    }
    Merge { decisions }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn conflict(field: &str, remote: Value, local: Value, source: Source) -> Conflict {
        Conflict { field: field.into(), base: json!("base"), remote, local, local_source: source }
    }

    fn outcome(field: &str, remote: Value, local: Value, source: Source) -> (Outcome, Option<Value>, String) {
        let d = decide(&conflict(field, remote, local, source), &ConflictPolicy::default());
        (d.outcome, d.value, d.rule)
    }

    #[test]
    fn every_branch_of_the_seeds_tree() {
        use Outcome::*;
        use Source::*;
        // Price: under 5 % of ours → Shopify's; at 5 % or more → a person; unreadable → a person.
        assert_eq!(
            outcome("price", json!("104.99"), json!("100.00"), SupplierFeed),
            (Remote, Some(json!("104.99")), "price.within_tolerance".into())
        );
        assert_eq!(outcome("price", json!("95.01"), json!(100), Xorosoft).0, Remote);
        assert_eq!(
            outcome("price", json!("105.00"), json!("100.00"), SupplierFeed),
            (Manual, None, "price.beyond_tolerance".into())
        );
        assert_eq!(outcome("price", json!("80"), json!("100"), Operator).0, Manual);
        assert_eq!(outcome("price", json!("n/a"), json!("100"), Operator).2, "price.unreadable");
        // Inventory: Shopify 0 → Xorosoft's; both > 0, under 10 apart → the lower; else a person.
        assert_eq!(
            outcome("inventory", json!(0), json!(42), Xorosoft),
            (Local, Some(json!(42)), "inventory.shopify_empty".into())
        );
        assert_eq!(
            outcome("inventory", json!(15), json!(9), Xorosoft),
            (Local, Some(json!(9)), "inventory.take_lower".into())
        );
        assert_eq!(
            outcome("inventory", json!(7), json!(12), Xorosoft),
            (Remote, Some(json!(7)), "inventory.take_lower".into())
        );
        assert_eq!(
            outcome("inventory", json!(30), json!(20), Xorosoft),
            (Manual, None, "inventory.beyond_tolerance".into())
        );
        assert_eq!(outcome("inventory", json!(5), json!(0), Xorosoft), (Manual, None, "inventory.uncovered".into()));
        // Description: the feed's change wins; a hand edit against anyone else's is a person's.
        assert_eq!(
            outcome("description", json!("<p>mine</p>"), json!("<p>feed</p>"), SupplierFeed),
            (Local, Some(json!("<p>feed</p>")), "description.feed_wins".into())
        );
        assert_eq!(
            outcome("description", json!("<p>mine</p>"), json!("<p>op</p>"), Operator),
            (Manual, None, "description.hand_edit".into())
        );
        // Any other field: a priority rule, else a person.
        assert_eq!(outcome("title", json!("A"), json!("B"), SupplierFeed), (Manual, None, "no_rule".into()));
        let policy = ConflictPolicy::from_toml("policy.toml", "[priorities]\ntitle = [\"shopify\", \"supplier_feed\"]\nvendor = [\"supplier_feed\"]\nbarcode = [\"operator\"]\n").unwrap();
        let with = |field: &str, source| decide(&conflict(field, json!("remote"), json!("local"), source), &policy);
        assert_eq!(with("title", SupplierFeed).value, Some(json!("remote")));
        assert_eq!(with("vendor", SupplierFeed).value, Some(json!("local")));
        assert_eq!(with("barcode", Xorosoft).outcome, Manual);
        let d = decide(&conflict("price", json!("120"), json!("100"), SupplierFeed), &policy);
        assert_eq!(
            d.explanation,
            "Shopify's price \"120\" is 20.0 % from the supplier feed's \"100\" (at least 5 %): a person decides"
        );
        assert!(ConflictPolicy::from_toml("p.toml", "price_tolerance_percent = -1").is_err());
        assert!(ConflictPolicy::from_toml("p.toml", "color = 1").unwrap_err().to_string().starts_with("p.toml: "));
    }

    #[test]
    fn a_merge_takes_one_sided_changes_and_decides_the_rest() {
        let base = json!({ "title": "Pen", "price": "10.00", "inventory": 5, "vendor": "Bic" });
        let remote = json!({ "title": "Pen!", "price": "10.20", "inventory": 5, "vendor": "Bic" });
        let local =
            json!({ "title": "Pen", "price": "10.00", "inventory": 8, "vendor": "BIC", "barcode": "036000291452" });
        let m = merge(
            base.as_object().unwrap(),
            remote.as_object().unwrap(),
            local.as_object().unwrap(),
            Source::Xorosoft,
            &ConflictPolicy::default(),
        );
        assert_eq!(
            Value::Object(m.values()),
            json!({ "title": "Pen!", "price": "10.20", "inventory": 8, "vendor": "BIC", "barcode": "036000291452" })
        );
        assert_eq!(m.manual().count(), 0);
        let local = json!({ "title": "Pen", "price": "12.00", "inventory": 5, "vendor": "Bic" });
        let m = merge(
            base.as_object().unwrap(),
            remote.as_object().unwrap(),
            local.as_object().unwrap(),
            Source::SupplierFeed,
            &ConflictPolicy::default(),
        );
        let manual: Vec<&str> = m.manual().map(|d| d.field.as_str()).collect();
        assert_eq!(manual, vec!["price"]);
        assert_eq!(Value::Object(m.values()), json!({ "title": "Pen!" }));
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            (0i64..40).prop_map(Value::from),
            (0u32..20000).prop_map(|c| Value::from(format!("{}.{:02}", c / 100, c % 100))),
            "[a-c]{0,3}".prop_map(Value::from),
        ]
    }

    fn source() -> impl Strategy<Value = Source> {
        prop_oneof![Just(Source::SupplierFeed), Just(Source::Xorosoft), Just(Source::Operator)]
    }

    proptest! {
        /// Nothing is lost: every field that differs from the base on either side is decided
        /// once, with a value taken from a side and an explanation, or
        /// waits for a person with both values.
        #[test]
        fn the_policy_never_loses_a_change(
            fields in proptest::collection::btree_map(
                prop_oneof![Just("price".to_string()), Just("inventory".to_string()), Just("description".to_string()), Just("title".to_string()), Just("vendor".to_string())],
                (value(), value(), value()),
                1..5,
            ),
            source in source(),
            prioritised in any::<bool>(),
        ) {
            let mut policy = ConflictPolicy::default();
            if prioritised {
                policy.priorities.insert("vendor".into(), vec![Source::Operator, Source::Shopify]);
            }
            let (mut base, mut remote, mut local) = (Map::new(), Map::new(), Map::new());
            for (f, (b, r, l)) in &fields {
                base.insert(f.clone(), b.clone());
                remote.insert(f.clone(), r.clone());
                local.insert(f.clone(), l.clone());
            }
            let m = merge(&base, &remote, &local, source, &policy);
            for (f, (b, r, l)) in &fields {
                let ds: Vec<&Decision> = m.decisions.iter().filter(|d| &d.field == f).collect();
                if r == b && l == b {
                    prop_assert!(ds.is_empty());
                    continue;
                }
                prop_assert_eq!(ds.len(), 1, "{}: {:?}", f, ds);
                let d = ds[0];
                prop_assert!(!d.explanation.is_empty() && !d.rule.is_empty());
                match d.outcome {
                    Outcome::Manual => prop_assert!(d.value.is_none() && &d.remote == r && &d.local == l),
                    _ => {
                        let v = d.value.clone().unwrap();
                        prop_assert!(&v == r || &v == l, "{}: {:?}", f, d);
                    }
                }
                // A change on one side only is never overridden by the unchanged side.
                if r == b { prop_assert_eq!(d.value.as_ref(), Some(l)); }
                if l == b { prop_assert_eq!(d.value.as_ref(), Some(r)); }
            }
        }
    }
}
