"""Weir's NLP pipeline on Airflow 3: one task per pipeline step, per day.

Each run covers one data interval (midnight to midnight UTC) and runs the
step over exactly that interval: `WeirRunOperator` passes the run's
`data_interval_start` / `data_interval_end` to `weir run`, so backfills,
retries and manual reruns all stage the same folder,
`interval=YYYYMMDDT000000Z`, and each commit replaces the last atomically.

The full NLP pipeline (spellcheck, categorise, embed) of later issues does
not exist yet: for now this DAG runs the one step the sample pipeline has,
`clean` (the normalize transform), over the stage `scripts/quickstart` fills.
Add a task per step as steps land, chained in pipeline order.

Point `WEIR_PIPELINE` at another pipeline file to run this DAG over other
stages (the tests do, with a temporary local stage).

Try it without a scheduler, after scripts/quickstart (SQLite, a throwaway home):
    export AIRFLOW_HOME=$(mktemp -d) AIRFLOW__CORE__DAGS_FOLDER=examples/airflow \\
        AIRFLOW__CORE__LOAD_EXAMPLES=false
    airflow db migrate
    airflow dags test weir_nlp_pipeline 2026-11-27
The run triggered at midnight of 2026-11-27 covers the day before: it runs
`clean` for the interval 2026-11-26T00:00:00Z to 2026-11-27T00:00:00Z.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow.sdk import DAG, CronDataIntervalTimetable

from weir.airflow import WeirRunOperator

# The repository's sample pipeline, unless WEIR_PIPELINE names another file.
PIPELINE = os.environ.get(
    "WEIR_PIPELINE", str(Path(__file__).resolve().parents[2] / "samples" / "pipeline.toml")
)

with DAG(
    dag_id="weir_nlp_pipeline",
    description="Weir pipeline steps over each day's staged support messages",
    # A data-interval timetable: each run's interval is the day before its
    # trigger. (Airflow 3's plain cron string gives zero-length intervals.)
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=4,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["weir"],
) as dag:
    # Step `clean` of the pipeline file: raw → clean, error budget from the file.
    clean = WeirRunOperator(task_id="clean", pipeline=PIPELINE, step="clean")
