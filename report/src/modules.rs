//! The modules each stage was produced with, and when they changed.
//!
//! Owns reading the producers of a stage's commits: which command and Weir
//! version committed each interval, which transform modules (name and
//! sha256) made it, replays' modules included, and the intervals at which
//! the chain of modules differs from the interval before. Pure.

use weir_stage::Interval;
use weir_stage::manifest::Manifest;

/// A command (and Weir version) that committed intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerUse {
    /// `stage`, `run`, `commit`, `extract`, ...
    pub command: String,
    /// The producer and its version, e.g. `weir 0.1.0`.
    pub producer: String,
    /// Intervals it committed.
    pub intervals: u64,
}

/// A module and the intervals made with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleUse {
    /// The transform's name.
    pub name: String,
    /// The module's sha256 (hex).
    pub sha256: String,
    /// Whether it ran in a replay (`weir replay`) rather than the commit.
    pub replay: bool,
    /// The first interval made with it.
    pub first: Interval,
    /// The last.
    pub last: Interval,
    /// How many.
    pub intervals: u64,
}

/// One transform's module differing from the interval before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleChange {
    /// The first interval made the new way.
    pub interval: Interval,
    /// The interval before it (the old way).
    pub previous: Interval,
    /// The transform.
    pub name: String,
    /// Its module's sha256 before (`None`: it was not in the chain).
    pub from: Option<String>,
    /// After (`None`: it left the chain).
    pub to: Option<String>,
}

/// The producers of the commits, most intervals first.
pub fn producers(manifests: &[(&Interval, &Manifest)]) -> Vec<ProducerUse> {
    let mut out: Vec<ProducerUse> = Vec::new();
    for (_, m) in manifests {
        let producer = format!("{} {}", m.producer.name, m.producer.version);
        match out
            .iter_mut()
            .find(|p| p.command == m.producer.command && p.producer == producer)
        {
            Some(p) => p.intervals += 1,
            None => out.push(ProducerUse {
                command: m.producer.command.clone(),
                producer,
                intervals: 1,
            }),
        }
    }
    out.sort_by_key(|b| std::cmp::Reverse(b.intervals));
    out
}

/// Every module the commits were made with, in the order first used.
pub fn uses(manifests: &[(&Interval, &Manifest)]) -> Vec<ModuleUse> {
    let mut out: Vec<ModuleUse> = Vec::new();
    for (interval, m) in manifests {
        let run = m.producer.transforms.iter().map(|t| (t, false));
        let replays = m
            .replays
            .iter()
            .flat_map(|r| r.transforms.iter().map(|t| (t, true)));
        let mut seen = Vec::new();
        for (t, replay) in run.chain(replays) {
            let key = (t.name.as_str(), t.module_sha256.as_str(), replay);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            match out
                .iter_mut()
                .find(|u| u.name == t.name && u.sha256 == t.module_sha256 && u.replay == replay)
            {
                Some(u) => {
                    u.intervals += 1;
                    u.first = u.first.min(**interval);
                    u.last = u.last.max(**interval);
                }
                None => out.push(ModuleUse {
                    name: t.name.clone(),
                    sha256: t.module_sha256.clone(),
                    replay,
                    first: **interval,
                    last: **interval,
                    intervals: 1,
                }),
            }
        }
    }
    out
}

/// Where a transform's module differs from the committed interval before
/// (the commits' own transforms; replays do not count), in time order.
pub fn changes(manifests: &[(&Interval, &Manifest)]) -> Vec<ModuleChange> {
    let chain = |m: &Manifest| -> Vec<(String, String)> {
        m.producer
            .transforms
            .iter()
            .map(|t| (t.name.clone(), t.module_sha256.clone()))
            .collect()
    };
    let mut out = Vec::new();
    for w in manifests.windows(2) {
        let (before, after) = (chain(w[0].1), chain(w[1].1));
        if before == after {
            continue;
        }
        let sha = |c: &[(String, String)], name: &str| {
            c.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone())
        };
        let mut names: Vec<&String> = after.iter().map(|(n, _)| n).collect();
        names.extend(
            before
                .iter()
                .map(|(n, _)| n)
                .filter(|n| sha(&after, n).is_none()),
        );
        for name in names {
            let (from, to) = (sha(&before, name), sha(&after, name));
            if from != to {
                out.push(ModuleChange {
                    interval: *w[1].0,
                    previous: *w[0].0,
                    name: name.clone(),
                    from,
                    to,
                });
            }
        }
    }
    out
}
