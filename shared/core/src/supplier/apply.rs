//! Applying approved staging entries to the store (through the store-sync catalog port:
//! Shopify's `productSet`, rate limited, in chunks), each recorded as a product version.
//!
//! - Entries go 25 a call, a product at most once a call (each write sets the product whole).
//! - A CREATE writes the new product (published, with the distributor's stock at the
//!   configured location); an UPDATE writes only its approved fields over the product.
//! - Before an UPDATE, the product is read as it is now: a field Shopify changed since the entry
//!   was staged (someone edited it there) is a conflict, decided by the conflict policy: Shopify's
//!   stands (the field is left out), the feed's is written, or a person decides — then the
//!   entry goes back to review with both values and the policy's reason, and nothing of it is
//!   written. Shopify's edit is kept as a version (`shopify`) either way. A person who approves
//!   an entry after seeing its conflict has decided it.
//! - On a redelivery (the queue's second receive or later) a CREATE looks the SKU up first,
//!   so a create whose answer was lost is not made twice.
//! - Each applied entry gets versions: when it changes fields storesync has not recorded for the
//!   product yet, first the store's values of those before the change (`shopify (before
//!   storesync)`), then the change (`supplier-feed {run}`, or the reviewer who approved it). The entry is then `applied`
//!   with the product's id; an entry the store refuses is `failed` with the store's words; a
//!   store error that is worth a retry fails the whole message (the queue retries it, then its
//!   dead-letter queue keeps it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::conflict::{decide, Conflict, ConflictPolicy, Decision, Outcome, Source};
use super::pipeline::SupplierError;
use super::staging::{approved_changes, kind_of, StagedAction, StagingEntry, StagingStatus};
use super::versions::{next, ProductVersion};
use crate::ports::{AuditEntry, Ports};
use crate::stores::catalog::{canonical, same, Action, DataType};
use crate::stores::catalog_sync::{CatalogOutcome, CatalogStore, CatalogWrite, CATALOG_CHUNK};

/// What an apply did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub applied: Vec<String>,
    /// The applied entries' SKUs, as the store has them.
    #[serde(default)]
    pub applied_skus: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// Entries not approved (any more): rejected, applied already, or unknown.
    pub skipped: Vec<String>,
    /// Entries back in review: Shopify changed a field they change, and the policy asks a person.
    pub held: Vec<String>,
}

/// What the store's current values mean for an UPDATE entry.
#[derive(Default)]
struct Check {
    /// Fields not to write (Shopify's stands, or it holds the value already).
    drop: Vec<String>,
    /// Fields Shopify changed since staging, with their values now.
    moved: Vec<(String, Value)>,
    decisions: Vec<Decision>,
}

/// Compares an UPDATE's changes with the product as it is now (see the module).
fn check(entry: &StagingEntry, now: &BTreeMap<String, Value>, policy: &ConflictPolicy) -> Check {
    let mut out = Check::default();
    let reviewed = entry.decided_by.as_deref().is_some_and(|w| w != "auto");
    for c in approved_changes(entry) {
        let kind = kind_of(&c.field);
        let current = canonical(kind, now.get(&c.field).unwrap_or(&Value::Null));
        if same(kind, &current, &c.before) {
            continue;
        }
        if same(kind, &current, &c.after) {
            out.drop.push(c.field.clone());
            continue;
        }
        out.moved.push((c.field.clone(), current.clone()));
        let seen = entry.conflicts.iter().any(|d| d.field == c.field && same(kind, &d.remote, &current));
        let d = if reviewed && seen {
            Decision {
                field: c.field.clone(),
                outcome: Outcome::Local,
                value: Some(c.after.clone()),
                rule: "reviewed".into(),
                explanation: format!(
                    "{} chose the feed's value after seeing Shopify's",
                    entry.decided_by.clone().unwrap_or_default()
                ),
                remote: current,
                local: c.after.clone(),
                local_source: Some(Source::SupplierFeed),
            }
        } else {
            let conflict = Conflict {
                field: c.field.clone(),
                base: c.before.clone(),
                remote: current,
                local: c.after.clone(),
                local_source: Source::SupplierFeed,
            };
            decide(&conflict, policy)
        };
        if d.outcome == Outcome::Remote {
            out.drop.push(c.field.clone());
        }
        out.decisions.push(d);
    }
    out
}

/// The write an approved entry makes.
fn write_of(entry: &StagingEntry, location: Option<&str>) -> CatalogWrite {
    let mut fields: BTreeMap<String, Value> =
        approved_changes(entry).into_iter().map(|c| (c.field.clone(), c.after.clone())).collect();
    let action = match entry.action {
        StagedAction::Create => {
            fields.insert("sku".into(), json!(entry.sku));
            fields.insert("status".into(), json!("publish"));
            if let Some(loc) = location {
                fields.insert("inventory_location".into(), json!(loc));
            }
            Action::Create
        }
        StagedAction::Update => {
            fields.remove("inventory");
            Action::Update
        }
    };
    CatalogWrite { action, id: entry.product.clone(), key: entry.sku.clone(), fields }
}

