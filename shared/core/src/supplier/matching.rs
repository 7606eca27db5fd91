//! Matching a supplier item to the store's products, with a confidence (0–100) and the
//! evidence for it.
//!
//! The scoring:
//!
//! | signal | when | confidence |
//! |---|---|---|
//! | SKU | the same SKU (case and surrounding space aside) | 100 |
//! | UPC/EAN | both barcodes valid GTINs, equal as 14 digits | 97 |
//! | MPN + manufacturer | the same part number (letters and digits only, case aside) from the same vendor | 96 |
//! | name | token-set similarity *s* ≥ 0.5 (below) | 90 × *s*, × 0.8 when both vendors are given and differ |
//!
//! - Two identifiers (SKU, UPC/EAN, MPN) naming the same product corroborate: the confidence is
//!   the higher one plus 1 (at most 99 without the SKU; 100 with it).
//! - Identifiers naming different products contradict: the best is kept, at most 80, with the
//!   other named in the evidence, so a person decides.
//! - An identifier held by several store products is ambiguous: at most 80 as well.
//! - Name similarity is Dice's coefficient over the sets of name tokens (lower case, split on
//!   anything but letters and digits): 2·|A∩B| / (|A|+|B|). A name never reaches the default
//!   auto-approve threshold (> 95) on its own.
//! - No product matched: a new product (CREATE), with confidence 100 − 10 × the best name
//!   similarity found (a near-namesake in the store makes a person look).
//!
//! Name candidates come from an inverted index of tokens: the rarest tokens of the item's name
//! are probed (enough of them that any product with similarity ≥ 0.5 shares at least one —
//! prefix filtering), skipping tokens common in the store (carried by more than 0.1 % of its
//! products, at least [`COMMON`]): a word like "black" or "pack" does not bring candidates on
//! its own, the rarer words (a model, a series) do. An exact normalised name is looked up whole,
//! so a name of only common words is still found.

use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use super::feed::{gtin14, valid_gtin, SupplierItem};

/// What matching needs of one store product (a variant, with its product's title and vendor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreProduct {
    /// The store's id for it (Shopify's variant gid).
    pub id: String,
    pub sku: String,
    pub title: String,
    pub vendor: String,
    pub barcode: Option<String>,
    pub mpn: Option<String>,
}

/// Which signal a piece of evidence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    Sku,
    Barcode,
    MpnVendor,
    Name,
}

/// One reason for (or against) a match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub signal: Signal,
    /// The store product it points at.
    pub product: String,
    /// What this signal alone is worth.
    pub confidence: u8,
    /// In words: what matched.
    pub detail: String,
}

/// What an item is to the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// The store product it is (an UPDATE), or `None` (a CREATE).
    pub product: Option<String>,
    pub confidence: u8,
    pub evidence: Vec<Evidence>,
    /// Why the confidence was lowered, if it was.
    pub caveat: Option<String>,
}

pub const SKU: u8 = 100;
pub const BARCODE: u8 = 97;
pub const MPN_VENDOR: u8 = 96;
/// The most a name alone is worth (times the similarity).
pub const NAME: f64 = 90.0;
/// The least name similarity that makes a match.
pub const NAME_THRESHOLD: f64 = 0.5;
/// The most a contradicted or ambiguous match keeps.
pub const DOUBTFUL: u8 = 80;
/// A token more products than this (or 0.1 % of the store, when more) carry is not probed.
pub const COMMON: usize = 50;

/// One product, or several (an identifier held twice in the store).
#[derive(Debug, Clone, Copy)]
enum Slot {
    One(u32),
    Many(u32),
}

fn put<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Slot>, key: K, at: u32) {
    map.entry(key).and_modify(|s| *s = Slot::Many(first(*s))).or_insert(Slot::One(at));
}

fn first(s: Slot) -> u32 {
    match s {
        Slot::One(i) | Slot::Many(i) => i,
    }
}

