//! Measures `weir run`'s pipeline (`weir::pipeline::run::run_steps`) on one
//! staged interval, in one process, three ways: with no transform (the
//! identity: gunzip, line split, gzip), with the `normalize` example
//! transform compiled natively into the pipeline (through the guest SDK's
//! native session, i.e. the very chunk loop the component runs), and with
//! the same transform as a wasm component under the engine's default limits.
//! Each runs with 1 worker and with 2; every figure is the median of
//! `--runs` interleaved runs, so noise from other work on the machine
//! spreads over all cells.
//!
//! A second table splits one pass over the data into the stages a chunk goes
//! through, each timed alone on one thread: reading (gunzip and line
//! split, which workers do themselves for indexed parts), the transform call (native and wasm), `check_record` on every
//! output line, and gzip of the output. It says what bounds the pipeline.
//!
//! Output is Markdown on stdout. This is a measurement, not a test: it
//! asserts nothing about speed.
//!
//! Usage: weir-bench-run --input STAGE --interval WHEN --wasm normalize.wasm
//!        --scratch DIR [--config JSON] [--runs N]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use weir::pipeline::PipelineError;
use weir::pipeline::run::{CHUNK_BYTES, CHUNK_RECORDS, NoProgress, RunOptions, run_steps};
use weir::pipeline::step::{Step, StepInstance};
use weir_engine::{Engine, EngineConfig, EngineError, Module, ModuleSpec, Outcome, Processed};
use weir_guest::Transform;
use weir_guest::testing::Session;
use weir_stage::batch::codec::{Compression, MEMBER_BYTES};
use weir_stage::batch::gzip;
use weir_stage::batch::lines::{LineKind, LineReader};
use weir_stage::batch::record::check_record;
use weir_stage::manifest::{Counts, TransformInfo};
use weir_stage::read::PartReader;
use weir_stage::{Interval, RetrySettings, Stage, StageUrl};

/// Worker counts measured.
const WORKERS: [usize; 2] = [1, 2];

/// Linux reports process CPU time in `/proc/self/stat` in ticks of USER_HZ,
/// which is 100 on every architecture Weir builds for.
const USER_HZ: f64 = 100.0;

struct Args {
    input: String,
    interval: Interval,
    wasm: PathBuf,
    scratch: PathBuf,
    config: String,
    runs: usize,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut input = None;
        let mut interval = None;
        let mut wasm = None;
        let mut scratch = None;
        let mut config = r#"{"fields":["text"]}"#.to_owned();
        let mut runs = 3;
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--input" => input = Some(value()?),
                "--interval" => {
                    interval = Some(
                        value()?
                            .parse::<Interval>()
                            .map_err(|e| format!("--interval: {e}"))?,
                    )
                }
                "--wasm" => wasm = Some(PathBuf::from(value()?)),
                "--scratch" => scratch = Some(PathBuf::from(value()?)),
                "--config" => config = value()?,
                "--runs" => {
                    runs = value()?
                        .parse()
                        .map_err(|e| format!("--runs: {e}"))
                        .and_then(|n: usize| {
                            if n == 0 {
                                Err("--runs: must be at least 1".into())
                            } else {
                                Ok(n)
                            }
                        })?
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        let usage = "usage: weir-bench-run --input STAGE --interval WHEN --wasm normalize.wasm --scratch DIR [--config JSON] [--runs N]";
        Ok(Args {
            input: input.ok_or(usage)?,
            interval: interval.ok_or(usage)?,
            wasm: wasm.ok_or(usage)?,
            scratch: scratch.ok_or(usage)?,
            config,
            runs,
        })
    }
}

/// The `normalize` transform compiled into the host, as a pipeline step.
struct NativeStep {
    config: String,
}

impl Step for NativeStep {
    fn name(&self) -> &str {
        "normalize"
    }
    fn sha256(&self) -> &str {
        "native"
    }
    fn describe(&self) -> TransformInfo {
        TransformInfo {
            name: "normalize".into(),
            module_sha256: "native".into(),
            module_bytes: 0,
            config_sha256: String::new(),
            limits: serde_json::Value::Null,
            grants: Vec::new(),
            counts: Counts::default(),
        }
    }
    fn start(&self) -> Result<Box<dyn StepInstance>, PipelineError> {
        let session = Session::start(normalize::transform(), &self.config)
            .map_err(|message| EngineError::Setup { message })?;
        Ok(Box::new(NativeInstance(session)))
    }
}

