//! Golden cases: a transform's expected output, checked exactly as a run
//! would make it (`weir test`).
//!
//! Each case is a folder of `input.ndjson` (or `input.ndjson.gz`), optional
//! `config.json` and `assets/`, `expected.ndjson` and optional
//! `expected-quarantine.ndjson` (`{"line": N, "reason": "<substring>"}` per
//! rejected input line). The transform is a [`CaseTransform`]: a component
//! loaded by the production engine with the production limits
//! ([`Component`]), or a Python app run natively under the host's CPython
//! ([`PythonApp`], `weir test` on a Python project). Either is fed in
//! production-sized chunks through the pipeline's own record path
//! ([`super::run::run_records`]), and its output lines are checked with the
//! same record rule as a run; output is compared byte for byte, because
//! byte-identical output is what Weir promises.
//! Blessing rewrites the expected files that differ from what it got. Owns
//! the runner, the verdicts and the diff; printing them is the CLI's.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use weir_engine::{Engine, ModuleSpec};
use weir_stage::batch::gzip;
use weir_stage::batch::record::check_record;
use weir_stage::write::DEFAULT_MAX_BATCH_BYTES;

use super::error::PipelineError;
use super::python::PythonApp;
use super::run::{CHUNK_RECORDS, run_records};
use super::step::Step;

/// How golden cases are run.
#[derive(Debug, Clone, Default)]
pub struct GoldenOptions {
    /// Rewrite the expected files from the actual output where they differ.
    pub bless: bool,
    /// Assets for cases without an `assets/` of their own.
    pub assets: Option<PathBuf>,
}

/// A golden case that cannot be run (not a wrong output: that is a problem
/// in its [`CaseReport`]).
fn case_error(reason: String) -> PipelineError {
    PipelineError::Golden { reason }
}

/// What golden cases run against: a transform loaded afresh for each case,
/// with that case's config and assets.
pub trait CaseTransform {
    /// The transform with `config` (JSON text) and, at `/assets`, `assets`.
    fn load(&self, config: &str, assets: Option<&Path>) -> Result<Box<dyn Step>, PipelineError>;
}

/// A built component, run by the production engine with production limits.
pub struct Component<'a> {
    /// The engine that loads it.
    pub engine: &'a Engine,
    /// The transform's name.
    pub name: &'a str,
    /// The `.wasm` file.
    pub module: &'a Path,
}

impl CaseTransform for Component<'_> {
    fn load(&self, config: &str, assets: Option<&Path>) -> Result<Box<dyn Step>, PipelineError> {
        let mut spec = ModuleSpec::new(self.name, self.module).with_config_json(config);
        if let Some(assets) = assets {
            spec = spec.with_assets(assets.to_owned());
        }
        Ok(Box::new(self.engine.load(spec)?))
    }
}

impl CaseTransform for Arc<PythonApp> {
    fn load(&self, config: &str, assets: Option<&Path>) -> Result<Box<dyn Step>, PipelineError> {
        Ok(Box::new(self.step(config, assets)))
    }
}

/// Runs every case under `cases` (one sub-folder each, in name order)
/// against `transform`. Fails only when the cases cannot be listed; each
/// case's problems go into its report.
pub fn run_cases(
    transform: &dyn CaseTransform,
    cases: &Path,
    options: &GoldenOptions,
) -> Result<Vec<CaseReport>, PipelineError> {
    let runner = Runner { transform, options };
    Ok(list_cases(cases)?
        .iter()
        .map(|case| runner.run_case(case))
        .collect())
}

struct Runner<'a> {
    transform: &'a dyn CaseTransform,
    options: &'a GoldenOptions,
}

/// One line of `expected-quarantine.ndjson`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedRejection {
    /// 1-based line of the input.
    line: u64,
    /// A substring of the reason.
    reason: String,
}

/// What a module made of one case's input.
struct Actual {
    /// The output, NDJSON.
    output: String,
    /// (1-based input line, reason) of each rejected record; line 0 for a
    /// bad record `finish` produced.
    rejected: Vec<(u64, String)>,
    records: u64,
}

/// The verdict on one case.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// The case's folder name.
    pub name: String,
    /// What differs, one message each; none when the case passed.
    pub problems: Vec<String>,
    /// The expected files rewritten by blessing.
    pub blessed: Vec<&'static str>,
}

