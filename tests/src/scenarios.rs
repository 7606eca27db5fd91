//! The daily-flow scenario suite. Every backend runs every scenario; each scenario gets a fresh
//! backend (its own bucket, tables and queues).

use bytes::Bytes;
use chrono::Utc;
use storesync_core::domain::{Actor, SessionId};
use storesync_core::ports::StepStatus;
use storesync_core::workflow::{Action, SessionState, SessionView, WorkflowError, MAPPING_KEY};

use crate::fixtures::Inputs;
use crate::Backend;

fn operator() -> Actor {
    Actor("dana".into())
}

async fn read(b: &dyn Backend, key: &str) -> String {
    let blob = b.workflow().ports().blobs.get(key).await.unwrap_or_else(|e| panic!("{key}: {e}"));
    String::from_utf8(blob.to_bytes().unwrap().to_vec()).unwrap()
}

async fn exists(b: &dyn Backend, key: &str) -> bool {
    b.workflow().ports().blobs.head(key).await.unwrap().is_some()
}

/// Uploads all four inputs (Comax last) and lets the steps run.
pub async fn upload_all(b: &dyn Backend, inputs: &Inputs) -> SessionId {
    for (key, data) in inputs.files() {
        b.upload(key, data, None).await;
    }
    b.drain().await;
    b.workflow().current().await.unwrap().expect("the uploads opened a session")
}

pub async fn act(b: &dyn Backend, s: &SessionId, a: Action) -> Result<(), WorkflowError> {
    b.workflow().request(s, a, &operator()).await?;
    b.drain().await;
    Ok(())
}

async fn view(b: &dyn Backend, s: &SessionId) -> SessionView {
    b.workflow().view(s).await.unwrap()
}

fn status(v: &SessionView, n: u8) -> (Option<StepStatus>, String) {
    (v.status(n), v.step(n).message.clone())
}

fn file_of(v: &SessionView, n: u8, field: &str) -> String {
    v.step(n).details[field].as_str().unwrap_or_else(|| panic!("step {n} has no {field}: {:?}", v.step(n))).to_string()
}

pub fn happy_inputs() -> Inputs {
    Inputs::small()
        .with_orders(&[
            "7001,1001,processing,2026-11-24T10:00:00,Dana Levi,dana@example.com,W2,1,10.00,ILS",
            "7002,1002,on-hold,2026-11-24T11:00:00,Noam Cohen,noam@example.com,W3,4,40.00,ILS",
            "7003,1003,completed,2026-11-23T11:00:00,Maya Katz,maya@example.com,W4,1,10.00,ILS",
        ])
        .set_comax("W1", "W1,יין 1,wine,10.00,9,1,1")
        .set_comax("W4", "W4,יין 4,wine,10.00,7,1,1")
        .set_comax("W5", "W5,יין 5,wine,12.50,10,1,1")
}

