//! The supplier feed, read streaming: Shopify's product CSV layout (the 2024+ template, its
//! legacy names accepted too) followed by any number of metafield columns, or any other layout
//! through a [`FeedMapping`].
//!
//! A product's first row has its `Title`; rows after it with the same `URL handle` and no title
//! are its further variants (a `SKU`) or images (a `Product image URL` alone), as in Shopify's
//! own files. Every variant is one [`SupplierItem`], carrying its product's fields. The
//! non-empty metafield columns of a row (`Metafield: custom.key[type]`, or Shopify's own
//! `Label (product.metafields.ns.key)`) become one structured JSON object, `product_info`: dotted
//! keys nest (`custom.product_details.features` is `{"product_details": {"features": …}}`),
//! list types are split on the mapping's `list_separator` (`;`), other namespaces than
//! `custom` keep theirs as the first level.
//!
//! A row that cannot be an item is a [`BadRow`] naming its line, column and reason; nothing is
//! dropped silently.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::{Read, Seek};

use hashbrown::HashMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::csvio::{CsvError, CsvFile, Row};
use crate::domain::Cents;

/// One or more header names for a field: the first one the file has is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Columns {
    One(String),
    Any(Vec<String>),
}

impl Columns {
    fn of(names: &[&str]) -> Self {
        Columns::Any(names.iter().map(|n| n.to_string()).collect())
    }

    fn names(&self) -> Vec<&str> {
        match self {
            Columns::One(n) => vec![n.as_str()],
            Columns::Any(v) => v.iter().map(String::as_str).collect(),
        }
    }

    fn resolve<R: Read>(&self, csv: &CsvFile<R>) -> Option<usize> {
        self.names().into_iter().find_map(|n| csv.column(n))
    }
}

/// Where each field of a supplier item is in the feed (TOML). The default reads Shopify's
/// product CSV, 2024+ names first, then the legacy (2019) ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedMapping {
    pub handle: Columns,
    pub title: Columns,
    pub description: Columns,
    /// The manufacturer.
    pub vendor: Columns,
    pub product_type: Columns,
    pub tags: Columns,
    pub sku: Columns,
    /// UPC/EAN (matched when it is a GTIN: 8, 12, 13 or 14 digits with a valid check digit).
    pub barcode: Columns,
    /// The manufacturer part number.
    pub mpn: Columns,
    pub weight_grams: Columns,
    pub price: Columns,
    pub cost: Columns,
    pub image_url: Columns,
    pub seo_title: Columns,
    pub seo_description: Columns,
    pub option_names: [Columns; 3],
    pub option_values: [Columns; 3],
    /// The one metafield the metafield columns are carried in.
    pub info_namespace: String,
    pub info_key: String,
    /// What separates the values of a `list.` metafield column.
    pub list_separator: String,
}

/// The product columns of Shopify's 2024+ product CSV that a supplier feed carries, in the
/// template's order (for whatever writes such a feed: the demo's, the benchmark's).
pub const FEED_COLUMNS: [&str; 14] = [
    "Title",
    "URL handle",
    "Description",
    "Vendor",
    "Type",
    "Tags",
    "SKU",
    "Barcode",
    "Price",
    "Weight value (grams)",
    "Product image URL",
    "SEO title",
    "SEO description",
    "Google Shopping / Manufacturer part number (MPN)",
];

impl Default for FeedMapping {
    fn default() -> Self {
        let option = |n: usize, what: &str, legacy: &str| {
            Columns::of(&[&format!("Option{n} {what}"), &format!("Option{n} {legacy}")])
        };
        Self {
            handle: Columns::of(&["URL handle", "Handle"]),
            title: Columns::of(&["Title"]),
            description: Columns::of(&["Description", "Body (HTML)"]),
            vendor: Columns::of(&["Vendor"]),
            product_type: Columns::of(&["Type"]),
            tags: Columns::of(&["Tags"]),
            sku: Columns::of(&["SKU", "Variant SKU"]),
            barcode: Columns::of(&["Barcode", "Variant Barcode"]),
            mpn: Columns::of(&["Google Shopping / Manufacturer part number (MPN)", "Google Shopping / MPN"]),
            weight_grams: Columns::of(&["Weight value (grams)", "Variant Grams"]),
            price: Columns::of(&["Price", "Variant Price"]),
            cost: Columns::of(&["Cost per item"]),
            image_url: Columns::of(&["Product image URL", "Image Src"]),
            seo_title: Columns::of(&["SEO title", "SEO Title"]),
            seo_description: Columns::of(&["SEO description", "SEO Description"]),
            option_names: [option(1, "name", "Name"), option(2, "name", "Name"), option(3, "name", "Name")],
            option_values: [option(1, "value", "Value"), option(2, "value", "Value"), option(3, "value", "Value")],
            info_namespace: "custom".into(),
            info_key: "product_info".into(),
            list_separator: ";".into(),
        }
    }
}

