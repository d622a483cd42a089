//! A transform's assets directory: where the sandbox mounts it, and the one
//! way to read a file from it, with the message that tells the user how to
//! grant it.
//!
//! A transform that loads a model or a dictionary in `init` reads it through
//! [`Assets`]: in the component from [`Assets::SANDBOX_DIR`], in native tests
//! from a directory of the crate. This module imports only `error`; it knows
//! nothing of records or chunks.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// The directory a transform reads its assets from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assets {
    dir: PathBuf,
}

impl Assets {
    /// Where the sandbox mounts the assets directory the host grants
    /// (`--assets DIR`, or `assets = "..."` in a pipeline file).
    pub const SANDBOX_DIR: &'static str = "/assets";

    /// The assets as the component sees them, at [`Assets::SANDBOX_DIR`].
    pub fn sandbox() -> Assets {
        Assets::at(Assets::SANDBOX_DIR)
    }

    /// Assets in `dir`: for native tests, the crate's own `assets/`.
    pub fn at(dir: impl Into<PathBuf>) -> Assets {
        Assets { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bytes of the asset `name`, a file name inside the directory;
    /// `what` says what it is, for the message (`"model"`).
    ///
    /// # Errors
    ///
    /// The file cannot be read: ``cannot read the model /assets/NAME: ...;
    /// give the transform the directory holding it as its assets (`--assets
    /// DIR`)``.
    pub fn read(&self, what: &str, name: &str) -> Result<Vec<u8>, Error> {
        let path = self.dir.join(name);
        std::fs::read(&path).map_err(|error| unreadable(what, &path, &error))
    }

    /// The text of the asset `name`, as [`Assets::read`].
    ///
    /// # Errors
    ///
    /// As [`Assets::read`]; also when the file is not UTF-8.
    pub fn read_to_string(&self, what: &str, name: &str) -> Result<String, Error> {
        let path = self.dir.join(name);
        std::fs::read_to_string(&path).map_err(|error| unreadable(what, &path, &error))
    }
}

fn unreadable(what: &str, path: &Path, error: &std::io::Error) -> Error {
    Error::new(format!(
        "cannot read the {what} {}: {error}; give the transform the directory holding it as its assets (`--assets DIR`)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_asset_names_the_file_and_the_grant() {
        let error = Assets::at("/nonexistent")
            .read("model", "nope.onnx")
            .expect_err("no such file");
        let message = error.message();
        assert!(
            message.starts_with("cannot read the model /nonexistent/nope.onnx: "),
            "{message}"
        );
        assert!(
            message.ends_with(
                "; give the transform the directory holding it as its assets (`--assets DIR`)"
            ),
            "{message}"
        );
    }
}
