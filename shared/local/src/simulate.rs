//! `storesync serve --simulate`: the WooCommerce and WMS simulators on the runtime's own port,
//! seeded with a store the storm generator's events refer to, and a sender of signed storms.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use storesync_core::config::{
    ENV_SHOPIFY_LOCATION, ENV_SHOPIFY_TOKEN, ENV_SHOPIFY_URL, ENV_WOO_KEY, ENV_WOO_SECRET, ENV_WOO_URL,
};
use storesync_core::supplier::pipeline::{
    ENV_FTP_ADDRESS, ENV_FTP_PASSWORD, ENV_FTP_USER, ENV_XOROSOFT_TOKEN, ENV_XOROSOFT_URL,
};
use storesync_core::webhooks::Secrets;
use storesync_platforms::ftp::FtpServer;
use storesync_platforms::shopify::sim::{Bucket, ShopifySim};
use storesync_platforms::wms::sim::WmsSim;
use storesync_platforms::wms::storm::{storm, StormConfig};
use storesync_platforms::woocommerce::sim::WooSim;
use storesync_platforms::xorosoft::sim::XorosoftSim;

use crate::runtime::{secrets_from_env, LocalError};

pub mod office;
use crate::webhooks::PlatformConfig;

/// The simulators' webhook secrets when the environment names none.
pub const SIM_WMS_SECRET: &str = "storesync-sim-wms-secret";
pub const SIM_WOOCOMMERCE_SECRET: &str = "storesync-sim-woocommerce-secret";
pub const SIM_SHOPIFY_SECRET: &str = "storesync-sim-shopify-secret";
const SIM_KEY: &str = "ck_simulated";
const SIM_SECRET: &str = "cs_simulated";
const SIM_WMS_KEY: &str = "wms_simulated";
const SIM_SHOPIFY_TOKEN: &str = "shpat_simulated";
/// The seeded store: orders 5000… and SKUs SKU-0000… for this many storm entities.
pub const SIM_ENTITIES: usize = 500;

