//! The report's model: what the page shows, computed from what was read.
//!
//! Owns the types the HTML is rendered from ([`LakeReport`],
//! [`StageReport`], [`IntervalRow`], ...) and building them from
//! [`StageData`] (what [`crate::collect`] read): pure functions, no store,
//! no HTML. The computations live in [`crate::timeline`],
//! [`crate::changes`], [`crate::reasons`], [`crate::modules`] and
//! [`crate::lineage`].

use std::collections::HashMap;

use chrono::TimeDelta;
use weir_stage::Interval;
use weir_stage::manifest::Manifest;

use crate::changes::{self, Change};
use crate::error::ReportError;
use crate::lineage::LineageGraph;
use crate::modules::{self, ModuleChange, ModuleUse, ProducerUse};
use crate::reasons::{ReasonGroup, ReasonTally};
use crate::timeline;

/// Which intervals a report covers: starts from `from` to `to`, both
/// included; either end open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    /// The first interval start shown.
    pub from: Option<Interval>,
    /// The last interval start shown.
    pub to: Option<Interval>,
}

impl Range {
    /// A range, refused when `from` is after `to`.
    pub fn new(from: Option<Interval>, to: Option<Interval>) -> Result<Self, ReportError> {
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(ReportError::EmptyRange {
                from: f.to_string(),
                to: t.to_string(),
            });
        }
        Ok(Self { from, to })
    }

    /// Whether `interval` lies in the range.
    pub fn contains(&self, interval: &Interval) -> bool {
        self.from.is_none_or(|f| *interval >= f) && self.to.is_none_or(|t| *interval <= t)
    }
}

/// What was read of one interval folder.
#[derive(Debug, Clone, PartialEq)]
pub enum Commit {
    /// Its manifest, and the sha256 of the manifest's bytes.
    Committed(Box<Manifest>, String),
    /// A folder with no manifest: a crashed attempt, or shards not merged.
    NotCommitted,
    /// A manifest that does not parse or does not belong there, and why.
    Unreadable(String),
}

/// What was read of one stage: the input of [`StageReport::build`].
#[derive(Debug, Clone, Default)]
pub struct StageData {
    /// The stage's URL.
    pub url: String,
    /// Its interval folders in the range, in time order.
    pub intervals: Vec<(Interval, Commit)>,
    /// The quarantine entries read, tallied by reason.
    pub reasons: ReasonTally,
    /// The sealed shard results not yet merged by `weir commit`, by
    /// interval.
    pub shard_results: HashMap<Interval, ShardResults>,
}

/// An interval's sealed shard results waiting in `_shards/`: a sharded run
/// (or extract) whose `weir commit` has not run, or has not run since.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardResults {
    /// Results found, of the plan most of them belong to.
    pub sealed: u32,
    /// That plan's shard count.
    pub count: u32,
}

impl ShardResults {
    /// The results among `names` (object names, `shard-IIIII-of-CCCCC.json`):
    /// those of the shard count most of them claim (the larger on a tie).
    pub fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let mut by_count: HashMap<u32, std::collections::BTreeSet<u32>> = HashMap::new();
        for name in names {
            if let Some((index, count)) = weir_stage::layout::parse_shard_result(name) {
                by_count.entry(count).or_default().insert(index);
            }
        }
        by_count
            .into_iter()
            .max_by_key(|(count, found)| (found.len(), *count))
            .map(|(count, found)| Self {
                sealed: found.len() as u32,
                count,
            })
    }
}

/// An interval's state on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Committed once.
    Committed,
    /// Committed, then amended by `weir replay` (how many times).
    Replayed(usize),
    /// A folder without a manifest.
    NotCommitted,
    /// No folder at all, where the stage's cadence puts one.
    Missing,
    /// A manifest that cannot be read, and why.
    Unreadable(String),
}

impl Status {
    /// A short word for the status (CSS class, legend).
    pub fn word(&self) -> &'static str {
        match self {
            Status::Committed => "committed",
            Status::Replayed(_) => "replayed",
            Status::NotCommitted => "uncommitted",
            Status::Missing => "missing",
            Status::Unreadable(_) => "unreadable",
        }
    }
}

