//! `weir cat`: a committed interval's records as NDJSON on stdout.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use weir_stage::Interval;

use super::{Globals, StoreArgs, parse_interval};

/// Print an interval's committed records (or its quarantine) as NDJSON on
/// stdout, exactly as staged, verifying every part on the way.
///
/// Example:
///   weir cat ./lake/raw --interval 2026-11-26 | jq .id
///   weir cat ./lake/raw --interval 2026-11-26 --quarantine
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub(super) struct CatCmd {
    /// The stage (path or URL).
    stage: String,
    /// The interval's start.
    #[arg(long, value_parser = parse_interval)]
    interval: Interval,
    /// Print the quarantined records (with reasons and locations) instead.
    #[arg(long)]
    quarantine: bool,
    #[command(flatten)]
    store: StoreArgs,
}

impl CatCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let stage = self.store.open_existing(g, &self.stage)?;
        let (manifest, _) = stage.read_manifest(&self.interval)?;
        let parts = if self.quarantine {
            &manifest.quarantine.parts
        } else {
            &manifest.parts
        };
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdout.lock());
        for part in parts {
            match stage.copy_part(part, &mut out) {
                Ok(_) => {}
                // A closed pipe (`weir cat | head`) is not an error.
                Err(weir_stage::StageError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => return Err(e.into()),
            }
        }
        match out.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other?,
        }
        Ok(ExitCode::SUCCESS)
    }
}
