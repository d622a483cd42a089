"""The Airflow provider end to end: `airflow dags test` (SQLite, no scheduler)
runs examples/airflow/nlp_pipeline.py and a DAG of failing runs, with the real
Airflow 3 installed in this venv and the wheel's `weir` binary.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLE, WORKSPACE

EXAMPLE_DAG = WORKSPACE / "examples" / "airflow" / "nlp_pipeline.py"
AIRFLOW = str(Path(sys.executable).parent / "airflow")

# A DAG whose runs fail: a module that does not exist (exit 1, retries would
# apply: retries=0 so the test need not wait for them) and a run over its
# error budget (exit 3: fails at once, retries notwithstanding). The budget
# comes through a template, as a DAG author would pass it.
FAILING_DAG = '''
from datetime import datetime, timezone
from airflow.sdk import DAG, CronDataIntervalTimetable
from weir.airflow import WeirRunOperator

with DAG(
    dag_id="weir_failures",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    params={"budget": 0},
):
    WeirRunOperator(task_id="bad_module", pipeline=%(bad_module)r, step="clean", retries=0)
    WeirRunOperator(
        task_id="over_budget", pipeline=%(over_budget)r, step="clean",
        max_rejected="{{ params.budget }}", retries=3,
    )
'''


def pipeline_file(path: Path, *, raw: Path, clean: Path, module: Path) -> Path:
    """samples/pipeline.toml's `clean` step over other stages and module path."""
    text = (WORKSPACE / "samples" / "pipeline.toml").read_text()
    text = text.replace('"../out/lake/raw"', json.dumps(str(raw)))
    text = text.replace('"../out/lake/clean"', json.dumps(str(clean)))
    text = text.replace('"../target/wasm32-wasip2/guest/normalize.wasm"', json.dumps(str(module)))
    assert str(raw) in text and str(clean) in text and str(module) in text, "samples/pipeline.toml changed shape"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """Runs the `airflow` CLI with a fresh AIRFLOW_HOME (SQLite) and a DAGs folder of our own."""
    home = tmp_path_factory.mktemp("airflow-home")
    dags = home / "dags"
    dags.mkdir()
    (dags / EXAMPLE_DAG.name).symlink_to(EXAMPLE_DAG)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }

    def run(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AIRFLOW, *args], env={**env, **(extra_env or {})}, capture_output=True, text=True,
            timeout=600, check=False,
        )

    migrate = run("db", "migrate")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    run.home = home  # type: ignore[attr-defined]
    run.dags = dags  # type: ignore[attr-defined]
    return run


def test_provider_is_registered_through_its_entry_point(airflow):
    listed = airflow("providers", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    providers = {p["package_name"]: p for p in json.loads(listed.stdout)}
    assert "weir" in providers, sorted(providers)


def test_example_dag_commits_what_a_direct_weir_run_commits(airflow, tmp_path, weir_cli, normalize_wasm):
    lake = tmp_path / "lake"
    weir_cli("stage", lake / "raw", "--interval", "2026-11-26", "--max-rejected", "1%", SAMPLE)
    by_airflow = pipeline_file(tmp_path / "airflow.toml", raw=lake / "raw", clean=lake / "clean", module=normalize_wasm)
    direct = pipeline_file(tmp_path / "direct.toml", raw=lake / "raw", clean=lake / "direct", module=normalize_wasm)

    # With a data-interval timetable the run triggered at 2026-11-27 covers 2026-11-26.
    dag_test = airflow("dags", "test", "weir_nlp_pipeline", "2026-11-27", extra_env={"WEIR_PIPELINE": str(by_airflow)})
    log = dag_test.stdout + dag_test.stderr
    assert dag_test.returncode == 0, log
    assert "new_state=success" in log, log

    weir_cli("run", direct, "clean", "--interval", "2026-11-26")
    committed = weir_cli("cat", lake / "clean", "--interval", "2026-11-26").stdout
    expected = weir_cli("cat", lake / "direct", "--interval", "2026-11-26").stdout
    assert committed.count("\n") == 1200
    assert committed == expected

    manifest = json.loads(weir_cli("ls", lake / "clean", "--interval", "2026-11-26", "--json").stdout)
    # The interval is the run's data interval, end included (not `ds`).
    assert manifest["interval"]["start"] == "2026-11-26T00:00:00Z"
    assert manifest["interval"]["end"] == "2026-11-27T00:00:00Z"

    # The run's JSON summary is the task's return value (XCom).
    with sqlite3.connect(airflow.home / "airflow.db") as db:
        rows = db.execute(
            "select value from xcom where dag_id = 'weir_nlp_pipeline' and task_id = 'clean' and key = 'return_value'"
        ).fetchall()
    assert len(rows) == 1
    summary = json.loads(rows[0][0])
    assert summary["ok"] is True
    assert summary["run_id"] == manifest["run_id"]
    assert summary["totals"]["records"] == 1200


def test_failing_runs_fail_their_tasks_with_the_runs_message(airflow, tmp_path, weir_cli, normalize_wasm):
    lake = tmp_path / "lake"
    weir_cli("stage", lake / "raw", "--interval", "2026-11-26", "-", stdin='{"id":1,"text":"ok"}\n{"id":2,"text":42}\n')
    bad_module = pipeline_file(tmp_path / "bad.toml", raw=lake / "raw", clean=lake / "clean", module=tmp_path / "missing.wasm")
    over_budget = pipeline_file(tmp_path / "budget.toml", raw=lake / "raw", clean=lake / "clean", module=normalize_wasm)
    (airflow.dags / "weir_failures.py").write_text(
        FAILING_DAG % {"bad_module": str(bad_module), "over_budget": str(over_budget)}
    )

    dag_test = airflow("dags", "test", "weir_failures", "2026-11-27")
    log = dag_test.stdout + dag_test.stderr

    assert f"cannot read transform module {tmp_path / 'missing.wasm'}" in log, log
    assert "1 of 2 records were rejected, over the budget of 0 records; nothing was committed" in log, log
    assert log.count("[DAG TEST] starting task_id=over_budget") == 1, "an over-budget run is not retried"
    assert log.count("new_state=failed") == 2, log
    assert "new_state=success" not in log, log
    # Nothing committed: the over-budget run wrote its quarantine parts but no manifest.
    assert not (lake / "clean" / "interval=20261126T000000Z" / "_manifest.json").exists()
    assert dag_test.returncode != 0, log


def test_operator_runs_the_data_interval_not_ds(weir_bin):
    import pendulum
    from weir.airflow import WeirRunOperator

    op = WeirRunOperator(task_id="clean", pipeline="p.toml", step="clean", max_rejected="1%", workers=2)
    argv = op.command({
        "data_interval_start": pendulum.datetime(2026, 11, 26, 6, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 11, 26, 7, tz="UTC"),
        "ds": "2026-11-27",
    })
    assert argv == [
        weir_bin, "run", "p.toml", "clean",
        "--interval", "2026-11-26T06:00:00+00:00", "--interval-end", "2026-11-26T07:00:00+00:00",
        "--max-rejected", "1%", "--workers", "2", "--json",
    ]


def test_operator_without_a_data_interval_fails_saying_so():
    from airflow.sdk.exceptions import AirflowFailException
    from weir.airflow import WeirRunOperator

    op = WeirRunOperator(task_id="clean", pipeline="p.toml", step="clean")
    with pytest.raises(AirflowFailException, match="no data interval"):
        op.command({"data_interval_start": None, "data_interval_end": None, "ds": "2026-11-27"})
