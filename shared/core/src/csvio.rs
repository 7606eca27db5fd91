//! Reading the CSV files operators upload: UTF-8 (with or without BOM) or Windows-1255,
//! comma or semicolon, quoted fields with embedded newlines. Headers are found by name.

use std::borrow::Cow;
use std::io::{Chain, Cursor, Read};

use encoding_rs::WINDOWS_1255;

/// How many bytes are sniffed for the encoding and delimiter.
const SNIFF: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("{file}: the file is empty (no header line)")]
    Empty { file: String },
    #[error("{file}: line {line}: cannot read the CSV: {reason}")]
    Malformed { file: String, line: u64, reason: String },
    #[error("{file}: line 1: required column {column:?} is missing (found: {found})")]
    MissingColumn { file: String, column: String, found: String },
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

/// The text encoding a file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TextEncoding {
    Utf8,
    Windows1255,
}

type Inner<R> = Chain<Cursor<Vec<u8>>, R>;

/// A CSV file opened for streaming: the header is read, records follow one at a time.
pub struct CsvFile<R: Read> {
    file: String,
    headers: Vec<String>,
    encoding: TextEncoding,
    delimiter: u8,
    reader: csv::Reader<Inner<R>>,
    record: csv::ByteRecord,
    sniffed_bytes: u64,
    sniffed_lines: u64,
}

/// One data record with the line it starts on (1-based, the header is line 1).
pub struct Row<'a> {
    pub line: u64,
    record: &'a csv::ByteRecord,
    encoding: TextEncoding,
}

impl<'a> Row<'a> {
    /// The field at `idx`, decoded; an absent field reads as empty.
    pub fn get(&self, idx: usize) -> Cow<'a, str> {
        match self.record.get(idx) {
            Some(bytes) => decode(trim_cr(bytes), self.encoding),
            None => Cow::Borrowed(""),
        }
    }

    pub fn get_opt(&self, idx: Option<usize>) -> Cow<'a, str> {
        idx.map(|i| self.get(i)).unwrap_or(Cow::Borrowed(""))
    }

    pub fn len(&self) -> usize {
        self.record.len()
    }

    pub fn is_empty(&self) -> bool {
        self.record.is_empty()
    }
}

/// Decodes a field. A Windows-1255 file decodes as such; a field that is not valid UTF-8 in a
/// file sniffed as UTF-8 is decoded as Windows-1255 too, so that no byte is ever dropped.
pub fn decode(bytes: &[u8], enc: TextEncoding) -> Cow<'_, str> {
    if enc == TextEncoding::Utf8 {
        if let Ok(s) = std::str::from_utf8(bytes) {
            return Cow::Borrowed(s);
        }
    } else if bytes.is_ascii() {
        // ASCII is the same in Windows-1255.
        return Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default());
    }
    let (text, _) = WINDOWS_1255.decode_without_bom_handling(bytes);
    text
}

/// Lines end in `\n`; a `\r` before it (CRLF files) is not part of the field. Reading with a
/// `\n` terminator keeps the csv crate's line numbers right for CRLF files.
fn trim_cr(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

fn sniff_encoding(head: &[u8]) -> TextEncoding {
    match std::str::from_utf8(head) {
        Ok(_) => TextEncoding::Utf8,
        // An error at the very end is a multi-byte character cut by the sniff window.
        Err(e) if e.error_len().is_none() => TextEncoding::Utf8,
        Err(_) => TextEncoding::Windows1255,
    }
}

/// Picks `;` when the header line has more semicolons than commas outside quotes.
fn sniff_delimiter(head: &[u8]) -> u8 {
    let (mut commas, mut semis, mut quoted) = (0usize, 0usize, false);
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semis += 1,
            b'\n' if !quoted => break,
            _ => {}
        }
    }
    if semis > commas {
        b';'
    } else {
        b','
    }
}

