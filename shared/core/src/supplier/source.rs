//! Where the supplier feed is dropped (an FTP server): its files, and downloads that resume.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A file in the feed's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteFile {
    pub name: String,
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    /// Worth trying again (a dropped connection, a timeout).
    pub transient: bool,
    pub message: String,
}

#[async_trait]
pub trait FeedSource: Send + Sync {
    /// The files in the feed's folder.
    async fn list(&self) -> Result<Vec<RemoteFile>, SourceError>;
    /// Appends `name`'s bytes from `offset` on to the local file `dest`; what arrived before a
    /// connection dropped stays there, so the next call resumes from the file's length.
    async fn fetch(&self, name: &str, offset: u64, dest: &Path) -> Result<u64, SourceError>;
}

/// Whether `name` matches `pattern`: `*` any run of characters, `?` one; case aside
/// (`CowanOfficeSupplies*.zip`).
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) =
        (pattern.to_lowercase().chars().collect(), name.to_lowercase().chars().collect());
    // Classic wildcard matching with backtracking on the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns_match_names_as_a_shell_would() {
        assert!(matches("CowanOfficeSupplies*.zip", "cowanofficesupplies_2026-12-01.ZIP"));
        assert!(matches("CowanOfficeSupplies*.zip", "CowanOfficeSupplies.zip"));
        assert!(!matches("CowanOfficeSupplies*.zip", "CowanOfficeSupplies.zip.part"));
        assert!(!matches("CowanOfficeSupplies*.zip", "Other.zip"));
        assert!(matches("feed-??.csv", "feed-01.csv") && !matches("feed-??.csv", "feed-1.csv"));
        assert!(matches("*", "anything") && matches("a*b*c", "aXXbYYc") && !matches("a*b*c", "aXXbYY"));
    }
}
