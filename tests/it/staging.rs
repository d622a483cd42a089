//! Staging end to end: `weir stage`, `ls`, `cat`, `verify` on a local stage,
//! read back by the real binary, by pandas and by DuckDB.

use serde_json::Value;
use weir_tests::{Sandbox, gunzip, gzip, lines, sha256};

const INTERVAL: &str = "2026-11-26T00:00:00+00:00";
const FOLDER: &str = "interval=20261126T000000Z";

/// Records whose bytes a re-serialising stager would change.
fn tricky_records(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"z\":{i},\"a\":\"caf\\u00e9 {i} ünïcode\",\"big\":1234567890123456789012345678{i},\"f\":1.50,\"e\":1E3,\"nested\":{{\"k\":[1,2,{{\"x\":null}}]}}}}\n"
            )
        })
        .collect()
}

fn manifest(sb: &Sandbox, stage: &str) -> Value {
    let bytes = std::fs::read(sb.join(&format!("{stage}/{FOLDER}/_manifest.json")))
        .unwrap_or_else(|e| panic!("manifest: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("manifest JSON: {e}"))
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

#[test]
fn cat_returns_the_staged_lines_byte_for_byte() {
    let sb = Sandbox::new();
    let input = tricky_records(3000);
    sb.write("in.ndjson", &input);
    sb.weir(&["stage", "lake/raw", "--interval", INTERVAL, "in.ndjson"])
        .ok();
    let out = sb
        .weir(&["cat", "lake/raw", "--interval", "20261126T000000"])
        .ok();
    assert_eq!(out.stdout, input);
}

#[test]
fn stdin_gzip_and_multi_member_inputs_are_accepted() {
    let sb = Sandbox::new();
    let a = tricky_records(10);
    let b = "{\"b\":1}\n{\"b\":2}\n";
    let mut multi = gzip(a.as_bytes());
    multi.extend_from_slice(&gzip(b.as_bytes()));
    sb.write("multi.ndjson.gz", &multi);
    sb.weir(&["stage", "s", "--interval", INTERVAL, "multi.ndjson.gz"])
        .ok();
    assert_eq!(
        sb.weir(&["cat", "s", "--interval", INTERVAL]).ok().stdout,
        format!("{a}{b}")
    );

    sb.weir_with_stdin(&["stage", "t", "--interval", INTERVAL], Some(b.as_bytes()))
        .ok();
    assert_eq!(
        sb.weir(&["cat", "t", "--interval", INTERVAL]).ok().stdout,
        b
    );
}

#[test]
fn parts_roll_before_the_cap_and_match_the_manifest() {
    let sb = Sandbox::new();
    let input = tricky_records(2000);
    sb.write("in.ndjson", &input);
    let cap = 20_000u64;
    sb.weir(&[
        "stage",
        "s",
        "--interval",
        INTERVAL,
        "--max-batch-bytes",
        "20000",
        "in.ndjson",
    ])
    .ok();
    let m = manifest(&sb, "s");
    let parts = m["parts"].as_array().unwrap_or_else(|| panic!("parts"));
    assert!(parts.len() > 5, "expected many parts, got {}", parts.len());
    let mut all = Vec::new();
    for p in parts {
        let path = sb.join(&format!("s/{}", p["path"].as_str().unwrap_or_default()));
        let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let plain = gunzip(&path);
        assert!(
            plain.len() as u64 <= cap,
            "part {} holds {} bytes",
            path.display(),
            plain.len()
        );
        assert_eq!(p["uncompressed_bytes"], plain.len() as u64);
        assert_eq!(p["compressed_bytes"], stored.len() as u64);
        assert_eq!(p["sha256"], sha256(&stored));
        assert_eq!(
            p["records"],
            plain.iter().filter(|&&b| b == b'\n').count() as u64
        );
        // The next record would not have fitted: rolling is not premature.
        all.extend_from_slice(&plain);
    }
    assert_eq!(String::from_utf8(all).unwrap_or_default(), input);
    assert_eq!(m["totals"]["records"], 2000);
    assert_eq!(m["totals"]["parts"], parts.len() as u64);
}

/// Without `--max-batch-bytes` a part holds at most 128 MiB, so an interval
/// of a few hundred MB is several parts: several units for a sharded step.
#[test]
fn by_default_a_part_holds_128_mib_so_a_large_interval_is_several_parts() {
    let sb = Sandbox::new();
    let line = format!("{{\"id\":0,\"text\":\"{}\"}}\n", "lorem ipsum ".repeat(80));
    let records = 150 * 1024 * 1024 / line.len() + 1;
    sb.write("big.ndjson", line.repeat(records));
    sb.weir(&[
        "stage",
        "s",
        "--interval",
        INTERVAL,
        "--compression-level",
        "1",
        "big.ndjson",
    ])
    .ok();
    let m = manifest(&sb, "s");
    let parts = m["parts"].as_array().unwrap_or_else(|| panic!("parts"));
    let sizes: Vec<u64> = parts
        .iter()
        .map(|p| p["uncompressed_bytes"].as_u64().unwrap_or_default())
        .collect();
    assert_eq!(sizes.len(), 2, "{sizes:?}");
    let cap = 128 * 1024 * 1024;
    assert!(
        sizes[0] <= cap && sizes[0] > cap - 2 * 1024 * 1024,
        "the first part fills the default cap: {sizes:?}"
    );
    assert_eq!(sizes.iter().sum::<u64>(), (records * line.len()) as u64);
}

#[test]
fn a_record_larger_than_the_cap_is_rejected_with_its_location() {
    let sb = Sandbox::new();
    let big = format!("{{\"x\":\"{}\"}}", "y".repeat(300));
    sb.write("in.ndjson", format!("{{\"a\":1}}\n{big}\n{{\"a\":2}}\n"));
    let r = sb.weir(&[
        "stage",
        "s",
        "--interval",
        INTERVAL,
        "--max-batch-bytes",
        "100",
        "in.ndjson",
    ]);
    r.expect_code(3);
    sb.weir(&[
        "stage",
        "s",
        "--interval",
        INTERVAL,
        "--max-batch-bytes",
        "100",
        "--max-rejected",
        "1",
        "in.ndjson",
    ])
    .ok();
    let q = quarantine(&sb, "s");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["line"], 2);
    assert_eq!(q[0]["object"], "in.ndjson");
    assert!(
        q[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("exceeds the batch cap of 100 bytes")
    );
    assert_eq!(q[0]["record"], big);
}

#[test]
fn bad_lines_are_quarantined_with_location_and_counts_reconcile() {
    let sb = Sandbox::new();
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let long = format!("{{\"x\":\"{}\"}}", "z".repeat(400_000));
    let mut input: Vec<u8> = Vec::new();
    let rows: Vec<(&[u8], Option<&str>)> = vec![
        (b"\xEF\xBB\xBF{\"ok\":1}\r", None), // 1: BOM + CRLF, fine
        (b"{\"ok\":2}", None),               // 2
        (b"", None),                         // 3: blank
        (b"not json", Some("invalid JSON")), // 4
        (b"[1,2]", Some("array where an object belongs")), // 5
        (b"42", Some("number where an object belongs")), // 6
        (b"{\"s\":\"\xff\xfe\"}", Some("invalid UTF-8")), // 7
        (b"{\"a\":1,\"a\":2}", Some("duplicate key")), // 8
        (b"{\"n\":NaN}", Some("invalid JSON")), // 9
        (b"{\"n\":Infinity}", Some("invalid JSON")), // 10
        (deep.as_bytes(), Some("recursion limit")), // 11
        (
            long.as_bytes(),
            Some("longer than the limit of 300000 bytes"),
        ), // 12
        (b"   ", None),                      // 13: blank
        (b"{\"ok\":3}", None),               // 14
    ];
    for (line, _) in &rows {
        input.extend_from_slice(line);
        input.push(b'\n');
    }
    sb.write("bad.ndjson", &input);
    let r = sb.weir(&[
        "stage",
        "s",
        "--interval",
        INTERVAL,
        "--max-line-bytes",
        "300000",
        "bad.ndjson",
    ]);
    let r = r.expect_code(3);
    assert!(
        r.stderr.contains("9 of 12 records were rejected"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("bad.ndjson:4: invalid JSON"),
        "{}",
        r.stderr
    );
    assert!(
        !sb.join(&format!("s/{FOLDER}/_manifest.json")).exists(),
        "nothing committed"
    );

    sb.weir(&[
        "stage",
        "s",
        "--interval",
        INTERVAL,
        "--max-line-bytes",
        "300000",
        "--max-rejected",
        "75%",
        "bad.ndjson",
    ])
    .ok();
    assert_eq!(
        sb.weir(&["cat", "s", "--interval", INTERVAL]).ok().stdout,
        "{\"ok\":1}\n{\"ok\":2}\n{\"ok\":3}\n"
    );
    let q = quarantine(&sb, "s");
    let expected: Vec<(usize, &str)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, (_, why))| why.map(|w| (i + 1, w)))
        .collect();
    assert_eq!(q.len(), expected.len());
    for (entry, (line, why)) in q.iter().zip(&expected) {
        assert_eq!(entry["object"], "bad.ndjson");
        assert_eq!(entry["line"], *line as u64, "{entry}");
        let reason = entry["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains(why),
            "line {line}: {reason:?} lacks {why:?}"
        );
    }
    // Invalid UTF-8 is kept losslessly, escaped.
    assert_eq!(q[3]["record_escaped"], "{\"s\":\"\\xff\\xfe\"}");
    // The long line keeps a prefix and its length, not its bytes.
    assert_eq!(q[8]["record_bytes"], long.len() as u64);

    let m = manifest(&sb, "s");
    let t = &m["totals"];
    assert_eq!(t["records"], 3);
    assert_eq!(t["quarantined"], 9);
    assert_eq!(t["blank_lines"], 2);
    assert_eq!(t["input_records"], 12);
    let total_lines = rows.len() as u64;
    assert_eq!(
        t["records"].as_u64().unwrap_or(0)
            + t["quarantined"].as_u64().unwrap_or(0)
            + t["blank_lines"].as_u64().unwrap_or(0),
        total_lines
    );
    assert_eq!(m["quarantine"]["records"], 9);
}

#[test]
fn broken_gzip_inputs_fail_naming_the_file_and_commit_nothing() {
    let sb = Sandbox::new();
    let good = gzip(tricky_records(2000).as_bytes());
    sb.write("truncated.ndjson.gz", &good[..good.len() / 2]);
    sb.write("notgzip.ndjson.gz", b"{\"a\":1}\n");
    sb.write("empty.ndjson.gz", b"");
    let mut corrupt = good.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid..mid + 64].fill(0xAA);
    sb.write("corrupt.ndjson.gz", &corrupt);
    for (file, what) in [
        ("truncated.ndjson.gz", "truncated gzip"),
        ("notgzip.ndjson.gz", "does not start with the gzip magic"),
        ("empty.ndjson.gz", "empty file named .gz"),
        ("corrupt.ndjson.gz", "gzip"),
    ] {
        let r = sb
            .weir(&["stage", "s", "--interval", INTERVAL, file])
            .expect_code(1);
        assert!(
            r.stderr.contains(file) && r.stderr.contains(what),
            "{file}: {}",
            r.stderr
        );
    }
    assert!(sb.files("s").is_empty(), "left behind: {:?}", sb.files("s"));
    // An empty plain file is refused unless an empty commit is asked for;
    // then it is an interval with no records.
    sb.write("empty.ndjson", b"");
    let r = sb
        .weir(&["stage", "s", "--interval", INTERVAL, "empty.ndjson"])
        .expect_code(1);
    assert!(
        r.stderr.contains("no records to stage") && r.stderr.contains("--allow-empty"),
        "{}",
        r.stderr
    );
    assert!(sb.files("s").is_empty(), "left behind: {:?}", sb.files("s"));
    sb.weir(&[
        "stage",
        "s",
        "--interval",
        INTERVAL,
        "--allow-empty",
        "empty.ndjson",
    ])
    .ok();
    assert_eq!(manifest(&sb, "s")["totals"]["records"], 0);
}

/// The mistakes of a first day: a CSV file staged as NDJSON, a mistyped
/// stage path, a run writing over its own input.
#[test]
fn day_one_mistakes_are_named_and_change_nothing() {
    let sb = Sandbox::new();
    sb.write("tickets.csv", "id,text\n1,hello\n");
    let r = sb
        .weir(&["stage", "s", "--interval", INTERVAL, "tickets.csv"])
        .expect_code(1);
    assert!(
        r.stderr
            .contains("tickets.csv:1: this looks like CSV (`id,text`), not NDJSON"),
        "{}",
        r.stderr
    );
    assert!(sb.files("s").is_empty(), "left behind: {:?}", sb.files("s"));
    // R's write.csv and Excel quote the header.
    sb.write("quoted.csv", "\"id\",\"text\"\n1,\"hello\"\n");
    let r = sb
        .weir(&["stage", "s", "--interval", INTERVAL, "quoted.csv"])
        .expect_code(1);
    assert!(
        r.stderr.contains("quoted.csv:1: this looks like CSV"),
        "{}",
        r.stderr
    );
    assert!(sb.files("s").is_empty(), "left behind: {:?}", sb.files("s"));

    for args in [
        vec!["ls", "nope"],
        vec!["cat", "nope", "--interval", INTERVAL],
    ] {
        let r = sb.weir(&args).expect_code(1);
        assert!(
            r.stderr.contains("stage") && r.stderr.contains("does not exist"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(!sb.join("nope").exists(), "{args:?} created the folder");
    }

    sb.write("in.ndjson", "{\"text\":\" A \"}\n");
    sb.weir(&["stage", "s", "--interval", INTERVAL, "in.ndjson"])
        .ok();
    let before = manifest(&sb, "s");
    let module = weir_tests::guest("normalize");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--input",
            "s",
            "--output",
            "./s/",
            "--interval",
            INTERVAL,
            "--transform",
            module.to_str().unwrap_or_default(),
            "--config",
            r#"{"fields":["text"]}"#,
        ];
        args.extend_from_slice(extra);
        sb.weir(&args)
    };
    let r = run(&[]).expect_code(1);
    assert!(
        r.stderr.contains("is also its input") && r.stderr.contains("--force"),
        "{}",
        r.stderr
    );
    assert_eq!(manifest(&sb, "s"), before, "the input changed");
    run(&["--force"]).ok();
    let r = sb.weir(&["cat", "s", "--interval", INTERVAL]).ok();
    assert_eq!(r.stdout, "{\"text\":\"a\"}\n");
}

#[test]
fn a_rerun_replaces_the_interval_and_cleans_leftovers() {
    let sb = Sandbox::new();
    sb.write("one.ndjson", "{\"v\":1}\n");
    sb.write("two.ndjson", "{\"v\":2}\n");
    sb.weir(&["stage", "s", "--interval", INTERVAL, "one.ndjson"])
        .ok();
    let first: Vec<String> = sb.files(&format!("s/{FOLDER}"));
    // A crashed attempt's part: present, but not in any manifest.
    let leftover = format!("s/{FOLDER}/part-00000-20000101T000000Z-deadbeef.ndjson.gz");
    sb.write(&leftover, gzip(b"{\"v\":\"leftover\"}\n"));
    // And an upload it did not finish: object_store's temporary file, which
    // its listing hides.
    let stranded = format!("s/{FOLDER}/part-00001-20000101T000000Z-deadbeef.ndjson.gz#1");
    sb.write(&stranded, b"half a part");
    assert_eq!(
        sb.weir(&["cat", "s", "--interval", INTERVAL]).ok().stdout,
        "{\"v\":1}\n"
    );

    // Within the grace period leftovers stay (they may be a live run's).
    sb.weir(&["stage", "s", "--interval", INTERVAL, "two.ndjson"])
        .ok();
    assert_eq!(
        sb.weir(&["cat", "s", "--interval", INTERVAL]).ok().stdout,
        "{\"v\":2}\n"
    );
    assert!(sb.join(&leftover).exists());
    assert!(sb.join(&stranded).exists());
    for f in &first {
        if f != "_manifest.json" {
            assert!(
                !sb.join(&format!("s/{FOLDER}/{f}")).exists(),
                "superseded part {f} kept"
            );
        }
    }
    let j = sb
        .weir(&[
            "stage",
            "s",
            "--interval",
            INTERVAL,
            "--orphan-grace",
            "0s",
            "--json",
            "one.ndjson",
        ])
        .ok()
        .json();
    assert!(!sb.join(&leftover).exists(), "leftover not cleaned");
    assert!(!sb.join(&stranded).exists(), "stranded upload not cleaned");
    assert!(j["deleted"].as_array().is_some_and(|d| d.len() == 3), "{j}");
    let files = sb.files(&format!("s/{FOLDER}"));
    assert_eq!(files.len(), 2, "{files:?}");
    sb.weir(&["verify", "s"]).ok();
}

#[test]
fn verify_and_cat_catch_tampered_and_missing_parts() {
    let sb = Sandbox::new();
    sb.write("in.ndjson", tricky_records(500));
    sb.weir(&[
        "stage",
        "s",
        "--interval",
        INTERVAL,
        "--max-batch-bytes",
        "20000",
        "in.ndjson",
    ])
    .ok();
    sb.weir(&["verify", "s", "--interval", INTERVAL]).ok();
    let m = manifest(&sb, "s");
    let p0 = m["parts"][0]["path"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let p1 = m["parts"][1]["path"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Same length, different bytes: re-gzip at another level.
    let plain = gunzip(&sb.join(&format!("s/{p0}")));
    let mut other = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    std::io::Write::write_all(&mut other, &plain).unwrap_or_else(|e| panic!("{e}"));
    sb.write(
        &format!("s/{p0}"),
        other.finish().unwrap_or_else(|e| panic!("{e}")),
    );
    std::fs::remove_file(sb.join(&format!("s/{p1}"))).unwrap_or_else(|e| panic!("{e}"));

    let r = sb
        .weir(&["verify", "s", "--interval", INTERVAL])
        .expect_code(4);
    assert!(r.stdout.contains(&p0), "{}", r.stdout);
    assert!(r.stdout.contains(&p1), "{}", r.stdout);
    let r = sb
        .weir(&["cat", "s", "--interval", INTERVAL])
        .expect_code(1);
    assert!(r.stderr.contains(&p0), "{}", r.stderr);
}

#[test]
fn hand_edited_manifests_are_refused_clearly() {
    let sb = Sandbox::new();
    sb.write("in.ndjson", "{\"v\":1}\n");
    sb.weir(&["stage", "s", "--interval", INTERVAL, "in.ndjson"])
        .ok();
    let path = sb.join(&format!("s/{FOLDER}/_manifest.json"));
    let original = std::fs::read_to_string(&path).unwrap_or_default();

    let mut m: Value = serde_json::from_str(&original).unwrap_or_default();
    m["format_version"] = 99.into();
    std::fs::write(&path, m.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let r = sb
        .weir(&["cat", "s", "--interval", INTERVAL])
        .expect_code(1);
    assert!(
        r.stderr.contains("unsupported format_version 99"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("_manifest.json"), "{}", r.stderr);

    let mut m: Value = serde_json::from_str(&original).unwrap_or_default();
    m["parts"][0]["sha256"] = "0".repeat(64).into();
    std::fs::write(&path, m.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let r = sb
        .weir(&["verify", "s", "--interval", INTERVAL])
        .expect_code(4);
    assert!(r.stdout.contains("sha256"), "{}", r.stdout);

    let mut m: Value = serde_json::from_str(&original).unwrap_or_default();
    m["totals"]["records"] = 7.into();
    std::fs::write(&path, m.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let r = sb.weir(&["ls", "s", "--interval", INTERVAL]).expect_code(1);
    assert!(r.stderr.contains("totals say 7 records"), "{}", r.stderr);
}

#[test]
fn ls_lists_intervals_in_time_order_with_counts() {
    let sb = Sandbox::new();
    sb.write("in.ndjson", "{\"v\":1}\n{\"v\":2}\n");
    for when in ["2026-11-26T10:00:00Z", "20261126T090000", "2026-11-25"] {
        sb.weir(&["stage", "s", "--interval", when, "in.ndjson"])
            .ok();
    }
    let j = sb.weir(&["ls", "s", "--json"]).ok().json();
    let got: Vec<&str> = j
        .as_array()
        .unwrap_or_else(|| panic!("{j}"))
        .iter()
        .map(|i| i["folder"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        got,
        [
            "interval=20261125T000000Z",
            "interval=20261126T090000Z",
            "interval=20261126T100000Z"
        ]
    );
    assert!(
        j.as_array()
            .is_some_and(|a| a.iter().all(|i| i["totals"]["records"] == 2))
    );
    let text = sb.weir(&["ls", "s"]).ok().stdout;
    assert!(text.contains("2026-11-26T09:00:00Z"), "{text}");
}

#[test]
fn interval_end_is_recorded_and_bad_intervals_are_refused() {
    let sb = Sandbox::new();
    sb.write("in.ndjson", "{\"v\":1}\n");
    sb.weir(&[
        "stage",
        "s",
        "--interval",
        "2026-11-26T00:00:00+00:00",
        "--interval-end",
        "2026-11-27T00:00:00+00:00",
        "in.ndjson",
    ])
    .ok();
    let m = manifest(&sb, "s");
    assert_eq!(m["interval"]["start"], "2026-11-26T00:00:00Z");
    assert_eq!(m["interval"]["end"], "2026-11-27T00:00:00Z");
    let r = sb
        .weir(&["stage", "s", "--interval", "yesterday", "in.ndjson"])
        .expect_code(2);
    assert!(r.stderr.contains("invalid interval"), "{}", r.stderr);
    let r = sb
        .weir(&["stage", "../escape", "--interval", INTERVAL, "in.ndjson"])
        .expect_code(1);
    assert!(r.stderr.contains("`..` is not allowed"), "{}", r.stderr);
}

/// pandas and DuckDB read every committed part and get the staged records;
/// DuckDB's hive partitioning reads the interval folder as a column.
#[test]
fn pandas_and_duckdb_read_the_committed_parts() {
    let sb = Sandbox::new();
    let input: String = (0..3000)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"text\":\"record {i} with ünïcode\",\"score\":{}.25}}\n",
                i % 97
            )
        })
        .collect();
    sb.write("in.ndjson", &input);
    sb.weir(&[
        "stage",
        "lake",
        "--interval",
        INTERVAL,
        "--max-batch-bytes",
        "40000",
        "in.ndjson",
    ])
    .ok();
    let m = manifest(&sb, "lake");
    let parts: Vec<String> = m["parts"]
        .as_array()
        .unwrap_or_else(|| panic!("parts"))
        .iter()
        .map(|p| format!("lake/{}", p["path"].as_str().unwrap_or_default()))
        .collect();
    assert!(parts.len() > 2);
    let script = r#"
import json, sys
import pandas as pd, duckdb
expected = [json.loads(l) for l in open("in.ndjson")]
parts = sys.argv[1:]
df = pd.concat([pd.read_json(p, lines=True, compression="gzip") for p in parts], ignore_index=True)
assert df.to_dict("records") == expected, "pandas differs"
con = duckdb.connect()
files = "[" + ",".join(f"'{p}'" for p in parts) + "]"
rows = con.execute(f"select id, text, score, interval from read_json_auto({files}, hive_partitioning=true) order by id").fetchall()
assert [dict(id=r[0], text=r[1], score=r[2]) for r in rows] == expected, "duckdb differs"
assert {r[3] for r in rows} == {"20261126T000000Z"}, {r[3] for r in rows}
print(len(df), len(rows))
"#;
    let parts_ref: Vec<&str> = parts.iter().map(String::as_str).collect();
    let r = sb.python(script, &parts_ref).ok();
    assert_eq!(r.stdout.trim(), "3000 3000");
}

#[test]
fn a_stage_url_with_credentials_is_refused_without_printing_them() {
    let sb = Sandbox::new();
    sb.write("in.ndjson", "{\"a\":1}\n");
    for stage in [
        "s3://AKIAEXAMPLEKEY:wJalrXUtnFEMI-secret@lake/raw",
        "s3://AKIAEXAMPLEKEY:wJalrXUtnFEMI-secret@lake/../raw",
    ] {
        let r = sb
            .weir(&["stage", stage, "--interval", "2026-11-26", "in.ndjson"])
            .expect_code(1);
        let shown = format!("{}{}", r.stdout, r.stderr);
        assert!(!shown.contains("wJalrXUtnFEMI-secret"), "{shown}");
        assert!(!shown.contains("AKIAEXAMPLEKEY"), "{shown}");
        assert!(shown.contains("s3://REDACTED@lake"), "{shown}");
    }
}

#[test]
fn a_stage_url_with_a_query_string_is_refused_and_nothing_is_written() {
    let sb = Sandbox::new();
    sb.write("in.ndjson", "{\"a\":1}\n");
    let stage = format!("file://{}?region=x", sb.join("raw").display());
    let r = sb
        .weir(&["stage", &stage, "--interval", "2026-11-26", "in.ndjson"])
        .expect_code(1);
    assert!(r.stderr.contains("no query string"), "{}", r.stderr);
    assert!(!sb.join("raw").exists(), "something was written");
}

#[test]
fn zstd_and_gzip_intervals_share_a_stage_and_a_corrupt_zst_part_is_named() {
    let sb = Sandbox::new();
    let input: String = (0..4000)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"text\":\"record {i} with ünïcode\",\"score\":{}.25}}\n",
                i % 97
            )
        })
        .collect();
    sb.write("in.ndjson", &input);
    let stage = |interval: &str, codec: &str| {
        sb.weir(&[
            "stage",
            "lake",
            "--interval",
            interval,
            "--codec",
            codec,
            "--max-batch-bytes",
            "40000",
            "in.ndjson",
        ])
        .ok();
    };
    stage("2026-11-26", "gzip");
    stage("2026-11-27", "zstd");
    for interval in ["2026-11-26", "2026-11-27"] {
        let r = sb.weir(&["cat", "lake", "--interval", interval]).ok();
        assert_eq!(r.stdout, input, "{interval}");
        sb.weir(&["verify", "lake", "--interval", interval]).ok();
    }
    let ls = sb.weir(&["ls", "lake"]).ok();
    assert!(ls.stdout.contains("2026-11-27"), "{}", ls.stdout);
    let m: Value = sb
        .weir(&["ls", "lake", "--interval", "2026-11-27", "--json"])
        .ok()
        .json();
    let zst: Vec<String> = m["parts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            assert_eq!(p["codec"], "zstd", "{p}");
            format!("lake/{}", p["path"].as_str().unwrap_or_default())
        })
        .collect();
    assert!(
        zst.len() > 2 && zst.iter().all(|p| p.ends_with(".ndjson.zst")),
        "{zst:?}"
    );

    // pandas (through zstandard), DuckDB, and the notebook helper read them.
    let script = r#"
import json, sys
import pandas as pd, duckdb
sys.path.insert(0, sys.argv[1])
from weir import stage
expected = [json.loads(l) for l in open("in.ndjson")]
parts = sys.argv[2:]
df = pd.concat([pd.read_json(p, lines=True, compression="zstd") for p in parts], ignore_index=True)
assert df.to_dict("records") == expected, "pandas differs"
con = duckdb.connect()
files = "[" + ",".join(f"'{p}'" for p in parts) + "]"
rows = con.execute(f"select id, text, score from read_json_auto({files}) order by id").fetchall()
assert [dict(id=r[0], text=r[1], score=r[2]) for r in rows] == expected, "duckdb differs"
m = json.load(open("m.json"))
got = [r for p in m["parts"] for r in stage.records_of_part(m["stage"], p)]
assert got == expected, "weir.stage differs"
print(len(df), len(rows), len(got))
"#;
    sb.write("m.json", m.to_string());
    let python_src = weir_tests::workspace().join("python/src");
    let mut args = vec![python_src.to_str().unwrap_or_default()];
    args.extend(zst.iter().map(String::as_str));
    let r = sb.python(script, &args).ok();
    assert_eq!(r.stdout.trim(), "4000 4000 4000");

    // A zstd part with bytes changed mid-stream: verify and cat name it.
    let p0 = m["parts"][0]["path"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let path = sb.join(&format!("lake/{p0}"));
    let mut bytes = std::fs::read(&path).unwrap_or_default();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 64].fill(0xAA);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    let r = sb
        .weir(&["verify", "lake", "--interval", "2026-11-27"])
        .expect_code(4);
    assert!(r.stdout.contains(&p0), "{}", r.stdout);
    let r = sb
        .weir(&["cat", "lake", "--interval", "2026-11-27"])
        .expect_code(1);
    assert!(r.stderr.contains(&p0), "{}", r.stderr);
    // The gzip interval beside it is untouched.
    sb.weir(&["verify", "lake", "--interval", "2026-11-26"])
        .ok();
}
