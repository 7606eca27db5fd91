//! The `storesync` binary as an operator runs it.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn storesync(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storesync"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .arg("--state")
        .arg(state)
        .args(args)
        .env_remove("STORESYNC_JWT_SECRET")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn only_file(dir: &Path, prefix: &str) -> String {
    let f = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}* in {}", dir.display()));
    std::fs::read_to_string(f).unwrap()
}

#[test]
fn demo_runs_the_whole_flow() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = storesync(&tmp.path().join("state"), &["demo", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "stdout:\n{}\nstderr:\n{}", text(&o.stdout), text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("Web update confirmed by"), "{stdout}");
    assert!(stdout.contains("Exported 2 orders (3 lines) to ComaxOrders-"), "{stdout}");
    let inv = only_file(&out, "WebInventory-");
    // On hold: W1003 has Comax stock 9 and 2 on hold; the translation with the same SKU too.
    assert!(inv.contains("\n102,W1003,7,1,69.90\n") && inv.contains("\n502,W1003,7,1,69.90\n"), "{inv}");
    // Negative Comax stock and the archived wine publish as 0; a translation with an empty SKU
    // follows its original's SKU.
    assert!(inv.contains("\n105,W1006,0,0,149.00\n") && inv.contains("\n106,W1007,0,0,45.00\n"), "{inv}");
    assert!(inv.contains("\n501,,8,1,79.90\n"), "{inv}");
    // Variable parents, grouped and external products are never exported.
    for id in ["130,", "530,", "150,", "160,"] {
        assert!(!inv.contains(&format!("\n{id}")), "{id} in {inv}");
    }
    let report = only_file(&out, "Validation-");
    assert!(report.contains("warning,to-create,ComaxProducts.csv,20,W1016,"), "{report}");
    let orders = only_file(&out, "ComaxOrders-");
    assert!(orders.contains("1001,2026-11-24T18:02:11,דנה לוי,W1001,2,89.90,179.80"), "{orders}");

    let o = storesync(&tmp.path().join("state"), &["status"]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("(completed)"), "{}", text(&o.stdout));
}

#[test]
fn daily_without_yes_stops_at_the_operator_step() {
    let tmp = tempfile::tempdir().unwrap();
    let d = "examples/daily";
    let out = tmp.path().join("out");
    let o = storesync(
        &tmp.path().join("state"),
        &[
            "daily",
            "--web-products",
            &format!("{d}/WebProducts.csv"),
            "--web-orders",
            &format!("{d}/WebOrders.csv"),
            "--web-translations",
            &format!("{d}/WebTranslations.csv"),
            "--comax",
            &format!("{d}/ComaxProducts.csv"),
            "--comax-mapping",
            &format!("{d}/comax-mapping.toml"),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let stderr = text(&o.stderr);
    assert!(stderr.starts_with("error: session ") && stderr.contains("did not complete"), "{stderr}");
    assert!(text(&o.stdout).contains("waiting for \"Confirm Comax update\""), "{}", text(&o.stdout));
}

#[test]
fn daily_fails_on_validation_errors_and_names_them() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/daily");
    // Without the mapping, the CMX export has none of the default columns.
    let comax = tmp.path().join("ComaxProducts.csv");
    std::fs::write(&comax, "sku,price,stock\nW1001,89.90,12\nW1001,1,1\n").unwrap();
    let out = tmp.path().join("out");
    let o = storesync(
        &tmp.path().join("state"),
        &[
            "daily",
            "--web-products",
            d.join("WebProducts.csv").to_str().unwrap(),
            "--web-orders",
            d.join("WebOrders.csv").to_str().unwrap(),
            "--web-translations",
            d.join("WebTranslations.csv").to_str().unwrap(),
            "--comax",
            comax.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--yes",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("step 4 Validate               failed     1 errors,"), "{stdout}");
    let report = only_file(&out, "Validation-");
    assert!(report.contains("error,duplicate-sku,ComaxProducts.csv,3,W1001,SKU also on line 2"), "{report}");
}

#[test]
fn daily_names_a_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let o = storesync(
        &tmp.path().join("state"),
        &["daily", "--web-products", "nope.csv", "--web-orders", "a", "--web-translations", "b", "--comax", "c"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "error: nope.csv: no such file\n");
}

#[test]
fn token_prints_a_jwt() {
    let tmp = tempfile::tempdir().unwrap();
    let o = storesync(&tmp.path().join("state"), &["token", "--role", "viewer"]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout).trim().split('.').count(), 3);
    let o = storesync(&tmp.path().join("state"), &["token", "--role", "admin"]);
    assert_eq!(text(&o.stderr), "error: --role \"admin\": use operator or viewer\n");
}

#[test]
fn a_storm_can_be_written_for_load_tools() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("storm.tsv");
    let out = Command::new(env!("CARGO_BIN_EXE_storesync"))
        .arg("--state")
        .arg(dir.path().join("state"))
        .args(["webhooks", "storm", "--events", "60", "--entities", "12", "--duplicate-share", "0.5", "--emit"])
        .arg(&file)
        .env("STORESYNC_WMS_SECRET", "emit-secret")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<String> = std::fs::read_to_string(&file).unwrap().lines().map(String::from).collect();
    assert!(text(&out.stdout).contains(&format!("wrote {} deliveries", lines.len())), "{}", text(&out.stdout));
    assert!(lines.len() > 60, "duplicates are deliveries too: {}", lines.len());
    let mut ids = std::collections::BTreeSet::new();
    for line in &lines {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 4, "id, event, signature, body: {line}");
        let body: serde_json::Value = serde_json::from_str(f[3]).unwrap();
        assert_eq!(body["event"], f[1]);
        assert_eq!(f[2], storesync_core::webhooks::signature::sign_base64(b"emit-secret", f[3].as_bytes()));
        ids.insert(f[0].to_string());
    }
    assert_eq!(ids.len(), 60, "one delivery id per event");
}

