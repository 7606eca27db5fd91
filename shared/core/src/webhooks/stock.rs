//! A SKU's stock from WMS events that arrive in any order, any number of times.
//!
//! The stock is the latest absolute `stock.updated` (by `occurred_at`) plus the relative
//! quantities (`stock.adjustment`, `inbound.completed`) that occurred strictly after it. An
//! older absolute update never overwrites a newer one; a delta at or before the absolute it
//! follows is already contained in it. With no absolute update yet, deltas apply to the store's
//! stock as it was when the first event arrived. The result is the same whatever the arrival
//! order, and a re-delivered event (same id) changes nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One stock fact about a SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StockFact {
    Absolute(i64),
    Delta(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuStock {
    /// The latest absolute update: `(occurred_at, event id, available)`.
    absolute: Option<(DateTime<Utc>, String, i64)>,
    /// The store's stock when the first event arrived, used until an absolute update exists.
    store_base: i64,
    /// Relative events after the absolute one (all of them while there is none), by time and id.
    #[serde(with = "delta_list")]
    deltas: BTreeMap<(DateTime<Utc>, String), i64>,
    /// The value last pushed to the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pushed: Option<i64>,
    /// A push of this SKU is queued: further changes ride on it instead of queueing another.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    push_queued: bool,
}

/// JSON maps need string keys: the deltas are stored as a list of `[time, id, delta]`.
mod delta_list {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    type Deltas = BTreeMap<(DateTime<Utc>, String), i64>;

    pub fn serialize<S: Serializer>(d: &Deltas, s: S) -> Result<S::Ok, S::Error> {
        let list: Vec<(&DateTime<Utc>, &String, &i64)> = d.iter().map(|((t, id), v)| (t, id, v)).collect();
        list.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Deltas, D::Error> {
        let list: Vec<(DateTime<Utc>, String, i64)> = Vec::deserialize(d)?;
        Ok(list.into_iter().map(|(t, id, v)| ((t, id), v)).collect())
    }
}

/// Whether applying an event changed the stock to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The stock to publish is now this.
    Changed(i64),
    /// Already applied, older than the absolute update, or contained in it.
    Unchanged,
}

impl SkuStock {
    /// A SKU first seen while the store had `store_stock`.
    pub fn new(store_stock: i64) -> Self {
        Self { absolute: None, store_base: store_stock, deltas: BTreeMap::new(), pushed: None, push_queued: false }
    }

    /// Whether a push must be queued now: the value differs from what the store was last
    /// given and no push is queued yet (then one is, from here on).
    pub fn claim_push(&mut self) -> bool {
        if self.push_queued || self.pushed == Some(self.value()) {
            return false;
        }
        self.push_queued = true;
        true
    }

    /// The store was given `value` (or refused it: `None`); the queued push is done with.
    pub fn push_done(&mut self, value: Option<i64>) {
        if value.is_some() {
            self.pushed = value;
        }
        self.push_queued = false;
    }

    /// The stock to publish.
    pub fn value(&self) -> i64 {
        let base = self.absolute.as_ref().map(|(_, _, v)| *v).unwrap_or(self.store_base);
        base + self.deltas.values().sum::<i64>()
    }

    pub fn apply(&mut self, id: &str, at: DateTime<Utc>, fact: StockFact) -> Applied {
        let before = self.value();
        match fact {
            StockFact::Absolute(available) => {
                let newer = match &self.absolute {
                    None => true,
                    Some((t, i, _)) => (at, id) > (*t, i.as_str()),
                };
                if !newer {
                    return Applied::Unchanged;
                }
                self.absolute = Some((at, id.to_string(), available));
                // Deltas at or before the absolute update are contained in it.
                self.deltas.retain(|(t, _), _| *t > at);
            }
            StockFact::Delta(d) => {
                if self.absolute.as_ref().is_some_and(|(t, _, _)| at <= *t) {
                    return Applied::Unchanged;
                }
                if self.deltas.insert((at, id.to_string()), d).is_some() {
                    return Applied::Unchanged;
                }
            }
        }
        let after = self.value();
        if after == before {
            Applied::Unchanged
        } else {
            Applied::Changed(after)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_rules() {
        let mut s = SkuStock::new(7);
        assert_eq!(s.apply("a", t(10), StockFact::Delta(-2)), Applied::Changed(5), "deltas apply to the store's stock");
        assert_eq!(s.apply("a", t(10), StockFact::Delta(-2)), Applied::Unchanged, "a re-delivery changes nothing");
        assert_eq!(s.apply("b", t(20), StockFact::Absolute(40)), Applied::Changed(40), "a newer absolute contains it");
        assert_eq!(s.apply("c", t(15), StockFact::Delta(3)), Applied::Unchanged, "contained in the newer absolute");
        assert_eq!(s.apply("d", t(5), StockFact::Absolute(1)), Applied::Unchanged, "an older absolute never wins");
        assert_eq!(s.apply("e", t(30), StockFact::Delta(5)), Applied::Changed(45));
        assert_eq!(s.apply("f", t(25), StockFact::Absolute(10)), Applied::Changed(15), "later deltas stay on top");
        let stored = serde_json::to_value(&s).unwrap();
        assert_eq!(serde_json::from_value::<SkuStock>(stored).unwrap(), s, "it round-trips through JSON");
    }

    #[test]
    fn one_push_is_queued_at_a_time_and_only_for_a_change() {
        let mut s = SkuStock::new(7);
        assert!(s.claim_push(), "never pushed: push");
        assert!(!s.claim_push(), "a push is queued: the next change rides on it");
        s.apply("a", t(1), StockFact::Delta(2));
        assert!(!s.claim_push());
        s.push_done(Some(9));
        assert!(!s.claim_push(), "the store has the value");
        s.apply("b", t(2), StockFact::Delta(-1));
        assert!(s.claim_push(), "changed since the push");
        s.push_done(None);
        assert!(s.claim_push(), "a refused push leaves the change to push");
        let stored = serde_json::to_value(&s).unwrap();
        assert_eq!(serde_json::from_value::<SkuStock>(stored).unwrap(), s);
        let old = serde_json::json!({ "absolute": null, "store_base": 3, "deltas": [] });
        assert_eq!(
            serde_json::from_value::<SkuStock>(old).unwrap(),
            SkuStock::new(3),
            "records of earlier versions read"
        );
    }

    /// The truth from the sorted log: the latest absolute plus the deltas after it.
    fn truth(store: i64, events: &[(i64, bool, i64)]) -> i64 {
        let mut sorted: Vec<&(i64, bool, i64)> = events.iter().collect();
        sorted.sort_by_key(|e| e.0);
        let last_abs = sorted.iter().rposition(|e| e.1);
        match last_abs {
            Some(i) => sorted[i].2 + sorted[i + 1..].iter().filter(|e| e.0 > sorted[i].0).map(|e| e.2).sum::<i64>(),
            None => store + sorted.iter().map(|e| e.2).sum::<i64>(),
        }
    }

    proptest! {
        #[test]
        fn any_order_and_any_duplicates_give_the_truth(
            times in proptest::collection::btree_set(0i64..10_000, 1..40),
            kinds in proptest::collection::vec((any::<bool>(), -50i64..200), 40),
            order in proptest::collection::vec(any::<proptest::sample::Index>(), 80),
            store in 0i64..100,
        ) {
            let events: Vec<(i64, bool, i64)> = times.iter().zip(kinds).map(|(&at, (abs, v))| (at, abs, v)).collect();
            let mut s = SkuStock::new(store);
            // Every event arrives once in a shuffled order, and some arrive again.
            let mut arrivals: Vec<usize> = (0..events.len()).collect();
            for (i, ix) in order.iter().enumerate().take(events.len()) {
                let j = ix.index(events.len());
                arrivals.swap(i, j);
            }
            arrivals.extend(order.iter().skip(events.len()).take(10).map(|ix| ix.index(events.len())));
            for &i in &arrivals {
                let (at, abs, v) = events[i];
                let fact = if abs { StockFact::Absolute(v) } else { StockFact::Delta(v) };
                s.apply(&format!("e{i}"), t(at), fact);
            }
            prop_assert_eq!(s.value(), truth(store, &events));
        }
    }
}