/// Entries in chunks of at most [`CATALOG_CHUNK`], a product at most once a chunk: a
/// product's writes in one call would each set it whole from the same reading, the last
/// undoing the others.
fn chunks(entries: &[StagingEntry]) -> Vec<&[StagingEntry]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen: Vec<&str> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let product = e.product.as_deref();
        let repeat = product.is_some_and(|p| seen.contains(&p));
        if i > start && (repeat || i - start == CATALOG_CHUNK) {
            out.push(&entries[start..i]);
            start = i;
            seen.clear();
        }
        if let Some(p) = product {
            seen.push(p);
        }
    }
    if start < entries.len() {
        out.push(&entries[start..]);
    }
    out
}

/// Applies the approved entries `ids` (see the module); `retry` when the message was received
/// before.
pub async fn apply(
    ports: &Ports,
    store: &dyn CatalogStore,
    ids: &[String],
    location: Option<&str>,
    policy: &ConflictPolicy,
    retry: bool,
) -> Result<ApplyReport, SupplierError> {
    let mut report = ApplyReport::default();
    let mut entries = Vec::new();
    for id in ids {
        match ports.staging.get(id).await? {
            Some(e) if e.status == StagingStatus::Approved => entries.push(e),
            _ => report.skipped.push(id.clone()),
        }
    }
    for chunk in chunks(&entries) {
        // The updated products as they are now.
        let ids: Vec<String> =
            chunk.iter().filter(|e| e.action == StagedAction::Update).filter_map(|e| e.product.clone()).collect();
        let now: std::collections::HashMap<String, BTreeMap<String, Value>> = match ids.is_empty() {
            true => Default::default(),
            false => store
                .read_ids(DataType::Products, &ids)
                .await
                .map_err(store_error)?
                .into_iter()
                .map(|r| (r.id, r.fields))
                .collect(),
        };
        let empty = BTreeMap::new();
        let mut ready: Vec<(&StagingEntry, Check)> = Vec::with_capacity(chunk.len());
        for e in chunk {
            let c = match (&e.action, &e.product) {
                (StagedAction::Update, Some(p)) => check(e, now.get(p).unwrap_or(&empty), policy),
                _ => Check::default(),
            };
            if c.decisions.iter().any(|d| d.outcome == Outcome::Manual) {
                let mut held = e.clone();
                held.status = StagingStatus::Pending;
                held.conflicts = c.decisions;
                let fields: Vec<&str> = held.conflicts.iter().map(|d| d.field.as_str()).collect();
                held.note = Some(format!("Shopify changed {} since staging: a person decides", fields.join(", ")));
                held.revision += 1;
                ports.staging.update(&held, e.revision).await?;
                report.held.push(e.id.clone());
                continue;
            }
            ready.push((e, c));
        }
        let mut writes = Vec::with_capacity(ready.len());
        for (e, c) in &ready {
            let mut w = write_of(e, location);
            for f in &c.drop {
                w.fields.remove(f);
            }
            if retry && w.action == Action::Create {
                let found = store.find(DataType::Products, &e.sku).await.map_err(store_error)?;
                if let Some(id) = found {
                    w.action = Action::Update;
                    w.id = Some(id);
                }
            }
            writes.push(w);
        }
        // Shopify's webhook of our own write may overtake the version recorded after it.
        for w in &writes {
            if let Some(id) = &w.id {
                super::syncdown::mark_applying(ports, id, &w.fields).await?;
            }
        }
        let outcomes = store.write(DataType::Products, &writes).await.map_err(store_error)?;
        for (((entry, c), write), outcome) in ready.iter().zip(&writes).zip(outcomes) {
            let entry = *entry;
            match outcome {
                CatalogOutcome::Done { id } => {
                    record_versions(ports, entry, write, &id, &c.moved, &c.decisions).await?;
                    let mut done = entry.clone();
                    done.status = StagingStatus::Applied;
                    done.product = Some(id.clone());
                    done.conflicts = c.decisions.clone();
                    done.error = None;
                    done.revision += 1;
                    ports.staging.update(&done, entry.revision).await?;
                    report.applied.push(entry.id.clone());
                    report.applied_skus.push(entry.sku.clone());
                }
                CatalogOutcome::Failed { error } => {
                    let mut failed = entry.clone();
                    failed.status = StagingStatus::Failed;
                    failed.error = Some(error.clone());
                    failed.revision += 1;
                    ports.staging.update(&failed, entry.revision).await?;
                    report.failed.push((entry.id.clone(), error));
                }
            }
        }
        // Unmarked once the versions are recorded (or the writes failed).
        for id in writes.iter().filter_map(|w| w.id.as_deref()) {
            super::syncdown::unmark_applying(ports, id).await?;
        }
    }
    Ok(report)
}

fn store_error(e: crate::stores::StoreError) -> SupplierError {
    if e.transient {
        SupplierError::Port(crate::ports::PortError::backend("store write", "products", e))
    } else {
        SupplierError::Invalid(e.to_string())
    }
}

