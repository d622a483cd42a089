//! Scale-out: one interval run as many shards at once, then committed as one.
//!
//! `weir plan` cuts an interval's committed input into work units: contiguous
//! runs of its parts, balanced by part count. `weir run --shard INDEX/COUNT`
//! processes one unit like a normal run but *seals* its output instead of
//! committing it: complete parts that no manifest references yet, and a shard
//! result (`_shards/interval=…/shard-INDEX-of-COUNT.json` in the output
//! stage) that lists them. `weir commit` checks that the results of all COUNT
//! units are there, ran against the input commit that is current now, and
//! tile its parts exactly once; then writes one manifest over all their parts
//! in input order (the same single PUT as any commit, so readers see all
//! shards or none) and deletes the results.
//!
//! A unit is a function of the input manifest and COUNT alone, so a retried
//! shard (an Airflow task retry) recomputes the same unit and overwrites its
//! own result; its earlier parts become leftovers for cleanup.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;

use super::Budget;
use super::run::{Progress, RunError, RunOptions, Step, execute, transform_infos};
use crate::error::StageError;
use crate::interval::Interval;
use crate::manifest::{
    Lineage, PartInfo, Producer, ShardInfo, Totals, TransformInfo, WEIR_PRODUCER,
};
use crate::stage::Stage;
use crate::staging::{
    Commit, IntervalWriter, Sealed, WriteOptions, delete_objects, list_objects, read_objects,
    write_object,
};

/// The shard result format this version of Weir writes and reads.
pub const RESULT_FORMAT_VERSION: u32 = 1;

/// One work unit of a plan: `INDEX/COUNT`, 0-based (Airflow's map index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    /// 0-based.
    pub index: u32,
    /// How many shards the interval is cut into.
    pub count: u32,
}

impl Shard {
    /// The input parts this shard processes, out of `parts`: a contiguous,
    /// balanced range (sizes differ by at most one part).
    pub fn parts(&self, parts: usize) -> Range<usize> {
        let at = |i: u32| (u64::from(i) * parts as u64 / u64::from(self.count)) as usize;
        at(self.index)..at(self.index + 1)
    }

    /// Where its result lives, relative to the output stage.
    pub fn result_rel(&self, interval: &Interval) -> String {
        format!(
            "{}/shard-{:05}-of-{:05}.json",
            Stage::shards_dir(interval),
            self.index,
            self.count
        )
    }

    /// The shard a result's object name claims.
    fn from_result_name(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("shard-")?.strip_suffix(".json")?;
        let (index, count) = rest.split_once("-of-")?;
        let shard = Shard {
            index: index.parse().ok()?,
            count: count.parse().ok()?,
        };
        (shard.index < shard.count).then_some(shard)
    }
}

/// The shard results sealed on `output` and not merged by a commit (yet:
/// a plan in progress; or ever: an abandoned plan's, until the orphan
/// grace), by interval (in order), each interval's by plan (shard count)
/// and index: one listing, of `interval`'s results or of every interval's.
/// Whether they can be merged (they read the current input commit, ...)
/// only `weir commit` checks.
pub fn unmerged(
    output: &Stage,
    handle: &Handle,
    interval: Option<&Interval>,
) -> Result<BTreeMap<Interval, Vec<Shard>>, StageError> {
    let folder = match interval {
        Some(interval) => Stage::shards_dir(interval),
        None => crate::stage::SHARDS.to_owned(),
    };
    let mut unmerged: BTreeMap<Interval, Vec<Shard>> = BTreeMap::new();
    for rel in list_objects(output, handle, &folder)? {
        let mut names = rel.rsplit('/');
        let (Some(name), Some(folder)) = (names.next(), names.next()) else {
            continue;
        };
        if let (Some(shard), Some(interval)) =
            (Shard::from_result_name(name), Interval::from_folder(folder))
        {
            unmerged.entry(interval).or_default().push(shard);
        }
    }
    for shards in unmerged.values_mut() {
        shards.sort_by_key(|s| (s.count, s.index));
    }
    Ok(unmerged)
}

