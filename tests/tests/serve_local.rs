//! `storesync serve`: files dropped into the inbox folder fire the steps; the admin API drives
//! the operator actions with bearer tokens; every change is audited.

use std::sync::Arc;
use std::time::{Duration, Instant};
use storesync_core::webhooks::signature::sign_base64 as sign;

use serde_json::Value;
use storesync_api::auth::{issue, Role};
use storesync_core::config::Settings;
use storesync_core::ports::Queue;
use storesync_core::webhooks::Secrets;
use storesync_local::Local;
use storesync_tests::scenarios::happy_inputs;

struct Api {
    base: String,
    client: reqwest::Client,
    operator: String,
    viewer: String,
}

impl Api {
    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let code = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (code, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> Value {
        let (code, v) = self.call("GET", path, Some(&self.viewer), None).await;
        assert_eq!(code, 200, "{path}: {v}");
        v
    }

    async fn post(&self, path: &str) -> (u16, Value) {
        self.call("POST", path, Some(&self.operator), None).await
    }

    /// Waits until the session satisfies `pred` (the workers run in the background).
    async fn wait(&self, s: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.get(&format!("/sessions/{s}")).await;
            if pred(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {v:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn step(v: &Value, n: usize) -> &Value {
    &v["steps"][n - 1]
}

/// A running `storesync serve` on a port of its own.
struct Served {
    api: Api,
    local: Arc<Local>,
    dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn serve(secrets: Secrets) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(Local::open(dir.path(), Settings::default()).unwrap());
    let secret = local.jwt_secret().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let addr = local
        .clone()
        .serve("127.0.0.1:0".parse().unwrap(), secrets, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    let api = Api {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        operator: issue(&secret, "dana", Role::Operator, 600).unwrap(),
        viewer: issue(&secret, "noam", Role::Viewer, 600).unwrap(),
    };
    Served { api, local, dir, _stop: stop }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_folder_and_admin_api_run_the_daily_flow() {
    let served = serve(Secrets::default()).await;
    let (api, dir) = (&served.api, &served.dir);

    let (code, v) = api.call("GET", "/sessions/current", None, None).await;
    assert_eq!(
        (code, v["error"].as_str().unwrap()),
        (401, "missing bearer token: send Authorization: Bearer <token> (storesync token prints one)")
    );
    let (code, v) = api.call("GET", "/sessions/current", Some("not.a.jwt"), None).await;
    assert_eq!(code, 401, "{v}");
    let (code, v) = api.call("POST", "/sessions", Some(&api.viewer), None).await;
    assert_eq!((code, v["error"].as_str().unwrap()), (403, "noam is a viewer; this needs an operator"));

    // The operator copies the exports into the inbox folder.
    let inbox = dir.path().join("bucket/inbox");
    std::fs::create_dir_all(inbox.join("web")).unwrap();
    std::fs::create_dir_all(inbox.join("comax")).unwrap();
    let inputs = happy_inputs();
    for (key, data) in inputs.files() {
        std::fs::write(dir.path().join("bucket").join(key), &data).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let s = loop {
        if let Some(s) = api.get("/sessions/current").await["session"].as_str() {
            break s.to_string();
        }
        assert!(Instant::now() < deadline, "the watcher opened no session");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    api.wait(&s, "step 2 waiting", |v| step(v, 2)["status"] == "waiting").await;

    let (code, v) = api.post(&format!("/sessions/{s}/inventory/confirm")).await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(
        v["error"],
        format!(
            "session {s}: cannot confirm the web update: step 5 (Export web inventory) is not started, not waiting"
        )
    );
    let (code, v) = api.post(&format!("/sessions/{s}/steps/9/retry")).await;
    assert_eq!((code, v["error"].as_str().unwrap()), (400, "invalid request: step 9: steps are 1 to 5"));
    let (code, _) = api.call("GET", "/sessions/no%2Fsuch", Some(&api.viewer), None).await;
    assert_eq!(code, 400);

    let (code, v) = api.post(&format!("/sessions/{s}/orders/confirm")).await;
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["enqueued"]["type"], "ConfirmOrdersV1");
    api.wait(&s, "validation", |v| step(v, 4)["status"] == "completed").await;
    assert_eq!(api.post(&format!("/sessions/{s}/inventory/export")).await.0, 202);
    api.wait(&s, "the export", |v| step(v, 5)["status"] == "waiting" && step(v, 5)["details"]["file"].is_string())
        .await;
    let resp = api
        .client
        .get(format!("{}/sessions/{s}/inventory/download", api.base))
        .bearer_auth(&api.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        resp.text().await.unwrap(),
        "ID,SKU,Stock,In stock?,Regular price\n1,W1,9,1,10.00\n3,W3,6,1,10.00\n4,W4,7,1,10.00\n5,W5,10,1,12.50\n101,,9,1,10.00\n"
    );
    assert_eq!(api.post(&format!("/sessions/{s}/inventory/confirm")).await.0, 202);
    let v = api.wait(&s, "completion", |v| v["session"]["state"] == "completed").await;
    assert_eq!(step(&v, 5)["message"], "Web update confirmed by dana; session complete");
    let audit = api.get(&format!("/sessions/{s}/audit")).await;
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["confirm-orders", "generate-inventory", "confirm-inventory"]);
    assert!(audit["entries"].as_array().unwrap().iter().all(|e| e["who"] == "dana"));
    assert!(!dir.path().join("bucket/inbox/web/WebProducts.csv").exists(), "imported inputs leave the inbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_verified_deduplicated_and_queued() {
    let secrets =
        Secrets { wms: vec![b"wms-secret".to_vec()], woocommerce: vec![b"wc-secret".to_vec()], ..Secrets::default() };
    let served = serve(secrets).await;
    let (api, local) = (&served.api, &served.local);
    let post = |source: &str, headers: Vec<(&str, String)>, body: Vec<u8>| {
        let mut req = api.client.post(format!("{}/webhooks/{source}", api.base)).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move {
            let r = req.send().await.unwrap();
            let code = r.status().as_u16();
            (code, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let body = br#"{"id":"evt_1","event":"stock.updated","occurred_at":"2026-11-25T08:00:00Z","data":{"sku":"W1","available":12}}"#.to_vec();
    let signed = |delivery: &str, body: &[u8]| {
        vec![("X-Webhook-Id", delivery.to_string()), ("X-Webhook-Signature", sign(b"wms-secret", body))]
    };
    assert_eq!(
        post("wms", signed("dlv_1", &body), body.clone()).await,
        (200, serde_json::json!({ "status": "accepted" }))
    );
    assert_eq!(
        post("wms", signed("dlv_1", &body), body.clone()).await,
        (200, serde_json::json!({ "status": "duplicate" }))
    );
    let queued = local.state.receive("webhooks-stock", 10, 30).await.unwrap();
    assert_eq!(queued.len(), 1, "a duplicate delivery queues nothing");
    let msg: Value = serde_json::from_str(&queued[0].body).unwrap();
    assert_eq!((msg["dedupe_key"].as_str(), msg["accepted"]["entity"].as_str()), (Some("wms:dlv_1"), Some("sku:W1")));
    let record = local.workflow.ports().kv.get("webhook/seen/wms:dlv_1").await.unwrap().unwrap();
    assert_eq!(record["delivery"]["body"].as_str().unwrap().as_bytes(), &body[..], "the raw body is kept for replay");
    assert!(record.get("queued").is_none(), "a small delivery is queued before it is recorded: no flag to write");
    assert_eq!(msg["delivery"]["body"], record["delivery"]["body"], "the message carries the delivery");

    let (code, v) = post(
        "wms",
        vec![("X-Webhook-Id", "dlv_2".into()), ("X-Webhook-Signature", sign(b"wrong", &body))],
        body.clone(),
    )
    .await;
    assert_eq!((code, v["error"].as_str()), (401, Some("the signature does not match")));
    assert!(local.workflow.ports().kv.get("webhook/seen/wms:dlv_2").await.unwrap().is_none(), "nothing stored");
    let (code, v) = post("ebay", vec![], b"{}".to_vec()).await;
    assert_eq!(
        (code, v["error"].as_str()),
        (404, Some("unknown webhook source \"ebay\": use wms, shopify or woocommerce"))
    );
    let big = vec![b' '; 1024 * 1024 + 1];
    let (code, _) = post("wms", signed("dlv_3", &big), big.clone()).await;
    assert_eq!(code, 413);
    assert_eq!(
        post(
            "woocommerce",
            vec![("Content-Type", "application/x-www-form-urlencoded".into())],
            b"webhook_id=12".to_vec()
        )
        .await,
        (200, serde_json::json!({ "status": "ping" }))
    );
    let bad = b"{\"id\":\"evt_4\"".to_vec();
    let (code, v) = post("wms", signed("dlv_4", &bad), bad.clone()).await;
    assert_eq!((code, v["status"].as_str()), (200, Some("dead-lettered")));
    let dead = local.workflow.ports().blobs.get("webhooks/dead/wms:dlv_4.json").await.unwrap().to_bytes().unwrap();
    let dead: Value = serde_json::from_slice(&dead).unwrap();
    assert!(dead["reason"].as_str().unwrap().starts_with("the WMS event does not match the contract"), "{dead}");
    for q in storesync_core::webhooks::processor::QUEUES {
        assert!(local.state.receive(q, 10, 30).await.unwrap().is_empty(), "only the one good delivery was queued");
    }
}

/// A storm at receipt: 2,000 WMS events over 150 entities, 30 % delivered twice, shuffled
/// within a minute, 16 in flight: every first delivery is queued once, every repeat is
/// acknowledged and dropped, nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_is_received_once_per_delivery() {
    use storesync_platforms::wms::storm::{storm, StormConfig};
    let secret = b"storm-secret".to_vec();
    let served = serve(Secrets { wms: vec![secret.clone()], ..Secrets::default() }).await;
    let deliveries = storm(&StormConfig {
        entities: 150,
        events: 2000,
        duplicate_share: 0.3,
        shuffle_window_secs: 60,
        seed: 42,
        start: chrono::Utc::now(),
    });
    let unique: std::collections::BTreeSet<String> = deliveries.iter().map(|d| d.delivery_id.clone()).collect();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for d in deliveries.clone() {
        let (client, url, secret, gate) =
            (served.api.client.clone(), format!("{}/webhooks/wms", served.api.base), secret.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let mut req = client.post(url).body(d.body.clone());
            for (k, v) in d.headers(&secret) {
                req = req.header(k, v);
            }
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap()["status"].as_str().unwrap_or_default().to_string())
        });
    }
    let mut accepted = 0;
    let mut duplicate = 0;
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            (200, s) if s == "accepted" => accepted += 1,
            (200, s) if s == "duplicate" => duplicate += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(accepted, unique.len(), "each delivery accepted once");
    assert_eq!(accepted + duplicate, deliveries.len());
    let mut queued = 0;
    for q in storesync_core::webhooks::processor::CLASS_QUEUES {
        loop {
            let batch = served.local.state.receive(q, 10, 300).await.unwrap();
            if batch.is_empty() {
                break;
            }
            for m in batch {
                queued += 1;
                served.local.state.ack(q, &m.receipt).await.unwrap();
            }
        }
    }
    assert_eq!(queued, unique.len(), "queued exactly once each");
}
