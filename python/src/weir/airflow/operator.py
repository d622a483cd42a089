"""`WeirRunOperator`: one pipeline step for one task's data interval.

The operator runs `weir run PIPELINE STEP --interval START --interval-end END
--json` with the interval taken from the task's context
(`data_interval_start` / `data_interval_end`, never `ds`, which is only a
date and not the interval). The binary's log goes to the task log line by
line; its JSON summary is the task's return value (XCom). A failed run fails
the task with the binary's own message.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from typing import Any, Mapping, Sequence

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from .. import binary


class WeirRunOperator(BaseOperator):
    """Runs one step of a Weir pipeline file for the task's data interval.

    :param pipeline: path of the pipeline file (`.toml`); its relative paths
        are resolved against the file, so the worker's directory does not matter.
    :param step: the step to run.
    :param max_rejected: overrides the step's error budget (`10`, `"1%"`, `0.01`).
    :param workers: overrides the number of worker threads.
    :param extra_args: more flags for `weir run` (e.g. `["--memory-limit", "512MiB"]`).
    :param env: extra environment variables for the run (store credentials,
        `RUST_LOG`); the worker's environment is inherited.
    :param weir_bin: the binary to run; default: the installed wheel's, then
        `$WEIR_BIN`, then `weir` on `PATH`.

    Exit 1 (a failure: store, module, config) raises `AirflowException`, so
    the task's retries apply; exit 2 (usage) and 3 (more records rejected than
    the budget allows; nothing committed) raise `AirflowFailException`: a retry
    over the same input would fail the same way.
    """

    template_fields: Sequence[str] = ("pipeline", "step", "max_rejected", "extra_args", "env")
    template_fields_renderers = {"env": "json"}
    ui_color = "#cfe8f3"

    def __init__(
        self,
        *,
        pipeline: str,
        step: str,
        max_rejected: str | int | float | None = None,
        workers: int | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        weir_bin: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.step = step
        self.max_rejected = max_rejected
        self.workers = workers
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.weir_bin = weir_bin
        self._process: subprocess.Popen[bytes] | None = None

    def command(self, context: Mapping[str, Any]) -> list[str]:
        """The `weir run` command line for this task instance."""
        start = context.get("data_interval_start")
        end = context.get("data_interval_end")
        if start is None:
            raise AirflowFailException(
                "the task has no data interval (data_interval_start is None): run the DAG on a "
                "timetable with intervals, e.g. a cron schedule"
            )
        argv = [self.weir_bin or binary.find_binary(), "run", str(self.pipeline), str(self.step)]
        argv += ["--interval", binary.interval_arg(start)]
        if end is not None:
            argv += ["--interval-end", binary.interval_arg(end)]
        argv += binary.option_args({"max_rejected": self.max_rejected, "workers": self.workers})
        argv += [str(a) for a in self.extra_args]
        argv.append("--json")
        return argv

    def execute(self, context: Any) -> dict[str, Any]:
        argv = self.command(context)
        self.log.info("Running %s", " ".join(argv))
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **self.env},
        )
        self._process = process
        stdout: list[bytes] = []
        reader = threading.Thread(target=lambda: stdout.append(process.stdout.read()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        stderr_lines: list[str] = []
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            stderr_lines.append(line)
            self.log.info("weir: %s", line)
        code = process.wait()
        reader.join()
        self._process = None
        if code != 0:
            err = binary.error_of(code, argv, "\n".join(stderr_lines))
            self.log.error("weir run failed (exit %d): %s", code, err)
            if code in (binary.EXIT_USAGE, binary.EXIT_OVER_BUDGET):
                raise AirflowFailException(str(err))
            raise AirflowException(str(err))
        summary = json.loads(b"".join(stdout))
        totals = summary.get("totals", {})
        self.log.info(
            "Committed %s records (%s quarantined) to %s",
            totals.get("records"),
            totals.get("quarantined"),
            summary.get("manifest"),
        )
        return summary

    def on_kill(self) -> None:
        """Stops the run when Airflow kills the task (timeout, marked failed)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
