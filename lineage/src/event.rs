//! The spec's `RunEvent` (OpenLineage 2-0-2) and the run and job facets
//! Weir fills in. Field names are the spec's, spelled as it spells them.

use chrono::SecondsFormat;
use serde::Serialize;
use serde_json::{Map, Value, json};
use weir_stage::Interval;

use crate::dataset::StageDataset;
use crate::parent::ParentRun;

/// The schema every event names.
pub const RUN_EVENT_SCHEMA: &str =
    "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const PARENT: &str =
    "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet";
const ERROR_MESSAGE: &str = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet";
const NOMINAL_TIME: &str =
    "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet";
const PROCESSING_ENGINE: &str = "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet";
const JOB_TYPE: &str =
    "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet";

/// The `_schemaURL` of Weir's own run facet (`weir`).
pub fn weir_facet_schema() -> String {
    format!(
        "{}/blob/v{}/docs/openlineage/WeirRunFacet.json#/$defs/WeirRunFacet",
        env!("CARGO_PKG_REPOSITORY"),
        env!("CARGO_PKG_VERSION")
    )
}

/// A run's transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// The command began.
    Start,
    /// It committed.
    Complete,
    /// It ended with nothing committed.
    Fail,
}

impl EventType {
    /// The spec's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "START",
            Self::Complete => "COMPLETE",
            Self::Fail => "FAIL",
        }
    }
}

/// One OpenLineage run event.
#[derive(Debug, Clone, Serialize)]
pub struct RunEvent {
    /// START, COMPLETE or FAIL.
    #[serde(rename = "eventType")]
    pub event_type: EventType,
    /// When (RFC 3339, UTC, milliseconds).
    #[serde(rename = "eventTime")]
    pub event_time: String,
    /// This Weir.
    pub producer: String,
    /// [`RUN_EVENT_SCHEMA`].
    #[serde(rename = "schemaURL")]
    pub schema_url: String,
    /// The run: its id and facets.
    pub run: Value,
    /// The job: namespace, name, facets.
    pub job: Value,
    /// Input datasets.
    pub inputs: Vec<Value>,
    /// Output datasets.
    pub outputs: Vec<Value>,
}

/// What the run facets of an event are made of.
#[derive(Debug, Clone)]
pub struct RunFacts<'a> {
    /// The run id.
    pub run_id: uuid::Uuid,
    /// The parent run.
    pub parent: Option<&'a ParentRun>,
    /// The interval and its end.
    pub interval: Interval,
    /// The interval's end.
    pub interval_end: Option<Interval>,
    /// Weir's own facet's fields (command, counts, modules, ...).
    pub weir: Map<String, Value>,
    /// The error, on FAIL.
    pub error: Option<&'a str>,
}

impl RunEvent {
    /// An event of `job` (namespace, name) for `run`, now.
    pub fn new(
        event_type: EventType,
        job: (&str, &str),
        run: &RunFacts<'_>,
        inputs: &[StageDataset],
        outputs: &[StageDataset],
    ) -> Self {
        Self {
            event_type,
            event_time: chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            producer: crate::producer(),
            schema_url: RUN_EVENT_SCHEMA.to_owned(),
            run: json!({ "runId": run.run_id.to_string(), "facets": run_facets(run) }),
            job: json!({
                "namespace": job.0,
                "name": job.1,
                "facets": { "jobType": facet(JOB_TYPE, json!({
                    "processingType": "BATCH", "integration": "WEIR", "jobType": "TASK"
                })) },
            }),
            inputs: inputs.iter().map(StageDataset::to_input).collect(),
            outputs: outputs.iter().map(StageDataset::to_output).collect(),
        }
    }

    /// The event as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| unreachable!("an event always serialises: {e}"))
    }
}

fn run_facets(run: &RunFacts<'_>) -> Value {
    let mut f = Map::new();
    if let Some(p) = run.parent {
        f.insert(
            "parent".into(),
            facet(
                PARENT,
                json!({
                    "run": { "runId": p.run_id.to_string() },
                    "job": { "namespace": p.namespace, "name": p.job },
                }),
            ),
        );
    }
    let mut nominal = json!({ "nominalStartTime": time(&run.interval) });
    if let Some(end) = &run.interval_end {
        nominal["nominalEndTime"] = json!(time(end));
    }
    f.insert("nominalTime".into(), facet(NOMINAL_TIME, nominal));
    f.insert(
        "processing_engine".into(),
        facet(
            PROCESSING_ENGINE,
            json!({ "name": "weir", "version": env!("CARGO_PKG_VERSION") }),
        ),
    );
    let mut weir = run.weir.clone();
    weir.insert("interval".into(), json!(time(&run.interval)));
    if let Some(end) = &run.interval_end {
        weir.insert("intervalEnd".into(), json!(time(end)));
    }
    f.insert(
        "weir".into(),
        facet(&weir_facet_schema(), Value::Object(weir)),
    );
    if let Some(message) = run.error {
        f.insert(
            "errorMessage".into(),
            facet(
                ERROR_MESSAGE,
                json!({ "message": message, "programmingLanguage": "rust" }),
            ),
        );
    }
    Value::Object(f)
}

/// A facet: `body` with the spec's `_producer` and `_schemaURL`.
pub fn facet(schema: &str, mut body: Value) -> Value {
    if let Value::Object(m) = &mut body {
        m.insert("_producer".into(), json!(crate::producer()));
        m.insert("_schemaURL".into(), json!(schema));
    }
    body
}

/// An interval's start as the events write times: RFC 3339, UTC, `Z`.
pub fn time(i: &Interval) -> String {
    i.start().to_rfc3339_opts(SecondsFormat::Secs, true)
}
