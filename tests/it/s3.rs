//! `s3://` stages end to end: every command of the real binary against a
//! real S3 server (s3s-fs, started per test on 127.0.0.1), configured only
//! through the standard AWS environment variables. What the server stores
//! is read back from its folder, so assertions see the bytes S3 holds.

use serde_json::Value;
use weir_tests::{S3_SECRET_KEY, S3Server, Sandbox, guest, gzip, lines, sha256};

const INTERVAL: &str = "2026-11-26T00:00:00+00:00";
const FOLDER: &str = "interval=20261126T000000Z";
/// object_store's BufWriter switches to a multipart upload above this
/// (weir's upload chunk).
const MULTIPART_THRESHOLD: u64 = 10 * 1024 * 1024;
/// A recognisable fake session token.
const SESSION_TOKEN: &str = "WEIRFAKESESSIONTOKEN0123456789";
/// S3 returns at most this many keys per list request.
const LIST_PAGE: usize = 1000;

/// Deterministic pseudo-random text (xorshift64*) over 64 symbols: gzip
/// keeps about three quarters of it.
struct Noise(u64);

impl Noise {
    fn text(&mut self, len: usize) -> String {
        const SYMBOLS: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
        (0..len)
            .map(|_| {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                SYMBOLS[(self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 58) as usize] as char
            })
            .collect()
    }
}

/// `n` records of exactly `42 + blob` bytes each (with the newline), with a
/// `text` field for the normalize transform and a random `blob`.
fn records(n: usize, blob: usize, seed: u64) -> String {
    let mut noise = Noise(seed);
    (0..n)
        .map(|i| {
            format!(
                "{{\"id\":\"{i:06}\",\"text\":\" A  B \",\"blob\":\"{}\"}}\n",
                noise.text(blob)
            )
        })
        .collect()
}

fn parts(listing: &Value) -> &Vec<Value> {
    listing["parts"]
        .as_array()
        .unwrap_or_else(|| panic!("no parts in {listing}"))
}

/// Checks every part an `ls --interval --json` lists against the object
/// the server stores under `prefix`.
fn assert_parts_stored(s3: &S3Server, prefix: &str, listing: &Value) {
    for p in parts(listing).iter().chain(
        listing["quarantine"]["parts"]
            .as_array()
            .into_iter()
            .flatten(),
    ) {
        let path = p["path"].as_str().unwrap_or_default();
        let stored = s3.object(&format!("{prefix}/{path}"));
        assert_eq!(p["compressed_bytes"], stored.len() as u64, "{path}");
        assert_eq!(p["sha256"], sha256(&stored), "{path}");
    }
}

/// The objects (files) under `prefix` in the bucket, relative to it, sorted.
fn objects(s3: &S3Server, prefix: &str) -> Vec<String> {
    let root = s3.bucket_dir().join(prefix);
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(r) = p.strip_prefix(&root) {
                out.push(r.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// Command-line arguments from pieces.
fn argv<'a>(pieces: &[&[&'a str]]) -> Vec<&'a str> {
    pieces.concat()
}

/// How many requests of S3 operation `op` the server has resolved so far.
fn requests(s3: &S3Server, op: &str) -> usize {
    s3.log()
        .lines()
        .filter(|l| l.contains("resolved route") && l.contains(&format!("op: {op}")))
        .count()
}

/// With the metadata probe turned off the AWS way and no credentials, an
/// S3 stage fails at once, naming the variables that would give some; it
/// never waits on the instance metadata address.
#[test]
fn an_s3_stage_without_credentials_and_the_metadata_probe_off_fails_at_once() {
    let sb = Sandbox::new();
    let r = sb
        .weir_env(
            &["ls", "s3://lake/raw"],
            &[("AWS_EC2_METADATA_DISABLED", "true".to_owned())],
        )
        .expect_code(1);
    assert!(
        r.stderr.contains("invalid stage \"s3://lake/raw\"")
            && r.stderr
                .contains("no AWS credentials: AWS_EC2_METADATA_DISABLED=true")
            && r.stderr.contains("AWS_ACCESS_KEY_ID"),
        "{}",
        r.stderr
    );
}

