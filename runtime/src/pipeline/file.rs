//! Pipeline files: stages and steps in TOML, what Airflow calls.
//!
//! Owns parsing `pipeline.toml` (docs/pipelines.md) strictly (unknown keys
//! are errors), resolving relative paths against the file's folder (so the
//! caller's working directory does not matter), and turning each transform
//! into an engine `ModuleSpec` with its config, assets, limits and pinned
//! sha256.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use weir_engine::{Limits, ModuleSpec};
use weir_stage::batch::codec::Codec;

use super::budget::Budget;
use super::settings::Overrides;

/// A pipeline file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("pipeline {path}: {reason}")]
pub struct PipelineFileError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// A parsed pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Named stages: a path (relative to this file) or URL each.
    pub stages: BTreeMap<String, String>,
    /// Named database sources, for extract steps.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceDecl>,
    /// Named steps.
    pub steps: BTreeMap<String, StepDecl>,
    /// Where OpenLineage events go (docs/lineage.md); the environment's
    /// `OPENLINEAGE_*` variables beat it.
    #[serde(default)]
    pub openlineage: Option<weir_lineage::LineageFile>,
    #[serde(skip)]
    dir: PathBuf,
    #[serde(skip)]
    path: String,
}

impl StepDecl {
    /// Whether this step extracts from a database (names a source or any
    /// extract field).
    pub fn is_extract(&self) -> bool {
        self.source.is_some()
            || self.table.is_some()
            || self.query.is_some()
            || self.columns.is_some()
            || self.cursor.is_some()
            || self.key.is_some()
            || self.lag.is_some()
            || self.page_rows.is_some()
            || self.max_retries.is_some()
            || self.consistent.is_some()
            || self.connections.is_some()
            || self.copy.is_some()
    }
}

/// A PostgreSQL source (docs/extract.md). The password comes from the
/// URL, `PGPASSWORD` or `PGPASSFILE` and is never printed.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDecl {
    /// `postgres://user@host:port/db`.
    pub url: String,
    /// libpq's `sslmode`.
    pub sslmode: Option<String>,
    /// libpq's `sslrootcert`.
    pub sslrootcert: Option<String>,
    /// Bounds each page statement, e.g. `30s`.
    pub statement_timeout: Option<String>,
}

impl std::fmt::Debug for SourceDecl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceDecl")
            .field("url", &"<may hold a password>")
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// One step: either a transform step (an input stage, an output stage and
/// a chain of transforms) or an extract step (a source, a table or query,
/// and an output stage). Fields of the two kinds do not mix.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDecl {
    /// The input stage's name (transform steps).
    pub input: Option<String>,
    /// The source's name (extract steps).
    pub source: Option<String>,
    /// The table to extract, `schema.table`.
    pub table: Option<String>,
    /// Only these columns of the table.
    pub columns: Option<Vec<String>>,
    /// The query to extract, instead of a table.
    pub query: Option<String>,
    /// The column that places a row in an interval.
    pub cursor: Option<String>,
    /// The unique, ordered key the extract pages by.
    pub key: Option<String>,
    /// How far the window is shifted back, e.g. `5m`.
    pub lag: Option<String>,
    /// Rows per page.
    pub page_rows: Option<usize>,
    /// Retries of a page that failed transiently (a recovery conflict, a
    /// dropped connection).
    pub max_retries: Option<u32>,
    /// Consistent mode: one snapshot across pages.
    pub consistent: Option<bool>,
    /// Connections reading key ranges at once, in one process.
    pub connections: Option<u32>,
    /// Pages by `COPY ... TO STDOUT (FORMAT binary)` (default true) or as queries.
    pub copy: Option<bool>,
    /// The output stage's name.
    pub output: String,
    /// The transforms, applied in order in one pass.
    #[serde(default)]
    pub transforms: Vec<TransformDecl>,
    /// Rejected records allowed (`10`, `1%`, `0.01`).
    pub max_rejected: Option<String>,
    /// Worker threads.
    pub workers: Option<usize>,
    /// Batch cap, e.g. `500MB`.
    pub max_batch_bytes: Option<String>,
    /// The codec of the parts written: `gzip` (the default) or `zstd`.
    pub codec: Option<Codec>,
    /// The codec's level: gzip 1-9, zstd 1-22.
    pub compression_level: Option<u32>,
    /// Longest input line processed, e.g. `64MiB`; longer ones are
    /// quarantined.
    pub max_line_bytes: Option<String>,
    /// Leftovers of other attempts younger than this survive cleanup,
    /// e.g. `1h`.
    pub orphan_grace: Option<String>,
    /// The longest a run of the step may take, e.g. `20m`; past it the run
    /// stops and commits nothing.
    pub max_run_time: Option<String>,
}

