//! Extract: rows of a PostgreSQL table or query into an interval of a
//! stage (`weir extract`).
//!
//! Owns driving a [`weir_extract::Extract`] on the stage's runtime and
//! turning its pages into a commit through the one commit sequence
//! (`attempt`): every line is checked like a staged one, compressed into
//! gzip members, appended to parts, and committed with Weir as the producer
//! and the extract's summary (never the password, and with the key range
//! of each part) in the manifest; `-v` logs a line per page. A record
//! that fails the check is an error naming the table or query and the row,
//! not a quarantined record: the database is the source of truth, so a row
//! Weir cannot hold is a bug to report (docs/extract.md). Reading
//! PostgreSQL is weir-extract's; writing the stage is weir-stage's.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use weir_extract::{Extract, ExtractError, ExtractSpec, Key, KeyRange, PartKeys, Summary};
use weir_stage::batch::codec::MEMBER_BYTES;
use weir_stage::batch::record::check_record;
use weir_stage::manifest::{PartInfo, ShardInfo};
use weir_stage::write::{Commit, InputCounts, IntervalWriter, Sealed, WriteOptions};
use weir_stage::{Interval, Stage, layout};

use super::attempt::{Attempt, weir_producer};
use super::budget::Budget;
use super::error::PipelineError;
use super::plan::Shard;
use super::shard::CommitOutcome;

/// Observes an extract page by page: a progress bar, periodic log lines.
pub trait ExtractProgress: Sync {
    /// A page was read and written; the totals so far.
    fn page(&self, _done: &ExtractCounts) {}
}

/// No progress reporting.
pub struct NoExtractProgress;
impl ExtractProgress for NoExtractProgress {}

/// An extract's totals so far, as [`ExtractProgress`] sees them.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractCounts {
    /// Rows read and written.
    pub rows: u64,
    /// Their NDJSON bytes (uncompressed).
    pub bytes: u64,
    /// Pages read.
    pub pages: u64,
    /// Transient failures retried.
    pub retries: u64,
}

/// A committed extract: the commit and what the reader reported.
#[derive(Debug)]
pub struct Extracted {
    /// The commit.
    pub commit: Commit,
    /// The reader's summary, as the manifest records it.
    pub summary: Summary,
}

/// Extracts `spec` into `interval` of `stage` and commits it; `command` is
/// the command line the manifest records; `progress` hears of each page.
/// Nothing is committed on any error.
pub fn extract(
    stage: &Stage,
    interval: Interval,
    spec: ExtractSpec,
    write: &WriteOptions,
    command: &str,
    progress: &dyn ExtractProgress,
) -> Result<Extracted, PipelineError> {
    let (attempt, counts, summary) = pass(
        stage,
        interval,
        spec,
        write,
        progress,
        &PassHooks::default(),
    )?;
    let mut producer = weir_producer(command, vec![]);
    producer.extract =
        Some(serde_json::to_value(&summary).map_err(|e| missing_summary(&e.to_string()))?);
    let commit = attempt.commit(&Budget::Count(0), producer, counts, vec![])?;
    Ok(Extracted { commit, summary })
}

