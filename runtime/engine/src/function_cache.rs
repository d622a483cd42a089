//! The cache of compiled functions: Cranelift's incremental compilation,
//! stored beside the module cache and checked the same way.
//!
//! The module cache (`cache.rs`) is keyed by a module's sha256, so a module
//! that changed at all compiles from scratch. For a Python transform that is
//! the whole CPython interpreter, 6 to 20 s of Cranelift, although a rebuilt
//! app (or another app built by the same componentize-py) holds the very
//! same interpreter functions. Wasmtime can ask a store for each function's
//! compiled form by a hash of the function and the compiler's settings
//! ([`wasmtime::CacheStore`]); this is that store, so only the functions that
//! changed are compiled again.
//!
//! A stored function is machine code that wasmtime links into a module
//! without checking it, so every entry carries an HMAC-SHA256 tag under the
//! module cache's per-user key (over a domain of its own, the lookup key and
//! the bytes). An entry is read whole, its tag checked, and only then handed
//! to wasmtime. An entry whose tag does not match is a miss: the function is
//! compiled again and the entry replaced. The folder is the module cache's,
//! which was checked to be this user's and writable by no one else.
//!
//! Entries are written to a temporary name and renamed into place, without
//! an fsync each: a module holds thousands of functions, and an entry torn by
//! a crash fails its tag and is compiled again. Deleting the folder is always
//! safe. This module knows nothing of modules, transforms or instances.

use std::borrow::Cow;
use std::fs::DirBuilder;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::cache::CacheRoot;

/// The first bytes of every entry; a new layout gets a new value.
const MAGIC: &[u8; 8] = b"WEIRFN01";
/// Length of the HMAC-SHA256 tag that follows [`MAGIC`].
const TAG_BYTES: usize = 32;
/// Where the compiled bytes start.
const HEADER_BYTES: usize = MAGIC.len() + TAG_BYTES;
/// Separates this use of the key from the module cache's.
const TAG_DOMAIN: &[u8] = b"weir compiled-function cache v1\0";

/// The function store wasmtime compiles through, and what it did.
pub(crate) struct FunctionCache {
    dir: PathBuf,
    key: [u8; 32],
    hits: AtomicU64,
    misses: AtomicU64,
    /// Whether a bad entry was reported already: a damaged folder would
    /// otherwise warn once per function.
    warned: AtomicBool,
}

/// How many functions came from the store and how many were compiled,
/// counted since the engine started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FunctionCounts {
    pub(crate) reused: u64,
    pub(crate) compiled: u64,
}

impl FunctionCounts {
    /// The counts between `earlier` and `self`.
    pub(crate) fn since(self, earlier: FunctionCounts) -> FunctionCounts {
        FunctionCounts {
            reused: self.reused.saturating_sub(earlier.reused),
            compiled: self.compiled.saturating_sub(earlier.compiled),
        }
    }
}

impl std::fmt::Debug for FunctionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionCache")
            .field("dir", &self.dir)
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl FunctionCache {
    /// The function cache inside `root` (its `functions` folder, created on
    /// the first store).
    pub(crate) fn new(root: &CacheRoot) -> FunctionCache {
        FunctionCache {
            dir: root.dir.join("functions"),
            key: root.key,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        }
    }

    /// What the store did so far.
    pub(crate) fn counts(&self) -> FunctionCounts {
        FunctionCounts {
            reused: self.hits.load(Ordering::Relaxed),
            compiled: self.misses.load(Ordering::Relaxed),
        }
    }

    /// The entry's file: the lookup key's sha256 in hex, under a folder named
    /// by its first two digits, so no folder holds more than a few hundred.
    fn path_for(&self, key: &[u8]) -> PathBuf {
        let name = hex::encode(Sha256::digest(key));
        self.dir.join(&name[..2]).join(&name[2..])
    }

    fn tag(&self, key: &[u8], compiled: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(TAG_DOMAIN);
        mac.update(&(key.len() as u64).to_le_bytes());
        mac.update(key);
        mac.update(compiled);
        mac
    }

    fn read(&self, key: &[u8]) -> Option<Vec<u8>> {
        let path = self.path_for(key);
        let mut bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                self.warn_once(&path, &e.to_string());
                return None;
            }
        };
        let genuine = bytes.len() >= HEADER_BYTES
            && bytes.starts_with(MAGIC)
            && self
                .tag(key, &bytes[HEADER_BYTES..])
                .verify_slice(&bytes[MAGIC.len()..HEADER_BYTES])
                .is_ok();
        if !genuine {
            self.warn_once(
                &path,
                "not a function this user's Weir compiled (damaged or tampered with)",
            );
            return None;
        }
        bytes.drain(..HEADER_BYTES);
        Some(bytes)
    }

    fn write(&self, key: &[u8], compiled: &[u8]) -> std::io::Result<()> {
        let path = self.path_for(key);
        let parent = path.parent().unwrap_or(&self.dir);
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
        let tag = self.tag(key, compiled).finalize().into_bytes();
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(parent)?;
        temp.write_all(MAGIC)?;
        temp.write_all(&tag)?;
        temp.write_all(compiled)?;
        temp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    fn warn_once(&self, path: &std::path::Path, problem: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                path = %path.display(),
                "ignoring a cached compiled function: {problem}; compiling it again \
                 (further such entries are not reported)"
            );
        }
    }
}

impl wasmtime::CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let found = self.read(key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found.map(Cow::Owned)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        match self.write(key, &value) {
            Ok(()) => true,
            Err(e) => {
                self.warn_once(&self.path_for(key), &format!("cannot store it: {e}"));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::CacheStore;

    fn cache(dir: &std::path::Path) -> FunctionCache {
        FunctionCache::new(&CacheRoot {
            dir: dir.to_path_buf(),
            key: [7; 32],
        })
    }

    #[test]
    fn a_stored_function_comes_back_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = cache(dir.path());
        assert!(store.get(b"f1").is_none());
        assert!(store.insert(b"f1", b"machine code".to_vec()));
        assert_eq!(store.get(b"f1").as_deref(), Some(&b"machine code"[..]));
        assert_eq!(
            store.counts(),
            FunctionCounts {
                reused: 1,
                compiled: 1
            }
        );
    }

    #[test]
    fn an_entry_changed_on_disk_or_filed_under_another_key_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let store = cache(dir.path());
        store.insert(b"f1", b"machine code".to_vec());
        store.insert(b"f2", b"other code".to_vec());
        let (one, two) = (store.path_for(b"f1"), store.path_for(b"f2"));

        let mut bytes = std::fs::read(&one).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        std::fs::write(&one, &bytes).unwrap();
        assert!(store.get(b"f1").is_none(), "a flipped byte is not used");

        std::fs::copy(&two, &one).unwrap();
        assert!(
            store.get(b"f1").is_none(),
            "another function's genuine entry is not used for this one"
        );
        assert_eq!(store.get(b"f2").as_deref(), Some(&b"other code"[..]));

        let other_key = FunctionCache::new(&CacheRoot {
            dir: dir.path().to_path_buf(),
            key: [8; 32],
        });
        assert!(
            other_key.get(b"f2").is_none(),
            "an entry tagged under another user's key is not used"
        );

        store.insert(b"f1", b"machine code".to_vec());
        assert_eq!(
            store.get(b"f1").as_deref(),
            Some(&b"machine code"[..]),
            "a bad entry is replaced by the next store"
        );
    }
}
