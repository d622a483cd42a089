//! The staging protocol over an object store: parts, quarantine, manifests,
//! commits and cleanup (docs/staging.md).
//!
//! Owns how bytes reach the store and come back: multipart uploads of parts
//! that roll at the batch cap, the manifest written last as the commit,
//! reading only what a manifest lists (verifying sizes and digests on the
//! way), and deleting what no commit references. Synchronous on the outside:
//! store calls run on a Tokio runtime handle given by the caller. Must not
//! import `engine` or `pipeline`.

use std::collections::HashSet;
use std::io::{self, Read};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::buffered::BufWriter;
use object_store::{ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::runtime::Handle;

use crate::batch::gzip::{self, Member};
use crate::error::StageError;
use crate::interval::Interval;
use crate::manifest::{
    FORMAT_VERSION, IntervalInfo, Lineage, Manifest, PartInfo, Producer, QuarantineInfo, Replay,
    ShardInfo, Totals,
};
use crate::quarantine::QuarantineEntry;
use crate::stage::{MANIFEST, Stage};

/// The default batch cap: the most uncompressed bytes in one part.
pub const DEFAULT_MAX_BATCH_BYTES: u64 = 500_000_000;
/// Multipart upload chunk: parts smaller than this are one PUT.
const UPLOAD_CHUNK: usize = 10 * 1024 * 1024;
/// Upload chunks in flight per part.
const UPLOAD_CONCURRENCY: usize = 4;

/// How an interval is written.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// The batch cap: a part never holds more uncompressed bytes.
    pub max_batch_bytes: u64,
    /// gzip level, 0 to 9.
    pub level: u32,
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
            level: gzip::DEFAULT_LEVEL,
            interval_end: None,
            orphan_grace: Duration::from_secs(3600),
        }
    }
}

/// A store call run to completion from synchronous code.
fn block<F: Future>(handle: &Handle, f: F) -> F::Output {
    handle.block_on(f)
}

impl Stage {
    fn store_err(
        &self,
        operation: &'static str,
        object: &str,
    ) -> impl FnOnce(object_store::Error) -> StageError {
        let stage = self.url().to_string();
        let object = object.to_owned();
        move |source| StageError::Store {
            stage,
            operation,
            object,
            source: Box::new(source),
        }
    }

