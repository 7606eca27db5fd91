//! The matching engine: walks the web products once, matches each compared row to Comax, and
//! decides what the inventory export carries. Validation and the export share it, so they
//! always agree on what would be exported.

use hashbrown::{HashMap, HashSet};
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::csvio::CsvError;
use crate::domain::Cents;
use crate::formats::{
    index_comax_sized, sku_key_into, Cell, ComaxEntry, ComaxIndex, ComaxReader, ProductKind, Translation, WebProduct,
    WebProductReader,
};

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

/// How a web row finds its Comax product: by its own SKU, or, for a translation without one,
/// through its original's SKU once every row has been seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Own,
    OwnTranslation,
    ThroughOriginal(u64),
    Unmatched,
}

fn route(row: &WebProduct, has_own_key: bool, translations: &Translations) -> Route {
    let original = row.id.value().and_then(|&i| translations.original_of(i));
    match (has_own_key, original) {
        (true, None) => Route::Own,
        (true, Some(_)) => Route::OwnTranslation,
        (false, Some(o)) => Route::ThroughOriginal(o),
        (false, None) => Route::Unmatched,
    }
}

/// Records the SKU key of an original that has translations.
fn remember_original(row: &WebProduct, key: Option<&str>, originals: &HashSet<u64>, map: &mut HashMap<u64, String>) {
    if let (Some(id), Some(k)) = (row.id.value(), key) {
        if originals.contains(id) {
            map.insert(*id, k.to_string());
        }
    }
}

fn matched_for(
    row: &WebProduct,
    key: Option<&str>,
    comax: &ComaxIndex,
    on_hold: &HashMap<String, i64>,
) -> Option<Matched> {
    let key = key?;
    if !row.kind.is_compared() {
        return None;
    }
    let entry = comax.get(key)?;
    Some(decide(row, entry, on_hold.get(key).copied().unwrap_or(0)))
}