/// An interval's counts, from its manifest's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Committed records.
    pub records: u64,
    /// Input records (or non-blank lines, for `weir stage`) read.
    pub input: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Records a transform filtered out.
    pub filtered: u64,
    /// Uncompressed bytes of the parts.
    pub bytes: u64,
    /// Stored (compressed) bytes of the parts.
    pub stored: u64,
    /// Parts.
    pub parts: u64,
}

impl Counts {
    /// An interval's counts from its manifest.
    pub fn of(m: &Manifest) -> Self {
        let t = &m.totals;
        Self {
            records: t.records,
            input: t.input_records.saturating_sub(t.blank_lines),
            quarantined: t.quarantined,
            filtered: t.filtered,
            bytes: t.uncompressed_bytes,
            stored: t.compressed_bytes,
            parts: t.parts,
        }
    }

    /// Quarantined records over input records (blank lines not counted),
    /// 0 for no input.
    pub fn quarantine_rate(&self) -> f64 {
        if self.input == 0 {
            0.0
        } else {
            self.quarantined as f64 / self.input as f64
        }
    }

    /// Adds another interval's counts.
    pub fn add(&mut self, o: &Counts) {
        self.records += o.records;
        self.input += o.input;
        self.quarantined += o.quarantined;
        self.filtered += o.filtered;
        self.bytes += o.bytes;
        self.stored += o.stored;
        self.parts += o.parts;
    }
}

/// One interval of a stage's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalRow {
    /// The interval.
    pub interval: Interval,
    /// Its state.
    pub status: Status,
    /// Its counts, when committed.
    pub counts: Option<Counts>,
    /// When it was committed (RFC 3339), when committed.
    pub created: Option<String>,
    /// Inputs it was made from whose commit has since been replaced
    /// (stage URLs), among the stages of the report.
    pub stale_inputs: Vec<String>,
    /// Sealed shard results waiting for `weir commit`.
    pub shards: Option<ShardResults>,
}

/// Counts over a stage's timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Intervals committed (replayed ones included).
    pub committed: u64,
    /// Of those, amended by `weir replay`.
    pub replayed: u64,
    /// Intervals missing where the cadence puts one.
    pub missing: u64,
    /// Folders without a manifest.
    pub not_committed: u64,
    /// Manifests that cannot be read.
    pub unreadable: u64,
    /// Intervals made from an input commit since replaced.
    pub stale: u64,
    /// Intervals with sealed shard results not merged.
    pub unmerged: u64,
    /// The committed intervals' counts, summed.
    pub counts: Counts,
}

/// Everything the page shows of one stage.
#[derive(Debug, Clone)]
pub struct StageReport {
    /// The stage's URL.
    pub url: String,
    /// Its cadence, when there is one to find (or `--every`).
    pub every: Option<TimeDelta>,
    /// Why missing intervals are not shown, when they are not.
    pub cadence_note: Option<String>,
    /// Every interval in the range, in time order, missing ones included.
    pub timeline: Vec<IntervalRow>,
    /// Counts over the timeline.
    pub summary: Summary,
    /// The intervals whose record count moved most from the intervals
    /// before them.
    pub record_changes: Vec<Change>,
    /// The intervals whose quarantine rate moved most.
    pub rate_changes: Vec<Change>,
    /// The most frequent quarantine reasons in the entries read.
    pub reasons: Vec<ReasonGroup>,
    /// How much of the quarantine the reasons were read from.
    pub reasons_read: crate::reasons::Coverage,
    /// The commands (and Weir versions) that committed the intervals.
    pub producers: Vec<ProducerUse>,
    /// The modules the intervals were produced with.
    pub modules: Vec<ModuleUse>,
    /// When the modules changed from one interval to the next.
    pub module_changes: Vec<ModuleChange>,
    /// The input stages named by its manifests' lineage, with how many
    /// intervals name each.
    pub inputs: Vec<(String, u64)>,
}

