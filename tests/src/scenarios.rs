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
    // A file waiting in the inbox belongs to the cycle being reset: it moves aside, kept.
    b.upload("inbox/web/WebProducts.csv", Bytes::from(Inputs::small().web_products), None).await;
    b.workflow().reset(&s, &operator()).await.unwrap();
    assert_eq!(view(b, &s).await.session.state, SessionState::Reset);
    assert!(b.workflow().ports().blobs.list("inbox/").await.unwrap().is_empty(), "the inbox is clear");
    assert_eq!(
        read(b, &format!("sessions/{s}/inbox-at-reset/web/WebProducts.csv")).await,
        Inputs::small().web_products
    );
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

/// One bad input: how to spoil the inputs, and what the operator must be told.
struct BadCase {
    name: &'static str,
    spoil: fn(&mut Inputs),
    /// The step that fails, and its exact message (`{s}` stands for the session id).
    step: u8,
    message: &'static str,
    /// A line the validation report must contain (for row-level problems).
    report_line: Option<&'static str>,
}

const BAD_CASES: [BadCase; 9] = [
    BadCase {
        name: "empty orders file",
        spoil: |i| i.web_orders = String::new(),
        step: 1,
        message: "WebOrders.csv: the file is empty (no header line)",
        report_line: None,
    },
    BadCase {
        name: "translations without original_product_id",
        spoil: |i| i.web_translations = "product_id,language\n101,en\n".into(),
        step: 1,
        message: "WebTranslations.csv: line 1: required column \"original_product_id\" is missing (found: product_id, language)",
        report_line: None,
    },
    BadCase {
        name: "Comax without a stock column",
        spoil: |i| {
            let text = String::from_utf8(i.comax.clone()).unwrap();
            i.comax = text.replace("sku,name,group,price,stock,active,sell_online", "sku,name,group,price,qty,active,sell_online").into_bytes();
        },
        step: 3,
        message: "ComaxProducts.csv: line 1: required column \"stock\" is missing (found: sku, name, group, price, qty, active, sell_online)",
        report_line: None,
    },
    BadCase {
        name: "web stock that does not parse",
        spoil: |i| i.web_products = i.web_products.replace("3,simple,W3,Wine 3,1,1,10,", "3,simple,W3,Wine 3,1,1,many,"),
        step: 4,
        message: "1 errors",
        report_line: Some("error,stock-unparseable,WebProducts.csv,4,W3,\"Stock \"\"many\"\" does not parse as a whole number\""),
    },
    BadCase {
        name: "web price that does not parse",
        spoil: |i| i.web_products = i.web_products.replace("5,simple,W5,Wine 5,1,1,10,10.00", "5,simple,W5,Wine 5,1,1,10,ten"),
        step: 4,
        message: "1 errors",
        report_line: Some("error,price-unparseable,WebProducts.csv,6,W5,\"Regular price \"\"ten\"\" does not parse\""),
    },
    BadCase {
        name: "a SKU on two web products",
        spoil: |i| i.web_products = i.web_products.replace("6,simple,W6,", "6,simple,W4,"),
        step: 4,
        message: "1 errors",
        report_line: Some("error,duplicate-sku,WebProducts.csv,7,W4,SKU also on line 5"),
    },
    BadCase {
        name: "an order quantity that does not parse",
        spoil: |i| {
            i.web_orders.push_str("8001,1801,processing,2026-11-24,Dana,d@example.com,W1,two,20.00,ILS\n");
        },
        step: 4,
        message: "1 errors",
        report_line: Some("error,order-row,WebOrders.csv,2,W1,\"quantity: \"\"two\"\" is not a whole number\""),
    },
    BadCase {
        name: "an unterminated quote in the Comax file",
        spoil: |i| {
            let text = String::from_utf8(i.comax.clone()).unwrap();
            i.comax = text.replace("W5,יין 5,", "W5,\"יין 5,").into_bytes();
        },
        step: 4,
        message: "2 errors",
        report_line: Some("error,row-shape,ComaxProducts.csv,6,W5,the row has 2 fields but the header has 7"),
    },
    BadCase {
        name: "a Comax row with an extra field",
        spoil: |i| {
            let text = String::from_utf8(i.comax.clone()).unwrap();
            i.comax = text.replace("W7,יין 7,wine,10.00,10,1,1", "W7,יין 7,wine,10.00,10,1,1,extra").into_bytes();
        },
        step: 4,
        message: "1 errors",
        report_line: Some("error,row-shape,ComaxProducts.csv,8,W7,the row has 8 fields but the header has 7"),
    },
];

