//! Checkpoints: the known files' fingerprints and offsets, in a storage extension.
//!
//! Go facts (`pkg/stanza/fileconsumer/internal/checkpoint/checkpoint.go`, the stanza
//! `ScopedPersister`): the value is a JSON stream, first the number of files, then one
//! object per file with `Fingerprint.FirstBytes` (base64), `Offset`, `RecordNum`,
//! `FileAttributes`; it is stored under `knownFiles` scoped by the input operator id, which
//! gives the key `$.file_input.knownFiles`. Ferrotel adds `FileId` (device and inode), which
//! Go's decoder ignores.

use base64::Engine;
use serde_json::{json, Value as Json};
use stanza::entry::Value;

use super::reader::{FileId, Metadata};

/// The storage key (Go: `knownFiles` scoped by the `file_input` operator id).
pub const KEY: &str = "$.file_input.knownFiles";

pub fn encode(files: &[Metadata]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(files.len().to_string().as_bytes());
    out.push(b'\n');
    for m in files {
        let attrs: serde_json::Map<String, Json> = m
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        let obj = json!({
            "Fingerprint": {"FirstBytes": base64::engine::general_purpose::STANDARD.encode(&m.fingerprint)},
            "Offset": m.offset,
            "RecordNum": m.record_num,
            "FileAttributes": attrs,
            "HeaderFinalized": false,
            "FileId": {"dev": m.file_id.dev, "ino": m.file_id.ino},
        });
        out.extend_from_slice(obj.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

pub fn decode(bytes: &[u8]) -> Result<Vec<Metadata>, String> {
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Json>();
    let count = match stream.next() {
        Some(Ok(Json::Number(n))) => n.as_u64().unwrap_or(0),
        Some(Ok(_)) => return Err("decoding file count: not a number".into()),
        Some(Err(e)) => return Err(format!("decoding file count: {e}")),
        None => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    for _ in 0..count {
        let obj = match stream.next() {
            Some(Ok(o)) => o,
            Some(Err(e)) => return Err(format!("decoding file: {e}")),
            None => return Err("decoding file: fewer files than announced".into()),
        };
        let fp = obj
            .pointer("/Fingerprint/FirstBytes")
            .and_then(Json::as_str)
            .map(|s| base64::engine::general_purpose::STANDARD.decode(s))
            .transpose()
            .map_err(|e| format!("decoding fingerprint: {e}"))?
            .unwrap_or_default();
        let attributes = match obj.get("FileAttributes") {
            Some(Json::Object(m)) => m
                .iter()
                .map(|(k, v)| (k.clone(), Value::from_json(v.clone())))
                .collect(),
            _ => Default::default(),
        };
        out.push(Metadata {
            fingerprint: fp,
            offset: obj.get("Offset").and_then(Json::as_u64).unwrap_or(0),
            record_num: obj.get("RecordNum").and_then(Json::as_i64).unwrap_or(0),
            attributes,
            file_id: FileId {
                dev: obj
                    .pointer("/FileId/dev")
                    .and_then(Json::as_u64)
                    .unwrap_or(0),
                ino: obj
                    .pointer("/FileId/ino")
                    .and_then(Json::as_u64)
                    .unwrap_or(0),
            },
            discarding: false,
            flush: Default::default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_go_layout() {
        let m = Metadata {
            fingerprint: b"first line\n".to_vec(),
            offset: 42,
            record_num: 3,
            file_id: FileId { dev: 1, ino: 2 },
            ..Default::default()
        };
        let bytes = encode(std::slice::from_ref(&m));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("1\n{"));
        assert!(text.contains("\"FirstBytes\":\"Zmlyc3QgbGluZQo=\""));
        let back = decode(&bytes).unwrap();
        assert_eq!(back[0].offset, 42);
        assert_eq!(back[0].fingerprint, m.fingerprint);
        assert_eq!(back[0].file_id, m.file_id);
        assert!(decode(b"2\n{}").is_err());
        assert!(decode(b"garbage").is_err());
    }
}
