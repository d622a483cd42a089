//! Python transforms run natively, under the host's CPython, as a [`Step`]:
//! the fast loop of `weir test` on a Python project, with no build.
//!
//! Each instance is a `python` process running the embedded driver
//! (`python_driver.py`), which imports the project's app module and calls
//! its `WitWorld`'s `init`, `process` and `finish` with the texts the engine
//! would pass the component, one JSON line each way over a pipe. The chunk
//! loop is the SDK's own, so records, outcomes and reasons are the
//! component's; the chain and the golden comparison are the pipeline's, as
//! for a component. What differs from the sandbox is stated in
//! docs/authoring.md ("Python: natively and in the component"): the
//! interpreter's version, limits, and the values (not the determinism) of
//! random draws. A process that dies mid-chunk is treated as a trap is: the
//! chunk is re-run record by record on fresh processes.
//!
//! A transform that declares fields is run in field mode by the same
//! `fields` layer as a component, so projections and patches are the
//! host's own, not an imitation. Knows nothing of the engine or of wasm;
//! imports the step seam, `fields` and the pipeline's error.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde_json::json;
use weir_engine::{FieldSpec, Outcome, Processed};
use weir_stage::manifest::{Counts, TransformInfo};

use super::error::PipelineError;
use super::step::{Step, StepInstance};

/// The CPython that componentize-py 0.25.1 (the version `weir build` asks
/// for) embeds in every component.
pub const COMPONENT_PYTHON: &str = "3.14";

const DRIVER: &str = include_str!("python_driver.py");

/// What went wrong running a Python transform natively.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PythonError {
    /// The interpreter could not be started.
    #[error(
        "cannot run {python}: {source} (set WEIR_PYTHON or --python to a Python 3.10 or newer)"
    )]
    Spawn {
        /// The interpreter asked for.
        python: String,
        /// Why it did not start.
        source: std::io::Error,
    },
    /// The app module failed to import: Python's own message.
    #[error("cannot import {app}:\n{message}")]
    Import {
        /// The app's file.
        app: String,
        /// What Python said (file, line and caret for a syntax error).
        message: String,
    },
    /// `init` refused the config.
    #[error("transform {transform} failed to initialise: {message}")]
    Init {
        /// The transform's name.
        transform: String,
        /// The SDK's message.
        message: String,
    },
    /// `finish` failed.
    #[error("transform {transform} failed to finish: {message}")]
    Finish {
        /// The transform's name.
        transform: String,
        /// The SDK's message.
        message: String,
    },
    /// The driver's process died or answered out of turn.
    #[error("transform {transform}: {message}")]
    Process {
        /// The transform's name.
        transform: String,
        /// What happened.
        message: String,
    },
}

/// A Python project to run natively: its folder, app module and interpreter.
#[derive(Debug)]
pub struct PythonApp {
    name: String,
    dir: PathBuf,
    module: String,
    python: PathBuf,
    /// The interpreter's version, from the first process's greeting.
    version: OnceLock<String>,
}

impl PythonApp {
    /// The app `module` (`app` for `app.py`) in `dir`, named `name`, run by
    /// `python`.
    pub fn new(name: &str, dir: &Path, module: &str, python: &Path) -> PythonApp {
        PythonApp {
            name: name.to_owned(),
            dir: dir.to_owned(),
            module: module.to_owned(),
            python: python.to_owned(),
            version: OnceLock::new(),
        }
    }

    /// The version of the host's Python (`3.11.7`), once a process started.
    pub fn version(&self) -> Option<&str> {
        self.version.get().map(String::as_str)
    }

    /// A step of this app with `config` (JSON text) and, granted at
    /// `/assets`, `assets`.
    pub fn step(self: &Arc<Self>, config: &str, assets: Option<&Path>) -> PythonStep {
        PythonStep {
            app: Arc::clone(self),
            config: config.to_owned(),
            assets: assets.map(Path::to_owned),
        }
    }
}

/// A Python app with its config: a [`Step`] whose instances are processes.
#[derive(Debug, Clone)]
pub struct PythonStep {
    app: Arc<PythonApp>,
    config: String,
    assets: Option<PathBuf>,
}

