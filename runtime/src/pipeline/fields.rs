//! Field mode: a step that declared the fields it reads and writes is given
//! projections and returns patches; this module turns records into the one
//! and the other back into records.
//!
//! Owns [`FieldInstance`], a [`StepInstance`] around another, the one place
//! field mode happens: every path a step runs on (a run, a shard, a replay,
//! golden cases, and the native Python step of `weir test`) gets it from
//! [`with_fields`], so a transform's field-mode output is the same whatever
//! runs it. The byte rules are `weir_stage::batch::fields`. A record that
//! cannot be patched (a patch outside `writes`, or not an object) fails
//! alone, naming the transform; every patched record still goes through the
//! chain's record check. `finish` output is whole records, as ever.
//! Imports the step seam and the pipeline's error.

use weir_engine::{FieldSpec, Outcome, Processed};
use weir_stage::batch::fields::{Fields, Located};

use super::error::PipelineError;
use super::step::{StepInstance, Stop};

/// `instance` as the chain should run it: as it is, or, if it declared
/// fields, inside a [`FieldInstance`].
pub(crate) fn with_fields(
    transform: &str,
    instance: Box<dyn StepInstance>,
    spec: Option<FieldSpec>,
) -> Result<Box<dyn StepInstance>, PipelineError> {
    let Some(spec) = spec else {
        return Ok(instance);
    };
    let fields = Fields::new(spec.reads, spec.writes).map_err(|problem| PipelineError::Fields {
        transform: transform.to_owned(),
        problem,
    })?;
    Ok(Box::new(FieldInstance {
        transform: transform.to_owned(),
        inner: instance,
        fields,
        stop: Stop::default(),
    }))
}

/// A step instance in field mode: it projects each chunk's records before
/// the inner instance sees them and patches the records with what it
/// returns.
pub(crate) struct FieldInstance {
    transform: String,
    inner: Box<dyn StepInstance>,
    fields: Fields,
    /// Counts the records this layer fails.
    stop: Stop,
}

impl StepInstance for FieldInstance {
    fn process(&mut self, input: &str, records: usize) -> Result<Processed, PipelineError> {
        // Projections are a fraction of the records: most of a text
        // record is the one field read, so half is plenty.
        let mut projected = String::with_capacity(input.len() / 2 + records * 4);
        let mut located: Vec<Result<Located, String>> = Vec::with_capacity(records);
        for line in input.split_inclusive('\n') {
            let record = line.strip_suffix('\n').unwrap_or(line);
            match self.fields.project(record, &mut projected) {
                Ok(l) => located.push(Ok(l)),
                Err(problem) => {
                    // Its place in the chunk is kept; its outcome is replaced.
                    projected.push_str("{}\n");
                    located.push(Err(format!(
                        "transform {} works on fields, but {problem}",
                        self.transform
                    )));
                }
            }
        }
        let processed = self.inner.process(&projected, records)?;
        let mut output = String::with_capacity(input.len() + input.len() / 8);
        let mut outcomes = Vec::with_capacity(records);
        let mut patches = processed.output.split_inclusive('\n');
        let lines = input.split_inclusive('\n');
        for ((outcome, line), located) in processed.outcomes.into_iter().zip(lines).zip(located) {
            let Outcome::Emitted(n) = outcome else {
                outcomes.push(outcome);
                continue;
            };
            // The inner instance checked that the counts add up.
            let mine: Vec<&str> = (&mut patches).take(n as usize).collect();
            let record = line.strip_suffix('\n').unwrap_or(line);
            let start = output.len();
            let patched = located.and_then(|located| {
                mine.iter().try_for_each(|patch| {
                    let patch = patch.strip_suffix('\n').unwrap_or(patch);
                    self.fields
                        .patch(record, &located, patch, &mut output)
                        .map_err(|problem| format!("transform {}: {problem}", self.transform))
                })
            });
            match patched {
                Ok(()) => outcomes.push(Outcome::Emitted(n)),
                Err(reason) => {
                    output.truncate(start);
                    self.stop.add_failures(1);
                    outcomes.push(Outcome::Failed(reason));
                }
            }
        }
        Ok(Processed { output, outcomes })
    }

    fn seed_next_chunk(&mut self, key: u64) {
        self.inner.seed_next_chunk(key);
    }

    fn stop_when(&mut self, stop: &Stop) {
        self.stop = stop.clone();
        self.inner.stop_when(stop);
    }

    fn finish(&mut self) -> Result<String, PipelineError> {
        self.inner.finish()
    }
}
