//! The NLP example (`examples/nlp`) end to end: its `run` command stages the
//! sample tickets and runs clean (spellcheck), categorize and score
//! (model-apply) through the real `weir`, on a copy of its pipeline file
//! whose stages are in a temporary directory. Every stage's manifest must
//! reconcile with the one before it, and the scored records must carry what
//! each step adds; the run's OpenLineage events chain the four stages, and
//! `weir report`, rendered in headless Chromium, shows them. `examples/postgres/run` does the same from a real
//! PostgreSQL primary and hot standby, extracting the tickets from the
//! standby, and must score the same records. Also: the committed data and
//! model assets are what the example's scripts make.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use weir_tests::{Run, Sandbox, guest, python, sha256, weir_bin, workspace};

const FOLDER: &str = "interval=20261126T000000Z";
const CATEGORIES: [&str; 5] = ["account", "billing", "returns", "shipping", "technical"];

fn example_dir() -> PathBuf {
    workspace().join("examples/nlp")
}

/// examples/nlp/pipeline.toml with its stages under `lake` and every other
/// path absolute: the modules built from source by the test harness, the
/// assets in the repository.
fn pipeline_copy(sb: &Sandbox) -> PathBuf {
    let original = example_dir().join("pipeline.toml");
    let mut text = std::fs::read_to_string(&original)
        .unwrap_or_else(|e| panic!("{}: {e}", original.display()));
    let ws = workspace();
    let replacements = [
        (
            "\"../../out/nlp/".to_owned(),
            format!("\"{}/", sb.join("lake").display()),
        ),
        (
            "\"../../target/wasm32-wasip2/guest/spellcheck.wasm\"".to_owned(),
            format!("\"{}\"", guest("spellcheck").display()),
        ),
        (
            "\"../../target/wasm32-wasip2/guest/categorize.wasm\"".to_owned(),
            format!("\"{}\"", guest("categorize").display()),
        ),
        (
            "\"../../target/wasm32-wasip2/guest/model_apply.wasm\"".to_owned(),
            format!("\"{}\"", guest("model-apply").display()),
        ),
        (
            "\"../../transforms/".to_owned(),
            format!("\"{}/transforms/", ws.display()),
        ),
        (
            "\"assets/".to_owned(),
            format!("\"{}/assets/", example_dir().display()),
        ),
    ];
    for (from, to) in &replacements {
        assert!(
            text.contains(from.as_str()),
            "examples/nlp/pipeline.toml has no {from}: it changed shape"
        );
        text = text.replace(from.as_str(), to);
    }
    assert!(
        !text.contains("\"../"),
        "a relative path is left in the copy:\n{text}"
    );
    sb.write("pipeline.toml", text)
}

/// Runs `examples/SCRIPT --no-build` in the sandbox on `pipeline` and checks that it succeeds and says where each stage's interval is.
fn run_example(sb: &Sandbox, script: &str, pipeline: &Path, env: &[(&str, String)]) -> Run {
    let out = Command::new(workspace().join("examples").join(script))
        .arg("--no-build")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("WEIR_PIPELINE", pipeline)
        .env("WEIR_BIN", weir_bin())
        .current_dir(sb.path())
        .output()
        .unwrap_or_else(|e| panic!("running examples/{script}: {e}"));
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
    .ok();
    for stage in ["raw", "clean", "categorized", "scored"] {
        let at = format!("{}/{FOLDER}", sb.join(&format!("lake/{stage}")).display());
        assert!(
            run.stdout.contains(&at),
            "examples/{script} does not say where {stage} is ({at}):\n{}",
            run.stdout
        );
    }
    run
}