/// The five steps end to end, then a second cycle that must not export the orders again.
pub async fn happy_path(b: &dyn Backend) {
    let s = upload_all(b, &happy_inputs()).await;
    let v = view(b, &s).await;
    assert_eq!(v.status(1), Some(StepStatus::Completed), "{:?}", v.timeline);
    assert_eq!(
        status(&v, 2),
        (
            Some(StepStatus::Waiting),
            format!("Exported 1 orders (1 lines) to ComaxOrders-{s}.csv; waiting for \"Confirm Comax update\"")
        )
    );
    assert_eq!(v.status(3), Some(StepStatus::Waiting), "the Comax upload waits for step 2");
    assert_eq!(
        read(b, &file_of(&v, 2, "file")).await,
        "order_number,date,customer_name,sku,quantity,unit_price,line_total\n1001,2026-11-24T10:00:00,Dana Levi,W2,1,10.00,10.00\n"
    );
    assert!(
        matches!(act(b, &s, Action::GenerateInventory).await, Err(WorkflowError::Conflict { .. })),
        "no export before validation"
    );

    act(b, &s, Action::ConfirmOrders).await.unwrap();
    let v = view(b, &s).await;
    assert_eq!(status(&v, 2).0, Some(StepStatus::Completed));
    assert_eq!(status(&v, 3).0, Some(StepStatus::Completed), "{:?}", v.step(3));
    assert_eq!(status(&v, 4).0, Some(StepStatus::Completed), "{:?}", v.step(4));
    assert_eq!(v.step(4).details["to_export"], 5);

    act(b, &s, Action::GenerateInventory).await.unwrap();
    let v = view(b, &s).await;
    assert_eq!(v.status(5), Some(StepStatus::Waiting));
    let key = file_of(&v, 5, "file");
    assert_eq!(key, format!("outbox/{s}/WebInventory-{s}.csv"));
    assert_eq!(
        read(b, &key).await,
        "ID,SKU,Stock,In stock?,Regular price\n\
         1,W1,9,1,10.00\n\
         3,W3,6,1,10.00\n\
         4,W4,7,1,10.00\n\
         5,W5,10,1,12.50\n\
         101,,9,1,10.00\n"
    );
    let url = b.workflow().download_url(&s).await.unwrap();
    assert!(!url.is_empty());

    act(b, &s, Action::ConfirmInventory).await.unwrap();
    let v = view(b, &s).await;
    assert_eq!(v.status(5), Some(StepStatus::Completed));
    assert_eq!(v.session.state, SessionState::Completed);
    assert_eq!(b.workflow().current().await.unwrap(), None);
    let audit = b.workflow().ports().audit.list(&format!("session/{s}")).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["confirm-orders", "generate-inventory", "confirm-inventory"]);
    assert!(audit.iter().all(|e| e.who == "dana"));

    // The next day: the same orders file again. Order 7001 is not exported twice.
    let s2 = upload_all(b, &happy_inputs()).await;
    assert_ne!(s, s2);
    let v = view(b, &s2).await;
    assert_eq!(status(&v, 2), (Some(StepStatus::Completed), "No orders to export".to_string()));
    assert_eq!(v.status(3), Some(StepStatus::Completed), "step 3 runs at once: {:?}", v.step(3));
    assert_eq!(v.status(4), Some(StepStatus::Completed));
    assert!(!exists(b, &format!("outbox/{s2}/ComaxOrders-{s2}.csv")).await);
}

/// A web file without a required column fails step 1 with the file, line and column named;
/// the input stays in the bucket; uploading a fixed file runs the step again.
pub async fn missing_column(b: &dyn Backend) {
    let mut bad = Inputs::small();
    bad.web_products = bad.web_products.replace(",Regular price,", ",Price,");
    let s = upload_all(b, &bad).await;
    let v = view(b, &s).await;
    assert_eq!(
        status(&v, 1),
        (
            Some(StepStatus::Failed),
            "WebProducts.csv: line 1: required column \"Regular price\" is missing (found: ID, Type, SKU, Name, Published, In stock?, Stock, Price, Parent)".to_string()
        )
    );
    assert!(exists(b, "inbox/web/WebProducts.csv").await, "the bad input stays in the inbox");
    let snapshots = b.workflow().ports().blobs.list(&format!("sessions/{s}/input/")).await.unwrap();
    assert_eq!(snapshots.len(), 3, "an immutable copy of each input: {snapshots:?}");
    assert_eq!(v.status(2), None, "nothing after a failed step");

    b.upload("inbox/web/WebProducts.csv", Bytes::from(Inputs::small().web_products), None).await;
    b.drain().await;
    let v = view(b, &s).await;
    assert_eq!(v.status(1), Some(StepStatus::Completed), "{:?}", v.step(1));
    assert_eq!(status(&v, 2), (Some(StepStatus::Completed), "No orders to export".to_string()));
    assert_eq!(v.status(4), Some(StepStatus::Completed), "the waiting Comax file was imported: {:?}", v.step(3));
    assert!(!exists(b, "inbox/web/WebProducts.csv").await, "an imported input leaves the inbox");
    let snapshots = b.workflow().ports().blobs.list(&format!("sessions/{s}/input/")).await.unwrap();
    assert_eq!(snapshots.len(), 5, "both versions of WebProducts.csv are kept: {snapshots:?}");
}

