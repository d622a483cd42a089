//! Pipelines: the one place staging I/O and the engine meet.
//!
//! Owns deciding what each failure means (a bad record is quarantined, a
//! bad batch fails the run, a bad config, store or module aborts before
//! output), the error budget, the settings a step runs with, and the
//! worker threads.
//!
//! # Layout
//!
//! Data flows one way: {[`ingest`], [`extract`], [`run`], [`shard`], [`replay`],
//! [`golden`]} → {`attempt`, `chain`, `feed`, [`ordered`]} →
//! {`chunk`, [`step`], [`python`], [`plan`]} → {`fields`, [`settings`], [`file`](mod@file),
//! [`budget`], [`error`]}.
//!
//! - [`error`]: [`PipelineError`], the pipeline's one error type.
//! - [`budget`]: the error budget.
//! - [`settings`]: flag > pipeline file > default, resolved once.
//! - [`file`](mod@file): pipeline files (`pipeline.toml`).
//! - [`step`]: the seam to the engine: a chain's transforms as traits.
//! - `fields`: field mode, a step that declared its fields given
//!   projections and its patches applied.
//! - `chunk`: records as a worker sees them, with their origins.
//! - `feed`: the serial reader that cuts parts into blocks of lines.
//! - `chain`: one chunk through every transform, checked and compressed.
//! - [`ordered`]: the worker pool that keeps output in input order.
//! - `attempt`: the one commit sequence (rejects, abort, budget, commit).
//! - [`ingest`]: files into a stage (`weir stage`).
//! - [`extract`]: PostgreSQL rows into a stage (`weir extract`).
//! - [`run`]: a stage's interval through a chain (`weir run`).
//! - [`plan`]: work units of a sharded run (`weir plan`).
//! - [`shard`]: one unit sealed, and the merge (`weir run --shard`,
//!   `weir commit`).
//! - [`replay`]: the quarantine re-run (`weir replay`).
//! - [`golden`]: golden cases of a transform (`weir test`).
//! - [`python`]: a Python transform run natively, as a step (`weir test`
//!   on a Python project).

mod attempt;
pub mod budget;
mod chain;
mod chunk;
pub mod error;
pub mod extract;
mod feed;
mod fields;
pub mod file;
pub mod golden;
pub mod ingest;
pub mod ordered;
pub mod plan;
pub mod python;
pub mod replay;
pub mod run;
pub mod settings;
pub mod shard;
pub mod step;

pub use budget::Budget;
pub use error::PipelineError;
pub use settings::{Overrides, Settings, default_workers, resolve};
