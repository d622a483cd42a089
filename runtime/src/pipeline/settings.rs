//! Settings: what a step runs with, decided in one place.
//!
//! Owns every setting a pipeline step or the command line may give, each
//! default (defined once, here or in weir-stage beside what it governs),
//! and the one rule that resolves them: **a flag beats the pipeline file,
//! which beats the default**. Both sources are [`Overrides`], all `Option`
//! fields, so a flag that was not given can never pass for one that was;
//! [`resolve`] is the only place the three meet, and `run`, `plan`,
//! `commit`, `replay` and `stage` all go through it. The file's per-
//! transform limits (`[steps.X.transforms.limits]`) live in its module
//! specs; the limit flags apply over them in [`Settings::apply_limits`].

use std::time::Duration;

use weir_engine::ModuleSpec;
use weir_stage::Interval;
use weir_stage::batch::codec::{Codec, Compression, LevelOutOfRange};
use weir_stage::batch::lines::DEFAULT_MAX_LINE_BYTES;
use weir_stage::write::{DEFAULT_MAX_BATCH_BYTES, DEFAULT_ORPHAN_GRACE, WriteOptions};

use super::budget::Budget;

/// The number of workers when none is given: the machine's cores.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The settings one source (the pipeline file's step, or the command
/// line) gives; `None` where it gives none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// Rejected records allowed (`--max-rejected`, `max_rejected`).
    pub max_rejected: Option<Budget>,
    /// Worker threads.
    pub workers: Option<usize>,
    /// The batch cap: the most uncompressed bytes in one part.
    pub max_batch_bytes: Option<u64>,
    /// The codec of the parts written.
    pub codec: Option<Codec>,
    /// The codec's level.
    pub compression_level: Option<u32>,
    /// Longest input line processed; longer ones are quarantined.
    pub max_line_bytes: Option<u64>,
    /// Unreferenced objects younger than this survive cleanup.
    pub orphan_grace: Option<Duration>,
    /// Memory per transform instance (the command line only).
    pub memory_limit: Option<u64>,
    /// Wall-clock time per transform call (the command line only).
    pub cpu_limit: Option<Duration>,
    /// Wall-clock time for a whole run (`--max-run-time`, `max_run_time`).
    pub max_run_time: Option<Duration>,
}

impl Overrides {
    /// These settings, with `lower`'s where these give none.
    pub fn or(self, lower: &Overrides) -> Overrides {
        Overrides {
            max_rejected: self.max_rejected.or(lower.max_rejected),
            workers: self.workers.or(lower.workers),
            max_batch_bytes: self.max_batch_bytes.or(lower.max_batch_bytes),
            codec: self.codec.or(lower.codec),
            compression_level: self.compression_level.or(lower.compression_level),
            max_line_bytes: self.max_line_bytes.or(lower.max_line_bytes),
            orphan_grace: self.orphan_grace.or(lower.orphan_grace),
            memory_limit: self.memory_limit.or(lower.memory_limit),
            cpu_limit: self.cpu_limit.or(lower.cpu_limit),
            max_run_time: self.max_run_time.or(lower.max_run_time),
        }
    }
}

/// What a step runs with: every setting decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Rejected records allowed.
    pub max_rejected: Budget,
    /// Worker threads, at least 1.
    pub workers: usize,
    /// The batch cap, at least 1 byte.
    pub max_batch_bytes: u64,
    /// The codec and level of the parts written.
    pub compression: Compression,
    /// Longest input line processed.
    pub max_line_bytes: usize,
    /// Unreferenced objects younger than this survive cleanup.
    pub orphan_grace: Duration,
    /// Memory per transform instance, over the file's limits.
    pub memory_limit: Option<u64>,
    /// Time per transform call, over the file's limits.
    pub cpu_limit: Option<Duration>,
    /// Time for a whole run; none by default (an Airflow task has its
    /// own `execution_timeout`, which kills rather than stops).
    pub max_run_time: Option<Duration>,
}

