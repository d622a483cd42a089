"""Exactness of each reader in `scripts/bench extract`: how many values of
its output differ from the database's own text of the same row.

  bench-extract-exactness.py DB.tsv NAME=GLOB [NAME=GLOB ...]

DB.tsv is `\\copy (SELECT id, amount, big, ratio, updated_at FROM bench
ORDER BY id) TO STDOUT` in COPY's text format, with the session TimeZone UTC.
Each NAME=GLOB names a reader and its NDJSON output files (gzip'd or not,
found by their first bytes; `**` recurses). Rows are matched by `id`.

A value differs when:
- numeric (`amount numeric(14,2)`, `big numeric` with 30+ digits): its JSON
  text (a number's own spelling, or a string) is not the database's text,
  every digit and the scale. "value" counts the numerics that differ as
  numbers too (Decimal comparison), leaving out the ones that only lost
  trailing zeros of the scale. `NaN` counts apart: the value must read back
  as NaN.
- float8 (`ratio`): not the same double as the database's text (NaN only
  equals NaN; `Infinity`, `-Infinity` must be kept); null always differs.
- timestamptz (`updated_at`, with microseconds): not the same instant to the
  microsecond. A string is read as ISO 8601 (no offset: UTC); a bare number
  as milliseconds since the epoch (pandas' default date format).
A row missing from the output counts once under "rows missing", not per value.

Prints a Markdown table, one line per reader; then a second one with what
the database and each reader wrote for a few sample values (rows 1000,
1002 and 1234 when the table has them).
"""

import glob
import gzip
import json
import math
import sys
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Num(str):
    """A JSON number (or bare NaN/Infinity) token, spelled as written."""


def micros(text):
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    d = t - EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def tool_micros(v):
    if v is None:
        return None
    if v.lstrip("-").isdigit():
        return int(v) * 1000
    try:
        return micros(v)
    except ValueError:
        return None


def as_float(v):
    if v is None:
        return None
    try:
        return float(v)
    except ValueError:
        return None


def same_float(a, b):
    if a is None or b is None:
        return False
    if math.isnan(a):
        return math.isnan(b)
    return a == b


def as_decimal(v):
    if v is None:
        return None
    try:
        return Decimal(v)
    except InvalidOperation:
        return None


def load_db(path, samples):
    rows = {}
    wanted = {i for i, _ in SAMPLES}
    with open(path, encoding="utf-8") as f:
        for line in f:
            id_, amount, big, ratio, ts = line.rstrip("\n").split("\t")
            rows[int(id_)] = (amount, big, float(ratio), micros(ts))
            if int(id_) in wanted:
                text = {"big": big, "ratio": ratio, "updated_at": ts}
                for sid, col in SAMPLES:
                    if sid == int(id_):
                        samples[(sid, col)] = text[col]
    return rows


def open_any(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


KEYS = ["numeric text", "numeric value", "numeric NaN", "float8", "float8 NaN/Infinity", "timestamptz"]


SAMPLES = [(1000, "big"), (1234, "big"), (1002, "ratio"), (1234, "ratio"), (1234, "updated_at")]


def check(db, paths, samples):
    differ = dict.fromkeys(KEYS, 0)
    seen = bytearray(max(db) + 1)
    extra = 0
    numbers = {"parse_float": Num, "parse_int": Num, "parse_constant": Num}
    for path in paths:
        with open_any(path) as f:
            for line in f:
                r = json.loads(line, **numbers)
                id_ = int(r["id"])
                want = db.get(id_)
                if want is None or seen[id_]:
                    extra += 1
                    continue
                seen[id_] = 1
                for sid, col in SAMPLES:
                    if sid == id_:
                        samples[(sid, col)] = r.get(col)
                amount, big, ratio, ts = want
                for text, got in ((amount, r.get("amount")), (big, r.get("big"))):
                    if text == "NaN":
                        if not same_float(math.nan, as_float(got)):
                            differ["numeric NaN"] += 1
                        continue
                    if got != text:
                        differ["numeric text"] += 1
                        if as_decimal(got) != Decimal(text):
                            differ["numeric value"] += 1
                key = "float8" if math.isfinite(ratio) else "float8 NaN/Infinity"
                if not same_float(ratio, as_float(r.get("ratio"))):
                    differ[key] += 1
                if tool_micros(r.get("updated_at")) != ts:
                    differ["timestamptz"] += 1
    missing = len(db) - sum(seen)
    return differ, missing, extra


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    db_samples = {}
    db = load_db(sys.argv[1], db_samples)
    written = [("the database's text", db_samples, True)]
    totals = {"numeric text": 0, "numeric NaN": 0, "float8": 0, "float8 NaN/Infinity": 0}
    for amount, big, ratio, _ in db.values():
        for text in (amount, big):
            totals["numeric NaN" if text == "NaN" else "numeric text"] += 1
        totals["float8" if math.isfinite(ratio) else "float8 NaN/Infinity"] += 1
    totals["numeric value"] = totals["numeric text"]
    totals["timestamptz"] = len(db)
    print("| reader | rows missing | " + " | ".join(f"{k} (of {totals[k]})" for k in KEYS) + " |")
    print("|---|" + "---:|" * (len(KEYS) + 1))
    for arg in sys.argv[2:]:
        name, pattern = arg.split("=", 1)
        paths = sorted(glob.glob(pattern, recursive=True))
        if not paths:
            sys.exit(f"bench-extract-exactness: no files match {pattern} ({name})")
        samples = {}
        differ, missing, extra = check(db, paths, samples)
        written.append((name, samples, False))
        note = f" (+{extra} rows not in the table or repeated)" if extra else ""
        print(f"| {name} | {missing}{note} | " + " | ".join(str(differ[k]) for k in KEYS) + " |")
    print()
    print("| wrote | " + " | ".join(f"{col}, row {sid}" for sid, col in SAMPLES) + " |")
    print("|---|" + "---|" * len(SAMPLES))
    for name, samples, raw in written:
        def cell(key):
            if key not in samples:
                return ""
            v = samples[key]
            return f"`{v}`" if raw or isinstance(v, Num) else f"`{json.dumps(v)}`"
        print(f"| {name} | " + " | ".join(cell(k) for k in SAMPLES) + " |")


if __name__ == "__main__":
    main()
