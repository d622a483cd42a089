//! Transform authoring: `weir test` on golden cases (the shipped
//! transforms' own, a failing one, `--bless`), `weir inspect` on real and
//! hostile components and on things that are not components, and the whole
//! `weir new` → `weir build` → `weir test` loop outside this repository.

use std::path::Path;

use weir_tests::{Sandbox, guest, sha256, workspace};

fn copy_case(sb: &Sandbox, from: &Path, to: &str) {
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        let path = entry.path();
        sb.write(
            &format!("{to}/{}", entry.file_name().to_string_lossy()),
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        );
    }
}

fn normalize_case(name: &str) -> std::path::PathBuf {
    workspace().join("transforms/normalize/cases").join(name)
}

#[test]
fn shipped_normalize_cases_pass_under_weir_test() {
    let sb = Sandbox::new();
    let wasm = guest("normalize");
    let cases = workspace().join("transforms/normalize/cases");
    let run = sb
        .weir(&[
            "test",
            wasm.to_str().unwrap(),
            "--cases",
            cases.to_str().unwrap(),
        ])
        .ok();
    let count = std::fs::read_dir(&cases).unwrap().count();
    assert_eq!(
        run.stdout.lines().last(),
        Some(format!("{count} passed, 0 failed").as_str()),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ok   non-string-field"),
        "{}",
        run.stdout
    );
}

#[test]
fn failing_case_prints_a_numbered_diff_and_exits_nonzero() {
    let sb = Sandbox::new();
    let wasm = guest("normalize");
    copy_case(&sb, &normalize_case("basic"), "cases/basic");
    // Line 2 of the expected output is wrong; line 4 is the same JSON value
    // spelled with another key order.
    sb.write(
        "cases/basic/expected.ndjson",
        concat!(
            "{\"id\":1,\"text\":\"hello, world!\",\"score\":1.50}\n",
            "{\"id\":2,\"text\":\"ALREADY tidy not\",\"tags\":[\"A\",\"B\"]}\n",
            "{\"id\":3,\"other\":\"  Left  ALONE  \"}\n",
            "{\"text\":\"big id\",\"id\":123456789012345678901234567890}\n",
        ),
    );
    let run = sb
        .weir(&["test", wasm.to_str().unwrap(), "--cases", "cases"])
        .expect_code(1);
    let out = &run.stdout;
    assert!(out.contains("FAIL basic"), "{out}");
    assert!(
        out.contains("- 2 | {\"id\":2,\"text\":\"ALREADY tidy not\",\"tags\":[\"A\",\"B\"]}"),
        "{out}"
    );
    assert!(
        out.contains("+ 2 | {\"id\":2,\"text\":\"already tidy not\",\"tags\":[\"A\",\"B\"]}"),
        "{out}"
    );
    assert!(
        out.contains("hint: expected line 4 and got line 4 are the same JSON value"),
        "{out}"
    );
    assert!(!out.contains("hint: expected line 2"), "{out}");
    assert!(
        !out.contains("| {\"id\":1,"),
        "unchanged lines are not shown: {out}"
    );
    assert_eq!(out.lines().last(), Some("0 passed, 1 failed"), "{out}");
}

#[test]
fn quarantine_mismatches_name_the_line() {
    let sb = Sandbox::new();
    let wasm = guest("normalize");
    copy_case(&sb, &normalize_case("readme-example"), "cases/readme");
    sb.write(
        "cases/readme/expected-quarantine.ndjson",
        "{\"line\": 2, \"reason\": \"is a boolean\"}\n{\"line\": 1, \"reason\": \"x\"}\n",
    );
    let run = sb
        .weir(&["test", wasm.to_str().unwrap(), "--cases", "cases", "--json"])
        .expect_code(1);
    let json = run.json();
    assert_eq!(json["passed"], 0);
    assert_eq!(json["failed"], 1);
    let problems = json["cases"][0]["problems"].to_string();
    assert!(problems.contains("line 2 was rejected with"), "{problems}");
    assert!(
        problems.contains("does not contain \\\"is a boolean\\\""),
        "{problems}"
    );
    assert!(problems.contains("line 1 was not rejected"), "{problems}");
}

