"""The Airflow provider end to end: `airflow dags test` (SQLite, no scheduler)
runs examples/airflow/nlp_pipeline.py (the NLP example's three steps, each
sharded: plan, mapped runs, commit), a DAG of failing runs, and a DAG
extracting a table from a real PostgreSQL hot standby (pg_cluster.py), with
the real Airflow 3 installed in this venv and the wheel's `weir` binary.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import SAMPLE, WORKSPACE, build_guest

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
    WeirRunOperator(
        task_id="out_of_time", pipeline=%(runaway)r, step="spin",
        max_rejected="100%%", max_run_time="2s", retries=0,
    )
'''

# A step whose every record spins until its 1 s CPU deadline (the hostile
# test guest's "loop" mode), so only the run's time limit stops it.
RUNAWAY_PIPELINE = '''
[stages]
raw = %(raw)s
spun = %(spun)s

[steps.spin]
input = "raw"
output = "spun"

[[steps.spin.transforms]]
module = %(module)s
config = { mode = "loop" }
limits = { cpu_time = "1s" }
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


NLP_DIR = WORKSPACE / "examples" / "nlp"
NLP_DATA = NLP_DIR / "data" / "tickets-2026-11-26.ndjson"
NLP_STEPS = (("clean", "raw", "clean"), ("categorize", "clean", "categorized"), ("score", "categorized", "scored"))


def nlp_pipeline_file(path: Path, stages: dict[str, Path]) -> Path:
    """examples/nlp/pipeline.toml over other stages, its module and asset paths made absolute."""
    text = (NLP_DIR / "pipeline.toml").read_text()
    for name, where in stages.items():
        old = f'{name} = "../../out/nlp/{name}"'
        assert old in text, f"examples/nlp/pipeline.toml changed shape: no {old}"
        text = text.replace(old, f"{name} = {json.dumps(str(where))}")
    text = text.replace('"../../', json.dumps(str(WORKSPACE) + "/")[:-1])
    text = text.replace('"assets/', json.dumps(str(NLP_DIR / "assets") + "/")[:-1])
    assert "../" not in text, text
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def nlp_modules() -> None:
    """The NLP pipeline's components, built from source."""
    subprocess.run(
        ["cargo", "build", "--locked", "--profile", "guest", "--target", "wasm32-wasip2",
         "-p", "spellcheck", "-p", "categorize", "-p", "model-apply"],
        cwd=WORKSPACE,
        check=True,
    )


def test_example_dag_runs_sharded_steps_and_commits_what_one_process_commits(airflow, tmp_path, weir_cli, nlp_modules):
    lake = tmp_path / "lake"
    # Small parts, so each step's input has at least three units to map over.
    weir_cli("stage", lake / "raw", "--interval", "2026-11-26", "--max-batch-bytes", "40kB", "--max-rejected", "1%", NLP_DATA)
    by_airflow = nlp_pipeline_file(
        tmp_path / "airflow.toml", {n: lake / n for n in ("raw", "clean", "categorized", "scored")}
    )
    direct = nlp_pipeline_file(
        tmp_path / "direct.toml", {"raw": lake / "raw", **{n: lake / f"direct-{n}" for n in ("clean", "categorized", "scored")}}
    )

    # With a data-interval timetable the run triggered at 2026-11-27 covers 2026-11-26.
    dag_test = airflow(
        "dags", "test", "weir_nlp_pipeline", "2026-11-27",
        extra_env={"WEIR_PIPELINE": str(by_airflow), "WEIR_PARTS_PER_SHARD": "1"},
    )
    log = dag_test.stdout + dag_test.stderr
    assert dag_test.returncode == 0, log
    assert "new_state=failed" not in log, log

    for step, _, _ in NLP_STEPS:
        weir_cli("run", direct, step, "--interval", "2026-11-26")
    for step, _, out in NLP_STEPS:
        committed = weir_cli("cat", lake / out, "--interval", "2026-11-26").stdout
        expected = weir_cli("cat", lake / f"direct-{out}", "--interval", "2026-11-26").stdout
        assert committed.count("\n") > 350, (step, committed[:500])
        assert committed == expected, f"step {step}: the sharded commit differs from a single-process run"

        manifest = json.loads(weir_cli("ls", lake / out, "--interval", "2026-11-26", "--json").stdout)
        # The interval is the run's data interval, end included (not `ds`).
        assert manifest["interval"]["start"] == "2026-11-26T00:00:00Z"
        assert manifest["interval"]["end"] == "2026-11-27T00:00:00Z"
        assert len(manifest["shards"]) >= 3, (step, manifest["shards"])
        # No results are left behind, and readers saw one commit.
        assert not list((lake / out / "_shards").glob("*/*")), step

    with sqlite3.connect(airflow.home / "airflow.db") as db:
        def xcoms(task_id: str) -> list[tuple[int, object]]:
            rows = db.execute(
                "select map_index, value from xcom where dag_id = 'weir_nlp_pipeline' and task_id = ? "
                "and key = 'return_value' order by map_index",
                (task_id,),
            ).fetchall()
            return [(i, json.loads(v)) for i, v in rows]

        for step, _, out in NLP_STEPS:
            (_, shards), = xcoms(f"{step}.plan")
            assert len(shards) >= 3 and shards[0] == f"0/{len(shards)}", shards
            # One mapped task instance per unit, each sealing its unit.
            runs = xcoms(f"{step}.run")
            assert [i for i, _ in runs] == list(range(len(shards))), runs
            assert [r["shard"] for _, r in runs] == shards
            assert all(r["committed"] is False for _, r in runs)
            (_, commit), = xcoms(f"{step}.commit")
            manifest = json.loads(weir_cli("ls", lake / out, "--interval", "2026-11-26", "--json").stdout)
            assert commit["run_id"] == manifest["run_id"]
            assert [s["shard"] for s in commit["shards"]] == shards
            assert commit["totals"]["input_records"] == sum(r["input_records"] for _, r in runs)