impl Step for PythonStep {
    fn name(&self) -> &str {
        &self.app.name
    }
    fn sha256(&self) -> &str {
        "native-python"
    }
    fn describe(&self) -> TransformInfo {
        TransformInfo {
            name: self.app.name.clone(),
            module_sha256: "native-python".to_owned(),
            module_bytes: 0,
            config_sha256: String::new(),
            limits: serde_json::Value::Null,
            grants: Vec::new(),
            counts: Counts::default(),
        }
    }
    fn start(&self) -> Result<Box<dyn StepInstance>, PipelineError> {
        let process = PythonProcess::start(self)?;
        let spec = process.fields.clone();
        let instance = PythonInstance {
            process: Some(process),
            step: self.clone(),
        };
        super::fields::with_fields(&self.app.name, Box::new(instance), spec)
    }
}

impl PythonStep {
    fn process_error(&self, message: String) -> PipelineError {
        PythonError::Process {
            transform: self.app.name.clone(),
            message,
        }
        .into()
    }
}

/// One running instance: a process, replaced after it dies.
struct PythonInstance {
    process: Option<PythonProcess>,
    step: PythonStep,
}

/// What the driver answers.
#[derive(Debug, Deserialize)]
struct Reply {
    #[serde(default)]
    ready: bool,
    python: Option<String>,
    import_error: Option<String>,
    error: Option<String>,
    output: Option<String>,
    outcomes: Option<Vec<ReplyOutcome>>,
    /// The answer to `fields`: `null` for whole records.
    #[serde(default)]
    fields: Option<ReplyFields>,
}

#[derive(Debug, Deserialize)]
struct ReplyFields {
    reads: Vec<String>,
    writes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ReplyOutcome {
    Emitted(u32),
    Failed { failed: String },
}

/// The driver's process and its two pipes.
struct PythonProcess {
    child: Child,
    requests: BufWriter<ChildStdin>,
    replies: BufReader<ChildStdout>,
    /// What the app's `fields` answered after `init`.
    fields: Option<FieldSpec>,
}

impl PythonProcess {
    /// Starts the driver, waits for the app to import and calls `init`.
    fn start(step: &PythonStep) -> Result<PythonProcess, PipelineError> {
        let app = &step.app;
        let assets = step
            .assets
            .as_deref()
            .map(std::path::absolute)
            .transpose()
            .map_err(|e| step.process_error(format!("cannot resolve the assets folder: {e}")))?;
        let mut child = Command::new(&app.python)
            .arg("-B")
            .arg("-c")
            .arg(DRIVER)
            .arg(&app.dir)
            .arg(&app.module)
            .arg(assets.unwrap_or_default())
            .current_dir(&app.dir)
            // The sandbox's local time is UTC and its string hashes are fixed.
            .env("TZ", "UTC")
            .env("PYTHONHASHSEED", "0")
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| PythonError::Spawn {
                python: app.python.display().to_string(),
                source,
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(step.process_error("the driver's pipes are missing".to_owned()));
        };
        let mut process = PythonProcess {
            child,
            requests: BufWriter::new(stdin),
            replies: BufReader::new(stdout),
            fields: None,
        };
        let hello = process.read(step)?;
        if let Some(message) = hello.import_error {
            return Err(PythonError::Import {
                app: format!("{}.py", app.module),
                message,
            }
            .into());
        }
        if !hello.ready {
            return Err(step.process_error("the driver did not start".to_owned()));
        }
        if let Some(version) = hello.python {
            let _ = app.version.set(version);
        }
        let reply = process.call(step, &json!({"op": "init", "config": step.config}))?;
        if let Some(message) = reply.error {
            return Err(PythonError::Init {
                transform: app.name.clone(),
                message,
            }
            .into());
        }
        let reply = process.call(step, &json!({"op": "fields"}))?;
        if let Some(message) = reply.error {
            return Err(PythonError::Init {
                transform: app.name.clone(),
                message: format!("fields: {message}"),
            }
            .into());
        }
        process.fields = reply.fields.map(|f| FieldSpec {
            reads: f.reads,
            writes: f.writes,
        });
        Ok(process)
    }

    fn call(
        &mut self,
        step: &PythonStep,
        request: &serde_json::Value,
    ) -> Result<Reply, PipelineError> {
        let sent = serde_json::to_writer(&mut self.requests, request)
            .map_err(std::io::Error::from)
            .and_then(|()| self.requests.write_all(b"\n"))
            .and_then(|()| self.requests.flush());
        if let Err(e) = sent {
            return Err(step.process_error(self.died(&format!("cannot send a request: {e}"))));
        }
        self.read(step)
    }

