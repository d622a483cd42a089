//! Run: an interval's committed records through a chain of transforms into
//! the next stage (`weir run`).
//!
//! The feeder reads the input's parts (only those its manifest lists, each
//! verified) and cuts them into chunks of about 1000 records or 1 MiB. Each
//! worker owns one instance of every transform of the chain and passes a
//! chunk through all of them in one go: no intermediate staging. Output
//! lines are checked like staged records, then compressed into gzip members
//! by the worker; the calling thread writes members and quarantine entries
//! in input order, so output is byte-identical whatever the worker count.
//! A record a transform rejects is quarantined with its original bytes,
//! its source part and line, the transform and the module's digest. A line
//! longer than `--max-line-bytes` is quarantined with its length and first
//! KiB, like `weir stage` does, and never buffered whole: the feeder stops
//! collecting it at the limit and only reads on to its end.

use std::borrow::Cow;
use std::io::Read;
use std::ops::Range;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use tokio::runtime::Handle;
use weir_engine::{EngineError, Instance, Module, Outcome, Processed};

use super::Budget;
use super::ordered::run_ordered;
use crate::batch::gzip::{self, Member};
use crate::batch::lines::{DEFAULT_MAX_LINE_BYTES, TOO_LONG_PREFIX, too_long_reason};
use crate::batch::record::check_text;
use crate::error::StageError;
use crate::interval::Interval;
use crate::manifest::{Lineage, Manifest, Producer, Totals, TransformInfo, WEIR_PRODUCER};
use crate::quarantine::QuarantineEntry;
use crate::stage::Stage;
use crate::staging::{Commit, IntervalWriter, WriteOptions, read_error};

/// Records per chunk handed to a transform call.
pub const CHUNK_RECORDS: usize = 1000;
/// Bytes per chunk handed to a transform call.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Rejected records logged one by one before only counting.
const LOGGED_REJECTS: u64 = 20;

/// A run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Reading the input or writing the output failed.
    #[error(transparent)]
    Stage(#[from] StageError),
    /// A transform could not be loaded, started or finished.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Shard results cannot be committed.
    #[error(transparent)]
    Shard(#[from] super::shard::ShardError),
    /// The input holds something a Weir stage never does.
    #[error("{object}:{line}: {reason}")]
    BadInput {
        /// The part.
        object: String,
        /// The 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How output parts are written.
    pub write: WriteOptions,
    /// How many rejected records still allow a commit.
    pub max_rejected: Budget,
    /// Worker threads, each with its own instance of every transform.
    pub workers: usize,
    /// Records per transform call.
    pub chunk_records: usize,
    /// Bytes per transform call.
    pub chunk_bytes: usize,
    /// Input lines longer than this are quarantined without being held in
    /// memory whole.
    pub max_line_bytes: usize,
    /// The command line, recorded in the manifest.
    pub command: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            write: WriteOptions::default(),
            max_rejected: Budget::Count(0),
            workers: super::default_workers(),
            chunk_records: CHUNK_RECORDS,
            chunk_bytes: CHUNK_BYTES,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            command: "run".into(),
        }
    }
}

/// Observes progress (a progress bar, a log line).
pub trait Progress: Sync {
    /// The run is about to read this many uncompressed bytes.
    fn start(&self, _total_bytes: u64) {}
    /// Another chunk of `bytes` input bytes and `records` records is done.
    fn advance(&self, _bytes: u64, _records: u64) {}
}

/// No progress reporting.
pub struct NoProgress;
impl Progress for NoProgress {}

/// One transform of a chain as the pipeline sees it: a loaded wasm module,
/// or native code (the benchmark's baseline).
pub trait Step: Sync {
    /// Its name, for quarantine entries and logs.
    fn name(&self) -> &str;
    /// The module's sha256, or a label for native code.
    fn sha256(&self) -> &str;
    /// What the manifest records about it (counts are filled in by the run).
    fn describe(&self) -> TransformInfo;
    /// A fresh, initialised instance.
    fn start(&self) -> Result<Box<dyn StepInstance>, RunError>;
}

/// A running instance of a [`Step`].
pub trait StepInstance: Send {
    /// Processes a chunk of `records` NDJSON lines.
    fn process(&mut self, input: &str, records: usize) -> Result<Processed, RunError>;
    /// Ends the instance, returning extra NDJSON records.
    fn finish(&mut self) -> Result<String, RunError>;
}