@pytest.fixture(scope="session")
def hostile_wasm() -> Path:
    """The hostile test guest (tests/guests/hostile), built from source."""
    return build_guest("weir-hostile")


def test_failing_runs_fail_their_tasks_with_the_runs_message(airflow, tmp_path, weir_cli, normalize_wasm, hostile_wasm):
    lake = tmp_path / "lake"
    weir_cli("stage", lake / "raw", "--interval", "2026-11-26", "-", stdin='{"id":1,"text":"ok"}\n{"id":2,"text":42}\n')
    bad_module = pipeline_file(tmp_path / "bad.toml", raw=lake / "raw", clean=lake / "clean", module=tmp_path / "missing.wasm")
    over_budget = pipeline_file(tmp_path / "budget.toml", raw=lake / "raw", clean=lake / "clean", module=normalize_wasm)
    # The hostile guest spins on records that ask it to.
    triggers = "".join(f'{{"id":{i},"trigger":true}}\n' for i in range(10))
    weir_cli("stage", lake / "triggers", "--interval", "2026-11-26", "-", stdin=triggers)
    runaway = tmp_path / "runaway.toml"
    runaway.write_text(RUNAWAY_PIPELINE % {
        "raw": json.dumps(str(lake / "triggers")), "spun": json.dumps(str(lake / "spun")),
        "module": json.dumps(str(hostile_wasm)),
    })
    (airflow.dags / "weir_failures.py").write_text(
        FAILING_DAG % {"bad_module": str(bad_module), "over_budget": str(over_budget), "runaway": str(runaway)}
    )

    dag_test = airflow("dags", "test", "weir_failures", "2026-11-27")
    log = dag_test.stdout + dag_test.stderr

    assert f"cannot read transform module {tmp_path / 'missing.wasm'}" in log, log
    assert "1 of 2 records were rejected, over the budget of 0 records; nothing was committed" in log, log
    assert log.count("[DAG TEST] starting task_id=over_budget") == 1, "an over-budget run is not retried"
    # The binary's hints name its flags; under Airflow the message names the operator's settings.
    assert "(here: the WeirRunOperator's max_rejected= setting)" in log, log
    assert "the run took longer than its time limit of 2s" in log, log
    assert "(here: the WeirRunOperator's max_run_time= setting)" in log, log
    assert not (lake / "spun" / "interval=20261126T000000Z" / "_manifest.json").exists()
    assert log.count("new_state=failed") == 3, log
    assert "new_state=success" not in log, log
    # Nothing committed: the over-budget run wrote its quarantine parts but no manifest.
    assert not (lake / "clean" / "interval=20261126T000000Z" / "_manifest.json").exists()
    assert dag_test.returncode != 0, log


