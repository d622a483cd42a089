//! `weir stage`: ingest NDJSON files or stdin into an interval.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use weir::Interval;
use weir::batch::lines::DEFAULT_MAX_LINE_BYTES;
use weir::pipeline::ingest::{self, IngestOptions, Input};
use weir::pipeline::{Budget, default_workers};
use weir::staging::{DEFAULT_MAX_BATCH_BYTES, WriteOptions};

use super::{Globals, StoreArgs, human, parse_interval, print_json};

/// Stage NDJSON (plain or gzip) from files or stdin into an interval, as
/// batches plus a manifest.
///
/// Example:
///   weir stage ./lake/raw --interval 2026-11-26T00:00:00+00:00 events.ndjson.gz
///   zcat dump.gz | weir stage s3://lake/raw --interval 20261126T000000 --max-rejected 1%
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct StageCmd {
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
    #[command(flatten)]
    write: WriteArgs,
    #[command(flatten)]
    line: LineArgs,
    /// Rejected records allowed before the command fails without
    /// committing: a count (10), a percentage (1%) or a fraction (0.01).
    #[arg(long, default_value = "0", value_name = "BUDGET")]
    max_rejected: Budget,
    /// Worker threads (default: the number of cores).
    #[arg(long, default_value_t = default_workers())]
    workers: usize,
    #[command(flatten)]
    store: StoreArgs,
}

/// How output batches are written (shared with `weir run`).
#[derive(Debug, Args, Clone)]
pub struct WriteArgs {
    /// The most uncompressed bytes in one part (e.g. 500MB, 64MiB).
    #[arg(long, default_value_t = bytesize::ByteSize::b(DEFAULT_MAX_BATCH_BYTES), value_name = "SIZE")]
    pub max_batch_bytes: bytesize::ByteSize,
    /// gzip level, 1 (fastest) to 9 (smallest).
    #[arg(long, default_value_t = weir::batch::gzip::DEFAULT_LEVEL, value_parser = clap::value_parser!(u32).range(1..=9))]
    pub compression_level: u32,
    /// Leftovers of other attempts younger than this are not deleted after
    /// the commit (they may belong to a run still going). 0s deletes all.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub orphan_grace: std::time::Duration,
}

/// How long an input line may be (shared with `weir run`).
#[derive(Debug, Args, Clone)]
pub struct LineArgs {
    /// Lines longer than this are quarantined (with their length and first
    /// KiB) without being held in memory (e.g. 64MiB).
    #[arg(long, default_value_t = bytesize::ByteSize::b(DEFAULT_MAX_LINE_BYTES as u64), value_name = "SIZE")]
    pub max_line_bytes: bytesize::ByteSize,
}

impl LineArgs {
    /// The limit in bytes.
    pub fn max_line_bytes(&self) -> usize {
        usize::try_from(self.max_line_bytes.as_u64()).unwrap_or(usize::MAX)
    }
}

impl WriteArgs {
    /// The library options.
    pub fn options(&self, end: Option<Interval>) -> WriteOptions {
        WriteOptions {
            max_batch_bytes: self.max_batch_bytes.as_u64().max(1),
            level: self.compression_level,
            interval_end: end.map(|e| e.start()),
            orphan_grace: self.orphan_grace,
        }
    }
}

impl StageCmd {
    pub fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let stage = self.store.open(&self.stage)?;
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
        let options = IngestOptions {
            write: self.write.options(self.interval_end),
            max_line_bytes: self.line.max_line_bytes(),
            max_rejected: self.max_rejected,
            workers: self.workers.max(1),
        };
        let commit = ingest::ingest(&stage, g.runtime.handle(), self.interval, &inputs, &options)?;
        let m = &commit.manifest;
        if g.json {
            print_json(&serde_json::json!({
                "stage": m.stage,
                "interval": m.interval,
                "manifest": format!("{}/{}", stage.url(), commit.manifest_path),
                "run_id": m.run_id,
                "totals": m.totals,
                "quarantine": format!("{}/{}", stage.url(), weir::Stage::quarantine_dir(&self.interval)),
                "deleted": commit.deleted,
            }))?;
        } else {
            let t = &m.totals;
            println!(
                "committed {} records in {} parts ({} → {}) to {}/{}",
                t.records,
                t.parts,
                human(t.uncompressed_bytes),
                human(t.compressed_bytes),
                stage.url(),
                m.interval.folder
            );
            if t.quarantined > 0 {
                println!(
                    "quarantined {} records in {}/{} (see `weir cat --quarantine`)",
                    t.quarantined,
                    stage.url(),
                    weir::Stage::quarantine_dir(&self.interval)
                );
            }
            if t.blank_lines > 0 {
                println!("skipped {} blank lines", t.blank_lines);
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
