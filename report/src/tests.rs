//! Unit tests of the model and the page, on manifests built in memory.

use chrono::TimeDelta;
use weir_stage::Interval;
use weir_stage::manifest::{
    Counts as TransformCounts, FORMAT_VERSION, IntervalInfo, Lineage, Manifest, Producer,
    QuarantineInfo, Replay, Totals, TransformInfo,
};
use weir_stage::quarantine::QuarantineEntry;

use crate::changes::{self, Measure};
use crate::html;
use crate::model::{Commit, LakeReport, Range, ShardResults, StageData, Status};
use crate::reasons::{EXAMPLES, ReasonTally, without_numbers};

const RAW: &str = "file:///lake/raw";
const CLEAN: &str = "file:///lake/clean";

fn day(d: &str) -> Interval {
    d.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn transform(name: &str, sha: &str) -> TransformInfo {
    TransformInfo {
        name: name.into(),
        module_sha256: sha.into(),
        module_bytes: 1,
        config_sha256: "c".into(),
        limits: serde_json::Value::Null,
        grants: vec![],
        counts: TransformCounts::default(),
    }
}

/// A manifest of `records` committed and `quarantined` rejected records.
fn manifest(stage: &str, i: Interval, records: u64, quarantined: u64) -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        stage: stage.into(),
        interval: IntervalInfo {
            start: i.rfc3339(),
            end: None,
            folder: i.folder(),
        },
        run_id: "r".into(),
        created: "2026-12-01T00:00:00Z".into(),
        producer: Producer {
            name: "weir".into(),
            version: "0.1.0".into(),
            command: "stage".into(),
            transforms: vec![],
            extract: None,
        },
        parts: vec![],
        quarantine: QuarantineInfo {
            records: quarantined,
            parts: vec![],
        },
        totals: Totals {
            records,
            uncompressed_bytes: records * 100,
            input_records: records + quarantined + 1,
            quarantined,
            blank_lines: 1,
            ..Totals::default()
        },
        lineage: vec![],
        replays: vec![],
        shards: vec![],
    }
}

fn committed(m: Manifest, sha: &str) -> Commit {
    Commit::Committed(Box::new(m), sha.into())
}

fn data(url: &str, intervals: Vec<(Interval, Commit)>) -> StageData {
    StageData {
        url: url.into(),
        intervals,
        reasons: ReasonTally::default(),
        shard_results: Default::default(),
    }
}

