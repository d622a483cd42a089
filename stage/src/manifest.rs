//! The manifest: `_manifest.json`, written last, is an interval's commit.
//!
//! Owns the manifest's format (docs/staging.md), parsing it strictly enough
//! that a hand-edited or foreign file is refused with a clear reason, and
//! checking that its totals add up. Knows nothing about stores.

use serde::{Deserialize, Serialize};

use crate::batch::codec::Codec;
use crate::layout;

/// The manifest format this version of Weir writes.
///
/// Version 2 added each part's member index ([`PartInfo::members`]);
/// version 1 manifests (no index) are still read, and their parts are
/// read as one stream each.
pub const FORMAT_VERSION: u32 = 2;

/// Every manifest format this version of Weir reads.
pub const READ_FORMAT_VERSIONS: [u32; 2] = [1, 2];

/// `producer.name` in the manifests Weir writes.
pub const WEIR_PRODUCER: &str = "weir";

/// An interval's commit: what it holds, who made it and from what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT_VERSION`] for manifests this Weir reads.
    pub format_version: u32,
    /// The stage, as a URL (never with credentials).
    pub stage: String,
    /// The interval.
    pub interval: IntervalInfo,
    /// The run that committed: unique per attempt, also in part names.
    pub run_id: String,
    /// When the commit was made (RFC 3339, UTC).
    pub created: String,
    /// What produced the data.
    pub producer: Producer,
    /// The parts, in record order. Paths are relative to the stage.
    pub parts: Vec<PartInfo>,
    /// Rejected records of this interval.
    pub quarantine: QuarantineInfo,
    /// Sums over `parts` and how the input was accounted for.
    pub totals: Totals,
    /// The committed inputs this interval was made from.
    #[serde(default)]
    pub lineage: Vec<Lineage>,
    /// Replays of quarantined records into this interval, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replays: Vec<Replay>,
    /// The shards this commit merged (`weir commit`), in input order; empty
    /// for a single-process run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardInfo>,
}

/// One shard of a sharded run, as the merged manifest records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// `INDEX/COUNT`, 0-based: the work unit of `weir plan`.
    pub shard: String,
    /// The shard run's run id (also in the names of its parts).
    pub run_id: String,
    /// The input parts it processed: indices into the input manifest's
    /// `parts`, `[first, end)`.
    pub input_parts: [u64; 2],
    /// Input records it read.
    pub input_records: u64,
}

/// A replay: quarantined records re-run (e.g. after fixing a module) and
/// the recovered ones added to the interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    /// The replay's run id (also in the names of the parts it added).
    pub run_id: String,
    /// When it committed.
    pub created: String,
    /// sha256 of the manifest it replaced.
    pub previous_manifest_sha256: String,
    /// The transforms the records were re-run through, with their counts.
    pub transforms: Vec<TransformInfo>,
    /// Quarantined records re-run.
    pub replayed: u64,
    /// Of those, records that now produced output (or were filtered).
    pub recovered: u64,
    /// Quarantined records that could not be re-run (not UTF-8, too long)
    /// and stay quarantined as they were.
    pub not_replayable: u64,
}

/// The interval a manifest commits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalInfo {
    /// Start, RFC 3339 UTC.
    pub start: String,
    /// End, RFC 3339 UTC, when the scheduler gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// The folder, e.g. `interval=20261126T000000Z`.
    pub folder: String,
}

/// What produced an interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Producer {
    /// Always `weir`.
    pub name: String,
    /// Weir's version.
    pub version: String,
    /// The command, e.g. `stage` or `run`.
    pub command: String,
    /// The transforms applied, in order (empty for `stage`).
    #[serde(default)]
    pub transforms: Vec<TransformInfo>,
    /// What `weir extract` read (docs/extract.md): the source without its
    /// password, the table or query, the window, counts and replay
    /// positions. Absent for every other command, and in older manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<serde_json::Value>,
}

/// One transform of a run, with its counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "TransformInfoFields", into = "TransformInfoFields")]
pub struct TransformInfo {
    /// The transform's name.
    pub name: String,
    /// The module's sha256 (hex).
    pub module_sha256: String,
    /// The module's size in bytes.
    pub module_bytes: u64,
    /// sha256 of the configuration text.
    pub config_sha256: String,
    /// The limits it ran under.
    pub limits: serde_json::Value,
    /// Capabilities granted (e.g. the assets directory).
    pub grants: Vec<String>,
    /// What it did with its records.
    pub counts: Counts,
}

