//! One run's events: START when the command begins, then COMPLETE after
//! its commit or FAIL when nothing was committed; never both, and never an
//! error of the command. A transport that fails is one warning on stderr.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use weir_stage::write::Commit;
use weir_stage::{Interval, StageUrl, layout};

use crate::dataset::{CommitDatasets, StageDataset};
use crate::error::LineageError;
use crate::event::{EventType, RunEvent, RunFacts};
use crate::parent::ParentRun;
use crate::settings::LineageSettings;
use crate::transport::Transport;

/// What a command's run is: its job and what it works on.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job's name (`pipeline.clean`, `run:s3://lake/clean`).
    pub name: String,
    /// `stage`, `run`, `commit` or `extract`.
    pub command: &'static str,
    /// The interval.
    pub interval: Interval,
    /// Its end, when given.
    pub interval_end: Option<Interval>,
    /// The parent run (`--openlineage-parent`).
    pub parent: Option<ParentRun>,
}

/// A run's events. Off (sending nothing) unless a transport is configured.
#[derive(Debug)]
pub struct Emitter {
    on: Option<On>,
}

#[derive(Debug)]
struct On {
    transport: Arc<Transport>,
    handle: Handle,
    namespace: String,
    job: Job,
    run_id: uuid::Uuid,
    inputs: Vec<StageDataset>,
    outputs: Vec<StageDataset>,
    start: Option<JoinHandle<()>>,
}

impl Emitter {
    /// An emitter for `job` with `settings` (a setting that cannot be used
    /// is a warning, and nothing is sent); HTTP requests run on `handle`.
    pub fn new(settings: Result<LineageSettings, LineageError>, handle: Handle, job: Job) -> Self {
        let settings = match settings {
            Ok(s) => s,
            Err(e) => {
                warn(&e);
                return Self { on: None };
            }
        };
        let Some(config) = &settings.transport else {
            return Self { on: None };
        };
        let transport = match Transport::open(config) {
            Ok(t) => Arc::new(t),
            Err(e) => {
                warn(&e);
                return Self { on: None };
            }
        };
        Self {
            on: Some(On {
                transport,
                handle,
                namespace: settings.namespace,
                job,
                run_id: uuid::Uuid::now_v7(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                start: None,
            }),
        }
    }

    /// The run id of the events, when they are sent.
    pub fn run_id(&self) -> Option<uuid::Uuid> {
        self.on.as_ref().map(|o| o.run_id)
    }

    /// Sends START, in the background (a slow server never holds the work
    /// back), naming the datasets the command reads and writes.
    pub fn start(&mut self, inputs: Vec<StageDataset>, outputs: Vec<StageDataset>) {
        let Some(on) = &mut self.on else { return };
        on.inputs = inputs;
        on.outputs = outputs;
        let event = on.event(EventType::Start, &on.inputs, &on.outputs, Map::new(), None);
        let transport = on.transport.clone();
        on.start = Some(on.handle.spawn(async move {
            if let Err(e) = transport.send("START", event).await {
                warn(&e);
            }
        }));
    }

    /// Sends COMPLETE for `commit` of `output`, with its `datasets`, the
    /// committed manifest's counts and modules. Returns once it is sent or
    /// failed.
    pub fn complete(self, output: &StageUrl, commit: &Commit, datasets: &CommitDatasets) {
        let Some(mut on) = self.on else { return };
        let m = &commit.manifest;
        let t = &m.totals;
        let mut weir = Map::new();
        weir.insert("manifestRunId".into(), json!(m.run_id));
        weir.insert(
            "manifest".into(),
            json!(format!("{output}/{}", commit.manifest_path)),
        );
        weir.insert("records".into(), json!(t.records));
        weir.insert("inputRecords".into(), json!(t.input_records));
        weir.insert("quarantined".into(), json!(t.quarantined));
        weir.insert("filtered".into(), json!(t.filtered));
        weir.insert(
            "quarantine".into(),
            json!(format!(
                "{output}/{}/{}",
                layout::QUARANTINE,
                m.interval.folder
            )),
        );
        weir.insert(
            "modules".into(),
            Value::Array(
                m.producer
                    .transforms
                    .iter()
                    .map(|tr| {
                        json!({
                            "name": tr.name,
                            "sha256": tr.module_sha256,
                            "configSha256": tr.config_sha256,
                        })
                    })
                    .collect(),
            ),
        );
        let event = on.event(
            EventType::Complete,
            &datasets.inputs,
            &datasets.outputs,
            weir,
            None,
        );
        on.finish("COMPLETE", event);
    }

    /// Sends FAIL with `message` (nothing was committed). Returns once it is
    /// sent or failed.
    pub fn fail(self, message: &str) {
        let Some(mut on) = self.on else { return };
        let event = on.event(
            EventType::Fail,
            &on.inputs,
            &on.outputs,
            Map::new(),
            Some(message),
        );
        on.finish("FAIL", event);
    }
}

impl On {
    fn event(
        &self,
        kind: EventType,
        inputs: &[StageDataset],
        outputs: &[StageDataset],
        mut weir: Map<String, Value>,
        error: Option<&str>,
    ) -> String {
        weir.insert("command".into(), json!(self.job.command));
        let facts = RunFacts {
            run_id: self.run_id,
            parent: self.job.parent.as_ref(),
            interval: self.job.interval,
            interval_end: self.job.interval_end,
            weir,
            error,
        };
        RunEvent::new(
            kind,
            (&self.namespace, &self.job.name),
            &facts,
            inputs,
            outputs,
        )
        .to_json()
    }

    /// Waits for START (so the server sees the events in order), then sends
    /// the last event; each is bounded by the transport's timeout.
    fn finish(&mut self, name: &'static str, event: String) {
        let start = self.start.take();
        let transport = self.transport.clone();
        self.handle.block_on(async move {
            if let Some(s) = start {
                let _ = s.await;
            }
            if let Err(e) = transport.send(name, event).await {
                warn(&e);
            }
        });
    }
}

fn warn(e: &LineageError) {
    tracing::warn!("openlineage: {e}");
}
