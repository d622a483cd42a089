//! `weir run`: an interval through a chain of transforms into the next stage.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{ArgMatches, Args};
use indicatif::{ProgressBar, ProgressStyle};
use weir::pipeline::file::module_name;
use weir::pipeline::plan::Shard;
use weir::pipeline::run::{self, NoProgress, Progress, RunOptions};
use weir::pipeline::shard;
use weir::pipeline::step::Step;
use weir::pipeline::{Overrides, resolve};
use weir_engine::{Engine, EngineConfig, ModuleSpec};
use weir_stage::{Interval, layout};

use super::lineage::LineageArgs;
use super::settings::{BudgetArgs, LineArgs, Resolved, Target, WorkerArgs, WriteArgs};
use super::{Globals, StoreArgs, command_line, human, parse_interval, print_commit, print_json};

/// Run an interval's committed records through WebAssembly transforms and
/// commit the results as the same interval of the output stage.
///
/// Pipeline form (what Airflow calls):
///   weir run pipeline.toml clean --interval 2026-11-26T00:00:00+00:00
///
/// Flags form (transforms apply in the order given, in one pass):
///   weir run --input lake/raw --output lake/clean --interval 2026-11-26 \
///     --transform normalize.wasm --config '{"fields":["text"]}' \
///     --transform categorize.wasm --config @categorize.json --assets models/
///
/// --config, --assets and --sha256 apply to the --transform before them.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub(super) struct RunCmd {
    #[command(flatten)]
    target: Target,
    /// The interval's start.
    #[arg(long, value_parser = parse_interval)]
    interval: Interval,
    /// The interval's end, recorded in the manifest.
    #[arg(long, value_parser = parse_interval)]
    interval_end: Option<Interval>,
    /// Output stage (flags form).
    #[arg(long, conflicts_with = "pipeline")]
    output: Option<String>,
    #[command(flatten)]
    transform: TransformArgs,
    #[command(flatten)]
    budget: BudgetArgs,
    #[command(flatten)]
    workers: WorkerArgs,
    /// Run one work unit of `weir plan` (INDEX/COUNT, 0-based) and seal its
    /// output as a shard result instead of committing; `weir commit` merges
    /// the shards. The error budget is then checked by `weir commit`.
    #[arg(long, value_name = "INDEX/COUNT")]
    shard: Option<Shard>,
    /// The longest the run may take (e.g. 20m); past it the run stops and
    /// commits nothing (exit code 7). A transform call already running
    /// ends at its own --cpu-limit first. [default: none]
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    max_run_time: Option<Duration>,
    /// Allow the output stage to be the input stage (the run then replaces
    /// the interval it reads; without this flag that is refused).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    write: WriteArgs,
    #[command(flatten)]
    line: LineArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    lineage: LineageArgs,
}

/// The transforms of a chain, given as flags (shared by `run` and `replay`).
#[derive(Debug, Args)]
pub(super) struct TransformArgs {
    /// A transform component (.wasm); repeat for a chain.
    #[arg(long = "transform", value_name = "MODULE.wasm")]
    pub transforms: Vec<PathBuf>,
    /// Configuration of the preceding --transform: JSON text or @file.
    #[arg(long = "config", value_name = "JSON|@FILE")]
    configs: Vec<String>,
    /// Read-only assets directory of the preceding --transform.
    #[arg(long = "assets", value_name = "DIR")]
    assets: Vec<PathBuf>,
    /// Expected sha256 of the preceding --transform's module.
    #[arg(long = "sha256", value_name = "HEX")]
    sha256s: Vec<String>,
    /// Memory limit per transform instance (e.g. 256MiB).
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<bytesize::ByteSize>,
    /// CPU (wall-clock) time limit per transform call (e.g. 5s).
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    cpu_limit: Option<std::time::Duration>,
    /// Where compiled modules are cached (default: $WEIR_CACHE_DIR or
    /// ~/.cache/weir/modules; clear it with rm -rf).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile modules every time instead of using the cache.
    #[arg(long)]
    no_cache: bool,
}

