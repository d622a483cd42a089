//! Weir: run sandboxed WebAssembly transforms over staged NDJSON data.
//!
//! # Layout
//!
//! Data flows one way: the `weir` binary → [`pipeline`] → {[`staging`] and
//! [`batch`] I/O, the engine (crate `weir-engine`)} → {[`manifest`],
//! [`quarantine`], [`interval`], [`stage`], [`error`]}. Batch I/O and the
//! engine never import each other; only the pipeline joins them.
//!
//! - [`interval`]: parsing schedule intervals and naming their folders.
//! - [`stage`]: stage URLs, object stores and the layout beneath a stage.
//! - [`batch`]: the byte format of parts: lines, records, gzip members.
//! - [`manifest`]: `_manifest.json`, the commit of an interval.
//! - [`quarantine`]: the format of rejected records.
//! - [`staging`]: the protocol over a store: parts, commits, reads, cleanup.
//! - [`verify`]: checking stored parts against their manifest.
//! - [`pipeline`]: ingesting files (`weir stage`) and running transforms
//!   (`weir run`) with parallel workers and deterministic output.

pub mod batch;
pub mod error;
pub mod interval;
pub mod manifest;
pub mod pipeline;
pub mod quarantine;
pub mod stage;
pub mod staging;
pub mod verify;

pub use error::StageError;
pub use interval::Interval;
pub use stage::{Stage, StageUrl};
