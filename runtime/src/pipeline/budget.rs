//! The error budget: how many rejected records a run may have and still
//! commit (`--max-rejected`, `max_rejected`).
//!
//! Owns parsing a budget as users write it and deciding whether a count of
//! rejections is over it. Imports nothing of the pipeline.

use std::fmt;
use std::str::FromStr;

/// How many rejected records a run may have and still commit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// At most this many records.
    Count(u64),
    /// At most this fraction of the records read (0.0 to 1.0).
    Ratio(f64),
}

impl Default for Budget {
    /// No rejected record: a run with one commits nothing.
    fn default() -> Self {
        Budget::Count(0)
    }
}

impl Budget {
    /// Whether `rejected` of `total` is over the budget.
    pub fn exceeded(&self, rejected: u64, total: u64) -> bool {
        match *self {
            Budget::Count(n) => rejected > n,
            Budget::Ratio(r) => total > 0 && (rejected as f64) > r * (total as f64),
        }
    }
}

impl Budget {
    /// The most records of `total` that may be rejected: one more and
    /// [`Budget::exceeded`] holds.
    pub fn most_rejected(&self, total: u64) -> u64 {
        match *self {
            Budget::Count(n) => n,
            // rejected > r·total holds exactly when rejected > ⌊r·total⌋.
            Budget::Ratio(r) => (r * total as f64).floor() as u64,
        }
    }
}

impl FromStr for Budget {
    type Err = String;

    /// `10` is a count; `2.5%` or `0.025` is a ratio.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || {
            format!(
                "invalid budget {s:?}: give a count (10), a percentage (2.5%) or a fraction (0.025)"
            )
        };
        if let Some(p) = s.strip_suffix('%') {
            let v: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&v) {
                return Err(bad());
            }
            return Ok(Budget::Ratio(v / 100.0));
        }
        if let Ok(n) = s.parse::<u64>() {
            return Ok(Budget::Count(n));
        }
        let v: f64 = s.parse().map_err(|_| bad())?;
        if !(0.0..=1.0).contains(&v) {
            return Err(bad());
        }
        Ok(Budget::Ratio(v))
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Count(n) => write!(f, "{n} records"),
            Budget::Ratio(r) => write!(f, "{}% of records", r * 100.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_counts_percentages_and_fractions() {
        assert_eq!("0".parse(), Ok(Budget::Count(0)));
        assert_eq!("12".parse(), Ok(Budget::Count(12)));
        assert_eq!("2.5%".parse(), Ok(Budget::Ratio(0.025)));
        assert_eq!("0.5".parse(), Ok(Budget::Ratio(0.5)));
        assert!("150%".parse::<Budget>().is_err());
        assert!("lots".parse::<Budget>().is_err());
    }

    #[test]
    fn budgets_compare_against_what_was_read() {
        assert!(!Budget::Count(0).exceeded(0, 10));
        assert!(Budget::Count(0).exceeded(1, 10));
        assert!(!Budget::Ratio(0.1).exceeded(1, 10));
        assert!(Budget::Ratio(0.1).exceeded(2, 10));
    }

    #[test]
    fn the_most_rejected_is_the_last_count_within_the_budget() {
        for budget in [
            Budget::Count(0),
            Budget::Count(3),
            Budget::Ratio(0.1),
            Budget::Ratio(0.025),
            Budget::Ratio(1.0),
        ] {
            for total in [0, 1, 9, 10, 40, 1000, 1001] {
                let most = budget.most_rejected(total);
                assert!(
                    !budget.exceeded(most.min(total), total) || total == 0,
                    "{budget:?} {total}"
                );
                assert!(
                    budget.exceeded(most + 1, total) || total == 0,
                    "{budget:?} {total}"
                );
            }
        }
    }
}
