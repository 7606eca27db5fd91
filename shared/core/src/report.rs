//! Findings of validation and their CSV report.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found in the inputs, named by file, line and SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub rule: String,
    pub file: String,
    pub line: Option<u64>,
    pub sku: String,
    pub message: String,
}

impl Finding {
    pub fn new(severity: Severity, rule: &str, file: &str, line: Option<u64>, sku: &str, message: String) -> Self {
        Self { severity, rule: rule.into(), file: file.into(), line, sku: sku.into(), message }
    }

    pub fn error(rule: &str, file: &str, line: Option<u64>, sku: &str, message: String) -> Self {
        Self::new(Severity::Error, rule, file, line, sku, message)
    }

    pub fn warning(rule: &str, file: &str, line: Option<u64>, sku: &str, message: String) -> Self {
        Self::new(Severity::Warning, rule, file, line, sku, message)
    }
}

/// The validation report: `severity,rule,file,line,sku,message`, errors first.
pub fn write_report(findings: &[Finding]) -> Vec<u8> {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| (a.severity, &a.file, a.line).cmp(&(b.severity, &b.file, b.line)));
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["severity", "rule", "file", "line", "sku", "message"]);
    for f in sorted {
        let line = f.line.map(|l| l.to_string()).unwrap_or_default();
        let _ = w.write_record([f.severity.as_str(), &f.rule, &f.file, &line, &f.sku, &f.message]);
    }
    w.into_inner().unwrap_or_default()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub errors: usize,
    pub warnings: usize,
}

pub fn count(findings: &[Finding]) -> Counts {
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    Counts { errors, warnings: findings.len() - errors }
}
