//! The office-supplies merchant of `serve --simulate` (../shared/MERCHANTS.md, merchant 2): its
//! Shopify catalog, the supplier's Etilize feed (a ZIP of CSV in the Shopify product layout) on
//! an FTP server, and the distributor (Xorosoft).
//!
//! The shop holds [`SHOP_PRODUCTS`] products `OFF-0000`…; the feed's [`FEED_ROWS`] rows, by
//! `i % 10` (with `j = i / 10`): 0 product `j` with a new description (UPDATE by SKU, 100,
//! auto-approved); 1 product `j`'s UPC/EAN under a supplier SKU, a new weight (UPDATE by
//! barcode, 97, auto-approved); 2 product `j` renamed "(Refurbished)" under a supplier SKU (a
//! name match, for review); 3 product `100 + j` exactly as the shop has it (no change); every
//! 50th row from 4 a weight that is not a number (a bad row); the rest new products (CREATE).
//! Xorosoft carries every SKU but those ending in 7, 25 in stock.

use std::io::Write;
use std::path::Path;

use serde_json::json;
use storesync_core::supplier::distributor::Carried;
use storesync_core::supplier::feed::{with_check_digit, FEED_COLUMNS};
use storesync_platforms::shopify::sim::ShopifySim;
use storesync_platforms::xorosoft::sim::XorosoftSim;

pub const SHOP_PRODUCTS: usize = 200;
pub const FEED_ROWS: usize = 1_000;
/// The feed's file name on the FTP server (it matches the default pattern).
pub const FEED_FILE: &str = "CowanOfficeSupplies_full.zip";
pub const FTP_USER: &str = "etilize";
pub const FTP_PASSWORD: &str = "etilize-sim";
pub const XOROSOFT_TOKEN: &str = "xoro_simulated";

/// The feed's columns after the product's ([`FEED_COLUMNS`]).
const METAFIELDS: [&str; 2] = [
    "Metafield: custom.specs.color[single_line_text_field]",
    "Metafield: custom.features[list.single_line_text_field]",
];

const FAMILIES: [(&str, &str, &str); 5] = [
    ("Swingline", "Stapler", "Staplers"),
    ("Pilot", "G2 Gel Pen 12-Pack", "Pens"),
    ("Avery", "Heavy-Duty Binder 2in", "Binders"),
    ("Post-it", "Super Sticky Notes 3x3", "Notes"),
    ("Fellowes", "Laminator Pouches 100-Pack", "Laminating"),
];

/// The supplier's new lines: none of their words in the shop's names.
const NEW_FAMILIES: [(&str, &str); 4] = [
    ("Desk Organizer Tray", "Organizers"),
    ("Whiteboard Marker Set", "Markers"),
    ("Cross-Cut Paper Shredder", "Shredders"),
    ("Ergonomic Mesh Chair", "Furniture"),
];

/// Shop product `j`: SKU, title, vendor, type, UPC.
struct Product {
    sku: String,
    title: String,
    vendor: &'static str,
    kind: &'static str,
    upc: String,
}

fn product(j: usize) -> Product {
    let (vendor, name, kind) = FAMILIES[j % FAMILIES.len()];
    Product {
        sku: format!("OFF-{j:04}"),
        title: format!("{vendor} {name} Model {j:04}"),
        vendor,
        kind,
        upc: with_check_digit(&format!("{:011}", 73_000_000_000usize + j)),
    }
}

fn description(j: usize) -> String {
    format!("<p>{} for the office.</p>", product(j).title)
}

/// Seeds `shop` with the merchant's products, whole (as `productSet` makes them).
pub fn seed_shop(shop: &ShopifySim) {
    for j in 0..SHOP_PRODUCTS {
        let p = product(j);
        let input = json!({
            "title": p.title, "descriptionHtml": description(j), "vendor": p.vendor, "productType": p.kind,
            "metafields": [{ "namespace": "custom", "key": "product_info", "type": "json",
                             "value": json!({ "specs": { "color": "Black" } }).to_string() }],
            "variants": [{ "sku": p.sku, "price": "12.50", "barcode": p.upc,
                           "optionValues": [{ "optionName": "Title", "name": "Default Title" }],
                           "inventoryItem": { "measurement": { "weight": { "unit": "GRAMS", "value": 400 } } } }],
        });
        if let Err(e) = shop.product_set(input) {
            tracing::warn!(sku = p.sku, errors = ?e, "seeding the simulated office-supplies shop");
        }
    }
}

