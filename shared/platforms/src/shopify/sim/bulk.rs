//! The simulator's bulk query operations (PLATFORMS.md §A7): `bulkOperationRunQuery(query:)`
//! runs the query over every object (connection sizes lifted), keeps the result as JSONL — one
//! line per node, a nested connection's nodes on lines of their own after their parent's with
//! `__parentId` — and `bulkOperation(id:)` reports it `CREATED`, then `RUNNING`, then
//! `COMPLETED` with its `url` (served by the simulator's router under `/bulk/{id}.jsonl`) and
//! `objectCount`. A sixth operation while five are unfinished is refused with
//! `OPERATION_IN_PROGRESS`; a query without a connection with `INVALID`.

use graphql_parser::query::{Definition, Field, OperationDefinition, Selection, SelectionSet};
use serde_json::{json, Map, Value};

use super::{arg, resolve_root, Inner, CONNECTIONS};
use crate::shopify::{gid, gid_id};

/// At most this many bulk operations run at once.
pub const MAX_RUNNING: usize = 5;

pub(super) struct BulkOp {
    status: &'static str,
    lines: Vec<String>,
    query: String,
}

fn user_error(message: &str, code: &str) -> Value {
    json!({ "field": ["query"], "message": message, "code": code })
}

/// Lifts every connection's page size (a bulk query reads everything).
fn lift(set: &mut SelectionSet<'_, String>) -> usize {
    let mut connections = 0;
    for sel in &mut set.items {
        match sel {
            Selection::Field(f) => {
                if CONNECTIONS.contains(&f.name.as_str()) {
                    connections += 1;
                    f.arguments.retain(|(n, _)| n != "first" && n != "last" && n != "after");
                    f.arguments.push(("first".into(), graphql_parser::query::Value::Int(i32::MAX.into())));
                }
                connections += lift(&mut f.selection_set);
            }
            Selection::InlineFragment(frag) => connections += lift(&mut frag.selection_set),
            Selection::FragmentSpread(_) => {}
        }
    }
    connections
}

/// A connection's nodes (`nodes` or `edges.node`).
fn nodes(conn: &Value) -> Option<Vec<Value>> {
    if let Some(n) = conn.get("nodes").and_then(Value::as_array) {
        return Some(n.clone());
    }
    conn.get("edges").and_then(Value::as_array).map(|e| e.iter().map(|x| x["node"].clone()).collect())
}

/// One node as JSONL lines: the node without its connections, then their nodes with
/// `__parentId`.
fn flatten(node: &Value, parent: Option<&Value>, out: &mut Vec<String>) {
    let Some(obj) = node.as_object() else { return };
    let mut own = Map::new();
    let mut children = Vec::new();
    for (k, v) in obj {
        match v.is_object().then(|| nodes(v)).flatten() {
            Some(list) => children.extend(list),
            None => {
                own.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(p) = parent {
        own.insert("__parentId".into(), p.clone());
    }
    out.push(Value::Object(own).to_string());
    for c in &children {
        flatten(c, obj.get("id"), out);
    }
}

fn run(s: &mut Inner, query: &str) -> Result<u64, Value> {
    let running = s.bulk.values().filter(|b| b.status != "COMPLETED").count();
    if running >= MAX_RUNNING {
        return Err(user_error(
            "A bulk query operation for this app and shop is already in progress",
            "OPERATION_IN_PROGRESS",
        ));
    }
    let mut doc = graphql_parser::parse_query::<String>(query)
        .map_err(|e| user_error(&format!("Invalid bulk query: {e}"), "INVALID"))?;
    let mut lines = Vec::new();
    let mut connections = 0;
    for d in &mut doc.definitions {
        let set = match d {
            Definition::Operation(OperationDefinition::Query(q)) => &mut q.selection_set,
            Definition::Operation(OperationDefinition::SelectionSet(set)) => set,
            _ => continue,
        };
        connections += lift(set);
        for sel in &set.items {
            let Selection::Field(f) = sel else { continue };
            let value = resolve_root(s, f, &Map::new(), &mut 0.0)
                .map_err(|e| user_error(&format!("Invalid bulk query: {}", e.message), "INVALID"))?;
            for n in nodes(&value).unwrap_or_default() {
                flatten(&n, None, &mut lines);
            }
        }
    }
    if connections == 0 {
        return Err(user_error("Bulk queries must contain at least one connection.", "INVALID"));
    }
    s.next_id += 1;
    let id = s.next_id;
    s.bulk.insert(id, BulkOp { status: "CREATED", lines, query: query.to_string() });
    Ok(id)
}

fn view(s: &Inner, id: u64) -> Value {
    let Some(b) = s.bulk.get(&id) else { return Value::Null };
    let done = b.status == "COMPLETED";
    json!({
        "id": gid("BulkOperation", id), "status": b.status, "errorCode": null, "query": b.query,
        "objectCount": if done { b.lines.len().to_string() } else { "0".into() },
        "url": if done { json!(format!("{}/bulk/{id}.jsonl", s.base_url)) } else { Value::Null },
        "partialDataUrl": null,
    })
}

/// `bulkOperationRunQuery`: the payload (before selection).
pub(super) fn mutate(s: &mut Inner, f: &Field<'_, String>, vars: &Map<String, Value>) -> Value {
    let query = arg(&f.arguments, "query", vars);
    match run(s, query.as_str().unwrap_or_default()) {
        Ok(id) => json!({ "bulkOperation": view(s, id), "userErrors": [] }),
        Err(e) => json!({ "bulkOperation": null, "userErrors": [e] }),
    }
}

/// `bulkOperation(id:)`: each look moves an operation on a step (`CREATED` → `RUNNING` →
/// `COMPLETED`), as time does on Shopify.
pub(super) fn poll(s: &mut Inner, id: &Value) -> Value {
    let Some(n) = id.as_str().and_then(|g| gid_id("BulkOperation", g)) else { return Value::Null };
    if let Some(b) = s.bulk.get_mut(&n) {
        b.status = match b.status {
            "CREATED" => "RUNNING",
            _ => "COMPLETED",
        };
    }
    view(s, n)
}

/// The JSONL of a completed operation (`{id}.jsonl`).
pub(super) fn file(s: &Inner, name: &str) -> Option<String> {
    let id: u64 = name.strip_suffix(".jsonl")?.parse().ok()?;
    let b = s.bulk.get(&id).filter(|b| b.status == "COMPLETED")?;
    let mut out = b.lines.join("\n");
    out.push('\n');
    Some(out)
}
