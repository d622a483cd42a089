//! A stage's timeline: its cadence, and every interval in the range with
//! its state, missing ones included.
//!
//! Owns finding a stage's cadence from its manifests (the interval ends
//! they record, else the spacing of the interval starts) and laying the
//! range out on it. Pure: reads only [`StageData`].

use std::collections::HashMap;

use chrono::TimeDelta;
use weir_stage::Interval;

use crate::error::ReportError;
use crate::model::{Commit, Counts, IntervalRow, Range, StageData, Status};

/// The most intervals one stage's timeline holds (about 11 years hourly).
pub const MAX_INTERVALS: u64 = 100_000;

/// A stage's cadence and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// The time between interval starts, when known.
    pub every: Option<TimeDelta>,
    /// Whether it was given (`--every`) rather than found.
    pub given: bool,
}

/// The stage's cadence: `every` when given; else the most common length of
/// the intervals whose manifests record an end; else the most common
/// spacing between consecutive interval starts (the shorter on a tie).
pub fn cadence(data: &StageData, every: Option<TimeDelta>) -> Cadence {
    if let Some(every) = every {
        return Cadence {
            every: Some(every),
            given: true,
        };
    }
    let lengths: Vec<i64> = data
        .intervals
        .iter()
        .filter_map(|(i, c)| match c {
            Commit::Committed(m, _) => {
                let end: Interval = m.interval.end.as_deref()?.parse().ok()?;
                Some((end.start() - i.start()).num_seconds())
            }
            _ => None,
        })
        .filter(|s| *s > 0)
        .collect();
    let gaps: Vec<i64> = data
        .intervals
        .windows(2)
        .map(|w| (w[1].0.start() - w[0].0.start()).num_seconds())
        .filter(|s| *s > 0)
        .collect();
    let found = most_common(&lengths).or_else(|| most_common(&gaps));
    Cadence {
        every: found.map(TimeDelta::seconds),
        given: false,
    }
}

/// The most frequent value, the smallest among equally frequent ones.
fn most_common(values: &[i64]) -> Option<i64> {
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for v in values {
        *counts.entry(*v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(v, _)| v)
}

/// A compact duration: `1d`, `1h`, `15m`, `90s`.
pub fn describe(every: TimeDelta) -> String {
    let s = every.num_seconds();
    for (unit, n) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s % n == 0 {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

/// Every interval of the range in time order, with its state, and why
/// missing intervals are not shown when they cannot be (no cadence, or
/// starts off the cadence's grid).
pub fn timeline(
    data: &StageData,
    range: &Range,
    cadence: &Cadence,
    current: &HashMap<(String, Interval), String>,
) -> Result<(Vec<IntervalRow>, Option<String>), ReportError> {
    let rows: Vec<IntervalRow> = data
        .intervals
        .iter()
        .filter(|(i, _)| range.contains(i))
        .map(|(i, c)| IntervalRow {
            shards: data.shard_results.get(i).copied(),
            ..row(*i, c, current)
        })
        .collect();
    let Some(every) = cadence.every.filter(|e| e.num_seconds() > 0) else {
        let note = "fewer than two intervals and no recorded interval end: no cadence to find missing intervals by (pass --every)";
        return Ok((rows, Some(note.into())));
    };
    let step = every.num_seconds();
    // The grid runs through the first interval (or the range's start when
    // the stage has none in it).
    let Some(anchor) = rows.first().map(|r| r.interval).or(range.from) else {
        return Ok((rows, None));
    };
    let offset = |i: &Interval| (i.start() - anchor.start()).num_seconds();
    if let Some(off) = rows.iter().find(|r| offset(&r.interval) % step != 0) {
        let note = format!(
            "intervals are not {} apart ({} is off that grid): missing intervals are not shown (pass --every)",
            describe(every),
            off.interval
        );
        return Ok((rows, Some(note)));
    }
    let first = match range.from {
        // The first grid point at or after the range's start.
        Some(f) => -(-offset(&f)).div_euclid(step),
        None => 0,
    };
    let last = match (range.to, rows.last()) {
        (Some(t), _) => offset(&t).div_euclid(step),
        (None, Some(r)) => offset(&r.interval) / step,
        (None, None) => first,
    };
    let slots = (last - first + 1).max(0) as u64;
    if slots > MAX_INTERVALS {
        return Err(ReportError::TooManyIntervals {
            stage: data.url.clone(),
            slots,
            every: describe(every),
            max: MAX_INTERVALS,
        });
    }
    let mut out = Vec::with_capacity(slots as usize);
    let mut rows = rows.into_iter().peekable();
    for k in first..=last {
        let Some(start) = anchor
            .start()
            .checked_add_signed(TimeDelta::seconds(k * step))
        else {
            break;
        };
        let Ok(slot) = Interval::from_start(start) else {
            continue;
        };
        match rows.next_if(|r| r.interval == slot) {
            Some(r) => out.push(r),
            None => out.push(IntervalRow {
                interval: slot,
                status: Status::Missing,
                counts: None,
                created: None,
                stale_inputs: vec![],
                shards: None,
            }),
        }
    }
    Ok((out, None))
}

/// One listed interval's row.
fn row(
    interval: Interval,
    commit: &Commit,
    current: &HashMap<(String, Interval), String>,
) -> IntervalRow {
    match commit {
        Commit::Committed(m, _) => {
            let mut stale_inputs: Vec<String> = m
                .lineage
                .iter()
                .filter(|l| {
                    let Ok(input) = l.interval.parse::<Interval>() else {
                        return false;
                    };
                    current
                        .get(&(l.stage.clone(), input))
                        .is_some_and(|now| *now != l.manifest_sha256)
                })
                .map(|l| l.stage.clone())
                .collect();
            stale_inputs.dedup();
            IntervalRow {
                interval,
                status: match m.replays.len() {
                    0 => Status::Committed,
                    n => Status::Replayed(n),
                },
                counts: Some(Counts::of(m)),
                created: Some(m.created.clone()),
                stale_inputs,
                shards: None,
            }
        }
        Commit::NotCommitted => IntervalRow {
            interval,
            status: Status::NotCommitted,
            counts: None,
            created: None,
            stale_inputs: vec![],
            shards: None,
        },
        Commit::Unreadable(reason) => IntervalRow {
            interval,
            status: Status::Unreadable(reason.clone()),
            counts: None,
            created: None,
            stale_inputs: vec![],
            shards: None,
        },
    }
}