fn build(stages: &[StageData], range: Range, every: Option<TimeDelta>) -> LakeReport {
    LakeReport::build(stages, range, every, "2026-12-03T00:00:00Z".into())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn entry(reason: &str, record: &str, transform: Option<&str>) -> QuarantineEntry {
    let mut e = QuarantineEntry::new("in.ndjson", 4, reason.into(), record.as_bytes());
    e.transform = transform.map(str::to_owned);
    e
}

#[test]
fn counts_sum_committed_intervals_and_the_rate_leaves_out_blank_lines() {
    let d1 = day("2026-11-26");
    let d2 = day("2026-11-27");
    let raw = data(
        RAW,
        vec![
            (d1, committed(manifest(RAW, d1, 98, 2), "a")),
            (d2, committed(manifest(RAW, d2, 100, 0), "b")),
        ],
    );
    let r = build(&[raw], Range::default(), None);
    let s = &r.stages[0].summary;
    assert_eq!((s.committed, s.missing, s.replayed), (2, 0, 0));
    assert_eq!(s.counts.records, 198);
    assert_eq!(s.counts.quarantined, 2);
    assert_eq!(s.counts.bytes, 19_800);
    // 2 of 200 non-blank input lines (each interval had a blank line).
    assert_eq!(s.counts.input, 200);
    assert!((s.counts.quarantine_rate() - 0.01).abs() < 1e-12);
}

#[test]
fn a_gap_in_the_cadence_and_the_range_ends_are_missing_intervals() {
    let days = ["2026-11-26", "2026-11-27", "2026-11-29"].map(day);
    let raw = data(
        RAW,
        days.iter()
            .map(|d| (*d, committed(manifest(RAW, *d, 10, 0), "x")))
            .chain([(day("2026-11-30"), Commit::NotCommitted)])
            .collect(),
    );
    let range = Range::new(Some(day("2026-11-25")), Some(day("2026-12-01")))
        .unwrap_or_else(|e| panic!("{e}"));
    let r = build(&[raw], range, None);
    let s = &r.stages[0];
    assert_eq!(s.every, Some(TimeDelta::days(1)));
    let states: Vec<(String, &str)> = s
        .timeline
        .iter()
        .map(|r| (r.interval.to_string(), r.status.word()))
        .collect();
    let want = [
        ("2026-11-25", "missing"),
        ("2026-11-26", "committed"),
        ("2026-11-27", "committed"),
        ("2026-11-28", "missing"),
        ("2026-11-29", "committed"),
        ("2026-11-30", "uncommitted"),
        ("2026-12-01", "missing"),
    ];
    assert_eq!(
        states,
        want.map(|(d, w)| (day(d).to_string(), w)).to_vec(),
        "{states:?}"
    );
    assert_eq!((s.summary.missing, s.summary.not_committed), (3, 1));
}

#[test]
fn recorded_interval_ends_give_the_cadence_of_a_single_interval() {
    let d = day("2026-11-26T00:00:00Z");
    let mut m = manifest(RAW, d, 10, 0);
    m.interval.end = Some("2026-11-26T01:00:00Z".into());
    let raw = data(RAW, vec![(d, committed(m, "x"))]);
    let range =
        Range::new(Some(d), Some(day("2026-11-26T03:00:00Z"))).unwrap_or_else(|e| panic!("{e}"));
    let r = build(&[raw], range, None);
    assert_eq!(r.stages[0].every, Some(TimeDelta::hours(1)));
    assert_eq!(r.stages[0].summary.missing, 3);
}

#[test]
fn starts_off_the_cadence_say_why_no_interval_is_called_missing() {
    let days = [
        "2026-11-26T00:00:00Z",
        "2026-11-27T00:00:00Z",
        "2026-11-28T00:00:00Z",
        "2026-11-28T07:00:00Z",
    ]
    .map(day);
    let raw = data(
        RAW,
        days.iter()
            .map(|d| (*d, committed(manifest(RAW, *d, 10, 0), "x")))
            .collect(),
    );
    let r = build(&[raw], Range::default(), None);
    let s = &r.stages[0];
    assert_eq!(s.summary.missing, 0);
    assert_eq!(s.timeline.len(), 4);
    let note = s.cadence_note.as_deref().unwrap_or_default();
    assert!(note.contains("not 1d apart"), "{note}");
}

#[test]
fn too_many_intervals_in_the_range_is_an_error_naming_the_stage() {
    let d = day("2026-01-01");
    let raw = data(RAW, vec![(d, committed(manifest(RAW, d, 1, 0), "x"))]);
    let range = Range::new(Some(d), Some(day("2040-01-01"))).unwrap_or_else(|e| panic!("{e}"));
    let e = LakeReport::build(&[raw], range, Some(TimeDelta::hours(1)), String::new())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("file:///lake/raw: the range holds"), "{e}");
    assert!(Range::new(Some(day("2026-02-01")), Some(d)).is_err());
}

#[test]
fn one_unusual_interval_is_the_largest_change_not_the_one_after_it() {
    let counts = [100, 102, 98, 100, 500, 101, 99];
    let intervals: Vec<(Interval, Commit)> = counts
        .iter()
        .enumerate()
        .map(|(k, n)| {
            let d = Interval::from_start(day("2026-11-01").start() + TimeDelta::days(k as i64))
                .unwrap_or_else(|e| panic!("{e}"));
            let q = if k == 5 { 20 } else { 0 };
            (d, committed(manifest(RAW, d, *n, q), "x"))
        })
        .collect();
    let r = build(&[data(RAW, intervals)], Range::default(), None);
    let s = &r.stages[0];
    let top = s.record_changes[0];
    assert_eq!(top.interval, day("2026-11-05"));
    assert_eq!(top.value, 500.0);
    assert_eq!(top.baseline, 100.0);
    assert!((top.change - 4.0).abs() < 1e-12);
    // The interval after the spike is measured against a median that the
    // spike barely moved: a small change, far below.
    let after = s
        .record_changes
        .iter()
        .find(|c| c.interval == day("2026-11-06"))
        .map(|c| c.change.abs())
        .unwrap_or_default();
    assert!(after < 0.02, "{after}");
    assert_eq!(s.rate_changes[0].interval, day("2026-11-06"));
    let rate = 20.0 / 121.0;
    assert!((s.rate_changes[0].change - rate).abs() < 1e-12);
    assert!(changes::largest(&s.timeline, Measure::Records, 1).len() == 1);
}

