//! The flags that become a step's settings, and the step they apply to.
//!
//! Every settings flag is an `Option` (so a flag that was not given never
//! passes for one that was) whose help names the library's default; each
//! flag group only fills in [`Overrides`], and the library's
//! [`weir::pipeline::resolve`] decides flag > pipeline file > default for
//! every command. [`Target`] is the pipeline-file-or-flags form that `run`,
//! `plan` and `commit` share.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use weir::pipeline::file::PipelineFile;
use weir::pipeline::{Budget, Overrides};
use weir_engine::ModuleSpec;
use weir_stage::batch::codec::Codec;
use weir_stage::batch::lines::DEFAULT_MAX_LINE_BYTES;
use weir_stage::write::{DEFAULT_MAX_BATCH_BYTES, DEFAULT_ORPHAN_GRACE};

use super::lineage::FileLineage;

/// How output batches are written (`stage`, `run`, `commit`, `replay`).
#[derive(Debug, Args, Clone)]
pub(super) struct WriteArgs {
    #[arg(long, value_name = "SIZE", help = format!(
        "The most uncompressed bytes in one part, e.g. 500MB, 64MiB [default: {}]",
        bytesize::ByteSize::b(DEFAULT_MAX_BATCH_BYTES).display().iec()
    ))]
    max_batch_bytes: Option<bytesize::ByteSize>,
    #[arg(long, value_name = "CODEC", help = format!(
        "How parts are compressed: gzip (.ndjson.gz, read by every warehouse) or zstd (.ndjson.zst, faster; for readers that take it, docs/staging.md) [default: {}]",
        Codec::default()
    ))]
    codec: Option<Codec>,
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=22), help = format!(
        "The codec's level: gzip 1 (fastest) to 9 (smallest), zstd 1 to 22 [default: gzip {}, zstd {}]",
        Codec::Gzip.default_level(),
        Codec::Zstd.default_level()
    ))]
    compression_level: Option<u32>,
    #[arg(long, value_name = "DURATION", help = format!(
        "Leftovers of other attempts younger than this are not deleted after the commit (they may belong to a run still going); 0s deletes all [default: {}]",
        humantime::format_duration(DEFAULT_ORPHAN_GRACE)
    ))]
    orphan_grace: Option<humantime::Duration>,
}

impl WriteArgs {
    /// Fills in the settings these flags give.
    pub(super) fn apply(&self, o: &mut Overrides) {
        o.max_batch_bytes = self.max_batch_bytes.map(|b| b.as_u64());
        o.codec = self.codec;
        o.compression_level = self.compression_level;
        o.orphan_grace = self.orphan_grace.map(Into::into);
    }
}

/// How long an input line may be (`stage`, `run`).
#[derive(Debug, Args, Clone)]
pub(super) struct LineArgs {
    #[arg(long, value_name = "SIZE", help = format!(
        "Lines longer than this are quarantined (with their length and first KiB) without being held in memory, e.g. 64MiB [default: {}]",
        bytesize::ByteSize::b(DEFAULT_MAX_LINE_BYTES as u64).display().iec()
    ))]
    max_line_bytes: Option<bytesize::ByteSize>,
}

impl LineArgs {
    /// Fills in the settings these flags give.
    pub(super) fn apply(&self, o: &mut Overrides) {
        o.max_line_bytes = self.max_line_bytes.map(|b| b.as_u64());
    }
}

/// The error budget (`stage`, `run`, `commit`).
#[derive(Debug, Args, Clone)]
pub(super) struct BudgetArgs {
    #[arg(long, value_name = "BUDGET", help = format!(
        "Rejected records allowed before the command fails without committing: a count (10), a percentage (1%) or a fraction (0.01) [default: {}]",
        match Budget::default() { Budget::Count(n) => n.to_string(), other => other.to_string() }
    ))]
    max_rejected: Option<Budget>,
}

impl BudgetArgs {
    /// Fills in the settings these flags give.
    pub(super) fn apply(&self, o: &mut Overrides) {
        o.max_rejected = self.max_rejected;
    }
}

/// Worker threads (`stage`, `run`).
#[derive(Debug, Args, Clone)]
pub(super) struct WorkerArgs {
    /// Worker threads [default: the number of cores]
    #[arg(long)]
    workers: Option<usize>,
}

impl WorkerArgs {
    /// Fills in the settings these flags give.
    pub(super) fn apply(&self, o: &mut Overrides) {
        o.workers = self.workers;
    }
}

/// The step a command works on: from a pipeline file, or from flags.
#[derive(Debug, Args)]
pub(super) struct Target {
    /// A pipeline file (TOML); give the step after it.
    pipeline: Option<PathBuf>,
    /// The step of the pipeline file.
    step: Option<String>,
    /// Input stage (flags form).
    #[arg(long, conflicts_with = "pipeline")]
    input: Option<String>,
}

/// What a pipeline step, or the flags, name.
pub(super) struct Resolved {
    /// The input stage.
    pub input: String,
    /// The output stage, when the step or `--output` gives one.
    pub output: Option<String>,
    /// The step's transforms (none in the flags form: `--transform` gives
    /// them).
    pub transforms: Vec<ModuleSpec>,
    /// The settings the pipeline file gives (none in the flags form).
    pub file: Overrides,
    /// The file's OpenLineage table and the step's job name (none in the
    /// flags form).
    pub lineage: FileLineage,
}

impl Target {
    /// The extract step this names, if it names one (`weir plan` and
    /// `weir commit` of a sharded extract).
    /// With the step comes what the file says of its lineage.
    pub(super) fn extract_step(
        &self,
    ) -> anyhow::Result<Option<(weir::pipeline::file::ExtractPlan, FileLineage)>> {
        match (&self.pipeline, &self.step) {
            (Some(file), Some(step)) => {
                let file = PipelineFile::load(file)?;
                if !file.is_extract_step(step) {
                    return Ok(None);
                }
                Ok(Some((
                    file.extract_step(step)?,
                    FileLineage::of(&file, step),
                )))
            }
            _ => Ok(None),
        }
    }

    /// Resolves the step; `output` is `--output` and `flag_transforms`
    /// whether `--transform` was given, both only for the flags form.
    pub(super) fn resolve(
        &self,
        output: Option<&String>,
        flag_transforms: bool,
    ) -> anyhow::Result<Resolved> {
        match (&self.pipeline, &self.step) {
            (Some(file), Some(step)) => {
                if self.input.is_some() || output.is_some() || flag_transforms {
                    bail!(
                        "give either a pipeline file and step, or --input, --output (and --transform)"
                    );
                }
                let file = PipelineFile::load(file)?;
                let plan = file.step(step)?;
                Ok(Resolved {
                    input: plan.input,
                    output: Some(plan.output),
                    transforms: plan.transforms,
                    file: plan.overrides,
                    lineage: FileLineage::of(&file, step),
                })
            }
            (Some(_), None) => bail!("give the step after the pipeline file"),
            (None, _) => Ok(Resolved {
                input: self
                    .input
                    .clone()
                    .context("give a pipeline file and step, or --input")?,
                output: output.cloned(),
                transforms: Vec::new(),
                file: Overrides::default(),
                lineage: FileLineage::default(),
            }),
        }
    }
}
