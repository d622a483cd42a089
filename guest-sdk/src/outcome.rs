//! What becomes of each record of a chunk: [`ChunkOutput`], where a
//! transform settles the records of a chunk, and the [`Outcome`]s and
//! [`Processed`] result it closes into.
//!
//! [`ChunkOutput`] owns the per-record guarantees: every input line gets
//! exactly one [`Outcome`], a failed record leaves no output behind, and
//! (where the target can unwind) a panic while settling one record fails
//! only that record; a panic anywhere else in the call fails the whole
//! chunk, as a trap does in the component. It imports `record` and `error`
//! only: the chunk loop (`chunk`) and the `Transform` trait both build on
//! it, and it on neither.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::Error;
use crate::record::Output;

/// What became of one input record; mirrors the WIT `outcome` variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The record produced this many output lines (0: filtered out).
    Emitted(u32),
    /// The record was rejected for this reason.
    Failed(String),
}

/// The result of one chunk; mirrors the WIT `processed` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// Every output record of the chunk, in input order, one per line, each
    /// line ending in `\n`.
    pub output: String,
    /// Exactly one outcome per input line, in input order.
    pub outcomes: Vec<Outcome>,
}

/// Where the records of a chunk get their outcomes, in input order: what
/// [`Transform::process_chunk`](crate::Transform::process_chunk) writes to.
///
/// Each call to [`record`](ChunkOutput::record) settles the next input
/// record: its closure writes that record's output records to an [`Output`]
/// (none to filter it out, several to flat-map it) or returns an error to
/// reject it, which takes back whatever it wrote. Records are settled in
/// input order, each exactly once.
///
/// When `process_chunk` returns, any record not yet settled fails: with the
/// error `process_chunk` returned, or with `the transform gave this record no
/// outcome` if it returned `Ok`. Settling more records than the chunk holds
/// is a bug in the transform, and fails every record of the chunk.
#[derive(Debug)]
pub struct ChunkOutput {
    buffer: Vec<u8>,
    outcomes: Vec<Outcome>,
    records: usize,
    overrun: bool,
}

impl ChunkOutput {
    pub(crate) fn new(records: usize, capacity: usize) -> Self {
        Self {
            buffer: Vec::with_capacity(capacity),
            outcomes: Vec::with_capacity(records),
            records,
            overrun: false,
        }
    }

    /// How many records of the chunk are not settled yet.
    pub fn remaining(&self) -> usize {
        self.records.saturating_sub(self.outcomes.len())
    }

    /// Settles the next record of the chunk: `write` writes its output
    /// records, or returns why it is rejected.
    ///
    /// An `Err` rejects the record alone, and the host quarantines it with
    /// the message; anything `write` wrote is taken back. Where the target
    /// unwinds (native tests), a panic in `write` does the same with
    /// `the transform panicked: ...`; in the component it traps the instance
    /// (see [`Transform::process_chunk`](crate::Transform::process_chunk)).
    pub fn record(&mut self, write: impl FnOnce(&mut Output<'_>) -> Result<(), Error>) {
        if self.outcomes.len() == self.records {
            self.overrun = true;
            return;
        }
        let start = self.buffer.len();
        let mut output = Output::new(&mut self.buffer);
        let outcome = match guarded(|| write(&mut output)) {
            Ok(()) => Outcome::Emitted(output.count()),
            Err(error) => {
                self.buffer.truncate(start);
                Outcome::Failed(error.into())
            }
        };
        self.outcomes.push(outcome);
    }

    /// The chunk's result, given how the `process_chunk` call ended: every
    /// record unsettled fails, and a panic or an overrun fails them all.
    pub(crate) fn close(
        mut self,
        called: Result<Result<(), Error>, Box<dyn Any + Send>>,
    ) -> Processed {
        let everything_fails = match called {
            Err(payload) => Some(panicked(payload.as_ref())),
            Ok(_) if self.overrun => Some(Error::new(format!(
                "the transform settled more records than the chunk's {}",
                self.records
            ))),
            Ok(result) => {
                let reason = match result {
                    Err(error) => String::from(error),
                    Ok(()) => "the transform gave this record no outcome".to_owned(),
                };
                let missing = self.remaining();
                self.outcomes
                    .extend(std::iter::repeat_n(Outcome::Failed(reason), missing));
                None
            }
        };
        if let Some(error) = everything_fails {
            self.buffer.clear();
            self.outcomes = vec![Outcome::Failed(error.into()); self.records];
        }
        Processed {
            output: into_text(self.buffer),
            outcomes: self.outcomes,
        }
    }
}

/// Runs `step`, turning a panic into an error where the target unwinds.
///
/// On `wasm32-wasip2` panics abort: a panic traps the whole instance and the
/// host, not this function, isolates the record.
pub(crate) fn guarded(step: impl FnOnce() -> Result<(), Error>) -> Result<(), Error> {
    catch_unwind(AssertUnwindSafe(step)).unwrap_or_else(|payload| Err(panicked(payload.as_ref())))
}

/// The error a caught panic becomes.
fn panicked(payload: &(dyn Any + Send)) -> Error {
    Error::new(format!(
        "the transform panicked: {}",
        panic_message(payload)
    ))
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "(no message)"
    }
}

/// The output buffer as text. Everything in it came from `&str` input lines
/// or from serde_json, so it is UTF-8; checking costs one fast pass.
pub(crate) fn into_text(buffer: Vec<u8>) -> String {
    String::from_utf8(buffer)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}
