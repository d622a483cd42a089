"""Airflow operators for Weir: one pipeline step for one task's data interval.

`WeirRunOperator` runs `weir run PIPELINE STEP --interval START --interval-end
END --json` with the interval taken from the task's context
(`data_interval_start` / `data_interval_end`, never `ds`, which is only a
date and not the interval). The binary's log goes to the task log line by
line; its JSON summary is the task's return value (XCom). A failed run fails
the task with the binary's own message.

A large interval runs sharded, on many workers at once: `WeirPlanOperator`
(`weir plan`) returns the interval's work units as a list, a mapped
`WeirRunOperator` (`.expand(shard=plan.output)`) runs each unit and seals
it, and `WeirCommitOperator` (`weir commit`) merges them into one commit.
`sharded_step` wires the three in a task group.

`WeirExtractOperator` (`weir extract`) runs an extract step: rows of a
PostgreSQL table or query (a read replica) into the task's interval. A big
extract runs sharded the same way: `sharded_step(step, pipeline=...,
shards=N)` plans N key ranges (`weir plan --shards N`), extracts each in a
mapped `WeirExtractOperator` and merges them with `weir commit`; or, in
one task, `WeirExtractOperator(..., connections=N)` reads the same N key
ranges at once over N connections and commits once (in one exported
snapshot for a consistent step, which cross-task shards cannot share).

`WeirStageOperator` (`weir stage`) stages NDJSON files into a stage for the
task's data interval, so a DAG's first step need not shell out.

With apache-airflow-providers-openlineage installed, `stage`, `run` and
`commit` pass `--openlineage-parent` (the task's `lineage_parent_id`), and
`get_openlineage_facets_on_complete` reports the stages the command read and
committed (docs/lineage.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from datetime import timedelta
from typing import Any, Mapping, Sequence

from airflow.sdk import BaseOperator, TaskGroup
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from .. import binary
from . import lineage


class _WeirCommand(BaseOperator):
    """Runs one `weir` subcommand for the task's data interval."""

    subcommand = ""
    # The commands that send OpenLineage events (and take --openlineage-parent).
    _LINEAGE_COMMANDS = ("stage", "run", "commit")
    template_fields: Sequence[str] = ("extra_args", "env")
    template_fields_renderers = {"env": "json"}
    ui_color = "#cfe8f3"

    def __init__(
        self,
        *,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        weir_bin: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.weir_bin = weir_bin
        self._process: subprocess.Popen[bytes] | None = None
        self._summary: dict[str, Any] | None = None

    def _interval_args(self, context: Mapping[str, Any], *, end: bool = True) -> list[str]:
        start = context.get("data_interval_start")
        stop = context.get("data_interval_end")
        if start is None:
            raise AirflowFailException(
                "the task has no data interval (data_interval_start is None): run the DAG on a "
                "timetable with intervals, e.g. a cron schedule"
            )
        args = ["--interval", binary.interval_arg(start)]
        if end and stop is not None:
            args += ["--interval-end", binary.interval_arg(stop)]
        return args

    def _options(self) -> dict[str, Any]:
        return {}

    def _wants_end(self) -> bool:
        return self.subcommand != "plan"

    #: Exit codes a retry cannot fix: the task fails at once.
    _final_codes: tuple[int, ...] = (binary.EXIT_USAGE, binary.EXIT_OVER_BUDGET)

    def _positional(self) -> list[str]:
        return []

    def _inputs(self) -> list[str]:
        return []

    def command(self, context: Mapping[str, Any]) -> list[str]:
        """The `weir` command line for this task instance."""
        argv = [self.weir_bin or binary.find_binary(), self.subcommand, *self._positional()]
        argv += self._interval_args(context, end=self._wants_end())
        argv += binary.option_args(self._options())
        argv += [str(a) for a in self.extra_args]
        if self.subcommand in self._LINEAGE_COMMANDS:
            argv += lineage.parent_args(context)
        argv.append("--json")
        argv += self._inputs()
        return argv

    def _run(self, context: Any) -> dict[str, Any]:
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
            message = str(err)
            if code == binary.EXIT_OVER_BUDGET and hasattr(self, "max_rejected"):
                # The binary's hint names its flag; here the setting is the operator's.
                message += f" (here: the {type(self).__name__}'s max_rejected= setting)"
            if code == binary.EXIT_OUT_OF_TIME and hasattr(self, "max_run_time"):
                message += f" (here: the {type(self).__name__}'s max_run_time= setting)"
            self.log.error("weir %s failed (exit %d): %s", self.subcommand, code, message)
            if code in self._final_codes:
                raise AirflowFailException(message)
            raise AirflowException(message)
        summary = json.loads(b"".join(stdout))
        self._summary = summary if isinstance(summary, dict) else None
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The stages this task read and committed, for the Airflow
        OpenLineage provider: from the committed manifest, as the command's
        `--json` summary reports it."""
        return lineage.operator_lineage(self._summary)

    def on_kill(self) -> None:
        """Stops the command when Airflow kills the task (timeout, marked failed)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()


class _WeirOperator(_WeirCommand):
    """Runs one `weir` subcommand for a pipeline step and the task's data interval."""

    template_fields: Sequence[str] = ("pipeline", "step", "extra_args", "env")

    def __init__(self, *, pipeline: str, step: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.step = step

    def _positional(self) -> list[str]:
        return [str(self.pipeline), str(self.step)]


class WeirStageOperator(_WeirCommand):
    """Stages NDJSON files into a stage for the task's data interval (`weir stage`).

    :param stage: the stage to write to: a local path or a URL (`s3://...`).
    :param inputs: the NDJSON files to stage (plain or gzip), in order; one
        path or a list.
    :param max_rejected: the error budget (`10`, `"1%"`, `0.01`); default:
        the binary's, 0.
    :param max_batch_bytes: the most uncompressed bytes in one part
        (`"64MiB"`); smaller parts shard better downstream.
    :param extra_args: more flags for `weir stage` (e.g. `["--compression-level", "9"]`).
    :param env: extra environment variables (store credentials, `RUST_LOG`).
    :param weir_bin: the binary to run, as for `WeirRunOperator`.

    Returns `weir stage --json`'s summary. Exit 2 (usage) and 3 (more lines
    rejected than the budget allows; nothing committed) fail the task at
    once; other failures raise `AirflowException`, so retries apply.
    """

    subcommand = "stage"
    template_fields: Sequence[str] = ("stage", "inputs", "max_rejected", "max_batch_bytes", "extra_args", "env")

    def __init__(
        self,
        *,
        stage: str,
        inputs: str | Sequence[str],
        max_rejected: str | int | float | None = None,
        max_batch_bytes: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stage = stage
        self.inputs = inputs
        self.max_rejected = max_rejected
        self.max_batch_bytes = max_batch_bytes

    def _positional(self) -> list[str]:
        return [str(self.stage)]

    def _options(self) -> dict[str, Any]:
        return {"max_rejected": self.max_rejected, "max_batch_bytes": self.max_batch_bytes}

    def _inputs(self) -> list[str]:
        inputs = [self.inputs] if isinstance(self.inputs, (str, os.PathLike)) else list(self.inputs)
        if not inputs:
            raise AirflowFailException("WeirStageOperator: `inputs` is empty; name the files to stage")
        return [os.fspath(i) for i in inputs]

    def execute(self, context: Any) -> dict[str, Any]:
        summary = self._run(context)
        totals = summary.get("totals", {})
        self.log.info(
            "Staged %s records (%s quarantined) to %s",
            totals.get("records"),
            totals.get("quarantined"),
            summary.get("manifest"),
        )
        return summary


class WeirRunOperator(_WeirOperator):
    """Runs one step of a Weir pipeline file for the task's data interval.

    :param pipeline: path of the pipeline file (`.toml`); its relative paths
        are resolved against the file, so the worker's directory does not matter.
    :param step: the step to run.
    :param max_rejected: overrides the step's error budget (`10`, `"1%"`, `0.01`).
    :param workers: overrides the number of worker threads.
    :param max_run_time: the longest the run may take (`"20m"` or a
        `timedelta`); past it the run stops between records, commits nothing
        and exits 7 (`AirflowException`, so retries apply). Unlike Airflow's
        `execution_timeout`, which kills the task, the run ends cleanly and says
        where it was. Overrides the step's `max_run_time`.
    :param shard: one work unit of `WeirPlanOperator` (`"INDEX/COUNT"`): the
        run seals that unit's output instead of committing it (map over the
        plan: `.partial(...).expand(shard=plan.output)`), and the error budget
        is checked by `WeirCommitOperator` over all shards.
    :param extra_args: more flags for `weir run` (e.g. `["--memory-limit", "512MiB"]`).
    :param env: extra environment variables for the run (store credentials,
        `RUST_LOG`); the worker's environment is inherited.
    :param weir_bin: the binary to run; default: `$WEIR_BIN`, then the
        installed wheel's, then `weir` on `PATH`.

    Exit 1 (a failure: store, module, config) and 7 (over `max_run_time`)
    raise `AirflowException`, so the task's retries apply; exit 2 (usage) and
    3 (more records rejected than the budget allows; nothing committed) raise
    `AirflowFailException`: a retry over the same input would fail the same way.
    """

    subcommand = "run"
    template_fields: Sequence[str] = ("pipeline", "step", "max_rejected", "max_run_time", "shard", "extra_args", "env")

    def __init__(
        self,
        *,
        max_rejected: str | int | float | None = None,
        workers: int | None = None,
        max_run_time: str | timedelta | None = None,
        shard: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_rejected = max_rejected
        self.workers = workers
        self.max_run_time = max_run_time
        self.shard = shard

    def _options(self) -> dict[str, Any]:
        run_time = self.max_run_time
        if isinstance(run_time, timedelta):
            run_time = f"{run_time.total_seconds():g}s"
        return {"max_rejected": self.max_rejected, "workers": self.workers, "max_run_time": run_time, "shard": self.shard}

    def execute(self, context: Any) -> dict[str, Any]:
        summary = self._run(context)
        if summary.get("committed") is False:
            self.log.info(
                "Sealed shard %s: %s records in, %s out, %s quarantined, as %s (not committed)",
                summary.get("shard"),
                summary.get("input_records"),
                summary.get("records"),
                summary.get("quarantined"),
                summary.get("result"),
            )
        else:
            totals = summary.get("totals", {})
            self.log.info(
                "Committed %s records (%s quarantined) to %s",
                totals.get("records"),
                totals.get("quarantined"),
                summary.get("manifest"),
            )
        return summary


class WeirExtractOperator(_WeirOperator):
    """Runs an extract step of a Weir pipeline file for the task's data
    interval (`weir extract PIPELINE STEP`): rows of a PostgreSQL table or
    query, usually on a read replica, committed as the interval of the
    step's output stage (docs/extract.md). The source's password comes from
    `PGPASSWORD` or `PGPASSFILE` (pass it through `env`, e.g. from an
    Airflow connection), never from the pipeline file.

    :param shard: one unit of a `WeirPlanOperator` with `shards=` (`"INDEX/COUNT"`):
        the extract reads that shard's key range and seals it instead of
        committing (map over the plan: `.partial(...).expand(shard=plan.output)`);
        `WeirCommitOperator` merges the shards.
    :param connections: read the interval over this many connections at
        once, in this one task, and commit once (`--connections N`; the
        same key ranges as `shards=`, without the plan and commit tasks); a
        consistent step then reads all of them in one exported snapshot,
        which `shard=` cannot do. Overrides the step's `connections`; not
        with `shard`.
    :param extra_args: more flags for `weir extract` (`["--page-rows", "50000"]`).
    :param env: extra environment variables (`PGPASSWORD`, `RUST_LOG`).
    :param weir_bin: the binary to run, as for `WeirRunOperator`.

    Returns `weir extract --json`'s summary (the manifest's `extract`
    record: rows, pages, retries, replay positions). Exit 5 (the source
    failed: connection, retries exhausted, timeout) and 1 raise
    `AirflowException`, so retries apply; exit 2 (usage) and 6 (a row that
    cannot be extracted exactly, a key that is not unique) fail the task at
    once.
    """

    subcommand = "extract"
    template_fields: Sequence[str] = ("pipeline", "step", "shard", "connections", "extra_args", "env")
    _final_codes = (binary.EXIT_USAGE, binary.EXIT_NOT_EXACT)

    def __init__(self, *, shard: str | None = None, connections: int | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shard = shard
        self.connections = connections

    def _options(self) -> dict[str, Any]:
        return {"shard": self.shard, "connections": self.connections}

    def execute(self, context: Any) -> dict[str, Any]:
        summary = self._run(context)
        if summary.get("committed") is False:
            self.log.info(
                "Sealed shard %s: %s rows, keys %s to before %s, as %s (not committed)",
                summary.get("shard"),
                summary.get("rows"),
                summary.get("from_key"),
                summary.get("to_key"),
                summary.get("result"),
            )
        else:
            extract = summary.get("extract") or {}
            self.log.info(
                "Extracted %s rows in %s pages (%s retries) to %s",
                extract.get("rows"),
                extract.get("pages"),
                extract.get("retries"),
                summary.get("manifest"),
            )
        return summary


class WeirPlanOperator(_WeirOperator):
    """Lists the work units of a step's interval (`weir plan`).

    Returns the units as a list of `"INDEX/COUNT"` strings, the XCom to map
    a `WeirRunOperator` (or, for an extract step, a `WeirExtractOperator`)
    over; the whole plan goes to the task log.

    :param parts_per_shard: for a transform step, the most input parts in
        one unit; units are balanced, so e.g. 10 parts at 4 per shard make 3
        units of 3, 3 and 4 parts.
    :param shards: for an extract step, how many key ranges to cut the
        interval's rows into (of about the same number of rows); the plan is
        kept in the output stage, where each shard reads its range.
    """

    subcommand = "plan"
    template_fields: Sequence[str] = ("pipeline", "step", "parts_per_shard", "shards", "extra_args", "env")

    def __init__(self, *, parts_per_shard: int | str = 1, shards: int | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parts_per_shard = parts_per_shard
        self.shards = shards

    def _wants_end(self) -> bool:
        return self.shards is not None

    def _options(self) -> dict[str, Any]:
        if self.shards is not None:
            return {"shards": self.shards}
        return {"parts_per_shard": self.parts_per_shard}

    def execute(self, context: Any) -> list[str]:
        plan = self._run(context)
        if self.shards is not None:
            self.log.info("Planned %d key range(s) of %s: %s", plan["count"], plan.get("key"), json.dumps(plan["units"]))
        else:
            self.log.info(
                "Planned %d shard(s) over %s parts, %s records of %s: %s",
                plan["count"],
                plan["parts"],
                plan["records"],
                plan["input"],
                json.dumps(plan["units"]),
            )
        return list(plan["shards"])


class WeirCommitOperator(_WeirOperator):
    """Merges the sealed shards of a step's interval into one commit (`weir commit`).

    :param shards: the plan's units (`plan.output`: the list, resolved at run
        time) or their count; the commit then merges exactly that plan's
        shards and fails naming any that is missing.
    :param max_rejected: overrides the step's error budget, over all shards.

    Returns the commit's JSON summary. A commit retried after it succeeded
    finds its own commit and succeeds again (`already_committed`).
    """

    subcommand = "commit"
    template_fields: Sequence[str] = ("pipeline", "step", "shards", "max_rejected", "extra_args", "env")

    def __init__(
        self,
        *,
        shards: Any = None,
        max_rejected: str | int | float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shards = shards
        self.max_rejected = max_rejected

    def _options(self) -> dict[str, Any]:
        count = self.shards
        if isinstance(count, (list, tuple)):
            count = len(count)
        elif count is not None and not isinstance(count, int):
            # A mapped task's XCom arrives as a lazy sequence.
            try:
                count = len(count)  # type: ignore[arg-type]
            except TypeError:
                count = int(count)
        return {"shards": count, "max_rejected": self.max_rejected}

    def execute(self, context: Any) -> dict[str, Any]:
        summary = self._run(context)
        totals = summary.get("totals", {})
        self.log.info(
            "%s %d shard(s): %s records (%s quarantined) to %s",
            "Already committed" if summary.get("already_committed") else "Committed",
            len(summary.get("shards", [])),
            totals.get("records"),
            totals.get("quarantined"),
            summary.get("manifest"),
        )
        return summary


def sharded_step(
    step: str,
    *,
    pipeline: str,
    parts_per_shard: int | str = 1,
    shards: int | str | None = None,
    max_rejected: str | int | float | None = None,
    workers: int | None = None,
    env: Mapping[str, str] | None = None,
    group_id: str | None = None,
    run_args: Sequence[str] = (),
    commit_args: Sequence[str] = (),
    **kwargs: Any,
) -> TaskGroup:
    """One pipeline step as plan → mapped runs → commit, in a task group.

    Inside a `DAG` context:

        clean = sharded_step("clean", pipeline=PIPELINE, parts_per_shard=4)
        categorize = sharded_step("categorize", pipeline=PIPELINE)
        clean >> categorize

    An extract step is sharded by key ranges instead of input parts: give
    `shards=N` (`weir plan --shards N`), and the mapped tasks are
    `WeirExtractOperator`s:

        raw = sharded_step("raw", pipeline=PIPELINE, shards=4, env={"PGPASSWORD": "..."})
        raw >> clean

    Each mapped run is its own task instance, so the executor (Celery,
    Kubernetes) spreads the shards over its workers; the stages must then be
    on a store every worker reaches (S3). `kwargs` (retries, pool, ...) go to
    every task of the group.

    Flags: `extra_args` go to all three commands, so only flags `weir plan`,
    `weir run` and `weir commit` all take (`--retries`, `--retry-timeout`,
    `-v`); `run_args` only to the runs (`["--memory-limit", "512MiB"]`);
    `commit_args` only to the commit (`["--orphan-grace", "2h"]`).
    """
    shared = [str(a) for a in kwargs.pop("extra_args", ())]
    common = {"pipeline": pipeline, "step": step, "env": dict(env or {}), **kwargs}
    with TaskGroup(group_id=group_id or step) as group:
        plan = WeirPlanOperator(
            task_id="plan", parts_per_shard=parts_per_shard, shards=shards, extra_args=shared, **common
        )
        if shards is not None:
            # An extract step: each shard reads its key range of the plan.
            runs = WeirExtractOperator.partial(
                task_id="run",
                extra_args=[*shared, *(str(a) for a in run_args)],
                **common,
            ).expand(shard=plan.output)
        else:
            # The runs need the budget too: a shard fails at once when its own
            # rejections exceed a count budget, so without it every shard would
            # check the pipeline file's budget (0 by default), not this one.
            runs = WeirRunOperator.partial(
                task_id="run",
                max_rejected=max_rejected,
                workers=workers,
                extra_args=[*shared, *(str(a) for a in run_args)],
                **common,
            ).expand(shard=plan.output)
        commit = WeirCommitOperator(
            task_id="commit",
            shards=plan.output,
            max_rejected=max_rejected,
            extra_args=[*shared, *(str(a) for a in commit_args)],
            **common,
        )
        plan >> runs >> commit
    return group
