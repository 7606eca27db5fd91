//! `storesync serve`: files dropped into the inbox folder fire the steps; the admin API drives
//! the operator actions with bearer tokens; every change is audited.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use storesync_api::auth::{issue, Role};
use storesync_core::config::Settings;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_folder_and_admin_api_run_the_daily_flow() {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(Local::open(dir.path(), Settings::default()).unwrap());
    let secret = local.jwt_secret().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let addr = local
        .clone()
        .serve("127.0.0.1:0".parse().unwrap(), async {
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
    let _ = stop.send(());
}
