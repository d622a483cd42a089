//! `weir test`: run a module against its golden cases and print the
//! verdicts (the runner is `weir::pipeline::golden`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use weir::pipeline::file::module_name;
use weir::pipeline::golden::{self, CaseReport, GoldenOptions};
use weir_engine::{Engine, EngineConfig, ModuleSpec};

use super::{Globals, print_json};

const EXAMPLES: &str = "\
Examples:
  weir test target/wasm32-wasip2/release/my_transform.wasm --cases cases
  weir test my_transform.wasm --cases cases --bless    # accept the current output

Each case is a folder: input.ndjson (or .ndjson.gz), optional config.json and
assets/, expected.ndjson, optional expected-quarantine.ndjson with one
{\"line\": N, \"reason\": \"<substring>\"} per rejected input line. The last line
printed is always `N passed, N failed`; the exit code is 1 if any case failed.";

/// Run a transform module against golden cases, under production limits.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub(super) struct TestCmd {
    /// The component to test (`.wasm`).
    module: PathBuf,
    /// The folder holding one sub-folder per case.
    #[arg(long, default_value = "cases", value_name = "DIR")]
    cases: PathBuf,
    /// Rewrite expected.ndjson and expected-quarantine.ndjson from the actual
    /// output where they differ.
    #[arg(long)]
    bless: bool,
    /// Assets directory for cases without an `assets/` of their own (e.g.
    /// a transform's shipped dictionary or model).
    #[arg(long, value_name = "DIR")]
    assets: Option<PathBuf>,
}

impl TestCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let engine = Engine::new(EngineConfig::default())?;
        let name = module_name(&self.module);
        // A module that is not a transform fails the command, not each case.
        engine.load(ModuleSpec::new(&name, &self.module))?;
        let options = GoldenOptions {
            bless: self.bless,
            assets: self.assets.clone(),
        };
        let reports = golden::run_cases(&engine, &name, &self.module, &self.cases, &options)?;
        if !g.json {
            reports.iter().for_each(print_case);
        }
        let failed = reports.iter().filter(|r| !r.problems.is_empty()).count();
        let passed = reports.len() - failed;
        if g.json {
            print_json(&json!({
                "module": self.module.display().to_string(),
                "cases": reports.iter().map(|r| json!({
                    "name": r.name,
                    "passed": r.problems.is_empty(),
                    "problems": r.problems,
                    "blessed": r.blessed,
                })).collect::<Vec<_>>(),
                "passed": passed,
                "failed": failed,
            }))?;
        } else {
            println!("{passed} passed, {failed} failed");
        }
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

fn print_case(report: &CaseReport) {
    let status = if report.problems.is_empty() {
        "ok  "
    } else {
        "FAIL"
    };
    let blessed = if report.blessed.is_empty() {
        String::new()
    } else {
        format!(" (blessed {})", report.blessed.join(", "))
    };
    println!("{status} {}{blessed}", report.name);
    for problem in &report.problems {
        for line in problem.lines() {
            println!("     {line}");
        }
    }
}