/// What one transform did with its records: records in = out + filtered +
/// quarantined (extra outputs of flat_map are counted in `emitted`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Input records.
    pub records_in: u64,
    /// Input records that produced at least one output.
    pub records_out: u64,
    /// Output records produced (can exceed `records_out` for flat_map),
    /// including those `finish` produced.
    pub emitted: u64,
    /// Input records that produced no output.
    pub filtered: u64,
    /// Input records quarantined.
    pub quarantined: u64,
}

impl Counts {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Counts) {
        self.records_in += other.records_in;
        self.records_out += other.records_out;
        self.emitted += other.emitted;
        self.filtered += other.filtered;
        self.quarantined += other.quarantined;
    }
}

/// [`TransformInfo`] as the manifest spells it: the counts beside the
/// other fields, as format version 1 has always had them. (Not
/// `#[serde(flatten)]`: flattened numbers do not deserialize when
/// serde_json's `arbitrary_precision` is on, as it is in builds that
/// include the guest SDK.)
#[derive(Serialize, Deserialize)]
struct TransformInfoFields {
    name: String,
    module_sha256: String,
    module_bytes: u64,
    config_sha256: String,
    limits: serde_json::Value,
    #[serde(default)]
    grants: Vec<String>,
    records_in: u64,
    records_out: u64,
    emitted: u64,
    filtered: u64,
    quarantined: u64,
}

impl From<TransformInfoFields> for TransformInfo {
    fn from(f: TransformInfoFields) -> Self {
        Self {
            name: f.name,
            module_sha256: f.module_sha256,
            module_bytes: f.module_bytes,
            config_sha256: f.config_sha256,
            limits: f.limits,
            grants: f.grants,
            counts: Counts {
                records_in: f.records_in,
                records_out: f.records_out,
                emitted: f.emitted,
                filtered: f.filtered,
                quarantined: f.quarantined,
            },
        }
    }
}

impl From<TransformInfo> for TransformInfoFields {
    fn from(t: TransformInfo) -> Self {
        Self {
            name: t.name,
            module_sha256: t.module_sha256,
            module_bytes: t.module_bytes,
            config_sha256: t.config_sha256,
            limits: t.limits,
            grants: t.grants,
            records_in: t.counts.records_in,
            records_out: t.counts.records_out,
            emitted: t.counts.emitted,
            filtered: t.counts.filtered,
            quarantined: t.counts.quarantined,
        }
    }
}

/// One part of an interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartInfo {
    /// Path relative to the stage.
    pub path: String,
    /// Records (lines).
    pub records: u64,
    /// Uncompressed bytes.
    pub uncompressed_bytes: u64,
    /// Compressed (stored) bytes.
    pub compressed_bytes: u64,
    /// sha256 of the stored bytes, hex.
    pub sha256: String,
    /// How the part is compressed. Left out for gzip, so manifests of
    /// gzip parts are as they always were, and a manifest without it
    /// (every one before zstd) reads as gzip. A part whose name ends in
    /// `.gz` or `.zst` must have that codec.
    #[serde(default, skip_serializing_if = "Codec::is_gzip")]
    pub codec: Codec,
    /// The part's members (gzip members or zstd frames) in stored order,
    /// so a reader can fetch, verify and decompress any run of them on its
    /// own: workers read their own input, with no serial stage inflating
    /// and hashing every byte. Empty for a part written without an index
    /// (format version 1, foreign writers), which is read whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberInfo>,
}

/// One member of a part: `[compressed_bytes, uncompressed_bytes, records,
/// sha256]`, an array to keep the index small (one per MiB of records).
/// Its offset in the part is the sum of the compressed bytes before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo(
    /// Stored bytes.
    pub u64,
    /// Uncompressed bytes (whole lines, each with its `\n`).
    pub u64,
    /// Records (lines).
    pub u64,
    /// sha256 of the stored bytes, hex.
    pub String,
);

impl MemberInfo {
    /// Stored bytes.
    pub fn compressed_bytes(&self) -> u64 {
        self.0
    }

    /// Uncompressed bytes.
    pub fn uncompressed_bytes(&self) -> u64 {
        self.1
    }