/// The store's products, indexed for matching.
pub struct CatalogIndex {
    products: Vec<StoreProduct>,
    by_sku: HashMap<String, Slot>,
    by_gtin: HashMap<String, Slot>,
    by_mpn: HashMap<(String, String), Slot>,
    by_name: HashMap<String, Slot>,
    token_ids: HashMap<String, u32>,
    /// Token id → the products carrying it.
    postings: Vec<Vec<u32>>,
    /// Product → its token ids, sorted.
    names: Vec<Box<[u32]>>,
    /// Tokens carried by more products than this are not probed.
    common: usize,
}

/// Letters and digits only, upper case (`HL-L2350DW` is `HLL2350DW`).
fn part_number(raw: &str) -> String {
    raw.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase).collect()
}

fn vendor_key(raw: &str) -> String {
    raw.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The domain's SKU key (case and surrounding space aside); empty for no SKU.
fn sku_key(raw: &str) -> String {
    crate::domain::sku_key(raw).unwrap_or_default()
}

/// A name's tokens: lower case, split on anything but letters and digits, each once.
pub fn tokens(name: &str) -> Vec<String> {
    let mut out: Vec<String> =
        name.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_lowercase).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// How many tokens two sorted token sets share.
fn shared(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared
}

/// Token-set similarity of two names (see the module).
pub fn name_similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (tokens(a), tokens(b));
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let shared = a.iter().filter(|t| b.binary_search(t).is_ok()).count();
    2.0 * shared as f64 / (a.len() + b.len()) as f64
}

impl CatalogIndex {
    pub fn new(products: Vec<StoreProduct>) -> Self {
        let mut ix = CatalogIndex {
            by_sku: HashMap::with_capacity(products.len()),
            by_gtin: HashMap::new(),
            by_mpn: HashMap::new(),
            by_name: HashMap::with_capacity(products.len()),
            token_ids: HashMap::new(),
            postings: Vec::new(),
            names: Vec::with_capacity(products.len()),
            common: COMMON.max(products.len() / 1000),
            products: Vec::new(),
        };
        for (at, p) in products.iter().enumerate() {
            let at = at as u32;
            if !p.sku.trim().is_empty() {
                put(&mut ix.by_sku, sku_key(&p.sku), at);
            }
            if let Some(b) = p.barcode.as_deref().filter(|b| valid_gtin(b)) {
                put(&mut ix.by_gtin, gtin14(b), at);
            }
            if let Some(m) = p.mpn.as_deref().map(part_number).filter(|m| !m.is_empty()) {
                put(&mut ix.by_mpn, (m, vendor_key(&p.vendor)), at);
            }
            let toks = tokens(&p.title);
            if !toks.is_empty() {
                put(&mut ix.by_name, toks.join(" "), at);
            }
            let mut ids: Vec<u32> = toks
                .into_iter()
                .map(|t| {
                    let next = ix.token_ids.len() as u32;
                    let id = *ix.token_ids.entry(t).or_insert(next);
                    if id as usize == ix.postings.len() {
                        ix.postings.push(Vec::new());
                    }
                    ix.postings[id as usize].push(at);
                    id
                })
                .collect();
            ids.sort_unstable();
            ix.names.push(ids.into_boxed_slice());
        }
        ix.products = products;
        ix
    }

    pub fn len(&self) -> usize {
        self.products.len()
    }

    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    pub fn product(&self, id: &str) -> Option<&StoreProduct> {
        self.products.iter().find(|p| p.id == id)
    }

    /// The store product of this SKU, if exactly one has it.
    pub fn by_sku(&self, sku: &str) -> Option<&StoreProduct> {
        match self.by_sku.get(&sku_key(sku)) {
            Some(Slot::One(i)) => Some(&self.products[*i as usize]),
            _ => None,
        }
    }