#[test]
fn reasons_group_by_transform_and_reason_without_numbers_keeping_few_examples() {
    let d = day("2026-11-26");
    let mut t = ReasonTally::default();
    for col in 1..=5 {
        t.add(
            d,
            &entry(
                &format!("invalid JSON: expected value at line 1 column {col}"),
                "nope",
                None,
            ),
        );
    }
    t.add(
        d,
        &entry(
            "field `text` is a number, not a string",
            "{\"text\":1}",
            Some("normalize"),
        ),
    );
    t.add(
        d,
        &entry(
            "invalid JSON: expected value at line 1 column 2",
            "x",
            Some("normalize"),
        ),
    );
    let long = "é".repeat(1000);
    t.add(
        d,
        &entry(
            "field `text` is a number, not a string",
            &long,
            Some("normalize"),
        ),
    );
    let top = t.top(10);
    assert_eq!(top.len(), 3);
    assert_eq!(
        top[0].reason,
        "invalid JSON: expected value at line N column N"
    );
    assert_eq!((top[0].count, top[0].transform.as_deref()), (5, None));
    assert_eq!(top[0].examples.len(), EXAMPLES);
    assert_eq!(
        top[0].examples[0].reason,
        "invalid JSON: expected value at line 1 column 1"
    );
    assert_eq!(top[1].count, 2);
    assert_eq!(top[1].transform.as_deref(), Some("normalize"));
    let cut = &top[1].examples[1];
    assert!(cut.cut && cut.text.chars().count() == crate::reasons::EXAMPLE_CHARS);
    assert_eq!(t.coverage().entries_read, 8);
    assert_eq!(
        without_numbers("record of 12 bytes exceeds 1024"),
        "record of N bytes exceeds N"
    );

    let mut other = ReasonTally::default();
    other.add(
        d,
        &entry("invalid JSON: expected value at line 9 column 9", "y", None),
    );
    t.merge(other);
    assert_eq!(t.top(1)[0].count, 6);
    assert_eq!(t.top(1)[0].examples.len(), EXAMPLES);
}

#[test]
fn module_changes_and_replays_and_stale_inputs_are_found() {
    let days = ["2026-11-26", "2026-11-27", "2026-11-28"].map(day);
    let raw = data(
        RAW,
        days.iter()
            .map(|d| (*d, committed(manifest(RAW, *d, 10, 0), &format!("raw-{d}"))))
            .collect(),
    );
    let clean = data(
        CLEAN,
        days.iter()
            .enumerate()
            .map(|(k, d)| {
                let mut m = manifest(CLEAN, *d, 10, 0);
                m.producer.command = "run".into();
                let sha = if k < 2 { "aaaa" } else { "bbbb" };
                m.producer.transforms = vec![transform("normalize", sha)];
                // The first interval was made from a commit of raw since replaced.
                let input_sha = if k == 0 {
                    "old".to_string()
                } else {
                    format!("raw-{d}")
                };
                m.lineage = vec![Lineage {
                    stage: RAW.into(),
                    interval: d.rfc3339(),
                    manifest_sha256: input_sha,
                }];
                if k == 1 {
                    m.replays = vec![Replay {
                        run_id: "r2".into(),
                        created: "2026-12-02T00:00:00Z".into(),
                        previous_manifest_sha256: "p".into(),
                        transforms: vec![transform("normalize", "cccc")],
                        replayed: 1,
                        recovered: 1,
                        not_replayable: 0,
                    }];
                }
                (*d, committed(m, "c"))
            })
            .collect(),
    );
    let r = build(&[raw, clean], Range::default(), None);
    let c = &r.stages[1];
    assert_eq!(c.summary.replayed, 1);
    assert_eq!(c.timeline[1].status, Status::Replayed(1));
    assert_eq!(c.summary.stale, 1);
    assert_eq!(c.timeline[0].stale_inputs, vec![RAW.to_string()]);
    assert_eq!(c.module_changes.len(), 1);
    let change = &c.module_changes[0];
    assert_eq!(change.interval, days[2]);
    assert_eq!(
        (change.from.as_deref(), change.to.as_deref()),
        (Some("aaaa"), Some("bbbb"))
    );
    let uses: Vec<(&str, bool, u64)> = c
        .modules
        .iter()
        .map(|m| (m.sha256.as_str(), m.replay, m.intervals))
        .collect();
    assert_eq!(
        uses,
        vec![("aaaa", false, 2), ("cccc", true, 1), ("bbbb", false, 1)]
    );
    assert_eq!(r.lineage.nodes.len(), 2);
    assert_eq!(r.lineage.edges.len(), 1);
    let e = &r.lineage.edges[0];
    assert_eq!((e.from, e.to, e.intervals, e.stale), (0, 1, 3, 1));
    assert_eq!(r.lineage.nodes[1].layer, 1);
}