    /// Records.
    pub fn records(&self) -> u64 {
        self.2
    }

    /// sha256 of the stored bytes, hex.
    pub fn sha256(&self) -> &str {
        &self.3
    }
}

impl PartInfo {
    /// Checks the member index against the part: the members must add up
    /// to the part's stored bytes, uncompressed bytes and records, and each
    /// hold something, so a reader that goes by the index reads exactly
    /// the part. A part without an index passes.
    pub fn check_members(&self) -> Result<(), String> {
        if self.members.is_empty() {
            return Ok(());
        }
        let sum = |f: fn(&MemberInfo) -> u64| self.members.iter().map(f).sum::<u64>();
        for (what, actual, claimed) in [
            (
                "compressed_bytes",
                sum(MemberInfo::compressed_bytes),
                self.compressed_bytes,
            ),
            (
                "uncompressed_bytes",
                sum(MemberInfo::uncompressed_bytes),
                self.uncompressed_bytes,
            ),
            ("records", sum(MemberInfo::records), self.records),
        ] {
            if actual != claimed {
                return Err(format!(
                    "part {} lists {claimed} {what} but its members add up to {actual}",
                    self.path
                ));
            }
        }
        for (i, m) in self.members.iter().enumerate() {
            if m.compressed_bytes() == 0 || m.records() == 0 || m.uncompressed_bytes() == 0 {
                return Err(format!("part {} member {i} is empty", self.path));
            }
            if m.3.len() != 64 || !m.3.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(format!(
                    "part {} member {i} has no sha256 (64 lowercase hex digits)",
                    self.path
                ));
            }
        }
        Ok(())
    }
}

/// An interval's quarantine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuarantineInfo {
    /// Rejected records.
    pub records: u64,
    /// The quarantine's parts (gzip NDJSON), paths relative to the stage.
    pub parts: Vec<PartInfo>,
}

/// Totals, and how every input line was accounted for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Parts.
    pub parts: u64,
    /// Committed records.
    pub records: u64,
    /// Uncompressed bytes of the parts.
    pub uncompressed_bytes: u64,
    /// Stored bytes of the parts.
    pub compressed_bytes: u64,
    /// Input records (or lines, for `stage`) read.
    pub input_records: u64,
    /// Input records quarantined.
    pub quarantined: u64,
    /// Input records a transform filtered out.
    #[serde(default)]
    pub filtered: u64,
    /// Blank input lines skipped (only `stage` reads raw lines).
    #[serde(default)]
    pub blank_lines: u64,
}

/// A committed input of an interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    /// The input stage.
    pub stage: String,
    /// The input interval's start (RFC 3339).
    pub interval: String,
    /// sha256 of the input's manifest bytes, so the exact commit is known.
    pub manifest_sha256: String,
}

