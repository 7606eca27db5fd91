//! The four input formats of the daily sync and the Comax order export.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::csvio::{column_letter_index, CsvError, CsvFile, Row};
use crate::domain::{parse_stock, sku_key, Cents};
use crate::report::{Finding, Severity};

pub const WEB_PRODUCTS: &str = "WebProducts.csv";
pub const WEB_ORDERS: &str = "WebOrders.csv";
pub const WEB_TRANSLATIONS: &str = "WebTranslations.csv";
pub const COMAX_PRODUCTS: &str = "ComaxProducts.csv";

/// A parsed cell: empty, a value, or text that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell<T> {
    Empty,
    Value(T),
    Invalid(String),
}

impl<T> Cell<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Cell<U> {
        match self {
            Cell::Empty => Cell::Empty,
            Cell::Value(v) => Cell::Value(f(v)),
            Cell::Invalid(s) => Cell::Invalid(s),
        }
    }

    fn parse(raw: &str, f: impl Fn(&str) -> Option<T>) -> Self {
        if raw.trim().is_empty() {
            Cell::Empty
        } else {
            match f(raw) {
                Some(v) => Cell::Value(v),
                None => Cell::Invalid(raw.to_string()),
            }
        }
    }

    pub fn value(&self) -> Option<&T> {
        match self {
            Cell::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// The product types of a WooCommerce row (`Type` is a list; `virtual`/`downloadable` are flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProductKind {
    Simple,
    Variation,
    Variable,
    Grouped,
    External,
    Unknown,
}

impl ProductKind {
    pub fn parse(raw: &str) -> Self {
        let mut kind = ProductKind::Simple;
        const NAMES: [(&str, Option<ProductKind>); 7] = [
            ("simple", Some(ProductKind::Simple)),
            ("variation", Some(ProductKind::Variation)),
            ("variable", Some(ProductKind::Variable)),
            ("grouped", Some(ProductKind::Grouped)),
            ("external", Some(ProductKind::External)),
            ("virtual", None),
            ("downloadable", None),
        ];
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match NAMES.iter().find(|(n, _)| part.eq_ignore_ascii_case(n)) {
                Some((_, Some(k))) => kind = *k,
                Some((_, None)) => {}
                None => kind = ProductKind::Unknown,
            }
        }
        kind
    }

    /// Rows that carry their own stock and price, and so are compared with Comax.
    pub fn is_compared(self) -> bool {
        matches!(self, ProductKind::Simple | ProductKind::Variation)
    }
}

/// One row of WooCommerce's product CSV export.
#[derive(Debug, Clone)]
pub struct WebProduct {
    pub line: u64,
    pub id: Cell<u64>,
    pub kind: ProductKind,
    pub kind_raw: String,
    pub sku: String,
    pub stock: Cell<i64>,
    pub price: Cell<Cents>,
    /// Set when the row has another number of fields than the header.
    pub shape: Option<String>,
}

impl WebProduct {
    pub fn empty() -> Self {
        WebProduct {
            line: 0,
            id: Cell::Empty,
            kind: ProductKind::Simple,
            kind_raw: String::new(),
            sku: String::new(),
            stock: Cell::Empty,
            price: Cell::Empty,
            shape: None,
        }
    }
}

/// Streams `WebProducts.csv`.
pub struct WebProductReader<R: Read> {
    csv: CsvFile<R>,
    id: usize,
    kind: usize,
    sku: usize,
    stock: usize,
    price: usize,
    current: WebProduct,
}

pub const WEB_REQUIRED: [&str; 5] = ["ID", "Type", "SKU", "Stock", "Regular price"];

impl<R: Read> WebProductReader<R> {
    pub fn open(file: &str, input: R) -> Result<Self, CsvError> {
        let csv = CsvFile::open(file, input)?;
        Ok(Self {
            id: csv.require("ID")?,
            kind: csv.require("Type")?,
            sku: csv.require("SKU")?,
            stock: csv.require("Stock")?,
            price: csv.require("Regular price")?,
            csv,
            current: WebProduct::empty(),
        })
    }

