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
use weir::pipeline::file::{ExtractFlags, ExtractPlan, PipelineFile};
use weir::pipeline::{Overrides, resolve};
use weir_extract::{ExtractSpec, RetryPolicy, Source, Window};
use weir_stage::Interval;

use super::settings::WriteArgs;
use super::{Globals, StoreArgs, parse_interval, print_commit, print_json};

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
                Ok(file.extract_step(step)?.with_flags(self.flags()))
            }
            ([], Some(url)) => Ok(ExtractPlan {
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
                output: self
                    .output
                    .clone()
                    .context("--output is required (the stage to write)")?,
                overrides: Overrides::default(),
            }
            .with_flags(self.flags())),
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
        if let Some(n) = plan.max_retries {
            spec = spec.with_retry(RetryPolicy {
                max_retries: n,
                ..RetryPolicy::default()
            });
        }
        Ok(spec)
    }

    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let plan = self.plan()?;
        let spec = self.spec(&plan)?;
        let stage = self.store.open(g, &plan.output)?;
        let mut flags = Overrides::default();
        self.write.apply(&mut flags);
        let settings = resolve(&plan.overrides, &flags)?;
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

/// The command line as the manifest records it, with the password of any
/// `postgres://` URL in it replaced by `***`, wherever the URL stands
/// (`--source URL`, `--source=URL`, inside a quoted argument).
fn command_line_without_password() -> String {
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
