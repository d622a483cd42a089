//! The on-disk cache of compiled components, and the checks that make a
//! cache entry never run as anything but the compilation of the module it is
//! named for.
//!
//! A compiled component is only valid for the exact wasmtime version and
//! settings that produced it, so a cache file is keyed by the module's sha256
//! *and* the engine's precompile-compatibility hash:
//! `<dir>/<module sha256>-<engine hash>.cwasm`.
//!
//! A compiled component is native code that wasmtime maps executable without
//! checking it, so every entry carries a tag: HMAC-SHA256, under a per-user
//! random key kept outside the cache folder, over (module sha256 ‖ engine
//! hash ‖ compiled bytes). An entry is read into memory whole, its tag checked,
//! and only then handed to wasmtime, from those same bytes. An entry whose tag
//! does not match (another module's file copied under this name, a flipped
//! byte, planted code) is ignored with a warning, and the caller recompiles and
//! replaces it. A cache folder or key that someone else could write is not
//! used at all.
//!
//! Files are written to a temporary name and renamed into place, so a reader
//! never sees a torn file. Deleting the directory is always safe: the next load
//! recompiles. This module knows nothing of transforms, limits or instances.

use std::fs::{DirBuilder, File};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use wasmtime::component::Component;

use crate::error::EngineError;

/// The first bytes of every cache file; a new layout gets a new value.
const MAGIC: &[u8; 8] = b"WEIRCW01";
/// Length of the HMAC-SHA256 tag that follows [`MAGIC`].
const TAG_BYTES: usize = 32;
/// Where the compiled bytes start.
const HEADER_BYTES: usize = MAGIC.len() + TAG_BYTES;
/// Length of the cache key.
const KEY_BYTES: usize = 32;
/// Separates this use of the key from any other.
const TAG_DOMAIN: &[u8] = b"weir compiled-module cache v1\0";

/// The cache folder, opened and checked, and the key its entries are
/// tagged with: what the module cache and the function cache
/// ([`crate::function_cache`]) share.
pub(crate) struct CacheRoot {
    pub(crate) dir: PathBuf,
    pub(crate) key: [u8; KEY_BYTES],
}

/// The compiled-module cache: the cache folder, the key entries are tagged
/// with, and the engine-settings part of every key.
pub(crate) struct ModuleCache {
    dir: PathBuf,
    key: [u8; KEY_BYTES],
    engine_key: String,
}

/// Why a cache folder or key is not used: someone other than this user could
/// write it, or it is not where it may be.
#[derive(Debug, thiserror::Error)]
#[error("{} {problem}", path.display())]
pub(crate) struct UnsafeCache {
    path: PathBuf,
    problem: String,
}

impl CacheRoot {
    /// Opens (creating them if needed) the cache folder `dir`, mode 0700, and
    /// the key in `key_file`, mode 0600.
    ///
    /// `Ok(None)` (after a warning) if either could be written by someone
    /// else, is owned by someone else, or the key lies inside the cache
    /// folder: loads then compile in memory. An I/O error creating them is
    /// [`EngineError::Cache`].
    pub(crate) fn open(
        dir: PathBuf,
        key_file: Option<&Path>,
    ) -> Result<Option<CacheRoot>, EngineError> {
        let opened = open_private_dir(&dir).and_then(|()| match key_file {
            None => Err(Refusal::Unsafe(UnsafeCache {
                path: dir.clone(),
                problem: "has no key file to check its entries with (set XDG_CONFIG_HOME or HOME)"
                    .to_owned(),
            })),
            Some(key_file) => {
                let canonical_dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
                let key_parent = key_file.parent().unwrap_or(Path::new("/"));
                if key_file.starts_with(&dir) || key_parent.starts_with(&canonical_dir) {
                    return Err(Refusal::Unsafe(UnsafeCache {
                        path: key_file.to_path_buf(),
                        problem: format!(
                            "is inside the cache folder {}; the key must be kept outside it",
                            dir.display()
                        ),
                    }));
                }
                read_or_create_key(key_file)
            }
        });
        match opened {
            Ok(key) => Ok(Some(CacheRoot { dir, key })),
            Err(Refusal::Unsafe(reason)) => {
                tracing::warn!(
                    "not using the compiled-module cache: {reason}; modules are compiled in memory"
                );
                Ok(None)
            }
            Err(Refusal::Io {
                path,
                message,
                source,
            }) => Err(EngineError::Cache {
                path,
                message,
                source: Some(source),
            }),
        }
    }
}

