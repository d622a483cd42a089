"""DataFrames to JSON records and back, losing nothing or refusing clearly.

This module owns the conversion between pandas values and JSON values; it
runs no binary and reads no store (`weir.stage` does both), and imports
nothing else from the package.

Writing (`ndjson_of`), column by column:

- integers of any dtype (`int64`, nullable `Int64`, Python ints beyond 64
  bits in an `object` column) are written exactly; `pd.NA` is `null`;
- floats are written as Python's `repr`, which reads back to the same
  double (pandas' own `to_json` keeps only 10 significant digits); `NaN` is
  written as `null` with a warning naming the columns, and infinities are
  refused (JSON has no spelling for them);
- timestamps keep every digit they have (microseconds, nanoseconds) as ISO
  8601. **Time zones:** a time-zone-aware timestamp is written with its own
  UTC offset (`2026-11-26T07:00:00.123456+01:00`); a naive one is written
  as it is, without an offset (`2026-11-26T06:00:00.123456`): Weir does not
  guess a zone for a value. Pass `naive_timezone="UTC"` (or any zone name) to
  `write_stage` to localise naive timestamps before they are written. `NaT`
  is `null`, with the same warning as `NaN`;
- booleans, strings, dicts and lists are written as JSON; anything JSON
  cannot hold exactly (timedeltas, bytes, sets, ...) is refused with a
  `TypeError` naming the column and row.

Reading (`frame_of_records`): values are what the JSON holds; a column of
integers with nulls becomes nullable `Int64` (not `float64`, which would
round integers beyond 2**53), and one with integers beyond 64 bits stays a
column of exact Python ints; booleans with nulls become nullable `boolean`. `dtypes` asks for typed columns: a mapping of
column to dtype (the schema), or `"infer"` for pandas' own inference, which
turns columns of ISO 8601 timestamp strings into `datetime64` columns.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
import warnings
from typing import TYPE_CHECKING, Any, Iterable, Mapping

if TYPE_CHECKING:
    import pandas as pd

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: A value `dtypes="infer"` reads as a timestamp: an ISO 8601 date with a
#: time, optional fraction and optional offset.
ISO_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)


class MissingValuesWarning(UserWarning):
    """`NaN` or `NaT` values were written as JSON `null`."""


def pandas_module():
    """pandas, imported on first use, with a hint when it is missing."""
    try:
        import pandas
    except ImportError as e:
        raise ImportError("the weir DataFrame helpers need pandas: pip install pandas (or weir[pandas])") from e
    return pandas


def ndjson_of(df: "pd.DataFrame", *, naive_timezone: str | None = None) -> bytes:
    """The rows of `df` as NDJSON records (see the module docs for each dtype)."""
    pd = pandas_module()
    if not df.columns.is_unique:
        dup = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise ValueError(f"the DataFrame has duplicate column names: {', '.join(dup)}")
    names = [str(c) for c in df.columns]
    missing: list[str] = []
    columns = [
        json_column(name, df.iloc[:, i], naive_timezone=naive_timezone, missing=missing, pd=pd)
        for i, name in enumerate(names)
    ]
    if missing:
        warnings.warn(
            f"NaN/NaT written as null in column(s): {', '.join(missing)}",
            MissingValuesWarning,
            stacklevel=3,
        )
    lines = []
    for row, values in enumerate(zip(*columns)):
        record = dict(zip(names, values))
        try:
            lines.append(json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":")))
        except (TypeError, ValueError) as e:
            raise TypeError(f"row {df.index.tolist()[row]!r}: {e}") from None
    return "".join(line + "\n" for line in lines).encode("utf-8")


def json_column(
    name: str, series: "pd.Series", *, naive_timezone: str | None, missing: list[str], pd: Any
) -> list[Any]:
    """One column as a list of JSON-ready Python values."""
    import numpy as np

    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if naive_timezone is not None and getattr(dtype, "tz", None) is None:
            series = series.dt.tz_localize(naive_timezone)
        nat = series.isna()
        if nat.any():
            missing.append(name)
        return [None if gone else ts.isoformat() for ts, gone in zip(series, nat)]
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        values = series.to_numpy()
        inf = np.isinf(values)
        if inf.any():
            at = int(np.flatnonzero(inf)[0])
            raise ValueError(f"column {name!r}, row {series.index.tolist()[at]!r}: {values[at]} has no JSON spelling")
        nan = np.isnan(values)
        if nan.any():
            missing.append(name)
        return [None if gone else float(v) for v, gone in zip(values, nan)]
    if pd.api.types.is_timedelta64_dtype(dtype):
        raise TypeError(
            f"column {name!r} holds timedeltas, which JSON cannot hold exactly: convert them first "
            f"(e.g. df[{name!r}].dt.total_seconds() or .astype(str))"
        )
    values = series.astype(object).tolist()
    rows = series.index.tolist()
    return [json_value(name, rows[i], v, naive_timezone, missing, pd) for i, v in enumerate(values)]


def json_value(name: str, row: Any, value: Any, naive_timezone: str | None, missing: list[str], pd: Any) -> Any:
    """One value of an `object` or extension column, JSON-ready."""
    import numpy as np

    if value is None or value is pd.NA:
        return None
    if isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            if name not in missing:
                missing.append(name)
            return None
        if math.isinf(value):
            raise ValueError(f"column {name!r}, row {row!r}: {value} has no JSON spelling")
        return float(value)
    if value is pd.NaT:
        if name not in missing:
            missing.append(name)
        return None
    if isinstance(value, _dt.datetime):
        if naive_timezone is not None and value.tzinfo is None:
            value = pd.Timestamp(value).tz_localize(naive_timezone)
        return value.isoformat()
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_value(name, row, v, naive_timezone, missing, pd) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_value(name, row, v, naive_timezone, missing, pd) for v in value]
    raise TypeError(
        f"column {name!r}, row {row!r}: a {type(value).__name__} has no exact JSON form; convert it first"
    )


def frame_of_records(records: Iterable[dict], *, dtypes: Mapping[str, Any] | str | None = None) -> "pd.DataFrame":
    """Records (parsed JSON objects) as a DataFrame (see the module docs)."""
    pd = pandas_module()
    records = list(records)
    if not records:
        return pd.DataFrame()
    df = pd.DataFrame.from_records(records)
    # from_records makes float64 of integers with nulls; rebuild those exactly.
    for name in df.columns:
        values = [r.get(name) for r in records]
        present = [v for v in values if v is not None]
        if (
            len(present) < len(values)
            and present
            and all(type(v) is int for v in present)
            and all(INT64_MIN <= v <= INT64_MAX for v in present)
        ):
            df[name] = pd.array(values, dtype="Int64")
        elif len(present) < len(values) and present and all(type(v) is bool for v in present):
            df[name] = pd.array(values, dtype="boolean")
        elif df[name].dtype.kind == "f" and any(type(v) is int for v in present) and not all(
            abs(v) <= 2**53 for v in present if type(v) is int
        ):
            # A mix of floats and big integers: keep the integers exact.
            df[name] = pd.Series(values, dtype=object, index=df.index)
    if dtypes is None:
        return df
    if dtypes == "infer":
        for name in df.columns:
            if df[name].dtype == object:
                parsed = inferred_timestamps(df[name], pd)
                if parsed is not None:
                    df[name] = parsed
        return df
    if isinstance(dtypes, str):
        raise ValueError(f'dtypes is a mapping of column to dtype or "infer", not {dtypes!r}')
    for name, dtype in dtypes.items():
        if name not in df.columns:
            raise KeyError(f"dtypes names column {name!r}, which no record has")
        df[name] = typed_column(df[name], dtype, pd)
    return df


def inferred_timestamps(series: "pd.Series", pd: Any) -> "pd.Series | None":
    """`series` as timestamps if every value is an ISO 8601 timestamp string
    (or null) and all or none carry an offset; otherwise `None`."""
    present = series.dropna()
    if present.empty or not all(isinstance(v, str) for v in present):
        return None
    zones = set()
    for v in present:
        m = ISO_TIMESTAMP.fullmatch(v)
        if m is None:
            return None
        zones.add(m.group("zone") is not None)
    if len(zones) > 1:
        return None
    return pd.to_datetime(series, format="ISO8601", utc=zones == {True})


def typed_column(series: "pd.Series", dtype: Any, pd: Any) -> "pd.Series":
    """One column as the schema's dtype; timestamps are parsed as ISO 8601."""
    target = pd.api.types.pandas_dtype(dtype)
    if isinstance(target, pd.DatetimeTZDtype):
        return pd.to_datetime(series, format="ISO8601", utc=True).dt.tz_convert(target.tz).astype(target)
    if target.kind == "M":
        parsed = pd.to_datetime(series, format="ISO8601")
        if getattr(parsed.dtype, "tz", None) is not None:
            raise ValueError(f"column {series.name!r} holds timestamps with offsets; ask for e.g. 'datetime64[ns, UTC]'")
        return parsed.astype(target)
    return series.astype(target)
