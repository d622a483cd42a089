//! `weir report` end to end, as a person uses it: stage and run a few
//! intervals (records quarantined, one containing a script, an interval
//! missing, one replayed, a module changed, an input rerun), write the
//! report with the real binary, and open it in headless Chromium: the
//! rendered page shows the counts, shows the script as text, and ran
//! nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use weir_tests::{Sandbox, guest, workspace};

const DAYS: [&str; 3] = ["2026-11-23", "2026-11-24", "2026-11-26"];
const SCRIPT: &str = "<script>alert(1)</script>";
/// Would mark the page if an attribute of a quarantined record ever ran.
const IMG: &str = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">";

/// The Chromium binary: `$WEIR_CHROMIUM`, or Debian's `chromium` on PATH
/// (`scripts/setup` installs it).
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("WEIR_CHROMIUM") {
        return PathBuf::from(p);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = dir.join("chromium");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "no chromium on PATH: run scripts/setup (apt-get install chromium) or set WEIR_CHROMIUM"
    );
}

/// Runs headless Chromium on `page` with `args` (a profile of its own in
/// `sb`), killed after a minute; its stdout.
pub(crate) fn headless(sb: &Sandbox, page: &Path, args: &[String]) -> String {
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            sb.join("chromium-profile").display()
        ))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| panic!("running chromium: {e}"));
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `normalize.wasm` with a custom section appended: the same transform,
/// another module sha256, as after a rebuild with a change.
fn another_build_of(module: &Path, sb: &Sandbox) -> PathBuf {
    let mut bytes = std::fs::read(module).unwrap_or_else(|e| panic!("{e}"));
    let name = b"weir-test";
    let payload = b"v2";
    bytes.push(0); // custom section
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    sb.write("v2/normalize.wasm", bytes)
}

