//! Reading what a report needs from its stages: manifests, concurrently,
//! and a bounded sample of the quarantine.
//!
//! Owns the reads: each stage's interval listing, its manifests in the
//! range ([`Stage::read_manifests`], many requests in flight), and, for the
//! top quarantine reasons, at most [`ReportOptions::quarantine_parts`]
//! quarantine parts per stage, at most [`QUARANTINE_PART_BYTES`] of each,
//! the intervals with the most quarantined records first. Never a data
//! part. Stages are read at the same time, one thread each; store calls
//! run on each stage's runtime.

use std::collections::HashMap;

use chrono::TimeDelta;
use weir_stage::layout;
use weir_stage::manifest::PartInfo;
use weir_stage::quarantine::QuarantineEntry;
use weir_stage::{Interval, Stage, StageError};

use crate::error::ReportError;
use crate::model::{Commit, Range, ShardResults, StageData};
use crate::reasons::ReasonTally;

/// The most uncompressed bytes read of one quarantine part: about 10,000
/// entries of ordinary records, plenty for the top reasons and examples.
pub const QUARANTINE_PART_BYTES: usize = 4 << 20;

/// Quarantine parts read at the same time, per stage.
const QUARANTINE_READERS: usize = 4;

/// What to read, and how much of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// The intervals covered.
    pub range: Range,
    /// The stages' cadence, when not found from their manifests.
    pub every: Option<TimeDelta>,
    /// The most quarantine parts read per stage for the top reasons (0:
    /// none).
    pub quarantine_parts: usize,
    /// Manifest requests in flight per stage.
    pub in_flight: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            range: Range::default(),
            every: None,
            quarantine_parts: 32,
            // 10,000 local manifests: 16 in flight took about as long as
            // 64; on S3 each request is a round trip, so more in flight
            // hide more of them (docs/benchmarks.md).
            in_flight: 64,
        }
    }
}

/// Reads every stage, at the same time; the first failure ends the report.
pub fn collect_all(
    stages: &[Stage],
    options: &ReportOptions,
) -> Result<Vec<StageData>, ReportError> {
    std::thread::scope(|scope| {
        let running: Vec<_> = stages
            .iter()
            .map(|stage| scope.spawn(move || collect(stage, options)))
            .collect();
        running
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Reads one stage: its intervals in the range, their manifests, and a
/// sample of its quarantine.
pub fn collect(stage: &Stage, options: &ReportOptions) -> Result<StageData, ReportError> {
    let listed = stage.list_intervals()?;
    if listed.is_empty() && !stage.holds_objects()? {
        // A mistyped path or prefix, most likely: say so, not an empty page.
        return Err(StageError::NoSuchStage {
            stage: stage.url().to_string(),
            reason: "nothing is stored under it".into(),
        }
        .into());
    }
    let shard_results = shard_results(stage, &options.range)?;
    // An interval whose shards are sealed but not merged may have no
    // folder yet: it is shown, uncommitted, rather than missing.
    let mut listed: Vec<Interval> = listed
        .into_iter()
        .filter(|i| options.range.contains(i))
        .collect();
    listed.extend(shard_results.keys().copied());
    listed.sort_unstable();
    listed.dedup();
    let read = stage.read_manifests(&listed, options.in_flight);
    let mut intervals = Vec::with_capacity(listed.len());
    for (interval, result) in listed.into_iter().zip(read) {
        let commit = match result {
            Ok(Some((m, sha))) => Commit::Committed(Box::new(m), sha),
            Ok(None) => Commit::NotCommitted,
            Err(StageError::BadManifest { object, reason, .. }) => {
                tracing::warn!("{}: {object}: {reason}", stage.url());
                Commit::Unreadable(reason)
            }
            Err(e) => return Err(e.into()),
        };
        intervals.push((interval, commit));
    }
    let reasons = sample_quarantine(stage, &intervals, options.quarantine_parts)?;
    Ok(StageData {
        url: stage.url().to_string(),
        intervals,
        reasons,
        shard_results,
    })
}

/// The sealed shard results under the stage's `_shards/` folder, by
/// interval (one listing; a commit deletes its interval's results).
fn shard_results(
    stage: &Stage,
    range: &Range,
) -> Result<HashMap<Interval, ShardResults>, ReportError> {
    let mut names: HashMap<Interval, Vec<String>> = HashMap::new();
    for rel in stage.list_objects(layout::SHARDS)? {
        // `_shards/interval=.../shard-IIIII-of-CCCCC.json`
        let mut segments = rel.split('/').skip(1);
        let (Some(folder), Some(name), None) = (segments.next(), segments.next(), segments.next())
        else {
            continue;
        };
        let Some(interval) = Interval::from_folder(folder) else {
            continue;
        };
        if range.contains(&interval) {
            names.entry(interval).or_default().push(name.to_owned());
        }
    }
    Ok(names
        .into_iter()
        .filter_map(|(i, n)| Some((i, ShardResults::of(n.iter().map(String::as_str))?)))
        .collect())
}

/// Tallies the reasons of up to `max_parts` quarantine parts, those of the
/// intervals with the most quarantined records first.
fn sample_quarantine(
    stage: &Stage,
    intervals: &[(Interval, Commit)],
    max_parts: usize,
) -> Result<ReasonTally, ReportError> {
    let mut parts: Vec<(Interval, u64, &PartInfo)> = Vec::new();
    let mut records = 0;
    for (interval, commit) in intervals {
        if let Commit::Committed(m, _) = commit {
            records += m.quarantine.records;
            parts.extend(
                m.quarantine
                    .parts
                    .iter()
                    .map(|p| (*interval, m.quarantine.records, p)),
            );
        }
    }
    let total = parts.len() as u64;
    // Most quarantined first; among equals, the latest first.
    parts.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    parts.truncate(max_parts);
    let queue = std::sync::Mutex::new(parts.iter());
    let tallies: Vec<Result<ReasonTally, StageError>> = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..QUARANTINE_READERS.min(parts.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut tally = ReasonTally::default();
                    loop {
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                        let Some((interval, _, part)) = next else {
                            return Ok(tally);
                        };
                        read_entries(stage, *interval, part, &mut tally)?;
                    }
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut tally = ReasonTally::default();
    for t in tallies {
        tally.merge(t?);
    }
    tally.set_extent(parts.len() as u64, total, records);
    Ok(tally)
}

/// Tallies the entries in the first [`QUARANTINE_PART_BYTES`] of a
/// quarantine part.
fn read_entries(
    stage: &Stage,
    interval: Interval,
    part: &PartInfo,
    tally: &mut ReasonTally,
) -> Result<(), StageError> {
    let mut reader = stage.read_part(part)?;
    let mut bytes = Vec::new();
    let ended = reader.fill(&mut bytes, QUARANTINE_PART_BYTES)?;
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    // The last piece is empty at the end of the part, or a line cut short
    // by the limit.
    lines.pop();
    if !ended {
        tracing::debug!(
            "{}: read the first {QUARANTINE_PART_BYTES} bytes of {} for its reasons",
            stage.url(),
            part.path
        );
    }
    for line in lines {
        match serde_json::from_slice::<QuarantineEntry>(line) {
            Ok(entry) => tally.add(interval, &entry),
            Err(_) => tally.add_bad_line(),
        }
    }
    Ok(())
}