impl Manifest {
    /// Parses and checks a manifest: known version, consistent totals, part
    /// paths inside the interval's folders.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Version {
            format_version: Option<serde_json::Value>,
        }
        let v: Version =
            serde_json::from_slice(bytes).map_err(|e| format!("not a Weir manifest: {e}"))?;
        match v.format_version {
            Some(serde_json::Value::Number(n))
                if READ_FORMAT_VERSIONS
                    .iter()
                    .any(|v| n.as_u64() == Some(u64::from(*v))) => {}
            Some(other) => {
                return Err(format!(
                    "unsupported format_version {other} (this Weir reads versions 1 to {FORMAT_VERSION}; upgrade Weir)"
                ));
            }
            None => return Err("not a Weir manifest: no format_version".into()),
        }
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| format!("malformed manifest: {e}"))?;
        m.check()?;
        Ok(m)
    }

    /// Serialises for storage (pretty, stable field order, trailing newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self)
            .unwrap_or_else(|e| unreachable!("a manifest always serialises: {e}"));
        out.push(b'\n');
        out
    }

    /// Checks internal consistency.
    pub fn check(&self) -> Result<(), String> {
        let sum = |f: fn(&PartInfo) -> u64| self.parts.iter().map(f).sum::<u64>();
        let t = &self.totals;
        let checks = [
            ("parts", self.parts.len() as u64, t.parts),
            ("records", sum(|p| p.records), t.records),
            (
                "uncompressed_bytes",
                sum(|p| p.uncompressed_bytes),
                t.uncompressed_bytes,
            ),
            (
                "compressed_bytes",
                sum(|p| p.compressed_bytes),
                t.compressed_bytes,
            ),
            (
                "quarantine records",
                self.quarantine.parts.iter().map(|p| p.records).sum(),
                self.quarantine.records,
            ),
        ];
        for (what, actual, claimed) in checks {
            if actual != claimed {
                return Err(format!(
                    "totals say {claimed} {what} but the parts add up to {actual}"
                ));
            }
        }
        if t.quarantined != self.quarantine.records {
            return Err(format!(
                "totals say {} quarantined but the quarantine holds {}",
                t.quarantined, self.quarantine.records
            ));
        }
        let own = format!("{}/", self.interval.folder);
        let quarantine = format!("{}/{}/", layout::QUARANTINE, self.interval.folder);
        let mut seen = std::collections::HashSet::new();
        for (p, folder) in self
            .parts
            .iter()
            .map(|p| (p, &own))
            .chain(self.quarantine.parts.iter().map(|p| (p, &quarantine)))
        {
            layout::check_part_path(&p.path, folder)?;
            // A reader (or a person) that goes by the name must not be misled.
            match Codec::of_name(&p.path) {
                Some(named) if named != p.codec => {
                    return Err(format!(
                        "part {} is named as {named} but listed as {}",
                        p.path, p.codec
                    ));
                }
                None if !p.codec.is_gzip() => {
                    return Err(format!(
                        "part {} is listed as {} but its name does not end in .{}",
                        p.path,
                        p.codec,
                        p.codec.extension()
                    ));
                }
                _ => {}
            }
            // A part listed twice would be read twice: its records doubled downstream.
            if !seen.insert(p.path.as_str()) {
                return Err(format!("part {} is listed twice", p.path));
            }
            if self.format_version < 2 && !p.members.is_empty() {
                return Err(format!(
                    "part {} has a member index, which format_version {} does not have",
                    p.path, self.format_version
                ));
            }
            p.check_members()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let part = PartInfo {
            path: "interval=20261126T000000Z/part-00000-r.ndjson.gz".into(),
            records: 2,
            uncompressed_bytes: 10,
            compressed_bytes: 30,
            sha256: "00".repeat(32),
            codec: Codec::Gzip,
            members: vec![
                MemberInfo(12, 4, 1, "ab".repeat(32)),
                MemberInfo(18, 6, 1, "cd".repeat(32)),
            ],
        };
        Manifest {
            format_version: FORMAT_VERSION,
            stage: "file:///tmp/s".into(),
            interval: IntervalInfo {
                start: "2026-11-26T00:00:00Z".into(),
                end: None,
                folder: "interval=20261126T000000Z".into(),
            },
            run_id: "r".into(),
            created: "2026-11-26T01:00:00Z".into(),
            producer: Producer {
                name: "weir".into(),
                version: "0".into(),
                command: "stage".into(),
                transforms: vec![],
                extract: None,
            },
            parts: vec![part],
            quarantine: QuarantineInfo::default(),
            totals: Totals {
                parts: 1,
                records: 2,
                uncompressed_bytes: 10,
                compressed_bytes: 30,
                input_records: 2,
                ..Totals::default()
            },
            lineage: vec![],
            replays: vec![],
            shards: vec![],
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(Manifest::parse(&m.to_bytes()), Ok(m));
    }

    #[test]
    fn refuses_unknown_versions_and_inconsistent_totals() {
        let mut m = sample();
        m.format_version = 3;
        let e = Manifest::parse(&m.to_bytes()).unwrap_err();
        assert!(e.contains("unsupported format_version 3"), "{e}");

        let mut m = sample();
        m.totals.records = 3;
        let e = Manifest::parse(&m.to_bytes()).unwrap_err();
        assert!(e.contains("totals say 3 records"), "{e}");

        assert!(
            Manifest::parse(b"[]")
                .unwrap_err()
                .contains("not a Weir manifest")
        );
    }

    #[test]
    fn refuses_a_part_listed_twice_naming_it() {
        let mut m = sample();
        m.parts.push(m.parts[0].clone());
        m.totals.parts = 2;
        m.totals.records = 4;
        m.totals.uncompressed_bytes = 20;
        m.totals.compressed_bytes = 60;
        let e = Manifest::parse(&m.to_bytes()).unwrap_err();
        assert!(
            e.contains("part interval=20261126T000000Z/part-00000-r.ndjson.gz is listed twice"),
            "{e}"
        );

        let mut m = sample();
        let q = PartInfo {
            path: "_quarantine/interval=20261126T000000Z/part-00000-r.ndjson.gz".into(),
            ..m.parts[0].clone()
        };
        m.quarantine = QuarantineInfo {
            records: 4,
            parts: vec![q.clone(), q],
        };
        m.totals.quarantined = 4;
        let e = Manifest::parse(&m.to_bytes()).unwrap_err();
        assert!(
            e.contains(
                "_quarantine/interval=20261126T000000Z/part-00000-r.ndjson.gz is listed twice"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_parts_codec_is_recorded_unless_gzip_and_agrees_with_its_name() {
        let m = sample();
        let text = String::from_utf8(m.to_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!text.contains("codec"), "gzip is left out: {text}");

        let mut z = sample();
        z.parts[0].path = "interval=20261126T000000Z/part-00000-r.ndjson.zst".into();
        z.parts[0].codec = Codec::Zstd;
        let text = String::from_utf8(z.to_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert!(text.contains("\"codec\": \"zstd\""), "{text}");
        assert_eq!(Manifest::parse(&z.to_bytes()), Ok(z.clone()));

        let mut wrong = z.clone();
        wrong.parts[0].codec = Codec::Gzip;
        let e = Manifest::parse(&wrong.to_bytes()).unwrap_err();
        assert!(e.contains("is named as zstd but listed as gzip"), "{e}");

        let mut unnamed = z;
        unnamed.parts[0].path = "interval=20261126T000000Z/part-00000-r.ndjson".into();
        let e = Manifest::parse(&unnamed.to_bytes()).unwrap_err();
        assert!(e.contains("its name does not end in .zst"), "{e}");
    }

    #[test]
    fn version_1_manifests_read_without_a_member_index_and_refuse_one() {
        let mut v1 = sample();
        v1.format_version = 1;
        v1.parts[0].members.clear();
        let text = String::from_utf8(v1.to_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!text.contains("members"), "{text}");
        assert_eq!(Manifest::parse(&v1.to_bytes()), Ok(v1));

        let mut indexed_v1 = sample();
        indexed_v1.format_version = 1;
        let e = Manifest::parse(&indexed_v1.to_bytes()).unwrap_err();
        assert!(
            e.contains("has a member index, which format_version 1"),
            "{e}"
        );
    }

    #[test]
    fn a_member_index_that_does_not_add_up_to_its_part_is_refused_naming_it() {
        let v: serde_json::Value =
            serde_json::from_slice(&sample().to_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let ab = "ab".repeat(32);
        assert_eq!(
            v["parts"][0]["members"][0],
            serde_json::json!([12, 4, 1, ab])
        );
        type Edit = fn(&mut MemberInfo);
        let edits: [(Edit, &str); 5] = [
            (
                |m| m.0 += 1,
                "lists 30 compressed_bytes but its members add up to 31",
            ),
            (
                |m| m.1 -= 1,
                "lists 10 uncompressed_bytes but its members add up to 9",
            ),
            (|m| m.2 += 1, "lists 2 records but its members add up to 3"),
            (|m| m.3 = "AB".repeat(32), "member 1 has no sha256"),
            (|m| m.3.truncate(10), "member 1 has no sha256"),
        ];
        for (edit, expect) in edits {
            let mut m = sample();
            edit(&mut m.parts[0].members[1]);
            let e = Manifest::parse(&m.to_bytes()).unwrap_err();
            assert!(
                e.contains("part interval=20261126T000000Z/part-00000-r.ndjson.gz"),
                "{e}"
            );
            assert!(e.contains(expect), "{expect}: {e}");
        }
        let mut m = sample();
        m.parts[0].members = vec![
            MemberInfo(30, 10, 2, "ab".repeat(32)),
            MemberInfo(0, 0, 0, "cd".repeat(32)),
        ];
        let e = Manifest::parse(&m.to_bytes()).unwrap_err();
        assert!(e.contains("member 1 is empty"), "{e}");
    }

    #[test]
    fn refuses_parts_outside_the_interval() {
        let mut m = sample();
        m.parts[0].path = "interval=20261126T000000Z/../../etc/passwd".into();
        assert!(Manifest::parse(&m.to_bytes()).is_err());
    }
}
