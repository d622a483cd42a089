//! Stopping a run early: [`Stop`], the signal a host shares between its
//! instances so that a run already lost ends at once instead of grinding
//! through every record.
//!
//! Owns the count of failed records across instances, the most a run may
//! fail, and its deadline. [`Instance::process`](crate::Instance::process)
//! counts every record it fails and checks the signal before each record
//! of a re-run record by record: the re-run of a chunk of runaway records
//! is where a run spends hours (one per-call deadline per record). A call
//! already running is not interrupted; it ends at its own deadline
//! ([`Limits::cpu_time_per_call`](crate::Limits::cpu_time_per_call)).
//! Imports nothing of the engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why a [`Stop`] says to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// More records failed than the run may fail.
    Failures {
        /// Records failed so far.
        failed: u64,
        /// The most the run may fail.
        max: u64,
    },
    /// The run's time is up.
    Deadline {
        /// The time limit the run was given.
        limit: Duration,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Failures { failed, max } => {
                write!(
                    f,
                    "{failed} records failed, more than the {max} the run may fail"
                )
            }
            StopReason::Deadline { limit } => {
                write!(f, "the run's time limit of {} s is up", limit.as_secs_f64())
            }
        }
    }
}

/// A stop signal shared by every instance of a run (clones share it).
/// The default never stops.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    failed: AtomicU64,
    max_failures: Option<u64>,
    /// The deadline and the limit it came from.
    deadline: Option<(Instant, Duration)>,
}

impl Stop {
    /// A signal that stops once more than `max_failures` records have
    /// failed (`None`: never for failures), or `limit` after now (`None`:
    /// never for time).
    pub fn new(max_failures: Option<u64>, limit: Option<Duration>) -> Self {
        Stop {
            inner: Arc::new(Inner {
                failed: AtomicU64::new(0),
                max_failures,
                deadline: limit.map(|l| (Instant::now() + l, l)),
            }),
        }
    }

    /// Counts `n` more failed records.
    pub fn add_failures(&self, n: u64) {
        if n > 0 {
            self.inner.failed.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Records failed so far.
    pub fn failures(&self) -> u64 {
        self.inner.failed.load(Ordering::Relaxed)
    }

    /// Why the run should stop now, if it should. Failures are checked
    /// first: a run over its budget is refused for that, whatever the time.
    pub fn reason(&self) -> Option<StopReason> {
        let failed = self.failures();
        if let Some(max) = self.inner.max_failures
            && failed > max
        {
            return Some(StopReason::Failures { failed, max });
        }
        match self.inner.deadline {
            Some((at, limit)) if Instant::now() >= at => Some(StopReason::Deadline { limit }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_counts_failures_across_clones_and_stops_past_the_most_allowed() {
        let stop = Stop::new(Some(2), None);
        let other = stop.clone();
        stop.add_failures(2);
        assert_eq!(other.reason(), None);
        other.add_failures(1);
        assert_eq!(
            stop.reason(),
            Some(StopReason::Failures { failed: 3, max: 2 })
        );
        assert_eq!(Stop::default().reason(), None);
    }

    #[test]
    fn a_stop_with_a_limit_stops_once_it_has_passed() {
        let stop = Stop::new(None, Some(Duration::from_millis(30)));
        assert_eq!(stop.reason(), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(
            stop.reason(),
            Some(StopReason::Deadline {
                limit: Duration::from_millis(30)
            })
        );
    }
}
