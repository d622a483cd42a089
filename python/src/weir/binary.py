"""The `weir` binary: finding it and running it.

Everything in this package goes through the real binary, the same engine
production runs; nothing here re-implements staging or transforms. This
module owns locating the binary, turning Python values into its flags, and
turning its exit codes into exceptions. It imports nothing else from the
package.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any, Mapping, Sequence

#: Exit codes of the `weir` binary (`weir --help`).
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_OVER_BUDGET = 3
EXIT_VERIFY_MISMATCH = 4
EXIT_OUT_OF_TIME = 7
EXIT_SOURCE_FAILED = 5
EXIT_NOT_EXACT = 6


class WeirError(RuntimeError):
    """A `weir` command failed.

    `str(err)` is the binary's own message (the `error: ...` line naming what
    failed and where); `code` is its exit code, `command` its argv, `stderr`
    everything it logged. A part that fails the manifest's size or sha256
    check while Python reads it raises this with code 4, as `weir verify` would.
    """

    def __init__(self, message: str, *, code: int, command: Sequence[str], stderr: str):
        super().__init__(message)
        self.code = code
        self.command = list(command)
        self.stderr = stderr


class OverBudgetError(WeirError):
    """More records were rejected than `max_rejected` allows (exit 3); nothing was committed.

    From [`run_transform`], `quarantined` holds the rejected records as a DataFrame.
    """

    quarantined: Any = None


def find_binary() -> str:
    """The `weir` binary to run.

    In order: `$WEIR_BIN`; the `weir` script installed next to this package's
    Python (the wheel puts it there, so it is found even when the venv is not
    on `PATH`, as in a notebook kernel or an Airflow worker); `weir` on `PATH`.
    """
    explicit = os.environ.get("WEIR_BIN")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise FileNotFoundError(f"$WEIR_BIN is {explicit!r}, which is not an executable file")
        return explicit
    exe = "weir.exe" if sys.platform == "win32" else "weir"
    candidates = [Path(sysconfig.get_path("scripts")) / exe, Path(sys.executable).parent / exe]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("weir")
    if found:
        return found
    raise FileNotFoundError(
        "the `weir` binary was not found: install the weir wheel (scripts/build-wheel), "
        "put `weir` on PATH, or set $WEIR_BIN"
    )


def interval_arg(when: Any) -> str:
    """An interval start (or end) as the binary accepts it.

    Strings pass through (`2026-11-26`, `20261126T000000`, RFC 3339).
    Datetimes (including pandas Timestamps and Airflow's pendulum datetimes)
    become RFC 3339; naive ones are taken as UTC, like the binary's own
    reading of `ts_nodash`. Dates become `YYYY-MM-DD` (midnight UTC).
    """
    if isinstance(when, str):
        return when
    if isinstance(when, _dt.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.timezone.utc)
        return when.isoformat()
    if isinstance(when, _dt.date):
        return when.isoformat()
    raise TypeError(f"an interval is a string, datetime or date, not {type(when).__name__}")


def option_args(options: Mapping[str, Any]) -> list[str]:
    """Keyword options as flags: `max_rejected="1%"` → `--max-rejected 1%`.

    `True` gives the bare flag, `False` and `None` leave it out; lists repeat it.
    """
    args: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


def run(
    args: Sequence[str],
    *,
    stdin: bytes | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Runs `weir ARGS` to completion; raises [`WeirError`] unless it exits 0."""
    argv = [find_binary(), *args]
    proc = subprocess.run(
        argv,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
        check=False,
    )
    if proc.returncode != 0:
        raise error_of(proc.returncode, argv, proc.stderr.decode("utf-8", "replace"))
    return proc


def run_json(args: Sequence[str], **kwargs: Any) -> Any:
    """Runs `weir ARGS --json` and returns its stdout parsed as JSON."""
    proc = run([*args, "--json"], **kwargs)
    return json.loads(proc.stdout)


def error_of(code: int, argv: Sequence[str], stderr: str) -> WeirError:
    """The exception for a `weir` command that exited with `code`.

    Its message is the binary's `error: ...` line (without the prefix), or the
    last line of stderr, or the exit code when the binary said nothing.
    """
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    if errors:
        message = errors[-1][len("error: ") :]
    elif lines:
        message = lines[-1]
    else:
        message = f"exited with code {code}"
    kind = OverBudgetError if code == EXIT_OVER_BUDGET else WeirError
    return kind(f"weir {argv[1] if len(argv) > 1 else ''}: {message}", code=code, command=argv, stderr=stderr)
