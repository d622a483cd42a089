"""Weir's Airflow 3 provider.

`from weir.airflow import WeirRunOperator` runs one pipeline step for the
task's data interval; `WeirPlanOperator`, a mapped `WeirRunOperator` and
`WeirCommitOperator` (or `sharded_step`, which wires the three) run it
sharded across workers; `WeirExtractOperator` runs an extract step
(`weir extract`, rows of a PostgreSQL replica), sharded by key ranges with
`sharded_step(..., shards=N)`; `WeirStageOperator` stages NDJSON files
(`weir stage`) for the interval. Airflow discovers the provider through the
`apache_airflow_provider` entry point, which calls [`get_provider_info`];
that import must stay light, so the operator (and with it `airflow.sdk`) is
imported only when asked for.
"""

from __future__ import annotations

from typing import Any

from .provider_info import get_provider_info

_OPERATOR_NAMES = (
    "WeirRunOperator",
    "WeirExtractOperator",
    "WeirStageOperator",
    "WeirPlanOperator",
    "WeirCommitOperator",
    "sharded_step",
)
__all__ = [*_OPERATOR_NAMES, "get_provider_info"]


def __getattr__(name: str) -> Any:
    if name in _OPERATOR_NAMES:
        from . import operator

        return getattr(operator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
