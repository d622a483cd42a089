//! Framing: splitting a decompressed byte stream into NDJSON lines.
//!
//! Owns the reading rules of docs/staging.md: `\n` ends a line; a `\r`
//! before it (CRLF) and a UTF-8 byte-order mark at the very start are
//! removed; a blank (whitespace-only) line is skipped and counted; a line
//! longer than the limit is never held whole (memory stays bounded), only
//! its first bytes are kept for the quarantine. Lines are numbered from 1.

use std::io::{self, BufRead};

/// How many bytes of an over-long line are kept to show in the quarantine.
pub const TOO_LONG_PREFIX: usize = 1024;

/// The default longest line (`--max-line-bytes`), so one line can never
/// exhaust memory: `weir stage` and `weir run` both apply it.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// The quarantine reason for a line of `len` bytes over the limit.
pub fn too_long_reason(len: u64, limit: usize) -> String {
    format!("line of {len} bytes is longer than the limit of {limit} bytes (--max-line-bytes)")
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What one physical line turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// A line with content; its bytes were appended to the caller's buffer.
    Content,
    /// A line of only whitespace; nothing was appended.
    Blank,
    /// A line over the limit; nothing was appended.
    TooLong {
        /// Its full length in bytes.
        len: u64,
        /// Its first [`TOO_LONG_PREFIX`] bytes.
        prefix: Vec<u8>,
    },
}

/// One line's number and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEvent {
    /// 1-based line number within the object.
    pub number: u64,
    /// What the line was.
    pub kind: LineKind,
}

/// Reads lines from a buffered stream, appending each line's content to a
/// caller-owned buffer so records are copied once.
pub struct LineReader<R> {
    inner: R,
    max_line_bytes: usize,
    number: u64,
    at_start: bool,
}

impl<R: BufRead> LineReader<R> {
    /// Lines longer than `max_line_bytes` (without the line end) are reported
    /// as [`LineKind::TooLong`].
    pub fn new(inner: R, max_line_bytes: usize) -> Self {
        Self {
            inner,
            max_line_bytes,
            number: 0,
            at_start: true,
        }
    }

    /// Reads the next line, appending its content (without the line end) to
    /// `out` when it is [`LineKind::Content`]. `None` at the end of the stream.
    pub fn next_into(&mut self, out: &mut Vec<u8>) -> io::Result<Option<LineEvent>> {
        let start = out.len();
        let mut len: u64 = 0;
        let mut prefix: Option<Vec<u8>> = None;
        let mut saw_any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let (chunk, consumed, done) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            len += chunk.len() as u64;
            match &mut prefix {
                None if len as usize <= self.max_line_bytes => out.extend_from_slice(chunk),
                None => {
                    // Over the limit: keep a prefix, drop what was buffered.
                    let mut p = out[start..].to_vec();
                    p.extend_from_slice(chunk);
                    p.truncate(TOO_LONG_PREFIX);
                    out.truncate(start);
                    prefix = Some(p);
                }
                Some(p) => {
                    let room = TOO_LONG_PREFIX.saturating_sub(p.len());
                    p.extend_from_slice(&chunk[..room.min(chunk.len())]);
                }
            }
            self.inner.consume(consumed);
            if done {
                break;
            }
        }
        self.number += 1;
        let number = self.number;
        let first = std::mem::replace(&mut self.at_start, false);
        if let Some(prefix) = prefix {
            return Ok(Some(LineEvent {
                number,
                kind: LineKind::TooLong { len, prefix },
            }));
        }
        if out.len() > start && out.last() == Some(&b'\r') {
            out.pop();
        }
        if first && out[start..].starts_with(BOM) {
            out.drain(start..start + BOM.len());
        }
        if out[start..].iter().all(u8::is_ascii_whitespace) {
            out.truncate(start);
            return Ok(Some(LineEvent {
                number,
                kind: LineKind::Blank,
            }));
        }
        Ok(Some(LineEvent {
            number,
            kind: LineKind::Content,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], max: usize) -> Vec<(u64, LineKind, Vec<u8>)> {
        // A tiny buffer exercises lines that span many fill_buf calls.
        let mut r = LineReader::new(io::BufReader::with_capacity(3, input), max);
        let mut out = Vec::new();
        let mut events = Vec::new();
        loop {
            out.clear();
            match r.next_into(&mut out).unwrap_or_else(|e| panic!("{e}")) {
                Some(ev) => events.push((ev.number, ev.kind, out.clone())),
                None => return events,
            }
        }
    }

    #[test]
    fn strips_crlf_and_leading_bom_and_counts_blank_lines() {
        let ev = read_all(b"\xEF\xBB\xBF{\"a\":1}\r\n\r\n  \n{\"b\":2}", 100);
        assert_eq!(ev.len(), 4);
        assert_eq!(ev[0], (1, LineKind::Content, b"{\"a\":1}".to_vec()));
        assert_eq!(ev[1].1, LineKind::Blank);
        assert_eq!(ev[2].1, LineKind::Blank);
        assert_eq!(ev[3], (4, LineKind::Content, b"{\"b\":2}".to_vec()));
    }

    #[test]
    fn keeps_a_bom_that_is_not_at_the_start() {
        let ev = read_all(b"{}\n\xEF\xBB\xBF{}\n", 100);
        assert_eq!(ev[1].2, b"\xEF\xBB\xBF{}".to_vec());
    }

    #[test]
    fn over_long_lines_keep_only_a_prefix() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\n{}\n");
        let ev = read_all(&input, 10);
        match &ev[0].1 {
            LineKind::TooLong { len, prefix } => {
                assert_eq!(*len, 5000);
                assert_eq!(prefix.len(), TOO_LONG_PREFIX);
            }
            other => panic!("expected TooLong, got {other:?}"),
        }
        assert!(ev[0].2.is_empty(), "nothing of a long line is appended");
        assert_eq!(ev[1], (2, LineKind::Content, b"{}".to_vec()));
    }

    #[test]
    fn empty_input_has_no_lines() {
        assert!(read_all(b"", 10).is_empty());
    }
}
