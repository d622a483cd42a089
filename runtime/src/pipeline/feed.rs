//! The feeder: hands a run's input to its workers.
//!
//! Owns reading the input's parts (only those its manifest lists). A part
//! with a member index (every part Weir writes) costs the feeder nothing
//! but bookkeeping: it hands out runs of whole members of about
//! `chunk_bytes`, each already being fetched on the store's runtime, and
//! the worker that takes one checks each member's sha256 and inflates it
//! ([`Block::Fetched`]), so no thread inflates or hashes every byte. A part
//! without one (foreign writers, format version 1) is read here as one
//! stream, verified as it streams, and cut into blocks of whole lines of
//! about `chunk_bytes`; workers split lines and check them. On that path a
//! line still without its end past `max_line_bytes` is buffered no
//! further: the feeder reads on to its end keeping its length and first
//! bytes. Imports `chunk` for the long line it hands on, nothing else of
//! the pipeline but its error.

use std::ops::Range;

use weir_stage::batch::lines::TOO_LONG_PREFIX;
use weir_stage::manifest::{Manifest, PartInfo};
use weir_stage::read::{MemberFetch, PartReader};
use weir_stage::{Stage, StageError};

use super::chunk::LongLine;
use super::error::PipelineError;

/// What the feeder hands to the workers.
pub(super) enum Block {
    /// Whole lines of one part.
    Lines {
        /// The part's index in the input manifest.
        part: u32,
        /// The 1-based line of the first.
        first_line: u64,
        /// The lines, each with its line end.
        bytes: Vec<u8>,
    },
    /// A line that passed the limit before its end was read.
    TooLong(LongLine),
    /// A run of whole members of one part, being fetched; the worker
    /// checks and inflates them ([`MemberFetch::lines`]).
    Fetched {
        /// The part's index in the input manifest.
        part: u32,
        /// The 1-based line of the run's first record.
        first_line: u64,
        /// The members.
        fetch: MemberFetch,
    },
}

/// How much larger than a block one member may be for its part to be read
/// member by member: Weir's members hold at most 1 MiB unless one record
/// is longer, and a worker holds a whole run of members in memory, so a
/// part with a far larger member is read as a stream instead.
const MAX_MEMBER_BLOCKS: u64 = 4;

/// Whether `part` is read member by member: it has a member index and no
/// member holds more than a few blocks' worth (or more than a line may).
fn by_members(part: &PartInfo, chunk_bytes: usize, max_line_bytes: usize) -> bool {
    let most = (chunk_bytes as u64 * MAX_MEMBER_BLOCKS).min(max_line_bytes as u64);
    !part.members.is_empty() && part.members.iter().all(|m| m.uncompressed_bytes() <= most)
}

/// Hands out `part` as runs of consecutive members of at most
/// `chunk_bytes` (a larger member alone), each fetch started before it is
/// pushed. Returns `false` once the run is stopping.
fn feed_members(
    input: &Stage,
    part: &PartInfo,
    index: u32,
    chunk_bytes: usize,
    push: &mut dyn FnMut(Block) -> bool,
) -> bool {
    let (mut start, mut first_line) = (0, 1u64);
    while start < part.members.len() {
        let mut end = start + 1;
        let mut bytes = part.members[start].uncompressed_bytes();
        while let Some(next) = part.members.get(end)
            && bytes + next.uncompressed_bytes() <= chunk_bytes as u64
        {
            bytes += next.uncompressed_bytes();
            end += 1;
        }
        let fetch = input.fetch_members(part, start..end);
        let records = fetch.records();
        let block = Block::Fetched {
            part: index,
            first_line,
            fetch,
        };
        if !push(block) {
            return false;
        }
        first_line += records;
        start = end;
    }
    true
}