/// Every bad input gets its exact error, and every input stays in the bucket.
pub async fn bad_inputs(b: &dyn Backend) {
    for case in &BAD_CASES {
        if let Some(open) = b.workflow().current().await.unwrap() {
            b.workflow().reset(&open, &operator()).await.unwrap();
        }
        let mut inputs = Inputs::small();
        (case.spoil)(&mut inputs);
        let s = upload_all(b, &inputs).await;
        if case.step > 2 {
            act(b, &s, Action::ConfirmOrders).await.ok();
        }
        let v = view(b, &s).await;
        let st = v.step(case.step);
        assert_eq!(st.status, Some(StepStatus::Failed), "{}: {:?}", case.name, v.timeline);
        let report =
            if case.step == 4 { read(b, &format!("outbox/{s}/Validation-{s}.csv")).await } else { String::new() };
        assert!(st.message.starts_with(case.message), "{}: {}\n{report}", case.name, st.message);
        for n in case.step + 1..=5 {
            assert!(
                v.status(n).is_none() || n == 3 && v.status(3) == Some(StepStatus::Waiting),
                "{}: step {n} ran",
                case.name
            );
        }
        if let Some(line) = case.report_line {
            assert!(report.lines().any(|l| l == line), "{}: no line {line:?} in\n{report}", case.name);
        }
        // The inputs are all kept: each uploaded file has a snapshot with its exact bytes.
        let snapshots = b.workflow().ports().blobs.list(&format!("sessions/{s}/input/")).await.unwrap();
        for (key, data) in inputs.files() {
            let name = key.rsplit('/').next().unwrap().trim_end_matches(".csv");
            if case.step < 3 && key.ends_with("ComaxProducts.csv") {
                assert!(exists(b, key).await, "{}: the Comax upload waits in the inbox", case.name);
                continue;
            }
            let snap = snapshots.iter().find(|i| i.key.rsplit('/').next().unwrap().starts_with(&format!("{name}-")));
            let snap = snap.unwrap_or_else(|| panic!("{}: no snapshot of {key} in {snapshots:?}", case.name));
            let kept = b.workflow().ports().blobs.get(&snap.key).await.unwrap().to_bytes().unwrap();
            assert_eq!(kept, data, "{}: {key} kept byte for byte", case.name);
        }
        if case.step == 1 || case.step == 3 {
            let inbox = if case.step == 1 { "inbox/web/" } else { "inbox/comax/" };
            assert!(
                !b.workflow().ports().blobs.list(inbox).await.unwrap().is_empty(),
                "{}: a failed input stays in {inbox}",
                case.name
            );
        }
    }
}

/// Every scenario, by name, for the backends' test files.
pub const ALL: [&str; 8] = [
    "bad_inputs",
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
        "bad_inputs" => bad_inputs(b).await,
        other => panic!("no scenario {other}"),
    }
}

/// Declares one test per scenario on a backend made by `$make(name).await`, and a test that
/// every scenario of [`ALL`] is declared.
#[macro_export]
macro_rules! scenario_tests {
    ($make:path; $($name:ident),* $(,)?) => {
        const RUN: &[&str] = &[$(stringify!($name)),*];
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let backend = $make(stringify!($name)).await;
                $crate::scenarios::run(stringify!($name), &backend).await;
            }
        )*

        #[test]
        fn every_scenario_has_a_test() {
            let mut here = RUN.to_vec();
            let mut all = $crate::scenarios::ALL.to_vec();
            here.sort();
            all.sort();
            assert_eq!(here, all, "every scenario of the suite runs on this backend");
        }
    };
}

/// Every scenario as a test on a backend made by `$make(name).await`.
#[macro_export]
macro_rules! all_scenario_tests {
    ($make:path) => {
        $crate::scenario_tests!(
            $make;
            bad_inputs,
            happy_path,
            missing_column,
            validation_errors,
            blast_radius,
            stale_file,
            comax_mapping,
            reset_and_retry,
        );
    };
}