/// Extracts `spec` over `connections` connections at once, in one
/// process, and commits once. A coordinator connection plans the key
/// ranges as `weir plan --shards` does (`percentile_disc` over the key in
/// the window), each reader connection reads its range as `weir extract
/// --shard` does, and the sealed ranges are merged as `weir commit` merges
/// shards: the records are those of a one-connection extract, in the same
/// order. In consistent mode the coordinator's `REPEATABLE READ`
/// transaction exports its snapshot (`pg_export_snapshot()`), every reader
/// imports it before its first statement, and the coordinator stays open
/// until each reader has imported it (or failed before): every range is
/// read in that one snapshot, in which the ranges were planned too.
/// Nothing is committed on any error; a failed reader's error is
/// returned, and the other readers' parts are deleted.
pub fn extract_connections(
    stage: &Stage,
    interval: Interval,
    spec: ExtractSpec,
    connections: u32,
    write: &WriteOptions,
    command: &str,
    progress: &dyn ExtractProgress,
) -> Result<Extracted, PipelineError> {
    let count = connections.max(1);
    let handle = stage.handle().clone();
    let consistent = spec.is_consistent();
    let (coordinator, keys, snapshot) = handle.block_on(async {
        let mut x = Extract::start(spec.clone()).await?;
        let snapshot = if consistent {
            Some(x.export_snapshot().await?)
        } else {
            None
        };
        let keys = x.key_boundaries(count).await?;
        Ok::<_, ExtractError>((x, keys, snapshot))
    })?;
    let plan = shard_plan(interval, coordinator.summary(), &keys, count);
    let plan_sha256 = hex::encode(Sha256::digest(to_json(&plan)));
    let mut specs = Vec::with_capacity(count as usize);
    for index in 0..count {
        let range = plan
            .range(index)
            .map_err(|reason| missing_summary(&reason))?;
        let reader = spec.clone().with_key_range(range);
        specs.push(match &snapshot {
            Some(id) => reader.with_snapshot(id),
            None => reader,
        });
    }
    // Without a snapshot to hold, the coordinator is done once it planned.
    let (mut held, mut lead) = (None, None);
    if consistent {
        held = Some(coordinator);
    } else {
        lead = Some(handle.block_on(coordinator.finish()));
    }

    let summed = SummedProgress::new(progress, count as usize);
    let (started, starts) = mpsc::channel::<usize>();
    // The first reader to fail stops the others before their next page,
    // and its error is the one reported.
    let (stop, first_failed) = (AtomicBool::new(false), AtomicUsize::new(usize::MAX));
    let (passes, lead) = std::thread::scope(|scope| {
        let readers: Vec<_> = specs
            .into_iter()
            .enumerate()
            .map(|(index, spec)| {
                let (started, summed, plan) = (started.clone(), &summed, &plan);
                let (stop, first_failed) = (&stop, &first_failed);
                scope.spawn(move || {
                    let signal = || {
                        let _ = started.send(index);
                    };
                    let slot = ProgressSlot { all: summed, index };
                    let hooks = PassHooks {
                        plan: Some(plan),
                        started: Some(&signal),
                        stop: Some(stop),
                    };
                    let out = pass(stage, interval, spec, write, &slot, &hooks);
                    // Also when it failed before it started.
                    signal();
                    if out.is_err() && !stop.swap(true, Ordering::SeqCst) {
                        first_failed.store(index, Ordering::SeqCst);
                    }
                    out
                })
            })
            .collect();
        drop(started);
        let mut seen = BTreeSet::new();
        while seen.len() < readers.len() {
            match starts.recv() {
                Ok(index) => {
                    seen.insert(index);
                }
                Err(_) => break,
            }
        }
        // Every reader holds the snapshot now: the coordinator may end.
        if let Some(x) = held.take() {
            lead = Some(handle.block_on(x.finish()));
        }
        let passes: Vec<_> = readers
            .into_iter()
            .map(|r| r.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        (passes, lead)
    });

    let mut done = Vec::with_capacity(passes.len());
    let mut failed = None;
    let first_failed = first_failed.load(Ordering::SeqCst);
    for (index, p) in passes.into_iter().enumerate() {
        match p {
            Ok(d) => done.push(d),
            // The others stopped because of it.
            Err(e) if index == first_failed => failed = Some(e),
            Err(_) => {}
        }
    }
    let lead = match lead {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            failed.get_or_insert(e.into());
            None
        }
        None => None,
    };
    let (Some(mut summary), None) = (lead, &failed) else {
        for (attempt, _, _) in done {
            attempt.abort();
        }
        return Err(
            failed.unwrap_or_else(|| missing_summary("the coordinator ended without a summary"))
        );
    };
    let mut results = Vec::with_capacity(done.len());
    let (mut rows, mut pages) = (0, 0);
    let mut parts = Vec::new();
    for (index, (attempt, counts, s)) in done.into_iter().enumerate() {
        let shard = Shard {
            index: index as u32,
            count,
        };
        results.push(shard_result(
            shard,
            interval,
            plan_sha256.clone(),
            attempt,
            counts,
            &s,
            command,
        )?);
        (rows, pages) = (rows + s.rows, pages + s.pages);
        summary.retries += s.retries;
        for w in s.warnings {
            if !summary.warnings.contains(&w) {
                summary.warnings.push(w);
            }
        }
        parts.extend(s.parts);
    }
    (summary.rows, summary.pages, summary.parts) = (rows, pages, parts);
    let mut extract = merge_summaries(&plan, &results);
    if let serde_json::Value::Object(m) = &mut extract {
        m.insert("connections".into(), count.into());
        m.insert("retries".into(), summary.retries.into());
        // The coordinator read it first, before planning.
        m.insert(
            "replay_start".into(),
            serde_json::to_value(&summary.replay_start).unwrap_or_default(),
        );
        if let Some(id) = snapshot {
            m.insert("snapshot".into(), id.into());
        }
    }
    let commit = commit_results(stage, interval, write, results, vec![], extract, command)?;
    Ok(Extracted { commit, summary })
}

