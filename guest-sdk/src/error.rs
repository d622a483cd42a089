//! The one error type a transform returns: a message for the host.
//!
//! An [`Error`] returned for a record becomes that record's `failed(reason)`
//! outcome, and the host quarantines the record with the message. Returned
//! from `init` or `finish`, it fails the run. It carries text only, because
//! text is all that crosses the component boundary. This module imports
//! nothing else of the SDK.

use std::fmt;

/// Why a record, the configuration or `finish` was rejected.
///
/// Build one from any message with [`Error::new`]; the `?` operator converts
/// every [`std::error::Error`] (a `serde_json::Error`, a `ParseIntError`, your
/// own `thiserror` type) by its `Display` text, sources included.
///
/// Like `anyhow::Error`, this type does not implement `std::error::Error`
/// itself: that is what lets the blanket `From` conversion exist. Transform
/// functions may return any `Display` error type, so `Result<T, String>` and
/// `Result<T, &str>` work as well.
///
/// ```
/// use weir_guest::Error;
///
/// fn parse_age(text: &str) -> Result<u8, Error> {
///     if text.is_empty() {
///         return Err(Error::new("field `age` is empty"));
///     }
///     Ok(text.parse()?)
/// }
///
/// assert_eq!(parse_age("").unwrap_err().to_string(), "field `age` is empty");
/// assert_eq!(
///     parse_age("x").unwrap_err().to_string(),
///     "invalid digit found in string"
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// An error with this message; anything `Display` will do.
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }

    /// The message the host will see.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Puts `context` in front of the message, as in `context: message`.
    #[must_use]
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self {
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.message, f)
    }
}

impl<E: std::error::Error> From<E> for Error {
    /// Keeps the error's message and those of its sources, joined by `: `.
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self { message }
    }
}

impl From<Error> for String {
    fn from(error: Error) -> Self {
        error.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::num::ParseIntError);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bad count")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn conversion_keeps_the_source_chain() {
        let Err(parse) = "x".parse::<u8>() else {
            panic!("`x` parsed as a number");
        };
        let error = Error::from(Outer(parse));
        assert_eq!(error.message(), "bad count: invalid digit found in string");
    }

    #[test]
    fn context_goes_in_front() {
        let error = Error::new("not a string").context("field `text`");
        assert_eq!(error.to_string(), "field `text`: not a string");
    }
}
