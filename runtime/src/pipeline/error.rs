//! The pipeline's one error type: why a step (stage, run, shard, commit,
//! replay, golden test) failed.
//!
//! Owns [`PipelineError`], which wraps the staging and engine errors and
//! adds what only the pipeline decides: the error budget, input no Weir
//! stage holds, and shard results that cannot be merged. Imports no other
//! pipeline module but the error types of `file` and `python`.

use weir_engine::EngineError;
use weir_stage::StageError;

use super::file::PipelineFileError;

/// A pipeline step failed; nothing was committed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// Reading the input or writing the output failed.
    #[error(transparent)]
    Stage(#[from] StageError),
    /// A transform could not be loaded, started or finished.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Reading the database for `weir extract` failed.
    #[error(transparent)]
    Extract(#[from] weir_extract::ExtractError),
    /// The pipeline file cannot be used.
    #[error(transparent)]
    File(#[from] PipelineFileError),
    /// A Python transform run natively (`weir test` on a Python project).
    #[error(transparent)]
    Python(#[from] super::python::PythonError),
    /// A transform declared fields that cannot be used.
    #[error("transform {transform} declared unusable fields: {problem}")]
    Fields {
        /// The transform.
        transform: String,
        /// What is wrong with them.
        problem: weir_stage::batch::fields::SpecProblem,
    },
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
    /// More records were rejected than the error budget allows.
    #[error(
        "{rejected} of {total} records were rejected, over the budget of {budget}; nothing was committed{}. {listed}; rerun with a larger --max-rejected to commit them to {quarantine}",
        stopped_note(*.stopped)
    )]
    OverBudget {
        /// How many were rejected (when `stopped`, before the run stopped).
        rejected: u64,
        /// How many records the input holds.
        total: u64,
        /// Whether the run stopped as soon as the budget was exceeded,
        /// without reading the rest.
        stopped: bool,
        /// The budget, as given.
        budget: String,
        /// Where the quarantine would have gone.
        quarantine: String,
        /// Which rejected records the log lists, e.g. "The first 20 are
        /// listed above".
        listed: String,
    },
    /// The run's time limit (`--max-run-time`) passed before it was done.
    #[error(
        "the run took longer than its time limit of {limit} (--max-run-time, or max_run_time in the pipeline file) and stopped after {read} of {total} records; nothing was committed"
    )]
    OutOfTime {
        /// The limit, as a duration (e.g. `90s`).
        limit: String,
        /// Records done when it stopped.
        read: u64,
        /// How many records the input holds.
        total: u64,
    },
    /// A transform emitted records from `finish` while several workers each
    /// ran an instance of it: what each instance saw, and so what it
    /// emitted, depended on scheduling.
    #[error(
        "transform {transform} emitted records from finish while {workers} workers each ran an instance of it; what an instance sees depends on scheduling, so its output would too. Nothing was committed: run it with --workers 1 (docs/scaling.md, \"finish() runs once per instance\")"
    )]
    FinishWithWorkers {
        /// The transform.
        transform: String,
        /// How many workers ran.
        workers: usize,
    },
    /// `weir stage` read no record at all, and an empty commit was not
    /// asked for.
    #[error(
        "no records to stage into interval {interval} of stage {stage}: the input is empty; nothing was committed. Pass --allow-empty to commit an interval with no records"
    )]
    EmptyInput {
        /// The stage.
        stage: String,
        /// The interval.
        interval: String,
    },
    /// Some shards of a plan have no result.
    #[error(
        "{stage}/{folder}: no result for shard(s) {missing} of {count}; run them (weir run ... --shard INDEX/{count}) before committing"
    )]
    ShardsMissing {
        /// The output stage.
        stage: String,
        /// The results folder.
        folder: String,
        /// The missing shards, e.g. `1/3, 2/3`.
        missing: String,
        /// The plan's shard count.
        count: u32,
    },
    /// Results of two plans cover the same input parts.
    #[error(
        "{stage}/{folder}: duplicated shards: {first} and {second} both cover input parts of interval {interval}; pass --shards COUNT (the plan's count) to commit one plan's shards"
    )]
    ShardsDuplicated {
        /// The output stage.
        stage: String,
        /// The results folder.
        folder: String,
        /// The interval.
        interval: String,
        /// One result.
        first: String,
        /// Another covering the same parts.
        second: String,
    },
    /// A shard result that cannot be merged as it is.
    #[error("{stage}/{object}: {reason}")]
    ShardInvalid {
        /// The output stage.
        stage: String,
        /// The result object.
        object: String,
        /// What is wrong.
        reason: String,
    },
    /// A golden case that cannot be run as it is.
    #[error("{reason}")]
    Golden {
        /// What is wrong, naming the file.
        reason: String,
    },
    /// No shard results to commit.
    #[error(
        "{stage}/{folder}: no shard results for interval {interval}; run `weir plan` and `weir run --shard` first"
    )]
    NoShards {
        /// The output stage.
        stage: String,
        /// The results folder.
        folder: String,
        /// The interval.
        interval: String,
    },
}

impl PipelineError {
    /// The exit code docs/extract.md documents for an extract's failure,
    /// when this is one.
    pub fn extract_exit_code(&self) -> Option<u8> {
        match self {
            PipelineError::Extract(e) => Some(e.exit_code()),
            _ => None,
        }
    }

    /// Whether this is the error budget's refusal (exit code 3).
    pub fn is_over_budget(&self) -> bool {
        matches!(self, PipelineError::OverBudget { .. })
    }

    /// Whether the run's time limit stopped it (exit code 7).
    pub fn is_out_of_time(&self) -> bool {
        matches!(self, PipelineError::OutOfTime { .. })
    }
}

/// What an over-budget message adds when the run stopped at once.
fn stopped_note(stopped: bool) -> &'static str {
    if stopped {
        " (the run stopped as soon as the budget was exceeded, so the rest were not read)"
    } else {
        ""
    }
}
