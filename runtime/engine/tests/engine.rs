//! The engine's integration tests: a hostile guest, built from source once
//! per run, attacks the sandbox and the limits; every misbehaviour must fail
//! only its own record while its neighbours come back intact and in order.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use weir_engine::{Engine, EngineConfig, EngineError, Limits, Module, ModuleSpec, Outcome};

const MIB: u64 = 1 << 20;

/// The records every chunk test sends: the middle one triggers the mode.
const CHUNK: &str = "{\"id\":1}\n{\"id\":2,\"trigger\":true}\n{\"id\":3}\n";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// Builds `tests/guests/hostile` for wasm32-wasip2, once per test binary, in a
/// target dir of its own so the outer cargo's lock cannot deadlock it.
fn hostile_wasm() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let root = workspace_root();
        let target_dir = root.join("target").join("guests");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--profile",
                "guest",
                "--target",
                "wasm32-wasip2",
                "-p",
                "weir-hostile",
            ])
            .arg("--target-dir")
            .arg(&target_dir)
            .current_dir(&root)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the hostile guest failed");
        target_dir.join("wasm32-wasip2/guest/weir_hostile.wasm")
    })
}

/// One engine for the whole binary, with its own cache so only the first
/// load compiles.
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<(Engine, tempfile::TempDir)> = OnceLock::new();
    &ENGINE
        .get_or_init(|| {
            let cache = tempfile::tempdir().expect("temp dir");
            let engine = Engine::new(cache_config(cache.path())).expect("engine starts");
            // Warm the cache under the lock so tests running in parallel don't
            // all compile the guest at once.
            engine.load(spec("pass")).expect("hostile guest loads");
            (engine, cache)
        })
        .0
}

/// A cache in `root/modules`, its key in `root/config/cache.key`.
fn cache_config(root: &Path) -> EngineConfig {
    EngineConfig::default()
        .with_cache_dir(root.join("modules"))
        .with_cache_key_file(root.join("config").join("cache.key"))
}