impl ModuleCache {
    /// The module cache in `root`, for modules compiled by `engine`.
    pub(crate) fn new(root: &CacheRoot, engine: &wasmtime::Engine) -> ModuleCache {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ModuleCache {
            dir: root.dir.clone(),
            key: root.key,
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    /// Where the compiled form of the module with digest `sha256` lives.
    pub(crate) fn path_for(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    fn tag(&self, sha256: &str, compiled: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(TAG_DOMAIN);
        mac.update(sha256.as_bytes());
        mac.update(b"\0");
        mac.update(self.engine_key.as_bytes());
        mac.update(b"\0");
        mac.update(compiled);
        mac
    }

    /// The cached component for `sha256`, if a genuine one is there. A file
    /// whose tag does not match, or that wasmtime refuses, is a miss (with a
    /// warning); the caller's [`ModuleCache::put`] then replaces it.
    #[allow(unsafe_code)]
    pub(crate) fn get(&self, engine: &wasmtime::Engine, sha256: &str) -> Option<Component> {
        let path = self.path_for(sha256);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read cached module; recompiling");
                return None;
            }
        };
        let genuine = bytes.len() >= HEADER_BYTES
            && bytes.starts_with(MAGIC)
            && self
                .tag(sha256, &bytes[HEADER_BYTES..])
                .verify_slice(&bytes[MAGIC.len()..HEADER_BYTES])
                .is_ok();
        if !genuine {
            tracing::warn!(
                path = %path.display(),
                "cached module is not the compilation of the module it is named for \
                 (damaged or tampered with); recompiling and replacing it"
            );
            return None;
        }
        // SAFETY: `deserialize` trusts that the bytes are code compiled by
        // wasmtime for this engine. These bytes carry a tag only `put` can make
        // (the key is private to this user and kept outside the cache folder),
        // over exactly these bytes, this module's sha256 and this engine's
        // settings hash; they were checked above and are not read from disk
        // again. wasmtime also checks the header's version and settings.
        match unsafe { Component::deserialize(engine, &bytes[HEADER_BYTES..]) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "ignoring unusable cached module");
                None
            }
        }
    }

    /// Stores the compiled `component` for `sha256` with its tag, atomically
    /// (replacing whatever was there).
    pub(crate) fn put(&self, sha256: &str, component: &Component) -> Result<PathBuf, EngineError> {
        let path = self.path_for(sha256);
        let compiled = component.serialize().map_err(|e| EngineError::Cache {
            path: path.clone(),
            message: format!("cannot serialize compiled module: {e:#}"),
            source: None,
        })?;
        let tag = self.tag(sha256, &compiled).finalize().into_bytes();
        let io_error = |message: &str, at: &Path, source| EngineError::Cache {
            path: at.to_path_buf(),
            message: message.to_owned(),
            source: Some(source),
        };
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .map_err(|e| io_error("cannot create a temporary file", &self.dir, e))?;
        temp.write_all(MAGIC)
            .and_then(|()| temp.write_all(&tag))
            .and_then(|()| temp.write_all(&compiled))
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|e| io_error("cannot write a temporary file", temp.path(), e))?;
        temp.persist(&path)
            .map_err(|e| io_error("cannot move the compiled module into place", &path, e.error))?;
        Ok(path)
    }
}

enum Refusal {
    Unsafe(UnsafeCache),
    Io {
        path: PathBuf,
        message: String,
        source: std::io::Error,
    },
}

fn io_refusal(message: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Refusal {
    let message = message.to_owned();
    let path = path.to_path_buf();
    move |source| Refusal::Io {
        path,
        message,
        source,
    }
}

/// This process's effective user id.
#[allow(unsafe_code)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Checks that `path` is owned by this user and that no one else may write it
/// (`private_bits` are the mode bits that must be clear).
fn check_private(path: &Path, meta: &std::fs::Metadata, private_bits: u32) -> Result<(), Refusal> {
    let problem = if meta.uid() != effective_uid() {
        format!("is owned by user {}, not by this user", meta.uid())
    } else if meta.mode() & private_bits != 0 {
        format!(
            "has mode {:o}; it must not be {} by group or others (chmod go-rwx)",
            meta.mode() & 0o7777,
            if private_bits & 0o044 != 0 {
                "readable or writable"
            } else {
                "writable"
            }
        )
    } else {
        return Ok(());
    };
    Err(Refusal::Unsafe(UnsafeCache {
        path: path.to_path_buf(),
        problem,
    }))
}

/// Creates `dir` (and its parents) with mode 0700 if missing, then checks it
/// is this user's and writable by no one else.
fn open_private_dir(dir: &Path) -> Result<(), Refusal> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_refusal("cannot create the directory", dir))?;
    let meta = std::fs::metadata(dir).map_err(io_refusal("cannot stat the directory", dir))?;
    check_private(dir, &meta, 0o022)
}

/// Reads the 32-byte key in `key_file`, creating it (0600, atomically: a
/// temporary file linked into place, so two processes agree on one key) if
/// it does not exist.
fn read_or_create_key(key_file: &Path) -> Result<[u8; KEY_BYTES], Refusal> {
    let parent = key_file.parent().unwrap_or(Path::new("/"));
    open_private_dir(parent)?;
    if !key_file.exists() {
        let mut key = [0u8; KEY_BYTES];
        File::open("/dev/urandom")
            .and_then(|mut random| random.read_exact(&mut key))
            .map_err(io_refusal("cannot read random bytes for", key_file))?;
        // tempfile creates the file with mode 0600.
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-key-")
            .tempfile_in(parent)
            .map_err(io_refusal("cannot create a temporary file for", key_file))?;
        temp.write_all(&key)
            .and_then(|()| temp.as_file().sync_all())
            .map_err(io_refusal("cannot write", key_file))?;
        match temp.persist_noclobber(key_file) {
            Ok(_) => {}
            // Another process created it first: use theirs.
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_refusal("cannot create", key_file)(e.error)),
        }
    }
    let mut file = File::open(key_file).map_err(io_refusal("cannot open", key_file))?;
    let meta = file
        .metadata()
        .map_err(io_refusal("cannot stat", key_file))?;
    check_private(key_file, &meta, 0o077)?;
    let mut bytes = Vec::with_capacity(KEY_BYTES);
    file.read_to_end(&mut bytes)
        .map_err(io_refusal("cannot read", key_file))?;
    let key: [u8; KEY_BYTES] = bytes.as_slice().try_into().map_err(|_| {
        Refusal::Unsafe(UnsafeCache {
            path: key_file.to_path_buf(),
            problem: format!(
                "is not a cache key ({} bytes, not {KEY_BYTES})",
                bytes.len()
            ),
        })
    })?;
    Ok(key)
}