/// The part of the rendered DOM that is stage `k`'s section.
pub(crate) fn section(dom: &str, k: usize) -> &str {
    let start = dom
        .find(&format!("id=\"stage-{k}\""))
        .unwrap_or_else(|| panic!("no section of stage {k}"));
    let rest = &dom[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

/// The value shown for `key` in a stage's totals.
pub(crate) fn total(section: &str, key: &str) -> String {
    let marker = format!("data-k=\"{key}\">");
    let at = section
        .find(&marker)
        .unwrap_or_else(|| panic!("no total {key}"))
        + marker.len();
    section[at..][..section[at..].find('<').unwrap_or(0)].to_string()
}

#[test]
fn report_of_a_small_lake_renders_its_counts_and_shows_scripts_as_text() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    let v2 = another_build_of(&module, &sb);
    let good = |n: usize, from: usize| -> String {
        (from..from + n)
            .map(|i| format!("{{\"id\":{i},\"text\":\"  Ticket   {i} \"}}\n"))
            .collect()
    };
    // Day 1: 8 records and a line cut short, a script in it.
    let day1 = format!("{}{{\"text\":\"{SCRIPT}\"\n", good(8, 0));
    // Day 2: 10 records, two that normalize rejects (text is a number), two lines that are not JSON.
    let day2 = format!(
        "{}{{\"id\":100,\"text\":42}}\n{{\"id\":101,\"text\":43}}\nnot json\n{IMG}\n",
        good(10, 10)
    );
    // Day 4 (day 3 is missing): 6 records and one whose text is an object holding a script.
    let day4 = format!(
        "{}{{\"id\":200,\"text\":{{\"html\":\"{SCRIPT}\"}}}}\n",
        good(6, 20)
    );
    for (d, text) in DAYS.iter().zip([&day1, &day2, &day4]) {
        sb.write(&format!("in/{d}.ndjson"), text);
        sb.weir(&[
            "stage",
            "raw",
            "--interval",
            d,
            &format!("in/{d}.ndjson"),
            "--max-rejected",
            "10",
        ])
        .ok();
    }
    for (d, m) in DAYS.iter().zip([&module, &module, &v2]) {
        sb.weir(&[
            "run",
            "--input",
            "raw",
            "--output",
            "clean",
            "--interval",
            d,
            "--transform",
            m.to_str().unwrap_or_default(),
            "--config",
            r#"{"fields":["text"]}"#,
            "--max-rejected",
            "10",
        ])
        .ok();
    }
    // Day 2's rejects recovered by a replay with a config that leaves text alone.
    sb.weir(&[
        "replay",
        "clean",
        "--interval",
        DAYS[1],
        "--transform",
        module.to_str().unwrap_or_default(),
        "--config",
        r#"{"fields":["missing"]}"#,
    ])
    .ok();
    // Day 1 of raw staged again: clean's day 1 was made from the commit it replaced.
    sb.weir(&[
        "stage",
        "raw",
        "--interval",
        DAYS[0],
        "in/2026-11-23.ndjson",
        "--max-rejected",
        "10",
    ])
    .ok();

    let summary = sb
        .weir(&[
            "report",
            "raw",
            "clean",
            "--from",
            "2026-11-23",
            "--to",
            "2026-11-26",
            "-o",
            "report.html",
            "--json",
        ])
        .ok()
        .json();
    let counts = |k: usize| {
        let s = &summary["stages"][k];
        ["committed", "replayed", "missing", "records", "quarantined"]
            .map(|f| s[f].as_u64().unwrap_or(u64::MAX))
    };
    assert_eq!(counts(0), [3, 0, 1, 27, 3], "{summary}");
    assert_eq!(counts(1), [3, 1, 1, 26, 1], "{summary}");

    let page = sb.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page makes no request"
    );
    let dom = headless(&sb, &page, &["--dump-dom".into()]);
    assert!(dom.contains("Weir lake report"), "{dom}");

    // Nothing from a record became an element, and nothing ran.
    let lower = dom.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a script element in the DOM");
    assert!(!lower.contains("<img"), "an img element in the DOM");
    // (The handler's text is on the page, escaped; the attribute it would set is not.)
    assert!(
        !dom.contains("data-pwned=\"1\""),
        "a quarantined record's handler ran"
    );
    // The records are shown as text: the script escaped, in raw's examples
    // (the cut line) and in clean's (normalize's reject).
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
    let (raw, clean) = (section(&dom, 0), section(&dom, 1));
    assert!(raw.contains(&format!("{{\"text\":\"{escaped}\"")), "{raw}");
    assert!(raw.contains("&lt;img src=x onerror="), "{raw}");
    assert!(
        clean.contains(&format!("{{\"html\":\"{escaped}\"}}")),
        "{clean}"
    );

    // The counts.
    for (k, s) in [(0, raw), (1, clean)] {
        assert_eq!(total(s, "committed"), "3", "stage {k}");
        assert_eq!(total(s, "missing"), "1", "stage {k}");
    }
    assert_eq!(total(raw, "records"), "27");
    assert_eq!(total(raw, "quarantined"), "3");
    assert_eq!(total(clean, "records"), "26");
    assert_eq!(total(clean, "replayed"), "1");
    assert_eq!(total(clean, "quarantined"), "1");
    assert_eq!(total(clean, "stale"), "1");
    // raw: 3 of 30 lines; clean: 1 of 27 input records.
    assert_eq!(total(raw, "rate"), "10.00%");
    assert_eq!(total(clean, "rate"), "3.70%");
    // The calendar's missing cell is day 3, in both stages.
    for s in [raw, clean] {
        assert!(
            s.contains("class=\"missing\" data-interval=\"2026-11-25T00:00:00Z\""),
            "{s}"
        );
        assert_eq!(s.matches("class=\"missing\" data-interval=").count(), 1);
    }
    assert!(
        clean.contains("class=\"replayed\" data-interval=\"2026-11-24T00:00:00Z\""),
        "{clean}"
    );
    // The records chart: one line per stage, the tallest day's count on its axis.
    for s in [raw, clean] {
        assert!(s.contains("data-chart=\"records\" data-max=\"12\""), "{s}");
    }
    // Reasons with their counts, and who rejected them.
    assert!(raw.contains("invalid JSON"), "{raw}");
    assert!(
        clean.contains("field `text` is an object, not a string"),
        "{clean}"
    );
    // The modules: normalize's two builds, and the change on day 4.
    let sha = |p: &Path| weir_tests::sha256(&std::fs::read(p).unwrap_or_else(|e| panic!("{e}")));
    assert!(
        clean.contains(&sha(&module)) && clean.contains(&sha(&v2)),
        "{clean}"
    );
    assert!(
        clean.contains("2026-11-26T00:00:00Z: <b>normalize</b>"),
        "{clean}"
    );
    // The lineage graph: raw → clean, 3 intervals, 1 from a replaced commit.
    let graph = &dom[dom.find("id=\"lineage-graph\"").unwrap_or(0)..];
    assert!(graph.contains("3 intervals"), "{graph}");
    assert!(graph.contains("1 from a replaced commit"), "{graph}");

    // A screenshot, for a person to look at (kept beside the target dir).
    let shot = sb.join("report.png");
    headless(
        &sb,
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2600".into(),
        ],
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot: {e}"));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    let keep = workspace().join("target/it-report");
    if std::fs::create_dir_all(&keep).is_ok() {
        let _ = std::fs::copy(&shot, keep.join("report.png"));
        let _ = std::fs::copy(&page, keep.join("report.html"));
    }
}