/// The files in the cache folder of [`cache_config`]`(root)`.
fn cache_entries(root: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(root.join("modules")) {
        // Compiled modules; the function cache is the `functions` folder.
        Ok(entries) => entries
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Small limits so the hostile modes hit them fast.
fn test_limits() -> Limits {
    Limits::default()
        .with_memory_bytes(64 * MIB)
        .with_cpu_time_per_call(Duration::from_secs(1))
}

/// The hostile guest in `mode`, its `finish` emitting what it saw.
fn spec(mode: &str) -> ModuleSpec {
    ModuleSpec::new("hostile", hostile_wasm())
        .with_config_json(format!("{{\"mode\":\"{mode}\",\"finish\":true}}"))
        .with_limits(test_limits())
}

fn load(spec: ModuleSpec) -> Module {
    engine().load(spec).expect("module loads")
}

/// Runs [`CHUNK`] through a fresh instance of `spec`.
fn run_chunk(spec: ModuleSpec) -> weir_engine::Processed {
    let mut instance = load(spec).instantiate().expect("instantiates");
    instance
        .process(CHUNK, 3)
        .expect("process never fails for a bad record")
}

/// Asserts records 1 and 3 passed through untouched and returns record 2's
/// outcome.
fn middle_outcome_with_neighbours_intact(processed: &weir_engine::Processed) -> Outcome {
    assert_eq!(processed.outcomes.len(), 3, "{processed:?}");
    assert_eq!(processed.outcomes[0], Outcome::Emitted(1));
    assert_eq!(processed.outcomes[2], Outcome::Emitted(1));
    processed.outcomes[1].clone()
}

/// For probing modes: the `result` object the trigger record emitted.
fn probe(spec: ModuleSpec) -> Value {
    let processed = run_chunk(spec);
    assert_eq!(
        middle_outcome_with_neighbours_intact(&processed),
        Outcome::Emitted(1)
    );
    let lines: Vec<&str> = processed.output.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "{\"id\":1}");
    assert_eq!(lines[2], "{\"id\":3}");
    let record: Value = serde_json::from_str(lines[1]).expect("probe emits JSON");
    record["result"].clone()
}

fn failed_reason(outcome: Outcome) -> String {
    match outcome {
        Outcome::Failed(reason) => reason,
        other => panic!("expected a failed record, got {other:?}"),
    }
}

fn assert_fails_only_the_trigger(processed: &weir_engine::Processed) -> String {
    let reason = failed_reason(middle_outcome_with_neighbours_intact(processed));
    assert_eq!(processed.output, "{\"id\":1}\n{\"id\":3}\n");
    reason
}

#[test]
fn pass_mode_returns_every_record_unchanged() {
    let processed = run_chunk(spec("pass"));
    assert_eq!(
        middle_outcome_with_neighbours_intact(&processed),
        Outcome::Emitted(1)
    );
    let lines: Vec<&str> = processed.output.lines().collect();
    assert_eq!(lines[1], "{\"mode\":\"pass\",\"result\":\"pass\"}");
}

#[test]
fn infinite_loop_fails_its_record_at_the_cpu_time_limit() {
    let started = Instant::now();
    let reason = assert_fails_only_the_trigger(&run_chunk(spec("loop")));
    assert_eq!(reason, "CPU time limit of 1 s exceeded");
    // Once for the chunk, once for the record alone.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn runaway_allocation_fails_its_record_at_the_memory_limit() {
    let reason = assert_fails_only_the_trigger(&run_chunk(spec("memory")));
    assert_eq!(reason, "memory limit of 64 MiB exceeded");
}

#[test]
fn memory_limit_reason_names_the_configured_limit() {
    let spec = spec("memory").with_limits(test_limits().with_memory_bytes(32 * MIB));
    let reason = assert_fails_only_the_trigger(&run_chunk(spec));
    assert_eq!(reason, "memory limit of 32 MiB exceeded");
}

#[test]
fn panic_fails_its_record_with_the_trap_and_the_panic_message() {
    let reason = assert_fails_only_the_trigger(&run_chunk(spec("panic")));
    assert!(
        reason.starts_with("wasm trap: wasm `unreachable` instruction executed"),
        "{reason}"
    );
    assert!(
        reason.contains("hostile guest panics on purpose"),
        "{reason}"
    );
}

/// `{"pad":"` + 100 MiB + `"}\n`.
const HUGE_RECORD_BYTES: u64 = 100 * MIB + 11;

#[test]
fn huge_output_over_the_call_limit_fails_only_its_record() {
    let limits = test_limits()
        .with_memory_bytes(256 * MIB)
        .with_max_record_output_bytes(MIB)
        .with_max_call_output_bytes(4 * MIB);
    let reason = assert_fails_only_the_trigger(&run_chunk(spec("huge_output").with_limits(limits)));
    assert_eq!(
        reason,
        format!(
            "output of {HUGE_RECORD_BYTES} bytes exceeds the per-record limit of 1048576 bytes"
        )
    );
}

#[test]
fn huge_output_within_the_call_limit_still_fails_its_record() {
    let limits = test_limits()
        .with_memory_bytes(256 * MIB)
        .with_max_record_output_bytes(MIB)
        .with_max_call_output_bytes(200 * MIB);
    let reason = assert_fails_only_the_trigger(&run_chunk(spec("huge_output").with_limits(limits)));
    assert_eq!(
        reason,
        format!(
            "output of {HUGE_RECORD_BYTES} bytes exceeds the per-record limit of 1048576 bytes"
        )
    );
}

#[test]
fn malformed_result_fails_only_the_record_that_causes_it() {
    let reason = assert_fails_only_the_trigger(&run_chunk(spec("malformed")));
    assert_eq!(
        reason,
        "malformed result: outcomes claim 2 output lines but the output has 1"
    );
}

#[test]
fn several_bad_records_in_one_chunk_each_fail_and_the_rest_survive() {
    let mut instance = load(spec("panic")).instantiate().expect("instantiates");
    let input = "{\"trigger\":true}\n{\"id\":1}\n{\"trigger\":true}\n{\"id\":2}\n";
    let processed = instance.process(input, 4).expect("process");
    assert!(matches!(processed.outcomes[0], Outcome::Failed(_)));
    assert_eq!(processed.outcomes[1], Outcome::Emitted(1));
    assert!(matches!(processed.outcomes[2], Outcome::Failed(_)));
    assert_eq!(processed.outcomes[3], Outcome::Emitted(1));
    assert_eq!(processed.output, "{\"id\":1}\n{\"id\":2}\n");
}

#[test]
fn instance_keeps_working_after_a_chunk_was_isolated() {
    let mut instance = load(spec("loop")).instantiate().expect("instantiates");
    instance.process(CHUNK, 3).expect("first chunk");
    let processed = instance.process("{\"id\":4}\n", 1).expect("second chunk");
    assert_eq!(processed.outcomes, vec![Outcome::Emitted(1)]);
    assert_eq!(processed.output, "{\"id\":4}\n");
    assert_eq!(
        instance.finish().expect("finish"),
        "{\"mode\":\"loop\",\"records_seen\":2}\n",
        "the instance started after the looping record saw only record 3 and record 4"
    );
}

#[test]
fn finish_returns_the_guest_output() {
    let mut instance = load(spec("pass")).instantiate().expect("instantiates");
    instance
        .process("{\"id\":1}\n{\"id\":2}\n", 2)
        .expect("process");
    assert_eq!(
        instance.finish().expect("finish"),
        "{\"mode\":\"pass\",\"records_seen\":2}\n"
    );
}

#[test]
fn input_that_does_not_match_the_record_count_is_an_error() {
    let mut instance = load(spec("pass")).instantiate().expect("instantiates");
    let err = instance
        .process("{\"id\":1}\n", 2)
        .expect_err("count mismatch");
    assert!(matches!(err, EngineError::Input { .. }), "{err}");
    let err = instance
        .process("{\"id\":1}", 1)
        .expect_err("no final newline");
    assert!(matches!(err, EngineError::Input { .. }), "{err}");
    assert_eq!(
        instance.process("", 0).expect("empty chunk").outcomes,
        vec![]
    );
}

#[test]
fn guest_cannot_read_host_files() {
    let result = probe(spec("read_passwd"));
    let result = result.as_str().expect("string result");
    assert!(result.starts_with("error:"), "{result}");
    assert!(!result.contains("root:"), "{result}");
}

#[test]
fn guest_cannot_list_the_root_directory() {
    let result = probe(spec("list_root"));
    let result = result.as_str().expect("string result");
    assert!(result.starts_with("error:"), "{result}");
}

#[test]
fn guest_sees_no_environment_and_no_arguments() {
    let result = probe(spec("env"));
    assert_eq!(result["vars"], serde_json::json!([]), "{result}");
    assert_eq!(result["args"], serde_json::json!([]), "{result}");
}

#[test]
fn guest_cannot_use_the_network() {
    let result = probe(spec("socket"));
    for probe in ["connect", "lookup", "bind"] {
        let outcome = result[probe].as_str().expect("string");
        assert!(outcome.starts_with("error:"), "{probe}: {outcome}");
    }
}

/// A temp dir holding `assets/` (with `hello.txt` and two symlinks pointing
/// out of it) and, outside it, `secret.txt`.
fn assets_fixture() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    let assets = root.path().join("assets");
    std::fs::create_dir(&assets).expect("mkdir");
    std::fs::write(assets.join("hello.txt"), "hello").expect("write");
    let secret = root.path().join("secret.txt");
    std::fs::write(&secret, "TOP SECRET").expect("write");
    std::os::unix::fs::symlink("../secret.txt", assets.join("relative_link")).expect("symlink");
    std::os::unix::fs::symlink(&secret, assets.join("absolute_link")).expect("symlink");
    (root, assets)
}