/// Row errors block step 5 and are reported with file, line and SKU.
pub async fn validation_errors(b: &dyn Backend) {
    let mut inputs =
        Inputs::small().set_comax("W6", "W6,יין 6,wine,abc,10,1,1").set_comax("W7", "W7,יין 7,wine,0,3,1,1");
    inputs.comax.extend_from_slice(b"W2,again,wine,10.00,10,1,1\n");
    let s = upload_all(b, &inputs).await;
    let v = view(b, &s).await;
    let report_key = format!("outbox/{s}/Validation-{s}.csv");
    let (st, msg) = status(&v, 4);
    assert_eq!(st, Some(StepStatus::Failed));
    assert!(msg.starts_with("3 errors, ") && msg.ends_with(&format!(" warnings: see Validation-{s}.csv")), "{msg}");
    let report = read(b, &report_key).await;
    let errors: Vec<&str> = report.lines().filter(|l| !l.starts_with("warning,")).collect();
    assert_eq!(
        errors.join("\n") + "\n",
        "severity,rule,file,line,sku,message\n\
         error,price-unparseable,ComaxProducts.csv,7,W6,\"price \"\"abc\"\" does not parse\"\n\
         error,duplicate-sku,ComaxProducts.csv,14,W2,SKU also on line 3\n\
         error,price-not-positive,WebProducts.csv,8,W7,Comax price 0.00 (line 8) would be exported\n"
    );
    let err = act(b, &s, Action::GenerateInventory).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("session {s}: cannot generate the export: step 4 (Validate) is failed, not completed")
    );
    // A corrected Comax export: uploading it re-runs steps 3 and 4.
    b.upload("inbox/comax/ComaxProducts.csv", Bytes::from(Inputs::small().comax), None).await;
    b.drain().await;
    let v = view(b, &s).await;
    assert_eq!(v.status(4), Some(StepStatus::Completed), "{:?}", v.step(4));
}

/// The blast-radius guard, and the operator's recorded override.
pub async fn blast_radius(b: &dyn Backend) {
    let s1 = upload_all(b, &Inputs::small()).await;
    assert_eq!(view(b, &s1).await.status(4), Some(StepStatus::Completed));
    b.workflow().reset(&s1, &operator()).await.unwrap();

    // Half the rows are gone and the rest are zero: both guards trip.
    let mut inputs = Inputs::small();
    let text = String::from_utf8(inputs.comax.clone()).unwrap();
    let kept: Vec<String> = text.lines().take(6).map(|l| l.replace(",10,1,1", ",0,1,1")).collect();
    inputs.comax = (kept.join("\n") + "\n").into_bytes();
    let s = upload_all(b, &inputs).await;
    let v = view(b, &s).await;
    assert_eq!(v.status(4), Some(StepStatus::Failed));
    let msg = &v.step(4).message;
    assert!(msg.contains("the Comax file has 5 rows, under 50 % of the last accepted one (12)"), "{msg}");
    assert!(msg.contains("the export would set 6 of 13 in-stock products (46.2 %) to zero, over 30 %"), "{msg}");

    let err = act(b, &s, Action::Retry { step: 4, override_blast_radius: Some(" ".into()) }).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid request: override_blast_radius needs a reason");
    act(b, &s, Action::Retry { step: 4, override_blast_radius: Some("stock count day".into()) }).await.unwrap();
    let v = view(b, &s).await;
    assert_eq!(v.status(4), Some(StepStatus::Completed), "{:?}", v.step(4));
    assert_eq!(v.step(4).details["blast_radius"]["overridden"]["by"], "dana");
    assert_eq!(v.step(4).details["blast_radius"]["overridden"]["reason"], "stock count day");
    let report = read(b, &format!("outbox/{s}/Validation-{s}.csv")).await;
    assert!(report.contains("warning,blast-radius,ComaxProducts.csv,,,\"the Comax file has 5 rows"), "{report}");
    assert!(report.contains("overridden by dana (stock count day)"), "{report}");
    let audit = b.workflow().ports().audit.list(&format!("session/{s}")).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["retry-step-4-with-override", "override-blast-radius"]);
}

/// Yesterday's file is the commonest mistake: it is named in a warning.
pub async fn stale_file(b: &dyn Backend) {
    let inputs = Inputs::small();
    let old = Utc::now() - chrono::Duration::hours(30);
    for (key, data) in inputs.files() {
        let when = key.ends_with("ComaxProducts.csv").then_some(old);
        b.upload(key, data, when).await;
    }
    b.drain().await;
    let s = b.workflow().current().await.unwrap().unwrap();
    let v = view(b, &s).await;
    assert_eq!(v.status(4), Some(StepStatus::Completed), "a warning does not block: {:?}", v.step(4));
    let report = read(b, &format!("outbox/{s}/Validation-{s}.csv")).await;
    let line = report.lines().find(|l| l.contains("stale-file")).unwrap_or_else(|| panic!("{report}"));
    assert!(line.starts_with("warning,stale-file,ComaxProducts.csv,,,\"the file was written 30 h ago ("), "{line}");
    assert!(line.ends_with("more than 24 h: is it today's export?\""), "{line}");
    assert_eq!(report.matches("stale-file").count(), 1, "only the old file is named");
}

