//! Stages as OpenLineage datasets: one dataset per stage, never one per
//! interval (the interval is the `subset` facet), named as the spec names
//! storage: namespace = scheme and bucket or host, name = the prefix.

use serde_json::{Value, json};
use weir_stage::manifest::Manifest;
use weir_stage::write::Commit;
use weir_stage::{Interval, StageUrl};

use crate::event::facet;

/// The spec's subset facet: which partition (interval) of a dataset.
const SUBSET_INPUT: &str = "https://openlineage.io/spec/facets/1-0-0/BaseSubsetDatasetFacet.json#/$defs/InputSubsetInputDatasetFacet";
const SUBSET_OUTPUT: &str = "https://openlineage.io/spec/facets/1-0-0/BaseSubsetDatasetFacet.json#/$defs/OutputSubsetOutputDatasetFacet";
const OUTPUT_STATISTICS: &str = "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet";
const VERSION: &str = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet";

/// A dataset's identity: its namespace and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetName {
    /// `s3://bucket`, `file`, `file://host`, `postgres://host:5432`.
    pub namespace: String,
    /// The prefix, path or table.
    pub name: String,
}

impl DatasetName {
    /// The dataset of a stage: `s3://bucket/a/b` is (`s3://bucket`, `a/b`),
    /// a local folder `/srv/raw` is (`file`, `/srv/raw`), as the spec's
    /// local file system naming has it, and `file://host/x` is
    /// (`file://host`, `/x`).
    pub fn of_stage(stage: &StageUrl) -> Self {
        let url = stage.as_url();
        let decoded = percent_encoding::percent_decode_str(url.path())
            .decode_utf8_lossy()
            .into_owned();
        let host = url.host_str().unwrap_or_default();
        if url.scheme() == "file" {
            let path = match decoded.trim_end_matches('/') {
                "" => "/".to_owned(),
                p => p.to_owned(),
            };
            let namespace = if host.is_empty() {
                "file".to_owned()
            } else {
                format!("file://{host}")
            };
            return Self {
                namespace,
                name: path,
            };
        }
        let name = match decoded.trim_matches('/') {
            "" => "/".to_owned(),
            p => p.to_owned(),
        };
        Self {
            namespace: format!("{}://{host}", url.scheme()),
            name,
        }
    }

    /// A stage given as text (as a manifest records it); `None` when it
    /// does not parse.
    pub fn of_stage_text(stage: &str) -> Option<Self> {
        StageUrl::parse(stage).ok().map(|s| Self::of_stage(&s))
    }

    /// A PostgreSQL table, as the spec names it: (`postgres://HOST:PORT`,
    /// `DATABASE.SCHEMA.TABLE`).
    pub fn postgres_table(host: &str, port: u16, database: &str, table: &str) -> Self {
        Self {
            namespace: format!("postgres://{host}:{port}"),
            name: format!("{database}.{table}"),
        }
    }
}

/// A dataset of one event, with what is known of it.
#[derive(Debug, Clone)]
pub struct StageDataset {
    /// Its identity.
    pub name: DatasetName,
    /// The interval of it read or written, if it is a stage.
    pub interval: Option<(Interval, Option<Interval>)>,
    /// The sha256 of the manifest read or committed.
    pub version: Option<String>,
    /// Committed totals (outputs, on COMPLETE): records, stored bytes, parts.
    pub statistics: Option<(u64, u64, u64)>,
}

impl StageDataset {
    /// A dataset with only its name.
    pub fn named(name: DatasetName) -> Self {
        Self {
            name,
            interval: None,
            version: None,
            statistics: None,
        }
    }

    /// A stage's interval.
    pub fn stage(stage: &StageUrl, interval: Interval, end: Option<Interval>) -> Self {
        Self {
            interval: Some((interval, end)),
            ..Self::named(DatasetName::of_stage(stage))
        }
    }

    /// The output of a commit, from the committed manifest.
    pub fn committed(
        stage: &StageUrl,
        interval: Interval,
        end: Option<Interval>,
        m: &Manifest,
    ) -> Self {
        use sha2::Digest;
        Self {
            version: Some(hex::encode(sha2::Sha256::digest(m.to_bytes()))),
            statistics: Some((m.totals.records, m.totals.compressed_bytes, m.totals.parts)),
            ..Self::stage(stage, interval, end)
        }
    }

