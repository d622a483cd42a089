//! Verification: does what is stored match what the manifest says?
//!
//! Owns `weir verify`: every part and quarantine part of an interval is
//! fetched and checked for existence, size, sha256, record count and
//! uncompressed size. Every problem is collected, not just the first.

use crate::error::{StageError, error_chain};
use crate::interval::Interval;
use crate::stage::Stage;

/// The result of verifying an interval.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Parts checked (data and quarantine).
    pub parts_checked: usize,
    /// Records counted in data parts.
    pub records: u64,
    /// One message per problem found, each naming the object.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether everything matched.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies every part of a committed interval against its manifest. Fails
/// only when the manifest itself cannot be read; problems with parts go into
/// the report.
pub fn verify_interval(stage: &Stage, interval: &Interval) -> Result<VerifyReport, StageError> {
    let (manifest, _) = stage.read_manifest(interval)?;
    let mut report = VerifyReport::default();
    for (is_data, part) in manifest
        .parts
        .iter()
        .map(|p| (true, p))
        .chain(manifest.quarantine.parts.iter().map(|p| (false, p)))
    {
        report.parts_checked += 1;
        match stage.copy_part(part, &mut std::io::sink()) {
            Ok(counts) if is_data => report.records += counts.records,
            Ok(_) => {}
            Err(e) => report.problems.push(error_chain(&e)),
        }
    }
    Ok(report)
}
