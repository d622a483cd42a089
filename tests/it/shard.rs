//! Scale-out: `weir plan` → `weir run --shard` per unit → `weir commit`,
//! against a single-process `weir run` of the same interval, on a local
//! stage and on a real S3 server (s3s-fs).

use serde_json::Value;
use weir_tests::{S3Server, Sandbox, guest, lines};

const INTERVAL: &str = "2026-11-26T00:00:00+00:00";
const FOLDER: &str = "interval=20261126T000000Z";
const SHARDS: &str = "_shards/interval=20261126T000000Z";

/// `n` records; every 97th has a non-string `text`, which normalize rejects.
fn records(n: usize) -> String {
    (0..n)
        .map(|i| {
            if i % 97 == 13 {
                format!("{{\"id\":{i},\"text\":{i}}}\n")
            } else {
                format!(
                    "{{\"id\":{i},\"text\":\"  Shard   ME {i} \",\"big\":1234567890123456789012{i}}}\n"
                )
            }
        })
        .collect()
}

/// A pipeline file with one step, `clean`: raw → clean through normalize.
fn pipeline(sb: &Sandbox, raw: &str, clean: &str, budget: &str) -> String {
    let module = guest("normalize");
    sb.write(
        "pipeline.toml",
        format!(
            r#"[stages]
raw = "{raw}"
clean = "{clean}"

[steps.clean]
input = "raw"
output = "clean"
max_rejected = "{budget}"

[[steps.clean.transforms]]
name = "normalize"
module = "{}"
config = {{ fields = ["text"] }}
"#,
            module.display()
        ),
    );
    "pipeline.toml".into()
}

/// Stages `n` records into `raw` in parts of about 20 kB (many parts).
fn stage(sb: &Sandbox, n: usize) {
    sb.write("input.ndjson", records(n));
    sb.weir(&[
        "stage",
        "raw",
        "--interval",
        INTERVAL,
        "--max-batch-bytes",
        "20kB",
        "input.ndjson",
    ])
    .ok();
}

fn plan(sb: &Sandbox, parts_per_shard: &str) -> Value {
    sb.weir(&[
        "plan",
        "pipeline.toml",
        "clean",
        "--interval",
        INTERVAL,
        "--parts-per-shard",
        parts_per_shard,
    ])
    .ok()
    .json()
}

fn run_shard(sb: &Sandbox, shard: &str) -> Value {
    sb.weir(&[
        "run",
        "pipeline.toml",
        "clean",
        "--interval",
        INTERVAL,
        "--shard",
        shard,
        "--workers",
        "2",
        "--json",
    ])
    .ok()
    .json()
}

fn commit(sb: &Sandbox, extra: &[&str]) -> weir_tests::Run {
    let mut args = vec!["commit", "pipeline.toml", "clean", "--interval", INTERVAL];
    args.extend_from_slice(extra);
    sb.weir(&args)
}

fn cat(sb: &Sandbox, stage: &str, quarantine: bool) -> String {
    let mut args = vec!["cat", stage, "--interval", INTERVAL];
    if quarantine {
        args.push("--quarantine");
    }
    sb.weir(&args).ok().stdout
}

