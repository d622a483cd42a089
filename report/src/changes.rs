//! The intervals whose counts or quarantine rate changed most.
//!
//! Owns the measure of change: an interval against the median of the
//! committed intervals just before it ([`BASELINE`] of them), so one
//! unusual interval stands out once, not again when the next one is back
//! to normal (as it would against its predecessor alone). Pure.

use weir_stage::Interval;

use crate::model::IntervalRow;

/// How many committed intervals before an interval make its baseline.
pub const BASELINE: usize = 7;

/// What is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Committed records; the change is relative (`+0.5` is 50 % more).
    Records,
    /// Quarantined over input records; the change is in points of that
    /// fraction (`+0.02` is two percentage points more).
    QuarantineRate,
}

/// One interval's change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// The interval.
    pub interval: Interval,
    /// Its value (records, or the rate as a fraction).
    pub value: f64,
    /// The median of the intervals before it.
    pub baseline: f64,
    /// The change: relative for records, absolute for the rate.
    pub change: f64,
}

/// The `n` committed intervals of `timeline` that changed most on
/// `measure`, largest first (the later one first on a tie); intervals
/// that did not change are left out.
pub fn largest(timeline: &[IntervalRow], measure: Measure, n: usize) -> Vec<Change> {
    let values: Vec<(Interval, f64)> = timeline
        .iter()
        .filter_map(|r| {
            let c = r.counts?;
            let v = match measure {
                Measure::Records => c.records as f64,
                Measure::QuarantineRate => c.quarantine_rate(),
            };
            Some((r.interval, v))
        })
        .collect();
    let mut out: Vec<Change> = (1..values.len())
        .filter_map(|k| {
            let (interval, value) = values[k];
            let before: Vec<f64> = values[k.saturating_sub(BASELINE)..k]
                .iter()
                .map(|(_, v)| *v)
                .collect();
            let baseline = median(before);
            let change = match measure {
                Measure::Records => (value - baseline) / baseline.max(1.0),
                Measure::QuarantineRate => value - baseline,
            };
            (change != 0.0).then_some(Change {
                interval,
                value,
                baseline,
                change,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.change
            .abs()
            .total_cmp(&a.change.abs())
            .then(b.interval.cmp(&a.interval))
    });
    out.truncate(n);
    out
}

/// The median (the mean of the middle two for an even count); 0 for none.
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}
