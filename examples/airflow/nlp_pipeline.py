"""Weir's NLP pipeline on Airflow 3: raw → clean → categorized → scored, per day, sharded.

The pipeline is examples/nlp/pipeline.toml: `clean` spellchecks the support
tickets, `categorize` assigns a category with a scikit-learn model, `score`
applies an ONNX model for the ticket's priority. Each step is a
`sharded_step`: `weir plan` cuts the step's input interval into work units
(groups of its parts), a mapped task runs each unit (`weir run --shard`) so
the executor spreads them over its workers, and `weir commit` merges the
units into one atomic commit. The next step starts once the commit is made.

Each DAG run covers one data interval (midnight to midnight UTC):
`data_interval_start` / `data_interval_end` go to weir as `--interval` /
`--interval-end`, so backfills, retries and manual reruns all write the same
folder, `interval=YYYYMMDDT000000Z`, and each commit replaces the last
atomically. A retried shard redoes exactly its own unit; a retried commit
finds its commit and succeeds.

The raw stage is the upstream's: examples/nlp/run stages the sample data
into it (or any `weir stage`, an extractor, ...). On a real deployment the
stages are on S3 and every worker has the wheel, the modules and the assets
(docs/scaling.md).

Environment: WEIR_PIPELINE, another pipeline file with the same steps
(the tests point it at stages of their own); WEIR_PARTS_PER_SHARD, input
parts per unit (default 4).

Try it without a scheduler, after examples/nlp/run (SQLite, a throwaway home):
    export AIRFLOW_HOME=$(mktemp -d) AIRFLOW__CORE__DAGS_FOLDER=examples/airflow \\
        AIRFLOW__CORE__LOAD_EXAMPLES=false
    airflow db migrate
    airflow dags test weir_nlp_pipeline 2026-11-27
The run triggered at midnight of 2026-11-27 covers the day before: the
interval 2026-11-26T00:00:00Z to 2026-11-27T00:00:00Z.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow.sdk import DAG, CronDataIntervalTimetable

from weir.airflow import sharded_step

PIPELINE = os.environ.get(
    "WEIR_PIPELINE", str(Path(__file__).resolve().parents[1] / "nlp" / "pipeline.toml")
)
PARTS_PER_SHARD = int(os.environ.get("WEIR_PARTS_PER_SHARD", "4"))

with DAG(
    dag_id="weir_nlp_pipeline",
    description="Spellcheck, categorise and score each day's support tickets with Weir",
    # A data-interval timetable: each run's interval is the day before its
    # trigger. (Airflow 3's plain cron string gives zero-length intervals.)
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=4,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["weir"],
) as dag:
    steps = [
        sharded_step(step, pipeline=PIPELINE, parts_per_shard=PARTS_PER_SHARD)
        for step in ("clean", "categorize", "score")
    ]
    steps[0] >> steps[1] >> steps[2]
