//! weir-stage: Weir's staging protocol, with no WebAssembly in it.
//!
//! Staged data is batches of compressed NDJSON (gzip, or zstd when asked), one folder per schedule interval,
//! committed by a manifest written last (docs/staging.md). This crate is
//! everything that reads or writes that layout: `weir stage`, `weir run`,
//! the PostgreSQL extract, the fuzz targets and any loader build on it, and
//! it cannot reach wasmtime (`cargo tree -p weir-stage` names none).
//!
//! # Layout
//!
//! Data flows one way: {[`write`](mod@write), [`cleanup`], [`verify`]} → [`stage`] →
//! {[`read`], [`layout`], [`url`]} → {[`manifest`], [`quarantine`],
//! [`batch`], [`interval`], [`error`]}.
//!
//! - [`interval`]: parsing schedule intervals and naming their folders.
//! - [`url`]: stage URLs as users type them, normalised.
//! - [`layout`]: every name beneath a stage, as pure functions.
//! - [`batch`]: the byte format of parts: lines, records, codecs and members.
//! - [`manifest`]: `_manifest.json`, the commit of an interval.
//! - [`quarantine`]: the format of rejected records.
//! - [`stage`]: a stage opened over an object store, with its I/O handle.
//! - [`read`]: verified, decompressing reads of parts and input files.
//! - [`write`](mod@write): one attempt at an interval, its parts and its commit.
//! - [`cleanup`]: deleting what no commit references after a commit.
//! - [`verify`]: checking stored parts against their manifest.
//! - [`error`]: [`StageError`], and the one error-chain printer.

pub mod batch;
pub mod cleanup;
pub mod error;
pub mod interval;
pub mod layout;
pub mod manifest;
pub mod quarantine;
pub mod read;
pub mod stage;
pub mod url;
pub mod verify;
pub mod write;

pub use error::{StageError, error_chain};
pub use interval::Interval;
pub use stage::{ManifestVersion, RetrySettings, Stage};
pub use url::StageUrl;
