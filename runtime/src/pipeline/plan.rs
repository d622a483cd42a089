//! Plans: an interval's committed input cut into work units for a sharded
//! run (`weir plan`), and which units' results wait on a stage.
//!
//! A unit is a contiguous run of the input's parts, balanced by part count,
//! and a function of the input manifest and COUNT alone, so a retried shard
//! (an Airflow task retry) recomputes the same unit and overwrites its own
//! result. Reads manifests and listings only; imports nothing of the
//! pipeline.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::Serialize;
use weir_stage::{Interval, Stage, StageError, layout};

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
        layout::shard_result(interval, self.index, self.count)
    }

    /// The shard a result's object name claims.
    pub(super) fn from_result_name(name: &str) -> Option<Self> {
        let (index, count) = layout::parse_shard_result(name)?;
        Some(Shard { index, count })
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
    interval: Option<&Interval>,
) -> Result<BTreeMap<Interval, Vec<Shard>>, StageError> {
    let folder = match interval {
        Some(interval) => layout::shards_dir(interval),
        None => layout::SHARDS.to_owned(),
    };
    let mut unmerged: BTreeMap<Interval, Vec<Shard>> = BTreeMap::new();
    for rel in output.list_objects(&folder)? {
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
pub fn plan(input: &Stage, interval: Interval, parts_per_shard: usize) -> Result<Plan, StageError> {
    let (manifest, sha) = input.read_manifest(&interval)?;
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