/// Sums the progress of a parallel extract's connections for one observer.
struct SummedProgress<'a> {
    inner: &'a dyn ExtractProgress,
    each: Mutex<Vec<ExtractCounts>>,
}

impl<'a> SummedProgress<'a> {
    fn new(inner: &'a dyn ExtractProgress, count: usize) -> Self {
        Self {
            inner,
            each: Mutex::new(vec![ExtractCounts::default(); count]),
        }
    }
}

/// One connection's share of a [`SummedProgress`].
struct ProgressSlot<'a> {
    all: &'a SummedProgress<'a>,
    index: usize,
}

impl ExtractProgress for ProgressSlot<'_> {
    fn page(&self, done: &ExtractCounts) {
        let total = {
            let mut each = self.all.each.lock().unwrap_or_else(|e| e.into_inner());
            each[self.index] = *done;
            each.iter()
                .fold(ExtractCounts::default(), |t, c| ExtractCounts {
                    rows: t.rows + c.rows,
                    bytes: t.bytes + c.bytes,
                    pages: t.pages + c.pages,
                    retries: t.retries + c.retries,
                })
        };
        self.all.inner.page(&total);
    }
}

/// What a [`pass`] checks and tells besides its pages.
#[derive(Default)]
struct PassHooks<'a> {
    /// The plan the extract must have been made for (same statement, same
    /// key type), else nothing is read: a shard, a parallel range.
    plan: Option<&'a ExtractShardPlan>,
    /// Called once the reader has started (connected, checked, and in
    /// consistent mode holding its snapshot), before the first page.
    started: Option<&'a dyn Fn()>,
    /// Set when another connection of the extract failed: the pass stops
    /// before its next page.
    stop: Option<&'a AtomicBool>,
}