impl Step for Module {
    fn name(&self) -> &str {
        Module::name(self)
    }
    fn sha256(&self) -> &str {
        Module::sha256(self)
    }
    fn describe(&self) -> TransformInfo {
        TransformInfo {
            name: self.name().to_owned(),
            module_sha256: self.sha256().to_owned(),
            module_bytes: self.size(),
            config_sha256: hex::encode(Sha256::digest(self.config_json().as_bytes())),
            limits: serde_json::json!({
                "memory_bytes": self.limits().memory_bytes,
                "cpu_time_per_call_ms": self.limits().cpu_time_per_call.as_millis() as u64,
                "max_record_output_bytes": self.limits().max_record_output_bytes,
                "max_call_output_bytes": self.limits().max_call_output_bytes,
            }),
            grants: self
                .assets()
                .map(|a| vec![format!("assets:{}", a.display())])
                .unwrap_or_default(),
            records_in: 0,
            records_out: 0,
            emitted: 0,
            filtered: 0,
            quarantined: 0,
        }
    }
    fn start(&self) -> Result<Box<dyn StepInstance>, RunError> {
        Ok(Box::new(self.instantiate()?))
    }
}

impl StepInstance for Instance {
    fn process(&mut self, input: &str, records: usize) -> Result<Processed, RunError> {
        Ok(Instance::process(self, input, records)?)
    }
    fn finish(&mut self) -> Result<String, RunError> {
        Ok(Instance::finish(self)?)
    }
}

pub(super) type Instances = Vec<Box<dyn StepInstance>>;

/// What the feeder hands to the workers.
enum Block {
    /// Whole lines of one part.
    Lines {
        part: u32,
        first_line: u64,
        bytes: Vec<u8>,
    },
    /// A line that passed the limit before its end was read.
    TooLong(LongLine),
}

/// A line longer than the limit: quarantined with its length and first
/// bytes, never passed to a transform.
struct LongLine {
    part: u32,
    line: u64,
    /// Its length without the line end.
    len: u64,
    /// Its first [`TOO_LONG_PREFIX`] bytes.
    prefix: Vec<u8>,
}

/// One chunk of input records.
pub(super) struct Chunk {
    text: String,
    /// (part index, line) of each record.
    origins: Vec<(u32, u64)>,
    /// Where each record starts in `text`.
    starts: Vec<usize>,
}

impl Chunk {
    /// Splits whole lines of a part (line `first_line` onwards) into
    /// records, checking they are UTF-8 and not blank (a committed part
    /// never has either). Lines longer than `max_line` are left out and
    /// returned apart, whatever their bytes.
    fn from_lines(
        part: u32,
        first_line: u64,
        bytes: Vec<u8>,
        parts: &[String],
        max_line: usize,
    ) -> Result<(Self, Vec<LongLine>), RunError> {
        let bad = |line: u64, reason: &str| RunError::BadInput {
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

    fn record(&self, i: usize) -> &str {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
        // Without the `\n`.
        &self.text[self.starts[i]..end.saturating_sub(1).max(self.starts[i])]
    }
}

/// Per-transform counters.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counts {
    pub(super) records_in: u64,
    pub(super) records_out: u64,
    pub(super) emitted: u64,
    pub(super) filtered: u64,
    pub(super) quarantined: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.records_in += o.records_in;
        self.records_out += o.records_out;
        self.emitted += o.emitted;
        self.filtered += o.filtered;
        self.quarantined += o.quarantined;
    }
}

/// What a worker made of a chunk.
struct ChunkResult {
    members: Vec<Member>,
    rejected: Vec<QuarantineEntry>,
    counts: Vec<Counts>,
    input_records: u64,
    input_bytes: u64,
}

/// The record a derived record came from: its line in the chunk, or none
/// for records a transform's `finish` produced.
pub(super) type Origin = Option<u32>;

/// Everything the workers share, read-only.
pub(super) struct Shared<'a> {
    pub(super) steps: &'a [&'a dyn Step],
    pub(super) parts: &'a [String],
    pub(super) input_stage: String,
    pub(super) cap: u64,
    pub(super) level: u32,
    pub(super) chunk_records: usize,
    /// Input lines longer than this are quarantined, not processed.
    pub(super) max_line: usize,
    /// Check every input record as staging does: for parts another tool
    /// committed (Weir checked its own when it wrote them).
    pub(super) check_input: bool,
}

