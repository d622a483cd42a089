//! OpenLineage events end to end (docs/lineage.md): the real binary sends
//! them over the file transport and over HTTP to a real HTTP server in the
//! test; every event is validated against the spec's JSON schemas
//! (tests/openlineage/validate.py, Python's `jsonschema`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use weir_tests::pg::{Cluster, PASSWORD};
use weir_tests::{Sandbox, guest, python, sha256, workspace};

const INTERVAL: &str = "2026-11-26T00:00:00+00:00";
const FOLDER: &str = "interval=20261126T000000Z";
const PARENT_RUN: &str = "01932f6e-3a54-7b71-8c0e-1c2d3e4f5a6b";

/// The file transport's variables.
fn file_transport(path: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("OPENLINEAGE__TRANSPORT__TYPE", "file".into()),
        (
            "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH",
            path.display().to_string(),
        ),
    ]
}

pub(crate) fn events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Fails the test, with the validator's report, unless every event in the
/// file follows the spec's schemas.
pub(crate) fn assert_valid(path: &Path) {
    let o = Command::new(python())
        .arg(workspace().join("tests/openlineage/validate.py"))
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("running the validator: {e}"));
    assert!(
        o.status.success(),
        "events in {} do not follow the OpenLineage schemas:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["eventType"].as_str().unwrap_or_default())
        .collect()
}

/// The sandbox's real path: stage names are absolute, symlinks resolved.
fn real(sb: &Sandbox) -> PathBuf {
    std::fs::canonicalize(sb.path()).unwrap_or_else(|e| panic!("{e}"))
}

fn manifest_bytes(sb: &Sandbox, stage: &str) -> Vec<u8> {
    std::fs::read(sb.join(&format!("{stage}/{FOLDER}/_manifest.json")))
        .unwrap_or_else(|e| panic!("manifest of {stage}: {e}"))
}

