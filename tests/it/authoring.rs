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
    assert_eq!(json["world"], "weir:transform/transform@0.1.0");
    assert_eq!(json["contract_version"], "0.1.0");
    assert_eq!(json["compatible"], true);
    assert_eq!(json["sha256"], sha256(&std::fs::read(&wasm).unwrap()));
    assert_eq!(json["size"], std::fs::metadata(&wasm).unwrap().len());
    assert_eq!(
        json["exports"],
        serde_json::json!(["init", "process", "finish"])
    );
    assert_eq!(json["capabilities"], serde_json::json!([]));
    let imports = json["imports"].as_array().unwrap();
    assert!(
        imports
            .iter()
            .any(|i| i["name"] == "weir:transform/types@0.1.0" && i["kind"] == "contract")
    );
    assert!(imports.iter().all(|i| {
        let name = i["name"].as_str().unwrap();
        !name.starts_with("wasi:filesystem") && !name.starts_with("wasi:sockets")
    }));

    let text = sb.weir(&["inspect", wasm.to_str().unwrap()]).ok().stdout;
    assert!(
        text.contains("weir:transform/transform@0.1.0 (compatible with this runtime)"),
        "{text}"
    );
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
    // componentize-py from the test venv (scripts/setup installs it).
    let tool = weir_tests::python().with_file_name("componentize-py");
    let env = [("COMPONENTIZE_PY", tool.display().to_string())];
    let built = sb
        .weir_env(&["build", "py-thing", "--json"], &env)
        .ok()
        .json();
    let module = built["module"].as_str().unwrap_or_default().to_owned();
    assert!(
        module.ends_with("py-thing/target/py-thing.wasm"),
        "{module}"
    );
    let run = sb
        .weir(&["test", &module, "--cases", "py-thing/cases"])
        .ok();
    assert!(
        run.stdout.trim_end().ends_with("2 passed, 0 failed"),
        "{}",
        run.stdout
    );
    // Without componentize-py, the message says how to get it.
    let env = [("COMPONENTIZE_PY", "/nonexistent/componentize-py".to_owned())];
    let r = sb.weir_env(&["build", "py-thing"], &env).expect_code(1);
    assert!(
        r.stderr.contains("pip install componentize-py"),
        "{}",
        r.stderr
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