/// Sealed shard results in a sentence: per plan, how many of its shards
/// are sealed and which are missing (the first few).
pub fn describe_unmerged(shards: &[Shard]) -> String {
    /// Missing shards named, at most.
    const NAMED: usize = 5;
    let counts: BTreeSet<u32> = shards.iter().map(|s| s.count).collect();
    let plans: Vec<String> = counts
        .into_iter()
        .map(|count| {
            let sealed: BTreeSet<u32> = shards
                .iter()
                .filter(|s| s.count == count)
                .map(|s| s.index)
                .collect();
            if sealed.len() == count as usize {
                return format!("all {count} shard results sealed, not merged");
            }
            let mut missing: Vec<String> = (0..count)
                .filter(|i| !sealed.contains(i))
                .take(NAMED)
                .map(|index| Shard { index, count }.to_string())
                .collect();
            let unnamed = count as usize - sealed.len() - missing.len();
            if unnamed > 0 {
                missing.push(format!("and {unnamed} more"));
            }
            format!(
                "{} of {count} shard results sealed (missing {})",
                sealed.len(),
                missing.join(", ")
            )
        })
        .collect();
    plans.join("; ")
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("invalid shard {s:?}: give INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/3");
        let (i, c) = s.split_once('/').ok_or_else(bad)?;
        let shard = Shard {
            index: i.trim().parse().map_err(|_| bad())?,
            count: c.trim().parse().map_err(|_| bad())?,
        };
        if shard.index >= shard.count {
            return Err(bad());
        }
        Ok(shard)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What `weir plan` prints: the interval's work units.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The input stage.
    pub input: String,
    /// The interval's start (RFC 3339).
    pub interval: String,
    /// sha256 of the input manifest the plan was made from.
    pub input_manifest_sha256: String,
    /// Input parts.
    pub parts: u64,
    /// Input records.
    pub records: u64,
    /// Input uncompressed bytes.
    pub uncompressed_bytes: u64,
    /// How many shards (`COUNT` of every unit).
    pub count: u32,
    /// The units as `weir run --shard` takes them: map over this list.
    pub shards: Vec<String>,
    /// Each unit in detail.
    pub units: Vec<Unit>,
}

/// One work unit.
#[derive(Debug, Clone, Serialize)]
pub struct Unit {
    /// `INDEX/COUNT`.
    pub shard: String,
    /// Input parts `[first, end)`.
    pub input_parts: [u64; 2],
    /// Input records.
    pub records: u64,
    /// Input uncompressed bytes.
    pub uncompressed_bytes: u64,
}

/// Cuts `interval` of `input` into units of at most `parts_per_shard` parts
/// (balanced, so they differ by at most one part). An interval with no
/// parts is one empty unit, so a plan always has work to map over.
pub fn plan(
    input: &Stage,
    handle: &Handle,
    interval: Interval,
    parts_per_shard: usize,
) -> Result<Plan, StageError> {
    let (manifest, sha) = input.read_manifest(handle, &interval)?;
    let n = manifest.parts.len();
    let count = n.div_ceil(parts_per_shard.max(1)).max(1) as u32;
    let units: Vec<Unit> = (0..count)
        .map(|index| {
            let shard = Shard { index, count };
            let range = shard.parts(n);
            let parts = &manifest.parts[range.clone()];
            Unit {
                shard: shard.to_string(),
                input_parts: [range.start as u64, range.end as u64],
                records: parts.iter().map(|p| p.records).sum(),
                uncompressed_bytes: parts.iter().map(|p| p.uncompressed_bytes).sum(),
            }
        })
        .collect();
    Ok(Plan {
        input: input.url().to_string(),
        interval: interval.rfc3339(),
        input_manifest_sha256: sha,
        parts: n as u64,
        records: manifest.totals.records,
        uncompressed_bytes: manifest.totals.uncompressed_bytes,
        count,
        shards: units.iter().map(|u| u.shard.clone()).collect(),
        units,
    })
}

/// A shard's sealed output, written to `_shards/` of the output stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardResult {
    /// Always [`RESULT_FORMAT_VERSION`].
    pub format_version: u32,
    /// `INDEX/COUNT`.
    pub shard: String,
    /// The interval's start (RFC 3339).
    pub interval: String,
    /// The shard run's id (in its part names).
    pub run_id: String,
    /// When it was sealed.
    pub created: String,
    /// The input commit it read.
    pub input: Lineage,
    /// The input parts it read, `[first, end)`.
    pub input_parts: [u64; 2],
    /// Its data parts, in record order.
    pub parts: Vec<PartInfo>,
    /// Its quarantine parts.
    pub quarantine: Vec<PartInfo>,
    /// Input records read.
    pub input_records: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// The transforms with this shard's counts.
    pub transforms: Vec<TransformInfo>,
    /// The command line.
    pub command: String,
}

