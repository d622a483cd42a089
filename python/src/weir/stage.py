"""Reading and writing staged intervals as pandas DataFrames.

Reads go through the interval's manifest (`weir ls STAGE --interval WHEN
--json`), never a glob, so a crashed attempt's leftovers are never read.
Each listed part is read directly, checked against the manifest's size and
sha256 (the same check `weir cat` makes), and parsed line by line with
Python's `json`, which keeps integers of any size exact (`pd.read_json`
refuses integers beyond 64 bits). Writes pipe NDJSON into `weir stage`.
`weir.frame` converts between records and DataFrames; this module owns the
stage side: stage paths, manifests, parts.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import urlparse
from urllib.request import url2pathname

from . import binary, frame

if TYPE_CHECKING:
    import pandas as pd


def stage_arg(url: str | os.PathLike[str]) -> str:
    """A stage as the binary takes it: URLs as they are, local paths made
    absolute here, so a relative path with `..` (a notebook in a subfolder
    reading `../lake/raw`) names the folder it means. The binary refuses `..`
    in a stage, where it is only dangerous inside a stage's keys.
    """
    text = os.fspath(url)
    scheme, sep, _ = text.partition("://")
    if sep and scheme and all(c.isalnum() or c == "+" for c in scheme):
        return text
    return os.path.abspath(text)


def manifest(url: str | os.PathLike[str], interval: Any) -> dict[str, Any]:
    """The committed manifest of one interval of a stage (`weir ls --json`)."""
    return binary.run_json(["ls", stage_arg(url), "--interval", binary.interval_arg(interval)])


def iter_batches(
    url: str | os.PathLike[str], interval: Any, *, quarantine: bool = False, dtypes: Any = None
) -> Iterator["pd.DataFrame"]:
    """Yields one DataFrame per committed part of an interval, in order.

    With `quarantine=True`, the interval's quarantined records instead (one
    row per rejected record: `object`, `line`, `reason`, `record`, ...).
    `dtypes` is as for [`read_stage`].
    """
    m = manifest(url, interval)
    for part in parts_of(m, quarantine=quarantine):
        yield frame.frame_of_records(records_of_part(m["stage"], part), dtypes=dtypes)


def read_stage(
    url: str | os.PathLike[str], interval: Any, *, quarantine: bool = False, dtypes: Any = None
) -> "pd.DataFrame":
    """All committed records of an interval as one DataFrame.

    `url` is anything `weir` accepts as a stage: a local path, `file://`,
    `s3://`, `gs://` or `az://` (the last three read through fsspec, so they
    need s3fs, gcsfs or adlfs installed). `interval` is its start: a string
    (`2026-11-26`, `20261126T000000`, RFC 3339), a datetime or a date.
    Values are what the JSON holds: nested objects are dicts, integers
    beyond 64 bits stay exact Python ints, integers with nulls are nullable
    `Int64`. `dtypes` asks for typed columns: a mapping of column to dtype
    (`{"ts": "datetime64[ns, UTC]", "n": "Int64"}`; timestamps are parsed as
    ISO 8601), or `"infer"`, which makes timestamps of every column of ISO
    8601 timestamp strings (naive ones stay naive; ones with offsets become
    UTC). See `weir.frame` for the whole policy.
    """
    m = manifest(url, interval)
    records = [r for part in parts_of(m, quarantine=quarantine) for r in records_of_part(m["stage"], part)]
    return frame.frame_of_records(records, dtypes=dtypes)


def write_stage(
    df: "pd.DataFrame",
    url: str | os.PathLike[str],
    interval: Any,
    *,
    naive_timezone: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Stages a DataFrame as one interval and returns `weir stage`'s summary.

    Rows become NDJSON records, every value kept exactly or refused with an
    error naming the column (`weir.frame`): integers of any size and nullable
    integers as integers, floats to the last digit, timestamps to the
    microsecond (or nanosecond) as ISO 8601, aware ones with their offset and
    naive ones without (or localised to `naive_timezone`, e.g. `"UTC"`).
    `NaN` and `NaT` become null, with a `weir.frame.MissingValuesWarning`
    naming the columns. Keyword options become flags of `weir stage`:
    `interval_end=...`, `max_rejected="1%"`, `max_batch_bytes="64MiB"`,
    `compression_level=9`, ... A rejected row over the budget raises
    [`OverBudgetError`] and commits nothing.
    """
    body = frame.ndjson_of(df, naive_timezone=naive_timezone)
    if options.get("interval_end") is not None:
        options = {**options, "interval_end": binary.interval_arg(options["interval_end"])}
    args = ["stage", stage_arg(url), "--interval", binary.interval_arg(interval), *binary.option_args(options), "-"]
    return binary.run_json(args, stdin=body)


def parts_of(manifest: dict[str, Any], *, quarantine: bool) -> list[dict[str, Any]]:
    """The data parts (or quarantine parts) a manifest lists."""
    if quarantine:
        return list((manifest.get("quarantine") or {}).get("parts", []))
    return list(manifest.get("parts", []))


def records_of_part(stage: str, part: dict[str, Any]) -> list[dict[str, Any]]:
    """One part's records, after checking its size and sha256."""
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
    with io.TextIOWrapper(decompressed(part, data), encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def decompressed(part: dict[str, Any], data: bytes) -> io.BufferedIOBase:
    """A part's bytes decompressed by the codec its manifest lists (gzip when
    it lists none, as every manifest before zstd). zstd needs the `zstandard`
    package (`pip install weir[zstd]`), as pandas does for `compression="zstd"`.
    """
    codec = part.get("codec", "gzip")
    if codec == "gzip":
        return gzip.GzipFile(fileobj=io.BytesIO(data))
    if codec == "zstd":
        try:
            import zstandard
        except ImportError as e:
            raise ImportError(f"{part['path']} is zstd: reading it needs the zstandard package") from e
        # Parts are many frames; read_across_frames reads them all.
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    raise ValueError(f"{part['path']}: unknown codec {codec!r}")


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
