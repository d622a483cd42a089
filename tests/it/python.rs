//! Python transforms end to end: `transforms/py-redact` is built from source
//! with componentize-py (`scripts/build-python-guest`, the test venv's pinned
//! version) and run by the real binary, through `weir run` and `weir test`.
//!
//! Compiling the 19 MB component takes seconds, so every test but the cache
//! test shares one module cache (`target/guests/python/module-cache`), which
//! the build warms once per test process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use serde_json::Value;
use weir_tests::{Sandbox, lines, workspace};

const INTERVAL: &str = "2026-11-26T00:00:00+00:00";

fn example_dir() -> PathBuf {
    workspace().join("transforms/py-redact")
}

fn shared_cache() -> PathBuf {
    workspace().join("target/guests/python/module-cache")
}

/// The py-redact component, built once per test process, and the shared
/// module cache warmed with it.
fn py_redact() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = workspace().join("target/guests/python");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        // Built under a name of this process, then renamed into place, so
        // test processes running side by side never read a torn file.
        let partial = dir.join(format!("py-redact.{}.wasm", std::process::id()));
        let path = dir.join("py-redact.wasm");
        let started = Instant::now();
        let out = Command::new(workspace().join("scripts/build-python-guest"))
            .arg(example_dir())
            .arg(&partial)
            .output()
            .unwrap_or_else(|e| panic!("running scripts/build-python-guest: {e}"));
        assert!(
            out.status.success(),
            "building transforms/py-redact failed (is componentize-py in the test venv? \
             .venv/bin/pip install -r scripts/requirements-test.txt):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(&partial, &path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let size = std::fs::metadata(&path)
            .map(|m| m.len())
            .unwrap_or_default();
        eprintln!(
            "py-redact: built {} bytes with componentize-py in {:.1} s",
            size,
            started.elapsed().as_secs_f64()
        );
        // Compile it into the shared cache once, rather than in each test.
        Sandbox::new().weir_env(
            &[
                "test",
                path.to_str().unwrap_or_default(),
                "--cases",
                example_dir().join("cases").to_str().unwrap_or_default(),
            ],
            &[("WEIR_CACHE_DIR", shared_cache().display().to_string())],
        );
        path
    })
}

fn run_redact(sb: &Sandbox, config: &str, extra: &[&str]) -> weir_tests::Run {
    let cache = shared_cache();
    let mut args = vec![
        "run",
        "--input",
        "raw",
        "--output",
        "out",
        "--interval",
        INTERVAL,
        "--transform",
        py_redact().to_str().unwrap_or_default(),
        "--config",
        config,
        "--cache-dir",
        cache.to_str().unwrap_or_default(),
    ];
    args.extend(extra);
    sb.weir(&args)
}