/// Resolves a step's settings: `flags` beat `file`, which beats the
/// defaults. The codec and the level resolve each on its own; the level's
/// default is the codec's (gzip 6, zstd 3), and a level the codec does not
/// take is an error rather than clamped.
pub fn resolve(file: &Overrides, flags: &Overrides) -> Result<Settings, LevelOutOfRange> {
    let o = flags.clone().or(file);
    let codec = o.codec.unwrap_or_default();
    let compression =
        Compression::new(codec, o.compression_level.unwrap_or(codec.default_level()))?;
    Ok(Settings {
        max_rejected: o.max_rejected.unwrap_or_default(),
        workers: o.workers.unwrap_or_else(default_workers).max(1),
        max_batch_bytes: o.max_batch_bytes.unwrap_or(DEFAULT_MAX_BATCH_BYTES).max(1),
        compression,
        max_line_bytes: o.max_line_bytes.map_or(DEFAULT_MAX_LINE_BYTES, |b| {
            usize::try_from(b).unwrap_or(usize::MAX)
        }),
        orphan_grace: o.orphan_grace.unwrap_or(DEFAULT_ORPHAN_GRACE),
        memory_limit: o.memory_limit,
        cpu_limit: o.cpu_limit,
        max_run_time: o.max_run_time,
    })
}

impl Settings {
    /// How output parts are written, with the interval's end when known.
    pub fn write_options(&self, interval_end: Option<Interval>) -> WriteOptions {
        WriteOptions {
            max_batch_bytes: self.max_batch_bytes,
            compression: self.compression,
            interval_end: interval_end.map(|e| e.start()),
            orphan_grace: self.orphan_grace,
        }
    }

