"""Weir's Airflow 3 provider.

`from weir.airflow import WeirRunOperator` runs one pipeline step for the
task's data interval. Airflow discovers the provider through the
`apache_airflow_provider` entry point, which calls [`get_provider_info`];
that import must stay light, so the operator (and with it `airflow.sdk`) is
imported only when asked for.
"""

from __future__ import annotations

from typing import Any

from .provider_info import get_provider_info

__all__ = ["WeirRunOperator", "get_provider_info"]


def __getattr__(name: str) -> Any:
    if name == "WeirRunOperator":
        from .operator import WeirRunOperator

        return WeirRunOperator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
