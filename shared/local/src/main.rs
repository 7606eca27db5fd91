//! `storesync`: the local runtime and operator CLI.

/// The request threads allocate what the state writer thread frees; glibc's allocator spent a
/// fifth of the receiver's CPU on that under load (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use storesync_api::auth::{issue, Role};
use storesync_core::config::Settings;
use storesync_core::domain::SessionId;
use storesync_local::daily::{self, DailyArgs};
use storesync_local::runtime::ENV_STATE;
use storesync_local::simulate::SIM_WMS_SECRET;
use storesync_local::webhooks::PlatformConfig;
use storesync_local::Local;

#[derive(Parser)]
#[command(name = "storesync", version, about = "Keeps a merchant's ERP, stores and warehouse in agreement")]
struct Cli {
    /// The state folder (bucket + SQLite).
    #[arg(long, global = true, env = ENV_STATE, default_value = ".storesync")]
    state: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the daily ERP ⇄ web sync end to end on four files.
    Daily(DailyArgs),
    /// Write the web inventory export of two files with step 5's engine, without a session.
    Diff {
        #[arg(long)]
        web_products: PathBuf,
        #[arg(long)]
        comax: PathBuf,
        /// On-hold orders hold their quantities back.
        #[arg(long)]
        web_orders: Option<PathBuf>,
        /// Translations with an empty SKU match through their original.
        #[arg(long)]
        web_translations: Option<PathBuf>,
        #[arg(long)]
        comax_mapping: Option<PathBuf>,
        #[arg(long, default_value = "WebInventory.csv")]
        out: PathBuf,
    },
    /// Run the daily sync on the demo data in examples/daily/.
    Demo {
        #[arg(long, default_value = "out/demo")]
        out: PathBuf,
    },
    /// Print a session's status timeline (the current or latest session by default).
    Status { session: Option<String> },
    /// Print a bearer token for the local admin API.
    Token {
        #[arg(long, default_value = "operator")]
        role: String,
        #[arg(long, default_value = "local-operator")]
        sub: String,
        #[arg(long, default_value_t = 12)]
        ttl_hours: i64,
    },
    /// Run the local runtime: admin API, webhook receipt, inbox watcher and queue workers.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Run the WooCommerce and WMS simulators on the same port (under /sim/…) and process
        /// webhooks against them: the whole webhook path offline.
        #[arg(long)]
        simulate: bool,
    },
    /// Operate the webhook path: queues, dead letters, replay, the processor.
    #[command(subcommand)]
    Webhooks(WebhooksCmd),
    /// Store ⇄ store sync between WooCommerce and Shopify.
    #[command(subcommand)]
    Store(StoreCmd),
    /// The supplier catalog: feed ingest, matching, review, apply to Shopify, versions, stock.
    #[command(subcommand)]
    Supplier(SupplierCmd),
}