fn manifest(sb: &Sandbox, stage: &str) -> (Value, Vec<u8>) {
    let path = sb.join(&format!("lake/{stage}/{FOLDER}/_manifest.json"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value =
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (value, bytes)
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// A manifest's own arithmetic: its parts add up to its totals, and every
/// input record was committed, quarantined or filtered.
fn assert_totals_add_up(stage: &str, m: &Value) {
    let t = &m["totals"];
    let sum = |list: &Value| -> u64 {
        list.as_array()
            .unwrap_or_else(|| panic!("{stage}: not a list: {list}"))
            .iter()
            .map(|p| count(&p["records"]))
            .sum()
    };
    assert_eq!(
        sum(&m["parts"]),
        count(&t["records"]),
        "{stage}: parts against totals"
    );
    assert_eq!(
        sum(&m["quarantine"]["parts"]),
        count(&t["quarantined"]),
        "{stage}: quarantine parts"
    );
    assert_eq!(
        count(&m["quarantine"]["records"]),
        count(&t["quarantined"]),
        "{stage}: quarantine"
    );
    assert_eq!(
        count(&t["records"]) + count(&t["quarantined"]) + count(&t["filtered"]),
        count(&t["input_records"]),
        "{stage}: records + quarantined + filtered against input records"
    );
}

/// The three steps after raw: each stage's manifest adds up, reads every
/// record the stage before committed (lineage to its manifest's sha256),
/// and names its transform with the same counts; 399 tickets are scored.
fn assert_steps_reconcile(sb: &Sandbox, raw: Value, raw_bytes: Vec<u8>) {
    let mut previous = raw;
    let mut previous_bytes = raw_bytes;
    // Each step reads every record the stage before committed; clean
    // quarantines the one ticket whose text is null.
    for (stage, transform, quarantined) in [
        ("clean", "spellcheck", 1),
        ("categorized", "categorize", 0),
        ("scored", "model_apply", 0),
    ] {
        let (m, bytes) = manifest(sb, stage);
        assert_totals_add_up(stage, &m);
        let t = &m["totals"];
        assert_eq!(
            t["input_records"], previous["totals"]["records"],
            "{stage}: input against the stage before"
        );
        assert_eq!(t["quarantined"], quarantined, "{stage}");
        assert_eq!(
            m["lineage"][0]["stage"], previous["stage"],
            "{stage}: lineage"
        );
        assert_eq!(
            m["lineage"][0]["manifest_sha256"],
            sha256(&previous_bytes),
            "{stage}: lineage"
        );
        let step = &m["producer"]["transforms"][0];
        assert_eq!(step["name"], transform, "{stage}");
        assert_eq!(step["records_in"], t["input_records"], "{stage}");
        assert_eq!(step["records_out"], t["records"], "{stage}");
        assert_eq!(step["quarantined"], t["quarantined"], "{stage}");
        (previous, previous_bytes) = (m, bytes);
    }
    assert_eq!(previous["totals"]["records"], 399);
}

/// A stage's records, in the stage's order.
fn records(sb: &Sandbox, stage: &str) -> Vec<Value> {
    let out = sb
        .weir(&[
            "cat",
            &sb.join(&format!("lake/{stage}")).to_string_lossy(),
            "--interval",
            "2026-11-26",
        ])
        .ok();
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The run's OpenLineage events, as Marquez or DataHub would draw them:
/// valid against the spec's schemas, one COMPLETE per command, and each
/// step's input the dataset the step before wrote: raw → clean →
/// categorized → scored, with the committed counts and manifest versions.
fn assert_lineage_chains_the_stages(events_file: &Path, sb: &Sandbox) {
    crate::lineage::assert_valid(events_file);
    let events = crate::lineage::events(events_file);
    let complete: Vec<&Value> = events
        .iter()
        .filter(|e| e["eventType"] == "COMPLETE")
        .collect();
    let starts = events.iter().filter(|e| e["eventType"] == "START").count();
    assert_eq!((complete.len(), starts), (4, 4), "{events:#?}");
    let stages = ["raw", "clean", "categorized", "scored"];
    for (k, (e, stage)) in complete.iter().zip(stages).enumerate() {
        let out = &e["outputs"][0];
        let (m, bytes) = manifest(sb, stage);
        assert!(
            out["name"]
                .as_str()
                .is_some_and(|n| n.ends_with(&format!("/lake/{stage}"))),
            "{stage}: {out:#}"
        );
        assert_eq!(
            out["outputFacets"]["outputStatistics"]["rowCount"], m["totals"]["records"],
            "{stage}"
        );
        assert_eq!(
            out["facets"]["version"]["datasetVersion"],
            sha256(&bytes),
            "{stage}"
        );
        if k > 0 {
            let input = &e["inputs"][0];
            let before = &complete[k - 1]["outputs"][0];
            assert_eq!(
                (&input["namespace"], &input["name"]),
                (&before["namespace"], &before["name"]),
                "{stage}'s input is the stage before"
            );
            assert_eq!(
                input["facets"]["version"]["datasetVersion"],
                before["facets"]["version"]["datasetVersion"]
            );
        }
    }
    let jobs: Vec<&str> = complete
        .iter()
        .map(|e| e["job"]["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        &jobs[1..],
        ["pipeline.clean", "pipeline.categorize", "pipeline.score"]
    );
}

/// `weir report` of the four stages, rendered by headless Chromium: the
/// lineage graph links them in order and each stage shows its counts.
fn assert_report_shows_the_stages(sb: &Sandbox) {
    let stages = ["raw", "clean", "categorized", "scored"];
    let mut args = vec!["report".to_owned()];
    args.extend(stages.map(|s| sb.join(&format!("lake/{s}")).display().to_string()));
    args.extend(["-o".into(), "report.html".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sb.weir(&args).ok();
    let page = sb.join("report.html");
    let dom = crate::report::headless(sb, &page, &["--dump-dom".into()]);
    let graph = &dom[dom.find("id=\"lineage-graph\"").unwrap_or(0)..];
    for pair in stages.windows(2) {
        let edge = format!("/lake/{} → ", pair[0]);
        let at = graph
            .find(&edge)
            .unwrap_or_else(|| panic!("no edge from {} in {graph}", pair[0]));
        let to = &graph[at + edge.len()..];
        assert!(
            to[..to.find('<').unwrap_or(0)].ends_with(&format!("/lake/{}", pair[1])),
            "the edge from {} goes to {to:.80}",
            pair[0]
        );
    }
    for (k, stage) in stages.iter().enumerate() {
        let (m, _) = manifest(sb, stage);
        let section = crate::report::section(&dom, k);
        assert_eq!(crate::report::total(section, "committed"), "1", "{stage}");
        assert_eq!(
            crate::report::total(section, "records"),
            m["totals"]["records"].to_string(),
            "{stage}"
        );
        assert_eq!(
            crate::report::total(section, "quarantined"),
            m["totals"]["quarantined"].to_string(),
            "{stage}"
        );
    }
}

#[test]
fn nlp_example_runs_every_step_and_the_stages_reconcile() {
    let sb = Sandbox::new();
    let pipeline = pipeline_copy(&sb);
    // Every weir command of the run sends its OpenLineage events to a file.
    let events_file = sb.join("lineage.ndjson");
    let transport = [
        ("OPENLINEAGE__TRANSPORT__TYPE", "file".to_owned()),
        (
            "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH",
            events_file.display().to_string(),
        ),
    ];
    run_example(&sb, "nlp/run", &pipeline, &transport);

    // raw: 401 lines, one cut off mid-record.
    let (raw, raw_bytes) = manifest(&sb, "raw");
    assert_totals_add_up("raw", &raw);
    assert_eq!(raw["totals"]["input_records"], 401);
    assert_eq!(raw["totals"]["quarantined"], 1);
    assert_steps_reconcile(&sb, raw, raw_bytes);
    assert_lineage_chains_the_stages(&events_file, &sb);
    assert_report_shows_the_stages(&sb);

    let records = records(&sb, "scored");
    assert_eq!(records.len(), 399);
    let mut ids = BTreeSet::new();
    let mut corrections = 0;
    for r in &records {
        let id = r["id"].as_str().unwrap_or_else(|| panic!("no id: {r}"));
        assert!(ids.insert(id.to_owned()), "{id} twice");
        for field in ["ts", "channel", "subject", "text"] {
            assert!(r[field].is_string(), "{id}: {field} is not a string");
        }
        for field in [
            "customer.tenure_months",
            "order.total",
            "order.days_since_order",
            "previous_contacts",
        ] {
            let v = field.split('.').fold(r, |v, k| &v[k]);
            assert!(v.is_number(), "{id}: {field} is not a number");
        }
        corrections += r["corrections"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: no corrections"))
            .len();
        let category = r["category"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no category"));
        assert!(CATEGORIES.contains(&category), "{id}: category {category}");
        let scores = r["category_scores"]
            .as_object()
            .unwrap_or_else(|| panic!("{id}: no category_scores"));
        assert_eq!(
            scores.keys().map(String::as_str).collect::<Vec<_>>(),
            CATEGORIES,
            "{id}"
        );
        let total: f64 = scores.values().filter_map(Value::as_f64).sum();
        assert!(
            (total - 1.0).abs() < 1e-9,
            "{id}: category_scores add up to {total}"
        );
        let priority = r["priority"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no priority"));
        assert!(
            ["high", "normal"].contains(&priority),
            "{id}: priority {priority}"
        );
        let p = &r["priority_scores"];
        let (high, normal) = (p["high"].as_f64(), p["normal"].as_f64());
        let (Some(high), Some(normal)) = (high, normal) else {
            panic!("{id}: priority_scores {p}")
        };
        assert!(
            (high + normal - 1.0).abs() < 1e-6,
            "{id}: priority_scores {p}"
        );
        assert_eq!(
            priority == "high",
            high > normal,
            "{id}: the label is not the likelier class: {p}"
        );
    }
    // Roughly one typo in every other ticket; the spellcheck fixes most.
    assert!(corrections > 200, "only {corrections} corrections");

    // The generator knows each ticket's category: after the spellcheck the
    // model gets nearly all of them.
    let truth = sb.python(
        "import json, sys\n\
         sys.path.insert(0, sys.argv[1])\n\
         import gen_tickets as g\n\
         print(json.dumps({t['id']: t['category'] for t in g.tickets(g.RAW_SEED, g.RAW_TICKETS, typo_rate=g.RAW_TYPO_RATE)}))",
        &[&example_dir().to_string_lossy()],
    );
    let truth = truth.ok().json();
    let right = records
        .iter()
        .filter(|r| truth[r["id"].as_str().unwrap_or("")] == r["category"])
        .count();
    println!(
        "nlp example: {corrections} corrections, {right} of {} categories as generated",
        records.len()
    );
    assert!(
        right * 100 >= records.len() * 95,
        "only {right} of {} categories right",
        records.len()
    );
}

/// `records` without the extract's cursor column, `updated_at`, which the
/// loader sets to each ticket's `ts` on the sample day.
fn without_cursor(mut records: Vec<Value>) -> Vec<Value> {
    for r in &mut records {
        let Some(fields) = r.as_object_mut() else {
            panic!("not an object: {r}")
        };
        let updated_at = fields
            .remove("updated_at")
            .unwrap_or_else(|| panic!("no updated_at: {fields:?}"));
        assert_eq!(updated_at, fields["ts"], "{:?}", fields["id"]);
    }
    records
}

#[test]
fn nlp_example_from_postgres_extracts_from_the_standby_and_scores_the_same_records() {
    let sb = Sandbox::new();
    let pipeline = pipeline_copy(&sb);
    let run = run_example(&sb, "postgres/run", &pipeline, &[]);

    // raw is the extract of the 400 tickets the loader could read (the line
    // cut off mid-record is no row), from the standby.
    let (raw, raw_bytes) = manifest(&sb, "raw");
    assert_totals_add_up("raw", &raw);
    assert_eq!(raw["totals"]["input_records"], 400);
    assert_eq!(raw["totals"]["quarantined"], 0);
    let x = &raw["producer"]["extract"];
    assert_eq!(x["table"], "support.tickets", "{x:#}");
    assert_eq!(x["source"]["host"], "127.0.0.1", "{x:#}");
    assert_eq!(x["source"]["database"], "postgres", "{x:#}");
    assert_eq!(x["standby"], true, "{x:#}");
    assert_eq!(x["cursor"], "updated_at", "{x:#}");
    assert_eq!(x["key"], "id", "{x:#}");
    assert_eq!(x["rows"], 400, "{x:#}");
    assert_eq!(x["window"]["start"], "2026-11-26T00:00:00Z", "{x:#}");
    assert_eq!(x["window"]["end"], "2026-11-27T00:00:00Z", "{x:#}");
    let port = x["source"]["port"].to_string();
    assert!(
        run.stdout
            .contains(&format!("hot standby on 127.0.0.1:{port}")),
        "the extract did not read the standby the run started:\n{}",
        run.stdout
    );
    assert_steps_reconcile(&sb, raw, raw_bytes);

    // The cluster is gone once the run has ended.
    let dir = run
        .stdout
        .split_whitespace()
        .find(|w| w.contains("/weir-postgres-"))
        .unwrap_or_else(|| panic!("no cluster directory in:\n{}", run.stdout));
    assert!(!Path::new(dir).exists(), "{dir} is left behind");

    // The same records as the database-free run, stage by stage, but for
    // the cursor column.
    let free = Sandbox::new();
    run_example(&free, "nlp/run", &pipeline_copy(&free), &[]);
    for stage in ["raw", "scored"] {
        let (got, want) = (without_cursor(records(&sb, stage)), records(&free, stage));
        assert_eq!(got.len(), want.len(), "{stage}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{stage}");
        }
    }
}

#[test]
fn nlp_example_data_and_models_are_what_its_scripts_make() {
    let sb = Sandbox::new();
    for script in ["gen_tickets.py", "train.py"] {
        let out = Command::new(python())
            .arg(example_dir().join(script))
            .arg("--check")
            .current_dir(sb.path())
            .output()
            .unwrap_or_else(|e| panic!("running {script}: {e}"));
        assert!(
            out.status.success(),
            "{script} --check: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