#[test]
fn assets_are_readable_but_not_escapable() {
    let (_root, assets) = assets_fixture();
    let result = probe(spec("escape_assets").with_assets(&assets));
    assert_eq!(result["inside"], "ok: \"hello\"", "{result}");
    for attempt in ["dotdot", "dotdot_secret", "relative_link", "absolute_link"] {
        let outcome = result[attempt].as_str().expect("string");
        assert!(outcome.starts_with("error:"), "{attempt}: {outcome}");
        assert!(!outcome.contains("SECRET"), "{attempt}: {outcome}");
    }
}

#[test]
fn without_assets_the_guest_has_no_files_at_all() {
    let result = probe(spec("escape_assets"));
    let inside = result["inside"].as_str().expect("string");
    assert!(inside.starts_with("error:"), "{inside}");
}

#[test]
fn assets_are_read_only() {
    let (root, assets) = assets_fixture();
    let result = probe(spec("write_assets").with_assets(&assets));
    for attempt in ["inside", "outside", "root"] {
        let outcome = result[attempt].as_str().expect("string");
        assert!(outcome.starts_with("error:"), "{attempt}: {outcome}");
    }
    assert!(!assets.join("written.txt").exists());
    assert!(!root.path().join("written.txt").exists());
}

#[test]
fn clocks_and_randomness_are_fixed() {
    let result = probe(spec("clock"));
    assert_eq!(
        result["wall_nanos"], "946684800000000000",
        "2000-01-01T00:00:00Z"
    );
    assert_eq!(
        result["elapsed_nanos"], "0",
        "monotonic clock does not move"
    );
}

#[test]
fn two_instances_produce_byte_identical_output() {
    let module = load(spec("clock"));
    let input = CHUNK.repeat(10);
    let first = module
        .instantiate()
        .expect("first")
        .process(&input, 30)
        .expect("first run");
    let second = module
        .instantiate()
        .expect("second")
        .process(&input, 30)
        .expect("second run");
    assert_eq!(first, second);
    assert!(first.output.contains("\"random\""));
}

