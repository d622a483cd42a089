//! Command-line flags, one small struct per subcommand with an `execute`.
//!
//! Only translates flags into library options and prints results; all
//! behaviour lives in the `weir` library.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio::runtime::Runtime;
use weir::pipeline::PipelineError;
use weir_stage::manifest::{Manifest, TransformInfo};
use weir_stage::{Interval, RetrySettings, Stage, StageUrl, layout};

mod build;
mod cat;
mod extract;
mod inspect;
mod lineage;
mod ls;
mod new;
mod replay;
mod report;
mod run;
mod settings;
mod shard;
mod stage;
mod test;
mod verify;

/// Exit code: more rejected records than the budget allows.
pub(crate) const EXIT_OVER_BUDGET: u8 = 3;
/// Exit code: verification found a mismatch.
pub(crate) const EXIT_VERIFY_FAILED: u8 = 4;
/// Exit code: the run's time limit (`--max-run-time`) stopped it.
pub(crate) const EXIT_OUT_OF_TIME: u8 = 7;

const AFTER_HELP: &str = "\
Exit codes: 0 success; 1 failure; 2 usage error; 3 more records rejected than
--max-rejected allows (nothing committed); 4 `weir verify` found a mismatch;
5 `weir extract`: the source failed (connection, authentication, retries
exhausted, timeout); 6 `weir extract`: the data cannot be extracted exactly.

Stages are local paths (the default), file://, s3://, gs://, az:// or memory://
URLs. Cloud credentials, region and endpoint come from the standard environment
variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
AWS_ENDPOINT_URL, AWS_ALLOW_HTTP=true for plain-HTTP S3-compatible servers).

Logs go to stderr: -v for info, -vv for debug, or RUST_LOG.";

/// Weir runs sandboxed WebAssembly transforms over staged NDJSON data.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More logging on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Print a machine-readable JSON summary on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum Command {
    Stage(stage::StageCmd),
    Extract(extract::ExtractCmd),
    Ls(ls::LsCmd),
    Run(run::RunCmd),
    Plan(shard::PlanCmd),
    Commit(shard::CommitCmd),
    Replay(replay::ReplayCmd),
    Cat(cat::CatCmd),
    Verify(verify::VerifyCmd),
    Report(report::ReportCmd),
    New(new::NewCmd),
    Build(build::BuildCmd),
    Test(test::TestCmd),
    Inspect(inspect::InspectCmd),
}

/// Flags every command that touches a store shares.
#[derive(Debug, Args, Clone)]
pub(crate) struct StoreArgs {
    /// Retries of a failed store request (with exponential backoff).
    #[arg(long, default_value_t = RetrySettings::default().max_retries, value_name = "N")]
    retries: usize,
    /// Stop retrying a store request after this long (e.g. 30s, 3m).
    #[arg(long, default_value_t = RetrySettings::default().retry_timeout.into(), value_name = "DURATION")]
    retry_timeout: humantime::Duration,
}

impl StoreArgs {
    /// Opens a stage with these settings; its store calls run on the
    /// command's I/O runtime.
    pub(crate) fn open(&self, g: &Globals, stage: &str) -> anyhow::Result<Stage> {
        let url = StageUrl::parse(stage)?;
        Ok(Stage::open(
            &url,
            &self.retry(),
            g.runtime.handle().clone(),
        )?)
    }

    /// Opens a stage that is only read: a local folder that does not exist
    /// is an error naming it, and is not created.
    pub(crate) fn open_existing(&self, g: &Globals, stage: &str) -> anyhow::Result<Stage> {
        let url = StageUrl::parse(stage)?;
        Ok(Stage::open_existing(
            &url,
            &self.retry(),
            g.runtime.handle().clone(),
        )?)
    }

    fn retry(&self) -> RetrySettings {
        RetrySettings {
            max_retries: self.retries,
            retry_timeout: self.retry_timeout.into(),
        }
    }
}

/// What every command gets: the runtime for store I/O and output settings.
pub(crate) struct Globals {
    /// Store calls run here.
    pub runtime: Runtime,
    /// `--json` was given.
    pub json: bool,
}

