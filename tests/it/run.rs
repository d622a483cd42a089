//! `weir run` end to end: real components built from source, run by the
//! real binary over a local stage.

use serde_json::Value;
use weir_tests::{Sandbox, guest, lines, sha256};

const INTERVAL: &str = "2026-11-26T00:00:00+00:00";
const FOLDER: &str = "interval=20261126T000000Z";

fn manifest(sb: &Sandbox, stage: &str) -> Value {
    let bytes = std::fs::read(sb.join(&format!("{stage}/{FOLDER}/_manifest.json")))
        .unwrap_or_else(|e| panic!("manifest of {stage}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn cat(sb: &Sandbox, stage: &str) -> String {
    sb.weir(&["cat", stage, "--interval", INTERVAL]).ok().stdout
}

fn quarantine(sb: &Sandbox, stage: &str) -> Vec<Value> {
    let out = sb
        .weir(&["cat", stage, "--interval", INTERVAL, "--quarantine"])
        .ok()
        .stdout;
    lines(&out)
        .into_iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn stage_records(sb: &Sandbox, stage: &str, records: &str) {
    sb.write("input.ndjson", records);
    sb.weir(&["stage", stage, "--interval", INTERVAL, "input.ndjson"])
        .ok();
}

fn text_records(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"text\":\"  Hello   WORLD {i}\\tagain \",\"big\":98765432109876543210{i},\"price\":1.50,\"notes\":{{\"body\":\" A  B \"}}}}\n"
            )
        })
        .collect()
}

fn normalized(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"text\":\"hello world {i} again\",\"big\":98765432109876543210{i},\"price\":1.50,\"notes\":{{\"body\":\" A  B \"}}}}\n"
            )
        })
        .collect()
}

