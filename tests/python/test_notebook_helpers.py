"""weir.read_stage / iter_batches / write_stage / run_transform against the real binary."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import weir
from conftest import SAMPLE


def records_of_cat(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_wheel_installs_the_binary_next_to_python_and_python_m_weir_runs_it(weir_bin, weir_cli):
    assert Path(weir_bin).name == "weir"
    version = weir_cli("--version").stdout
    assert version.startswith("weir ")
    via_module = subprocess.run([sys.executable, "-m", "weir", "--version"], capture_output=True, text=True, check=True)
    assert via_module.stdout == version


def test_read_stage_returns_what_weir_cat_prints(lake, weir_cli):
    weir_cli("stage", lake / "raw", "--interval", "2026-11-26", "--max-rejected", "1%", SAMPLE)
    df = weir.read_stage(str(lake / "raw"), "2026-11-26")
    expected = records_of_cat(weir_cli("cat", lake / "raw", "--interval", "2026-11-26").stdout)
    assert len(df) == 1200
    assert df.to_dict("records") == pd.DataFrame.from_records(expected).to_dict("records")
    # Integers beyond 64 bits (customer ids in the sample) stay exact.
    assert df.loc[0, "customer"]["id"] == expected[0]["customer"]["id"] > 2**64


def test_read_stage_quarantine_lists_rejected_lines_with_their_location(lake, weir_cli):
    weir_cli("stage", lake / "raw", "--interval", "2026-11-26", "--max-rejected", "1%", SAMPLE)
    q = weir.read_stage(str(lake / "raw"), "2026-11-26", quarantine=True)
    assert sorted(q["line"]) == [401, 951]
    assert set(q["object"]) == {str(SAMPLE)}
    assert any("a JSON array where an object belongs" in r for r in q["reason"])


def test_iter_batches_yields_one_frame_per_part_in_order(lake, weir_cli):
    lines = "".join(json.dumps({"n": i, "pad": "x" * 200}) + "\n" for i in range(300))
    weir_cli("stage", lake / "raw", "--interval", "2026-11-26", "--max-batch-bytes", "16KiB", "-", stdin=lines)
    parts = weir.manifest(str(lake / "raw"), "2026-11-26")["parts"]
    batches = list(weir.iter_batches(str(lake / "raw"), "2026-11-26"))
    assert len(parts) > 1
    assert [len(b) for b in batches] == [p["records"] for p in parts]
    assert list(pd.concat(batches)["n"]) == list(range(300))


def test_read_stage_ignores_leftovers_no_manifest_lists(lake, weir_cli):
    weir_cli("stage", lake / "raw", "--interval", "2026-11-26", "-", stdin='{"a":1}\n')
    folder = lake / "raw" / "interval=20261126T000000Z"
    with gzip.open(folder / "part-00000-20261126T000000Z-000000000000.ndjson.gz", "wt") as f:
        f.write('{"a":"crashed attempt"}\n')
    assert weir.read_stage(str(lake / "raw"), "2026-11-26").to_dict("records") == [{"a": 1}]


def test_read_stage_refuses_a_part_that_does_not_match_its_manifest(lake, weir_cli):
    weir_cli("stage", lake / "raw", "--interval", "2026-11-26", "-", stdin='{"a":1}\n{"a":2}\n')
    part = lake / "raw" / weir.manifest(str(lake / "raw"), "2026-11-26")["parts"][0]["path"]
    other = lake / "other"
    weir_cli("stage", other, "--interval", "2026-11-26", "-", stdin='{"a":3}\n{"a":4}\n')
    shutil.copy(other / weir.manifest(str(other), "2026-11-26")["parts"][0]["path"], part)
    with pytest.raises(weir.WeirError, match="sha256"):
        weir.read_stage(str(lake / "raw"), "2026-11-26")


def test_read_stage_of_an_uncommitted_interval_raises_the_binarys_message(lake, weir_cli):
    weir_cli("stage", lake / "raw", "--interval", "2026-11-25", "-", stdin='{"a":1}\n')
    with pytest.raises(weir.WeirError, match="is not committed") as err:
        weir.read_stage(str(lake / "raw"), "2026-11-26")
    assert err.value.code == 1


def test_read_stage_of_a_missing_stage_says_it_does_not_exist_and_creates_nothing(lake):
    with pytest.raises(weir.WeirError, match="does not exist") as err:
        weir.read_stage(str(lake / "typo"), "2026-11-26")
    assert err.value.code == 1
    assert not (lake / "typo").exists()


def test_write_stage_round_trips_a_dataframe(lake, weir_cli):
    df = pd.DataFrame({"id": [1, 2, 3], "text": ["a", "b", None], "score": [0.5, 1.25, 2.0]})
    summary = weir.write_stage(df, str(lake / "w"), pd.Timestamp("2026-11-26T06:00:00Z"), interval_end="2026-11-26T07:00:00Z")
    assert summary["totals"]["records"] == 3
    assert summary["interval"]["folder"] == "interval=20261126T060000Z"
    assert weir.manifest(str(lake / "w"), "2026-11-26T06:00:00Z")["interval"]["end"] == "2026-11-26T07:00:00Z"
    back = weir.read_stage(str(lake / "w"), "20261126T060000")
    pd.testing.assert_frame_equal(back, df)
    assert records_of_cat(weir_cli("cat", lake / "w", "--interval", "2026-11-26T06:00:00Z").stdout)[2] == {
        "id": 3, "text": None, "score": 2.0,
    }


def test_write_stage_passes_options_as_flags(lake):
    df = pd.DataFrame({"n": range(100), "pad": ["y" * 100] * 100})
    summary = weir.write_stage(df, str(lake / "w"), "2026-11-26", max_batch_bytes="4KiB", compression_level=1)
    assert summary["totals"]["parts"] > 1


def test_run_transform_gives_what_weir_run_commits(lake, weir_cli, normalize_wasm):
    weir_cli("stage", lake / "raw", "--interval", "2026-11-26", "--max-rejected", "1%", SAMPLE)
    df = weir.read_stage(str(lake / "raw"), "2026-11-26")
    config = {"fields": ["text", "notes.body"]}
    out, quarantined = weir.run_transform(normalize_wasm, df, config=config)
    weir_cli(
        "run", "--input", lake / "raw", "--output", lake / "clean", "--interval", "2026-11-26",
        "--transform", normalize_wasm, "--config", json.dumps(config),
    )
    direct = records_of_cat(weir_cli("cat", lake / "clean", "--interval", "2026-11-26").stdout)
    assert out.to_dict("records") == direct
    assert quarantined.empty
    assert out.attrs["weir_run"]["transforms"][0]["records_out"] == 1200


def test_run_transform_returns_rejected_records_in_the_quarantine_frame(normalize_wasm):
    df = pd.DataFrame.from_records([{"id": 1, "text": "  Hello  "}, {"id": 2, "text": 42}])
    out, quarantined = weir.run_transform(normalize_wasm, df, config={"fields": ["text"]})
    assert out.to_dict("records") == [{"id": 1, "text": "hello"}]
    assert len(quarantined) == 1
    assert "field `text` is a number, not a string" in quarantined.loc[0, "reason"]
    assert json.loads(quarantined.loc[0, "record"]) == {"id": 2, "text": 42}


def test_run_transform_with_production_budget_raises_over_budget(normalize_wasm):
    df = pd.DataFrame.from_records([{"id": 1, "text": "ok"}, {"id": 2, "text": 42}])
    with pytest.raises(weir.OverBudgetError, match="over the budget") as err:
        weir.run_transform(normalize_wasm, df, config={"fields": ["text"]}, max_rejected=0)
    assert err.value.code == 3


def test_run_transform_with_a_bad_config_raises_the_modules_message(normalize_wasm):
    df = pd.DataFrame.from_records([{"text": "x"}])
    with pytest.raises(weir.WeirError, match="lower"):
        weir.run_transform(normalize_wasm, df, config={"fields": ["text"], "lower": False})