impl Shared<'_> {
    fn reject(
        &self,
        chunk: &Chunk,
        origin: Origin,
        transform: Option<&dyn Step>,
        reason: String,
    ) -> QuarantineEntry {
        let (object, line, bytes) = match origin {
            Some(i) => {
                let (part, line) = chunk.origins[i as usize];
                (
                    self.parts[part as usize].as_str(),
                    line,
                    chunk.record(i as usize).as_bytes(),
                )
            }
            None => ("<finish>", 0, &b""[..]),
        };
        let mut e = QuarantineEntry::new(object, line, reason, bytes);
        e.input_stage = Some(self.input_stage.clone());
        if let Some(step) = transform {
            e.transform = Some(step.name().to_owned());
            e.module_sha256 = Some(step.sha256().to_owned());
        }
        e
    }

    /// The quarantine entry of a line over the limit, as `weir stage`
    /// writes one.
    fn reject_long(&self, long: &LongLine) -> QuarantineEntry {
        let mut e = QuarantineEntry::too_long(
            &self.parts[long.part as usize],
            long.line,
            too_long_reason(long.len, self.max_line),
            &long.prefix,
            long.len,
        );
        e.input_stage = Some(self.input_stage.clone());
        e
    }

    /// Passes NDJSON `text` (of `origins.len()` records) through the
    /// transforms in `steps`, returning the surviving output and its origins.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn chain(
        &self,
        instances: &mut Instances,
        steps: Range<usize>,
        mut text: Cow<'_, str>,
        mut origins: Vec<Origin>,
        chunk: &Chunk,
        counts: &mut [Counts],
        rejected: &mut Vec<QuarantineEntry>,
    ) -> Result<(String, Vec<Origin>), RunError> {
        for t in steps {
            if origins.is_empty() {
                break;
            }
            let instance = &mut instances[t];
            let module = self.steps[t];
            let processed = instance.process(&text, origins.len())?;
            let mut lines = processed.output.split_inclusive('\n');
            let mut next_text = String::with_capacity(processed.output.len());
            let mut next_origins = Vec::with_capacity(origins.len());
            let c = &mut counts[t];
            for (outcome, origin) in processed.outcomes.iter().zip(&origins) {
                c.records_in += 1;
                match outcome {
                    Outcome::Emitted(0) => c.filtered += 1,
                    Outcome::Emitted(n) => {
                        let start = next_text.len();
                        let mut problem = None;
                        for _ in 0..*n {
                            // The engine checked that the counts add up.
                            let line = lines.next().unwrap_or_default();
                            let body = line.strip_suffix('\n').unwrap_or(line);
                            if problem.is_none()
                                && let Err(p) = check_text(body)
                            {
                                problem = Some(format!(
                                    "transform {} produced an invalid record: {p}",
                                    module.name()
                                ));
                            }
                            next_text.push_str(line);
                        }
                        match problem {
                            None => {
                                c.records_out += 1;
                                c.emitted += u64::from(*n);
                                next_origins.extend(std::iter::repeat_n(*origin, *n as usize));
                            }
                            Some(reason) => {
                                next_text.truncate(start);
                                c.quarantined += 1;
                                rejected.push(self.reject(chunk, *origin, Some(module), reason));
                            }
                        }
                    }
                    Outcome::Failed(reason) => {
                        c.quarantined += 1;
                        rejected.push(self.reject(chunk, *origin, Some(module), reason.clone()));
                    }
                }
            }
            text = Cow::Owned(next_text);
            origins = next_origins;
        }
        Ok((text.into_owned(), origins))
    }

    /// Drops output records over the batch cap (quarantining their origin)
    /// and compresses the rest.
    /// Drops output records over the batch cap, quarantining their origin.
    fn drop_oversized(
        &self,
        text: String,
        origins: &[Origin],
        chunk: &Chunk,
        rejected: &mut Vec<QuarantineEntry>,
    ) -> String {
        if text
            .split_inclusive('\n')
            .all(|l| l.len() as u64 <= self.cap)
        {
            return text;
        }
        let mut kept = String::with_capacity(text.len());
        for (line, origin) in text.split_inclusive('\n').zip(origins) {
            if line.len() as u64 > self.cap {
                rejected.push(self.reject(
                    chunk,
                    *origin,
                    None,
                    format!(
                        "output record of {} bytes exceeds the batch cap of {} bytes (--max-batch-bytes)",
                        line.len(),
                        self.cap
                    ),
                ));
            } else {
                kept.push_str(line);
            }
        }
        kept
    }

    /// Quarantines the records of `chunk` that are not what staging
    /// accepts (not a JSON object, duplicate keys, nesting deeper than
    /// serde_json's limit, `NaN`) when the input was committed by another
    /// tool (`check_input`): a part Weir committed never holds one, since
    /// staging and `weir run` check every record they write, and checking
    /// again would cost some 6% of a run. Transforms then see only valid
    /// records, whatever their SDK's parser would have made of the others
    /// (Python's `json` takes `NaN` and the last of two equal keys).
    fn drop_invalid(&self, chunk: Chunk, rejected: &mut Vec<QuarantineEntry>) -> Chunk {
        if !self.check_input {
            return chunk;
        }
        let mut keep = Vec::with_capacity(chunk.len());
        for i in 0..chunk.len() {
            match check_text(chunk.record(i)) {
                Ok(()) => keep.push(i),
                Err(p) => rejected.push(self.reject(
                    &chunk,
                    Some(i as u32),
                    None,
                    format!("invalid record in a committed part: {p}"),
                )),
            }
        }
        if keep.len() == chunk.len() {
            return chunk;
        }
        Chunk::from_records(keep.into_iter().map(|i| {
            let (part, line) = chunk.origins[i];
            (part, line, chunk.record(i))
        }))
    }

    /// Drops output records over the batch cap and compresses the rest.
    fn compress(
        &self,
        text: String,
        origins: &[Origin],
        chunk: &Chunk,
        rejected: &mut Vec<QuarantineEntry>,
    ) -> Vec<Member> {
        let member_cap = gzip::MEMBER_BYTES.min(usize::try_from(self.cap).unwrap_or(usize::MAX));
        let kept = self.drop_oversized(text, origins, chunk, rejected);
        gzip::compress_lines(kept.as_bytes(), member_cap, self.level)
    }

    /// Passes every record of `chunk` through the whole chain, in calls of
    /// at most `chunk_records` records.
    fn run_chunk(
        &self,
        instances: &mut Instances,
        chunk: &Chunk,
        counts: &mut [Counts],
        rejected: &mut Vec<QuarantineEntry>,
    ) -> Result<(String, Vec<Origin>), RunError> {
        let n = chunk.len();
        let mut text = String::new();
        let mut origins: Vec<Origin> = Vec::with_capacity(n);
        let mut first = 0;
        while first < n {
            let last = (first + self.chunk_records).min(n);
            let (out, out_origins) = self.chain(
                instances,
                0..instances.len(),
                Cow::Borrowed(chunk.text_of(first..last)),
                (first as u32..last as u32).map(Some).collect(),
                chunk,
                counts,
                rejected,
            )?;
            if text.is_empty() {
                text = out;
            } else {
                text.push_str(&out);
            }
            origins.extend(out_origins);
            first = last;
        }
        Ok((text, origins))
    }

    /// Processes a block: its records go through the chain in calls of at
    /// most `chunk_records` records; lines over the limit are quarantined.
    fn process_block(
        &self,
        instances: &mut Instances,
        block: Block,
    ) -> Result<ChunkResult, RunError> {
        let (chunk, long) = match block {
            Block::Lines {
                part,
                first_line,
                bytes,
            } => Chunk::from_lines(part, first_line, bytes, self.parts, self.max_line)?,
            Block::TooLong(line) => (Chunk::from_records(std::iter::empty()), vec![line]),
        };
        let mut counts = vec![Counts::default(); self.steps.len()];
        let mut rejected: Vec<QuarantineEntry> = long.iter().map(|l| self.reject_long(l)).collect();
        let read = chunk.len();
        let chunk = self.drop_invalid(chunk, &mut rejected);
        let (text, origins) = self.run_chunk(instances, &chunk, &mut counts, &mut rejected)?;
        let members = self.compress(text, &origins, &chunk, &mut rejected);
        Ok(ChunkResult {
            members,
            rejected,
            counts,
            input_records: (read + long.len()) as u64,
            input_bytes: chunk.text.len() as u64 + long.iter().map(|l| l.len + 1).sum::<u64>(),
        })
    }

    /// Runs every transform's `finish`, passing what each emits through the
    /// transforms after it.
    fn finish(&self, instances: &mut Instances) -> Result<ChunkResult, RunError> {
        let (text, counts, mut rejected) = self.finish_text(instances)?;
        let members = self.compress(
            text,
            &[],
            &Chunk::from_records(std::iter::empty()),
            &mut rejected,
        );
        Ok(ChunkResult {
            members,
            rejected,
            counts,
            input_records: 0,
            input_bytes: 0,
        })
    }

    /// Calls every step's `finish` in order; what one emits passes through
    /// the steps after it. Returns the output NDJSON, the counts and the
    /// rejections.
    fn finish_text(
        &self,
        instances: &mut Instances,
    ) -> Result<(String, Vec<Counts>, Vec<QuarantineEntry>), RunError> {
        let empty = Chunk::from_records(std::iter::empty());
        let mut counts = vec![Counts::default(); self.steps.len()];
        let mut rejected = Vec::new();
        let mut text = String::new();
        let mut origins: Vec<Origin> = Vec::new();
        for t in 0..instances.len() {
            // What earlier transforms emitted at their finish passes through
            // this one before it finishes in turn.
            (text, origins) = self.chain(
                instances,
                t..t + 1,
                Cow::Owned(text),
                origins,
                &empty,
                &mut counts,
                &mut rejected,
            )?;
            let extra = instances[t].finish()?;
            let module = self.steps[t];
            for line in extra.split_inclusive('\n') {
                let body = line.strip_suffix('\n').unwrap_or(line);
                match check_text(body) {
                    Ok(()) => {
                        text.push_str(line);
                        origins.push(None);
                        counts[t].emitted += 1;
                    }
                    Err(p) => rejected.push(self.reject(
                        &empty,
                        None,
                        Some(module),
                        format!(
                            "transform {} produced an invalid record in finish: {p}",
                            module.name()
                        ),
                    )),
                }
            }
        }
        let text = self.drop_oversized(text, &origins, &empty, &mut rejected);
        Ok((text, counts, rejected))
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The commit of the output interval.
    pub commit: Commit,
    /// Records quarantined.
    pub quarantined: u64,
}