#[test]
fn normalize_changes_only_its_fields_and_keeps_every_other_byte() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    stage_records(&sb, "raw", &text_records(2500));
    let r = sb
        .weir(&[
            "run",
            "--input",
            "raw",
            "--output",
            "clean",
            "--interval",
            INTERVAL,
            "--transform",
            module.to_str().unwrap_or_default(),
            "--config",
            r#"{"fields":["text"]}"#,
            "--json",
        ])
        .ok();
    assert_eq!(cat(&sb, "clean"), normalized(2500));
    let summary = r.json();
    assert_eq!(summary["totals"]["records"], 2500);
    let m = manifest(&sb, "clean");
    let t = &m["producer"]["transforms"][0];
    assert_eq!(t["name"], "normalize");
    assert_eq!(
        t["module_sha256"],
        sha256(&std::fs::read(&module).unwrap_or_default())
    );
    assert_eq!(t["records_in"], 2500);
    assert_eq!(t["records_out"], 2500);
    assert_eq!(t["quarantined"], 0);
    assert_eq!(t["config_sha256"], sha256(br#"{"fields":["text"]}"#));
    // Lineage pins the exact input commit.
    let input_manifest =
        std::fs::read(sb.join(&format!("raw/{FOLDER}/_manifest.json"))).unwrap_or_default();
    assert_eq!(m["lineage"][0]["manifest_sha256"], sha256(&input_manifest));
    assert_eq!(m["lineage"][0]["interval"], "2026-11-26T00:00:00Z");
}

#[test]
fn output_is_byte_identical_whatever_the_worker_count() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    stage_records(&sb, "raw", &text_records(30_000));
    let mut digests = Vec::new();
    for workers in ["1", "2", "3"] {
        let out = format!("out{workers}");
        sb.weir(&[
            "run",
            "--input",
            "raw",
            "--output",
            &out,
            "--interval",
            INTERVAL,
            "--workers",
            workers,
            "--max-batch-bytes",
            "1MB",
            "--transform",
            module.to_str().unwrap_or_default(),
            "--config",
            r#"{"fields":["text","notes.body"]}"#,
        ])
        .ok();
        let m = manifest(&sb, &out);
        let parts: Vec<(String, u64)> = m["parts"]
            .as_array()
            .unwrap_or_else(|| panic!("parts"))
            .iter()
            .map(|p| {
                (
                    p["sha256"].as_str().unwrap_or_default().to_owned(),
                    p["records"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        assert!(parts.len() > 3, "{parts:?}");
        digests.push(parts);
    }
    assert_eq!(digests[0], digests[1]);
    assert_eq!(digests[0], digests[2]);
}

#[test]
fn workers_read_their_input_by_member_index_and_a_lying_index_is_named() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    stage_records(&sb, "raw", &text_records(30_000));
    let path = sb.join(&format!("raw/{FOLDER}/_manifest.json"));
    let original = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let m: Value = serde_json::from_str(&original).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m["format_version"], 2);
    let members = m["parts"][0]["members"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(members.len() > 2, "{members:?}");
    let run = |out: &str| {
        sb.weir(&[
            "run",
            "--input",
            "raw",
            "--output",
            out,
            "--interval",
            INTERVAL,
            "--workers",
            "2",
            "--transform",
            module.to_str().unwrap_or_default(),
            "--config",
            r#"{"fields":["text"]}"#,
        ])
    };
    run("by-index").ok();
    assert!(cat(&sb, "by-index") == normalized(30_000));

    // The same input as a version 1 manifest (no index, as foreign writers
    // and older Weir wrote it) is read as one stream, to the same records.
    let mut v1 = m.clone();
    v1["format_version"] = 1.into();
    for p in v1["parts"].as_array_mut().into_iter().flatten() {
        p.as_object_mut().map(|p| p.remove("members"));
    }
    std::fs::write(&path, v1.to_string()).unwrap_or_else(|e| panic!("{e}"));
    run("streamed").ok();
    assert!(cat(&sb, "streamed") == normalized(30_000));

    // A member's listed sha256 changed (the part's own still right): the
    // run fails naming the part and the member and commits nothing, and
    // verify names it too.
    let mut lying = m.clone();
    lying["parts"][0]["members"][1][3] = "0".repeat(64).into();
    std::fs::write(&path, lying.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let part = m["parts"][0]["path"].as_str().unwrap_or_default();
    let r = run("lied-to");
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains(part), "{}", r.stderr);
    assert!(r.stderr.contains("member 1's sha256 is"), "{}", r.stderr);
    assert!(
        !sb.join(&format!("lied-to/{FOLDER}/_manifest.json"))
            .exists()
    );
    let r = sb
        .weir(&["verify", "raw", "--interval", INTERVAL])
        .expect_code(4);
    assert!(r.stdout.contains("member 1's sha256 is"), "{}", r.stdout);
}

#[test]
fn a_chain_equals_its_steps_run_one_after_the_other() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    let m = module.to_str().unwrap_or_default();
    stage_records(&sb, "raw", &text_records(500));
    let first = r#"{"fields":["text"],"lowercase":false}"#;
    let second = r#"{"fields":["notes.body"]}"#;
    sb.weir(&[
        "run",
        "--input",
        "raw",
        "--output",
        "chained",
        "--interval",
        INTERVAL,
        "--transform",
        m,
        "--config",
        first,
        "--transform",
        m,
        "--config",
        second,
    ])
    .ok();
    sb.weir(&[
        "run",
        "--input",
        "raw",
        "--output",
        "mid",
        "--interval",
        INTERVAL,
        "--transform",
        m,
        "--config",
        first,
    ])
    .ok();
    sb.weir(&[
        "run",
        "--input",
        "mid",
        "--output",
        "two",
        "--interval",
        INTERVAL,
        "--transform",
        m,
        "--config",
        second,
    ])
    .ok();
    let chained = cat(&sb, "chained");
    assert_eq!(chained, cat(&sb, "two"));
    assert!(
        chained.contains("\"body\":\"a b\"") && chained.contains("Hello WORLD"),
        "{}",
        &chained[..200]
    );
    assert_eq!(
        manifest(&sb, "chained")["producer"]["transforms"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

/// Runs the hostile guest in `mode` over five records, the third of which
/// triggers it, with tight limits.
fn hostile_run(sb: &Sandbox, mode: &str, extra: &[&str]) -> weir_tests::Run {
    // The 100 MiB output must hit the output limit, not the memory limit.
    let memory = if mode == "huge_output" {
        "512MiB"
    } else {
        "64MiB"
    };
    let records: String = (1..=5)
        .map(|i| {
            if i == 3 {
                format!("{{\"id\":{i},\"trigger\":true}}\n")
            } else {
                format!("{{\"id\":{i},\"keep\":\"{}\"}}\n", "k".repeat(i))
            }
        })
        .collect();
    stage_records(sb, "raw", &records);
    // `finish` reports what the one instance saw (a record the tests count).
    let config = format!("{{\"mode\":\"{mode}\",\"finish\":true}}");
    let limits = ["--memory-limit", memory, "--max-rejected", "1"];
    run_hostile(sb, &config, &[&limits[..], extra].concat())
}

/// Runs the hostile guest with `config` over the staged `raw` into `out`:
/// one worker, a 1 s limit per call, then `extra` flags.
fn run_hostile(sb: &Sandbox, config: &str, extra: &[&str]) -> weir_tests::Run {
    let module = guest("weir-hostile");
    let mut args = vec![
        "run",
        "--input",
        "raw",
        "--output",
        "out",
        "--interval",
        INTERVAL,
        "--workers",
        "1",
        "--cpu-limit",
        "1s",
        "--transform",
        module.to_str().unwrap_or_default(),
        "--config",
        config,
    ];
    args.extend_from_slice(extra);
    sb.weir(&args)
}

/// Runs the hostile guest in `mode` over `n` records that all trigger it,
/// one worker, a 1 s limit per call.
fn runaway_run(sb: &Sandbox, mode: &str, n: usize, extra: &[&str]) -> weir_tests::Run {
    let records: String = (0..n)
        .map(|i| format!("{{\"id\":{i},\"trigger\":true}}\n"))
        .collect();
    stage_records(sb, "raw", &records);
    run_hostile(sb, &format!("{{\"mode\":\"{mode}\"}}"), extra)
}

#[test]
fn a_run_over_its_budget_stops_at_once_instead_of_re_running_every_runaway_record() {
    let sb = Sandbox::new();
    // Every record spins until its 1 s deadline. Read to the end, the run
    // would take 200 s (the chunk, then each record alone); it stops at the
    // third failure, over a budget of 2.
    let r = runaway_run(&sb, "loop", 200, &["--max-rejected", "2"]).expect_code(3);
    assert!(
        r.stderr
            .contains("3 of 200 records were rejected, over the budget of 2 records")
            && r.stderr
                .contains("the run stopped as soon as the budget was exceeded"),
        "{}",
        r.stderr
    );
    assert!(!sb.join(&format!("out/{FOLDER}/_manifest.json")).exists());
}

#[test]
fn a_run_over_its_time_limit_stops_commits_nothing_and_logs_progress_meanwhile() {
    let sb = Sandbox::new();
    // Every record may fail (100%), so only the time limit stops the run.
    let r = runaway_run(
        &sb,
        "loop",
        200,
        &["--max-rejected", "100%", "--max-run-time", "6s"],
    )
    .expect_code(7);
    assert!(
        r.stderr.contains(
            "the run took longer than its time limit of 6s (--max-run-time, or max_run_time in the pipeline file) and stopped after 0 of 200 records; nothing was committed"
        ),
        "{}",
        r.stderr
    );
    // stderr is not a terminal here, as under Airflow: a line every 5 s.
    assert!(
        r.stderr.contains("progress: 0 of 200 records (0%)"),
        "{}",
        r.stderr
    );
    assert!(!sb.join(&format!("out/{FOLDER}/_manifest.json")).exists());
}

/// The committed records other than the guest's `finish` summary.
fn survivors(sb: &Sandbox) -> Vec<Value> {
    lines(&cat(sb, "out"))
        .into_iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}")))
        .filter(|v| v.get("records_seen").is_none())
        .collect()
}

#[test]
fn hostile_guests_lose_only_the_offending_record() {
    for (mode, reason) in [
        ("loop", "CPU time limit of 1 s exceeded"),
        ("memory", "memory limit of 64 MiB exceeded"),
        ("panic", "hostile guest panics on purpose"),
        ("huge_output", "exceeds the per-record limit"),
        ("malformed", "malformed result"),
    ] {
        let sb = Sandbox::new();
        hostile_run(&sb, mode, &[]).ok();
        let ids: Vec<u64> = survivors(&sb)
            .iter()
            .map(|v| v["id"].as_u64().unwrap_or(0))
            .collect();
        assert_eq!(ids, [1, 2, 4, 5], "{mode}");
        let kept = lines(&cat(&sb, "out"))
            .into_iter()
            .take(2)
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            kept, "{\"id\":1,\"keep\":\"k\"}\n{\"id\":2,\"keep\":\"kk\"}",
            "{mode}: bytes changed"
        );
        let q = quarantine(&sb, "out");
        assert_eq!(q.len(), 1, "{mode}");
        assert_eq!(q[0]["line"], 3, "{mode}");
        assert_eq!(q[0]["record"], "{\"id\":3,\"trigger\":true}", "{mode}");
        assert_eq!(q[0]["transform"], "weir_hostile", "{mode}");
        let got = q[0]["reason"].as_str().unwrap_or_default();
        assert!(got.contains(reason), "{mode}: {got}");
        let t = &manifest(&sb, "out")["producer"]["transforms"][0];
        assert_eq!(t["records_in"].as_u64(), Some(5), "{mode}");
        assert_eq!(t["quarantined"].as_u64(), Some(1), "{mode}");
        // Every committed record is counted as emitted, finish's included.
        let committed = lines(&cat(&sb, "out")).len() as u64;
        assert!(committed > 4, "{mode}: no finish record");
        assert_eq!(t["emitted"].as_u64(), Some(committed), "{mode}");
    }
}

#[test]
fn hostile_guests_see_nothing_of_the_host() {
    let probe = |mode: &str| -> Value {
        let sb = Sandbox::new();
        hostile_run(&sb, mode, &[]).ok();
        survivors(&sb)
            .into_iter()
            .find(|v| v["mode"] == mode)
            .unwrap_or_else(|| panic!("{mode}: no probe record"))["result"]
            .clone()
    };
    let r = probe("read_passwd");
    assert!(r.as_str().is_some_and(|s| s.starts_with("error:")), "{r}");
    let r = probe("list_root");
    assert!(r.as_str().is_some_and(|s| s.starts_with("error:")), "{r}");
    let r = probe("env");
    assert_eq!(r["vars"], serde_json::json!([]), "{r}");
    assert_eq!(r["args"], serde_json::json!([]), "{r}");
    let r = probe("socket");
    for k in ["connect", "lookup", "bind"] {
        assert!(
            r[k].as_str().is_some_and(|s| s.starts_with("error:")),
            "{k}: {r}"
        );
    }
    let r = probe("write_assets");
    for k in ["inside", "outside", "root"] {
        assert!(
            r[k].as_str().is_some_and(|s| s.starts_with("error:")),
            "{k}: {r}"
        );
    }
}

#[test]
fn assets_are_readable_and_cannot_be_escaped() {
    let sb = Sandbox::new();
    sb.write("assets/hello.txt", "hello");
    sb.write("secret.txt", "secret");
    std::os::unix::fs::symlink("../secret.txt", sb.join("assets/relative_link"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(sb.join("secret.txt"), sb.join("assets/absolute_link"))
        .unwrap_or_else(|e| panic!("{e}"));
    hostile_run(&sb, "escape_assets", &["--assets", "assets"]).ok();
    let r = survivors(&sb)
        .into_iter()
        .find(|v| v["mode"] == "escape_assets")
        .unwrap_or_else(|| panic!("no probe record"))["result"]
        .clone();
    assert_eq!(r["inside"], "ok: \"hello\"", "{r}");
    for k in ["dotdot", "dotdot_secret", "relative_link", "absolute_link"] {
        assert!(
            r[k].as_str().is_some_and(|s| s.starts_with("error:")),
            "{k}: {r}"
        );
    }
    let m = manifest(&sb, "out");
    let grants = m["producer"]["transforms"][0]["grants"].to_string();
    assert!(grants.contains("assets:"), "{grants}");
}

#[test]
fn bad_modules_and_configs_fail_before_any_output() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    let m = module.to_str().unwrap_or_default();
    stage_records(&sb, "raw", &text_records(10));
    sb.write("core.wasm", b"\0asm\x01\0\0\0");
    let wrong = "ab".repeat(32);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--transform", "core.wasm"], "core.wasm"),
        (vec!["--transform", m, "--sha256", &wrong], "sha256"),
        (
            vec![
                "--transform",
                m,
                "--config",
                r#"{"fields":["text"],"colour":"red"}"#,
            ],
            "colour",
        ),
        (vec!["--transform", "missing.wasm"], "missing.wasm"),
    ];
    for (extra, needle) in cases {
        let mut args = vec![
            "run",
            "--input",
            "raw",
            "--output",
            "out",
            "--interval",
            INTERVAL,
        ];
        args.extend(extra);
        let r = sb.weir(&args).expect_code(1);
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
        assert!(
            sb.files("out").is_empty(),
            "{needle}: output written: {:?}",
            sb.files("out")
        );
    }
}

#[test]
fn over_budget_runs_commit_nothing() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    let records: String = (0..10)
        .map(|i| {
            if i % 3 == 0 {
                format!("{{\"text\":{i}}}\n")
            } else {
                format!("{{\"text\":\"T{i}\"}}\n")
            }
        })
        .collect();
    stage_records(&sb, "raw", &records);
    let base = [
        "run",
        "--input",
        "raw",
        "--output",
        "out",
        "--interval",
        INTERVAL,
        "--transform",
        module.to_str().unwrap_or_default(),
        "--config",
        r#"{"fields":["text"]}"#,
    ];
    let r = sb
        .weir(&[&base[..], &["--max-rejected", "3"]].concat())
        .expect_code(3);
    assert!(
        r.stderr.contains("4 of 10 records were rejected"),
        "{}",
        r.stderr
    );
    assert!(!sb.join(&format!("out/{FOLDER}/_manifest.json")).exists());
    sb.weir(&[&base[..], &["--max-rejected", "40%"]].concat())
        .ok();
    let t = &manifest(&sb, "out")["totals"];
    assert_eq!(
        (
            t["records"].as_u64(),
            t["quarantined"].as_u64(),
            t["input_records"].as_u64()
        ),
        (Some(6), Some(4), Some(10))
    );
}

#[test]
fn pipeline_files_run_steps_and_enforce_pinned_digests() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    let digest = sha256(&std::fs::read(&module).unwrap_or_default());
    stage_records(&sb, "pipelines/lake/raw", &text_records(100));
    let pipeline = |sha: &str| {
        format!(
            r#"
[stages]
raw = "lake/raw"
clean = "lake/clean"

[steps.clean]
input = "raw"
output = "clean"
max_rejected = "0"

[[steps.clean.transforms]]
module = "{}"
sha256 = "{sha}"
config = {{ fields = ["text"] }}
limits = {{ memory = "64MiB", cpu_time = "2s" }}
"#,
            module.display()
        )
    };
    sb.write("pipelines/nlp.toml", pipeline(&digest));
    // Run from the sandbox root: stage paths are relative to the file.
    let r = sb
        .weir(&[
            "run",
            "pipelines/nlp.toml",
            "clean",
            "--interval",
            INTERVAL,
            "--json",
        ])
        .ok();
    assert_eq!(r.json()["totals"]["records"], 100);
    assert_eq!(cat(&sb, "pipelines/lake/clean"), normalized(100));
    let limits = &manifest(&sb, "pipelines/lake/clean")["producer"]["transforms"][0]["limits"];
    assert_eq!(limits["memory_bytes"], 64 * 1024 * 1024);

    sb.write("pipelines/nlp.toml", pipeline(&"0".repeat(64)));
    let r = sb
        .weir(&["run", "pipelines/nlp.toml", "clean", "--interval", INTERVAL])
        .expect_code(1);
    assert!(r.stderr.contains("sha256"), "{}", r.stderr);
    let r = sb
        .weir(&["run", "pipelines/nlp.toml", "nope", "--interval", INTERVAL])
        .expect_code(1);
    assert!(
        r.stderr.contains("no step named \"nope\" (steps: clean)"),
        "{}",
        r.stderr
    );
}

#[test]
fn replay_recovers_quarantined_records_into_the_interval() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    let m = module.to_str().unwrap_or_default();
    let records: String = (0..10)
        .map(|i| {
            if i % 4 == 1 {
                format!("{{\"id\":{i},\"text\":{i}}}\n")
            } else {
                format!("{{\"id\":{i},\"text\":\" T{i} \"}}\n")
            }
        })
        .collect();
    stage_records(&sb, "raw", &records);
    sb.weir(&[
        "run",
        "--input",
        "raw",
        "--output",
        "out",
        "--interval",
        INTERVAL,
        "--transform",
        m,
        "--config",
        r#"{"fields":["text"]}"#,
        "--max-rejected",
        "3",
    ])
    .ok();
    assert_eq!(quarantine(&sb, "out").len(), 3);
    let before =
        std::fs::read(sb.join(&format!("out/{FOLDER}/_manifest.json"))).unwrap_or_default();

    // The same module and config fail the same records again: nothing lost.
    let r = sb
        .weir(&[
            "replay",
            "out",
            "--interval",
            INTERVAL,
            "--transform",
            m,
            "--config",
            r#"{"fields":["text"]}"#,
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(
        (
            r["replay"]["replayed"].as_u64(),
            r["replay"]["recovered"].as_u64()
        ),
        (Some(3), Some(0))
    );
    let q = quarantine(&sb, "out");
    assert_eq!(
        q.iter()
            .map(|e| e["line"].as_u64().unwrap_or(0))
            .collect::<Vec<_>>(),
        [2, 6, 10]
    );

    // A fixed config recovers them; the interval then holds every record.
    let r = sb
        .weir(&[
            "replay",
            "out",
            "--interval",
            INTERVAL,
            "--transform",
            m,
            "--config",
            r#"{"fields":["missing"]}"#,
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(r["replay"]["recovered"].as_u64(), Some(3));
    assert!(quarantine(&sb, "out").is_empty());
    let mut ids: Vec<u64> = lines(&cat(&sb, "out"))
        .into_iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap_or_default()["id"]
                .as_u64()
                .unwrap_or(99)
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..10).collect::<Vec<u64>>());
    let m = manifest(&sb, "out");
    assert_eq!(m["replays"].as_array().map(Vec::len), Some(2));
    assert_eq!(m["replays"][0]["previous_manifest_sha256"], sha256(&before));
    assert_eq!(m["totals"]["records"], 10);
    assert_eq!(m["totals"]["quarantined"], 0);
    assert_eq!(m["totals"]["input_records"], 10);
    sb.weir(&["verify", "out", "--interval", INTERVAL]).ok();
    // The old quarantine parts are gone; only the manifest's parts remain.
    let listed: Vec<String> = m["parts"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|p| p["path"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mut on_disk: Vec<String> = sb
        .files(&format!("out/{FOLDER}"))
        .into_iter()
        .filter(|f| f != "_manifest.json")
        .map(|f| format!("{FOLDER}/{f}"))
        .collect();
    on_disk.sort();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(on_disk, listed_sorted);
    assert!(
        sb.files(&format!("out/_quarantine/{FOLDER}")).is_empty(),
        "{:?}",
        sb.files(&format!("out/_quarantine/{FOLDER}"))
    );
}

/// Python's `json.dumps` writes `\u00e9` escapes (and spaces); a transform
/// changes only its own fields' spelling, and output is compact.
#[test]
fn untouched_fields_keep_their_exact_spelling_through_a_rust_transform() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    stage_records(
        &sb,
        "raw",
        concat!(
            r#"{"id": 1, "n": 1E3, "x": -2.50e-3, "s": "caf\u00e9 \/ d", "text": "  A  B ", "o": {"k": [1, 2.0]}}"#,
            "\n",
            r#"{"id": 2, "n": 1E3, "text": "already clean"}"#,
            "\n"
        ),
    );
    sb.weir(&[
        "run",
        "--input",
        "raw",
        "--output",
        "clean",
        "--interval",
        INTERVAL,
        "--transform",
        module.to_str().unwrap_or_default(),
        "--config",
        r#"{"fields":["text"]}"#,
    ])
    .ok();
    assert_eq!(
        cat(&sb, "clean"),
        concat!(
            r#"{"id":1,"n":1E3,"x":-2.50e-3,"s":"caf\u00e9 \/ d","text":"a b","o":{"k":[1,2.0]}}"#,
            "\n",
            r#"{"id":2,"n":1E3,"text":"already clean"}"#,
            "\n"
        )
    );
}

/// A pipeline file's `max_line_bytes` applies to the step's input.
#[test]
fn a_pipeline_steps_line_limit_quarantines_longer_input_lines() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    let long = format!("{{\"id\":2,\"text\":\"{}\"}}\n", "x".repeat(2000));
    stage_records(
        &sb,
        "raw",
        &format!("{{\"id\":1,\"text\":\" A \"}}\n{long}"),
    );
    sb.write(
        "p.toml",
        format!(
            "[stages]\nraw = \"raw\"\nclean = \"clean\"\n\n[steps.clean]\ninput = \"raw\"\noutput = \"clean\"\nmax_rejected = \"1\"\nmax_line_bytes = \"1KiB\"\n\n[[steps.clean.transforms]]\nmodule = {:?}\nconfig = {{ fields = [\"text\"] }}\n",
            module.display().to_string()
        ),
    );
    sb.weir(&["run", "p.toml", "clean", "--interval", INTERVAL])
        .ok();
    assert_eq!(cat(&sb, "clean"), "{\"id\":1,\"text\":\"a\"}\n");
    let q = quarantine(&sb, "clean");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["line"], 2);
    let reason = q[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("1024"), "{reason}");
}

/// Past 20 rejections the log stops listing them, and the failure says how
/// many it listed and how many there were, so none is silently left out.
#[test]
fn a_run_over_its_budget_says_how_many_of_the_rejected_records_it_listed() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    // 30 records whose text is not a string (normalize rejects them) among 70.
    let records: String = (0..100)
        .map(|i| {
            if i % 10 < 3 {
                format!("{{\"id\":{i},\"text\":{i}}}\n")
            } else {
                format!("{{\"id\":{i},\"text\":\"ok {i}\"}}\n")
            }
        })
        .collect();
    stage_records(&sb, "raw", &records);
    let r = sb
        .weir(&[
            "run",
            "--input",
            "raw",
            "--output",
            "clean",
            "--interval",
            INTERVAL,
            "--transform",
            module.to_str().unwrap_or_default(),
            "--config",
            r#"{"fields":["text"]}"#,
            "--workers",
            "1",
            "--max-rejected",
            "25",
        ])
        .expect_code(3);
    let listed = r
        .stderr
        .lines()
        .filter(|l| l.contains("is a number, not a string"))
        .count();
    assert_eq!(listed, 20, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("30 of 100 records were rejected, over the budget of 25 records")
            && r.stderr.contains("The first 20 are listed above"),
        "{}",
        r.stderr
    );
}

