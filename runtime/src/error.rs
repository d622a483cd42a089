//! Typed errors of the staging library, each naming what failed and where.
//!
//! Record-level problems are not errors here: they are quarantined (see
//! `quarantine`). These are the problems that fail a batch or a run.

use std::io;

/// Something went wrong with a stage, an object in it, or a commit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StageError {
    /// The stage argument is not usable.
    #[error("invalid stage {stage:?}: {reason}")]
    InvalidStage {
        /// What the user gave.
        stage: String,
        /// Why it is refused.
        reason: String,
    },
    /// The object store could not be set up (bad URL, missing settings).
    #[error("cannot open stage {stage}")]
    OpenStore {
        /// The stage.
        stage: String,
        /// The store's error (boxed: it is large).
        source: Box<object_store::Error>,
    },
    /// A store operation failed (after object_store's retries).
    #[error("{operation} {object} on stage {stage} failed")]
    Store {
        /// The stage.
        stage: String,
        /// What was being done: "reading", "writing", "listing", "deleting".
        operation: &'static str,
        /// The object or prefix, relative to the stage.
        object: String,
        /// The store's error (boxed: it is large).
        source: Box<object_store::Error>,
    },
    /// The interval has no manifest, so nothing is committed there.
    #[error("interval {interval} of stage {stage} is not committed (no {manifest})")]
    NotCommitted {
        /// The stage.
        stage: String,
        /// The interval.
        interval: String,
        /// The manifest object looked for.
        manifest: String,
    },
    /// A manifest that cannot be trusted or understood.
    #[error("manifest {object} on stage {stage}: {reason}")]
    BadManifest {
        /// The stage.
        stage: String,
        /// The manifest object, relative to the stage.
        object: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An input or part could not be decompressed or read.
    #[error("{object}: {what}")]
    Read {
        /// The object or file.
        object: String,
        /// What went wrong, e.g. "corrupt or truncated gzip data".
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A part does not match what its manifest says.
    #[error("{object}: {detail}")]
    Integrity {
        /// The part, relative to the stage.
        object: String,
        /// The mismatch.
        detail: String,
    },
    /// More records were rejected than the error budget allows.
    #[error(
        "{rejected} of {total} records were rejected, over the budget of {budget}; nothing was committed. Rejected records are listed above; rerun with a larger --max-rejected to commit them to {quarantine}"
    )]
    OverBudget {
        /// How many were rejected.
        rejected: u64,
        /// How many records were read.
        total: u64,
        /// The budget, as given.
        budget: String,
        /// Where the quarantine would have gone.
        quarantine: String,
    },
    /// A local file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// The run was cancelled before it committed.
    #[error("cancelled before commit; nothing was committed")]
    Cancelled,
}
