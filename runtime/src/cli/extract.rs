//! `weir extract`: rows of a PostgreSQL table or query into an interval.
//!
//! Two forms, one struct: a pipeline file's extract step
//! (`weir extract PIPELINE.toml STEP`) or flags (`--source URL --table T`).
//! Only turns them into a `weir_extract::ExtractSpec` and write settings;
//! the extract itself is `weir::pipeline::extract`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use weir::pipeline::extract::{
    ExtractCounts, ExtractProgress, NoExtractProgress, extract, extract_connections, extract_shard,
};
use weir::pipeline::file::{ExtractFlags, ExtractPlan, PipelineFile};
use weir::pipeline::plan::Shard;
use weir::pipeline::{Overrides, resolve};
use weir_extract::{ExtractSpec, RetryPolicy, Source, Window};
use weir_lineage::{DatasetName, StageDataset};
use weir_stage::Interval;

use super::lineage::{FileLineage, LineageArgs};
use super::settings::WriteArgs;
use super::{Globals, StoreArgs, human, parse_interval, print_commit, print_json};

/// Extract rows from PostgreSQL (usually a read replica) into an interval
/// of a stage, exactly typed and committed like every stage
/// (docs/extract.md).
///
/// Examples:
///   weir extract pipeline.toml raw --interval 2026-11-26 --interval-end 2026-11-27
///   weir extract --source postgres://reader@replica/app --table support.tickets \
///       --cursor updated_at --key id --output ./lake/raw \
///       --interval 2026-11-26 --interval-end 2026-11-27
///
/// The password comes from the URL, PGPASSWORD or PGPASSFILE and is never
/// printed or recorded. An incremental extract (with a cursor) needs
/// --interval-end: the window is [--interval, --interval-end).
/// Exit codes: 5 the source failed (connection, authentication, retries
/// exhausted, timeout); 6 the data cannot be extracted exactly.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub(super) struct ExtractCmd {
    /// A pipeline file, then the extract step to run.
    #[arg(num_args = 0..=2, value_names = ["PIPELINE", "STEP"])]
    target: Vec<String>,
    /// The source's URL, postgres://user@host:port/db (flags form).
    #[arg(long, value_name = "URL", conflicts_with = "target")]
    source: Option<String>,
    /// The table, schema.table (flags form).
    #[arg(long, conflicts_with = "query")]
    table: Option<String>,
    /// Only these columns of the table, comma-separated.
    #[arg(long, value_delimiter = ',', requires = "table")]
    columns: Option<Vec<String>>,
    /// A SELECT to extract instead of a table.
    #[arg(long, value_name = "SQL")]
    query: Option<String>,
    /// The column that places a row in an interval; without it, a snapshot.
    #[arg(long)]
    cursor: Option<String>,
    /// The unique, ordered key to page by.
    #[arg(long)]
    key: Option<String>,
    /// The output stage (path or URL).
    #[arg(long, value_name = "STAGE")]
    output: Option<String>,
    /// Shift the window back by this much, e.g. 5m.
    #[arg(long, value_name = "DURATION")]
    lag: Option<humantime::Duration>,
    /// Rows per page [default: 10000].
    #[arg(long, value_name = "N")]
    page_rows: Option<usize>,
    /// Retries of a page that failed transiently (a standby's recovery
    /// conflict, a dropped connection), with backoff from 100 ms doubling
    /// to 10 s [default: 10].
    #[arg(long, value_name = "N")]
    max_retries: Option<u32>,
    /// Consistent mode: every page in one REPEATABLE READ READ ONLY
    /// transaction (one snapshot); on a standby a recovery conflict then
    /// fails the extract instead of being retried.
    #[arg(long)]
    consistent: bool,
    /// Read N key ranges at once over N connections, in this process, and
    /// commit once (ranges planned as by `weir plan --shards N`); with
    /// --consistent, all in one exported snapshot [default: 1].
    #[arg(long, value_name = "N", conflicts_with = "shard")]
    connections: Option<u32>,
    /// Read pages as queries instead of COPY ... TO STDOUT (FORMAT binary)
    /// (the same records; a server that refuses COPY is switched to
    /// queries by itself).
    #[arg(long)]
    no_copy: bool,
    /// Bound each page statement, e.g. 30s.
    #[arg(long, value_name = "DURATION")]
    statement_timeout: Option<humantime::Duration>,
    /// The interval's start.
    #[arg(long, value_parser = parse_interval)]
    interval: Interval,
    /// The interval's end: the window's end for an incremental extract.
    #[arg(long, value_parser = parse_interval)]
    interval_end: Option<Interval>,
    /// Extract one shard of the plan `weir plan PIPELINE STEP --shards
    /// COUNT` made (its key range), sealed, not committed; `weir commit`
    /// merges the shards.
    #[arg(long, value_name = "INDEX/COUNT")]
    shard: Option<Shard>,
    #[command(flatten)]
    write: WriteArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    lineage: LineageArgs,
}

