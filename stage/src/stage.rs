//! Stages: where staged data lives, opened at the edge into an object store.
//!
//! Owns a [`Stage`]: an object store, the prefix inside it, the stage's
//! [`StageUrl`] and the Tokio handle its store calls run on, so callers are
//! synchronous and never pass a runtime around. Every method of a stage
//! lives here: opening it, naming objects beneath it, reading manifests
//! and parts (verified, see [`crate::read`]), listing, and small-object
//! reads, writes and deletes, and the manifest PUT that commits an interval
//! ([`Stage::put_manifest`], conditional where a commit amends another).
//! Writing intervals is [`crate::write`]'s job; the names of objects are
//! [`crate::layout`]'s.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    ObjectStore, ObjectStoreExt, ObjectStoreScheme, PutMode, PutOptions, PutPayload, RetryConfig,
    UpdateVersion,
};
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use crate::error::StageError;
use crate::interval::Interval;
use crate::layout;
use crate::manifest::{Manifest, PartInfo};
use crate::read::{MemberFetch, PartReader, StoreRead, VerifiedRead};
pub use crate::url::StageUrl;

/// How object-store requests are retried (object_store's exponential backoff).
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySettings {
    /// The most retries of one request.
    pub max_retries: usize,
    /// Give up retrying a request after this long.
    pub retry_timeout: Duration,
}

impl Default for RetrySettings {
    /// object_store's defaults: 10 retries within 3 minutes, backoff from
    /// 100 ms doubling up to 15 s.
    fn default() -> Self {
        let d = RetryConfig::default();
        Self {
            max_retries: d.max_retries,
            retry_timeout: d.retry_timeout,
        }
    }
}

/// A stage: an object store and a prefix in it, e.g. `s3://lake/raw`.
#[derive(Clone)]
pub struct Stage {
    store: Arc<dyn ObjectStore>,
    /// The same store when it is the local filesystem, whose in-progress
    /// upload files only the filesystem shows.
    local: Option<Arc<LocalFileSystem>>,
    prefix: Path,
    url: StageUrl,
    /// Where store calls run.
    handle: Handle,
}

/// Which commit of an interval a reader saw: the sha256 of its manifest's
/// bytes, and the store's version of that object (ETag and version id,
/// where the store has them), for a commit that must amend exactly it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestVersion {
    /// The sha256 of the manifest's bytes (hex).
    pub sha256: String,
    store: UpdateVersion,
}

/// The AWS SDKs' and CLI's switch for the instance metadata probe.
pub const METADATA_DISABLED_ENV: &str = "AWS_EC2_METADATA_DISABLED";