/// One transform of a step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformDecl {
    /// A name for logs, quarantine and the manifest (default: the module's
    /// file stem).
    pub name: Option<String>,
    /// The component (`.wasm`), relative to the pipeline file.
    pub module: String,
    /// The module's expected sha256; a different module is refused.
    pub sha256: Option<String>,
    /// The configuration, as a TOML table (passed to `init` as JSON).
    pub config: Option<toml::Table>,
    /// The configuration as a JSON file, relative to the pipeline file.
    pub config_file: Option<String>,
    /// A read-only assets directory, relative to the pipeline file.
    pub assets: Option<String>,
    /// Limits; unset fields keep the defaults.
    #[serde(default)]
    pub limits: LimitsDecl,
}

/// Limits as written in a pipeline file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsDecl {
    /// Memory, e.g. `256MiB`.
    pub memory: Option<String>,
    /// CPU (wall) time per call, e.g. `5s`.
    pub cpu_time: Option<String>,
    /// Output per record, e.g. `16MiB`.
    pub max_record_output: Option<String>,
    /// Output per call, e.g. `64MiB`.
    pub max_call_output: Option<String>,
}

/// What an extract step reads, resolved against its file.
#[derive(Debug, Clone)]
pub struct ExtractPlan {
    /// The source's URL (may hold a password: never print it), with its
    /// `sslmode` and `sslrootcert` as URL options.
    pub url: String,
    /// Bounds each page statement.
    pub statement_timeout: Option<Duration>,
    /// The table, for the table form.
    pub table: Option<String>,
    /// Only these columns of the table.
    pub columns: Option<Vec<String>>,
    /// The query, for the query form.
    pub query: Option<String>,
    /// The cursor column; none for a snapshot.
    pub cursor: Option<String>,
    /// The key column.
    pub key: String,
    /// The window's shift.
    pub lag: Option<Duration>,
    /// Rows per page.
    pub page_rows: Option<usize>,
    /// Retries of a page that failed transiently.
    pub max_retries: Option<u32>,
    /// Consistent mode: one snapshot across pages.
    pub consistent: bool,
    /// Connections reading key ranges at once (default 1).
    pub connections: Option<u32>,
    /// Pages by COPY (else as queries).
    pub copy: bool,
    /// The output stage (path or URL).
    pub output: String,
    /// The settings the step gives; flags beat them.
    pub overrides: Overrides,
}

/// The settings of an extract that a flag can also give.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractFlags {
    /// `--statement-timeout`.
    pub statement_timeout: Option<Duration>,
    /// `--lag`.
    pub lag: Option<Duration>,
    /// `--page-rows`.
    pub page_rows: Option<usize>,
    /// `--max-retries`.
    pub max_retries: Option<u32>,
    /// `--consistent`.
    pub consistent: bool,
    /// `--connections`.
    pub connections: Option<u32>,
    /// `--no-copy`.
    pub no_copy: bool,
}

impl ExtractPlan {
    /// This plan with `flags` over the step's values: a flag beats the
    /// step, which beats the default (the reader's, for what neither
    /// gives). The one place an extract's settings are merged.
    pub fn with_flags(self, flags: ExtractFlags) -> ExtractPlan {
        ExtractPlan {
            statement_timeout: flags.statement_timeout.or(self.statement_timeout),
            lag: flags.lag.or(self.lag),
            page_rows: flags.page_rows.or(self.page_rows),
            max_retries: flags.max_retries.or(self.max_retries),
            consistent: flags.consistent || self.consistent,
            connections: flags.connections.or(self.connections),
            copy: !flags.no_copy && self.copy,
            ..self
        }
    }
}