    /// Reads an interval's manifest and the sha256 of its bytes.
    pub fn read_manifest(
        &self,
        handle: &Handle,
        interval: &Interval,
    ) -> Result<(Manifest, String), StageError> {
        let rel = Stage::manifest_rel(interval);
        let bytes = match block(handle, async {
            self.store().get(&self.path(&rel)).await?.bytes().await
        }) {
            Ok(b) => b,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(StageError::NotCommitted {
                    stage: self.url().to_string(),
                    interval: interval.to_string(),
                    manifest: rel,
                });
            }
            Err(e) => return Err(self.store_err("reading", &rel)(e)),
        };
        let digest = hex::encode(Sha256::digest(&bytes));
        let manifest = Manifest::parse(&bytes).map_err(|reason| StageError::BadManifest {
            stage: self.url().to_string(),
            object: rel.clone(),
            reason,
        })?;
        if manifest.interval.folder != interval.folder() {
            return Err(StageError::BadManifest {
                stage: self.url().to_string(),
                object: rel,
                reason: format!(
                    "it commits {} but lies in {}",
                    manifest.interval.folder,
                    interval.folder()
                ),
            });
        }
        Ok((manifest, digest))
    }

    /// Opens a part for reading: the stored (compressed) bytes, checked
    /// against the manifest's size and sha256 when the stream ends; a
    /// mismatch is an `InvalidData` error naming the part.
    pub fn open_part(
        &self,
        handle: &Handle,
        part: &PartInfo,
    ) -> Result<VerifiedRead<StoreRead>, StageError> {
        let result = block(handle, self.store().get(&self.path(&part.path)))
            .map_err(self.store_err("reading", &part.path))?;
        Ok(VerifiedRead::new(
            StoreRead::new(handle.clone(), result.into_stream(), part.path.clone()),
            part,
        ))
    }

    /// Opens a part and decompresses it: a stream of NDJSON bytes.
    pub fn read_part(
        &self,
        handle: &Handle,
        part: &PartInfo,
    ) -> Result<impl Read + use<>, StageError> {
        Ok(gzip::decoder(self.open_part(handle, part)?))
    }

    /// Lists the interval folders of the stage, in time order.
    pub fn list_intervals(&self, handle: &Handle) -> Result<Vec<Interval>, StageError> {
        let prefix = self.path("");
        let listing = block(handle, self.store().list_with_delimiter(Some(&prefix)))
            .map_err(self.store_err("listing", "the interval folders"))?;
        let mut intervals: Vec<Interval> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().and_then(Interval::from_folder))
            .collect();
        intervals.sort();
        Ok(intervals)
    }

    /// Lists every object under a folder (relative to the stage).
    fn list_folder(
        &self,
        handle: &Handle,
        folder: &str,
    ) -> Result<Vec<object_store::ObjectMeta>, StageError> {
        let prefix = self.path(folder);
        block(handle, async {
            self.store()
                .list(Some(&prefix))
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(self.store_err("listing", folder))
    }

    /// Deletes objects (relative paths), reporting the first failure.
    fn delete_all(&self, handle: &Handle, relative: &[String]) -> Result<(), StageError> {
        if relative.is_empty() {
            return Ok(());
        }
        // Many at once: S3 deletes up to 1000 objects a request, other
        // stores some at a time in parallel. A cleanup after a rerun may
        // delete hundreds of parts; one by one, that was a round trip each.
        let paths: Vec<_> = relative.iter().map(|rel| Ok(self.path(rel))).collect();
        let mut deleted = self
            .store()
            .delete_stream(futures::stream::iter(paths).boxed());
        let result = block(handle, async {
            while let Some(result) = deleted.next().await {
                match result {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        let what = match relative {
            [one] => one.clone(),
            [first, ..] => format!("{first} and {} more", relative.len() - 1),
            [] => String::new(),
        };
        result.map_err(self.store_err("deleting", &what))
    }

    /// Removes the in-progress upload files of a local stage under `folder`
    /// (relative to the stage) last written before `cutoff`, and returns
    /// their paths relative to the stage. object_store writes a local
    /// object to `NAME#N` and renames it to `NAME` when complete, so a
    /// killed upload strands `NAME#N`; its listing hides such files, which
    /// is why they are looked for on disk. Nothing for other stores. A file
    /// that cannot be removed is only logged: readers never see it.
    fn remove_stranded_uploads(&self, folder: &str, cutoff: DateTime<Utc>) -> Vec<String> {
        let Some(root) = self.local_path(folder) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        let mut dirs = vec![(root, folder.to_owned())];
        while let Some((dir, rel_dir)) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let rel = format!("{rel_dir}/{name}");
                // Symbolic links are neither followed nor removed.
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    dirs.push((entry.path(), rel));
                    continue;
                }
                let stale = || {
                    entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| DateTime::<Utc>::from(t) < cutoff)
                };
                if !kind.is_file() || !is_upload_in_progress(&name) || !stale() {
                    continue;
                }
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => removed.push(rel),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => tracing::warn!(
                        "could not delete {}, an upload a killed attempt left: {e}",
                        entry.path().display()
                    ),
                }
            }
        }
        removed.sort();
        removed
    }
}

/// Whether a local file name is one of object_store's in-progress uploads,
/// `NAME#N` (the rule its listing hides them by).
fn is_upload_in_progress(name: &str) -> bool {
    name.split_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A store object as a synchronous byte stream.
pub struct StoreRead {
    handle: Handle,
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    current: Bytes,
    object: String,
}

impl StoreRead {
    fn new(
        handle: Handle,
        stream: BoxStream<'static, object_store::Result<Bytes>>,
        object: String,
    ) -> Self {
        Self {
            handle,
            stream,
            current: Bytes::new(),
            object,
        }
    }
}

/// An error of the store (not of the data) while streaming an object.
#[derive(Debug, thiserror::Error)]
#[error("reading {object} from the store failed")]
pub struct StoreReadError {
    object: String,
    source: object_store::Error,
}

impl Read for StoreRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.handle.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(b)) => self.current = b,
                Some(Err(source)) => {
                    return Err(io::Error::other(StoreReadError {
                        object: self.object.clone(),
                        source,
                    }));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        bytes::Buf::advance(&mut self.current, n);
        Ok(n)
    }
}