fn manifest(sb: &Sandbox, stage: &str) -> Value {
    let bytes = std::fs::read(sb.join(&format!("{stage}/{FOLDER}/_manifest.json")))
        .unwrap_or_else(|e| panic!("manifest of {stage}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// Quarantine entries without the fields that name the run.
fn quarantined(sb: &Sandbox, stage: &str) -> Vec<(Value, Value, Value)> {
    lines(&cat(sb, stage, true))
        .into_iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (v["object"].clone(), v["line"].clone(), v["record"].clone())
        })
        .collect()
}

#[test]
fn three_shards_commit_what_one_process_commits() {
    let sb = Sandbox::new();
    stage(&sb, 3000);
    pipeline(&sb, "raw", "clean", "2%");
    let p = plan(&sb, "3");
    let parts = p["parts"].as_u64().unwrap_or_default();
    assert!(parts >= 9, "want many input parts, got {parts}");
    let shards: Vec<String> = p["shards"]
        .as_array()
        .unwrap_or_else(|| panic!("{p}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_owned())
        .collect();
    let count = shards.len();
    assert!(count >= 3, "{p}");
    assert_eq!(p["count"], count);
    // Units tile the input parts in order.
    let units = p["units"].as_array().unwrap_or_else(|| panic!("{p}"));
    let mut next = 0;
    let mut records = 0;
    for u in units {
        assert_eq!(u["input_parts"][0], next, "{p}");
        next = u["input_parts"][1].as_u64().unwrap_or_default();
        records += u["records"].as_u64().unwrap_or_default();
    }
    assert_eq!((next, records), (parts, 3000));

    // Out of order, as a scheduler may start them.
    for shard in shards.iter().rev() {
        let r = run_shard(&sb, shard);
        assert_eq!(r["committed"], false);
        assert_eq!(r["shard"], shard.as_str());
    }
    // Sealed, not committed: readers see nothing yet.
    assert!(!sb.join(&format!("clean/{FOLDER}/_manifest.json")).exists());
    sb.weir(&["cat", "clean", "--interval", INTERVAL])
        .expect_code(1);
    assert_eq!(sb.files(&format!("clean/{SHARDS}")).len(), count);
    let ls = sb.weir(&["ls", "clean", "--interval", INTERVAL]).ok();
    assert!(
        ls.stdout.contains(&format!(
            "not committed: all {count} shard results sealed, not merged"
        )),
        "{}",
        ls.stdout
    );

    let c = commit(&sb, &["--shards", &count.to_string(), "--json"])
        .ok()
        .json();
    assert_eq!(c["already_committed"], false);
    // Merged: nothing is pending any more.
    let ls = sb
        .weir(&["ls", "clean", "--interval", INTERVAL, "--json"])
        .ok()
        .json();
    assert_eq!(ls["pending_shards"], Value::Null, "{ls}");
    assert!(!sb.weir(&["ls", "clean"]).ok().stdout.contains("pending"));

    // The single-process reference.
    pipeline(&sb, "raw", "direct", "2%");
    sb.weir(&["run", "pipeline.toml", "clean", "--interval", INTERVAL])
        .ok();
    let merged = cat(&sb, "clean", false);
    assert_eq!(lines(&merged).len(), 3000 - 31);
    assert_eq!(merged, cat(&sb, "direct", false));
    assert_eq!(quarantined(&sb, "clean"), quarantined(&sb, "direct"));

    let (m, d) = (manifest(&sb, "clean"), manifest(&sb, "direct"));
    for key in [
        "records",
        "input_records",
        "quarantined",
        "filtered",
        "uncompressed_bytes",
    ] {
        assert_eq!(m["totals"][key], d["totals"][key], "{key}");
    }
    let (mt, dt) = (
        &m["producer"]["transforms"][0],
        &d["producer"]["transforms"][0],
    );
    for key in [
        "records_in",
        "records_out",
        "emitted",
        "filtered",
        "quarantined",
        "module_sha256",
        "config_sha256",
    ] {
        assert_eq!(mt[key], dt[key], "{key}");
    }
    assert_eq!(m["lineage"], d["lineage"]);
    let recorded = m["shards"].as_array().unwrap_or_else(|| panic!("{m}"));
    assert_eq!(recorded.len(), count);
    for (info, shard) in recorded.iter().zip(&shards) {
        assert_eq!(info["shard"], shard.as_str());
    }
    // The results are gone; every stored part is one the manifest lists.
    assert!(sb.files(&format!("clean/{SHARDS}")).is_empty());
    let listed: Vec<String> = m["parts"]
        .as_array()
        .unwrap_or_else(|| panic!("{m}"))
        .iter()
        .map(|p| {
            p["path"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches(&format!("{FOLDER}/"))
                .to_owned()
        })
        .chain(["_manifest.json".to_owned()])
        .collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(sb.files(&format!("clean/{FOLDER}")), listed_sorted);
    sb.weir(&["verify", "clean", "--interval", INTERVAL]).ok();

    // A retried commit (the task ran, its success was lost) succeeds again.
    pipeline(&sb, "raw", "clean", "2%");
    let again = commit(&sb, &["--shards", &count.to_string(), "--json"])
        .ok()
        .json();
    assert_eq!(again["already_committed"], true);
    assert_eq!(again["run_id"], m["run_id"]);
}

#[test]
fn a_commit_that_died_while_deleting_results_is_retried_to_success() {
    let sb = Sandbox::new();
    stage(&sb, 1200);
    pipeline(&sb, "raw", "clean", "2%");
    for s in ["0/3", "1/3", "2/3"] {
        run_shard(&sb, s);
    }
    // What a commit killed after its manifest PUT, and after deleting the
    // first result, leaves: the manifest and two of the three results.
    let kept: Vec<(String, Vec<u8>)> = ["shard-00001-of-00003.json", "shard-00002-of-00003.json"]
        .iter()
        .map(|n| {
            let path = format!("clean/{SHARDS}/{n}");
            let bytes = std::fs::read(sb.join(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            (path, bytes)
        })
        .collect();
    let first = commit(&sb, &["--shards", "3", "--json"]).ok().json();
    for (path, bytes) in &kept {
        sb.write(path, bytes);
    }
    let again = commit(&sb, &["--shards", "3", "--json"]).ok().json();
    assert_eq!(again["already_committed"], true);
    assert_eq!(again["run_id"], first["run_id"]);
    assert!(sb.files(&format!("clean/{SHARDS}")).is_empty());
    // A shard rerun after the commit is new work: committing needs them all.
    run_shard(&sb, "1/3");
    let r = commit(&sb, &["--shards", "3"]).expect_code(1);
    assert!(
        r.stderr.contains("no result for shard(s) 0/3, 2/3 of 3"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_missing_shard_fails_the_commit_and_commits_nothing() {
    let sb = Sandbox::new();
    stage(&sb, 1200);
    pipeline(&sb, "raw", "clean", "2%");
    run_shard(&sb, "0/3");
    run_shard(&sb, "2/3");
    // `weir ls` shows what is sealed and what is missing, before any commit.
    let ls = sb.weir(&["ls", "clean"]).ok();
    assert!(
        ls.stdout
            .contains("(not committed: 2 of 3 shard results sealed (missing 1/3))"),
        "{}",
        ls.stdout
    );
    let ls = sb.weir(&["ls", "clean", "--interval", INTERVAL]).ok();
    assert!(
        ls.stdout
            .contains("not committed: 2 of 3 shard results sealed (missing 1/3)"),
        "{}",
        ls.stdout
    );
    let ls = sb.weir(&["ls", "clean", "--json"]).ok().json();
    assert_eq!(ls[0]["committed"], false, "{ls}");
    assert_eq!(ls[0]["unmerged_shards"], serde_json::json!(["0/3", "2/3"]));
    let r = commit(&sb, &["--shards", "3"]).expect_code(1);
    assert!(
        r.stderr.contains("no result for shard(s) 1/3 of 3"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(SHARDS), "names the folder: {}", r.stderr);
    assert!(!sb.join(&format!("clean/{FOLDER}/_manifest.json")).exists());
    // Nothing at all to commit says so.
    let other = Sandbox::new();
    stage(&other, 10);
    pipeline(&other, "raw", "clean", "2%");
    let r = commit(&other, &[]).expect_code(1);
    assert!(r.stderr.contains("no shard results"), "{}", r.stderr);
}

#[test]
fn results_of_two_plans_are_duplicated_shards_unless_the_count_is_given() {
    let sb = Sandbox::new();
    stage(&sb, 1200);
    pipeline(&sb, "raw", "clean", "2%");
    for s in ["0/2", "1/2", "0/3", "1/3", "2/3"] {
        run_shard(&sb, s);
    }
    let r = commit(&sb, &[]).expect_code(1);
    assert!(r.stderr.contains("duplicated shards"), "{}", r.stderr);
    assert!(
        r.stderr.contains("shard-00000-of-00002.json"),
        "{}",
        r.stderr
    );
    assert!(!sb.join(&format!("clean/{FOLDER}/_manifest.json")).exists());

    // Naming the plan commits its shards. The other plan's results and
    // parts may belong to a commit running now: they stay until they are
    // older than the orphan grace.
    let c = commit(&sb, &["--shards", "3", "--json", "--orphan-grace", "1h"])
        .ok()
        .json();
    assert_eq!(c["shards"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        sb.files(&format!("clean/{SHARDS}")),
        ["shard-00000-of-00002.json", "shard-00001-of-00002.json"]
    );
    let m = manifest(&sb, "clean");
    let listed = m["parts"].as_array().map_or(0, Vec::len);
    assert!(sb.files(&format!("clean/{FOLDER}")).len() > listed + 1);
    assert_eq!(lines(&cat(&sb, "clean", false)).len(), 1200 - 13);
    // The next commit of the interval past the grace deletes them.
    sb.weir(&[
        "run",
        "pipeline.toml",
        "clean",
        "--interval",
        INTERVAL,
        "--orphan-grace",
        "0s",
    ])
    .ok();
    assert!(sb.files(&format!("clean/{SHARDS}")).is_empty());
    let m = manifest(&sb, "clean");
    let listed = m["parts"].as_array().map_or(0, Vec::len);
    assert_eq!(sb.files(&format!("clean/{FOLDER}")).len(), listed + 1);
}

#[test]
fn a_retried_shard_replaces_its_result_and_its_old_parts_are_cleaned() {
    let sb = Sandbox::new();
    stage(&sb, 1200);
    pipeline(&sb, "raw", "clean", "2%");
    let first = run_shard(&sb, "1/2");
    run_shard(&sb, "0/2");
    let second = run_shard(&sb, "1/2");
    assert_ne!(first["run_id"], second["run_id"]);
    let c = commit(&sb, &["--shards", "2", "--json", "--orphan-grace", "0s"])
        .ok()
        .json();
    let runs: Vec<&Value> = c["shards"]
        .as_array()
        .unwrap_or_else(|| panic!("{c}"))
        .iter()
        .map(|s| &s["run_id"])
        .collect();
    assert_eq!(runs[1], &second["run_id"]);
    let stored = sb.files(&format!("clean/{FOLDER}"));
    let first_run = first["run_id"].as_str().unwrap_or_default();
    assert!(stored.iter().all(|f| !f.contains(first_run)), "{stored:?}");
    assert_eq!(lines(&cat(&sb, "clean", false)).len(), 1200 - 13);
}

#[test]
fn a_shard_of_an_older_input_commit_must_be_rerun() {
    let sb = Sandbox::new();
    stage(&sb, 1200);
    pipeline(&sb, "raw", "clean", "2%");
    run_shard(&sb, "0/2");
    run_shard(&sb, "1/2");
    // The input interval is re-staged (a backfill) after the shards ran.
    stage(&sb, 1200);
    let r = commit(&sb, &["--shards", "2"]).expect_code(1);
    assert!(r.stderr.contains("rerun the shard"), "{}", r.stderr);
    assert!(
        r.stderr.contains("shard-00000-of-00002.json"),
        "{}",
        r.stderr
    );
    assert!(!sb.join(&format!("clean/{FOLDER}/_manifest.json")).exists());
    run_shard(&sb, "0/2");
    run_shard(&sb, "1/2");
    commit(&sb, &["--shards", "2"]).ok();
}

#[test]
fn the_error_budget_applies_to_all_shards_together() {
    let sb = Sandbox::new();
    stage(&sb, 1200);
    // 13 of 1200 rejected is 1.08%: each shard alone cannot tell.
    pipeline(&sb, "raw", "clean", "2%");
    run_shard(&sb, "0/2");
    run_shard(&sb, "1/2");
    let r = commit(&sb, &["--shards", "2", "--max-rejected", "0.5%"]).expect_code(3);
    assert!(
        r.stderr
            .contains("13 of 1200 records were rejected, over the budget of"),
        "{}",
        r.stderr
    );
    assert!(!sb.join(&format!("clean/{FOLDER}/_manifest.json")).exists());
    // The results are kept, so a larger budget commits without rerunning.
    commit(&sb, &["--shards", "2", "--max-rejected", "2%"]).ok();
    // A count budget one shard already exceeds fails that shard at once.
    pipeline(&sb, "raw", "strict", "0");
    let r = sb
        .weir(&[
            "run",
            "pipeline.toml",
            "clean",
            "--interval",
            INTERVAL,
            "--shard",
            "0/2",
        ])
        .expect_code(3);
    assert!(
        r.stderr.contains("over the budget of 0 records"),
        "{}",
        r.stderr
    );
}

#[test]
fn sharded_runs_share_an_s3_stage() {
    let s3 = S3Server::start();
    let sb = Sandbox::new();
    sb.write("input.ndjson", records(1500));
    let (raw, clean) = (s3.url("lake/raw"), s3.url("lake/clean"));
    s3.weir(
        &sb,
        &[
            "stage",
            &raw,
            "--interval",
            INTERVAL,
            "--max-batch-bytes",
            "20kB",
            "input.ndjson",
        ],
    )
    .ok();
    pipeline(&sb, &raw, &clean, "2%");
    let p: Value = s3
        .weir(
            &sb,
            &[
                "plan",
                "pipeline.toml",
                "clean",
                "--interval",
                INTERVAL,
                "--parts-per-shard",
                "2",
            ],
        )
        .ok()
        .json();
    let shards: Vec<String> = p["shards"]
        .as_array()
        .unwrap_or_else(|| panic!("{p}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(shards.len() >= 3, "{p}");
    // Shards run as separate processes at once, as workers would.
    let children: Vec<_> = shards
        .iter()
        .map(|s| {
            sb.spawn_weir(
                &[
                    "run",
                    "pipeline.toml",
                    "clean",
                    "--interval",
                    INTERVAL,
                    "--shard",
                    s,
                    "--workers",
                    "1",
                ],
                &s3.env(),
            )
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let count = shards.len().to_string();
    s3.weir(
        &sb,
        &[
            "commit",
            "pipeline.toml",
            "clean",
            "--interval",
            INTERVAL,
            "--shards",
            &count,
        ],
    )
    .ok();
    let merged = s3
        .weir(&sb, &["cat", &clean, "--interval", INTERVAL])
        .ok()
        .stdout;
    let direct = s3.url("lake/direct");
    pipeline(&sb, &raw, &direct, "2%");
    s3.weir(
        &sb,
        &["run", "pipeline.toml", "clean", "--interval", INTERVAL],
    )
    .ok();
    let expected = s3
        .weir(&sb, &["cat", &direct, "--interval", INTERVAL])
        .ok()
        .stdout;
    assert_eq!(lines(&merged).len(), 1500 - 16);
    assert_eq!(merged, expected);
    s3.weir(&sb, &["verify", &clean, "--interval", INTERVAL])
        .ok();
}