/// A running native transform: the SDK's session, its results converted to
/// the engine's types.
struct NativeInstance<T>(Session<T>);

impl<T: Transform + Send> StepInstance for NativeInstance<T> {
    fn process(&mut self, input: &str, _records: usize) -> Result<Processed, PipelineError> {
        Ok(engine_processed(self.0.process_chunk(input)))
    }
    fn finish(&mut self) -> Result<String, PipelineError> {
        let lines = self
            .0
            .finish()
            .map_err(|message| EngineError::Setup { message })?;
        Ok(lines.into_iter().map(|l| l + "\n").collect())
    }
}

fn engine_processed(p: weir_guest::testing::Processed) -> Processed {
    Processed {
        output: p.output,
        outcomes: p
            .outcomes
            .into_iter()
            .map(|o| match o {
                weir_guest::testing::Outcome::Emitted(n) => Outcome::Emitted(n),
                weir_guest::testing::Outcome::Failed(reason) => Outcome::Failed(reason),
            })
            .collect(),
    }
}

/// Process CPU time (user + system, all threads).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name, in parentheses, may hold spaces; fields after it are
    // numbers: utime and stime are the 12th and 13th after the `)`.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: f64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<f64>().ok())
        .sum();
    Duration::from_secs_f64(ticks / USER_HZ)
}

/// One measured run: wall and CPU time.
#[derive(Clone, Copy)]
struct Timing {
    wall: f64,
    cpu: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}

/// Runs `steps` once into a fresh output stage under `scratch`.
fn run_once(
    steps: &[&dyn Step],
    input: &Stage,
    scratch: &Path,
    handle: &Handle,
    interval: Interval,
    workers: usize,
) -> Result<Timing, String> {
    let dir = scratch.join(format!("out-{workers}w-{}", steps.len()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let url = StageUrl::parse(&dir.to_string_lossy()).map_err(|e| format!("{e:#}"))?;
    let output =
        Stage::open(&url, &RetrySettings::default(), handle.clone()).map_err(|e| error_text(&e))?;
    let options = RunOptions {
        workers,
        command: "weir-bench-run".into(),
        ..RunOptions::default()
    };
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    run_steps(steps, input, &output, interval, &options, &NoProgress)
        .map_err(|e| error_text(&e))?;
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu0).as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Timing { wall, cpu })
}

/// The error and its sources, one line.
fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    weir_stage::error_chain(e)
}

/// A part's records as a `std::io::Read`, for the line reader.
struct PartBytes(PartReader);

impl std::io::Read for PartBytes {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| std::io::Error::other(error_text(&e)))
    }
}

/// The input's records cut into chunks as the feeder cuts them, and the
/// time that took (gunzip + line split, one thread).
fn read_chunks(input: &Stage, interval: &Interval) -> Result<(Vec<(String, usize)>, f64), String> {
    let (manifest, _) = input.read_manifest(interval).map_err(|e| error_text(&e))?;
    let started = Instant::now();
    let mut chunks = Vec::new();
    let mut text = String::with_capacity(CHUNK_BYTES + 64 * 1024);
    let mut records = 0;
    let mut buf = Vec::new();
    for part in &manifest.parts {
        let reader = std::io::BufReader::with_capacity(
            256 * 1024,
            PartBytes(input.read_part(part).map_err(|e| error_text(&e))?),
        );
        let mut lines = LineReader::new(reader, usize::MAX);
        loop {
            buf.clear();
            let Some(event) = lines.next_into(&mut buf).map_err(|e| e.to_string())? else {
                break;
            };
            if !matches!(event.kind, LineKind::Content) {
                return Err(format!("{}:{}: not a record", part.path, event.number));
            }
            text.push_str(std::str::from_utf8(&buf).map_err(|e| e.to_string())?);
            text.push('\n');
            records += 1;
            if records >= CHUNK_RECORDS || text.len() >= CHUNK_BYTES {
                chunks.push((std::mem::take(&mut text), records));
                records = 0;
            }
        }
    }
    if records > 0 {
        chunks.push((text, records));
    }
    Ok((chunks, started.elapsed().as_secs_f64()))
}

