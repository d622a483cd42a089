//! `weir test`: run a transform against its golden cases and print the
//! verdicts (the runner is `weir::pipeline::golden`).
//!
//! The target is a built component (`.wasm`), or a project folder: a Python
//! project's cases run natively under the host's CPython (no build), and
//! `--component` builds the project and runs its component in the sandbox;
//! a Rust project is always built and run as a component (its native loop
//! is `cargo test`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use clap::Args;
use serde_json::json;
use weir::pipeline::file::module_name;
use weir::pipeline::golden::{self, CaseReport, Component, GoldenOptions};
use weir::pipeline::python::{COMPONENT_PYTHON, PythonApp};
use weir_engine::{Engine, EngineConfig, ModuleSpec};

use super::build::{Project, build_project};
use super::{Globals, print_json};

const EXAMPLES: &str = "\
Examples:
  weir test                        # a Python project's cases, natively (no build)
  weir test --component            # build the project, run its component in the sandbox
  weir test target/wasm32-wasip2/release/my_transform.wasm --cases cases
  weir test my_transform.wasm --cases cases --bless    # accept the current output

Each case is a folder: input.ndjson (or .ndjson.gz), optional config.json and
assets/, expected.ndjson, optional expected-quarantine.ndjson with one
{\"line\": N, \"reason\": \"<substring>\"} per rejected input line. The last line
printed is always `N passed, N failed`; the exit code is 1 if any case failed.";

/// Run a transform against golden cases: a component under production
/// limits, or a Python project natively.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub(super) struct TestCmd {
    /// The component to test (`.wasm`), or a project folder.
    #[arg(default_value = ".")]
    target: PathBuf,
    /// The folder holding one sub-folder per case [default: the project's
    /// `cases/`, or `cases`].
    #[arg(long, value_name = "DIR")]
    cases: Option<PathBuf>,
    /// Build the project and test its component in the sandbox, as CI and
    /// releases should (a Python project's cases otherwise run natively).
    #[arg(long)]
    component: bool,
    /// The Python that runs a Python project natively [env: WEIR_PYTHON;
    /// default: python3].
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
    /// Rewrite expected.ndjson and expected-quarantine.ndjson from the actual
    /// output where they differ.
    #[arg(long)]
    bless: bool,
    /// Assets directory for cases without an `assets/` of their own (e.g.
    /// a transform's shipped dictionary or model).
    #[arg(long, value_name = "DIR")]
    assets: Option<PathBuf>,
}

/// What the cases ran against, for the report.
enum Ran {
    Component(PathBuf),
    Native(Arc<PythonApp>),
}

impl TestCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let options = GoldenOptions {
            bless: self.bless,
            assets: self.assets.clone(),
        };
        let (ran, reports) = if self.target.is_dir() {
            let project = Project::open(&self.target)?;
            let cases = self
                .cases
                .clone()
                .unwrap_or_else(|| project.dir.join("cases"));
            if project.is_python() && !self.component {
                let python = self
                    .python
                    .clone()
                    .or_else(|| std::env::var_os("WEIR_PYTHON").map(PathBuf::from))
                    .unwrap_or_else(|| PathBuf::from("python3"));
                let app = Arc::new(PythonApp::new(&project.name, &project.dir, "app", &python));
                let reports = golden::run_cases(&app, &cases, &options)?;
                (Ran::Native(app), reports)
            } else {
                let module = build_project(&project)?;
                let reports = test_component(&module, &cases, &options)?;
                (Ran::Component(module), reports)
            }
        } else {
            if self.component || self.python.is_some() {
                bail!(
                    "{} is a module, not a project folder: --component and --python take a \
                     project folder",
                    self.target.display()
                );
            }
            let cases = self.cases.clone().unwrap_or_else(|| PathBuf::from("cases"));
            let reports = test_component(&self.target, &cases, &options)?;
            (Ran::Component(self.target.clone()), reports)
        };
        let native = match &ran {
            Ran::Native(app) => app.version(),
            Ran::Component(_) => None,
        };
        if let Some(version) = native
            && !g.json
            && !version.starts_with(&format!("{COMPONENT_PYTHON}."))
        {
            eprintln!(
                "note: ran natively under Python {version}; the component embeds CPython \
                 {COMPONENT_PYTHON}, so run `weir test --component` before you ship"
            );
        }
        if !g.json {
            reports.iter().for_each(print_case);
        }
        let failed = reports.iter().filter(|r| !r.problems.is_empty()).count();
        let passed = reports.len() - failed;
        if g.json {
            let mut report = json!({
                "cases": reports.iter().map(|r| json!({
                    "name": r.name,
                    "passed": r.problems.is_empty(),
                    "problems": r.problems,
                    "blessed": r.blessed,
                })).collect::<Vec<_>>(),
                "passed": passed,
                "failed": failed,
            });
            match &ran {
                Ran::Component(module) => {
                    report["module"] = json!(module.display().to_string());
                    report["runner"] = json!("component");
                }
                Ran::Native(_) => {
                    report["runner"] = json!("native-python");
                    report["python"] = json!(native);
                    report["component_python"] = json!(COMPONENT_PYTHON);
                }
            }
            print_json(&report)?;
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

/// The cases against the component at `module`, in the production engine.
fn test_component(
    module: &Path,
    cases: &Path,
    options: &GoldenOptions,
) -> anyhow::Result<Vec<CaseReport>> {
    let engine = Engine::new(EngineConfig::default())?;
    let name = module_name(module);
    // A module that is not a transform fails the command, not each case.
    super::note_slow_compile(&engine.load(ModuleSpec::new(&name, module))?);
    let component = Component {
        engine: &engine,
        name: &name,
        module,
    };
    Ok(golden::run_cases(&component, cases, options)?)
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
