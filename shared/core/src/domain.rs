//! Validated domain values: they are made by `parse` and cannot be invalid past the edge.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A daily-sync session id: `YYYYMMDD-HHMMSS-xxxx`, or any 1–64 chars of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid session id {0:?}: use 1-64 characters of A-Z, a-z, 0-9, '-' or '_'")]
pub struct InvalidSessionId(pub String);

impl SessionId {
    pub fn parse(s: &str) -> Result<Self, InvalidSessionId> {
        let ok =
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(InvalidSessionId(s.to_string()))
        }
    }

    /// A fresh id from the time it starts and four random hex digits.
    pub fn generate(now: chrono::DateTime<chrono::Utc>) -> Self {
        let rand = uuid::Uuid::new_v4().simple().to_string();
        Self(format!("{}-{}", now.format("%Y%m%d-%H%M%S"), &rand[..4]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SessionId {
    type Error = InvalidSessionId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<SessionId> for String {
    fn from(s: SessionId) -> String {
        s.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The matching key of a SKU: trimmed and case-folded. Empty SKUs have no key.
pub fn sku_key(raw: &str) -> Option<String> {
    let t = raw.trim();
    if t.is_empty() {
        None
    } else if t.is_ascii() {
        Some(t.to_ascii_lowercase())
    } else {
        Some(t.to_lowercase())
    }
}

/// An amount of money in cents (two decimals; more decimals are rounded half away from zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Cents(pub i64);

impl Cents {
    /// Parses `12`, `12.9`, `12.90`, `1,234.50`, `12,90` (decimal comma), `₪ 12.90`.
    /// Returns `None` for an empty or unparseable value.
    pub fn parse(raw: &str) -> Option<Cents> {
        if let Some(c) = Self::parse_plain(raw.trim().as_bytes()) {
            return Some(c);
        }
        let s: String = raw
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '₪' | '$' | '€' | '£' | '\u{200f}'))
            .collect();
        if s.is_empty() {
            return None;
        }
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.as_str()),
        };
        let normalized = match (body.contains('.'), body.contains(',')) {
            (true, true) => body.replace(',', ""),
            (false, true) => {
                // A single comma followed by 1–2 digits is a decimal comma; otherwise thousands.
                let parts: Vec<&str> = body.split(',').collect();
                if parts.len() == 2 && (1..=2).contains(&parts[1].len()) {
                    format!("{}.{}", parts[0], parts[1])
                } else {
                    body.replace(',', "")
                }
            }
            _ => body.to_string(),
        };
        let (int, frac) = match normalized.split_once('.') {
            Some((i, f)) => (i, f),
            None => (normalized.as_str(), ""),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if int.len() > 15 || frac.len() > 6 {
            return None;
        }
        let int_v: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut frac_digits = frac.to_string();
        while frac_digits.len() < 3 {
            frac_digits.push('0');
        }
        let milli: i64 = frac_digits[..3].parse().ok()?;
        let mut cents = int_v * 100 + milli / 10;
        if milli % 10 >= 5 {
            cents += 1;
        }
        Some(Cents(if neg { -cents } else { cents }))
    }
}

impl Cents {
    /// The common form `-?digits(.digits)?` without allocating; `None` for anything else.
    fn parse_plain(b: &[u8]) -> Option<Cents> {
        let (neg, b) = match b.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, b),
        };
        let (int, frac) = match b.iter().position(|&c| c == b'.') {
            Some(i) => (&b[..i], &b[i + 1..]),
            None => (b, &b[..0]),
        };
        if int.is_empty() || int.len() > 15 || frac.len() > 6 {
            return None;
        }
        let mut v: i64 = 0;
        for &c in int {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        let mut milli = 0i64;
        for (i, &c) in frac.iter().enumerate() {
            if !c.is_ascii_digit() {
                return None;
            }
            if i < 3 {
                milli += i64::from(c - b'0') * [100, 10, 1][i];
            }
        }
        let mut cents = v * 100 + milli / 10;
        if milli % 10 >= 5 {
            cents += 1;
        }
        Some(Cents(if neg { -cents } else { cents }))
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// Parses a stock quantity: an integer, or a decimal whose fraction is zero (`5.000`).
pub fn parse_stock(raw: &str) -> Option<i64> {
    let t = raw.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let (int, frac) = t.split_once('.')?;
    if !frac.is_empty() && frac.bytes().all(|b| b == b'0') {
        int.parse::<i64>().ok()
    } else {
        None
    }
}

/// Decodes `%XX` escapes and `+` (a space) as in URL query strings and S3 event keys. An
/// invalid escape stays as written.
pub fn url_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Who did something: the `sub` of the caller's token, or `system` for automatic steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor(pub String);

impl Actor {
    pub fn system() -> Self {
        Actor("system".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn money_forms() {
        assert_eq!(Cents::parse("12"), Some(Cents(1200)));
        assert_eq!(Cents::parse("12.9"), Some(Cents(1290)));
        assert_eq!(Cents::parse(" 12.90 "), Some(Cents(1290)));
        assert_eq!(Cents::parse("1,234.50"), Some(Cents(123450)));
        assert_eq!(Cents::parse("12,90"), Some(Cents(1290)));
        assert_eq!(Cents::parse("1,234"), Some(Cents(123400)));
        assert_eq!(Cents::parse("₪ 49.90"), Some(Cents(4990)));
        assert_eq!(Cents::parse(".5"), Some(Cents(50)));
        assert_eq!(Cents::parse("-3.10"), Some(Cents(-310)));
        assert_eq!(Cents::parse("12.345"), Some(Cents(1235)));
        assert_eq!(Cents::parse("12.344"), Some(Cents(1234)));
        assert_eq!(Cents::parse(""), None);
        assert_eq!(Cents::parse("abc"), None);
        assert_eq!(Cents::parse("12.3.4"), None);
        assert_eq!(Cents(1290).to_string(), "12.90");
        assert_eq!(Cents(-5).to_string(), "-0.05");
    }

    #[test]
    fn stock_forms() {
        assert_eq!(parse_stock("5"), Some(5));
        assert_eq!(parse_stock("-2"), Some(-2));
        assert_eq!(parse_stock("5.000"), Some(5));
        assert_eq!(parse_stock("5.5"), None);
        assert_eq!(parse_stock(""), None);
        assert_eq!(parse_stock("x"), None);
    }

    #[test]
    fn sku_keys_fold_case_and_space() {
        assert_eq!(sku_key("  AbC-1 "), Some("abc-1".into()));
        assert_eq!(sku_key("   "), None);
        assert_eq!(sku_key("ÄB"), Some("äb".into()));
    }

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode("a+b%20c%2Fd"), "a b c/d");
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("%zz%4"), "%zz%4");
        assert_eq!(url_decode("%D7%A9"), "ש");
        assert_eq!(url_decode("%שש"), "%שש");
    }

    #[test]
    fn session_ids() {
        assert!(SessionId::parse("20261125-101500-ab12").is_ok());
        assert!(SessionId::parse("").is_err());
        assert!(SessionId::parse("../etc").is_err());
        let now = chrono::Utc::now();
        assert!(SessionId::parse(SessionId::generate(now).as_str()).is_ok());
    }

    proptest! {
        #[test]
        fn cents_roundtrip(v in -10_000_000i64..10_000_000) {
            let c = Cents(v);
            prop_assert_eq!(Cents::parse(&c.to_string()), Some(c));
        }

        #[test]
        fn plain_and_general_parsers_agree(int in 0u32..100_000, frac in proptest::option::of("[0-9]{1,6}")) {
            let text = match &frac { Some(f) => format!("{int}.{f}"), None => int.to_string() };
            let plain = Cents::parse_plain(text.as_bytes());
            let general = Cents::parse(&format!("₪{text}"));
            prop_assert_eq!(plain, general);
        }

        #[test]
        fn session_id_parse_never_accepts_slash(s in ".*") {
            if let Ok(id) = SessionId::parse(&s) {
                prop_assert!(!id.as_str().contains('/'));
            }
        }
    }
}