/// A pipeline file with every setting a flag can also give.
fn pipeline_with_settings(sb: &Sandbox, module: &std::path::Path) {
    sb.write(
        "p.toml",
        format!(
            "[stages]\nraw = \"raw\"\nclean = \"clean\"\n\n[steps.clean]\ninput = \"raw\"\noutput = \"clean\"\nmax_batch_bytes = \"500MB\"\ncompression_level = 9\nmax_line_bytes = \"64MiB\"\nmax_rejected = \"0\"\n\n[[steps.clean.transforms]]\nmodule = {:?}\nconfig = {{ fields = [\"text\"] }}\n",
            module.display().to_string()
        ),
    );
}

/// The bug the settings layer was built for: a flag the pipeline file also
/// sets used to lose to the file. Each flag must win, for the pipeline form
/// exactly as for the flags form.
#[test]
fn flags_beat_the_pipeline_file_for_every_setting_it_also_gives() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    let records = text_records(3000);
    stage_records(&sb, "raw", &records);
    pipeline_with_settings(&sb, &module);

    // The file alone: one part of the 500 MB cap.
    let r = sb
        .weir(&["run", "p.toml", "clean", "--interval", INTERVAL, "--json"])
        .ok();
    assert_eq!(r.json()["totals"]["parts"], 1);

    // --max-batch-bytes over the file's 500MB: many parts, as in the flags form.
    let r = sb
        .weir(&[
            "run",
            "p.toml",
            "clean",
            "--interval",
            INTERVAL,
            "--max-batch-bytes",
            "20KB",
            "--json",
        ])
        .ok();
    let parts = r.json()["totals"]["parts"].as_u64().unwrap_or_default();
    assert!(parts > 10, "{parts} parts");
    let flags_form = sb
        .weir(&[
            "run",
            "--input",
            "raw",
            "--output",
            "flags",
            "--interval",
            INTERVAL,
            "--transform",
            module.to_str().unwrap_or_default(),
            "--config",
            r#"{"fields":["text"]}"#,
            "--max-batch-bytes",
            "20KB",
            "--json",
        ])
        .ok();
    assert_eq!(flags_form.json()["totals"]["parts"].as_u64(), Some(parts));
    assert_eq!(cat(&sb, "clean"), normalized(3000));

    // --compression-level 1 over the file's 9: larger parts than level 9's.
    let size = |sb: &Sandbox, args: &[&str]| {
        let mut all = vec!["run", "p.toml", "clean", "--interval", INTERVAL, "--json"];
        all.extend_from_slice(args);
        sb.weir(&all).ok().json()["totals"]["compressed_bytes"]
            .as_u64()
            .unwrap_or_default()
    };
    let at_9 = size(&sb, &[]);
    let at_1 = size(&sb, &["--compression-level", "1"]);
    assert!(
        at_1 > at_9,
        "level 1 gave {at_1} bytes, the file's level 9 {at_9}"
    );

    // --max-line-bytes under the file's 64MiB: the long lines are quarantined
    // (and --max-rejected over the file's 0 lets the run commit them).
    let r = sb
        .weir(&[
            "run",
            "p.toml",
            "clean",
            "--interval",
            INTERVAL,
            "--max-line-bytes",
            "50",
            "--max-rejected",
            "100%",
            "--json",
        ])
        .ok();
    assert_eq!(r.json()["totals"]["records"], 0);
    assert_eq!(r.json()["totals"]["quarantined"], 3000);
    // Without the budget flag, the file's budget of 0 refuses the commit.
    sb.weir(&[
        "run",
        "p.toml",
        "clean",
        "--interval",
        INTERVAL,
        "--max-line-bytes",
        "50",
    ])
    .expect_code(3);
}

