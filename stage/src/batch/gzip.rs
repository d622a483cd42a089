//! The gzip codec of parts: independent members written in parallel, read
//! back as one stream.
//!
//! Owns compression settings and the one place gzip is produced. A part is a
//! concatenation of gzip members of about 1 MiB of lines each (never
//! splitting a line), which is valid gzip that every reader accepts (gzip,
//! zcat, Python, pandas, DuckDB, Snowflake) and lets members be compressed
//! on many cores. flate2 runs on the zlib-rs backend (docs/benchmarks.md).

use std::io::{BufReader, Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

/// The uncompressed size of one gzip member: large enough that the member
/// overhead (18 bytes, and a reset dictionary) costs under 0.1% ratio, small
/// enough to spread over cores.
pub const MEMBER_BYTES: usize = 1 << 20;

/// The default compression level; see docs/benchmarks.md for the measurement.
pub const DEFAULT_LEVEL: u32 = 6;

/// One compressed member and what it holds.
#[derive(Debug, Clone)]
pub struct Member {
    /// The gzip member's bytes.
    pub gz: Vec<u8>,
    /// Uncompressed bytes (lines including their `\n`).
    pub uncompressed: u64,
    /// Number of lines (records).
    pub records: u64,
}

/// Compresses `data`, which is complete `\n`-terminated lines, into members
/// of at most `max_member` uncompressed bytes, split only at line ends. A
/// line longer than `max_member` gets a member of its own.
pub fn compress_lines(data: &[u8], max_member: usize, level: u32) -> Vec<Member> {
    let mut members = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let mut end = start;
        let mut records = 0u64;
        for nl in memchr::memchr_iter(b'\n', &data[start..]) {
            let line_end = start + nl + 1;
            if records > 0 && line_end - start > max_member {
                break;
            }
            end = line_end;
            records += 1;
        }
        if records == 0 {
            // Unterminated trailing bytes: callers never pass them.
            end = data.len();
        }
        members.push(compress_member(&data[start..end], records, level));
        start = end;
    }
    members
}

/// Compresses `data` into one gzip member holding `records` lines.
pub fn compress_member(data: &[u8], records: u64, level: u32) -> Member {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        Compression::new(level),
    );
    // Writing to a Vec cannot fail.
    enc.write_all(data)
        .unwrap_or_else(|e| unreachable!("gzip into memory: {e}"));
    let gz = enc
        .finish()
        .unwrap_or_else(|e| unreachable!("gzip into memory: {e}"));
    Member {
        gz,
        uncompressed: data.len() as u64,
        records,
    }
}

/// Reads a gzip stream of one or many members.
pub fn decoder<R: Read>(inner: R) -> MultiGzDecoder<BufReader<R>> {
    MultiGzDecoder::new(BufReader::with_capacity(256 * 1024, inner))
}

/// Whether `head` starts with the gzip magic bytes.
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        decoder(gz)
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        out
    }

    #[test]
    fn members_split_at_line_ends_and_concatenate_to_the_input() {
        let data: Vec<u8> = (0..1000)
            .flat_map(|i| format!("{{\"i\":{i}}}\n").into_bytes())
            .collect();
        let members = compress_lines(&data, 100, 6);
        assert!(members.len() > 10);
        let mut all = Vec::new();
        for m in &members {
            assert!(m.uncompressed <= 100);
            let plain = gunzip(&m.gz);
            assert_eq!(plain.last(), Some(&b'\n'));
            assert_eq!(plain.len() as u64, m.uncompressed);
            all.extend_from_slice(&m.gz);
        }
        assert_eq!(members.iter().map(|m| m.records).sum::<u64>(), 1000);
        assert_eq!(gunzip(&all), data);
    }

    #[test]
    fn a_line_longer_than_a_member_gets_its_own() {
        let data = b"{\"a\":\"xxxxxxxxxxxxxxxxxxxx\"}\n{}\n";
        let members = compress_lines(data, 5, 1);
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].records, 1);
    }
}
