//! `storesync`: the local runtime and operator CLI.

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
    /// Run the local runtime: admin API, inbox watcher and queue workers.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
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
        Cmd::Serve { addr } => {
            let local = Arc::new(local);
            let secrets = storesync_local::runtime::secrets_from_env()?;
            let bound = local
                .clone()
                .serve(addr, secrets, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
            eprintln!(
                "storesync: admin API on http://{bound}, watching {}/bucket/inbox/ (Ctrl-C stops)",
                cli.state.display()
            );
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
    }
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
