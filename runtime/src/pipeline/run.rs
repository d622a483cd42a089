//! Runs: an interval's committed records through a chain of transforms
//! into the next stage (`weir run`).
//!
//! Owns orchestration: reading the input commit, starting every worker's
//! instances before any output is written, wiring the feeder
//! (`feed`), the workers (`chain`) and the in-order
//! writer ([`super::ordered`]) into one pass, and committing it through the
//! one commit sequence (`attempt`). Output is byte-identical
//! whatever the worker count. A shard runs the same pass over its unit's
//! parts ([`super::shard`]).

use std::ops::Range;
use std::sync::Mutex;
use std::time::Duration;

use weir_engine::{EngineError, Module};
use weir_stage::batch::codec::Compression;
use weir_stage::batch::lines::DEFAULT_MAX_LINE_BYTES;
use weir_stage::manifest::{Counts, Lineage, TransformInfo, WEIR_PRODUCER};
use weir_stage::quarantine::QuarantineEntry;
use weir_stage::write::{Commit, InputCounts, IntervalWriter, WriteOptions};
use weir_stage::{Interval, Stage};

use super::attempt::{Attempt, weir_producer};
use super::budget::Budget;
use super::chain::{Chain, ChunkResult, Tally};
use super::chunk::Chunk;
use super::error::PipelineError;
use super::feed::feed;
use super::ordered::run_ordered;
use super::plan::Shard;
use super::step::{Instances, Step, Stop, StopReason, transform_infos};

/// Records per chunk handed to a transform call.
pub const CHUNK_RECORDS: usize = 1000;
/// Bytes per chunk handed to a transform call.
pub const CHUNK_BYTES: usize = 1 << 20;
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
    /// The longest the run may take; past it, it stops and commits
    /// nothing. A call already running ends at its own per-call limit.
    pub max_run_time: Option<Duration>,
    /// The command line, recorded in the manifest.
    pub command: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            write: WriteOptions::default(),
            max_rejected: Budget::Count(0),
            workers: super::settings::default_workers(),
            chunk_records: CHUNK_RECORDS,
            chunk_bytes: CHUNK_BYTES,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_run_time: None,
            command: "run".into(),
        }
    }
}

/// Observes progress (a progress bar, a log line).
pub trait Progress: Sync {
    /// The run is about to read this many uncompressed bytes, holding
    /// this many records.
    fn start(&self, _total_bytes: u64, _total_records: u64) {}
    /// Another chunk of `bytes` input bytes and `records` records is done.
    fn advance(&self, _bytes: u64, _records: u64) {}
}

/// No progress reporting.
pub struct NoProgress;
impl Progress for NoProgress {}

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
    interval: Interval,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<RunSummary, PipelineError> {
    let steps: Vec<&dyn Step> = modules.iter().map(|m| m as &dyn Step).collect();
    run_steps(&steps, input, output, interval, options, progress)
}

