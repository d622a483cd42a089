//! What a commit leaves on the store, through the crate's public API:
//! `IntervalWriter::commit` hands cleanup (module `cleanup`) the attempts
//! that killed runs stranded. Kept out of `cleanup`'s own unit tests so that
//! `cleanup` need not import `write`, which calls it.

use std::io::Write;
use std::time::{Duration, SystemTime};

use weir_stage::batch::codec::Compression;
use weir_stage::layout;
use weir_stage::manifest::Producer;
use weir_stage::write::{InputCounts, IntervalWriter, WriteOptions};
use weir_stage::{Interval, RetrySettings, Stage, StageUrl};

/// Writes a file at `path` that was last written `age` ago.
fn plant(path: &std::path::Path, age: Duration) {
    let parent = path
        .parent()
        .unwrap_or_else(|| panic!("{}", path.display()));
    std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    let mut f = std::fs::File::create(path).unwrap_or_else(|e| panic!("{e}"));
    f.write_all(b"half an upload")
        .unwrap_or_else(|e| panic!("{e}"));
    f.set_modified(SystemTime::now() - age)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_commit_removes_stranded_local_uploads_of_its_interval_older_than_the_grace() {
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path().join("s");
    let url = StageUrl::parse(&root.to_string_lossy()).unwrap_or_else(|e| panic!("{e}"));
    let stage = Stage::open(&url, &RetrySettings::default(), rt.handle().clone())
        .unwrap_or_else(|e| panic!("{e}"));
    let interval: Interval = "2026-11-26".parse().unwrap_or_else(|e| panic!("{e}"));
    let f = interval.folder();
    let part = "part-00000-20261126T010000Z-0123456789ab.ndjson.gz";
    let hours = |n: u64| Duration::from_secs(n * 3600);
    // What killed attempts left two hours ago, in the interval's folders.
    let stranded = [
        format!("{f}/{part}#1"),
        format!("{f}/{}#2", layout::MANIFEST),
        format!("_quarantine/{f}/{part}#1"),
        format!("_shards/{f}/result.json#1"),
    ];
    // An upload that may still be going on, another interval's, and
    // one outside the interval folders.
    let young = format!("{f}/part-00001-20261126T010000Z-0123456789ab.ndjson.gz#3");
    let elsewhere = [
        format!("interval=20261127T000000Z/{part}#1"),
        "notes.txt#1".to_owned(),
    ];
    for rel in &stranded {
        plant(&root.join(rel), hours(2));
    }
    plant(&root.join(&young), hours(0));
    for rel in &elsewhere {
        plant(&root.join(rel), hours(2));
    }

    let mut writer = IntervalWriter::new(&stage, interval, WriteOptions::default());
    writer
        .write_members(Compression::default().compress_lines(b"{\"a\":1}\n", 1000))
        .unwrap_or_else(|e| panic!("{e}"));
    let producer = Producer {
        name: "test".into(),
        version: "0".into(),
        command: "test".into(),
        transforms: vec![],
        extract: None,
    };
    let commit = writer
        .commit(producer, InputCounts::default(), vec![])
        .unwrap_or_else(|e| panic!("{e}"));

    let mut deleted = commit.deleted.clone();
    deleted.sort();
    let mut expect = stranded.to_vec();
    expect.sort();
    assert_eq!(deleted, expect);
    for rel in &stranded {
        assert!(!root.join(rel).exists(), "{rel} was kept");
    }
    for rel in elsewhere.iter().chain([&young]) {
        assert!(root.join(rel).exists(), "{rel} was removed");
    }
    let (manifest, _) = stage
        .read_manifest(&interval)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(manifest.totals.records, 1);
    assert!(root.join(&manifest.parts[0].path).exists());
}
