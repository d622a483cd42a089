//! Plain functions as transforms: [`map`], [`filter`] and [`flat_map`].
//!
//! Each adapter parses the record into the function's argument type (a
//! `serde_json::Value` or any `Deserialize` type), calls the function and
//! writes what it returns. A function takes the record alone, or the record
//! and `&Config` for a `Deserialize` config type of its choosing; the adapter
//! parses that config once, in `init`. The shape traits ([`RecordFn`],
//! [`Predicate`] and the `*Result` traits) exist so one adapter accepts both
//! shapes; authors never name them. This module builds on the
//! [`Transform`] seam and knows nothing of chunks or of the host.

use std::fmt::Display;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::finite;
use crate::record::{Output, Record};
use crate::transform::{FieldSpec, NoConfig, Transform};

/// Makes a transform that turns each record into exactly one record.
///
/// `function` is `fn(In) -> Result<Out, E>` or `fn(In, &Config) -> Result<Out, E>`,
/// where `In` is `Deserialize`, `Out` is `Serialize` and `E` is any `Display`
/// error (such as [`Error`]).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use weir_guest::Error;
///
/// #[derive(Deserialize)]
/// struct Visit {
///     user: String,
///     seconds: u64,
/// }
///
/// #[derive(Serialize)]
/// struct Scored {
///     user: String,
///     score: u64,
/// }
///
/// fn score(visit: Visit) -> Result<Scored, Error> {
///     Ok(Scored { user: visit.user, score: visit.seconds / 60 })
/// }
///
/// let results = weir_guest::testing::run(
///     weir_guest::map(score),
///     "{}",
///     [r#"{"user":"ada","seconds":600}"#, r#"{"user":"bob"}"#],
/// );
/// assert_eq!(results[0], Ok(vec![r#"{"user":"ada","score":10}"#.to_owned()]));
/// assert_eq!(results[1], Err("missing field `seconds` (column 14)".to_owned()));
/// ```
pub fn map<F, Args>(function: F) -> Map<F, Args>
where
    F: RecordFn<Args>,
    F::Output: MapResult,
{
    Map {
        function,
        config: None,
        fields: None,
        field_mode: false,
        args: PhantomData,
    }
}

/// Makes a transform that keeps the records for which `function` is true.
///
/// `function` is `fn(&In) -> bool` or `fn(&In, &Config) -> bool`; it may also
/// return `Result<bool, E>` to reject a record. Kept records are written
/// unchanged, byte for byte.
///
/// ```
/// use serde_json::Value;
///
/// fn is_error(record: &Value) -> bool {
///     record["level"] == "error"
/// }
///
/// let results = weir_guest::testing::run(
///     weir_guest::filter(is_error),
///     "{}",
///     [r#"{"level": "error", "n": 1.50}"#, r#"{"level":"info"}"#],
/// );
/// assert_eq!(results[0], Ok(vec![r#"{"level": "error", "n": 1.50}"#.to_owned()]));
/// assert_eq!(results[1], Ok(vec![]));
/// ```
pub fn filter<F, Args>(function: F) -> Filter<F, Args>
where
    F: Predicate<Args>,
    F::Output: FilterResult,
{
    Filter {
        function,
        config: None,
        args: PhantomData,
    }
}

/// Makes a transform that turns each record into any number of records.
///
/// `function` is `fn(In) -> R` or `fn(In, &Config) -> R`, where `R` is a
/// `Vec<Out>` or a `Result<impl IntoIterator<Item = Out>, E>`.
///
/// ```
/// use serde_json::{Value, json};
/// use weir_guest::Error;
///
/// fn explode_tags(record: Value) -> Result<Vec<Value>, Error> {
///     let Some(tags) = record["tags"].as_array() else {
///         return Err(Error::new("field `tags` is not an array"));
///     };
///     Ok(tags.iter().map(|tag| json!({ "id": record["id"], "tag": tag })).collect())
/// }
///
/// let results = weir_guest::testing::run(
///     weir_guest::flat_map(explode_tags),
///     "{}",
///     [r#"{"id":1,"tags":["a","b"]}"#, r#"{"id":2}"#],
/// );
/// assert_eq!(
///     results[0],
///     Ok(vec![r#"{"id":1,"tag":"a"}"#.to_owned(), r#"{"id":1,"tag":"b"}"#.to_owned()])
/// );
/// assert_eq!(results[1], Err("field `tags` is not an array".to_owned()));
/// ```
pub fn flat_map<F, Args>(function: F) -> FlatMap<F, Args>
where
    F: RecordFn<Args>,
    F::Output: FlatMapResult,
{
    FlatMap {
        function,
        config: None,
        args: PhantomData,
    }
}

/// A one-record-in, one-record-out transform; made by [`map`].
pub struct Map<F: RecordFn<Args>, Args> {
    function: F,
    config: Option<F::Config>,
    /// The fields of field mode, from the config; `None`: whole records.
    fields: Option<FieldsOf<F::Config>>,
    /// Whether `fields` named fields for this config (set by `init`): the
    /// host then passes projections and takes patches.
    field_mode: bool,
    args: PhantomData<fn() -> Args>,
}

