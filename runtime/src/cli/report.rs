//! `weir report`: stages as one self-contained HTML page.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use weir_report::{Range, ReportOptions};
use weir_stage::Interval;

use super::{Globals, StoreArgs, parse_interval, print_json};

/// Write one self-contained HTML page about stages: the lineage between
/// them and, per stage, a calendar of its intervals (committed, missing,
/// replayed), records, bytes and quarantine rate, the intervals that
/// changed most, the top quarantine reasons with examples, and the modules
/// that made them. Reads manifests only (and a few quarantine parts for the
/// reasons), many at a time; the page needs no server or network.
///
/// Example:
///   weir report ./lake/raw ./lake/clean -o report.html
///   weir report s3://lake/raw s3://lake/clean --from 2026-11-01 --to 2026-11-30 -o nov.html
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub(super) struct ReportCmd {
    /// The stages (paths or URLs).
    #[arg(required = true)]
    stages: Vec<String>,
    /// The first interval start shown (default: the earliest).
    #[arg(long, value_parser = parse_interval, value_name = "WHEN")]
    from: Option<Interval>,
    /// The last interval start shown, included (default: the latest).
    #[arg(long, value_parser = parse_interval, value_name = "WHEN")]
    to: Option<Interval>,
    /// The stages' cadence (e.g. 1h, 1d), when their manifests do not
    /// show it: intervals missing from it are shown as missing.
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    every: Option<std::time::Duration>,
    /// The most quarantine parts read per stage for the top reasons.
    #[arg(long, default_value_t = ReportOptions::default().quarantine_parts, value_name = "N")]
    quarantine_parts: usize,
    /// Where to write the page.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

impl ReportCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let stages = self
            .stages
            .iter()
            .map(|s| self.store.open_existing(g, s))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let every = self
            .every
            .map(chrono::TimeDelta::from_std)
            .transpose()
            .context("--every is too long")?;
        let options = ReportOptions {
            range: Range::new(self.from, self.to)?,
            every,
            quarantine_parts: self.quarantine_parts,
            ..ReportOptions::default()
        };
        let report = weir_report::report(&stages, &options)?;
        let page = weir_report::html::render(&report);
        std::fs::write(&self.output, &page)
            .with_context(|| format!("cannot write {}", self.output.display()))?;
        if g.json {
            let stages: Vec<_> = report
                .stages
                .iter()
                .map(|s| {
                    let m = &s.summary;
                    serde_json::json!({
                        "stage": s.url, "committed": m.committed, "replayed": m.replayed,
                        "missing": m.missing, "uncommitted": m.not_committed,
                        "unreadable": m.unreadable, "unmerged": m.unmerged,
                        "records": m.counts.records,
                        "quarantined": m.counts.quarantined,
                    })
                })
                .collect();
            print_json(&serde_json::json!({
                "output": self.output.display().to_string(), "bytes": page.len(), "stages": stages,
            }))?;
        } else {
            for s in &report.stages {
                let m = &s.summary;
                println!(
                    "{}: {} committed ({} replayed), {} missing, {} uncommitted ({} with shard results not merged), {} records, {} quarantined",
                    s.url,
                    m.committed,
                    m.replayed,
                    m.missing,
                    m.not_committed,
                    m.unmerged,
                    m.counts.records,
                    m.counts.quarantined
                );
            }
            println!("wrote {} ({} bytes)", self.output.display(), page.len());
        }
        Ok(ExitCode::SUCCESS)
    }
}