def test_operator_runs_the_data_interval_not_ds(weir_bin):
    import pendulum
    from weir.airflow import WeirRunOperator

    op = WeirRunOperator(
        task_id="clean", pipeline="p.toml", step="clean", max_rejected="1%", workers=2,
        max_run_time=timedelta(minutes=20),
    )
    argv = op.command({
        "data_interval_start": pendulum.datetime(2026, 11, 26, 6, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 11, 26, 7, tz="UTC"),
        "ds": "2026-11-27",
    })
    assert argv == [
        weir_bin, "run", "p.toml", "clean",
        "--interval", "2026-11-26T06:00:00+00:00", "--interval-end", "2026-11-26T07:00:00+00:00",
        "--max-rejected", "1%", "--workers", "2", "--max-run-time", "1200s", "--json",
    ]


def test_operator_without_a_data_interval_fails_saying_so():
    from airflow.sdk.exceptions import AirflowFailException
    from weir.airflow import WeirRunOperator

    op = WeirRunOperator(task_id="clean", pipeline="p.toml", step="clean")
    with pytest.raises(AirflowFailException, match="no data interval"):
        op.command({"data_interval_start": None, "data_interval_end": None, "ds": "2026-11-27"})


def test_sharded_operators_run_plan_shard_and_commit_for_the_data_interval(weir_bin):
    import pendulum
    from weir.airflow import WeirCommitOperator, WeirPlanOperator, WeirRunOperator

    context = {
        "data_interval_start": pendulum.datetime(2026, 11, 26, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 11, 27, tz="UTC"),
    }
    interval = ["--interval", "2026-11-26T00:00:00+00:00"]
    end = ["--interval-end", "2026-11-27T00:00:00+00:00"]
    plan = WeirPlanOperator(task_id="plan", pipeline="p.toml", step="clean", parts_per_shard=2)
    assert plan.command(context) == [weir_bin, "plan", "p.toml", "clean", *interval, "--parts-per-shard", "2", "--json"]
    run = WeirRunOperator(task_id="run", pipeline="p.toml", step="clean", shard="1/3")
    assert run.command(context) == [weir_bin, "run", "p.toml", "clean", *interval, *end, "--shard", "1/3", "--json"]
    # The plan's XCom (its list of units) gives the commit its count.
    commit = WeirCommitOperator(task_id="commit", pipeline="p.toml", step="clean", shards=["0/3", "1/3", "2/3"])
    assert commit.command(context) == [weir_bin, "commit", "p.toml", "clean", *interval, *end, "--shards", "3", "--json"]


def test_sharded_step_gives_its_budget_to_the_shards_as_well_as_the_commit():
    from airflow.sdk import DAG
    from weir.airflow import sharded_step

    with DAG(dag_id="budget", schedule=None) as dag:
        sharded_step("clean", pipeline="p.toml", max_rejected="2%")
    # A shard fails at once when its own rejections exceed a count budget; given
    # none, it would check the pipeline file's (0 by default) and fail on its
    # first rejected record although the commit allows 2% over all shards.
    assert dag.get_task("clean.run").partial_kwargs["max_rejected"] == "2%"
    assert dag.get_task("clean.commit").max_rejected == "2%"


def test_sharded_step_gives_each_command_only_the_flags_it_takes(weir_bin):
    import pendulum
    from airflow.sdk import DAG
    from weir.airflow import sharded_step

    with DAG(dag_id="flags", schedule=None) as dag:
        sharded_step(
            "clean",
            pipeline="p.toml",
            extra_args=["--retries", 5],
            run_args=["--memory-limit", "512MiB"],
            commit_args=["--orphan-grace", "2h"],
        )
    context = {
        "data_interval_start": pendulum.datetime(2026, 11, 26, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 11, 27, tz="UTC"),
    }
    interval = ["--interval", "2026-11-26T00:00:00+00:00"]
    end = ["--interval-end", "2026-11-27T00:00:00+00:00"]
    # `weir plan` takes neither `--memory-limit` nor `--orphan-grace`: given
    # them, it would fail with a usage error before the runs start.
    assert dag.get_task("clean.plan").command(context) == [
        weir_bin, "plan", "p.toml", "clean", *interval, "--parts-per-shard", "1", "--retries", "5", "--json",
    ]
    assert dag.get_task("clean.run").partial_kwargs["extra_args"] == ["--retries", "5", "--memory-limit", "512MiB"]
    commit = dag.get_task("clean.commit")
    commit.shards = ["0/2", "1/2"]
    assert commit.command(context) == [
        weir_bin, "commit", "p.toml", "clean", *interval, *end, "--shards", "2",
        "--retries", "5", "--orphan-grace", "2h", "--json",
    ]


