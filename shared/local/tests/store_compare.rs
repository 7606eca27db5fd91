//! `storesync store compare` against the simulated stores of `serve --simulate`, as an operator
//! runs it: the plan is printed, kept in the bucket and exported as CSV; nothing is written.

use std::process::{Command, Stdio};

use storesync_core::stores::plans::load_plan;
use storesync_core::stores::Platform;
use storesync_local::simulate::{Simulation, SIM_ENTITIES};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_keeps_a_plan_of_the_differences_and_writes_nothing() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Simulation::new(listener.local_addr().unwrap());
    let app = sim.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let tmp = tempfile::tempdir().unwrap();
    let (state, csv) = (tmp.path().join("state"), tmp.path().join("plan.csv"));
    let env = sim.store_env.clone();
    let (state2, csv2) = (state.clone(), csv.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_storesync"))
            .arg("--state")
            .arg(&state2)
            .args(["store", "compare", "--source", "woocommerce", "--type", "inventory", "--csv"])
            .arg(&csv2)
            .envs(env)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));

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
