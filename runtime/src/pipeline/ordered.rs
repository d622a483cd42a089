//! Ordered parallel work: one feeder, N workers, results in feed order.
//!
//! Owns the threading of every pipeline: a feeder thread cuts the input into
//! jobs (chunks of records), workers process them in parallel (checking,
//! transforming, compressing), and the caller's thread receives results in
//! exactly the order the jobs were fed, so output is byte-identical whatever
//! the number of workers. At most `max_in_flight` jobs exist at once, which
//! bounds memory. The first error stops everything and is returned.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

/// Runs `feed` on its own thread, `work` on `workers` threads, and `sink` on
/// the calling thread in feed order. `feed` pushes jobs through the closure
/// it is given, which returns `false` once the run is stopping (feed should
/// then return). Returns the workers' states, in worker order, so callers
/// can finish them (e.g. a transform's `finish`).
pub fn run_ordered<J, R, W, E>(
    workers: usize,
    max_in_flight: usize,
    feed: impl FnOnce(&mut dyn FnMut(J) -> bool) -> Result<(), E> + Send,
    make_worker: impl Fn(usize) -> Result<W, E> + Sync,
    work: impl Fn(&mut W, J) -> Result<R, E> + Sync,
    mut sink: impl FnMut(R) -> Result<(), E>,
) -> Result<Vec<W>, E>
where
    J: Send,
    R: Send,
    W: Send,
    E: Send,
{
    let workers = workers.max(1);
    let max_in_flight = max_in_flight.max(workers);
    let (job_tx, job_rx) = mpsc::sync_channel::<(u64, J)>(workers);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (result_tx, result_rx) = mpsc::channel::<(u64, Result<R, E>)>();
    let (permit_tx, permit_rx) = mpsc::sync_channel::<()>(max_in_flight);
    for _ in 0..max_in_flight {
        // The channel has exactly this capacity, so these never block.
        let _ = permit_tx.send(());
    }

    std::thread::scope(|scope| {
        // Named, so a profile splits its samples by role (`perf report
        // --sort comm`): what the feeder and the sink (the calling thread)
        // cost is the serial share of a run. As with `scope.spawn`, a
        // thread the OS refuses is a panic.
        let named = |name: String| std::thread::Builder::new().name(name);
        fn spawned<T>(r: std::io::Result<T>) -> T {
            r.unwrap_or_else(|e| panic!("starting a thread: {e}"))
        }
        let feeder = spawned(named("weir-feed".into()).spawn_scoped(scope, move || {
            let mut seq = 0u64;
            let mut push = |job: J| -> bool {
                if permit_rx.recv().is_err() {
                    return false;
                }
                let ok = job_tx.send((seq, job)).is_ok();
                seq += 1;
                ok
            };
            feed(&mut push)
        }));

        let mut handles = Vec::with_capacity(workers);
        for index in 0..workers {
            let job_rx = Arc::clone(&job_rx);
            let result_tx = result_tx.clone();
            let make_worker = &make_worker;
            let work = &work;
            let name = format!("weir-work-{index}");
            handles.push(spawned(named(name).spawn_scoped(
                scope,
                move || -> Option<W> {
                    let mut state = match make_worker(index) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = result_tx.send((u64::MAX, Err(e)));
                            return None;
                        }
                    };
                    loop {
                        let next = job_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok((seq, job)) = next else {
                            return Some(state);
                        };
                        let result = work(&mut state, job);
                        let failed = result.is_err();
                        if result_tx.send((seq, result)).is_err() || failed {
                            return Some(state);
                        }
                    }
                },
            )));
        }
        // Workers hold the only receivers, so a feeder blocked on a full queue
        // wakes up if they all stop.
        drop(job_rx);
        drop(result_tx);

        let outcome = collect_in_order(&result_rx, &permit_tx, &mut sink);
        // Stop the feeder (no more permits) and the workers (no more jobs).
        drop(permit_tx);
        drop(result_rx);
        let states: Vec<Option<W>> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        let fed = feeder
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        outcome?;
        fed?;
        Ok(states.into_iter().flatten().collect())
    })
}

fn collect_in_order<R, E>(
    results: &Receiver<(u64, Result<R, E>)>,
    permits: &mpsc::SyncSender<()>,
    sink: &mut impl FnMut(R) -> Result<(), E>,
) -> Result<(), E> {
    let mut pending: BTreeMap<u64, R> = BTreeMap::new();
    let mut next = 0u64;
    while let Ok((seq, result)) = results.recv() {
        pending.insert(seq, result?);
        while let Some(r) = pending.remove(&next) {
            sink(r)?;
            next += 1;
            let _ = permits.send(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_feed_order_whatever_the_worker_count() {
        for workers in [1, 2, 4] {
            let mut out = Vec::new();
            run_ordered(
                workers,
                3,
                |push| {
                    for i in 0..200u64 {
                        if !push(i) {
                            break;
                        }
                    }
                    Ok::<(), String>(())
                },
                |_| Ok(()),
                |(), i| {
                    // Uneven work so later jobs often finish first.
                    std::thread::sleep(std::time::Duration::from_micros((i * 7919) % 300));
                    Ok(i * 2)
                },
                |r| {
                    out.push(r);
                    Ok(())
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(out, (0..200).map(|i| i * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_first_error_stops_the_run() {
        let mut sunk = 0;
        let r = run_ordered(
            2,
            4,
            |push| {
                for i in 0..10_000u64 {
                    if !push(i) {
                        return Ok(());
                    }
                }
                Ok(())
            },
            |_| Ok(()),
            |(), i| {
                if i == 50 {
                    Err(format!("job {i} failed"))
                } else {
                    Ok(i)
                }
            },
            |_| {
                sunk += 1;
                Ok(())
            },
        );
        assert_eq!(r.err().as_deref(), Some("job 50 failed"));
        assert!(sunk <= 50);
    }

    #[test]
    fn a_worker_that_cannot_start_fails_the_run() {
        let r = run_ordered(
            2,
            2,
            |push| {
                push(1u8);
                Ok(())
            },
            |i| {
                if i == 1 {
                    Err("no instance".to_string())
                } else {
                    Ok(())
                }
            },
            |(), j| Ok(j),
            |_| Ok(()),
        );
        assert_eq!(r.err().as_deref(), Some("no instance"));
    }
}
