//! [`ReportError`]: what stops a report. A manifest that cannot be read
//! does not: its interval is shown as unreadable, with the reason.

use weir_stage::StageError;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Listing or reading a stage failed (after the store's retries).
    #[error(transparent)]
    Stage(#[from] StageError),
    /// `--from` is after `--to`.
    #[error("the range is empty: --from {from} is after --to {to}")]
    EmptyRange {
        /// The range's start.
        from: String,
        /// The range's end.
        to: String,
    },
    /// The range holds more intervals of the stage's cadence than a page
    /// can show.
    #[error(
        "{stage}: the range holds {slots} intervals of {every} (at most {max} are shown); narrow it with --from and --to, or pass --every"
    )]
    TooManyIntervals {
        /// The stage.
        stage: String,
        /// Intervals in the range.
        slots: u64,
        /// The cadence, e.g. `1h`.
        every: String,
        /// The most a report shows.
        max: u64,
    },
}
