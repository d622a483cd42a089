//! Verification: does what is stored match what the manifest says?
//!
//! Owns `weir verify`: every part and quarantine part of an interval is
//! fetched and checked for existence, size, sha256, record count and
//! uncompressed size, and a part's member index (which workers read by)
//! member by member. Every problem is collected, not just the first.

use crate::error::{StageError, error_chain};
use crate::interval::Interval;
use crate::manifest::PartInfo;
use crate::stage::Stage;

/// Uncompressed bytes checked per fetch of a part's members.
const VERIFY_RUN_BYTES: u64 = 8 << 20;

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
        match stage
            .copy_part(part, &mut std::io::sink())
            .and_then(|counts| verify_members(stage, part).map(|()| counts))
        {
            Ok(counts) if is_data => report.records += counts.records,
            Ok(_) => {}
            Err(e) => report.problems.push(error_chain(&e)),
        }
    }
    Ok(report)
}

/// Reads `part` again by its member index, as workers do, checking every
/// member's size, sha256, bytes and lines, a run of about
/// [`VERIFY_RUN_BYTES`] at a time (the next already being fetched).
fn verify_members(stage: &Stage, part: &PartInfo) -> Result<(), StageError> {
    let mut runs = Vec::new();
    let mut start = 0;
    while start < part.members.len() {
        let (mut end, mut bytes) = (start, 0);
        while end < part.members.len() && (end == start || bytes < VERIFY_RUN_BYTES) {
            bytes += part.members[end].uncompressed_bytes();
            end += 1;
        }
        runs.push(start..end);
        start = end;
    }
    let mut runs = runs.into_iter().map(|r| stage.fetch_members(part, r));
    let mut next = runs.next();
    while let Some(fetch) = next {
        next = runs.next();
        fetch.lines()?;
    }
    Ok(())
}
