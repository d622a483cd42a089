//! Extract: rows of a PostgreSQL table or query into an interval of a
//! stage (`weir extract`).
//!
//! Owns driving a [`weir_extract::Extract`] on the stage's runtime and
//! turning its pages into a commit through the one commit sequence
//! (`attempt`): every line is checked like a staged one, compressed into
//! gzip members, appended to parts, and committed with Weir as the producer
//! and the extract's summary (never the password, and with the key range
//! of each part) in the manifest; `-v` logs a line per page. A record
//! that fails the check is an error naming the table or query and the row,
//! not a quarantined record: the database is the source of truth, so a row
//! Weir cannot hold is a bug to report (docs/extract.md). Reading
//! PostgreSQL is weir-extract's; writing the stage is weir-stage's.

use weir_extract::{Extract, ExtractSpec, PartKeys, Summary};
use weir_stage::batch::codec::MEMBER_BYTES;
use weir_stage::batch::record::check_record;
use weir_stage::write::{Commit, InputCounts, IntervalWriter, WriteOptions};
use weir_stage::{Interval, Stage};

use super::attempt::{Attempt, weir_producer};
use super::budget::Budget;
use super::error::PipelineError;

/// A committed extract: the commit and what the reader reported.
#[derive(Debug)]
pub struct Extracted {
    /// The commit.
    pub commit: Commit,
    /// The reader's summary, as the manifest records it.
    pub summary: Summary,
}

/// Extracts `spec` into `interval` of `stage` and commits it; `command` is
/// the command line the manifest records. Nothing is committed on any
/// error.
pub fn extract(
    stage: &Stage,
    interval: Interval,
    spec: ExtractSpec,
    write: &WriteOptions,
    command: &str,
) -> Result<Extracted, PipelineError> {
    let member_cap = MEMBER_BYTES.min(usize::try_from(write.max_batch_bytes).unwrap_or(usize::MAX));
    let compression = write.compression;
    let writer = IntervalWriter::new(stage, interval, write.clone());
    let mut attempt = Attempt::new(stage, &interval, writer);
    let mut counts = InputCounts::default();
    let handle = stage.handle().clone();
    let mut summary = None;
    // Each await runs on the stage's runtime; the writes between them
    // block on it themselves, so they happen outside `block_on`.
    let pass = || -> Result<(), PipelineError> {
        let mut x = handle.block_on(Extract::start(spec))?;
        let object = match (&x.summary().table, &x.summary().query) {
            (Some(t), _) => format!("table {t}"),
            _ => "query".to_owned(),
        };
        let mut parts: Vec<PartKeys> = Vec::new();
        while let Some(page) = handle.block_on(x.next_page())? {
            check_page(
                &object,
                counts.input_records,
                &page.lines,
                write.max_batch_bytes,
            )?;
            counts.input_records += page.rows;
            let s = x.summary();
            tracing::info!(
                "{object}: page {}: {} rows, keys {} to {} ({} rows so far, {} retries)",
                s.pages,
                page.rows,
                page.first_key,
                page.last_key,
                s.rows,
                s.retries
            );
            // Members hold whole rows in order, so each member's rows are
            // the next `records` keys of the page.
            let mut keys = page.keys.iter();
            for member in compression.compress_lines(&page.lines, member_cap) {
                let rows = member.records;
                let member_keys: Vec<&String> = keys.by_ref().take(rows as usize).collect();
                attempt.write_members(vec![member])?;
                let (Some(first), Some(last)) = (member_keys.first(), member_keys.last()) else {
                    continue;
                };
                let path = attempt.writer().open_data_part().unwrap_or_default();
                match parts.last_mut() {
                    Some(p) if p.path == path => {
                        p.last_key.clone_from(last);
                        p.rows += rows;
                    }
                    _ => parts.push(PartKeys {
                        path: path.to_owned(),
                        first_key: (*first).clone(),
                        last_key: (*last).clone(),
                        rows,
                    }),
                }
            }
        }
        let mut done = handle.block_on(x.finish())?;
        done.parts = parts;
        summary = Some(done);
        Ok(())
    };
    let pass = pass();
    let attempt = attempt.after_pass(pass)?;
    let summary = summary.ok_or_else(|| missing_summary("the extract ended without a summary"))?;
    let mut producer = weir_producer(command, vec![]);
    producer.extract =
        Some(serde_json::to_value(&summary).map_err(|e| missing_summary(&e.to_string()))?);
    let commit = attempt.commit(&Budget::Count(0), producer, counts, vec![])?;
    Ok(Extracted { commit, summary })
}

fn missing_summary(reason: &str) -> PipelineError {
    PipelineError::BadInput {
        object: "extract summary".into(),
        line: 0,
        reason: reason.to_owned(),
    }
}

/// Checks every line of a page as `weir stage` checks a staged one; `before`
/// rows came in earlier pages, so the error names the row's 1-based place
/// in the extract.
fn check_page(object: &str, before: u64, lines: &[u8], cap: u64) -> Result<(), PipelineError> {
    for (i, line) in lines
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let size = line.len() as u64 + 1;
        let reason = if size > cap {
            Some(format!(
                "record of {size} bytes exceeds the batch cap of {cap} bytes (--max-batch-bytes)"
            ))
        } else {
            check_record(line).err().map(|p| p.to_string())
        };
        if let Some(reason) = reason {
            return Err(PipelineError::BadInput {
                object: object.to_owned(),
                line: before + i as u64 + 1,
                reason,
            });
        }
    }
    Ok(())
}