pub struct Simulation {
    pub woo: WooSim,
    pub wms: WmsSim,
    pub shopify: ShopifySim,
    pub xorosoft: XorosoftSim,
    /// The supplier's FTP server, once [`Simulation::with_supplier`] started it.
    pub ftp: Option<FtpServer>,
    base: String,
    pub platforms: PlatformConfig,
    /// The variables that point `storesync store …` at the simulated stores.
    pub store_env: Vec<(&'static str, String)>,
}

/// The wine shop's pages on WooCommerce, and an older copy on Shopify: "About us" differs,
/// "Shipping" and "FAQ" (a draft) are on WooCommerce only, "Old promo" on Shopify only.
fn seed_pages(woo: &WooSim, shopify: &ShopifySim) {
    use storesync_platforms::woocommerce::sim::ContentKind;
    let pages = [
        json!({ "title": "About us", "content": "<p>We pour since 1998.</p>", "status": "publish" }),
        json!({ "title": "Shipping", "content": "<p>Free over $50.</p>", "status": "publish" }),
        json!({ "title": "FAQ", "content": "<h2>Ask us</h2>", "status": "draft" }),
    ];
    for p in pages {
        if let Err(e) = woo.seed_content(ContentKind::Pages, p) {
            tracing::warn!(error = e, "seeding the simulated store's pages");
        }
    }
    for p in [
        json!({ "title": "About us", "body": "<p>We pour since 1999.</p>", "isPublished": true }),
        json!({ "title": "Old promo", "body": "<p>Gone.</p>", "isPublished": true }),
    ] {
        if let Err(e) = shopify.add_page(p) {
            tracing::warn!(error = %e, "seeding the simulated shop's pages");
        }
    }
}

impl Simulation {
    /// Simulators for a runtime listening on `bound`, seeded with orders 5000–5499 and products
    /// SKU-0000–SKU-0499 (10 in stock each, 19.90, every 50th at a new price of 24.90 on
    /// WooCommerce), the ids the storm's events name.
    pub fn new(bound: SocketAddr) -> Self {
        let woo = WooSim::new(SIM_KEY, SIM_SECRET);
        for n in 0..SIM_ENTITIES {
            woo.seed_order(5000 + n as u64, "processing");
            let sku = format!("SKU-{n:04}");
            // Shopify's price, but every 50th product's is new on WooCommerce.
            let price = if n % 50 == 0 { "24.90" } else { "19.90" };
            let product = json!({ "name": format!("Simulated {sku}"), "sku": sku, "regular_price": price,
                                  "manage_stock": true, "stock_quantity": 10 });
            if let Err(e) = woo.seed_product(product) {
                tracing::warn!(sku, error = e, "seeding the simulated store");
            }
        }
        let base = format!("http://{bound}");
        let platforms = PlatformConfig {
            woo_url: format!("{base}/sim/woocommerce/wp-json/wc/v3"),
            woo_key: SIM_KEY.into(),
            woo_secret: SIM_SECRET.into(),
            wms_url: format!("{base}/sim/wms"),
            wms_key: SIM_WMS_KEY.into(),
            timeout: Duration::from_secs(5),
        };
        // The same catalog on Shopify, as a merchant selling on both has it: every 7th SKU's
        // stock differs, the last ten are on WooCommerce only, and two are on Shopify only.
        // On the Plus plan (1,000 points a second), as stores of these merchants' size are.
        let shopify = ShopifySim::new(SIM_SHOPIFY_TOKEN, Bucket { size: 2000.0, restore_rate: 1000.0 });
        let location = shopify.add_location("Main warehouse");
        for n in 0..SIM_ENTITIES - 10 {
            let sku = format!("SKU-{n:04}");
            let stock = if n % 7 == 0 { (n % 13) as i64 } else { 10 };
            shopify.add_product(&format!("Simulated {sku}"), &[(&sku, "Default Title", "19.90")], stock);
        }
        for sku in ["SHOP-ONLY-1", "SHOP-ONLY-2"] {
            shopify.add_product(&format!("Simulated {sku}"), &[(sku, "Default Title", "9.90")], 3);
        }
        seed_pages(&woo, &shopify);
        let store_env = vec![
            (ENV_WOO_URL, platforms.woo_url.clone()),
            (ENV_WOO_KEY, SIM_KEY.to_string()),
            (ENV_WOO_SECRET, SIM_SECRET.to_string()),
            (ENV_SHOPIFY_URL, format!("{base}/sim/shopify")),
            (ENV_SHOPIFY_TOKEN, SIM_SHOPIFY_TOKEN.to_string()),
            (ENV_SHOPIFY_LOCATION, location),
        ];
        let xorosoft = XorosoftSim::new(office::XOROSOFT_TOKEN);
        Self { woo, wms: WmsSim::new(SIM_WMS_KEY), shopify, xorosoft, ftp: None, base, platforms, store_env }
    }

    /// The office-supplies merchant too ([`office`]): its products in the Shopify store, the
    /// distributor, and the supplier's feed on an FTP server serving `ftp_root`; the variables
    /// that point the supplier pipeline at them join [`Simulation::store_env`].
    pub async fn with_supplier(mut self, ftp_root: &std::path::Path) -> std::io::Result<Self> {
        office::seed_shop(&self.shopify);
        office::seed_distributor(&self.xorosoft);
        office::drop_feed(ftp_root)?;
        let ftp = FtpServer::start(ftp_root, office::FTP_USER, office::FTP_PASSWORD).await?;
        self.store_env.extend([
            (ENV_FTP_ADDRESS, ftp.address.clone()),
            (ENV_FTP_USER, office::FTP_USER.to_string()),
            (ENV_FTP_PASSWORD, office::FTP_PASSWORD.to_string()),
            (ENV_XOROSOFT_URL, format!("{}/sim/xorosoft", self.base)),
            (ENV_XOROSOFT_TOKEN, office::XOROSOFT_TOKEN.to_string()),
        ]);
        self.ftp = Some(ftp);
        Ok(self)
    }

    /// The variables, as a lookup.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |k| self.store_env.iter().find(|(name, _)| *name == k).map(|(_, v)| v.clone())
    }

    pub fn router(&self) -> axum::Router {
        storesync_platforms::sim_router(&self.woo, &self.wms, &self.shopify)
            .nest("/sim/xorosoft", self.xorosoft.router())
    }