#[test]
fn init_error_is_reported_with_the_transform_and_message() {
    let err = load(spec("init_fail"))
        .instantiate()
        .expect_err("init fails");
    match &err {
        EngineError::Init { transform, message } => {
            assert_eq!(transform, "hostile");
            assert_eq!(message, "bad config: mode init_fail refuses to start");
        }
        other => panic!("expected Init, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "transform hostile failed to initialise: bad config: mode init_fail refuses to start"
    );
}

#[test]
fn guest_stdout_and_stderr_go_to_tracing_tagged_with_the_transform() {
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let module = load(spec("log"));
    let result = tracing::subscriber::with_default(subscriber, || {
        module
            .instantiate()
            .expect("instantiates")
            .process(CHUNK, 3)
            .expect("process")
    });
    assert_eq!(
        middle_outcome_with_neighbours_intact(&result),
        Outcome::Emitted(1)
    );
    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    let line_with = |needle: &str| {
        logs.lines()
            .find(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no log line with {needle:?} in:\n{logs}"))
            .to_owned()
    };
    let stdout = line_with("hostile says hello on stdout");
    assert!(
        stdout.contains("weir::guest") && stdout.contains("transform=\"hostile\""),
        "{stdout}"
    );
    assert!(stdout.contains("INFO"), "{stdout}");
    let stderr = line_with("hostile says hello on stderr");
    assert!(
        stderr.contains("WARN") && stderr.contains("stream=\"stderr\""),
        "{stderr}"
    );
    line_with("second line");
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(bytes).expect("write");
    file
}

#[test]
fn core_module_is_not_a_transform() {
    let file = write_temp(b"\0asm\x01\0\0\0");
    let err = engine()
        .load(ModuleSpec::new("core", file.path()))
        .expect_err("core module refused");
    match &err {
        EngineError::NotATransform { path, message } => {
            assert_eq!(path, file.path());
            assert!(message.contains("core WebAssembly module"), "{message}");
        }
        other => panic!("expected NotATransform, got {other:?}"),
    }
}

#[test]
fn component_of_another_world_names_the_missing_exports() {
    let wasm = wat::parse_str(
        r#"(component
            (core module $m (func (export "run")))
            (core instance $i (instantiate $m))
            (func (export "run") (canon lift (core func $i "run")))
        )"#,
    )
    .expect("valid component text");
    let file = write_temp(&wasm);
    let err = engine()
        .load(ModuleSpec::new("other", file.path()))
        .expect_err("other world refused");
    match &err {
        EngineError::NotATransform { message, .. } => {
            assert!(message.contains("`init`, `process`, `finish`"), "{message}");
            assert!(message.contains("it exports `run`"), "{message}");
        }
        other => panic!("expected NotATransform, got {other:?}"),
    }
}

#[test]
fn component_with_wrong_export_types_is_not_a_transform() {
    // Exports the right names, but `init` takes nothing.
    let wasm = wat::parse_str(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func (export "init") (canon lift (core func $i "f")))
            (func (export "process") (canon lift (core func $i "f")))
            (func (export "finish") (canon lift (core func $i "f")))
        )"#,
    )
    .expect("valid component text");
    let file = write_temp(&wasm);
    let err = engine()
        .load(ModuleSpec::new("wrong", file.path()))
        .expect_err("wrong types refused");
    assert!(matches!(err, EngineError::NotATransform { .. }), "{err}");
}

#[test]
fn text_file_is_not_a_transform() {
    let file = write_temp(b"hello, I am not wasm\n");
    let err = engine()
        .load(ModuleSpec::new("text", file.path()))
        .expect_err("refused");
    assert!(
        matches!(&err, EngineError::NotATransform { message, .. } if message.contains("not a WebAssembly binary")),
        "{err}"
    );
}

#[test]
fn missing_file_is_a_read_error_naming_the_path() {
    let err = engine()
        .load(ModuleSpec::new("missing", "/nonexistent/weir.wasm"))
        .expect_err("refused");
    assert!(
        matches!(&err, EngineError::Read { path, .. } if path == Path::new("/nonexistent/weir.wasm")),
        "{err}"
    );
}

