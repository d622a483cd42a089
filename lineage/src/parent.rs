//! `--openlineage-parent NAMESPACE/JOB/RUN_ID`: the run a Weir run hangs
//! under (what the Airflow provider's `lineage_parent_id` macro gives).

use std::str::FromStr;

use crate::error::LineageError;

/// A parent run: its job's namespace and name, and its run id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentRun {
    /// The parent job's namespace.
    pub namespace: String,
    /// The parent job's name (may hold `/`).
    pub job: String,
    /// The parent run's id, a UUID.
    pub run_id: uuid::Uuid,
}

impl FromStr for ParentRun {
    type Err = LineageError;

    /// Parses `NAMESPACE/JOB/RUN_ID`: the namespace runs to the first `/`,
    /// the run id is after the last, the job is what lies between.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| LineageError::InvalidParent {
            given: s.to_owned(),
            reason,
        };
        let shape =
            || invalid("give NAMESPACE/JOB/RUN_ID (e.g. Airflow's lineage_parent_id)".into());
        let (namespace, rest) = s.split_once('/').ok_or_else(shape)?;
        let (job, run) = rest.rsplit_once('/').ok_or_else(shape)?;
        if namespace.is_empty() || job.is_empty() {
            return Err(shape());
        }
        let run_id = uuid::Uuid::try_parse(run)
            .map_err(|e| invalid(format!("the run id {run:?} is not a UUID ({e})")))?;
        Ok(Self {
            namespace: namespace.to_owned(),
            job: job.to_owned(),
            run_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airflow_parent_ids_parse_and_bad_ones_say_why() {
        let p: ParentRun = "default/nlp.clean/01932f6e-3a54-7b71-8c0e-1c2d3e4f5a6b"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.namespace, "default");
        assert_eq!(p.job, "nlp.clean");
        assert_eq!(p.run_id.to_string(), "01932f6e-3a54-7b71-8c0e-1c2d3e4f5a6b");
        let p: ParentRun = "ns/a/b/01932f6e-3a54-7b71-8c0e-1c2d3e4f5a6b"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.job, "a/b");
        for (bad, says) in [
            ("ns/job/not-a-uuid", "is not a UUID"),
            (
                "ns/01932f6e-3a54-7b71-8c0e-1c2d3e4f5a6b",
                "NAMESPACE/JOB/RUN_ID",
            ),
            (
                "/job/01932f6e-3a54-7b71-8c0e-1c2d3e4f5a6b",
                "NAMESPACE/JOB/RUN_ID",
            ),
            ("", "NAMESPACE/JOB/RUN_ID"),
        ] {
            let e = bad.parse::<ParentRun>().err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(says)),
                "{bad}: {e:?}"
            );
        }
    }
}