/// One pass of the extract into a new attempt on `stage`: every page
/// checked and written, the parts' key ranges in the summary. On an error
/// the attempt is aborted.
fn pass(
    stage: &Stage,
    interval: Interval,
    spec: ExtractSpec,
    write: &WriteOptions,
    progress: &dyn ExtractProgress,
    hooks: &PassHooks<'_>,
) -> Result<(Attempt, InputCounts, Summary), PipelineError> {
    let member_cap = MEMBER_BYTES.min(usize::try_from(write.max_batch_bytes).unwrap_or(usize::MAX));
    let compression = write.compression;
    let writer = IntervalWriter::new(stage, interval, write.clone());
    let mut attempt = Attempt::new(stage, &interval, writer);
    let mut counts = InputCounts::default();
    let handle = stage.handle().clone();
    let mut summary = None;
    let mut bytes = 0u64;
    // Each await runs on the stage's runtime; the writes between them
    // block on it themselves, so they happen outside `block_on`.
    let pass = || -> Result<(), PipelineError> {
        let mut x = handle.block_on(Extract::start(spec))?;
        if let Some(started) = hooks.started {
            started();
        }
        if let Some(plan) = hooks.plan {
            plan.check(x.summary())?;
        }
        let object = match (&x.summary().table, &x.summary().query) {
            (Some(t), _) => format!("table {t}"),
            _ => "query".to_owned(),
        };
        let mut parts: Vec<PartKeys> = Vec::new();
        loop {
            if hooks.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                return Err(ExtractError::Config(
                    "stopped: another connection of the extract failed".to_owned(),
                )
                .into());
            }
            let Some(page) = handle.block_on(x.next_page())? else {
                break;
            };
            check_page(
                &object,
                counts.input_records,
                &page.lines,
                write.max_batch_bytes,
            )?;
            counts.input_records += page.rows;
            bytes += page.lines.len() as u64;
            let s = x.summary();
            progress.page(&ExtractCounts {
                rows: s.rows,
                bytes,
                pages: s.pages,
                retries: s.retries,
            });
            tracing::info!(
                "{object}: page {}: {} rows, keys {} to {} ({} rows so far, {} retries)",
                s.pages,
                page.rows,
                page.first_key,
                page.last_key,
                s.rows,
                s.retries
            );
            // Members hold whole rows in order, so each member's rows are
            // the next `records` keys of the page.
            let mut keys = page.keys.iter();
            for member in compression.compress_lines(&page.lines, member_cap) {
                let rows = member.records;
                let member_keys: Vec<&String> = keys.by_ref().take(rows as usize).collect();
                attempt.write_members(vec![member])?;
                let (Some(first), Some(last)) = (member_keys.first(), member_keys.last()) else {
                    continue;
                };
                let path = attempt.writer().open_data_part().unwrap_or_default();
                match parts.last_mut() {
                    Some(p) if p.path == path => {
                        p.last_key.clone_from(last);
                        p.rows += rows;
                    }
                    _ => parts.push(PartKeys {
                        path: path.to_owned(),
                        first_key: (*first).clone(),
                        last_key: (*last).clone(),
                        rows,
                    }),
                }
            }
        }
        let mut done = handle.block_on(x.finish())?;
        done.parts = parts;
        summary = Some(done);
        Ok(())
    };
    let pass = pass();
    let attempt = attempt.after_pass(pass)?;
    let summary = summary.ok_or_else(|| missing_summary("the extract ended without a summary"))?;
    Ok((attempt, counts, summary))
}

/// The extract plan format this version of Weir writes and reads.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// Where an interval's extract plan lives, relative to the output stage.
pub fn plan_rel(interval: &Interval) -> String {
    format!("{}/extract-plan.json", layout::shards_dir(interval))
}

/// A sharded extract's plan (`weir plan` of an extract step), kept in the
/// output stage next to the shard results: the key ranges of its shards.
/// Every shard reads it, so a retried shard reads the same range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractShardPlan {
    /// Always [`PLAN_FORMAT_VERSION`].
    pub format_version: u32,
    /// The interval's start (RFC 3339).
    pub interval: String,
    /// When it was made.
    pub created: String,
    /// How many shards.
    pub count: u32,
    /// The units as `weir extract --shard` takes them: map over this list.
    pub shards: Vec<String>,
    /// The key column.
    pub key: String,
    /// The key's type (OID): the boundaries are in its binary form.
    pub key_type_oid: u32,
    /// The extract's page statement without a key range (sha256): shards
    /// must run the same.
    pub relation_sha256: String,
    /// The shards' key ranges, in key order: each one's `to_key` is the
    /// next one's `from_key`.
    pub units: Vec<ExtractUnit>,
}

/// One shard of an extract plan: the keys `[from_key, to_key)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractUnit {
    /// `INDEX/COUNT`.
    pub shard: String,
    /// The first key, as JSON text; none: from the smallest key.
    pub from_key: Option<String>,
    /// The first key after the shard, as JSON text; none: to the largest.
    pub to_key: Option<String>,
    /// `from_key` in the key's binary form, hex.
    pub from_raw: Option<String>,
    /// `to_key` in the key's binary form, hex.
    pub to_raw: Option<String>,
    /// No key at all (the window held no row when planned; shard 0 then
    /// takes every key).
    pub empty: bool,
}