/// The mapping file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct FeedMappingError {
    pub file: String,
    pub message: String,
}

impl FeedMapping {
    pub fn from_toml(file: &str, text: &str) -> Result<Self, FeedMappingError> {
        toml::from_str(text).map_err(|e| FeedMappingError { file: file.to_string(), message: e.to_string() })
    }
}

/// A feed file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{file}: not a ZIP archive: {reason}")]
    NotZip { file: String, reason: String },
    #[error("{file}: holds no CSV file (it holds: {found})")]
    NoCsv { file: String, found: String },
    #[error("{file}: {name} inside it cannot be read: {reason}")]
    Entry { file: String, name: String, reason: String },
    #[error(transparent)]
    Csv(#[from] CsvError),
}

/// The feed's CSV: the first `*.csv` entry of the ZIP `file` (named `file/entry` in messages),
/// as a reader that owns the archive and inflates as it is read; its CRC-32 is checked at the
/// end, so a damaged archive fails instead of yielding wrong rows.
pub fn open_zipped_csv<R: Read + Seek + Send + 'static>(
    file: &str,
    archive: R,
) -> Result<(String, Box<dyn Read + Send>), FeedError> {
    let mut zip =
        zip::ZipArchive::new(archive).map_err(|e| FeedError::NotZip { file: file.into(), reason: e.to_string() })?;
    // Names that are not valid text are shown as their bytes would be.
    let names: Vec<String> = zip.file_names_raw().map(|n| String::from_utf8_lossy(n).into_owned()).collect();
    let Some(index) =
        names.iter().position(|n| n.to_ascii_lowercase().ends_with(".csv") && !n.starts_with("__MACOSX/"))
    else {
        return Err(FeedError::NoCsv { file: file.into(), found: names.join(", ") });
    };
    let entry_error = |reason: String| FeedError::Entry { file: file.into(), name: names[index].clone(), reason };
    let (start, size, method, crc) = {
        let e = zip.by_index(index).map_err(|e| entry_error(e.to_string()))?;
        (e.data_start(), e.compressed_size(), e.compression(), e.crc32())
    };
    let start = start.ok_or_else(|| entry_error("its data cannot be located".into()))?;
    let mut inner = zip.into_inner();
    inner.seek(std::io::SeekFrom::Start(start)).map_err(|e| entry_error(e.to_string()))?;
    let raw = inner.take(size);
    let body: Box<dyn Read + Send> = match method {
        zip::CompressionMethod::Stored => Box::new(raw),
        zip::CompressionMethod::Deflated => Box::new(flate2::read::DeflateDecoder::new(raw)),
        other => {
            return Err(entry_error(format!("compressed with {other:?}: storesync reads stored or deflated entries")))
        }
    };
    let name = format!("{file}/{}", names[index]);
    Ok((name, Box::new(CrcChecked { inner: body, hasher: crc32fast::Hasher::new(), expected: crc })))
}

/// A reader that checks the CRC-32 of what it read at the end.
struct CrcChecked<R> {
    inner: R,
    hasher: crc32fast::Hasher,
    expected: u32,
}