/// With no credentials configured, object_store's S3 client falls back to
/// the EC2 instance metadata address (169.254.169.254), right on a cloud
/// worker and a slow failure anywhere else. object_store has no switch for
/// it, so Weir honours the AWS SDKs' one: with
/// `AWS_EC2_METADATA_DISABLED=true`, an S3 stage without other credentials
/// (static keys, web identity, container credentials, or
/// `AWS_SKIP_SIGNATURE=true` for a public bucket) fails to open at once,
/// naming what would give it some, and the probe is never made.
fn check_metadata_probe(
    url: &StageUrl,
    builder: &object_store::aws::AmazonS3Builder,
) -> Result<(), StageError> {
    use object_store::aws::AmazonS3ConfigKey as Key;
    let disabled =
        std::env::var(METADATA_DISABLED_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if !disabled {
        return Ok(());
    }
    let set = |key: Key| builder.get_config_value(&key).is_some();
    let credentials = set(Key::AccessKeyId)
        || set(Key::SecretAccessKey)
        || (set(Key::WebIdentityTokenFile) && set(Key::RoleArn))
        || set(Key::ContainerCredentialsRelativeUri)
        || set(Key::ContainerCredentialsFullUri)
        || builder
            .get_config_value(&Key::SkipSignature)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if credentials {
        return Ok(());
    }
    Err(StageError::InvalidStage {
        stage: url.to_string(),
        reason: format!(
            "no AWS credentials: {METADATA_DISABLED_ENV}=true turns off the instance metadata probe, \
             and none of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE and \
             AWS_ROLE_ARN, or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI is set \
             (AWS_SKIP_SIGNATURE=true reads a public bucket unsigned)"
        ),
    })
}

/// Takes an exclusive `flock` on a local folder (created if missing), held
/// until the file is dropped: every commit to an interval on this host
/// holds its folder's lock over its manifest PUT.
fn lock_folder(folder: &std::path::Path) -> io::Result<std::fs::File> {
    std::fs::create_dir_all(folder)?;
    let dir = std::fs::File::open(folder)?;
    dir.lock()?;
    Ok(dir)
}

/// In-memory stores by name, so every `memory://NAME` in one process is the
/// same store (tests and notebooks stage and read back in one process).
fn memory_store(name: &str) -> Arc<dyn ObjectStore> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> = OnceLock::new();
    let mut stores = STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    stores
        .entry(name.to_owned())
        .or_insert_with(|| Arc::new(InMemory::new()))
        .clone()
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
    /// Opens a stage whose store calls run on `handle`. Cloud stores take credentials, region and endpoint from
    /// the standard environment variables (`AWS_ACCESS_KEY_ID`,
    /// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, `GOOGLE_*`, `AZURE_*`, ...).
    pub fn open(url: &StageUrl, retry: &RetrySettings, handle: Handle) -> Result<Self, StageError> {
        let u = url.as_url();
        let open_err = |source: object_store::Error| StageError::OpenStore {
            stage: url.to_string(),
            source: Box::new(source),
        };
        let (scheme, prefix) =
            ObjectStoreScheme::parse(u).map_err(|e| open_err(object_store::Error::from(e)))?;
        let retry = RetryConfig {
            max_retries: retry.max_retries,
            retry_timeout: retry.retry_timeout,
            ..RetryConfig::default()
        };
        let mut local = None;
        let store: Arc<dyn ObjectStore> = match scheme {
            ObjectStoreScheme::Local => {
                let dir = u.to_file_path().map_err(|()| StageError::InvalidStage {
                    stage: url.to_string(),
                    reason: "not a local path".into(),
                })?;
                std::fs::create_dir_all(&dir).map_err(|e| StageError::InvalidStage {
                    stage: url.to_string(),
                    reason: format!("cannot create directory {}: {e}", dir.display()),
                })?;
                let fs = Arc::new(LocalFileSystem::new().with_automatic_cleanup(true));
                local = Some(Arc::clone(&fs));
                fs
            }
            ObjectStoreScheme::Memory => memory_store(""),
            ObjectStoreScheme::AmazonS3 => {
                let builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_url(u.as_str())
                    .with_retry(retry);
                check_metadata_probe(url, &builder)?;
                Arc::new(builder.build().map_err(open_err)?)
            }
            ObjectStoreScheme::GoogleCloudStorage => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(u.as_str())
                    .with_retry(retry)
                    .build()
                    .map_err(open_err)?,
            ),
            ObjectStoreScheme::MicrosoftAzure => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(u.as_str())
                    .with_retry(retry)
                    .build()
                    .map_err(open_err)?,
            ),
            other => {
                return Err(StageError::InvalidStage {
                    stage: url.to_string(),
                    reason: format!(
                        "unsupported store {other:?}; use a path, s3://, gs://, az:// or memory://"
                    ),
                });
            }
        };
        Ok(Self {
            store,
            local,
            prefix,
            url: url.clone(),
            handle,
        })
    }

    /// Opens a stage to read it: as [`Stage::open`], but a local folder
    /// that does not exist is [`StageError::NoSuchStage`] rather than
    /// created, so a mistyped path says so instead of leaving an empty
    /// folder behind. (An object store has no folders: whether a prefix
    /// holds anything is the caller's question, see
    /// [`Stage::holds_objects`].)
    pub fn open_existing(
        url: &StageUrl,
        retry: &RetrySettings,
        handle: Handle,
    ) -> Result<Self, StageError> {
        if let Ok(dir) = url.as_url().to_file_path()
            && url.as_url().scheme() == "file"
            && !dir.is_dir()
        {
            return Err(StageError::NoSuchStage {
                stage: url.to_string(),
                reason: format!("there is no folder {}", dir.display()),
            });
        }
        Self::open(url, retry, handle)
    }

    /// Whether anything at all lies under the stage's prefix (one listing
    /// request on an object store).
    pub fn holds_objects(&self) -> Result<bool, StageError> {
        let prefix = self.prefix.clone();
        self.block(async {
            let mut listing = self.store().list(Some(&prefix));
            listing.next().await.transpose()
        })
        .map(|first| first.is_some())
        .map_err(self.store_err("listing", ""))
    }

    /// A stage over an existing store (tests, embedding). It is not seen as
    /// a local folder, even over a `LocalFileSystem`: cleanup leaves its
    /// in-progress upload files alone.
    pub fn from_store(
        store: Arc<dyn ObjectStore>,
        prefix: Path,
        url: StageUrl,
        handle: Handle,
    ) -> Self {
        Self {
            store,
            local: None,
            prefix,
            url,
            handle,
        }
    }

    /// A store call run to completion from synchronous code.
    pub(crate) fn block<F: Future>(&self, f: F) -> F::Output {
        self.handle.block_on(f)
    }

    /// The Tokio handle store calls run on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Where `relative` (slash-separated, relative to the stage) lies on
    /// disk, for a stage on the local filesystem; `None` for other stores.
    pub fn local_path(&self, relative: &str) -> Option<PathBuf> {
        self.local
            .as_ref()?
            .path_to_filesystem(&self.path(relative))
            .ok()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The stage's address, for messages and manifests.
    pub fn url(&self) -> &StageUrl {
        &self.url
    }

    /// The object at `relative` (slash-separated, relative to the stage).
    pub fn path(&self, relative: &str) -> Path {
        relative
            .split('/')
            .filter(|s| !s.is_empty())
            .fold(self.prefix.clone(), |p, part| p.clone().join(part))
    }

    /// The path of `object` relative to the stage, if it lies beneath it.
    pub fn relative<'a>(&self, object: &'a Path) -> Option<&'a str> {
        let full = object.as_ref();
        let prefix = self.prefix.as_ref();
        if prefix.is_empty() {
            return Some(full);
        }
        full.strip_prefix(prefix)?.strip_prefix('/')
    }

    /// How a failed store call becomes an error naming the object.
    pub(crate) fn store_err(
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
    pub fn read_manifest(&self, interval: &Interval) -> Result<(Manifest, String), StageError> {
        self.read_manifest_version(interval)
            .map(|(manifest, version)| (manifest, version.sha256))
    }

    /// Reads an interval's manifest and which version of it this is: for a
    /// commit that must amend exactly this one ([`Stage::put_manifest`]).
    pub fn read_manifest_version(
        &self,
        interval: &Interval,
    ) -> Result<(Manifest, ManifestVersion), StageError> {
        let rel = layout::manifest(interval);
        let read = self.block(async {
            let got = self.store().get(&self.path(&rel)).await?;
            let store = UpdateVersion {
                e_tag: got.meta.e_tag.clone(),
                version: got.meta.version.clone(),
            };
            Ok::<_, object_store::Error>((got.bytes().await?, store))
        });
        let (bytes, store) = match read {
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
        let (manifest, sha256) = self.parse_manifest(interval, &bytes)?;
        Ok((manifest, ManifestVersion { sha256, store }))
    }

    /// Parses the bytes of `interval`'s manifest: the manifest and the
    /// sha256 of its bytes, or why they are not that interval's commit.
    fn parse_manifest(
        &self,
        interval: &Interval,
        bytes: &[u8],
    ) -> Result<(Manifest, String), StageError> {
        let rel = layout::manifest(interval);
        let sha256 = hex::encode(Sha256::digest(bytes));
        let manifest = Manifest::parse(bytes).map_err(|reason| StageError::BadManifest {
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
        Ok((manifest, sha256))
    }

    /// Reads the manifests of many intervals, `in_flight` requests at a
    /// time, in the order asked: each the manifest and the sha256 of its
    /// bytes, `Ok(None)` for an interval with no manifest (not committed),
    /// or the error reading or parsing it, so one bad manifest does not
    /// hide the rest. For a whole stage's commits at once (`weir report`):
    /// one request after another, 10,000 manifests on S3 would take
    /// minutes.
    pub fn read_manifests(
        &self,
        intervals: &[Interval],
        in_flight: usize,
    ) -> Vec<Result<Option<(Manifest, String)>, StageError>> {
        let stage = self;
        let fetched: Vec<(&Interval, Result<Option<Bytes>, StageError>)> = self.block(async {
            futures::stream::iter(intervals)
                .map(|interval| async move {
                    let rel = layout::manifest(interval);
                    let got = async { stage.store().get(&stage.path(&rel)).await?.bytes().await };
                    let result = match got.await {
                        Ok(bytes) => Ok(Some(bytes)),
                        Err(object_store::Error::NotFound { .. }) => Ok(None),
                        Err(e) => Err(stage.store_err("reading", &rel)(e)),
                    };
                    (interval, result)
                })
                .buffered(in_flight.max(1))
                .collect()
                .await
        });
        fetched
            .into_iter()
            .map(|(interval, bytes)| match bytes? {
                Some(bytes) => self.parse_manifest(interval, &bytes).map(Some),
                None => Ok(None),
            })
            .collect()
    }

    /// The sha256 of an interval's manifest as it is now; `None` if the
    /// interval is not committed.
    fn current_manifest_sha256(&self, interval: &Interval) -> Result<Option<String>, StageError> {
        let rel = layout::manifest(interval);
        match self.block(async { self.store().get(&self.path(&rel)).await?.bytes().await }) {
            Ok(bytes) => Ok(Some(hex::encode(Sha256::digest(&bytes)))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.store_err("reading", &rel)(e)),
        }
    }

    /// Commits an interval: writes its manifest in one PUT. With `base`,
    /// only while the interval's manifest is still that version, else
    /// [`StageError::Superseded`] and nothing is written:
    /// - on a local folder, an exclusive lock on the interval's folder
    ///   (`flock`, which every commit on this host takes) is held over the
    ///   check and the PUT, so no commit lands between them;
    /// - on stores with a conditional put (S3 `If-Match`, GCS, Azure,
    ///   memory), the PUT is conditional on the version read. If the PUT
    ///   was applied but its answer lost, the retry finds its own bytes
    ///   and succeeds;
    /// - on a store without one (an S3 server with conditional put
    ///   disabled, `AWS_CONDITIONAL_PUT=disabled`), the check runs just
    ///   before an unconditional PUT: best effort, logged as such.
    pub fn put_manifest(
        &self,
        interval: &Interval,
        bytes: Vec<u8>,
        base: Option<&ManifestVersion>,
    ) -> Result<(), StageError> {
        let rel = layout::manifest(interval);
        let superseded = || StageError::Superseded {
            stage: self.url().to_string(),
            interval: interval.to_string(),
            manifest: rel.clone(),
        };
        let still_base = |base: &ManifestVersion| -> Result<(), StageError> {
            match self.current_manifest_sha256(interval)? {
                Some(now) if now == base.sha256 => Ok(()),
                _ => Err(superseded()),
            }
        };
        if let Some(folder) = self.local_path(&interval.folder()) {
            let _lock = lock_folder(&folder).map_err(|source| StageError::Io {
                path: folder.display().to_string(),
                source,
            })?;
            if let Some(base) = base {
                still_base(base)?;
            }
            return self.write_object(&rel, bytes);
        }
        let Some(base) = base else {
            return self.write_object(&rel, bytes);
        };
        if base.store.e_tag.is_none() && base.store.version.is_none() {
            tracing::warn!(
                "the store gave no version of {rel}: checking the commit just before the PUT (best effort)"
            );
            still_base(base)?;
            return self.write_object(&rel, bytes);
        }
        let ours = hex::encode(Sha256::digest(&bytes));
        // Bytes: the fallback below re-sends them without a copy.
        let bytes = Bytes::from(bytes);
        let options = PutOptions::from(PutMode::Update(base.store.clone()));
        let put = self.block(self.store().put_opts(
            &self.path(&rel),
            PutPayload::from(bytes.clone()),
            options,
        ));
        match put {
            Ok(_) => Ok(()),
            Err(object_store::Error::Precondition { .. }) => {
                // A retried PUT whose first try was applied fails its
                // precondition against its own bytes: that is a commit.
                match self.current_manifest_sha256(interval)? {
                    Some(now) if now == ours => Ok(()),
                    _ => Err(superseded()),
                }
            }
            Err(object_store::Error::NotImplemented { .. }) => {
                tracing::warn!(
                    "the store has no conditional put: checking the commit of {rel} just before the PUT (best effort)"
                );
                still_base(base)?;
                self.write_object(&rel, bytes)
            }
            Err(e) => Err(self.store_err("writing", &rel)(e)),
        }
    }

    /// Opens a part for reading: the stored (compressed) bytes, checked
    /// against the manifest's size and sha256 when the stream ends; a
    /// mismatch is an `InvalidData` error carrying an
    /// [`IntegrityError`](crate::read::IntegrityError).
    pub fn open_part(&self, part: &PartInfo) -> Result<VerifiedRead<StoreRead>, StageError> {
        let result = self
            .block(self.store().get(&self.path(&part.path)))
            .map_err(self.store_err("reading", &part.path))?;
        Ok(VerifiedRead::new(
            StoreRead::new(self.handle.clone(), result.into_stream(), part.path.clone()),
            part,
        ))
    }

    /// Starts fetching members `members` of `part` (indices into its
    /// member index, which must not be empty) on the store's runtime, and
    /// returns at once: one ranged read of their stored bytes, checked and
    /// decompressed by [`MemberFetch::lines`] on whichever thread needs
    /// them.
    pub fn fetch_members(&self, part: &PartInfo, members: Range<usize>) -> MemberFetch {
        let offset: u64 = part.members[..members.start]
            .iter()
            .map(|m| m.compressed_bytes())
            .sum();
        let listed = part.members[members.clone()].to_vec();
        let len: u64 = listed.iter().map(|m| m.compressed_bytes()).sum();
        let store = Arc::clone(&self.store);
        let path = self.path(&part.path);
        let (stage, object) = (self.url().to_string(), part.path.clone());
        let task = self.handle.spawn(async move {
            store
                .get_range(&path, offset..offset + len)
                .await
                .map_err(|source| StageError::Store {
                    stage,
                    operation: "reading",
                    object,
                    source: Box::new(source),
                })
        });
        MemberFetch {
            task,
            handle: self.handle.clone(),
            object: part.path.clone(),
            codec: part.codec,
            first: members.start,
            members: listed,
        }
    }

    /// Opens a part and decompresses it: a stream of NDJSON bytes.
    pub fn read_part(&self, part: &PartInfo) -> Result<PartReader, StageError> {
        PartReader::new(self.open_part(part)?, part)
    }

    /// Lists the interval folders of the stage, in time order.
    pub fn list_intervals(&self) -> Result<Vec<Interval>, StageError> {
        let prefix = self.path("");
        let listing = self
            .block(self.store().list_with_delimiter(Some(&prefix)))
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
    pub(crate) fn list_folder(
        &self,
        folder: &str,
    ) -> Result<Vec<object_store::ObjectMeta>, StageError> {
        let prefix = self.path(folder);
        self.block(async {
            self.store()
                .list(Some(&prefix))
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(self.store_err("listing", folder))
    }

    /// Deletes objects (relative to the stage), many at a time, reporting
    /// the first failure; a missing object is fine.
    pub fn delete_objects(&self, relative: &[String]) -> Result<(), StageError> {
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
        let result = self.block(async {
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

    /// Streams a part's decompressed NDJSON into `out`, verifying the
    /// stored bytes (size, sha256) and the record and byte counts against
    /// the manifest.
    pub fn copy_part(
        &self,
        part: &PartInfo,
        out: &mut dyn io::Write,
    ) -> Result<PartCounts, StageError> {
        let mut reader = self.read_part(part)?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut counts = PartCounts {
            records: 0,
            uncompressed_bytes: 0,
        };
        loop {
            let n = match reader.read(&mut buf)? {
                0 => break,
                n => n,
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

    /// Reads small objects whole (relative to the stage), several at a time:
    /// their contents, in the order asked.
    pub fn read_objects(&self, rels: &[String]) -> Result<Vec<Bytes>, StageError> {
        /// Requests in flight: enough to hide a store's latency, few enough
        /// not to be throttled.
        const IN_FLIGHT: usize = 16;
        let stage = self;
        self.block(async {
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
    pub fn write_object(&self, rel: &str, bytes: impl Into<PutPayload>) -> Result<(), StageError> {
        self.block(self.store().put(&self.path(rel), bytes.into()))
            .map(|_| ())
            .map_err(self.store_err("writing", rel))
    }

    /// The objects under a folder (relative to the stage), as relative paths,
    /// sorted.
    pub fn list_objects(&self, folder: &str) -> Result<Vec<String>, StageError> {
        let mut out: Vec<String> = self
            .list_folder(folder)?
            .iter()
            .filter_map(|m| self.relative(&m.location).map(str::to_owned))
            .collect();
        out.sort();
        Ok(out)
    }
}

impl fmt::Debug for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stage")
            .field("url", &self.url.to_string())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stage_paths_are_under_prefix() {
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        let url = StageUrl::parse("memory:///t/stage").unwrap_or_else(|e| panic!("{e}"));
        let stage = Stage::open(&url, &RetrySettings::default(), rt.handle().clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let p = stage.path("interval=20261126T000000Z/_manifest.json");
        assert_eq!(
            p.as_ref(),
            "t/stage/interval=20261126T000000Z/_manifest.json"
        );
        assert_eq!(
            stage.relative(&p),
            Some("interval=20261126T000000Z/_manifest.json")
        );
    }

    #[test]
    fn read_manifests_keeps_order_and_tells_missing_from_bad() {
        use crate::manifest::{FORMAT_VERSION, IntervalInfo, Producer, QuarantineInfo, Totals};
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        let url = StageUrl::parse("memory:///t/read-manifests").unwrap_or_else(|e| panic!("{e}"));
        let stage = Stage::open(&url, &RetrySettings::default(), rt.handle().clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let day = |d: &str| d.parse::<Interval>().unwrap_or_else(|e| panic!("{e}"));
        let (good, missing, bad) = (day("2026-11-26"), day("2026-11-27"), day("2026-11-28"));
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            stage: url.to_string(),
            interval: IntervalInfo {
                start: good.rfc3339(),
                end: None,
                folder: good.folder(),
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
            parts: vec![],
            quarantine: QuarantineInfo::default(),
            totals: Totals::default(),
            lineage: vec![],
            replays: vec![],
            shards: vec![],
        };
        let bytes = manifest.to_bytes();
        stage
            .write_object(&layout::manifest(&good), bytes.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        stage
            .write_object(&layout::manifest(&bad), b"{}".to_vec())
            .unwrap_or_else(|e| panic!("{e}"));
        let got = stage.read_manifests(&[bad, good, missing], 2);
        assert!(
            matches!(&got[0], Err(StageError::BadManifest { object, .. }) if object == &layout::manifest(&bad)),
            "{:?}",
            got[0]
        );
        match &got[1] {
            Ok(Some((m, sha))) => {
                assert_eq!(m, &manifest);
                assert_eq!(sha, &hex::encode(Sha256::digest(&bytes)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(got[2], Ok(None)), "{:?}", got[2]);
    }
}