#[derive(Subcommand)]
enum SupplierCmd {
    /// Ingest a feed file (a ZIP of CSV, or a CSV) as if the poller had fetched it; its batches
    /// are matched against Xorosoft and Shopify when they are configured.
    Ingest { file: PathBuf },
    /// Poll the feed's FTP folder once; ingest and match each new file.
    Poll,
    /// The runs: each feed file in the bucket, its run and where it stands.
    Runs,
    /// Where every row of a run went.
    Report { run: String },
    /// A run's entries with their changes, confidence, evidence and conflicts.
    Review {
        run: String,
        #[arg(long, default_value = "pending")]
        status: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Approve an entry (all its changes, or --fields a,b only).
    Approve {
        run: String,
        sku: String,
        #[arg(long, value_delimiter = ',')]
        fields: Vec<String>,
    },
    /// Reject an entry.
    Reject {
        run: String,
        sku: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Approve (or --reject) every pending entry of a run the filter picks.
    ApproveAll {
        run: String,
        #[arg(long)]
        min_confidence: Option<u8>,
        #[arg(long)]
        max_confidence: Option<u8>,
        /// create or update only.
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        reject: bool,
    },
    /// Apply the approved entries to the Shopify store.
    Apply,
    /// A product's versions.
    History { product: String },
    /// Put a product back as a version had it.
    Restore { product: String, version: u64 },
    /// Sync the linked products' stock from Xorosoft to Shopify.
    Stock,
}

#[derive(Subcommand)]
enum StoreCmd {
    /// Compare both stores (a dry run: nothing is written) and keep the plan: what the
    /// destination would change to agree with the source of truth.
    Compare {
        /// The source of truth: woocommerce or shopify (the other store is the destination).
        #[arg(long)]
        source: String,
        /// What to compare: inventory, or pages (WooCommerce ⇄ Shopify); posts, coupons and
        /// collections between WooCommerce stores so far.
        #[arg(long = "type", default_value = "inventory")]
        data_type: String,
        /// Also write the plan's items as CSV here.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Plan a delete for each object only the destination has (a sync of it then needs
        /// --override-blast). Not for inventory.
        #[arg(long)]
        delete_missing: bool,
    },
    /// Sync the selected items of a plan to its destination, with a progress bar; then print
    /// the results.
    Sync {
        plan: String,
        /// `all`, or item numbers and ranges: 1,2,5-9.
        #[arg(long, default_value = "all")]
        select: String,
        /// Confirm: without it nothing is written.
        #[arg(long)]
        yes: bool,
        /// Allow a sync that zeroes more than the guard's share of in-stock variants (audited).
        #[arg(long)]
        override_blast: bool,
        /// Minutes after which a plan is too old to sync.
        #[arg(long, default_value_t = 60)]
        max_plan_age_minutes: i64,
    },
    /// Print a run's results (summary and per item).
    Results { run: String },
    /// Make the plan that undoes a run (then `store sync` it like any plan).
    Rollback { run: String },
}

#[derive(Subcommand)]
enum WebhooksCmd {
    /// Queue depths and the dead-letter count.
    Status,
    /// List dead letters with their reason and attempts.
    Dead,
    /// Send a dead letter (or all of them) back to its queue.
    Retry {
        /// The dead letter's id (as `dead` lists it).
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
    /// Discard a dead letter, keeping it with the reason under webhooks/discarded/.
    Discard {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Process archived deliveries of a source again, from a time on.
    Replay {
        #[arg(long)]
        source: String,
        /// RFC 3339, e.g. 2026-11-25T08:00:00Z.
        #[arg(long)]
        since: chrono::DateTime<chrono::Utc>,
    },
    /// Run the webhook processor against the platforms configured in the environment
    /// (STORESYNC_WOOCOMMERCE_URL, …); with --until-idle, stop when the queues are empty.
    Work {
        #[arg(long)]
        until_idle: bool,
        /// Seconds a message stays invisible while processed (after a crash it returns then).
        #[arg(long, default_value_t = storesync_core::webhooks::processor::VISIBILITY_SECS)]
        visibility_secs: u32,
    },
    /// Run one scheduled job now: wms-order-push, wms-sync-stock, wms-sync-orders,
    /// wms-sync-shipments or wms-sync-inbounds.
    RunJob { job: String },
    /// Send a storm of signed WMS webhooks (duplicated and shuffled) to a receiver.
    Storm {
        #[arg(long, default_value = "http://127.0.0.1:8080/webhooks/wms")]
        url: String,
        #[arg(long, default_value_t = 1000)]
        events: usize,
        #[arg(long, default_value_t = 100)]
        entities: usize,
        #[arg(long, default_value_t = 0.3)]
        duplicate_share: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Hold each delivery back by up to this many milliseconds (at random), as a slow
        /// sender does.
        #[arg(long, default_value_t = 0)]
        max_delay_ms: u64,
        /// Write the signed deliveries to FILE instead of sending them, one a line:
        /// `delivery id <TAB> event <TAB> signature <TAB> body` (for load tools: bench/webhooks.sh).
        #[arg(long)]
        emit: Option<PathBuf>,
    },
}

fn demo_dir() -> PathBuf {
    let here = PathBuf::from("examples/daily");
    if here.is_dir() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/daily")
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let filter: tracing_subscriber::filter::Targets = std::env::var("STORESYNC_LOG")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| "warn".parse().unwrap_or_default());
        tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .with(filter)
            .init();
    }
    let cli = Cli::parse();
    let settings = Settings::from_lookup(|k| std::env::var(k).ok()).context("settings")?;
    let local = Local::open(&cli.state, settings).with_context(|| format!("opening {}", cli.state.display()))?;
    match cli.command {
        Cmd::Daily(args) => run_daily(&local, &args).await,
        Cmd::Demo { out } => {
            let d = demo_dir();
            let args = DailyArgs {
                web_products: d.join("WebProducts.csv"),
                web_orders: d.join("WebOrders.csv"),
                web_translations: d.join("WebTranslations.csv"),
                comax: d.join("ComaxProducts.csv"),
                comax_mapping: Some(d.join("comax-mapping.toml")),
                out,
                yes: true,
                override_blast_radius: None,
            };
            run_daily(&local, &args).await
        }
        Cmd::Diff { web_products, comax, web_orders, web_translations, comax_mapping, out } => {
            let args = storesync_local::diff::DiffArgs {
                web_products,
                comax,
                web_orders,
                web_translations,
                comax_mapping,
                out,
            };
            let s = storesync_local::diff::run(&args)?;
            println!(
                "{} web rows, {} compared, {} matched: {} rows to update ({} stock, {} price) in {}",
                s.web_rows,
                s.compared,
                s.matched,
                s.exported,
                s.stock_changes,
                s.price_changes,
                args.out.display()
            );
            Ok(())
        }
        Cmd::Status { session } => {
            let s = match session {
                Some(s) => SessionId::parse(&s)?,
                None => match local.workflow.current().await? {
                    Some(s) => s,
                    None => local.workflow.latest().await?.context("no session yet")?,
                },
            };
            print!("{}", daily::timeline(&local.workflow.view(&s).await?));
            Ok(())
        }
        Cmd::Token { role, sub, ttl_hours } => {
            let role = Role::parse(&role).with_context(|| format!("--role {role:?}: use operator or viewer"))?;
            println!("{}", issue(&local.jwt_secret()?, &sub, role, ttl_hours * 3600)?);
            Ok(())
        }
        Cmd::Serve { addr, simulate } => serve(local, &cli.state, addr, simulate).await,
        Cmd::Webhooks(cmd) => webhooks(&local, cmd).await,
        Cmd::Store(cmd) => store(&local, cmd).await,
        Cmd::Supplier(cmd) => supplier_cmd(&local, cmd).await,
    }
}

async fn supplier_cmd(local: &Local, cmd: SupplierCmd) -> anyhow::Result<()> {
    use storesync_core::supplier::staging::Review;
    use storesync_local::supplier as s;
    let who = cli_actor();
    let out = match cmd {
        SupplierCmd::Ingest { file } => s::ingest_file(local, &file).await?,
        SupplierCmd::Poll => s::poll_ftp(local).await?,
        SupplierCmd::Runs => s::runs(local).await?,
        SupplierCmd::Report { run } => s::report(local, &run).await?,
        SupplierCmd::Review { run, status, limit } => s::review(local, &run, &status, limit).await?,
        SupplierCmd::Approve { run, sku, fields } => {
            let decision = if fields.is_empty() { Review::Approve } else { Review::ApproveFields { fields } };
            s::decide_one(local, &run, &sku, decision, &who).await?
        }
        SupplierCmd::Reject { run, sku, reason } => {
            s::decide_one(local, &run, &sku, Review::Reject { reason }, &who).await?
        }
        SupplierCmd::ApproveAll { run, min_confidence, max_confidence, action, reject } => {
            let action = match action.as_deref() {
                None => None,
                Some("create") => Some(storesync_core::supplier::staging::StagedAction::Create),
                Some("update") => Some(storesync_core::supplier::staging::StagedAction::Update),
                Some(other) => bail!("--action {other:?}: use create or update"),
            };
            let filter =
                storesync_core::supplier::review::Filter { run: Some(run), min_confidence, max_confidence, action };
            let decision = if reject { Review::Reject { reason: None } } else { Review::Approve };
            s::decide_many(local, filter, decision, &who).await?
        }
        SupplierCmd::Apply => s::apply_queued(local).await?,
        SupplierCmd::History { product } => s::history(local, &product).await?,
        SupplierCmd::Restore { product, version } => s::restore_version(local, &product, version, &who).await?,
        SupplierCmd::Stock => s::stock(local).await?,
    };
    print!("{out}");
    Ok(())
}

async fn store(local: &Local, cmd: StoreCmd) -> anyhow::Result<()> {
    use storesync_core::stores::{plans, Platform};
    match cmd {
        StoreCmd::Compare { source, data_type, csv, delete_missing } => {
            use storesync_core::stores::catalog::DataType;
            let source =
                Platform::parse(&source).with_context(|| format!("--source {source:?}: use woocommerce or shopify"))?;
            let data_type = DataType::parse(&data_type).with_context(|| {
                format!("--type {data_type:?}: use inventory, products, pages, posts, coupons or collections")
            })?;
            if data_type != DataType::Inventory {
                return compare_catalog(local, source, data_type, csv, delete_missing).await;
            }
            let destination = plans::destination_of(source);
            let get = |k: &str| std::env::var(k).ok();
            let (src, dst) =
                (storesync_local::stores::connect(source, get)?, storesync_local::stores::connect(destination, get)?);
            let bar = indicatif::ProgressBar::new_spinner().with_message(format!("reading {source} and {destination}"));
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            let who = cli_actor();
            let plan = plans::compare_inventory(local.workflow.ports(), src.as_ref(), dst.as_ref(), &who).await;
            bar.finish_and_clear();
            let plan = plan?;
            let c = &plan.comparison;
            println!("plan {} ({source} → {destination}, inventory)", plan.id);
            println!(
                "  {} to change, {} already equal, {} missing on {destination}, {} missing on {source}, {} ambiguous",
                c.items.len(),
                c.unchanged,
                c.unmatched.missing_in_destination.len(),
                c.unmatched.missing_in_source.len(),
                c.unmatched.ambiguous.len()
            );
            for i in c.items.iter().take(10) {
                let q = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_else(|| "untracked".into());
                println!(
                    "  #{:<5} {:<16} {:<30} {:>9} → {:<9} ({:+})",
                    i.item,
                    i.sku,
                    i.name,
                    q(i.destination_quantity),
                    q(i.source_quantity),
                    i.difference
                );
            }
            if c.items.len() > 10 {
                println!("  … and {} more (--csv FILE lists them all)", c.items.len() - 10);
            }
            if let Some(path) = csv {
                std::fs::write(&path, storesync_core::stores::inventory::plan_csv(&c.items)?)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("  written to {}", path.display());
            }
        }
        StoreCmd::Sync { plan, select, yes, override_blast, max_plan_age_minutes } => {
            use storesync_core::stores::sync::{report, start, Selection, SyncOptions};
            let selection = Selection::parse(&select).map_err(anyhow::Error::msg)?;
            let opts = SyncOptions {
                max_plan_age: chrono::Duration::minutes(max_plan_age_minutes),
                override_blast,
                ..SyncOptions::default()
            };
            if let Some(plans::PlanStatus::ReadyCatalog(p)) = plans::plan_status(local.workflow.ports(), &plan).await? {
                return sync_catalog(local, &p, &selection, yes, &opts).await;
            }
            let p = plans::load_plan(local.workflow.ports(), &plan).await?;
            if !yes {
                bail!(
                    "plan {plan}: {} items would change on {}; nothing written. Add --yes to confirm.",
                    match &selection {
                        Selection::All => p.comparison.items.len(),
                        Selection::Items(i) => i.len(),
                    },
                    p.comparison.destination
                );
            }
            let destination = storesync_local::stores::connect(p.comparison.destination, |k| std::env::var(k).ok())?;
            destination.check().await?;
            let who = cli_actor();
            let ports = local.workflow.ports();
            let run = start(ports, &plan, &selection, &who, &opts).await?;
            let bar = indicatif::ProgressBar::new(run.items.len() as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} items {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            storesync_local::stores::drain_sync_queue(ports, destination.as_ref(), 5, |n| bar.inc(n as u64)).await?;
            bar.finish_and_clear();
            print_report(&report(ports, &run.id).await?);
        }
        StoreCmd::Results { run } => {
            let ports = local.workflow.ports();
            if storesync_core::stores::sync::load_run(ports, &run).await?.is_catalog() {
                print_catalog_report(&storesync_core::stores::catalog_sync::catalog_report(ports, &run).await?);
            } else {
                print_report(&storesync_core::stores::sync::report(ports, &run).await?);
            }
        }
        StoreCmd::Rollback { run } => {
            let who = cli_actor();
            let ports = local.workflow.ports();
            if storesync_core::stores::sync::load_run(ports, &run).await?.is_catalog() {
                let plan = storesync_core::stores::catalog_sync::rollback_catalog_plan(ports, &run, &who).await?;
                println!(
                    "plan {} undoes run {run}: {} objects back as they were (created ones deleted: syncing it \
                     needs --override-blast); review it, then storesync store sync {} --yes",
                    plan.id,
                    plan.comparison.items.len(),
                    plan.id
                );
                return Ok(());
            }
            let plan = storesync_core::stores::sync::rollback_plan(ports, &run, &who).await?;
            println!(
                "plan {} undoes run {run}: {} items back to their values before it; review it, then \
                 storesync store sync {} --yes",
                plan.id,
                plan.comparison.items.len(),
                plan.id
            );
        }
    }
    Ok(())
}

/// `store compare --type pages|posts|coupons|collections|products`.
async fn compare_catalog(
    local: &Local,
    source: storesync_core::stores::Platform,
    data_type: storesync_core::stores::catalog::DataType,
    csv: Option<PathBuf>,
    delete_missing: bool,
) -> anyhow::Result<()> {
    use storesync_core::stores::catalog::{catalog_csv, Action, CompareOptions};
    let destination = storesync_core::stores::plans::destination_of(source);
    let get = |k: &str| std::env::var(k).ok();
    let (src, dst) = (
        storesync_local::stores::connect_catalog(source, get)?,
        storesync_local::stores::connect_catalog(destination, get)?,
    );
    let bar = indicatif::ProgressBar::new_spinner()
        .with_message(format!("reading {data_type} of {source} and {destination}"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let opts = CompareOptions { delete_missing };
    let plan = storesync_core::stores::catalog_sync::compare_catalog(
        local.workflow.ports(),
        data_type,
        src.as_ref(),
        dst.as_ref(),
        &cli_actor(),
        opts,
    )
    .await;
    bar.finish_and_clear();
    let plan = plan?;
    let c = &plan.comparison;
    let count = |a: Action| c.items.iter().filter(|i| i.action == a).count();
    println!("plan {} ({source} → {destination}, {data_type})", plan.id);
    println!(
        "  {} to update, {} to create, {} to delete, {} already equal, {} only on {destination}, {} ambiguous",
        count(Action::Update),
        count(Action::Create),
        count(Action::Delete),
        c.unchanged,
        c.unmatched.missing_in_source.len(),
        c.unmatched.ambiguous.len()
    );
    for i in c.items.iter().take(10) {
        let fields: Vec<&str> = i.changes.iter().map(|c| c.field.as_str()).collect();
        println!(
            "  #{:<5} {:<7} {:<30} {}",
            i.item,
            format!("{:?}", i.action).to_lowercase(),
            i.key,
            fields.join(", ")
        );
    }
    if c.items.len() > 10 {
        println!("  … and {} more (--csv FILE lists every change)", c.items.len() - 10);
    }
    if let Some(path) = csv {
        std::fs::write(&path, catalog_csv(c)?).with_context(|| format!("writing {}", path.display()))?;
        println!("  written to {}", path.display());
    }
    Ok(())
}

/// `store sync PLAN` of a catalog plan.
async fn sync_catalog(
    local: &Local,
    plan: &storesync_core::stores::catalog_sync::CatalogPlan,
    selection: &storesync_core::stores::sync::Selection,
    yes: bool,
    opts: &storesync_core::stores::sync::SyncOptions,
) -> anyhow::Result<()> {
    use storesync_core::stores::sync::Selection;
    let c = &plan.comparison;
    if !yes {
        let n = match selection {
            Selection::All => c.items.len(),
            Selection::Items(i) => i.len(),
        };
        bail!(
            "plan {}: {n} {} would change on {}; nothing written. Add --yes to confirm.",
            plan.id,
            c.data_type,
            c.destination
        );
    }
    let destination = storesync_local::stores::connect_catalog(c.destination, |k| std::env::var(k).ok())?;
    destination.check().await?;
    let ports = local.workflow.ports();
    let run =
        storesync_core::stores::catalog_sync::start_catalog(ports, &plan.id, selection, &cli_actor(), opts).await?;
    let bar = indicatif::ProgressBar::new(run.items.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} objects {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    storesync_local::stores::drain_catalog_queue(ports, destination.as_ref(), 5, |n| bar.inc(n as u64)).await?;
    bar.finish_and_clear();
    print_catalog_report(&storesync_core::stores::catalog_sync::catalog_report(ports, &run.id).await?);
    Ok(())
}

fn print_catalog_report(r: &storesync_core::stores::catalog_sync::CatalogRunReport) {
    let t = r.run.data_type.map(|t| t.as_str()).unwrap_or("catalog");
    println!(
        "run {} (plan {}, {} → {}, {t}): {} objects, {} succeeded, {} failed, {} pending",
        r.run.id, r.run.plan_id, r.run.source, r.run.destination, r.total, r.succeeded, r.failed, r.pending
    );
    for i in r.items.iter().filter(|i| i.outcome != "succeeded").take(20) {
        println!("  #{:<5} {:<30} {:<9} {}", i.item, i.key, i.outcome, i.error.as_deref().unwrap_or(""));
    }
}

fn print_report(r: &storesync_core::stores::sync::RunReport) {
    println!(
        "run {} (plan {}, {} → {}): {} items, {} succeeded, {} failed, {} moved, {} pending",
        r.run.id, r.run.plan_id, r.run.source, r.run.destination, r.total, r.succeeded, r.failed, r.moved, r.pending
    );
    for i in r.items.iter().filter(|i| i.outcome != "succeeded").take(20) {
        println!("  #{:<5} {:<16} {:<9} {}", i.item, i.sku, i.outcome, i.error.as_deref().unwrap_or(""));
    }
}

async fn serve(mut local: Local, state: &std::path::Path, addr: SocketAddr, simulate: bool) -> anyhow::Result<()> {
    use storesync_core::supplier::pipeline::{SupplierSettings, ENV_XOROSOFT_URL};
    use storesync_local::supplier::SupplierRuntime;
    use storesync_platforms::supplier::Connected;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let bound = listener.local_addr()?;
    let env = |k: &str| std::env::var(k).ok();
    let settings = SupplierSettings::from_lookup(env)?;
    let scratch = state.join("scratch");
    let (secrets, platforms, routes, store_env, supplier) = if simulate {
        let ftp_root = state.join("sim-ftp");
        let sim = storesync_local::simulate::Simulation::new(bound).with_supplier(&ftp_root).await?;
        let secrets = sim.secrets()?;
        sim.send_shopify_webhooks(&secrets.shopify[0]);
        let connected = Connected::connect(sim.lookup());
        let supplier = SupplierRuntime { platforms: Box::new(connected), settings, scratch };
        (secrets, Some(sim.platforms.clone()), Some(sim.router()), Some(sim.store_env.clone()), Some(supplier))
    } else {
        let platforms = PlatformConfig::from_lookup(env)?;
        let supplier = env(ENV_XOROSOFT_URL).map(|_| SupplierRuntime {
            platforms: Box::new(Connected::connect(env)),
            settings,
            scratch,
        });
        (storesync_local::runtime::secrets_from_env()?, platforms, None, None, supplier)
    };
    if let Some(env) = &store_env {
        // Store ⇄ store sync through the API reaches the simulated stores.
        let vars = env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        local.stores = Arc::new(storesync_local::stores::ConfiguredStores { vars });
    }
    let local = Arc::new(local);
    let processor = match &platforms {
        Some(p) => Some(Arc::new(p.processor(&local)?)),
        None => None,
    };
    let (processing, supplying) = (processor.is_some(), supplier.is_some());
    let extras = storesync_local::runtime::Extras { processor, routes, supplier: supplier.map(Arc::new) };
    local
        .clone()
        .serve_with(listener, secrets, extras, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    eprintln!("storesync: admin API and webhooks on http://{bound}, watching {}/bucket/inbox/", state.display());
    if let Some(env) = &store_env {
        eprintln!(
            "storesync: simulators on http://{bound}/sim/woocommerce/wp-json/wc/v3, http://{bound}/sim/wms, http://{bound}/sim/shopify and http://{bound}/sim/xorosoft; the supplier's feed on ftp://{}",
            env.iter().find(|(k, _)| *k == storesync_core::supplier::pipeline::ENV_FTP_ADDRESS).map(|(_, v)| v.as_str()).unwrap_or("?")
        );
        let vars: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!(
            "storesync: to run commands against the simulators (e.g. storesync store compare --source woocommerce, storesync supplier report RUN): env {} storesync --state {} …",
            vars.join(" "),
            state.display()
        );
    }
    if !processing {
        eprintln!("storesync: no platforms configured: webhooks are received and queued, not processed");
    }
    if supplying {
        eprintln!("storesync: supplier pipeline: polling the feed's FTP folder now, then on its schedule; feed files under {}/bucket/raw/etilize/ are ingested", state.display());
    } else {
        eprintln!("storesync: supplier pipeline off ({ENV_XOROSOFT_URL} is not set)");
    }
    eprintln!("storesync: Ctrl-C stops");
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// Who the audit trail names for a command run here.
fn cli_actor() -> String {
    std::env::var("USER").map(|u| format!("cli:{u}")).unwrap_or_else(|_| "cli".into())
}

fn configured_platforms() -> anyhow::Result<PlatformConfig> {
    PlatformConfig::from_lookup(|k| std::env::var(k).ok())?
        .context("no platforms configured: set STORESYNC_WOOCOMMERCE_URL and the others (see README)")
}

async fn webhooks(local: &Local, cmd: WebhooksCmd) -> anyhow::Result<()> {
    use storesync_core::webhooks::operators;
    let ports = local.workflow.ports();
    let who = cli_actor();
    match cmd {
        WebhooksCmd::Status => {
            let o = operators::overview(ports).await?;
            for q in &o.queues {
                println!(
                    "{:<22} {:>8} waiting {:>8} in flight or delayed",
                    q.queue, q.depth.visible, q.depth.not_visible
                );
            }
            match o.oldest_dead_letter {
                Some(t) => println!("{} dead letters (oldest {t})", o.dead_letters),
                None => println!("no dead letters"),
            }
        }
        WebhooksCmd::Dead => {
            for d in operators::dead_letters(ports).await? {
                println!("{}\t{}\t{} attempts\t{}", d.id, d.dead_at, d.attempts.len(), d.reason);
            }
        }
        WebhooksCmd::Retry { id: Some(id), .. } => {
            operators::retry(ports, &id, &who).await?;
            println!("retried {id}");
        }
        WebhooksCmd::Retry { id: None, all: true } => {
            println!("retried {}", operators::retry_all(ports, &who).await?);
        }
        WebhooksCmd::Retry { id: None, all: false } => bail!("name a dead letter, or pass --all"),
        WebhooksCmd::Discard { id, reason } => {
            operators::discard(ports, &id, &reason, &who).await?;
            println!("discarded {id}");
        }
        WebhooksCmd::Replay { source, since } => {
            let src = storesync_core::webhooks::WebhookSource::parse(&source)
                .with_context(|| format!("--source {source:?}: use wms, shopify or woocommerce"))?;
            println!("queued {}", operators::replay(ports, src, since, &who).await?);
        }
        WebhooksCmd::Work { until_idle, visibility_secs } => {
            let platforms = configured_platforms()?;
            let mut processor = platforms.processor(local)?;
            processor.visibility_secs = visibility_secs.max(1);
            let n = storesync_local::webhooks::work(&processor, until_idle).await?;
            println!("processed {n} messages: {:?}", processor.stats.snapshot());
        }
        WebhooksCmd::RunJob { job } => {
            let platforms = configured_platforms()?;
            let r = platforms.processor(local)?.run_job(&job).await?;
            println!("{}: {} items, {} failed", r.job, r.items, r.failed);
        }
        WebhooksCmd::Storm { url, events, entities, duplicate_share, seed, max_delay_ms, emit } => {
            use storesync_local::simulate::{emit_storm, send_storm, StormArgs};
            let secret = std::env::var("STORESYNC_WMS_SECRET").unwrap_or_else(|_| SIM_WMS_SECRET.into());
            let args = StormArgs { events, entities, duplicate_share, seed, max_delay_ms };
            match emit {
                Some(path) => {
                    let n = emit_storm(&path, secret.as_bytes(), &args)
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("wrote {n} deliveries to {}", path.display());
                }
                None => println!("{}", send_storm(&url, secret.as_bytes(), &args).await?),
            }
        }
    }
    Ok(())
}

async fn run_daily(local: &Local, args: &DailyArgs) -> anyhow::Result<()> {
    let r = daily::run(local, args).await?;
    print!("{}", daily::timeline(&r.view));
    for p in &r.outputs {
        println!("wrote {}", p.display());
    }
    if !r.completed() {
        bail!("session {} did not complete: see the timeline above", r.session);
    }
    Ok(())
}