/// A step resolved against its file.
#[derive(Debug, Clone)]
pub struct StepPlan {
    /// The input stage (path or URL).
    pub input: String,
    /// The output stage (path or URL).
    pub output: String,
    /// The transforms.
    pub transforms: Vec<ModuleSpec>,
    /// The settings the step gives; flags beat them
    /// ([`super::settings::resolve`]).
    pub overrides: Overrides,
}

impl PipelineFile {
    /// Reads and parses a pipeline file.
    pub fn load(path: &Path) -> Result<Self, PipelineFileError> {
        let err = |reason: String| PipelineFileError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let mut file: PipelineFile = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        file.dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        file.path = path.display().to_string();
        Ok(file)
    }

    /// The folder relative paths in this file are relative to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The OpenLineage job name of a step: the file's stem and the step,
    /// `pipeline.clean` for step `clean` of `pipeline.toml`.
    pub fn job_name(&self, step: &str) -> String {
        let stem = Path::new(&self.path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "pipeline".into());
        format!("{stem}.{step}")
    }

    /// The names of the steps, for messages.
    pub fn step_names(&self) -> Vec<&str> {
        self.steps.keys().map(String::as_str).collect()
    }

    fn err(&self, reason: String) -> PipelineFileError {
        PipelineFileError {
            path: self.path.clone(),
            reason,
        }
    }

    /// A path relative to this file, made absolute with `.` and `..`
    /// resolved lexically (a pipeline may point at `../lake`).
    fn resolve(&self, p: &str) -> PathBuf {
        let joined = self.dir.join(p);
        let joined = std::path::absolute(&joined).unwrap_or(joined);
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                std::path::Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    }

