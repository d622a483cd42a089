"""Running a WebAssembly transform over a DataFrame, exactly as production does.

The DataFrame is staged into a temporary local stage with `weir stage`, the
module runs over it with `weir run --json` (same engine, limits, sandbox and
quarantine rules as a pipeline step), and the committed output and the
quarantine are read back as DataFrames. Nothing here interprets records.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import TYPE_CHECKING, Any

from . import binary, stage

if TYPE_CHECKING:
    import pandas as pd

#: The interval a transform's temporary stages use unless told otherwise.
DEFAULT_INTERVAL = "2000-01-01"


def run_transform(
    module: str | os.PathLike[str],
    df: "pd.DataFrame",
    *,
    config: Any = None,
    assets: str | os.PathLike[str] | None = None,
    max_rejected: str | int | float = "100%",
    interval: Any = DEFAULT_INTERVAL,
    naive_timezone: str | None = None,
    dtypes: Any = None,
    **options: Any,
) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """Runs one transform over `df`; returns `(output, quarantined)`.

    - `module`: the component (`.wasm`) to run.
    - `config`: its config, a JSON-serialisable value (a dict, usually), or
      a string passed as is (JSON text, or `@file`).
    - `assets`: a read-only directory the module sees as `/assets`.
    - `max_rejected`: the error budget. Defaults to `"100%"` so that rejected
      records come back in `quarantined` for a look; pass `0` (production's
      default) to get [`OverBudgetError`] instead, as a pipeline step would.
    - `naive_timezone`: as for [`write_stage`] (naive timestamps are staged
      without an offset unless given); `dtypes`: as for [`read_stage`], for
      the output.
    - other keyword options become flags of `weir run`: `memory_limit="64MiB"`,
      `cpu_limit="5s"`, `sha256="..."`, `workers=1`, ...

    `quarantined` has one row per rejected record: the reason, the module
    and its sha256, and the original record as a JSON string (`record`).
    The run's summary (`weir run --json`) is in `output.attrs["weir_run"]`.

    Over the budget, the [`OverBudgetError`] carries the rejected records as
    `err.quarantined` (the same frame as above): the temporary stages are
    gone once this returns, so there is no quarantine folder to point at.
    """
    with tempfile.TemporaryDirectory(prefix="weir-transform-") as tmp:
        source = os.path.join(tmp, "input")
        target = os.path.join(tmp, "output")
        stage.write_stage(df, source, interval, naive_timezone=naive_timezone)
        args = ["run", "--input", source, "--output", target, "--interval", binary.interval_arg(interval)]
        args += ["--transform", os.fspath(module)]
        if config is not None:
            args += ["--config", config if isinstance(config, str) else json.dumps(config)]
        if assets is not None:
            args += ["--assets", os.fspath(assets)]
        flags = {**options}
        try:
            summary = binary.run_json([*args, *binary.option_args({"max_rejected": max_rejected, **flags})])
        except binary.OverBudgetError as err:
            raise over_budget(err, args + binary.option_args(flags), target, interval) from None
        output = stage.read_stage(target, interval, dtypes=dtypes)
        quarantined = stage.read_stage(target, interval, quarantine=True)
    output.attrs["weir_run"] = summary
    return output, quarantined


def over_budget(err: binary.OverBudgetError, args: list[str], target: str, interval: Any) -> binary.OverBudgetError:
    """`err` with the rejected records attached as `quarantined`, and its
    message pointing there instead of at the temporary stage's quarantine.

    The binary commits nothing over the budget, so the records are got by
    running the same command again with the budget lifted, into the same
    temporary stage, and reading its committed quarantine.
    """
    # The binary's message goes on to say where a larger budget would commit
    # the quarantine: inside the temporary stage, which is deleted.
    message = str(err)
    end = "nothing was committed."
    if end in message:
        message = message[: message.index(end) + len(end)]
    binary.run_json([*args, "--max-rejected", "100%"])
    quarantined = stage.read_stage(target, interval, quarantine=True)
    message += f" The {len(quarantined)} rejected record(s) are in this error's `quarantined` DataFrame."
    new = binary.OverBudgetError(message, code=err.code, command=err.command, stderr=err.stderr)
    new.quarantined = quarantined
    return new