/// What a shard run did.
#[derive(Debug, Clone)]
pub struct ShardSummary {
    /// The sealed result.
    pub result: ShardResult,
    /// Where it is, relative to the output stage.
    pub result_path: String,
}

/// Runs one shard of `interval`: its input parts through `steps`, sealed
/// into parts and a shard result on `output`, not committed.
///
/// The error budget applies to the whole interval, so it is checked by
/// [`commit`]; a shard only fails early when its own rejections already
/// exceed a count budget.
#[allow(clippy::too_many_arguments)]
pub fn run_shard(
    steps: &[&dyn Step],
    input: &Stage,
    output: &Stage,
    handle: &Handle,
    interval: Interval,
    shard: Shard,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<ShardSummary, RunError> {
    let done = execute(
        steps,
        input,
        output,
        handle,
        interval,
        options,
        progress,
        Some(shard),
    )?;
    if matches!(options.max_rejected, Budget::Count(_))
        && options
            .max_rejected
            .exceeded(done.rejected, done.input_records)
    {
        return Err(done.over_budget(output, &interval, options));
    }
    let transforms = transform_infos(steps, &done.counts);
    let (input_records, rejected, lineage, parts) = (
        done.input_records,
        done.rejected,
        done.lineage,
        done.parts.clone(),
    );
    let sealed = done.writer.seal()?;
    let result = ShardResult {
        format_version: RESULT_FORMAT_VERSION,
        shard: shard.to_string(),
        interval: interval.rfc3339(),
        run_id: sealed.run_id,
        created: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        input: lineage,
        input_parts: [parts.start as u64, parts.end as u64],
        quarantined: sealed.quarantine.iter().map(|p| p.records).sum(),
        parts: sealed.parts,
        quarantine: sealed.quarantine,
        input_records,
        transforms,
        command: options.command.clone(),
    };
    debug_assert_eq!(result.quarantined, rejected);
    let rel = shard.result_rel(&interval);
    let mut bytes = serde_json::to_vec_pretty(&result)
        .unwrap_or_else(|e| unreachable!("a shard result always serialises: {e}"));
    bytes.push(b'\n');
    write_object(output, handle, &rel, bytes)?;
    Ok(ShardSummary {
        result,
        result_path: rel,
    })
}

/// Why shard results cannot be committed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShardError {
    /// Some units have no result.
    #[error(
        "{stage}/{folder}: no result for shard(s) {missing} of {count}; run them (weir run ... --shard INDEX/{count}) before committing"
    )]
    Missing {
        /// The output stage.
        stage: String,
        /// The results folder.
        folder: String,
        /// The missing shards, e.g. `1/3, 2/3`.
        missing: String,
        /// The plan's shard count.
        count: u32,
    },
    /// Results of two plans cover the same input parts.
    #[error(
        "{stage}/{folder}: duplicated shards: {first} and {second} both cover input parts of interval {interval}; pass --shards COUNT (the plan's count) to commit one plan's shards"
    )]
    Duplicated {
        /// The output stage.
        stage: String,
        /// The results folder.
        folder: String,
        /// The interval.
        interval: String,
        /// One result.
        first: String,
        /// Another covering the same parts.
        second: String,
    },
    /// A result that cannot be merged as it is.
    #[error("{stage}/{object}: {reason}")]
    Invalid {
        /// The output stage.
        stage: String,
        /// The result object.
        object: String,
        /// What is wrong.
        reason: String,
    },
    /// Nothing to commit.
    #[error(
        "{stage}/{folder}: no shard results for interval {interval}; run `weir plan` and `weir run --shard` first"
    )]
    Nothing {
        /// The output stage.
        stage: String,
        /// The results folder.
        folder: String,
        /// The interval.
        interval: String,
    },
}