/// How many changes, reasons and examples the page lists.
const TOP: usize = 10;

impl StageReport {
    /// Builds a stage's report from what was read; `current` holds the
    /// manifest sha256 of every committed interval of the report's stages,
    /// to tell which inputs were replaced since.
    pub fn build(
        data: &StageData,
        range: &Range,
        every: Option<TimeDelta>,
        current: &HashMap<(String, Interval), String>,
    ) -> Result<Self, ReportError> {
        let cadence = timeline::cadence(data, every);
        let (timeline, cadence_note) = timeline::timeline(data, range, &cadence, current)?;
        let mut summary = Summary::default();
        for row in &timeline {
            match &row.status {
                Status::Committed => summary.committed += 1,
                Status::Replayed(_) => {
                    summary.committed += 1;
                    summary.replayed += 1;
                }
                Status::NotCommitted => summary.not_committed += 1,
                Status::Missing => summary.missing += 1,
                Status::Unreadable(_) => summary.unreadable += 1,
            }
            if !row.stale_inputs.is_empty() {
                summary.stale += 1;
            }
            if row.shards.is_some() {
                summary.unmerged += 1;
            }
            if let Some(c) = &row.counts {
                summary.counts.add(c);
            }
        }
        let manifests: Vec<(&Interval, &Manifest)> = data
            .intervals
            .iter()
            .filter_map(|(i, c)| match c {
                Commit::Committed(m, _) => Some((i, &**m)),
                _ => None,
            })
            .collect();
        let mut inputs: Vec<(String, u64)> = Vec::new();
        for (_, m) in &manifests {
            let mut named: Vec<&str> = m.lineage.iter().map(|l| l.stage.as_str()).collect();
            named.sort_unstable();
            named.dedup();
            for stage in named {
                match inputs.iter_mut().find(|(s, _)| s == stage) {
                    Some((_, n)) => *n += 1,
                    None => inputs.push((stage.to_owned(), 1)),
                }
            }
        }
        Ok(Self {
            url: data.url.clone(),
            every: cadence.every,
            cadence_note,
            record_changes: changes::largest(&timeline, changes::Measure::Records, TOP),
            rate_changes: changes::largest(&timeline, changes::Measure::QuarantineRate, TOP),
            reasons: data.reasons.top(TOP),
            reasons_read: data.reasons.coverage(),
            producers: modules::producers(&manifests),
            modules: modules::uses(&manifests),
            module_changes: modules::changes(&manifests),
            inputs,
            timeline,
            summary,
        })
    }

    /// The stage's short name: the last segment of its URL.
    pub fn name(&self) -> &str {
        short_name(&self.url)
    }
}

/// The last segment of a stage URL (`file:///lake/raw` → `raw`).
pub fn short_name(url: &str) -> &str {
    url.trim_end_matches('/')
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or(url)
}

/// The whole page: every stage asked for, and the lineage between them.
#[derive(Debug, Clone)]
pub struct LakeReport {
    /// When the report was made (RFC 3339).
    pub generated: String,
    /// The range asked for.
    pub range: Range,
    /// One report per stage, in the order asked.
    pub stages: Vec<StageReport>,
    /// The stages and their inputs as a graph.
    pub lineage: LineageGraph,
}

impl LakeReport {
    /// Builds the page's model from what was read of each stage.
    pub fn build(
        data: &[StageData],
        range: Range,
        every: Option<TimeDelta>,
        generated: String,
    ) -> Result<Self, ReportError> {
        let mut current = HashMap::new();
        for d in data {
            for (interval, commit) in &d.intervals {
                if let Commit::Committed(_, sha) = commit {
                    current.insert((d.url.clone(), *interval), sha.clone());
                }
            }
        }
        let stages = data
            .iter()
            .map(|d| StageReport::build(d, &range, every, &current))
            .collect::<Result<Vec<_>, _>>()?;
        let lineage = LineageGraph::of(&stages);
        Ok(Self {
            generated,
            range,
            stages,
            lineage,
        })
    }
}