/// Runs `steps` in order over `interval` of `input` and commits the result
/// to the same interval of `output`.
pub fn run_steps(
    steps: &[&dyn Step],
    input: &Stage,
    output: &Stage,
    interval: Interval,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<RunSummary, PipelineError> {
    let done = execute(steps, input, output, interval, options, progress, None)?;
    let quarantined = done.attempt.rejected();
    let counts = InputCounts {
        input_records: done.input_records,
        filtered: done.counts.iter().map(|c| c.filtered).sum(),
        blank_lines: 0,
    };
    let producer = weir_producer(&options.command, transform_infos(steps, &done.counts));
    let commit =
        done.attempt
            .commit(&options.max_rejected, producer, counts, vec![done.lineage])?;
    Ok(RunSummary {
        commit,
        quarantined,
    })
}

/// What a pass over the input left to commit (or to seal, for a shard).
pub(super) struct Executed {
    pub(super) attempt: Attempt,
    pub(super) counts: Vec<Counts>,
    pub(super) input_records: u64,
    /// The input commit read.
    pub(super) lineage: Lineage,
    /// The input parts read: indices into the input manifest's parts.
    pub(super) parts: Range<usize>,
}

/// Passes the committed input (all of it, or one shard's parts) through
/// `steps` into an uncommitted attempt on `output`.
pub(super) fn execute(
    steps: &[&dyn Step],
    input: &Stage,
    output: &Stage,
    interval: Interval,
    options: &RunOptions,
    progress: &dyn Progress,
    shard: Option<Shard>,
) -> Result<Executed, PipelineError> {
    let (manifest, manifest_sha256) = input.read_manifest(&interval)?;
    let range = match shard {
        Some(s) => s.parts(manifest.parts.len()),
        None => 0..manifest.parts.len(),
    };
    // The budget is known in records before the first is read (the input's
    // manifest counts them), so a run stops as soon as it is exceeded: a
    // chunk of runaway records re-run one by one would otherwise cost one
    // per-call deadline each, hours for a few thousand. A shard stops on the
    // whole interval's budget, which its own rejections count towards.
    let total: u64 = manifest.parts.iter().map(|p| p.records).sum();
    // What this pass reads (all of it, or the shard's parts): once all is
    // read, the budget and the deadline are left to the commit, which
    // reports the whole count.
    let to_read: u64 = manifest.parts[range.clone()]
        .iter()
        .map(|p| p.records)
        .sum();
    let stop = Stop::new(
        Some(options.max_rejected.most_rejected(total)),
        options.max_run_time,
    );
    // Every worker's instances are started before any output is written, so
    // a transform that rejects its config fails the run with nothing staged.
    let workers = options.workers.max(1);
    let mut chains = Vec::with_capacity(workers);
    for _ in 0..workers {
        let mut instances = steps
            .iter()
            .map(|s| s.start())
            .collect::<Result<Instances, _>>()?;
        for instance in &mut instances {
            instance.stop_when(&stop);
        }
        chains.push(Some(instances));
    }
    let chains = Mutex::new(chains);
    let parts: Vec<String> = manifest.parts.iter().map(|p| p.path.clone()).collect();
    let chain = Chain {
        steps,
        parts: &parts,
        input_stage: input.url().to_string(),
        cap: options.write.max_batch_bytes,
        compression: options.write.compression,
        chunk_records: options.chunk_records.max(1),
        max_line: options.max_line_bytes,
        check_input: manifest.producer.name != WEIR_PRODUCER,
        stop: stop.clone(),
    };
    progress.start(
        manifest.parts[range.clone()]
            .iter()
            .map(|p| p.uncompressed_bytes)
            .sum(),
        to_read,
    );

    let writer = IntervalWriter::new(output, interval, options.write.clone());
    let mut attempt = Attempt::new(output, &interval, writer);
    let mut counts = vec![Counts::default(); steps.len()];
    let mut input_records = 0u64;
    let stopped = |reason: StopReason, attempt: &Attempt, read: u64| match reason {
        StopReason::Failures { failed, .. } => {
            attempt.over_budget(&options.max_rejected, failed, total, true)
        }
        StopReason::Deadline { limit } => PipelineError::OutOfTime {
            limit: humantime::format_duration(limit).to_string(),
            read,
            total: to_read,
        },
    };
    let mut sink = |r: ChunkResult, attempt: &mut Attempt| -> Result<(), PipelineError> {
        input_records += r.input_records;
        for (sum, c) in counts.iter_mut().zip(&r.tally.counts) {
            sum.add(c);
        }
        attempt.write_members(r.members)?;
        for entry in &r.tally.rejected {
            attempt.reject(entry)?;
        }
        progress.advance(r.input_bytes, r.input_records);
        match stop.reason() {
            Some(reason) if input_records < to_read => Err(stopped(reason, attempt, input_records)),
            _ => Ok(()),
        }
    };

    let result = run_ordered(
        workers,
        workers * 2 + 2,
        |push| {
            feed(
                input,
                &manifest,
                range.clone(),
                options.chunk_bytes,
                options.max_line_bytes,
                push,
            )
        },
        |i| {
            chains.lock().unwrap_or_else(|p| p.into_inner())[i]
                .take()
                .ok_or_else(|| {
                    PipelineError::Engine(EngineError::Setup {
                        message: "worker started twice".into(),
                    })
                })
        },
        |instances: &mut Instances, block| chain.process_block(instances, block),
        |r| sink(r, &mut attempt),
    );
    let pass = result.and_then(|mut states| {
        let workers = states.len();
        for instances in &mut states {
            let r = chain.finish(instances, workers)?;
            sink(r, &mut attempt)?;
        }
        Ok(())
    });
    // A worker that gave up a record-by-record re-run because the run was
    // stopping reports why the run stopped, not the re-run it left.
    let pass = pass.map_err(|e| match e {
        PipelineError::Engine(EngineError::Stopped { reason, .. }) => {
            stopped(reason, &attempt, input_records)
        }
        e => e,
    });
    let attempt = attempt.after_pass(pass)?;
    Ok(Executed {
        attempt,
        counts,
        input_records,
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
) -> Result<RecordsRun, PipelineError> {
    let chain = Chain {
        steps,
        parts: objects,
        input_stage,
        cap,
        // Unused: the records come back as text, not members.
        compression: Compression::default(),
        chunk_records: chunk_records.max(1),
        // Records come whole, not as lines of a part.
        max_line: usize::MAX,
        check_input: false,
        stop: Stop::default(),
    };
    let chunk = Chunk::from_records(records);
    let mut instances: Instances = steps.iter().map(|s| s.start()).collect::<Result<_, _>>()?;
    let mut tally = Tally {
        counts: vec![Counts::default(); steps.len()],
        rejected: Vec::new(),
    };
    let (text, origins) = chain.run_chunk(&mut instances, &chunk, &mut tally)?;
    let mut output = chain.drop_oversized(text, &origins, &chunk, &mut tally.rejected);
    if finish {
        let (extra, extra_tally) = chain.finish_text(&mut instances, 1)?;
        output.push_str(&extra);
        tally.add(extra_tally);
    }
    Ok(RecordsRun {
        output,
        rejected: tally.rejected,
        transforms: transform_infos(steps, &tally.counts),
    })
}
