//! The on-disk cache of compiled components.
//!
//! A compiled component is only valid for the exact wasmtime version and
//! settings that produced it, so a cache file is keyed by the module's sha256
//! *and* the engine's precompile-compatibility hash:
//! `<dir>/<module sha256>-<engine hash>.cwasm`. Files are written to a
//! temporary name and renamed into place, so a reader never sees a torn file.
//! Deleting the directory is always safe: the next load recompiles.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::component::Component;

use crate::error::EngineError;

/// The cache directory plus the engine-settings part of every key.
pub(crate) struct ModuleCache {
    dir: PathBuf,
    engine_key: String,
}

impl ModuleCache {
    pub(crate) fn new(dir: PathBuf, engine: &wasmtime::Engine) -> ModuleCache {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ModuleCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    /// Where the compiled form of the module with digest `sha256` lives.
    pub(crate) fn path_for(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    /// The cached component for `sha256`, if a usable one is there. A file
    /// wasmtime refuses (from another version, say) is treated as a miss.
    #[allow(unsafe_code)]
    pub(crate) fn get(&self, engine: &wasmtime::Engine, sha256: &str) -> Option<Component> {
        let path = self.path_for(sha256);
        if !path.is_file() {
            return None;
        }
        // SAFETY: `deserialize_file` trusts that the file holds code compiled by
        // wasmtime for this engine. The file is in the user's own cache
        // directory, only ever written by `put` below (compiled by this same
        // engine configuration, as the key's engine hash says) and published by
        // an atomic rename, so it is never torn. wasmtime also checks the
        // header's version and settings and refuses a mismatch. Anyone who can
        // write this directory can already run code as the user.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "ignoring unusable cached module");
                None
            }
        }
    }

    /// Stores the compiled `component` for `sha256`, atomically.
    pub(crate) fn put(&self, sha256: &str, component: &Component) -> Result<PathBuf, EngineError> {
        let path = self.path_for(sha256);
        let bytes = component.serialize().map_err(|e| EngineError::Cache {
            path: path.clone(),
            message: format!("cannot serialize compiled module: {e:#}"),
            source: None,
        })?;
        let io_error = |message: &str, at: &Path, source| EngineError::Cache {
            path: at.to_path_buf(),
            message: message.to_owned(),
            source: Some(source),
        };
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| io_error("cannot create the cache directory", &self.dir, e))?;
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .map_err(|e| io_error("cannot create a temporary file", &self.dir, e))?;
        temp.write_all(&bytes)
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|e| io_error("cannot write a temporary file", temp.path(), e))?;
        temp.persist(&path)
            .map_err(|e| io_error("cannot move the compiled module into place", &path, e.error))?;
        Ok(path)
    }
}