/// `storesync supplier …` as an operator runs it, against the Xorosoft and Shopify simulators:
/// a feed file ingested and matched, the report, the review, an approval, the apply, a
/// product's versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supplier_pipeline_from_the_command_line() {
    use storesync_core::supplier::distributor::Carried;
    use storesync_platforms::shopify::sim::{Bucket, ShopifySim};
    use storesync_platforms::xorosoft::sim::XorosoftSim;
    async fn serve(app: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }
    let shop = ShopifySim::new("shpat", Bucket { size: 1e9, restore_rate: 1e9 });
    let location = shop.add_location("Main warehouse");
    let stapler = shop
        .product_set(serde_json::json!({ "title": "Acme Stapler Heavy Duty", "descriptionHtml": "<p>Old</p>", "vendor": "Acme",
            "variants": [{ "sku": "ST-1", "price": "12.50", "optionValues": [{ "optionName": "Title", "name": "Default Title" }] }] }))
        .unwrap();
    let xoro = XorosoftSim::new("xo");
    xoro.carry_by(|sku| Some(Carried { item_number: format!("X-{sku}"), stock: 7, price: None }));
    let (shop_url, xoro_url) = (serve(shop.router()).await, serve(xoro.router()).await);
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("CowanOfficeSupplies_test.csv");
    std::fs::write(
        &feed,
        "Title,URL handle,Description,Vendor,SKU,Price,Weight value (grams)\n\
         Acme Stapler Heavy Duty,st-1,<p>New</p>,Acme,ST-1,12.50,\n\
         Acme Stapler Heavy Duty Refurbished,st-2,<p>Refurb</p>,Acme,SUP-2,9.00,\n\
         Globex Binder A4,gb,<p>Binder</p>,Globex,NEW-1,3.99,\n\
         Broken,br,,Acme,BAD-1,1.00,heavy\n",
    )
    .unwrap();
    let state = tmp.path().join("state");
    let run = |args: Vec<String>| {
        let (state, shop_url, xoro_url, location) =
            (state.clone(), shop_url.clone(), xoro_url.clone(), location.clone());
        tokio::task::spawn_blocking(move || {
            let o = Command::new(env!("CARGO_BIN_EXE_storesync"))
                .arg("--state")
                .arg(&state)
                .args(&args)
                .env("STORESYNC_SHOPIFY_URL", &shop_url)
                .env("STORESYNC_SHOPIFY_TOKEN", "shpat")
                .env("STORESYNC_SHOPIFY_LOCATION", &location)
                .env("STORESYNC_XOROSOFT_URL", &xoro_url)
                .env("STORESYNC_XOROSOFT_TOKEN", "xo")
                .env("USER", "dana")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(o.status.success(), "{args:?}\nstdout:\n{}\nstderr:\n{}", text(&o.stdout), text(&o.stderr));
            text(&o.stdout)
        })
    };
    let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let out = run(a(&["supplier", "ingest", feed.to_str().unwrap()])).await.unwrap();
    assert!(out.contains(": 3 items, 1 bad rows, 1 of 1 batches done"), "{out}");
    assert!(out.contains("new 1, matched 2, unchanged 0; auto-approved 2, pending review 1"), "{out}");
    let id = out.split_whitespace().nth(1).unwrap().trim_end_matches(':').to_string();
    let review = run(a(&["supplier", "review", &id])).await.unwrap();
    assert!(review.starts_with(&format!("SUP-2 [pending] UPDATE {stapler}, confidence ")), "{review}");
    assert!(
        review.contains("evidence: name \"Acme Stapler Heavy Duty Refurbished\" ~ \"Acme Stapler Heavy Duty\""),
        "{review}"
    );
    assert!(review.contains("    name: Acme Stapler Heavy Duty -> Acme Stapler Heavy Duty Refurbished"), "{review}");
    let approved = run(a(&["supplier", "approve", &id, "SUP-2", "--fields", "description"])).await.unwrap();
    assert!(approved.starts_with("SUP-2 [approved]"), "{approved}");
    let applied = run(a(&["supplier", "apply"])).await.unwrap();
    assert_eq!(applied, "3 applied, 0 back in review (Shopify changed them), 0 failed\n");
    let history = run(a(&["supplier", "history", &stapler])).await.unwrap();
    assert!(history.contains("supplier-feed ") && history.contains("approved by cli:dana"), "{history}");
    assert!(history.contains("description: <p>New</p> -> <p>Refurb</p>"), "{history}");
    let report = run(a(&["supplier", "report", &id])).await.unwrap();
    assert!(report.contains("entries now: applied 3"), "{report}");
    let runs = run(a(&["supplier", "runs"])).await.unwrap();
    assert!(runs.starts_with(&format!("{id}  raw/etilize/")), "{runs}");
    assert!(runs.trim_end().ends_with("3 items, 1 bad rows, 1/1 batches; entries now: applied 3"), "{runs}");
}