    /// The committed inputs a manifest names (its `lineage`), each with the
    /// sha256 of the manifest it was made from.
    pub fn inputs_of(m: &Manifest) -> Vec<Self> {
        m.lineage
            .iter()
            .filter_map(|l| {
                let name = DatasetName::of_stage_text(&l.stage)?;
                let interval = l.interval.parse::<Interval>().ok();
                Some(Self {
                    name,
                    interval: interval.map(|i| (i, None)),
                    version: Some(l.manifest_sha256.clone()),
                    statistics: None,
                })
            })
            .collect()
    }

    /// The dataset as an event's input.
    pub fn to_input(&self) -> Value {
        let mut d = self.base();
        if let Some(subset) = self.subset("inputCondition", SUBSET_INPUT) {
            d["inputFacets"] = json!({ "subset": subset });
        }
        d
    }

    /// The dataset as an event's output.
    pub fn to_output(&self) -> Value {
        let mut d = self.base();
        let mut facets = serde_json::Map::new();
        if let Some((rows, size, files)) = self.statistics {
            facets.insert(
                "outputStatistics".into(),
                facet(
                    OUTPUT_STATISTICS,
                    json!({ "rowCount": rows, "size": size, "fileCount": files }),
                ),
            );
        }
        if let Some(subset) = self.subset("outputCondition", SUBSET_OUTPUT) {
            facets.insert("subset".into(), subset);
        }
        if !facets.is_empty() {
            d["outputFacets"] = Value::Object(facets);
        }
        d
    }

    fn base(&self) -> Value {
        let mut d = json!({ "namespace": self.name.namespace, "name": self.name.name });
        if let Some(v) = &self.version {
            d["facets"] = json!({ "version": facet(VERSION, json!({ "datasetVersion": v })) });
        }
        d
    }

    fn subset(&self, condition: &str, schema: &str) -> Option<Value> {
        let (start, end) = self.interval.as_ref()?;
        let mut dimensions = json!({ "interval": crate::event::time(start) });
        if let Some(end) = end {
            dimensions["intervalEnd"] = json!(crate::event::time(end));
        }
        Some(facet(
            schema,
            json!({ condition: {
                "type": "partition",
                "partitions": [ { "identifier": start.folder(), "dimensions": dimensions } ]
            }}),
        ))
    }
}

/// The datasets of a commit: the inputs its manifest names (and any
/// others, e.g. an extract's table) and the committed output.
#[derive(Debug, Clone)]
pub struct CommitDatasets {
    /// What it read.
    pub inputs: Vec<StageDataset>,
    /// What it committed.
    pub outputs: Vec<StageDataset>,
}

impl CommitDatasets {
    /// The datasets of `commit` of `interval` (ending at `end`) of `output`.
    pub fn of(
        output: &StageUrl,
        commit: &Commit,
        interval: Interval,
        end: Option<Interval>,
        more_inputs: Vec<StageDataset>,
    ) -> Self {
        let mut inputs = StageDataset::inputs_of(&commit.manifest);
        inputs.extend(more_inputs);
        Self {
            inputs,
            outputs: vec![StageDataset::committed(
                output,
                interval,
                end,
                &commit.manifest,
            )],
        }
    }

    /// As the event has them: `{"inputs": [...], "outputs": [...]}` (what
    /// `--json` prints for the Airflow provider).
    pub fn to_json(&self) -> Value {
        json!({
            "inputs": self.inputs.iter().map(StageDataset::to_input).collect::<Vec<_>>(),
            "outputs": self.outputs.iter().map(StageDataset::to_output).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(stage: &str) -> (String, String) {
        let s = StageUrl::parse(stage).unwrap_or_else(|e| panic!("{e}"));
        let d = DatasetName::of_stage(&s);
        (d.namespace, d.name)
    }

    #[test]
    fn stages_are_named_as_the_spec_names_storage() {
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            name("s3://acme-lake/clean"),
            pair("s3://acme-lake", "clean")
        );
        assert_eq!(name("s3://acme-lake/a/b/"), pair("s3://acme-lake", "a/b"));
        assert_eq!(name("gs://b/x"), pair("gs://b", "x"));
        assert_eq!(name("/srv/lake/raw"), pair("file", "/srv/lake/raw"));
        assert_eq!(
            name("file:///srv/my%20lake/raw/"),
            pair("file", "/srv/my lake/raw")
        );
        assert_eq!(name("s3://acme-lake"), pair("s3://acme-lake", "/"));
        assert_eq!(name("memory://tests/raw"), pair("memory://tests", "raw"));
    }
}
