//! Compare of 100,000 variants once both sides are fetched (issue 4: ≤ 1 s).
//! `cargo bench -p storesync-core --bench store_compare`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use storesync_core::stores::inventory::{compare, status_for, InventoryRecord};
use storesync_core::stores::Platform;

/// `n` variants as a store reports them; `shift` changes every 7th quantity, drops every
/// 50th variant, and leaves every 100th without a SKU (matched by name).
fn side(n: usize, shift: bool) -> Vec<InventoryRecord> {
    (0..n)
        .filter(|i| !(shift && i % 50 == 49))
        .map(|i| {
            let q = (i % 23) as i64 + i64::from(shift && i % 7 == 0);
            InventoryRecord {
                product_id: format!("{}{}", if shift { "gid://shopify/Product/" } else { "" }, i / 4),
                variant_id: format!("{}{i}", if shift { "gid://shopify/ProductVariant/" } else { "v" }),
                name: format!("Jacket {} - Size {}", i / 4, i % 4),
                sku: if i % 100 == 99 { String::new() } else { format!("JK-{:06}-{}", i / 4, i % 4) },
                quantity: Some(q),
                status: status_for(Some(q)).into(),
                write_key: format!("item-{i}"),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (src, dst) = (side(100_000, false), side(100_000, true));
    let now = chrono::Utc::now();
    let plan = compare(Platform::WooCommerce, &src, Platform::Shopify, &dst, now);
    assert!(plan.items.len() > 10_000 && plan.unchanged > 70_000, "{} / {}", plan.items.len(), plan.unchanged);
    assert_eq!(plan.unmatched.missing_in_destination.len(), 2_000);
    let mut g = c.benchmark_group("store_compare");
    g.sample_size(20);
    g.bench_function("inventory, 100,000 variants a side", |b| {
        b.iter(|| compare(Platform::WooCommerce, black_box(&src), Platform::Shopify, black_box(&dst), now))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
