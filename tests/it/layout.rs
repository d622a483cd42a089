//! The layout docs/snowflake.md loads into Snowflake, read with DuckDB the
//! way the doc's SQL reads it. We cannot reach Snowflake here, so this checks
//! what the SQL relies on: the files a manifest lists hold exactly the
//! interval's committed records, the `interval=` folder is a partition column
//! that parses (`%Y%m%dT%H%M%SZ`) to the manifest's `interval.start`, and a
//! glob over the folders equals the manifests only while no uncommitted part
//! sits in them.

use serde_json::Value;
use weir_tests::{Sandbox, guest};

/// Staged twice: a draft, then the final records with one bad line.
const DAY1: &str = "2026-11-26";
/// Committed by a sharded run of normalize over the raw stage.
const DAY2: &str = "2026-11-27";
const FOLDER1: &str = "interval=20261126T000000Z";
const FOLDER2: &str = "interval=20261127T000000Z";

/// `stage expected.ndjson manifest.json...`: reads the parts the manifests
/// list (the doc's `FILES = (...)`) and asserts they hold the expected
/// records, each under its folder's `interval`, which parses to the
/// manifest's `interval.start` and equals what the doc's regular expression
/// takes from the file name; then reads `stage/interval=*/*.ndjson.gz` and
/// prints how that glob differs.
const READ: &str = r#"
import json, os, sys
from collections import Counter
from datetime import datetime
import duckdb

stage, expected_path, *manifest_paths = sys.argv[1:]
manifests = [json.load(open(p)) for p in manifest_paths]
listed_files = [os.path.join(stage, p["path"]) for m in manifests for p in m["parts"]]
starts = {m["interval"]["folder"].split("=", 1)[1]: m["interval"]["start"] for m in manifests}

con = duckdb.connect()
def read(source):
    return con.execute(f"""
        select id, text, interval, strptime(interval, '%Y%m%dT%H%M%SZ'), filename,
               regexp_extract(filename, 'interval=([0-9]+T[0-9]+Z)', 1)
        from read_json({source}, format = 'newline_delimited', hive_partitioning = true,
                       hive_types = {{'interval': 'VARCHAR'}}, filename = true)
    """).fetchall()

def record(row):
    return {"id": row[0], "text": row[1], "interval": row[2]}

order = lambda r: (r["interval"], r["id"])
listed = read("[" + ", ".join(f"'{f}'" for f in listed_files) + "]")
expected = sorted((json.loads(l) for l in open(expected_path)), key=order)
got = sorted(map(record, listed), key=order)
if got != expected:
    first = next(((g, e) for g, e in zip(got, expected) if g != e), (len(got), len(expected)))
    raise AssertionError(f"the manifests' files hold other records: first difference (got, want) {first}")
for row in listed:
    start = datetime.fromisoformat(starts[row[2]].replace("Z", "+00:00")).replace(tzinfo=None)
    assert row[3] == start, (row, starts)
    # The doc's REGEXP_SUBSTR on METADATA$FILENAME finds the same value.
    assert row[5] == row[2], row

globbed = read(f"'{stage}/interval=*/*.ndjson.gz'")
extra = {os.path.normpath(r[4]) for r in globbed} - {os.path.normpath(f) for f in listed_files}
key = lambda r: (r[0], r[1], r[2])
print(json.dumps({
    "rows": len(listed),
    "intervals": sorted({r[2] for r in listed}),
    "glob_same_records": Counter(map(key, globbed)) == Counter(map(key, listed)),
    "glob_extra_files": sorted(extra),
    "glob_extra_rows": sum(1 for r in globbed if os.path.normpath(r[4]) in extra),
}))
"#;

/// A pipeline whose `clean` step normalizes `text` from `raw` into `lake`.
fn pipeline(sb: &Sandbox) {
    sb.write(
        "pipeline.toml",
        format!(
            r#"[stages]
raw = "raw"
clean = "lake"

[steps.clean]
input = "raw"
output = "clean"

[[steps.clean.transforms]]
name = "normalize"
module = "{}"
config = {{ fields = ["text"] }}
"#,
            guest("normalize").display()
        ),
    );
}

