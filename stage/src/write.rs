//! Writing an interval: parts that roll at the batch cap, the quarantine,
//! and the manifest written last as the commit (docs/staging.md).
//!
//! Owns one attempt at an interval ([`IntervalWriter`]): multipart uploads
//! of compressed members into parts (one codec per part), sealing them uncommitted (a shard), and the
//! commit, which computes every total of the manifest from what was
//! written and the input counts its caller passes, then hands the old
//! objects to [`crate::cleanup`]. Must not import `read` beyond the stage's
//! own methods.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use object_store::buffered::BufWriter;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::batch::codec::{Codec, Compression, MEMBER_BYTES, Member};
use crate::cleanup::{self, Leftovers};
use crate::error::StageError;
use crate::interval::Interval;
use crate::layout;
use crate::manifest::{
    FORMAT_VERSION, IntervalInfo, Lineage, Manifest, MemberInfo, PartInfo, Producer,
    QuarantineInfo, Replay, ShardInfo, Totals,
};
use crate::quarantine::QuarantineEntry;
use crate::stage::{ManifestVersion, Stage};

/// The default batch cap: the most uncompressed bytes in one part, 128 MiB.
///
/// Parts are the unit a sharded step splits its input into, so the default
/// is small enough that an interval of a few hundred MB is several units
/// (about 40 MB compressed at gzip 6 on the benchmark data), and large
/// enough to be a sensible object for S3, pandas and DuckDB. The brief's
/// ceiling, 500 MB, stays a setting away (`max_batch_bytes`), e.g. for
/// Snowflake's preferred 100-250 MB compressed files (docs/snowflake.md).
pub const DEFAULT_MAX_BATCH_BYTES: u64 = 128 * 1024 * 1024;
/// Multipart upload chunk: parts smaller than this are one PUT.
const UPLOAD_CHUNK: usize = 10 * 1024 * 1024;
/// Upload chunks in flight per part.
const UPLOAD_CONCURRENCY: usize = 4;

/// How long unreferenced objects are left alone by cleanup when no
/// orphan grace is given: longer than any attempt of a step runs.
pub const DEFAULT_ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// How an interval is written.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// The batch cap: a part never holds more uncompressed bytes.
    pub max_batch_bytes: u64,
    /// The codec and level of the data and quarantine parts.
    pub compression: Compression,
    /// The interval's end, recorded in the manifest when known.
    pub interval_end: Option<DateTime<Utc>>,
    /// Unreferenced objects younger than this are left alone by cleanup, so a
    /// concurrent attempt's parts are never deleted under it.
    pub orphan_grace: Duration,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            compression: Compression::default(),
            interval_end: None,
            orphan_grace: DEFAULT_ORPHAN_GRACE,
        }
    }
}

/// How a commit's input was accounted for: what only its caller knows.
/// The writer counts the parts, records, bytes and quarantine itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputCounts {
    /// Input records (or lines, for `stage`) read.
    pub input_records: u64,
    /// Input records a transform filtered out.
    pub filtered: u64,
    /// Blank input lines skipped (only `stage` reads raw lines).
    pub blank_lines: u64,
}

/// Streams compressed members into parts of one folder, rolling before a
/// part would pass the cap, or when a member's codec is not the open
/// part's (a part holds one codec, which its name says).
struct PartPacker {
    stage: Stage,
    folder: String,
    run_id: String,
    cap: u64,
    /// The number of the first part this packer writes.
    first_index: usize,
    open: Option<OpenPart>,
    done: Vec<PartInfo>,
}

struct OpenPart {
    rel: String,
    codec: Codec,
    writer: BufWriter,
    hasher: Sha256,
    records: u64,
    uncompressed: u64,
    compressed: u64,
    members: Vec<MemberInfo>,
}

impl PartPacker {
    fn new(stage: Stage, folder: String, run_id: String, cap: u64) -> Self {
        Self {
            stage,
            folder,
            run_id,
            cap,
            first_index: 0,
            open: None,
            done: Vec::new(),
        }
    }

