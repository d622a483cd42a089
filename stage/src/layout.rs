//! Every name Weir gives an object beneath a stage (docs/staging.md).
//!
//! Owns the layout as pure functions of what is named: interval folders,
//! the manifest, the quarantine, shard results, part names, run ids, the
//! in-progress upload files object_store leaves on a local disk, and the
//! rule that a manifest's parts lie directly inside their folder. Paths are
//! relative to the stage and slash-separated. Touches no store and must not
//! import anything but [`Interval`] and [`Codec`].

use chrono::{DateTime, Utc};

use crate::batch::codec::Codec;
use crate::interval::Interval;

/// The name of the manifest object in an interval folder: the commit.
pub const MANIFEST: &str = "_manifest.json";
/// The folder beside the intervals that holds rejected records.
pub const QUARANTINE: &str = "_quarantine";
/// The folder (under the stage) of uncommitted shard results.
pub const SHARDS: &str = "_shards";

/// The interval's folder, e.g. `interval=20261126T000000Z`.
pub fn interval_dir(interval: &Interval) -> String {
    interval.folder()
}

/// The interval's manifest.
pub fn manifest(interval: &Interval) -> String {
    format!("{}/{MANIFEST}", interval.folder())
}

/// The interval's quarantine folder.
pub fn quarantine_dir(interval: &Interval) -> String {
    format!("{QUARANTINE}/{}", interval.folder())
}

/// The interval's folder of uncommitted shard results.
pub fn shards_dir(interval: &Interval) -> String {
    format!("{SHARDS}/{}", interval.folder())
}

/// The folders a commit of `interval` owns, which cleanup looks through.
pub fn owned_dirs(interval: &Interval) -> [String; 3] {
    [
        interval_dir(interval),
        quarantine_dir(interval),
        shards_dir(interval),
    ]
}

/// The result of shard `index` of `count` of `interval`.
pub fn shard_result(interval: &Interval, index: u32, count: u32) -> String {
    format!(
        "{}/shard-{index:05}-of-{count:05}.json",
        shards_dir(interval)
    )
}

/// The `(index, count)` a shard result's object name (its last segment)
/// claims, when it is one and `index < count`.
pub fn parse_shard_result(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("shard-")?.strip_suffix(".json")?;
    let (index, count) = rest.split_once("-of-")?;
    let (index, count) = (index.parse().ok()?, count.parse().ok()?);
    (index < count).then_some((index, count))
}

/// A fresh run id: the attempt's start time and random hex, unique per
/// attempt, so attempts never overwrite each other's objects.
pub fn new_run_id(started: DateTime<Utc>) -> String {
    format!(
        "{}-{}",
        started.format("%Y%m%dT%H%M%SZ"),
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

/// Part number `index` of a run in `folder`, in `codec`: its name ends
/// `.ndjson.gz` or `.ndjson.zst`.
pub fn part(folder: &str, index: usize, run_id: &str, codec: Codec) -> String {
    format!(
        "{folder}/part-{index:05}-{run_id}.ndjson.{}",
        codec.extension()
    )
}

/// Whether a local file name is one of object_store's in-progress uploads,
/// `NAME#N` (the rule its listing hides them by).
pub fn is_upload_in_progress(name: &str) -> bool {
    name.split_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks that a part a manifest lists lies directly inside `folder`
/// (which ends in `/`): no deeper, and not the folder itself.
pub fn check_part_path(path: &str, folder: &str) -> Result<(), String> {
    let name = path.strip_prefix(folder).unwrap_or_default();
    if name.is_empty() || name.contains('/') || name == ".." || name == "." {
        return Err(format!(
            "part path {path:?} is not directly inside {folder}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> Interval {
        "2026-11-26".parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn names_of_an_interval() {
        let i = day();
        assert_eq!(manifest(&i), "interval=20261126T000000Z/_manifest.json");
        assert_eq!(quarantine_dir(&i), "_quarantine/interval=20261126T000000Z");
        assert_eq!(
            shard_result(&i, 2, 7),
            "_shards/interval=20261126T000000Z/shard-00002-of-00007.json"
        );
        assert_eq!(
            part(&interval_dir(&i), 3, "r1", Codec::Gzip),
            "interval=20261126T000000Z/part-00003-r1.ndjson.gz"
        );
        assert_eq!(
            part(&interval_dir(&i), 3, "r1", Codec::Zstd),
            "interval=20261126T000000Z/part-00003-r1.ndjson.zst"
        );
    }

    #[test]
    fn shard_result_names_round_trip_and_refuse_impossible_indices() {
        assert_eq!(
            parse_shard_result("shard-00002-of-00007.json"),
            Some((2, 7))
        );
        assert_eq!(parse_shard_result("shard-00007-of-00007.json"), None);
        assert_eq!(parse_shard_result("part-00000-x.ndjson.gz"), None);
    }

    #[test]
    fn in_progress_uploads_are_name_hash_digits() {
        assert!(is_upload_in_progress("part-00000-r.ndjson.gz#12"));
        assert!(!is_upload_in_progress("part-00000-r.ndjson.gz"));
        assert!(!is_upload_in_progress("a#"));
        assert!(!is_upload_in_progress("a#1x"));
    }

    #[test]
    fn parts_lie_directly_inside_their_folder() {
        let f = "interval=20261126T000000Z/";
        assert!(check_part_path("interval=20261126T000000Z/part-0.ndjson.gz", f).is_ok());
        for bad in [
            "interval=20261126T000000Z/",
            "interval=20261126T000000Z/a/b",
            "interval=20261126T000000Z/..",
            "elsewhere/part-0.ndjson.gz",
        ] {
            assert!(check_part_path(bad, f).is_err(), "{bad} accepted");
        }
    }
}
