//! The Xorosoft simulator speaks its contract, and the client retries what is worth retrying.

use std::time::Duration;

use serde_json::{json, Value};
use storesync_core::domain::Cents;
use storesync_core::supplier::distributor::{Carried, Distributor, Lookup};
use storesync_platforms::fault::Fault;
use storesync_platforms::xorosoft::client::XorosoftClient;
use storesync_platforms::xorosoft::sim::XorosoftSim;

async fn serve(sim: &XorosoftSim) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = sim.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn pen() -> Carried {
    Carried { item_number: "X-100".into(), stock: 12, price: Some(Cents(199)) }
}

#[tokio::test]
async fn the_simulator_answers_every_sku_in_order_and_refuses_what_the_contract_does() {
    let sim = XorosoftSim::new("tok");
    sim.carry("PEN-1", pen());
    let base = serve(&sim).await;
    let http = reqwest::Client::new();
    let call = |body: Value, token: &str| {
        let req = http.post(format!("{base}/api/v1/items/lookup")).bearer_auth(token).json(&body);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (code, v) = call(json!({ "skus": ["pen-1", "NONE"] }), "tok").await;
    assert_eq!(code, 200);
    assert_eq!(
        v,
        json!({ "items": [
            { "sku": "pen-1", "carried": true, "item_number": "X-100", "stock": 12, "price": "1.99" },
            { "sku": "NONE", "carried": false }
        ] })
    );
    assert_eq!(call(json!({ "skus": ["PEN-1"] }), "wrong").await.0, 401);
    let (code, v) = call(json!({ "skus": (0..101).map(|i| format!("S{i}")).collect::<Vec<_>>() }), "tok").await;
    assert_eq!((code, v["error"].as_str()), (400, Some("too_many_items")));
    let (code, v) = call(json!({ "skus": [] }), "tok").await;
    assert_eq!((code, v["error"].as_str()), (400, Some("no_items")));
    let r = http.get(format!("{base}/api/v1/items/X-100")).bearer_auth("tok").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["sku"], "PEN-1");
    let r = http.get(format!("{base}/api/v1/items/X-9")).bearer_auth("tok").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // A rule answers for a catalog too large to hold.
    sim.carry_by(|sku| {
        sku.starts_with("BIG-").then(|| Carried { item_number: format!("N-{sku}"), stock: 1, price: None })
    });
    let (_, v) = call(json!({ "skus": ["BIG-7", "SMALL-7"] }), "tok").await;
    assert_eq!(
        (v["items"][0]["item_number"].as_str(), v["items"][1]["carried"].as_bool()),
        (Some("N-BIG-7"), Some(false))
    );
    let stats = sim.stats();
    assert_eq!((stats.lookups, stats.skus_looked_up), (2, 4));
}

#[tokio::test]
async fn past_the_rate_limit_the_answer_is_429_with_retry_after() {
    let sim = XorosoftSim::new("tok");
    sim.rate_limit(3, 0.5);
    let base = serve(&sim).await;
    let http = reqwest::Client::new();
    let mut codes = Vec::new();
    for _ in 0..4 {
        let r = http
            .post(format!("{base}/api/v1/items/lookup"))
            .bearer_auth("tok")
            .json(&json!({ "skus": ["A"] }))
            .send()
            .await
            .unwrap();
        codes.push((r.status().as_u16(), r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string())));
    }
    assert_eq!(codes[..3], [(200, None), (200, None), (200, None)]);
    assert_eq!(codes[3], (429, Some("1".into())));
    assert_eq!(sim.stats().rate_limited, 1);
}

#[tokio::test]
async fn the_client_retries_transient_failures_and_names_the_rest() {
    let sim = XorosoftSim::new("tok");
    sim.carry("PEN-1", pen());
    let base = serve(&sim).await;
    let mut client = XorosoftClient::new(&base, "tok", Duration::from_millis(300)).unwrap();
    client.backoff = Duration::from_millis(1);
    sim.inject([
        Fault::Status { code: 503, retry_after_secs: None },
        Fault::Status { code: 429, retry_after_secs: Some(0) },
        Fault::Delay { millis: 600 },
    ]);
    let got = client.lookup(&["PEN-1".into(), "NONE".into()]).await.unwrap();
    assert_eq!(
        got,
        vec![Lookup { sku: "PEN-1".into(), carried: Some(pen()) }, Lookup { sku: "NONE".into(), carried: None }]
    );
    assert_eq!(sim.stats().requests, 4, "three faults, then the answer");
    // Past its attempts: transient, and says why.
    client.attempts = 2;
    sim.inject([Fault::Status { code: 502, retry_after_secs: None }; 2]);
    let e = client.lookup(&["PEN-1".into()]).await.unwrap_err();
    assert!(e.transient && e.message.contains("HTTP 502"), "{e:?}");
    // Not worth retrying: a wrong token.
    let bad = XorosoftClient::new(&base, "nope", Duration::from_secs(1)).unwrap();
    let before = sim.stats().requests;
    let e = bad.lookup(&["PEN-1".into()]).await.unwrap_err();
    assert!(!e.transient && e.message.contains("HTTP 401"), "{e:?}");
    assert_eq!(sim.stats().requests, before + 1);
    let e = client.lookup(&(0..101).map(|i| format!("S{i}")).collect::<Vec<_>>()).await.unwrap_err();
    assert_eq!(e.message, "Xorosoft look-up: 101 SKUs, at most 100 a call");
}