/// A transform that keeps or drops records; made by [`filter`].
pub struct Filter<F: Predicate<Args>, Args> {
    function: F,
    config: Option<F::Config>,
    args: PhantomData<fn() -> Args>,
}

/// A one-record-in, many-records-out transform; made by [`flat_map`].
pub struct FlatMap<F: RecordFn<Args>, Args> {
    function: F,
    config: Option<F::Config>,
    args: PhantomData<fn() -> Args>,
}

/// What names a map's fields for its config ([`Map::with_fields`]).
type FieldsOf<C> = fn(&C) -> Option<FieldSpec>;

impl<F: RecordFn<Args>, Args> Map<F, Args> {
    /// Runs the map in field mode ([`Transform::fields`]) with the fields
    /// `fields` names for the config (`None`: whole records after all).
    /// The function is then given a projection, an object of just the read
    /// fields the record has, and returns the object with its changes; the
    /// members it leaves equal to the projection's are dropped from the
    /// patch, so a field only read need not be written, and the host keeps
    /// the rest of the record's bytes.
    ///
    /// ```
    /// use weir_guest::{Error, FieldSpec, Transform, Value};
    ///
    /// fn shout(mut record: Value) -> Result<Value, Error> {
    ///     if let Some(Value::String(text)) = record.get_mut("text") {
    ///         *text = text.to_uppercase();
    ///     }
    ///     Ok(record)
    /// }
    ///
    /// let fields = |_: &weir_guest::NoConfig| {
    ///     Some(FieldSpec { reads: vec!["text".into(), "id".into()], writes: vec!["text".into()] })
    /// };
    /// let results = weir_guest::testing::run(
    ///     weir_guest::map(shout).with_fields(fields),
    ///     "{}",
    ///     // What the host passes: projections.
    ///     [r#"{"id":1.50,"text":"hi"}"#, r#"{"id":2}"#],
    /// );
    /// // What it gets back: patches.
    /// assert_eq!(results[0], Ok(vec![r#"{"text":"HI"}"#.to_owned()]));
    /// assert_eq!(results[1], Ok(vec!["{}".to_owned()]));
    /// ```
    pub fn with_fields(mut self, fields: fn(&F::Config) -> Option<FieldSpec>) -> Self {
        self.fields = Some(fields);
        self
    }
}

impl<F, Args> Transform for Map<F, Args>
where
    F: RecordFn<Args>,
    F::Output: MapResult,
{
    type Config = F::Config;

    fn init(&mut self, config: Self::Config) -> Result<(), Error> {
        self.field_mode = self.fields.is_some_and(|f| f(&config).is_some());
        self.config = Some(config);
        Ok(())
    }

    fn fields(&self) -> Option<FieldSpec> {
        (self.fields?)(self.config.as_ref()?)
    }

    fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error> {
        let config = configured(self.config.as_ref())?;
        let result = self.function.call(record.parse()?, config).into_record()?;
        if !self.field_mode {
            return output.emit_from(&result, record);
        }
        // Field mode: `record` is a projection, and the patch is what changed.
        let given: serde_json::Map<String, serde_json::Value> = record.parse()?;
        let new = serde_json::to_value(&result)?;
        finite::check_value(&result, &new)?;
        let serde_json::Value::Object(new) = new else {
            return Err(Error::new("output record is not a JSON object"));
        };
        let patch: serde_json::Map<String, serde_json::Value> = new
            .into_iter()
            .filter(|(key, value)| given.get(key) != Some(value))
            .collect();
        output.emit_from(&serde_json::Value::Object(patch), record)
    }
}

impl<F, Args> Transform for Filter<F, Args>
where
    F: Predicate<Args>,
    F::Output: FilterResult,
{
    type Config = F::Config;

    fn init(&mut self, config: Self::Config) -> Result<(), Error> {
        self.config = Some(config);
        Ok(())
    }

    fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error> {
        let config = configured(self.config.as_ref())?;
        if self.function.call(&record.parse()?, config).into_keep()? {
            output.pass(record);
        }
        Ok(())
    }
}

impl<F, Args> Transform for FlatMap<F, Args>
where
    F: RecordFn<Args>,
    F::Output: FlatMapResult,
{
    type Config = F::Config;

    fn init(&mut self, config: Self::Config) -> Result<(), Error> {
        self.config = Some(config);
        Ok(())
    }

    fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error> {
        let config = configured(self.config.as_ref())?;
        for result in self.function.call(record.parse()?, config).into_records()? {
            output.emit_from(&result, record)?;
        }
        Ok(())
    }
}

fn configured<C>(config: Option<&C>) -> Result<&C, Error> {
    config.ok_or_else(|| Error::new("the transform was called before init"))
}