impl Runner<'_> {
    fn run_case(&self, case: &Path) -> CaseReport {
        let mut report = CaseReport {
            name: case
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            problems: Vec::new(),
            blessed: Vec::new(),
        };
        if let Err(e) = self.check_case(case, &mut report) {
            report.problems.push(weir_stage::error_chain(&e));
        }
        report
    }

    fn check_case(&self, case: &Path, report: &mut CaseReport) -> Result<(), PipelineError> {
        let config = read_optional(&case.join("config.json"))?;
        let config = config.as_deref().map_or("{}", str::trim);
        let assets = case.join("assets");
        let assets = if assets.is_dir() {
            Some(assets.as_path())
        } else {
            self.options.assets.as_deref()
        };
        let step = self.transform.load(config, assets)?;
        let input = read_input(case)?;
        let actual = run_module(step.as_ref(), &input)?;

        let expected_path = case.join("expected.ndjson");
        let expected = read_optional(&expected_path)?;
        if expected.as_deref() != Some(actual.output.as_str()) {
            if self.options.bless {
                write(&expected_path, &actual.output)?;
                report.blessed.push("expected.ndjson");
            } else {
                match &expected {
                    Some(expected) => report.problems.push(format!(
                        "output differs from expected.ndjson:\n{}",
                        line_diff(expected, &actual.output)
                    )),
                    None => report
                        .problems
                        .push("expected.ndjson is missing (--bless writes it)".to_owned()),
                }
            }
        }

        let quarantine_path = case.join("expected-quarantine.ndjson");
        let wanted = read_optional(&quarantine_path)?
            .map(|text| parse_expected_rejections(&text))
            .transpose()?
            .unwrap_or_default();
        let mismatches = compare_rejections(&wanted, &actual.rejected);
        if !mismatches.is_empty() {
            if self.options.bless {
                if actual.rejected.is_empty() {
                    std::fs::remove_file(&quarantine_path).map_err(|e| {
                        case_error(format!("cannot remove {}: {e}", quarantine_path.display()))
                    })?;
                } else {
                    write(&quarantine_path, &render_rejections(&actual.rejected))?;
                }
                report.blessed.push("expected-quarantine.ndjson");
            } else {
                report.problems.extend(mismatches);
            }
        }
        tracing::info!(case = %report.name, records = actual.records, "ran case");
        Ok(())
    }
}

fn list_cases(dir: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    let mut cases = std::fs::read_dir(dir)
        .map_err(|e| case_error(format!("cannot list the cases in {}: {e}", dir.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect::<Vec<_>>();
    cases.sort();
    if cases.is_empty() {
        return Err(case_error(format!(
            "no cases in {}: each case is a folder with input.ndjson and expected.ndjson",
            dir.display()
        )));
    }
    Ok(cases)
}

fn read_optional(path: &Path) -> Result<Option<String>, PipelineError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(case_error(format!("cannot read {}: {e}", path.display()))),
    }
}

fn write(path: &Path, text: &str) -> Result<(), PipelineError> {
    std::fs::write(path, text)
        .map_err(|e| case_error(format!("cannot write {}: {e}", path.display())))
}

/// `input.ndjson`, or `input.ndjson.gz` decompressed.
fn read_input(case: &Path) -> Result<String, PipelineError> {
    if let Some(text) = read_optional(&case.join("input.ndjson"))? {
        return Ok(text);
    }
    let gz = case.join("input.ndjson.gz");
    let file = std::fs::File::open(&gz).map_err(|e| {
        case_error(format!(
            "{} has neither input.ndjson nor input.ndjson.gz: {e}",
            case.display()
        ))
    })?;
    let mut text = String::new();
    gzip::decoder(file)
        .read_to_string(&mut text)
        .map_err(|e| case_error(format!("cannot decompress {}: {e}", gz.display())))?;
    Ok(text)
}

/// Runs `input` through `module` with the pipeline's own record path
/// (`run_records`, as `weir run` after staging): blank lines skipped, every
/// line a record, chunks of production size, every output line checked,
/// then `finish`.
fn run_module(step: &dyn Step, input: &str) -> Result<Actual, PipelineError> {
    let mut records = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let number = index as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        check_record(line.as_bytes()).map_err(|p| {
            case_error(format!(
                "input line {number} is not a record `weir stage` would accept: {p}"
            ))
        })?;
        records.push((0u32, number, line));
    }
    let steps: [&dyn Step; 1] = [step];
    let count = records.len() as u64;
    let run = run_records(
        &steps,
        &["input.ndjson".to_owned()],
        records.into_iter(),
        String::new(),
        DEFAULT_MAX_BATCH_BYTES,
        CHUNK_RECORDS,
        true,
    )?;
    Ok(Actual {
        output: run.output,
        rejected: run
            .rejected
            .into_iter()
            .map(|e| (e.line, e.reason))
            .collect(),
        records: count,
    })
}

