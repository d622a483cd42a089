//! zstd, the opt-in codec of parts: independent frames, read back as one
//! stream.
//!
//! A zstd part is a concatenation of zstd frames (see [`super::codec`]),
//! which the zstd format defines as one stream: `zstd -d`, Python's
//! `zstandard` (and so pandas), DuckDB, Snowflake and Spark 3.2+ read it.
//! Each frame records its content size and a checksum, and since a frame
//! holds at most about 1 MiB, its window (what a reader must hold) is at
//! most that too. Uses the `zstd` crate (libzstd, the reference C library,
//! built from source by `zstd-sys`; wasmtime already links it). Only
//! [`super::codec`] calls this.

use std::cell::RefCell;
use std::io::{BufReader, Read};

/// The levels zstd takes here: 1 (fastest) to 22 (smallest). zstd's
/// negative "fast" levels are not offered.
pub const LEVELS: std::ops::RangeInclusive<u32> = 1..=22;

/// The default level: zstd's own default; see docs/benchmarks.md.
pub const DEFAULT_LEVEL: u32 = 3;

thread_local! {
    /// One compression context per thread and level: a fresh one per
    /// 1 MiB frame would allocate and clear its tables every time.
    static COMPRESSOR: RefCell<Option<(u32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(None) };
}

/// Compresses `data` into one zstd frame with its content size and a
/// checksum.
pub(super) fn compress(data: &[u8], level: u32) -> Vec<u8> {
    COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        let fresh = !matches!(&*cell, Some((l, _)) if *l == level);
        if fresh {
            *cell = Some((level, compressor(level)));
        }
        let (_, c) = cell.as_mut().unwrap_or_else(|| unreachable!("just filled"));
        c.compress(data)
            .unwrap_or_else(|e| unreachable!("zstd into memory: {e}"))
    })
}

fn compressor(level: u32) -> zstd::bulk::Compressor<'static> {
    // Levels are checked against LEVELS before they get here, and a fresh
    // context takes every level and these parameters.
    let level = i32::try_from(level).unwrap_or(DEFAULT_LEVEL as i32);
    let mut c = zstd::bulk::Compressor::new(level)
        .unwrap_or_else(|e| unreachable!("zstd level {level}: {e}"));
    c.include_checksum(true)
        .and_then(|()| c.include_contentsize(true))
        .unwrap_or_else(|e| unreachable!("zstd frame parameters: {e}"));
    c
}

/// A zstd stream of one or many frames.
pub type Decoder<R> = zstd::stream::read::Decoder<'static, BufReader<R>>;

/// Reads a zstd stream of one or many frames.
pub fn decoder<R: Read>(inner: R) -> std::io::Result<Decoder<R>> {
    zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(256 * 1024, inner))
}

/// Whether `head` starts with the zstd frame magic number.
pub fn is_zstd(head: &[u8]) -> bool {
    head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}
