//! Chains: how a worker passes a chunk through every transform of a step.
//!
//! Owns the per-chunk work ([`Chain`]): setting apart records staging
//! would refuse (in foreign parts), one call per transform per chunk,
//! checking every output line like a staged record, attributing each
//! output to its input for counts and quarantine, dropping records over the
//! batch cap, the transforms' `finish`, and compressing the survivors into
//! gzip members. Knows nothing of stores or threads: `run` feeds it and
//! writes what it returns.

use std::borrow::Cow;
use std::ops::Range;

use weir_engine::Outcome;
use weir_stage::batch::codec::{Compression, MEMBER_BYTES, Member};
use weir_stage::batch::lines::too_long_reason;
use weir_stage::batch::record::check_text;
use weir_stage::manifest::Counts;
use weir_stage::quarantine::QuarantineEntry;

use super::chunk::{Chunk, LongLine};
use super::error::PipelineError;
use super::feed::Block;
use super::step::{Instances, Step, Stop};

/// What a worker made of a block.
pub(super) struct ChunkResult {
    /// The surviving output, compressed.
    pub(super) members: Vec<Member>,
    /// What each transform did, and what was rejected.
    pub(super) tally: Tally,
    /// Input records read.
    pub(super) input_records: u64,
    /// Input bytes read.
    pub(super) input_bytes: u64,
}

/// Per-transform counts and the rejected records of a pass.
pub(super) struct Tally {
    /// One per step of the chain.
    pub(super) counts: Vec<Counts>,
    /// The rejected records, in input order.
    pub(super) rejected: Vec<QuarantineEntry>,
}

impl Tally {
    fn new(steps: usize) -> Self {
        Self {
            counts: vec![Counts::default(); steps],
            rejected: Vec::new(),
        }
    }

    /// Adds another pass's counts and rejections.
    pub(super) fn add(&mut self, other: Tally) {
        for (total, c) in self.counts.iter_mut().zip(&other.counts) {
            total.add(c);
        }
        self.rejected.extend(other.rejected);
    }
}

/// Records on their way through a chain: NDJSON text and, for each
/// record, where it came from.
pub(super) struct Flow<'t> {
    text: Cow<'t, str>,
    origins: Vec<Origin>,
}

/// The record a derived record came from: its line in the chunk, or none
/// for records a transform's `finish` produced.
pub(super) type Origin = Option<u32>;

/// The seed of a call's random values: where its first record lies in the
/// input (part and line), so it is the same whatever the worker count or
/// the sharding; records `finish` made (no origin) share one key.
fn seed_key(chunk: &Chunk, origins: &[Origin]) -> u64 {
    match origins.first().copied().flatten() {
        Some(i) => {
            let (part, line) = chunk.origins[i as usize];
            (u64::from(part) << 40) | (line & ((1 << 40) - 1))
        }
        None => u64::MAX,
    }
}

/// A chain of steps and how a worker runs a chunk through it: what every
/// worker shares, read-only.
pub(super) struct Chain<'a> {
    pub(super) steps: &'a [&'a dyn Step],
    pub(super) parts: &'a [String],
    pub(super) input_stage: String,
    pub(super) cap: u64,
    pub(super) compression: Compression,
    pub(super) chunk_records: usize,
    /// Input lines longer than this are quarantined, not processed.
    pub(super) max_line: usize,
    /// Check every input record as staging does: for parts another tool
    /// committed (Weir checked its own when it wrote them).
    pub(super) check_input: bool,
    /// The run's stop signal: the engine counts the records a transform
    /// fails, the chain counts those it rejects itself.
    pub(super) stop: Stop,
}