#[test]
fn stage_ls_cat_verify_round_trip_on_s3() {
    let s3 = S3Server::start();
    let sb = Sandbox::new();
    let raw = s3.url("lake/raw");
    let input = records(3000, 40, 1);
    sb.write("in.ndjson", &input);
    let staged = s3
        .weir(
            &sb,
            &[
                "stage",
                &raw,
                "--interval",
                INTERVAL,
                "--max-batch-bytes",
                "50KB",
                "--json",
                "in.ndjson",
            ],
        )
        .ok()
        .json();
    assert_eq!(staged["stage"], raw);
    assert_eq!(staged["manifest"], format!("{raw}/{FOLDER}/_manifest.json"));
    assert_eq!(staged["totals"]["records"], 3000);

    let list = s3.weir(&sb, &["ls", &raw, "--json"]).ok().json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["folder"], FOLDER);
    assert_eq!(list[0]["committed"], true);
    assert_eq!(list[0]["totals"]["records"], 3000);

    let listing = s3
        .weir(&sb, &["ls", &raw, "--interval", INTERVAL, "--json"])
        .ok()
        .json();
    let manifest = s3.object(&format!("lake/raw/{FOLDER}/_manifest.json"));
    assert_eq!(listing["manifest_sha256"], sha256(&manifest));
    assert_eq!(listing["stage"], raw);
    assert!(parts(&listing).len() > 1, "{listing}");
    assert_parts_stored(&s3, "lake/raw", &listing);
    let mut expected: Vec<String> = parts(&listing)
        .iter()
        .map(|p| p["path"].as_str().unwrap_or_default().to_owned())
        .collect();
    expected.push(format!("{FOLDER}/_manifest.json"));
    expected.sort();
    assert_eq!(objects(&s3, "lake/raw"), expected, "nothing else is stored");

    assert_eq!(
        s3.weir(&sb, &["cat", &raw, "--interval", INTERVAL])
            .ok()
            .stdout,
        input
    );
    let v = s3.weir(&sb, &["verify", &raw, "--json"]).ok().json();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["intervals"][0]["records"], 3000);
    assert_eq!(
        v["intervals"][0]["parts_checked"],
        parts(&listing).len() as u64
    );
    // Stdin works too, and a second interval lists after the first.
    let later = "2026-11-27T00:00:00+00:00";
    s3.weir_with_stdin(&sb, &["stage", &raw, "--interval", later], b"{\"v\":1}\n")
        .ok();
    let list = s3.weir(&sb, &["ls", &raw, "--json"]).ok().json();
    assert_eq!(list[1]["folder"], "interval=20261127T000000Z", "{list}");
}

#[test]
fn a_part_above_the_multipart_threshold_round_trips() {
    let s3 = S3Server::start();
    let sb = Sandbox::new();
    let raw = s3.url("big");
    // 20 000 × 1 042 bytes ≈ 21 MB, ≈ 15 MB gzipped: one part, two chunks.
    let input = records(20_000, 1000, 2);
    sb.write("in.ndjson", &input);
    s3.weir(
        &sb,
        &[
            "stage",
            &raw,
            "--interval",
            INTERVAL,
            "--max-batch-bytes",
            "1GB",
            "in.ndjson",
        ],
    )
    .ok();
    let listing = s3
        .weir(&sb, &["ls", &raw, "--interval", INTERVAL, "--json"])
        .ok()
        .json();
    assert_eq!(parts(&listing).len(), 1, "{listing}");
    let stored = parts(&listing)[0]["compressed_bytes"].as_u64().unwrap_or(0);
    assert!(
        stored > MULTIPART_THRESHOLD + MULTIPART_THRESHOLD / 4,
        "the part is only {stored} bytes: not above the multipart threshold"
    );
    assert!(
        requests(&s3, "CompleteMultipartUpload") >= 1 && requests(&s3, "UploadPart") >= 2,
        "the part was not uploaded in several chunks; server log:\n{}",
        s3.log()
    );
    assert_parts_stored(&s3, "big", &listing);
    let out = s3
        .weir(&sb, &["cat", &raw, "--interval", INTERVAL])
        .ok()
        .stdout;
    assert!(out == input, "cat differs from the input");
    s3.weir(&sb, &["verify", &raw, "--interval", INTERVAL]).ok();
}