# A DAG that stages its input with WeirStageOperator and runs a step over it;
# then a stage over its budget, which must fail at once naming the setting.
STAGE_DAG = '''
from datetime import datetime, timezone
from airflow.sdk import DAG, CronDataIntervalTimetable
from weir.airflow import WeirRunOperator, WeirStageOperator

with DAG(
    dag_id="weir_stage",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
):
    stage = WeirStageOperator(task_id="stage", stage=%(raw)r, inputs=[%(good)r], max_batch_bytes="64MiB")
    clean = WeirRunOperator(task_id="clean", pipeline=%(pipeline)r, step="clean")
    stage >> clean
    WeirStageOperator(task_id="over_budget", stage=%(other)r, inputs=%(bad)r, retries=3)
'''


def test_stage_operator_stages_the_data_interval_for_the_next_step(airflow, tmp_path, weir_cli, normalize_wasm):
    lake = tmp_path / "lake"
    good = tmp_path / "good.ndjson"
    good.write_text('{"id":1,"text":"  Hello  "}\n{"id":2,"text":"World"}\n')
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"id":1}\n[1]\n')
    pipeline = pipeline_file(tmp_path / "p.toml", raw=lake / "raw", clean=lake / "clean", module=normalize_wasm)
    (airflow.dags / "weir_stage.py").write_text(STAGE_DAG % {
        "raw": str(lake / "raw"), "good": str(good), "pipeline": str(pipeline),
        "other": str(lake / "other"), "bad": str(bad),
    })

    dag_test = airflow("dags", "test", "weir_stage", "2026-11-27")
    log = dag_test.stdout + dag_test.stderr

    manifest = json.loads(weir_cli("ls", lake / "raw", "--interval", "2026-11-26", "--json").stdout)
    assert manifest["interval"]["end"] == "2026-11-27T00:00:00Z", manifest["interval"]
    clean = weir_cli("cat", lake / "clean", "--interval", "2026-11-26").stdout
    assert [json.loads(line)["id"] for line in clean.splitlines()] == [1, 2], clean
    assert "1 of 2 records were rejected" in log, log
    assert "(here: the WeirStageOperator's max_rejected= setting)" in log, log
    assert log.count("[DAG TEST] starting task_id=over_budget") == 1, "an over-budget stage is not retried"
    assert log.count("new_state=failed") == 1, log
    assert not (lake / "other" / "interval=20261126T000000Z" / "_manifest.json").exists()


def test_stage_operator_command_stages_its_inputs_for_the_data_interval(weir_bin):
    import pendulum
    from weir.airflow import WeirStageOperator

    op = WeirStageOperator(task_id="stage", stage="s3://lake/raw", inputs=["a.ndjson", "b.ndjson.gz"], max_rejected="1%")
    argv = op.command({
        "data_interval_start": pendulum.datetime(2026, 11, 26, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 11, 27, tz="UTC"),
    })
    assert argv == [
        weir_bin, "stage", "s3://lake/raw",
        "--interval", "2026-11-26T00:00:00+00:00", "--interval-end", "2026-11-27T00:00:00+00:00",
        "--max-rejected", "1%", "--json", "a.ndjson", "b.ndjson.gz",
    ]