impl<R: Read> Read for CrcChecked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let got = self.hasher.clone().finalize();
            if got != self.expected {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("CRC-32 {got:08x} where the archive says {:08x}: the archive is damaged", self.expected),
                ));
            }
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// One sellable supplier item (a variant), with its product's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupplierItem {
    /// The feed line it starts on (the header is line 1).
    pub line: u64,
    pub sku: String,
    /// Its product's handle (variants of one product share it).
    pub handle: String,
    pub title: String,
    pub description: String,
    pub vendor: String,
    pub product_type: String,
    pub tags: Vec<String>,
    pub barcode: Option<String>,
    pub mpn: Option<String>,
    pub weight_grams: Option<f64>,
    pub price: Option<Cents>,
    pub cost: Option<Cents>,
    pub images: Vec<String>,
    pub seo_title: String,
    pub seo_description: String,
    /// `(option name, value)` of a variant of a product with options.
    pub options: Vec<(String, String)>,
    /// The non-empty metafield columns, structured (see the module).
    pub product_info: Map<String, Value>,
}

/// A row that is not an item, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRow {
    pub line: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    pub sku: String,
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}: {c}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// What a feed yields, in line order of the products' first rows.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedRecord {
    Item(Box<SupplierItem>),
    Bad(BadRow),
}

/// A metafield column: where its value goes in `product_info`, and whether it is a list.
#[derive(Debug, Clone)]
struct MetaColumn {
    index: usize,
    path: Vec<String>,
    list: bool,
}

/// `Metafield: custom.key.sub[list.single_line_text_field]` or
/// `Label (product.metafields.custom.key)`: the namespace, the key and whether it is a list.
pub fn metafield_column(header: &str) -> Option<(String, String, bool)> {
    let h = header.trim();
    let (path, kind) = if let Some(rest) = h.strip_prefix("Metafield:") {
        let rest = rest.trim();
        match rest.split_once('[') {
            Some((path, kind)) => (path.trim(), kind.trim_end_matches(']').trim()),
            None => (rest, ""),
        }
    } else {
        let inner = h.strip_suffix(')')?.rsplit_once("(product.metafields.")?.1;
        (inner.trim(), "")
    };
    let (namespace, key) = path.split_once('.')?;
    if namespace.is_empty() || key.is_empty() {
        return None;
    }
    Some((namespace.to_string(), key.to_string(), kind.starts_with("list.")))
}

/// Whether `digits` is a GTIN (8, 12, 13 or 14 digits) with a valid check digit.
pub fn valid_gtin(digits: &str) -> bool {
    let b = digits.as_bytes();
    if !matches!(b.len(), 8 | 12 | 13 | 14) || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (body, check) = b.split_at(b.len() - 1);
    check_digit(body) == u32::from(check[0] - b'0')
}

/// The GS1 check digit of a GTIN's digits before it.
fn check_digit(body: &[u8]) -> u32 {
    let sum: u32 =
        body.iter().rev().enumerate().map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 }).sum();
    (10 - sum % 10) % 10
}

/// `body` (digits) with its check digit appended: a valid GTIN of one more digit.
pub fn with_check_digit(body: &str) -> String {
    format!("{body}{}", check_digit(body.as_bytes()))
}

/// A GTIN as 14 digits (UPC-A `036000291452` and EAN-13 `0036000291452` are the same item).
pub fn gtin14(digits: &str) -> String {
    format!("{digits:0>14}")
}

struct Indexes {
    handle: Option<usize>,
    title: usize,
    description: Option<usize>,
    vendor: Option<usize>,
    product_type: Option<usize>,
    tags: Option<usize>,
    sku: usize,
    barcode: Option<usize>,
    mpn: Option<usize>,
    weight: Option<usize>,
    price: Option<usize>,
    cost: Option<usize>,
    image: Option<usize>,
    seo_title: Option<usize>,
    seo_description: Option<usize>,
    option_names: [Option<usize>; 3],
    option_values: [Option<usize>; 3],
}

/// Streams a supplier feed: [`FeedRecord`]s one at a time, a product's rows held only until
/// the next product starts.
pub struct FeedReader<R: Read> {
    csv: CsvFile<R>,
    headers: Vec<String>,
    at: Indexes,
    meta: Vec<MetaColumn>,
    width: usize,
    list_separator: String,
    /// The product being read: its handle and items so far.
    group: Vec<SupplierItem>,
    option_names: [String; 3],
    out: VecDeque<FeedRecord>,
    /// SKUs seen (by a 64-bit hash: 1,000,000 SKUs take 16 MB, not 60) → their line.
    seen: HashMap<u64, u64>,
    hasher: hashbrown::DefaultHashBuilder,
    done: bool,
}

