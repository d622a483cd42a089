//! Native test helpers: run a transform through the component's own chunk
//! loop with plain `cargo test`, no wasm involved.
//!
//! [`run`] and [`Session`] feed records to the same code the `process`
//! export runs, then split the chunk's output back into per-record results.
//! [`assert_cases`] checks a transform against its golden cases
//! (`cases/<name>/{config.json,input.ndjson,expected.ndjson,expected-quarantine.ndjson}`),
//! the same files the host's golden tests read. Panics in this module are
//! test failures by design.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use serde::Deserialize;

use crate::chunk::Instance;
use crate::error::Error;
pub use crate::outcome::{Outcome, Processed};
pub use crate::random::XorShift;
use crate::record::{Output, Record};
use crate::transform::Transform;

/// What became of one input record: its output lines (without line endings;
/// empty when filtered out), or the reason it was rejected.
pub type RecordResult = Result<Vec<String>, String>;

/// Configures `transform` with `config` (JSON text, `"{}"` for none) and runs
/// `records` (one JSON object each) through it as one chunk.
///
/// # Panics
///
/// The configuration is rejected (use [`Session::start`] to test that), or a
/// record contains a line break.
pub fn run<T, I>(transform: T, config: &str, records: I) -> Vec<RecordResult>
where
    T: Transform,
    I: IntoIterator<Item: AsRef<str>>,
{
    match Session::start(transform, config) {
        Ok(mut session) => session.process(records),
        Err(error) => panic!("the transform rejected its config {config}: {error}"),
    }
}

/// Calls `f` with `line` as an input record and an empty output, and returns
/// the text it wrote (line ends included) if it returns `Some`: for testing
/// the parts of a transform below `process`, such as two ways of writing a
/// record that must agree.
pub fn with_record<F>(line: &str, f: F) -> Option<String>
where
    F: FnOnce(Record<'_>, &mut Output<'_>) -> Option<()>,
{
    let mut buffer = Vec::new();
    f(Record::new(line), &mut Output::new(&mut buffer))?;
    String::from_utf8(buffer).ok()
}

/// A configured transform that can take several chunks, then finish.
pub struct Session<T> {
    instance: Instance<T>,
}

impl<T: Transform> Session<T> {
    /// Configures `transform` exactly as the component's `init` export does.
    ///
    /// # Errors
    ///
    /// The message `init` would return to the host.
    pub fn start(transform: T, config: &str) -> Result<Self, String> {
        let instance = Instance::init(transform, config)?;
        Ok(Self { instance })
    }

    /// Runs `records` as one chunk and splits the output per record.
    ///
    /// # Panics
    ///
    /// A record contains a line break, or the chunk's output does not add up
    /// to its outcomes (an SDK bug).
    pub fn process<I>(&mut self, records: I) -> Vec<RecordResult>
    where
        I: IntoIterator<Item: AsRef<str>>,
    {
        let mut chunk = String::new();
        for (index, record) in records.into_iter().enumerate() {
            let record = record.as_ref();
            assert!(
                !record.contains('\n'),
                "record {} contains a line break; a record is one NDJSON line",
                index + 1
            );
            chunk.push_str(record);
            chunk.push('\n');
        }
        split(&self.process_chunk(&chunk))
    }

    /// Runs one NDJSON chunk exactly as the component's `process` export does.
    pub fn process_chunk(&mut self, input: &str) -> Processed {
        self.instance.process(input)
    }

    /// Calls the transform's `finish` and returns its records, as the
    /// component's `finish` export does.
    ///
    /// # Errors
    ///
    /// The message `finish` would return to the host.
    pub fn finish(&mut self) -> Result<Vec<String>, String> {
        let output = self.instance.finish()?;
        Ok(output.lines().map(str::to_owned).collect())
    }
}

