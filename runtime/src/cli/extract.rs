//! `weir extract`: rows of a PostgreSQL table or query into an interval.
//!
//! Two forms, one struct: a pipeline file's extract step
//! (`weir extract PIPELINE.toml STEP`) or flags (`--source URL --table T`).
//! Only turns them into a `weir_extract::ExtractSpec` and write settings;
//! the extract itself is `weir::pipeline::extract`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use weir::pipeline::extract::extract;
use weir::pipeline::file::{ExtractPlan, PipelineFile};
use weir::pipeline::{Overrides, resolve};
use weir_extract::{ExtractSpec, Source, Window};
use weir_stage::Interval;

use super::settings::WriteArgs;
use super::{Globals, StoreArgs, command_line, parse_interval, print_commit, print_json};

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
    /// Bound each page statement, e.g. 30s.
    #[arg(long, value_name = "DURATION")]
    statement_timeout: Option<humantime::Duration>,
    /// The interval's start.
    #[arg(long, value_parser = parse_interval)]
    interval: Interval,
    /// The interval's end: the window's end for an incremental extract.
    #[arg(long, value_parser = parse_interval)]
    interval_end: Option<Interval>,
    #[command(flatten)]
    write: WriteArgs,
    #[command(flatten)]
    store: StoreArgs,
}

impl ExtractCmd {
    /// The extract to run: the pipeline file's step, or the flags.
    fn plan(&self) -> anyhow::Result<ExtractPlan> {
        match (self.target.as_slice(), &self.source) {
            ([file, step], None) => {
                let file = PipelineFile::load(&PathBuf::from(file))?;
                let mut plan = file.extract_step(step)?;
                if let Some(t) = self.statement_timeout {
                    plan.statement_timeout = Some(t.into());
                }
                Ok(plan)
            }
            ([], Some(url)) => Ok(ExtractPlan {
                url: url.clone(),
                statement_timeout: self.statement_timeout.map(Into::into),
                table: self.table.clone(),
                columns: self.columns.clone(),
                query: self.query.clone(),
                cursor: self.cursor.clone(),
                key: self
                    .key
                    .clone()
                    .context("--key is required (a unique, ordered column to page by)")?,
                lag: self.lag.map(Into::into),
                page_rows: self.page_rows,
                output: self
                    .output
                    .clone()
                    .context("--output is required (the stage to write)")?,
                overrides: Overrides::default(),
            }),
            ([_], None) => bail!("give the step to run after the pipeline file"),
            _ => bail!("give PIPELINE.toml STEP, or --source URL with --table or --query"),
        }
    }

    fn spec(&self, plan: &ExtractPlan) -> anyhow::Result<ExtractSpec> {
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
            let Some(end) = self.interval_end else {
                bail!(
                    "an incremental extract (cursor {cursor:?}) needs --interval-end: the window is [--interval, --interval-end)"
                );
            };
            if end.start() <= self.interval.start() {
                bail!("--interval-end must be after --interval");
            }
            let window = Window {
                start: self.interval.start(),
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
        Ok(spec)
    }

    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let plan = self.plan()?;
        let spec = self.spec(&plan)?;
        let stage = self.store.open(g, &plan.output)?;
        let mut flags = Overrides::default();
        self.write.apply(&mut flags);
        let settings = resolve(&plan.overrides, &flags);
        let started = std::time::Instant::now();
        let done = extract(
            &stage,
            self.interval,
            spec,
            &settings.write_options(self.interval_end),
            &command_line_without_password(),
        )?;
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

/// The command line as the manifest records it, with any password in a
/// `postgres://` URL replaced by `***`.
fn command_line_without_password() -> String {
    command_line()
        .split(' ')
        .map(|word| match url::Url::parse(word) {
            Ok(mut u) if u.password().is_some() && u.scheme().starts_with("postgres") => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            _ => word.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
