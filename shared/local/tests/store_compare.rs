//! `storesync store compare` against the simulated stores of `serve --simulate`, as an operator
//! runs it: the plan is printed, kept in the bucket and exported as CSV; nothing is written.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use storesync_core::stores::plans::load_plan;
use storesync_core::stores::Platform;
use storesync_local::simulate::{Simulation, SIM_ENTITIES};

/// Runs `storesync --state STATE ARGS…` with the simulated stores' variables; stdout, or a panic
/// with both streams.
async fn storesync(state: &Path, env: &[(&'static str, String)], args: &[&str]) -> String {
    let (state, env, args): (PathBuf, Vec<(&str, String)>, Vec<String>) =
        (state.to_path_buf(), env.to_vec(), args.iter().map(|a| a.to_string()).collect());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_storesync"))
            .arg("--state")
            .arg(&state)
            .args(&args)
            .envs(env)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The simulators of `serve --simulate`, on a loopback port.
async fn start_sim() -> Simulation {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Simulation::new(listener.local_addr().unwrap());
    let app = sim.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    sim
}

fn second_word(s: &str) -> String {
    s.split_whitespace().nth(1).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_then_compare_finds_nothing_and_a_rollback_restores_the_destination() {
    let sim = start_sim().await;
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let env = sim.store_env.clone();
    let loc = env.iter().find(|(k, _)| k.ends_with("LOCATION")).unwrap().1.clone();
    let before: Vec<Option<i64>> = (0..20).map(|n| sim.shopify.available(&format!("SKU-{n:04}"), &loc)).collect();

    let plan = second_word(&storesync(&state, &env, &["store", "compare", "--source", "woocommerce"]).await);
    let refused = tokio::task::spawn_blocking({
        let (state, env, plan) = (state.clone(), env.clone(), plan.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_storesync"))
                .arg("--state")
                .arg(&state)
                .args(["store", "sync", &plan])
                .envs(env)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(!refused.status.success(), "no --yes, no sync");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Add --yes to confirm"));
    assert_eq!(sim.shopify.stats().set_calls, 0);

    let out = storesync(&state, &env, &["store", "sync", &plan, "--yes"]).await;
    let differing = (0..SIM_ENTITIES - 10).filter(|n| n % 7 == 0 && n % 13 != 10).count();
    assert!(out.contains(&format!("{differing} items, {differing} succeeded, 0 failed, 0 moved, 0 pending")), "{out}");
    let run = second_word(&out);
    let again = storesync(&state, &env, &["store", "compare", "--source", "woocommerce"]).await;
    assert!(again.contains(" 0 to change,"), "after a sync a compare finds nothing: {again}");

    let rb = storesync(&state, &env, &["store", "rollback", &run]).await;
    let rollback_plan = second_word(&rb);
    let out = storesync(&state, &env, &["store", "sync", &rollback_plan, "--yes"]).await;
    assert!(out.contains(&format!("{differing} succeeded")), "{out}");
    let after: Vec<Option<i64>> = (0..20).map(|n| sim.shopify.available(&format!("SKU-{n:04}"), &loc)).collect();
    assert_eq!(after, before, "the destination is as it was before the sync");
    let results = storesync(&state, &env, &["store", "results", &run]).await;
    assert!(results.contains(&format!("{differing} succeeded")), "{results}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_keeps_a_plan_of_the_differences_and_writes_nothing() {
    let sim = start_sim().await;
    let tmp = tempfile::tempdir().unwrap();
    let (state, csv) = (tmp.path().join("state"), tmp.path().join("plan.csv"));
    let args = ["store", "compare", "--source", "woocommerce", "--type", "inventory", "--csv", csv.to_str().unwrap()];
    let stdout = storesync(&state, &sim.store_env, &args).await;

    // Shopify has every 7th SKU at another stock (unless it happens to be 10), lacks the last
    // ten and has two of its own.
    let differing = (0..SIM_ENTITIES - 10).filter(|n| n % 7 == 0 && n % 13 != 10).count();
    let summary = format!(
        "{differing} to change, {} already equal, 10 missing on shopify, 2 missing on woocommerce, 0 ambiguous",
        SIM_ENTITIES - 10 - differing
    );
    assert!(stdout.contains(&summary), "{stdout}");
    let id = stdout.split_whitespace().nth(1).unwrap().to_string();

    let local = storesync_local::Local::open(&state, Default::default()).unwrap();
    let plan = load_plan(local.workflow.ports(), &id).await.unwrap();
    assert_eq!(plan.comparison.items.len(), differing);
    assert_eq!((plan.comparison.source, plan.comparison.destination), (Platform::WooCommerce, Platform::Shopify));
    let first = &plan.comparison.items[0];
    assert_eq!(
        (first.sku.as_str(), first.source_quantity, first.destination_quantity),
        ("SKU-0000", Some(10), Some(0))
    );
    assert!(first.product_id.starts_with("gid://shopify/ProductVariant/"));
    let audit =
        storesync_core::ports::AuditLog::list(local.workflow.ports().audit.as_ref(), &format!("store-sync/plan/{id}"))
            .await
            .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "store-sync.compare");

    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), differing + 1);
    assert!(text.lines().nth(1).unwrap().starts_with("0,gid://shopify/ProductVariant/"), "{text}");
    // A dry run: Shopify's stock is as it was.
    let loc = sim.store_env.iter().find(|(k, _)| k.ends_with("LOCATION")).unwrap().1.clone();
    assert_eq!(sim.shopify.available("SKU-0000", &loc), Some(0));
    assert_eq!(sim.shopify.stats().set_calls, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_as_the_source_writes_woocommerce_and_a_rollback_restores_it() {
    let sim = start_sim().await;
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let env = sim.store_env.clone();
    let woo_stock = |sim: &Simulation| -> Vec<serde_json::Value> {
        // Seeded products take the ids after the seeded orders'.
        (1..7000u64)
            .filter_map(|id| sim.woo.product(id))
            .map(|p| serde_json::json!([p["sku"], p["stock_quantity"], p["stock_status"]]))
            .collect()
    };
    let before = woo_stock(&sim);
    assert_eq!(before.len(), SIM_ENTITIES);

    let plan = second_word(&storesync(&state, &env, &["store", "compare", "--source", "shopify"]).await);
    let out = storesync(&state, &env, &["store", "sync", &plan, "--yes"]).await;
    let differing = (0..SIM_ENTITIES - 10).filter(|n| n % 7 == 0 && n % 13 != 10).count();
    assert!(out.contains(&format!("{differing} succeeded, 0 failed")), "{out}");
    let zeroed = woo_stock(&sim).into_iter().find(|p| p[0] == "SKU-0000").unwrap();
    assert_eq!(zeroed, serde_json::json!(["SKU-0000", 0, "outofstock"]), "stock status follows quantity");
    let again = storesync(&state, &env, &["store", "compare", "--source", "shopify"]).await;
    assert!(again.contains(" 0 to change,"), "{again}");

    let run = second_word(&out);
    let rollback = second_word(&storesync(&state, &env, &["store", "rollback", &run]).await);
    storesync(&state, &env, &["store", "sync", &rollback, "--yes"]).await;
    assert_eq!(woo_stock(&sim), before, "WooCommerce is as it was before the sync, field for field");
}

/// Pages from WooCommerce (WordPress) to Shopify through the CLI: compare, sync, a compare that
/// finds nothing, rollback (its deletes need the override) and Shopify as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_sync_to_shopify_and_roll_back_through_the_cli() {
    let sim = start_sim().await;
    let tmp = tempfile::tempdir().unwrap();
    let (state, csv) = (tmp.path().join("state"), tmp.path().join("pages.csv"));
    let env = sim.store_env.clone();
    let pages = |sim: &Simulation| {
        let mut v: Vec<(String, String, String, bool)> = sim
            .shopify
            .pages()
            .iter()
            .map(|p| {
                let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
                (s("handle"), s("title"), s("body"), p["isPublished"] == true)
            })
            .collect();
        v.sort();
        v
    };
    let before = pages(&sim);
    let args = ["store", "compare", "--source", "woocommerce", "--type", "pages", "--csv", csv.to_str().unwrap()];
    let out = storesync(&state, &env, &args).await;
    assert!(
        out.contains("1 to update, 2 to create, 0 to delete, 0 already equal, 1 only on shopify, 0 ambiguous"),
        "{out}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.contains("update,about-us,About us,gid://shopify/Page/"), "{text}");
    let plan = second_word(&out);
    let out = storesync(&state, &env, &["store", "sync", &plan, "--yes"]).await;
    assert!(out.contains("3 objects, 3 succeeded, 0 failed, 0 pending"), "{out}");
    let run = second_word(&out);
    let shop = pages(&sim);
    assert!(shop.contains(&("faq".into(), "FAQ".into(), "<h2>Ask us</h2>".into(), false)), "{shop:?}");
    let again = storesync(&state, &env, &["store", "compare", "--source", "woocommerce", "--type", "pages"]).await;
    assert!(again.contains("0 to update, 0 to create"), "{again}");

    let rb = second_word(&storesync(&state, &env, &["store", "rollback", &run]).await);
    let out = storesync(&state, &env, &["store", "sync", &rb, "--yes", "--override-blast"]).await;
    assert!(out.contains("3 succeeded, 0 failed"), "{out}");
    assert_eq!(pages(&sim), before, "Shopify's pages are as they were");
    let results = storesync(&state, &env, &["store", "results", &run]).await;
    assert!(results.contains("pages): 3 objects, 3 succeeded"), "{results}");
}

/// Products from WooCommerce to Shopify through the CLI on the demo catalog: compare, sync, a
/// compare that finds nothing, and a rollback after which a compare finds the first plan's
/// updates and creates again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_sync_to_shopify_and_roll_back_through_the_cli() {
    let sim = start_sim().await;
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let env = sim.store_env.clone();
    let out = storesync(&state, &env, &["store", "compare", "--source", "woocommerce", "--type", "products"]).await;
    let counts = |out: &str| {
        let n = |what: &str| {
            out.split(", ")
                .find_map(|p| {
                    p.trim().strip_suffix(what).and_then(|x| x.split_whitespace().last()?.parse::<usize>().ok())
                })
                .unwrap_or(usize::MAX)
        };
        (n(" to update"), n(" to create"))
    };
    // Every 50th price is new on WooCommerce; the last ten products are only there.
    let (updates, creates) = counts(&out);
    assert_eq!((updates, creates), (10, 10), "{out}");
    let plan = second_word(&out);
    let out = storesync(&state, &env, &["store", "sync", &plan, "--yes"]).await;
    assert!(
        out.contains(&format!("{} objects, {} succeeded, 0 failed, 0 pending", updates + creates, updates + creates)),
        "{out}"
    );
    let run = second_word(&out);
    let again = storesync(&state, &env, &["store", "compare", "--source", "woocommerce", "--type", "products"]).await;
    assert!(again.contains("0 to update, 0 to create"), "{again}");

    let rb = second_word(&storesync(&state, &env, &["store", "rollback", &run]).await);
    let out = storesync(&state, &env, &["store", "sync", &rb, "--yes", "--override-blast"]).await;
    assert!(out.contains(" 0 failed"), "{out}");
    let after = storesync(&state, &env, &["store", "compare", "--source", "woocommerce", "--type", "products"]).await;
    assert_eq!(counts(&after), (updates, creates), "as before the sync: {after}");
}