/// Wraps a part's stored bytes; at the end checks size and sha256.
pub struct VerifiedRead<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    expected_bytes: u64,
    expected_sha256: String,
    object: String,
    checked: bool,
}

impl<R: Read> VerifiedRead<R> {
    fn new(inner: R, part: &PartInfo) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            read: 0,
            expected_bytes: part.compressed_bytes,
            expected_sha256: part.sha256.clone(),
            object: part.path.clone(),
            checked: false,
        }
    }
}

/// A part whose bytes are not what its manifest says.
#[derive(Debug, thiserror::Error)]
#[error("{object}: {detail}")]
pub struct IntegrityError {
    /// The part.
    pub object: String,
    /// The mismatch.
    pub detail: String,
}

impl<R: Read> Read for VerifiedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        self.hasher.update(&buf[..n]);
        let fail = |detail: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                IntegrityError {
                    object: self.object.clone(),
                    detail,
                },
            )
        };
        if self.read > self.expected_bytes {
            return Err(fail(format!(
                "part is larger than the {} bytes its manifest lists",
                self.expected_bytes
            )));
        }
        if n == 0 && !buf.is_empty() && !self.checked {
            self.checked = true;
            if self.read != self.expected_bytes {
                return Err(fail(format!(
                    "part has {} bytes but its manifest lists {}",
                    self.read, self.expected_bytes
                )));
            }
            let actual = hex::encode(std::mem::take(&mut self.hasher).finalize());
            if actual != self.expected_sha256 {
                return Err(fail(format!(
                    "sha256 is {actual} but its manifest lists {}",
                    self.expected_sha256
                )));
            }
        }
        Ok(n)
    }
}

/// Turns an I/O error from reading a part (or an input file) into a
/// [`StageError`] that says whether the store, the integrity check or the
/// gzip data failed.
pub fn read_error(object: &str, e: io::Error) -> StageError {
    if let Some(inner) = e.get_ref() {
        if let Some(i) = inner.downcast_ref::<IntegrityError>() {
            return StageError::Integrity {
                object: i.object.clone(),
                detail: i.detail.clone(),
            };
        }
        if inner.downcast_ref::<StoreReadError>().is_some() {
            return StageError::Read {
                object: object.to_owned(),
                what: "the store failed while streaming it".into(),
                source: e,
            };
        }
    }
    let what = match e.kind() {
        io::ErrorKind::UnexpectedEof => "truncated gzip data (the file ends mid-stream)",
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => "corrupt gzip data",
        _ => "read failed",
    };
    StageError::Read {
        object: object.to_owned(),
        what: what.into(),
        source: e,
    }
}

/// Streams gzip members into parts of one folder, rolling before a part
/// would pass the cap.
struct PartPacker {
    stage: Stage,
    handle: Handle,
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
    writer: BufWriter,
    hasher: Sha256,
    records: u64,
    uncompressed: u64,
    compressed: u64,
}

impl PartPacker {
    fn new(stage: Stage, handle: Handle, folder: String, run_id: String, cap: u64) -> Self {
        Self {
            stage,
            handle,
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
            && open.uncompressed + member.uncompressed > self.cap
        {
            self.close()?;
        }
        let open = match &mut self.open {
            Some(o) => o,
            None => {
                let rel = format!(
                    "{}/part-{:05}-{}.ndjson.gz",
                    self.folder,
                    self.first_index + self.done.len(),
                    self.run_id
                );
                let writer = BufWriter::with_capacity(
                    self.stage.store().clone(),
                    self.stage.path(&rel),
                    UPLOAD_CHUNK,
                )
                .with_max_concurrency(UPLOAD_CONCURRENCY);
                self.open.insert(OpenPart {
                    rel,
                    writer,
                    hasher: Sha256::new(),
                    records: 0,
                    uncompressed: 0,
                    compressed: 0,
                })
            }
        };
        open.hasher.update(&member.gz);
        open.records += member.records;
        open.uncompressed += member.uncompressed;
        open.compressed += member.gz.len() as u64;
        let stage = &self.stage;
        block(&self.handle, open.writer.put(Bytes::from(member.gz)))
            .map_err(stage.store_err("writing", &open.rel))
    }

    fn close(&mut self) -> Result<(), StageError> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        block(&self.handle, open.writer.shutdown()).map_err(|e| StageError::Store {
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
        });
        Ok(())
    }