def test_extract_operators_plan_key_ranges_extract_a_shard_and_commit(weir_bin):
    import pendulum
    from weir.airflow import WeirCommitOperator, WeirExtractOperator, WeirPlanOperator

    context = {
        "data_interval_start": pendulum.datetime(2026, 11, 26, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 11, 27, tz="UTC"),
    }
    interval = ["--interval", "2026-11-26T00:00:00+00:00"]
    end = ["--interval-end", "2026-11-27T00:00:00+00:00"]
    # An extract step's plan needs the window's end and cuts key ranges, not parts.
    plan = WeirPlanOperator(task_id="plan", pipeline="p.toml", step="raw", shards=3)
    assert plan.command(context) == [weir_bin, "plan", "p.toml", "raw", *interval, *end, "--shards", "3", "--json"]
    one = WeirExtractOperator(task_id="raw", pipeline="p.toml", step="raw")
    assert one.command(context) == [weir_bin, "extract", "p.toml", "raw", *interval, *end, "--json"]
    shard = WeirExtractOperator(task_id="raw", pipeline="p.toml", step="raw", shard="1/3")
    assert shard.command(context) == [weir_bin, "extract", "p.toml", "raw", *interval, *end, "--shard", "1/3", "--json"]
    commit = WeirCommitOperator(task_id="commit", pipeline="p.toml", step="raw", shards=["0/3", "1/3", "2/3"])
    assert commit.command(context) == [weir_bin, "commit", "p.toml", "raw", *interval, *end, "--shards", "3", "--json"]
    # Key ranges read at once in one task, committed once.
    parallel = WeirExtractOperator(task_id="raw", pipeline="p.toml", step="raw", connections=4)
    assert parallel.command(context) == [
        weir_bin, "extract", "p.toml", "raw", *interval, *end, "--connections", "4", "--json",
    ]


def test_sharded_step_of_an_extract_step_maps_extract_operators_over_key_ranges(weir_bin):
    import pendulum
    from airflow.sdk import DAG
    from weir.airflow import WeirExtractOperator, sharded_step

    with DAG(dag_id="extract", schedule=None) as dag:
        sharded_step("raw", pipeline="p.toml", shards=4, run_args=["--page-rows", "50000"])
    context = {
        "data_interval_start": pendulum.datetime(2026, 11, 26, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 11, 27, tz="UTC"),
    }
    assert dag.get_task("raw.plan").command(context)[4:] == [
        "--interval", "2026-11-26T00:00:00+00:00", "--interval-end", "2026-11-27T00:00:00+00:00",
        "--shards", "4", "--json",
    ]
    run = dag.get_task("raw.run")
    assert run.operator_class is WeirExtractOperator or run.operator_class.__name__ == "WeirExtractOperator"
    assert run.partial_kwargs["extra_args"] == ["--page-rows", "50000"]


def test_extract_operator_lets_retries_apply_when_the_source_fails(tmp_path, weir_bin):
    import pendulum
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
    from weir.airflow import WeirExtractOperator

    # Nothing listens on port 1: exit 5 (the source failed), which a retry may fix.
    pipeline = tmp_path / "p.toml"
    pipeline.write_text(
        '[stages]\nraw = "lake/raw"\n\n[sources.replica]\nurl = "postgres://reader@127.0.0.1:1/app"\n\n'
        '[steps.raw]\nsource = "replica"\noutput = "raw"\ntable = "t"\nkey = "id"\n'
    )
    context = {
        "data_interval_start": pendulum.datetime(2026, 11, 26, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 11, 27, tz="UTC"),
    }
    op = WeirExtractOperator(
        task_id="raw", pipeline=str(pipeline), step="raw", extra_args=["--max-retries", "0"],
        env={"PGPASSWORD": "x"},
    )
    with pytest.raises(AirflowException) as failed:
        op.execute(context)
    assert not isinstance(failed.value, AirflowFailException), failed.value
    assert "cannot connect to 127.0.0.1:1/app as reader" in str(failed.value)
    # A bad flag is a usage error (exit 2): no retry would help.
    bad = WeirExtractOperator(task_id="raw", pipeline=str(pipeline), step="raw", extra_args=["--no-such-flag"])
    with pytest.raises(AirflowFailException):
        bad.execute(context)


