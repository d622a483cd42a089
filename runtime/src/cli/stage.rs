//! `weir stage`: ingest NDJSON files or stdin into an interval.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use weir::pipeline::ingest::{self, IngestOptions};
use weir::pipeline::{Overrides, resolve};
use weir_stage::read::Input;
use weir_stage::{Interval, layout};

use super::lineage::{FileLineage, LineageArgs};
use super::settings::{BudgetArgs, LineArgs, WorkerArgs, WriteArgs};
use super::{Globals, StoreArgs, parse_interval, print_commit, print_json};

/// Stage NDJSON (plain or gzip) from files or stdin into an interval, as
/// batches plus a manifest.
///
/// Example:
///   weir stage ./lake/raw --interval 2026-11-26T00:00:00+00:00 events.ndjson.gz
///   zcat dump.gz | weir stage s3://lake/raw --interval 20261126T000000 --max-rejected 1%
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub(super) struct StageCmd {
    /// The stage to write to (path or URL).
    stage: String,
    /// The interval's start, e.g. 2026-11-26T00:00:00+00:00, 20261126T000000 or 2026-11-26.
    #[arg(long, value_parser = parse_interval)]
    interval: Interval,
    /// The interval's end, recorded in the manifest.
    #[arg(long, value_parser = parse_interval)]
    interval_end: Option<Interval>,
    /// Input files (plain or gzip NDJSON); none or `-` reads stdin.
    files: Vec<PathBuf>,
    /// Commit the interval even if the input holds no record (by default
    /// an empty input fails: it is most often a wrong file or query).
    #[arg(long)]
    allow_empty: bool,
    #[command(flatten)]
    write: WriteArgs,
    #[command(flatten)]
    line: LineArgs,
    #[command(flatten)]
    budget: BudgetArgs,
    #[command(flatten)]
    workers: WorkerArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    lineage: LineageArgs,
}

impl StageCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let run = self.lineage.start(
            g,
            &FileLineage::default(),
            "stage",
            &[],
            Vec::new(),
            &self.stage,
            self.interval,
            self.interval_end,
        );
        let (commit, run) = run.check(self.commit(g))?;
        let stage_url = weir_stage::StageUrl::parse(&self.stage)?;
        let lineage = run.complete(&stage_url, &commit, Vec::new());
        let m = &commit.manifest;
        if g.json {
            print_json(&serde_json::json!({
                "stage": m.stage,
                "interval": m.interval,
                "manifest": format!("{stage_url}/{}", commit.manifest_path),
                "run_id": m.run_id,
                "totals": m.totals,
                "quarantine": format!("{stage_url}/{}", layout::quarantine_dir(&self.interval)),
                "deleted": commit.deleted,
                "openlineage": lineage,
            }))?;
        } else {
            print_commit("committed", &stage_url, m, None);
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Stages the input and commits it.
    fn commit(&self, g: &Globals) -> anyhow::Result<weir_stage::write::Commit> {
        let stage = self.store.open(g, &self.stage)?;
        let inputs: Vec<Input> = if self.files.is_empty() {
            vec![Input::Stdin]
        } else {
            self.files
                .iter()
                .map(|f| {
                    if f.as_os_str() == "-" {
                        Input::Stdin
                    } else {
                        Input::File(f.clone())
                    }
                })
                .collect()
        };
        let mut flags = Overrides::default();
        self.write.apply(&mut flags);
        self.line.apply(&mut flags);
        self.budget.apply(&mut flags);
        self.workers.apply(&mut flags);
        let settings = resolve(&Overrides::default(), &flags)?;
        let options = IngestOptions {
            write: settings.write_options(self.interval_end),
            max_line_bytes: settings.max_line_bytes,
            max_rejected: settings.max_rejected,
            workers: settings.workers,
            allow_empty: self.allow_empty,
        };
        Ok(ingest::ingest(&stage, self.interval, &inputs, &options)?)
    }
}