    /// The most similar name among the candidates: (product, similarity).
    fn by_name(&self, title: &str, scratch: &mut HashMap<u32, u16>) -> (Option<u32>, f64) {
        let words = tokens(title);
        if words.is_empty() {
            return (None, 0.0);
        }
        if let Some(slot) = self.by_name.get(&words.join(" ")) {
            return (Some(first(*slot)), 1.0);
        }
        // The item's tokens the store has, rarest first; unknown ones count in the size only.
        let mut known: Vec<(usize, u32)> = words
            .iter()
            .filter_map(|w| self.token_ids.get(w.as_str()))
            .map(|&id| (self.postings[id as usize].len(), id))
            .collect();
        known.sort_unstable();
        let n = words.len();
        // Any product with Dice ≥ t shares one of the first n − ⌈t/(2−t)·n⌉ + 1 tokens.
        let t = NAME_THRESHOLD;
        let probe = n + 1 - ((t / (2.0 - t)) * n as f64).ceil() as usize;
        scratch.clear();
        for &(df, id) in known.iter().take(probe) {
            if df > self.common {
                break;
            }
            for &p in &self.postings[id as usize] {
                *scratch.entry(p).or_insert(0) += 1;
            }
        }
        let mut ids: Vec<u32> = known.iter().map(|&(_, id)| id).collect();
        ids.sort_unstable();
        let mut best: (Option<u32>, f64) = (None, 0.0);
        for (&p, _) in scratch.iter() {
            // Unknown tokens of the item are in no product: the item's size is all its words.
            let name = &self.names[p as usize];
            let s = 2.0 * shared(&ids, name) as f64 / (n + name.len()) as f64;
            if s > best.1 || (s == best.1 && best.0.is_some_and(|b| p < b)) {
                best = (Some(p), s);
            }
        }
        best
    }