LINEAGE_DAG = '''
from datetime import datetime, timezone
from airflow.sdk import DAG, CronDataIntervalTimetable
from weir.airflow import WeirRunOperator, WeirStageOperator

# Weir's own events: its file transport, for the weir commands only.
WEIR_ENV = {"OPENLINEAGE__TRANSPORT__TYPE": "file", "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH": %(weir_events)r}

with DAG(
    dag_id="weir_lineage",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
):
    stage = WeirStageOperator(task_id="stage", stage=%(raw)r, inputs=[%(good)r], env=WEIR_ENV)
    clean = WeirRunOperator(task_id="clean", pipeline=%(pipeline)r, step="clean", env=WEIR_ENV)
    stage >> clean
'''


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_openlineage_provider_shows_weir_stages_and_weir_events_hang_under_the_task(
    airflow, tmp_path, weir_cli, normalize_wasm
):
    pytest.importorskip("airflow.providers.openlineage", reason="apache-airflow-providers-openlineage is not installed")
    lake = tmp_path / "lake"
    good = tmp_path / "good.ndjson"
    good.write_text('{"id":1,"text":"  Hello  "}\n{"id":2,"text":"World"}\n')
    pipeline = pipeline_file(tmp_path / "p.toml", raw=lake / "raw", clean=lake / "clean", module=normalize_wasm)
    airflow_events = tmp_path / "airflow-lineage.ndjson"
    weir_events = tmp_path / "weir-lineage.ndjson"
    (airflow.dags / "weir_lineage.py").write_text(LINEAGE_DAG % {
        "raw": str(lake / "raw"), "good": str(good), "pipeline": str(pipeline), "weir_events": str(weir_events),
    })

    dag_test = airflow("dags", "test", "weir_lineage", "2026-11-27", extra_env={
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(airflow_events), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "airflow-test",
    })
    log = dag_test.stdout + dag_test.stderr
    assert dag_test.returncode == 0, log
    assert airflow_events.exists(), "the provider sent nothing: " + log

    # Airflow's own events: the tasks' inputs and outputs are Weir's stages.
    by_task = {}
    for e in _events(airflow_events):
        if e["eventType"] == "COMPLETE" and e["job"]["name"] in ("weir_lineage.stage", "weir_lineage.clean"):
            by_task[e["job"]["name"].split(".")[1]] = e
    assert set(by_task) == {"stage", "clean"}, sorted(by_task)
    raw = {"namespace": "file", "name": str(lake / "raw")}
    clean = {"namespace": "file", "name": str(lake / "clean")}
    name = lambda d: {"namespace": d["namespace"], "name": d["name"]}  # noqa: E731
    assert [name(d) for d in by_task["stage"]["outputs"]] == [raw]
    assert by_task["stage"]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 2
    assert [name(d) for d in by_task["clean"]["inputs"]] == [raw]
    assert [name(d) for d in by_task["clean"]["outputs"]] == [clean]
    assert by_task["clean"]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 2
    # The input's version is the manifest the stage task committed.
    assert (
        by_task["clean"]["inputs"][0]["facets"]["version"]["datasetVersion"]
        == by_task["stage"]["outputs"][0]["facets"]["version"]["datasetVersion"]
    )

    # Weir's events hang under the Airflow task that ran them.
    weir = _events(weir_events)
    assert [e["eventType"] for e in weir] == ["START", "COMPLETE", "START", "COMPLETE"], weir
    for task, event in (("stage", weir[1]), ("clean", weir[3])):
        parent = event["run"]["facets"]["parent"]
        assert parent["job"] == {"namespace": "airflow-test", "name": f"weir_lineage.{task}"}, parent
        assert parent["run"]["runId"] == by_task[task]["run"]["runId"]
    assert [name(d) for d in weir[3]["inputs"]] == [raw]
    assert [name(d) for d in weir[3]["outputs"]] == [clean]


def test_operators_without_a_task_instance_pass_no_parent_and_report_no_lineage_before_a_commit(weir_bin):
    import pendulum
    from weir.airflow import WeirRunOperator

    op = WeirRunOperator(task_id="clean", pipeline="p.toml", step="clean")
    argv = op.command({"data_interval_start": pendulum.datetime(2026, 11, 26, tz="UTC")})
    assert "--openlineage-parent" not in argv
    pytest.importorskip("airflow.providers.openlineage", reason="apache-airflow-providers-openlineage is not installed")
    reported = op.get_openlineage_facets_on_complete(None)
    assert reported.inputs == [] and reported.outputs == []


