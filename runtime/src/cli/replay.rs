//! `weir replay`: re-run an interval's quarantined records and commit the
//! recovered ones into it.

use std::process::ExitCode;

use std::path::Path;

use anyhow::bail;
use clap::{ArgMatches, Args};
use weir::pipeline::file::PipelineFile;
use weir::pipeline::replay;
use weir::pipeline::run::RunOptions;
use weir::pipeline::step::Step;
use weir::pipeline::{Overrides, resolve};
use weir_stage::Interval;

use super::run::TransformArgs;
use super::settings::WriteArgs;
use super::{Globals, StoreArgs, command_line, parse_interval, print_json};

/// Re-run the quarantined records of an interval through transforms (e.g. a
/// fixed module) and commit the recovered records into the interval with a
/// new manifest that records the replay. Records that fail again stay in
/// the quarantine, with their new reason.
///
/// Pipeline form: the step's output interval, through the step's
/// transforms (as the file now has them) and settings:
///   weir replay pipeline.toml clean --interval 2026-11-26
///
/// Flags form:
///   weir replay lake/clean --interval 2026-11-26 \
///     --transform normalize-fixed.wasm --config '{"fields":["text"]}'
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub(super) struct ReplayCmd {
    /// The stage whose interval's quarantine is replayed (a `weir run`
    /// output stage), or a pipeline file followed by the step.
    stage: String,
    /// The step of the pipeline file given first.
    step: Option<String>,
    /// The interval's start.
    #[arg(long, value_parser = parse_interval)]
    interval: Interval,
    #[command(flatten)]
    transform: TransformArgs,
    #[command(flatten)]
    write: WriteArgs,
    #[command(flatten)]
    store: StoreArgs,
}

impl ReplayCmd {
    pub(super) fn execute(self, g: &Globals, m: &ArgMatches) -> anyhow::Result<ExitCode> {
        let (stage, mut specs, file) = match &self.step {
            Some(step) => {
                if !self.transform.transforms.is_empty() {
                    bail!("give either a pipeline file and step, or the stage and --transform");
                }
                let plan = PipelineFile::load(Path::new(&self.stage))?.step(step)?;
                (plan.output, plan.transforms, plan.overrides)
            }
            None => (
                self.stage.clone(),
                self.transform.specs(m)?,
                Overrides::default(),
            ),
        };
        if specs.is_empty() {
            bail!("give the --transform(s) to re-run the quarantined records through");
        }
        let mut flags = Overrides::default();
        self.write.apply(&mut flags);
        self.transform.apply(&mut flags);
        let settings = resolve(&file, &flags)?;
        settings.apply_limits(&mut specs);
        let modules = self.transform.load(specs, 1)?;
        let steps: Vec<&dyn Step> = modules.iter().map(|m| m as &dyn Step).collect();
        let stage = self.store.open_existing(g, &stage)?;
        let options = RunOptions {
            write: settings.write_options(None),
            command: command_line(),
            ..RunOptions::default()
        };
        let summary = replay::replay(&steps, &stage, self.interval, &options)?;
        let r = &summary.replay;
        let t = &summary.commit.manifest.totals;
        if g.json {
            print_json(&serde_json::json!({
                "ok": true,
                "stage": stage.url().to_string(),
                "interval": self.interval.to_string(),
                "manifest": format!("{}/{}", stage.url(), summary.commit.manifest_path),
                "replay": r,
                "totals": t,
            }))?;
        } else {
            println!(
                "replayed {} quarantined records into {}/{}: {} recovered, {} still quarantined, {} not replayable (not UTF-8 or too long)",
                r.replayed,
                stage.url(),
                summary.commit.manifest.interval.folder,
                r.recovered,
                r.replayed - r.recovered,
                r.not_replayable
            );
            println!(
                "the interval now holds {} records; {} quarantined",
                t.records, t.quarantined
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
