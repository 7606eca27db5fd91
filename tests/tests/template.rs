//! The SAM template: cfn-lint clean, and true to the code (every variable, queue, table, bucket
//! prefix, route and binary the code uses is declared, and nothing declared is unused).

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use storesync_core::workflow::{INBOX_COMAX, INBOX_WEB, QUEUES};
use storesync_tests::repo_root;

fn template() -> Value {
    let path = repo_root().join("infra/template.yaml");
    let out = Command::new("python3")
        .args(["-c", "import json,sys; from samtranslator.yaml_helper import yaml_parse; print(json.dumps(yaml_parse(open(sys.argv[1]).read())))"])
        .arg(&path)
        .output()
        .expect("python3 with aws-sam-translator (make test installs it)");
    assert!(out.status.success(), "cannot parse the template: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn resources_of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a String, &'a Value)> {
    t["Resources"].as_object().unwrap().iter().filter(|(_, r)| r["Type"] == ty).collect()
}

/// Every queue of the webhook path.
fn webhook_queues() -> Vec<&'static str> {
    storesync_aws::env::WEBHOOK_QUEUE_URLS.iter().map(|(q, _)| *q).collect()
}

fn pascal(name: &str) -> String {
    name.split('-').map(|p| p[..1].to_uppercase() + &p[1..]).collect()
}

/// The queues of the supplier pipeline (its worker consumes both).
fn supplier_queues() -> Vec<&'static str> {
    vec![storesync_core::supplier::pipeline::BATCH_QUEUE, storesync_core::supplier::pipeline::APPLY_QUEUE]
}

/// The queues of store ⇄ store sync that a worker consumes (the dead-letter one is not).
fn store_queues() -> Vec<&'static str> {
    vec![storesync_core::stores::plans::COMPARE_QUEUE, storesync_core::stores::sync::SYNC_QUEUE]
}