/// The distributor: every SKU but those ending in 7, 25 in stock.
pub fn seed_distributor(xoro: &XorosoftSim) {
    xoro.carry_by(|sku| {
        (!sku.ends_with('7')).then(|| Carried { item_number: format!("XO-{sku}"), stock: 25, price: None })
    });
}

/// Feed row `i` (see the module): [`FEED_COLUMNS`], then [`METAFIELDS`].
fn row(i: usize) -> [String; 16] {
    let j = i / 10;
    let bad = i % 50 == 4;
    let weight = |grams: &str| if bad { "about 1 kg".to_string() } else { grams.to_string() };
    let supplier_sku = format!("ETL-{i:05}");
    let none = String::new;
    // Title, description, vendor, type, tags, SKU, barcode, price, weight.
    let (title, desc, vendor, kind, tags, sku, upc, price, grams) = match i % 10 {
        0 => {
            let p = product(j);
            let d = format!("<p>{}: 20-sheet capacity, jam-free.</p>", p.title);
            (p.title, d, p.vendor, p.kind, none(), p.sku, none(), "12.50".into(), weight("400"))
        }
        1 => {
            let p = product(j);
            (p.title, none(), p.vendor, "", none(), supplier_sku, p.upc, none(), weight("450"))
        }
        2 => {
            let p = product(j);
            (
                format!("{} (Refurbished)", p.title),
                none(),
                p.vendor,
                "",
                none(),
                supplier_sku,
                none(),
                none(),
                weight("400"),
            )
        }
        3 => {
            let p = product(100 + j);
            (p.title, description(100 + j), p.vendor, p.kind, none(), p.sku, none(), "12.50".into(), weight("400"))
        }
        _ => {
            let (name, kind) = NEW_FAMILIES[i % NEW_FAMILIES.len()];
            // Numbered apart from the shop's models (a shared number reads as the same name).
            let title = format!("Cowan {name} Series {}", 50_000 + i);
            let d = format!("<p>{title}: new this season.</p>");
            (title, d, "Cowan", kind, "New; Office".into(), supplier_sku, none(), "4.99".into(), weight("300"))
        }
    };
    let new = i % 10 >= 4;
    let mpn = if new { format!("CW-{i:05}") } else { none() };
    let color = if matches!(i % 10, 1 | 2) { none() } else { "Black".into() };
    let features = if new { "Recycled; Refillable".to_string() } else { none() };
    let (image, seo_title, seo_description) = (none(), none(), none());
    [
        title,
        none(),
        desc,
        vendor.into(),
        kind.into(),
        tags,
        sku,
        upc,
        price,
        grams,
        image,
        seo_title,
        seo_description,
        mpn,
        color,
        features,
    ]
}

/// The feed as the supplier drops it: a ZIP holding the CSV.
pub fn feed_zip() -> std::io::Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(FEED_COLUMNS.iter().chain(&METAFIELDS))?;
    for i in 0..FEED_ROWS {
        csv.write_record(row(i))?;
    }
    let csv = csv.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(FEED_FILE.replace(".zip", ".csv"), opts).map_err(std::io::Error::other)?;
    zip.write_all(&csv)?;
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}

/// Puts the feed in `root` (the FTP server's folder) unless a feed is there already.
pub fn drop_feed(root: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    let path = root.join(FEED_FILE);
    if !path.exists() {
        std::fs::write(path, feed_zip()?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_reads_as_the_pipeline_reads_it() {
        use storesync_core::supplier::feed::{open_zipped_csv, FeedMapping, FeedReader, FeedRecord};
        let zip = feed_zip().unwrap();
        let (name, csv) = open_zipped_csv(FEED_FILE, std::io::Cursor::new(zip)).unwrap();
        assert!(name.ends_with("CowanOfficeSupplies_full.csv"), "{name}");
        let mut feed = FeedReader::open(&name, csv, &FeedMapping::default()).unwrap();
        let (mut items, mut bad) = (0, 0);
        while let Some(r) = feed.next().unwrap() {
            match r {
                FeedRecord::Item(_) => items += 1,
                FeedRecord::Bad(_) => bad += 1,
            }
        }
        assert_eq!((items + bad, bad), (FEED_ROWS, FEED_ROWS / 50));
    }
}
