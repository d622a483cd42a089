#!/usr/bin/env python3
"""Writes a big lake for `weir report` to read: two stages, raw and clean,
of N hourly intervals each, as manifests (what `weir report` reads).

Cheap: a manifest lists parts (with realistic counts and sizes) that are
not written, since a report never reads a data part (`weir cat` on this
lake fails, naming the missing part). Every 50th interval has a real
quarantine part (gzip NDJSON entries), which the report samples for its top
reasons; every 997th interval is missing from both stages; clean's
interval after the middle one is made with another module build; every
200th clean interval was replayed. Deterministic (seed 7).

Usage: scripts/gen-lake.py DIR [--intervals N] [--url URL]   (default 10,000)
Then:  target/release/weir report DIR/raw DIR/clean -o DIR/report.html
"""

import argparse
import datetime as dt
import gzip
import hashlib
import json
import os
import random

START = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)
RUN = "20261201T000000Z-0123456789ab"
MODULES = ["1" * 64, "2" * 64]
REASONS = [
    ("invalid JSON: expected value at line 1 column {c}", None),
    ("a JSON array where an object belongs", None),
    ("field `text` is a number, not a string", "normalize"),
]


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def folder(t):
    return "interval=" + t.strftime("%Y%m%dT%H%M%SZ")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def manifest(stage_url, t, records, quarantine, command, transforms, lineage, replays):
    part_records = [records // 2, records - records // 2]
    parts = [
        {
            "path": f"{folder(t)}/part-{k:05}-{RUN}.ndjson.gz",
            "records": n,
            "uncompressed_bytes": n * 300,
            "compressed_bytes": n * 90,
            "sha256": hashlib.sha256(f"{stage_url}{t}{k}".encode()).hexdigest(),
        }
        for k, n in enumerate(part_records)
    ]
    quarantined = sum(p["records"] for p in quarantine)
    total = lambda key: sum(p[key] for p in parts)
    m = {
        "format_version": 1,
        "stage": stage_url,
        "interval": {"start": rfc3339(t), "end": rfc3339(t + dt.timedelta(hours=1)), "folder": folder(t)},
        "run_id": RUN,
        "created": rfc3339(t + dt.timedelta(hours=1, minutes=5)),
        "producer": {"name": "weir", "version": "0.1.0", "command": command, "transforms": transforms},
        "parts": parts,
        "quarantine": {"records": quarantined, "parts": quarantine},
        "totals": {
            "parts": len(parts),
            "records": records,
            "uncompressed_bytes": total("uncompressed_bytes"),
            "compressed_bytes": total("compressed_bytes"),
            "input_records": records + quarantined,
            "quarantined": quarantined,
            "filtered": 0,
            "blank_lines": 0,
        },
        "lineage": lineage,
    }
    if replays:
        m["replays"] = replays
    return (json.dumps(m, indent=2) + "\n").encode()


def quarantine_part(root, stage, t, rng, transform):
    entries = []
    for line in range(rng.randint(1, 40)):
        reason, by = rng.choice([r for r in REASONS if (r[1] is None) == (transform is None)])
        e = {"object": "in.ndjson", "line": line + 1, "reason": reason.format(c=rng.randint(1, 80)),
             "record": '{"id":%d,"text":%d}' % (line, rng.randint(0, 99))}
        if by:
            e.update({"input_stage": "raw", "transform": by, "module_sha256": MODULES[0]})
        entries.append(json.dumps(e))
    body = ("\n".join(entries) + "\n").encode()
    stored = gzip.compress(body, mtime=0)
    rel = f"_quarantine/{folder(t)}/part-00000-{RUN}.ndjson.gz"
    write(os.path.join(root, stage, rel), stored)
    return [{"path": rel, "records": len(entries), "uncompressed_bytes": len(body),
             "compressed_bytes": len(stored), "sha256": hashlib.sha256(stored).hexdigest()}]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--intervals", type=int, default=10_000)
    ap.add_argument("--url", help="where the report reads DIR (e.g. s3://lake/bench when DIR "
                    "is that prefix's folder in an s3s-fs root); default file://DIR")
    a = ap.parse_args()
    rng = random.Random(7)
    root = os.path.abspath(a.dir)
    base = (a.url or "file://" + root).rstrip("/")
    urls = {s: f"{base}/{s}" for s in ("raw", "clean")}
    for k in range(a.intervals):
        if k % 997 == 996:
            continue
        t = START + dt.timedelta(hours=k)
        records = rng.randint(9_000, 11_000) * (3 if k % 2500 == 1234 else 1)
        q = quarantine_part(root, "raw", t, rng, None) if k % 50 == 0 else []
        raw = manifest(urls["raw"], t, records, q, "stage", [], [], [])
        write(os.path.join(root, "raw", folder(t), "_manifest.json"), raw)
        module = MODULES[0] if k <= a.intervals // 2 else MODULES[1]
        transforms = [{"name": "normalize", "module_sha256": module, "module_bytes": 180_000,
                       "config_sha256": "3" * 64, "limits": {}, "grants": [], "records_in": records,
                       "records_out": records, "emitted": records, "filtered": 0, "quarantined": 0}]
        q = quarantine_part(root, "clean", t, rng, "normalize") if k % 50 == 25 else []
        for p in q:
            transforms[0]["records_out"] -= p["records"]
            transforms[0]["emitted"] -= p["records"]
            transforms[0]["quarantined"] += p["records"]
        lineage = [{"stage": urls["raw"], "interval": rfc3339(t),
                    "manifest_sha256": hashlib.sha256(raw).hexdigest()}]
        replays = []
        if k % 200 == 199:
            replays = [{"run_id": RUN, "created": rfc3339(t + dt.timedelta(days=1)),
                        "previous_manifest_sha256": "4" * 64, "transforms": transforms,
                        "replayed": 1, "recovered": 1, "not_replayable": 0}]
        clean = manifest(urls["clean"], t, records - sum(p["records"] for p in q), q, "run",
                         transforms, lineage, replays)
        write(os.path.join(root, "clean", folder(t), "_manifest.json"), clean)


if __name__ == "__main__":
    main()
