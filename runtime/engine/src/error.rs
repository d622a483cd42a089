//! The engine's one error type. Every variant names what failed: the module
//! file for load-time failures, the transform for run-time ones.
//!
//! Messages never interpolate their `source`; print the chain once with
//! `{:#}` (anyhow) or by walking `Error::source`.

use std::path::PathBuf;

/// Why the engine could not load, instantiate or run a transform.
///
/// Record-level failures (a trap, a limit hit by one record) are not errors:
/// they come back as [`Outcome::Failed`](crate::Outcome::Failed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The wasmtime engine could not be configured.
    #[error("cannot set up the WebAssembly engine: {message}")]
    Setup {
        /// What wasmtime reported.
        message: String,
    },

    /// The module file could not be read.
    #[error("cannot read transform module {}", path.display())]
    Read {
        /// The module file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The module's sha256 is not the one the caller expected; nothing else was
    /// done with the bytes.
    #[error("transform module {} has sha256 {actual}, expected {expected}", path.display())]
    DigestMismatch {
        /// The module file.
        path: PathBuf,
        /// The digest the caller pinned (lowercase hex).
        expected: String,
        /// The digest of the bytes read (lowercase hex).
        actual: String,
    },

    /// The limits asked for cannot be enforced by this engine.
    #[error("transform {transform}: {message}")]
    Limits {
        /// The transform's name.
        transform: String,
        /// Which limit is out of range.
        message: String,
    },

    /// The bytes are a WebAssembly component but could not be compiled.
    #[error("cannot compile transform module {}: {message}", path.display())]
    Compile {
        /// The module file.
        path: PathBuf,
        /// What the compiler reported.
        message: String,
    },

    /// The file is not a component of the `weir:transform/transform` world: a
    /// core module, a component of another world, or not WebAssembly at all.
    #[error("{} is not a Weir transform: {message}", path.display())]
    NotATransform {
        /// The module file.
        path: PathBuf,
        /// What is missing or wrong.
        message: String,
    },

    /// The module was refused before compiling: it is over a size limit of
    /// the engine ([`EngineConfig`](crate::EngineConfig)).
    #[error("transform module {} refused before compiling: {message}", path.display())]
    Refused {
        /// The module file.
        path: PathBuf,
        /// Which limit, and by how much.
        message: String,
    },

    /// The on-disk cache of compiled modules could not be used.
    #[error("module cache {}: {message}", path.display())]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
        /// The underlying I/O error, if any.
        #[source]
        source: Option<std::io::Error>,
    },

    /// The transform's assets directory cannot be opened.
    #[error("transform {transform}: cannot open assets directory {}", path.display())]
    Assets {
        /// The transform's name.
        transform: String,
        /// The assets directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A new instance could not be created (e.g. the instance pool is full).
    #[error("cannot instantiate transform {transform}: {message}")]
    Instantiate {
        /// The transform's name.
        transform: String,
        /// What wasmtime reported.
        message: String,
    },

    /// The transform's `init` returned an error or trapped.
    #[error("transform {transform} failed to initialise: {message}")]
    Init {
        /// The transform's name.
        transform: String,
        /// The transform's own message, or the trap.
        message: String,
    },

    /// The input handed to [`Instance::process`](crate::Instance::process) is
    /// not `records` newline-terminated lines: a bug in the caller.
    #[error("transform {transform}: invalid input chunk: {message}")]
    Input {
        /// The transform's name.
        transform: String,
        /// How the chunk is malformed.
        message: String,
    },

    /// The transform's `finish` returned an error, trapped, or returned
    /// malformed output.
    #[error("transform {transform} failed to finish: {message}")]
    Finish {
        /// The transform's name.
        transform: String,
        /// The transform's own message, the trap, or the malformation.
        message: String,
    },

    /// The run's [`Stop`](crate::Stop) said to stop while a chunk was being
    /// re-run record by record; the chunk's outcomes are lost with the run.
    #[error("transform {transform}: stopped re-running a chunk record by record: {reason}")]
    Stopped {
        /// The transform's name.
        transform: String,
        /// Why, as [`StopReason`](crate::StopReason) says.
        reason: crate::StopReason,
    },
}
