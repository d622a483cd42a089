//! `weir ls`: a stage's intervals, or one interval's parts.

use std::process::ExitCode;

use clap::Args;
use weir::pipeline::plan::{Shard, describe_unmerged, unmerged};
use weir_stage::{Interval, StageError};

use super::{Globals, StoreArgs, human, parse_interval, print_json};

/// List a stage's intervals with their counts, or one interval's parts.
///
/// Shard results sealed by `weir run --shard` and not merged by
/// `weir commit` are listed too, with the shards still missing.
///
/// Example:
///   weir ls ./lake/raw
///   weir ls ./lake/raw --interval 2026-11-26 --json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub(super) struct LsCmd {
    /// The stage (path or URL).
    stage: String,
    /// Show this interval's parts instead of the list of intervals.
    #[arg(long, value_parser = parse_interval)]
    interval: Option<Interval>,
    #[command(flatten)]
    store: StoreArgs,
}

impl LsCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let stage = self.store.open_existing(g, &self.stage)?;
        let mut sealed_by_interval = unmerged(&stage, self.interval.as_ref())?;
        let names =
            |shards: &[Shard]| -> Vec<String> { shards.iter().map(ToString::to_string).collect() };
        if let Some(interval) = self.interval {
            let sealed = sealed_by_interval.remove(&interval).unwrap_or_default();
            let (m, digest) = match stage.read_manifest(&interval) {
                Ok(found) => found,
                // Not committed, but sharded runs have sealed results.
                Err(StageError::NotCommitted { .. }) if !sealed.is_empty() => {
                    if g.json {
                        print_json(&serde_json::json!({
                            "interval": interval.to_string(), "folder": interval.folder(),
                            "committed": false, "unmerged_shards": names(&sealed),
                        }))?;
                    } else {
                        println!(
                            "{}/{}  not committed: {}",
                            stage.url(),
                            interval.folder(),
                            describe_unmerged(&sealed)
                        );
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => return Err(e.into()),
            };
            if g.json {
                let mut v = serde_json::to_value(&m)?;
                v["manifest_sha256"] = digest.into();
                if !sealed.is_empty() {
                    v["unmerged_shards"] = names(&sealed).into();
                }
                print_json(&v)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{}/{}  run {}  created {}",
                stage.url(),
                m.interval.folder,
                m.run_id,
                m.created
            );
            println!(
                "{:>10} {:>12} {:>12}  {:<16} path",
                "records", "bytes", "stored", "sha256"
            );
            for (kind, p) in m
                .parts
                .iter()
                .map(|p| ("", p))
                .chain(m.quarantine.parts.iter().map(|p| (" (quarantine)", p)))
            {
                println!(
                    "{:>10} {:>12} {:>12}  {:<16} {}{kind}",
                    p.records,
                    human(p.uncompressed_bytes),
                    human(p.compressed_bytes),
                    &p.sha256[..16.min(p.sha256.len())],
                    p.path
                );
            }
            let t = &m.totals;
            println!(
                "{:>10} {:>12} {:>12}  total; {} quarantined, {} blank lines skipped",
                t.records,
                human(t.uncompressed_bytes),
                human(t.compressed_bytes),
                t.quarantined,
                t.blank_lines
            );
            if !sealed.is_empty() {
                println!("unmerged: {}", describe_unmerged(&sealed));
            }
            return Ok(ExitCode::SUCCESS);
        }
        let mut intervals = stage.list_intervals()?;
        if intervals.is_empty() && sealed_by_interval.is_empty() && !stage.holds_objects()? {
            // A mistyped path or prefix, most likely: say so, not an
            // empty table.
            return Err(StageError::NoSuchStage {
                stage: stage.url().to_string(),
                reason: "nothing is stored under it".into(),
            }
            .into());
        }
        intervals.extend(sealed_by_interval.keys().copied());
        intervals.sort();
        intervals.dedup();
        let mut rows = Vec::new();
        for interval in intervals {
            let sealed = sealed_by_interval.remove(&interval).unwrap_or_default();
            match stage.read_manifest(&interval) {
                Ok((m, _)) => rows.push((interval, Some(m), sealed)),
                Err(StageError::NotCommitted { .. }) => rows.push((interval, None, sealed)),
                Err(e) => return Err(e.into()),
            }
        }
        if g.json {
            let v: Vec<_> = rows
                .iter()
                .map(|(i, m, sealed)| {
                    let mut v = match m {
                        Some(m) => serde_json::json!({
                            "interval": i.to_string(), "folder": i.folder(), "committed": true,
                            "run_id": m.run_id, "created": m.created, "totals": m.totals,
                        }),
                        None => serde_json::json!({"interval": i.to_string(), "folder": i.folder(), "committed": false}),
                    };
                    if !sealed.is_empty() {
                        v["unmerged_shards"] = names(sealed).into();
                    }
                    v
                })
                .collect();
            print_json(&serde_json::Value::Array(v))?;
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "{:<22} {:>10} {:>6} {:>12} {:>12} {:>11}  created",
            "interval", "records", "parts", "bytes", "stored", "quarantined"
        );
        for (i, m, sealed) in rows {
            let committed = m.is_some();
            match m {
                Some(m) => {
                    let t = &m.totals;
                    println!(
                        "{:<22} {:>10} {:>6} {:>12} {:>12} {:>11}  {}",
                        i.to_string(),
                        t.records,
                        t.parts,
                        human(t.uncompressed_bytes),
                        human(t.compressed_bytes),
                        t.quarantined,
                        m.created
                    );
                }
                None if sealed.is_empty() => {
                    println!("{:<22} (not committed: no manifest)", i.to_string());
                }
                None => println!(
                    "{:<22} (not committed: {})",
                    i.to_string(),
                    describe_unmerged(&sealed)
                ),
            }
            if committed && !sealed.is_empty() {
                println!("{:<22} unmerged: {}", "", describe_unmerged(&sealed));
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