    pub fn file(&self) -> &str {
        self.csv.file()
    }

    #[allow(clippy::should_implement_trait)]
    /// The next row; the reader reuses its buffers, so clone a row to keep it.
    pub fn next(&mut self) -> Result<Option<&WebProduct>, CsvError> {
        let width = self.csv.headers().len();
        let (id, kind, sku, stock, price) = (self.id, self.kind, self.sku, self.stock, self.price);
        let Some(row) = self.csv.next_row()? else {
            return Ok(None);
        };
        let p = &mut self.current;
        let kind_raw = row.get(kind);
        p.line = row.line;
        p.id = Cell::parse(&row.get(id), |s| s.trim().parse().ok());
        p.kind = ProductKind::parse(&kind_raw);
        p.kind_raw.clear();
        p.kind_raw.push_str(&kind_raw);
        p.sku.clear();
        p.sku.push_str(row.get(sku).trim());
        p.stock = Cell::parse(&row.get(stock), parse_stock);
        p.price = Cell::parse(&row.get(price), Cents::parse);
        p.shape = shape_problem(&row, width);
        Ok(Some(&self.current))
    }
}

fn shape_problem(row: &Row<'_>, width: usize) -> Option<String> {
    (row.len() != width).then(|| format!("the row has {} fields but the header has {width}", row.len()))
}

/// One order line of `WebOrders.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct OrderLine {
    pub line: u64,
    pub order_id: String,
    pub order_number: String,
    pub status: String,
    pub date_created: String,
    pub customer_name: String,
    pub customer_email: String,
    pub sku: String,
    pub quantity: i64,
    pub line_total: Cents,
    pub currency: String,
}

pub const ORDER_COLUMNS: [&str; 10] = [
    "order_id",
    "order_number",
    "status",
    "date_created",
    "customer_name",
    "customer_email",
    "sku",
    "quantity",
    "line_total",
    "currency",
];

/// Reads a small file whole: the good rows, and a finding for every row that is not.
pub struct Parsed<T> {
    pub rows: Vec<T>,
    pub problems: Vec<Finding>,
}

pub fn read_orders(file: &str, input: impl Read) -> Result<Parsed<OrderLine>, CsvError> {
    let mut csv = CsvFile::open(file, input)?;
    let idx = ORDER_COLUMNS.map(|c| csv.require(c));
    let mut cols = [0usize; 10];
    for (slot, r) in cols.iter_mut().zip(idx) {
        *slot = r?;
    }
    let width = csv.headers().len();
    let file = file.to_string();
    let mut out = Parsed { rows: vec![], problems: vec![] };
    while let Some(row) = csv.next_row()? {
        let sku = row.get(cols[6]).trim().to_string();
        let mut bad = |field: &str, msg: String| {
            out.problems.push(Finding::error("order-row", &file, Some(row.line), &sku, format!("{field}: {msg}")));
        };
        if let Some(p) = shape_problem(&row, width) {
            bad("row", p);
            continue;
        }
        let quantity = parse_stock(&row.get(cols[7]));
        let total = Cents::parse(&row.get(cols[8]));
        let order_id = row.get(cols[0]).trim().to_string();
        match (quantity, total, order_id.is_empty()) {
            (_, _, true) => bad("order_id", "is empty".into()),
            (None, _, _) => bad("quantity", format!("{:?} is not a whole number", row.get(cols[7]))),
            (_, None, _) => bad("line_total", format!("{:?} is not an amount", row.get(cols[8]))),
            (Some(quantity), Some(line_total), false) => out.rows.push(OrderLine {
                line: row.line,
                order_id,
                order_number: row.get(cols[1]).trim().to_string(),
                status: row.get(cols[2]).trim().to_ascii_lowercase(),
                date_created: row.get(cols[3]).trim().to_string(),
                customer_name: row.get(cols[4]).trim().to_string(),
                customer_email: row.get(cols[5]).trim().to_string(),
                sku,
                quantity,
                line_total,
                currency: row.get(cols[9]).trim().to_string(),
            }),
        }
    }
    Ok(out)
}