impl<R: Read> CsvFile<R> {
    /// Opens `input` (named `file` in messages), sniffs encoding and delimiter, reads the header.
    pub fn open(file: &str, mut input: R) -> Result<Self, CsvError> {
        let io = |source| CsvError::Io { file: file.to_string(), source };
        let mut head = Vec::with_capacity(SNIFF);
        (&mut input).take(SNIFF as u64).read_to_end(&mut head).map_err(io)?;
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            head.drain(..3);
        }
        if head.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(CsvError::Empty { file: file.to_string() });
        }
        let encoding = sniff_encoding(&head);
        let sniffed_bytes = head.len() as u64;
        let sniffed_lines = head.iter().filter(|&&b| b == b'\n').count() as u64;
        let delimiter = sniff_delimiter(&head);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(Cursor::new(head).chain(input));
        let mut header = csv::ByteRecord::new();
        match reader.read_byte_record(&mut header) {
            Ok(true) => {}
            Ok(false) => return Err(CsvError::Empty { file: file.to_string() }),
            Err(e) => return Err(malformed(file, &e)),
        }
        let headers = header.iter().map(|h| decode(trim_cr(h), encoding).trim().to_string()).collect();
        Ok(Self {
            file: file.to_string(),
            headers,
            encoding,
            delimiter,
            reader,
            record: csv::ByteRecord::new(),
            sniffed_bytes,
            sniffed_lines,
        })
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    /// About how many records a file of `total_bytes` holds, from the first 64 KiB (0 when
    /// unknown).
    pub fn estimate_rows(&self, total_bytes: u64) -> usize {
        if total_bytes == 0 || self.sniffed_lines == 0 {
            return 0;
        }
        let per_line = (self.sniffed_bytes / self.sniffed_lines).max(1);
        (total_bytes / per_line) as usize + 16
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The index of the column named `name` (trimmed, case-insensitive).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h.eq_ignore_ascii_case(name.trim()))
    }

    /// Like [`column`](Self::column), but a missing column is an error naming it.
    pub fn require(&self, name: &str) -> Result<usize, CsvError> {
        self.column(name).ok_or_else(|| CsvError::MissingColumn {
            file: self.file.clone(),
            column: name.to_string(),
            found: self.headers.join(", "),
        })
    }

    /// The next record, or `None` at the end. Records of only empty fields are skipped.
    pub fn next_row(&mut self) -> Result<Option<Row<'_>>, CsvError> {
        loop {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => return Ok(None),
                Ok(true) => {
                    if self.record.iter().all(|f| f.iter().all(|b| b.is_ascii_whitespace())) {
                        continue;
                    }
                    let line = self.record.position().map(|p| p.line()).unwrap_or(0);
                    return Ok(Some(Row { line, record: &self.record, encoding: self.encoding }));
                }
                Err(e) => return Err(malformed(&self.file, &e)),
            }
        }
    }
}

fn malformed(file: &str, e: &csv::Error) -> CsvError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    CsvError::Malformed { file: file.to_string(), line, reason: e.to_string() }
}

/// Converts a spreadsheet column letter (`A`, `Z`, `AA`) to a 0-based index.
pub fn column_letter_index(letters: &str) -> Option<usize> {
    let t = letters.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let mut n = 0usize;
    for b in t.bytes() {
        n = n * 26 + (b.to_ascii_uppercase() - b'A' + 1) as usize;
    }
    Some(n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(file: &mut CsvFile<&[u8]>) -> Vec<(u64, Vec<String>)> {
        let mut out = vec![];
        while let Some(r) = file.next_row().unwrap() {
            out.push((r.line, (0..r.len()).map(|i| r.get(i).into_owned()).collect()));
        }
        out
    }

    #[test]
    fn utf8_bom_and_quotes_with_newlines() {
        let data = "\u{feff}sku,name\r\nA1,\"two\nlines\"\r\nB2,plain\r\n".as_bytes();
        let mut f = CsvFile::open("x.csv", data).unwrap();
        assert_eq!(f.headers(), &["sku", "name"]);
        assert_eq!(f.encoding(), TextEncoding::Utf8);
        let r = rows(&mut f);
        assert_eq!(r[0], (2, vec!["A1".into(), "two\nlines".into()]));
        assert_eq!(r[1].0, 4);
    }

    #[test]
    fn windows_1255_semicolons() {
        let (bytes, _, _) = WINDOWS_1255.encode("CMX SKU;CMX NAME\n100;יין אדום\n");
        let mut f = CsvFile::open("c.csv", &bytes[..]).unwrap();
        assert_eq!(f.encoding(), TextEncoding::Windows1255);
        assert_eq!(f.delimiter(), b';');
        assert_eq!(f.column("cmx name"), Some(1));
        assert_eq!(rows(&mut f)[0].1[1], "יין אדום");
    }

    #[test]
    fn missing_column_names_file_and_column() {
        let f = CsvFile::open("w.csv", &b"a,b\n1,2\n"[..]).unwrap();
        let e = f.require("SKU").unwrap_err();
        assert_eq!(e.to_string(), "w.csv: line 1: required column \"SKU\" is missing (found: a, b)");
    }

    #[test]
    fn empty_file_is_an_error() {
        let e = CsvFile::open("e.csv", &b"\n \n"[..]).err().unwrap();
        assert_eq!(e.to_string(), "e.csv: the file is empty (no header line)");
    }

    #[test]
    fn letters() {
        assert_eq!(column_letter_index("A"), Some(0));
        assert_eq!(column_letter_index("e"), Some(4));
        assert_eq!(column_letter_index("AA"), Some(26));
        assert_eq!(column_letter_index("1"), None);
    }
}