#[test]
fn an_interval_of_hundreds_of_parts_lists_verifies_and_reads_in_order() {
    let s3 = S3Server::start();
    let sb = Sandbox::new();
    let raw = s3.url("many");
    // 100-byte records, 10 to a 1000-byte part: 300 parts.
    let input = records(3000, 58, 3);
    assert_eq!(input.len(), 300_000);
    sb.write("in.ndjson", &input);
    s3.weir(
        &sb,
        &[
            "stage",
            &raw,
            "--interval",
            INTERVAL,
            "--max-batch-bytes",
            "1000",
            "in.ndjson",
        ],
    )
    .ok();
    let listing = s3
        .weir(&sb, &["ls", &raw, "--interval", INTERVAL, "--json"])
        .ok()
        .json();
    let n = parts(&listing).len();
    assert!(n >= 300, "expected at least 300 parts, got {n}");
    assert!(
        parts(&listing)
            .iter()
            .all(|p| p["uncompressed_bytes"].as_u64().unwrap_or(u64::MAX) <= 1000),
        "a part passes the cap"
    );
    assert_parts_stored(&s3, "many", &listing);
    assert_eq!(objects(&s3, &format!("many/{FOLDER}")).len(), n + 1);
    let v = s3
        .weir(&sb, &["verify", &raw, "--interval", INTERVAL, "--json"])
        .ok()
        .json();
    assert_eq!(v["intervals"][0]["parts_checked"], n as u64, "{v}");
    assert_eq!(
        s3.weir(&sb, &["cat", &raw, "--interval", INTERVAL])
            .ok()
            .stdout,
        input
    );
}

