//! `--openlineage-parent` and the OpenLineage events of `stage`, `run`,
//! `commit` and `extract` (docs/lineage.md): the flag, the job a command
//! is, and the one sequence every command follows (START, then COMPLETE
//! after the commit or FAIL with the error).

use std::path::PathBuf;

use clap::Args;
use weir::pipeline::file::PipelineFile;
use weir_lineage::{
    CommitDatasets, Emitter, Job, LineageFile, LineageSettings, ParentRun, StageDataset,
};
use weir_stage::write::Commit;
use weir_stage::{Interval, StageUrl};

use super::{Globals, error_chain};

/// The parent run flag.
#[derive(Debug, Args, Clone)]
pub(super) struct LineageArgs {
    /// Hang this run's OpenLineage events under a parent run (what the
    /// Airflow OpenLineage provider's `lineage_parent_id` macro gives); the
    /// run id must be a UUID. Events are sent only when a transport is
    /// configured (OPENLINEAGE_URL, ...: docs/lineage.md).
    #[arg(long, value_name = "NAMESPACE/JOB/RUN_ID", value_parser = parse_parent)]
    openlineage_parent: Option<ParentRun>,
}

fn parse_parent(s: &str) -> Result<ParentRun, String> {
    s.parse::<ParentRun>().map_err(|e| e.to_string())
}

/// What a pipeline file says about a step's lineage: its `[openlineage]`
/// table (with the file's folder) and the step's job name.
#[derive(Debug, Clone, Default)]
pub(super) struct FileLineage {
    table: Option<(LineageFile, PathBuf)>,
    job: Option<String>,
}

impl FileLineage {
    /// Step `step` of `file`.
    pub(super) fn of(file: &PipelineFile, step: &str) -> Self {
        Self {
            table: file
                .openlineage
                .clone()
                .map(|t| (t, file.dir().to_path_buf())),
            job: Some(file.job_name(step)),
        }
    }
}

/// A command's run as OpenLineage sees it: its datasets and emitter.
pub(super) struct LineageRun {
    emitter: Emitter,
    interval: Interval,
    interval_end: Option<Interval>,
}

impl LineageArgs {
    /// Starts the run of `command` writing `output`: sends START naming
    /// `inputs` (stages, paths or URLs as given) and `more_inputs`.
    #[allow(clippy::too_many_arguments)] // one call per command, each argument named there
    pub(super) fn start(
        &self,
        g: &Globals,
        file: &FileLineage,
        command: &'static str,
        inputs: &[&str],
        more_inputs: Vec<StageDataset>,
        output: &str,
        interval: Interval,
        interval_end: Option<Interval>,
    ) -> LineageRun {
        let output_url = StageUrl::parse(output).ok();
        let name = file.job.clone().unwrap_or_else(|| {
            let shown = output_url
                .as_ref()
                .map_or_else(|| output.to_owned(), ToString::to_string);
            format!("{command}:{shown}")
        });
        let settings =
            LineageSettings::from_env(file.table.as_ref().map(|(t, d)| (t, d.as_path())));
        let mut emitter = Emitter::new(
            settings,
            g.runtime.handle().clone(),
            Job {
                name,
                command,
                interval,
                interval_end,
                parent: self.openlineage_parent.clone(),
            },
        );
        let mut input_sets: Vec<StageDataset> = inputs
            .iter()
            .filter_map(|s| StageUrl::parse(s).ok())
            .map(|u| StageDataset::stage(&u, interval, None))
            .collect();
        input_sets.extend(more_inputs);
        let outputs = output_url
            .iter()
            .map(|u| StageDataset::stage(u, interval, interval_end))
            .collect();
        emitter.start(input_sets, outputs);
        LineageRun {
            emitter,
            interval,
            interval_end,
        }
    }
}

impl LineageRun {
    /// Ends the run: FAIL with the error when `result` is one (nothing was
    /// committed), and hands the error back.
    pub(super) fn check<T>(self, result: anyhow::Result<T>) -> anyhow::Result<(T, Self)> {
        match result {
            Ok(v) => Ok((v, self)),
            Err(e) => {
                self.emitter.fail(&error_chain(&e));
                Err(e)
            }
        }
    }

    /// Ends the run after `commit` of `output`: COMPLETE with the committed
    /// manifest's datasets. Returns them as `--json` prints them
    /// (`openlineage`: the run id, when events are sent, and the datasets).
    pub(super) fn complete(
        self,
        output: &StageUrl,
        commit: &Commit,
        more_inputs: Vec<StageDataset>,
    ) -> serde_json::Value {
        let datasets = CommitDatasets::of(
            output,
            commit,
            self.interval,
            self.interval_end,
            more_inputs,
        );
        let mut json = datasets.to_json();
        json["runId"] = serde_json::json!(self.emitter.run_id().map(|u| u.to_string()));
        self.emitter.complete(output, commit, &datasets);
        json
    }
}