    /// Applies the limit settings over each transform's own limits.
    pub fn apply_limits(&self, specs: &mut [ModuleSpec]) {
        for s in specs {
            let mut l = s.limits.clone();
            if let Some(mem) = self.memory_limit {
                l = l.with_memory_bytes(mem);
            }
            if let Some(cpu) = self.cpu_limit {
                l = l.with_cpu_time_per_call(cpu);
            }
            s.limits = l;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For one setting: what resolves with it given by the flag and the
    /// file, by the file alone, and by neither.
    fn resolved(file: &Overrides, flags: &Overrides) -> Settings {
        resolve(file, flags).unwrap_or_else(|e| panic!("{e}"))
    }

    fn three_ways<T: PartialEq + std::fmt::Debug>(
        set: impl Fn(&mut Overrides, bool),
        get: impl Fn(&Settings) -> T,
        flag: T,
        file: T,
        default: T,
    ) {
        let (mut from_flag, mut from_file) = (Overrides::default(), Overrides::default());
        set(&mut from_flag, true);
        set(&mut from_file, false);
        assert_eq!(
            get(&resolved(&from_file, &from_flag)),
            flag,
            "flag over file"
        );
        assert_eq!(
            get(&resolved(&from_file, &Overrides::default())),
            file,
            "file over default"
        );
        assert_eq!(
            get(&resolved(&Overrides::default(), &Overrides::default())),
            default,
            "default alone"
        );
    }

    #[test]
    fn max_rejected_flag_beats_file_beats_default() {
        three_ways(
            |o, flag| {
                o.max_rejected = Some(if flag {
                    Budget::Count(7)
                } else {
                    Budget::Ratio(0.5)
                })
            },
            |s| s.max_rejected,
            Budget::Count(7),
            Budget::Ratio(0.5),
            Budget::Count(0),
        );
    }

    #[test]
    fn workers_flag_beats_file_beats_default() {
        three_ways(
            |o, flag| o.workers = Some(if flag { 3 } else { 5 }),
            |s| s.workers,
            3,
            5,
            default_workers(),
        );
    }

    #[test]
    fn max_batch_bytes_flag_beats_file_beats_default() {
        three_ways(
            |o, flag| o.max_batch_bytes = Some(if flag { 20_000 } else { 500_000_000 }),
            |s| s.max_batch_bytes,
            20_000,
            500_000_000,
            DEFAULT_MAX_BATCH_BYTES,
        );
    }

    #[test]
    fn compression_level_flag_beats_file_beats_default() {
        three_ways(
            |o, flag| o.compression_level = Some(if flag { 1 } else { 9 }),
            |s| s.compression.level(),
            1,
            9,
            6,
        );
    }

    #[test]
    fn codec_flag_beats_file_beats_gzip_and_the_level_defaults_to_the_codecs() {
        three_ways(
            |o, flag| o.codec = Some(if flag { Codec::Gzip } else { Codec::Zstd }),
            |s| s.compression,
            Compression::from(Codec::Gzip),
            Compression::from(Codec::Zstd),
            Compression::from(Codec::Gzip),
        );
        assert_eq!(Compression::from(Codec::Zstd).level(), 3);
        // The file's codec with the flag's level, and the other way round.
        let file = Overrides {
            codec: Some(Codec::Zstd),
            compression_level: Some(9),
            ..Overrides::default()
        };
        let flags = Overrides {
            compression_level: Some(19),
            ..Overrides::default()
        };
        assert_eq!(
            resolved(&file, &flags).compression,
            Compression::new(Codec::Zstd, 19).unwrap_or_else(|e| panic!("{e}"))
        );
        let flags = Overrides {
            codec: Some(Codec::Gzip),
            ..Overrides::default()
        };
        assert_eq!(
            resolved(&file, &flags).compression,
            Compression::new(Codec::Gzip, 9).unwrap_or_else(|e| panic!("{e}"))
        );
    }

    #[test]
    fn a_level_the_codec_does_not_take_is_refused_naming_its_range() {
        let flags = Overrides {
            compression_level: Some(19),
            ..Overrides::default()
        };
        let e = resolve(&Overrides::default(), &flags).unwrap_err();
        assert_eq!(
            e.to_string(),
            "compression level 19 is not a gzip level (gzip takes 1 to 9)"
        );
        let file = Overrides {
            codec: Some(Codec::Zstd),
            compression_level: Some(23),
            ..Overrides::default()
        };
        let e = resolve(&file, &Overrides::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "compression level 23 is not a zstd level (zstd takes 1 to 22)"
        );
    }

    #[test]
    fn max_line_bytes_flag_beats_file_beats_default() {
        three_ways(
            |o, flag| o.max_line_bytes = Some(if flag { 1024 } else { 4096 }),
            |s| s.max_line_bytes,
            1024,
            4096,
            DEFAULT_MAX_LINE_BYTES,
        );
    }

    #[test]
    fn orphan_grace_flag_beats_file_beats_default() {
        let (m1, m2) = (Duration::from_secs(60), Duration::from_secs(120));
        three_ways(
            |o, flag| o.orphan_grace = Some(if flag { m1 } else { m2 }),
            |s| s.orphan_grace,
            m1,
            m2,
            DEFAULT_ORPHAN_GRACE,
        );
    }

    #[test]
    fn max_run_time_flag_beats_file_and_there_is_none_by_default() {
        let (m1, m2) = (Duration::from_secs(60), Duration::from_secs(120));
        three_ways(
            |o, flag| o.max_run_time = Some(if flag { m1 } else { m2 }),
            |s| s.max_run_time,
            Some(m1),
            Some(m2),
            None,
        );
    }

    #[test]
    fn limit_flags_beat_the_transforms_own_limits() {
        let spec = ModuleSpec::new("t", "t.wasm").with_limits(
            weir_engine::Limits::default()
                .with_memory_bytes(64 << 20)
                .with_cpu_time_per_call(Duration::from_secs(2)),
        );
        let mut specs = vec![spec.clone()];
        resolved(&Overrides::default(), &Overrides::default()).apply_limits(&mut specs);
        assert_eq!(
            specs[0].limits, spec.limits,
            "the transform's own limits stand"
        );
        let flags = Overrides {
            memory_limit: Some(32 << 20),
            cpu_limit: Some(Duration::from_secs(1)),
            ..Overrides::default()
        };
        resolved(&Overrides::default(), &flags).apply_limits(&mut specs);
        assert_eq!(specs[0].limits.memory_bytes, 32 << 20);
        assert_eq!(specs[0].limits.cpu_time_per_call, Duration::from_secs(1));
    }
}