/// Cuts the input's parts into blocks of whole lines. The feeder only
/// decompresses and finds the last line end of each block; workers split
/// lines, check UTF-8 and build chunks, so the one serial stage stays cheap.
/// A line still without its end once it holds more than
/// `options.max_line_bytes` is buffered no further: the feeder reads on to
/// its end keeping only its length and first bytes ([`Block::TooLong`]).
pub(super) fn feed(
    input: &Stage,
    manifest: &Manifest,
    parts: Range<usize>,
    chunk_bytes: usize,
    max_line_bytes: usize,
    push: &mut dyn FnMut(Block) -> bool,
) -> Result<(), PipelineError> {
    let target = chunk_bytes.max(1);
    for (index, part) in manifest
        .parts
        .iter()
        .enumerate()
        .skip(parts.start)
        .take(parts.len())
    {
        if by_members(part, target, max_line_bytes) {
            if !feed_members(input, part, index as u32, target, push) {
                return Ok(());
            }
            continue;
        }
        let mut reader = input.read_part(part)?;
        let unterminated = |line: u64| PipelineError::BadInput {
            object: part.path.clone(),
            line,
            reason: "the part does not end with a line end".into(),
        };
        let mut first_line = 1u64;
        let mut carry: Vec<u8> = Vec::new();
        // How many leading bytes of `carry` are known to hold no line end.
        let mut scanned = 0;
        loop {
            let mut bytes = std::mem::take(&mut carry);
            // Always read more than what is carried, so a line longer than a
            // block keeps growing until its end arrives (or the limit).
            let want = target.max(bytes.len() + 1);
            let eof = reader.fill(&mut bytes, want)?;
            let cut = match memchr::memrchr(b'\n', &bytes[scanned..]) {
                Some(i) => scanned + i + 1,
                None if eof => 0,
                None if bytes.len() > max_line_bytes => {
                    let skipped = skip_line(&mut reader, bytes, index as u32, first_line)?;
                    let Some((long, rest)) = skipped else {
                        return Err(unterminated(first_line));
                    };
                    first_line += 1;
                    if !push(Block::TooLong(long)) {
                        return Ok(());
                    }
                    carry = rest;
                    scanned = 0;
                    continue;
                }
                None => {
                    scanned = bytes.len();
                    carry = bytes;
                    continue;
                }
            };
            if eof && cut < bytes.len() {
                let lines = memchr::memchr_iter(b'\n', &bytes[..cut]).count() as u64;
                return Err(unterminated(first_line + lines));
            }
            carry = bytes.split_off(cut);
            scanned = carry.len();
            if !bytes.is_empty() {
                let lines = memchr::memchr_iter(b'\n', &bytes).count() as u64;
                let block = Block::Lines {
                    part: index as u32,
                    first_line,
                    bytes,
                };
                first_line += lines;
                if !push(block) {
                    return Ok(());
                }
            }
            if eof {
                break;
            }
        }
    }
    Ok(())
}

