//! Review of staged supplier entries on the ports, for the admin API and the CLI: a person's
//! decision on one entry (approve, approve some fields, reject), or on every pending entry a
//! filter picks. Each decision is a compare-and-set on the entry's revision (two reviewers never
//! both win), audited (who, when, before/after), and an approval queues the entry's apply.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::staging::{entry_id, review, Review, ReviewError, StagedAction, StagingEntry, StagingStatus};
use super::worker::ApplyMessage;
use crate::ports::{AuditEntry, PortError, Ports, StagingQuery};

#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error("no staged entry {0}")]
    Unknown(String),
    #[error(transparent)]
    Refused(#[from] ReviewError),
    #[error("{0} was decided by someone else meanwhile: read it again")]
    Raced(String),
    #[error("a bulk decision approves or rejects whole entries: approve some fields one entry at a time")]
    PartialBulk,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Takes `decision` on the entry of `sku` in `run`, as `who`.
pub async fn decide(
    ports: &Ports,
    run: &str,
    sku: &str,
    decision: &Review,
    who: &str,
) -> Result<StagingEntry, DecisionError> {
    let id = entry_id(run, sku);
    let entry = ports.staging.get(&id).await?.ok_or_else(|| DecisionError::Unknown(id.clone()))?;
    take(ports, &entry, decision, who).await
}

async fn take(
    ports: &Ports,
    entry: &StagingEntry,
    decision: &Review,
    who: &str,
) -> Result<StagingEntry, DecisionError> {
    let decided = review(entry, decision, who, ports.clock.now())?;
    let context = json!({ "fields": decided.approved_fields });
    if !write_decision(ports, entry, &decided, decision, who, context).await? {
        return Err(DecisionError::Raced(entry.id.clone()));
    }
    if decided.status == StagingStatus::Approved {
        ApplyMessage::entries(std::slice::from_ref(&decided.id)).send(ports).await?;
    }
    Ok(decided)
}

/// Writes a decision (compare-and-set on the revision) and audits it with `context`; false
/// when someone else decided meanwhile (nothing written).
async fn write_decision(
    ports: &Ports,
    entry: &StagingEntry,
    decided: &StagingEntry,
    decision: &Review,
    who: &str,
    context: serde_json::Value,
) -> Result<bool, PortError> {
    if !ports.staging.update(decided, entry.revision).await? {
        return Ok(false);
    }
    let mut after = json!({ "status": decided.status, "decision": decision });
    if let (Some(a), Some(c)) = (after.as_object_mut(), context.as_object()) {
        a.extend(c.clone());
    }
    ports
        .audit
        .record(&AuditEntry {
            at: ports.clock.now(),
            who: who.to_string(),
            action: "supplier.review".into(),
            target: format!("supplier/{}", entry.id),
            before: json!({ "status": entry.status, "confidence": entry.confidence }),
            after,
        })
        .await?;
    Ok(true)
}

/// Which pending entries a bulk decision takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// One run's entries (else every run's).
    pub run: Option<String>,
    /// Confidence at least this.
    pub min_confidence: Option<u8>,
    pub max_confidence: Option<u8>,
    /// `create` or `update` only.
    pub action: Option<StagedAction>,
}

impl Filter {
    fn picks(&self, e: &StagingEntry) -> bool {
        self.min_confidence.is_none_or(|m| e.confidence >= m)
            && self.max_confidence.is_none_or(|m| e.confidence <= m)
            && self.action.is_none_or(|a| e.action == a)
    }
}

/// What a bulk decision did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BulkOutcome {
    pub decided: u64,
    /// Entries someone else decided meanwhile (left as they are).
    pub raced: Vec<String>,
}

/// Takes `decision` (approve or reject: a partial approval names one entry's fields) on every
/// pending entry `filter` picks; approvals are queued for apply 100 a message.
pub async fn decide_all(
    ports: &Ports,
    filter: &Filter,
    decision: &Review,
    who: &str,
) -> Result<BulkOutcome, DecisionError> {
    if matches!(decision, Review::ApproveFields { .. }) {
        return Err(DecisionError::Refused(ReviewError::NoFields {
            id: "a bulk decision approves or rejects whole entries".into(),
        }));
    }
    let mut out = BulkOutcome::default();
    let mut after = None;
    let mut approved = Vec::new();
    loop {
        let page = ports
            .staging
            .list(StagingStatus::Pending, &StagingQuery { run: filter.run.clone(), after: after.clone(), limit: 500 })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for e in page.iter().filter(|e| filter.picks(e)) {
            let decided = match review(e, decision, who, ports.clock.now()) {
                Ok(d) => d,
                Err(_) => continue,
            };
            if !write_decision(ports, e, &decided, decision, who, json!({ "bulk": filter })).await? {
                out.raced.push(e.id.clone());
                continue;
            }
            out.decided += 1;
            if decided.status == StagingStatus::Approved {
                approved.push(decided.id);
            }
        }
    }
    for ids in approved.chunks(100) {
        ApplyMessage::entries(ids).send(ports).await?;
    }
    Ok(out)
}
