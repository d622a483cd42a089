//! weir-report: `weir report`, the state of a lake's stages as one
//! self-contained HTML page.
//!
//! Reads only manifests (concurrently, on any store weir-stage opens) and,
//! for the top quarantine reasons, a bounded sample of the quarantine;
//! never a data part. Built on weir-stage alone: it cannot reach wasmtime.
//!
//! # Layout
//!
//! Data flows one way: [`collect`] (the reads) → [`model`] (what the page
//! shows, built by {[`timeline`], [`changes`], [`reasons`], [`modules`],
//! [`lineage`]}) → [`html`] (the markup). [`error`]: [`ReportError`].
//!
//! ```no_run
//! # fn main() -> Result<(), weir_report::ReportError> {
//! # let rt = tokio::runtime::Runtime::new().unwrap();
//! use weir_stage::{RetrySettings, Stage, StageUrl};
//! let url = StageUrl::parse("s3://lake/raw")?;
//! let raw = Stage::open_existing(&url, &RetrySettings::default(), rt.handle().clone())?;
//! let report = weir_report::report(&[raw], &weir_report::ReportOptions::default())?;
//! std::fs::write("report.html", weir_report::html::render(&report)).unwrap();
//! # Ok(()) }
//! ```

pub mod changes;
pub mod collect;
pub mod error;
pub mod html;
pub mod lineage;
pub mod model;
pub mod modules;
pub mod reasons;
pub mod timeline;

pub use collect::ReportOptions;
pub use error::ReportError;
pub use model::{LakeReport, Range};

use chrono::{SecondsFormat, Utc};
use weir_stage::Stage;

/// Reads `stages` and builds the report's model.
pub fn report(stages: &[Stage], options: &ReportOptions) -> Result<LakeReport, ReportError> {
    let data = collect::collect_all(stages, options)?;
    LakeReport::build(
        &data,
        options.range,
        options.every,
        Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

#[cfg(test)]
mod tests;