#[test]
fn stage_and_run_send_start_and_complete_with_the_committed_counts_in_the_spec_s_schema() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    let log = sb.join("lineage.ndjson");
    sb.write(
        "input.ndjson",
        "{\"text\":\"  A  b \"}\nnot json\n{\"text\":\"C\"}\n",
    );
    let parent = format!("airflow/nlp.stage_raw/{PARENT_RUN}");
    let staged = sb
        .weir_env(
            &[
                "stage",
                "lake/raw",
                "--interval",
                INTERVAL,
                "input.ndjson",
                "--max-rejected",
                "1",
                "--openlineage-parent",
                &parent,
                "--json",
            ],
            &file_transport(&log),
        )
        .ok();
    // The run's transport comes from the pipeline file's [openlineage] table.
    sb.write(
        "pipeline.toml",
        format!(
            r#"[stages]
raw = "lake/raw"
clean = "lake/clean"

[openlineage]
namespace = "lake"
[openlineage.transport]
type = "file"
log_file_path = "lineage.ndjson"

[steps.clean]
input = "raw"
output = "clean"

[[steps.clean.transforms]]
module = "{}"
config = {{ fields = ["text"] }}
"#,
            module.display()
        ),
    );
    let ran = sb
        .weir(&[
            "run",
            "pipeline.toml",
            "clean",
            "--interval",
            INTERVAL,
            "--json",
        ])
        .ok();
    assert_valid(&log);
    let ev = events(&log);
    assert_eq!(kinds(&ev), ["START", "COMPLETE", "START", "COMPLETE"]);
    assert_eq!(ev[0]["run"]["runId"], ev[1]["run"]["runId"]);
    assert_eq!(ev[2]["run"]["runId"], ev[3]["run"]["runId"]);
    assert_ne!(ev[0]["run"]["runId"], ev[2]["run"]["runId"]);
    let root = real(&sb).display().to_string();

    // weir stage: no input dataset, the stage as the output, the parent.
    let (start, done) = (&ev[0], &ev[1]);
    assert_eq!(start["job"]["namespace"], "weir");
    assert_eq!(
        start["job"]["name"],
        format!("stage:file://{root}/lake/raw")
    );
    let parent_facet = &done["run"]["facets"]["parent"];
    assert_eq!(parent_facet["run"]["runId"], PARENT_RUN);
    assert_eq!(parent_facet["job"]["namespace"], "airflow");
    assert_eq!(parent_facet["job"]["name"], "nlp.stage_raw");
    assert_eq!(start["run"]["facets"]["parent"], *parent_facet);
    assert_eq!(done["inputs"], serde_json::json!([]));
    let out = &done["outputs"][0];
    assert_eq!(out["namespace"], "file");
    assert_eq!(out["name"], format!("{root}/lake/raw"));
    let m: Value =
        serde_json::from_slice(&manifest_bytes(&sb, "lake/raw")).unwrap_or_else(|e| panic!("{e}"));
    let stats = &out["outputFacets"]["outputStatistics"];
    assert_eq!(stats["rowCount"], 2);
    assert_eq!(stats["size"], m["totals"]["compressed_bytes"]);
    assert_eq!(stats["fileCount"], 1);
    let partition = &out["outputFacets"]["subset"]["outputCondition"]["partitions"][0];
    assert_eq!(partition["identifier"], FOLDER);
    assert_eq!(partition["dimensions"]["interval"], "2026-11-26T00:00:00Z");
    let raw_version = sha256(&manifest_bytes(&sb, "lake/raw"));
    assert_eq!(out["facets"]["version"]["datasetVersion"], raw_version);
    let weir = &done["run"]["facets"]["weir"];
    assert_eq!(weir["command"], "stage");
    assert_eq!(weir["records"], 2);
    assert_eq!(weir["quarantined"], 1);
    assert_eq!(
        weir["quarantine"],
        format!("file://{root}/lake/raw/_quarantine/{FOLDER}")
    );
    assert_eq!(weir["manifestRunId"], m["run_id"]);
    assert!(done["run"]["facets"].get("errorMessage").is_none());
    // START names the same datasets, without counts.
    assert_eq!(start["outputs"][0]["name"], out["name"]);
    assert!(
        start["outputs"][0]["outputFacets"]
            .get("outputStatistics")
            .is_none()
    );
    // --json prints the datasets the Airflow provider reports.
    assert_eq!(staged.json()["openlineage"]["outputs"], done["outputs"]);
    assert_eq!(staged.json()["openlineage"]["runId"], done["run"]["runId"]);

    // weir run: the step's job, raw in (at the version staged), clean out.
    let (start, done) = (&ev[2], &ev[3]);
    assert_eq!(start["job"]["namespace"], "lake");
    assert_eq!(start["job"]["name"], "pipeline.clean");
    assert!(done["run"]["facets"].get("parent").is_none());
    let input = &done["inputs"][0];
    assert_eq!(input["namespace"], "file");
    assert_eq!(input["name"], format!("{root}/lake/raw"));
    assert_eq!(input["facets"]["version"]["datasetVersion"], raw_version);
    assert_eq!(
        input["inputFacets"]["subset"]["inputCondition"]["partitions"][0]["identifier"],
        FOLDER
    );
    let out = &done["outputs"][0];
    assert_eq!(out["name"], format!("{root}/lake/clean"));
    assert_eq!(out["outputFacets"]["outputStatistics"]["rowCount"], 2);
    assert_eq!(
        out["facets"]["version"]["datasetVersion"],
        sha256(&manifest_bytes(&sb, "lake/clean"))
    );
    let modules = &done["run"]["facets"]["weir"]["modules"];
    assert_eq!(modules[0]["name"], "normalize");
    assert_eq!(
        modules[0]["sha256"],
        sha256(&std::fs::read(&module).unwrap_or_default())
    );
    assert_eq!(
        modules[0]["configSha256"],
        sha256(br#"{"fields":["text"]}"#)
    );
    assert_eq!(
        done["run"]["facets"]["nominalTime"]["nominalStartTime"],
        "2026-11-26T00:00:00Z"
    );
    assert_eq!(ran.json()["openlineage"]["inputs"], done["inputs"]);
}

