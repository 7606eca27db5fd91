//! The matching engine: walks the web products once, matches each compared row to Comax, and
//! decides what the inventory export carries. Validation and the export share it, so they
//! always agree on what would be exported.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::csvio::CsvError;
use crate::domain::sku_key;
use crate::formats::{Cell, ComaxEntry, ComaxIndex, Translation, WebProduct, WebProductReader};

/// A compared web row matched to its Comax product.
#[derive(Debug, Clone, Copy)]
pub struct Matched {
    pub entry: ComaxEntry,
    /// The stock to publish.
    pub stock: i64,
    /// Whether the row goes into the export (stock or price differs).
    pub export: bool,
}

/// What the walk tells the visitor about each web row.
pub struct Visit<'a> {
    pub row: &'a WebProduct,
    /// The SKU key the row matches by (its own, or its original's for a translation).
    pub key: Option<&'a str>,
    /// For compared rows whose key is in Comax.
    pub matched: Option<Matched>,
    /// Whether the row is a translation (listed in `WebTranslations.csv`).
    pub is_translation: bool,
}

/// The web side's view of translations: translation id → original id.
pub struct Translations {
    original_of: HashMap<u64, u64>,
}

impl Translations {
    pub fn new(rows: &[Translation]) -> Self {
        Self { original_of: rows.iter().map(|t| (t.product_id, t.original_product_id)).collect() }
    }

    pub fn original_of(&self, id: u64) -> Option<u64> {
        self.original_of.get(&id).copied()
    }

    /// The id of the product's family: its original, or itself.
    pub fn family(&self, id: u64) -> u64 {
        self.original_of(id).unwrap_or(id)
    }

    pub fn originals(&self) -> HashSet<u64> {
        self.original_of.values().copied().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.original_of.is_empty()
    }
}

fn decide(row: &WebProduct, entry: ComaxEntry, on_hold: i64) -> Matched {
    let stock = entry.publishable_stock(on_hold);
    let stock_differs = row.stock.value() != Some(&stock);
    let price_differs = match (row.price.value(), entry.price) {
        (Some(w), Some(c)) => *w != c,
        (_, None) => false,
        (None, Some(_)) => true,
    };
    Matched { entry, stock, export: stock_differs || price_differs }
}

/// Walks every web row once (translations with an empty SKU last, once their original's SKU is
/// known) and calls `visit` for each.
pub fn walk<R: Read>(
    mut web: WebProductReader<R>,
    translations: &Translations,
    on_hold: &HashMap<String, i64>,
    comax: &ComaxIndex,
    mut visit: impl FnMut(Visit<'_>),
) -> Result<(), CsvError> {
    let originals = translations.originals();
    let mut original_sku: HashMap<u64, String> = HashMap::new();
    let mut deferred: Vec<WebProduct> = Vec::new();
    let mut key_buf = String::new();
    let matched_for = |row: &WebProduct, key: Option<&str>| -> Option<Matched> {
        let key = key?;
        if !row.kind.is_compared() {
            return None;
        }
        let entry = *comax.entries.get(key)?;
        Some(decide(row, entry, on_hold.get(key).copied().unwrap_or(0)))
    };
    while let Some(row) = web.next()? {
        let id = row.id.value().copied();
        let is_translation = id.and_then(|i| translations.original_of(i)).is_some();
        let key = sku_key_into(&row.sku, &mut key_buf);
        if let (Some(id), Some(k)) = (id, key) {
            if originals.contains(&id) {
                original_sku.insert(id, k.to_string());
            }
        }
        if key.is_none() && is_translation {
            deferred.push(row);
            continue;
        }
        let matched = matched_for(&row, key);
        visit(Visit { row: &row, key, matched, is_translation });
    }
    for row in deferred {
        let original = row.id.value().and_then(|&i| translations.original_of(i));
        let key = original.and_then(|o| original_sku.get(&o)).map(String::as_str);
        let matched = matched_for(&row, key);
        visit(Visit { row: &row, key, matched, is_translation: true });
    }
    Ok(())
}

/// Fills `buf` with the SKU key without allocating for ASCII SKUs.
fn sku_key_into<'b>(raw: &str, buf: &'b mut String) -> Option<&'b str> {
    let t = raw.trim();
    if t.is_empty() {
        return None;
    }
    buf.clear();
    if t.is_ascii() {
        buf.push_str(t);
        buf.make_ascii_lowercase();
    } else if let Some(k) = sku_key(t) {
        buf.push_str(&k);
    }
    Some(buf.as_str())
}

/// Figures of one inventory export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSummary {
    pub web_rows: u64,
    pub compared: u64,
    pub matched: u64,
    pub exported: u64,
    pub stock_changes: u64,
    pub price_changes: u64,
}

pub const EXPORT_HEADER: [&str; 5] = ["ID", "SKU", "Stock", "In stock?", "Regular price"];

/// Writes the WooCommerce inventory import (`ID,SKU,Stock,In stock?,Regular price`) of every
/// row whose stock or price differs from Comax.
pub fn export_inventory<R: Read, W: Write>(
    web: WebProductReader<R>,
    translations: &Translations,
    on_hold: &HashMap<String, i64>,
    comax: &ComaxIndex,
    out: W,
) -> Result<ExportSummary, ExportError> {
    let mut w = csv::WriterBuilder::new().buffer_capacity(1 << 16).from_writer(out);
    w.write_record(EXPORT_HEADER)?;
    let mut s = ExportSummary::default();
    let mut write_err = None;
    walk(web, translations, on_hold, comax, |v| {
        s.web_rows += 1;
        if !v.row.kind.is_compared() {
            return;
        }
        s.compared += 1;
        let Some(m) = v.matched else { return };
        s.matched += 1;
        if !m.export || write_err.is_some() {
            return;
        }
        let (Some(id), Some(price)) = (v.row.id.value(), m.entry.price) else {
            return;
        };
        s.exported += 1;
        s.stock_changes += u64::from(v.row.stock.value() != Some(&m.stock));
        s.price_changes += u64::from(v.row.price.value() != Some(&price));
        let in_stock = if m.stock > 0 { "1" } else { "0" };
        let r = w.write_record([
            id.to_string().as_str(),
            v.row.sku.as_str(),
            m.stock.to_string().as_str(),
            in_stock,
            price.to_string().as_str(),
        ]);
        if let Err(e) = r {
            write_err = Some(e);
        }
    })?;
    if let Some(e) = write_err {
        return Err(e.into());
    }
    w.flush().map_err(|e| ExportError::Write(csv::Error::from(e)))?;
    Ok(s)
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Input(#[from] CsvError),
    #[error("cannot write the export: {0}")]
    Write(#[from] csv::Error),
}

/// A web row's stock as the store has it, for the "in stock" checks.
pub fn web_in_stock(row: &WebProduct) -> bool {
    matches!(row.stock, Cell::Value(s) if s > 0)
}