impl<R: Read> FeedReader<R> {
    /// Opens a feed named `file` (in messages); the SKU and title columns must be there.
    pub fn open(file: &str, input: R, mapping: &FeedMapping) -> Result<Self, CsvError> {
        let csv = CsvFile::open(file, input)?;
        let required = |c: &Columns| {
            c.resolve(&csv).ok_or_else(|| CsvError::MissingColumn {
                file: file.to_string(),
                column: c.names().join(" or "),
                found: csv.headers().join(", "),
            })
        };
        let optional = |c: &Columns| c.resolve(&csv);
        let at = Indexes {
            handle: optional(&mapping.handle),
            title: required(&mapping.title)?,
            description: optional(&mapping.description),
            vendor: optional(&mapping.vendor),
            product_type: optional(&mapping.product_type),
            tags: optional(&mapping.tags),
            sku: required(&mapping.sku)?,
            barcode: optional(&mapping.barcode),
            mpn: optional(&mapping.mpn),
            weight: optional(&mapping.weight_grams),
            price: optional(&mapping.price),
            cost: optional(&mapping.cost),
            image: optional(&mapping.image_url),
            seo_title: optional(&mapping.seo_title),
            seo_description: optional(&mapping.seo_description),
            option_names: [0, 1, 2].map(|i| optional(&mapping.option_names[i])),
            option_values: [0, 1, 2].map(|i| optional(&mapping.option_values[i])),
        };
        let meta = csv
            .headers()
            .iter()
            .enumerate()
            .filter_map(|(index, h)| {
                let (namespace, key, list) = metafield_column(h)?;
                let mut path: Vec<String> = Vec::new();
                if namespace != mapping.info_namespace {
                    path.push(namespace);
                }
                path.extend(key.split('.').map(str::to_string));
                Some(MetaColumn { index, path, list })
            })
            .collect();
        Ok(Self {
            width: csv.headers().len(),
            headers: csv.headers().to_vec(),
            csv,
            at,
            meta,
            list_separator: mapping.list_separator.clone(),
            group: Vec::new(),
            option_names: Default::default(),
            out: VecDeque::new(),
            seen: HashMap::new(),
            hasher: Default::default(),
            done: false,
        })
    }

    pub fn file(&self) -> &str {
        self.csv.file()
    }

    /// How many metafield columns the feed has.
    pub fn metafield_columns(&self) -> usize {
        self.meta.len()
    }