impl Chain<'_> {
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

    /// Passes records through the transforms in `steps`, returning the
    /// surviving output and its origins.
    fn pass(
        &self,
        instances: &mut Instances,
        steps: Range<usize>,
        flow: Flow<'_>,
        chunk: &Chunk,
        tally: &mut Tally,
    ) -> Result<(String, Vec<Origin>), PipelineError> {
        let Flow {
            mut text,
            mut origins,
        } = flow;
        for t in steps {
            if origins.is_empty() {
                break;
            }
            let instance = &mut instances[t];
            let module = self.steps[t];
            instance.seed_next_chunk(seed_key(chunk, &origins));
            let processed = instance.process(&text, origins.len())?;
            let mut lines = processed.output.split_inclusive('\n');
            let mut next_text = String::with_capacity(processed.output.len());
            let mut next_origins = Vec::with_capacity(origins.len());
            let c = &mut tally.counts[t];
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
                                self.stop.add_failures(1);
                                tally.rejected.push(self.reject(
                                    chunk,
                                    *origin,
                                    Some(module),
                                    reason,
                                ));
                            }
                        }
                    }
                    Outcome::Failed(reason) => {
                        c.quarantined += 1;
                        tally.rejected.push(self.reject(
                            chunk,
                            *origin,
                            Some(module),
                            reason.clone(),
                        ));
                    }
                }
            }
            text = Cow::Owned(next_text);
            origins = next_origins;
        }
        Ok((text.into_owned(), origins))
    }

    /// Drops output records over the batch cap, quarantining their origin.
    pub(super) fn drop_oversized(
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
                self.stop.add_failures(1);
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
                Err(p) => {
                    self.stop.add_failures(1);
                    rejected.push(self.reject(
                        &chunk,
                        Some(i as u32),
                        None,
                        format!("invalid record in a committed part: {p}"),
                    ));
                }
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
        let member_cap = MEMBER_BYTES.min(usize::try_from(self.cap).unwrap_or(usize::MAX));
        let kept = self.drop_oversized(text, origins, chunk, rejected);
        self.compression.compress_lines(kept.as_bytes(), member_cap)
    }

    /// Passes every record of `chunk` through the whole chain, in calls of
    /// at most `chunk_records` records.
    pub(super) fn run_chunk(
        &self,
        instances: &mut Instances,
        chunk: &Chunk,
        tally: &mut Tally,
    ) -> Result<(String, Vec<Origin>), PipelineError> {
        let n = chunk.len();
        let mut text = String::new();
        let mut origins: Vec<Origin> = Vec::with_capacity(n);
        let mut first = 0;
        while first < n {
            let last = (first + self.chunk_records).min(n);
            let flow = Flow {
                text: Cow::Borrowed(chunk.text_of(first..last)),
                origins: (first as u32..last as u32).map(Some).collect(),
            };
            let (out, out_origins) =
                self.pass(instances, 0..instances.len(), flow, chunk, tally)?;
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
    pub(super) fn process_block(
        &self,
        instances: &mut Instances,
        block: Block,
    ) -> Result<ChunkResult, PipelineError> {
        let (chunk, long) = match block {
            Block::Lines {
                part,
                first_line,
                bytes,
            } => Chunk::from_lines(part, first_line, bytes, self.parts, self.max_line)?,
            Block::TooLong(line) => (Chunk::from_records(std::iter::empty()), vec![line]),
            Block::Fetched {
                part,
                first_line,
                fetch,
            } => Chunk::from_lines(part, first_line, fetch.lines()?, self.parts, self.max_line)?,
        };
        let mut tally = Tally::new(self.steps.len());
        tally.rejected = long.iter().map(|l| self.reject_long(l)).collect();
        self.stop.add_failures(long.len() as u64);
        let read = chunk.len();
        let chunk = self.drop_invalid(chunk, &mut tally.rejected);
        let (text, origins) = self.run_chunk(instances, &chunk, &mut tally)?;
        let members = self.compress(text, &origins, &chunk, &mut tally.rejected);
        Ok(ChunkResult {
            members,
            tally,
            input_records: (read + long.len()) as u64,
            input_bytes: chunk.text.len() as u64 + long.iter().map(|l| l.len + 1).sum::<u64>(),
        })
    }

    /// Runs every transform's `finish`, passing what each emits through the
    /// transforms after it. `workers` is how many instances of each
    /// transform the run has: with more than one, a transform whose
    /// `finish` emits records fails the run
    /// ([`PipelineError::FinishWithWorkers`]), as its output would depend
    /// on which worker got which chunk.
    pub(super) fn finish(
        &self,
        instances: &mut Instances,
        workers: usize,
    ) -> Result<ChunkResult, PipelineError> {
        let (text, mut tally) = self.finish_text(instances, workers)?;
        let members = self.compress(
            text,
            &[],
            &Chunk::from_records(std::iter::empty()),
            &mut tally.rejected,
        );
        Ok(ChunkResult {
            members,
            tally,
            input_records: 0,
            input_bytes: 0,
        })
    }

    /// Calls every step's `finish` in order; what one emits passes through
    /// the steps after it. Returns the output NDJSON with the counts and
    /// rejections.
    pub(super) fn finish_text(
        &self,
        instances: &mut Instances,
        workers: usize,
    ) -> Result<(String, Tally), PipelineError> {
        let empty = Chunk::from_records(std::iter::empty());
        let mut tally = Tally::new(self.steps.len());
        let mut text = String::new();
        let mut origins: Vec<Origin> = Vec::new();
        for t in 0..instances.len() {
            // What earlier transforms emitted at their finish passes through
            // this one before it finishes in turn.
            let flow = Flow {
                text: Cow::Owned(text),
                origins,
            };
            (text, origins) = self.pass(instances, t..t + 1, flow, &empty, &mut tally)?;
            let extra = instances[t].finish()?;
            let module = self.steps[t];
            if workers > 1 && !extra.trim().is_empty() {
                return Err(PipelineError::FinishWithWorkers {
                    transform: module.name().to_owned(),
                    workers,
                });
            }
            for line in extra.split_inclusive('\n') {
                let body = line.strip_suffix('\n').unwrap_or(line);
                match check_text(body) {
                    Ok(()) => {
                        text.push_str(line);
                        origins.push(None);
                        tally.counts[t].emitted += 1;
                    }
                    Err(p) => {
                        self.stop.add_failures(1);
                        tally.rejected.push(self.reject(
                            &empty,
                            None,
                            Some(module),
                            format!(
                                "transform {} produced an invalid record in finish: {p}",
                                module.name()
                            ),
                        ));
                    }
                }
            }
        }
        let text = self.drop_oversized(text, &origins, &empty, &mut tally.rejected);
        Ok((text, tally))
    }
}
