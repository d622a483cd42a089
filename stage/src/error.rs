//! Typed errors of the staging library, each naming what failed and where,
//! and the one way Weir prints an error with its causes.
//!
//! Record-level problems are not errors here: they are quarantined (see
//! `quarantine`). These are the problems that fail a batch or a run.

use std::error::Error;
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
    /// A stage that is read does not exist: a local folder that is not
    /// there, or a prefix that holds no object.
    #[error("stage {stage} does not exist ({reason})")]
    NoSuchStage {
        /// The stage.
        stage: String,
        /// What was looked for.
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
    /// A read-modify-commit (replay) found that the interval was committed
    /// again after it read the commit it amends; nothing was committed.
    #[error(
        "interval {interval} of stage {stage} was committed again while this attempt ran ({manifest} is no longer the commit it read); nothing committed, run it again"
    )]
    Superseded {
        /// The stage.
        stage: String,
        /// The interval.
        interval: String,
        /// The manifest object.
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

/// An error and its causes, `a: b: c`, leaving out a cause whose text the
/// message before it already contains (object_store's errors repeat their
/// sources in their own message). The one error-chain printer: the CLI,
/// `weir verify` and the golden-case runner all use it.
pub fn error_chain(e: &(dyn Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_names_each_cause_once() {
        let inner = io::Error::other("disk on fire");
        let e = StageError::Io {
            path: "a.ndjson".into(),
            source: inner,
        };
        assert_eq!(error_chain(&e), "a.ndjson: disk on fire");
        let repeated = StageError::Read {
            object: "p.gz".into(),
            what: "corrupt gzip data: bad header".into(),
            source: io::Error::other("bad header"),
        };
        assert_eq!(
            error_chain(&repeated),
            "p.gz: corrupt gzip data: bad header"
        );
    }
}