    /// The next item or bad row; `None` at the end. A file that cannot be read as CSV at all
    /// from some line on is an error naming that line.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<FeedRecord>, CsvError> {
        loop {
            if let Some(r) = self.out.pop_front() {
                return Ok(Some(r));
            }
            if self.done {
                return Ok(None);
            }
            let Some(row) = self.csv.next_row()? else {
                self.done = true;
                self.flush();
                continue;
            };
            let (line, parsed) = parse_row(&row, &self.headers, &self.at, &self.meta, self.width, &self.list_separator);
            self.take(line, parsed);
        }
    }

    fn flush(&mut self) {
        self.out.extend(self.group.drain(..).map(|i| FeedRecord::Item(Box::new(i))));
    }

    fn bad(&mut self, line: u64, column: Option<&str>, sku: &str, reason: String) {
        self.out.push_back(FeedRecord::Bad(BadRow {
            line,
            column: column.map(str::to_string),
            sku: sku.to_string(),
            reason,
        }));
    }

    fn take(&mut self, line: u64, parsed: Result<Parsed, RowError>) {
        let p = match parsed {
            Ok(p) => p,
            Err((column, reason)) => return self.bad(line, column.as_deref(), "", reason),
        };
        let continues =
            p.title.is_empty() && !p.handle.is_empty() && self.group.first().is_some_and(|g| g.handle == p.handle);
        if !p.title.is_empty() {
            self.flush();
            self.option_names = p.option_names.clone();
        } else if !continues {
            let reason = if p.handle.is_empty() {
                "empty: a product's first row needs a title".to_string()
            } else {
                format!("empty, and no product with URL handle {:?} comes just before it", p.handle)
            };
            let column = self.headers[self.at.title].clone();
            return self.bad(line, Some(&column), &p.sku, reason);
        }
        if p.sku.is_empty() {
            match (continues, p.image) {
                (true, Some(image)) => {
                    for item in &mut self.group {
                        item.images.push(image.clone());
                    }
                }
                _ => {
                    let column = self.headers[self.at.sku].clone();
                    let reason = "empty: every supplier item needs one (Xorosoft and the store know items by it)";
                    self.bad(line, Some(&column), "", reason.into())
                }
            }
            return;
        }
        let mut h = self.hasher.build_hasher();
        p.sku.to_ascii_lowercase().hash(&mut h);
        if let Some(first) = self.seen.get(&h.finish()) {
            let (column, reason) = (self.headers[self.at.sku].clone(), format!("{} is already on line {first}", p.sku));
            return self.bad(line, Some(&column), &p.sku, reason);
        }
        self.seen.insert(h.finish(), line);
        let options: Vec<(String, String)> = self
            .option_names
            .iter()
            .zip(p.option_values)
            // Shopify's `Title: Default Title` is a product without options.
            .filter(|(n, v)| !n.is_empty() && !v.is_empty() && (n.as_str(), v.as_str()) != ("Title", "Default Title"))
            .map(|(n, v)| (n.clone(), v))
            .collect();
        let item = match (continues, self.group.first()) {
            (true, Some(first)) => SupplierItem {
                line,
                sku: p.sku,
                handle: first.handle.clone(),
                title: first.title.clone(),
                description: first.description.clone(),
                vendor: first.vendor.clone(),
                product_type: first.product_type.clone(),
                tags: first.tags.clone(),
                barcode: p.barcode,
                mpn: p.mpn,
                weight_grams: p.weight_grams,
                price: p.price,
                cost: p.cost,
                images: first.images.iter().cloned().chain(p.image).collect(),
                seo_title: first.seo_title.clone(),
                seo_description: first.seo_description.clone(),
                options,
                product_info: merged(&first.product_info, p.product_info),
            },
            _ => SupplierItem {
                line,
                handle: if p.handle.is_empty() { handle_of(&p.title) } else { p.handle },
                sku: p.sku,
                title: p.title,
                description: p.description,
                vendor: p.vendor,
                product_type: p.product_type,
                tags: p.tags,
                barcode: p.barcode,
                mpn: p.mpn,
                weight_grams: p.weight_grams,
                price: p.price,
                cost: p.cost,
                images: p.image.into_iter().collect(),
                seo_title: p.seo_title,
                seo_description: p.seo_description,
                options,
                product_info: p.product_info,
            },
        };
        self.group.push(item);
    }
}

