//! Attempts: the one commit sequence every writing command follows.
//!
//! Owns what `weir stage`, `weir run`, a shard and `weir commit` all do
//! around an [`IntervalWriter`]: log the first rejected records as they are
//! quarantined (then only count), abort the attempt when the pass fails,
//! check the error budget, and commit with Weir as the producer. The
//! staging protocol itself is weir-stage's; this is the pipeline's policy
//! on top of it.

use weir_stage::batch::codec::Member;
use weir_stage::manifest::{Lineage, Producer, TransformInfo, WEIR_PRODUCER};
use weir_stage::quarantine::QuarantineEntry;
use weir_stage::write::{Commit, InputCounts, IntervalWriter, Sealed};
use weir_stage::{Interval, Stage, layout};

use super::budget::Budget;
use super::error::PipelineError;

/// Rejected records logged one by one before only counting.
const LOGGED_REJECTS: u64 = 20;

/// One attempt at an interval of an output stage, with its rejections.
pub(crate) struct Attempt {
    writer: IntervalWriter,
    /// The quarantine folder's address, for messages.
    quarantine: String,
    rejected: u64,
    logged: u64,
}

impl Attempt {
    /// Starts an attempt over a writer for `interval` of `output`.
    pub(crate) fn new(output: &Stage, interval: &Interval, writer: IntervalWriter) -> Self {
        Self {
            writer,
            quarantine: format!("{}/{}", output.url(), layout::quarantine_dir(interval)),
            rejected: 0,
            logged: 0,
        }
    }

    /// Counts `rejected` records this process did not see itself (the
    /// shards a merge commits), for the budget.
    pub(crate) fn with_rejected(mut self, rejected: u64) -> Self {
        self.rejected += rejected;
        self
    }

    /// The writer, for what only some commands record (a replay).
    pub(crate) fn writer(&mut self) -> &mut IntervalWriter {
        &mut self.writer
    }

    /// Rejected records so far.
    pub(crate) fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Appends compressed members to the data parts.
    pub(crate) fn write_members(&mut self, members: Vec<Member>) -> Result<(), PipelineError> {
        Ok(self.writer.write_members(members)?)
    }

    /// Quarantines a rejected record, logging it while few were.
    pub(crate) fn reject(&mut self, entry: &QuarantineEntry) -> Result<(), PipelineError> {
        self.rejected += 1;
        if self.rejected <= LOGGED_REJECTS {
            self.logged += 1;
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
        Ok(self.writer.quarantine(entry)?)
    }

    /// What a pass over the input came to: on an error the attempt is
    /// aborted (nothing it wrote stays) and the error returned.
    pub(crate) fn after_pass(self, pass: Result<(), PipelineError>) -> Result<Self, PipelineError> {
        match pass {
            Ok(()) => Ok(self),
            Err(e) => {
                self.writer.abort();
                Err(e)
            }
        }
    }

    /// Gives the attempt up: nothing it wrote stays (one of several
    /// attempts of a parallel extract whose other connection failed).
    pub(crate) fn abort(self) {
        self.writer.abort();
    }

    /// Checks the budget against `input_records` read; over it, the
    /// attempt is aborted.
    pub(crate) fn check_budget(
        self,
        budget: &Budget,
        input_records: u64,
    ) -> Result<Self, PipelineError> {
        if !budget.exceeded(self.rejected, input_records) {
            return Ok(self);
        }
        let error = self.over_budget(budget, self.rejected, input_records, false);
        self.writer.abort();
        Err(error)
    }

    /// The refusal of `rejected` records of `total`, over `budget`;
    /// `stopped` when the run stopped there without reading the rest.
    pub(crate) fn over_budget(
        &self,
        budget: &Budget,
        rejected: u64,
        total: u64,
        stopped: bool,
    ) -> PipelineError {
        let listed = match self.logged {
            0 => "They were logged by the runs that rejected them".to_owned(),
            n if n == rejected => "They are listed above".to_owned(),
            n => format!("The first {n} are listed above"),
        };
        PipelineError::OverBudget {
            rejected,
            total,
            stopped,
            budget: budget.to_string(),
            quarantine: self.quarantine.clone(),
            listed,
        }
    }

    /// Checks the budget, then commits with `producer`.
    pub(crate) fn commit(
        self,
        budget: &Budget,
        producer: Producer,
        counts: InputCounts,
        lineage: Vec<Lineage>,
    ) -> Result<Commit, PipelineError> {
        let attempt = self.check_budget(budget, counts.input_records)?;
        Ok(attempt.writer.commit(producer, counts, lineage)?)
    }

    /// Finishes the parts without committing them (a shard).
    pub(crate) fn seal(self) -> Result<Sealed, PipelineError> {
        Ok(self.writer.seal()?)
    }
}

/// Weir as the producer of a commit made by `command` with `transforms`.
pub(crate) fn weir_producer(command: &str, transforms: Vec<TransformInfo>) -> Producer {
    Producer {
        name: WEIR_PRODUCER.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: command.to_owned(),
        transforms,
        extract: None,
    }
}