    fn add(&mut self, member: Member) -> Result<(), StageError> {
        if let Some(open) = &self.open
            && (open.uncompressed + member.uncompressed > self.cap || open.codec != member.codec)
        {
            self.close()?;
        }
        let open = match &mut self.open {
            Some(o) => o,
            None => {
                let rel = layout::part(
                    &self.folder,
                    self.first_index + self.done.len(),
                    &self.run_id,
                    member.codec,
                );
                let writer = BufWriter::with_capacity(
                    self.stage.store().clone(),
                    self.stage.path(&rel),
                    UPLOAD_CHUNK,
                )
                .with_max_concurrency(UPLOAD_CONCURRENCY);
                self.open.insert(OpenPart {
                    rel,
                    codec: member.codec,
                    writer,
                    hasher: Sha256::new(),
                    records: 0,
                    uncompressed: 0,
                    compressed: 0,
                    members: Vec::new(),
                })
            }
        };
        open.hasher.update(&member.bytes);
        open.members.push(MemberInfo(
            member.bytes.len() as u64,
            member.uncompressed,
            member.records,
            hex::encode(member.sha256),
        ));
        open.records += member.records;
        open.uncompressed += member.uncompressed;
        open.compressed += member.bytes.len() as u64;
        let stage = &self.stage;
        stage
            .block(open.writer.put(Bytes::from(member.bytes)))
            .map_err(stage.store_err("writing", &open.rel))
    }

    fn close(&mut self) -> Result<(), StageError> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        self.stage
            .block(open.writer.shutdown())
            .map_err(|e| StageError::Store {
                stage: self.stage.url().to_string(),
                operation: "writing",
                object: open.rel.clone(),
                source: Box::new(object_store::Error::Generic {
                    store: "upload",
                    source: Box::new(e),
                }),
            })?;
        self.done.push(PartInfo {
            path: open.rel,
            records: open.records,
            uncompressed_bytes: open.uncompressed,
            compressed_bytes: open.compressed,
            sha256: hex::encode(open.hasher.finalize()),
            codec: open.codec,
            members: open.members,
        });
        Ok(())
    }

    /// Abandons the open upload; returns every path this packer created.
    fn abort(&mut self) -> Vec<String> {
        if let Some(mut open) = self.open.take() {
            let _ = self.stage.block(open.writer.abort());
            self.done.push(PartInfo {
                path: open.rel,
                records: 0,
                uncompressed_bytes: 0,
                compressed_bytes: 0,
                sha256: String::new(),
                codec: open.codec,
                members: Vec::new(),
            });
        }
        self.done.drain(..).map(|p| p.path).collect()
    }
}

/// What a commit wrote.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The manifest as committed.
    pub manifest: Manifest,
    /// Its path relative to the stage.
    pub manifest_path: String,
    /// Objects deleted by cleanup (superseded parts, old leftovers), and on
    /// a local stage the upload files killed attempts stranded.
    pub deleted: Vec<String>,
}

/// One attempt at writing an interval: parts and quarantine stream out as
/// they come; nothing is visible to readers until [`IntervalWriter::commit`]
/// writes the manifest.
pub struct IntervalWriter {
    stage: Stage,
    interval: Interval,
    options: WriteOptions,
    run_id: String,
    started: DateTime<Utc>,
    data: PartPacker,
    quarantine: PartPacker,
    quarantine_buf: Vec<u8>,
    /// Parts of an earlier commit this one keeps (a replay), or the
    /// shards' parts a merge commits.
    kept: Vec<PartInfo>,
    /// Quarantine parts written before this attempt (the shards' of a merge).
    kept_quarantine: Vec<PartInfo>,
    /// The replays the manifest records.
    replays: Vec<Replay>,
    /// The shards the manifest records (a merge).
    shards: Vec<ShardInfo>,
    /// Objects to delete once the commit is made (merged shard results).
    obsolete: Vec<String>,
    /// For an amend: the sha256 of the manifest it read, which must still
    /// be the interval's commit when this attempt commits.
    base: Option<ManifestVersion>,
}

