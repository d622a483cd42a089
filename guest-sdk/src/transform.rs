//! The [`Transform`] trait: what the chunk loop drives, record by record.
//!
//! Most transforms never implement it by hand: [`map`](crate::map),
//! [`filter`](crate::filter) and [`flat_map`](crate::flat_map) turn a plain
//! function into a `Transform`. Implement it directly when the transform keeps
//! state across records, e.g. to emit aggregates from
//! [`finish`](Transform::finish). This module defines the seam only; it knows
//! nothing of NDJSON chunks or of the host.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{Error, Output, Record};

/// A transform: configured once, then called once per input record.
///
/// ```
/// use std::collections::BTreeMap;
///
/// use serde::Deserialize;
/// use weir_guest::{Error, Output, Record, Transform};
///
/// /// Counts records per value of a configured string field.
/// #[derive(Default)]
/// struct CountBy {
///     field: String,
///     counts: BTreeMap<String, u64>,
/// }
///
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Config {
///     field: String,
/// }
///
/// impl Transform for CountBy {
///     type Config = Config;
///
///     fn init(&mut self, config: Config) -> Result<(), Error> {
///         self.field = config.field;
///         Ok(())
///     }
///
///     fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error> {
///         let record: serde_json::Value = record.parse()?;
///         let key = record[&self.field].as_str().unwrap_or("(none)");
///         *self.counts.entry(key.to_owned()).or_default() += 1;
///         Ok(())
///     }
///
///     fn finish(&mut self, output: &mut Output<'_>) -> Result<(), Error> {
///         for (key, count) in &self.counts {
///             output.emit(&serde_json::json!({ "key": key, "count": count }))?;
///         }
///         Ok(())
///     }
/// }
///
/// let mut session = weir_guest::testing::Session::start(CountBy::default(), r#"{"field":"k"}"#)
///     .expect("valid config");
/// session.process([r#"{"k":"a"}"#, r#"{"k":"b"}"#, r#"{"k":"a"}"#]);
/// assert_eq!(
///     session.finish().expect("finish succeeds"),
///     [r#"{"key":"a","count":2}"#, r#"{"key":"b","count":1}"#]
/// );
/// ```
pub trait Transform {
    /// The configuration, parsed from the JSON text the host passes to
    /// `init`. Use [`NoConfig`] for a transform that takes none.
    type Config: DeserializeOwned;

    /// Called once, before any record, with the parsed configuration.
    ///
    /// # Errors
    ///
    /// The configuration is unusable; the run fails with this message.
    fn init(&mut self, config: Self::Config) -> Result<(), Error>;

    /// Called once per input record, in input order; writes zero or more
    /// output records to `output`.
    ///
    /// # Errors
    ///
    /// The record is rejected: the host quarantines it with this message,
    /// and anything written to `output` for it is discarded.
    fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error>;

    /// Called once after the last record; may write extra records, such as
    /// aggregates. Does nothing by default.
    ///
    /// # Errors
    ///
    /// The run fails with this message.
    fn finish(&mut self, output: &mut Output<'_>) -> Result<(), Error> {
        let _ = output;
        Ok(())
    }
}

/// The configuration of a transform that takes none: only `{}` is accepted,
/// so a key meant for some other transform is reported, not ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}
