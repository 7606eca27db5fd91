//! Per-entity ordering: an event whose prerequisite has not been applied is parked, and
//! released the moment the prerequisite is applied (not on a timer). Past the deadlock timeout a
//! parked event is resolved by reconciling the entity from the WMS instead of waiting forever.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The default wait before a parked event is reconciled from the source.
pub const DEADLOCK_TIMEOUT_MINUTES: i64 = 15;

/// An event waiting for its prerequisite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parked {
    pub event_id: String,
    pub event_type: String,
    pub waiting_for: String,
    pub parked_at: DateTime<Utc>,
    /// The queued message to send again when released.
    #[serde(default)]
    pub message: String,
}

/// A prerequisite that never arrived and was taken from the source instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciled {
    pub at: DateTime<Utc>,
    /// The event type that never arrived.
    pub missing: String,
    /// The parked event that waited for it.
    pub for_event: String,
    /// What the source said.
    pub found: String,
}

/// What is known of one entity (an order, a shipment, an inbound).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityProgress {
    /// Event types applied so far.
    pub applied: BTreeSet<String>,
    /// Event ids applied so far (an event is applied once, whatever its delivery id).
    pub applied_ids: BTreeSet<String>,
    pub parked: Vec<Parked>,
    /// Written by earlier versions before an event's effects (now a message's receive count
    /// tells a later attempt to check the store for effects already made); still honoured.
    #[serde(default)]
    pub pending: Option<String>,
    #[serde(default)]
    pub reconciled: Vec<Reconciled>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Apply it now.
    Apply,
    /// Already applied: acknowledge and do nothing.
    Duplicate,
    /// Wait for the prerequisite; it is released when that is applied.
    Park { waiting_for: String },
}

impl EntityProgress {
    /// What to do with event `id` of `event_type` whose prerequisite is `prerequisite`.
    pub fn decide(
        &mut self,
        id: &str,
        event_type: &str,
        prerequisite: Option<&str>,
        now: DateTime<Utc>,
        message: &str,
    ) -> Decision {
        if self.applied_ids.contains(id) {
            return Decision::Duplicate;
        }
        match prerequisite {
            Some(p) if !self.applied.contains(p) => {
                if !self.parked.iter().any(|x| x.event_id == id) {
                    self.parked.push(Parked {
                        event_id: id.to_string(),
                        event_type: event_type.to_string(),
                        waiting_for: p.to_string(),
                        parked_at: now,
                        message: message.to_string(),
                    });
                }
                Decision::Park { waiting_for: p.to_string() }
            }
            _ => Decision::Apply,
        }
    }

    /// Records that event `id` of `event_type` was applied; returns the parked events it
    /// releases, in the order they were parked.
    pub fn applied(&mut self, id: &str, event_type: &str) -> Vec<Parked> {
        self.applied.insert(event_type.to_string());
        self.applied_ids.insert(id.to_string());
        self.parked.retain(|p| p.event_id != id);
        let (released, waiting): (Vec<Parked>, Vec<Parked>) =
            self.parked.drain(..).partition(|p| self.applied.contains(&p.waiting_for));
        self.parked = waiting;
        released
    }

    /// Parked events that have waited longer than `timeout`: reconcile the entity from the source.
    pub fn overdue(&self, now: DateTime<Utc>, timeout: Duration) -> Vec<&Parked> {
        self.parked.iter().filter(|p| now - p.parked_at > timeout).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(m: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000, 0).unwrap() + Duration::minutes(m)
    }

    #[test]
    fn an_update_before_its_create_waits_and_is_released_by_it() {
        let mut o = EntityProgress::default();
        assert_eq!(
            o.decide("e2", "order.updated", Some("order.created"), t(0), ""),
            Decision::Park { waiting_for: "order.created".into() }
        );
        assert_eq!(
            o.decide("e3", "order.shipped", Some("order.created"), t(1), ""),
            Decision::Park { waiting_for: "order.created".into() }
        );
        assert_eq!(
            o.decide("e2", "order.updated", Some("order.created"), t(1), ""),
            Decision::Park { waiting_for: "order.created".into() }
        );
        assert_eq!(o.parked.len(), 2, "a re-delivered parked event is parked once");
        assert_eq!(o.decide("e1", "order.created", None, t(2), ""), Decision::Apply);
        let released: Vec<String> = o.applied("e1", "order.created").into_iter().map(|p| p.event_id).collect();
        assert_eq!(released, ["e2", "e3"], "released at once, in the order they came");
        assert_eq!(o.decide("e1", "order.created", None, t(3), ""), Decision::Duplicate);
        assert_eq!(o.decide("e2", "order.updated", Some("order.created"), t(3), ""), Decision::Apply);
    }

    #[test]
    fn a_prerequisite_that_never_comes_is_overdue_after_the_timeout() {
        let mut o = EntityProgress::default();
        o.decide("s2", "shipment.updated", Some("shipment.created"), t(0), "");
        let timeout = Duration::minutes(DEADLOCK_TIMEOUT_MINUTES);
        assert!(o.overdue(t(15), timeout).is_empty());
        assert_eq!(o.overdue(t(16), timeout)[0].event_id, "s2");
    }
}
