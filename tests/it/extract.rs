//! `weir extract` end to end: the release binary reads a real hot standby
//! (`weir_tests::pg`) in both forms, and what it commits is a stage like
//! any other: `weir ls`, `cat`, `verify` and `run` read it, and so do pandas
//! and DuckDB. The password never shows; the documented exit codes hold;
//! consecutive intervals add up to one run over both, and a rerun
//! replaces. The SIGKILL test is in `faults`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;
use weir_tests::pg::{Cluster, PASSWORD};
use weir_tests::{Run, Sandbox, guest, gunzip, lines};

/// Rows of a generated ticket table.
const ROWS: u32 = 3000;
/// The first key: int8 keys near the top of the range, exact or not at all.
const KEY_BASE: u64 = 9_000_000_000_000_000_000;

fn table_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("tickets_{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Minutes after 2026-11-25T00:00:00Z at which ticket `i` was updated:
/// from 12:00 on the 25th, every two minutes, into the 29th.
fn minute_of(i: u32) -> u32 {
    12 * 60 + 2 * i
}

/// RFC 3339 (as the extract writes a `timestamptz`) of `minute` after
/// 2026-11-25T00:00:00Z; November has 30 days and no row passes the 29th.
fn timestamp(minute: u32) -> String {
    format!(
        "2026-11-{:02}T{:02}:{:02}:00Z",
        25 + minute / 1440,
        minute / 60 % 24,
        minute % 60
    )
}

/// Ticket `i`'s key (a permutation of 0..ROWS, so key order is not cursor order).
fn key_of(i: u32) -> u64 {
    KEY_BASE + u64::from(i * 7919 % ROWS)
}

/// Ticket `i`'s amount as a `numeric` literal: a scale of 2 kept (`7.07`,
/// `3.00`), and every 500th a 32-digit value no double holds, except on
/// day 26 (`i` in 360..1080), whose parts pandas reads: its JSON parser
/// refuses a number whose integer part passes 64 bits ("Value is too
/// big!"), decimals or not, which is why `weir.read_stage` exists.
fn amount_of(i: u32) -> String {
    if i.is_multiple_of(500) && !(360..1080).contains(&i) {
        format!("123456789012345678901234567890.{:02}", i % 100)
    } else {
        format!("{}.{:02}", i % 977, i % 100)
    }
}

fn body_of(i: u32) -> String {
    format!("  Ticket {i}:  Refund   PLEASE ü ")
}

/// Creates a ticket table on the primary (id int8 key, body, amount
/// numeric, updated_at timestamptz) and waits for the standby.
fn ticket_table() -> String {
    let t = table_name();
    let values: Vec<String> = (0..ROWS)
        .map(|i| {
            format!(
                "({}, '{}', {}, '{}')",
                key_of(i),
                body_of(i),
                amount_of(i),
                timestamp(minute_of(i))
            )
        })
        .collect();
    Cluster::shared().primary_exec(&format!(
        "CREATE TABLE {t} (id int8 PRIMARY KEY, body text, amount numeric, updated_at timestamptz);
         INSERT INTO {t} VALUES {};",
        values.join(",\n")
    ));
    t
}

/// The NDJSON line the extract writes for a ticket.
fn line(id: u64, body: &str, amount: &str, minute: u32) -> String {
    format!(
        "{{\"id\":{id},\"body\":{},\"amount\":{amount},\"updated_at\":\"{}\"}}\n",
        serde_json::to_string(body).unwrap_or_default(),
        timestamp(minute)
    )
}

/// What `weir cat` prints for the tickets updated in days `[from, to)` of
/// November (day 26 is minutes 1440..2880), in key order.
fn expected(from: u32, to: u32) -> String {
    let mut rows: Vec<(u64, String)> = (0..ROWS)
        .filter(|&i| (from - 25) * 1440 <= minute_of(i) && minute_of(i) < (to - 25) * 1440)
        .map(|i| {
            let l = line(key_of(i), &body_of(i), &amount_of(i), minute_of(i));
            (key_of(i), l)
        })
        .collect();
    rows.sort();
    rows.into_iter().map(|(_, l)| l).collect()
}

fn day(d: u32) -> String {
    format!("2026-11-{d:02}")
}

fn folder(d: u32) -> String {
    format!("interval=202611{d:02}T000000Z")
}

/// The environment `weir` gets: the password by `PGPASSWORD` only.
fn env() -> Vec<(&'static str, String)> {
    vec![("PGPASSWORD", PASSWORD.to_owned())]
}

/// A pipeline file with an extract step `raw` of `table` (cursor
/// `updated_at`, key `id`, 100 rows a page) and a transform step `clean`
/// normalising its bodies; the source's URL holds no password.
fn pipeline(sb: &Sandbox, table: &str) {
    let module = guest("normalize");
    sb.write(
        "pipeline.toml",
        format!(
            r#"[stages]
raw = "lake/raw"
clean = "lake/clean"

[sources.replica]
url = "{url}"

[steps.raw]
source = "replica"
output = "raw"
table = "{table}"
cursor = "updated_at"
key = "id"
page_rows = 100
max_batch_bytes = "40KB"

[steps.clean]
input = "raw"
output = "clean"

[[steps.clean.transforms]]
module = "{module}"
config = {{ fields = ["body"] }}
"#,
            url = Cluster::shared().standby_url_without_password(),
            module = module.display(),
        ),
    );
}

fn manifest(sb: &Sandbox, stage: &str, d: u32) -> Value {
    let path = sb.join(&format!("{stage}/{}/_manifest.json", folder(d)));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("manifest JSON: {e}"))
}

fn cat(sb: &Sandbox, stage: &str, d: u32) -> String {
    sb.weir(&["cat", stage, "--interval", &day(d)]).ok().stdout
}

/// The `id` of an NDJSON line, as its JSON text.
fn id_text(line: &str) -> &str {
    line.strip_prefix("{\"id\":")
        .and_then(|l| l.split(',').next())
        .unwrap_or_else(|| panic!("no id first in {line}"))
}

