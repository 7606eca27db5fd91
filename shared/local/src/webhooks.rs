//! The webhook path in the local runtime: the platforms the processor writes to and reads from
//! (from the environment, or the simulators with `--simulate`), and the worker that drains the
//! webhook queues in priority order.

use std::sync::Arc;
use std::time::Duration;

use storesync_core::webhooks::processor::Processor;
use storesync_platforms::wms::client::WmsClient;
use storesync_platforms::woocommerce::client::WooClient;

use crate::runtime::LocalError;
use crate::Local;

pub use storesync_core::config::{ENV_WMS_KEY, ENV_WMS_URL, ENV_WOO_KEY, ENV_WOO_SECRET, ENV_WOO_URL};
/// Seconds before a platform call counts as timed out (default 10).
pub const ENV_TIMEOUT: &str = "STORESYNC_PLATFORM_TIMEOUT_SECS";

/// Where the processor's platforms are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformConfig {
    pub woo_url: String,
    pub woo_key: String,
    pub woo_secret: String,
    pub wms_url: String,
    pub wms_key: String,
    pub timeout: Duration,
}

impl PlatformConfig {
    /// From variables looked up by `get`: `None` when no platform is configured (webhooks are
    /// then received and queued, not processed); an error naming the variable when one is
    /// missing or invalid.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, LocalError> {
        let vars = [ENV_WOO_URL, ENV_WOO_KEY, ENV_WOO_SECRET, ENV_WMS_URL, ENV_WMS_KEY];
        let values: Vec<Option<String>> = vars.iter().map(|v| get(v).filter(|s| !s.trim().is_empty())).collect();
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        if let Some(i) = values.iter().position(Option::is_none) {
            return Err(LocalError::Config(format!(
                "{} is not set (the webhook processor needs all of {})",
                vars[i],
                vars.join(", ")
            )));
        }
        let timeout = match get(ENV_TIMEOUT) {
            None => 10.0,
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0)
                .ok_or_else(|| LocalError::Config(format!("{ENV_TIMEOUT}={v:?}: a number of seconds above 0")))?,
        };
        let v: Vec<String> = values.into_iter().flatten().collect();
        Ok(Some(Self {
            woo_url: v[0].clone(),
            woo_key: v[1].clone(),
            woo_secret: v[2].clone(),
            wms_url: v[3].clone(),
            wms_key: v[4].clone(),
            timeout: Duration::from_secs_f64(timeout),
        }))
    }

    /// The processor on `local`'s ports, writing to these platforms.
    pub fn processor(&self, local: &Local) -> Result<Processor, LocalError> {
        let cfg = |e: reqwest::Error| LocalError::Config(format!("HTTP client: {e}"));
        let store = WooClient::new(&self.woo_url, &self.woo_key, &self.woo_secret, self.timeout).map_err(cfg)?;
        let wms = WmsClient::new(&self.wms_url, &self.wms_key, self.timeout).map_err(cfg)?;
        let mut processor = Processor::new(local.workflow.ports().clone(), Arc::new(store), Arc::new(wms));
        processor.configure(|k| std::env::var(k).ok()).map_err(LocalError::Config)?;
        Ok(processor)
    }
}

/// Drains the webhook queues in priority order. With `until_idle`, returns once every queue
/// but the delayed deadlock checks is empty; otherwise runs until the process stops.
pub async fn work(processor: &Processor, until_idle: bool) -> Result<usize, LocalError> {
    use storesync_core::webhooks::processor::{DEADLOCK, QUEUES};
    let mut handled = 0;
    loop {
        match processor.poll_once().await {
            Ok(0) => {
                if until_idle {
                    let mut busy = false;
                    for q in QUEUES.iter().filter(|q| **q != DEADLOCK) {
                        let d = processor.ports().queue.depth(q).await?;
                        busy |= d.visible + d.not_visible > 0;
                    }
                    if !busy {
                        return Ok(handled);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(n) => handled += n,
            Err(e) => {
                tracing::warn!(error = %e, "webhook worker");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Runs the scheduled jobs ([`SCHEDULES`], the template's expressions) for as long as the
/// process lives: each first after one period, as EventBridge does.
pub async fn schedule(processor: &Processor) {
    use storesync_core::webhooks::jobs::SCHEDULES;
    crate::runtime::run_schedules(&SCHEDULES, &[], |job| async move {
        match processor.run_job(job).await {
            Ok(r) => tracing::info!(job, items = r.items, failed = r.failed, "scheduled job ran"),
            Err(e) => tracing::warn!(job, error = %e, "scheduled job failed"),
        }
    })
    .await
}