    /// Sends the Shopify store's webhooks (product and stock changes) to the runtime's
    /// receiver, signed with `secret`, for as long as the process lives.
    pub fn send_shopify_webhooks(&self, secret: &[u8]) -> tokio::task::JoinHandle<()> {
        let shop = self.shopify.clone();
        shop.subscribe(&format!("{}/webhooks/shopify", self.base), secret);
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let d = shop.deliver_webhooks(&http).await;
                if let Some(why) = d.refused {
                    tracing::warn!(why, "a simulated Shopify webhook was refused; it is retried");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    }

    /// The environment's webhook secrets, each defaulting to the simulators' own.
    pub fn secrets(&self) -> Result<Secrets, LocalError> {
        let mut s = secrets_from_env()?;
        for (list, default) in [
            (&mut s.wms, SIM_WMS_SECRET),
            (&mut s.woocommerce, SIM_WOOCOMMERCE_SECRET),
            (&mut s.shopify, SIM_SHOPIFY_SECRET),
        ] {
            if list.is_empty() {
                list.push(default.as_bytes().to_vec());
            }
        }
        Ok(s)
    }
}

/// What a storm sender saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StormReport {
    pub sent: usize,
    pub accepted: usize,
    pub duplicate: usize,
    pub refused: usize,
    pub secs: f64,
}

impl std::fmt::Display for StormReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent {} deliveries in {:.2} s ({:.0}/s): {} accepted, {} duplicates, {} refused",
            self.sent,
            self.secs,
            self.sent as f64 / self.secs.max(1e-9),
            self.accepted,
            self.duplicate,
            self.refused
        )
    }
}

/// What storm to make.
#[derive(Debug, Clone)]
pub struct StormArgs {
    pub events: usize,
    pub entities: usize,
    pub duplicate_share: f64,
    pub seed: u64,
    /// Each delivery is held back by up to this many milliseconds.
    pub max_delay_ms: u64,
}

fn deliveries(args: &StormArgs, entity_cap: usize) -> Vec<storesync_platforms::wms::storm::Delivery> {
    storm(&StormConfig {
        entities: args.entities.min(entity_cap),
        events: args.events,
        duplicate_share: args.duplicate_share,
        shuffle_window_secs: 60,
        seed: args.seed,
        start: chrono::Utc::now(),
    })
}

/// Writes a storm's signed deliveries to `path`, one a line (`id \t event \t signature \t
/// body`; the compact JSON body holds no tab or newline), for load tools to replay.
pub fn emit_storm(path: &std::path::Path, secret: &[u8], args: &StormArgs) -> std::io::Result<usize> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let all = deliveries(args, usize::MAX);
    for d in &all {
        let sig = storesync_core::webhooks::signature::sign_base64(secret, &d.body);
        out.write_all(format!("{}\t{}\t{sig}\t", d.delivery_id, d.event_type).as_bytes())?;
        out.write_all(&d.body)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(all.len())
}

/// Sends a storm of signed WMS deliveries (HMAC scheme) to `url`, 16 at a time, each after a
/// random delay of up to `max_delay_ms`.
pub async fn send_storm(url: &str, secret: &[u8], args: &StormArgs) -> Result<StormReport, LocalError> {
    let deliveries = deliveries(args, SIM_ENTITIES);
    let mut rng = {
        use rand::SeedableRng;
        rand::rngs::StdRng::seed_from_u64(args.seed)
    };
    let client = reqwest::Client::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for d in deliveries {
        let (client, url, gate) = (client.clone(), url.to_string(), gate.clone());
        let headers = d.headers(secret);
        let delay = match args.max_delay_ms {
            0 => 0,
            max => rand::RngExt::random_range(&mut rng, 0..=max),
        };
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let mut req = client.post(url).body(d.body);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => {
                    r.json::<serde_json::Value>().await.ok().and_then(|v| v["status"].as_str().map(String::from))
                }
                _ => None,
            }
        });
    }
    let mut report = StormReport::default();
    while let Some(r) = tasks.join_next().await {
        report.sent += 1;
        match r.ok().flatten().as_deref() {
            Some("accepted") => report.accepted += 1,
            Some("duplicate") => report.duplicate += 1,
            _ => report.refused += 1,
        }
    }
    report.secs = started.elapsed().as_secs_f64();
    Ok(report)
}
