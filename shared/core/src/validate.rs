//! Step 4: the validation rules. Errors block the export; warnings do not.

use hashbrown::{HashMap, HashSet};
use std::io::Read;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::csvio::CsvError;
use crate::domain::sku_key;
use crate::engine::{walk, web_in_stock, Translations};
use crate::formats::{
    Cell, ComaxIndex, OrderLine, Parsed, ProductKind, Translation, WebProductReader, COMAX_PRODUCTS, WEB_PRODUCTS,
};
use crate::report::{count, Counts, Finding, Severity};

/// An operator's explicit override of the blast-radius guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlastOverride {
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// What the blast-radius guard measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlastRadius {
    pub comax_rows: u64,
    pub last_accepted_rows: Option<u64>,
    pub in_stock: u64,
    pub zeroed: u64,
    pub zero_share: f64,
    pub tripped: Vec<String>,
    pub overridden: Option<BlastOverride>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub counts: Counts,
    pub blast: BlastRadius,
    /// The number of rows the export would carry.
    pub to_export: u64,
}

impl Outcome {
    pub fn blocked(&self) -> bool {
        self.counts.errors > 0
    }
}

/// The inputs of validation besides the web products stream.
pub struct Inputs<'a> {
    pub translations: &'a Parsed<Translation>,
    pub orders: &'a Parsed<OrderLine>,
    pub comax: &'a ComaxIndex,
    /// Each input file's name and when it was written.
    pub file_times: &'a [(String, DateTime<Utc>)],
    pub now: DateTime<Utc>,
    pub settings: &'a Settings,
    pub last_accepted_comax_rows: Option<u64>,
    pub blast_override: Option<&'a BlastOverride>,
}