/// Quantities held back by SKU key.
pub type OnHold = HashMap<String, i64>;

/// Quantities held by `on-hold` orders, by SKU key: the ERP does not know these orders yet.
pub fn on_hold_quantities(orders: &[OrderLine]) -> OnHold {
    let mut held = OnHold::new();
    for o in orders.iter().filter(|o| o.status == "on-hold") {
        if let Some(k) = sku_key(&o.sku) {
            *held.entry(k).or_insert(0) += o.quantity;
        }
    }
    held
}

/// One row of `WebTranslations.csv`: `product_id` is a translation of `original_product_id`.
#[derive(Debug, Clone, Serialize)]
pub struct Translation {
    pub line: u64,
    pub product_id: u64,
    pub language: String,
    pub original_product_id: u64,
}

pub fn read_translations(file: &str, input: impl Read) -> Result<Parsed<Translation>, CsvError> {
    let mut csv = CsvFile::open(file, input)?;
    let (pid, lang, orig) = (csv.require("product_id")?, csv.require("language")?, csv.require("original_product_id")?);
    let width = csv.headers().len();
    let file = file.to_string();
    let mut out = Parsed { rows: vec![], problems: vec![] };
    while let Some(row) = csv.next_row()? {
        let problem = |msg: String| Finding::error("translation-row", &file, Some(row.line), "", msg);
        if let Some(p) = shape_problem(&row, width) {
            out.problems.push(problem(p));
            continue;
        }
        let parse = |i: usize| row.get(i).trim().parse::<u64>().ok();
        match (parse(pid), parse(orig)) {
            (Some(product_id), Some(original_product_id)) => out.rows.push(Translation {
                line: row.line,
                product_id,
                language: row.get(lang).trim().to_string(),
                original_product_id,
            }),
            _ => out.problems.push(problem(format!(
                "product_id {:?} / original_product_id {:?}: not product ids",
                row.get(pid),
                row.get(orig)
            ))),
        }
    }
    Ok(out)
}

/// Where a Comax field is: a header name, or a spreadsheet column letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnRef {
    Header(String),
    Letter { column: String },
}

impl ColumnRef {
    fn header(s: &str) -> Self {
        ColumnRef::Header(s.to_string())
    }

    fn resolve<R: Read>(&self, csv: &CsvFile<R>) -> Option<usize> {
        match self {
            ColumnRef::Header(h) => csv.column(h),
            ColumnRef::Letter { column } => column_letter_index(column).filter(|&i| i < csv.headers().len()),
        }
    }

    fn describe(&self) -> String {
        match self {
            ColumnRef::Header(h) => h.clone(),
            ColumnRef::Letter { column } => format!("column {column}"),
        }
    }
}

/// The column-mapping file for Comax exports (TOML). See the README for an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComaxMapping {
    pub sku: ColumnRef,
    pub price: ColumnRef,
    pub stock: ColumnRef,
    pub name: Option<ColumnRef>,
    pub group: Option<ColumnRef>,
    /// `1`/`0`; absent means active.
    pub active: Option<ColumnRef>,
    /// An archive/exclude flag: any non-blank value means inactive.
    pub archive: Option<ColumnRef>,
    pub sell_online: Option<ColumnRef>,
}

