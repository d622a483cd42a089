//! Quarantine entries: a rejected record, why, and where it came from.
//!
//! Owns the line format of `_quarantine/<interval>/*.ndjson.gz`
//! (docs/staging.md). One JSON object per rejected record: the source object
//! and 1-based line, the reason, and the original record — as text when it is
//! UTF-8, escaped (`\xNN`) when it is not, or its first KiB and length when it
//! was too long to keep.

use serde::{Deserialize, Serialize};

/// One rejected record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineEntry {
    /// The object (input file, or part relative to its stage) it came from.
    pub object: String,
    /// Its 1-based line in that object.
    pub line: u64,
    /// Why it was rejected.
    pub reason: String,
    /// The original line, when it is valid UTF-8 and was kept whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The original bytes with non-UTF-8 bytes escaped as `\xNN` (and `\`
    /// as `\\`), when the line is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_escaped: Option<String>,
    /// For a line too long to keep: its length; `record_escaped` then holds
    /// its first KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_bytes: Option<u64>,
    /// The stage the record was read from (`weir run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_stage: Option<String>,
    /// The transform that rejected it (`weir run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
    /// That transform's module sha256 (`weir run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_sha256: Option<String>,
}

impl QuarantineEntry {
    /// An entry keeping `bytes` losslessly.
    pub fn new(object: &str, line: u64, reason: String, bytes: &[u8]) -> Self {
        let (record, record_escaped) = match std::str::from_utf8(bytes) {
            Ok(s) => (Some(s.to_owned()), None),
            Err(_) => (None, Some(escape(bytes))),
        };
        Self {
            object: object.to_owned(),
            line,
            reason,
            record,
            record_escaped,
            record_bytes: None,
            input_stage: None,
            transform: None,
            module_sha256: None,
        }
    }

    /// An entry for a line too long to keep: its first bytes and length.
    pub fn too_long(object: &str, line: u64, reason: String, prefix: &[u8], len: u64) -> Self {
        Self {
            record: None,
            record_escaped: Some(escape(prefix)),
            record_bytes: Some(len),
            ..Self::new(object, line, reason, b"")
        }
    }

    /// One NDJSON line, with its `\n`.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self)
            .unwrap_or_else(|e| unreachable!("a quarantine entry always serialises: {e}"));
        v.push(b'\n');
        v
    }
}

/// Escapes bytes losslessly into text: valid UTF-8 stays, `\` becomes `\\`,
/// every byte of an invalid sequence becomes `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_text_records_verbatim_and_escapes_invalid_utf8() {
        let e = QuarantineEntry::new("in.ndjson", 3, "bad".into(), b"{\"a\":1");
        assert_eq!(e.record.as_deref(), Some("{\"a\":1"));
        let e = QuarantineEntry::new("in.ndjson", 4, "bad".into(), b"a\\b\xffc");
        assert_eq!(e.record, None);
        assert_eq!(e.record_escaped.as_deref(), Some("a\\\\b\\xffc"));
        let line = e.to_line();
        assert_eq!(line.last(), Some(&b'\n'));
        let back: QuarantineEntry = serde_json::from_slice(&line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, e);
    }
}