/// What a sealed attempt wrote: complete parts, not committed.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The attempt's run id (in its part names).
    pub run_id: String,
    /// The data parts, in record order.
    pub parts: Vec<PartInfo>,
    /// The quarantine parts.
    pub quarantine: Vec<PartInfo>,
}

impl IntervalWriter {
    /// Starts an attempt. Part names carry a fresh run id, so attempts never
    /// overwrite each other's objects.
    pub fn new(stage: &Stage, interval: Interval, options: WriteOptions) -> Self {
        let started = Utc::now();
        let run_id = layout::new_run_id(started);
        let cap = options.max_batch_bytes;
        Self {
            data: PartPacker::new(
                stage.clone(),
                layout::interval_dir(&interval),
                run_id.clone(),
                cap,
            ),
            quarantine: PartPacker::new(
                stage.clone(),
                layout::quarantine_dir(&interval),
                run_id.clone(),
                cap,
            ),
            stage: stage.clone(),
            interval,
            options,
            run_id,
            started,
            quarantine_buf: Vec::new(),
            kept: Vec::new(),
            kept_quarantine: Vec::new(),
            replays: Vec::new(),
            shards: Vec::new(),
            obsolete: Vec::new(),
            base: None,
        }
    }

    /// Starts a merge: a commit of parts already written by sealed attempts
    /// (the shards of `weir commit`), in the order given. Nothing is written
    /// until [`IntervalWriter::commit`]; then `obsolete` objects are deleted.
    pub fn merge(
        stage: &Stage,
        interval: Interval,
        options: WriteOptions,
        sealed: Vec<Sealed>,
        shards: Vec<ShardInfo>,
        obsolete: Vec<String>,
    ) -> Self {
        let mut w = Self::new(stage, interval, options);
        for s in sealed {
            w.kept.extend(s.parts);
            w.kept_quarantine.extend(s.quarantine);
        }
        w.shards = shards;
        w.obsolete = obsolete;
        w
    }

    /// Starts an attempt that keeps the data parts of `base` (the
    /// interval's current commit, read as version `version`) and adds to
    /// them; the quarantine is written anew. Used by replay.
    ///
    /// Its [`IntervalWriter::commit`] commits only if `version` is still
    /// the interval's commit (see [`Stage::put_manifest`]), else fails with
    /// [`StageError::Superseded`] and deletes what it wrote.
    pub fn amend(
        stage: &Stage,
        base: &Manifest,
        version: &ManifestVersion,
        interval: Interval,
        options: WriteOptions,
    ) -> Self {
        let mut w = Self::new(stage, interval, options);
        w.base = Some(version.clone());
        w.kept = base.parts.clone();
        w.replays = base.replays.clone();
        w.data.first_index = base.parts.len();
        w
    }

    /// Records a replay in the manifest this attempt will commit.
    pub fn add_replay(&mut self, replay: Replay) {
        self.replays.push(replay);
    }

    /// This attempt's run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The options.
    pub fn options(&self) -> &WriteOptions {
        &self.options
    }

    /// Appends compressed members (in order) to the data parts.
    pub fn write_members(&mut self, members: Vec<Member>) -> Result<(), StageError> {
        members.into_iter().try_for_each(|m| self.data.add(m))
    }

    /// The path (relative to the stage) of the data part the last member
    /// went to, while it is open: a writer that records what each part
    /// holds (an extract's key ranges) asks after each member.
    pub fn open_data_part(&self) -> Option<&str> {
        self.data.open.as_ref().map(|o| o.rel.as_str())
    }

    /// Appends a quarantine entry.
    pub fn quarantine(&mut self, entry: &QuarantineEntry) -> Result<(), StageError> {
        self.quarantine_buf.extend_from_slice(&entry.to_line());
        if self.quarantine_buf.len() >= MEMBER_BYTES {
            self.flush_quarantine()?;
        }
        Ok(())
    }

