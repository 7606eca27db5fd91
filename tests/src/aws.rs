//! The AWS backend: the template deployed to moto_server, the handlers invoked in-process with
//! the real event shapes from `events/`, as Lambda would invoke them.

use std::collections::HashMap;
use std::process::Command;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;
use storesync_aws::env;
use storesync_aws::lambda::{handle_event, ports, sdk_config, Resources};
use storesync_core::config::Settings;
use storesync_core::workflow::Workflow;

use crate::moto::Moto;
use crate::{repo_root, Backend};

/// A stack deployed to moto: its outputs and resources.
pub struct Stack {
    pub outputs: HashMap<String, String>,
    pub resources: Vec<Value>,
}

/// Translates and deploys `infra/template.yaml` as `name` (see `tests/moto_deploy.py`).
pub fn deploy(moto: &Moto, name: &str) -> Stack {
    let root = repo_root();
    let out = Command::new("python3")
        .arg(root.join("tests/moto_deploy.py"))
        .args([&moto.endpoint, name])
        .arg(root.join("infra/template.yaml"))
        .output()
        .expect("python3 runs tests/moto_deploy.py");
    assert!(out.status.success(), "deploying the template to moto failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("the deploy script prints JSON");
    let outputs = v["outputs"]
        .as_object()
        .expect("outputs")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    Stack { outputs, resources: v["resources"].as_array().cloned().unwrap_or_default() }
}

impl Stack {
    pub fn output(&self, key: &str) -> String {
        self.outputs.get(key).cloned().unwrap_or_else(|| panic!("the stack has no output {key}: {:?}", self.outputs))
    }

    /// The function environment the template sets, filled from the stack's outputs.
    pub fn resources(&self) -> Resources {
        let mut vars: HashMap<&str, String> = HashMap::from([
            (env::BUCKET, self.output("BucketName")),
            (env::STATUS_TABLE, self.output("StatusTableName")),
            (env::STATE_TABLE, self.output("StateTableName")),
            (env::AUDIT_TABLE, self.output("AuditTableName")),
            (env::SUPPLIER_TABLE, self.output("SupplierTableName")),
        ]);
        for (queue, var) in env::queue_urls() {
            vars.insert(var, self.output(&format!("{}Url", crate::logical_queue(queue))));
        }
        Resources::from_lookup(|k| vars.get(k).cloned()).expect("every resource is in the outputs")
    }
}

pub struct AwsBackend {
    pub moto: Moto,
    pub stack: Stack,
    pub resources: Resources,
    workflow: Workflow,
    sqs: aws_sdk_sqs::Client,
    s3_event: Value,
    sqs_event: Value,
}

fn event(name: &str) -> Value {
    let path = repo_root().join("events").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

impl AwsBackend {
    pub async fn deploy(stack_name: &str) -> AwsBackend {
        let moto = Moto::start();
        let stack = deploy(&moto, stack_name);
        let resources = stack.resources();
        let cfg = sdk_config(Some(&moto.endpoint)).await;
        let workflow = Workflow::new(ports(&cfg, &resources), Settings::default());
        AwsBackend {
            sqs: aws_sdk_sqs::Client::new(&cfg),
            moto,
            stack,
            resources,
            workflow,
            s3_event: event("s3-put-web-products.json"),
            sqs_event: event("sqs-step-command.json"),
        }
    }
}

/// Percent-encodes a key the way S3 event notifications carry it.
fn s3_event_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"/-_.".contains(&b) => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[async_trait]
impl Backend for AwsBackend {
    fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    async fn upload(&self, key: &str, data: Bytes, modified: Option<DateTime<Utc>>) {
        let size = data.len();
        self.workflow.ports().blobs.put(key, data, modified).await.unwrap();
        let mut ev = self.s3_event.clone();
        ev["Records"][0]["s3"]["bucket"]["name"] = Value::from(self.resources.bucket.clone());
        ev["Records"][0]["s3"]["object"]["key"] = Value::from(s3_event_key(key));
        ev["Records"][0]["s3"]["object"]["size"] = Value::from(size);
        handle_event(&self.workflow, ev).await.unwrap_or_else(|e| panic!("S3 event for {key}: {e}"));
    }

    /// Polls every step queue as Lambda's event source mapping does (batch size 1), hands
    /// each message to the handler as an SQS event, and deletes what the handler did not report.
    async fn drain(&self) {
        loop {
            let mut handled = 0;
            for (_queue, url) in self.resources.queue_urls.iter() {
                let msgs = self.sqs.receive_message().queue_url(url).max_number_of_messages(1).send().await.unwrap();
                for m in msgs.messages() {
                    handled += 1;
                    let mut ev = self.sqs_event.clone();
                    ev["Records"][0]["messageId"] = Value::from(m.message_id().unwrap_or_default());
                    ev["Records"][0]["receiptHandle"] = Value::from(m.receipt_handle().unwrap_or_default());
                    ev["Records"][0]["body"] = Value::from(m.body().unwrap_or_default());
                    let reply = handle_event(&self.workflow, ev).await.unwrap();
                    let failures = reply["batchItemFailures"].as_array().map(Vec::len).unwrap_or(0);
                    assert_eq!(failures, 0, "the handler reported a failure for {:?}", m.body());
                    self.sqs
                        .delete_message()
                        .queue_url(url)
                        .receipt_handle(m.receipt_handle().unwrap())
                        .send()
                        .await
                        .unwrap();
                }
            }
            if handled == 0 {
                return;
            }
        }
    }
}

/// Hands `app` an HTTP event (HTTP API or function URL shape) the way `lambda_http` does in the
/// function: the answer's status and JSON body (a string when it is not JSON, `null` when empty).
pub async fn invoke_http(app: &axum::Router, event: &Value) -> (u16, Value) {
    use tower::ServiceExt;
    let req = lambda_http::request::from_str(&event.to_string()).expect("an HTTP event lambda_http reads");
    let (parts, body) = req.into_parts();
    let body = match body {
        lambda_http::Body::Text(t) => axum::body::Body::from(t),
        lambda_http::Body::Binary(b) => axum::body::Body::from(b),
        _ => axum::body::Body::empty(),
    };
    let resp = app.clone().oneshot(axum::http::Request::from_parts(parts, body)).await.expect("the router answers");
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("the answer's body");
    let body = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) if bytes.is_empty() => Value::Null,
        Err(_) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
    };
    (status, body)
}