#[test]
fn bless_rewrites_expected_files_and_then_they_pass() {
    let sb = Sandbox::new();
    let wasm = guest("normalize");
    let shipped = normalize_case("non-string-field");
    copy_case(&sb, &shipped, "cases/n");
    sb.write("cases/n/expected.ndjson", "{\"stale\":true}\n");
    std::fs::remove_file(sb.join("cases/n/expected-quarantine.ndjson")).unwrap();
    // A case without expected files at all.
    sb.write("cases/fresh/input.ndjson", "{\"text\":\"  A  B \"}\n");
    sb.write("cases/fresh/config.json", "{\"fields\":[\"text\"]}\n");

    let wasm = wasm.to_str().unwrap();
    sb.weir(&["test", wasm, "--cases", "cases"]).expect_code(1);
    let run = sb.weir(&["test", wasm, "--cases", "cases", "--bless"]).ok();
    assert!(
        run.stdout.contains("blessed expected.ndjson"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().last(), Some("2 passed, 0 failed"));

    assert_eq!(
        std::fs::read_to_string(sb.join("cases/n/expected.ndjson")).unwrap(),
        std::fs::read_to_string(shipped.join("expected.ndjson")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(sb.join("cases/fresh/expected.ndjson")).unwrap(),
        "{\"text\":\"a b\"}\n"
    );
    let quarantine =
        std::fs::read_to_string(sb.join("cases/n/expected-quarantine.ndjson")).unwrap();
    let lines: Vec<serde_json::Value> = quarantine
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| l["line"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    assert_eq!(lines[0]["reason"], "field `text` is a number, not a string");
    assert!(!sb.join("cases/fresh/expected-quarantine.ndjson").exists());

    let again = sb.weir(&["test", wasm, "--cases", "cases"]).ok();
    assert_eq!(again.stdout.lines().last(), Some("2 passed, 0 failed"));
    assert!(!again.stdout.contains("blessed"));
}

#[test]
fn inspect_reports_normalize_world_digest_and_no_capabilities() {
    let sb = Sandbox::new();
    let wasm = guest("normalize");
    let json = sb
        .weir(&["inspect", wasm.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(json["world"], "weir:transform/transform@0.2.0");
    assert_eq!(json["contract_version"], "0.2.0");
    assert_eq!(json["compatible"], true);
    assert_eq!(json["sha256"], sha256(&std::fs::read(&wasm).unwrap()));
    assert_eq!(json["size"], std::fs::metadata(&wasm).unwrap().len());
    assert_eq!(
        json["exports"],
        serde_json::json!(["init", "fields", "process", "finish"])
    );
    assert_eq!(json["capabilities"], serde_json::json!([]));
    let imports = json["imports"].as_array().unwrap();
    assert!(
        imports
            .iter()
            .any(|i| i["name"] == "weir:transform/types@0.2.0" && i["kind"] == "contract")
    );
    assert!(imports.iter().all(|i| {
        let name = i["name"].as_str().unwrap();
        !name.starts_with("wasi:filesystem") && !name.starts_with("wasi:sockets")
    }));

    let text = sb.weir(&["inspect", wasm.to_str().unwrap()]).ok().stdout;
    assert!(
        text.contains(
            "weir:transform/transform@0.2.0 (compatible with this runtime; it may declare"
        ),
        "{text}"
    );
    // A module of the previous contract (the hostile guest is built against
    // wit/0.1.0) still runs, and inspect says which world it is.
    let old = sb
        .weir(&["inspect", guest("weir-hostile").to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(old["world"], "weir:transform/transform@0.1.0");
    assert_eq!(old["compatible"], true);
    assert!(
        text.contains("capabilities  none beyond the sandbox default"),
        "{text}"
    );
}

#[test]
fn inspect_flags_the_hostile_guests_file_and_socket_imports() {
    let sb = Sandbox::new();
    let wasm = guest("weir-hostile");
    let json = sb
        .weir(&["inspect", wasm.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(
        json["capabilities"],
        serde_json::json!(["files", "network"])
    );
    let imports = json["imports"].as_array().unwrap();
    for name in ["wasi:filesystem/preopens@", "wasi:sockets/tcp@"] {
        assert!(
            imports.iter().any(|i| {
                i["name"].as_str().unwrap().starts_with(name) && i["kind"] == "capability"
            }),
            "{name} not flagged: {json}"
        );
    }
    let text = sb.weir(&["inspect", wasm.to_str().unwrap()]).ok().stdout;
    assert!(text.contains("capabilities  files, network"), "{text}");
}

#[test]
fn inspect_refuses_core_modules_and_text_clearly() {
    let sb = Sandbox::new();
    sb.write("core.wasm", b"\0asm\x01\0\0\0");
    sb.write("notes.wasm", "this is not wasm\n");
    let core = sb.weir(&["inspect", "core.wasm"]).expect_code(1);
    assert!(
        core.stderr
            .contains("core WebAssembly module, not a component"),
        "{}",
        core.stderr
    );
    let text = sb.weir(&["inspect", "notes.wasm"]).expect_code(1);
    assert!(
        text.stderr.contains("not a WebAssembly binary"),
        "{}",
        text.stderr
    );
    let test = sb
        .weir(&["test", "core.wasm", "--cases", "."])
        .expect_code(1);
    assert!(
        test.stderr.contains("core WebAssembly module"),
        "{}",
        test.stderr
    );
}

/// `WEIR_PYTHON` for `weir test` on a Python project: the test venv's.
fn native_python() -> Vec<(&'static str, String)> {
    vec![("WEIR_PYTHON", weir_tests::python().display().to_string())]
}

/// The test venv Python's version, `3.11.7`.
fn host_python_version() -> String {
    let out = std::process::Command::new(weir_tests::python())
        .args(["-c", "import sys; print(sys.version.split()[0])"])
        .output()
        .unwrap_or_else(|e| panic!("python: {e}"));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[test]
fn python_project_cases_run_natively_without_a_build() {
    let sb = Sandbox::new();
    let new = sb.weir(&["new", "py-fast", "--lang", "python"]).ok();
    // `weir new` says how the loop goes and why the clock is frozen.
    assert!(
        new.stdout.contains("weir test --component"),
        "{}",
        new.stdout
    );
    assert!(
        new.stdout.contains("frozen at 2000-01-01"),
        "{}",
        new.stdout
    );
    let readme = std::fs::read_to_string(sb.join("py-fast/README.md")).unwrap_or_default();
    assert!(
        readme.contains("frozen at **2000-01-01T00:00:00Z**"),
        "{readme}"
    );
    assert!(readme.contains("**seeded**"), "{readme}");

    let started = std::time::Instant::now();
    let run = sb.weir_env(&["test", "py-fast"], &native_python()).ok();
    eprintln!(
        "weir test natively: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        run.stdout.lines().last(),
        Some("2 passed, 0 failed"),
        "{}",
        run.stdout
    );
    assert!(!sb.join("py-fast/target").exists(), "nothing was built");
    let version = host_python_version();
    if !version.starts_with("3.14.") {
        assert_eq!(
            run.stderr
                .matches("note: ran natively under Python")
                .count(),
            1,
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!(
                "Python {version}; the component embeds CPython 3.14"
            )),
            "{}",
            run.stderr
        );
    }
    let json = sb
        .weir_env(&["test", "py-fast", "--json"], &native_python())
        .ok()
        .json();
    assert_eq!(json["runner"], "native-python");
    assert_eq!(json["python"], version.as_str());
    assert_eq!(json["component_python"], "3.14");

    // A wrong output fails with the same diff as against a component.
    edit(
        &sb.join("py-fast/app.py"),
        "record[config[\"field\"]] = config.get(\"value\")",
        "record[config[\"field\"]] = \"seven\"",
    );
    let failed = sb
        .weir_env(&["test", "py-fast"], &native_python())
        .expect_code(1);
    assert!(failed.stdout.contains("FAIL basic"), "{}", failed.stdout);
    assert!(
        failed
            .stdout
            .contains("+ 1 | {\"id\":1,\"batch\":\"seven\"}"),
        "{}",
        failed.stdout
    );
    assert_eq!(
        failed.stdout.lines().last(),
        Some("0 passed, 2 failed"),
        "{}",
        failed.stdout
    );

    // A syntax error is Python's message: file, line and caret.
    std::fs::write(
        sb.join("py-fast/app.py"),
        "import weir_guest\n\ndef tag(record):\n    return record[\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let broken = sb
        .weir_env(&["test", "py-fast"], &native_python())
        .expect_code(1);
    assert!(
        broken.stdout.contains("cannot import app.py"),
        "{}",
        broken.stdout
    );
    assert!(
        broken.stdout.contains("app.py\", line 4"),
        "{}",
        broken.stdout
    );
    assert!(broken.stdout.contains("^"), "{}", broken.stdout);
    assert!(
        broken.stdout.contains("SyntaxError: '[' was never closed"),
        "{}",
        broken.stdout
    );
}

#[test]
fn blessed_python_reasons_survive_a_line_added_above() {
    let sb = Sandbox::new();
    sb.weir(&["new", "py-bless", "--lang", "python"]).ok();
    let quarantine = sb.join("py-bless/cases/missing-id/expected-quarantine.ndjson");
    std::fs::remove_file(&quarantine).unwrap_or_else(|e| panic!("{e}"));
    let blessed = sb
        .weir_env(&["test", "py-bless", "--bless"], &native_python())
        .ok();
    assert!(
        blessed
            .stdout
            .contains("ok   missing-id (blessed expected-quarantine.ndjson)"),
        "{}",
        blessed.stdout
    );
    // The reason without `(at app.py:N)`: where it was raised moves.
    assert_eq!(
        std::fs::read_to_string(&quarantine).unwrap_or_default(),
        "{\"line\": 2, \"reason\": \"KeyError: 'record has no `id`'\"}\n"
    );
    let app = sb.join("py-bless/app.py");
    edit(
        &app,
        "import weir_guest\n",
        "import weir_guest\n\n# a comment moves every line\n",
    );
    let run = sb.weir_env(&["test", "py-bless"], &native_python()).ok();
    assert_eq!(
        run.stdout.lines().last(),
        Some("2 passed, 0 failed"),
        "{}",
        run.stdout
    );
    // A reason blessed with a line number, as before, still matches.
    std::fs::write(
        &quarantine,
        "{\"line\": 2, \"reason\": \"KeyError: 'record has no `id`' (at app.py:3)\"}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let run = sb.weir_env(&["test", "py-bless"], &native_python()).ok();
    assert_eq!(
        run.stdout.lines().last(),
        Some("2 passed, 0 failed"),
        "{}",
        run.stdout
    );
}

/// The app of a Python project that stamps each record with what it reads
/// of the clock and of the random sources.
const CLOCK_APP: &str = r#"import datetime
import os
import random
import time
import uuid

import weir_guest


def stamp(record: dict) -> dict:
    record["now"] = datetime.datetime.now().isoformat()
    record["utc"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
    record["today"] = datetime.date.today().isoformat()
    record["time"] = time.time()
    record["strftime"] = time.strftime("%Y-%m-%d %H:%M")
    record["monotonic"] = time.monotonic()
    return record


def draw(record: dict) -> dict:
    record["random"] = random.random()
    record["urandom"] = os.urandom(4).hex()
    record["uuid"] = str(uuid.uuid4())
    return record


WitWorld = weir_guest.export(stamp)
"#;

#[test]
fn native_python_sees_the_frozen_clock_and_repeatable_random_numbers() {
    let sb = Sandbox::new();
    sb.weir(&["new", "py-clock", "--lang", "python"]).ok();
    sb.write(
        "py-clock/app.py",
        CLOCK_APP.replace("export(stamp)", "export(lambda r: draw(stamp(r)))"),
    );
    for case in ["basic", "missing-id"] {
        sb.write(&format!("py-clock/cases/{case}/config.json"), "{}");
        let _ = std::fs::remove_file(
            sb.join(&format!("py-clock/cases/{case}/expected-quarantine.ndjson")),
        );
    }
    sb.weir_env(&["test", "py-clock", "--bless"], &native_python())
        .ok();
    let expected = std::fs::read_to_string(sb.join("py-clock/cases/basic/expected.ndjson"))
        .unwrap_or_default();
    let first: serde_json::Value =
        serde_json::from_str(expected.lines().next().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}: {expected}"));
    assert_eq!(first["now"], "2000-01-01T00:00:00", "{expected}");
    assert_eq!(first["utc"], "2000-01-01T00:00:00+00:00", "{expected}");
    assert_eq!(first["today"], "2000-01-01", "{expected}");
    assert_eq!(first["time"], 946_684_800.0, "{expected}");
    assert_eq!(first["strftime"], "2000-01-01 00:00", "{expected}");
    assert_eq!(first["monotonic"], 0.0, "{expected}");
    // Seeded: every run draws the same numbers, so the blessed cases pass.
    let again = sb.weir_env(&["test", "py-clock"], &native_python()).ok();
    assert_eq!(
        again.stdout.lines().last(),
        Some("2 passed, 0 failed"),
        "{}",
        again.stdout
    );
}

#[test]
fn new_python_project_builds_with_componentize_py_and_passes_weir_test() {
    let sb = Sandbox::new();
    sb.weir(&["new", "py-thing", "--lang", "python"]).ok();
    for f in [
        "app.py",
        "weir_guest.py",
        "wit/weir.wit",
        "cases/basic/input.ndjson",
    ] {
        assert!(sb.join(&format!("py-thing/{f}")).exists(), "{f} missing");
    }
    // The transform stamps what it reads of the clock; its cases are
    // blessed natively, and must then pass against the component: the
    // native clock is the sandbox's.
    sb.write("py-thing/app.py", CLOCK_APP);
    for case in ["basic", "missing-id"] {
        sb.write(&format!("py-thing/cases/{case}/config.json"), "{}");
        let _ = std::fs::remove_file(
            sb.join(&format!("py-thing/cases/{case}/expected-quarantine.ndjson")),
        );
    }
    sb.weir_env(&["test", "py-thing", "--bless"], &native_python())
        .ok();
    // componentize-py from the test venv (scripts/setup installs it).
    let tool = weir_tests::python().with_file_name("componentize-py");
    let env = [("COMPONENTIZE_PY", tool.display().to_string())];
    let digest = sb
        .weir_env(&["build", "py-thing", "--print-sha256"], &env)
        .ok()
        .stdout;
    let module = sb.join("py-thing/target/py-thing.wasm");
    assert_eq!(
        digest,
        format!("{}\n", sha256(&std::fs::read(&module).unwrap_or_default())),
        "--print-sha256 prints the digest alone"
    );
    let run = sb.weir_env(&["test", "py-thing", "--component"], &env).ok();
    assert!(
        run.stdout.trim_end().ends_with("2 passed, 0 failed"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    // The first read of the clock is logged, once for all the cases.
    assert_eq!(
        run.stderr.matches("the transform read the clock").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("2000-01-01T00:00:00Z"),
        "{}",
        run.stderr
    );

    // A syntax error is Python's message, not componentize-py's backtrace.
    sb.write(
        "py-thing/app.py",
        "import weir_guest\n\ndef tag(record):\n    return record[\n",
    );
    let broken = sb.weir_env(&["build", "py-thing"], &env).expect_code(1);
    assert!(
        broken.stderr.contains("File \"app.py\", line 4"),
        "{}",
        broken.stderr
    );
    assert!(
        broken.stderr.contains("SyntaxError: '[' was never closed"),
        "{}",
        broken.stderr
    );
    for noise in ["Stack backtrace", "Caused by", "AssertionError"] {
        assert!(!broken.stderr.contains(noise), "{}", broken.stderr);
    }

    // Without componentize-py, the message says how to get it.
    let env = [("COMPONENTIZE_PY", "/nonexistent/componentize-py".to_owned())];
    let r = sb.weir_env(&["build", "py-thing"], &env).expect_code(1);
    assert!(
        r.stderr.contains("pip install componentize-py"),
        "{}",
        r.stderr
    );
}

/// An app that imports a package with C extensions fails `weir build` with
/// one line naming the package, from the real componentize-py, whether the
/// package is in the venv (its C parts cannot load in the sandbox) or not:
/// numpy, which Weir knows by name, and rpds (rpds-py, a jsonschema
/// dependency in the test venv), which it finds by its compiled module
/// missing in the component.
#[test]
fn a_python_app_importing_numpy_fails_its_build_in_one_line_naming_it() {
    let sb = Sandbox::new();
    sb.weir(&["new", "py-np", "--lang", "python"]).ok();
    let source = std::fs::read_to_string(sb.join("py-np/app.py")).unwrap_or_default();
    let tool = weir_tests::python().with_file_name("componentize-py");
    let env = [("COMPONENTIZE_PY", tool.display().to_string())];
    for (import, named) in [
        ("import numpy as np", "numpy (numpy)"),
        ("import rpds", "rpds (rpds)"),
    ] {
        sb.write("py-np/app.py", format!("{import}\n{source}"));
        let r = sb.weir_env(&["build", "py-np"], &env).expect_code(1);
        let message = r.stderr.trim_end();
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(
            message.contains(&format!(
                "app.py imports {named}, a package with C extensions"
            )),
            "{message}"
        );
        assert!(!sb.join("py-np/target/py-np.wasm").exists());
    }
}

/// A rebuilt Python app is a new module (a new sha256) holding the same
/// CPython. `weir build` compiles it into the module cache, taking the
/// interpreter's functions from the function cache instead of compiling
/// them again, and the `weir test` of the built module then loads it
/// without compiling.
#[test]
fn a_rebuilt_python_app_compiles_only_what_changed_and_then_loads_from_the_cache() {
    let sb = Sandbox::new();
    sb.weir(&["new", "py-cache", "--lang", "python"]).ok();
    let tool = weir_tests::python().with_file_name("componentize-py");
    let env = [
        ("COMPONENTIZE_PY", tool.display().to_string()),
        ("WEIR_CACHE_DIR", sb.join("cache").display().to_string()),
        ("XDG_CONFIG_HOME", sb.join("config").display().to_string()),
    ];
    let counts = |build: &serde_json::Value| {
        let reused = build["functions_reused"].as_u64().unwrap_or_default();
        let compiled = build["functions_compiled"].as_u64().unwrap_or_default();
        (reused, compiled)
    };

    let first = sb
        .weir_env(&["build", "py-cache", "--json"], &env)
        .ok()
        .json();
    // An empty cache: only functions the module holds twice are reused.
    let (reused, compiled) = counts(&first);
    assert!(
        compiled > 1000,
        "CPython is thousands of functions: {first}"
    );
    assert!(reused < compiled, "{first}");

    let app = sb.join("py-cache/app.py");
    let source = std::fs::read_to_string(&app).unwrap_or_default();
    sb.write("py-cache/app.py", format!("{source}\nREVISION = 2\n"));
    let second = sb
        .weir_env(&["build", "py-cache", "--json"], &env)
        .ok()
        .json();
    assert_ne!(
        first["sha256"], second["sha256"],
        "the rebuilt app is a new module"
    );
    let (reused, compiled_again) = counts(&second);
    assert!(
        reused * 10 >= (reused + compiled_again) * 9,
        "the interpreter's functions come from the function cache: {second}"
    );

    let test = sb
        .weir_env(
            &[
                "-v",
                "test",
                "py-cache/target/py-cache.wasm",
                "--cases",
                "py-cache/cases",
            ],
            &env,
        )
        .ok();
    assert!(test.stdout.contains("passed, 0 failed"), "{}", test.stdout);
    assert!(
        test.stderr.contains("from_cache=true") && !test.stderr.contains("note: compiled"),
        "weir build left the compiled module in the cache: {}",
        test.stderr
    );

    // A damaged function entry is never used: the next compile makes it again.
    let functions = sb.join("cache/functions");
    let entry = std::fs::read_dir(&functions)
        .ok()
        .and_then(|mut dirs| dirs.find_map(Result::ok))
        .and_then(|dir| std::fs::read_dir(dir.path()).ok()?.find_map(Result::ok))
        .map(|e| e.path())
        .unwrap_or_else(|| panic!("no function entries under {}", functions.display()));
    let mut bytes = std::fs::read(&entry).unwrap_or_default();
    if let Some(last) = bytes.last_mut() {
        *last ^= 0x55;
    }
    std::fs::write(&entry, &bytes).unwrap_or_else(|e| panic!("{}: {e}", entry.display()));
    sb.write("py-cache/app.py", format!("{source}\nREVISION = 3\n"));
    let third = sb.weir_env(&["build", "py-cache", "--json"], &env).ok();
    assert!(
        third.stderr.contains("ignoring a cached compiled function"),
        "{}",
        third.stderr
    );
    let (_, compiled_third) = counts(&third.json());
    assert!(
        compiled_third >= 1,
        "the damaged function is compiled again"
    );
}

/// Compiles a fresh guest crate (about a minute on a small machine).
#[test]
fn new_project_builds_passes_weir_test_and_rebuilds_to_the_same_digest() {
    let sb = Sandbox::new();
    sb.weir(&["new", "my-transform"]).ok();
    assert!(
        sb.join("my-transform/vendor/weir-guest/src/lib.rs")
            .exists()
    );
    assert!(sb.join("my-transform/wit/weir.wit").exists());

    let first = sb.weir(&["build", "my-transform", "--json"]).ok().json();
    let module = first["module"].as_str().unwrap().to_owned();
    assert!(
        module.ends_with("wasm32-wasip2/release/my_transform.wasm"),
        "{module}"
    );
    assert_eq!(first["sha256"], sha256(&std::fs::read(&module).unwrap()));

    let test = sb
        .weir(&["test", &module, "--cases", "my-transform/cases"])
        .ok();
    assert_eq!(
        test.stdout.lines().last(),
        Some("2 passed, 0 failed"),
        "{}",
        test.stdout
    );
    let inspect = sb.weir(&["inspect", &module, "--json"]).ok().json();
    assert_eq!(inspect["compatible"], true);

    // Touch the source: cargo recompiles, and the bytes are the same.
    let lib = sb.join("my-transform/src/lib.rs");
    std::fs::File::options()
        .write(true)
        .open(&lib)
        .unwrap()
        .set_modified(std::time::SystemTime::now())
        .unwrap();
    let second = sb.weir(&["build", "my-transform", "--json"]).ok().json();
    assert_eq!(second["sha256"], first["sha256"]);

    // Built from another folder, the same source gives the same digest.
    let elsewhere = Sandbox::new();
    for file in sb.files("my-transform") {
        if !file.starts_with("target/") && file != "Cargo.lock" {
            elsewhere.write(
                &format!("copy/{file}"),
                std::fs::read(sb.join("my-transform").join(&file)).unwrap(),
            );
        }
    }
    std::fs::copy(
        sb.join("my-transform/Cargo.lock"),
        elsewhere.join("copy/Cargo.lock"),
    )
    .unwrap();
    let third = elsewhere.weir(&["build", "copy", "--json"]).ok().json();
    assert_eq!(third["sha256"], first["sha256"]);
}
