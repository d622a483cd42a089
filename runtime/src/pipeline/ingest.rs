//! Ingest: files or stdin into an interval of a stage (`weir stage`).
//!
//! A feeder thread reads the inputs (plain or gzip, sniffed by content) and
//! cuts them into blocks of lines; workers check every line and compress the
//! good ones into gzip members; the calling thread appends members to parts
//! and rejected lines to the quarantine, in input order. Nothing is visible
//! until the manifest is committed, and nothing is committed when the
//! rejected lines exceed the error budget.

use std::sync::Arc;

use weir_stage::batch::codec::{Compression, MEMBER_BYTES, Member};
use weir_stage::batch::lines::{DEFAULT_MAX_LINE_BYTES, LineKind, too_long_reason};
use weir_stage::batch::record::check_record;
use weir_stage::quarantine::QuarantineEntry;
use weir_stage::read::Input;
use weir_stage::write::{Commit, InputCounts, IntervalWriter, WriteOptions};
use weir_stage::{Interval, Stage};

use super::attempt::{Attempt, weir_producer};
use super::budget::Budget;
use super::error::PipelineError;
use super::ordered::run_ordered;

/// Lines per block handed to a worker.
const BLOCK_LINES: usize = 4096;

/// How `weir stage` behaves.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// How parts are written.
    pub write: WriteOptions,
    /// Lines longer than this are quarantined without being held in memory.
    pub max_line_bytes: usize,
    /// How many rejected lines still allow a commit.
    pub max_rejected: Budget,
    /// Worker threads checking and compressing.
    pub workers: usize,
    /// Commit an interval even when the input holds no record (default
    /// false: an empty input is most often a mistake).
    pub allow_empty: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            write: WriteOptions::default(),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_rejected: Budget::Count(0),
            workers: super::settings::default_workers(),
            allow_empty: false,
        }
    }
}

enum Span {
    Content {
        number: u64,
        start: usize,
        end: usize,
    },
    TooLong {
        number: u64,
        len: u64,
        prefix: Vec<u8>,
    },
}

struct RawBlock {
    object: Arc<str>,
    data: Vec<u8>,
    spans: Vec<Span>,
    blank: u64,
}

struct CheckedBlock {
    members: Vec<Member>,
    rejected: Vec<QuarantineEntry>,
    lines: u64,
    blank: u64,
}

/// Stages `inputs` into `interval` of `stage` and commits it.
pub fn ingest(
    stage: &Stage,
    interval: Interval,
    inputs: &[Input],
    options: &IngestOptions,
) -> Result<Commit, PipelineError> {
    let cap = options.write.max_batch_bytes;
    let compression = options.write.compression;
    let max_line = options.max_line_bytes;
    let writer = IntervalWriter::new(stage, interval, options.write.clone());
    let mut attempt = Attempt::new(stage, &interval, writer);
    let mut counts = InputCounts::default();

    let pass = run_ordered(
        options.workers,
        options.workers * 2 + 2,
        |push| feed(inputs, max_line, push),
        |_| Ok(()),
        |(), block| Ok(check_block(block, cap, max_line, compression)),
        |checked: CheckedBlock| {
            counts.input_records += checked.lines;
            counts.blank_lines += checked.blank;
            attempt.write_members(checked.members)?;
            for entry in &checked.rejected {
                attempt.reject(entry)?;
            }
            Ok(())
        },
    )
    .map(|_| ())
    .and_then(|()| {
        if counts.input_records == 0 && !options.allow_empty {
            return Err(PipelineError::EmptyInput {
                stage: stage.url().to_string(),
                interval: interval.to_string(),
            });
        }
        Ok(())
    });
    attempt.after_pass(pass)?.commit(
        &options.max_rejected,
        weir_producer("stage", vec![]),
        counts,
        vec![],
    )
}

fn feed(
    inputs: &[Input],
    max_line: usize,
    push: &mut dyn FnMut(RawBlock) -> bool,
) -> Result<(), PipelineError> {
    let new_block = |object: &Arc<str>| RawBlock {
        object: Arc::clone(object),
        data: Vec::with_capacity(MEMBER_BYTES + 64 * 1024),
        spans: Vec::with_capacity(BLOCK_LINES),
        blank: 0,
    };
    for input in inputs {
        let object: Arc<str> = input.name().into();
        let mut lines = input.lines(max_line)?;
        let mut block = new_block(&object);
        let mut first = true;
        loop {
            let start = block.data.len();
            let Some(event) = lines.next_into(&mut block.data)? else {
                break;
            };
            match event.kind {
                LineKind::Content => {
                    let end = block.data.len();
                    if std::mem::take(&mut first) {
                        refuse_delimited(&object, event.number, &block.data[start..end])?;
                    }
                    block.data.push(b'\n');
                    block.spans.push(Span::Content {
                        number: event.number,
                        start,
                        end,
                    });
                }
                LineKind::Blank => block.blank += 1,
                LineKind::TooLong { len, prefix } => block.spans.push(Span::TooLong {
                    number: event.number,
                    len,
                    prefix,
                }),
            }
            if block.data.len() >= MEMBER_BYTES || block.spans.len() >= BLOCK_LINES {
                let full = std::mem::replace(&mut block, new_block(&object));
                if !push(full) {
                    return Ok(());
                }
            }
        }
        if (!block.spans.is_empty() || block.blank > 0) && !push(block) {
            return Ok(());
        }
    }
    Ok(())
}

