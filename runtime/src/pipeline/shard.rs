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

//!
//! Owns running one unit and sealing it (`weir run --shard`), the shard
//! result format, and merging the results (`weir commit`). Plans are
//! [`super::plan`]'s.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use weir_stage::manifest::{Counts, Lineage, PartInfo, ShardInfo, TransformInfo};
use weir_stage::write::{Commit, InputCounts, IntervalWriter, Sealed, WriteOptions};
use weir_stage::{Interval, Stage, layout};

use super::attempt::{Attempt, weir_producer};
use super::budget::Budget;
use super::error::PipelineError;
use super::plan::Shard;
use super::run::{Progress, RunOptions, execute};
use super::step::{Step, transform_infos};

/// The shard result format this version of Weir writes and reads.
pub const RESULT_FORMAT_VERSION: u32 = 1;

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
pub fn run_shard(
    steps: &[&dyn Step],
    input: &Stage,
    output: &Stage,
    interval: Interval,
    shard: Shard,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<ShardSummary, PipelineError> {
    let done = execute(
        steps,
        input,
        output,
        interval,
        options,
        progress,
        Some(shard),
    )?;
    let rejected = done.attempt.rejected();
    let attempt = if matches!(options.max_rejected, Budget::Count(_)) {
        done.attempt
            .check_budget(&options.max_rejected, done.input_records)?
    } else {
        done.attempt
    };
    let transforms = transform_infos(steps, &done.counts);
    let (input_records, lineage, parts) = (done.input_records, done.lineage, done.parts.clone());
    let sealed = attempt.seal()?;
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
    output.write_object(&rel, bytes)?;
    Ok(ShardSummary {
        result,
        result_path: rel,
    })
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
    interval: Interval,
    options: &CommitOptions,
) -> Result<CommitOutcome, PipelineError> {
    let folder = layout::shards_dir(&interval);
    let stage_url = output.url().to_string();
    let invalid = |object: &str, reason: String| PipelineError::ShardInvalid {
        stage: stage_url.clone(),
        object: object.to_owned(),
        reason,
    };
    let (input_manifest, input_sha) = input.read_manifest(&interval)?;
    let n = input_manifest.parts.len();

    // Every result object, by the shard its name claims.
    let mut found: BTreeMap<Shard, String> = BTreeMap::new();
    for rel in output.list_objects(&folder)? {
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
                    return Err(PipelineError::ShardsDuplicated {
                        stage: stage_url,
                        folder,
                        interval: interval.rfc3339(),
                        first: found[&first].clone(),
                        second: found[&second].clone(),
                    });
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
    let contents = output.read_objects(&rels)?;
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
        && let Ok((current, _)) = output.read_manifest(&interval)
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
            if let Err(e) = output.delete_objects(&leftovers) {
                tracing::warn!("could not delete the merged shard results: {e}");
            }
            return Ok(CommitOutcome::AlreadyCommitted(Commit {
                manifest: current,
                manifest_path: layout::manifest(&interval),
                deleted: leftovers,
            }));
        }
    }

    if mine.is_empty() {
        return Err(PipelineError::NoShards {
            stage: stage_url,
            folder,
            interval: interval.rfc3339(),
        });
    }
    let missing: Vec<String> = (0..count)
        .map(|index| Shard { index, count })
        .filter(|s| !mine.contains_key(s))
        .map(|s| s.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(PipelineError::ShardsMissing {
            stage: stage_url,
            folder,
            missing: missing.join(", "),
            count,
        });
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
            ));
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
            ));
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
            ));
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
            ));
        }
        let expected_in: u64 = input_manifest.parts[unit].iter().map(|p| p.records).sum();
        if r.input_records != expected_in {
            return Err(invalid(
                rel,
                format!(
                    "shard {shard} read {} records, but its input parts hold {expected_in}",
                    r.input_records
                ),
            ));
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
            ));
        }
        results.push((*shard, r));
    }

    let input_records: u64 = results.iter().map(|(_, r)| r.input_records).sum();
    let rejected: u64 = results.iter().map(|(_, r)| r.quarantined).sum();

    let mut transforms = results[0].1.transforms.clone();
    for t in &mut transforms {
        t.counts = Counts::default();
    }
    for (_, r) in &results {
        for (total, t) in transforms.iter_mut().zip(&r.transforms) {
            total.counts.add(&t.counts);
        }
    }
    let filtered = transforms.iter().map(|t| t.counts.filtered).sum();

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
        interval,
        options.write.clone(),
        sealed,
        shards,
        obsolete,
    );
    let commit = Attempt::new(output, &interval, writer)
        .with_rejected(rejected)
        .commit(
            &options.max_rejected,
            weir_producer(&options.command, transforms),
            InputCounts {
                input_records,
                filtered,
                blank_lines: 0,
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