    fn flush_quarantine(&mut self) -> Result<(), StageError> {
        if self.quarantine_buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.quarantine_buf);
        self.options
            .compression
            .compress_lines(&data, MEMBER_BYTES)
            .into_iter()
            .try_for_each(|m| self.quarantine.add(m))
    }

    /// Finishes the parts without committing them: a shard's output, which
    /// `weir commit` later merges. They stay invisible to readers, and a
    /// later commit's cleanup deletes them after the orphan grace unless a
    /// manifest references them.
    pub fn seal(mut self) -> Result<Sealed, StageError> {
        self.flush_quarantine()?;
        self.data.close()?;
        self.quarantine.close()?;
        Ok(Sealed {
            run_id: self.run_id.clone(),
            parts: std::mem::take(&mut self.data.done),
            quarantine: std::mem::take(&mut self.quarantine.done),
        })
    }

    /// Finishes the parts and commits: writes the manifest (one PUT, atomic
    /// for readers), then deletes what the previous commit referenced and
    /// this one does not, and leftovers older than the orphan grace (on a
    /// local stage including the upload files killed attempts stranded).
    pub fn commit(
        mut self,
        producer: Producer,
        input: InputCounts,
        lineage: Vec<Lineage>,
    ) -> Result<Commit, StageError> {
        self.flush_quarantine()?;
        self.data.close()?;
        self.quarantine.close()?;
        let written: Vec<String> = self
            .data
            .done
            .iter()
            .chain(&self.quarantine.done)
            .map(|p| p.path.clone())
            .collect();
        let mut parts = std::mem::take(&mut self.kept);
        parts.append(&mut self.data.done);
        let mut quarantine_parts = std::mem::take(&mut self.kept_quarantine);
        quarantine_parts.append(&mut self.quarantine.done);
        let quarantined: u64 = quarantine_parts.iter().map(|p| p.records).sum();
        let totals = Totals {
            parts: parts.len() as u64,
            records: parts.iter().map(|p| p.records).sum(),
            uncompressed_bytes: parts.iter().map(|p| p.uncompressed_bytes).sum(),
            compressed_bytes: parts.iter().map(|p| p.compressed_bytes).sum(),
            input_records: input.input_records,
            quarantined,
            filtered: input.filtered,
            blank_lines: input.blank_lines,
        };
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            stage: self.stage.url().to_string(),
            interval: IntervalInfo {
                start: self.interval.rfc3339(),
                end: self
                    .options
                    .interval_end
                    .map(|e| e.to_rfc3339_opts(SecondsFormat::Secs, true)),
                folder: self.interval.folder(),
            },
            run_id: self.run_id.clone(),
            created: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            producer,
            parts,
            quarantine: QuarantineInfo {
                records: quarantined,
                parts: quarantine_parts,
            },
            totals,
            lineage,
            replays: std::mem::take(&mut self.replays),
            shards: std::mem::take(&mut self.shards),
        };
        manifest.check().map_err(|reason| StageError::BadManifest {
            stage: self.stage.url().to_string(),
            object: layout::manifest(&self.interval),
            reason: format!("refusing to commit an inconsistent manifest: {reason}"),
        })?;
        let previous = self.stage.read_manifest(&self.interval).ok();
        let rel = layout::manifest(&self.interval);
        pause_before_commit(&rel);
        match self
            .stage
            .put_manifest(&self.interval, manifest.to_bytes(), self.base.as_ref())
        {
            Ok(()) => {}
            Err(superseded @ StageError::Superseded { .. }) => {
                if let Err(e) = self.stage.delete_objects(&written) {
                    tracing::warn!("could not delete the parts of a superseded attempt: {e}");
                }
                return Err(superseded);
            }
            Err(e) => return Err(e),
        }
        // Committed: from here on the command has done what it was asked,
        // and failing it would make a scheduler redo the work. What
        // cleanup leaves is invisible to readers, and deleted by a later
        // commit of the interval.
        let leftovers = Leftovers {
            interval: &self.interval,
            started: self.started,
            orphan_grace: self.options.orphan_grace,
            obsolete: &self.obsolete,
        };
        let deleted = match cleanup::after_commit(
            &self.stage,
            &leftovers,
            &manifest,
            previous.map(|(m, _)| m),
        ) {
            Ok(deleted) => deleted,
            Err(e) => {
                tracing::warn!(
                    "committed {rel}, but could not delete the superseded parts and leftovers (a later commit of this interval will): {e}"
                );
                Vec::new()
            }
        };
        Ok(Commit {
            manifest,
            manifest_path: rel,
            deleted,
        })
    }

    /// Gives up: deletes what this attempt wrote (best effort; leftovers are
    /// invisible to readers anyway and cleaned by a later commit).
    pub fn abort(mut self) {
        let mut paths = self.data.abort();
        paths.extend(self.quarantine.abort());
        if let Err(e) = self.stage.delete_objects(&paths) {
            tracing::warn!("could not delete the parts of an aborted attempt: {e}");
        }
    }
}