/// How `weir commit` behaves.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    /// How the manifest is written (orphan grace, interval end).
    pub write: WriteOptions,
    /// The interval's error budget, over all shards.
    pub max_rejected: Budget,
    /// The plan's shard count; `None` takes the results found, which must
    /// then all come from one plan.
    pub count: Option<u32>,
    /// The command line, recorded in the manifest.
    pub command: String,
}

/// What `weir commit` did.
#[derive(Debug, Clone)]
pub enum CommitOutcome {
    /// The shards were merged into this commit.
    Committed(Commit),
    /// No results were left, and the interval's commit already merges this
    /// plan's shards over the current input: a retried commit.
    AlreadyCommitted(Commit),
}

impl CommitOutcome {
    /// The commit, new or found.
    pub fn commit(&self) -> &Commit {
        match self {
            CommitOutcome::Committed(c) | CommitOutcome::AlreadyCommitted(c) => c,
        }
    }
}

/// Merges the shard results of `interval` on `output` into one commit.
///
/// Checks, before writing anything: every unit `0..COUNT` has a result; no
/// two results cover the same input parts; each ran against the input
/// commit that is current now, over exactly its unit's parts, with the same
/// transforms (module and config digests) as the others; and the merged
/// rejections are within the budget. Results of another plan (a different
/// COUNT, when `count` is given) are left out; they and their parts are
/// leftovers, deleted by a commit's cleanup once older than the orphan
/// grace. A commit retried after its manifest was written (even if it died
/// while deleting the results) finds that commit and returns it.
pub fn commit(
    input: &Stage,
    output: &Stage,
    handle: &Handle,
    interval: Interval,
    options: &CommitOptions,
) -> Result<CommitOutcome, RunError> {
    let folder = Stage::shards_dir(&interval);
    let stage_url = output.url().to_string();
    let invalid = |object: &str, reason: String| ShardError::Invalid {
        stage: stage_url.clone(),
        object: object.to_owned(),
        reason,
    };
    let (input_manifest, input_sha) = input.read_manifest(handle, &interval)?;
    let n = input_manifest.parts.len();

    // Every result object, by the shard its name claims.
    let mut found: BTreeMap<Shard, String> = BTreeMap::new();
    for rel in list_objects(output, handle, &folder)? {
        let name = rel.rsplit('/').next().unwrap_or_default();
        if let Some(s) = Shard::from_result_name(name) {
            found.insert(s, rel);
        }
    }
    let count = match options.count {
        Some(c) => c,
        None => {
            let counts: BTreeSet<u32> = found.keys().map(|s| s.count).collect();
            match counts.len() {
                0 => 0,
                1 => counts.into_iter().next().unwrap_or_default(),
                _ => {
                    // Two plans' results: unit 0 of each covers the first
                    // input part (keys sort by index, then count).
                    let mut keys = found.keys();
                    let first = keys.next().copied().unwrap_or(Shard { index: 0, count: 1 });
                    let second = keys
                        .find(|k| k.count != first.count)
                        .copied()
                        .unwrap_or(first);
                    return Err(ShardError::Duplicated {
                        stage: stage_url,
                        folder,
                        interval: interval.rfc3339(),
                        first: found[&first].clone(),
                        second: found[&second].clone(),
                    }
                    .into());
                }
            }
        }
    };
    // Results of another plan are left alone: they may belong to a commit
    // running now. They and their parts are leftovers, which a commit's
    // cleanup deletes once they are older than the orphan grace.
    // This plan's results, each read and parsed once.
    let (shards, rels): (Vec<Shard>, Vec<String>) = found
        .into_iter()
        .filter(|(shard, _)| shard.count == count)
        .unzip();
    let contents = read_objects(output, handle, &rels)?;
    let mut mine: BTreeMap<Shard, (String, Result<ShardResult, String>)> = BTreeMap::new();
    for ((shard, rel), bytes) in shards.into_iter().zip(rels).zip(contents) {
        let parsed = serde_json::from_slice::<ShardResult>(&bytes)
            .map_err(|e| format!("not a Weir shard result: {e}"));
        mine.insert(shard, (rel, parsed));
    }

    // A retried commit: the interval's commit already merges this plan's
    // shards over the current input, and what results are left (a commit
    // that died while deleting them) are the ones it merged.
    if count > 0
        && let Ok((current, _)) = output.read_manifest(handle, &interval)
        && current.shards.len() == count as usize
        && current
            .lineage
            .first()
            .is_some_and(|l| l.manifest_sha256 == input_sha)
    {
        let merged = mine.iter().all(|(shard, (_, parsed))| {
            let committed = current.shards.get(shard.index as usize).map(|s| &s.run_id);
            parsed.as_ref().is_ok_and(|r| Some(&r.run_id) == committed)
        });
        if merged {
            let leftovers: Vec<String> = mine.into_values().map(|(rel, _)| rel).collect();
            if let Err(e) = delete_objects(output, handle, &leftovers) {
                tracing::warn!("could not delete the merged shard results: {e}");
            }
            return Ok(CommitOutcome::AlreadyCommitted(Commit {
                manifest: current,
                manifest_path: Stage::manifest_rel(&interval),
                deleted: leftovers,
            }));
        }
    }

    if mine.is_empty() {
        return Err(ShardError::Nothing {
            stage: stage_url,
            folder,
            interval: interval.rfc3339(),
        }
        .into());
    }
    let missing: Vec<String> = (0..count)
        .map(|index| Shard { index, count })
        .filter(|s| !mine.contains_key(s))
        .map(|s| s.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ShardError::Missing {
            stage: stage_url,
            folder,
            missing: missing.join(", "),
            count,
        }
        .into());
    }

    let mut results = Vec::with_capacity(mine.len());
    for (shard, (rel, parsed)) in &mine {
        let r = parsed.clone().map_err(|reason| invalid(rel, reason))?;
        if r.format_version != RESULT_FORMAT_VERSION {
            return Err(invalid(
                rel,
                format!(
                    "unsupported format_version {} (this Weir reads {RESULT_FORMAT_VERSION})",
                    r.format_version
                ),
            )
            .into());
        }
        if r.shard != shard.to_string() || r.interval != interval.rfc3339() {
            return Err(invalid(
                rel,
                format!(
                    "it is the result of shard {} of interval {}, not of {shard} of {}",
                    r.shard,
                    r.interval,
                    interval.rfc3339()
                ),
            )
            .into());
        }
        if r.input.manifest_sha256 != input_sha || r.input.stage != input.url().to_string() {
            return Err(invalid(
                rel,
                format!(
                    "shard {shard} read input commit {} of {}, but the input's current commit is {} of {}; rerun the shard",
                    short(&r.input.manifest_sha256),
                    r.input.stage,
                    short(&input_sha),
                    input.url()
                ),
            )
            .into());
        }
        let unit = shard.parts(n);
        if r.input_parts != [unit.start as u64, unit.end as u64] {
            return Err(invalid(
                rel,
                format!(
                    "shard {shard} covers input parts {:?}, but its unit is {:?}: duplicated or missing input",
                    r.input_parts,
                    [unit.start, unit.end]
                ),
            )
            .into());
        }
        let expected_in: u64 = input_manifest.parts[unit].iter().map(|p| p.records).sum();
        if r.input_records != expected_in {
            return Err(invalid(
                rel,
                format!(
                    "shard {shard} read {} records, but its input parts hold {expected_in}",
                    r.input_records
                ),
            )
            .into());
        }
        if let Some(first) = results.first().map(|(_, f): &(Shard, ShardResult)| f)
            && !same_chain(&first.transforms, &r.transforms)
        {
            return Err(invalid(
                rel,
                format!(
                    "shard {shard} ran other transforms (modules or configs) than shard {}",
                    first.shard
                ),
            )
            .into());
        }
        results.push((*shard, r));
    }

    let input_records: u64 = results.iter().map(|(_, r)| r.input_records).sum();
    let rejected: u64 = results.iter().map(|(_, r)| r.quarantined).sum();
    if options.max_rejected.exceeded(rejected, input_records) {
        return Err(StageError::OverBudget {
            rejected,
            total: input_records,
            budget: options.max_rejected.to_string(),
            quarantine: format!("{stage_url}/{}", Stage::quarantine_dir(&interval)),
        }
        .into());
    }

    let mut transforms = results[0].1.transforms.clone();
    for t in &mut transforms {
        t.records_in = 0;
        t.records_out = 0;
        t.emitted = 0;
        t.filtered = 0;
        t.quarantined = 0;
    }
    for (_, r) in &results {
        for (total, t) in transforms.iter_mut().zip(&r.transforms) {
            total.records_in += t.records_in;
            total.records_out += t.records_out;
            total.emitted += t.emitted;
            total.filtered += t.filtered;
            total.quarantined += t.quarantined;
        }
    }
    let filtered = transforms.iter().map(|t| t.filtered).sum();

    // The merged results are obsolete once the manifest lists their parts.
    // (Anything else in the folder, such as a concurrent upload's temporary
    // file, is left to the grace-based cleanup.)
    let obsolete: Vec<String> = mine.into_values().map(|(rel, _)| rel).collect();

    let shards = results
        .iter()
        .map(|(s, r)| ShardInfo {
            shard: s.to_string(),
            run_id: r.run_id.clone(),
            input_parts: r.input_parts,
            input_records: r.input_records,
        })
        .collect();
    let lineage = results[0].1.input.clone();
    let sealed = results
        .into_iter()
        .map(|(_, r)| Sealed {
            run_id: r.run_id,
            parts: r.parts,
            quarantine: r.quarantine,
        })
        .collect();
    let writer = IntervalWriter::merge(
        output,
        handle,
        interval,
        options.write.clone(),
        sealed,
        shards,
        obsolete,
    );
    let commit = writer.commit(
        Producer {
            name: WEIR_PRODUCER.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            command: options.command.clone(),
            transforms,
        },
        Totals {
            input_records,
            filtered,
            ..Totals::default()
        },
        vec![lineage],
    )?;
    Ok(CommitOutcome::Committed(commit))
}

