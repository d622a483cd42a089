//! Steps: the seam between the pipeline and the engine.
//!
//! Owns the [`Step`] and [`StepInstance`] traits, a chain's transform as
//! the pipeline sees it, and their implementation for the engine's
//! `Module` and `Instance`, so no other pipeline module names an engine
//! type. The benchmark implements them for native code. Imports the error
//! type of the pipeline, and `fields` to start a step that declared fields
//! in field mode.

use sha2::{Digest, Sha256};
use weir_engine::{Instance, Module, Processed};
pub(crate) use weir_engine::{Stop, StopReason};
use weir_stage::manifest::{Counts, TransformInfo};

use super::error::PipelineError;

/// One transform of a chain as the pipeline sees it: a loaded wasm module,
/// or native code (the benchmark's baseline).
pub trait Step: Sync {
    /// Its name, for quarantine entries and logs.
    fn name(&self) -> &str;
    /// The module's sha256, or a label for native code.
    fn sha256(&self) -> &str;
    /// What the manifest records about it (counts are filled in by the run).
    fn describe(&self) -> TransformInfo;
    /// A fresh, initialised instance.
    fn start(&self) -> Result<Box<dyn StepInstance>, PipelineError>;
}

/// A running instance of a [`Step`].
pub trait StepInstance: Send {
    /// Processes a chunk of `records` NDJSON lines.
    fn process(&mut self, input: &str, records: usize) -> Result<Processed, PipelineError>;
    /// Seeds the random source of the next `process` call from `key`, a
    /// function of where the chunk's first record lies in the input, so
    /// random values never depend on which worker got which chunk. Native
    /// steps draw no random values and ignore it.
    fn seed_next_chunk(&mut self, _key: u64) {}
    /// Shares the run's stop signal: the instance counts the records it
    /// fails there and gives up a record-by-record re-run once it says
    /// stop. Native steps fail no record on their own and ignore it.
    fn stop_when(&mut self, _stop: &Stop) {}
    /// Ends the instance, returning extra NDJSON records.
    fn finish(&mut self) -> Result<String, PipelineError>;
}

impl Step for Module {
    fn name(&self) -> &str {
        Module::name(self)
    }
    fn sha256(&self) -> &str {
        Module::sha256(self)
    }
    fn describe(&self) -> TransformInfo {
        TransformInfo {
            name: self.name().to_owned(),
            module_sha256: self.sha256().to_owned(),
            module_bytes: self.size(),
            config_sha256: hex::encode(Sha256::digest(self.config_json().as_bytes())),
            limits: serde_json::json!({
                "memory_bytes": self.limits().memory_bytes,
                "cpu_time_per_call_ms": self.limits().cpu_time_per_call.as_millis() as u64,
                "max_record_output_bytes": self.limits().max_record_output_bytes,
                "max_call_output_bytes": self.limits().max_call_output_bytes,
            }),
            grants: self
                .assets()
                .map(|a| vec![format!("assets:{}", a.display())])
                .unwrap_or_default(),
            counts: Counts::default(),
        }
    }
    fn start(&self) -> Result<Box<dyn StepInstance>, PipelineError> {
        let instance = self.instantiate()?;
        let spec = instance.fields().cloned();
        super::fields::with_fields(self.name(), Box::new(instance), spec)
    }
}

impl StepInstance for Instance {
    fn process(&mut self, input: &str, records: usize) -> Result<Processed, PipelineError> {
        Ok(Instance::process(self, input, records)?)
    }
    fn seed_next_chunk(&mut self, key: u64) {
        Instance::seed_next_chunk(self, key);
    }
    fn stop_when(&mut self, stop: &Stop) {
        Instance::stop_when(self, stop.clone());
    }
    fn finish(&mut self) -> Result<String, PipelineError> {
        Ok(Instance::finish(self)?)
    }
}

/// One instance of every step of a chain, in order: a worker's.
pub(crate) type Instances = Vec<Box<dyn StepInstance>>;

/// What the manifest records about each step, with its counts.
pub(crate) fn transform_infos(steps: &[&dyn Step], counts: &[Counts]) -> Vec<TransformInfo> {
    steps
        .iter()
        .zip(counts)
        .map(|(step, c)| TransformInfo {
            counts: *c,
            ..step.describe()
        })
        .collect()
}
