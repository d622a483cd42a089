"""Reading and writing staged intervals as pandas DataFrames.

Reads go through the interval's manifest (`weir ls STAGE --interval WHEN
--json`), never a glob, so a crashed attempt's leftovers are never read.
Each listed part is read directly, checked against the manifest's size and
sha256 (the same check `weir cat` makes), and parsed line by line with
Python's `json`, which keeps integers of any size exact (`pd.read_json`
refuses integers beyond 64 bits). Writes pipe NDJSON into `weir stage`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import urlparse
from urllib.request import url2pathname

from . import binary

if TYPE_CHECKING:
    import pandas as pd


def pandas_module():
    """pandas, imported on first use, with a hint when it is missing."""
    try:
        import pandas
    except ImportError as e:
        raise ImportError("the weir DataFrame helpers need pandas: pip install pandas (or weir[pandas])") from e
    return pandas


def manifest(url: str, interval: Any) -> dict[str, Any]:
    """The committed manifest of one interval of a stage (`weir ls --json`)."""
    return binary.run_json(["ls", str(url), "--interval", binary.interval_arg(interval)])


def iter_batches(url: str, interval: Any, *, quarantine: bool = False) -> Iterator["pd.DataFrame"]:
    """Yields one DataFrame per committed part of an interval, in order.

    With `quarantine=True`, the interval's quarantined records instead (one
    row per rejected record: `object`, `line`, `reason`, `record`, ...).
    """
    m = manifest(url, interval)
    for part in parts_of(m, quarantine=quarantine):
        yield frame_of_part(m["stage"], part)


def read_stage(url: str, interval: Any, *, quarantine: bool = False) -> "pd.DataFrame":
    """All committed records of an interval as one DataFrame.

    `url` is anything `weir` accepts as a stage: a local path, `file://`,
    `s3://`, `gs://` or `az://` (the last three read through fsspec, so they
    need s3fs, gcsfs or adlfs installed). `interval` is its start: a string
    (`2026-11-26`, `20261126T000000`, RFC 3339), a datetime or a date.
    Values are what the JSON holds: nested objects are dicts, integers
    beyond 64 bits stay exact Python ints.
    """
    pd = pandas_module()
    m = manifest(url, interval)
    frames = [frame_of_part(m["stage"], part) for part in parts_of(m, quarantine=quarantine)]
    if not frames:
        return pd.DataFrame()
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def write_stage(df: "pd.DataFrame", url: str, interval: Any, **options: Any) -> dict[str, Any]:
    """Stages a DataFrame as one interval and returns `weir stage`'s summary.

    Rows become NDJSON records (`df.to_json(orient="records", lines=True)`,
    dates as ISO 8601, NaN as null). Keyword options become flags of
    `weir stage`: `interval_end=...`, `max_rejected="1%"`,
    `max_batch_bytes="64MiB"`, `compression_level=9`, ... A rejected row over
    the budget raises [`OverBudgetError`] and commits nothing.
    """
    body = df.to_json(orient="records", lines=True, date_format="iso")
    if options.get("interval_end") is not None:
        options = {**options, "interval_end": binary.interval_arg(options["interval_end"])}
    args = ["stage", str(url), "--interval", binary.interval_arg(interval), *binary.option_args(options), "-"]
    return binary.run_json(args, stdin=body.encode("utf-8"))


def parts_of(manifest: dict[str, Any], *, quarantine: bool) -> list[dict[str, Any]]:
    """The data parts (or quarantine parts) a manifest lists."""
    if quarantine:
        return list((manifest.get("quarantine") or {}).get("parts", []))
    return list(manifest.get("parts", []))


def frame_of_part(stage: str, part: dict[str, Any]) -> "pd.DataFrame":
    """One part as a DataFrame, after checking its size and sha256."""
    pd = pandas_module()
    location = join(stage, part["path"])
    data = read_object(location)
    if len(data) != part["compressed_bytes"]:
        raise binary.WeirError(
            f"{location}: {len(data)} bytes, the manifest says {part['compressed_bytes']}",
            code=binary.EXIT_VERIFY_MISMATCH, command=[], stderr="",
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != part["sha256"]:
        raise binary.WeirError(
            f"{location}: sha256 {digest}, the manifest says {part['sha256']}",
            code=binary.EXIT_VERIFY_MISMATCH, command=[], stderr="",
        )
    with gzip.open(io.BytesIO(data), "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    return pd.DataFrame.from_records(records) if records else pd.DataFrame()


def join(stage: str, path: str) -> str:
    """The URL of a manifest path (relative to the stage)."""
    return stage.rstrip("/") + "/" + path


def read_object(url: str) -> bytes:
    """The bytes of one object: a `file://` URL directly, others through fsspec."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        with open(url2pathname(parsed.path), "rb") as f:
            return f.read()
    if parsed.scheme == "memory":
        raise ValueError(f"{url}: a memory:// stage lives inside one weir process and cannot be read from Python")
    try:
        import fsspec
    except ImportError as e:
        raise ImportError(f"reading {url} needs fsspec with its {parsed.scheme}:// backend (s3fs, gcsfs or adlfs)") from e
    with fsspec.open(url, "rb") as f:
        return f.read()
