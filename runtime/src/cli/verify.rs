//! `weir verify`: check every part of an interval against its manifest.

use std::process::ExitCode;

use clap::Args;
use weir_stage::Interval;

use super::{EXIT_VERIFY_FAILED, Globals, StoreArgs, parse_interval, print_json};

/// Check that every part of an interval exists and matches its manifest
/// (size, sha256, record count, uncompressed size). Exits 4 on a mismatch.
///
/// Example:
///   weir verify s3://lake/clean --interval 2026-11-26
///   weir verify ./lake/raw            # every committed interval
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub(super) struct VerifyCmd {
    /// The stage (path or URL).
    stage: String,
    /// The interval's start; all committed intervals when omitted.
    #[arg(long, value_parser = parse_interval)]
    interval: Option<Interval>,
    #[command(flatten)]
    store: StoreArgs,
}

impl VerifyCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let stage = self.store.open_existing(g, &self.stage)?;
        let intervals = match self.interval {
            Some(i) => vec![i],
            None => stage.list_intervals()?,
        };
        let mut all_ok = true;
        let mut results = Vec::new();
        for interval in intervals {
            let report = match weir_stage::verify::verify_interval(&stage, &interval) {
                Ok(r) => r,
                // Listing every interval includes ones never committed.
                Err(weir_stage::StageError::NotCommitted { .. }) if self.interval.is_none() => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            all_ok &= report.ok();
            if g.json {
                results.push(serde_json::json!({
                    "interval": interval.to_string(),
                    "ok": report.ok(),
                    "parts_checked": report.parts_checked,
                    "records": report.records,
                    "problems": report.problems,
                }));
            } else if report.ok() {
                println!(
                    "ok {interval}: {} parts, {} records",
                    report.parts_checked, report.records
                );
            } else {
                for p in &report.problems {
                    println!("MISMATCH {interval}: {p}");
                }
            }
        }
        if g.json {
            print_json(&serde_json::json!({ "ok": all_ok, "intervals": results }))?;
        }
        Ok(if all_ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_VERIFY_FAILED)
        })
    }
}