#[test]
fn wrong_sha256_is_refused_before_anything_else() {
    // Not even wasm: the digest check must come first.
    let file = write_temp(b"not wasm at all");
    let expected = "0".repeat(64);
    let err = engine()
        .load(ModuleSpec::new("pinned", file.path()).with_expected_sha256(&expected))
        .expect_err("mismatch");
    match err {
        EngineError::DigestMismatch {
            expected: e,
            actual,
            ..
        } => {
            assert_eq!(e, expected);
            // sha256("not wasm at all")
            assert_eq!(actual.len(), 64);
            assert_ne!(actual, expected);
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
}

#[test]
fn right_sha256_loads_and_is_reported() {
    let module = load(spec("pass"));
    let pinned = load(spec("pass").with_expected_sha256(module.sha256().to_ascii_uppercase()));
    assert_eq!(pinned.sha256(), module.sha256());
    assert_eq!(
        module.size(),
        std::fs::metadata(hostile_wasm()).expect("stat").len()
    );
}

#[test]
fn memory_limit_above_the_engine_maximum_is_refused() {
    let spec = spec("pass").with_limits(test_limits().with_memory_bytes(8 << 30));
    let err = engine().load(spec).expect_err("refused");
    assert!(matches!(err, EngineError::Limits { .. }), "{err}");
}

#[test]
fn second_engine_with_the_same_cache_dir_loads_from_cache() {
    let cache = tempfile::tempdir().expect("temp dir");
    let config = cache_config(cache.path());

    let first_engine = Engine::new(config.clone()).expect("engine");
    let started = Instant::now();
    let cold = first_engine.load(spec("pass")).expect("cold load");
    let cold_time = started.elapsed();
    assert!(!cold.from_cache());
    let cached_files: Vec<_> = cache_entries(cache.path())
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(cached_files.len(), 1, "{cached_files:?}");
    assert!(
        cached_files[0].starts_with(cold.sha256()),
        "{cached_files:?}"
    );

    let second_engine = Engine::new(config).expect("engine");
    let started = Instant::now();
    let warm = second_engine.load(spec("pass")).expect("warm load");
    let warm_time = started.elapsed();
    assert!(warm.from_cache());
    eprintln!("hostile guest: cold load {cold_time:?}, cache hit {warm_time:?}");

    let processed = warm
        .instantiate()
        .expect("instantiates")
        .process(CHUNK, 3)
        .expect("runs");
    assert_eq!(processed.outcomes.len(), 3);
}

#[test]
fn corrupt_cache_file_is_recompiled_not_trusted() {
    let cache = tempfile::tempdir().expect("temp dir");
    let config = cache_config(cache.path());
    let engine = Engine::new(config.clone()).expect("engine");
    engine.load(spec("pass")).expect("cold load");
    for entry in cache_entries(cache.path()) {
        std::fs::write(entry, b"garbage").expect("corrupt");
    }
    let module = Engine::new(config)
        .expect("engine")
        .load(spec("pass"))
        .expect("reload");
    assert!(!module.from_cache());
    let processed = module
        .instantiate()
        .expect("instantiates")
        .process(CHUNK, 3)
        .expect("runs");
    assert_eq!(processed.outcomes.len(), 3);
}

#[test]
fn without_a_cache_dir_every_load_compiles() {
    let engine = Engine::new(EngineConfig::default().without_cache()).expect("engine");
    assert!(!engine.load(spec("pass")).expect("first load").from_cache());
    assert!(!engine.load(spec("pass")).expect("second load").from_cache());
}

#[test]
fn engine_uses_the_pooling_allocator_on_this_machine() {
    assert!(engine().is_pooling());
    let off =
        Engine::new(EngineConfig::default().without_cache().with_pooling(false)).expect("engine");
    assert!(!off.is_pooling());
}

#[test]
fn instance_pool_is_bounded_and_slots_are_reused() {
    let engine = Engine::new(
        EngineConfig::default()
            .without_cache()
            .with_max_instances(2),
    )
    .expect("engine");
    let module = engine.load(spec("pass")).expect("load");
    let first = module.instantiate().expect("first");
    let _second = module.instantiate().expect("second");
    let err = module.instantiate().expect_err("pool is full");
    assert!(matches!(err, EngineError::Instantiate { .. }), "{err}");
    drop(first);
    module.instantiate().expect("a freed slot is reused");
}

#[test]
fn single_record_chunk_fails_without_a_second_run() {
    let mut instance = load(spec("loop")).instantiate().expect("instantiates");
    let started = Instant::now();
    let processed = instance
        .process("{\"trigger\":true}\n", 1)
        .expect("process");
    assert_eq!(
        processed.outcomes,
        vec![Outcome::Failed("CPU time limit of 1 s exceeded".to_owned())]
    );
    assert_eq!(processed.output, "");
    eprintln!("single looping record failed after {:?}", started.elapsed());
}

#[test]
fn missing_assets_directory_is_refused_at_load() {
    let err = engine()
        .load(spec("pass").with_assets("/nonexistent/assets"))
        .expect_err("refused");
    assert!(
        matches!(&err, EngineError::Assets { path, .. } if path == Path::new("/nonexistent/assets")),
        "{err}"
    );
}

// ---- The compiled-module cache against tampering (issue 15, item 1) ----

/// Loads the `pass` guest through a cache in `root` once, so it holds the
/// guest's compiled entry, and returns that entry's path.
fn warm_cache(root: &Path) -> PathBuf {
    let module = Engine::new(cache_config(root))
        .expect("engine")
        .load(spec("pass"))
        .expect("cold load");
    assert!(!module.from_cache());
    let entries = cache_entries(root);
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

/// Loads `spec` through the cache in `root`; asserts the load compiled
/// afresh (the entry was not trusted) and that the cache again holds one
/// genuine entry, which a further load takes.
fn load_recompiles_and_replaces(root: &Path, spec: ModuleSpec) -> Module {
    let module = Engine::new(cache_config(root))
        .expect("engine")
        .load(spec.clone())
        .expect("load");
    assert!(!module.from_cache(), "a tampered entry was loaded");
    let again = Engine::new(cache_config(root))
        .expect("engine")
        .load(spec)
        .expect("reload");
    assert!(again.from_cache(), "the replaced entry is genuine");
    module
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The byte range of ELF section `name` inside `file`, which holds an ELF
/// object (a compiled component) somewhere after a header of its own.
fn elf_section(file: &[u8], name: &str) -> std::ops::Range<usize> {
    let base = find(file, b"\x7fELF").expect("an ELF object");
    let elf = &file[base..];
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().expect("4")) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().expect("8")) as usize;
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let header = |i: usize| shoff + i * shentsize;
    let names = u64_at(header(shstrndx) + 24);
    (0..shnum)
        .find_map(|i| {
            let at = header(i);
            let start = names + u32_at(at);
            let end = start + elf[start..].iter().position(|&b| b == 0)?;
            (&elf[start..end] == name.as_bytes()).then(|| {
                let offset = base + u64_at(at + 24);
                offset..offset + u64_at(at + 32)
            })
        })
        .unwrap_or_else(|| panic!("no ELF section {name}"))
}

#[test]
fn another_modules_compiled_file_under_this_modules_name_is_not_run() {
    let root = tempfile::tempdir().expect("temp dir");
    let entry = warm_cache(root.path());
    // Another module: the same guest plus a custom section, so another
    // sha256 (its own cache entry) with the same code.
    let mut other = std::fs::read(hostile_wasm()).expect("read guest");
    other.extend_from_slice(&[0, 6, 5, b'o', b't', b'h', b'e', b'r']);
    let other_file = write_temp(&other);
    let other_module = Engine::new(cache_config(root.path()))
        .expect("engine")
        .load(ModuleSpec::new("other", other_file.path()))
        .expect("other module loads");
    let other_entry = cache_entries(root.path())
        .into_iter()
        .find(|p| p.to_string_lossy().contains(other_module.sha256()))
        .expect("the other module's entry");
    std::fs::copy(&other_entry, &entry).expect("copy the other module's entry");

    let module = load_recompiles_and_replaces(root.path(), spec("pass"));
    assert_eq!(run(&module).outcomes.len(), 3);
}

fn run(module: &Module) -> weir_engine::Processed {
    module
        .instantiate()
        .expect("instantiates")
        .process(CHUNK, 3)
        .expect("process")
}

#[test]
fn a_flipped_byte_in_the_cached_data_section_is_not_run() {
    let root = tempfile::tempdir().expect("temp dir");
    let entry = warm_cache(root.path());
    let mut bytes = std::fs::read(&entry).expect("read entry");
    // The panic message is a string in the guest's data segment.
    let at = find(&bytes, b"hostile guest panics on purpose").expect("message in the data");
    bytes[at] = b'H';
    std::fs::write(&entry, &bytes).expect("tamper");

    let module = load_recompiles_and_replaces(root.path(), spec("panic"));
    let reason = assert_fails_only_the_trigger(&run(&module));
    assert!(
        reason.contains("hostile guest panics on purpose"),
        "the flipped data ran: {reason}"
    );
}

/// Runs [`tampered_cache_child`] in a child process over the cache in `root`
/// (so tampered code that does run kills the child, not the test binary) and
/// asserts the child recompiled and ran the real guest.
fn child_loads_the_real_guest(root: &Path) {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "tampered_cache_child",
            "--ignored",
            "--nocapture",
        ])
        .env("WEIR_TEST_TAMPERED_CACHE", root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("child runs");
    // Tampered code that runs may also hang: give up on the child then.
    let started = Instant::now();
    while child.try_wait().expect("child status").is_none() {
        if started.elapsed() > Duration::from_secs(300) {
            child.kill().expect("kill the child");
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("child output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the child died ({:?}): the tampered code ran\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("child: from_cache=false outcomes=3"),
        "{stdout}"
    );
}

/// Not a test of its own: the child process of the tests below.
#[test]
#[ignore = "run by the cache-tampering tests in a child process"]
fn tampered_cache_child() {
    let root = PathBuf::from(std::env::var_os("WEIR_TEST_TAMPERED_CACHE").expect("cache root"));
    let module = Engine::new(cache_config(&root))
        .expect("engine")
        .load(spec("pass"))
        .expect("load");
    let processed = run(&module);
    println!(
        "child: from_cache={} outcomes={}",
        module.from_cache(),
        processed.outcomes.len()
    );
}

#[test]
fn code_filled_with_breakpoints_in_the_cache_is_not_run() {
    let root = tempfile::tempdir().expect("temp dir");
    let entry = warm_cache(root.path());
    let mut bytes = std::fs::read(&entry).expect("read entry");
    let text = elf_section(&bytes, ".text");
    bytes[text].fill(0xCC);
    std::fs::write(&entry, &bytes).expect("tamper");
    child_loads_the_real_guest(root.path());
    assert!(
        Engine::new(cache_config(root.path()))
            .expect("engine")
            .load(spec("pass"))
            .expect("load")
            .from_cache(),
        "the entry was replaced by a genuine one"
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn native_code_planted_in_the_cache_is_not_run() {
    let root = tempfile::tempdir().expect("temp dir");
    let entry = warm_cache(root.path());
    let mut bytes = std::fs::read(&entry).expect("read entry");
    let text = elf_section(&bytes, ".text");
    // A NOP slide into `exit(42)`: whatever function is called, the process
    // exits with 42.
    let exit_42: [u8; 12] = [0xb8, 60, 0, 0, 0, 0xbf, 42, 0, 0, 0, 0x0f, 0x05];
    bytes[text.clone()].fill(0x90);
    bytes[text.end - exit_42.len()..text.end].copy_from_slice(&exit_42);
    std::fs::write(&entry, &bytes).expect("tamper");
    child_loads_the_real_guest(root.path());
}

#[test]
fn a_cache_folder_others_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().expect("temp dir");
    let folder = root.path().join("modules");
    std::fs::create_dir(&folder).expect("mkdir");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    for _ in 0..2 {
        let module = Engine::new(cache_config(root.path()))
            .expect("engine")
            .load(spec("pass"))
            .expect("compiles in memory");
        assert!(!module.from_cache());
    }
    assert_eq!(cache_entries(root.path()), Vec::<PathBuf>::new());
}

#[test]
fn a_cache_key_others_can_read_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().expect("temp dir");
    let key = root.path().join("config").join("cache.key");
    std::fs::create_dir(key.parent().expect("parent")).expect("mkdir");
    std::fs::write(&key, [7u8; 32]).expect("write key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let module = Engine::new(cache_config(root.path()))
        .expect("engine")
        .load(spec("pass"))
        .expect("compiles in memory");
    assert!(!module.from_cache());
    assert_eq!(cache_entries(root.path()), Vec::<PathBuf>::new());
}

#[test]
fn a_cache_key_inside_the_cache_folder_is_not_used() {
    let root = tempfile::tempdir().expect("temp dir");
    let config = EngineConfig::default()
        .with_cache_dir(root.path())
        .with_cache_key_file(root.path().join("cache.key"));
    let module = Engine::new(config)
        .expect("engine")
        .load(spec("pass"))
        .expect("compiles in memory");
    assert!(!module.from_cache());
    assert!(!root.path().join("cache.key").exists());
}

#[test]
fn the_cache_key_is_created_private_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().expect("temp dir");
    warm_cache(root.path());
    let key = root.path().join("config").join("cache.key");
    let meta = std::fs::metadata(&key).expect("key exists");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let folder = std::fs::metadata(root.path().join("modules")).expect("folder");
    assert_eq!(folder.permissions().mode() & 0o777, 0o700);
    let first = std::fs::read(&key).expect("read key");
    let module = Engine::new(cache_config(root.path()))
        .expect("engine")
        .load(spec("pass"))
        .expect("load");
    assert!(module.from_cache());
    assert_eq!(std::fs::read(&key).expect("read key"), first);
}

// ---- Sleeping through WASI (item 2) ----

#[test]
fn a_guest_sleeping_forever_fails_its_record_at_the_cpu_time_limit() {
    let started = Instant::now();
    let reason = assert_fails_only_the_trigger(&run_chunk(spec("sleep_forever")));
    assert_eq!(reason, "CPU time limit of 1 s exceeded");
    eprintln!("sleeping forever failed after {:?}", started.elapsed());
}

#[test]
fn a_sleep_longer_than_the_cpu_time_limit_fails_its_record() {
    let reason = assert_fails_only_the_trigger(&run_chunk(spec("sleep")));
    assert_eq!(reason, "CPU time limit of 1 s exceeded");
}

// ---- Output of the isolation re-run (item 3) ----

#[test]
fn the_isolation_re_run_returns_no_more_than_the_per_call_limit() {
    const RECORD: u64 = 1536 * 1024;
    let limits = test_limits()
        .with_max_record_output_bytes(2 * MIB)
        .with_max_call_output_bytes(4 * MIB);
    let spec = spec("large_output")
        .with_config_json(format!("{{\"mode\":\"large_output\",\"bytes\":{RECORD}}}"))
        .with_limits(limits);
    let mut instance = load(spec).instantiate().expect("instantiates");
    let input = format!("{}{{\"id\":1}}\n", "{\"trigger\":true}\n".repeat(5));
    let processed = instance.process(&input, 6).expect("process");
    assert!(
        processed.output.len() as u64 <= 4 * MIB,
        "{}",
        processed.output.len()
    );
    assert_eq!(
        processed.outcomes[..2],
        [Outcome::Emitted(1), Outcome::Emitted(1)]
    );
    for outcome in &processed.outcomes[2..5] {
        let reason = failed_reason(outcome.clone());
        assert!(
            reason.starts_with(&format!(
                "output of {RECORD} bytes does not fit in what is left of the per-call limit of 4194304 bytes"
            )),
            "{reason}"
        );
    }
    assert_eq!(processed.outcomes[5], Outcome::Emitted(1));
    assert!(processed.output.ends_with("\n{\"id\":1}\n"));
}

// ---- Isolation in a full instance pool (item 5) ----

#[test]
fn isolation_needs_no_spare_instance_slot() {
    let engine = Engine::new(
        EngineConfig::default()
            .without_cache()
            .with_max_instances(1),
    )
    .expect("engine");
    let module = engine.load(spec("panic")).expect("load");
    let mut instance = module.instantiate().expect("the one slot");
    let processed = instance.process(CHUNK, 3).expect("isolated, not failed");
    assert_fails_only_the_trigger(&processed);
}

// ---- The length of a failure reason (item 6) ----

#[test]
fn a_huge_failure_reason_is_cut_with_its_length_noted() {
    let spec = spec("long_reason").with_config_json("{\"mode\":\"long_reason\",\"bytes\":1048576}");
    let reason = assert_fails_only_the_trigger(&run_chunk(spec));
    assert!(reason.len() <= 4096 + 64, "{}", reason.len());
    assert!(
        reason.ends_with("… (reason cut to 4095 of its 1048575 bytes)"),
        "{}",
        &reason[reason.len() - 80..]
    );
    assert!(
        reason
            .trim_end_matches(|c| c != '€')
            .chars()
            .all(|c| c == '€')
    );
}

// ---- Random values per chunk (item 7, the engine's half) ----

/// The `result` of every line `random` mode emitted.
fn random_values(processed: &weir_engine::Processed) -> Vec<String> {
    processed
        .output
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).expect("JSON");
            record["result"].as_str().expect("string").to_owned()
        })
        .collect()
}