# An extract step from a hot standby into `raw`, and the same extract sharded
# (two key ranges merged into one commit) into `sharded`. The password comes
# from the Airflow connection `weir_replica` (AIRFLOW_CONN_WEIR_REPLICA),
# rendered into PGPASSWORD by a template: never in the DAG or pipeline file.
EXTRACT_DAG = '''
from datetime import datetime, timezone
from airflow.sdk import DAG, CronDataIntervalTimetable
from weir.airflow import WeirExtractOperator, sharded_step

ENV = {"PGPASSWORD": "{{ conn.weir_replica.password }}"}

with DAG(
    dag_id="weir_extract",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
):
    WeirExtractOperator(task_id="raw", pipeline=%(pipeline)r, step="raw", env=ENV, retries=0)
    sharded_step("sharded", pipeline=%(pipeline)r, shards=2, env=ENV, retries=0)
    WeirExtractOperator(task_id="parallel", pipeline=%(pipeline)r, step="parallel", connections=2,
                        env=ENV, retries=0)
'''

EXTRACT_PIPELINE = '''
[stages]
raw = %(raw)s
sharded = %(sharded)s
parallel = %(parallel)s

[sources.replica]
url = %(url)s

[steps.raw]
source = "replica"
output = "raw"
table = "support.tickets"
cursor = "updated_at"
key = "id"
page_rows = 100

[steps.sharded]
source = "replica"
output = "sharded"
table = "support.tickets"
cursor = "updated_at"
key = "id"
page_rows = 100

[steps.parallel]
source = "replica"
output = "parallel"
table = "support.tickets"
cursor = "updated_at"
key = "id"
page_rows = 100
consistent = true
'''

# 600 tickets on 2026-11-26 (the DAG run's interval; the first at its very
# start), 40 on the day before and 40 from the first instant of the day
# after, which the extract must leave out (closed-open); bodies with
# quotes, tabs and non-ASCII text, amounts whose scale is kept.
TICKETS_SQL = '''
CREATE SCHEMA support;
CREATE TABLE support.tickets (id int8 PRIMARY KEY, body text NOT NULL, amount numeric(10,2), updated_at timestamptz NOT NULL);
INSERT INTO support.tickets
SELECT i, 'ticket ' || i || E': "quoted"\\tand caf\\u00e9 ' || md5(i::text), (i % 1000) / 10.0,
       CASE WHEN i <= 40 THEN timestamptz '2026-11-25 12:00:00+00' + i * interval '1 minute'
            WHEN i <= 640 THEN timestamptz '2026-11-26 00:00:00+00' + (i - 41) * interval '143.5 seconds'
            ELSE timestamptz '2026-11-27 00:00:00+00' + (i - 641) * interval '1 minute' END
FROM generate_series(1, 680) i;
'''


@pytest.fixture(scope="module")
def replica():
    """A PostgreSQL primary and hot standby of our own (pg_cluster)."""
    import pg_cluster

    cluster = pg_cluster.Cluster()
    yield cluster
    cluster.stop()


def _window_rows(replica, port: int) -> list[tuple]:
    """The rows of support.tickets on 2026-11-26 (UTC), as the database prints them, in key order."""
    import pandas as pd

    out = replica.psql(port, (
        "COPY (SELECT id, body, amount, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') "
        "FROM support.tickets WHERE updated_at >= '2026-11-26T00:00:00Z' AND updated_at < '2026-11-27T00:00:00Z' "
        "ORDER BY id) TO STDOUT WITH (FORMAT csv)"
    ))
    from io import StringIO
    from decimal import Decimal

    df = pd.read_csv(StringIO(out + "\n"), header=None, names=["id", "body", "amount", "updated_at"],
                     dtype=str, keep_default_na=False)
    return [(int(r.id), r.body, Decimal(r.amount), pd.Timestamp(r.updated_at, tz="UTC"))
            for r in df.itertuples()]


def _committed_rows(manifest: dict) -> list[tuple]:
    """The committed parts of an interval read by pandas' own gzip NDJSON reader, in manifest order."""
    from decimal import Decimal

    import pandas as pd

    frames = [
        pd.read_json(Path(manifest["stage"]) / p["path"], lines=True, compression="gzip", dtype=False,
                     convert_dates=False, precise_float=True)
        for p in manifest["parts"]
    ]
    df = pd.concat(frames, ignore_index=True)
    assert list(df.columns) == ["id", "body", "amount", "updated_at"], list(df.columns)
    return [(int(r.id), r.body, Decimal(repr(r.amount)), pd.Timestamp(r.updated_at)) for r in df.itertuples()]


