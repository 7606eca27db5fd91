//! The webhook processor killed in the middle of its work (SIGKILL, no clean-up) and started
//! again: every event is applied exactly once.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use storesync_core::config::Settings;
use storesync_core::webhooks::receiver::{Receiver, Reply};
use storesync_core::webhooks::{Secrets, WebhookSource};
use storesync_local::webhooks::{ENV_WMS_KEY, ENV_WMS_URL, ENV_WOO_KEY, ENV_WOO_SECRET, ENV_WOO_URL};
use storesync_local::Local;
use storesync_platforms::testkit::{note_event_ids, start_sims, truth, WMS_KEY, WOO_KEY, WOO_SECRET};
use storesync_platforms::wms::storm::{storm, StormConfig};

fn worker(state: &std::path::Path, base: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_storesync"));
    c.arg("--state")
        .arg(state)
        .args(["webhooks", "work", "--until-idle", "--visibility-secs", "2"])
        .env(ENV_WOO_URL, format!("{base}/sim/woocommerce/wp-json/wc/v3"))
        .env(ENV_WOO_KEY, WOO_KEY)
        .env(ENV_WOO_SECRET, WOO_SECRET)
        .env(ENV_WMS_URL, format!("{base}/sim/wms"))
        .env(ENV_WMS_KEY, WMS_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_processor_resumes_and_applies_every_event_once() {
    let sims = start_sims(Duration::from_secs(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let deliveries = storm(&StormConfig {
        entities: 120,
        events: 2000,
        duplicate_share: 0.3,
        shuffle_window_secs: 60,
        seed: 99,
        start: chrono::Utc::now(),
    });
    let (want, orders, skus) = truth(&deliveries, 10);
    for &id in &orders {
        sims.woo.seed_order(id, "processing");
    }
    sims.create_products(&skus.iter().cloned().collect::<Vec<_>>(), 10).await;
    {
        let local = Arc::new(Local::open(&state, Settings::default()).unwrap());
        let receiver =
            Receiver::new(local.workflow.ports().clone(), Secrets { wms: vec![b"k".to_vec()], ..Secrets::default() });
        for d in &deliveries {
            let r = receiver.handle(WebhookSource::Wms, &d.headers(b"k"), &d.body).await.unwrap();
            assert!(matches!(r, Reply::Accepted | Reply::Duplicate), "{r:?}");
        }
    }

    // Kill the worker three times, each once it has made some more calls to the store.
    let mut kills = 0;
    for round in 1..=3u64 {
        let before = sims.woo.stats().requests;
        let mut child = worker(&state, &sims.base).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while sims.woo.stats().requests < before + 40 * round && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 2, "the worker was killed while working ({kills} kills)");

    let out = tokio::task::spawn_blocking({
        let mut c = worker(&state, &sims.base);
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = sims.observed(&orders, &skus).await;
    assert_eq!(note_event_ids(&got.notes), want.notes, "every note exactly once");
    assert_eq!(got.completed, want.completed);
    assert_eq!(got.stock, want.stock);
}
