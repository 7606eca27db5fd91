//! WooCommerce's own sample product CSV (BOM, CRLF, multi-line quoted descriptions, every
//! product type), read from ../shared/testdata/real/.

use std::collections::BTreeMap;
use std::path::PathBuf;

use storesync_core::engine::{export_inventory, Translations};
use storesync_core::formats::{index_comax, ComaxMapping, ComaxReader, OnHold, ProductKind, WebProductReader};

fn real(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/real/woocommerce_csv").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e} (tests need ../shared beside the checkout)", p.display()))
}

#[test]
fn reads_every_row_of_the_woocommerce_sample() {
    let data = real("sample_products.csv");
    let mut r = WebProductReader::open("sample_products.csv", &data[..]).unwrap();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows = vec![];
    while let Some(p) = r.next().unwrap() {
        assert!(p.shape.is_none(), "line {}: {:?}", p.line, p.shape);
        *kinds.entry(p.kind_raw.clone()).or_default() += 1;
        rows.push(p.clone());
    }
    assert_eq!(rows.len(), 25);
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("external".into(), 1),
            ("grouped".into(), 1),
            ("simple".into(), 12),
            ("simple, downloadable, virtual".into(), 2),
            ("variable".into(), 2),
            ("variation".into(), 7),
        ])
    );
    let first = &rows[0];
    assert_eq!((first.line, first.id.value(), first.sku.as_str()), (2, Some(&44), "woo-vneck-tee"));
    assert_eq!(rows.iter().filter(|p| p.kind.is_compared()).count(), 21);
    assert!(rows.iter().any(|p| p.kind == ProductKind::Variation && p.price.value().is_some()));
}

#[test]
fn a_sample_without_ids_is_refused_by_name() {
    let data = real("experimental_sample_9_products.csv");
    let e = WebProductReader::open("experimental_sample_9_products.csv", &data[..]).err().unwrap();
    assert!(
        e.to_string().starts_with(
            "experimental_sample_9_products.csv: line 1: required column \"ID\" is missing (found: Type, SKU, Name,"
        ),
        "{e}"
    );
}

#[test]
fn exports_only_compared_rows_of_the_sample() {
    let data = real("sample_products.csv");
    // A Comax file that knows every SKU of the sample with stock 3 and price 9.99.
    let mut r = WebProductReader::open("sample_products.csv", &data[..]).unwrap();
    let mut comax = String::from("sku,price,stock\n");
    let mut compared_with_sku = 0;
    while let Some(p) = r.next().unwrap() {
        if !p.sku.is_empty() {
            comax.push_str(&format!("{},9.99,3\n", p.sku));
            compared_with_sku += usize::from(p.kind.is_compared());
        }
    }
    let idx = index_comax(ComaxReader::open("c.csv", comax.as_bytes(), &ComaxMapping::default()).unwrap()).unwrap();
    let mut out = Vec::new();
    let web = WebProductReader::open("sample_products.csv", &data[..]).unwrap();
    let s = export_inventory(web, &Translations::new(&[]), &OnHold::new(), &idx, &mut out).unwrap();
    assert_eq!(s.web_rows, 25);
    assert_eq!(s.compared, 21);
    assert_eq!(s.exported as usize, compared_with_sku, "every compared row with a SKU differs");
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("ID,SKU,Stock,In stock?,Regular price\n"));
    assert!(!text.contains("woo-vneck-tee,"), "a variable parent is never exported");
    assert!(text.lines().skip(1).all(|l| l.ends_with(",3,1,9.99")), "{text}");
}
