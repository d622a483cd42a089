//! weir-lineage: OpenLineage run events for Weir's commits (docs/lineage.md).
//!
//! Builds the spec's `RunEvent`s (START, COMPLETE, FAIL) from what a command
//! is about to do and, once it has committed, from the committed manifest,
//! and sends them over the transport the environment or the pipeline file
//! configures. Knows nothing of wasmtime or of the pipeline: the CLI hands
//! it stage URLs and manifests. A transport failure is a warning, never an
//! error of the command.
//!
//! # Layout
//!
//! [`emitter`] → {[`event`], [`transport`]} → {[`dataset`], [`settings`],
//! [`parent`], [`error`]}.
//!
//! - [`dataset`]: stage URLs as OpenLineage datasets (namespace and name),
//!   with the facets a manifest gives them.
//! - [`event`]: the `RunEvent` and its run and job facets.
//! - [`parent`]: `--openlineage-parent NAMESPACE/JOB/RUN_ID`.
//! - [`settings`]: which transport, from the environment and the file.
//! - [`transport`]: HTTP, file and console.
//! - [`emitter`]: one run's events, in order, never failing the command.
//! - [`error`]: what went wrong, [`LineageError`].

pub mod dataset;
pub mod emitter;
pub mod error;
pub mod event;
pub mod parent;
pub mod settings;
pub mod transport;

pub use dataset::{CommitDatasets, DatasetName, StageDataset};
pub use emitter::{Emitter, Job};
pub use error::LineageError;
pub use parent::ParentRun;
pub use settings::{LineageFile, LineageSettings};

/// The `producer` of every event and facet: this Weir's source.
pub fn producer() -> String {
    format!(
        "{}/tree/v{}",
        env!("CARGO_PKG_REPOSITORY"),
        env!("CARGO_PKG_VERSION")
    )
}