    fn read(&mut self, step: &PythonStep) -> Result<Reply, PipelineError> {
        let mut line = String::new();
        match self.replies.read_line(&mut line) {
            Ok(0) => Err(step.process_error(self.died("Python exited"))),
            Ok(_) => serde_json::from_str(&line).map_err(|e| {
                step.process_error(format!("the driver answered something not JSON: {e}"))
            }),
            Err(e) => Err(step.process_error(self.died(&format!("cannot read its answer: {e}")))),
        }
    }

    /// `what`, with the process's exit status once it has one.
    fn died(&mut self, what: &str) -> String {
        match self.child.wait() {
            Ok(status) => format!("{what} ({status}; its stderr is above)"),
            Err(_) => what.to_owned(),
        }
    }

    fn process(&mut self, step: &PythonStep, input: &str) -> Result<Processed, String> {
        let reply = self
            .call(step, &json!({"op": "process", "input": input}))
            .map_err(|e| weir_stage::error_chain(&e))?;
        if let Some(error) = reply.error {
            return Err(error);
        }
        let output = reply.output.unwrap_or_default();
        let outcomes: Vec<Outcome> = reply
            .outcomes
            .unwrap_or_default()
            .into_iter()
            .map(|o| match o {
                ReplyOutcome::Emitted(n) => Outcome::Emitted(n),
                ReplyOutcome::Failed { failed } => Outcome::Failed(failed),
            })
            .collect();
        Ok(Processed { output, outcomes })
    }
}

impl Drop for PythonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `processed` answers `records` records: one outcome each, and as
/// many output lines as they say they emitted (the engine's check).
fn check_counts(processed: &Processed, records: usize) -> Result<(), String> {
    if processed.outcomes.len() != records {
        return Err(format!(
            "process returned {} outcomes for {records} records",
            processed.outcomes.len()
        ));
    }
    let emitted: u64 = processed
        .outcomes
        .iter()
        .map(|o| match o {
            Outcome::Emitted(n) => u64::from(*n),
            Outcome::Failed(_) => 0,
        })
        .sum();
    let lines = processed.output.split_inclusive('\n').count() as u64;
    if emitted != lines || !(processed.output.is_empty() || processed.output.ends_with('\n')) {
        return Err(format!(
            "process returned {lines} output lines, but its outcomes emit {emitted}"
        ));
    }
    Ok(())
}

impl PythonInstance {
    fn live(&mut self) -> Result<&mut PythonProcess, PipelineError> {
        let process = match self.process.take() {
            Some(process) => process,
            None => PythonProcess::start(&self.step)?,
        };
        Ok(self.process.insert(process))
    }

    fn one_call(
        &mut self,
        input: &str,
        records: usize,
    ) -> Result<Result<Processed, String>, PipelineError> {
        let step = self.step.clone();
        let process = self.live()?;
        Ok(process
            .process(&step, input)
            .and_then(|p| check_counts(&p, records).map(|()| p)))
    }
}

impl StepInstance for PythonInstance {
    fn process(&mut self, input: &str, records: usize) -> Result<Processed, PipelineError> {
        if records == 0 {
            return Ok(Processed::default());
        }
        let failure = match self.one_call(input, records)? {
            Ok(processed) => return Ok(processed),
            Err(failure) => failure,
        };
        // As the engine does after a trap: a fresh instance, then each
        // record alone, so only the one that kills Python fails.
        tracing::warn!(
            transform = %self.step.app.name,
            records,
            reason = %failure,
            "chunk failed; re-running it record by record on a fresh process"
        );
        self.process = None;
        if records == 1 {
            return Ok(Processed {
                output: String::new(),
                outcomes: vec![Outcome::Failed(failure)],
            });
        }
        let mut processed = Processed {
            output: String::new(),
            outcomes: Vec::with_capacity(records),
        };
        for line in input.split_inclusive('\n') {
            match self.one_call(line, 1)? {
                Ok(one) => {
                    processed.output.push_str(&one.output);
                    processed.outcomes.extend(one.outcomes);
                }
                Err(reason) => {
                    processed.outcomes.push(Outcome::Failed(reason));
                    self.process = None;
                }
            }
        }
        Ok(processed)
    }

    fn finish(&mut self) -> Result<String, PipelineError> {
        let step = self.step.clone();
        let reply = self.live()?.call(&step, &json!({"op": "finish"}))?;
        match reply.error {
            Some(message) => Err(PythonError::Finish {
                transform: step.app.name.clone(),
                message,
            }
            .into()),
            None => Ok(reply.output.unwrap_or_default()),
        }
    }
}