/// Reads the rest of line `line` of a part, whose start `head` (no line
/// end in it) already passes the limit, keeping only its first bytes.
/// Returns the line and what was read past its end, or `None` when the
/// stream ends first.
fn skip_line(
    reader: &mut PartReader,
    head: Vec<u8>,
    part: u32,
    line: u64,
) -> Result<Option<(LongLine, Vec<u8>)>, StageError> {
    let mut len = head.len() as u64;
    let prefix = head[..head.len().min(TOO_LONG_PREFIX)].to_vec();
    drop(head);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf)? {
            0 => return Ok(None),
            n => n,
        };
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            let long = LongLine {
                part,
                line,
                len: len + i as u64,
                prefix,
            };
            return Ok(Some((long, buf[i + 1..n].to_vec())));
        }
        len += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use weir_stage::batch::codec::{Codec, Compression};
    use weir_stage::batch::lines::DEFAULT_MAX_LINE_BYTES;
    use weir_stage::manifest::Producer;
    use weir_stage::write::{InputCounts, IntervalWriter, WriteOptions};
    use weir_stage::{Interval, RetrySettings, StageUrl};

    use super::*;
    use crate::pipeline::chunk::Chunk;

    /// Commits `data` (whole lines) as an interval of a fresh memory stage,
    /// in `codec` members of about 1000 bytes and parts of at most
    /// `max_batch_bytes` (a longer line gets a part of its own).
    fn committed(
        rt: &tokio::runtime::Runtime,
        name: &str,
        data: &[u8],
        max_batch_bytes: u64,
        codec: Codec,
    ) -> (Stage, Manifest) {
        let url =
            StageUrl::parse(&format!("memory:///{name}-{codec}")).unwrap_or_else(|e| panic!("{e}"));
        let stage = Stage::open(&url, &RetrySettings::default(), rt.handle().clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let interval: Interval = "2026-11-26".parse().unwrap_or_else(|e| panic!("{e}"));
        let options = WriteOptions {
            max_batch_bytes,
            ..WriteOptions::default()
        };
        let mut writer = IntervalWriter::new(&stage, interval, options);
        writer
            .write_members(Compression::from(codec).compress_lines(data, 1000))
            .unwrap_or_else(|e| panic!("{e}"));
        let producer = Producer {
            name: "test".into(),
            version: "0".into(),
            command: "test".into(),
            transforms: vec![],
            extract: None,
        };
        let commit = writer
            .commit(producer, InputCounts::default(), vec![])
            .unwrap_or_else(|e| panic!("{e}"));
        (stage, commit.manifest)
    }

    /// What the workers make of the feeder's blocks: the records' text,
    /// their (part, line)s, the long lines as (part, line, len, prefix),
    /// and how many blocks were runs of members.
    type Fed = (
        String,
        Vec<(u32, u64)>,
        Vec<(u32, u64, u64, Vec<u8>)>,
        usize,
    );

    fn fed(stage: &Stage, manifest: &Manifest, chunk_bytes: usize, max_line_bytes: usize) -> Fed {
        let parts: Vec<String> = manifest.parts.iter().map(|p| p.path.clone()).collect();
        let (mut text, mut lines, mut long) = (String::new(), Vec::new(), Vec::new());
        let mut fetched = 0;
        feed(
            stage,
            manifest,
            0..manifest.parts.len(),
            chunk_bytes,
            max_line_bytes,
            &mut |block| {
                let (chunk, too_long) = match block {
                    Block::Lines {
                        part,
                        first_line,
                        bytes,
                    } => Chunk::from_lines(part, first_line, bytes, &parts, max_line_bytes)
                        .unwrap_or_else(|e| panic!("{e}")),
                    Block::TooLong(l) => (Chunk::from_records(std::iter::empty()), vec![l]),
                    Block::Fetched {
                        part,
                        first_line,
                        fetch,
                    } => {
                        fetched += 1;
                        let lines = fetch.lines().unwrap_or_else(|e| panic!("{e}"));
                        Chunk::from_lines(part, first_line, lines, &parts, max_line_bytes)
                            .unwrap_or_else(|e| panic!("{e}"))
                    }
                };
                for i in 0..chunk.origins.len() {
                    assert_eq!(chunk.record(i).as_bytes().last(), Some(&b'}'));
                }
                lines.extend(chunk.origins.iter().copied());
                text.push_str(&chunk.text);
                long.extend(
                    too_long
                        .into_iter()
                        .map(|l| (l.part, l.line, l.len, l.prefix)),
                );
                true
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        (text, lines, long, fetched)
    }

    /// `manifest` as a manifest without member indexes reads it.
    fn unindexed(manifest: &Manifest) -> Manifest {
        let mut m = manifest.clone();
        m.format_version = 1;
        for p in &mut m.parts {
            p.members.clear();
        }
        m
    }

    #[test]
    fn blocks_hold_whole_lines_numbered_from_their_part() {
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        let input: String = (0..500)
            .map(|i| format!("{{\"i\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 37)))
            .collect();
        for codec in Codec::ALL {
            let (stage, indexed) = committed(&rt, "run-feed-test", input.as_bytes(), 4000, codec);
            assert!(indexed.parts.len() > 3);
            assert!(indexed.parts.iter().all(|p| p.codec == codec));
            assert!(indexed.parts.iter().all(|p| p.members.len() > 1));
            // Blocks far smaller than a line, and larger than several;
            // members (about 1000 bytes) far larger than a block are read
            // as a stream.
            for (manifest, chunk_bytes, by_members) in [
                (&indexed, 7, false),
                (&indexed, 999, true),
                (&indexed, 2500, true),
                (&indexed, 1 << 20, true),
                (&unindexed(&indexed), 100, false),
                (&unindexed(&indexed), 1 << 20, false),
            ] {
                let (text, lines, long, fetched) =
                    fed(&stage, manifest, chunk_bytes, DEFAULT_MAX_LINE_BYTES);
                assert_eq!(text, input, "{codec}, chunk_bytes {chunk_bytes}");
                assert!(long.is_empty());
                assert_eq!(fetched > 0, by_members, "chunk_bytes {chunk_bytes}");
                // Line numbers restart at 1 in each part and count up by one.
                let mut expect = Vec::new();
                for (p, part) in manifest.parts.iter().enumerate() {
                    expect.extend((1..=part.records).map(|l| (p as u32, l)));
                }
                assert_eq!(lines, expect, "chunk_bytes {chunk_bytes}");
            }
        }
    }

    #[test]
    fn lines_over_the_limit_are_set_apart_with_their_length_wherever_blocks_end() {
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        const LIMIT: usize = 2000;
        // Lines at, just over and far over the limit, between short ones,
        // as the first and the last line of the part.
        let lens = [5000, 20, LIMIT, 30, LIMIT + 1, 25, 300_000, 40, 9000];
        let line = |i: usize, len: usize| {
            let mut v = format!("{{\"i\":{i},\"x\":\"").into_bytes();
            // A long line's bytes past its prefix need not even be UTF-8.
            let filler = if len > LIMIT { 0xff } else { b'x' };
            let start = v.len();
            v.extend((start..len - 2).map(|k| {
                if k < 1500 {
                    b'a' + (k % 26) as u8
                } else {
                    filler
                }
            }));
            v.extend_from_slice(b"\"}");
            v
        };
        let mut input = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            input.extend(line(i, len));
            input.push(b'\n');
        }
        for codec in Codec::ALL {
            let (stage, manifest) = committed(&rt, "run-long-lines", &input, 1 << 30, codec);
            assert_eq!(manifest.parts.len(), 1);
            let expect_long: Vec<(u32, u64, u64, Vec<u8>)> = lens
                .iter()
                .enumerate()
                .filter(|(_, len)| **len > LIMIT)
                .map(|(i, &len)| {
                    let mut prefix = line(i, len);
                    prefix.truncate(TOO_LONG_PREFIX);
                    (0, i as u64 + 1, len as u64, prefix)
                })
                .collect();
            let expect_lines: Vec<(u32, u64)> = lens
                .iter()
                .enumerate()
                .filter(|(_, len)| **len <= LIMIT)
                .map(|(i, _)| (0, i as u64 + 1))
                .collect();
            let expect_text: String = lens
                .iter()
                .enumerate()
                .filter(|(_, len)| **len <= LIMIT)
                .map(|(i, &len)| {
                    String::from_utf8(line(i, len)).unwrap_or_else(|e| panic!("{e}")) + "\n"
                })
                .collect();
            // Blocks smaller than the limit (long lines pass it before their
            // end and the feeder skips them) and larger (the worker finds them).
            for chunk_bytes in [7, 1000, 64 * 1024, 1 << 20] {
                let (text, lines, long, fetched) = fed(&stage, &manifest, chunk_bytes, LIMIT);
                assert_eq!(
                    fetched, 0,
                    "members holding long lines are read as a stream"
                );
                assert_eq!(long, expect_long, "chunk_bytes {chunk_bytes}");
                assert_eq!(lines, expect_lines, "chunk_bytes {chunk_bytes}");
                assert!(text == expect_text, "{codec}, chunk_bytes {chunk_bytes}");
            }
        }
    }
}