impl Default for ComaxMapping {
    fn default() -> Self {
        Self {
            sku: ColumnRef::header("sku"),
            price: ColumnRef::header("price"),
            stock: ColumnRef::header("stock"),
            name: Some(ColumnRef::header("name")),
            group: Some(ColumnRef::header("group")),
            active: Some(ColumnRef::header("active")),
            archive: None,
            sell_online: Some(ColumnRef::header("sell_online")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct MappingError {
    pub file: String,
    pub message: String,
}

impl ComaxMapping {
    pub fn from_toml(file: &str, text: &str) -> Result<Self, MappingError> {
        toml::from_str(text).map_err(|e| MappingError { file: file.to_string(), message: e.to_string() })
    }
}

/// One Comax product row.
#[derive(Debug, Clone)]
pub struct ComaxProduct {
    pub line: u64,
    pub sku: String,
    pub name: String,
    pub price: Cell<Cents>,
    pub stock: Cell<i64>,
    pub active: bool,
    pub sell_online: bool,
    pub shape: Option<String>,
}

/// Streams `ComaxProducts.csv` through a [`ComaxMapping`].
pub struct ComaxReader<R: Read> {
    csv: CsvFile<R>,
    sku: usize,
    price: usize,
    stock: usize,
    name: Option<usize>,
    active: Option<usize>,
    archive: Option<usize>,
    sell_online: Option<usize>,
    current: ComaxProduct,
}

fn flag(raw: &str) -> bool {
    let t = raw.trim();
    ["1", "y", "yes", "true", "x", "v"].iter().any(|f| t.eq_ignore_ascii_case(f)) || t == "כן"
}

impl<R: Read> ComaxReader<R> {
    pub fn open(file: &str, input: R, mapping: &ComaxMapping) -> Result<Self, CsvError> {
        let csv = CsvFile::open(file, input)?;
        let required = |c: &ColumnRef| {
            c.resolve(&csv).ok_or_else(|| CsvError::MissingColumn {
                file: file.to_string(),
                column: c.describe(),
                found: csv.headers().join(", "),
            })
        };
        let optional = |c: &Option<ColumnRef>| c.as_ref().and_then(|c| c.resolve(&csv));
        Ok(Self {
            sku: required(&mapping.sku)?,
            price: required(&mapping.price)?,
            stock: required(&mapping.stock)?,
            name: optional(&mapping.name),
            active: optional(&mapping.active),
            archive: optional(&mapping.archive),
            sell_online: optional(&mapping.sell_online),
            csv,
            current: ComaxProduct {
                line: 0,
                sku: String::new(),
                name: String::new(),
                price: Cell::Empty,
                stock: Cell::Empty,
                active: true,
                sell_online: false,
                shape: None,
            },
        })
    }

    pub fn file(&self) -> &str {
        self.csv.file()
    }

    #[allow(clippy::should_implement_trait)]
    /// The next row; the reader reuses its buffers, so clone a row to keep it.
    pub fn next(&mut self) -> Result<Option<&ComaxProduct>, CsvError> {
        let width = self.csv.headers().len();
        let (sku, price, stock, name, active, archive, sell) =
            (self.sku, self.price, self.stock, self.name, self.active, self.archive, self.sell_online);
        let Some(row) = self.csv.next_row()? else {
            return Ok(None);
        };
        let active_flag = active.map(|i| flag(&row.get(i))).unwrap_or(true);
        let archived = archive.map(|i| !row.get(i).trim().is_empty()).unwrap_or(false);
        let p = &mut self.current;
        p.line = row.line;
        p.sku.clear();
        p.sku.push_str(row.get(sku).trim());
        p.name.clear();
        p.name.push_str(row.get_opt(name).trim());
        p.price = Cell::parse(&row.get(price), Cents::parse);
        p.stock = Cell::parse(&row.get(stock), parse_stock);
        p.active = active_flag && !archived;
        p.sell_online = sell.map(|i| flag(&row.get(i))).unwrap_or(false);
        p.shape = shape_problem(&row, width);
        Ok(Some(&self.current))
    }
}

/// What the diff needs of one Comax product.
#[derive(Debug, Clone, Copy)]
pub struct ComaxEntry {
    pub line: u64,
    pub price: Option<Cents>,
    pub stock: Option<i64>,
    pub active: bool,
    pub sell_online: bool,
}

impl ComaxEntry {
    /// The stock to publish: negative and inactive count as 0, on-hold quantities are held back.
    pub fn publishable_stock(&self, on_hold: i64) -> i64 {
        let stock = if self.active { self.stock.unwrap_or(0).max(0) } else { 0 };
        (stock - on_hold).max(0)
    }
}

/// Comax products indexed by SKU key, with the row problems found while reading.
///
/// Compact for million-row files: the hash table holds 4-byte indices (it stays in cache); the
/// entries are 56-byte slots in file order with SKU keys of up to 16 bytes inline, so that a
/// lookup reads one slot.
pub struct ComaxIndex {
    table: HashTable<u32>,
    slots: Vec<Slot>,
    hasher: DefaultHashBuilder,
    /// Keys longer than 16 bytes, and the SKUs (as written) of the rows marked for the web.
    arena: String,
    /// Active rows marked for the web: `(line, start and length of the SKU in the arena)`.
    for_web: Vec<(u64, u32, u32)>,
    pub rows: u64,
    pub problems: Vec<Finding>,
}

const INLINE: usize = 16;
const F_ACTIVE: u8 = 1;
const F_SELL: u8 = 2;
const F_PRICE: u8 = 4;
const F_STOCK: u8 = 8;

#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    /// The key inline, or for longer keys its arena start and length (as two u32, little endian).
    key: [u8; INLINE],
    key_len: u32,
    line: u32,
    price: i64,
    stock: i64,
    flags: u8,
}

impl Slot {
    fn key<'a>(&'a self, arena: &'a str) -> &'a [u8] {
        let len = self.key_len as usize;
        if len <= INLINE {
            &self.key[..len]
        } else {
            let start = u32::from_le_bytes([self.key[0], self.key[1], self.key[2], self.key[3]]) as usize;
            &arena.as_bytes()[start..start + len]
        }
    }

    fn entry(&self) -> ComaxEntry {
        ComaxEntry {
            line: u64::from(self.line),
            price: (self.flags & F_PRICE != 0).then_some(Cents(self.price)),
            stock: (self.flags & F_STOCK != 0).then_some(self.stock),
            active: self.flags & F_ACTIVE != 0,
            sell_online: self.flags & F_SELL != 0,
        }
    }
}

impl ComaxIndex {
    fn new() -> Self {
        Self {
            table: HashTable::new(),
            slots: Vec::new(),
            hasher: DefaultHashBuilder::default(),
            arena: String::new(),
            for_web: Vec::new(),
            rows: 0,
            problems: Vec::new(),
        }
    }

    /// The entry of a SKU key (as made by [`sku_key`]).
    pub fn get(&self, key: &str) -> Option<ComaxEntry> {
        let hash = self.hasher.hash_one(key.as_bytes());
        let slots = &self.slots;
        let i = *self.table.find(hash, |&i| {
            let s = &slots[i as usize];
            s.hash == hash && s.key(&self.arena) == key.as_bytes()
        })?;
        Some(slots[i as usize].entry())
    }

    /// Adds an entry under `key`; a key already present returns the first entry's line.
    fn insert(&mut self, key: &str, e: &ComaxEntry) -> Result<(), u64> {
        let hash = self.hasher.hash_one(key.as_bytes());
        let (arena, slots) = (&mut self.arena, &mut self.slots);
        let entry = self.table.entry(
            hash,
            |&i| {
                let s = &slots[i as usize];
                s.hash == hash && s.key(arena) == key.as_bytes()
            },
            |&i| slots[i as usize].hash,
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(o) => Err(u64::from(slots[*o.get() as usize].line)),
            hashbrown::hash_table::Entry::Vacant(v) => {
                let mut inline = [0u8; INLINE];
                if key.len() <= INLINE {
                    inline[..key.len()].copy_from_slice(key.as_bytes());
                } else {
                    inline[..4].copy_from_slice(&(arena.len() as u32).to_le_bytes());
                    arena.push_str(key);
                }
                let flags = [
                    (e.active, F_ACTIVE),
                    (e.sell_online, F_SELL),
                    (e.price.is_some(), F_PRICE),
                    (e.stock.is_some(), F_STOCK),
                ]
                .iter()
                .filter(|(on, _)| *on)
                .fold(0, |acc, (_, f)| acc | f);
                v.insert(slots.len() as u32);
                slots.push(Slot {
                    hash,
                    key: inline,
                    key_len: key.len() as u32,
                    line: u32::try_from(e.line).unwrap_or(u32::MAX),
                    price: e.price.map(|c| c.0).unwrap_or(0),
                    stock: e.stock.unwrap_or(0),
                    flags,
                });
                Ok(())
            }
        }
    }

    /// The number of distinct SKUs.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Active rows marked for the web: `(line, SKU as written)`.
    pub fn for_web(&self) -> impl Iterator<Item = (u64, &str)> + '_ {
        self.for_web.iter().map(|&(line, start, len)| (line, &self.arena[start as usize..(start + len) as usize]))
    }
}

pub fn index_comax<R: Read>(reader: ComaxReader<R>) -> Result<ComaxIndex, CsvError> {
    index_comax_sized(reader, 0)
}

/// Like [`index_comax`], sized up front from the file's size in bytes (0 when unknown), which
/// spares the table's rehashing on large files.
pub fn index_comax_sized<R: Read>(mut reader: ComaxReader<R>, file_size: u64) -> Result<ComaxIndex, CsvError> {
    let file = reader.file().to_string();
    let mut idx = ComaxIndex::new();
    let rows = reader.csv.estimate_rows(file_size);
    idx.table.reserve(rows, |_| 0);
    idx.slots.reserve(rows);
    let mut key = String::new();
    while let Some(p) = reader.next()? {
        idx.rows += 1;
        let mut problems = Vec::new();
        let mut problem = |sev: Severity, rule: &str, msg: String| {
            problems.push(Finding::new(sev, rule, &file, Some(p.line), &p.sku, msg));
        };
        if let Some(s) = &p.shape {
            problem(Severity::Error, "row-shape", s.clone());
        }
        if let Cell::Invalid(v) = &p.price {
            problem(Severity::Error, "price-unparseable", format!("price {v:?} does not parse"));
        }
        if let Cell::Invalid(v) = &p.stock {
            problem(Severity::Error, "stock-unparseable", format!("stock {v:?} does not parse as a whole number"));
        }
        if let Some(&s) = p.stock.value() {
            if s < 0 {
                problem(Severity::Warning, "negative-stock", format!("Comax stock is {s}; published as 0"));
            }
        }
        if !sku_key_into(&p.sku, &mut key) {
            problem(Severity::Warning, "comax-no-sku", "the Comax row has no SKU; it is ignored".into());
        } else {
            let entry = ComaxEntry {
                line: p.line,
                price: p.price.value().copied(),
                stock: p.stock.value().copied(),
                active: p.active,
                sell_online: p.sell_online,
            };
            match idx.insert(&key, &entry) {
                Err(first) => problem(Severity::Error, "duplicate-sku", format!("SKU also on line {first}")),
                Ok(()) if p.sell_online && p.active => {
                    idx.for_web.push((p.line, idx.arena.len() as u32, p.sku.len() as u32));
                    idx.arena.push_str(&p.sku);
                }
                Ok(()) => {}
            }
        }
        idx.problems.append(&mut problems);
    }
    Ok(idx)
}

/// Fills `buf` with the SKU key of `raw` (see [`sku_key`]); false when the SKU is empty.
/// ASCII SKUs, the common case, cost no allocation.
pub fn sku_key_into(raw: &str, buf: &mut String) -> bool {
    let t = raw.trim();
    buf.clear();
    if t.is_empty() {
        return false;
    }
    if t.is_ascii() {
        buf.push_str(t);
        buf.make_ascii_lowercase();
    } else {
        buf.push_str(&t.to_lowercase());
    }
    true
}

/// Writes the Comax order import file: one row per order line.
pub fn write_comax_orders(lines: &[&OrderLine]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = ["order_number", "date", "customer_name", "sku", "quantity", "unit_price", "line_total"];
    // Writing to a Vec cannot fail.
    let _ = w.write_record(header);
    for l in lines {
        let unit = if l.quantity != 0 {
            Cents((l.line_total.0 as f64 / l.quantity as f64).round() as i64)
        } else {
            l.line_total
        };
        let _ = w.write_record([
            l.order_number.as_str(),
            l.date_created.as_str(),
            l.customer_name.as_str(),
            l.sku.as_str(),
            &l.quantity.to_string(),
            &unit.to_string(),
            &l.line_total.to_string(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(ProductKind::parse("simple, downloadable, virtual"), ProductKind::Simple);
        assert_eq!(ProductKind::parse("variation"), ProductKind::Variation);
        assert_eq!(ProductKind::parse("variable"), ProductKind::Variable);
        assert_eq!(ProductKind::parse("virtual"), ProductKind::Simple);
        assert!(!ProductKind::parse("grouped").is_compared());
        assert!(!ProductKind::parse("external").is_compared());
    }

    #[test]
    fn comax_mapping_by_letter_and_archive() {
        let mapping = ComaxMapping::from_toml(
            "m.toml",
            r#"
            sku = "CMX SKU"
            name = "CMX NAME"
            price = { column = "D" }
            stock = "CMX STOCK"
            archive = "CMX ARCHIVE"
            sell_online = "CMX WEB"
            "#,
        )
        .unwrap();
        let data = "CMX SKU,CMX NAME,CMX ARCHIVE,,CMX STOCK,CMX WEB\nW1,Red,,49.90,5,1\nW2,Old,X,10,3,1\n";
        let idx = index_comax(ComaxReader::open("c.csv", data.as_bytes(), &mapping).unwrap()).unwrap();
        let w1 = idx.get("w1").unwrap();
        assert_eq!((w1.price, w1.stock, w1.active, w1.sell_online), (Some(Cents(4990)), Some(5), true, true));
        assert!(!idx.get("w2").unwrap().active);
        assert_eq!(idx.for_web().collect::<Vec<_>>(), vec![(2, "W1")]);
        assert!(idx.problems.is_empty());
    }

    #[test]
    fn index_keys_long_unicode_and_duplicates() {
        let data = "sku,price,stock\nA-VERY-LONG-SKU-NUMBER-000001,1,1\nÄb-1,2,2\nshort,3,3\n a-very-long-sku-number-000001 ,4,4\n";
        let idx = index_comax(ComaxReader::open("c.csv", data.as_bytes(), &ComaxMapping::default()).unwrap()).unwrap();
        assert_eq!(idx.len(), 3);
        assert_eq!(idx.get("a-very-long-sku-number-000001").unwrap().price, Some(Cents(100)));
        assert_eq!(idx.get("äb-1").unwrap().stock, Some(2));
        assert_eq!(idx.get("short").unwrap().line, 4);
        assert!(idx.get("a-very-long-sku-number-000002").is_none());
        assert_eq!(idx.problems.len(), 1);
        assert_eq!(idx.problems[0].message, "SKU also on line 2");
        assert_eq!(idx.problems[0].line, Some(5));
    }

    #[test]
    fn mapping_rejects_unknown_keys() {
        let e = ComaxMapping::from_toml("m.toml", "sku='a'\nprice='b'\nstock='c'\ncolour='d'\n").unwrap_err();
        assert!(e.to_string().starts_with("m.toml: "), "{e}");
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn publishable_stock_rules() {
        let e = ComaxEntry { line: 2, price: None, stock: Some(5), active: true, sell_online: true };
        assert_eq!(e.publishable_stock(2), 3);
        assert_eq!(e.publishable_stock(9), 0);
        assert_eq!(ComaxEntry { stock: Some(-4), ..e }.publishable_stock(0), 0);
        assert_eq!(ComaxEntry { active: false, ..e }.publishable_stock(0), 0);
    }

    #[test]
    fn order_rows_report_bad_fields() {
        let data =
            "order_id,order_number,status,date_created,customer_name,customer_email,sku,quantity,line_total,currency\n\
                    1,1001,processing,2026-11-24,Dana,d@x.il,W1,2,99.80,ILS\n\
                    2,1002,on-hold,2026-11-24,Dana,d@x.il,W1,two,10,ILS\n";
        let p = read_orders("WebOrders.csv", data.as_bytes()).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.problems[0].line, Some(3));
        assert_eq!(p.problems[0].message, "quantity: \"two\" is not a whole number");
        let csv = String::from_utf8(write_comax_orders(&[&p.rows[0]])).unwrap();
        assert_eq!(csv, "order_number,date,customer_name,sku,quantity,unit_price,line_total\n1001,2026-11-24,Dana,W1,2,49.90,99.80\n");
    }
}
