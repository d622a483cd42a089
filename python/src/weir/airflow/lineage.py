"""OpenLineage for Weir's operators, when apache-airflow-providers-openlineage
is installed (docs/lineage.md). Without it, nothing here is imported by the
operators' hot path and nothing changes.

- `parent_args(context)`: `--openlineage-parent NAMESPACE/JOB/RUN_ID`, the
  task instance's `lineage_parent_id`, so the events Weir sends hang under
  the Airflow task that ran it.
- `operator_lineage(summary)`: the `OperatorLineage` the provider asks for
  in `get_openlineage_facets_on_complete`, from the committed manifest as
  `weir ... --json` reports it (its `openlineage` datasets): the stages read
  and committed, named as Weir names them, with `outputStatistics` and the
  manifests' sha256 as dataset versions.
"""

from __future__ import annotations

from typing import Any, Mapping


def provider_installed() -> bool:
    """Whether the Airflow OpenLineage provider can be imported."""
    try:
        import airflow.providers.openlineage  # noqa: F401
    except ImportError:
        return False
    return True


def parent_args(context: Mapping[str, Any]) -> list[str]:
    """`["--openlineage-parent", ID]` for the context's task instance, or `[]`
    when the provider is not installed or gives no id."""
    ti = context.get("ti") or context.get("task_instance")
    if ti is None or not provider_installed():
        return []
    try:
        from airflow.providers.openlineage.plugins.macros import lineage_parent_id
    except ImportError:
        return []
    try:
        parent = lineage_parent_id(ti)
    except Exception:  # the provider is optional: its failure never fails the task
        return []
    return ["--openlineage-parent", parent] if parent else []


def _dataset_facets(d: Mapping[str, Any]) -> dict[str, Any]:
    from openlineage.client.facet_v2 import dataset_version_dataset

    version = (d.get("facets") or {}).get("version")
    if not version:
        return {}
    return {"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=version["datasetVersion"])}


def operator_lineage(summary: Mapping[str, Any] | None) -> Any:
    """The `OperatorLineage` of a committed run's `--json` summary (empty
    when there is none: a sealed shard, a plan)."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset

    datasets = (summary or {}).get("openlineage") or {}
    inputs = [
        InputDataset(namespace=d["namespace"], name=d["name"], facets=_dataset_facets(d))
        for d in datasets.get("inputs", [])
    ]
    outputs = []
    for d in datasets.get("outputs", []):
        output_facets: dict[str, Any] = {}
        stats = (d.get("outputFacets") or {}).get("outputStatistics")
        if stats:
            output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=stats.get("rowCount"), size=stats.get("size"), fileCount=stats.get("fileCount")
            )
        outputs.append(
            OutputDataset(
                namespace=d["namespace"], name=d["name"], facets=_dataset_facets(d), outputFacets=output_facets
            )
        )
    return OperatorLineage(inputs=inputs, outputs=outputs)
