//! Stages: where staged data lives, parsed at the edge into an object store.
//!
//! Owns turning what a user types (`./data/raw`, `file:///srv/raw`,
//! `s3://bucket/raw`, `memory://tests/raw`) into an [`ObjectStore`] and the
//! prefix inside it, using object_store's own URL parsing and builders, and
//! the layout of objects beneath a stage (interval folders, parts, manifests,
//! quarantine). Reading and writing batches lives in `batch` and `staging`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreScheme, RetryConfig};
use url::Url;

use crate::error::StageError;
use crate::interval::Interval;

/// The name of the manifest object in an interval folder: the commit.
pub const MANIFEST: &str = "_manifest.json";
/// The folder beside the intervals that holds rejected records.
pub const QUARANTINE: &str = "_quarantine";
/// The folder (under the stage) of uncommitted shard results.
pub const SHARDS: &str = "_shards";

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
}

/// A stage's address as the user gave it, normalised: absolute for local
/// paths, without credentials (none are ever put in a stage URL).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StageUrl(Url);

impl StageUrl {
    /// Parses a stage argument: a local path (relative or absolute), or a
    /// URL with scheme `file`, `s3`, `gs`, `az` or `memory`.
    pub fn parse(input: &str) -> Result<Self, StageError> {
        let invalid = |reason: String| StageError::InvalidStage {
            stage: input.to_owned(),
            reason,
        };
        if input.trim().is_empty() {
            return Err(invalid("it is empty".into()));
        }
        let raw_path = input.split(['?', '#']).next().unwrap_or_default();
        if raw_path
            .split(['/', '\\'])
            .any(|seg| seg == ".." || seg.eq_ignore_ascii_case("%2e%2e"))
        {
            return Err(invalid("`..` is not allowed in a stage".into()));
        }
        let has_scheme = input.split_once("://").is_some_and(|(s, _)| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+')
        });
        let url = if has_scheme {
            Url::parse(input).map_err(|e| invalid(e.to_string()))?
        } else {
            let path = FsPath::new(input);
            if path.components().any(|c| c == Component::ParentDir) {
                return Err(invalid("`..` is not allowed in a stage path".into()));
            }
            let abs = if path.is_absolute() {
                path.to_path_buf()
            } else {
                std::env::current_dir()
                    .map_err(|e| invalid(format!("cannot resolve the current directory: {e}")))?
                    .join(path)
            };
            Url::from_directory_path(&abs).map_err(|()| invalid("not a valid local path".into()))?
        };
        if url
            .path()
            .split('/')
            .any(|seg| seg == ".." || seg == "%2E%2E")
        {
            return Err(invalid("`..` is not allowed in a stage".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "credentials do not belong in a stage URL; use the standard environment variables"
                    .into(),
            ));
        }
        Ok(Self(url))
    }

    /// The URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

impl fmt::Display for StageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
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

impl Stage {
    /// Opens a stage. Cloud stores take credentials, region and endpoint from
    /// the standard environment variables (`AWS_ACCESS_KEY_ID`,
    /// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, `GOOGLE_*`, `AZURE_*`, ...).
    pub fn open(url: &StageUrl, retry: &RetrySettings) -> Result<Self, StageError> {
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
            ObjectStoreScheme::AmazonS3 => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(u.as_str())
                    .with_retry(retry)
                    .build()
                    .map_err(open_err)?,
            ),
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
        })
    }

    /// A stage over an existing store (tests, embedding). It is not seen as
    /// a local folder, even over a `LocalFileSystem`: cleanup leaves its
    /// in-progress upload files alone.
    pub fn from_store(store: Arc<dyn ObjectStore>, prefix: Path, url: StageUrl) -> Self {
        Self {
            store,
            local: None,
            prefix,
            url,
        }
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

    /// The interval's folder, relative to the stage.
    pub fn interval_dir(interval: &Interval) -> String {
        interval.folder()
    }

    /// The interval's manifest, relative to the stage.
    pub fn manifest_rel(interval: &Interval) -> String {
        format!("{}/{MANIFEST}", interval.folder())
    }

    /// The interval's quarantine folder, relative to the stage.
    pub fn quarantine_dir(interval: &Interval) -> String {
        format!("{QUARANTINE}/{}", interval.folder())
    }

    /// The interval's folder of uncommitted shard results, relative to the
    /// stage.
    pub fn shards_dir(interval: &Interval) -> String {
        format!("{SHARDS}/{}", interval.folder())
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
    fn relative_paths_become_absolute_file_urls() {
        let u = StageUrl::parse("data/raw").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.as_url().scheme(), "file");
        assert!(u.as_url().path().ends_with("/data/raw/"), "{u}");
    }

    #[test]
    fn refuses_parent_dirs_and_credentials() {
        for bad in [
            "../x",
            "data/../../etc",
            "s3://b/a/../c",
            "s3://key:secret@b/x",
            "",
        ] {
            assert!(StageUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn cloud_urls_parse() {
        let u = StageUrl::parse("s3://lake/raw/events").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.to_string(), "s3://lake/raw/events");
    }

    #[test]
    fn memory_stage_paths_are_under_prefix() {
        let url = StageUrl::parse("memory:///t/stage").unwrap_or_else(|e| panic!("{e}"));
        let stage = Stage::open(&url, &RetrySettings::default()).unwrap_or_else(|e| panic!("{e}"));
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
}
