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
use weir_stage::batch::codec::MEMBER_BYTES;
use weir_stage::batch::record::check_text;
use weir_stage::manifest::Replay;
use weir_stage::quarantine::QuarantineEntry;
use weir_stage::write::{Commit, InputCounts, IntervalWriter};
use weir_stage::{Interval, Stage};

use super::attempt::Attempt;
use super::budget::Budget;
use super::error::PipelineError;
use super::run::{RunOptions, run_records};
use super::step::Step;

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
    interval: Interval,
    options: &RunOptions,
) -> Result<ReplaySummary, PipelineError> {
    let (base, base_version) = stage.read_manifest_version(&interval)?;
    let mut entries = Vec::new();
    for part in &base.quarantine.parts {
        let mut bytes = Vec::new();
        stage.copy_part(part, &mut bytes)?;
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let entry: QuarantineEntry =
                serde_json::from_slice(line).map_err(|e| PipelineError::BadInput {
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
    let writer =
        IntervalWriter::amend(stage, &base, &base_version, interval, options.write.clone());
    let mut attempt = Attempt::new(stage, &interval, writer);
    let member_cap = MEMBER_BYTES.min(usize::try_from(cap).unwrap_or(usize::MAX));
    let written = (|| -> Result<(), PipelineError> {
        attempt.write_members(
            options
                .write
                .compression
                .compress_lines(outcome.output.as_bytes(), member_cap),
        )?;
        for entry in outcome.rejected.iter().chain(&stuck) {
            attempt.reject(entry)?;
        }
        Ok(())
    })();
    let mut attempt = attempt.after_pass(written)?;
    let requarantined = outcome.rejected.len() as u64;
    let replay = Replay {
        run_id: attempt.writer().run_id().to_owned(),
        created: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        previous_manifest_sha256: base_version.sha256,
        transforms: outcome.transforms.clone(),
        replayed: replayable.len() as u64,
        recovered: (replayable.len() as u64).saturating_sub(requarantined),
        not_replayable: stuck.len() as u64,
    };
    attempt.writer().add_replay(replay.clone());
    let newly_filtered: u64 = outcome.transforms.iter().map(|t| t.counts.filtered).sum();
    let counts = InputCounts {
        input_records: base.totals.input_records,
        filtered: base.totals.filtered + newly_filtered,
        blank_lines: base.totals.blank_lines,
    };
    // What stays quarantined was quarantined before: a replay has no
    // budget of its own.
    let no_budget = Budget::Ratio(1.0);
    let commit = attempt.commit(
        &no_budget,
        base.producer.clone(),
        counts,
        base.lineage.clone(),
    )?;
    Ok(ReplaySummary { commit, replay })
}