def test_extract_dag_commits_the_standbys_rows_of_the_interval_once_sharded_or_not(airflow, tmp_path, weir_cli, replica):
    from pg_cluster import PASSWORD

    replica.primary_exec(TICKETS_SQL)
    lake = tmp_path / "lake"
    pipeline = tmp_path / "extract.toml"
    pipeline.write_text(EXTRACT_PIPELINE % {
        "raw": json.dumps(str(lake / "raw")), "sharded": json.dumps(str(lake / "sharded")),
        "parallel": json.dumps(str(lake / "parallel")),
        "url": json.dumps(replica.standby_url_without_password() + "?sslmode=disable"),
    })
    (airflow.dags / "weir_extract.py").write_text(EXTRACT_DAG % {"pipeline": str(pipeline)})
    connection = json.dumps({
        "conn_type": "postgres", "host": "127.0.0.1", "port": replica.standby_port,
        "login": "postgres", "password": PASSWORD, "schema": "postgres",
    })

    def dag_test() -> str:
        done = airflow("dags", "test", "weir_extract", "2026-11-27", extra_env={"AIRFLOW_CONN_WEIR_REPLICA": connection})
        log = done.stdout + done.stderr
        assert done.returncode == 0, log
        assert "new_state=failed" not in log, log
        # The task logs Airflow keeps, as well as what the command printed.
        for path in (airflow.home / "logs").rglob("*"):
            if path.is_file():
                log += path.read_text(errors="replace")
        return log

    def check(expected: list[tuple]) -> dict[str, dict]:
        manifests = {}
        for out in ("raw", "sharded", "parallel"):
            m = json.loads(weir_cli("ls", lake / out, "--interval", "2026-11-26", "--json").stdout)
            assert m["interval"]["end"] == "2026-11-27T00:00:00Z", m["interval"]
            assert m["producer"]["extract"]["rows"] == len(expected), (out, m["producer"]["extract"])
            assert m["producer"]["extract"]["standby"] is True
            assert _committed_rows(m) == expected, f"{out}: the committed rows differ from the table's"
            # No shard plan or result is left behind.
            assert not list((lake / out / "_shards").glob("*/*")), out
            manifests[out] = m
        assert len(manifests["sharded"]["shards"]) == 2, manifests["sharded"]["shards"]
        assert len(manifests["sharded"]["producer"]["extract"]["shards"]) == 2
        # Two connections of one task, one exported snapshot, one commit.
        assert manifests["parallel"]["producer"]["extract"]["connections"] == 2
        assert manifests["parallel"]["producer"]["extract"]["snapshot"], manifests["parallel"]
        # The two key ranges merged give the single extract's records, in its order.
        for out in ("sharded", "parallel"):
            assert (weir_cli("cat", lake / out, "--interval", "2026-11-26").stdout
                    == weir_cli("cat", lake / "raw", "--interval", "2026-11-26").stdout), out
        return manifests

    log = dag_test()
    expected = _window_rows(replica, replica.standby_port)
    assert len(expected) == 600, len(expected)
    first = check(expected)
    # The log checked for the password below is the tasks' own, weir's lines included.
    assert "Extracted 600 rows" in log and "Sealed shard 1/2" in log, log
    # A numeric keeps its scale.
    assert '"amount":4.10,' in weir_cli("cat", lake / "raw", "--interval", "2026-11-26").stdout

    # Rerunning the interval replaces its commit: a row changed, one deleted
    # and one moved out of the day since are read in their new state, and no
    # row of the first commit is left twice.
    replica.primary_exec(
        "UPDATE support.tickets SET body = 'changed' WHERE id = 300;"
        "DELETE FROM support.tickets WHERE id = 301;"
        "UPDATE support.tickets SET updated_at = '2026-11-27T06:00:00Z' WHERE id = 302;"
    )
    log += dag_test()
    expected = _window_rows(replica, replica.standby_port)
    assert len(expected) == 598, len(expected)
    assert [r for r in expected if r[0] == 300][0][1] == "changed"
    second = check(expected)
    for out in ("raw", "sharded", "parallel"):
        assert second[out]["run_id"] != first[out]["run_id"], out

    # The password is in neither the task logs nor the manifests.
    assert PASSWORD not in log
    for out in ("raw", "sharded", "parallel"):
        for path in (lake / out).rglob("*.json"):
            assert PASSWORD not in path.read_text(), path