/// The versions of an applied entry (see the module), and its audit entry.
async fn record_versions(
    ports: &Ports,
    entry: &StagingEntry,
    write: &CatalogWrite,
    product: &str,
    moved: &[(String, Value)],
    decisions: &[Decision],
) -> Result<(), SupplierError> {
    let now = ports.clock.now();
    let mut history = ports.versions.history(product).await?;
    let changes = approved_changes(entry);
    // Fields storesync has not recorded yet: what the store had first, as a version of its own.
    let known = history.last().map(|v| v.fields.clone()).unwrap_or_default();
    let unknown: Vec<_> = changes.iter().filter(|c| !known.contains_key(&c.field)).collect();
    if entry.action == StagedAction::Update && !unknown.is_empty() {
        let mut before = known.clone();
        before.extend(unknown.iter().map(|c| (c.field.clone(), c.before.clone())));
        let base = next(&history, product, before, "shopify (before storesync)", now);
        ports.versions.append(&base).await?;
        history.push(base);
    }
    // Shopify's own edits since staging, kept before ours.
    if !moved.is_empty() {
        let mut edited = history.last().map(|v| v.fields.clone()).unwrap_or_default();
        edited.extend(moved.iter().cloned());
        if history.last().is_none_or(|v| v.fields != edited) {
            let v = next(&history, product, edited, "shopify", now);
            ports.versions.append(&v).await?;
            history.push(v);
        }
    }
    let mut fields = history.last().map(|v| v.fields.clone()).unwrap_or_default();
    for (k, v) in &write.fields {
        if k != "inventory_location" {
            fields.insert(k.clone(), v.clone());
        }
    }
    let source = match entry.decided_by.as_deref() {
        Some("auto") | None => format!("supplier-feed {}", entry.run),
        Some(who) => format!("supplier-feed {} approved by {who}", entry.run),
    };
    // A redelivered apply whose version was recorded finds it last: not recorded twice.
    if history.last().is_some_and(|v| v.fields == fields && v.source == source) {
        return Ok(());
    }
    let version: ProductVersion = next(&history, product, fields, &source, now);
    ports.versions.append(&version).await?;
    ports
        .audit
        .record(&AuditEntry {
            at: now,
            who: entry.decided_by.clone().unwrap_or_else(|| "auto".into()),
            action: "supplier.apply".into(),
            target: format!("product/{product}"),
            before: json!(changes.iter().map(|c| (c.field.clone(), c.before.clone())).collect::<BTreeMap<_, _>>()),
            after: json!({ "entry": entry.id, "version": version.number, "fields": write.fields, "conflicts": decisions }),
        })
        .await?;
    Ok(())
}

/// Re-queues approved entries decided more than `older_than` ago that are still not applied
/// (their queue message was lost, or never sent after the approval's write); the message says
/// `retry`, so a create that did reach the store is looked up, not made twice. How many.
pub async fn requeue_approved(ports: &Ports, older_than: chrono::Duration) -> Result<usize, SupplierError> {
    let cutoff = ports.clock.now() - older_than;
    let (mut after, mut stale) = (None, Vec::new());
    loop {
        let q = crate::ports::StagingQuery { run: None, after: after.clone(), limit: 500 };
        let page = ports.staging.list(StagingStatus::Approved, &q).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        stale.extend(page.into_iter().filter(|e| e.decided_at.is_some_and(|t| t < cutoff)).map(|e| e.id));
    }
    for ids in stale.chunks(100) {
        super::worker::ApplyMessage::Entries { ids: ids.to_vec(), retry: true }.send(ports).await?;
    }
    Ok(stale.len())
}

/// Puts `product` back as version `number` had it: its fields written to the store, and a new
/// version recording the restore (audited).
pub async fn restore(
    ports: &Ports,
    store: &dyn CatalogStore,
    product: &str,
    number: u64,
    who: &str,
) -> Result<ProductVersion, SupplierError> {
    let history = ports.versions.history(product).await?;
    let Some(version) = super::versions::restore(&history, number, who, ports.clock.now()) else {
        return Err(SupplierError::Invalid(format!("{product} has no version {number}")));
    };
    // Every field the product's versions ever set: one the restored version lacks is cleared.
    let mut fields = version.fields.clone();
    for c in &version.changes {
        fields.entry(c.field.clone()).or_insert(Value::Null);
    }
    fields.remove("inventory");
    fields.remove("sku");
    let write =
        CatalogWrite { action: Action::Update, id: Some(product.to_string()), key: product.to_string(), fields };
    match store.write(DataType::Products, std::slice::from_ref(&write)).await.map_err(store_error)?.pop() {
        Some(CatalogOutcome::Done { .. }) => {}
        Some(CatalogOutcome::Failed { error }) => return Err(SupplierError::Invalid(format!("{product}: {error}"))),
        None => return Err(SupplierError::Invalid(format!("{product}: the store answered nothing"))),
    }
    ports.versions.append(&version).await?;
    ports
        .audit
        .record(&AuditEntry {
            at: version.at,
            who: who.to_string(),
            action: "supplier.restore".into(),
            target: format!("product/{product}"),
            before: json!({ "version": history.last().map(|v| v.number) }),
            after: json!({ "restored": number, "version": version.number, "fields": version.fields }),
        })
        .await?;
    Ok(version)
}
