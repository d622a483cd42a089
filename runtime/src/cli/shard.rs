//! `weir plan` and `weir commit`: the two ends of a sharded run
//! (`weir run --shard` is the middle).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use weir::Interval;
use weir::pipeline::Budget;
use weir::pipeline::file::PipelineFile;
use weir::pipeline::shard::{self, CommitOptions, CommitOutcome};

use super::stage::WriteArgs;
use super::{Globals, StoreArgs, human, parse_interval, print_json, print_transform_counts};

/// The stages a command works on: from a pipeline step, or from flags.
#[derive(Debug, Args)]
struct Target {
    /// A pipeline file (TOML); give the step after it.
    pipeline: Option<PathBuf>,
    /// The step of the pipeline file.
    step: Option<String>,
    /// Input stage (flags form).
    #[arg(long, conflicts_with = "pipeline")]
    input: Option<String>,
}

/// What a pipeline step or the flags name.
struct Resolved {
    input: String,
    output: Option<String>,
    max_rejected: Option<Budget>,
}

impl Target {
    fn resolve(&self, output: Option<&String>) -> anyhow::Result<Resolved> {
        match (&self.pipeline, &self.step) {
            (Some(file), Some(step)) => {
                if self.input.is_some() || output.is_some() {
                    bail!("give either a pipeline file and step, or --input (and --output)");
                }
                let plan = PipelineFile::load(file)?.step(step)?;
                Ok(Resolved {
                    input: plan.input,
                    output: Some(plan.output),
                    max_rejected: plan.max_rejected,
                })
            }
            (Some(_), None) => bail!("give the step after the pipeline file"),
            (None, _) => Ok(Resolved {
                input: self
                    .input
                    .clone()
                    .context("give a pipeline file and step, or --input")?,
                output: output.cloned(),
                max_rejected: None,
            }),
        }
    }
}

/// List an interval's work units for a sharded run, as JSON.
///
/// A unit is a contiguous group of the input's committed parts; map over
/// `shards` (e.g. Airflow's `.expand()`), running
///   weir run pipeline.toml clean --interval WHEN --shard INDEX/COUNT
/// for each, then `weir commit` once. Units depend only on the input's
/// commit and COUNT, so a retried shard redoes exactly its own parts.
///
///   weir plan pipeline.toml clean --interval 2026-11-26 --parts-per-shard 4
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct PlanCmd {
    #[command(flatten)]
    target: Target,
    /// The interval's start.
    #[arg(long, value_parser = parse_interval)]
    interval: Interval,
    /// The most input parts in one unit (units are balanced).
    #[arg(long, default_value_t = 1, value_name = "N")]
    parts_per_shard: usize,
    #[command(flatten)]
    store: StoreArgs,
}

impl PlanCmd {
    pub fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        if self.parts_per_shard == 0 {
            bail!("--parts-per-shard must be at least 1");
        }
        let r = self.target.resolve(None)?;
        let input = self.store.open(&r.input)?;
        let plan = shard::plan(
            &input,
            g.runtime.handle(),
            self.interval,
            self.parts_per_shard,
        )?;
        // The plan is for machines: JSON with or without --json.
        print_json(&serde_json::to_value(&plan)?)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Commit a sharded run: merge the sealed results of every shard of an
/// interval into one manifest, atomically.
///
/// Fails, committing nothing, when a shard has no result, when results of
/// two plans cover the same input (pass --shards), when a shard ran against
/// an older commit of the input or other transforms, or when the rejected
/// records of all shards together exceed the budget. A commit retried after
/// it succeeded finds its own commit and succeeds again.
///
///   weir commit pipeline.toml clean --interval 2026-11-26 --shards 3
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CommitCmd {
    #[command(flatten)]
    target: Target,
    /// Output stage (flags form, with --input).
    #[arg(long, conflicts_with = "pipeline")]
    output: Option<String>,
    /// The interval's start.
    #[arg(long, value_parser = parse_interval)]
    interval: Interval,
    /// The interval's end, recorded in the manifest.
    #[arg(long, value_parser = parse_interval)]
    interval_end: Option<Interval>,
    /// The plan's shard count (`count` in `weir plan`'s output). Without
    /// it, every result found must come from one plan.
    #[arg(long, value_name = "COUNT")]
    shards: Option<u32>,
    /// Rejected records allowed over all shards before the commit fails:
    /// a count (10), a percentage (1%) or a fraction (0.01).
    #[arg(long, value_name = "BUDGET")]
    max_rejected: Option<Budget>,
    #[command(flatten)]
    write: WriteArgs,
    #[command(flatten)]
    store: StoreArgs,
}

impl CommitCmd {
    pub fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        if self.shards == Some(0) {
            bail!("--shards must be at least 1");
        }
        let r = self.target.resolve(self.output.as_ref())?;
        let output = r.output.context("--output is required with --input")?;
        let input_stage = self.store.open(&r.input)?;
        let output_stage = self.store.open(&output)?;
        let options = CommitOptions {
            write: self.write.options(self.interval_end),
            max_rejected: self
                .max_rejected
                .or(r.max_rejected)
                .unwrap_or(Budget::Count(0)),
            count: self.shards,
            command: std::env::args().collect::<Vec<_>>().join(" "),
        };
        let outcome = shard::commit(
            &input_stage,
            &output_stage,
            g.runtime.handle(),
            self.interval,
            &options,
        )?;
        let c = outcome.commit();
        let m = &c.manifest;
        let again = matches!(outcome, CommitOutcome::AlreadyCommitted(_));
        if g.json {
            print_json(&serde_json::json!({
                "ok": true,
                "already_committed": again,
                "input": input_stage.url().to_string(),
                "output": output_stage.url().to_string(),
                "interval": m.interval,
                "manifest": format!("{}/{}", output_stage.url(), c.manifest_path),
                "run_id": m.run_id,
                "shards": m.shards,
                "totals": m.totals,
                "transforms": m.producer.transforms,
            }))?;
        } else {
            let t = &m.totals;
            println!(
                "{} {} shards: {} records in {} parts ({} → {}) to {}/{}",
                if again {
                    "already committed"
                } else {
                    "committed"
                },
                m.shards.len(),
                t.records,
                t.parts,
                human(t.uncompressed_bytes),
                human(t.compressed_bytes),
                output_stage.url(),
                m.interval.folder
            );
            print_transform_counts(&m.producer.transforms);
        }
        Ok(ExitCode::SUCCESS)
    }
}