#[test]
fn cfn_lint_is_clean() {
    let out = Command::new("cfn-lint")
        .arg(repo_root().join("infra/template.yaml"))
        .output()
        .expect("cfn-lint must be installed (make test installs it)");
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn environment_matches_the_code() {
    let t = template();
    let vars = t["Globals"]["Function"]["Environment"]["Variables"].as_object().unwrap();
    let declared: BTreeSet<&str> = vars.keys().map(String::as_str).filter(|k| *k != "RUST_LOG").collect();
    let used: BTreeSet<&str> = storesync_aws::env::all().into_iter().collect();
    assert_eq!(declared, used, "the template's variables and the code's differ");
    assert_eq!(vars[storesync_aws::env::STATUS_TABLE], serde_json::json!({ "Ref": "StatusTable" }));
    assert_eq!(vars[storesync_aws::env::STATE_TABLE], serde_json::json!({ "Ref": "StateTable" }));
    assert_eq!(vars[storesync_aws::env::AUDIT_TABLE], serde_json::json!({ "Ref": "AuditTable" }));
    assert_eq!(vars[storesync_aws::env::SUPPLIER_TABLE], serde_json::json!({ "Ref": "SupplierTable" }));
    assert_eq!(vars[storesync_aws::env::BUCKET], t["Resources"]["DataBucket"]["Properties"]["BucketName"]);
    for (queue, var) in storesync_aws::env::queue_urls() {
        assert_eq!(vars[*var], serde_json::json!({ "Ref": storesync_tests::logical_queue(queue) }), "{var}");
    }
    let names: Vec<&str> = storesync_aws::env::QUEUE_URLS.iter().map(|(q, _)| *q).collect();
    assert_eq!(names, QUEUES, "every workflow queue has a URL variable");
    let mut webhook: Vec<&str> = storesync_aws::env::WEBHOOK_QUEUE_URLS.iter().map(|(q, _)| *q).collect();
    webhook.sort();
    let mut expected = storesync_core::webhooks::processor::QUEUES.to_vec();
    expected.push(storesync_core::webhooks::jobs::ORDER_PUSH);
    expected.sort();
    assert_eq!(webhook, expected, "every webhook queue has a URL variable");
    let store: Vec<&str> = storesync_aws::env::STORE_QUEUE_URLS.iter().map(|(q, _)| *q).collect();
    let mut expected = store_queues();
    expected.push(storesync_core::stores::sync::SYNC_DLQ);
    assert_eq!(store, expected, "every store sync queue has a URL variable");
    // The sync worker's dead-letter queue is the sync queue's redrive target.
    let redrive = &t["Resources"]["StoreSyncQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"];
    let dead = storesync_tests::logical_queue(storesync_core::stores::sync::SYNC_DLQ);
    assert_eq!(redrive, &serde_json::json!({ "Fn::GetAtt": [dead, "Arn"] }));
}

#[test]
fn every_queue_has_a_dead_letter_queue_and_every_dlq_an_alarm() {
    let t = template();
    let r = &t["Resources"];
    let queues = resources_of_type(&t, "AWS::SQS::Queue");
    let mut step_queues = BTreeSet::new();
    for (name, q) in &queues {
        if let Some(redrive) = q["Properties"].get("RedrivePolicy") {
            step_queues.insert(name.as_str());
            let dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0].as_str().unwrap();
            assert!(r.get(dlq).is_some(), "{name}: dead-letter queue {dlq} is declared");
            let fifo = q["Properties"]["FifoQueue"] == true;
            assert_eq!(r[dlq]["Properties"]["FifoQueue"] == true, fifo, "{name}: a FIFO queue needs a FIFO DLQ");
            // storesync's retry schedule dead-letters webhooks itself; SQS's redrive is the backstop.
            let receives = match name.as_str() {
                n if n.starts_with("Webhooks") || n.starts_with("Wms") => 10,
                // The workers make a failure final on the last receive: they must know which it is.
                "StoreCompareQueue" => storesync_core::stores::plans::COMPARE_RECEIVES,
                "StoreSyncQueue" => storesync_core::stores::sync::SYNC_RECEIVES,
                _ => 5,
            };
            assert_eq!(redrive["maxReceiveCount"], receives, "{name}");
        }
    }
    for q in storesync_core::webhooks::processor::CLASS_QUEUES {
        let p = &r[format!("{}Queue", pascal(q))]["Properties"];
        assert_eq!(p["FifoQueue"], true, "{q} keeps each entity's events in order");
    }
    let mut expected: BTreeSet<String> = QUEUES.iter().map(|q| format!("{}Queue", pascal(q))).collect();
    expected.extend(webhook_queues().iter().map(|q| format!("{}Queue", pascal(q))));
    expected.extend(store_queues().iter().map(|q| format!("{}Queue", pascal(q))));
    expected.extend(supplier_queues().iter().map(|q| format!("{}Queue", pascal(q))));
    assert_eq!(step_queues, expected.iter().map(String::as_str).collect(), "one redriven queue per workflow queue");
    let alarmed: BTreeSet<&str> = resources_of_type(&t, "AWS::CloudWatch::Alarm")
        .iter()
        .filter_map(|(_, a)| a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0].as_str())
        .collect();
    for (name, _) in queues.iter().filter(|(n, _)| n.ends_with("DLQ")) {
        assert!(alarmed.contains(name.as_str()), "{name} has no alarm");
    }
    let all = QUEUES.len() + 1 + webhook_queues().len() + store_queues().len() + supplier_queues().len();
    assert_eq!(alarmed.len(), all, "every DLQ is alarmed");
}

