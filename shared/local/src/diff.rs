//! `storesync diff`: step 5's engine on local files, streamed.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use storesync_core::engine::{export_inventory_parallel, ExportSummary, Translations};
use storesync_core::formats::{
    on_hold_quantities, read_orders, read_translations, ComaxMapping, ComaxReader, OnHold, WebProductReader,
};

pub struct DiffArgs {
    pub web_products: PathBuf,
    pub comax: PathBuf,
    pub web_orders: Option<PathBuf>,
    pub web_translations: Option<PathBuf>,
    pub comax_mapping: Option<PathBuf>,
    pub out: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Csv(#[from] storesync_core::csvio::CsvError),
    #[error(transparent)]
    Mapping(#[from] storesync_core::formats::MappingError),
    #[error(transparent)]
    Export(#[from] storesync_core::engine::ExportError),
    #[error("{file}: {count} rows have problems, first: {first}")]
    Rows { file: String, count: usize, first: String },
}

fn open(p: &Path) -> Result<BufReader<File>, DiffError> {
    File::open(p)
        .map(|f| BufReader::with_capacity(1 << 16, f))
        .map_err(|source| DiffError::Io { path: p.into(), source })
}

fn name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn no_problems(file: &str, problems: &[storesync_core::report::Finding]) -> Result<(), DiffError> {
    match problems.first() {
        None => Ok(()),
        Some(f) => Err(DiffError::Rows {
            file: file.to_string(),
            count: problems.len(),
            first: format!("line {}: {}", f.line.unwrap_or(0), f.message),
        }),
    }
}

pub fn run(a: &DiffArgs) -> Result<ExportSummary, DiffError> {
    let mapping = match &a.comax_mapping {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| DiffError::Io { path: p.clone(), source })?;
            ComaxMapping::from_toml(&name(p), &text)?
        }
        None => ComaxMapping::default(),
    };
    let comax_name = name(&a.comax);
    let comax = ComaxReader::open(&comax_name, open(&a.comax)?, &mapping)?;
    let comax_size = std::fs::metadata(&a.comax).map(|m| m.len()).unwrap_or(0);
    let held = match &a.web_orders {
        Some(p) => {
            let orders = read_orders(&name(p), open(p)?)?;
            no_problems(&name(p), &orders.problems)?;
            on_hold_quantities(&orders.rows)
        }
        None => OnHold::new(),
    };
    let translations = match &a.web_translations {
        Some(p) => {
            let t = read_translations(&name(p), open(p)?)?;
            no_problems(&name(p), &t.problems)?;
            Translations::new(&t.rows)
        }
        None => Translations::new(&[]),
    };
    let web = WebProductReader::open(&name(&a.web_products), open(&a.web_products)?)?;
    let out = File::create(&a.out).map_err(|source| DiffError::Io { path: a.out.clone(), source })?;
    let out = BufWriter::with_capacity(1 << 16, out);
    let (summary, _) = export_inventory_parallel(web, comax, comax_size, &translations, &held, out)?;
    Ok(summary)
}