/// Splits a chunk's output into one result per outcome.
///
/// # Panics
///
/// The outcomes claim more or fewer lines than the output holds, or the
/// output does not end in a line ending.
pub fn split(processed: &Processed) -> Vec<RecordResult> {
    assert!(
        processed.output.is_empty() || processed.output.ends_with('\n'),
        "the output's last line has no line ending"
    );
    let mut lines = processed.output.lines();
    let results = processed
        .outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Emitted(count) => Ok(lines
                .by_ref()
                .take(*count as usize)
                .map(str::to_owned)
                .collect::<Vec<_>>()),
            Outcome::Failed(reason) => Err(reason.clone()),
        })
        .collect::<Vec<_>>();
    let claimed: usize = results.iter().flatten().map(Vec::len).sum();
    let emitted: u32 = processed
        .outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Emitted(count) => *count,
            Outcome::Failed(_) => 0,
        })
        .sum();
    assert!(
        claimed == emitted as usize && lines.next().is_none(),
        "the outcomes claim {emitted} output lines but the output has {}",
        processed.output.lines().count()
    );
    results
}

/// One line of `expected-quarantine.ndjson`: a rejected input line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Quarantined {
    /// 1-based line of `input.ndjson`.
    line: usize,
    /// A substring of the rejection reason.
    reason: String,
}

/// Checks `make()` against every golden case under `cases_dir`.
///
/// Each case is a directory holding `input.ndjson`, `expected.ndjson`
/// (output, including `finish` records, byte for byte), optionally
/// `config.json` (default `{}`) and optionally `expected-quarantine.ndjson`
/// (one `{"line": <1-based input line>, "reason": "<substring>"}` per
/// rejected record; none if absent). The input runs as one chunk.
///
/// # Panics
///
/// Some case does not match, naming each case and mismatch; or there are no
/// cases.
pub fn assert_cases<T: Transform>(make: impl Fn() -> T, cases_dir: impl AsRef<Path>) {
    let cases_dir = cases_dir.as_ref();
    let mut cases = fs::read_dir(cases_dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", cases_dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect::<Vec<_>>();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", cases_dir.display());
    let mut failures = String::new();
    for case in &cases {
        if let Err(error) = check_case(make(), case) {
            let _ = writeln!(failures, "case {}: {error}", case.display());
        }
    }
    assert!(failures.is_empty(), "golden cases failed:\n{failures}");
}

fn check_case<T: Transform>(transform: T, case: &Path) -> Result<(), Error> {
    let read = |name: &str| {
        fs::read_to_string(case.join(name)).map_err(|error| Error::from(error).context(name))
    };
    let optional = |name: &str| {
        if case.join(name).exists() {
            read(name).map(Some)
        } else {
            Ok(None)
        }
    };
    let config = optional("config.json")?.unwrap_or_else(|| "{}".to_owned());
    let input = read("input.ndjson")?;
    let expected = read("expected.ndjson")?;
    let quarantine = optional("expected-quarantine.ndjson")?.unwrap_or_default();

    let mut session = Session::start(transform, &config).map_err(Error::new)?;
    let processed = session.process_chunk(&input);
    let mut output = processed.output;
    output.push_str(&session.instance.finish()?);

    let mut problems = Vec::new();
    if output != expected {
        problems.push(format!(
            "output differs\n--- expected\n{expected}--- actual\n{output}"
        ));
    }
    let failed = processed
        .outcomes
        .iter()
        .enumerate()
        .filter_map(|(index, outcome)| match outcome {
            Outcome::Failed(reason) => Some((index + 1, reason.as_str())),
            Outcome::Emitted(_) => None,
        })
        .collect::<Vec<_>>();
    let wanted = quarantine
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str::<Quarantined>(line)
                .map_err(|error| Error::from(error).context("expected-quarantine.ndjson"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for want in &wanted {
        match failed.iter().find(|(line, _)| *line == want.line) {
            Some((_, reason)) if reason.contains(&want.reason) => {}
            Some((_, reason)) => problems.push(format!(
                "line {} failed with {reason:?}, which does not contain {:?}",
                want.line, want.reason
            )),
            None => problems.push(format!("line {} was not rejected", want.line)),
        }
    }
    for (line, reason) in &failed {
        if !wanted.iter().any(|want| want.line == *line) {
            problems.push(format!("line {line} was rejected unexpectedly: {reason}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::new(problems.join("\n")))
    }
}
