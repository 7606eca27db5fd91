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

/// Hands `app` an HTTP event (HTTP API or function URL shape) as the function does
/// (`storesync_aws::http::handle_http_event`): the answer's status and JSON body (a string when
/// it is not JSON, `null` when empty).
pub async fn invoke_http(app: &axum::Router, event: &Value) -> (u16, Value) {
    let resp = storesync_aws::http::handle_http_event(app, event.clone(), Default::default())
        .await
        .expect("an HTTP event lambda_http reads");
    let status = resp["statusCode"].as_u64().expect("a status code") as u16;
    let text = match resp["body"].as_str() {
        Some(b) if resp["isBase64Encoded"] == true => {
            use base64::Engine;
            String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(b).unwrap()).into_owned()
        }
        Some(b) => b.to_string(),
        None => String::new(),
    };
    let body = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) if text.is_empty() => Value::Null,
        Err(_) => Value::String(text),
    };
    (status, body)
}

/// What a table's change stream holds, and the Lambda events a mapping would make of it.
pub struct StreamEvents {
    pub records: u64,
    pub events: Vec<Value>,
}

/// A DynamoDB stream mapping's position on moto: each call to [`StreamTap::poll`] gives the
/// events the mapping would deliver since the last one, its filter and batch size read from the
/// template (tests/moto_stream.py; moto's own mappings are off).
pub struct StreamTap {
    endpoint: String,
    table: String,
    /// The template's function and event, or none: every record, 100 an event.
    mapping: Option<(String, String)>,
    delivered: u64,
}

impl StreamTap {
    pub fn new(moto: &Moto, table: &str, mapping: Option<(&str, &str)>) -> Self {
        Self {
            endpoint: moto.endpoint.clone(),
            table: table.to_string(),
            mapping: mapping.map(|(f, e)| (f.to_string(), e.to_string())),
            delivered: 0,
        }
    }

    pub fn poll(&mut self) -> StreamEvents {
        let root = repo_root();
        let (template, function, event) = match &self.mapping {
            Some((f, e)) => (root.join("infra/template.yaml").display().to_string(), f.as_str(), e.as_str()),
            None => ("-".to_string(), "-", "-"),
        };
        let out = Command::new("python3")
            .arg(root.join("tests/moto_stream.py"))
            .args([&self.endpoint, &self.table, &template, function, event, &self.delivered.to_string()])
            .output()
            .expect("python3 runs tests/moto_stream.py");
        assert!(out.status.success(), "reading the stream failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        self.delivered = v["passed"].as_u64().unwrap();
        StreamEvents { records: v["stream_records"].as_u64().unwrap(), events: v["events"].as_array().unwrap().clone() }
    }
}

/// The receiver's `WebhookOutbox` mapping on moto: every dedupe record written since the last
/// call queued, as the function does it. Returns the messages queued.
pub async fn run_outbox(tap: &mut StreamTap, app: &axum::Router, ports: &storesync_core::ports::Ports) -> u64 {
    let mut queued = 0;
    for ev in tap.poll().events {
        let reply = storesync_aws::http::handle_receiver_event(app, ports, ev, Default::default()).await.unwrap();
        queued += reply["queued"].as_u64().expect("an outbox reply");
    }
    queued
}