/// The table `plan` reads as an OpenLineage PostgreSQL dataset; a query
/// has none (it is not parsed).
pub(super) fn table_dataset(plan: &ExtractPlan) -> Vec<StageDataset> {
    match (&plan.table, Source::from_url(&plan.url)) {
        (Some(t), Ok(source)) => {
            let s = source.info();
            vec![StageDataset::named(DatasetName::postgres_table(
                &s.host,
                s.port,
                &s.database,
                t,
            ))]
        }
        _ => Vec::new(),
    }
}

impl ExtractCmd {
    /// The extract to run: the pipeline file's step, or the flags.
    /// and what the file says of its lineage.
    fn plan(&self) -> anyhow::Result<(ExtractPlan, FileLineage)> {
        match (self.target.as_slice(), &self.source) {
            ([file, step], None) => {
                for (flag, given) in [
                    ("--table", self.table.is_some()),
                    ("--columns", self.columns.is_some()),
                    ("--query", self.query.is_some()),
                    ("--cursor", self.cursor.is_some()),
                    ("--key", self.key.is_some()),
                    ("--output", self.output.is_some()),
                ] {
                    if given {
                        bail!(
                            "{flag} is for the flags form (--source URL); step {step} of {file} sets what it extracts"
                        );
                    }
                }
                let file = PipelineFile::load(&PathBuf::from(file))?;
                Ok((
                    file.extract_step(step)?.with_flags(self.flags()),
                    FileLineage::of(&file, step),
                ))
            }
            ([], Some(url)) => Ok((
                ExtractPlan {
                    url: url.clone(),
                    statement_timeout: None,
                    table: self.table.clone(),
                    columns: self.columns.clone(),
                    query: self.query.clone(),
                    cursor: self.cursor.clone(),
                    key: self
                        .key
                        .clone()
                        .context("--key is required (a unique, ordered column to page by)")?,
                    lag: None,
                    page_rows: None,
                    max_retries: None,
                    consistent: false,
                    connections: None,
                    copy: true,
                    output: self
                        .output
                        .clone()
                        .context("--output is required (the stage to write)")?,
                    overrides: Overrides::default(),
                }
                .with_flags(self.flags()),
                FileLineage::default(),
            )),
            ([_], None) => bail!("give the step to run after the pipeline file"),
            _ => bail!("give PIPELINE.toml STEP, or --source URL with --table or --query"),
        }
    }

    /// The settings these flags give (each beats the step's value).
    fn flags(&self) -> ExtractFlags {
        ExtractFlags {
            statement_timeout: self.statement_timeout.map(Into::into),
            lag: self.lag.map(Into::into),
            page_rows: self.page_rows,
            max_retries: self.max_retries,
            consistent: self.consistent,
            connections: self.connections,
            no_copy: self.no_copy,
        }
    }

