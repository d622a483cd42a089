"""write_stage / read_stage / run_transform keep a mixed-dtype DataFrame's
values exactly, or refuse them naming the column (weir.frame's policy)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import weir
from weir.frame import MissingValuesWarning


def mixed_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "id": pd.array([1, None, 3], dtype="Int64"),
        "big": [2**70, 5, -(2**65)],
        "score": [0.1234567890123456, 2.5, 1e300],
        "naive": pd.to_datetime(["2026-11-26T06:00:00.123456", "2026-11-26T06:00:00.000001", "2026-11-26T07:00:00"], format="ISO8601"),
        "paris": pd.to_datetime(
            ["2026-11-26T06:00:00.123456Z", "2026-11-26T06:00:01Z", "2026-03-29T01:30:00Z"], format="ISO8601"
        ).tz_convert("Europe/Paris"),
        "text": ["a", None, "ü"],
        "flag": pd.array([True, None, False], dtype="boolean"),
        "nested": [{"x": 1}, [1, 2], None],
    })


def cat(weir_cli, stage, interval="2026-11-26") -> list[dict]:
    out = weir_cli("cat", stage, "--interval", interval).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_write_stage_keeps_microseconds_offsets_big_and_nullable_integers(lake, weir_cli):
    weir.write_stage(mixed_frame(), lake / "w", "2026-11-26")
    first, second, third = cat(weir_cli, lake / "w")
    assert first["naive"] == "2026-11-26T06:00:00.123456"  # naive: no offset invented
    assert second["naive"] == "2026-11-26T06:00:00.000001"
    assert first["paris"] == "2026-11-26T07:00:00.123456+01:00"
    assert third["paris"] == "2026-03-29T03:30:00+02:00"  # each row its own offset (DST)
    assert [r["id"] for r in (first, second, third)] == [1, None, 3]
    assert first["big"] == 2**70 and third["big"] == -(2**65)
    assert first["score"] == 0.1234567890123456  # all 16 digits, not pandas' 10
    assert second["flag"] is None and first["nested"] == {"x": 1}


def test_read_stage_gives_back_the_frame_with_a_schema(lake):
    df = mixed_frame()
    weir.write_stage(df, lake / "w", "2026-11-26")
    back = weir.read_stage(lake / "w", "2026-11-26", dtypes={"naive": "datetime64[ns]", "paris": "datetime64[ns, Europe/Paris]"})
    pd.testing.assert_frame_equal(back, df)


def test_read_stage_infers_timestamps_naive_as_naive_and_offsets_as_utc(lake):
    df = mixed_frame()
    weir.write_stage(df, lake / "w", "2026-11-26")
    back = weir.read_stage(lake / "w", "2026-11-26", dtypes="infer")
    assert back["naive"].dtype == "datetime64[ns]"
    pd.testing.assert_series_equal(back["naive"], df["naive"].astype("datetime64[ns]"))
    assert str(back["paris"].dtype) == "datetime64[ns, UTC]"
    assert (back["paris"] == df["paris"]).all()  # the same instants
    assert back["text"].tolist() == ["a", None, "ü"]  # strings that are not timestamps stay strings


def test_read_stage_without_dtypes_keeps_nullable_integers_exact(lake):
    df = pd.DataFrame({"n": pd.array([2**62 + 1, None], dtype="Int64")})
    weir.write_stage(df, lake / "w", "2026-11-26")
    back = weir.read_stage(lake / "w", "2026-11-26")
    assert str(back["n"].dtype) == "Int64"  # not float64, which would round 2**62 + 1
    assert back.loc[0, "n"] == 2**62 + 1 and back.loc[1, "n"] is pd.NA


def test_naive_timezone_localises_naive_timestamps(lake, weir_cli):
    df = pd.DataFrame({"at": pd.to_datetime(["2026-11-26T06:00:00.5"])})
    weir.write_stage(df, lake / "w", "2026-11-26", naive_timezone="UTC")
    assert cat(weir_cli, lake / "w")[0]["at"] == "2026-11-26T06:00:00.500000+00:00"


def test_nan_and_nat_become_null_with_a_warning_naming_the_columns(lake, weir_cli):
    df = pd.DataFrame({"x": [1.5, np.nan], "at": pd.to_datetime(["2026-11-26", None]), "ok": [1, 2]})
    with pytest.warns(MissingValuesWarning, match=r"column\(s\): x, at$"):
        weir.write_stage(df, lake / "w", "2026-11-26")
    assert cat(weir_cli, lake / "w")[1] == {"x": None, "at": None, "ok": 2}


def test_a_frame_without_nan_writes_without_a_warning(lake):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        weir.write_stage(pd.DataFrame({"x": [1.5, None]}, dtype=object), lake / "w", "2026-11-26")


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (pd.Series([1.0, np.inf]), r"column 'v', row 1: inf has no JSON spelling"),
        (pd.Series(pd.to_timedelta(["1s", "2s"])), r"column 'v' holds timedeltas"),
        (pd.Series([b"x", b"y"]), r"column 'v', row 0: a bytes has no exact JSON form"),
    ],
)
def test_values_json_cannot_hold_are_refused_naming_the_column(lake, column, message):
    with pytest.raises((TypeError, ValueError), match=message):
        weir.write_stage(pd.DataFrame({"v": column}), lake / "w", "2026-11-26")
    assert not (lake / "w").exists()


def test_relative_stage_paths_with_dotdot_work_from_a_subfolder(lake, monkeypatch):
    notebooks = lake / "notebooks"
    notebooks.mkdir()
    monkeypatch.chdir(notebooks)
    weir.write_stage(pd.DataFrame({"a": [1]}), "../stages/raw", "2026-11-26")
    assert (lake / "stages" / "raw" / "interval=20261126T000000Z" / "_manifest.json").is_file()
    assert weir.read_stage("../stages/raw", "2026-11-26").to_dict("records") == [{"a": 1}]


def test_run_transform_keeps_values_the_transform_does_not_touch(normalize_wasm):
    df = mixed_frame().assign(body=["  Hi  ", "x", "Y"])
    out, quarantined = weir.run_transform(
        normalize_wasm, df, config={"fields": ["body"]},
        dtypes={"naive": "datetime64[ns]", "paris": "datetime64[ns, Europe/Paris]"},
    )
    assert quarantined.empty
    pd.testing.assert_frame_equal(out.drop(columns="body"), df.drop(columns="body"))
    assert out["body"].tolist() == ["hi", "x", "y"]


def test_over_budget_error_carries_the_rejected_records(normalize_wasm):
    df = pd.DataFrame.from_records([{"id": 1, "text": "ok"}, {"id": 2, "text": 42}])
    with pytest.raises(weir.OverBudgetError) as err:
        weir.run_transform(normalize_wasm, df, config={"fields": ["text"]}, max_rejected=0)
    message = str(err.value)
    assert "1 of 2 records were rejected, over the budget of 0 records; nothing was committed" in message
    assert "weir-transform-" not in message  # the temporary stage is gone: not named
    assert "`quarantined` DataFrame" in message
    q = err.value.quarantined
    assert len(q) == 1 and json.loads(q.loc[0, "record"]) == {"id": 2, "text": 42}
    assert "field `text` is a number, not a string" in q.loc[0, "reason"]
