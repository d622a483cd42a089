//! Turning JSON text into Rust values, for records and configuration alike,
//! with error messages that name the failing field.
//!
//! This module imports only `error`; it knows nothing of records as text,
//! chunks or the host.

use serde::de::DeserializeOwned;

use crate::error::Error;

/// Parses `text` into `T`, naming the failing field if there is one.
///
/// The fast path is a plain `serde_json` parse. Only when that fails with a
/// data error is the text parsed a second time, tracking the path to the
/// failing field, so the common case pays nothing for good messages.
pub(crate) fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    let error = match serde_json::from_str(text) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    if !error.is_data() {
        return Err(Error::new(describe(&error)));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(tracked) if tracked.path().iter().next().is_some() => Err(Error::new(format!(
            "{}: {}",
            tracked.path(),
            describe(tracked.inner())
        ))),
        _ => Err(Error::new(describe(&error))),
    }
}

/// serde_json's message without " at line 1 column N": every record is one
/// line and the host already reports which, so only the column is kept.
fn describe(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&suffix) {
        Some(bare) if error.column() > 0 => format!("{bare} (column {})", error.column()),
        Some(bare) => bare.to_owned(),
        None => message,
    }
}