    fn spec(&self, plan: &ExtractPlan) -> anyhow::Result<ExtractSpec> {
        extract_spec(plan, self.interval, self.interval_end)
    }

    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let (plan, file_lineage) = self.plan()?;
        let spec = self.spec(&plan)?;
        let stage = self.store.open(g, &plan.output)?;
        let mut flags = Overrides::default();
        self.write.apply(&mut flags);
        let settings = resolve(&plan.overrides, &flags)?;
        let started = Instant::now();
        // A bar on a terminal; where stderr is a log (Airflow), a line
        // every few seconds instead, so a long extract never looks like a hang.
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = (terminal && !g.json).then(ExtractBar::new);
        let log = (!terminal).then(ExtractLog::start);
        let progress: &dyn ExtractProgress = match (&bar, &log) {
            (Some(b), _) => b,
            (None, Some(l)) => l,
            (None, None) => &NoExtractProgress,
        };
        let write = settings.write_options(self.interval_end);
        let command = command_line_without_password();
        if let Some(shard) = self.shard {
            if plan.connections.is_some_and(|n| n > 1) {
                bail!(
                    "step option `connections` reads every key range in this process; `--shard {shard}` is one range of a plan that other processes share: give one or the other"
                );
            }
            let done = extract_shard(
                &stage,
                self.interval,
                spec,
                shard,
                &write,
                &command,
                progress,
            );
            if let Some(b) = &bar {
                b.bar.finish_and_clear();
            }
            drop(log);
            let done = done?;
            let r = &done.result;
            let result = format!("{}/{}", stage.url(), done.result_path);
            let range = |k: &Option<String>, open: &str| k.clone().unwrap_or_else(|| open.into());
            if g.json {
                print_json(&serde_json::json!({
                    "ok": true,
                    "committed": false,
                    "shard": r.shard,
                    "output": stage.url().to_string(),
                    "interval": r.interval,
                    "result": result,
                    "run_id": r.run_id,
                    "rows": r.rows,
                    "from_key": done.unit.from_key,
                    "to_key": done.unit.to_key,
                    "extract": r.extract,
                    "seconds": started.elapsed().as_secs_f64(),
                }))?;
            } else {
                println!(
                    "sealed shard {} (keys {} to before {}: {} rows) as {result}",
                    r.shard,
                    range(&done.unit.from_key, "the first"),
                    range(&done.unit.to_key, "the end"),
                    r.rows
                );
                println!("not committed yet: run `weir commit` once every shard is done");
            }
            return Ok(ExitCode::SUCCESS);
        }
        // A shard's events are its `weir commit`'s; a whole extract sends its own.
        let run = self.lineage.start(
            g,
            &file_lineage,
            "extract",
            &[],
            table_dataset(&plan),
            &plan.output,
            self.interval,
            self.interval_end,
        );
        let done = match plan.connections.unwrap_or(1) {
            0 => bail!("--connections must be at least 1"),
            1 => extract(&stage, self.interval, spec, &write, &command, progress),
            n => extract_connections(&stage, self.interval, spec, n, &write, &command, progress),
        };
        if let Some(b) = &bar {
            b.bar.finish_and_clear();
        }
        drop(log);
        let (done, run) = run.check(done.map_err(anyhow::Error::from))?;
        let lineage = run.complete(stage.url(), &done.commit, table_dataset(&plan));
        let m = &done.commit.manifest;
        if g.json {
            print_json(&serde_json::json!({
                "stage": m.stage,
                "interval": m.interval,
                "manifest": format!("{}/{}", stage.url(), done.commit.manifest_path),
                "run_id": m.run_id,
                "totals": m.totals,
                "extract": m.producer.extract,
                "deleted": done.commit.deleted,
                "openlineage": lineage,
            }))?;
        } else {
            print_commit(
                "extracted",
                stage.url(),
                m,
                Some(started.elapsed().as_secs_f64()),
            );
            let s = &done.summary;
            println!(
                "  from {}:{}/{} as {} ({} pages, {} retries{})",
                s.source.host,
                s.source.port,
                s.source.database,
                s.source.user,
                s.pages,
                s.retries,
                if s.standby { ", standby" } else { "" }
            );
            for w in &s.warnings {
                println!("  warning: {w}");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// The reader's spec for an extract step (or the flags) over `interval`
/// (to `interval_end`, which an incremental extract needs).
pub(super) fn extract_spec(
    plan: &ExtractPlan,
    interval: Interval,
    interval_end: Option<Interval>,
) -> anyhow::Result<ExtractSpec> {
    {
        let source = Source::from_url(&plan.url)?.with_statement_timeout(plan.statement_timeout);
        let mut spec = match (&plan.table, &plan.query) {
            (Some(t), None) => ExtractSpec::table(source, t, &plan.key),
            (None, Some(q)) => ExtractSpec::query(source, q, &plan.key),
            _ => bail!("give --table or --query"),
        };
        if let Some(c) = &plan.columns {
            spec = spec.with_columns(c.clone());
        }
        if let Some(cursor) = &plan.cursor {
            let Some(end) = interval_end else {
                bail!(
                    "an incremental extract (cursor {cursor:?}) needs --interval-end: the window is [--interval, --interval-end)"
                );
            };
            if end.start() <= interval.start() {
                bail!("--interval-end must be after --interval");
            }
            let window = Window {
                start: interval.start(),
                end: end.start(),
            };
            spec = spec.with_cursor(cursor, window);
        } else if plan.lag.is_some() {
            bail!("--lag needs --cursor");
        }
        if let Some(lag) = plan.lag {
            spec = spec.with_lag(lag);
        }
        if let Some(n) = plan.page_rows {
            spec = spec.with_page_rows(n);
        }
        spec = spec.with_consistent(plan.consistent).with_copy(plan.copy);
        if let Some(n) = plan.max_retries {
            spec = spec.with_retry(RetryPolicy {
                max_retries: n,
                ..RetryPolicy::default()
            });
        }
        Ok(spec)
    }
}

/// A spinner on stderr with the rows so far, their rate, pages and
/// retries: an extract does not know its total row count in advance.
struct ExtractBar {
    bar: ProgressBar,
}

impl ExtractBar {
    fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {human_pos} rows {per_sec} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Self { bar }
    }
}

impl ExtractProgress for ExtractBar {
    fn page(&self, done: &ExtractCounts) {
        self.bar.set_position(done.rows);
        self.bar.set_message(progress_tail(done));
    }
}

/// `12 pages, 0 retries, 3.4 MiB`
fn progress_tail(done: &ExtractCounts) -> String {
    format!(
        "{} pages, {} retries, {}",
        done.pages,
        done.retries,
        human(done.bytes)
    )
}

/// How often [`ExtractLog`] writes a line.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Progress as a line on stderr every [`PROGRESS_EVERY`], for when stderr
/// is a log rather than a terminal. A thread of its own writes them, so a
/// page that takes long (a slow query, retries with backoff) still shows
/// the extract is alive.
struct ExtractLog {
    counts: Arc<[AtomicU64; 4]>,
    /// Dropped with the log, which ends the thread.
    _stop: mpsc::Sender<()>,
}

impl ExtractLog {
    fn start() -> Self {
        let counts: Arc<[AtomicU64; 4]> = Arc::default();
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = Arc::clone(&counts);
        let started = Instant::now();
        std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(PROGRESS_EVERY) {
                let [rows, bytes, pages, retries] =
                    [0, 1, 2, 3].map(|i| shared[i].load(Ordering::Relaxed));
                let done = ExtractCounts {
                    rows,
                    bytes,
                    pages,
                    retries,
                };
                eprintln!("{}", progress_line(&done, started.elapsed()));
            }
        });
        Self {
            counts,
            _stop: stop,
        }
    }
}