fn stage_records(sb: &Sandbox, records: &str) {
    sb.write("input.ndjson", records);
    sb.weir(&["stage", "raw", "--interval", INTERVAL, "input.ndjson"])
        .ok();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `from_cache` and `elapsed_ms` of the `loaded transform module` lines
/// of a `weir -v` log.
fn module_loads(stderr: &str) -> Vec<(bool, f64)> {
    stderr
        .lines()
        .filter(|l| l.contains("loaded transform module"))
        .map(|l| {
            let field = |name: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(name))
                    .unwrap_or_else(|| panic!("no {name} in {l}"))
                    .to_owned()
            };
            (
                field("from_cache=") == "true",
                field("elapsed_ms=").parse().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

#[test]
fn python_transform_maps_records_and_quarantines_the_one_that_raises() {
    let sb = Sandbox::new();
    let case = example_dir().join("cases/readme-example");
    let input = read(&case.join("input.ndjson"));
    stage_records(&sb, &input);
    let r = run_redact(
        &sb,
        read(&case.join("config.json")).trim(),
        &["--max-rejected", "1", "--json"],
    )
    .ok();
    let out = sb.weir(&["cat", "out", "--interval", INTERVAL]).ok().stdout;
    assert_eq!(out, read(&case.join("expected.ndjson")));
    let totals = &r.json()["totals"];
    assert_eq!(totals["input_records"], 4, "{}", r.stdout);
    assert_eq!(totals["records"], 3, "{}", r.stdout);
    assert_eq!(totals["quarantined"], 1, "{}", r.stdout);

    let q = sb
        .weir(&["cat", "out", "--interval", INTERVAL, "--quarantine"])
        .ok()
        .stdout;
    let q: Vec<Value> = lines(&q)
        .into_iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["line"], 3);
    assert_eq!(q[0]["record"], lines(&input)[2]);
    assert_eq!(q[0]["transform"], "py-redact");
    let reason = q[0]["reason"].as_str().unwrap_or_default();
    // The exception's type and message, and where in app.py it was raised.
    assert!(
        reason.starts_with("TypeError: field `text` is a number, not a string (at app.py:"),
        "{reason}"
    );
}

#[test]
fn python_transform_filters_records_it_returns_none_for() {
    let sb = Sandbox::new();
    stage_records(
        &sb,
        "{\"id\":1,\"text\":\"nothing to hide\"}\n\
         {\"id\":2,\"text\":\"mail ops@example.org\"}\n\
         {\"id\":3,\"text\":\"price 12.50, big 123456789012345678901234567890\"}\n",
    );
    run_redact(&sb, r#"{"fields":["text"],"action":"drop"}"#, &[]).ok();
    let out = sb.weir(&["cat", "out", "--interval", INTERVAL]).ok().stdout;
    assert_eq!(
        out,
        "{\"id\":1,\"text\":\"nothing to hide\"}\n\
         {\"id\":3,\"text\":\"price 12.50, big 123456789012345678901234567890\"}\n"
    );
}

#[test]
fn python_config_errors_fail_init_before_any_output() {
    let sb = Sandbox::new();
    stage_records(&sb, "{\"id\":1,\"text\":\"a@b.io\"}\n");
    for (config, needle) in [
        (
            r#"{"fields":["text"],"mask":"x"}"#,
            "invalid config: ValueError: unknown key `mask`",
        ),
        (r#"{}"#, "`fields` must be a non-empty list"),
        (
            r#"{"fields":["text"],"action":"hide"}"#,
            "`action` must be \"redact\" or \"drop\", not 'hide'",
        ),
    ] {
        let r = run_redact(&sb, config, &[]).expect_code(1);
        assert!(r.stderr.contains(needle), "{config}: {}", r.stderr);
        assert!(
            sb.files("out").is_empty(),
            "{config}: {:?}",
            sb.files("out")
        );
    }
}

#[test]
fn python_golden_cases_pass_against_the_component() {
    let sb = Sandbox::new();
    let r = sb
        .weir_env(
            &[
                "test",
                py_redact().to_str().unwrap_or_default(),
                "--cases",
                example_dir().join("cases").to_str().unwrap_or_default(),
                "--json",
            ],
            &[("WEIR_CACHE_DIR", shared_cache().display().to_string())],
        )
        .ok();
    let report = r.json();
    assert_eq!(report["failed"], 0, "{}", r.stdout);
    assert!(report["passed"].as_u64() >= Some(4), "{}", r.stdout);
    // py-redact never reads the clock, so the frozen-clock notice stays out.
    assert!(!r.stderr.contains("read the clock"), "{}", r.stderr);
}

#[test]
fn compiled_python_module_is_cached_so_the_second_run_starts_fast() {
    let sb = Sandbox::new();
    stage_records(&sb, "{\"id\":1,\"text\":\"call +1 555 010 9999\"}\n");
    let module = py_redact().to_str().unwrap_or_default();
    let cache = sb.join("module-cache");
    let mut loads = Vec::new();
    for output in ["out1", "out2"] {
        let started = Instant::now();
        let r = sb
            .weir(&[
                "-v",
                "run",
                "--input",
                "raw",
                "--output",
                output,
                "--interval",
                INTERVAL,
                "--transform",
                module,
                "--config",
                r#"{"fields":["text"]}"#,
                "--workers",
                "1",
                "--cache-dir",
                cache.to_str().unwrap_or_default(),
            ])
            .ok();
        let wall = started.elapsed().as_secs_f64();
        let load = module_loads(&r.stderr);
        assert_eq!(load.len(), 1, "{}", r.stderr);
        eprintln!(
            "py-redact {output}: from_cache={} load {:.1} ms, whole run {:.2} s",
            load[0].0, load[0].1, wall
        );
        loads.push(load[0].0);
    }
    assert_eq!(
        loads,
        [false, true],
        "the first run compiles, the second loads"
    );
    assert_eq!(
        sb.weir(&["cat", "out2", "--interval", INTERVAL])
            .ok()
            .stdout,
        "{\"id\":1,\"text\":\"call [phone]\"}\n"
    );
}

/// The field-mode app `tests/guests/py-fields` (it declares `reads` and
/// `writes`), built once per test process.
fn py_fields() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = workspace().join("target/guests/python");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let partial = dir.join(format!("py-fields.{}.wasm", std::process::id()));
        let path = dir.join("py-fields.wasm");
        let out = Command::new(workspace().join("scripts/build-python-guest"))
            .arg(workspace().join("tests/guests/py-fields"))
            .arg(&partial)
            .output()
            .unwrap_or_else(|e| panic!("running scripts/build-python-guest: {e}"));
        assert!(
            out.status.success(),
            "building tests/guests/py-fields failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(&partial, &path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    })
}

/// Field mode end to end: the host hands the Python guest only `text` and
/// `n` and writes its patches into the records, so every other byte (big
/// integers, `12.50`, `1E3`, escapes, a `\u`-escaped key, whitespace) comes
/// out as it went in; a filter, two copies of one record and a patch outside
/// `writes` (quarantined, naming the field) behave as the WIT says. `weir
/// test` natively and against the component agree with the run.
#[test]
fn python_field_mode_patches_records_and_keeps_every_other_byte() {
    let sb = Sandbox::new();
    let app = workspace().join("tests/guests/py-fields");
    let case = app.join("cases/awkward");
    stage_records(&sb, &read(&case.join("input.ndjson")));
    let cache = shared_cache();
    let r = sb
        .weir(&[
            "run",
            "--input",
            "raw",
            "--output",
            "out",
            "--interval",
            INTERVAL,
            "--transform",
            py_fields().to_str().unwrap_or_default(),
            "--cache-dir",
            cache.to_str().unwrap_or_default(),
            "--max-rejected",
            "1",
            "--json",
        ])
        .ok();
    assert_eq!(r.json()["totals"]["quarantined"], 1, "{}", r.stdout);
    let out = sb.weir(&["cat", "out", "--interval", INTERVAL]).ok().stdout;
    assert_eq!(out, read(&case.join("expected.ndjson")));
    assert!(
        out.contains(r#""n":12.50,"e":1E3,"text":"café au lait""#)
            && out.contains(r#"{ "text" : "spaced out" , "len" : 10 }"#),
        "{out}"
    );
    let q = sb
        .weir(&["cat", "out", "--interval", INTERVAL, "--quarantine"])
        .ok()
        .stdout;
    let q: Value = serde_json::from_str(lines(&q)[0]).unwrap_or_else(|e| panic!("{e}: {q}"));
    assert_eq!(q["line"], 7);
    assert!(
        q["reason"]
            .as_str()
            .is_some_and(|r| r.contains("its patch sets field \"id\", which is not among")),
        "{q}"
    );

    let python = [
        ("WEIR_PYTHON", weir_tests::python().display().to_string()),
        (
            "PYTHONPATH",
            workspace().join("guest-sdk/python").display().to_string(),
        ),
        ("WEIR_CACHE_DIR", cache.display().to_string()),
    ];
    let app_dir = app.to_str().unwrap_or_default();
    let cases = app.join("cases");
    let native = sb.weir_env(&["test", app_dir, "--json"], &python).ok();
    assert_eq!(native.json()["failed"], 0, "{}", native.stdout);
    let component = sb
        .weir_env(
            &[
                "test",
                py_fields().to_str().unwrap_or_default(),
                "--cases",
                cases.to_str().unwrap_or_default(),
                "--json",
            ],
            &python,
        )
        .ok();
    assert_eq!(component.json()["failed"], 0, "{}", component.stdout);
}
