//! Intervals: the time slices a schedule runs over, named by their start.
//!
//! Owns parsing what schedulers pass on the command line (Airflow's
//! `{{ data_interval_start }}`, `{{ ts_nodash }}`, a plain date) into one UTC
//! instant, and the folder name that encodes it. Imports nothing else of Weir.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Timelike, Utc,
};

/// The partition key of interval folders: `interval=20261126T000000Z`.
pub const PARTITION_KEY: &str = "interval";

/// The start of a schedule interval, in UTC, to the second.
///
/// Its folder name (`interval=20261126T000000Z`, ISO 8601 basic format) sorts
/// in time order, has no characters that need escaping in object keys or
/// paths, and reads as a Hive-style partition column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval(DateTime<Utc>);

/// An interval that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid interval {input:?}: {reason} (expected e.g. 2026-11-26T00:00:00+00:00, 20261126T000000 or 2026-11-26)"
)]
pub struct IntervalError {
    input: String,
    reason: &'static str,
}

impl Interval {
    /// The years an interval may start in. Folder names hold the year in
    /// four digits (`%Y`); outside this range chrono writes a sign and more
    /// digits (`+100000101T000000Z`), which does not sort with the rest and
    /// which [`Interval::from_folder`] does not read back, so `weir ls` and
    /// `weir verify` would not see the interval.
    pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

    /// The interval starting at `start`, which must be a whole second in
    /// the years 1 to 9999 ([`Interval::YEARS`]).
    pub fn from_start(start: DateTime<Utc>) -> Result<Self, IntervalError> {
        if !Self::YEARS.contains(&start.year()) {
            return Err(IntervalError {
                input: start.to_rfc3339(),
                reason: "interval starts must be in the years 1 to 9999",
            });
        }
        if start.nanosecond() != 0 {
            return Err(IntervalError {
                input: start.to_rfc3339(),
                reason: "interval starts must be whole seconds",
            });
        }
        Ok(Self(start))
    }

    /// The start instant.
    pub fn start(&self) -> DateTime<Utc> {
        self.0
    }

    /// The folder name, e.g. `interval=20261126T000000Z`.
    pub fn folder(&self) -> String {
        format!("{PARTITION_KEY}={}", self.compact())
    }

    /// The compact form used in folder names, e.g. `20261126T000000Z`.
    pub fn compact(&self) -> String {
        self.0.format("%Y%m%dT%H%M%SZ").to_string()
    }

    /// Parses a folder name made by [`Interval::folder`].
    pub fn from_folder(name: &str) -> Option<Self> {
        let value = name.strip_prefix(PARTITION_KEY)?.strip_prefix('=')?;
        let naive = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ").ok()?;
        Some(Self(Utc.from_utc_datetime(&naive)))
    }

    /// RFC 3339, e.g. `2026-11-26T00:00:00Z`.
    pub fn rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

impl FromStr for Interval {
    type Err = IntervalError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        let err = |reason| IntervalError {
            input: input.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        let parsed = if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            t.with_timezone(&Utc)
        } else if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
            t.with_timezone(&Utc)
        } else if let Some(t) = [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y%m%dT%H%M%S",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), f).ok())
        {
            // No offset given: the time is already UTC (Airflow's ts_nodash is).
            Utc.from_utc_datetime(&t)
        } else if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).ok_or_else(|| err("bad date"))?)
        } else {
            return Err(err("not a recognised date or time"));
        };
        Self::from_start(parsed).map_err(|e| err(e.reason))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> String {
        s.parse::<Interval>()
            .unwrap_or_else(|e| panic!("{e}"))
            .folder()
    }

    #[test]
    fn accepts_what_airflow_passes() {
        let want = "interval=20261126T000000Z";
        assert_eq!(parse("2026-11-26T00:00:00+00:00"), want);
        assert_eq!(parse("2026-11-26T00:00:00Z"), want);
        assert_eq!(parse("20261126T000000"), want);
        assert_eq!(parse("2026-11-26"), want);
        assert_eq!(parse("2026-11-26T00:00:00"), want);
        assert_eq!(parse("2026-11-26 00:00:00"), want);
    }

    #[test]
    fn normalises_offsets_to_utc() {
        assert_eq!(
            parse("2026-11-26T02:30:00+02:00"),
            "interval=20261126T003000Z"
        );
    }

    #[test]
    fn folder_round_trips_and_sorts_in_time_order() {
        let a: Interval = "2026-11-26T09:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let b: Interval = "2026-11-26T10:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Interval::from_folder(&a.folder()), Some(a));
        assert!(a.folder() < b.folder());
    }

    #[test]
    fn rejects_years_outside_1_to_9999() {
        for bad in [
            "+10000-01-01T00:00:00Z",
            "10000-01-01",
            "0000-12-31T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
        ] {
            match bad.parse::<Interval>() {
                Ok(i) => panic!("{bad} accepted as {}", i.folder()),
                Err(e) => assert!(
                    e.to_string().contains("years 1 to 9999")
                        || e.to_string().contains("not a recognised"),
                    "{bad}: {e}"
                ),
            }
        }
        let e = "+10000-01-01T00:00:00Z".parse::<Interval>().unwrap_err();
        assert!(e.to_string().contains("years 1 to 9999"), "{e}");
        assert_eq!(parse("9999-12-31T23:59:59Z"), "interval=99991231T235959Z");
        assert_eq!(parse("0001-01-01"), "interval=00010101T000000Z");
    }

    #[test]
    fn rejects_garbage_and_fractions() {
        assert!("yesterday".parse::<Interval>().is_err());
        assert!("".parse::<Interval>().is_err());
        let e = "2026-11-26T00:00:00.5Z".parse::<Interval>().unwrap_err();
        assert!(e.to_string().contains("whole seconds"), "{e}");
    }
}
