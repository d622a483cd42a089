//! The top quarantine reasons of a stage, with a few example records.
//!
//! Owns grouping quarantine entries by reason: the transform that rejected
//! them and the reason with its numbers taken out (`invalid JSON: expected
//! value at line 1 column 5` and `... column 9` are one reason), counted,
//! with the first few entries kept as examples (their record text cut to
//! [`EXAMPLE_CHARS`]). Memory stays bounded however many entries are
//! tallied: a count and [`EXAMPLES`] entries per reason. Pure.

use std::collections::HashMap;

use weir_stage::Interval;
use weir_stage::quarantine::QuarantineEntry;

/// Examples kept per reason.
pub const EXAMPLES: usize = 3;
/// The most characters of a record an example shows.
pub const EXAMPLE_CHARS: usize = 300;

/// One example of a reason: a quarantined record and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The interval whose quarantine holds it.
    pub interval: Interval,
    /// The object (input file or part) it was read from.
    pub object: String,
    /// Its 1-based line there.
    pub line: u64,
    /// The exact reason.
    pub reason: String,
    /// The record's text (escaped bytes if it was not UTF-8), cut to
    /// [`EXAMPLE_CHARS`].
    pub text: String,
    /// Whether the text was cut (or the record was too long to keep).
    pub cut: bool,
}

/// A reason and how often it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonGroup {
    /// The transform that rejected the records (`None`: `weir stage`).
    pub transform: Option<String>,
    /// The reason with runs of digits shown as `N`.
    pub reason: String,
    /// Entries seen with it.
    pub count: u64,
    /// The first few of them.
    pub examples: Vec<Example>,
}

/// How much of a stage's quarantine was read for its reasons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Quarantine parts read.
    pub parts_read: u64,
    /// Quarantine parts in the range.
    pub parts: u64,
    /// Entries read.
    pub entries_read: u64,
    /// Quarantined records in the range.
    pub records: u64,
    /// Lines that were not quarantine entries.
    pub bad_lines: u64,
}

/// Quarantine entries tallied by reason.
#[derive(Debug, Clone, Default)]
pub struct ReasonTally {
    groups: HashMap<(Option<String>, String), ReasonGroup>,
    coverage: Coverage,
}

impl ReasonTally {
    /// Counts one entry of `interval`'s quarantine.
    pub fn add(&mut self, interval: Interval, entry: &QuarantineEntry) {
        self.coverage.entries_read += 1;
        let key = (entry.transform.clone(), without_numbers(&entry.reason));
        let group = self.groups.entry(key).or_insert_with_key(|k| ReasonGroup {
            transform: k.0.clone(),
            reason: k.1.clone(),
            count: 0,
            examples: vec![],
        });
        group.count += 1;
        if group.examples.len() < EXAMPLES {
            let whole = entry
                .record
                .as_deref()
                .or(entry.record_escaped.as_deref())
                .unwrap_or("");
            let text: String = whole.chars().take(EXAMPLE_CHARS).collect();
            group.examples.push(Example {
                interval,
                object: entry.object.clone(),
                line: entry.line,
                reason: entry.reason.clone(),
                cut: text.len() < whole.len() || entry.record_bytes.is_some(),
                text,
            });
        }
    }

    /// Counts a line of a quarantine part that is not an entry.
    pub fn add_bad_line(&mut self) {
        self.coverage.bad_lines += 1;
    }

    /// Records how much of the quarantine there is and how much was read.
    pub fn set_extent(&mut self, parts_read: u64, parts: u64, records: u64) {
        self.coverage.parts_read = parts_read;
        self.coverage.parts = parts;
        self.coverage.records = records;
    }

    /// Adds another tally's counts and examples (the examples of the
    /// earlier one first).
    pub fn merge(&mut self, other: ReasonTally) {
        self.coverage.entries_read += other.coverage.entries_read;
        self.coverage.bad_lines += other.coverage.bad_lines;
        for (key, g) in other.groups {
            match self.groups.get_mut(&key) {
                Some(mine) => {
                    mine.count += g.count;
                    let room = EXAMPLES.saturating_sub(mine.examples.len());
                    mine.examples.extend(g.examples.into_iter().take(room));
                }
                None => {
                    self.groups.insert(key, g);
                }
            }
        }
    }

    /// The `n` most frequent reasons, most frequent first (then by reason).
    pub fn top(&self, n: usize) -> Vec<ReasonGroup> {
        let mut groups: Vec<ReasonGroup> = self.groups.values().cloned().collect();
        groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.reason.cmp(&b.reason))
                .then_with(|| a.transform.cmp(&b.transform))
        });
        groups.truncate(n);
        for g in &mut groups {
            g.examples.sort_by_key(|a| (a.interval, a.line));
        }
        groups
    }

    /// How much was read.
    pub fn coverage(&self) -> Coverage {
        self.coverage
    }
}

/// The reason with every run of ASCII digits replaced by `N`.
pub fn without_numbers(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut in_digits = false;
    for c in reason.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}
