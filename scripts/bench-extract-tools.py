"""The Python readers `scripts/bench extract` measures against weir extract,
run in the bench venv (scripts/bench-extract-requirements.txt), each as its
own process so that /usr/bin/time sees its wall time and peak RSS alone.

  bench-extract-tools.py pandas URL OUT.ndjson.gz
      pandas.read_sql of the whole table through SQLAlchemy + psycopg2
      (chunksize=None, as notebooks do: the whole result in one DataFrame),
      then DataFrame.to_json(orient="records", lines=True) into a gzip file
      (level 6, as weir and the psql pipelines write), both with pandas'
      defaults otherwise.
  bench-extract-tools.py dlt URL DIR
      dlt's sql_database source (its default sqlalchemy backend) for the one
      table, into the filesystem destination on the local folder DIR with
      loader_file_format="jsonl" (dlt's defaults otherwise: gzip'd files).

URL is a postgresql:// URL; the table is `bench`, read in key order.
"""

import os
import sys


def pandas_main(url, out):
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    df = pd.read_sql("SELECT * FROM bench ORDER BY id", engine)
    df.to_json(
        out,
        orient="records",
        lines=True,
        compression={"method": "gzip", "compresslevel": 6},
    )
    print(len(df))


def dlt_main(url, out):
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt
    from dlt.sources.sql_database import sql_database

    source = sql_database(credentials=url, table_names=["bench"])
    pipeline = dlt.pipeline(
        pipeline_name="weir_bench",
        pipelines_dir=os.path.join(out, "_pipelines"),
        destination=dlt.destinations.filesystem(bucket_url="file://" + os.path.abspath(out)),
        dataset_name="weir_bench",
    )
    info = pipeline.run(source, loader_file_format="jsonl")
    info.raise_on_failed_jobs()
    print(pipeline.last_trace.last_normalize_info.row_counts.get("bench", 0))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("pandas", "dlt"):
        sys.exit(__doc__)
    {"pandas": pandas_main, "dlt": dlt_main}[sys.argv[1]](sys.argv[2], sys.argv[3])
