//! Cleanup after a commit: deleting what no commit references.
//!
//! Owns which objects of an interval's folders a commit makes obsolete:
//! the parts the previous commit referenced and this one does not, the
//! objects a merge made obsolete, leftovers of other attempts older than
//! the orphan grace, and on a local stage the in-progress upload files
//! killed attempts stranded. Called by [`crate::write`] after the manifest
//! PUT; must not import `write`.

use std::collections::HashSet;
use std::io;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::StageError;
use crate::interval::Interval;
use crate::layout;
use crate::manifest::Manifest;
use crate::stage::Stage;

/// What a commit's cleanup needs to know of the attempt that committed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leftovers<'a> {
    /// The interval committed.
    pub(crate) interval: &'a Interval,
    /// When the attempt started: leftovers older than this less the grace
    /// are deleted.
    pub(crate) started: DateTime<Utc>,
    /// Unreferenced objects younger than this (before `started`) are kept.
    pub(crate) orphan_grace: Duration,
    /// Objects the commit made obsolete whatever their age (merged shard
    /// results).
    pub(crate) obsolete: &'a [String],
}

/// Deletes superseded parts and old leftovers after `current` was
/// committed over `previous`; returns what was deleted.
pub(crate) fn after_commit(
    stage: &Stage,
    attempt: &Leftovers<'_>,
    current: &Manifest,
    previous: Option<Manifest>,
) -> Result<Vec<String>, StageError> {
    let keep: HashSet<&str> = current
        .parts
        .iter()
        .chain(&current.quarantine.parts)
        .map(|p| p.path.as_str())
        .collect();
    let superseded: HashSet<String> = previous
        .iter()
        .flat_map(|m| m.parts.iter().chain(&m.quarantine.parts))
        .map(|p| p.path.clone())
        .collect();
    let grace = chrono::Duration::from_std(attempt.orphan_grace).unwrap_or(chrono::Duration::MAX);
    let cutoff = attempt
        .started
        .checked_sub_signed(grace)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut doomed = Vec::new();
    // Shard results of plans never committed are leftovers too.
    for folder in layout::owned_dirs(attempt.interval) {
        for meta in stage.list_folder(&folder)? {
            let Some(rel) = stage.relative(&meta.location).map(str::to_owned) else {
                continue;
            };
            if rel.ends_with(layout::MANIFEST) || keep.contains(rel.as_str()) {
                continue;
            }
            if superseded.contains(&rel) || meta.last_modified < cutoff {
                doomed.push(rel);
            }
        }
    }
    doomed.extend(
        attempt
            .obsolete
            .iter()
            .filter(|p| !keep.contains(p.as_str()))
            .cloned(),
    );
    doomed.sort();
    doomed.dedup();
    stage.delete_objects(&doomed)?;
    for folder in layout::owned_dirs(attempt.interval) {
        doomed.extend(remove_stranded_uploads(stage, &folder, cutoff));
    }
    Ok(doomed)
}

/// Removes the in-progress upload files of a local stage under `folder`
/// (relative to the stage) last written before `cutoff`, and returns
/// their paths relative to the stage. object_store writes a local
/// object to `NAME#N` and renames it to `NAME` when complete, so a
/// killed upload strands `NAME#N`; its listing hides such files, which
/// is why they are looked for on disk. Nothing for other stores. A file
/// that cannot be removed is only logged: readers never see it.
fn remove_stranded_uploads(stage: &Stage, folder: &str, cutoff: DateTime<Utc>) -> Vec<String> {
    let Some(root) = stage.local_path(folder) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    let mut dirs = vec![(root, folder.to_owned())];
    while let Some((dir, rel_dir)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{rel_dir}/{name}");
            // Symbolic links are neither followed nor removed.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                dirs.push((entry.path(), rel));
                continue;
            }
            let stale = || {
                entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| DateTime::<Utc>::from(t) < cutoff)
            };
            if !kind.is_file() || !layout::is_upload_in_progress(&name) || !stale() {
                continue;
            }
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed.push(rel),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(
                    "could not delete {}, an upload a killed attempt left: {e}",
                    entry.path().display()
                ),
            }
        }
    }
    removed.sort();
    removed
}
