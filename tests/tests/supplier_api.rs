//! The supplier review through the admin API (JWT): a run's report, its pending entries with
//! diffs and evidence, a person's decision on one entry (all fields, some, or a rejection; a
//! second decision refused), a bulk decision by confidence; every decision audited and every
//! approval queued for apply.

use serde_json::{json, Value};
use storesync_api::auth::{issue, Role};
use storesync_core::supplier::distributor::Carried;
use storesync_core::supplier::feed::SupplierItem;
use storesync_core::supplier::matching::{Evidence, Match, Signal};
use storesync_core::supplier::pipeline::APPLY_QUEUE;
use storesync_core::supplier::staging::stage;
use storesync_local::Local;

const RUN: &str = "etilize-0123456789abcdef";

fn item(sku: &str, title: &str) -> SupplierItem {
    serde_json::from_value(json!({
        "line": 2, "sku": sku, "handle": "h", "title": title, "description": "<p>New</p>", "vendor": "Acme",
        "product_type": "", "tags": [], "barcode": null, "mpn": null, "weight_grams": null, "price": 1250,
        "cost": null, "images": [], "seo_title": "", "seo_description": "", "options": [], "product_info": {}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_lists_decides_and_bulk_decides_pending_entries() {
    let dir = tempfile::tempdir().unwrap();
    let local = std::sync::Arc::new(Local::open(dir.path(), Default::default()).unwrap());
    let ports = local.workflow.ports();
    let now = chrono::Utc::now();
    let store =
        serde_json::from_value(json!({ "name": "Old name", "description": "<p>Old</p>", "price": "10.00" })).unwrap();
    let carried = Carried { item_number: "X-1".into(), stock: 5, price: None };
    for (sku, confidence, product) in [
        ("UPD-1", 80, Some("gid://shopify/Product/1")),
        ("UPD-2", 86, Some("gid://shopify/Product/2")),
        ("UPD-3", 90, Some("gid://shopify/Product/3")),
        ("NEW-1", 70, None),
    ] {
        let evidence = product
            .map(|p| {
                vec![Evidence { signal: Signal::Name, product: p.into(), confidence, detail: format!("name ~ {sku}") }]
            })
            .unwrap_or_default();
        let m = Match { product: product.map(Into::into), confidence, evidence, caveat: None };
        let e = stage(RUN, item(sku, &format!("Name {sku}")), carried.clone(), m, &store, 95, now).unwrap();
        assert!(ports.staging.create(&e).await.unwrap());
    }
    ports
        .kv
        .put(&format!("supplier/run/{RUN}"), &json!({ "items": 4, "bad_rows": 1, "batches": 1, "state": "ingested" }))
        .await
        .unwrap();

    let secret = local.jwt_secret().unwrap();
    let (operator, viewer) =
        (issue(&secret, "dana", Role::Operator, 600).unwrap(), issue(&secret, "noam", Role::Viewer, 600).unwrap());
    let addr =
        local.clone().serve("127.0.0.1:0".parse().unwrap(), Default::default(), std::future::pending()).await.unwrap();
    let http = reqwest::Client::new();
    let call = |method: &str, path: &str, token: &str, body: Option<Value>| {
        let mut req = http.request(method.parse().unwrap(), format!("http://{addr}{path}")).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let (code, report) = call("GET", &format!("/supplier/runs/{RUN}"), &viewer, None).await;
    assert_eq!(
        (code, report["entries"]["pending"].as_u64(), report["bad_rows"].as_u64()),
        (200, Some(4), Some(1)),
        "{report}"
    );
    assert_eq!(call("GET", "/supplier/runs/etilize-none", &viewer, None).await.0, 404);
    // The runs: the feed file of this one, and one that has arrived but is not ingested yet.
    for key in
        ["raw/etilize/2026-12-07/0123456789abcdef/Cowan.zip", "raw/etilize/2026-12-08/fedcba9876543210/Cowan.zip"]
    {
        ports.blobs.put(key, bytes::Bytes::from_static(b"PK"), None).await.unwrap();
    }
    let (code, runs) = call("GET", "/supplier/runs", &viewer, None).await;
    assert_eq!((code, runs["runs"].as_array().map(Vec::len)), (200, Some(2)), "{runs}");
    assert_eq!((runs["runs"][0]["run"].as_str(), runs["runs"][0]["report"]["items"].as_u64()), (Some(RUN), Some(4)));
    assert_eq!(runs["runs"][1]["report"], Value::Null, "not ingested yet");
    assert_eq!(call("GET", "/supplier/runs", "not-a-token", None).await.0, 401);
    let (code, page) = call("GET", &format!("/supplier/runs/{RUN}/entries?limit=3"), &viewer, None).await;
    assert_eq!(code, 200);
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(page["next"], entries[2]["id"]);
    let first = &entries[0];
    assert_eq!((first["sku"].as_str(), first["action"].as_str()), (Some("NEW-1"), Some("create")));
    let upd = entries.iter().find(|e| e["sku"] == "UPD-1").unwrap();
    let fields: Vec<&str> = upd["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["name", "description", "vendor", "price"]);
    assert_eq!(upd["evidence"][0]["signal"], "name");
    assert_eq!(call("GET", &format!("/supplier/runs/{RUN}/entries?status=maybe"), &viewer, None).await.0, 400);

    // One entry: a viewer may not; some fields; not twice; not a field it lacks.
    let path = |sku: &str| format!("/supplier/runs/{RUN}/entries/{sku}/review");
    let approve_price = json!({ "decision": "approve_fields", "fields": ["price"] });
    assert_eq!(call("POST", &path("UPD-1"), &viewer, Some(approve_price.clone())).await.0, 403);
    let (code, v) =
        call("POST", &path("UPD-1"), &operator, Some(json!({ "decision": "approve_fields", "fields": ["colour"] })))
            .await;
    assert_eq!(code, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("\"colour\" is not among the entry's changes"), "{v}");
    let (code, v) = call("POST", &path("UPD-1"), &operator, Some(approve_price.clone())).await;
    assert_eq!(
        (code, v["status"].as_str(), v["approved_fields"].clone()),
        (200, Some("approved"), json!(["price"])),
        "{v}"
    );
    let (code, v) = call("POST", &path("UPD-1"), &operator, Some(approve_price)).await;
    assert_eq!(code, 409, "{v}");
    let (code, v) =
        call("POST", &path("NEW-1"), &operator, Some(json!({ "decision": "reject", "reason": "not for us" }))).await;
    assert_eq!((code, v["status"].as_str(), v["note"].as_str()), (200, Some("rejected"), Some("not for us")));
    assert_eq!(call("POST", &path("NOPE"), &operator, Some(json!({ "decision": "approve" }))).await.0, 404);

    // Every pending entry from 85 up, at once; a partial bulk is refused.
    let bulk = format!("/supplier/runs/{RUN}/review");
    let (code, v) =
        call("POST", &bulk, &operator, Some(json!({ "decision": "approve_fields", "fields": ["name"] }))).await;
    assert_eq!(code, 400, "{v}");
    let (code, v) = call("POST", &bulk, &operator, Some(json!({ "decision": "approve", "min_confidence": 85 }))).await;
    assert_eq!((code, v["decided"].as_u64()), (200, Some(2)), "{v}");
    let (_, report) = call("GET", &format!("/supplier/runs/{RUN}"), &viewer, None).await;
    assert_eq!(report["entries"], json!({ "approved": 3, "rejected": 1 }));

    // Approvals wait to be applied; every decision is audited with who made it.
    let queued = ports.queue.receive(APPLY_QUEUE, 10, 60).await.unwrap();
    let mut ids: Vec<String> = queued
        .iter()
        .flat_map(|d| serde_json::from_str::<Value>(&d.body).unwrap()["ids"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, vec![format!("{RUN}/upd-1"), format!("{RUN}/upd-2"), format!("{RUN}/upd-3")]);
    let audit = ports.audit.list(&format!("supplier/{RUN}/upd-1")).await.unwrap();
    assert_eq!((audit.len(), audit[0].who.as_str(), audit[0].action.as_str()), (1, "dana", "supplier.review"));
    assert_eq!(audit[0].after["fields"], json!(["price"]));
}
