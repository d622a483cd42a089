//! Chunks: the records a worker passes through its chain in one go.
//!
//! Owns cutting a block of whole lines of a part into records (checking
//! UTF-8 once per block and setting apart lines over the limit), building
//! a chunk from records given one by one, and finding each record's text
//! and origin. Imports only the pipeline's error type.

use std::ops::Range;

use weir_stage::batch::lines::TOO_LONG_PREFIX;

use super::error::PipelineError;

/// A line longer than the limit: quarantined with its length and first
/// bytes, never passed to a transform.
pub(super) struct LongLine {
    /// The part's index in the input manifest.
    pub(super) part: u32,
    /// The 1-based line.
    pub(super) line: u64,
    /// Its length without the line end.
    pub(super) len: u64,
    /// Its first [`TOO_LONG_PREFIX`] bytes.
    pub(super) prefix: Vec<u8>,
}

/// One chunk of input records.
pub(super) struct Chunk {
    /// The records, each with its line end.
    pub(super) text: String,
    /// (part index, line) of each record.
    pub(super) origins: Vec<(u32, u64)>,
    /// Where each record starts in `text`.
    starts: Vec<usize>,
}

impl Chunk {
    /// Splits whole lines of a part (line `first_line` onwards) into
    /// records, checking they are UTF-8 and not blank (a committed part
    /// never has either). Lines longer than `max_line` are left out and
    /// returned apart, whatever their bytes.
    pub(super) fn from_lines(
        part: u32,
        first_line: u64,
        bytes: Vec<u8>,
        parts: &[String],
        max_line: usize,
    ) -> Result<(Self, Vec<LongLine>), PipelineError> {
        let bad = |line: u64, reason: &str| PipelineError::BadInput {
            object: parts[part as usize].clone(),
            line,
            reason: reason.into(),
        };
        let mut starts = Vec::with_capacity(bytes.len() / 128 + 1);
        let mut origins = Vec::with_capacity(bytes.len() / 128 + 1);
        let mut long = Vec::new();
        let mut start = 0;
        for (i, nl) in memchr::memchr_iter(b'\n', &bytes).enumerate() {
            let line = first_line + i as u64;
            if nl == start {
                return Err(bad(line, "blank line in a committed part"));
            }
            if nl - start > max_line {
                long.push(LongLine {
                    part,
                    line,
                    len: (nl - start) as u64,
                    prefix: bytes[start..nl.min(start + TOO_LONG_PREFIX)].to_vec(),
                });
            } else {
                starts.push(start);
                origins.push((part, line));
            }
            start = nl + 1;
        }
        let bytes = if long.is_empty() {
            bytes
        } else {
            // Rare: copy the lines within the limit, leaving the long ones out.
            let mut kept = Vec::with_capacity(bytes.len());
            for s in &mut starts {
                let end = memchr::memchr(b'\n', &bytes[*s..]).map_or(bytes.len(), |i| *s + i + 1);
                let at = kept.len();
                kept.extend_from_slice(&bytes[*s..end]);
                *s = at;
            }
            kept
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let record = starts.partition_point(|&s| s <= at).saturating_sub(1);
            bad(
                origins.get(record).map_or(first_line, |o| o.1),
                "invalid UTF-8 in a committed part",
            )
        })?;
        Ok((
            Self {
                text,
                origins,
                starts,
            },
            long,
        ))
    }

    /// The end of record `i`, including its line end.
    fn end(&self, i: usize) -> usize {
        self.starts.get(i + 1).copied().unwrap_or(self.text.len())
    }

    /// A chunk of the given records: (index into `parts`, line, text).
    pub(super) fn from_records<'r>(records: impl Iterator<Item = (u32, u64, &'r str)>) -> Self {
        let mut chunk = Chunk {
            text: String::new(),
            origins: Vec::new(),
            starts: Vec::new(),
        };
        for (part, line, text) in records {
            chunk.starts.push(chunk.text.len());
            chunk.text.push_str(text);
            chunk.text.push('\n');
            chunk.origins.push((part, line));
        }
        chunk
    }

    /// The number of records.
    pub(super) fn len(&self) -> usize {
        self.origins.len()
    }

    /// The NDJSON text of records `range`.
    pub(super) fn text_of(&self, range: Range<usize>) -> &str {
        &self.text[self.starts[range.start]..self.end(range.end - 1)]
    }

    /// Record `i`, without its line end.
    pub(super) fn record(&self, i: usize) -> &str {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
        // Without the `\n`.
        &self.text[self.starts[i]..end.saturating_sub(1).max(self.starts[i])]
    }
}