fn parse_expected_rejections(text: &str) -> Result<Vec<ExpectedRejection>, PipelineError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                case_error(format!(
                    "expected-quarantine.ndjson line {}: want {{\"line\": N, \"reason\": \"...\"}}: {e}",
                    i + 1
                ))
            })
        })
        .collect()
}

fn compare_rejections(wanted: &[ExpectedRejection], actual: &[(u64, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    for want in wanted {
        match actual.iter().find(|(line, _)| *line == want.line) {
            Some((_, reason))
                if without_source_lines(reason).contains(&without_source_lines(&want.reason)) => {}
            Some((_, reason)) => problems.push(format!(
                "quarantine: line {} was rejected with {reason:?}, which does not contain {:?}",
                want.line, want.reason
            )),
            None => problems.push(format!(
                "quarantine: line {} was not rejected (expected a reason containing {:?})",
                want.line, want.reason
            )),
        }
    }
    for (line, reason) in actual {
        if !wanted.iter().any(|w| w.line == *line) {
            problems.push(format!(
                "quarantine: line {line} was rejected unexpectedly: {reason}"
            ));
        }
    }
    problems
}

/// Blessed reasons leave out where in the source a record failed, so
/// adding a line to the transform does not break its cases.
fn render_rejections(rejected: &[(u64, String)]) -> String {
    rejected
        .iter()
        .map(|(line, reason)| {
            format!(
                "{{\"line\": {line}, \"reason\": {}}}\n",
                serde_json::Value::String(without_source_lines(reason))
            )
        })
        .collect()
}

/// `reason` without the source locations a guest SDK appends, ` (at
/// app.py:34)` (the Python SDK's): reasons are compared without them, since
/// they move whenever a line is added above.
fn without_source_lines(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    while let Some(at) = rest.find(" (at ") {
        let tail = &rest[at + " (at ".len()..];
        let location = tail.find(')').and_then(|end| {
            let (file, line) = tail[..end].rsplit_once(':')?;
            let plausible = !file.is_empty()
                && !file.contains([' ', '(', ')'])
                && !line.is_empty()
                && line.bytes().all(|b| b.is_ascii_digit());
            plausible.then_some(end + 1)
        });
        match location {
            Some(len) => {
                out.push_str(&rest[..at]);
                rest = &tail[len..];
            }
            None => {
                out.push_str(&rest[..at + " (at ".len()]);
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A line diff of `expected` against `got` (longest common subsequence),
/// with 1-based line numbers on both sides and a hint under each changed
/// pair that is the same JSON value spelled differently.
fn line_diff(expected: &str, got: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = got.lines().collect();
    let mut out = String::new();
    let _ = writeln!(out, "  - expected.ndjson  + got");
    if expected.ends_with('\n') != got.ends_with('\n') && a == b {
        let _ = writeln!(
            out,
            "  (only the final newline differs: every record line ends in \\n)"
        );
        return out;
    }
    // Golden files are small; past this, compare line by line.
    let ops = if a.len().saturating_mul(b.len()) <= 4_000_000 {
        lcs_ops(&a, &b)
    } else {
        positional_ops(a.len(), b.len())
    };
    let width = a.len().max(b.len()).to_string().len();
    let mut i = 0;
    while i < ops.len() {
        if let Op::Same = ops[i] {
            i += 1;
            continue;
        }
        let mut removed = Vec::new();
        let mut added = Vec::new();
        while let Some(op) = ops.get(i) {
            match *op {
                Op::Removed(x) => removed.push(x),
                Op::Added(y) => added.push(y),
                Op::Same => break,
            }
            i += 1;
        }
        for &x in &removed {
            let _ = writeln!(out, "  - {:>width$} | {}", x + 1, a[x]);
        }
        for &y in &added {
            let _ = writeln!(out, "  + {:>width$} | {}", y + 1, b[y]);
        }
        for (&x, &y) in removed.iter().zip(&added) {
            if same_json(a[x], b[y]) {
                let _ = writeln!(
                    out,
                    "    hint: expected line {} and got line {} are the same JSON value; only key \
                     order or spelling (whitespace, escapes, number format) differs, and weir \
                     compares bytes",
                    x + 1,
                    y + 1
                );
            }
        }
    }
    out
}

enum Op {
    Same,
    Removed(usize),
    Added(usize),
}

fn lcs_ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    let (n, m) = (a.len(), b.len());
    // lengths[i][j]: LCS of a[i..] and b[j..].
    let mut lengths = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lengths[i][j] = if a[i] == b[j] {
                lengths[i + 1][j + 1] + 1
            } else {
                lengths[i + 1][j].max(lengths[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push(Op::Same);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lengths[i][j + 1] >= lengths[i + 1][j]) {
            ops.push(Op::Added(j));
            j += 1;
        } else {
            ops.push(Op::Removed(i));
            i += 1;
        }
    }
    ops
}

fn positional_ops(n: usize, m: usize) -> Vec<Op> {
    let mut ops = Vec::new();
    for k in 0..n.max(m) {
        if k < n {
            ops.push(Op::Removed(k));
        }
        if k < m {
            ops.push(Op::Added(k));
        }
    }
    ops
}

/// Whether two lines hold the same JSON value, ignoring key order and
/// number spelling (`1.50` = `1.5`).
fn same_json(a: &str, b: &str) -> bool {
    fn equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value::*;
        match (a, b) {
            (Object(x), Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
            }
            (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| equal(v, w)),
            (Number(x), Number(y)) => x == y || x.as_f64().is_some_and(|f| Some(f) == y.as_f64()),
            _ => a == b,
        }
    }
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => equal(&x, &y),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_compared_without_source_lines() {
        assert_eq!(
            without_source_lines("KeyError: 'record has no `id`' (at app.py:34)"),
            "KeyError: 'record has no `id`'"
        );
        assert_eq!(
            without_source_lines("invalid config: ValueError: bad (at app.py:7) then (at x)"),
            "invalid config: ValueError: bad then (at x)"
        );
        assert_eq!(
            without_source_lines("text (at noon: 12)"),
            "text (at noon: 12)"
        );
        let wanted = [ExpectedRejection {
            line: 2,
            reason: "no `id`' (at app.py:34)".to_owned(),
        }];
        // The same failure after a comment line moved it to line 35.
        let actual = [(
            2,
            "KeyError: 'record has no `id`' (at app.py:35)".to_owned(),
        )];
        assert_eq!(compare_rejections(&wanted, &actual), Vec::<String>::new());
        let wrong = [(2, "KeyError: 'other' (at app.py:35)".to_owned())];
        assert_eq!(compare_rejections(&wanted, &wrong).len(), 1);
        assert_eq!(
            render_rejections(&actual),
            "{\"line\": 2, \"reason\": \"KeyError: 'record has no `id`'\"}\n"
        );
    }

    #[test]
    fn diff_numbers_lines_and_hints_at_key_order() {
        let diff = line_diff(
            "{\"id\":1}\n{\"a\":1,\"b\":2}\n{\"id\":3}\n",
            "{\"id\":1}\n{\"b\":2,\"a\":1}\n{\"id\":3}\n",
        );
        assert!(diff.contains("- 2 | {\"a\":1,\"b\":2}"), "{diff}");
        assert!(diff.contains("+ 2 | {\"b\":2,\"a\":1}"), "{diff}");
        assert!(
            diff.contains("hint: expected line 2 and got line 2"),
            "{diff}"
        );
        assert!(!diff.contains("| {\"id\":1}"), "{diff}");
    }

    #[test]
    fn diff_of_a_missing_line_shows_only_that_line() {
        let diff = line_diff(
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n",
            "{\"a\":1}\n{\"a\":3}\n",
        );
        assert_eq!(diff.lines().filter(|l| l.starts_with("  -")).count(), 2);
        assert!(diff.contains("- 2 | {\"a\":2}"), "{diff}");
        assert!(!diff.contains("hint"), "{diff}");
    }

    #[test]
    fn number_spelling_is_the_same_json_but_values_are_not() {
        assert!(same_json("{\"x\":1.50}", "{\"x\":1.5}"));
        assert!(!same_json("{\"x\":1.51}", "{\"x\":1.5}"));
        assert!(!same_json("{\"x\":1}", "{\"y\":1}"));
    }

    #[test]
    fn rejections_match_by_line_and_reason_substring() {
        let wanted = parse_expected_rejections(
            "{\"line\": 2, \"reason\": \"not a string\"}\n{\"line\": 4, \"reason\": \"x\"}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let actual = vec![
            (2, "field `text` is a number, not a string".to_owned()),
            (3, "boom".to_owned()),
        ];
        let problems = compare_rejections(&wanted, &actual);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("line 4 was not rejected"));
        assert!(problems[1].contains("line 3 was rejected unexpectedly: boom"));
        let blessed = render_rejections(&actual);
        let reparsed = parse_expected_rejections(&blessed).unwrap_or_else(|e| panic!("{e}"));
        assert!(compare_rejections(&reparsed, &actual).is_empty());
    }
}
