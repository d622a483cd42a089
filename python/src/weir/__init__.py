"""Weir from Python: staged data as pandas DataFrames, transforms over them.

Layout:

- `weir.binary`: finds the `weir` binary (the wheel's, `$WEIR_BIN`, or
  `PATH`) and runs it; exit codes become [`WeirError`] / [`OverBudgetError`].
- `weir.stage`: `read_stage`, `iter_batches`, `write_stage`.
- `weir.transform`: `run_transform`, a module over a DataFrame through
  `weir stage` and `weir run`, the engine production uses.
- `weir.airflow`: the Airflow 3 provider (`WeirRunOperator`); imported only
  when asked for, so the rest works without Airflow.

pandas is imported when a helper needs it, so `import weir` is cheap.
"""

from .binary import OverBudgetError, WeirError, find_binary
from .stage import iter_batches, manifest, read_stage, write_stage
from .transform import run_transform

__all__ = [
    "OverBudgetError",
    "WeirError",
    "find_binary",
    "iter_batches",
    "manifest",
    "read_stage",
    "run_transform",
    "write_stage",
]