impl TransformArgs {
    /// The modules given with --transform, each with the --config,
    /// --assets and --sha256 that follow it, and the limit flags applied.
    pub(super) fn specs(&self, m: &ArgMatches) -> anyhow::Result<Vec<ModuleSpec>> {
        let transform_at: Vec<usize> = m
            .indices_of("transforms")
            .map(|i| i.collect())
            .unwrap_or_default();
        let owner = |flag: &str, at: usize| -> anyhow::Result<usize> {
            transform_at
                .iter()
                .rposition(|&t| t < at)
                .with_context(|| format!("--{flag} must follow the --transform it configures"))
        };
        let mut specs: Vec<ModuleSpec> = self
            .transforms
            .iter()
            .map(|t| ModuleSpec::new(module_name(t), t.clone()))
            .collect();
        let mut seen = vec![[false; 3]; specs.len()];
        for (at, value) in positioned(m, "configs") {
            let i = owner("config", at)?;
            if std::mem::replace(&mut seen[i][0], true) {
                bail!("--transform {} has two --config", specs[i].name);
            }
            let text = match value.strip_prefix('@') {
                Some(f) => std::fs::read_to_string(f)
                    .with_context(|| format!("reading config file {f}"))?,
                None => value.clone(),
            };
            serde_json::from_str::<serde_json::Value>(&text)
                .with_context(|| format!("--config of {} is not JSON", specs[i].name))?;
            specs[i] = specs[i].clone().with_config_json(text);
        }
        for (at, value) in m
            .indices_of("assets")
            .into_iter()
            .flatten()
            .zip(self.assets.iter())
        {
            let i = owner("assets", at)?;
            if std::mem::replace(&mut seen[i][1], true) {
                bail!("--transform {} has two --assets", specs[i].name);
            }
            specs[i] = specs[i].clone().with_assets(value.clone());
        }
        for (at, value) in positioned(m, "sha256s") {
            let i = owner("sha256", at)?;
            if std::mem::replace(&mut seen[i][2], true) {
                bail!("--transform {} has two --sha256", specs[i].name);
            }
            specs[i] = specs[i]
                .clone()
                .with_expected_sha256(value.to_ascii_lowercase());
        }
        Ok(specs)
    }

    /// Fills in the limit settings these flags give.
    pub(super) fn apply(&self, o: &mut Overrides) {
        o.memory_limit = self.memory_limit.map(|b| b.as_u64());
        o.cpu_limit = self.cpu_limit;
    }

    /// The engine, with the cache settings, and the loaded modules.
    pub(super) fn load(
        &self,
        specs: Vec<ModuleSpec>,
        workers: usize,
    ) -> anyhow::Result<Vec<weir_engine::Module>> {
        // Every worker holds one instance of every transform at once; the
        // pool must have room for all of them (isolation re-runs replace an
        // instance, needing no spare slot).
        let live = u32::try_from(workers.saturating_mul(specs.len())).unwrap_or(u32::MAX);
        let default = EngineConfig::default();
        let pool = default.max_instances.max(live);
        let mut config = default.with_max_instances(pool);
        if let Some(dir) = &self.cache_dir {
            config = config.with_cache_dir(dir);
        }
        if self.no_cache {
            config = config.without_cache();
        }
        let engine = Engine::new(config)?;
        let modules = specs
            .into_iter()
            .map(|s| engine.load(s))
            .collect::<Result<Vec<_>, _>>()?;
        modules.iter().for_each(super::note_slow_compile);
        Ok(modules)
    }
}

/// The value following each occurrence of a flag, with its position.
fn positioned<'a>(m: &'a ArgMatches, id: &str) -> Vec<(usize, &'a String)> {
    match (m.indices_of(id), m.get_many::<String>(id)) {
        (Some(i), Some(v)) => i.zip(v).collect(),
        _ => Vec::new(),
    }
}