impl ExtractShardPlan {
    /// Refuses an extract that is not the one this plan was made for.
    fn check(&self, summary: &Summary) -> Result<(), ExtractError> {
        if summary.relation_sha256 != self.relation_sha256
            || summary.key_type_oid != self.key_type_oid
        {
            return Err(ExtractError::Config(
                "the extract is not the one its plan was made for (the step, its window or the key's type changed since `weir plan`): plan the interval again"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// The key range of shard `index`.
    fn range(&self, index: u32) -> Result<KeyRange, String> {
        let unit = self
            .units
            .get(index as usize)
            .ok_or_else(|| format!("the plan has no shard {index}"))?;
        let raw = |h: &Option<String>| {
            h.as_deref()
                .map(hex::decode)
                .transpose()
                .map_err(|e| format!("a key of shard {}: {e}", unit.shard))
        };
        Ok(KeyRange {
            from: raw(&unit.from_raw)?,
            to: raw(&unit.to_raw)?,
            empty: unit.empty,
        })
    }
}

/// Plans a sharded extract of `interval` into `count` shards of about the
/// same number of rows (cut by `percentile_disc` over the key, in the
/// window) and writes the plan to `output`, replacing an earlier plan of
/// the interval (whose shard results `weir commit` then refuses).
pub fn plan(
    output: &Stage,
    interval: Interval,
    spec: ExtractSpec,
    count: u32,
) -> Result<ExtractShardPlan, PipelineError> {
    let handle = output.handle().clone();
    let count = count.max(1);
    let (summary, keys) = handle.block_on(async {
        let mut x = Extract::start(spec).await?;
        let keys = x.key_boundaries(count).await?;
        Ok::<_, ExtractError>((x.finish().await?, keys))
    })?;
    let plan = shard_plan(interval, &summary, &keys, count);
    output.write_object(&plan_rel(&interval), to_json(&plan))?;
    Ok(plan)
}

/// The plan of `count` shards cut at `keys` (the `count - 1` boundaries
/// [`Extract::key_boundaries`] gave; none when the window held no row).
fn shard_plan(interval: Interval, summary: &Summary, keys: &[Key], count: u32) -> ExtractShardPlan {
    let units = (0..count)
        .map(|index| {
            let shard = Shard { index, count }.to_string();
            if keys.is_empty() {
                return ExtractUnit {
                    shard,
                    from_key: None,
                    to_key: None,
                    from_raw: None,
                    to_raw: None,
                    empty: index > 0,
                };
            }
            let from = index.checked_sub(1).and_then(|i| keys.get(i as usize));
            let to = keys.get(index as usize);
            ExtractUnit {
                shard,
                from_key: from.map(|k| k.json.clone()),
                to_key: to.map(|k| k.json.clone()),
                from_raw: from.map(|k| hex::encode(&k.raw)),
                to_raw: to.map(|k| hex::encode(&k.raw)),
                empty: false,
            }
        })
        .collect::<Vec<_>>();
    ExtractShardPlan {
        format_version: PLAN_FORMAT_VERSION,
        interval: interval.rfc3339(),
        created: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        count,
        shards: units.iter().map(|u| u.shard.clone()).collect(),
        key: summary.key.clone(),
        key_type_oid: summary.key_type_oid,
        relation_sha256: summary.relation_sha256.clone(),
        units,
    }
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .unwrap_or_else(|e| unreachable!("a plan or result always serialises: {e}"));
    bytes.push(b'\n');
    bytes
}

/// The plan of `interval` on `output` and its sha256, if there is one.
fn read_plan(
    output: &Stage,
    interval: &Interval,
) -> Result<Option<(ExtractShardPlan, String)>, PipelineError> {
    let rel = plan_rel(interval);
    if !output
        .list_objects(&layout::shards_dir(interval))?
        .contains(&rel)
    {
        return Ok(None);
    }
    let bytes = output.read_objects(std::slice::from_ref(&rel))?;
    let bytes = bytes.first().cloned().unwrap_or_default();
    let plan: ExtractShardPlan =
        serde_json::from_slice(&bytes).map_err(|e| PipelineError::ShardInvalid {
            stage: output.url().to_string(),
            object: rel.clone(),
            reason: format!("not a Weir extract plan: {e}"),
        })?;
    if plan.format_version != PLAN_FORMAT_VERSION {
        return Err(PipelineError::ShardInvalid {
            stage: output.url().to_string(),
            object: rel,
            reason: format!(
                "unsupported format_version {} (this Weir reads {PLAN_FORMAT_VERSION})",
                plan.format_version
            ),
        });
    }
    Ok(Some((plan, hex::encode(Sha256::digest(&bytes)))))
}

/// A sealed extract shard, written to `_shards/` of the output stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractShardResult {
    /// Always [`PLAN_FORMAT_VERSION`].
    pub format_version: u32,
    /// `INDEX/COUNT`.
    pub shard: String,
    /// The interval's start (RFC 3339).
    pub interval: String,
    /// sha256 of the plan it read.
    pub plan_sha256: String,
    /// The shard run's id (in its part names).
    pub run_id: String,
    /// When it was sealed.
    pub created: String,
    /// Its data parts, in key order.
    pub parts: Vec<PartInfo>,
    /// Rows it read.
    pub rows: u64,
    /// The reader's summary of this shard (its parts' key ranges).
    pub extract: serde_json::Value,
    /// The command line.
    pub command: String,
}

/// What a shard run did.
#[derive(Debug, Clone)]
pub struct ExtractShardDone {
    /// The sealed result.
    pub result: ExtractShardResult,
    /// Where it is, relative to the output stage.
    pub result_path: String,
    /// The shard's unit of the plan.
    pub unit: ExtractUnit,
}

/// Runs shard `shard` of the plan of `interval` on `output`: the keys of
/// its unit, sealed into parts and a shard result, not committed.
pub fn extract_shard(
    output: &Stage,
    interval: Interval,
    spec: ExtractSpec,
    shard: Shard,
    write: &WriteOptions,
    command: &str,
    progress: &dyn ExtractProgress,
) -> Result<ExtractShardDone, PipelineError> {
    let rel = plan_rel(&interval);
    let invalid = |reason: String| PipelineError::ShardInvalid {
        stage: output.url().to_string(),
        object: rel.clone(),
        reason,
    };
    if spec.is_consistent() {
        return Err(invalid(
            "consistent mode does not apply to `--shard` (separate processes read at different moments, and an exported snapshot lives only as long as the transaction that exported it): read the key ranges at once in one process with `--connections COUNT` (step option `connections`), which shares one snapshot"
                .to_owned(),
        ));
    }
    let (plan, plan_sha) = read_plan(output, &interval)?.ok_or_else(|| {
        invalid(format!(
            "no extract plan for interval {}: run `weir plan PIPELINE STEP --shards COUNT` first",
            interval.rfc3339()
        ))
    })?;
    if plan.count != shard.count {
        return Err(invalid(format!(
            "shard {shard} is not of this plan, which has {} shards",
            plan.count
        )));
    }
    let range = plan.range(shard.index).map_err(&invalid)?;
    let unit = plan.units[shard.index as usize].clone();
    let spec = spec.with_key_range(range);
    let (attempt, counts, summary) = pass(
        output,
        interval,
        spec,
        write,
        progress,
        &PassHooks {
            plan: Some(&plan),
            ..PassHooks::default()
        },
    )?;
    let result = shard_result(
        shard, interval, plan_sha, attempt, counts, &summary, command,
    )?;
    let result_path = shard.result_rel(&interval);
    output.write_object(&result_path, to_json(&result))?;
    Ok(ExtractShardDone {
        result,
        result_path,
        unit,
    })
}

/// Seals a shard's attempt into its result.
fn shard_result(
    shard: Shard,
    interval: Interval,
    plan_sha256: String,
    attempt: Attempt,
    counts: InputCounts,
    summary: &Summary,
    command: &str,
) -> Result<ExtractShardResult, PipelineError> {
    let sealed = attempt.seal()?;
    Ok(ExtractShardResult {
        format_version: PLAN_FORMAT_VERSION,
        shard: shard.to_string(),
        interval: interval.rfc3339(),
        plan_sha256,
        run_id: sealed.run_id,
        created: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        parts: sealed.parts,
        rows: counts.input_records,
        extract: serde_json::to_value(summary).map_err(|e| missing_summary(&e.to_string()))?,
        command: command.to_owned(),
    })
}

/// Merges the sealed shards of the extract plan of `interval` on `output`
/// into one commit: every shard of the plan must have a result made from
/// this very plan. The manifest's `producer.extract` sums the shards'
/// summaries and lists each shard's key range. A commit retried after it
/// succeeded (the plan and results are gone, the interval's commit merges
/// `count` shards) finds that commit and returns it.
pub fn commit(
    output: &Stage,
    interval: Interval,
    write: &WriteOptions,
    count: Option<u32>,
    command: &str,
) -> Result<CommitOutcome, PipelineError> {
    let stage_url = output.url().to_string();
    let folder = layout::shards_dir(&interval);
    let Some((plan, plan_sha)) = read_plan(output, &interval)? else {
        if let Ok((current, _)) = output.read_manifest(&interval)
            && !current.shards.is_empty()
            && count.is_none_or(|c| current.shards.len() == c as usize)
            && current.producer.extract.is_some()
        {
            return Ok(CommitOutcome::AlreadyCommitted(Commit {
                manifest: current,
                manifest_path: layout::manifest(&interval),
                deleted: vec![],
            }));
        }
        return Err(PipelineError::NoShards {
            stage: stage_url,
            folder,
            interval: interval.rfc3339(),
        });
    };
    let plan_rel = plan_rel(&interval);
    if let Some(c) = count
        && c != plan.count
    {
        return Err(PipelineError::ShardInvalid {
            stage: stage_url,
            object: plan_rel,
            reason: format!("the plan has {} shards, not {c}", plan.count),
        });
    }
    let shards: Vec<Shard> = (0..plan.count)
        .map(|index| Shard {
            index,
            count: plan.count,
        })
        .collect();
    let listed = output.list_objects(&folder)?;
    let missing: Vec<String> = shards
        .iter()
        .filter(|s| !listed.contains(&s.result_rel(&interval)))
        .map(|s| s.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(PipelineError::ShardsMissing {
            stage: stage_url,
            folder,
            missing: missing.join(", "),
            count: plan.count,
        });
    }
    let rels: Vec<String> = shards.iter().map(|s| s.result_rel(&interval)).collect();
    let mut results = Vec::with_capacity(rels.len());
    for ((shard, rel), bytes) in shards.iter().zip(&rels).zip(output.read_objects(&rels)?) {
        let invalid = |reason: String| PipelineError::ShardInvalid {
            stage: stage_url.clone(),
            object: rel.clone(),
            reason,
        };
        let r: ExtractShardResult = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("not a Weir extract shard result: {e}")))?;
        if r.plan_sha256 != plan_sha {
            return Err(invalid(format!(
                "shard {shard} ran from another plan of the interval than the current one; rerun the shard"
            )));
        }
        if r.shard != shard.to_string() || r.interval != interval.rfc3339() {
            return Err(invalid(format!(
                "it is the result of shard {} of interval {}, not of {shard} of {}",
                r.shard,
                r.interval,
                interval.rfc3339()
            )));
        }
        let in_parts: u64 = r.parts.iter().map(|p| p.records).sum();
        if in_parts != r.rows {
            return Err(invalid(format!(
                "shard {shard} read {} rows, but its parts hold {in_parts}",
                r.rows
            )));
        }
        results.push(r);
    }

    let extract = merge_summaries(&plan, &results);
    let mut obsolete = rels;
    obsolete.push(plan_rel);
    let commit = commit_results(output, interval, write, results, obsolete, extract, command)?;
    Ok(CommitOutcome::Committed(commit))
}

/// One commit of the shards' `results`, in key order, with `extract` (their
/// merged summary) as the manifest's `producer.extract`; `obsolete` are the
/// objects the commit makes obsolete (the plan and the results, for `weir
/// commit`). The one merge of `weir commit` and of a parallel extract.
fn commit_results(
    output: &Stage,
    interval: Interval,
    write: &WriteOptions,
    results: Vec<ExtractShardResult>,
    obsolete: Vec<String>,
    extract: serde_json::Value,
    command: &str,
) -> Result<Commit, PipelineError> {
    let rows: u64 = results.iter().map(|r| r.rows).sum();
    let infos = results
        .iter()
        .map(|r| ShardInfo {
            shard: r.shard.clone(),
            run_id: r.run_id.clone(),
            input_parts: [0, 0],
            input_records: r.rows,
        })
        .collect();
    let sealed = results
        .into_iter()
        .map(|r| Sealed {
            run_id: r.run_id,
            parts: r.parts,
            quarantine: vec![],
        })
        .collect();
    let writer = IntervalWriter::merge(output, interval, write.clone(), sealed, infos, obsolete);
    let mut producer = weir_producer(command, vec![]);
    producer.extract = Some(extract);
    Attempt::new(output, &interval, writer).commit(
        &Budget::Count(0),
        producer,
        InputCounts {
            input_records: rows,
            filtered: 0,
            blank_lines: 0,
        },
        vec![],
    )
}

/// One summary for the merged shards: shard 0's, with the rows, pages,
/// retries, warnings and parts of all of them, the earliest replay start
/// and the latest replay end, and each shard's key range and rows.
fn merge_summaries(plan: &ExtractShardPlan, results: &[ExtractShardResult]) -> serde_json::Value {
    use serde_json::{Value, json};
    let mut merged = results
        .first()
        .map(|r| r.extract.clone())
        .unwrap_or_else(|| json!({}));
    let sum = |field: &str| -> u64 {
        results
            .iter()
            .filter_map(|r| r.extract[field].as_u64())
            .sum()
    };
    let (rows, pages, retries) = (sum("rows"), sum("pages"), sum("retries"));
    let mut warnings: Vec<Value> = Vec::new();
    let mut parts: Vec<Value> = Vec::new();
    for r in results {
        for w in r.extract["warnings"].as_array().into_iter().flatten() {
            if !warnings.contains(w) {
                warnings.push(w.clone());
            }
        }
        parts.extend(r.extract["parts"].as_array().into_iter().flatten().cloned());
    }
    let replay = |field: &str, latest: bool| -> Value {
        let mut found: Vec<&Value> = results
            .iter()
            .map(|r| &r.extract[field])
            .filter(|v| !v.is_null())
            .collect();
        found.sort_by_key(|v| v["timestamp"].as_str().unwrap_or_default().to_owned());
        let pick = if latest { found.last() } else { found.first() };
        pick.map(|v| (*v).clone()).unwrap_or(Value::Null)
    };
    let shards: Vec<Value> = results
        .iter()
        .zip(&plan.units)
        .map(|(r, u)| {
            json!({
                "shard": r.shard,
                "from_key": u.from_key,
                "to_key": u.to_key,
                "rows": r.rows,
                "pages": r.extract["pages"],
                "retries": r.extract["retries"],
                "sql_sha256": r.extract["sql_sha256"],
            })
        })
        .collect();
    if let Value::Object(m) = &mut merged {
        m.insert("rows".into(), rows.into());
        m.insert("pages".into(), pages.into());
        m.insert("retries".into(), retries.into());
        m.insert("warnings".into(), Value::Array(warnings));
        m.insert("parts".into(), Value::Array(parts));
        m.insert("replay_start".into(), replay("replay_start", false));
        m.insert("replay_end".into(), replay("replay_end", true));
        m.insert("sql".into(), Value::Null);
        m.insert("sql_sha256".into(), plan.relation_sha256.clone().into());
        m.insert("shards".into(), Value::Array(shards));
    }
    merged
}

fn missing_summary(reason: &str) -> PipelineError {
    PipelineError::BadInput {
        object: "extract summary".into(),
        line: 0,
        reason: reason.to_owned(),
    }
}

/// Checks every line of a page as `weir stage` checks a staged one; `before`
/// rows came in earlier pages, so the error names the row's 1-based place
/// in the extract.
fn check_page(object: &str, before: u64, lines: &[u8], cap: u64) -> Result<(), PipelineError> {
    for (i, line) in lines
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let size = line.len() as u64 + 1;
        let reason = if size > cap {
            Some(format!(
                "record of {size} bytes exceeds the batch cap of {cap} bytes (--max-batch-bytes)"
            ))
        } else {
            check_record(line).err().map(|p| p.to_string())
        };
        if let Some(reason) = reason {
            return Err(PipelineError::BadInput {
                object: object.to_owned(),
                line: before + i as u64 + 1,
                reason,
            });
        }
    }
    Ok(())
}