#[test]
fn report_of_a_missing_stage_fails_naming_it() {
    let sb = Sandbox::new();
    let r = sb
        .weir(&["report", "nowhere", "-o", "r.html"])
        .expect_code(1);
    assert!(r.stderr.contains("nowhere"), "{}", r.stderr);
    assert!(!sb.join("r.html").exists());
}

/// Shards sealed but not merged are shown on their interval: a sharded run
/// with one of its two shards done is uncommitted, with its results waiting.
#[test]
fn report_shows_sealed_shards_that_wait_for_their_commit() {
    let sb = Sandbox::new();
    let records: String = (0..200).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    sb.write("input.ndjson", records);
    let day = ["--interval", DAYS[0]];
    let with_day = |args: &[&str]| -> Vec<String> {
        args.iter().chain(&day).map(|a| (*a).to_owned()).collect()
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sb.weir(&args).ok()
    };
    run(with_day(&[
        "stage",
        "raw",
        "input.ndjson",
        "--max-batch-bytes",
        "1KB",
    ]));
    let plan = run(with_day(&[
        "plan",
        "--input",
        "raw",
        "--parts-per-shard",
        "1",
    ]))
    .json();
    let shards = plan["shards"].as_array().cloned().unwrap_or_default();
    assert!(shards.len() >= 2, "{plan}");
    let last = shards[shards.len() - 1].as_str().unwrap_or_default();
    run(with_day(&[
        "run", "--input", "raw", "--output", "clean", "--shard", last,
    ]));
    let summary = run(vec![
        "report".into(),
        "clean".into(),
        "-o".into(),
        "report.html".into(),
        "--json".into(),
    ])
    .json();
    let s = &summary["stages"][0];
    assert_eq!(
        (&s["committed"], &s["uncommitted"], &s["unmerged"]),
        (
            &serde_json::json!(0),
            &serde_json::json!(1),
            &serde_json::json!(1)
        ),
        "{summary}"
    );
    let page = sb.join("report.html");
    let dom = headless(&sb, &page, &["--dump-dom".into()]);
    let clean = section(&dom, 0);
    assert_eq!(total(clean, "unmerged"), "1");
    assert!(
        clean.contains(&format!(
            "1 of {} shard results sealed, waiting for weir commit",
            shards.len()
        )),
        "{clean}"
    );
}