impl RunCmd {
    pub(super) fn execute(self, g: &Globals, m: &ArgMatches) -> anyhow::Result<ExitCode> {
        let step = self
            .target
            .resolve(self.output.as_ref(), !self.transform.transforms.is_empty())?;
        let output = step
            .output
            .clone()
            .context("--output is required with --input")?;
        if !self.force && same_stage(&step.input, &output)? {
            bail!(
                "the output stage {output} is also its input: the run would replace the interval it reads. \
                 Give another --output, or pass --force to replace the input in place"
            );
        }
        // A sealed shard commits nothing: only `weir commit` is a run of
        // the step for OpenLineage.
        let lineage = self.shard.is_none().then(|| {
            self.lineage.start(
                g,
                &step.lineage,
                "run",
                &[&step.input],
                Vec::new(),
                &output,
                self.interval,
                self.interval_end,
            )
        });
        let outcome = self.work(g, m, step, &output);
        let (outcome, lineage) = match lineage {
            Some(l) => {
                let (o, l) = l.check(outcome)?;
                (o, Some(l))
            }
            None => (outcome?, None),
        };
        let Outcome::Committed {
            summary,
            input,
            output,
            seconds,
        } = outcome
        else {
            return Ok(ExitCode::SUCCESS);
        };
        let lineage = lineage.map(|l| l.complete(&output, &summary.commit, Vec::new()));
        let m = &summary.commit.manifest;
        if g.json {
            print_json(&serde_json::json!({
                "ok": true,
                "input": input,
                "output": output.to_string(),
                "interval": m.interval,
                "manifest": format!("{output}/{}", summary.commit.manifest_path),
                "run_id": m.run_id,
                "totals": m.totals,
                "transforms": m.producer.transforms,
                "quarantine": format!("{output}/{}", layout::quarantine_dir(&self.interval)),
                "seconds": seconds,
                "openlineage": lineage,
            }))?;
        } else {
            print_commit("committed", &output, m, Some(seconds));
            println!("read it: weir cat {output} --interval {}", self.interval);
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Loads the transforms, opens the stages and runs: a shard is sealed
    /// (and its summary printed), anything else committed.
    fn work(
        &self,
        g: &Globals,
        m: &ArgMatches,
        step: Resolved,
        output: &str,
    ) -> anyhow::Result<Outcome> {
        let mut specs = if step.transforms.is_empty() {
            self.transform.specs(m)?
        } else {
            step.transforms
        };
        let mut flags = Overrides::default();
        self.write.apply(&mut flags);
        self.line.apply(&mut flags);
        self.budget.apply(&mut flags);
        self.workers.apply(&mut flags);
        self.transform.apply(&mut flags);
        flags.max_run_time = self.max_run_time;
        let settings = resolve(&step.file, &flags)?;
        settings.apply_limits(&mut specs);
        let started = Instant::now();
        let modules = self.transform.load(specs, settings.workers)?;
        let input_stage = self.store.open_existing(g, &step.input)?;
        let output_stage = self.store.open(g, output)?;
        let options = RunOptions {
            write: settings.write_options(self.interval_end),
            max_rejected: settings.max_rejected,
            workers: settings.workers,
            max_line_bytes: settings.max_line_bytes,
            max_run_time: settings.max_run_time,
            command: command_line(),
            ..RunOptions::default()
        };
        // A bar on a terminal; where stderr is a log (Airflow), a line every
        // few seconds instead, so a long run never looks like a hang.
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = ProgressReport::new(!g.json && terminal);
        let lines = (!terminal).then(ProgressLog::start);
        let progress: &dyn Progress = match (&bar, &lines) {
            (Some(b), _) => b,
            (None, Some(l)) => l,
            (None, None) => &NoProgress,
        };
        if let Some(unit) = self.shard {
            let steps: Vec<&dyn Step> = modules.iter().map(|m| m as &dyn Step).collect();
            let done = shard::run_shard(
                &steps,
                &input_stage,
                &output_stage,
                self.interval,
                unit,
                &options,
                progress,
            )?;
            if let Some(b) = &bar {
                b.bar.finish_and_clear();
            }
            let r = &done.result;
            let records: u64 = r.parts.iter().map(|p| p.records).sum();
            let result = format!("{}/{}", output_stage.url(), done.result_path);
            if g.json {
                print_json(&serde_json::json!({
                    "ok": true,
                    "committed": false,
                    "shard": r.shard,
                    "input": input_stage.url().to_string(),
                    "output": output_stage.url().to_string(),
                    "interval": r.interval,
                    "result": result,
                    "run_id": r.run_id,
                    "input_parts": r.input_parts,
                    "input_records": r.input_records,
                    "records": records,
                    "quarantined": r.quarantined,
                    "transforms": r.transforms,
                    "seconds": started.elapsed().as_secs_f64(),
                }))?;
            } else {
                println!(
                    "sealed shard {} (input parts {}..{}: {} records in, {records} out, {} quarantined) as {result}",
                    r.shard, r.input_parts[0], r.input_parts[1], r.input_records, r.quarantined
                );
                println!("not committed yet: run `weir commit` once every shard is done");
            }
            return Ok(Outcome::Sealed);
        }
        let summary = run::run(
            &modules,
            &input_stage,
            &output_stage,
            self.interval,
            &options,
            progress,
        )?;
        if let Some(b) = &bar {
            b.bar.finish_and_clear();
        }
        Ok(Outcome::Committed {
            summary: Box::new(summary),
            input: input_stage.url().to_string(),
            output: output_stage.url().clone(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// How a run ended.
#[allow(clippy::large_enum_variant)] // one per process
enum Outcome {
    /// A shard was sealed (and its summary printed).
    Sealed,
    /// The interval was committed.
    Committed {
        // Boxed: a summary is large and `Sealed` is nothing.
        summary: Box<run::RunSummary>,
        input: String,
        output: weir_stage::StageUrl,
        seconds: f64,
    },
}

/// A progress bar on stderr: records, MB/s and ETA from input bytes.
struct ProgressReport {
    bar: ProgressBar,
}

impl ProgressReport {
    fn new(enabled: bool) -> Option<Self> {
        enabled.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Self { bar }
        })
    }
}

impl Progress for ProgressReport {
    fn start(&self, total: u64, _records: u64) {
        self.bar.set_length(total);
    }
    fn advance(&self, bytes: u64, records: u64) {
        self.bar.inc(bytes);
        let done = records
            + self
                .bar
                .message()
                .split(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        self.bar.set_message(format!("{done} records"));
    }
}

/// How often [`ProgressLog`] writes a line.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Progress as lines on stderr, one every [`PROGRESS_EVERY`], for when
/// stderr is a log rather than a terminal. A thread of its own writes them:
/// the run itself reports only when a chunk is done, and a chunk of slow
/// records can take minutes.
struct ProgressLog {
    counts: Arc<ProgressCounts>,
    /// Dropped with the log, which ends the thread.
    _stop: mpsc::Sender<()>,
}

#[derive(Default)]
struct ProgressCounts {
    total_bytes: AtomicU64,
    total_records: AtomicU64,
    bytes: AtomicU64,
    records: AtomicU64,
}

impl ProgressLog {
    fn start() -> Self {
        let counts = Arc::new(ProgressCounts::default());
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = Arc::clone(&counts);
        let started = Instant::now();
        std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(PROGRESS_EVERY) {
                eprintln!("{}", shared.line(started.elapsed()));
            }
        });
        Self {
            counts,
            _stop: stop,
        }
    }
}

impl ProgressCounts {
    /// `progress: 1200 of 3000 records (40%), 1.2 MiB of 3.0 MiB, 240 records/s, 5 s`
    fn line(&self, elapsed: Duration) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (records, total) = (get(&self.records), get(&self.total_records));
        let percent = if total == 0 {
            100.0
        } else {
            records as f64 * 100.0 / total as f64
        };
        let seconds = elapsed.as_secs_f64();
        format!(
            "progress: {records} of {total} records ({percent:.0}%), {} of {}, {:.0} records/s, {seconds:.0} s",
            human(get(&self.bytes)),
            human(get(&self.total_bytes)),
            records as f64 / seconds.max(1e-9),
        )
    }
}

impl Progress for ProgressLog {
    fn start(&self, total_bytes: u64, total_records: u64) {
        let c = &self.counts;
        c.total_bytes.store(total_bytes, Ordering::Relaxed);
        c.total_records.store(total_records, Ordering::Relaxed);
    }
    fn advance(&self, bytes: u64, records: u64) {
        let c = &self.counts;
        c.bytes.fetch_add(bytes, Ordering::Relaxed);
        c.records.fetch_add(records, Ordering::Relaxed);
    }
}

/// Whether two stage arguments name the same stage (`./s/` and `s` do).
fn same_stage(a: &str, b: &str) -> anyhow::Result<bool> {
    let url = |s: &str| -> anyhow::Result<String> {
        Ok(weir_stage::StageUrl::parse(s)?
            .as_url()
            .as_str()
            .trim_end_matches('/')
            .to_owned())
    };
    Ok(url(a)? == url(b)?)
}