/// Refuses an input whose first record is not JSON but reads as a CSV or
/// TSV header (the most common wrong file to stage): every one of its
/// lines would be quarantined, and the message would only say "invalid
/// JSON".
fn refuse_delimited(object: &str, line: u64, first: &[u8]) -> Result<(), PipelineError> {
    if check_record(first).is_ok() {
        return Ok(());
    }
    let Some(kind) = delimited_kind(first) else {
        return Ok(());
    };
    let shown: String = String::from_utf8_lossy(first).chars().take(80).collect();
    Err(PipelineError::BadInput {
        object: object.to_owned(),
        line,
        reason: format!(
            "this looks like {kind} (`{shown}`), not NDJSON: weir stage takes one JSON object per line. \
             Convert it first, e.g. pandas.read_csv(path).to_json(out, orient=\"records\", lines=True), \
             or stage the frame with weir.write_stage; nothing was committed"
        ),
    })
}

/// `Some("CSV")` or `Some("TSV")` if `line` reads as a header or row of
/// delimited text: not a JSON value, and two or more fields. A quoted header
/// (`"id","text"`, what R's `write.csv` and Excel write) counts; a line that
/// is one JSON string (`"a,b"`) does not.
fn delimited_kind(line: &[u8]) -> Option<&'static str> {
    let text = std::str::from_utf8(line)
        .ok()?
        .trim_start_matches('\u{feff}')
        .trim();
    if text.is_empty() || matches!(text.as_bytes()[0], b'{' | b'[') {
        return None;
    }
    if text.starts_with('"') && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
        return None;
    }
    [("TSV", '\t'), ("CSV", ','), ("CSV", ';')]
        .into_iter()
        .find(|(_, sep)| text.split(*sep).filter(|f| !f.trim().is_empty()).count() >= 2)
        .map(|(kind, _)| kind)
}

fn check_block(
    block: RawBlock,
    cap: u64,
    max_line: usize,
    compression: Compression,
) -> CheckedBlock {
    let mut rejected = Vec::new();
    let mut keep = Vec::with_capacity(block.spans.len());
    for span in &block.spans {
        match span {
            Span::Content { number, start, end } => {
                let line = &block.data[*start..*end];
                let size = line.len() as u64 + 1;
                let problem = if size > cap {
                    Some(format!(
                        "record of {size} bytes exceeds the batch cap of {cap} bytes (--max-batch-bytes)"
                    ))
                } else {
                    check_record(line).err().map(|p| p.to_string())
                };
                match problem {
                    None => keep.push((*start, *end)),
                    Some(reason) => {
                        rejected.push(QuarantineEntry::new(&block.object, *number, reason, line))
                    }
                }
            }
            Span::TooLong {
                number,
                len,
                prefix,
            } => rejected.push(QuarantineEntry::too_long(
                &block.object,
                *number,
                too_long_reason(*len, max_line),
                prefix,
                *len,
            )),
        }
    }
    let member_cap = MEMBER_BYTES.min(usize::try_from(cap).unwrap_or(usize::MAX));
    let members = if rejected.is_empty() {
        // Every line is good: the block's bytes already are the output.
        compression.compress_lines(&block.data, member_cap)
    } else {
        let mut good = Vec::with_capacity(block.data.len());
        for (start, end) in keep {
            good.extend_from_slice(&block.data[start..=end]);
        }
        compression.compress_lines(&good, member_cap)
    };
    CheckedBlock {
        members,
        lines: block.spans.len() as u64,
        blank: block.blank,
        rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_tsv_headers_are_told_from_json_and_plain_text() {
        assert_eq!(delimited_kind(b"id,text,updated_at"), Some("CSV"));
        assert_eq!(delimited_kind("\u{feff}id;text".as_bytes()), Some("CSV"));
        assert_eq!(delimited_kind(b"id\ttext"), Some("TSV"));
        assert_eq!(delimited_kind(b"1,hello"), Some("CSV"));
        assert_eq!(delimited_kind(b"{\"id\":1,\"text\":\"a,b\"}"), None);
        assert_eq!(delimited_kind(b"[1,2]"), None);
        assert_eq!(delimited_kind(b"\"id\",\"text\""), Some("CSV"));
        assert_eq!(delimited_kind(b"\"id\";\"text\""), Some("CSV"));
        assert_eq!(delimited_kind(b"\"a,b\""), None);
        assert_eq!(delimited_kind(b"not json at all"), None);
        assert_eq!(delimited_kind(b"trailing,"), None);
    }

    #[test]
    fn only_a_first_line_that_is_not_a_record_is_refused() {
        assert!(refuse_delimited("a.csv", 1, b"{\"a\":1}").is_ok());
        assert!(refuse_delimited("a.ndjson", 1, b"oops").is_ok());
        let e = refuse_delimited("a.csv", 1, b"id,text").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("a.csv:1: this looks like CSV (`id,text`), not NDJSON"),
            "{text}"
        );
    }
}
