//! The chunk loop: one NDJSON chunk in, output lines and one outcome per
//! record out.
//!
//! [`Instance`] is the code path behind the component's `init`, `process`
//! and `finish` exports, and the native [`testing`](crate::testing) helpers
//! drive the very same code, so the glue is tested without wasm. It owns the
//! per-record guarantees: every input line gets exactly one [`Outcome`], a
//! failed record leaves no output behind, and (where the target can unwind)
//! a panic fails only its record. It knows nothing of wit-bindgen.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::record::parse_json;
use crate::{Error, Output, Record, Transform};

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

/// A configured transform, ready for chunks.
pub(crate) struct Instance<T> {
    transform: T,
}

impl<T: Transform> Instance<T> {
    /// Parses `config` into the transform's config type and hands it over.
    pub(crate) fn init(mut transform: T, config: &str) -> Result<Self, Error> {
        let config = parse_json(config).map_err(|error| error.context("invalid config"))?;
        transform.init(config)?;
        Ok(Self { transform })
    }

    /// Runs the transform over every line of `input`.
    ///
    /// Lines end in `\n` (a `\r` before it is dropped, and so is the line
    /// ending of the last line if it has none); every line is a record, even
    /// an empty one, so the outcomes line up with the host's line count.
    pub(crate) fn process(&mut self, input: &str) -> Processed {
        // Output is usually about as large as input: one allocation up front.
        let mut buffer = Vec::with_capacity(input.len() + input.len() / 8);
        let mut outcomes = Vec::with_capacity(input.len() / 64);
        for line in input.lines() {
            let start = buffer.len();
            let transform = &mut self.transform;
            let mut output = Output::new(&mut buffer);
            let outcome = match guarded(|| transform.process(Record::new(line), &mut output)) {
                Ok(()) => Outcome::Emitted(output.count()),
                Err(error) => {
                    buffer.truncate(start);
                    Outcome::Failed(error.into())
                }
            };
            outcomes.push(outcome);
        }
        Processed {
            output: into_text(buffer),
            outcomes,
        }
    }

    /// Lets the transform write its final records.
    pub(crate) fn finish(&mut self) -> Result<String, Error> {
        let mut buffer = Vec::new();
        let transform = &mut self.transform;
        let mut output = Output::new(&mut buffer);
        guarded(|| transform.finish(&mut output))?;
        Ok(into_text(buffer))
    }
}

/// Runs `step`, turning a panic into an error where the target unwinds.
///
/// On `wasm32-wasip2` panics abort: a panic traps the whole instance and the
/// host, not this function, isolates the record.
fn guarded(step: impl FnOnce() -> Result<(), Error>) -> Result<(), Error> {
    catch_unwind(AssertUnwindSafe(step)).unwrap_or_else(|payload| {
        Err(Error::new(format!(
            "the transform panicked: {}",
            panic_message(payload.as_ref())
        )))
    })
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
fn into_text(buffer: Vec<u8>) -> String {
    String::from_utf8(buffer)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}