    /// Abandons the open upload; returns every path this packer created.
    fn abort(&mut self) -> Vec<String> {
        if let Some(mut open) = self.open.take() {
            let _ = block(&self.handle, open.writer.abort());
            self.done.push(PartInfo {
                path: open.rel,
                records: 0,
                uncompressed_bytes: 0,
                compressed_bytes: 0,
                sha256: String::new(),
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
    handle: Handle,
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
    pub fn new(stage: &Stage, handle: &Handle, interval: Interval, options: WriteOptions) -> Self {
        let started = Utc::now();
        let run_id = format!(
            "{}-{}",
            started.format("%Y%m%dT%H%M%SZ"),
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let cap = options.max_batch_bytes;
        Self {
            data: PartPacker::new(
                stage.clone(),
                handle.clone(),
                Stage::interval_dir(&interval),
                run_id.clone(),
                cap,
            ),
            quarantine: PartPacker::new(
                stage.clone(),
                handle.clone(),
                Stage::quarantine_dir(&interval),
                run_id.clone(),
                cap,
            ),
            stage: stage.clone(),
            handle: handle.clone(),
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
        }
    }

    /// Starts a merge: a commit of parts already written by sealed attempts
    /// (the shards of `weir commit`), in the order given. Nothing is written
    /// until [`IntervalWriter::commit`]; then `obsolete` objects are deleted.
    pub fn merge(
        stage: &Stage,
        handle: &Handle,
        interval: Interval,
        options: WriteOptions,
        sealed: Vec<Sealed>,
        shards: Vec<ShardInfo>,
        obsolete: Vec<String>,
    ) -> Self {
        let mut w = Self::new(stage, handle, interval, options);
        for s in sealed {
            w.kept.extend(s.parts);
            w.kept_quarantine.extend(s.quarantine);
        }
        w.shards = shards;
        w.obsolete = obsolete;
        w
    }

    /// Starts an attempt that keeps the data parts of `base` (the
    /// interval's current commit) and adds to them; the quarantine is
    /// written anew. Used by replay.
    pub fn amend(
        stage: &Stage,
        handle: &Handle,
        base: &Manifest,
        interval: Interval,
        options: WriteOptions,
    ) -> Self {
        let mut w = Self::new(stage, handle, interval, options);
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

    /// Appends a quarantine entry.
    pub fn quarantine(&mut self, entry: &QuarantineEntry) -> Result<(), StageError> {
        self.quarantine_buf.extend_from_slice(&entry.to_line());
        if self.quarantine_buf.len() >= gzip::MEMBER_BYTES {
            self.flush_quarantine()?;
        }
        Ok(())
    }

    fn flush_quarantine(&mut self) -> Result<(), StageError> {
        if self.quarantine_buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.quarantine_buf);
        gzip::compress_lines(&data, gzip::MEMBER_BYTES, self.options.level)
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
        mut totals: Totals,
        lineage: Vec<Lineage>,
    ) -> Result<Commit, StageError> {
        self.flush_quarantine()?;
        self.data.close()?;
        self.quarantine.close()?;
        let mut parts = std::mem::take(&mut self.kept);
        parts.append(&mut self.data.done);
        let mut quarantine_parts = std::mem::take(&mut self.kept_quarantine);
        quarantine_parts.append(&mut self.quarantine.done);
        totals.parts = parts.len() as u64;
        totals.records = parts.iter().map(|p| p.records).sum();
        totals.uncompressed_bytes = parts.iter().map(|p| p.uncompressed_bytes).sum();
        totals.compressed_bytes = parts.iter().map(|p| p.compressed_bytes).sum();
        let quarantined: u64 = quarantine_parts.iter().map(|p| p.records).sum();
        totals.quarantined = quarantined;
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
            object: Stage::manifest_rel(&self.interval),
            reason: format!("refusing to commit an inconsistent manifest: {reason}"),
        })?;
        let previous = self.stage.read_manifest(&self.handle, &self.interval).ok();
        let rel = Stage::manifest_rel(&self.interval);
        pause_before_commit(&rel);
        block(
            &self.handle,
            self.stage.store().put(
                &self.stage.path(&rel),
                PutPayload::from(manifest.to_bytes()),
            ),
        )
        .map_err(self.stage.store_err("writing", &rel))?;
        // Committed: from here on the command has done what it was asked,
        // and failing it would make a scheduler redo the work. What
        // cleanup leaves is invisible to readers, and deleted by a later
        // commit of the interval.
        let deleted = match self.cleanup(&manifest, previous.map(|(m, _)| m)) {
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

    /// Deletes superseded parts and old leftovers after a commit.
    fn cleanup(
        &self,
        current: &Manifest,
        previous: Option<Manifest>,
    ) -> Result<Vec<String>, StageError> {
        let keep: HashSet<&str> = current
            .parts
            .iter()
            .chain(&current.quarantine.parts)
            .map(|p| p.path.as_str())
            .collect();
        let superseded: HashSet<String> = previous
            .iter()
            .flat_map(|m| m.parts.iter().chain(&m.quarantine.parts))
            .map(|p| p.path.clone())
            .collect();
        let grace =
            chrono::Duration::from_std(self.options.orphan_grace).unwrap_or(chrono::Duration::MAX);
        let cutoff = self
            .started
            .checked_sub_signed(grace)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut doomed = Vec::new();
        // Shard results of plans never committed are leftovers too.
        for folder in [
            Stage::interval_dir(&self.interval),
            Stage::quarantine_dir(&self.interval),
            Stage::shards_dir(&self.interval),
        ] {
            for meta in self.stage.list_folder(&self.handle, &folder)? {
                let Some(rel) = self.stage.relative(&meta.location).map(str::to_owned) else {
                    continue;
                };
                if rel.ends_with(MANIFEST) || keep.contains(rel.as_str()) {
                    continue;
                }
                if superseded.contains(&rel) || meta.last_modified < cutoff {
                    doomed.push(rel);
                }
            }
        }
        doomed.extend(
            self.obsolete
                .iter()
                .filter(|p| !keep.contains(p.as_str()))
                .cloned(),
        );
        doomed.sort();
        doomed.dedup();
        self.stage.delete_all(&self.handle, &doomed)?;
        for folder in [
            Stage::interval_dir(&self.interval),
            Stage::quarantine_dir(&self.interval),
            Stage::shards_dir(&self.interval),
        ] {
            doomed.extend(self.stage.remove_stranded_uploads(&folder, cutoff));
        }
        Ok(doomed)
    }

    /// Gives up: deletes what this attempt wrote (best effort; leftovers are
    /// invisible to readers anyway and cleaned by a later commit).
    pub fn abort(mut self) {
        let mut paths = self.data.abort();
        paths.extend(self.quarantine.abort());
        if let Err(e) = self.stage.delete_all(&self.handle, &paths) {
            tracing::warn!("could not delete the parts of an aborted attempt: {e}");
        }
    }
}

/// A test knob, not a feature: with `WEIR_TEST_PAUSE_BEFORE_COMMIT_MS` set,
/// a commit announces on stderr that every part is written and then sleeps
/// that long before the manifest PUT, so tests/it/faults.rs can kill the
/// process exactly between the last part and the commit.
fn pause_before_commit(manifest: &str) {
    if let Some(ms) = std::env::var("WEIR_TEST_PAUSE_BEFORE_COMMIT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        eprintln!("weir: all parts written; pausing {ms} ms before writing {manifest}");
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// Reads small objects whole (relative to the stage), several at a time:
/// their contents, in the order asked.
pub fn read_objects(
    stage: &Stage,
    handle: &Handle,
    rels: &[String],
) -> Result<Vec<Bytes>, StageError> {
    /// Requests in flight: enough to hide a store's latency, few enough
    /// not to be throttled.
    const IN_FLIGHT: usize = 16;
    block(handle, async {
        futures::stream::iter(rels)
            .map(|rel| async move {
                async { stage.store().get(&stage.path(rel)).await?.bytes().await }
                    .await
                    .map_err(stage.store_err("reading", rel))
            })
            .buffered(IN_FLIGHT)
            .collect::<Vec<_>>()
            .await
    })
    .into_iter()
    .collect()
}

/// Writes a small object (relative to the stage) in one PUT.
pub fn write_object(
    stage: &Stage,
    handle: &Handle,
    rel: &str,
    bytes: Vec<u8>,
) -> Result<(), StageError> {
    block(
        handle,
        stage.store().put(&stage.path(rel), PutPayload::from(bytes)),
    )
    .map(|_| ())
    .map_err(stage.store_err("writing", rel))
}

/// Deletes objects (relative to the stage), many at a time; a missing
/// object is fine.
pub fn delete_objects(stage: &Stage, handle: &Handle, rels: &[String]) -> Result<(), StageError> {
    stage.delete_all(handle, rels)
}

/// The objects under a folder (relative to the stage), as relative paths,
/// sorted.
pub fn list_objects(
    stage: &Stage,
    handle: &Handle,
    folder: &str,
) -> Result<Vec<String>, StageError> {
    let mut out: Vec<String> = stage
        .list_folder(handle, folder)?
        .iter()
        .filter_map(|m| stage.relative(&m.location).map(str::to_owned))
        .collect();
    out.sort();
    Ok(out)
}

/// What streaming a part found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartCounts {
    /// Lines (records).
    pub records: u64,
    /// Uncompressed bytes.
    pub uncompressed_bytes: u64,
}

impl Stage {
    /// Streams a part's decompressed NDJSON into `out`, verifying the
    /// stored bytes (size, sha256) and the record and byte counts against
    /// the manifest.
    pub fn copy_part(
        &self,
        handle: &Handle,
        part: &PartInfo,
        out: &mut dyn io::Write,
    ) -> Result<PartCounts, StageError> {
        let mut reader = self.read_part(handle, part)?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut counts = PartCounts {
            records: 0,
            uncompressed_bytes: 0,
        };
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(&part.path, e)),
            };
            counts.records += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
            counts.uncompressed_bytes += n as u64;
            out.write_all(&buf[..n]).map_err(|source| StageError::Io {
                path: "<output>".into(),
                source,
            })?;
        }
        let claimed = PartCounts {
            records: part.records,
            uncompressed_bytes: part.uncompressed_bytes,
        };
        if counts != claimed {
            return Err(StageError::Integrity {
                object: part.path.clone(),
                detail: format!(
                    "holds {} records in {} bytes but its manifest lists {} records in {} bytes",
                    counts.records,
                    counts.uncompressed_bytes,
                    claimed.records,
                    claimed.uncompressed_bytes
                ),
            });
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::SystemTime;

    use super::*;
    use crate::stage::{RetrySettings, StageUrl};

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
        let stage = Stage::open(&url, &RetrySettings::default()).unwrap_or_else(|e| panic!("{e}"));
        let interval: Interval = "2026-11-26".parse().unwrap_or_else(|e| panic!("{e}"));
        let f = interval.folder();
        let part = "part-00000-20261126T010000Z-0123456789ab.ndjson.gz";
        let hours = |n: u64| Duration::from_secs(n * 3600);
        // What killed attempts left two hours ago, in the interval's folders.
        let stranded = [
            format!("{f}/{part}#1"),
            format!("{f}/{MANIFEST}#2"),
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

        let mut writer =
            IntervalWriter::new(&stage, rt.handle(), interval, WriteOptions::default());
        writer
            .write_members(gzip::compress_lines(b"{\"a\":1}\n", 1000, 1))
            .unwrap_or_else(|e| panic!("{e}"));
        let producer = Producer {
            name: "test".into(),
            version: "0".into(),
            command: "test".into(),
            transforms: vec![],
        };
        let commit = writer
            .commit(producer, Totals::default(), vec![])
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
            .read_manifest(rt.handle(), &interval)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(manifest.totals.records, 1);
        assert!(root.join(&manifest.parts[0].path).exists());
    }
}
