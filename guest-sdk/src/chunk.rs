//! The chunk loop: one NDJSON chunk in, output lines and one outcome per
//! record out.
//!
//! [`Instance`] is the code path behind the component's `init`, `process`
//! and `finish` exports, and the native [`testing`](crate::testing) helpers
//! drive the very same code, so the glue is tested without wasm. It splits
//! the chunk into [`Record`]s, hands them to
//! [`Transform::process_chunk`] in one call, and collects what comes back
//! through a [`ChunkOutput`] (module `outcome`, which owns the per-record
//! guarantees). It imports `transform`, `outcome`, `record`, `parse` and
//! `bytes`, and knows nothing of wit-bindgen.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::Error;
use crate::outcome::{ChunkOutput, Processed, guarded, into_text};
use crate::parse::parse_json;
use crate::record::{Output, Record};
use crate::transform::{FieldSpec, Transform};

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

    /// Runs the transform over every line of `input`, as one
    /// [`Transform::process_chunk`] call.
    ///
    /// Lines end in `\n` (a `\r` before it is dropped, and so is the line
    /// ending of the last line if it has none); every line is a record, even
    /// an empty one, so the outcomes line up with the host's line count.
    pub(crate) fn process(&mut self, input: &str) -> Processed {
        let records: Vec<Record<'_>> = crate::bytes::lines(input).map(Record::new).collect();
        // Output is usually about as large as input: one allocation up front.
        let mut output = ChunkOutput::new(records.len(), input.len() + input.len() / 8);
        let transform = &mut self.transform;
        let called = catch_unwind(AssertUnwindSafe(|| {
            transform.process_chunk(&records, &mut output)
        }));
        output.close(called)
    }

    /// The fields the transform declared, if any: the component's `fields`
    /// export (natively nothing asks).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn fields(&self) -> Option<FieldSpec> {
        self.transform.fields()
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