/// Runs wasm `modules` in order over `interval` of `input` and commits the
/// result to the same interval of `output`.
pub fn run(
    modules: &[Module],
    input: &Stage,
    output: &Stage,
    handle: &Handle,
    interval: Interval,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<RunSummary, RunError> {
    let steps: Vec<&dyn Step> = modules.iter().map(|m| m as &dyn Step).collect();
    run_steps(&steps, input, output, handle, interval, options, progress)
}

/// Runs `steps` in order over `interval` of `input` and commits the result
/// to the same interval of `output`.
pub fn run_steps(
    steps: &[&dyn Step],
    input: &Stage,
    output: &Stage,
    handle: &Handle,
    interval: Interval,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<RunSummary, RunError> {
    let done = execute(
        steps, input, output, handle, interval, options, progress, None,
    )?;
    if options
        .max_rejected
        .exceeded(done.rejected, done.input_records)
    {
        return Err(done.over_budget(output, &interval, options));
    }
    let totals = Totals {
        input_records: done.input_records,
        filtered: done.counts.iter().map(|c| c.filtered).sum(),
        ..Totals::default()
    };
    let commit = done.writer.commit(
        Producer {
            name: WEIR_PRODUCER.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            command: options.command.clone(),
            transforms: transform_infos(steps, &done.counts),
        },
        totals,
        vec![done.lineage],
    )?;
    Ok(RunSummary {
        commit,
        quarantined: done.rejected,
    })
}

/// What a pass over the input left to commit (or to seal, for a shard).
pub(super) struct Executed {
    pub(super) writer: IntervalWriter,
    pub(super) counts: Vec<Counts>,
    pub(super) input_records: u64,
    pub(super) rejected: u64,
    /// The input commit read.
    pub(super) lineage: Lineage,
    /// The input parts read: indices into the input manifest's parts.
    pub(super) parts: Range<usize>,
}

impl Executed {
    /// Gives up over the error budget: nothing is committed.
    pub(super) fn over_budget(
        self,
        output: &Stage,
        interval: &Interval,
        options: &RunOptions,
    ) -> RunError {
        let quarantine = format!("{}/{}", output.url(), Stage::quarantine_dir(interval));
        self.writer.abort();
        StageError::OverBudget {
            rejected: self.rejected,
            total: self.input_records,
            budget: options.max_rejected.to_string(),
            quarantine,
        }
        .into()
    }
}

/// Passes the committed input (all of it, or one shard's parts) through
/// `steps` into an uncommitted attempt on `output`.
#[allow(clippy::too_many_arguments)]
pub(super) fn execute(
    steps: &[&dyn Step],
    input: &Stage,
    output: &Stage,
    handle: &Handle,
    interval: Interval,
    options: &RunOptions,
    progress: &dyn Progress,
    shard: Option<super::shard::Shard>,
) -> Result<Executed, RunError> {
    let (manifest, manifest_sha256) = input.read_manifest(handle, &interval)?;
    let range = match shard {
        Some(s) => s.parts(manifest.parts.len()),
        None => 0..manifest.parts.len(),
    };
    // Every worker's instances are started before any output is written, so
    // a transform that rejects its config fails the run with nothing staged.
    let workers = options.workers.max(1);
    let mut chains = Vec::with_capacity(workers);
    for _ in 0..workers {
        chains.push(Some(
            steps
                .iter()
                .map(|s| s.start())
                .collect::<Result<Instances, _>>()?,
        ));
    }
    let chains = Mutex::new(chains);
    let parts: Vec<String> = manifest.parts.iter().map(|p| p.path.clone()).collect();
    let shared = Shared {
        steps,
        parts: &parts,
        input_stage: input.url().to_string(),
        cap: options.write.max_batch_bytes,
        level: options.write.level,
        chunk_records: options.chunk_records.max(1),
        max_line: options.max_line_bytes,
        check_input: manifest.producer.name != WEIR_PRODUCER,
    };
    progress.start(
        manifest.parts[range.clone()]
            .iter()
            .map(|p| p.uncompressed_bytes)
            .sum(),
    );

    let mut writer = IntervalWriter::new(output, handle, interval, options.write.clone());
    let mut counts = vec![Counts::default(); steps.len()];
    let mut input_records = 0u64;
    let mut rejected = 0u64;
    let mut sink = |r: ChunkResult, writer: &mut IntervalWriter| -> Result<(), RunError> {
        input_records += r.input_records;
        for (total, c) in counts.iter_mut().zip(&r.counts) {
            total.add(c);
        }
        writer.write_members(r.members)?;
        for entry in &r.rejected {
            rejected += 1;
            if rejected <= LOGGED_REJECTS {
                tracing::warn!(
                    "{}:{}: {}{}",
                    entry.object,
                    entry.line,
                    entry
                        .transform
                        .as_deref()
                        .map(|t| format!("{t}: "))
                        .unwrap_or_default(),
                    entry.reason
                );
            }
            writer.quarantine(entry)?;
        }
        progress.advance(r.input_bytes, r.input_records);
        Ok(())
    };

    let result = run_ordered(
        workers,
        workers * 2 + 2,
        |push| feed(input, handle, &manifest, range.clone(), options, push),
        |i| {
            chains.lock().unwrap_or_else(|p| p.into_inner())[i]
                .take()
                .ok_or_else(|| {
                    RunError::Engine(EngineError::Setup {
                        message: "worker started twice".into(),
                    })
                })
        },
        |instances: &mut Instances, block| shared.process_block(instances, block),
        |r| sink(r, &mut writer),
    );
    let finished = result.and_then(|mut states| {
        for instances in &mut states {
            let r = shared.finish(instances)?;
            sink(r, &mut writer)?;
        }
        Ok(())
    });
    if let Err(e) = finished {
        writer.abort();
        return Err(e);
    }
    Ok(Executed {
        writer,
        counts,
        input_records,
        rejected,
        lineage: Lineage {
            stage: input.url().to_string(),
            interval: interval.rfc3339(),
            manifest_sha256,
        },
        parts: range,
    })
}

/// What [`run_records`] made of its records.
#[derive(Debug, Clone)]
pub struct RecordsRun {
    /// The output records, NDJSON, in input order (then `finish`'s).
    pub output: String,
    /// The rejected records, as quarantine entries.
    pub rejected: Vec<QuarantineEntry>,
    /// Each step with its counts.
    pub transforms: Vec<TransformInfo>,
}

/// Runs records given directly (not read from a stage) through `steps`,
/// with one instance of each, exactly as a run processes them: calls of at
/// most `chunk_records` records, every output line checked, output records
/// over `cap` rejected, and each step's `finish` when `finish` is set.
/// `records` are (index into `objects`, line, JSON text). `weir test` and
/// `weir replay` use it.
pub fn run_records<'r>(
    steps: &[&dyn Step],
    objects: &[String],
    records: impl Iterator<Item = (u32, u64, &'r str)>,
    input_stage: String,
    cap: u64,
    chunk_records: usize,
    finish: bool,
) -> Result<RecordsRun, RunError> {
    let shared = Shared {
        steps,
        parts: objects,
        input_stage,
        cap,
        level: 0,
        chunk_records: chunk_records.max(1),
        // Records come whole, not as lines of a part.
        max_line: usize::MAX,
        check_input: false,
    };
    let chunk = Chunk::from_records(records);
    let mut instances: Instances = steps.iter().map(|s| s.start()).collect::<Result<_, _>>()?;
    let mut counts = vec![Counts::default(); steps.len()];
    let mut rejected = Vec::new();
    let (text, origins) = shared.run_chunk(&mut instances, &chunk, &mut counts, &mut rejected)?;
    let mut output = shared.drop_oversized(text, &origins, &chunk, &mut rejected);
    if finish {
        let (extra, extra_counts, extra_rejected) = shared.finish_text(&mut instances)?;
        output.push_str(&extra);
        for (total, c) in counts.iter_mut().zip(&extra_counts) {
            total.add(c);
        }
        rejected.extend(extra_rejected);
    }
    Ok(RecordsRun {
        output,
        rejected,
        transforms: transform_infos(steps, &counts),
    })
}

/// What the manifest records about each step, with its counts.
pub(super) fn transform_infos(steps: &[&dyn Step], counts: &[Counts]) -> Vec<TransformInfo> {
    steps
        .iter()
        .zip(counts)
        .map(|(step, c)| TransformInfo {
            records_in: c.records_in,
            records_out: c.records_out,
            emitted: c.emitted,
            filtered: c.filtered,
            quarantined: c.quarantined,
            ..step.describe()
        })
        .collect()
}

/// Cuts the input's parts into blocks of whole lines. The feeder only
/// decompresses and finds the last line end of each block; workers split
/// lines, check UTF-8 and build chunks, so the one serial stage stays cheap.
/// A line still without its end once it holds more than
/// `options.max_line_bytes` is buffered no further: the feeder reads on to
/// its end keeping only its length and first bytes ([`Block::TooLong`]).
fn feed(
    input: &Stage,
    handle: &Handle,
    manifest: &Manifest,
    parts: Range<usize>,
    options: &RunOptions,
    push: &mut dyn FnMut(Block) -> bool,
) -> Result<(), RunError> {
    let target = options.chunk_bytes.max(1);
    for (index, part) in manifest
        .parts
        .iter()
        .enumerate()
        .skip(parts.start)
        .take(parts.len())
    {
        let mut reader = input.read_part(handle, part)?;
        let unterminated = |line: u64| RunError::BadInput {
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
            let eof = fill(&mut reader, &mut bytes, want).map_err(|e| read_error(&part.path, e))?;
            let cut = match memchr::memrchr(b'\n', &bytes[scanned..]) {
                Some(i) => scanned + i + 1,
                None if eof => 0,
                None if bytes.len() > options.max_line_bytes => {
                    let skipped = skip_line(&mut reader, bytes, index as u32, first_line)
                        .map_err(|e| read_error(&part.path, e))?;
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
    reader: &mut impl Read,
    head: Vec<u8>,
    part: u32,
    line: u64,
) -> std::io::Result<Option<(LongLine, Vec<u8>)>> {
    let mut len = head.len() as u64;
    let prefix = head[..head.len().min(TOO_LONG_PREFIX)].to_vec();
    drop(head);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
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

/// Reads into `bytes` until it holds `want` bytes or the stream ends;
/// returns whether it ended. (`read_to_end` zeroes the buffer's new space
/// once; resizing before every read zeroed most of a block per read, 1.3%
/// of a whole run's CPU, all of it on the feeder thread.)
fn fill(reader: &mut impl Read, bytes: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    let missing = want.saturating_sub(bytes.len());
    if missing == 0 {
        return Ok(false);
    }
    bytes.reserve(missing);
    let got = reader.take(missing as u64).read_to_end(bytes)?;
    Ok(got < missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::{RetrySettings, StageUrl};

    /// Commits `data` (whole lines) as an interval of a fresh memory stage,
    /// in gzip members of about 1000 bytes and parts of at most
    /// `max_batch_bytes` (a longer line gets a part of its own).
    fn committed(
        rt: &tokio::runtime::Runtime,
        name: &str,
        data: &[u8],
        max_batch_bytes: u64,
    ) -> (Stage, Manifest) {
        let url = StageUrl::parse(&format!("memory:///{name}")).unwrap_or_else(|e| panic!("{e}"));
        let stage = Stage::open(&url, &RetrySettings::default()).unwrap_or_else(|e| panic!("{e}"));
        let interval: Interval = "2026-11-26".parse().unwrap_or_else(|e| panic!("{e}"));
        let options = WriteOptions {
            max_batch_bytes,
            ..WriteOptions::default()
        };
        let mut writer = IntervalWriter::new(&stage, rt.handle(), interval, options);
        writer
            .write_members(gzip::compress_lines(data, 1000, 1))
            .unwrap_or_else(|e| panic!("{e}"));
        let producer = Producer {
            name: "test".into(),
            version: "0".into(),
            command: "test".into(),
            transforms: vec![],
        };
        let commit = writer
            .commit(producer, Totals::default(), vec![])
            .unwrap_or_else(|e| panic!("{e}"));
        (stage, commit.manifest)
    }

    /// What the workers make of the feeder's blocks: the records' text,
    /// their (part, line)s, and the long lines as (part, line, len, prefix).
    type Fed = (String, Vec<(u32, u64)>, Vec<(u32, u64, u64, Vec<u8>)>);

    fn fed(
        stage: &Stage,
        rt: &tokio::runtime::Runtime,
        manifest: &Manifest,
        opts: &RunOptions,
    ) -> Fed {
        let parts: Vec<String> = manifest.parts.iter().map(|p| p.path.clone()).collect();
        let (mut text, mut lines, mut long) = (String::new(), Vec::new(), Vec::new());
        feed(
            stage,
            rt.handle(),
            manifest,
            0..manifest.parts.len(),
            opts,
            &mut |block| {
                let (chunk, too_long) = match block {
                    Block::Lines {
                        part,
                        first_line,
                        bytes,
                    } => Chunk::from_lines(part, first_line, bytes, &parts, opts.max_line_bytes)
                        .unwrap_or_else(|e| panic!("{e}")),
                    Block::TooLong(l) => (Chunk::from_records(std::iter::empty()), vec![l]),
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
        (text, lines, long)
    }

    #[test]
    fn blocks_hold_whole_lines_numbered_from_their_part() {
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        let input: String = (0..500)
            .map(|i| format!("{{\"i\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 37)))
            .collect();
        let (stage, manifest) = committed(&rt, "run-feed-test", input.as_bytes(), 4000);
        assert!(manifest.parts.len() > 3);
        // Blocks far smaller than a line, and larger than several.
        for chunk_bytes in [7, 100, 1 << 20] {
            let opts = RunOptions {
                chunk_bytes,
                ..RunOptions::default()
            };
            let (text, lines, long) = fed(&stage, &rt, &manifest, &opts);
            assert_eq!(text, input, "chunk_bytes {chunk_bytes}");
            assert!(long.is_empty());
            // Line numbers restart at 1 in each part and count up by one.
            let mut expect = Vec::new();
            for (p, part) in manifest.parts.iter().enumerate() {
                expect.extend((1..=part.records).map(|l| (p as u32, l)));
            }
            assert_eq!(lines, expect, "chunk_bytes {chunk_bytes}");
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
        let (stage, manifest) = committed(&rt, "run-long-lines", &input, 1 << 30);
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
            let opts = RunOptions {
                chunk_bytes,
                max_line_bytes: LIMIT,
                ..RunOptions::default()
            };
            let (text, lines, long) = fed(&stage, &rt, &manifest, &opts);
            assert_eq!(long, expect_long, "chunk_bytes {chunk_bytes}");
            assert_eq!(lines, expect_lines, "chunk_bytes {chunk_bytes}");
            assert!(text == expect_text, "chunk_bytes {chunk_bytes}");
        }
    }
}