/// The manifest's `producer.extract.parts` agrees with the parts: one
/// entry per part, in order, whose first and last key and row count are
/// those of the part's own lines.
fn assert_part_key_ranges(sb: &Sandbox, stage: &str, m: &Value) {
    let parts = m["parts"].as_array().cloned().unwrap_or_default();
    let ranges = m["producer"]["extract"]["parts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(parts.len() > 1, "want several parts: {m:#}");
    assert_eq!(ranges.len(), parts.len(), "{m:#}");
    for (part, range) in parts.iter().zip(&ranges) {
        let path = part["path"].as_str().unwrap_or_default();
        assert_eq!(range["path"], part["path"]);
        let text = String::from_utf8(gunzip(&sb.join(&format!("{stage}/{path}"))))
            .unwrap_or_else(|e| panic!("{e}"));
        let rows = lines(&text);
        assert_eq!(range["rows"], part["records"]);
        assert_eq!(range["rows"].as_u64(), Some(rows.len() as u64));
        let first = rows.first().map(|l| id_text(l)).unwrap_or_default();
        let last = rows.last().map(|l| id_text(l)).unwrap_or_default();
        assert_eq!(range["first_key"].as_str(), Some(first), "{path}");
        assert_eq!(range["last_key"].as_str(), Some(last), "{path}");
    }
}

/// Both forms commit day 26 of a ticket table: `weir cat` prints exactly
/// the rows in `[2026-11-26, 2026-11-27)`, with every digit of the
/// numerics and int8 keys; `ls` and `verify` agree; the manifest gives
/// each part's key range; `-v` logs a line per page; `weir run` reads the
/// stage; pandas and DuckDB read its parts.
#[test]
fn both_forms_commit_an_interval_that_every_reader_reads() {
    let sb = Sandbox::new();
    let table = ticket_table();
    pipeline(&sb, &table);
    let want = expected(26, 27);
    assert_eq!(lines(&want).len(), 720);

    let by_step = sb
        .weir_env(
            &[
                "extract",
                "pipeline.toml",
                "raw",
                "--interval",
                &day(26),
                "--interval-end",
                &day(27),
                "-v",
            ],
            &env(),
        )
        .ok();
    assert_eq!(cat(&sb, "lake/raw", 26), want);
    let m = manifest(&sb, "lake/raw", 26);
    let x = &m["producer"]["extract"];
    assert_eq!(x["rows"], 720);
    assert_eq!(x["pages"], 8, "{x:#}");
    assert_eq!(x["standby"], true);
    assert_eq!(x["table"], table.as_str());
    assert_eq!(x["window"]["start"], "2026-11-26T00:00:00Z");
    assert_eq!(x["source"]["port"], Cluster::shared().standby_port);
    assert_part_key_ranges(&sb, "lake/raw", &m);
    let page_lines: Vec<&str> = by_step
        .stderr
        .lines()
        .filter(|l| l.contains(&format!("table {table}: page ")))
        .collect();
    assert_eq!(page_lines.len(), 8, "{}", by_step.stderr);
    let first_id = id_text(lines(&want)[0]);
    assert!(
        page_lines[0].contains(&format!("page 1: 100 rows, keys {first_id} to ")),
        "{}",
        page_lines[0]
    );

    // The flags form, with the password in the URL, commits the same records.
    let url = Cluster::shared().standby_url();
    sb.weir(&[
        "extract",
        &format!("--source={url}"),
        "--table",
        &table,
        "--cursor",
        "updated_at",
        "--key",
        "id",
        "--output",
        "lake/raw2",
        "--interval",
        &day(26),
        "--interval-end",
        &day(27),
        "--page-rows",
        "250",
        "--max-batch-bytes",
        "40KB",
    ])
    .ok();
    assert_eq!(cat(&sb, "lake/raw2", 26), want);
    let m2 = manifest(&sb, "lake/raw2", 26);
    assert_eq!(m2["producer"]["extract"]["pages"], 3);
    assert_part_key_ranges(&sb, "lake/raw2", &m2);

    for (stage, m) in [("lake/raw", &m), ("lake/raw2", &m2)] {
        sb.weir(&["verify", stage, "--interval", &day(26)]).ok();
        let ls = sb
            .weir(&["ls", stage, "--interval", &day(26), "--json"])
            .ok()
            .json();
        assert_eq!(ls["parts"], m["parts"]);
        assert_eq!(ls["totals"]["records"], 720);
        let listed: String = sb.weir(&["ls", stage]).ok().stdout;
        let row = listed
            .lines()
            .find(|l| l.starts_with("2026-11-26T00:00:00Z"))
            .unwrap_or_else(|| panic!("{listed}"));
        assert_eq!(row.split_whitespace().nth(1), Some("720"), "{listed}");
    }

    // `weir run` reads the extracted stage: bodies normalised, every other
    // byte as extracted.
    sb.weir(&["run", "pipeline.toml", "clean", "--interval", &day(26)])
        .ok();
    let clean: String = lines(&want)
        .iter()
        .map(|l| {
            let i: u32 = l
                .split("Ticket ")
                .nth(1)
                .and_then(|r| r.split(':').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no ticket number in {l}"));
            format!(
                "{}\n",
                l.replace(&body_of(i), &format!("ticket {i}: refund please ü"))
            )
        })
        .collect();
    assert_eq!(cat(&sb, "lake/clean", 26), clean);

    // pandas and DuckDB read the parts (amounts aside: a double to both).
    let parts: Vec<String> = m["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| format!("lake/raw/{}", p["path"].as_str().unwrap_or_default()))
        .collect();
    sb.write("want.ndjson", &want);
    let script = r#"
import json, sys
import pandas as pd, duckdb
want = [json.loads(l) for l in open("want.ndjson")]
cols = ["id", "body", "updated_at"]
want = [{c: r[c] for c in cols} for r in want]
parts = sys.argv[1:]
df = pd.concat([pd.read_json(p, lines=True, compression="gzip", convert_dates=False, dtype=False) for p in parts], ignore_index=True)
assert list(df.columns) == ["id", "body", "amount", "updated_at"], list(df.columns)
assert df[cols].to_dict("records") == want, "pandas differs"
con = duckdb.connect()
files = "[" + ",".join(f"'{p}'" for p in parts) + "]"
rows = con.execute(f"select id, body, null, interval from read_json_auto({files}, hive_partitioning=true) order by id").fetchall()
assert [r[0] for r in rows] == [w["id"] for w in want], "duckdb ids differ"
assert [r[1] for r in rows] == [w["body"] for w in want], "duckdb bodies differ"
assert {r[3] for r in rows} == {"20261126T000000Z"}, {r[3] for r in rows}
print(len(df), len(rows))
"#;
    let args: Vec<&str> = parts.iter().map(String::as_str).collect();
    let r = sb.python(script, &args).ok();
    assert_eq!(r.stdout.trim(), "720 720");
}

/// Every file under the sandbox (stages, manifests, parts) and every
/// output, as text.
fn everything_written(sb: &Sandbox, runs: &[Run]) -> String {
    let mut all = String::new();
    for f in sb.files("") {
        let bytes = std::fs::read(sb.join(&f)).unwrap_or_default();
        let bytes = if f.ends_with(".gz") {
            gunzip(&sb.join(&f))
        } else {
            bytes
        };
        all.push_str(&f);
        all.push_str(&String::from_utf8_lossy(&bytes));
    }
    for r in runs {
        all.push_str(&r.stdout);
        all.push_str(&r.stderr);
    }
    all
}

/// The password is in neither what `weir extract` prints (text, `--json`,
/// `-vv` debug logs, errors) nor anything it writes (manifest, parts),
/// whether it came in the URL (`--source URL`, `--source=URL`) or by
/// `PGPASSWORD`; the manifest's command line shows `***` in its place.
#[test]
fn the_password_never_appears_in_output_logs_or_manifest() {
    let sb = Sandbox::new();
    let table = ticket_table();
    pipeline(&sb, &table);
    let url = Cluster::shared().standby_url();
    let flags = |output: &str| {
        [
            "--table",
            &table,
            "--key",
            "id",
            "--output",
            output,
            "--interval",
            "2026-11-26",
            "--page-rows",
            "500",
        ]
        .map(str::to_owned)
    };
    let mut runs = Vec::new();
    let mut a = vec![
        "-vv".to_owned(),
        "extract".into(),
        "--source".into(),
        url.clone(),
    ];
    a.extend(flags("lake/a"));
    runs.push(
        sb.weir(&a.iter().map(String::as_str).collect::<Vec<_>>())
            .ok(),
    );
    let mut b = vec![
        "--json".to_owned(),
        "-vv".into(),
        "extract".into(),
        format!("--source={url}"),
    ];
    b.extend(flags("lake/b"));
    runs.push(
        sb.weir(&b.iter().map(String::as_str).collect::<Vec<_>>())
            .ok(),
    );
    runs.push(
        sb.weir_env(
            &[
                "-vv",
                "extract",
                "pipeline.toml",
                "raw",
                "--interval",
                "2026-11-26",
                "--interval-end",
                "2026-11-27",
            ],
            &env(),
        )
        .ok(),
    );
    // A failing run: a missing table.
    let mut c = vec![
        "-vv".to_owned(),
        "extract".into(),
        "--source".into(),
        url.clone(),
    ];
    c.extend(flags("lake/c"));
    c[5] = "no_such_table".into();
    runs.push(
        sb.weir(&c.iter().map(String::as_str).collect::<Vec<_>>())
            .expect_code(1),
    );
    assert!(
        runs[3]
            .stderr
            .contains("table \"no_such_table\" does not exist"),
        "{}",
        runs[3].stderr
    );

    for stage in ["lake/a", "lake/b", "lake/raw"] {
        let m = manifest(&sb, stage, 26);
        let command = m["producer"]["command"].as_str().unwrap_or_default();
        if stage != "lake/raw" {
            assert!(command.contains("postgres:***@127.0.0.1"), "{command}");
        }
    }
    assert!(runs[1].json()["extract"]["rows"].as_u64() == Some(u64::from(ROWS)));
    let all = everything_written(&sb, &runs);
    assert!(all.contains("_manifest.json") && all.contains("Refund"));
    assert!(
        !all.contains(PASSWORD),
        "the password shows in what weir printed or wrote"
    );
}

/// Exit 5 when the source fails (a wrong password, nothing listening
/// after `--max-retries`), 6 when the data cannot be extracted exactly (a
/// key that is not unique, a timestamp past 9999), 1 for a bad table; each
/// names what is wrong, and none commits: an earlier commit of the
/// interval stands.
#[test]
fn exit_codes_name_the_failure_and_nothing_is_committed() {
    let sb = Sandbox::new();
    let c = Cluster::shared();
    let t = table_name();
    c.primary_exec(&format!(
        "CREATE TABLE {t}_ok (id int PRIMARY KEY, v text); INSERT INTO {t}_ok VALUES (1, 'kept');
         CREATE TABLE {t}_dup (id int, v text); INSERT INTO {t}_dup VALUES (1,'a'),(2,'b'),(2,'c'),(3,'d');
         CREATE TABLE {t}_far (id int PRIMARY KEY, born timestamp); INSERT INTO {t}_far VALUES (17, '10000-01-01');"
    ));
    let extract = |source: &str, table: &str, extra: &[&str]| {
        let mut args = vec![
            "extract",
            "--source",
            source,
            "--table",
            table,
            "--key",
            "id",
            "--output",
            "lake",
            "--interval",
            "2026-11-26",
        ];
        args.extend_from_slice(extra);
        sb.weir(&args)
    };
    let url = c.standby_url();
    extract(&url, &format!("{t}_ok"), &[]).ok();
    let committed = cat(&sb, "lake", 26);
    assert_eq!(committed, "{\"id\":1,\"v\":\"kept\"}\n");

    let wrong = format!(
        "postgres://postgres:not-the-password-42@127.0.0.1:{}/postgres",
        c.standby_port
    );
    let r = extract(&wrong, &format!("{t}_ok"), &[]).expect_code(5);
    assert!(
        r.stderr.contains("password authentication failed"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("not-the-password-42"), "{}", r.stderr);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(1);
    let nobody = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let started = std::time::Instant::now();
    let r = extract(&nobody, "t", &["--max-retries", "2"]).expect_code(5);
    assert!(
        r.stderr
            .contains(&format!("cannot connect to 127.0.0.1:{port}/postgres")),
        "{}",
        r.stderr
    );
    // Two retries back off 100 ms and 200 ms; the default ten take ~40 s.
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());

    let r = extract(&url, &format!("{t}_dup"), &["--page-rows", "2"]).expect_code(6);
    assert!(
        r.stderr.contains("key \"id\"") && r.stderr.contains("is not unique: 2 appears twice"),
        "{}",
        r.stderr
    );
    let r = extract(&url, &format!("{t}_far"), &[]).expect_code(6);
    assert!(
        r.stderr.contains("column \"born\" at key 17"),
        "{}",
        r.stderr
    );
    let r = extract(&url, "no_such_table", &[]).expect_code(1);
    assert!(
        r.stderr.contains("table \"no_such_table\" does not exist"),
        "{}",
        r.stderr
    );
    // None of them committed: the first commit stands, whole.
    assert_eq!(cat(&sb, "lake", 26), committed);
    sb.weir(&["verify", "lake", "--interval", "2026-11-26"])
        .ok();
    // And a failure on an interval never committed leaves it uncommitted.
    let r = sb.weir(&[
        "extract",
        "--source",
        &url,
        "--table",
        &format!("{t}_dup"),
        "--key",
        "id",
        "--output",
        "lake",
        "--interval",
        "2026-11-27",
    ]);
    r.expect_code(6);
    let r = sb
        .weir(&["cat", "lake", "--interval", "2026-11-27"])
        .expect_code(1);
    assert!(r.stderr.contains("not committed"), "{}", r.stderr);
}

/// Days 26 and 27 extracted one at a time hold together exactly the rows
/// of one extract over both; after rows move between the days (and one is
/// added, one deleted) on the primary, rerunning each day replaces its
/// commit: each holds the rows its cursor now names, and the replaced
/// parts are gone.
#[test]
fn consecutive_intervals_add_up_and_a_rerun_replaces() {
    let sb = Sandbox::new();
    let table = ticket_table();
    let url = Cluster::shared().standby_url();
    let extract = |output: &str, from: u32, to: u32| {
        sb.weir(&[
            "extract",
            "--source",
            &url,
            "--table",
            &table,
            "--cursor",
            "updated_at",
            "--key",
            "id",
            "--output",
            output,
            "--interval",
            &day(from),
            "--interval-end",
            &day(to),
            "--page-rows",
            "300",
            "--orphan-grace",
            "0s",
        ])
        .ok()
    };
    extract("lake/days", 26, 27);
    extract("lake/days", 27, 28);
    extract("lake/both", 26, 28);
    let (d26, d27) = (cat(&sb, "lake/days", 26), cat(&sb, "lake/days", 27));
    assert_eq!(d26, expected(26, 27));
    assert_eq!(d27, expected(27, 28));
    let both = cat(&sb, "lake/both", 26);
    assert_eq!(both, expected(26, 28));
    let mut split: Vec<&str> = lines(&d26).into_iter().chain(lines(&d27)).collect();
    split.sort_unstable();
    let mut whole = lines(&both);
    whole.sort_unstable();
    assert_eq!(split, whole, "two days together are one run over both");
    assert_eq!(
        whole.iter().collect::<BTreeSet<_>>().len(),
        whole.len(),
        "no row twice"
    );

    // Tickets 400..410 (day 26) move to 2026-11-27T06:00Z with a new
    // body; ticket 500 (day 26) is deleted; a new ticket lands on day 26.
    Cluster::shared().primary_exec(&format!(
        "UPDATE {table} SET updated_at = '2026-11-27T06:00:00Z', body = 'moved'
           WHERE id IN ({});
         DELETE FROM {table} WHERE id = {};
         INSERT INTO {table} VALUES (42, 'new', 1.50, '2026-11-26T23:59:59.5Z');",
        (400..410)
            .map(|i| key_of(i).to_string())
            .collect::<Vec<_>>()
            .join(","),
        key_of(500)
    ));
    let before = manifest(&sb, "lake/days", 26);
    extract("lake/days", 26, 27);
    extract("lake/days", 27, 28);
    let moved: BTreeSet<String> = (400..410).map(|i| key_of(i).to_string()).collect();
    let gone = key_of(500).to_string();
    let want26: String = std::iter::once(
        "{\"id\":42,\"body\":\"new\",\"amount\":1.50,\"updated_at\":\"2026-11-26T23:59:59.5Z\"}\n"
            .to_owned(),
    )
    .chain(
        lines(&d26)
            .into_iter()
            .filter(|l| !moved.contains(id_text(l)) && id_text(l) != gone)
            .map(|l| format!("{l}\n")),
    )
    .collect();
    assert_eq!(cat(&sb, "lake/days", 26), want26);
    let mut want27: Vec<(u64, String)> = lines(&d27)
        .into_iter()
        .map(|l| (id_text(l).parse().unwrap_or(0), format!("{l}\n")))
        .chain((400..410).map(|i| {
            (
                key_of(i),
                line(key_of(i), "moved", &amount_of(i), 2 * 1440 + 6 * 60),
            )
        }))
        .collect();
    want27.sort();
    assert_eq!(
        cat(&sb, "lake/days", 27),
        want27.into_iter().map(|(_, l)| l).collect::<String>()
    );

    // The rerun superseded the first commit of day 26 and deleted its parts.
    let after = manifest(&sb, "lake/days", 26);
    assert_ne!(before["run_id"], after["run_id"]);
    let mut held: Vec<String> = sb
        .files(&format!("lake/days/{}", folder(26)))
        .into_iter()
        .collect();
    held.sort();
    let mut want: Vec<String> = after["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["path"].as_str())
        .map(|p| p.trim_start_matches(&format!("{}/", folder(26))).to_owned())
        .chain(["_manifest.json".to_owned()])
        .collect();
    want.sort();
    assert_eq!(held, want);
    sb.weir(&["verify", "lake/days"]).ok();
}

/// The flags form over a query that sleeps `seconds` on every page
/// statement (an InitPlan runs once per statement), 500 rows a page: an
/// extract of the ticket table that takes about 7 pages times `seconds`.
fn slow_extract_args(table: &str, seconds: f64, output: &str) -> Vec<String> {
    [
        "extract",
        "--source",
        &Cluster::shared().standby_url(),
        "--query",
        &format!("SELECT id, body FROM {table} WHERE (SELECT true FROM pg_sleep({seconds}))"),
        "--key",
        "id",
        "--page-rows",
        "500",
        "--output",
        output,
        "--interval",
        &day(26),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// With stderr not a terminal (an Airflow log), an extract longer than
/// 5 s writes a progress line every 5 s whose counts are those of the
/// pages read so far; on a terminal (a pty from `script`) it draws a
/// spinner with the same counts, cleared before the summary.
#[test]
fn progress_shows_as_lines_in_a_log_and_as_a_bar_on_a_terminal() {
    let sb = Sandbox::new();
    let table = ticket_table();
    let args = slow_extract_args(&table, 1.0, "lake/slow");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = sb.weir(&args).ok();
    let progress: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    assert!(!progress.is_empty(), "no progress line:\n{}", r.stderr);
    for l in &progress {
        // `progress: 2500 rows, 5 pages, 0 retries, 93.0 KiB, 500 rows/s, 5 s`
        let words: Vec<&str> = l.split_whitespace().collect();
        let rows: u64 = words[1].parse().unwrap_or_else(|_| panic!("{l}"));
        let pages: u64 = words[3].parse().unwrap_or_else(|_| panic!("{l}"));
        assert_eq!(
            (words[2], words[4], words[6]),
            ("rows,", "pages,", "retries,"),
            "{l}"
        );
        assert_eq!(
            rows,
            pages * 500,
            "every page but the last holds 500 rows: {l}"
        );
        assert!(rows < u64::from(ROWS), "a line while the extract runs: {l}");
        assert!(l.contains(" rows/s, "), "{l}");
    }
    assert_eq!(cat(&sb, "lake/slow", 26).lines().count(), ROWS as usize);

    // On a terminal: `script` gives weir a pty for stdin, stdout and stderr.
    let shell: Vec<String> = std::iter::once(weir_tests::weir_bin().display().to_string())
        .chain(slow_extract_args(&table, 0.5, "lake/bar"))
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let out = std::process::Command::new("script")
        .args(["-qec", &shell.join(" "), "/dev/null"])
        .current_dir(sb.path())
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("script: {e}"));
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(
        !screen.contains("progress: "),
        "no log lines on a terminal: {screen}"
    );
    assert!(
        screen.contains(" rows ") && screen.contains(" pages, 0 retries, "),
        "the bar shows rows, pages and retries: {screen:?}"
    );
    assert!(screen.contains("extracted"), "{screen}");
    assert_eq!(cat(&sb, "lake/bar", 26).lines().count(), ROWS as usize);
}

/// The TLS cluster of this test binary (`ssl = on`, TCP without TLS
/// refused), started on first use.
fn tls_cluster() -> &'static Cluster {
    static TLS: std::sync::OnceLock<Cluster> = std::sync::OnceLock::new();
    TLS.get_or_init(Cluster::start_tls)
}

/// `sslmode` and `sslrootcert` as libpq reads them, against a real
/// PostgreSQL with `ssl = on` whose certificate (for `localhost`) a CA
/// made by openssl signed: every mode that connects reads the rows over
/// TLS (the server's own `pg_stat_ssl` says so); `verify-full` refuses
/// another host name, `verify-ca` and `require` with a root certificate
/// refuse another CA, each at once (no retries), exit 5, nothing
/// committed; `disable` meets the server's `hostnossl reject`; `require`
/// against a server without TLS fails rather than read in the clear.
#[test]
fn tls_modes_connect_verify_and_refuse_as_libpq_does() {
    let pg = tls_cluster();
    let sb = Sandbox::new();
    let table = table_name();
    pg.primary_exec(&format!(
        "CREATE TABLE {table} (id int4 PRIMARY KEY, body text);
         INSERT INTO {table} SELECT i, 'row ' || i FROM generate_series(1, 5) i;"
    ));
    let query = format!(
        "SELECT t.id, t.body, s.ssl FROM {table} t CROSS JOIN pg_stat_ssl s WHERE s.pid = pg_backend_pid()"
    );
    let (ca, other) = (
        pg.ca_cert().display().to_string(),
        pg.other_ca_cert().display().to_string(),
    );
    // HOME without ~/.postgresql/root.crt, so only sslrootcert gives roots.
    let env = vec![
        ("PGPASSWORD", PASSWORD.to_owned()),
        ("HOME", sb.path().display().to_string()),
    ];
    let extract = |host: &str, options: &str, output: &str| {
        let url = format!(
            "postgres://postgres@{host}:{}/postgres{options}",
            pg.standby_port
        );
        sb.weir_env(
            &[
                "extract",
                "--source",
                &url,
                "--query",
                &query,
                "--key",
                "id",
                "--page-rows",
                "2",
                "--output",
                output,
                "--interval",
                &day(26),
                "-v",
            ],
            &env,
        )
    };
    let want: String = (1..=5)
        .map(|i| format!("{{\"id\":{i},\"body\":\"row {i}\",\"ssl\":true}}\n"))
        .collect();
    for (host, options, output) in [
        (
            "localhost",
            format!("?sslmode=verify-full&sslrootcert={ca}"),
            "lake/full",
        ),
        (
            "127.0.0.1",
            format!("?sslmode=verify-ca&sslrootcert={ca}"),
            "lake/ca",
        ),
        (
            "127.0.0.1",
            format!("?sslmode=require&sslrootcert={ca}"),
            "lake/require-ca",
        ),
        ("127.0.0.1", "?sslmode=require".to_owned(), "lake/require"),
        ("127.0.0.1", String::new(), "lake/default"),
    ] {
        extract(host, &options, output).ok();
        assert_eq!(cat(&sb, output, 26), want, "{host}{options}");
    }

    for (host, options, output, says) in [
        // The certificate names localhost, not 127.0.0.1.
        (
            "127.0.0.1",
            format!("?sslmode=verify-full&sslrootcert={ca}"),
            "lake/f1",
            "certificate not valid for name",
        ),
        (
            "localhost",
            format!("?sslmode=verify-full&sslrootcert={other}"),
            "lake/f2",
            "UnknownIssuer",
        ),
        (
            "127.0.0.1",
            format!("?sslmode=verify-ca&sslrootcert={other}"),
            "lake/f3",
            "UnknownIssuer",
        ),
        (
            "127.0.0.1",
            format!("?sslmode=require&sslrootcert={other}"),
            "lake/f4",
            "UnknownIssuer",
        ),
        (
            "127.0.0.1",
            "?sslmode=disable".to_owned(),
            "lake/f5",
            "no encryption",
        ),
    ] {
        let r = extract(host, &options, output).expect_code(5);
        assert!(r.stderr.contains("cannot connect to "), "{}", r.stderr);
        assert!(
            r.stderr.contains(says),
            "{options}: want {says:?} in\n{}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("retrying"),
            "a refused certificate is not retried:\n{}",
            r.stderr
        );
        assert!(
            !sb.join(output).join(folder(26)).exists(),
            "nothing committed: {options}"
        );
    }

    // Settings that cannot work are refused before connecting, exit 1.
    for (options, says) in [
        (
            "?sslmode=verify-ca",
            "sslmode verify-ca needs a root certificate",
        ),
        (
            "?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
            "sslrootcert /nonexistent/ca.crt: ",
        ),
        ("?sslmode=maybe", "unknown sslmode \"maybe\""),
    ] {
        let r = extract("localhost", options, "lake/bad").expect_code(1);
        assert!(
            r.stderr.contains(says),
            "{options}: want {says:?} in\n{}",
            r.stderr
        );
    }

    // A server without TLS: require fails; prefer reads in the clear.
    let plain = Cluster::shared();
    let t = table_name();
    plain.primary_exec(&format!(
        "CREATE TABLE {t} (id int4 PRIMARY KEY); INSERT INTO {t} VALUES (1);"
    ));
    let from_plain = |options: &str, output: &str| {
        let url = format!(
            "postgres://postgres@127.0.0.1:{}/postgres{options}",
            plain.standby_port
        );
        sb.weir_env(
            &[
                "extract",
                "--source",
                &url,
                "--table",
                &t,
                "--key",
                "id",
                "--output",
                output,
                "--interval",
                &day(26),
            ],
            &env,
        )
    };
    let r = from_plain("?sslmode=require", "lake/plain-require").expect_code(5);
    assert!(
        r.stderr.contains("server does not support TLS"),
        "{}",
        r.stderr
    );
    from_plain("?sslmode=prefer", "lake/plain-prefer").ok();
    assert_eq!(cat(&sb, "lake/plain-prefer", 26), "{\"id\":1}\n");
}

/// A sharded extract commits what one process commits: `weir plan
/// --shards 3` cuts day 26 into three key ranges of about the same size,
/// each `weir extract --shard` seals its range (one retried), and
/// `weir commit` merges them into one commit with the same records in the
/// same order, every part's key range, and each shard's range and rows; a
/// retried commit finds it. A missing shard, or a shard of an older plan
/// of the interval, is refused, nothing committed.
#[test]
fn a_sharded_extract_commits_what_one_process_commits() {
    let sb = Sandbox::new();
    let table = ticket_table();
    pipeline(&sb, &table);
    let text = std::fs::read_to_string(sb.join("pipeline.toml")).unwrap_or_default();
    sb.write("sharded.toml", text.replace("lake/raw", "lake/sharded"));
    let window = ["--interval", &day(26), "--interval-end", &day(27)];
    let weir = |args: &[&str]| {
        let all: Vec<&str> = args.iter().copied().chain(window).collect();
        sb.weir_env(&all, &env())
    };
    weir(&["extract", "pipeline.toml", "raw"]).ok();
    let want = cat(&sb, "lake/raw", 26);
    assert_eq!(want, expected(26, 27));

    let plan = weir(&["plan", "sharded.toml", "raw", "--shards", "3"])
        .ok()
        .json();
    assert_eq!(
        plan["shards"],
        serde_json::json!(["0/3", "1/3", "2/3"]),
        "{plan:#}"
    );
    let units = plan["units"].as_array().cloned().unwrap_or_default();
    assert_eq!(units[0]["from_key"], Value::Null);
    assert_eq!(units[2]["to_key"], Value::Null);
    assert_eq!(units[0]["to_key"], units[1]["from_key"]);
    assert_eq!(units[1]["to_key"], units[2]["from_key"]);
    let mut sealed = Vec::new();
    for shard in ["0/3", "2/3", "1/3", "2/3"] {
        let r = weir(&["extract", "sharded.toml", "raw", "--shard", shard, "--json"])
            .ok()
            .json();
        assert_eq!(r["committed"], false);
        sealed.push(r["rows"].as_u64().unwrap_or(0));
    }
    // 720 rows in three ranges of about 240 (percentiles of the keys).
    assert_eq!(sealed[0] + sealed[2] + sealed[3], 720, "{sealed:?}");
    assert!(
        sealed.iter().all(|&n| (230..=250).contains(&n)),
        "{sealed:?}"
    );
    assert!(
        !sb.join(&format!("lake/sharded/{}/_manifest.json", folder(26)))
            .exists()
    );

    let c = weir(&["commit", "sharded.toml", "raw", "--shards", "3", "--json"])
        .ok()
        .json();
    assert_eq!(c["already_committed"], false);
    assert_eq!(
        cat(&sb, "lake/sharded", 26),
        want,
        "the same records in the same order"
    );
    let m = manifest(&sb, "lake/sharded", 26);
    assert_eq!(m["shards"].as_array().map(Vec::len), Some(3));
    let x = &m["producer"]["extract"];
    assert_eq!(x["rows"], 720);
    assert_eq!(x["window"]["start"], "2026-11-26T00:00:00Z");
    let shards = x["shards"].as_array().cloned().unwrap_or_default();
    assert_eq!(shards.len(), 3);
    for (s, u) in shards.iter().zip(&units) {
        assert_eq!(
            (&s["from_key"], &s["to_key"]),
            (&u["from_key"], &u["to_key"])
        );
    }
    assert_part_key_ranges(&sb, "lake/sharded", &m);
    sb.weir(&["verify", "lake/sharded"]).ok();
    let again = weir(&["commit", "sharded.toml", "raw", "--shards", "3", "--json"])
        .ok()
        .json();
    assert_eq!(again["already_committed"], true);
    assert_eq!(again["run_id"], m["run_id"]);

    // A shard missing, then a shard of an older plan: refused, the commit stands.
    weir(&["plan", "sharded.toml", "raw", "--shards", "2"]).ok();
    weir(&["extract", "sharded.toml", "raw", "--shard", "0/2"]).ok();
    let r = weir(&["commit", "sharded.toml", "raw", "--shards", "2"]).expect_code(1);
    assert!(r.stderr.contains("1/2"), "{}", r.stderr);
    weir(&["extract", "sharded.toml", "raw", "--shard", "1/2"]).ok();
    weir(&["plan", "sharded.toml", "raw", "--shards", "2"]).ok();
    let r = weir(&["commit", "sharded.toml", "raw", "--shards", "2"]).expect_code(1);
    assert!(r.stderr.contains("ran from another plan"), "{}", r.stderr);
    assert_eq!(manifest(&sb, "lake/sharded", 26)["run_id"], m["run_id"]);
    for shard in ["0/2", "1/2"] {
        weir(&["extract", "sharded.toml", "raw", "--shard", shard]).ok();
    }
    weir(&["commit", "sharded.toml", "raw", "--shards", "2"]).ok();
    assert_eq!(cat(&sb, "lake/sharded", 26), want);
    assert_eq!(
        manifest(&sb, "lake/sharded", 26)["shards"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

/// `--connections 2` (or the step's `connections = 2`) reads two key
/// ranges at once in one process and commits once: the same records in
/// the same order as one connection, every part's key range, each range's
/// keys and rows, and no plan or result left behind. It does not mix with
/// `--shard`; consistent mode with `--shard` is refused, pointing to
/// `--connections`.
#[test]
fn connections_read_key_ranges_at_once_and_commit_what_one_connection_commits() {
    let sb = Sandbox::new();
    let table = ticket_table();
    pipeline(&sb, &table);
    let text = std::fs::read_to_string(sb.join("pipeline.toml")).unwrap_or_default();
    sb.write(
        "two.toml",
        text.replace("lake/raw", "lake/two")
            .replace("page_rows = 100\n", "page_rows = 100\nconnections = 2\n"),
    );
    let window = ["--interval", &day(26), "--interval-end", &day(27)];
    let weir = |args: &[&str]| {
        let all: Vec<&str> = args.iter().copied().chain(window).collect();
        sb.weir_env(&all, &env())
    };
    weir(&["extract", "pipeline.toml", "raw"]).ok();
    let want = cat(&sb, "lake/raw", 26);
    assert_eq!(want, expected(26, 27));

    let r = weir(&["extract", "two.toml", "raw", "--json"]).ok().json();
    assert_eq!(r["extract"]["connections"], 2, "{r:#}");
    assert_eq!(
        cat(&sb, "lake/two", 26),
        want,
        "the same records in the same order"
    );
    let m = manifest(&sb, "lake/two", 26);
    let x = &m["producer"]["extract"];
    assert_eq!(x["rows"], 720);
    assert_eq!(x["consistent"], false);
    assert_eq!(m["shards"].as_array().map(Vec::len), Some(2));
    let ranges = x["shards"].as_array().cloned().unwrap_or_default();
    assert_eq!(ranges.len(), 2, "{x:#}");
    assert_eq!(ranges[0]["from_key"], Value::Null);
    assert_eq!(ranges[0]["to_key"], ranges[1]["from_key"]);
    assert_eq!(ranges[1]["to_key"], Value::Null);
    // percentile_disc cuts the 720 rows into two halves (the median key
    // starts the second).
    let rows: Vec<u64> = ranges
        .iter()
        .map(|r| r["rows"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(rows.iter().sum::<u64>(), 720);
    assert!(rows.iter().all(|n| (350..=370).contains(n)), "{rows:?}");
    assert_part_key_ranges(&sb, "lake/two", &m);
    // Nothing went through `_shards/`: no plan, no result.
    let shards_dir = sb.join(&format!("lake/two/_shards/{}", folder(26)));
    assert!(
        std::fs::read_dir(&shards_dir)
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    );
    sb.weir(&["verify", "lake/two"]).ok();
    // The flag beats the step: one connection, no ranges.
    weir(&["extract", "two.toml", "raw", "--connections", "1"]).ok();
    assert!(
        manifest(&sb, "lake/two", 26)["shards"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    assert_eq!(cat(&sb, "lake/two", 26), want);

    let r = weir(&[
        "extract",
        "pipeline.toml",
        "raw",
        "--connections",
        "2",
        "--shard",
        "0/2",
    ])
    .expect_code(2);
    assert!(r.stderr.contains("--shard"), "{}", r.stderr);
    weir(&["plan", "two.toml", "raw", "--shards", "2"]).ok();
    let r = weir(&["extract", "two.toml", "raw", "--shard", "0/2"]).expect_code(1);
    assert!(
        r.stderr.contains("step option `connections`"),
        "{}",
        r.stderr
    );
    let r = weir(&[
        "extract",
        "pipeline.toml",
        "raw",
        "--shard",
        "0/2",
        "--consistent",
    ]);
    let r = r.expect_code(1);
    assert!(r.stderr.contains("--connections COUNT"), "{}", r.stderr);
}

/// A connection that fails stops the others before their next page, and
/// its error is the one reported: a key that is not unique in the first
/// range (exit 6, nothing committed) while the second range, ten slow
/// pages long, reads only a page or two.
#[test]
fn a_failed_connection_stops_the_others_and_its_error_is_reported() {
    let sb = Sandbox::new();
    let pg = Cluster::shared();
    let t = table_name();
    pg.primary_exec(&format!(
        "CREATE TABLE {t} (id int4 PRIMARY KEY, body text);
         INSERT INTO {t} SELECT i, 'row ' || i FROM generate_series(1, 40) i;"
    ));
    let url = pg.standby_url();
    // Key 2 twice (row 3 claims it), in the first page of the first range;
    // every page statement sleeps a second.
    let query = format!(
        "SELECT CASE WHEN id = 3 THEN 2 ELSE id END AS id, body FROM {t} WHERE (SELECT true FROM pg_sleep(1))"
    );
    let r = sb
        .weir_env(
            &[
                "extract",
                "-v",
                "--source",
                &url,
                "--query",
                &query,
                "--key",
                "id",
                "--page-rows",
                "2",
                "--connections",
                "2",
                "--output",
                "lake/dup",
                "--interval",
                "2026-11-26",
            ],
            &[],
        )
        .expect_code(6);
    assert!(
        r.stderr.contains("is not unique: 2 appears twice"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("stopped: another connection"),
        "{}",
        r.stderr
    );
    let pages = r.stderr.matches(": page ").count();
    assert!(
        pages <= 4,
        "the second range read {pages} of its 10 pages:\n{}",
        r.stderr
    );
    assert!(
        !sb.join(&format!("lake/dup/{}/_manifest.json", folder(26)))
            .exists()
    );
}

/// Consistent mode over two connections reads one snapshot, exported by
/// the coordinator and imported by both readers: rows added on the
/// primary while the extract runs (past either range's last key) and a
/// row changed in each range are seen by neither reader, where two
/// connections without it see the additions. The manifest names the
/// snapshot and the connections.
#[test]
fn consistent_connections_share_one_exported_snapshot() {
    let sb = Sandbox::new();
    let pg = Cluster::shared();
    let t = table_name();
    pg.primary_exec(&format!(
        "CREATE TABLE {t} (id int4 PRIMARY KEY, body text);
         INSERT INTO {t} SELECT i, 'row ' || i FROM generate_series(1, 12) i;"
    ));
    // Two rows a page, each statement sleeping a second: the plan, then
    // three pages of six rows per connection, about 4 s.
    let start = |output: &str, consistent: bool| {
        let url = pg.standby_url();
        let query = format!("SELECT id, body FROM {t} WHERE (SELECT true FROM pg_sleep(1))");
        let mut args = vec![
            "extract",
            "--source",
            &url,
            "--query",
            &query,
            "--key",
            "id",
            "--page-rows",
            "2",
            "--connections",
            "2",
            "--output",
            output,
            "--interval",
            "2026-11-26",
        ];
        if consistent {
            args.push("--consistent");
        }
        sb.spawn_weir(&args, &[])
    };
    let during = |sql: String| {
        std::thread::sleep(std::time::Duration::from_millis(2500));
        pg.primary_exec(&sql);
    };

    let x = start("lake/consistent", true);
    during(format!(
        "INSERT INTO {t} SELECT i, 'new' FROM generate_series(13, 20) i;
         UPDATE {t} SET body = 'changed' WHERE id IN (3, 12);"
    ));
    let r = Run::wait(x).ok();
    let want: String = (1..=12)
        .map(|i| format!("{{\"id\":{i},\"body\":\"row {i}\"}}\n"))
        .collect();
    assert_eq!(cat(&sb, "lake/consistent", 26), want, "{}", r.stderr);
    let x = &manifest(&sb, "lake/consistent", 26)["producer"]["extract"];
    assert_eq!(x["consistent"], true);
    assert_eq!(x["connections"], 2);
    assert!(
        x["snapshot"].as_str().is_some_and(|s| !s.is_empty()),
        "{x:#}"
    );
    // The median key, 6, starts the second range.
    assert_eq!(x["shards"][0]["rows"], 5, "{x:#}");

    let x = start("lake/paged", false);
    during(format!(
        "INSERT INTO {t} SELECT i, 'new' FROM generate_series(21, 30) i;"
    ));
    Run::wait(x).ok();
    let ids: Vec<u64> = lines(&cat(&sb, "lake/paged", 26))
        .iter()
        .map(|l| id_text(l).parse().unwrap_or(0))
        .collect();
    assert_eq!(
        ids,
        (1..=30).collect::<Vec<_>>(),
        "without a snapshot the last range sees rows added meanwhile"
    );
}

/// Consistent mode reads one snapshot: rows inserted on the primary while
/// the extract runs (and replayed on the standby) are not in it, where
/// the default mode, paging after the last key, picks them up. A recovery
/// conflict (rows deleted and vacuumed on the primary meanwhile) fails a
/// consistent extract at once, naming the mode, exit 5, nothing
/// committed: its snapshot cannot be resumed.
#[test]
fn consistent_mode_reads_one_snapshot_and_fails_on_a_conflict_instead_of_retrying() {
    let sb = Sandbox::new();
    let pg = Cluster::shared();
    let t = table_name();
    pg.primary_exec(&format!(
        "CREATE TABLE {t} (id int4 PRIMARY KEY, body text);
         INSERT INTO {t} SELECT i, 'row ' || i FROM generate_series(1, 10) i;"
    ));
    // Two rows a page, each page statement sleeping a second: about 6 s.
    let start = |output: &str, consistent: bool| {
        let url = pg.standby_url();
        let query = format!("SELECT id, body FROM {t} WHERE (SELECT true FROM pg_sleep(1))");
        let mut args = vec![
            "extract",
            "--source",
            &url,
            "--query",
            &query,
            "--key",
            "id",
            "--page-rows",
            "2",
            "--output",
            output,
            "--interval",
            "2026-11-26",
        ];
        if consistent {
            args.push("--consistent");
        }
        sb.spawn_weir(&args, &[])
    };
    let ids = |output: &str| -> Vec<u64> {
        lines(&cat(&sb, output, 26))
            .iter()
            .map(|l| id_text(l).parse().unwrap_or(0))
            .collect()
    };
    let during = |sql: String| {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        pg.primary_exec(&sql);
    };

    let x = start("lake/consistent", true);
    during(format!(
        "INSERT INTO {t} SELECT i, 'new' FROM generate_series(11, 20) i;"
    ));
    let r = Run::wait(x).ok();
    assert_eq!(
        ids("lake/consistent"),
        (1..=10).collect::<Vec<_>>(),
        "{}",
        r.stderr
    );
    assert_eq!(
        manifest(&sb, "lake/consistent", 26)["producer"]["extract"]["consistent"],
        true
    );

    let x = start("lake/paged", false);
    during(format!(
        "INSERT INTO {t} SELECT i, 'new' FROM generate_series(21, 30) i;"
    ));
    Run::wait(x).ok();
    assert_eq!(
        ids("lake/paged"),
        (1..=30).collect::<Vec<_>>(),
        "the default mode sees rows added meanwhile"
    );

    let x = start("lake/conflict", true);
    during(format!("DELETE FROM {t} WHERE id <= 25;"));
    // VACUUM runs outside a transaction: psql -c, not the harness's -1.
    let vacuum = std::process::Command::new(weir_tests::pg::bin("psql"))
        .args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            &pg.primary_port.to_string(),
        ])
        .args([
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            &format!("VACUUM {t}"),
        ])
        .env("PGPASSWORD", PASSWORD)
        .output()
        .unwrap_or_else(|e| panic!("psql: {e}"));
    assert!(
        vacuum.status.success(),
        "{}",
        String::from_utf8_lossy(&vacuum.stderr)
    );
    pg.wait_for_standby();
    let r = Run::wait(x).expect_code(5);
    assert!(r.stderr.contains("consistent mode"), "{}", r.stderr);
    assert!(!r.stderr.contains("retrying"), "{}", r.stderr);
    assert!(!sb.join(&format!("lake/conflict/{}", folder(26))).exists());
}