#[test]
fn a_failed_command_sends_start_and_fail_with_its_error_and_never_complete() {
    let sb = Sandbox::new();
    let log = sb.join("lineage.ndjson");
    sb.write("good.ndjson", "{\"a\":1}\n");
    sb.weir(&["stage", "raw", "--interval", "2026-11-25", "good.ndjson"])
        .ok();
    // The input has no commit of this interval: the run fails, commits nothing.
    let failed = sb
        .weir_env(
            &[
                "run",
                "--input",
                "raw",
                "--output",
                "clean",
                "--interval",
                INTERVAL,
            ],
            &file_transport(&log),
        )
        .expect_code(1);
    // An empty input fails `weir stage` the same way.
    sb.write("empty.ndjson", "");
    let empty = sb
        .weir_env(
            &["stage", "raw", "--interval", INTERVAL, "empty.ndjson"],
            &file_transport(&log),
        )
        .expect_code(1);
    assert_valid(&log);
    let ev = events(&log);
    assert_eq!(kinds(&ev), ["START", "FAIL", "START", "FAIL"]);
    for (pair, run) in [(&ev[0..2], &failed), (&ev[2..4], &empty)] {
        assert_eq!(pair[0]["run"]["runId"], pair[1]["run"]["runId"]);
        let message = pair[1]["run"]["facets"]["errorMessage"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(!message.is_empty());
        assert!(
            run.stderr.contains(message),
            "the FAIL message {message:?} is not what the command printed: {}",
            run.stderr
        );
        assert_eq!(
            pair[1]["run"]["facets"]["errorMessage"]["programmingLanguage"],
            "rust"
        );
        assert!(
            pair[1]["outputs"][0]["outputFacets"]
                .get("outputStatistics")
                .is_none()
        );
    }
    assert!(!sb.join(&format!("clean/{FOLDER}/_manifest.json")).exists());
    assert!(!sb.join(&format!("raw/{FOLDER}/_manifest.json")).exists());
}

/// One request a [`Recorder`] received.
#[derive(Debug, Clone)]
struct Request {
    line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A real HTTP/1.1 server on 127.0.0.1 that records every request and
/// answers each with `status`. It stops when dropped (or after 60 s).
struct Recorder {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Recorder {
    fn start(status: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("binding: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("{e}"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, done) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !done.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                if let Some(r) = read_request(&stream) {
                    seen.lock().unwrap_or_else(|p| p.into_inner()).push(r);
                }
                let mut out = &stream;
                let _ = write!(
                    out,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Self {
            port,
            requests,
            stop,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn read_request(stream: &std::net::TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        line: line.trim_end().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

#[test]
fn the_http_transport_posts_each_event_with_the_bearer_token_to_a_real_server() {
    let server = Recorder::start("200 OK");
    let sb = Sandbox::new();
    sb.write("input.ndjson", "{\"a\":1}\n{\"a\":2}\n");
    sb.weir_env(
        &["stage", "raw", "--interval", INTERVAL, "input.ndjson"],
        &[
            (
                "OPENLINEAGE_URL",
                format!("http://127.0.0.1:{}", server.port),
            ),
            ("OPENLINEAGE_API_KEY", "s3cr3t-token".into()),
        ],
    )
    .ok();
    let got = server.requests();
    assert_eq!(got.len(), 2, "{got:?}");
    for r in &got {
        assert_eq!(r.line, "POST /api/v1/lineage HTTP/1.1");
        assert_eq!(r.header("authorization"), Some("Bearer s3cr3t-token"));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let bodies = sb.write(
        "received.ndjson",
        got.iter()
            .map(|r| r.body.clone() + "\n")
            .collect::<String>(),
    );
    assert_valid(&bodies);
    let ev = events(&bodies);
    assert_eq!(kinds(&ev), ["START", "COMPLETE"]);
    assert_eq!(
        ev[1]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"],
        2
    );
    drop(server);

    // OPENLINEAGE_ENDPOINT moves the path; a server answering 500 is a
    // warning naming the status, and the commit stands.
    let server = Recorder::start("500 Internal Server Error");
    let r = sb
        .weir_env(
            &["stage", "raw", "--interval", "2026-11-27", "input.ndjson"],
            &[
                (
                    "OPENLINEAGE_URL",
                    format!("http://127.0.0.1:{}/", server.port),
                ),
                ("OPENLINEAGE_ENDPOINT", "/lineage/in".into()),
            ],
        )
        .ok();
    let got = server.requests();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].line, "POST /lineage/in HTTP/1.1");
    assert!(got[0].header("authorization").is_none());
    assert!(
        r.stderr
            .contains("openlineage: could not send the COMPLETE event")
            && r.stderr.contains("500"),
        "{}",
        r.stderr
    );
    assert!(
        sb.join("raw/interval=20261127T000000Z/_manifest.json")
            .exists()
    );
}

#[test]
fn a_transport_that_cannot_be_reached_warns_and_the_commit_stands() {
    // A port nothing listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let sb = Sandbox::new();
    sb.write("input.ndjson", "{\"a\":1}\n");
    let r = sb
        .weir_env(
            &["stage", "raw", "--interval", INTERVAL, "input.ndjson"],
            &[("OPENLINEAGE_URL", format!("http://127.0.0.1:{port}"))],
        )
        .ok();
    for event in ["START", "COMPLETE"] {
        assert!(
            r.stderr.contains(&format!(
                "openlineage: could not send the {event} event to http://127.0.0.1:{port}/api/v1/lineage"
            )),
            "{}",
            r.stderr
        );
    }
    assert!(r.stdout.contains("committed 1 records"), "{}", r.stdout);
    assert!(sb.join(&format!("raw/{FOLDER}/_manifest.json")).exists());
    // A file transport that cannot be written, and a transport Weir does
    // not have: warnings too, and the commit stands.
    for (env, says) in [
        (
            file_transport(&sb.join("no/such/dir/lineage.ndjson")),
            "could not send the START event",
        ),
        (
            vec![("OPENLINEAGE__TRANSPORT__TYPE", "kafka".to_owned())],
            "\"kafka\" is not a transport",
        ),
    ] {
        let r = sb
            .weir_env(
                &["stage", "raw", "--interval", INTERVAL, "input.ndjson"],
                &env,
            )
            .ok();
        assert!(r.stderr.contains(says), "{}", r.stderr);
    }
    // OPENLINEAGE_DISABLED=true sends nothing, whatever else is set.
    let log = sb.join("lineage.ndjson");
    let mut env = file_transport(&log);
    env.push(("OPENLINEAGE_DISABLED", "true".into()));
    sb.weir_env(
        &["stage", "raw", "--interval", INTERVAL, "input.ndjson"],
        &env,
    )
    .ok();
    assert!(!log.exists());
}

#[test]
fn a_bad_openlineage_parent_is_refused_before_anything_runs() {
    let sb = Sandbox::new();
    let log = sb.join("lineage.ndjson");
    sb.write("input.ndjson", "{\"a\":1}\n");
    for (bad, says) in [
        ("airflow/dag.task/not-a-uuid", "is not a UUID"),
        ("just-a-name", "NAMESPACE/JOB/RUN_ID"),
    ] {
        let r = sb
            .weir_env(
                &[
                    "stage",
                    "raw",
                    "--interval",
                    INTERVAL,
                    "input.ndjson",
                    "--openlineage-parent",
                    bad,
                ],
                &file_transport(&log),
            )
            .expect_code(2);
        assert!(r.stderr.contains(says), "{bad}: {}", r.stderr);
    }
    assert!(!log.exists());
    assert!(!sb.join(&format!("raw/{FOLDER}")).exists());
}

#[test]
fn a_sharded_run_is_one_run_the_commit_s_and_its_shards_send_nothing() {
    let sb = Sandbox::new();
    let log = sb.join("lineage.ndjson");
    let records: String = (0..200).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    sb.write("input.ndjson", records);
    sb.weir(&[
        "stage",
        "raw",
        "--interval",
        INTERVAL,
        "input.ndjson",
        "--max-batch-bytes",
        "1KB",
    ])
    .ok();
    let env = file_transport(&log);
    let plan = sb
        .weir_env(
            &[
                "plan",
                "--input",
                "raw",
                "--interval",
                INTERVAL,
                "--parts-per-shard",
                "2",
            ],
            &env,
        )
        .ok()
        .json();
    let shards: Vec<String> = plan["shards"]
        .as_array()
        .unwrap_or_else(|| panic!("{plan}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(shards.len() >= 2, "{plan}");
    for shard in &shards {
        sb.weir_env(
            &[
                "run",
                "--input",
                "raw",
                "--output",
                "clean",
                "--interval",
                INTERVAL,
                "--shard",
                shard,
            ],
            &env,
        )
        .ok();
    }
    assert!(!log.exists(), "plan and sealed shards sent events");
    let count = shards.len().to_string();
    let commit = [
        "commit",
        "--input",
        "raw",
        "--output",
        "clean",
        "--interval",
        INTERVAL,
        "--shards",
        &count,
    ];
    sb.weir_env(&commit, &env).ok();
    // A commit retried after it succeeded finds its commit: COMPLETE again.
    sb.weir_env(&commit, &env).ok();
    assert_valid(&log);
    let ev = events(&log);
    assert_eq!(kinds(&ev), ["START", "COMPLETE", "START", "COMPLETE"]);
    let root = real(&sb).display().to_string();
    for done in [&ev[1], &ev[3]] {
        assert_eq!(done["job"]["name"], format!("commit:file://{root}/clean"));
        assert_eq!(done["run"]["facets"]["weir"]["command"], "commit");
        assert_eq!(done["inputs"][0]["name"], format!("{root}/raw"));
        let stats = &done["outputs"][0]["outputFacets"]["outputStatistics"];
        assert_eq!(stats["rowCount"], 200);
        assert_eq!(
            done["outputs"][0]["facets"]["version"]["datasetVersion"],
            sha256(&manifest_bytes(&sb, "clean"))
        );
    }
}

/// The events on `stderr` (the console transport: one JSON line each),
/// also written to `path` for the validator.
fn console_events(stderr: &str, path: &Path) -> Vec<Value> {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with('{') && l.contains("\"eventType\""))
        .collect();
    std::fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    events(path)
}

/// `weir extract` is a run like the others: START and COMPLETE name the
/// table it read, as the PostgreSQL dataset OpenLineage names, and the
/// stage it committed with its row count. A sharded extract is one run,
/// its commit's (the shards send nothing), configured here by the
/// pipeline file's [openlineage] table with the console transport.
#[test]
fn an_extract_and_its_sharded_commit_send_the_table_in_and_the_stage_out() {
    let sb = Sandbox::new();
    let pg = Cluster::shared();
    let table = "lineage_tickets";
    pg.primary_exec(&format!(
        "CREATE TABLE {table} (id int8 PRIMARY KEY, body text, updated_at timestamptz);
         INSERT INTO {table} SELECT i, 'ticket ' || i,
           '2026-11-26T00:00:00Z'::timestamptz + i * interval '1 minute'
           FROM generate_series(1, 30) i;
         INSERT INTO {table} VALUES (31, 'the next day', '2026-11-27T00:00:00Z');"
    ));
    let window = ["--interval", INTERVAL, "--interval-end", "2026-11-27"];
    let log = sb.join("lineage.ndjson");
    let mut env = file_transport(&log);
    env.push(("PGPASSWORD", PASSWORD.to_owned()));
    let url = pg.standby_url_without_password();
    let flags = [
        "extract",
        "--source",
        &url,
        "--table",
        table,
        "--cursor",
        "updated_at",
        "--key",
        "id",
        "--output",
        "lake/flags",
        "--json",
    ];
    let all: Vec<&str> = flags.iter().copied().chain(window).collect();
    let extracted = sb.weir_env(&all, &env).ok();
    assert_valid(&log);
    let ev = events(&log);
    assert_eq!(kinds(&ev), ["START", "COMPLETE"]);
    let root = real(&sb).display().to_string();
    let namespace = format!("postgres://127.0.0.1:{}", pg.standby_port);
    let name = format!("postgres.{table}");
    for e in &ev {
        assert_eq!(e["inputs"][0]["namespace"], namespace.as_str(), "{e:#}");
        assert_eq!(e["inputs"][0]["name"], name.as_str(), "{e:#}");
        assert_eq!(e["outputs"][0]["name"], format!("{root}/lake/flags"));
    }
    let done = &ev[1];
    let out = &done["outputs"][0];
    assert_eq!(out["outputFacets"]["outputStatistics"]["rowCount"], 30);
    assert_eq!(
        out["facets"]["version"]["datasetVersion"],
        sha256(&manifest_bytes(&sb, "lake/flags"))
    );
    assert_eq!(done["run"]["facets"]["weir"]["command"], "extract");
    assert_eq!(done["run"]["facets"]["weir"]["records"], 30);
    assert_eq!(extracted.json()["openlineage"]["outputs"], done["outputs"]);
    assert!(
        !url.contains(PASSWORD)
            && !std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains(PASSWORD)
    );

    sb.write(
        "pipeline.toml",
        format!(
            r#"[stages]
raw = "lake/raw"

[sources.replica]
url = "{url}"

[openlineage]
namespace = "lake"
[openlineage.transport]
type = "console"

[steps.raw]
source = "replica"
output = "raw"
table = "{table}"
cursor = "updated_at"
key = "id"
"#
        ),
    );
    let pw = [("PGPASSWORD", PASSWORD.to_owned())];
    let weir = |args: &[&str]| {
        let all: Vec<&str> = args.iter().copied().chain(window).collect();
        sb.weir_env(&all, &pw).ok()
    };
    weir(&["plan", "pipeline.toml", "raw", "--shards", "2"]);
    for shard in ["0/2", "1/2"] {
        let sealed = weir(&["extract", "pipeline.toml", "raw", "--shard", shard]);
        assert!(
            !sealed.stderr.contains("\"eventType\""),
            "{}",
            sealed.stderr
        );
    }
    let committed = weir(&["commit", "pipeline.toml", "raw", "--shards", "2"]);
    let console = sb.join("console.ndjson");
    let ev = console_events(&committed.stderr, &console);
    assert_valid(&console);
    assert_eq!(kinds(&ev), ["START", "COMPLETE"], "{}", committed.stderr);
    for e in &ev {
        assert_eq!(e["job"]["namespace"], "lake");
        assert_eq!(e["job"]["name"], "pipeline.raw");
        assert_eq!(e["inputs"][0]["name"], name.as_str(), "{e:#}");
        assert_eq!(e["outputs"][0]["name"], format!("{root}/lake/raw"));
    }
    let out = &ev[1]["outputs"][0];
    assert_eq!(out["outputFacets"]["outputStatistics"]["rowCount"], 30);
    assert_eq!(
        out["facets"]["version"]["datasetVersion"],
        sha256(&manifest_bytes(&sb, "lake/raw"))
    );
    assert_eq!(ev[1]["run"]["facets"]["weir"]["command"], "commit");
}
