//! The raw archive of webhook deliveries, for replay: JSON lines `{dedupe_key, accepted,
//! delivery}` in `webhooks/raw/{source}/{date}/{digest}.jsonl`, many deliveries per object (one
//! S3 PUT per webhook would cost $5 per million on its own).
//!
//! Who writes it is a deployment's choice ([`ArchiveMode`]): the processor, one object per
//! processed batch (the local runtime), or a trigger on the dedupe records' change stream, one
//! object per stream batch of up to thousands of deliveries (the template: DynamoDB Streams).

use std::collections::BTreeMap;

use serde_json::json;

use super::receiver::RECORD_PREFIX;
use crate::ports::{BlobStore, PortError};

/// Where the archive is kept.
pub const RAW_PREFIX: &str = "webhooks/raw/";

/// Who archives raw deliveries: `STORESYNC_WEBHOOK_ARCHIVE=processor|stream`.
pub const ENV_ARCHIVE: &str = "STORESYNC_WEBHOOK_ARCHIVE";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchiveMode {
    /// The processor writes each batch's deliveries.
    #[default]
    Processor,
    /// A change-stream trigger on the dedupe records writes them ([`line_from_record`]).
    Stream,
}

impl ArchiveMode {
    /// From configuration; unset means [`ArchiveMode::Processor`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        match get(ENV_ARCHIVE).as_deref().map(str::trim) {
            None | Some("") | Some("processor") => Ok(Self::Processor),
            Some("stream") => Ok(Self::Stream),
            Some(other) => Err(format!("{ENV_ARCHIVE}={other:?}: use processor or stream")),
        }
    }
}

/// One archive line.
pub fn line(dedupe_key: &str, accepted: &impl serde::Serialize, delivery: &serde_json::Value) -> serde_json::Value {
    json!({ "dedupe_key": dedupe_key, "accepted": accepted, "delivery": delivery })
}

/// The archive line of a dedupe record as the receiver writes it (key `webhook/seen/{dedupe
/// key}`, value `{delivery, accepted, queued?}`); `None` for any other record, and for the
/// record without the delivery.
pub fn line_from_record(key: &str, record: &serde_json::Value) -> Option<serde_json::Value> {
    let dedupe_key = key.strip_prefix(RECORD_PREFIX)?;
    if !record["delivery"].is_object() || !record["accepted"].is_object() {
        return None;
    }
    Some(line(dedupe_key, &record["accepted"], &record["delivery"]))
}

/// Writes `lines` to the bucket, one object per source and day. The key is a digest of the
/// content, so a batch written again writes the same object. Returns the objects written.
pub async fn write(blobs: &dyn BlobStore, lines: &[serde_json::Value]) -> Result<usize, PortError> {
    use sha2::Digest;
    let mut by_day: BTreeMap<(String, String), Vec<u8>> = BTreeMap::new();
    for line in lines {
        let source = line["accepted"]["source"].as_str().unwrap_or("unknown").to_string();
        let day = line["delivery"]["received_at"].as_str().and_then(|t| t.get(..10)).unwrap_or("undated").to_string();
        let out = by_day.entry((source, day)).or_default();
        serde_json::to_writer(&mut *out, line).map_err(|e| PortError::backend("encode", "archive", e))?;
        out.push(b'\n');
    }
    let objects = by_day.len();
    for ((source, day), data) in by_day {
        let digest = hex::encode(&sha2::Sha256::digest(&data)[..12]);
        blobs.put(&format!("{RAW_PREFIX}{source}/{day}/{digest}.jsonl"), data.into(), None).await?;
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::receiver::record_key;

    #[test]
    fn the_mode_comes_from_configuration_and_a_bad_value_is_named() {
        let get = |v: &'static str| move |k: &str| (k == ENV_ARCHIVE).then(|| v.to_string());
        assert_eq!(ArchiveMode::from_lookup(|_| None), Ok(ArchiveMode::Processor));
        assert_eq!(ArchiveMode::from_lookup(get("stream")), Ok(ArchiveMode::Stream));
        assert_eq!(ArchiveMode::from_lookup(get("processor")), Ok(ArchiveMode::Processor));
        let e = ArchiveMode::from_lookup(get("s3")).unwrap_err();
        assert!(e.contains(ENV_ARCHIVE) && e.contains("\"s3\""), "{e}");
    }

    #[test]
    fn only_first_writes_of_dedupe_records_become_lines() {
        let rec = json!({ "delivery": { "received_at": "2026-12-01T05:00:00Z", "body": "{}" },
                          "accepted": { "source": "wms" } });
        let l = line_from_record(&record_key("wms:d1"), &rec).unwrap();
        assert_eq!(l["dedupe_key"], "wms:d1");
        assert_eq!(l["delivery"], rec["delivery"]);
        assert!(line_from_record("webhook/stock/SKU1", &rec).is_none(), "not a dedupe record");
        assert!(line_from_record(&record_key("wms:d3"), &json!({ "seen": true })).is_none());
    }
}