pub fn validate<R: Read>(web: WebProductReader<R>, input: &Inputs<'_>) -> Result<Outcome, CsvError> {
    let mut findings: Vec<Finding> = Vec::new();
    findings.extend(input.translations.problems.iter().cloned());
    findings.extend(input.orders.problems.iter().cloned());
    findings.extend(input.comax.problems.iter().cloned());
    let translations = Translations::new(&input.translations.rows);
    let on_hold = crate::formats::on_hold_quantities(&input.orders.rows);
    let settings = input.settings;

    let file = web.file().to_string();
    // SKU key → (line, family id) of its first row, for the duplicate rule.
    let mut seen: HashMap<String, (u64, Option<u64>)> = HashMap::new();
    let mut translated: HashSet<u64> = HashSet::new();
    for t in &input.translations.rows {
        translated.insert(t.original_product_id);
    }
    let mut originals_without_translation: Vec<(u64, String)> = Vec::new();
    let mut keys_in_store: HashSet<String> = HashSet::new();
    let (mut in_stock, mut zeroed, mut to_export) = (0u64, 0u64, 0u64);

    walk(web, &translations, &on_hold, input.comax, |v| {
        let row = v.row;
        let mut add = |sev, rule: &str, msg: String| {
            findings.push(Finding::new(sev, rule, &file, Some(row.line), &row.sku, msg));
        };
        if let Some(s) = &row.shape {
            add(Severity::Error, "row-shape", s.clone());
        }
        let id = match &row.id {
            Cell::Value(id) => Some(*id),
            Cell::Invalid(raw) => {
                add(Severity::Error, "id-unparseable", format!("ID {raw:?} is not a product id"));
                None
            }
            Cell::Empty => {
                add(Severity::Error, "id-missing", "the row has no ID".into());
                None
            }
        };
        if let Some(key) = v.key {
            keys_in_store.insert(key.to_string());
        }
        if !row.sku.is_empty() {
            if let Some(key) = v.key {
                let family = id.map(|i| translations.family(i));
                match seen.get(key) {
                    Some(&(first, first_family)) if first_family.is_none() || first_family != family => {
                        add(Severity::Error, "duplicate-sku", format!("SKU also on line {first}"));
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(key.to_string(), (row.line, family));
                    }
                }
            }
        }
        if row.kind == ProductKind::Unknown {
            add(
                Severity::Warning,
                "unknown-type",
                format!("type {:?} is not a WooCommerce product type; not compared", row.kind_raw),
            );
        }
        if !translations.is_empty() && !v.is_translation && row.kind != ProductKind::Variation {
            if let Some(id) = id {
                if !translated.contains(&id) {
                    originals_without_translation.push((row.line, row.sku.clone()));
                }
            }
        }
        if !row.kind.is_compared() {
            return;
        }
        if let Cell::Invalid(raw) = &row.stock {
            add(Severity::Error, "stock-unparseable", format!("Stock {raw:?} does not parse as a whole number"));
        }
        if let Cell::Invalid(raw) = &row.price {
            add(Severity::Error, "price-unparseable", format!("Regular price {raw:?} does not parse"));
        }
        let Some(key) = v.key else {
            add(Severity::Warning, "web-no-sku", "the web product has no SKU; it is not compared".into());
            return;
        };
        let in_stock_now = web_in_stock(row);
        in_stock += u64::from(in_stock_now);
        let Some(m) = v.matched else {
            add(Severity::Warning, "not-in-comax", format!("SKU {key:?} is not in Comax; left as it is"));
            return;
        };
        if let (Some(w), Some(c)) = (row.price.value(), m.entry.price) {
            if w.0 > 0 && ((c.0 - w.0).abs() as f64 / w.0 as f64) > settings.price_change_ratio {
                add(
                    Severity::Warning,
                    "price-change",
                    format!("price changes from {w} to {c}, more than {:.0} %", settings.price_change_ratio * 100.0),
                );
            }
        }
        if m.export {
            to_export += 1;
            zeroed += u64::from(in_stock_now && m.stock == 0);
            match m.entry.price {
                Some(p) if p.0 <= 0 => add(
                    Severity::Error,
                    "price-not-positive",
                    format!("Comax price {p} (line {}) would be exported", m.entry.line),
                ),
                None => add(
                    Severity::Error,
                    "price-missing",
                    format!("Comax line {} has no price, but the row would be exported", m.entry.line),
                ),
                _ => {}
            }
        }
    })?;

    for (line, sku) in originals_without_translation {
        findings.push(Finding::warning(
            "no-translation",
            &file,
            Some(line),
            &sku,
            "the product has no translation".into(),
        ));
    }
    for (line, sku) in input.comax.for_web() {
        if sku_key(sku).is_some_and(|k| !keys_in_store.contains(&k)) {
            findings.push(Finding::warning(
                "to-create",
                COMAX_PRODUCTS,
                Some(line),
                sku,
                "marked for the web in Comax but absent from the store: to create".into(),
            ));
        }
    }
    let max_age = chrono::Duration::seconds((settings.max_input_age_hours * 3600.0) as i64);
    for (name, at) in input.file_times {
        let age = input.now.signed_duration_since(*at);
        if age > max_age {
            findings.push(Finding::warning(
                "stale-file",
                name,
                None,
                "",
                format!(
                    "the file was written {} ago ({}), more than {} h: is it today's export?",
                    human(age),
                    at.format("%Y-%m-%d %H:%M UTC"),
                    settings.max_input_age_hours
                ),
            ));
        }
    }

    let mut blast = BlastRadius {
        comax_rows: input.comax.rows,
        last_accepted_rows: input.last_accepted_comax_rows,
        in_stock,
        zeroed,
        zero_share: if in_stock == 0 { 0.0 } else { zeroed as f64 / in_stock as f64 },
        tripped: vec![],
        overridden: input.blast_override.cloned(),
    };
    // Each tripped guard with the file it is about.
    let mut tripped: Vec<(&str, String)> = Vec::new();
    if let Some(last) = input.last_accepted_comax_rows {
        if (blast.comax_rows as f64) < last as f64 * settings.blast_min_rows_ratio {
            tripped.push((
                COMAX_PRODUCTS,
                format!(
                    "the Comax file has {} rows, under {:.0} % of the last accepted one ({last})",
                    blast.comax_rows,
                    settings.blast_min_rows_ratio * 100.0
                ),
            ));
        }
    }
    if blast.zero_share > settings.blast_zero_share {
        tripped.push((
            WEB_PRODUCTS,
            format!(
                "the export would set {zeroed} of {in_stock} in-stock products ({:.1} %) to zero, over {:.0} %",
                blast.zero_share * 100.0,
                settings.blast_zero_share * 100.0
            ),
        ));
    }
    for (file, t) in &tripped {
        let (sev, msg) = match &blast.overridden {
            Some(o) => (Severity::Warning, format!("{t}; overridden by {} ({})", o.by, o.reason)),
            None => (Severity::Error, format!("{t}; an operator may override this explicitly")),
        };
        findings.push(Finding::new(sev, "blast-radius", file, None, "", msg));
    }
    blast.tripped = tripped.into_iter().map(|(_, t)| t).collect();
    let counts = count(&findings);
    Ok(Outcome { findings, counts, blast, to_export })
}

fn human(d: chrono::Duration) -> String {
    let h = d.num_hours();
    if h >= 48 {
        format!("{} days", h / 24)
    } else {
        format!("{h} h")
    }
}