#[test]
fn functions_binaries_triggers_and_routes() {
    let t = template();
    let functions = resources_of_type(&t, "AWS::Serverless::Function");
    let mut binaries = BTreeSet::new();
    let mut prefixes = BTreeSet::new();
    let mut sqs_queues = BTreeSet::new();
    let mut routes = BTreeSet::new();
    let mut schedules = BTreeSet::new();
    let (mut archived, mut outboxed) = (false, false);
    let mut supplier_jobs = BTreeSet::new();
    for (name, f) in &functions {
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        let bin = f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let manifest = std::fs::read_to_string(repo_root().join("functions").join(bin).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{name}: functions/{bin}/Cargo.toml: {e}"));
        assert!(manifest.contains(&format!("name = \"{bin}\"")), "{name}: package {bin}");
        binaries.insert(bin.to_string());
        for (_, ev) in f["Properties"]["Events"].as_object().unwrap() {
            match ev["Type"].as_str().unwrap() {
                "S3" => {
                    let rules = &ev["Properties"]["Filter"]["S3Key"]["Rules"];
                    prefixes.insert(rules[0]["Value"].as_str().unwrap().to_string());
                    assert_eq!(ev["Properties"]["Bucket"], serde_json::json!({ "Ref": "DataBucket" }));
                }
                "SQS" => {
                    assert_eq!(
                        ev["Properties"]["FunctionResponseTypes"],
                        serde_json::json!(["ReportBatchItemFailures"])
                    );
                    let queue = ev["Properties"]["Queue"]["Fn::GetAtt"][0].as_str().unwrap();
                    // A message must stay hidden while its consumer may still be running.
                    let timeout =
                        f["Properties"]["Timeout"].as_u64().or(t["Globals"]["Function"]["Timeout"].as_u64()).unwrap();
                    let visibility = t["Resources"][queue]["Properties"]["VisibilityTimeout"].as_u64().unwrap_or(30);
                    assert!(
                        visibility >= timeout,
                        "{queue}: visible again after {visibility} s, {name} runs {timeout} s"
                    );
                    sqs_queues.insert(queue.to_string());
                }
                "HttpApi" => {
                    let open = ev["Properties"]["Auth"]["Authorizer"] == "NONE";
                    assert_eq!(open, *name == "WebhookReceiverFunction", "{name}: only webhooks skip the JWT");
                    routes.insert((
                        ev["Properties"]["Method"].as_str().unwrap().to_string(),
                        ev["Properties"]["Path"].as_str().unwrap().to_string(),
                    ));
                }
                "Schedule" => match name.as_str() {
                    "ImportWebFunction" => {}
                    "SupplierPollerFunction" => {
                        let input: Value = serde_json::from_str(ev["Properties"]["Input"].as_str().unwrap()).unwrap();
                        let schedule = match &ev["Properties"]["Schedule"] {
                            Value::String(s) => s.clone(),
                            other => other["Ref"].as_str().unwrap().to_string(),
                        };
                        supplier_jobs.insert((input["job"].as_str().unwrap().to_string(), schedule));
                    }
                    "WebhookProcessorFunction" => {
                        let input: Value = serde_json::from_str(ev["Properties"]["Input"].as_str().unwrap()).unwrap();
                        schedules.insert((
                            input["job"].as_str().unwrap().to_string(),
                            ev["Properties"]["Schedule"].as_str().unwrap().to_string(),
                        ));
                    }
                    other => panic!("{other}: unexpected schedule"),
                },
                "DynamoDB" => {
                    // The dedupe records' stream: the receiver's outbox queues their messages;
                    // the processor archives the raw deliveries (and then does not per batch).
                    let p = &ev["Properties"];
                    assert_eq!(p["Stream"], serde_json::json!({ "Fn::GetAtt": ["StateTable", "StreamArn"] }));
                    let view = &t["Resources"]["StateTable"]["Properties"]["StreamSpecification"]["StreamViewType"];
                    assert!(view == "NEW_IMAGE" || view == "NEW_AND_OLD_IMAGES", "{name} reads new images");
                    let pattern: Value =
                        serde_json::from_str(p["FilterCriteria"]["Filters"][0]["Pattern"].as_str().unwrap()).unwrap();
                    let prefix = storesync_core::webhooks::receiver::record_key("");
                    assert_eq!(pattern["dynamodb"]["Keys"]["pk"]["S"], serde_json::json!([{ "prefix": prefix }]));
                    assert_eq!(pattern["eventName"], serde_json::json!(["INSERT", "MODIFY"]));
                    assert_eq!(p["BisectBatchOnFunctionError"], true, "{name}: a failing record is isolated");
                    let watched = resources_of_type(&t, "AWS::CloudWatch::Alarm").iter().any(|(_, a)| {
                        let a = &a["Properties"];
                        a["MetricName"] == "IteratorAge" && a["Dimensions"][0]["Value"]["Ref"] == name.as_str()
                    });
                    assert!(watched, "{name}: a stream consumer falling behind is alarmed");
                    match name.as_str() {
                        "WebhookProcessorFunction" => {
                            use storesync_core::webhooks::archive::ENV_ARCHIVE;
                            assert_eq!(f["Properties"]["Environment"]["Variables"][ENV_ARCHIVE], "stream");
                            archived = true;
                        }
                        "WebhookReceiverFunction" => {
                            // Queued within seconds of receipt.
                            assert!(p["MaximumBatchingWindowInSeconds"].as_u64().unwrap_or(0) <= 5);
                            outboxed = true;
                        }
                        other => panic!("{other}: unexpected stream consumer"),
                    }
                }
                other => panic!("{name}: unexpected event type {other}"),
            }
        }
    }
    let dirs: BTreeSet<String> = std::fs::read_dir(repo_root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(binaries, dirs, "one SAM function per functions/ binary");
    assert!(archived, "something archives the raw webhooks");
    assert!(outboxed, "something queues the admitted webhooks");
    let jobs = storesync_core::supplier::pipeline::JOBS
        .iter()
        .map(|s| (s.job.to_string(), s.expression.to_string()))
        .collect();
    assert_eq!(supplier_jobs, jobs, "the template schedules every supplier job");
    let raw = storesync_core::supplier::pipeline::RAW_PREFIX.to_string();
    assert_eq!(prefixes, BTreeSet::from([INBOX_WEB.to_string(), INBOX_COMAX.to_string(), raw]));
    let mut expected: BTreeSet<String> = QUEUES.iter().map(|q| format!("{}Queue", pascal(q))).collect();
    expected.extend(storesync_core::webhooks::processor::QUEUES.iter().map(|q| format!("{}Queue", pascal(q))));
    expected.extend(store_queues().iter().map(|q| format!("{}Queue", pascal(q))));
    expected.extend(supplier_queues().iter().map(|q| format!("{}Queue", pascal(q))));
    assert_eq!(
        sqs_queues, expected,
        "every step, webhook and store queue has its consumer (the order push is scheduled)"
    );
    let want: BTreeSet<(String, String)> = storesync_core::webhooks::jobs::SCHEDULES
        .iter()
        .map(|s| (s.job.to_string(), s.expression.to_string()))
        .collect();
    assert_eq!(schedules, want, "the template's schedules are the local runtime's");
    let mut api: BTreeSet<(String, String)> =
        storesync_api::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    api.insert((storesync_api::WEBHOOK_ROUTE.0.to_string(), storesync_api::WEBHOOK_ROUTE.1.to_string()));
    assert_eq!(routes, api, "the template's routes are the router's");
}

#[test]
fn the_bucket_is_private_and_encrypted() {
    let t = template();
    let b = &t["Resources"]["DataBucket"]["Properties"];
    for k in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(b["PublicAccessBlockConfiguration"][k], true, "{k}");
    }
    assert!(b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        ["SSEAlgorithm"]
        .is_string());
    let ttl = &t["Resources"]["StateTable"]["Properties"]["TimeToLiveSpecification"];
    assert_eq!(ttl["AttributeName"], storesync_aws::adapters::TTL_ATTRIBUTE, "dedupe records expire");
    assert_eq!(ttl["Enabled"], true);
    let api = &t["Resources"]["AdminApi"]["Properties"]["Auth"];
    assert_eq!(api["DefaultAuthorizer"], "JwtAuthorizer", "every admin route needs a JWT");
    assert!(api["Authorizers"]["JwtAuthorizer"]["JwtConfiguration"]["issuer"].is_object());
}

/// Least privilege: only the admin API and the steps that write audit records may touch the
/// audit table, and no function may send to a queue whose commands it never produces.
#[test]
fn policies_are_least_privilege() {
    let t = template();
    // What a function's policies of one kind name.
    let named = |f: &Value, policy: &str, name: fn(&Value) -> &Value| -> BTreeSet<String> {
        f["Properties"]["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.get(policy))
            .map(|p| name(p).as_str().unwrap().to_string())
            .collect()
    };
    let send_targets = |f: &Value| named(f, "SQSSendMessagePolicy", |p| &p["QueueName"]["Fn::GetAtt"][0]);
    let r = &t["Resources"];
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(send_targets(&r["ImportWebFunction"]), set(&["ImportWebQueue", "ExportOrdersQueue"]));
    assert_eq!(send_targets(&r["ExportOrdersFunction"]), set(&["ImportComaxQueue"]));
    assert_eq!(send_targets(&r["ImportComaxFunction"]), set(&["ValidateQueue"]));
    assert_eq!(send_targets(&r["ValidateFunction"]), set(&[]));
    assert_eq!(send_targets(&r["ExportInventoryFunction"]), set(&[]));
    assert_eq!(
        send_targets(&r["AdminApiFunction"]).len(),
        QUEUES.len() + webhook_queues().len() + store_queues().len() + 1,
        "every workflow queue, and the supplier's apply queue (a review's approval)"
    );
    assert_eq!(
        send_targets(&r["SupplierPollerFunction"]),
        set(&["SupplierApplyQueue"]),
        "the sweep re-queues approvals"
    );
    assert_eq!(send_targets(&r["SupplierIngestFunction"]), set(&["SupplierBatchesQueue"]));
    assert_eq!(send_targets(&r["SupplierWorkerFunction"]), set(&["SupplierApplyQueue"]));
    assert_eq!(send_targets(&r["StoreCompareFunction"]), set(&[]), "a compare only keeps its plan");
    assert_eq!(send_targets(&r["StoreSyncWorkerFunction"]), set(&["StoreSyncDLQ"]));
    // Who logs progress may write the status table.
    let writes_status = |f: &Value| {
        f["Properties"]["Policies"].as_array().unwrap().iter().any(|p| {
            ["DynamoDBCrudPolicy", "DynamoDBWritePolicy"]
                .iter()
                .any(|k| p.get(*k).is_some_and(|t| t["TableName"] == serde_json::json!({ "Ref": "StatusTable" })))
        })
    };
    for f in ["AdminApiFunction", "StoreSyncWorkerFunction", "ImportWebFunction"] {
        assert!(writes_status(&r[f]), "{f} logs progress: it needs to write the status table");
    }
    let class: BTreeSet<String> =
        storesync_core::webhooks::processor::CLASS_QUEUES.iter().map(|q| format!("{}Queue", pascal(q))).collect();
    assert_eq!(send_targets(&r["WebhookReceiverFunction"]), class, "the outbox only enqueues");
    let mut all: BTreeSet<String> = webhook_queues().iter().map(|q| format!("{}Queue", pascal(q))).collect();
    all.insert("SupplierApplyQueue".into());
    assert_eq!(send_targets(&r["WebhookProcessorFunction"]), all, "and low-stock alerts to the supplier worker");
    let crud_tables = |f: &Value| named(f, "DynamoDBCrudPolicy", |p| &p["TableName"]["Ref"]);
    assert!(
        crud_tables(&r["WebhookProcessorFunction"]).contains("SupplierTable"),
        "Shopify's product edits become versions in the supplier table"
    );
}
