//! A generated supplier feed and the store it is matched against, for the supplier pipeline's
//! end-to-end tests (local and moto).
//!
//! Rows by `i % 10`: 0 a store product's SKU with a new description (UPDATE, 100); 1 a store
//! product's UPC/EAN under a supplier SKU, a new weight (UPDATE, 97); 2 a store product's title renamed
//! (UPDATE by name, for review); 3 a store product exactly as the store has it (unchanged);
//! every 100th row from 4 a bad weight; the rest new products (CREATE). The distributor does not
//! carry SKUs ending in 7.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{json, Value};
use storesync_core::supplier::distributor::Carried;
use storesync_core::supplier::matching::StoreProduct;

pub const HEADER: &str = "Title,URL handle,Description,Vendor,SKU,Barcode,Price,Weight value (grams),\
Google Shopping / Manufacturer part number (MPN),Metafield: custom.specs.color[single_line_text_field],\
Metafield: custom.features[list.single_line_text_field]";

fn gtin13(n: usize) -> String {
    storesync_core::supplier::feed::with_check_digit(&format!("{:012}", 500_000_000_000usize + n))
}

/// Store product `j`.
fn product(j: usize) -> (StoreProduct, BTreeMap<String, Value>) {
    let title = format!("Acme Stapler Model{j:05} Heavy Duty");
    let p = StoreProduct {
        id: format!("gid://shopify/Product/{j}"),
        sku: format!("ST-{j:05}"),
        title: title.clone(),
        vendor: "Acme".into(),
        barcode: Some(gtin13(j)),
        mpn: Some(format!("MPN-{j:05}")),
    };
    let fields: BTreeMap<String, Value> = serde_json::from_value(json!({
        "name": title, "description": format!("<p>Stapler {j}</p>"), "vendor": "Acme", "price": "12.50",
        "barcode": gtin13(j), "weight_grams": 400, "product_info": { "specs": { "color": "Black" } }
    }))
    .unwrap();
    (p, fields)
}

/// The feed's CSV text.
pub fn feed_csv(rows: usize) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    let half = (rows / 10).max(1);
    for i in 0..rows {
        let j = i / 10;
        let (p, f) = product(if i % 10 == 3 { half + j } else { j });
        let weight = if i % 100 == 4 { "heavy".to_string() } else { "400".into() };
        let row = match i % 10 {
            0 => vec![
                p.title.clone(),
                String::new(),
                format!("<p>Stapler {j}, now with a staple remover</p>"),
                "Acme".into(),
                p.sku.clone(),
                String::new(),
                "12.50".into(),
                weight,
                String::new(),
                "Black".into(),
                String::new(),
            ],
            1 => vec![
                p.title.clone(),
                format!("sup-{i}"),
                String::new(),
                "Acme".into(),
                format!("SUP-{i:06}"),
                gtin13(j),
                String::new(),
                if i % 100 == 4 { weight } else { "450".into() },
                String::new(),
                String::new(),
                String::new(),
            ],
            2 => vec![
                format!("{} Refurbished", p.title),
                format!("sup-{i}"),
                String::new(),
                "Acme".into(),
                format!("SUP-{i:06}"),
                String::new(),
                String::new(),
                weight,
                String::new(),
                String::new(),
                String::new(),
            ],
            3 => vec![
                p.title.clone(),
                String::new(),
                f["description"].as_str().unwrap().into(),
                "Acme".into(),
                p.sku.clone(),
                String::new(),
                "12.50".into(),
                "400".into(),
                String::new(),
                "Black".into(),
                String::new(),
            ],
            _ => vec![
                format!("Globex Binder Series{i:06} A4"),
                format!("new-{i}"),
                "<p>A binder</p>".into(),
                "Globex".into(),
                format!("SUP-{i:06}"),
                String::new(),
                "3.99".into(),
                weight,
                format!("GB-{i}"),
                "Blue".into(),
                "Recycled; Ring".into(),
            ],
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&row).unwrap();
        out.push_str(&String::from_utf8(w.into_inner().unwrap()).unwrap());
    }
    out
}

/// The feed as the supplier drops it: a ZIP holding the CSV.
pub fn feed_zip(rows: usize) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("CowanOfficeSupplies_full.csv", opts).unwrap();
    zip.write_all(feed_csv(rows).as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

/// What the distributor answers: every SKU but those ending in 7, 40 in stock, its own price
/// for none (the feed's stands).
pub fn distributor_rule(sku: &str) -> Option<Carried> {
    (!sku.ends_with('7')).then(|| Carried { item_number: format!("XO-{sku}"), stock: 40, price: None })
}

/// Seeds `shop` with the store's products, whole (as `productSet` makes them).
pub fn seed_shop(shop: &storesync_platforms::shopify::sim::ShopifySim, rows: usize) {
    let n = (rows / 10).max(1) * 2;
    for j in 0..n {
        let (p, f) = product(j);
        let input = json!({
            "title": p.title, "descriptionHtml": f["description"], "vendor": "Acme",
            "metafields": [{ "namespace": "custom", "key": "product_info", "type": "json", "value": f["product_info"].to_string() }],
            "variants": [{ "sku": p.sku, "price": "12.50", "barcode": p.barcode,
                           "optionValues": [{ "optionName": "Title", "name": "Default Title" }],
                           "inventoryItem": { "measurement": { "weight": { "unit": "GRAMS", "value": 400 } } } }],
        });
        shop.product_set(input).unwrap();
    }
}
