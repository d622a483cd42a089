//! `weir replay`: re-run an interval's quarantined records and commit the
//! recovered ones into it.

use std::process::ExitCode;

use clap::{ArgMatches, Args};
use weir::Interval;
use weir::pipeline::replay;
use weir::pipeline::run::{RunOptions, Step};

use super::run::TransformArgs;
use super::stage::WriteArgs;
use super::{Globals, StoreArgs, parse_interval, print_json};

/// Re-run the quarantined records of an interval through transforms (e.g. a
/// fixed module) and commit the recovered records into the interval with a
/// new manifest that records the replay. Records that fail again stay in
/// the quarantine, with their new reason.
///
/// Example:
///   weir replay lake/clean --interval 2026-11-26 \
///     --transform normalize-fixed.wasm --config '{"fields":["text"]}'
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ReplayCmd {
    /// The stage whose interval's quarantine is replayed (a `weir run`
    /// output stage).
    stage: String,
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
    pub fn execute(self, g: &Globals, m: &ArgMatches) -> anyhow::Result<ExitCode> {
        let mut specs = self.transform.specs(m)?;
        if specs.is_empty() {
            anyhow::bail!("give the --transform(s) to re-run the quarantined records through");
        }
        self.transform.apply_limits(&mut specs);
        let modules = self.transform.load(specs)?;
        let steps: Vec<&dyn Step> = modules.iter().map(|m| m as &dyn Step).collect();
        let stage = self.store.open(&self.stage)?;
        let options = RunOptions {
            write: self.write.options(None),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            ..RunOptions::default()
        };
        let summary = replay::replay(&steps, &stage, g.runtime.handle(), self.interval, &options)?;
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
