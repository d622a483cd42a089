//! Replay: quarantined records of an interval re-run through (fixed)
//! transforms, the recovered ones committed into the same interval
//! (`weir replay`), so quarantine is never a dead end.
//!
//! The new commit keeps the interval's data parts, adds parts with the
//! recovered records, writes the quarantine anew with what still fails (and
//! what could never be re-run: lines that were not UTF-8 or too long), and
//! records the replay in the manifest. The transforms' `finish` is not
//! called: a replay sees a handful of records, not the interval.

use chrono::{SecondsFormat, Utc};
use tokio::runtime::Handle;

use super::run::{RunError, RunOptions, Step, run_records};
use crate::batch::gzip;
use crate::batch::record::check_text;
use crate::interval::Interval;
use crate::manifest::{Replay, Totals};
use crate::quarantine::QuarantineEntry;
use crate::stage::Stage;
use crate::staging::{Commit, IntervalWriter};

/// What a replay did.
#[derive(Debug, Clone)]
pub struct ReplaySummary {
    /// The new commit.
    pub commit: Commit,
    /// The replay as recorded in the manifest.
    pub replay: Replay,
}

/// Re-runs the quarantined records of `interval` of `stage` through
/// `steps` and commits the recovered records into the interval.
pub fn replay(
    steps: &[&dyn Step],
    stage: &Stage,
    handle: &Handle,
    interval: Interval,
    options: &RunOptions,
) -> Result<ReplaySummary, RunError> {
    let (base, base_sha256) = stage.read_manifest(handle, &interval)?;
    let mut entries = Vec::new();
    for part in &base.quarantine.parts {
        let mut bytes = Vec::new();
        stage.copy_part(handle, part, &mut bytes)?;
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let entry: QuarantineEntry =
                serde_json::from_slice(line).map_err(|e| RunError::BadInput {
                    object: part.path.clone(),
                    line: i as u64 + 1,
                    reason: format!("not a quarantine entry: {e}"),
                })?;
            entries.push(entry);
        }
    }
    // Records that are JSON objects can be re-run; the rest stay as they are.
    let (replayable, stuck): (Vec<QuarantineEntry>, Vec<QuarantineEntry>) = entries
        .into_iter()
        .partition(|e| e.record.as_deref().is_some_and(|r| check_text(r).is_ok()));

    let mut objects: Vec<String> = Vec::new();
    let mut records = Vec::with_capacity(replayable.len());
    for e in &replayable {
        let index = objects
            .iter()
            .position(|o| *o == e.object)
            .unwrap_or_else(|| {
                objects.push(e.object.clone());
                objects.len() - 1
            });
        records.push((
            index as u32,
            e.line,
            e.record.as_deref().unwrap_or_default(),
        ));
    }
    let input_stage = replayable
        .iter()
        .find_map(|e| e.input_stage.clone())
        .unwrap_or_else(|| stage.url().to_string());
    let cap = options.write.max_batch_bytes;
    let outcome = run_records(
        steps,
        &objects,
        records.into_iter(),
        input_stage,
        cap,
        options.chunk_records,
        false,
    )?;
    let mut writer = IntervalWriter::amend(stage, handle, &base, interval, options.write.clone());
    let member_cap = gzip::MEMBER_BYTES.min(usize::try_from(cap).unwrap_or(usize::MAX));
    let written = (|| -> Result<(), RunError> {
        writer.write_members(gzip::compress_lines(
            outcome.output.as_bytes(),
            member_cap,
            options.write.level,
        ))?;
        for entry in outcome.rejected.iter().chain(&stuck) {
            writer.quarantine(entry)?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        writer.abort();
        return Err(e);
    }
    let requarantined = outcome.rejected.len() as u64;
    let replay = Replay {
        run_id: writer.run_id().to_owned(),
        created: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        previous_manifest_sha256: base_sha256,
        transforms: outcome.transforms.clone(),
        replayed: replayable.len() as u64,
        recovered: (replayable.len() as u64).saturating_sub(requarantined),
        not_replayable: stuck.len() as u64,
    };
    writer.add_replay(replay.clone());
    let newly_filtered: u64 = outcome.transforms.iter().map(|t| t.filtered).sum();
    let totals = Totals {
        input_records: base.totals.input_records,
        filtered: base.totals.filtered + newly_filtered,
        blank_lines: base.totals.blank_lines,
        ..Totals::default()
    };
    let commit = writer.commit(base.producer.clone(), totals, base.lineage.clone())?;
    Ok(ReplaySummary { commit, replay })
}
