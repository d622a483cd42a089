//! Stage URLs: what a user types for a stage, parsed and normalised.
//!
//! Owns turning `./data/raw`, `file:///srv/raw`, `s3://bucket/raw` or
//! `memory://tests/raw` into one URL form: absolute for local paths, never
//! with credentials, never with `..`. Opening a store for it is
//! [`crate::stage`]'s job; this module must not touch a store.

use std::fmt;
use std::path::{Component, Path as FsPath};

use url::Url;

use crate::error::StageError;

/// A stage's address as the user gave it, normalised: absolute for local
/// paths, without credentials (none are ever put in a stage URL).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StageUrl(Url);

impl StageUrl {
    /// Parses a stage argument: a local path (relative or absolute), or a
    /// URL with scheme `file`, `s3`, `gs`, `az` or `memory`.
    pub fn parse(input: &str) -> Result<Self, StageError> {
        let invalid = |reason: String| StageError::InvalidStage {
            stage: redact_credentials(input),
            reason,
        };
        if input.trim().is_empty() {
            return Err(invalid("it is empty".into()));
        }
        let raw_path = input.split(['?', '#']).next().unwrap_or_default();
        if raw_path
            .split(['/', '\\'])
            .any(|seg| seg == ".." || seg.eq_ignore_ascii_case("%2e%2e"))
        {
            return Err(invalid("`..` is not allowed in a stage".into()));
        }
        let has_scheme = input.split_once("://").is_some_and(|(s, _)| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+')
        });
        let url = if has_scheme {
            Url::parse(input).map_err(|e| invalid(e.to_string()))?
        } else {
            let path = FsPath::new(input);
            if path.components().any(|c| c == Component::ParentDir) {
                return Err(invalid("`..` is not allowed in a stage path".into()));
            }
            let abs = if path.is_absolute() {
                path.to_path_buf()
            } else {
                std::env::current_dir()
                    .map_err(|e| invalid(format!("cannot resolve the current directory: {e}")))?
                    .join(path)
            };
            Url::from_directory_path(&abs).map_err(|()| invalid("not a valid local path".into()))?
        };
        if url
            .path()
            .split('/')
            .any(|seg| seg == ".." || seg == "%2E%2E")
        {
            return Err(invalid("`..` is not allowed in a stage".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "credentials do not belong in a stage URL; use the standard environment variables"
                    .into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "a stage URL takes no query string (`?...`) or fragment (`#...`); \
                 options come from the standard environment variables"
                    .into(),
            ));
        }
        Ok(Self(url))
    }

    /// The URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

/// `input` with any `user:password@` of a URL's authority replaced by
/// `REDACTED@`, so an error about a stage never prints a secret.
fn redact_credentials(input: &str) -> String {
    let Some((scheme, rest)) = input.split_once("://") else {
        return input.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://REDACTED{}", &rest[at..]),
        None => input.to_owned(),
    }
}

impl fmt::Display for StageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_become_absolute_file_urls() {
        let u = StageUrl::parse("data/raw").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.as_url().scheme(), "file");
        assert!(u.as_url().path().ends_with("/data/raw/"), "{u}");
    }

    #[test]
    fn refuses_parent_dirs_and_credentials() {
        for bad in [
            "../x",
            "data/../../etc",
            "s3://b/a/../c",
            "s3://key:secret@b/x",
            "",
        ] {
            assert!(StageUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn credentials_never_appear_in_the_error() {
        for bad in [
            "s3://AKIAKEY:s3cr3t-value@b/x",
            "s3://AKIAKEY:s3cr3t-value@b/../x",
            "s3://AKIAKEY:s3cr3t-value@b/x?y=1",
            "gs://AKIAKEY@b/x",
        ] {
            let e = StageUrl::parse(bad).unwrap_err();
            let shown = format!("{e:#} {e:?}");
            assert!(!shown.contains("s3cr3t"), "{bad}: {shown}");
            assert!(!shown.contains("AKIAKEY"), "{bad}: {shown}");
            assert!(shown.contains("REDACTED@b"), "{bad}: {shown}");
        }
    }

    #[test]
    fn refuses_query_strings_and_fragments() {
        for bad in [
            "s3://b/x?region=eu-west-1",
            "s3://b/x#frag",
            "file:///tmp/x?y",
        ] {
            let e = StageUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains("no query string"), "{bad}: {e}");
        }
    }

    #[test]
    fn cloud_urls_parse() {
        let u = StageUrl::parse("s3://lake/raw/events").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.to_string(), "s3://lake/raw/events");
    }
}