/// Walks every web row once (translations with an empty SKU last, once their original's SKU is
/// known) and calls `visit` for each.
pub fn walk<S: WebSource>(
    mut web: S,
    translations: &Translations,
    on_hold: &HashMap<String, i64>,
    comax: &ComaxIndex,
    mut visit: impl FnMut(Visit<'_>),
) -> Result<(), CsvError> {
    let originals = translations.originals();
    let mut original_sku: HashMap<u64, String> = HashMap::new();
    let mut deferred: Vec<WebProduct> = Vec::new();
    let mut key_buf = String::new();
    let matched_for = |row: &WebProduct, key: Option<&str>| matched_for(row, key, comax, on_hold);
    while let Some(row) = web.next_row()? {
        let own = sku_key_into(&row.sku, &mut key_buf);
        remember_original(row, own.then_some(key_buf.as_str()), &originals, &mut original_sku);
        match route(row, own, translations) {
            Route::ThroughOriginal(_) => deferred.push(row.clone()),
            r => {
                let key = own.then_some(key_buf.as_str());
                let matched = matched_for(row, key);
                visit(Visit { row, key, matched, is_translation: r == Route::OwnTranslation });
            }
        }
    }
    for row in deferred {
        let original = row.id.value().and_then(|&i| translations.original_of(i));
        let key = original.and_then(|o| original_sku.get(&o)).map(String::as_str);
        let matched = matched_for(&row, key);
        visit(Visit { row: &row, key, matched, is_translation: true });
    }
    Ok(())
}

/// Where web rows come from: the CSV reader, or a file read ahead into memory.
pub trait WebSource {
    fn file(&self) -> &str;
    /// The next row; the source reuses its buffers.
    fn next_row(&mut self) -> Result<Option<&WebProduct>, CsvError>;
}

impl<R: Read> WebSource for WebProductReader<R> {
    fn file(&self) -> &str {
        WebProductReader::file(self)
    }

    fn next_row(&mut self) -> Result<Option<&WebProduct>, CsvError> {
        self.next()
    }
}

/// What the export needs of a web file, read ahead compactly (about 50 bytes a row), so that it
/// can be read while the Comax index is built on the other core.
pub struct BufferedWeb {
    file: String,
    rows: Vec<CompactRow>,
    skus: String,
    /// The SKU key of every original that has translations.
    original_sku: HashMap<u64, String>,
    pos: usize,
    current: WebProduct,
}

struct CompactRow {
    line: u64,
    id: u64,
    stock: i64,
    price: i64,
    sku_start: u32,
    sku_len: u32,
    /// Cell states of id, stock and price (0 empty, 1 value, 2 invalid), the kind and the shape.
    id_state: u8,
    stock_state: u8,
    price_state: u8,
    kind: ProductKind,
    bad_shape: bool,
}

fn pack<T: Copy + Default>(c: &Cell<T>) -> (T, u8) {
    match c {
        Cell::Empty => (T::default(), 0),
        Cell::Value(v) => (*v, 1),
        Cell::Invalid(_) => (T::default(), 2),
    }
}

fn unpack<T>(v: T, state: u8) -> Cell<T> {
    match state {
        1 => Cell::Value(v),
        2 => Cell::Invalid(String::new()),
        _ => Cell::Empty,
    }
}

impl BufferedWeb {
    pub fn read<R: Read>(mut web: WebProductReader<R>, translations: &Translations) -> Result<Self, CsvError> {
        let file = web.file().to_string();
        let mut rows = Vec::new();
        let mut skus = String::new();
        let originals = translations.originals();
        let mut original_sku = HashMap::new();
        let mut key = String::new();
        while let Some(p) = web.next()? {
            let own = sku_key_into(&p.sku, &mut key);
            remember_original(p, own.then_some(key.as_str()), &originals, &mut original_sku);
            let (id, id_state) = pack(&p.id);
            let (stock, stock_state) = pack(&p.stock);
            let (price, price_state) = pack(&p.price.clone().map(|c| c.0));
            rows.push(CompactRow {
                line: p.line,
                id,
                stock,
                price,
                sku_start: skus.len() as u32,
                sku_len: p.sku.len() as u32,
                id_state,
                stock_state,
                price_state,
                kind: p.kind,
                bad_shape: p.shape.is_some(),
            });
            skus.push_str(&p.sku);
        }
        Ok(Self { file, rows, skus, original_sku, pos: 0, current: WebProduct::empty() })
    }

    fn fill(&self, r: &CompactRow, p: &mut WebProduct) {
        p.line = r.line;
        p.id = unpack(r.id, r.id_state);
        p.kind = r.kind;
        p.sku.clear();
        p.sku.push_str(&self.skus[r.sku_start as usize..(r.sku_start + r.sku_len) as usize]);
        p.stock = unpack(r.stock, r.stock_state);
        p.price = unpack(Cents(r.price), r.price_state);
        p.shape = r.bad_shape.then(|| "the row has another number of fields than the header".to_string());
    }

    /// Exports the rows `range` in the order [`walk`] visits them: `(rows, deferred rows)`.
    fn export_range(
        &self,
        range: std::ops::Range<usize>,
        translations: &Translations,
        on_hold: &HashMap<String, i64>,
        comax: &ComaxIndex,
    ) -> Result<(Vec<u8>, Vec<u8>, ExportSummary), ExportError> {
        let mut main = ExportWriter::new(Vec::new());
        let mut deferred = ExportWriter::new(Vec::new());
        let mut row = self.current.clone();
        let mut key_buf = String::new();
        for r in &self.rows[range] {
            self.fill(r, &mut row);
            let own = sku_key_into(&row.sku, &mut key_buf);
            match route(&row, own, translations) {
                Route::ThroughOriginal(o) => {
                    let key = self.original_sku.get(&o).map(String::as_str);
                    let matched = matched_for(&row, key, comax, on_hold);
                    deferred.visit(&Visit { row: &row, key, matched, is_translation: true });
                }
                Route::Unmatched => main.visit(&Visit { row: &row, key: None, matched: None, is_translation: false }),
                r => {
                    let matched = matched_for(&row, Some(&key_buf), comax, on_hold);
                    let is_translation = r == Route::OwnTranslation;
                    main.visit(&Visit { row: &row, key: Some(&key_buf), matched, is_translation });
                }
            }
        }
        let (main, s1) = main.into_parts()?;
        let (deferred, s2) = deferred.into_parts()?;
        let mut s = s1;
        s.add(&s2);
        Ok((main, deferred, s))
    }
}

impl WebSource for BufferedWeb {
    fn file(&self) -> &str {
        &self.file
    }

    fn next_row(&mut self) -> Result<Option<&WebProduct>, CsvError> {
        let Some(r) = self.rows.get(self.pos) else { return Ok(None) };
        self.pos += 1;
        let mut p = std::mem::replace(&mut self.current, WebProduct::empty());
        self.fill(r, &mut p);
        self.current = p;
        Ok(Some(&self.current))
    }
}

/// Step 5 on two cores: the Comax index is built on one while the web file is read on the
/// other; then each core matches half of the rows. The output is the same as
/// [`export_inventory`]'s, byte for byte.
pub fn export_inventory_parallel<RW: Read + Send, RC: Read + Send, W: Write>(
    web: WebProductReader<RW>,
    comax: ComaxReader<RC>,
    comax_size_hint: u64,
    translations: &Translations,
    on_hold: &HashMap<String, i64>,
    mut out: W,
) -> Result<(ExportSummary, ComaxIndex), ExportError> {
    let (buffered, idx) = std::thread::scope(|scope| {
        let indexer = scope.spawn(move || index_comax_sized(comax, comax_size_hint));
        let buffered = BufferedWeb::read(web, translations);
        let idx = indexer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (buffered, idx)
    });
    let (idx, buffered) = (idx?, buffered?);
    let n = buffered.rows.len();
    let (a, b) = std::thread::scope(|scope| {
        let second = scope.spawn(|| buffered.export_range(n / 2..n, translations, on_hold, &idx));
        let first = buffered.export_range(0..n / 2, translations, on_hold, &idx);
        (first, second.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    let ((main_a, def_a, mut summary), (main_b, def_b, sb)) = (a?, b?);
    summary.add(&sb);
    let header = EXPORT_HEADER.join(",") + "\n";
    for part in [header.as_bytes(), &main_a, &main_b, &def_a, &def_b] {
        out.write_all(part).map_err(|e| ExportError::Write(csv::Error::from(e)))?;
    }
    out.flush().map_err(|e| ExportError::Write(csv::Error::from(e)))?;
    Ok((summary, idx))
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
pub fn export_inventory<S: WebSource, W: Write>(
    web: S,
    translations: &Translations,
    on_hold: &HashMap<String, i64>,
    comax: &ComaxIndex,
    out: W,
) -> Result<ExportSummary, ExportError> {
    let mut w = ExportWriter::new(out);
    w.header()?;
    walk(web, translations, on_hold, comax, |v| w.visit(&v))?;
    w.finish()
}

/// Writes export rows and counts them.
struct ExportWriter<W: Write> {
    w: csv::Writer<W>,
    s: ExportSummary,
    err: Option<csv::Error>,
}

impl<W: Write> ExportWriter<W> {
    fn new(out: W) -> Self {
        Self {
            w: csv::WriterBuilder::new().buffer_capacity(1 << 16).from_writer(out),
            s: ExportSummary::default(),
            err: None,
        }
    }

    fn header(&mut self) -> Result<(), ExportError> {
        Ok(self.w.write_record(EXPORT_HEADER)?)
    }

    fn visit(&mut self, v: &Visit<'_>) {
        let s = &mut self.s;
        s.web_rows += 1;
        if !v.row.kind.is_compared() {
            return;
        }
        s.compared += 1;
        let Some(m) = v.matched else { return };
        s.matched += 1;
        if !m.export || self.err.is_some() {
            return;
        }
        let (Some(id), Some(price)) = (v.row.id.value(), m.entry.price) else {
            return;
        };
        s.exported += 1;
        s.stock_changes += u64::from(v.row.stock.value() != Some(&m.stock));
        s.price_changes += u64::from(v.row.price.value() != Some(&price));
        let in_stock = if m.stock > 0 { "1" } else { "0" };
        let r = self.w.write_record([
            id.to_string().as_str(),
            v.row.sku.as_str(),
            m.stock.to_string().as_str(),
            in_stock,
            price.to_string().as_str(),
        ]);
        if let Err(e) = r {
            self.err = Some(e);
        }
    }

    fn finish(mut self) -> Result<ExportSummary, ExportError> {
        if let Some(e) = self.err {
            return Err(e.into());
        }
        self.w.flush().map_err(|e| ExportError::Write(csv::Error::from(e)))?;
        Ok(self.s)
    }

    fn into_parts(mut self) -> Result<(W, ExportSummary), ExportError> {
        if let Some(e) = self.err.take() {
            return Err(e.into());
        }
        let s = std::mem::take(&mut self.s);
        let w = self.w.into_inner().map_err(|e| ExportError::Write(csv::Error::from(e.into_error())))?;
        Ok((w, s))
    }
}

impl ExportSummary {
    fn add(&mut self, o: &ExportSummary) {
        self.web_rows += o.web_rows;
        self.compared += o.compared;
        self.matched += o.matched;
        self.exported += o.exported;
        self.stock_changes += o.stock_changes;
        self.price_changes += o.price_changes;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{index_comax, read_translations, ComaxMapping};

    /// 1,001 rows: simple products, variations, translations before and after their originals,
    /// some with empty SKUs, unmatched SKUs, bad cells and other product types.
    fn dataset() -> (String, String, String) {
        let mut web = String::from("ID,Type,SKU,Stock,Regular price\n");
        let mut comax = String::from("sku,price,stock,active\n");
        let mut tr = String::from("product_id,language,original_product_id\n");
        for i in 0..1001u64 {
            let kind = ["simple", "variation", "variable", "simple, virtual", "grouped"][(i % 5) as usize];
            match i % 7 {
                0 => {
                    // A translation listed before its original (i + 1), without a SKU.
                    web.push_str(&format!("{i},{kind},,{},{}.50\n", i % 9, i));
                    tr.push_str(&format!("{i},en,{}\n", i + 1));
                }
                3 => web.push_str(&format!("{i},{kind},NOPE{i},1,1\n")),
                5 => web.push_str(&format!("{i},{kind},S{i},x,\n")),
                _ => web.push_str(&format!("{i},{kind},s{i},{},{}.50\n", i % 11, i)),
            }
            comax.push_str(&format!("S{i},{}.50,{},{}\n", i + (i % 3), i % 13, u8::from(i % 17 != 0)));
        }
        (web, comax, tr)
    }

    #[test]
    fn parallel_export_equals_the_sequential_walk() {
        let (web, comax, tr) = dataset();
        let translations = Translations::new(&read_translations("t.csv", tr.as_bytes()).unwrap().rows);
        let mut held = HashMap::new();
        held.insert("s8".to_string(), 3);
        let idx = index_comax(ComaxReader::open("c.csv", comax.as_bytes(), &ComaxMapping::default()).unwrap()).unwrap();
        let mut seq = Vec::new();
        let s1 = export_inventory(
            WebProductReader::open("w.csv", web.as_bytes()).unwrap(),
            &translations,
            &held,
            &idx,
            &mut seq,
        )
        .unwrap();
        let mut par = Vec::new();
        let (s2, _) = export_inventory_parallel(
            WebProductReader::open("w.csv", web.as_bytes()).unwrap(),
            ComaxReader::open("c.csv", comax.as_bytes(), &ComaxMapping::default()).unwrap(),
            comax.len() as u64,
            &translations,
            &held,
            &mut par,
        )
        .unwrap();
        assert_eq!(s1, s2);
        assert!(s1.exported > 100 && s1.exported < s1.compared, "{s1:?}");
        assert_eq!(String::from_utf8(seq).unwrap(), String::from_utf8(par).unwrap());
    }
}
