//! `weir plan` and `weir commit`: the two ends of a sharded run
//! (`weir run --shard` is the middle).

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use weir::pipeline::extract;
use weir::pipeline::shard::{self, CommitOptions, CommitOutcome};
use weir::pipeline::{Overrides, plan, resolve};
use weir_stage::{Interval, Stage};

use super::lineage::LineageArgs;
use super::settings::{BudgetArgs, Resolved, Target, WriteArgs};
use super::{Globals, StoreArgs, command_line, parse_interval, print_commit, print_json};

/// List an interval's work units for a sharded run, as JSON.
///
/// A unit is a contiguous group of the input's committed parts; map over
/// `shards` (e.g. Airflow's `.expand()`), running
///   weir run pipeline.toml clean --interval WHEN --shard INDEX/COUNT
/// for each, then `weir commit` once. Units depend only on the input's
/// commit and COUNT, so a retried shard redoes exactly its own parts.
///
///   weir plan pipeline.toml clean --interval 2026-11-26 --parts-per-shard 4
///
/// For an extract step, --shards COUNT cuts the interval's rows into
/// COUNT key ranges of about the same size, kept in the output stage;
/// each `weir extract pipeline.toml raw --interval WHEN --shard INDEX/COUNT`
/// reads its range, and `weir commit` merges them (docs/extract.md).
///
///   weir plan pipeline.toml raw --interval 2026-11-26 --interval-end 2026-11-27 --shards 4
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub(super) struct PlanCmd {
    #[command(flatten)]
    target: Target,
    /// The interval's start.
    #[arg(long, value_parser = parse_interval)]
    interval: Interval,
    /// The most input parts in one unit (units are balanced).
    #[arg(long, default_value_t = 1, value_name = "N")]
    parts_per_shard: usize,
    /// An extract step's shard count: key ranges of about the same number of rows.
    #[arg(long, value_name = "COUNT")]
    shards: Option<u32>,
    /// The interval's end: the window's end of an incremental extract step.
    #[arg(long, value_parser = parse_interval)]
    interval_end: Option<Interval>,
    #[command(flatten)]
    store: StoreArgs,
}

impl PlanCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        if self.parts_per_shard == 0 {
            bail!("--parts-per-shard must be at least 1");
        }
        if let Some((step, _)) = self.target.extract_step()? {
            let count = match self.shards {
                Some(0) => bail!("--shards must be at least 1"),
                Some(n) => n,
                None => bail!(
                    "an extract step is planned by key ranges: give --shards COUNT (not --parts-per-shard)"
                ),
            };
            if self.parts_per_shard != 1 {
                bail!("--parts-per-shard is for transform steps; an extract step takes --shards");
            }
            let spec = super::extract::extract_spec(&step, self.interval, self.interval_end)?;
            let output = self.store.open(g, &step.output)?;
            let plan = extract::plan(&output, self.interval, spec, count)?;
            print_json(&serde_json::to_value(&plan)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        if self.shards.is_some() || self.interval_end.is_some() {
            bail!(
                "--shards and --interval-end are for extract steps; a transform step takes --parts-per-shard"
            );
        }
        let r = self.target.resolve(None, false)?;
        let input = self.store.open_existing(g, &r.input)?;
        let plan = plan::plan(&input, self.interval, self.parts_per_shard)?;
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
pub(super) struct CommitCmd {
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
    #[command(flatten)]
    budget: BudgetArgs,
    #[command(flatten)]
    write: WriteArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    lineage: LineageArgs,
}

impl CommitCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        if self.shards == Some(0) {
            bail!("--shards must be at least 1");
        }
        if let Some((step, file_lineage)) = self.target.extract_step()? {
            let run = self.lineage.start(
                g,
                &file_lineage,
                "commit",
                &[],
                super::extract::table_dataset(&step),
                &step.output,
                self.interval,
                self.interval_end,
            );
            let (outcome, output_stage, run) = {
                let merged = (|| -> anyhow::Result<(CommitOutcome, Stage)> {
                    let output_stage = self.store.open(g, &step.output)?;
                    let mut flags = Overrides::default();
                    self.write.apply(&mut flags);
                    let settings = resolve(&step.overrides, &flags)?;
                    let outcome = extract::commit(
                        &output_stage,
                        self.interval,
                        &settings.write_options(self.interval_end),
                        self.shards,
                        &super::extract::command_line_without_password(),
                    )?;
                    Ok((outcome, output_stage))
                })();
                let ((outcome, output_stage), run) = run.check(merged)?;
                (outcome, output_stage, run)
            };
            let lineage = run.complete(
                output_stage.url(),
                outcome.commit(),
                super::extract::table_dataset(&step),
            );
            return self.report(g, None, &output_stage, &outcome, lineage);
        }
        let r = self.target.resolve(self.output.as_ref(), false)?;
        let output = r
            .output
            .clone()
            .context("--output is required with --input")?;
        let run = self.lineage.start(
            g,
            &r.lineage,
            "commit",
            &[&r.input],
            Vec::new(),
            &output,
            self.interval,
            self.interval_end,
        );
        let ((outcome, input_stage, output_stage), run) = run.check(self.merge(g, &r, &output))?;
        let lineage = run.complete(output_stage.url(), outcome.commit(), Vec::new());
        self.report(g, Some(&input_stage), &output_stage, &outcome, lineage)
    }

    /// Opens the stages and merges the shards.
    fn merge(
        &self,
        g: &Globals,
        r: &Resolved,
        output: &str,
    ) -> anyhow::Result<(CommitOutcome, Stage, Stage)> {
        let input_stage = self.store.open_existing(g, &r.input)?;
        let output_stage = self.store.open(g, output)?;
        let mut flags = Overrides::default();
        self.budget.apply(&mut flags);
        self.write.apply(&mut flags);
        let settings = resolve(&r.file, &flags)?;
        let options = CommitOptions {
            write: settings.write_options(self.interval_end),
            max_rejected: settings.max_rejected,
            count: self.shards,
            command: command_line(),
        };
        let outcome = shard::commit(&input_stage, &output_stage, self.interval, &options)?;
        Ok((outcome, input_stage, output_stage))
    }

    /// Prints what the commit did.
    fn report(
        &self,
        g: &Globals,
        input_stage: Option<&weir_stage::Stage>,
        output_stage: &weir_stage::Stage,
        outcome: &CommitOutcome,
        lineage: serde_json::Value,
    ) -> anyhow::Result<ExitCode> {
        let c = outcome.commit();
        let m = &c.manifest;
        let again = matches!(outcome, CommitOutcome::AlreadyCommitted(_));
        if g.json {
            print_json(&serde_json::json!({
                "ok": true,
                "already_committed": again,
                "input": input_stage.map(|s| s.url().to_string()),
                "output": output_stage.url().to_string(),
                "interval": m.interval,
                "manifest": format!("{}/{}", output_stage.url(), c.manifest_path),
                "run_id": m.run_id,
                "shards": m.shards,
                "totals": m.totals,
                "transforms": m.producer.transforms,
                "extract": m.producer.extract,
                "openlineage": lineage,
            }))?;
        } else {
            let what = format!(
                "{} {} shards:",
                if again {
                    "already committed"
                } else {
                    "committed"
                },
                m.shards.len()
            );
            print_commit(&what, output_stage.url(), m, None);
        }
        Ok(ExitCode::SUCCESS)
    }
}