/// A function that takes a record by value, with or without a config; the
/// shape [`map`] and [`flat_map`] accept. `Args` tells the two shapes apart
/// and is inferred.
pub trait RecordFn<Args> {
    /// The record type the function takes.
    type Input: DeserializeOwned;
    /// The configuration the function takes; [`NoConfig`] if none.
    type Config: DeserializeOwned;
    /// What the function returns.
    type Output;

    /// Calls the function.
    fn call(&self, input: Self::Input, config: &Self::Config) -> Self::Output;
}

impl<F, In, R> RecordFn<fn(In) -> R> for F
where
    F: Fn(In) -> R,
    In: DeserializeOwned,
{
    type Input = In;
    type Config = NoConfig;
    type Output = R;

    fn call(&self, input: In, _: &NoConfig) -> R {
        self(input)
    }
}

impl<F, In, C, R> RecordFn<fn(In, &C) -> R> for F
where
    F: Fn(In, &C) -> R,
    In: DeserializeOwned,
    C: DeserializeOwned,
{
    type Input = In;
    type Config = C;
    type Output = R;

    fn call(&self, input: In, config: &C) -> R {
        self(input, config)
    }
}

/// A function that looks at a record by reference, with or without a
/// config; the shape [`filter`] accepts. `Args` is inferred.
pub trait Predicate<Args> {
    /// The record type the function looks at.
    type Input: DeserializeOwned;
    /// The configuration the function takes; [`NoConfig`] if none.
    type Config: DeserializeOwned;
    /// What the function returns.
    type Output;

    /// Calls the function.
    fn call(&self, input: &Self::Input, config: &Self::Config) -> Self::Output;
}

impl<F, In, R> Predicate<fn(&In) -> R> for F
where
    F: Fn(&In) -> R,
    In: DeserializeOwned,
{
    type Input = In;
    type Config = NoConfig;
    type Output = R;

    fn call(&self, input: &In, _: &NoConfig) -> R {
        self(input)
    }
}

impl<F, In, C, R> Predicate<fn(&In, &C) -> R> for F
where
    F: Fn(&In, &C) -> R,
    In: DeserializeOwned,
    C: DeserializeOwned,
{
    type Input = In;
    type Config = C;
    type Output = R;

    fn call(&self, input: &In, config: &C) -> R {
        self(input, config)
    }
}

/// What a [`map`] function may return: `Result<Out, E>` with `E: Display`.
pub trait MapResult {
    /// The output record type.
    type Record: Serialize;

    /// The output record, or why the input record was rejected.
    ///
    /// # Errors
    ///
    /// The function rejected the record.
    fn into_record(self) -> Result<Self::Record, Error>;
}

impl<Out: Serialize, E: Display> MapResult for Result<Out, E> {
    type Record = Out;

    fn into_record(self) -> Result<Out, Error> {
        self.map_err(Error::new)
    }
}

/// What a [`filter`] function may return: `bool`, or `Result<bool, E>` with
/// `E: Display`.
pub trait FilterResult {
    /// Whether to keep the record, or why it was rejected.
    ///
    /// # Errors
    ///
    /// The function rejected the record.
    fn into_keep(self) -> Result<bool, Error>;
}

impl FilterResult for bool {
    fn into_keep(self) -> Result<bool, Error> {
        Ok(self)
    }
}

impl<E: Display> FilterResult for Result<bool, E> {
    fn into_keep(self) -> Result<bool, Error> {
        self.map_err(Error::new)
    }
}

/// What a [`flat_map`] function may return: `Vec<Out>`, or
/// `Result<impl IntoIterator<Item = Out>, E>` with `E: Display`.
pub trait FlatMapResult {
    /// The output records.
    type Records: IntoIterator<Item: Serialize>;

    /// The output records, or why the input record was rejected.
    ///
    /// # Errors
    ///
    /// The function rejected the record.
    fn into_records(self) -> Result<Self::Records, Error>;
}

impl<Out: Serialize> FlatMapResult for Vec<Out> {
    type Records = Self;

    fn into_records(self) -> Result<Self, Error> {
        Ok(self)
    }
}

impl<Records, E> FlatMapResult for Result<Records, E>
where
    Records: IntoIterator<Item: Serialize>,
    E: Display,
{
    type Records = Records;

    fn into_records(self) -> Result<Records, Error> {
        self.map_err(Error::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoConfig, Value};

    fn shout(mut record: Value) -> Result<Value, Error> {
        if let Some(Value::String(text)) = record.get_mut("text") {
            *text = text.to_uppercase();
        }
        Ok(record)
    }

    #[test]
    fn a_map_whose_fields_name_none_for_its_config_writes_whole_records() {
        // The host then passes whole records and takes whole records back:
        // a patch here would drop every field it left alone.
        let whole = |_: &NoConfig| None;
        let results = crate::testing::run(
            map(shout).with_fields(whole),
            "{}",
            [r#"{"id":1.50,"text":"hi"}"#],
        );
        assert_eq!(
            results[0],
            Ok(vec![r#"{"id":1.50,"text":"HI"}"#.to_owned()])
        );
    }
}