#[test]
fn a_seeded_chunk_draws_the_same_random_values_whatever_ran_before() {
    let module = load(spec("random"));
    let chunk = "{\"trigger\":true}\n".repeat(100);
    let mut fresh = module.instantiate().expect("instantiates");
    fresh.seed_next_chunk(7);
    let first = fresh.process(&chunk, 100).expect("process");

    let mut busy = module.instantiate().expect("instantiates");
    busy.seed_next_chunk(3);
    let other = busy.process(&chunk, 100).expect("process");
    busy.seed_next_chunk(7);
    let second = busy.process(&chunk, 100).expect("process");

    assert_eq!(first, second, "chunk 7 depends only on its key");
    assert_ne!(random_values(&first), random_values(&other));
    let values = random_values(&first);
    assert!(values.iter().all(|v| v.starts_with("ok: ")), "{values:?}");
    let distinct: std::collections::HashSet<_> = values.iter().collect();
    assert_eq!(distinct.len(), 100, "random values repeat: {values:?}");
}

// ---- Refused before compiling (item 4) ----

#[test]
fn a_component_of_another_world_is_refused_before_it_is_compiled() {
    let wasm = wat::parse_str(
        r#"(component
            (core module $m (func (export "run")))
            (core instance $i (instantiate $m))
            (func (export "run") (canon lift (core func $i "run")))
        )"#,
    )
    .expect("valid component text");
    let file = write_temp(&wasm);
    let root = tempfile::tempdir().expect("temp dir");
    let err = Engine::new(cache_config(root.path()))
        .expect("engine")
        .load(ModuleSpec::new("other", file.path()))
        .expect_err("refused");
    assert!(
        matches!(&err, EngineError::NotATransform { message, .. } if message.contains("it exports `run`")),
        "{err}"
    );
    // A compiled module would have been cached.
    assert_eq!(cache_entries(root.path()), Vec::<PathBuf>::new());
}