/// `weir ls lake --interval DAY --json` (the manifest, as the doc's recipe
/// gets it), saved for the DuckDB script.
fn committed(sb: &Sandbox, day: &str) -> Value {
    let out = sb
        .weir(&["ls", "lake", "--interval", day, "--json"])
        .ok()
        .stdout;
    sb.write(&format!("manifest-{day}.json"), &out);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The stage-relative paths of a manifest's data parts.
fn parts(m: &Value) -> Vec<String> {
    m["parts"]
        .as_array()
        .unwrap_or_else(|| panic!("no parts: {m}"))
        .iter()
        .map(|p| p["path"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Seals every shard of day 2's plan, then commits them with no grace, so
/// the commit deletes every part it does not list.
fn run_sharded(sb: &Sandbox) -> usize {
    let plan = sb
        .weir(&[
            "plan",
            "pipeline.toml",
            "clean",
            "--interval",
            DAY2,
            "--parts-per-shard",
            "2",
        ])
        .ok()
        .json();
    let shards = plan["shards"]
        .as_array()
        .unwrap_or_else(|| panic!("{plan}"))
        .clone();
    for s in &shards {
        run_shard(sb, s.as_str().unwrap_or_default());
    }
    let count = shards.len().to_string();
    sb.weir(&[
        "commit",
        "pipeline.toml",
        "clean",
        "--interval",
        DAY2,
        "--shards",
        &count,
        "--orphan-grace",
        "0s",
    ])
    .ok();
    shards.len()
}

fn run_shard(sb: &Sandbox, shard: &str) -> Value {
    sb.weir(&[
        "run",
        "pipeline.toml",
        "clean",
        "--interval",
        DAY2,
        "--shard",
        shard,
        "--json",
    ])
    .ok()
    .json()
}

/// Runs [`READ`] over both days' manifests as `weir ls` prints them now.
fn read_with_duckdb(sb: &Sandbox) -> Value {
    committed(sb, DAY1);
    committed(sb, DAY2);
    let m1 = format!("manifest-{DAY1}.json");
    let m2 = format!("manifest-{DAY2}.json");
    let r = sb.python(READ, &["lake", "expected.ndjson", &m1, &m2]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn manifest_file_lists_load_exactly_the_commits_and_a_glob_also_loads_sealed_shards() {
    let sb = Sandbox::new();
    let mut expected = String::new();

    // Day 1: a draft, then a re-commit of the final records, one line bad.
    let draft: String = (0..30)
        .map(|i| format!("{{\"id\":{i},\"text\":\"draft {i}\"}}\n"))
        .collect();
    sb.write("day1-draft.ndjson", draft);
    let stage_day1 = |file: &str| {
        sb.weir(&[
            "stage",
            "lake",
            "--interval",
            DAY1,
            "--max-batch-bytes",
            "300",
            "--max-rejected",
            "1",
            file,
        ])
        .ok();
    };
    stage_day1("day1-draft.ndjson");
    let draft_parts = parts(&committed(&sb, DAY1));
    let mut fixed = String::new();
    for i in 0..30 {
        fixed.push_str(&format!("{{\"id\":{i},\"text\":\"final {i}\"}}\n"));
        expected.push_str(&format!(
            "{{\"id\":{i},\"text\":\"final {i}\",\"interval\":\"20261126T000000Z\"}}\n"
        ));
        if i == 14 {
            fixed.push_str("{\"id\": 14.5, oops}\n");
        }
    }
    sb.write("day1.ndjson", fixed);
    stage_day1("day1.ndjson");
    let m1 = committed(&sb, DAY1);
    assert_eq!(m1["quarantine"]["records"], 1, "{m1}");
    assert!(parts(&m1).len() > 1, "want several parts: {m1}");
    // The re-commit's parts are new names, and it deleted the ones it superseded.
    for p in &draft_parts {
        assert!(!parts(&m1).contains(p), "{p} reused");
        assert!(!sb.join(&format!("lake/{p}")).exists(), "{p} left behind");
    }
    assert_eq!(sb.files(&format!("lake/_quarantine/{FOLDER1}")).len(), 1);

    // Day 2: raw tickets, normalized by a sharded run.
    let raw: String = (0..40)
        .map(|i| {
            format!(
                "{{\"id\":{},\"text\":\"  Ticket   NUMBER {i} \"}}\n",
                1000 + i
            )
        })
        .collect();
    for i in 0..40 {
        expected.push_str(&format!(
            "{{\"id\":{},\"text\":\"ticket number {i}\",\"interval\":\"20261127T000000Z\"}}\n",
            1000 + i
        ));
    }
    sb.write("day2.ndjson", raw);
    sb.write("expected.ndjson", &expected);
    sb.weir(&[
        "stage",
        "raw",
        "--interval",
        DAY2,
        "--max-batch-bytes",
        "300",
        "day2.ndjson",
    ])
    .ok();
    pipeline(&sb);
    let shards = run_sharded(&sb);
    assert!(shards >= 2, "want several shards, got {shards}");
    let m2 = committed(&sb, DAY2);
    assert_eq!(m2["shards"].as_array().map(Vec::len), Some(shards), "{m2}");

    // Committed and cleaned up: the manifests' files and the glob agree.
    let read = read_with_duckdb(&sb);
    assert_eq!(read["rows"], 70, "{read}");
    assert_eq!(
        read["intervals"],
        serde_json::json!(["20261126T000000Z", "20261127T000000Z"])
    );
    assert_eq!(read["glob_same_records"], true, "{read}");
    assert_eq!(read["glob_extra_files"], serde_json::json!([]), "{read}");

    // A backfill of day 2 has sealed its first shard but not committed yet:
    // the sealed part sits in the interval's folder, listed by no manifest.
    let before = sb.files(&format!("lake/{FOLDER2}"));
    let sealed = run_shard(&sb, &format!("0/{shards}"));
    assert_eq!(sealed["committed"], false);
    let new: Vec<String> = sb
        .files(&format!("lake/{FOLDER2}"))
        .into_iter()
        .filter(|f| !before.contains(f))
        .map(|f| format!("lake/{FOLDER2}/{f}"))
        .collect();
    assert!(!new.is_empty(), "the shard sealed no part");
    let read = read_with_duckdb(&sb);
    // The manifest list still loads exactly the committed records (the
    // script asserts them); the glob loads the sealed part's records twice.
    assert_eq!(read["rows"], 70, "{read}");
    assert_eq!(read["glob_same_records"], false, "{read}");
    assert_eq!(read["glob_extra_files"], serde_json::json!(new), "{read}");
    assert_eq!(read["glob_extra_rows"], sealed["records"], "{read}");

    // The backfill commits: new part names for the same records, and the
    // commit's cleanup leaves the glob equal to the manifests again.
    run_sharded(&sb);
    let recommitted = committed(&sb, DAY2);
    assert!(
        parts(&recommitted).iter().all(|p| !parts(&m2).contains(p)),
        "a re-commit reused a part name: {recommitted}"
    );
    let read = read_with_duckdb(&sb);
    assert_eq!(read["rows"], 70, "{read}");
    assert_eq!(read["glob_same_records"], true, "{read}");
    assert_eq!(read["glob_extra_files"], serde_json::json!([]), "{read}");
}