/// Shopify's handle for a title: lower case, runs of anything but letters and digits one `-`.
pub fn handle_of(title: &str) -> String {
    let mut out = String::new();
    for c in title.trim().to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// A variant's own metafields over its product's.
fn merged(product: &Map<String, Value>, own: Map<String, Value>) -> Map<String, Value> {
    let mut out = product.clone();
    for (k, v) in own {
        out.insert(k, v);
    }
    out
}

/// One row's fields, checked.
struct Parsed {
    handle: String,
    title: String,
    description: String,
    vendor: String,
    product_type: String,
    tags: Vec<String>,
    sku: String,
    barcode: Option<String>,
    mpn: Option<String>,
    weight_grams: Option<f64>,
    price: Option<Cents>,
    cost: Option<Cents>,
    image: Option<String>,
    seo_title: String,
    seo_description: String,
    option_names: [String; 3],
    option_values: [String; 3],
    product_info: Map<String, Value>,
}

type RowError = (Option<String>, String);

fn parse_row(
    row: &Row<'_>,
    headers: &[String],
    at: &Indexes,
    meta: &[MetaColumn],
    width: usize,
    separator: &str,
) -> (u64, Result<Parsed, RowError>) {
    let text = |i: Option<usize>| row.get_opt(i).trim().to_string();
    let some = |i: Option<usize>| Some(text(i)).filter(|s| !s.is_empty());
    let name = |i: Option<usize>| i.and_then(|i| headers.get(i)).cloned();
    let check = || -> Result<Parsed, RowError> {
        if row.len() != width {
            return Err((None, format!("has {} fields, the header has {width}", row.len())));
        }
        // Kept as given (spaces and dashes aside): Shopify takes any barcode (ISBN, a store's
        // own); matching uses only those that are UPC/EAN.
        let barcode = some(at.barcode).map(|raw| raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect());
        let weight_grams = match some(at.weight) {
            None => None,
            Some(raw) => match raw.replace(',', ".").parse::<f64>() {
                Ok(w) if w >= 0.0 && w.is_finite() => Some(w),
                _ => return Err((name(at.weight), format!("{raw:?} is not a weight in grams"))),
            },
        };
        let money = |i: Option<usize>| match some(i) {
            None => Ok(None),
            Some(raw) => match Cents::parse(&raw) {
                Some(c) if c.0 >= 0 => Ok(Some(c)),
                _ => Err((name(i), format!("{raw:?} is not a price"))),
            },
        };
        let mut product_info = Map::new();
        for m in meta {
            let raw = row.get(m.index);
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let value = if m.list {
                Value::from(raw.split(separator).map(str::trim).filter(|v| !v.is_empty()).collect::<Vec<_>>())
            } else {
                Value::from(raw)
            };
            insert_path(&mut product_info, &m.path, value);
        }
        Ok(Parsed {
            handle: text(at.handle),
            title: text(Some(at.title)),
            description: text(at.description),
            vendor: text(at.vendor),
            product_type: text(at.product_type),
            tags: text(at.tags).split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect(),
            sku: text(Some(at.sku)),
            barcode,
            mpn: some(at.mpn),
            weight_grams,
            price: money(at.price)?,
            cost: money(at.cost)?,
            image: some(at.image),
            seo_title: text(at.seo_title),
            seo_description: text(at.seo_description),
            option_names: at.option_names.map(text),
            option_values: at.option_values.map(text),
            product_info,
        })
    };
    (row.line, check())
}

/// Sets `path` in `map`, nesting objects; a path through a value already set is kept flat.
fn insert_path(map: &mut Map<String, Value>, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let slot = map.entry(first.clone()).or_insert_with(|| Value::Object(Map::new()));
            match slot {
                Value::Object(inner) => insert_path(inner, rest, value),
                _ => {
                    map.insert(path.join("."), value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str, mapping: &FeedMapping) -> (Vec<SupplierItem>, Vec<BadRow>) {
        read_all(FeedReader::open("feed.csv", text.as_bytes(), mapping).unwrap())
    }

    fn read_all<R: Read>(mut r: FeedReader<R>) -> (Vec<SupplierItem>, Vec<BadRow>) {
        let (mut items, mut bad) = (vec![], vec![]);
        while let Some(rec) = r.next().unwrap() {
            match rec {
                FeedRecord::Item(i) => items.push(*i),
                FeedRecord::Bad(b) => bad.push(b),
            }
        }
        (items, bad)
    }

    #[test]
    fn shopifys_own_template_reads_as_items_with_their_products_fields() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/testdata/real/shopify_csv/shopify_product_template_2024plus.csv"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (items, bad) = read(&text, &FeedMapping::default());
        assert_eq!((items.len(), bad.len()), (15, 0), "{bad:#?}");
        let first = &items[0];
        assert_eq!(
            (first.sku.as_str(), first.title.as_str(), first.vendor.as_str(), first.line),
            ("TheBandTShirt-SG", "Physical Product “The Band” T-Shirt", "Harmony Threads", 2)
        );
        assert_eq!((first.weight_grams, first.price), (Some(150.0), Some(Cents(1999))));
        assert_eq!(first.mpn.as_deref(), Some("TSH-12345-GRY-S"));
        assert_eq!(first.options, vec![("Size".to_string(), "Small".to_string()), ("Color".into(), "green".into())]);
        assert_eq!(first.images, vec!["https://burst.shopifycdn.com/photos/forest-hiker.jpg?width=1000".to_string()]);
        assert_eq!(
            Value::Object(first.product_info.clone()),
            json!({ "shopify": { "color-pattern": "green; gray; red" } })
        );
        // A further variant: its product's title, images and metafields; its own SKU and MPN.
        let medium = items.iter().find(|i| i.sku == "TheBandTShirt-MG").unwrap();
        assert_eq!(
            (medium.title.as_str(), medium.handle.as_str()),
            (first.title.as_str(), "physical-product-the-band-t-shirt")
        );
        assert_eq!(
            (medium.images.clone(), medium.product_info.clone()),
            (first.images.clone(), first.product_info.clone())
        );
        assert_eq!((medium.mpn.as_deref(), medium.weight_grams), (Some("TSH-12345-GRN-M"), Some(177.0)));
        let second = items.iter().find(|i| i.sku == "TheBandTShirt-SA").unwrap();
        assert_eq!(second.mpn, None, "a variant's MPN is its own");
        let book = items.iter().find(|i| i.sku == "HRM-EBK-KND").unwrap();
        assert_eq!(
            (book.barcode.as_deref(), book.options.clone()),
            (Some("9781987654321"), vec![("Format".into(), "Kindle".into())])
        );
    }

    const ETILIZE: &str = "Title,URL handle,Vendor,SKU,Barcode,Weight value (grams),Price,Product image URL,Google Shopping / MPN,\
Metafield: custom.product_details.features[list.single_line_text_field],Metafield: custom.color[single_line_text_field],\
Metafield: custom.product_details.ink[single_line_text_field],Metafield: custom.pages_per_minute[number_integer]\n\
Laser Printer X1,laser-printer-x1,Brother,BR-X1,036000291452,7200,199.00,https://cdn.example/x1.jpg,HL-L2350DW,Duplex; Wireless ;,Black,,30\n\
,laser-printer-x1,,,,,,https://cdn.example/x1-back.jpg,,,,,\n\
Ink Cartridge,ink-cartridge,HP,HP-61,,,\"1,234.50\",,CH561WN,,,Black,\n\
,ink-cartridge,,HP-61XL,,,24.00,,CH563WN,,,,\n\
Pens,pens,Bic,,,,,,,,,,\n\
Paper,paper,Hammermill,HP-61,,,,,,,,,\n\
Stapler,stapler,Swingline,SW-1,,heavy,,,,,,,\n\
Toner,toner,Brother,TN-1,,,free,,,,,,\n\
Short row,short,Acme,SR-1\n\
,no-such-product,,NS-1,,,,,,,,,\n\
,,,ORPHAN,,,,,,,,,\n";

    #[test]
    fn metafield_columns_nest_into_one_object_and_bad_rows_name_their_line_and_column() {
        let (items, bad) = read(ETILIZE, &FeedMapping::default());
        // Every data row is an item, an image of one, or a bad row: 11 rows, 3 items, 1 image.
        assert_eq!((items.len(), bad.len()), (3, 7), "{bad:#?}");
        let x1 = &items[0];
        assert_eq!(
            Value::Object(x1.product_info.clone()),
            json!({ "product_details": { "features": ["Duplex", "Wireless"] }, "color": "Black", "pages_per_minute": "30" })
        );
        assert_eq!(x1.images, vec!["https://cdn.example/x1.jpg".to_string(), "https://cdn.example/x1-back.jpg".into()]);
        assert_eq!((x1.barcode.as_deref(), x1.mpn.as_deref()), (Some("036000291452"), Some("HL-L2350DW")));
        let xl = items.iter().find(|i| i.sku == "HP-61XL").unwrap();
        assert_eq!((xl.title.as_str(), xl.vendor.as_str(), xl.price), ("Ink Cartridge", "HP", Some(Cents(2400))));
        assert_eq!(Value::Object(xl.product_info.clone()), json!({ "product_details": { "ink": "Black" } }));
        assert_eq!(items[1].price, Some(Cents(123450)));
        let said: Vec<String> = bad.iter().map(ToString::to_string).collect();
        assert_eq!(
            said,
            vec![
                "line 6: SKU: empty: every supplier item needs one (Xorosoft and the store know items by it)",
                "line 7: SKU: HP-61 is already on line 4",
                "line 8: Weight value (grams): \"heavy\" is not a weight in grams",
                "line 9: Price: \"free\" is not a price",
                "line 10: has 4 fields, the header has 13",
                "line 11: Title: empty, and no product with URL handle \"no-such-product\" comes just before it",
                "line 12: Title: empty: a product's first row needs a title",
            ]
        );
    }

    #[test]
    fn the_legacy_names_and_a_mapping_of_ones_own_read_too() {
        let legacy =
            "Handle,Title,Variant SKU,Variant Grams,Variant Price,Image Src\nmug,Mug,MUG-1,350,9.50,https://x/m.jpg\n";
        let (items, _) = read(legacy, &FeedMapping::default());
        assert_eq!(
            (items[0].sku.as_str(), items[0].weight_grams, items[0].handle.as_str()),
            ("MUG-1", Some(350.0), "mug")
        );
        let mapping =
            FeedMapping::from_toml("etilize.toml", "sku = \"Part\"\ntitle = [\"Name\", \"Title\"]\nvendor = \"Mfr\"\n")
                .unwrap();
        let (items, _) = read("Part,Name,Mfr\nP-1,Blue Pen,Bic\n", &mapping);
        assert_eq!(
            (items[0].sku.as_str(), items[0].vendor.as_str(), items[0].handle.as_str()),
            ("P-1", "Bic", "blue-pen")
        );
        let e = FeedReader::open("feed.csv", "Title,Mfr\nBlue Pen,Bic\n".as_bytes(), &FeedMapping::default())
            .err()
            .unwrap();
        assert!(e.to_string().contains("required column \"SKU or Variant SKU\" is missing"), "{e}");
        let e = FeedMapping::from_toml("etilize.toml", "skus = \"Part\"").unwrap_err();
        assert!(e.to_string().starts_with("etilize.toml: "), "{e}");
    }

    #[test]
    fn gtins_and_metafield_headers() {
        for ok in ["036000291452", "4006381333931", "96385074", "00036000291452"] {
            assert!(valid_gtin(ok), "{ok}");
        }
        for bad in ["036000291453", "5784397765", "9781987654321", "12345678901a"] {
            assert!(!valid_gtin(bad), "{bad}");
        }
        assert_eq!(gtin14("036000291452"), "00036000291452");
        assert_eq!(with_check_digit("03600029145"), "036000291452");
        assert_eq!(with_check_digit("400638133393"), "4006381333931");
        assert_eq!(
            metafield_column("Metafield: custom.product_details.features [list.single_line_text_field]"),
            Some(("custom".into(), "product_details.features".into(), true))
        );
        assert_eq!(
            metafield_column("Color (product.metafields.shopify.color-pattern)"),
            Some(("shopify".into(), "color-pattern".into(), false))
        );
        assert_eq!(metafield_column("Metafield: custom"), None);
        assert_eq!(metafield_column("Google Shopping / Gender"), None);
    }

    fn zipped(entries: &[(&str, &str)]) -> Vec<u8> {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, text) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn the_feed_is_the_first_csv_in_its_zip() {
        let bytes =
            zipped(&[("readme.txt", "hi"), ("__MACOSX/._f.csv", "junk"), ("Cowan.CSV", "Title,SKU\nPen,P-1\n")]);
        let (name, csv) = open_zipped_csv("Cowan.zip", std::io::Cursor::new(bytes.clone())).unwrap();
        assert_eq!(name, "Cowan.zip/Cowan.CSV");
        let (items, _) = read_all(FeedReader::open(&name, csv, &FeedMapping::default()).unwrap());
        assert_eq!(items[0].sku, "P-1");
        let none = zipped(&[("readme.txt", "hi")]);
        let e = open_zipped_csv("x.zip", std::io::Cursor::new(none)).err().unwrap();
        assert_eq!(e.to_string(), "x.zip: holds no CSV file (it holds: readme.txt)");
        let e = open_zipped_csv("x.zip", std::io::Cursor::new(b"Title,SKU".to_vec())).err().unwrap();
        assert!(e.to_string().starts_with("x.zip: not a ZIP archive"), "{e}");
        // A flipped byte in the compressed data: the rows do not come out wrong, the read fails.
        let long: String = (0..2000).map(|i| format!("Pen {i},P-{i}\n")).collect();
        let mut damaged = zipped(&[("feed.csv", &format!("Title,SKU\n{long}"))]);
        let at = damaged.len() / 3;
        damaged[at] ^= 0x40;
        let outcome = open_zipped_csv("d.zip", std::io::Cursor::new(damaged)).map(|(name, csv)| {
            let mut r = FeedReader::open(&name, csv, &FeedMapping::default())?;
            while r.next()?.is_some() {}
            Ok::<_, CsvError>(())
        });
        assert!(matches!(outcome, Err(_) | Ok(Err(_))), "a damaged archive is an error");
    }
}