/// A Windows-1255, semicolon-separated Comax export read through a mapping by header and letter.
pub async fn comax_mapping(b: &dyn Backend) {
    let mapping = "sku = \"CMX SKU\"\nname = \"CMX NAME\"\nprice = { column = \"C\" }\nstock = \"CMX STOCK\"\narchive = \"CMX ARCHIVE\"\nsell_online = \"CMX WEB\"\n";
    b.workflow().ports().blobs.put(MAPPING_KEY, Bytes::from(mapping), None).await.unwrap();
    let mut inputs = Inputs::small();
    let mut text = String::from("CMX SKU;CMX NAME;;CMX STOCK;CMX ARCHIVE;CMX WEB\n");
    for i in 1..=10 {
        let archive = if i == 2 { "X" } else { "" };
        text.push_str(&format!("W{i};יין אדום {i};10,00;10;{archive};1\n"));
    }
    text.push_str("GS-2;מארז;100;4;;1\nGS-3;מארז;150;2;;1\n");
    let (bytes, _, _) = encoding_rs::WINDOWS_1255.encode(&text);
    inputs.comax = bytes.into_owned();
    let s = upload_all(b, &inputs).await;
    let v = view(b, &s).await;
    assert_eq!(status(&v, 3).1, "Imported 12 Comax products (12 distinct SKUs)");
    assert_eq!(v.status(4), Some(StepStatus::Completed), "{:?}", v.step(4));
    act(b, &s, Action::GenerateInventory).await.unwrap();
    let v = view(b, &s).await;
    assert_eq!(read(b, &file_of(&v, 5, "file")).await, "ID,SKU,Stock,In stock?,Regular price\n2,W2,0,0,10.00\n");

    // A broken mapping fails step 3 and names the mapping file.
    b.workflow().ports().blobs.put(MAPPING_KEY, Bytes::from("sku = \"CMX SKU\"\ncolour = 1\n"), None).await.unwrap();
    act(b, &s, Action::Retry { step: 3, override_blast_radius: None }).await.unwrap();
    let v = view(b, &s).await;
    assert_eq!(v.status(3), Some(StepStatus::Failed));
    assert!(v.step(3).message.starts_with("config/comax-mapping.toml: "), "{}", v.step(3).message);
    assert!(v.step(3).message.contains("colour"), "{}", v.step(3).message);
}

/// Reset ends a session without losing anything; retry re-runs a step from its snapshot.
pub async fn reset_and_retry(b: &dyn Backend) {
    let s = upload_all(b, &happy_inputs()).await;
    act(b, &s, Action::Retry { step: 1, override_blast_radius: None }).await.unwrap();
    let v = view(b, &s).await;
    assert_eq!(v.status(1), Some(StepStatus::Completed), "retry re-imports from the snapshot: {:?}", v.step(1));
    assert_eq!(v.status(2), Some(StepStatus::Waiting));
    let orders_file = file_of(&v, 2, "file");
    b.workflow().reset(&s, &operator()).await.unwrap();
    assert_eq!(view(b, &s).await.session.state, SessionState::Reset);
    assert!(exists(b, &orders_file).await, "outputs stay after a reset");
    assert_eq!(
        act(b, &s, Action::ConfirmOrders).await.unwrap_err().to_string(),
        format!("session {s}: the session is reset")
    );
    let s2 = upload_all(b, &happy_inputs()).await;
    assert_ne!(s, s2, "uploads after a reset open a new session");
    let v = view(b, &s2).await;
    assert_eq!(v.status(2), Some(StepStatus::Waiting), "unconfirmed orders are exported again");
}

/// Every scenario, by name, for the backends' test files.
pub const ALL: [&str; 7] = [
    "happy_path",
    "missing_column",
    "validation_errors",
    "blast_radius",
    "stale_file",
    "comax_mapping",
    "reset_and_retry",
];

pub async fn run(name: &str, b: &dyn Backend) {
    match name {
        "happy_path" => happy_path(b).await,
        "missing_column" => missing_column(b).await,
        "validation_errors" => validation_errors(b).await,
        "blast_radius" => blast_radius(b).await,
        "stale_file" => stale_file(b).await,
        "comax_mapping" => comax_mapping(b).await,
        "reset_and_retry" => reset_and_retry(b).await,
        other => panic!("no scenario {other}"),
    }
}