#[test]
fn the_page_shows_record_text_escaped_and_holds_no_script() {
    let d = day("2026-11-26");
    let mut raw = data(RAW, vec![(d, committed(manifest(RAW, d, 10, 1), "x"))]);
    raw.reasons.add(
        d,
        &entry(
            "invalid JSON: \"<b>\"",
            "{\"text\":\"<script>alert(1)</script>\"",
            None,
        ),
    );
    raw.reasons.set_extent(1, 1, 1);
    let page = html::render(&build(&[raw], Range::default(), None));
    assert!(
        !page.to_ascii_lowercase().contains("<script"),
        "a script element"
    );
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("invalid JSON: &quot;&lt;b&gt;&quot;"));
    assert!(page.contains("default-src 'none'"));
    assert!(page.contains("data-k=\"committed\">1<"));
    assert_eq!(html::thousands(1_234_567), "1,234,567");
    assert_eq!(html::bytes(1536), "1.5 KiB");
    assert_eq!(html::percent(0.0017), "0.17%");
}

#[test]
fn sealed_shards_not_merged_show_on_their_interval_and_in_the_totals() {
    // Two results of a 3-shard plan and one left from an older 2-shard plan.
    let names = [
        "shard-00000-of-00003.json",
        "shard-00002-of-00003.json",
        "shard-00001-of-00002.json",
        "part-00000-x.ndjson.gz",
    ];
    let waiting = ShardResults::of(names);
    assert_eq!(
        waiting,
        Some(ShardResults {
            sealed: 2,
            count: 3
        })
    );
    assert_eq!(ShardResults::of(["_manifest.json"]), None);
    let (d1, d2) = (day("2026-11-26"), day("2026-11-27"));
    let mut raw = data(
        RAW,
        vec![
            (d1, committed(manifest(RAW, d1, 10, 0), "x")),
            (d2, Commit::NotCommitted),
        ],
    );
    raw.shard_results.insert(d2, waiting.unwrap_or_default());
    let r = build(&[raw], Range::default(), None);
    let s = &r.stages[0];
    assert_eq!((s.summary.not_committed, s.summary.unmerged), (1, 1));
    assert_eq!(s.timeline[0].shards, None);
    assert_eq!(s.timeline[1].shards.map(|x| x.sealed), Some(2));
    let page = html::render(&r);
    assert!(page.contains("data-k=\"unmerged\">1<"));
    assert!(page.contains("2 of 3 shard results sealed, waiting for weir commit"));
    assert!(
        page.contains("class=\"uncommitted unmerged\""),
        "the cell is marked"
    );
}

#[test]
fn the_records_chart_has_a_point_per_committed_interval_and_a_tick_per_gap() {
    let days = ["2026-11-26", "2026-11-27", "2026-11-29", "2026-11-30"].map(day);
    let raw = data(
        RAW,
        days.iter()
            .zip([100, 50, 25, 100])
            .map(|(d, n)| (*d, committed(manifest(RAW, *d, n, 0), "x")))
            .collect(),
    );
    let page = html::render(&build(&[raw], Range::default(), None));
    let at = page
        .find("data-chart=\"records\"")
        .unwrap_or_else(|| panic!("no records chart"));
    let chart = &page[at..at + page[at..].find("</svg>").unwrap_or(0)];
    assert!(chart.contains("data-max=\"100\""), "{chart}");
    let path = |class: &str| {
        let from = chart
            .find(&format!("class=\"{class}\" d=\""))
            .unwrap_or_else(|| panic!("no {class} path in {chart}"))
            + class.len()
            + 12;
        chart[from..from + chart[from..].find('"').unwrap_or(0)].to_owned()
    };
    let line = path("records");
    // Two runs (26–27, 29–30) around the missing 28th: two moves, two lines.
    assert_eq!(line.matches('M').count(), 2, "{line}");
    assert_eq!(line.matches('L').count(), 2, "{line}");
    assert_eq!(path("gaps").matches('M').count(), 1);
    // The tallest intervals touch the top (y = 8), the 25 sits at 3/4 down.
    assert!(line.starts_with("M64.0,8.0"), "{line}");
    assert!(line.contains(",71.0"), "{line}");
}
