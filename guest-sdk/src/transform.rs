//! The [`Transform`] trait: what the chunk loop drives, a chunk at a time.
//!
//! Most transforms never implement it by hand: [`map`](crate::map),
//! [`filter`](crate::filter) and [`flat_map`](crate::flat_map) turn a plain
//! function into a `Transform`, which the chunk loop calls record by record.
//! Implement it directly when the transform keeps state across records, e.g.
//! to emit aggregates from [`finish`](Transform::finish), or works on a whole
//! chunk at once ([`process_chunk`](Transform::process_chunk)), e.g. batch
//! inference. This module defines the seam only; it knows nothing of NDJSON
//! text or of the host.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::outcome::ChunkOutput;
use crate::record::{Output, Record};

/// A transform: configured once, then called for each chunk of input
/// records; by default once per record.
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

    /// Called once per input record, in input order, by the default
    /// [`process_chunk`](Transform::process_chunk); writes zero or more
    /// output records to `output`.
    ///
    /// # Errors
    ///
    /// The record is rejected: the host quarantines it with this message,
    /// and anything written to `output` for it is discarded.
    fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error>;

    /// Called once per chunk the host sends (up to about 1000 records or
    /// 1 MiB), with all its records in input order; settles each record
    /// through `output`, in order, exactly once. The default calls
    /// [`process`](Transform::process) for each record.
    ///
    /// Override it to work on the chunk as a whole, such as running a model
    /// once over a batch: parse every record, set aside the ones that fail,
    /// compute over the rest together, then settle each record with
    /// [`ChunkOutput::record`], writing its output or rejecting it alone.
    /// `process` is then only called if this method calls it; implement it
    /// as the same work on a single record (or return an error from it).
    ///
    /// Panics, and how the host isolates records: in the component a panic
    /// traps the instance, whichever record it came from, so the whole call
    /// fails; so does a call that exceeds a limit (time, memory, output) or
    /// returns a malformed result. The host then starts a fresh instance
    /// (calling `init` again, so state from earlier chunks is lost) and
    /// re-runs that chunk record by record: this method is called once per
    /// record, with a one-record chunk, and only the records that fail on
    /// their own are quarantined, at the cost of one call per record for
    /// that chunk. A chunk transform must therefore give each record the
    /// same result whether it comes in a batch or alone. Natively, where
    /// panics unwind, a panic inside [`ChunkOutput::record`] fails that record
    /// and a panic elsewhere in this method fails every record of the chunk
    /// (the native chunk loop does not re-run records). Either way, return
    /// an error for a bad record rather than panic.
    ///
    /// ```
    /// use weir_guest::{ChunkOutput, Error, NoConfig, Output, Record, Transform, Value};
    ///
    /// /// Stands in for a model: one call over a batch of feature values.
    /// fn predict(xs: &[f64]) -> Vec<f64> {
    ///     xs.iter().map(|x| 2.0 * x + 1.0).collect()
    /// }
    ///
    /// /// The record and its feature, or why it has none.
    /// fn feature(record: Record<'_>) -> Result<(Value, f64), Error> {
    ///     let value: Value = record.parse()?;
    ///     let x = value["x"].as_f64().ok_or_else(|| Error::new("field `x` is not a number"))?;
    ///     Ok((value, x))
    /// }
    ///
    /// /// Writes `y = predict(x)` into each record, predicting once per chunk.
    /// struct Predict;
    ///
    /// impl Transform for Predict {
    ///     type Config = NoConfig;
    ///
    ///     fn init(&mut self, _: NoConfig) -> Result<(), Error> {
    ///         Ok(())
    ///     }
    ///
    ///     /// The same work on one record.
    ///     fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error> {
    ///         let (mut value, x) = feature(record)?;
    ///         value["y"] = predict(&[x])[0].into();
    ///         // Fields left alone keep the input's exact bytes.
    ///         output.emit_from(&value, record)
    ///     }
    ///
    ///     fn process_chunk(&mut self, records: &[Record<'_>], output: &mut ChunkOutput) -> Result<(), Error> {
    ///         // Parse every record first; a bad one keeps its own error.
    ///         let parsed: Vec<_> = records.iter().map(|&record| feature(record)).collect();
    ///         // One call over the good ones.
    ///         let xs: Vec<f64> = parsed.iter().flatten().map(|&(_, x)| x).collect();
    ///         let mut ys = predict(&xs).into_iter();
    ///         // Settle every record, in order.
    ///         for (result, &record) in parsed.into_iter().zip(records) {
    ///             output.record(|writer| {
    ///                 let (mut value, _) = result?;
    ///                 value["y"] = ys.next().expect("one prediction per good record").into();
    ///                 writer.emit_from(&value, record)
    ///             });
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let results = weir_guest::testing::run(
    ///     Predict,
    ///     "{}",
    ///     [r#"{"x":1}"#, r#"{"x":"one"}"#, r#"{"x":3}"#],
    /// );
    /// assert_eq!(results[0], Ok(vec![r#"{"x":1,"y":3.0}"#.to_owned()]));
    /// assert_eq!(results[1], Err("field `x` is not a number".to_owned()));
    /// assert_eq!(results[2], Ok(vec![r#"{"x":3,"y":7.0}"#.to_owned()]));
    /// ```
    ///
    /// # Errors
    ///
    /// Every record not settled yet fails with this message; records already
    /// settled keep their outcomes.
    fn process_chunk(
        &mut self,
        records: &[Record<'_>],
        output: &mut ChunkOutput,
    ) -> Result<(), Error> {
        for &record in records {
            output.record(|writer| self.process(record, writer));
        }
        Ok(())
    }

    /// The top-level fields this transform reads and writes, asked once
    /// after [`init`](Transform::init); `None` (the default) for whole
    /// records.
    ///
    /// With fields, each record this transform is given is a projection:
    /// a JSON object of just the read fields the record has, byte for byte.
    /// Each record it writes is a patch: a JSON object of written fields
    /// and their new values, which the host writes into the record itself,
    /// keeping every other byte (`{}` passes the record on unchanged). A
    /// patch naming a field not in `writes` fails its record. Fields cannot
    /// be removed. [`Map::with_fields`](crate::Map::with_fields) does this
    /// for a [`map`](crate::map).
    fn fields(&self) -> Option<FieldSpec> {
        None
    }

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

/// The top-level fields a transform reads and writes (field mode, see
/// [`Transform::fields`]): keys as they read once unescaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSpec {
    /// The fields it is given.
    pub reads: Vec<String>,
    /// The fields it may set.
    pub writes: Vec<String>,
}

/// The configuration of a transform that takes none: only `{}` is accepted,
/// so a key meant for some other transform is reported, not ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}
