//! A folder as the bucket: keys are relative paths under the root.

use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use storesync_core::ports::{Blob, BlobInfo, BlobStore, PortError};

pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Self { root: root.canonicalize()? })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of `key`; keys with `..`, absolute parts or empty segments are refused.
    pub fn path(&self, key: &str) -> Result<PathBuf, PortError> {
        let rel = Path::new(key);
        let ok = !key.is_empty() && !key.contains("//") && rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !ok {
            return Err(PortError::backend("resolve", key, "not a valid object key"));
        }
        Ok(self.root.join(rel))
    }

    /// The key of a file under the root (for the inbox watcher).
    pub fn key_of(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let parts: Vec<&str> = rel.components().map(|c| c.as_os_str().to_str()).collect::<Option<_>>()?;
        Some(parts.join("/"))
    }
}

fn io_err(op: &'static str, key: &str, e: std::io::Error) -> PortError {
    if e.kind() == std::io::ErrorKind::NotFound {
        PortError::NotFound { key: key.to_string() }
    } else {
        PortError::backend(op, key, e)
    }
}

fn info(key: &str, meta: &std::fs::Metadata) -> BlobInfo {
    let modified = meta.modified().map(DateTime::<Utc>::from).unwrap_or_else(|_| Utc::now());
    BlobInfo { key: key.to_string(), size: meta.len(), modified }
}

fn set_mtime(path: &Path, when: SystemTime) -> std::io::Result<()> {
    std::fs::File::options().write(true).open(path)?.set_modified(when)
}

impl FsBlobStore {
    /// Writes `key` through `fill` aside, then renames it in place: a watcher never sees a
    /// half-written file.
    fn write_aside(
        &self,
        key: &str,
        modified: Option<DateTime<Utc>>,
        fill: impl FnOnce(&std::path::Path) -> std::io::Result<()>,
    ) -> Result<(), PortError> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(|e| io_err("put", key, e))?;
        let tmp = dir.join(format!(".{}.part", uuid_like()));
        fill(&tmp).map_err(|e| io_err("put", key, e))?;
        if let Some(t) = modified {
            set_mtime(&tmp, t.into()).map_err(|e| io_err("put", key, e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| io_err("put", key, e))
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, key: &str, data: Bytes, modified: Option<DateTime<Utc>>) -> Result<(), PortError> {
        self.write_aside(key, modified, |tmp| std::fs::write(tmp, &data))
    }

    async fn put_file(
        &self,
        key: &str,
        source: &std::path::Path,
        modified: Option<DateTime<Utc>>,
    ) -> Result<(), PortError> {
        self.write_aside(key, modified, |tmp| std::fs::copy(source, tmp).map(|_| ()))
    }

    async fn get(&self, key: &str) -> Result<Blob, PortError> {
        let path = self.path(key)?;
        std::fs::metadata(&path).map_err(|e| io_err("get", key, e))?;
        Ok(Blob::File(path))
    }

    async fn head(&self, key: &str) -> Result<Option<BlobInfo>, PortError> {
        match std::fs::metadata(self.path(key)?) {
            Ok(m) if m.is_file() => Ok(Some(info(key, &m))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("head", key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<BlobInfo>, PortError> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("list", prefix, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| io_err("list", prefix, e))?;
                let p = entry.path();
                let meta = entry.metadata().map_err(|e| io_err("list", prefix, e))?;
                if meta.is_dir() {
                    stack.push(p);
                } else if let Some(key) = self.key_of(&p) {
                    let hidden = key.rsplit('/').next().is_some_and(|n| n.starts_with('.'));
                    if key.starts_with(prefix) && !hidden {
                        out.push(info(&key, &meta));
                    }
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), PortError> {
        let (src, dst) = (self.path(from)?, self.path(to)?);
        let meta = std::fs::metadata(&src).map_err(|e| io_err("copy", from, e))?;
        if let Some(dir) = dst.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_err("copy", to, e))?;
        }
        let tmp = dst.with_file_name(format!(".{}.part", uuid_like()));
        std::fs::copy(&src, &tmp).map_err(|e| io_err("copy", from, e))?;
        if let Ok(t) = meta.modified() {
            set_mtime(&tmp, t).map_err(|e| io_err("copy", to, e))?;
        }
        std::fs::rename(&tmp, &dst).map_err(|e| io_err("copy", to, e))
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        match std::fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err("delete", key, e)),
            _ => Ok(()),
        }
    }

    async fn download_url(&self, key: &str, _expires_secs: u64) -> Result<String, PortError> {
        let path = self.path(key)?;
        std::fs::metadata(&path).map_err(|e| io_err("download", key, e))?;
        Ok(format!("file://{}", path.display()))
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}
