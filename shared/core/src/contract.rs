//! The port contract suites. Each adapter pair (local and AWS) runs the same suite; a behaviour
//! that only one adapter has is a bug. Every function panics with a message on a broken contract.
//! Callers pass a `prefix` unique to the run so that suites can share a backend.

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use serde_json::json;

use crate::domain::SessionId;
use crate::ports::{
    Admission, Admit, Admitted, AuditEntry, AuditLog, BlobStore, KeyValue, PortError, Queue, QueueDepth, StatusEntry,
    StatusLog, StepStatus,
};

pub async fn blob_store(store: &dyn BlobStore, prefix: &str) {
    let k = |s: &str| format!("{prefix}/{s}");
    assert!(store.head(&k("a.csv")).await.unwrap().is_none(), "head of an absent key is None");
    assert!(
        matches!(store.get(&k("a.csv")).await, Err(PortError::NotFound { .. })),
        "get of an absent key is NotFound"
    );
    let when = Utc.with_ymd_and_hms(2026, 11, 20, 6, 30, 0).unwrap();
    store.put(&k("a.csv"), Bytes::from_static(b"sku,price\nA,1\n"), Some(when)).await.unwrap();
    store.put(&k("dir/b.csv"), Bytes::from_static("שלום".as_bytes()), None).await.unwrap();
    let info = store.head(&k("a.csv")).await.unwrap().expect("a.csv exists");
    assert_eq!(info.size, 14);
    assert_eq!(info.modified, when, "the source time given to put is kept");
    let b = store.get(&k("dir/b.csv")).await.unwrap().to_bytes().unwrap();
    assert_eq!(&b[..], "שלום".as_bytes());
    let fresh = store.head(&k("dir/b.csv")).await.unwrap().unwrap().modified;
    assert!((Utc::now() - fresh).num_seconds().abs() < 300, "without a source time, modified is the upload time");
    let listed: Vec<String> = store.list(&format!("{prefix}/")).await.unwrap().into_iter().map(|i| i.key).collect();
    assert_eq!(listed, vec![k("a.csv"), k("dir/b.csv")], "list is sorted and recursive");
    store.copy(&k("a.csv"), &k("copy/a.csv")).await.unwrap();
    let copied = store.head(&k("copy/a.csv")).await.unwrap().unwrap();
    assert_eq!(copied.modified, when, "copy keeps the source time");
    assert_eq!(&store.get(&k("copy/a.csv")).await.unwrap().to_bytes().unwrap()[..], b"sku,price\nA,1\n");
    store.put(&k("a.csv"), Bytes::from_static(b"new"), None).await.unwrap();
    assert_eq!(&store.get(&k("a.csv")).await.unwrap().to_bytes().unwrap()[..], b"new", "put overwrites");
    store.delete(&k("a.csv")).await.unwrap();
    store.delete(&k("a.csv")).await.unwrap();
    assert!(store.head(&k("a.csv")).await.unwrap().is_none(), "deleted");
    // A large object from a local file, streamed.
    let dir = std::env::temp_dir().join(format!("storesync-contract-{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("feed.zip");
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &content).unwrap();
    store.put_file(&k("raw/feed.zip"), &file, Some(when)).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let info = store.head(&k("raw/feed.zip")).await.unwrap().unwrap();
    assert_eq!((info.size, info.modified), (3_000_000, when));
    let got = store.get(&k("raw/feed.zip")).await.unwrap();
    assert!(got.to_bytes().unwrap() == content, "the file's bytes");
    let mut read = Vec::new();
    std::io::Read::read_to_end(&mut got.reader().unwrap(), &mut read).unwrap();
    assert!(read == content, "read streaming, the same bytes");
    if let crate::ports::Blob::Temp(copy) = &got {
        // A remote object this large is a scratch file, gone with its last holder.
        let path = copy.path().to_path_buf();
        assert!(path.exists());
        drop(got);
        assert!(!path.exists(), "the scratch copy is removed");
    }
    store.delete(&k("raw/feed.zip")).await.unwrap();
    let url = store.download_url(&k("copy/a.csv"), 60).await.unwrap();
    assert!(!url.is_empty());
    assert!(
        matches!(store.copy(&k("absent"), &k("x")).await, Err(PortError::NotFound { .. })),
        "copy of an absent key is NotFound"
    );
}

pub async fn status_log(log: &dyn StatusLog, prefix: &str) {
    let s = SessionId::parse(&format!("{prefix}-s1")).unwrap();
    let other = SessionId::parse(&format!("{prefix}-s2")).unwrap();
    assert!(log.read(&s).await.unwrap().is_empty());
    let t = Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap();
    let mk = |step: u8, status, msg: &str, secs: i64, sess: &SessionId| StatusEntry {
        session: sess.clone(),
        step,
        name: format!("step {step}"),
        status,
        message: msg.into(),
        details: json!({ "n": step, "nested": { "list": [1, 2] } }),
        at: t + chrono::Duration::seconds(secs),
    };
    log.append(&mk(1, StepStatus::Processing, "go", 0, &s)).await.unwrap();
    log.append(&mk(1, StepStatus::Completed, "done", 1, &s)).await.unwrap();
    log.append(&mk(2, StepStatus::Waiting, "same second, written later", 1, &s)).await.unwrap();
    log.append(&mk(1, StepStatus::Failed, "other session", 0, &other)).await.unwrap();
    let read = log.read(&s).await.unwrap();
    let msgs: Vec<&str> = read.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(msgs, vec!["go", "done", "same second, written later"], "entries in the order written");
    assert_eq!(read[1], mk(1, StepStatus::Completed, "done", 1, &s), "an entry reads back whole");
    assert_eq!(log.read(&other).await.unwrap().len(), 1, "sessions are separate");
}

pub async fn key_value(kv: &dyn KeyValue, prefix: &str) {
    let k = |s: &str| format!("{prefix}/{s}");
    assert_eq!(kv.get(&k("a")).await.unwrap(), None);
    assert!(kv.put_if_absent(&k("a"), &json!({ "v": 1 })).await.unwrap(), "first conditional write wins");
    assert!(!kv.put_if_absent(&k("a"), &json!({ "v": 2 })).await.unwrap(), "second conditional write loses");
    assert_eq!(kv.get(&k("a")).await.unwrap(), Some(json!({ "v": 1 })));
    // (The relaxed read may lag a write by a moment on a real backend; these give it at once.)
    assert_eq!(kv.get_relaxed(&k("a")).await.unwrap(), Some(json!({ "v": 1 })));
    assert_eq!(kv.get_relaxed(&k("absent")).await.unwrap(), None);
    kv.put(&k("a"), &json!("s")).await.unwrap();
    assert_eq!(kv.get(&k("a")).await.unwrap(), Some(json!("s")), "put overwrites");
    assert!(!kv.put_if(&k("a"), &json!("t"), &json!("u")).await.unwrap(), "put_if with another value keeps it");
    assert!(!kv.put_if(&k("none"), &json!("s"), &json!("u")).await.unwrap(), "put_if on no record writes nothing");
    assert_eq!(kv.get(&k("none")).await.unwrap(), None);
    assert!(kv.put_if(&k("a"), &json!("s"), &json!({ "n": 1, "m": [2] })).await.unwrap(), "compare-and-set");
    assert!(kv.put_if(&k("a"), &json!({ "m": [2], "n": 1 }), &json!("s")).await.unwrap(), "compared as JSON");
    assert!(!kv.delete_if(&k("a"), &json!("t")).await.unwrap(), "delete_if with another value keeps it");
    assert!(kv.delete_if(&k("a"), &json!("s")).await.unwrap());
    assert_eq!(kv.get(&k("a")).await.unwrap(), None);
    kv.put(&k("b"), &json!(42)).await.unwrap();
    kv.delete(&k("b")).await.unwrap();
    kv.delete(&k("b")).await.unwrap();
    assert_eq!(kv.get(&k("b")).await.unwrap(), None);

    // The dedupe set: live records block, expired ones do not, by the caller's clock.
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
    let ttl = chrono::Duration::days(7);
    assert!(kv.insert_unless_live(&k("d"), &json!({ "n": 1 }), t0, t0 + ttl).await.unwrap(), "first delivery");
    assert!(
        !kv.insert_unless_live(&k("d"), &json!({ "n": 2 }), t0 + chrono::Duration::days(6), t0 + ttl).await.unwrap(),
        "a duplicate within the TTL"
    );
    assert_eq!(kv.get(&k("d")).await.unwrap(), Some(json!({ "n": 1 })), "the first record stays");
    let later = t0 + chrono::Duration::days(8);
    assert!(
        kv.insert_unless_live(&k("d"), &json!({ "n": 3 }), later, later + ttl).await.unwrap(),
        "expired counts as absent"
    );
    assert_eq!(kv.get(&k("d")).await.unwrap(), Some(json!({ "n": 3 })));
    kv.put(&k("p"), &json!("permanent")).await.unwrap();
    assert!(
        !kv.insert_unless_live(&k("p"), &json!("x"), later, later + ttl).await.unwrap(),
        "a record without expiry is always live"
    );
}

/// `queue` must be a queue name the adapter knows and that is empty.
pub async fn queue(q: &dyn Queue, queue: &str) {
    assert!(q.receive(queue, 10, 30).await.unwrap().is_empty(), "a new queue is empty");
    q.send(queue, r#"{"type":"A"}"#).await.unwrap();
    q.send(queue, r#"{"type":"B"}"#).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        got.extend(q.receive(queue, 10, 1).await.unwrap());
        if got.len() >= 2 {
            break;
        }
    }
    let mut bodies: Vec<&str> = got.iter().map(|d| d.body.as_str()).collect();
    bodies.sort();
    assert_eq!(bodies, vec![r#"{"type":"A"}"#, r#"{"type":"B"}"#]);
    assert!(got.iter().all(|d| d.receive_count == 1));
    q.ack(queue, &got[0].receipt).await.unwrap();
    assert!(q.receive(queue, 10, 1).await.unwrap().is_empty(), "received messages are invisible");
    // Past the 1 s visibility timeout (the core names no async runtime, so the thread sleeps).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let again = q.receive(queue, 10, 30).await.unwrap();
    assert_eq!(again.len(), 1, "an unacknowledged message comes back after its visibility timeout");
    assert_eq!(again[0].body, got[1].body);
    assert_eq!(again[0].receive_count, 2);
    q.ack(queue, &again[0].receipt).await.unwrap();
    assert!(q.receive(queue, 10, 1).await.unwrap().is_empty());
}

/// `queue` must be an empty FIFO queue the adapter knows.
pub async fn queue_groups(q: &dyn Queue, queue: &str) {
    for (body, group) in [("A1", "A"), ("A2", "A"), ("B1", "B")] {
        q.send_in_group(queue, group, body, body).await.unwrap();
    }
    q.send_in_group(queue, "A", "A1", "A1 again").await.unwrap();
    let first = q.receive(queue, 1, 30).await.unwrap();
    assert_eq!(first.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(), ["A1"], "the group's first message first");
    let next = q.receive(queue, 10, 30).await.unwrap();
    assert_eq!(next.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(), ["B1"], "A2 waits while A1 is in flight");
    q.ack(queue, &first[0].receipt).await.unwrap();
    q.ack(queue, &next[0].receipt).await.unwrap();
    let last = q.receive(queue, 10, 30).await.unwrap();
    assert_eq!(
        last.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["A2"],
        "released by the ack; the duplicate was dropped"
    );
    q.ack(queue, &last[0].receipt).await.unwrap();
    // (SQS also drops a duplicate sent after the original was deleted, within the window; moto
    // does not, so that is not asserted here. The webhook dedupe set is the guard we rely on.)
    assert!(q.receive(queue, 10, 1).await.unwrap().is_empty());

    // A batch: more than one call's worth (ten), two groups, in order, its duplicate dropped.
    let m = |group: &str, n: usize| crate::ports::GroupMessage {
        group: group.into(),
        dedupe_id: format!("batch-{group}{n}"),
        body: format!("{group}{n}"),
    };
    let mut batch: Vec<_> = (0..12).map(|n| m(if n % 3 == 0 { "D" } else { "C" }, n)).collect();
    batch.insert(5, crate::ports::GroupMessage { body: "C2 again".into(), ..m("C", 2) });
    q.send_batch_in_group(queue, &batch).await.unwrap();
    let mut got: Vec<String> = Vec::new();
    for _ in 0..20 {
        let ds = q.receive(queue, 10, 30).await.unwrap();
        if ds.is_empty() && got.len() >= 12 {
            break;
        }
        for d in ds {
            got.push(d.body.clone());
            q.ack(queue, &d.receipt).await.unwrap();
        }
    }
    let of = |g: char| got.iter().filter(|b| b.starts_with(g)).cloned().collect::<Vec<_>>();
    assert_eq!(of('C'), ["C1", "C2", "C4", "C5", "C7", "C8", "C10", "C11"], "in order, the duplicate dropped");
    assert_eq!(of('D'), ["D0", "D3", "D6", "D9"]);
}

/// `queue` must be an empty standard queue the adapter knows.
pub async fn queue_delays(q: &dyn Queue, queue: &str) {
    q.send_delayed(queue, "later", 1).await.unwrap();
    q.send(queue, "now").await.unwrap();
    let first = q.receive(queue, 10, 30).await.unwrap();
    assert_eq!(first.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(), ["now"], "a delayed message waits");
    let depth = q.depth(queue).await.unwrap();
    assert_eq!(depth, QueueDepth { visible: 0, not_visible: 2 }, "one in flight, one delayed");
    q.retry_later(queue, &first[0].receipt, 2).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let second = q.receive(queue, 10, 30).await.unwrap();
    assert_eq!(
        second.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["later"],
        "the delayed message is due; the retried one waits its 2 s"
    );
    q.ack(queue, &second[0].receipt).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let third = q.receive(queue, 10, 30).await.unwrap();
    assert_eq!(third.iter().map(|d| (d.body.as_str(), d.receive_count)).collect::<Vec<_>>(), [("now", 2)]);
    q.ack(queue, &third[0].receipt).await.unwrap();
    assert_eq!(q.depth(queue).await.unwrap(), QueueDepth::default());
}

pub async fn audit_log(log: &dyn AuditLog, prefix: &str) {
    let target = format!("session/{prefix}");
    assert!(log.list(&target).await.unwrap().is_empty());
    let t = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
    let e = |i: i64, action: &str| AuditEntry {
        at: t + chrono::Duration::seconds(i),
        who: "dana".into(),
        action: action.into(),
        target: target.clone(),
        before: json!({ "step": 2, "status": "waiting" }),
        after: json!({ "enqueued": { "type": "ConfirmOrdersV1" } }),
    };
    log.record(&e(0, "confirm-orders")).await.unwrap();
    log.record(&e(1, "reset")).await.unwrap();
    let got = log.list(&target).await.unwrap();
    assert_eq!(got, vec![e(0, "confirm-orders"), e(1, "reset")]);
}

/// Admission: a first delivery is recorded and, once `settle` has run (nothing for an adapter
/// that queues as it records; the change stream's outbox for one whose record is the outbox),
/// its message is queued exactly once; a duplicate sees the record and queues nothing; an
/// expired record is replaced and queued again. The records and messages are the receiver's.
pub async fn admission<F, Fut>(a: &dyn Admission, kv: &dyn KeyValue, q: &dyn Queue, prefix: &str, settle: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use crate::webhooks::receipt::Accepted;
    use crate::webhooks::receiver::{outgoing, record_key};
    use crate::webhooks::WebhookSource;
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let day = chrono::Duration::days(1);
    let accepted = Accepted {
        source: WebhookSource::Wms,
        dedupe_key: format!("wms:{prefix}-d1"),
        event_id: Some(format!("{prefix}-e1")),
        topic: "order.created".into(),
        entity: format!("order:{prefix}-1"),
        priority: 1,
        triggered_at: None,
    };
    let delivery =
        |at: chrono::DateTime<Utc>| json!({ "source": "wms", "received_at": at, "body": "{}", "headers": {} });
    // Live while the caller's clock is before the record's own expiry, as the receiver judges.
    let live = |rec: &serde_json::Value| rec["until"].as_i64().is_none_or(|t| t > now.timestamp());
    let key = record_key(&accepted.dedupe_key);
    let record = json!({ "delivery": delivery(now), "accepted": accepted, "until": (now + day).timestamp() });
    let (queue, message) = outgoing(&accepted, &record["delivery"]);
    let first =
        Admit { key: &key, record: &record, now, expires_at: now + day, is_live: &live, queue, message: &message };
    assert_eq!(a.admit(&first).await.unwrap(), Admitted::Recorded);
    assert_eq!(kv.get(&key).await.unwrap(), Some(record.clone()), "recorded");
    let again = json!({ "delivery": delivery(now + chrono::Duration::seconds(1)), "accepted": accepted });
    let dup = Admit { record: &again, ..first };
    assert_eq!(a.admit(&dup).await.unwrap(), Admitted::Live(record.clone()), "a duplicate sees the record");
    settle().await;
    let got = q.receive(queue, 10, 30).await.unwrap();
    assert_eq!(got.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(), [message.body.as_str()], "queued once");
    q.ack(queue, &got[0].receipt).await.unwrap();

    // Once the record has expired, the key is admitted again.
    let later = now + day * 2;
    let live_later = |rec: &serde_json::Value| rec["until"].as_i64().is_none_or(|t| t > later.timestamp());
    let renewed = json!({ "delivery": delivery(later), "accepted": accepted, "until": (later + day).timestamp() });
    let (_, message) = outgoing(&accepted, &renewed["delivery"]);
    let expired = Admit {
        record: &renewed,
        now: later,
        expires_at: later + day,
        is_live: &live_later,
        message: &message,
        ..first
    };
    assert_eq!(a.admit(&expired).await.unwrap(), Admitted::Recorded);
    assert_eq!(kv.get(&key).await.unwrap(), Some(renewed), "the expired record is replaced");
    settle().await;
    let got = q.receive(queue, 10, 30).await.unwrap();
    assert_eq!(got.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(), [message.body.as_str()]);
    q.ack(queue, &got[0].receipt).await.unwrap();
    settle().await;
    assert!(q.receive(queue, 10, 1).await.unwrap().is_empty(), "nothing more");
}

/// The inventory port: `store` must hold at least two variants whose stock it tracks;
/// `unknown_key` is a write key of the adapter's form that names nothing. The stock is put
/// back as it was.
pub async fn inventory_store(store: &dyn crate::stores::inventory::InventoryStore, unknown_key: &str) {
    use crate::stores::inventory::{StockWrite, WriteOutcome};
    store.check().await.unwrap();
    let before = store.inventory().await.unwrap();
    let tracked: Vec<_> = before.iter().filter(|r| r.quantity.is_some()).take(2).cloned().collect();
    assert_eq!(tracked.len(), 2, "the store needs two tracked variants");
    assert!(before.iter().all(|r| !r.variant_id.is_empty() && !r.write_key.is_empty() && !r.name.is_empty()));
    let write = |r: &crate::stores::inventory::InventoryRecord, q: i64| StockWrite {
        write_key: r.write_key.clone(),
        quantity: q,
        expected: r.quantity,
    };
    let mut writes: Vec<StockWrite> = tracked.iter().map(|r| write(r, r.quantity.unwrap_or(0) + 3)).collect();
    writes.insert(1, StockWrite { write_key: unknown_key.into(), quantity: 1, expected: Some(0) });
    let out = store.set_stock(&writes, "contract-1").await.unwrap();
    assert_eq!(out.len(), 3, "one outcome per write, in order");
    assert_eq!((&out[0], &out[2]), (&WriteOutcome::Done, &WriteOutcome::Done), "{out:?}");
    assert!(matches!(&out[1], WriteOutcome::Failed { error } if !error.is_empty()), "{out:?}");
    let after = store.inventory().await.unwrap();
    for r in &tracked {
        let now = after.iter().find(|a| a.variant_id == r.variant_id).unwrap();
        assert_eq!(now.quantity, Some(r.quantity.unwrap_or(0) + 3), "{}", r.sku);
        assert_eq!(now.status, "instock", "stock status follows the quantity");
    }
    let back: Vec<StockWrite> = tracked
        .iter()
        .map(|r| StockWrite { expected: r.quantity.map(|q| q + 3), ..write(r, r.quantity.unwrap_or(0)) })
        .collect();
    assert_eq!(store.set_stock(&back, "contract-2").await.unwrap(), vec![WriteOutcome::Done; 2]);
    // Some SKUs only: the records a whole read has for them, and nothing for an unknown SKU.
    let some: Vec<String> = vec![tracked[0].sku.clone(), "NO-SUCH-SKU-42".into()];
    let found = store.inventory_of(&some).await.unwrap();
    let expected: Vec<_> = store.inventory().await.unwrap().into_iter().filter(|r| r.sku == tracked[0].sku).collect();
    assert!(!found.is_empty() && found == expected, "{found:?} vs {expected:?}");
}

/// A staging store: create once, compare-and-set updates, pages by status and run, counts.
pub async fn staging_store(store: &dyn crate::ports::StagingStore, prefix: &str) {
    use crate::ports::StagingQuery;
    use crate::supplier::staging::{stage, Carried, StagingStatus, AUTO_APPROVE_ABOVE};
    let t = Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap();
    let entry = |run: &str, sku: &str, confidence: u8| {
        let item: crate::supplier::feed::SupplierItem = serde_json::from_value(json!({
            "line": 2, "sku": sku, "handle": "h", "title": format!("Item {sku}"), "description": "", "vendor": "Bic",
            "product_type": "", "tags": [], "barcode": null, "mpn": null, "weight_grams": null, "price": null,
            "cost": null, "images": [], "seo_title": "", "seo_description": "", "options": [], "product_info": {}
        }))
        .unwrap();
        let m = crate::supplier::matching::Match { product: None, confidence, evidence: vec![], caveat: None };
        let carried = Carried { item_number: format!("X-{sku}"), stock: 3, price: None };
        stage(run, item, carried, m, &Default::default(), AUTO_APPROVE_ABOVE, t).unwrap()
    };
    let (run, other) = (format!("{prefix}-run"), format!("{prefix}-other"));
    let a = entry(&run, "A-1", 100);
    assert!(store.create(&a).await.unwrap());
    assert!(!store.create(&entry(&run, "a-1", 50)).await.unwrap(), "one entry per id");
    assert_eq!(store.get(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get(&format!("{run}/none")).await.unwrap(), None);
    for i in 0..5 {
        assert!(store.create(&entry(&run, &format!("P-{i}"), 80)).await.unwrap());
    }
    assert!(store.create(&entry(&other, "P-9", 80)).await.unwrap());
    let ids = |v: Vec<crate::supplier::staging::StagingEntry>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let q = |after: Option<String>, limit| StagingQuery { run: Some(run.clone()), after, limit };
    let page = store.list(StagingStatus::Pending, &q(None, 3)).await.unwrap();
    assert_eq!(ids(page.clone()), vec![format!("{run}/p-0"), format!("{run}/p-1"), format!("{run}/p-2")]);
    let next = store.list(StagingStatus::Pending, &q(page.last().map(|e| e.id.clone()), 3)).await.unwrap();
    assert_eq!(ids(next), vec![format!("{run}/p-3"), format!("{run}/p-4")]);
    let everyone =
        store.list(StagingStatus::Pending, &StagingQuery { limit: 100, ..Default::default() }).await.unwrap();
    assert!(everyone.iter().any(|e| e.run == other) && everyone.len() >= 6);
    // Compare-and-set on the revision.
    let mut p0 = store.get(&format!("{run}/p-0")).await.unwrap().unwrap();
    p0.status = StagingStatus::Rejected;
    p0.revision = 1;
    assert!(store.update(&p0, 0).await.unwrap());
    assert!(!store.update(&p0, 0).await.unwrap(), "a stale revision does not write");
    let mut ghost = p0.clone();
    ghost.id = format!("{run}/ghost");
    assert!(!store.update(&ghost, 0).await.unwrap(), "an update never creates");
    assert_eq!(store.get(&ghost.id).await.unwrap(), None);
    assert_eq!(store.get(&p0.id).await.unwrap().unwrap().status, StagingStatus::Rejected);
    assert_eq!(ids(store.list(StagingStatus::Rejected, &q(None, 10)).await.unwrap()), vec![p0.id.clone()]);
    assert_eq!(store.list(StagingStatus::Pending, &q(None, 10)).await.unwrap().len(), 4);
    let counts = store.counts(&run).await.unwrap();
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        vec![(StagingStatus::Pending, 4), (StagingStatus::Approved, 1), (StagingStatus::Rejected, 1)]
    );
}

/// A version store: numbered versions, each once, read back oldest first.
pub async fn version_store(store: &dyn crate::ports::VersionStore, prefix: &str) {
    use crate::supplier::versions::next;
    let t = Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap();
    let product = format!("gid://shopify/Product/{prefix}-1");
    assert!(store.history(&product).await.unwrap().is_empty());
    let fields = |price: &str| serde_json::from_value(json!({ "name": "Pen", "price": price })).unwrap();
    let v1 = next(&[], &product, fields("1.00"), "supplier-feed run-1", t);
    assert!(store.append(&v1).await.unwrap());
    assert!(!store.append(&v1).await.unwrap(), "a number is written once");
    let v2 = next(std::slice::from_ref(&v1), &product, fields("1.20"), "shopify", t);
    let v3 = next(&[v1.clone(), v2.clone()], &product, fields("1.30"), "xorosoft", t);
    assert!(store.append(&v3).await.unwrap());
    assert!(store.append(&v2).await.unwrap());
    assert_eq!(store.history(&product).await.unwrap(), vec![v1, v2, v3]);
    assert!(store.history(&format!("{product}0")).await.unwrap().is_empty(), "another product's are not its");
}