/// Random values a transform draws depend on where its records lie in the
/// input, never on which worker ran them: the same bytes with 1, 2 and 3
/// workers, and distinct values throughout. A `finish` that emits records
/// (a count of what its instance saw) commits with one worker and, as what
/// an instance sees depends on scheduling, fails the run with more.
#[test]
fn output_is_the_same_whatever_the_worker_count_and_finish_needs_one_worker() {
    let sb = Sandbox::new();
    let module = guest("weir-hostile");
    let module = module.to_str().unwrap_or_default();
    let records: String = (0..30_000)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"trigger\":true,\"pad\":\"{}\"}}\n",
                "x".repeat(60)
            )
        })
        .collect();
    stage_records(&sb, "raw", &records);
    let run = |out: &str, workers: &str, config: &str| {
        sb.weir(&[
            "run",
            "--input",
            "raw",
            "--output",
            out,
            "--interval",
            INTERVAL,
            "--workers",
            workers,
            "--transform",
            module,
            "--config",
            config,
        ])
    };
    let mut outputs = Vec::new();
    for workers in ["1", "2", "3"] {
        let out = format!("out{workers}");
        run(&out, workers, r#"{"mode":"random"}"#).ok();
        outputs.push(cat(&sb, &out));
    }
    assert_eq!(outputs[0], outputs[1], "1 and 2 workers differ");
    assert_eq!(outputs[0], outputs[2], "1 and 3 workers differ");
    let values: std::collections::HashSet<&str> = lines(&outputs[0]).into_iter().collect();
    assert_eq!(values.len(), 30_000, "random values repeat");

    let counting = r#"{"mode":"random","finish":true}"#;
    run("counted1", "1", counting).ok();
    let counted = cat(&sb, "counted1");
    assert_eq!(
        counted.strip_prefix(outputs[0].as_str()),
        Some("{\"mode\":\"random\",\"records_seen\":30000}\n"),
        "one worker: every record, then finish's count of all of them"
    );
    for workers in ["2", "3"] {
        let out = format!("counted{workers}");
        let r = run(&out, workers, counting).expect_code(1);
        assert!(
            r.stderr.contains(&format!(
                "transform weir_hostile emitted records from finish while {workers} workers each ran an instance of it"
            )) && r.stderr.contains("--workers 1"),
            "{}",
            r.stderr
        );
        assert!(
            !sb.join(&format!("{out}/{FOLDER}/_manifest.json")).exists(),
            "{workers} workers: nothing may be committed"
        );
    }
}