/// Whether two shards ran the same chain: same modules, configs and limits.
fn same_chain(a: &[TransformInfo], b: &[TransformInfo]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.name == y.name
                && x.module_sha256 == y.module_sha256
                && x.config_sha256 == y.config_sha256
                && x.limits == y.limits
        })
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_print_as_index_slash_count() {
        let s: Shard = "2/5".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s, Shard { index: 2, count: 5 });
        assert_eq!(s.to_string(), "2/5");
        for bad in ["5/5", "1", "a/3", "-1/3", "0/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn units_tile_the_parts_in_order_and_balance() {
        for parts in 0..40usize {
            for count in 1..12u32 {
                let mut next = 0;
                let mut sizes = Vec::new();
                for index in 0..count {
                    let r = Shard { index, count }.parts(parts);
                    assert_eq!(r.start, next, "{parts} parts, {index}/{count}");
                    next = r.end;
                    sizes.push(r.len());
                }
                assert_eq!(next, parts);
                let (lo, hi) = (sizes.iter().min(), sizes.iter().max());
                assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1), "{sizes:?}");
            }
        }
    }

    #[test]
    fn unmerged_results_are_described_per_plan_naming_a_few_missing() {
        let shard = |index, count| Shard { index, count };
        assert_eq!(
            describe_unmerged(&[shard(0, 3), shard(2, 3), shard(0, 2), shard(1, 2)]),
            "all 2 shard results sealed, not merged; 2 of 3 shard results sealed (missing 1/3)"
        );
        assert_eq!(
            describe_unmerged(&[shard(3, 1000)]),
            "1 of 1000 shard results sealed (missing 0/1000, 1/1000, 2/1000, 4/1000, 5/1000, and 994 more)"
        );
        // A stray name claiming billions of shards costs no more.
        assert!(describe_unmerged(&[shard(0, 4_000_000_000)]).ends_with("and 3999999994 more)"));
    }

    #[test]
    fn result_names_round_trip() {
        let interval: Interval = "2026-11-26".parse().unwrap_or_else(|e| panic!("{e}"));
        let s = Shard {
            index: 3,
            count: 12,
        };
        let rel = s.result_rel(&interval);
        assert_eq!(
            rel,
            "_shards/interval=20261126T000000Z/shard-00003-of-00012.json"
        );
        let name = rel.rsplit('/').next().unwrap_or_default();
        assert_eq!(Shard::from_result_name(name), Some(s));
        assert_eq!(Shard::from_result_name("shard-00003-of-00003.json"), None);
        assert_eq!(Shard::from_result_name("notes.txt"), None);
    }
}