    /// A stage by name: URLs as they are, paths relative to this file.
    pub fn stage(&self, name: &str) -> Result<String, PipelineFileError> {
        let value = self.stages.get(name).ok_or_else(|| {
            self.err(format!(
                "no stage named {name:?} (stages: {})",
                self.stages.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        Ok(if value.contains("://") {
            value.clone()
        } else {
            self.resolve(value).display().to_string()
        })
    }

    /// Resolves one step.
    pub fn step(&self, name: &str) -> Result<StepPlan, PipelineFileError> {
        let step = self.steps.get(name).ok_or_else(|| {
            self.err(format!(
                "no step named {name:?} (steps: {})",
                self.step_names().join(", ")
            ))
        })?;
        if step.is_extract() {
            return Err(self.err(format!(
                "step {name} is an extract step (it names a source): run it with `weir extract`"
            )));
        }
        let input = step.input.as_deref().ok_or_else(|| {
            self.err(format!(
                "step {name}: give `input` (a transform step) or `source` (an extract step)"
            ))
        })?;
        let transforms = step
            .transforms
            .iter()
            .map(|t| self.transform(name, t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StepPlan {
            input: self.stage(input)?,
            output: self.stage(&step.output)?,
            transforms,
            overrides: self.overrides(name, step)?,
        })
    }

    /// Whether `name` is an extract step (it names a source).
    pub fn is_extract_step(&self, name: &str) -> bool {
        self.steps.get(name).is_some_and(|s| s.is_extract())
    }

    /// Resolves one extract step.
    pub fn extract_step(&self, name: &str) -> Result<ExtractPlan, PipelineFileError> {
        let step = self.steps.get(name).ok_or_else(|| {
            self.err(format!(
                "no step named {name:?} (steps: {})",
                self.step_names().join(", ")
            ))
        })?;
        let ctx = |reason: &str| self.err(format!("step {name}: {reason}"));
        let source_name = step.source.as_deref().ok_or_else(|| {
            ctx("not an extract step (it names no source); run it with `weir run`")
        })?;
        if step.input.is_some() || !step.transforms.is_empty() {
            return Err(ctx(
                "an extract step (source) cannot also have `input` or `transforms`; make them two steps",
            ));
        }
        match (&step.table, &step.query) {
            (Some(_), Some(_)) => return Err(ctx("give `table` or `query`, not both")),
            (None, None) => return Err(ctx("an extract step needs `table` or `query`")),
            (None, Some(_)) if step.columns.is_some() => {
                return Err(ctx(
                    "`columns` is for `table`; a query chooses its own columns",
                ));
            }
            _ => {}
        }
        let key = step
            .key
            .clone()
            .ok_or_else(|| ctx("an extract step needs `key` (a unique, ordered column)"))?;
        if step.lag.is_some() && step.cursor.is_none() {
            return Err(ctx("`lag` needs `cursor`"));
        }
        let source = self.sources.get(source_name).ok_or_else(|| {
            ctx(&format!(
                "no source named {source_name:?} (sources: {})",
                self.sources.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let duration = |what: &str, s: &str| {
            humantime::parse_duration(s).map_err(|e| ctx(&format!("{what} {s:?}: {e}")))
        };
        let mut url = source.url.clone();
        for (option, value) in [
            ("sslmode", &source.sslmode),
            ("sslrootcert", &source.sslrootcert),
        ] {
            if let Some(v) = value {
                let sep = if url.contains('?') { '&' } else { '?' };
                let v: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
                url = format!("{url}{sep}{option}={v}");
            }
        }
        Ok(ExtractPlan {
            url,
            statement_timeout: source
                .statement_timeout
                .as_deref()
                .map(|s| duration("statement_timeout", s))
                .transpose()?,
            table: step.table.clone(),
            columns: step.columns.clone(),
            query: step.query.clone(),
            cursor: step.cursor.clone(),
            key,
            lag: step
                .lag
                .as_deref()
                .map(|s| duration("lag", s))
                .transpose()?,
            page_rows: step.page_rows,
            max_retries: step.max_retries,
            consistent: step.consistent.unwrap_or(false),
            connections: step.connections,
            copy: step.copy.unwrap_or(true),
            output: self.stage(&step.output)?,
            overrides: self.overrides(name, step)?,
        })
    }

    /// The settings a step gives.
    fn overrides(&self, name: &str, step: &StepDecl) -> Result<Overrides, PipelineFileError> {
        let parse_size = |what: &str, s: &str| -> Result<u64, PipelineFileError> {
            s.parse::<bytesize::ByteSize>()
                .map(|b| b.as_u64())
                .map_err(|e| self.err(format!("step {name}: {what} {s:?}: {e}")))
        };
        Ok(Overrides {
            max_rejected: step
                .max_rejected
                .as_deref()
                .map(|b| {
                    b.parse::<Budget>()
                        .map_err(|e| self.err(format!("step {name}: {e}")))
                })
                .transpose()?,
            workers: step.workers,
            max_batch_bytes: step
                .max_batch_bytes
                .as_deref()
                .map(|s| parse_size("max_batch_bytes", s))
                .transpose()?,
            codec: step.codec,
            compression_level: step.compression_level,
            max_line_bytes: step
                .max_line_bytes
                .as_deref()
                .map(|s| parse_size("max_line_bytes", s))
                .transpose()?,
            orphan_grace: step
                .orphan_grace
                .as_deref()
                .map(|s| {
                    humantime::parse_duration(s)
                        .map_err(|e| self.err(format!("step {name}: orphan_grace {s:?}: {e}")))
                })
                .transpose()?,
            memory_limit: None,
            cpu_limit: None,
            max_run_time: step
                .max_run_time
                .as_deref()
                .map(|s| {
                    humantime::parse_duration(s)
                        .map_err(|e| self.err(format!("step {name}: max_run_time {s:?}: {e}")))
                })
                .transpose()?,
        })
    }

    fn transform(&self, step: &str, t: &TransformDecl) -> Result<ModuleSpec, PipelineFileError> {
        let module = self.resolve(&t.module);
        let name = t.name.clone().unwrap_or_else(|| module_name(&module));
        let ctx = |reason: String| self.err(format!("step {step}, transform {name}: {reason}"));
        let config = match (&t.config, &t.config_file) {
            (Some(_), Some(_)) => return Err(ctx("give config or config_file, not both".into())),
            (Some(table), None) => serde_json::to_string(table).map_err(|e| ctx(e.to_string()))?,
            (None, Some(f)) => {
                let p = self.resolve(f);
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| ctx(format!("{}: {e}", p.display())))?;
                serde_json::from_str::<serde_json::Value>(&text)
                    .map_err(|e| ctx(format!("{} is not JSON: {e}", p.display())))?;
                text
            }
            (None, None) => "{}".into(),
        };
        let mut spec = ModuleSpec::new(name.clone(), module)
            .with_config_json(config)
            .with_limits(limits(&t.limits).map_err(ctx)?);
        if let Some(a) = &t.assets {
            spec = spec.with_assets(self.resolve(a));
        }
        if let Some(sha) = &t.sha256 {
            spec = spec.with_expected_sha256(sha.to_ascii_lowercase());
        }
        Ok(spec)
    }
}

/// The default transform name: the module's file stem.
pub fn module_name(module: &Path) -> String {
    module
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "transform".into())
}

/// Limits from their written form; unset fields keep the defaults.
pub fn limits(d: &LimitsDecl) -> Result<Limits, String> {
    let size = |what: &str, s: &str| {
        s.parse::<bytesize::ByteSize>()
            .map(|b| b.as_u64())
            .map_err(|e| format!("{what} {s:?}: {e}"))
    };
    let mut l = Limits::default();
    if let Some(m) = &d.memory {
        l = l.with_memory_bytes(size("memory", m)?);
    }
    if let Some(t) = &d.cpu_time {
        let t: Duration =
            humantime::parse_duration(t).map_err(|e| format!("cpu_time {t:?}: {e}"))?;
        l = l.with_cpu_time_per_call(t);
    }
    if let Some(s) = &d.max_record_output {
        l = l.with_max_record_output_bytes(size("max_record_output", s)?);
    }
    if let Some(s) = &d.max_call_output {
        l = l.with_max_call_output_bytes(size("max_call_output", s)?);
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> PipelineFile {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("pipeline.toml");
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
        PipelineFile::load(&p).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn resolves_paths_against_the_file_and_parses_limits() {
        let f = parse(
            r#"
[stages]
raw = "data/raw"
clean = "s3://lake/clean"

[steps.clean]
input = "raw"
output = "clean"
max_rejected = "1%"
max_line_bytes = "1MiB"
max_batch_bytes = "10MB"
max_run_time = "20m"

[[steps.clean.transforms]]
module = "t/normalize.wasm"
config = { fields = ["text"], lowercase = true }
limits = { memory = "64MiB", cpu_time = "2s" }
"#,
        );
        let s = f.step("clean").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            s.input.ends_with("data/raw") && Path::new(&s.input).is_absolute()
                || s.input.contains("/data/raw")
        );
        assert_eq!(s.output, "s3://lake/clean");
        assert_eq!(s.overrides.max_rejected, Some(Budget::Ratio(0.01)));
        assert_eq!(s.overrides.max_line_bytes, Some(1024 * 1024));
        assert_eq!(s.overrides.max_batch_bytes, Some(10_000_000));
        assert_eq!(s.overrides.max_run_time, Some(Duration::from_secs(20 * 60)));
        let t = &s.transforms[0];
        assert_eq!(t.name, "normalize");
        assert_eq!(t.config_json, r#"{"fields":["text"],"lowercase":true}"#);
        assert_eq!(t.limits.memory_bytes, 64 * 1024 * 1024);
        assert_eq!(t.limits.cpu_time_per_call, Duration::from_secs(2));
    }

    #[test]
    fn unknown_keys_and_steps_are_errors() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("p.toml");
        std::fs::write(
            &p,
            "[stages]\n[steps.a]\ninput='x'\noutput='y'\ncolour='red'\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = PipelineFile::load(&p).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
        let f = parse("[stages]\n[steps.a]\ninput='x'\noutput='y'\n");
        assert!(
            f.step("b")
                .unwrap_err()
                .to_string()
                .contains("no step named \"b\" (steps: a)")
        );
        assert!(
            f.step("a")
                .unwrap_err()
                .to_string()
                .contains("no stage named \"x\"")
        );
    }

    #[test]
    fn extract_step_resolves_its_source_and_options() {
        let f = parse(
            r#"
[stages]
raw = "s3://lake/raw"

[sources.replica]
url = "postgres://reader:secret@replica:5432/app"
sslmode = "disable"
statement_timeout = "30s"

[steps.raw]
source = "replica"
output = "raw"
table = "support.tickets"
columns = ["id", "body"]
cursor = "updated_at"
key = "id"
lag = "5m"
page_rows = 500
max_retries = 3
"#,
        );
        let x = f.extract_step("raw").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            x.url,
            "postgres://reader:secret@replica:5432/app?sslmode=disable"
        );
        assert_eq!(x.statement_timeout, Some(Duration::from_secs(30)));
        assert_eq!(x.table.as_deref(), Some("support.tickets"));
        assert_eq!(x.columns, Some(vec!["id".to_owned(), "body".to_owned()]));
        assert_eq!(x.key, "id");
        assert_eq!(x.lag, Some(Duration::from_secs(300)));
        assert_eq!(x.page_rows, Some(500));
        assert_eq!(x.max_retries, Some(3));
        assert_eq!(x.output, "s3://lake/raw");
        let e = f.step("raw").unwrap_err().to_string();
        assert!(e.contains("is an extract step"), "{e}");
        assert!(!format!("{:?}", f.sources).contains("secret"));
    }

    #[test]
    fn extract_flags_beat_the_step_which_beats_the_default() {
        let file = |settings: &str| {
            parse(&format!(
                "[stages]\nraw='r'\n[sources.db]\nurl='postgres://u@h/d'\n{}\n\
                 [steps.a]\nsource='db'\noutput='raw'\ntable='t'\nkey='id'\ncursor='at'\n{}",
                if settings.is_empty() {
                    ""
                } else {
                    "statement_timeout='30s'"
                },
                settings
            ))
            .extract_step("a")
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let step =
            "lag='5m'\npage_rows=500\nmax_retries=3\nconsistent=true\nconnections=4\ncopy=false\n";
        let flags = ExtractFlags {
            statement_timeout: Some(Duration::from_secs(7)),
            lag: Some(Duration::from_secs(60)),
            page_rows: Some(42),
            max_retries: Some(0),
            consistent: true,
            connections: Some(2),
            no_copy: true,
        };
        let settings = |p: &ExtractPlan| ExtractFlags {
            statement_timeout: p.statement_timeout,
            lag: p.lag,
            page_rows: p.page_rows,
            max_retries: p.max_retries,
            consistent: p.consistent,
            connections: p.connections,
            no_copy: !p.copy,
        };
        // Flag over step, flag over nothing, step over nothing, neither.
        assert_eq!(settings(&file(step).with_flags(flags)), flags);
        assert_eq!(settings(&file("").with_flags(flags)), flags);
        assert_eq!(
            settings(&file(step).with_flags(ExtractFlags::default())),
            ExtractFlags {
                statement_timeout: Some(Duration::from_secs(30)),
                lag: Some(Duration::from_secs(300)),
                page_rows: Some(500),
                max_retries: Some(3),
                consistent: true,
                connections: Some(4),
                no_copy: true,
            }
        );
        assert_eq!(
            settings(&file("").with_flags(ExtractFlags::default())),
            ExtractFlags::default()
        );
    }

    #[test]
    fn extract_steps_refuse_transform_fields_and_need_table_or_query() {
        let head = "[stages]\nraw='r'\n[sources.db]\nurl='postgres://u@h/d'\n[steps.a]\nsource='db'\noutput='raw'\nkey='id'\n";
        let err = |extra: &str| {
            parse(&format!("{head}{extra}"))
                .extract_step("a")
                .unwrap_err()
                .to_string()
        };
        assert!(err("table='t'\ninput='raw'\n").contains("cannot also have `input`"));
        assert!(err("").contains("needs `table` or `query`"));
        assert!(err("table='t'\nquery='SELECT 1'\n").contains("not both"));
        assert!(err("query='SELECT 1'\ncolumns=['a']\n").contains("`columns` is for `table`"));
        assert!(err("table='t'\nlag='5m'\n").contains("`lag` needs `cursor`"));
        let f = parse("[stages]\nraw='r'\n[steps.a]\noutput='raw'\n");
        assert!(
            f.step("a")
                .unwrap_err()
                .to_string()
                .contains("give `input`")
        );
    }
}