#[test]
fn a_component_importing_what_the_sandbox_lacks_is_refused_naming_it() {
    let wasm = wat::parse_str(
        r#"(component
            (import "acme:db/query" (instance))
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func (export "init") (canon lift (core func $i "f")))
            (func (export "process") (canon lift (core func $i "f")))
            (func (export "finish") (canon lift (core func $i "f")))
        )"#,
    )
    .expect("valid component text");
    let file = write_temp(&wasm);
    let err = engine()
        .load(ModuleSpec::new("acme", file.path()))
        .expect_err("refused");
    assert!(
        matches!(&err, EngineError::NotATransform { message, .. }
            if message.contains("it imports `acme:db/query`, which the sandbox does not provide")),
        "{err}"
    );
}

#[test]
fn a_compilation_over_the_compile_deadline_fails_the_load_naming_it() {
    let root = tempfile::tempdir().expect("temp dir");
    let impatient = Engine::new(
        cache_config(root.path()).with_compile_timeout(std::time::Duration::from_millis(1)),
    )
    .expect("engine");
    let err = impatient.load(spec("pass")).expect_err("over the deadline");
    assert!(
        matches!(&err, EngineError::Compile { message, .. }
            if message.contains("did not compile within the compile deadline of 1ms")),
        "{err}"
    );
    // Nothing half-done is cached, and a patient engine loads the module.
    assert_eq!(cache_entries(root.path()), Vec::<PathBuf>::new());
    Engine::new(cache_config(root.path()))
        .expect("engine")
        .load(spec("pass"))
        .expect("within the default deadline");
}

#[test]
fn module_and_function_size_limits_refuse_before_compiling() {
    let root = tempfile::tempdir().expect("temp dir");
    let size = std::fs::metadata(hostile_wasm()).expect("stat").len();
    let small_modules =
        Engine::new(cache_config(root.path()).with_max_module_bytes(size - 1)).expect("engine");
    let err = small_modules.load(spec("pass")).expect_err("too large");
    assert!(
        matches!(&err, EngineError::Refused { message, .. }
            if message.contains(&format!("it has {size} bytes, more than the module size limit"))),
        "{err}"
    );
    let small_functions =
        Engine::new(cache_config(root.path()).with_max_function_bytes(64)).expect("engine");
    let err = small_functions.load(spec("pass")).expect_err("too large");
    assert!(
        matches!(&err, EngineError::Refused { message, .. }
            if message.contains("more than the function size limit of 64 bytes")),
        "{err}"
    );
    assert_eq!(cache_entries(root.path()), Vec::<PathBuf>::new());
}