#[test]
fn a_zstd_stage_runs_into_zstd_or_gzip_output_with_the_same_records() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    sb.write("in.ndjson", text_records(3000));
    sb.weir(&[
        "stage",
        "raw",
        "--interval",
        INTERVAL,
        "--codec",
        "zstd",
        "--max-batch-bytes",
        "100000",
        "in.ndjson",
    ])
    .ok();
    for (codec, ext) in [("zstd", ".ndjson.zst"), ("gzip", ".ndjson.gz")] {
        let out = format!("clean-{codec}");
        sb.weir(&[
            "run",
            "--input",
            "raw",
            "--output",
            &out,
            "--interval",
            INTERVAL,
            "--transform",
            module.to_str().unwrap_or_default(),
            "--config",
            r#"{"fields":["text"]}"#,
            "--codec",
            codec,
            "--max-batch-bytes",
            "100000",
        ])
        .ok();
        assert_eq!(cat(&sb, &out), normalized(3000), "{codec}");
        sb.weir(&["verify", &out, "--interval", INTERVAL]).ok();
        let m: Value = sb
            .weir(&["ls", &out, "--interval", INTERVAL, "--json"])
            .ok()
            .json();
        let parts = m["parts"].as_array().cloned().unwrap_or_default();
        assert!(parts.len() > 1, "{m}");
        for p in &parts {
            assert!(p["path"].as_str().unwrap_or_default().ends_with(ext), "{p}");
            let listed = p.get("codec").and_then(|c| c.as_str()).unwrap_or("gzip");
            assert_eq!(listed, codec, "{p}");
        }
    }
}
