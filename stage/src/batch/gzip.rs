//! gzip, the default codec of parts: independent members, read back as
//! one stream.
//!
//! A gzip part is a concatenation of gzip members (see [`super::codec`]),
//! which is valid gzip that every reader accepts (gzip, zcat, Python,
//! pandas, DuckDB, Snowflake, BigQuery, Spark). flate2 runs on the zlib-rs
//! backend (docs/benchmarks.md). Only [`super::codec`] calls this.

use std::io::{BufReader, Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

/// The levels gzip takes: 1 (fastest) to 9 (smallest).
pub const LEVELS: std::ops::RangeInclusive<u32> = 1..=9;

/// The default compression level; see docs/benchmarks.md for the measurement.
pub const DEFAULT_LEVEL: u32 = 6;

/// Compresses `data` into one gzip member.
pub(super) fn compress(data: &[u8], level: u32) -> Vec<u8> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        Compression::new(level),
    );
    // Writing to a Vec cannot fail.
    enc.write_all(data)
        .unwrap_or_else(|e| unreachable!("gzip into memory: {e}"));
    enc.finish()
        .unwrap_or_else(|e| unreachable!("gzip into memory: {e}"))
}

/// Reads a gzip stream of one or many members.
pub fn decoder<R: Read>(inner: R) -> MultiGzDecoder<BufReader<R>> {
    MultiGzDecoder::new(BufReader::with_capacity(256 * 1024, inner))
}

/// Whether `head` starts with the gzip magic bytes.
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}
