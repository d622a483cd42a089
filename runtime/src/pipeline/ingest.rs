//! Ingest: files or stdin into an interval of a stage (`weir stage`).
//!
//! A feeder thread reads the inputs (plain or gzip, sniffed by content) and
//! cuts them into blocks of lines; workers check every line and compress the
//! good ones into gzip members; the calling thread appends members to parts
//! and rejected lines to the quarantine, in input order. Nothing is visible
//! until the manifest is committed, and nothing is committed when the
//! rejected lines exceed the error budget.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::runtime::Handle;

use super::Budget;
use super::ordered::run_ordered;
use crate::batch::gzip::{self, Member};
use crate::batch::lines::{DEFAULT_MAX_LINE_BYTES, LineKind, LineReader, too_long_reason};
use crate::batch::record::check_record;
use crate::error::StageError;
use crate::interval::Interval;
use crate::manifest::{Producer, Totals, WEIR_PRODUCER};
use crate::quarantine::QuarantineEntry;
use crate::stage::Stage;
use crate::staging::{Commit, IntervalWriter, WriteOptions, read_error};

/// Lines per block handed to a worker.
const BLOCK_LINES: usize = 4096;
/// Rejected lines logged one by one before only counting.
const LOGGED_REJECTS: u64 = 20;

/// Where records come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file, plain or gzip.
    File(PathBuf),
}

impl Input {
    /// The name used in quarantine entries and errors.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".into(),
            Input::File(p) => p.display().to_string(),
        }
    }

    /// Opens the input, decompressing it when it starts with the gzip magic.
    fn open(&self) -> Result<Box<dyn BufRead + Send>, StageError> {
        let raw: Box<dyn Read + Send> = match self {
            Input::Stdin => Box::new(io::stdin()),
            Input::File(p) => Box::new(File::open(p).map_err(|source| StageError::Io {
                path: p.display().to_string(),
                source,
            })?),
        };
        let mut buffered = BufReader::with_capacity(256 * 1024, raw);
        let head = buffered
            .fill_buf()
            .map_err(|e| read_error(&self.name(), e))?;
        let named_gz = matches!(self, Input::File(p) if p.extension().is_some_and(|e| e == "gz"));
        if named_gz && !gzip::is_gzip(head) {
            return Err(StageError::Read {
                object: self.name(),
                what: if head.is_empty() {
                    "empty file named .gz (a gzip file has at least a header)".into()
                } else {
                    "named .gz but does not start with the gzip magic bytes".into()
                },
                source: io::Error::from(io::ErrorKind::InvalidData),
            });
        }
        Ok(if gzip::is_gzip(head) {
            Box::new(BufReader::with_capacity(
                256 * 1024,
                gzip::decoder(buffered),
            ))
        } else {
            Box::new(buffered)
        })
    }
}

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
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            write: WriteOptions::default(),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_rejected: Budget::Count(0),
            workers: super::default_workers(),
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
    handle: &Handle,
    interval: Interval,
    inputs: &[Input],
    options: &IngestOptions,
) -> Result<Commit, StageError> {
    let cap = options.write.max_batch_bytes;
    let level = options.write.level;
    let max_line = options.max_line_bytes;
    let mut writer = IntervalWriter::new(stage, handle, interval, options.write.clone());
    let mut totals = Totals::default();
    let mut rejected = 0u64;

    let result = run_ordered(
        options.workers,
        options.workers * 2 + 2,
        |push| feed(inputs, max_line, push),
        |_| Ok(()),
        |(), block| Ok(check_block(block, cap, max_line, level)),
        |checked: CheckedBlock| {
            totals.input_records += checked.lines;
            totals.blank_lines += checked.blank;
            writer.write_members(checked.members)?;
            for entry in &checked.rejected {
                rejected += 1;
                if rejected <= LOGGED_REJECTS {
                    tracing::warn!("{}:{}: {}", entry.object, entry.line, entry.reason);
                }
                writer.quarantine(entry)?;
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        writer.abort();
        return Err(e);
    }
    if options
        .max_rejected
        .exceeded(rejected, totals.input_records)
    {
        let quarantine = format!("{}/{}", stage.url(), Stage::quarantine_dir(&interval));
        writer.abort();
        return Err(StageError::OverBudget {
            rejected,
            total: totals.input_records,
            budget: options.max_rejected.to_string(),
            quarantine,
        });
    }
    writer.commit(
        Producer {
            name: WEIR_PRODUCER.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            command: "stage".into(),
            transforms: vec![],
        },
        totals,
        vec![],
    )
}

fn feed(
    inputs: &[Input],
    max_line: usize,
    push: &mut dyn FnMut(RawBlock) -> bool,
) -> Result<(), StageError> {
    let new_block = |object: &Arc<str>| RawBlock {
        object: Arc::clone(object),
        data: Vec::with_capacity(gzip::MEMBER_BYTES + 64 * 1024),
        spans: Vec::with_capacity(BLOCK_LINES),
        blank: 0,
    };
    for input in inputs {
        let object: Arc<str> = input.name().into();
        let mut lines = LineReader::new(input.open()?, max_line);
        let mut block = new_block(&object);
        loop {
            let start = block.data.len();
            let Some(event) = lines
                .next_into(&mut block.data)
                .map_err(|e| read_error(&object, e))?
            else {
                break;
            };
            match event.kind {
                LineKind::Content => {
                    let end = block.data.len();
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
            if block.data.len() >= gzip::MEMBER_BYTES || block.spans.len() >= BLOCK_LINES {
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

fn check_block(block: RawBlock, cap: u64, max_line: usize, level: u32) -> CheckedBlock {
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
    let member_cap = gzip::MEMBER_BYTES.min(usize::try_from(cap).unwrap_or(usize::MAX));
    let members = if rejected.is_empty() {
        // Every line is good: the block's bytes already are the output.
        gzip::compress_lines(&block.data, member_cap, level)
    } else {
        let mut good = Vec::with_capacity(block.data.len());
        for (start, end) in keep {
            good.extend_from_slice(&block.data[start..=end]);
        }
        gzip::compress_lines(&good, member_cap, level)
    };
    CheckedBlock {
        members,
        lines: block.spans.len() as u64,
        blank: block.blank,
        rejected,
    }
}