/// Seconds spent in each stage of one pass, on one thread.
struct Breakdown {
    feed: f64,
    native: f64,
    wasm: f64,
    check: f64,
    gzip_output: f64,
    gzip_input: f64,
}

fn breakdown(
    input: &Stage,
    interval: &Interval,
    native: &NativeStep,
    module: &Module,
) -> Result<Breakdown, String> {
    let (chunks, feed) = read_chunks(input, interval)?;
    let mut native = native.start().map_err(|e| error_text(&e))?;
    let mut wasm = module.instantiate().map_err(|e| error_text(&e))?;
    let gzip6 = Compression::default();
    let (mut t_native, mut t_wasm, mut t_check, mut t_gzip_out, mut t_gzip_in) =
        (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut compressed = 0usize;
    for (text, records) in &chunks {
        let t = Instant::now();
        let out = native.process(text, *records).map_err(|e| error_text(&e))?;
        t_native += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let wasm_out = wasm.process(text, *records).map_err(|e| error_text(&e))?;
        t_wasm += t.elapsed().as_secs_f64();
        if wasm_out != out {
            return Err("native and wasm normalize disagree on a chunk".into());
        }

        let t = Instant::now();
        for line in out.output.lines() {
            check_record(line.as_bytes()).map_err(|p| p.to_string())?;
        }
        t_check += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let members = gzip6.compress_lines(out.output.as_bytes(), MEMBER_BYTES);
        t_gzip_out += t.elapsed().as_secs_f64();
        compressed += members.len();

        let t = Instant::now();
        let members = gzip6.compress_lines(text.as_bytes(), MEMBER_BYTES);
        t_gzip_in += t.elapsed().as_secs_f64();
        compressed += members.len();
    }
    // Keeps the compression from being optimised away.
    std::hint::black_box(compressed);
    Ok(Breakdown {
        feed,
        native: t_native,
        wasm: t_wasm,
        check: t_check,
        gzip_output: t_gzip_out,
        gzip_input: t_gzip_in,
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir-bench-run: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = Args::parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let handle = runtime.handle();
    let url = StageUrl::parse(&args.input).map_err(|e| error_text(&e))?;
    let input =
        Stage::open(&url, &RetrySettings::default(), handle.clone()).map_err(|e| error_text(&e))?;
    let (manifest, _) = input
        .read_manifest(&args.interval)
        .map_err(|e| error_text(&e))?;
    let bytes = manifest.totals.uncompressed_bytes as f64;
    let records = manifest.totals.records as f64;

    let engine = Engine::new(EngineConfig::default()).map_err(|e| error_text(&e))?;
    let module = engine
        .load(ModuleSpec::new("normalize", &args.wasm).with_config_json(args.config.clone()))
        .map_err(|e| error_text(&e))?;
    let native = NativeStep {
        config: args.config.clone(),
    };
    let pipelines: [(&str, Vec<&dyn Step>); 3] = [
        ("identity (no transform)", vec![]),
        ("normalize, native", vec![&native]),
        ("normalize, wasm (default limits)", vec![&module]),
    ];

    // timings[pipeline][workers] over the runs.
    let mut timings = vec![vec![Vec::<Timing>::new(); WORKERS.len()]; pipelines.len()];
    for run in 1..=args.runs {
        for (p, (name, steps)) in pipelines.iter().enumerate() {
            for (w, &workers) in WORKERS.iter().enumerate() {
                eprintln!(
                    "bench: run {run} of {}: {name}, {workers} worker(s)",
                    args.runs
                );
                let t = run_once(steps, &input, &args.scratch, handle, args.interval, workers)?;
                eprintln!("bench:   {:.2} s wall, {:.2} s CPU", t.wall, t.cpu);
                timings[p][w].push(t);
            }
        }
    }
    eprintln!("bench: stage breakdown, one thread");
    let split = breakdown(&input, &args.interval, &native, &module)?;

    let wall = |p: usize, w: usize| median(timings[p][w].iter().map(|t| t.wall).collect());
    let cpu = |p: usize, w: usize| median(timings[p][w].iter().map(|t| t.cpu).collect());

    println!(
        "Input: {} records, {} bytes of NDJSON in {} part(s), {} bytes stored. Config `{}`. \
         Pipeline defaults: chunks of {CHUNK_RECORDS} records or {} KiB, gzip level {}, \
         engine `EngineConfig::default()` with default `Limits` (epoch deadline armed).",
        manifest.totals.records,
        manifest.totals.uncompressed_bytes,
        manifest.parts.len(),
        manifest.totals.compressed_bytes,
        args.config,
        CHUNK_BYTES / 1024,
        gzip::DEFAULT_LEVEL,
    );
    println!();
    println!("| pipeline | workers | wall s | records/s | MB/s | CPU s | MB/CPU-s |");
    println!("|---|---|---|---|---|---|---|");
    for (p, (name, _)) in pipelines.iter().enumerate() {
        for (w, &workers) in WORKERS.iter().enumerate() {
            let (s, c) = (wall(p, w), cpu(p, w));
            println!(
                "| {name} | {workers} | {s:.2} | {:.0}k | {:.0} | {c:.2} | {:.0} |",
                records / s / 1e3,
                bytes / 1e6 / s,
                bytes / 1e6 / c,
            );
        }
    }
    println!();
    let (nat, wasm) = (1, 2);
    println!("Ratios (of wall-time throughput; CPU-time throughput in brackets):");
    println!();
    for (w, &workers) in WORKERS.iter().enumerate() {
        println!(
            "- wasm / native, {workers} worker(s): **{:.2}** ({:.2}) — target ≥ 0.8",
            wall(nat, w) / wall(wasm, w),
            cpu(nat, w) / cpu(wasm, w),
        );
    }
    for (p, (name, _)) in pipelines.iter().enumerate() {
        println!(
            "- 2 workers / 1 worker, {name}: **{:.2}**{}",
            wall(p, 0) / wall(p, 1),
            if p == wasm { " — target ≥ 1.8" } else { "" },
        );
    }
    println!();
    let gb = bytes / 1e9;
    let per_gb = |s: f64| s / gb;
    println!(
        "Where one worker's time goes: each stage of one pass over the same data timed alone on one \
         thread (single run), in seconds per GB of input. A `normalize` chunk costs \
         feed + transform + check + gzip(output); the identity costs feed + gzip(input)."
    );
    println!();
    println!("| stage | s/GB | share of native | share of wasm |");
    println!("|---|---|---|---|");
    let native_total = split.feed + split.native + split.check + split.gzip_output;
    let wasm_total = split.feed + split.wasm + split.check + split.gzip_output;
    let rows: [(&str, f64, bool, bool); 6] = [
        (
            "read: gunzip + line split (on each worker, for indexed parts)",
            split.feed,
            true,
            true,
        ),
        (
            "normalize, native (SDK chunk loop)",
            split.native,
            true,
            false,
        ),
        (
            "normalize, wasm (`Instance::process`)",
            split.wasm,
            false,
            true,
        ),
        (
            "`check_record` on every output line",
            split.check,
            true,
            true,
        ),
        (
            "gzip level 6 of the output (1 MiB members)",
            split.gzip_output,
            true,
            true,
        ),
        (
            "gzip level 6 of the input (identity)",
            split.gzip_input,
            false,
            false,
        ),
    ];
    for (name, secs, in_native, in_wasm) in rows {
        let share = |yes: bool, total: f64| {
            if yes {
                format!("{:.0}%", 100.0 * secs / total)
            } else {
                "–".into()
            }
        };
        println!(
            "| {name} | {:.2} | {} | {} |",
            per_gb(secs),
            share(in_native, native_total),
            share(in_wasm, wasm_total),
        );
    }
    println!(
        "| **sum, native / wasm** | {:.2} / {:.2} | | |",
        per_gb(native_total),
        per_gb(wasm_total)
    );
    println!();
    println!(
        "From the sums: wasm / native on one worker can be at most {:.2}, and the transform \
         call alone runs wasm at {:.2} of native. Reading is the stage a single feeder \
         thread did for all workers before parts had a member index (and still does for \
         parts without one): there it caps the pipeline at {:.0} MB/s.",
        native_total / wasm_total,
        split.native / split.wasm,
        bytes / 1e6 / split.feed,
    );
    Ok(())
}