impl Cli {
    /// Sets up `tracing` on stderr.
    pub(crate) fn init_logging(&self) {
        let default = match self.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        };
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
            .init();
    }

    /// Runs the command; `matches` are the parsed flags, for the positions
    /// of repeated flags.
    pub(crate) fn execute(self, matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the I/O runtime")?;
        let ctx = Globals {
            runtime,
            json: self.json,
        };
        match self.command {
            Command::Stage(c) => c.execute(&ctx),
            Command::Extract(c) => c.execute(&ctx),
            Command::Ls(c) => c.execute(&ctx),
            Command::Run(c) => {
                c.execute(&ctx, matches.subcommand_matches("run").unwrap_or(matches))
            }
            Command::Plan(c) => c.execute(&ctx),
            Command::Commit(c) => c.execute(&ctx),
            Command::Replay(c) => c.execute(
                &ctx,
                matches.subcommand_matches("replay").unwrap_or(matches),
            ),
            Command::Cat(c) => c.execute(&ctx),
            Command::Verify(c) => c.execute(&ctx),
            Command::Report(c) => c.execute(&ctx),
            Command::New(c) => c.execute(&ctx),
            Command::Build(c) => c.execute(&ctx),
            Command::Test(c) => c.execute(&ctx),
            Command::Inspect(c) => c.execute(&ctx),
        }
    }
}

/// The exit code for an error that ended a command.
pub(crate) fn exit_code_of(e: &anyhow::Error) -> u8 {
    if let Some(x) = e.downcast_ref::<weir_extract::ExtractError>() {
        return x.exit_code();
    }
    match e.downcast_ref::<PipelineError>() {
        Some(p) if p.is_over_budget() => EXIT_OVER_BUDGET,
        Some(p) if p.is_out_of_time() => EXIT_OUT_OF_TIME,
        Some(p) => p.extract_exit_code().unwrap_or(1),
        _ => 1,
    }
}

/// An error and its causes, `a: b: c`, each cause once.
pub(crate) fn error_chain(e: &anyhow::Error) -> String {
    weir_stage::error_chain(e.as_ref())
}

/// Parses an interval flag.
pub(crate) fn parse_interval(s: &str) -> Result<Interval, String> {
    s.parse::<Interval>().map_err(|e| e.to_string())
}

/// Prints a JSON value on stdout.
pub(crate) fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{}", serde_json::to_string_pretty(value)?) {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Each transform's counts, one line each, as `run` and `commit` print them.
pub(crate) fn print_transform_counts(transforms: &[TransformInfo]) {
    for tr in transforms {
        let c = &tr.counts;
        println!(
            "  {}: {} in, {} out ({} records emitted), {} filtered, {} quarantined",
            tr.name, c.records_in, c.records_out, c.emitted, c.filtered, c.quarantined
        );
    }
}

/// The summary of a commit, as `stage`, `run` and `commit` print it:
/// `what` (e.g. "committed") and the totals, each transform's counts, the
/// quarantine and skipped blank lines when there are any.
pub(crate) fn print_commit(what: &str, stage: &StageUrl, m: &Manifest, seconds: Option<f64>) {
    let t = &m.totals;
    let took = seconds.map(|s| format!(" in {s:.1}s")).unwrap_or_default();
    println!(
        "{what} {} records in {} parts ({} → {}) to {stage}/{}{took}",
        t.records,
        t.parts,
        human(t.uncompressed_bytes),
        human(t.compressed_bytes),
        m.interval.folder
    );
    print_transform_counts(&m.producer.transforms);
    if t.quarantined > 0 {
        let interval = m.interval.start.as_str();
        println!(
            "quarantined {} records in {stage}/{} (see `weir cat {stage} --interval {interval} --quarantine`)",
            t.quarantined,
            layout::QUARANTINE.to_owned() + "/" + &m.interval.folder,
        );
    }
    if t.blank_lines > 0 {
        println!("skipped {} blank lines", t.blank_lines);
    }
}

/// The command line, as the manifest records it.
pub(crate) fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

/// Human-readable byte sizes.
pub(crate) fn human(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().si().to_string()
}

/// What compiling `module` cost, when it was compiled rather than loaded from
/// the module cache: `compiled NAME (SIZE) in 12.3 s, 9876 of 10012 functions
/// from the function cache`.
pub(crate) fn compile_summary(module: &weir_engine::Module) -> Option<String> {
    let compiled = module.compiled()?;
    let functions = compiled.functions_reused + compiled.functions_compiled;
    let reuse = if functions == 0 {
        String::from(" (no cache)")
    } else {
        format!(
            ", {} of {functions} functions from the function cache",
            compiled.functions_reused
        )
    };
    Some(format!(
        "compiled {} ({}) in {:.1} s{reuse}",
        module.name(),
        human(module.size()),
        compiled.elapsed.as_secs_f64()
    ))
}

/// Prints [`compile_summary`] to stderr when the compile took long enough to
/// be noticed (a second or more); `weir run -v` logs every load.
pub(crate) fn note_slow_compile(module: &weir_engine::Module) {
    if let Some(summary) = compile_summary(module)
        && module
            .compiled()
            .is_some_and(|c| c.elapsed >= std::time::Duration::from_secs(1))
    {
        eprintln!("note: {summary}; later runs load it from the module cache");
    }
}