/// The environment variable of the commit pause, a supported debugging
/// switch (docs/staging.md, "Watching a commit"): with it set to N, a
/// commit logs (a warning) that every part is written and then waits N
/// milliseconds before its manifest PUT. The kill and race tests use it to
/// stop weir exactly between the last part and the commit; an operator can
/// use it to watch that nothing of an attempt is visible before its commit.
pub const PAUSE_BEFORE_COMMIT_ENV: &str = "WEIR_PAUSE_BEFORE_COMMIT_MS";

fn pause_before_commit(manifest: &str) {
    if let Some(ms) = std::env::var(PAUSE_BEFORE_COMMIT_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        tracing::warn!(
            "all parts written; pausing {ms} ms before writing {manifest} ({PAUSE_BEFORE_COMMIT_ENV})"
        );
        std::thread::sleep(Duration::from_millis(ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::RetrySettings;
    use crate::url::StageUrl;

    fn producer() -> Producer {
        Producer {
            name: "weir".into(),
            version: "0".into(),
            command: "test".into(),
            transforms: vec![],
            extract: None,
        }
    }

    fn fast() -> Compression {
        Compression::new(Codec::Gzip, 1).unwrap_or_else(|e| panic!("{e}"))
    }

    fn commit_records(w: IntervalWriter, lines: &[u8]) -> Result<Commit, StageError> {
        let mut w = w;
        w.write_members(fast().compress_lines(lines, MEMBER_BYTES))?;
        let input = InputCounts {
            input_records: lines.iter().filter(|b| **b == b'\n').count() as u64,
            ..InputCounts::default()
        };
        w.commit(producer(), input, vec![])
    }

    #[test]
    fn open_data_part_names_the_part_each_member_went_to_across_rolls() {
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        let url = StageUrl::parse("memory:///parts").unwrap_or_else(|e| panic!("{e}"));
        let stage = Stage::open(&url, &RetrySettings::default(), rt.handle().clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let interval: Interval = "2026-11-26".parse().unwrap_or_else(|e| panic!("{e}"));
        let opts = WriteOptions {
            max_batch_bytes: 20,
            ..WriteOptions::default()
        };
        let mut w = IntervalWriter::new(&stage, interval, opts);
        assert_eq!(w.open_data_part(), None);
        // Members of 8 bytes under a cap of 20: two per part.
        let mut seen = Vec::new();
        for line in [b"{\"a\":1}\n", b"{\"a\":2}\n", b"{\"a\":3}\n"] {
            w.write_members(fast().compress_lines(line, MEMBER_BYTES))
                .unwrap_or_else(|e| panic!("{e}"));
            seen.push(w.open_data_part().map(str::to_owned));
        }
        let input = InputCounts {
            input_records: 3,
            ..InputCounts::default()
        };
        let commit = w
            .commit(producer(), input, vec![])
            .unwrap_or_else(|e| panic!("{e}"));
        let parts: Vec<Option<String>> = commit
            .manifest
            .parts
            .iter()
            .map(|p| Some(p.path.clone()))
            .collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(seen, [parts[0].clone(), parts[0].clone(), parts[1].clone()]);
    }

    #[test]
    fn each_members_index_entry_reads_back_alone_and_a_changed_member_is_named() {
        use object_store::ObjectStoreExt;
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        for codec in Codec::ALL {
            let url = StageUrl::parse(&format!("memory:///index-{codec}"))
                .unwrap_or_else(|e| panic!("{e}"));
            let stage = Stage::open(&url, &RetrySettings::default(), rt.handle().clone())
                .unwrap_or_else(|e| panic!("{e}"));
            let interval: Interval = "2026-11-26".parse().unwrap_or_else(|e| panic!("{e}"));
            let lines: Vec<u8> = (0..300)
                .flat_map(|i| {
                    format!("{{\"i\":{i},\"s\":\"{}\"}}\n", "y".repeat(i % 13)).into_bytes()
                })
                .collect();
            let mut w = IntervalWriter::new(&stage, interval, WriteOptions::default());
            w.write_members(Compression::from(codec).compress_lines(&lines, 500))
                .unwrap_or_else(|e| panic!("{e}"));
            let input = InputCounts {
                input_records: 300,
                ..InputCounts::default()
            };
            let commit = w
                .commit(producer(), input, vec![])
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(commit.manifest.format_version, FORMAT_VERSION);
            let part = &commit.manifest.parts[0];
            assert!(part.members.len() > 10, "{}", part.members.len());
            part.check_members().unwrap_or_else(|e| panic!("{e}"));
            // Every member alone, and runs of them, are the part's lines.
            let mut alone = Vec::new();
            for i in 0..part.members.len() {
                alone.extend(
                    stage
                        .fetch_members(part, i..i + 1)
                        .lines()
                        .unwrap_or_else(|e| panic!("{e}")),
                );
            }
            assert!(alone == lines, "{codec}");
            let n = part.members.len();
            let mut runs = stage
                .fetch_members(part, 0..3)
                .lines()
                .unwrap_or_else(|e| panic!("{e}"));
            runs.extend(
                stage
                    .fetch_members(part, 3..n)
                    .lines()
                    .unwrap_or_else(|e| panic!("{e}")),
            );
            assert!(runs == lines, "{codec}");

            // One flipped byte in member 2: that member is named, the
            // members before it still read.
            let path = stage.path(&part.path);
            let stored = rt
                .block_on(async { stage.store().get(&path).await?.bytes().await })
                .unwrap_or_else(|e| panic!("{e}"));
            let mut changed = stored.to_vec();
            let at = (part.members[0].0 + part.members[1].0 + 5) as usize;
            changed[at] ^= 1;
            rt.block_on(stage.store().put(&path, changed.into()))
                .unwrap_or_else(|e| panic!("{e}"));
            let e = stage
                .fetch_members(part, 1..4)
                .lines()
                .unwrap_err()
                .to_string();
            assert!(e.contains(&part.path), "{e}");
            assert!(e.contains("member 2's sha256 is"), "{e}");
            assert!(stage.fetch_members(part, 0..2).lines().is_ok());

            // An index that lies about what a member holds is caught on
            // inflating it, naming the member.
            let mut lying = part.clone();
            lying.members[0].1 += 1;
            let e = stage
                .fetch_members(&lying, 0..1)
                .lines()
                .unwrap_err()
                .to_string();
            assert!(e.contains("member 0 holds"), "{e}");
            let mut lying = part.clone();
            lying.members[0].0 += 1;
            let e = stage
                .fetch_members(&lying, 0..1)
                .lines()
                .unwrap_err()
                .to_string();
            assert!(e.contains("but its manifest lists"), "{e}");
        }
    }

    #[test]
    fn members_of_another_codec_start_a_part_named_for_it_and_read_back() {
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        let url = StageUrl::parse("memory:///codecs").unwrap_or_else(|e| panic!("{e}"));
        let stage = Stage::open(&url, &RetrySettings::default(), rt.handle().clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let interval: Interval = "2026-11-26".parse().unwrap_or_else(|e| panic!("{e}"));
        let mut w = IntervalWriter::new(&stage, interval, WriteOptions::default());
        let zstd = Compression::from(Codec::Zstd);
        for (c, line) in [
            (fast(), b"{\"a\":1}\n"),
            (zstd, b"{\"a\":2}\n"),
            (zstd, b"{\"a\":3}\n"),
            (fast(), b"{\"a\":4}\n"),
        ] {
            w.write_members(c.compress_lines(line, MEMBER_BYTES))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let input = InputCounts {
            input_records: 4,
            ..InputCounts::default()
        };
        let commit = w
            .commit(producer(), input, vec![])
            .unwrap_or_else(|e| panic!("{e}"));
        let parts = &commit.manifest.parts;
        let codecs: Vec<(Codec, u64)> = parts.iter().map(|p| (p.codec, p.records)).collect();
        assert_eq!(
            codecs,
            [(Codec::Gzip, 1), (Codec::Zstd, 2), (Codec::Gzip, 1)]
        );
        assert!(parts[1].path.ends_with(".ndjson.zst"), "{}", parts[1].path);
        assert!(parts[2].path.ends_with(".ndjson.gz"), "{}", parts[2].path);
        let mut all = Vec::new();
        for p in parts {
            stage
                .copy_part(p, &mut all)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(all, b"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n");
    }

    #[test]
    fn an_amend_of_a_commit_superseded_meanwhile_commits_nothing_and_deletes_its_parts() {
        // memory: the conditional put; a local folder: the folder lock.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let local = dir.path().join("amend").to_string_lossy().into_owned();
        for url in ["memory:///amend", local.as_str()] {
            superseded_amend_commits_nothing(url);
        }
    }

    fn superseded_amend_commits_nothing(url: &str) {
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        let url = StageUrl::parse(url).unwrap_or_else(|e| panic!("{e}"));
        let stage = Stage::open(&url, &RetrySettings::default(), rt.handle().clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let interval: Interval = "2026-11-26".parse().unwrap_or_else(|e| panic!("{e}"));
        let opts = WriteOptions::default();
        commit_records(
            IntervalWriter::new(&stage, interval, opts.clone()),
            b"{\"a\":1}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (base, base_sha256) = stage
            .read_manifest_version(&interval)
            .unwrap_or_else(|e| panic!("{e}"));

        // A replay-like amend reads the commit, then a rerun commits meanwhile.
        let mut amend = IntervalWriter::amend(&stage, &base, &base_sha256, interval, opts.clone());
        amend
            .write_members(fast().compress_lines(b"{\"b\":2}\n", MEMBER_BYTES))
            .unwrap_or_else(|e| panic!("{e}"));
        let rerun = commit_records(
            IntervalWriter::new(&stage, interval, opts.clone()),
            b"{\"c\":3}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));

        let input = InputCounts {
            input_records: 1,
            ..InputCounts::default()
        };
        let e = amend
            .commit(producer(), input, vec![])
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(e, StageError::Superseded { .. }), "{e}");
        assert!(
            e.to_string().contains("interval 2026-11-26T00:00:00Z"),
            "{e}"
        );

        // The rerun's commit stands, and the amend left no part behind.
        let (now, _) = stage
            .read_manifest(&interval)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(now, rerun.manifest);
        let listed = stage
            .list_objects(&interval.folder())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut want: Vec<String> = now.parts.iter().map(|p| p.path.clone()).collect();
        want.push(layout::manifest(&interval));
        let mut listed = listed;
        listed.sort();
        want.sort();
        assert_eq!(listed, want);

        // Amending the current commit still works.
        let (base, base_sha256) = stage
            .read_manifest_version(&interval)
            .unwrap_or_else(|e| panic!("{e}"));
        commit_records(
            IntervalWriter::amend(&stage, &base, &base_sha256, interval, opts),
            b"{\"d\":4}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}