#[test]
fn listings_longer_than_one_page_are_read_whole() {
    let s3 = S3Server::start();
    let sb = Sandbox::new();
    let raw = s3.url("paged");

    // More interval folders than one list page holds: crashed attempts
    // (a part, no manifest) on 1 100 minutes of the day before, written
    // straight into the server's folder; then one real commit after them,
    // so it only shows up on the second page.
    let leftover = gzip(b"{\"v\":\"leftover\"}\n");
    let crashed = LIST_PAGE + 100;
    for k in 0..crashed {
        let folder = format!("interval=20261125T{:02}{:02}00Z", k / 60, k % 60);
        let dir = s3.bucket_dir().join("paged").join(&folder);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.join("part-00000-20000101T000000Z-deadbeef.ndjson.gz"),
            &leftover,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    sb.write("in.ndjson", "{\"v\":1}\n");
    s3.weir(&sb, &["stage", &raw, "--interval", INTERVAL, "in.ndjson"])
        .ok();
    let lists_before = requests(&s3, "ListObjectsV2");
    let list = s3.weir(&sb, &["ls", &raw, "--json"]).ok().json();
    assert!(
        requests(&s3, "ListObjectsV2") - lists_before >= 2,
        "the interval listing fitted one page, so paging went untested"
    );
    let rows = list.as_array().unwrap_or_else(|| panic!("{list}"));
    assert_eq!(rows.len(), crashed + 1);
    assert!(rows[..crashed].iter().all(|r| r["committed"] == false));
    assert_eq!(rows[crashed]["folder"], FOLDER);
    assert_eq!(rows[crashed]["totals"]["records"], 1);
    let v = s3.weir(&sb, &["verify", &raw, "--json"]).ok().json();
    assert_eq!(v["intervals"].as_array().map(Vec::len), Some(1), "{v}");

    // More objects in one interval folder than one page holds: a rerun's
    // cleanup must see (and delete) every leftover, not the first page's.
    let dir = s3.bucket_dir().join("paged").join(FOLDER);
    for k in 0..LIST_PAGE + 100 {
        std::fs::write(
            dir.join(format!("part-{k:05}-20000101T000000Z-deadbeef.ndjson.gz")),
            &leftover,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let j = s3
        .weir(
            &sb,
            &[
                "stage",
                &raw,
                "--interval",
                INTERVAL,
                "--orphan-grace",
                "0s",
                "--json",
                "in.ndjson",
            ],
        )
        .ok()
        .json();
    // The leftovers and the superseded part of the first commit.
    assert_eq!(
        j["deleted"].as_array().map(Vec::len),
        Some(LIST_PAGE + 101),
        "{}",
        j["deleted"]
    );
    assert_eq!(objects(&s3, &format!("paged/{FOLDER}")).len(), 2);
}

#[test]
fn quarantine_lives_on_s3_and_cat_reads_it() {
    let s3 = S3Server::start();
    let sb = Sandbox::new();
    let raw = s3.url("lake/raw");
    sb.write(
        "bad.ndjson",
        "{\"ok\":1}\nnot json\n[1,2]\n{\"ok\":2}\n{\"a\":1,\"a\":2}\n",
    );
    s3.weir(
        &sb,
        &[
            "stage",
            &raw,
            "--interval",
            INTERVAL,
            "--max-rejected",
            "100%",
            "bad.ndjson",
        ],
    )
    .ok();
    assert_eq!(
        s3.weir(&sb, &["cat", &raw, "--interval", INTERVAL])
            .ok()
            .stdout,
        "{\"ok\":1}\n{\"ok\":2}\n"
    );
    let out = s3
        .weir(&sb, &["cat", &raw, "--interval", INTERVAL, "--quarantine"])
        .ok()
        .stdout;
    let q: Vec<Value> = lines(&out)
        .into_iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let located: Vec<(String, u64)> = q
        .iter()
        .map(|e| {
            (
                e["object"].as_str().unwrap_or_default().to_owned(),
                e["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        located,
        [2, 3, 5].map(|l| ("bad.ndjson".to_owned(), l)).to_vec()
    );
    let listing = s3
        .weir(&sb, &["ls", &raw, "--interval", INTERVAL, "--json"])
        .ok()
        .json();
    assert_eq!(listing["quarantine"]["records"], 3);
    assert_parts_stored(&s3, "lake/raw", &listing);
    assert_eq!(
        objects(&s3, &format!("lake/raw/_quarantine/{FOLDER}")).len(),
        1
    );
    // The quarantine folder is not mistaken for an interval.
    let list = s3.weir(&sb, &["ls", &raw, "--json"]).ok().json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    s3.weir(&sb, &["verify", &raw]).ok();
}

#[test]
fn run_transforms_one_s3_stage_into_another_and_a_rerun_replaces_it() {
    let s3 = S3Server::start();
    let sb = Sandbox::new();
    let module = guest("normalize");
    let (raw, clean) = (s3.url("lake/raw"), s3.url("lake/clean"));
    let run = |sb: &Sandbox| {
        s3.weir(
            sb,
            &[
                "run",
                "--input",
                &raw,
                "--output",
                &clean,
                "--interval",
                INTERVAL,
                "--max-batch-bytes",
                "20KB",
                "--transform",
                module.to_str().unwrap_or_default(),
                "--config",
                r#"{"fields":["text"]}"#,
                "--json",
            ],
        )
        .ok()
        .json()
    };
    let input = records(1000, 20, 4);
    sb.write("in.ndjson", &input);
    s3.weir(&sb, &["stage", &raw, "--interval", INTERVAL, "in.ndjson"])
        .ok();
    let summary = run(&sb);
    assert_eq!(summary["input"], raw);
    assert_eq!(summary["output"], clean);
    assert_eq!(summary["totals"]["records"], 1000);
    let cat = |stage: &str| {
        s3.weir(&sb, &["cat", stage, "--interval", INTERVAL])
            .ok()
            .stdout
    };
    assert_eq!(cat(&clean), input.replace("\" A  B \"", "\"a b\""));
    let m: Value =
        serde_json::from_slice(&s3.object(&format!("lake/clean/{FOLDER}/_manifest.json")))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m["stage"], clean);
    assert_eq!(
        m["lineage"][0]["manifest_sha256"],
        sha256(&s3.object(&format!("lake/raw/{FOLDER}/_manifest.json")))
    );
    let first_parts = objects(&s3, &format!("lake/clean/{FOLDER}"));
    assert!(first_parts.len() > 2, "{first_parts:?}");

    // Restage the input with other records and rerun: the output interval
    // is replaced and the first run's parts are gone from the bucket.
    let second = records(10, 20, 5);
    sb.write("in.ndjson", &second);
    s3.weir(&sb, &["stage", &raw, "--interval", INTERVAL, "in.ndjson"])
        .ok();
    assert_eq!(objects(&s3, &format!("lake/raw/{FOLDER}")).len(), 2);
    run(&sb);
    assert_eq!(cat(&clean), second.replace("\" A  B \"", "\"a b\""));
    let now = objects(&s3, &format!("lake/clean/{FOLDER}"));
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(
        first_parts
            .iter()
            .all(|p| p.ends_with("_manifest.json") || !now.contains(p)),
        "superseded parts kept: {now:?}"
    );
    s3.weir(&sb, &["verify", &clean]).ok();
}

#[test]
fn credentials_never_show_in_output_logs_errors_or_manifests() {
    let s3 = S3Server::start();
    let sb = Sandbox::new();
    let module = guest("normalize");
    let (raw, clean) = (s3.url("lake/raw"), s3.url("lake/clean"));
    sb.write("in.ndjson", records(50, 10, 6));
    sb.write("bad.ndjson", "{\"ok\":1}\nnot json\n");
    let mut outputs = Vec::new();
    let mut check = |what: &str, env: &[(&str, String)], args: Vec<&str>, code: i32| {
        let r = sb.weir_env(&args, env).expect_code(code);
        outputs.push(format!("{what}\n{}\n{}", r.stdout, r.stderr));
    };
    // Temporary credentials too: the token travels in every request.
    let mut good = s3.env();
    good.push(("AWS_SESSION_TOKEN", SESSION_TOKEN.to_owned()));
    let with = |key: &'static str, value: &str| {
        let mut env: Vec<_> = good.iter().filter(|(k, _)| *k != key).cloned().collect();
        env.push((key, value.to_owned()));
        env
    };
    let i = ["--interval", INTERVAL];
    let m = module.to_str().unwrap_or_default();
    for v in ["-vv", "--json"] {
        check(
            "stage",
            &good,
            argv(&[&["stage", &raw, v], &i, &["in.ndjson"]]),
            0,
        );
        check("ls", &good, vec!["ls", &raw, v], 0);
        check("ls interval", &good, argv(&[&["ls", &raw, v], &i]), 0);
        check("cat", &good, argv(&[&["cat", &raw, v], &i]), 0);
        check("verify", &good, vec!["verify", &raw, v], 0);
        check(
            "run",
            &good,
            argv(&[
                &[
                    "run",
                    "--input",
                    &raw,
                    "--output",
                    &clean,
                    v,
                    "--transform",
                    m,
                ],
                &["--config", r#"{"fields":["text"]}"#],
                &i,
            ]),
            0,
        );
    }
    check(
        "quarantine",
        &good,
        argv(&[
            &["stage", &raw, "-vv", "--max-rejected", "100%"],
            &i,
            &["bad.ndjson"],
        ]),
        0,
    );
    check(
        "cat quarantine",
        &good,
        argv(&[&["cat", &raw, "-vv", "--quarantine"], &i]),
        0,
    );
    check(
        "over budget",
        &good,
        argv(&[&["stage", &raw, "-vv", "--json"], &i, &["bad.ndjson"]]),
        3,
    );
    // Failures: nothing listening, a missing bucket, a wrong secret. (Only
    // reads of a missing bucket fail: s3s-fs, unlike S3, creates a bucket
    // folder on the first PUT into it.)
    let dead = with("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let quick = ["--retries", "0", "--retry-timeout", "1s"];
    for v in ["-vv", "--json"] {
        check(
            "dead endpoint ls",
            &dead,
            argv(&[&["ls", &raw, v], &quick]),
            1,
        );
        check(
            "dead endpoint stage",
            &dead,
            argv(&[&["stage", &raw, v], &i, &quick, &["in.ndjson"]]),
            1,
        );
        check(
            "missing bucket ls",
            &good,
            argv(&[&["ls", "s3://no-such-bucket/x", v], &quick]),
            1,
        );
        check(
            "missing bucket verify",
            &good,
            argv(&[&["verify", "s3://no-such-bucket/x", v], &quick]),
            1,
        );
        let wrong = format!("{S3_SECRET_KEY}WRONG");
        check(
            "wrong secret",
            &with("AWS_SECRET_ACCESS_KEY", &wrong),
            argv(&[&["cat", &raw, v], &i, &quick]),
            1,
        );
    }
    // The most verbose logging there is, of a success and of a failure.
    let trace = with("RUST_LOG", "trace");
    check(
        "trace stage",
        &trace,
        argv(&[&["stage", &raw], &i, &["in.ndjson"]]),
        0,
    );
    check(
        "trace missing bucket",
        &trace,
        argv(&[&["ls", "s3://no-such-bucket/x"], &quick]),
        1,
    );
    for out in &outputs {
        assert!(
            !out.contains(S3_SECRET_KEY) && !out.contains(SESSION_TOKEN),
            "a credential shows in the output of {out}"
        );
    }
    // The failures did fail for the reason given (a test that cannot fail
    // is a bug): errors name what went wrong.
    let joined = outputs.join("\n");
    assert!(
        joined.contains("listing the interval folders on stage s3://no-such-bucket/x failed"),
        "{joined}"
    );
    assert!(joined.contains("127.0.0.1:9"), "{joined}");
    assert!(joined.contains("SignatureDoesNotMatch"), "{joined}");
    assert!(joined.contains("TRACE"), "no trace logs: {joined}");
    // Nothing the server stores holds it either: manifests, parts, quarantine.
    for o in objects(&s3, "") {
        let text = String::from_utf8_lossy(&s3.object(&o)).into_owned();
        assert!(
            !text.contains(S3_SECRET_KEY) && !text.contains(SESSION_TOKEN),
            "{o} holds a credential"
        );
    }
}
