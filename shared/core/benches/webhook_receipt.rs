//! Verify + parse + dedupe key of a 2 KB webhook, in-process (issue 3: ≤ 5 µs median).
//! `cargo bench -p storesync-core --bench webhook_receipt`

use std::hint::black_box;
use storesync_core::webhooks::signature::sign_base64 as sign;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use storesync_core::webhooks::receipt::{receive, Receipt};
use storesync_core::webhooks::{Secrets, WebhookSource, WmsScheme};

/// A WMS `order.created` of about 2 KB.
fn body() -> Vec<u8> {
    let lines: Vec<String> = (0..55).map(|i| format!(r#"{{"sku":"SKU-{i:06}","quantity":{}}}"#, i % 7 + 1)).collect();
    let b = format!(
        r#"{{"id":"evt_01HZX3J9Q8","event":"order.created","occurred_at":"2026-11-25T08:00:00Z","data":{{"order_id":"WMS-778812","external_id":"5001","status":"received","lines":[{}]}}}}"#,
        lines.join(",")
    );
    b.into_bytes()
}

fn bench(c: &mut Criterion) {
    let body = body();
    assert!((1900..2300).contains(&body.len()), "{} bytes", body.len());
    let secrets = Secrets {
        wms: vec![b"wms-secret-0123456789".to_vec()],
        wms_scheme: Some(WmsScheme::Hmac),
        ..Secrets::default()
    };
    let headers: Vec<(String, String)> = vec![
        ("Content-Type".into(), "application/json".into()),
        ("X-Webhook-Event".into(), "order.created".into()),
        ("X-Webhook-Id".into(), "dlv_01HZX3J9Q8".into()),
        ("X-Webhook-Signature".into(), sign(&secrets.wms[0], &body)),
    ];
    let now = Utc::now();
    assert!(matches!(receive(WebhookSource::Wms, &headers, &body, &secrets, now), Ok(Receipt::Event(_))));
    c.bench_function("part: hmac-sha256 2KB", |b| b.iter(|| sign(black_box(&secrets.wms[0]), black_box(&body))));
    c.bench_function("part: full parse of the 2KB WMS event (processor)", |b| {
        b.iter(|| storesync_core::webhooks::wms::WmsEvent::parse(black_box(&body)))
    });
    c.bench_function("wms 2KB verify+parse+dedupe-key", |b| {
        b.iter(|| receive(WebhookSource::Wms, black_box(&headers), black_box(&body), &secrets, now))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