impl ExtractProgress for ExtractLog {
    fn page(&self, done: &ExtractCounts) {
        for (slot, value) in
            self.counts
                .iter()
                .zip([done.rows, done.bytes, done.pages, done.retries])
        {
            slot.store(value, Ordering::Relaxed);
        }
    }
}

/// `progress: 1200 rows, 12 pages, 0 retries, 3.4 MiB, 240 rows/s, 5 s`
fn progress_line(done: &ExtractCounts, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    format!(
        "progress: {} rows, {}, {:.0} rows/s, {seconds:.0} s",
        done.rows,
        progress_tail(done),
        done.rows as f64 / seconds.max(1e-9)
    )
}

/// The command line as the manifest records it, with the password of any
/// `postgres://` URL in it replaced by `***`, wherever the URL stands
/// (`--source URL`, `--source=URL`, inside a quoted argument).
pub(super) fn command_line_without_password() -> String {
    std::env::args()
        .map(|arg| without_password(&arg))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` with the password of every `postgres://` or `postgresql://` URL
/// in it replaced by `***`. A URL runs to the next whitespace or quote.
fn without_password(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("postgres") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let (word, after) = tail.split_at(end);
        match url::Url::parse(word) {
            Ok(mut u)
                if matches!(u.scheme(), "postgres" | "postgresql") && u.password().is_some() =>
            {
                let _ = u.set_password(Some("***"));
                out.push_str(u.as_str());
            }
            // Not a URL with a password: keep it, and look further on.
            _ => out.push_str(word),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_of_postgres_urls_are_replaced_wherever_they_stand() {
        for (given, recorded) in [
            (
                "postgres://u:s3cret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            (
                "--source=postgresql://u:s3cret@h/db?sslmode=disable",
                "--source=postgresql://u:***@h/db?sslmode=disable",
            ),
            (
                "see 'postgres://a:p%40ss@h/d' and postgres://b:x@h/d",
                "see 'postgres://a:***@h/d' and postgres://b:***@h/d",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("SELECT postgres FROM t", "SELECT postgres FROM t"),
        ] {
            assert_eq!(without_password(given), recorded);
        }
    }
}
