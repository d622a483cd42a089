//! [`LineageError`]: what went wrong building or sending lineage.

/// A lineage setting that cannot be used, or an event that was not sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LineageError {
    /// `--openlineage-parent` is not `NAMESPACE/JOB/RUN_ID` with a UUID.
    #[error("--openlineage-parent {given:?}: {reason}")]
    InvalidParent {
        /// The value given.
        given: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A transport setting is wrong (unknown type, missing URL or path).
    #[error("OpenLineage setting {setting}: {reason}")]
    InvalidSetting {
        /// The variable or pipeline-file key.
        setting: String,
        /// What is wrong.
        reason: String,
    },
    /// An event was not sent.
    #[error("could not send the {event} event to {target}: {reason}")]
    NotSent {
        /// `START`, `COMPLETE` or `FAIL`.
        event: &'static str,
        /// The URL or file.
        target: String,
        /// Why.
        reason: String,
    },
}