    /// What `item` is to the store (see the module for the scoring). `scratch` is reused
    /// between calls.
    pub fn best(&self, item: &SupplierItem, scratch: &mut HashMap<u32, u16>) -> Match {
        let mut evidence: Vec<(Evidence, u32, bool)> = Vec::new();
        let mut by = |slot: Option<&Slot>, signal: Signal, confidence: u8, detail: String| {
            if let Some(s) = slot {
                let at = first(*s);
                let ambiguous = matches!(s, Slot::Many(_));
                let id = self.products[at as usize].id.clone();
                evidence.push((Evidence { signal, product: id, confidence, detail }, at, ambiguous));
            }
        };
        by(self.by_sku.get(&sku_key(&item.sku)), Signal::Sku, SKU, format!("SKU {}", item.sku));
        if let Some(b) = item.barcode.as_deref().filter(|b| valid_gtin(b)) {
            by(self.by_gtin.get(&gtin14(b)), Signal::Barcode, BARCODE, format!("UPC/EAN {b}"));
        }
        if let Some(m) = item.mpn.as_deref().filter(|m| !part_number(m).is_empty()) {
            let key = (part_number(m), vendor_key(&item.vendor));
            by(self.by_mpn.get(&key), Signal::MpnVendor, MPN_VENDOR, format!("MPN {m} of {}", item.vendor));
        }
        if evidence.is_empty() {
            let (found, s) = self.by_name(&item.title, scratch);
            match found.filter(|_| s >= NAME_THRESHOLD) {
                Some(at) => {
                    let p = &self.products[at as usize];
                    let differ = !item.vendor.is_empty()
                        && !p.vendor.is_empty()
                        && vendor_key(&item.vendor) != vendor_key(&p.vendor);
                    let confidence = (NAME * s * if differ { 0.8 } else { 1.0 }).round() as u8;
                    let detail = format!(
                        "name {:?} ~ {:?}: similarity {:.2}{}",
                        item.title,
                        p.title,
                        s,
                        if differ {
                            format!(", vendors differ ({} / {})", item.vendor, p.vendor)
                        } else {
                            String::new()
                        }
                    );
                    let e = Evidence { signal: Signal::Name, product: p.id.clone(), confidence, detail };
                    return Match { product: Some(p.id.clone()), confidence, evidence: vec![e], caveat: None };
                }
                None => {
                    let confidence = (100.0 - 10.0 * s).round() as u8;
                    let caveat = found.map(|at| {
                        format!(
                            "the store has a similar name: {:?} (similarity {s:.2})",
                            self.products[at as usize].title
                        )
                    });
                    return Match { product: None, confidence, evidence: vec![], caveat };
                }
            }
        }
        let (best, at, _) = evidence.iter().max_by_key(|(e, at, _)| (e.confidence, std::cmp::Reverse(*at))).unwrap();
        let mut confidence = best.confidence;
        let mut caveat = None;
        let others: Vec<&Evidence> = evidence.iter().filter(|(_, a, _)| a != at).map(|(e, _, _)| e).collect();
        let agreeing = evidence.iter().filter(|(_, a, _)| a == at).count();
        if let Some((e, _, _)) = evidence.iter().find(|(_, _, ambiguous)| *ambiguous) {
            confidence = confidence.min(DOUBTFUL);
            caveat = Some(format!("{} is held by more than one store product", e.detail));
        } else if !others.is_empty() {
            confidence = confidence.min(DOUBTFUL);
            let names: Vec<String> = others.iter().map(|e| format!("{} points at {}", e.detail, e.product)).collect();
            caveat = Some(format!("contradicted: {}", names.join("; ")));
        } else if agreeing > 1 && confidence < SKU {
            confidence = (confidence + 1).min(99);
        }
        Match {
            product: Some(best.product.clone()),
            confidence,
            evidence: evidence.into_iter().map(|(e, _, _)| e).collect(),
            caveat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> CatalogIndex {
        let p =
            |id: &str, sku: &str, title: &str, vendor: &str, barcode: Option<&str>, mpn: Option<&str>| StoreProduct {
                id: id.into(),
                sku: sku.into(),
                title: title.into(),
                vendor: vendor.into(),
                barcode: barcode.map(Into::into),
                mpn: mpn.map(Into::into),
            };
        CatalogIndex::new(vec![
            p(
                "v1",
                "BR-X1",
                "Brother HL-L2350DW Monochrome Laser Printer",
                "Brother",
                Some("012502652342"),
                Some("HL-L2350DW"),
            ),
            p("v2", "HP-61", "HP 61 Black Ink Cartridge", "HP", Some("0884962780534"), Some("CH561WN")),
            p("v3", "OLD-PEN", "Bic Round Stic Ball Pen Blue 12 Pack", "Bic", None, None),
            p("v4", "TWIN-A", "Stapler", "Swingline", Some("036000291452"), None),
            p("v5", "TWIN-B", "Stapler heavy", "Swingline", Some("036000291452"), None),
        ])
    }

    fn item(sku: &str, title: &str, vendor: &str, barcode: Option<&str>, mpn: Option<&str>) -> SupplierItem {
        SupplierItem {
            line: 2,
            sku: sku.into(),
            handle: String::new(),
            title: title.into(),
            description: String::new(),
            vendor: vendor.into(),
            product_type: String::new(),
            tags: vec![],
            barcode: barcode.map(Into::into),
            mpn: mpn.map(Into::into),
            weight_grams: None,
            price: None,
            cost: None,
            images: vec![],
            seo_title: String::new(),
            seo_description: String::new(),
            options: vec![],
            product_info: Default::default(),
        }
    }

    #[test]
    fn every_signal_scores_as_documented() {
        let ix = store();
        let mut s = HashMap::new();
        let m = ix.best(&item("br-x1 ", "whatever", "", None, None), &mut s);
        assert_eq!((m.product.as_deref(), m.confidence), (Some("v1"), 100));
        assert_eq!(m.evidence[0].signal, Signal::Sku);
        // UPC-A in the store, the same as EAN-13 from the supplier.
        let m = ix.best(&item("SUP-1", "Printer", "Brother", Some("0012502652342"), None), &mut s);
        assert_eq!((m.product.as_deref(), m.confidence, m.evidence[0].signal), (Some("v1"), 97, Signal::Barcode));
        let m = ix.best(&item("SUP-2", "Ink", "H.P.", None, Some("ch561-wn")), &mut s);
        assert_eq!((m.product.as_deref(), m.confidence, m.evidence[0].signal), (Some("v2"), 96, Signal::MpnVendor));
        // The same MPN from another manufacturer is not evidence.
        let m = ix.best(&item("SUP-3", "Something else", "Canon", None, Some("CH561WN")), &mut s);
        assert_eq!(m.product, None);
        // Barcode and MPN agreeing: 98.
        let m = ix.best(&item("SUP-4", "x", "HP", Some("0884962780534"), Some("CH561WN")), &mut s);
        assert_eq!((m.product.as_deref(), m.confidence, m.evidence.len()), (Some("v2"), 98, 2));
        // Name: similarity 0.8 → 72; never above 90.
        let m = ix.best(&item("SUP-5", "Bic Round Stic Ball Pen Blue 12 Pack Medium", "Bic", None, None), &mut s);
        let sim =
            name_similarity("Bic Round Stic Ball Pen Blue 12 Pack Medium", "Bic Round Stic Ball Pen Blue 12 Pack");
        assert_eq!((m.product.as_deref(), m.confidence), (Some("v3"), (90.0 * sim).round() as u8));
        assert_eq!(m.evidence[0].signal, Signal::Name);
        let m = ix.best(&item("SUP-6", "bic round stic ball pen blue 12 pack", "Bic", None, None), &mut s);
        assert_eq!((m.product.as_deref(), m.confidence), (Some("v3"), 90), "an exact name is 90");
        let m = ix.best(&item("SUP-7", "Bic Round Stic Ball Pen Blue 12 Pack", "Pilot", None, None), &mut s);
        assert_eq!(m.confidence, 72, "vendors differ: × 0.8");
    }

    #[test]
    fn contradictions_ambiguity_and_new_products_are_for_a_person() {
        let ix = store();
        let mut s = HashMap::new();
        // SKU says v1, barcode says v2.
        let m = ix.best(&item("BR-X1", "x", "", Some("0884962780534"), None), &mut s);
        assert_eq!((m.product.as_deref(), m.confidence), (Some("v1"), 80));
        assert!(m.caveat.as_deref().unwrap().contains("UPC/EAN 0884962780534 points at v2"), "{m:?}");
        // Two store products share the barcode.
        let m = ix.best(&item("NEW", "Stapler", "Swingline", Some("036000291452"), None), &mut s);
        assert_eq!(m.confidence, 80);
        assert!(m.caveat.unwrap().contains("more than one store product"));
        // Nothing alike: a new product, certain.
        let m = ix.best(&item("NEW-1", "Whiteboard Marker Set", "Expo", None, None), &mut s);
        assert_eq!((m.product, m.confidence, m.caveat), (None, 100, None));
        // A near-namesake below the threshold lowers it.
        let m = ix.best(&item("NEW-2", "Brother Laser Toner Cartridge TN760", "Brother", None, None), &mut s);
        assert_eq!(m.product, None);
        assert!(m.confidence < 100 && m.confidence >= 95, "{m:?}");
        assert!(m.caveat.unwrap().contains("Brother HL-L2350DW"));
    }

    #[test]
    fn probing_the_rarest_tokens_finds_what_a_full_scan_finds() {
        // Names from a small vocabulary, so tokens are common and shared.
        let mut seed = 7u64;
        let mut name = || -> String {
            let mut next = || {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (seed >> 33) as usize
            };
            let n = 2 + next() % 5;
            (0..n).map(|_| format!("w{}", next() % 150)).collect::<Vec<_>>().join(" ")
        };
        let products: Vec<StoreProduct> = (0..400)
            .map(|i| StoreProduct {
                id: format!("p{i}"),
                sku: format!("S{i}"),
                title: name(),
                vendor: String::new(),
                barcode: None,
                mpn: None,
            })
            .collect();
        let ix = CatalogIndex::new(products.clone());
        let mut s = HashMap::new();
        let mut found = 0;
        for q in 0..300 {
            let title = name();
            let brute = products.iter().map(|p| name_similarity(&title, &p.title)).fold(0.0f64, f64::max);
            let m = ix.best(&item(&format!("Q{q}"), &title, "", None, None), &mut s);
            if brute >= NAME_THRESHOLD {
                found += 1;
                assert_eq!(m.confidence, (NAME * brute).round() as u8, "{title}: {m:?}");
            } else {
                assert_eq!(m.product, None, "{title}");
            }
        }
        assert!((50..250).contains(&found), "both kinds checked: {found} of 300 matched");
    }
}
